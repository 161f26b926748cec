"""Seeded synthetic treatment episodes, calibrated to published figures (no real people).

:func:`generate_episodes` builds a cohort of treatment episodes across the six levels of care with
the structure and traps of real program data: clients with several episodes and step-downs
(residential -> PHP/IOP -> OP), a latent severity that drives both the level chosen and the relapse
hazard (confounding by severity), loss to follow-up, deaths as a competing event and episodes still
in treatment at the extraction date. Everything is vectorised numpy: one loop per step-down depth,
per readmission round and per level of care, never per row.

Calibration targets (``shared/domain.md`` sections 1 and 3; measured values in
``sample_data/README.md``):

* level mix about detox 12%, inpatient 5%, residential 20%, PHP 10%, IOP 28%, OP 25%;
* completion by level as TEDS 2004 (detox ~62%, inpatient ~69%, residential ~45-60%, IOP ~40%,
  OP ~36%);
* lengths of stay as ASAM/TEDS (detox 3-7 days, inpatient 5-21, residential median ~30 with a
  long-term tail, PHP 2-6 weeks, IOP ~60-90 days, OP 90-180);
* one-year cumulative relapse after discharge ~50% (McLellan et al., JAMA 2000: 40-60%), with
  60-70% of the one-year relapses by 90 days (Hunt, Barnett & Branch 1971).

Simplifications: outcome draws are independent across a client's episodes given the client's
severity (a relapse after one episode is not copied into the next episode's record), and a death
is drawn only after the last episode of a client's treatment sequence.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE

__all__ = [
    "DEFAULT_SEED", "SHAPES", "SUBSTANCES", "PAYERS", "SITES", "RACE_ETHNICITY",
    "WEEKLY_HOURS", "generate_episodes",
]

DEFAULT_SEED = 20261122
SHAPES: tuple[str, ...] = ("dates", "durations")
SUBSTANCES: tuple[str, ...] = ("alcohol", "opioids", "methamphetamine", "cocaine", "cannabis", "other")
PAYERS: tuple[str, ...] = ("medicaid", "private", "medicare", "self_pay", "other")
SITES: tuple[str, ...] = ("North Clinic", "South Clinic", "Downtown Center")
RACE_ETHNICITY: tuple[str, ...] = (
    "White", "Black", "Hispanic", "American Indian/Alaska Native", "Asian", "Other/multiple")
WEEKLY_HOURS: dict[str, tuple[float, float]] = {
    "detox": (25.0, 40.0), "inpatient": (25.0, 40.0), "residential": (25.0, 40.0),
    "php": (20.0, 30.0), "iop": (9.0, 15.0), "op": (1.0, 6.0),
}
"""Scheduled hours per week by level (ASAM: OP < 9, IOP >= 9, PHP >= 20; 24-hour levels 25-40)."""

_L = {code: i for i, code in enumerate(LEVELS_OF_CARE)}
_R = {code: i for i, code in enumerate(DISCHARGE_REASONS)}
_NL = len(LEVELS_OF_CARE)

# First level of a treatment sequence: multinomial logit in the latent severity s ~ N(0, 1).
# Intercepts tuned so that, with step-downs added, the overall mix is near the target.
_INDEX_INTERCEPT = np.array([0.10, -1.05, 0.18, -0.60, 0.75, 0.45])
_INDEX_SLOPE = np.array([0.6, 1.1, 1.0, 0.3, -0.4, -0.9])

# Completion probability at average severity (logit scale), by level; severity lowers it.
_COMPLETION = np.array([0.62, 0.69, 0.52, 0.50, 0.40, 0.38])
_COMPLETION_SEVERITY = -0.35
# Reason mix among non-completers: dropped_out, terminated, transferred, incarcerated, died, other
# (TEDS-D 2019 pooled non-completion mix, transfers reduced since step-downs are modelled).
_NONCOMPLETION_MIX = np.array([0.52, 0.12, 0.23, 0.03, 0.006, 0.094])
_NONCOMPLETION_REASONS = np.array([_R["dropped_out"], _R["terminated"], _R["transferred"],
                                   _R["incarcerated"], _R["died"], _R["other"]])

# Step-down after a completed (or transferred) episode: probability and next-level distribution.
_STEPDOWN_P = np.array([0.55, 0.55, 0.55, 0.55, 0.40, 0.0])
_STEPDOWN_P_TRANSFER = 0.5
_STEPDOWN_TO = np.array([
    # detox inpat resid php   iop   op
    [0.0, 0.0, 0.55, 0.0, 0.35, 0.10],   # detox -> residential / iop
    [0.0, 0.0, 0.40, 0.35, 0.25, 0.0],   # inpatient -> residential / php / iop
    [0.0, 0.0, 0.0, 0.50, 0.50, 0.0],    # residential -> php / iop
    [0.0, 0.0, 0.0, 0.0, 0.70, 0.30],    # php -> iop / op
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],      # iop -> op
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],      # op (unused)
])

# Relapse during treatment: probability by level (outpatient levels have access to use).
_IN_TREATMENT_RELAPSE = np.array([0.025, 0.02, 0.03, 0.06, 0.09, 0.11])
# Relapse after discharge: susceptible share (logit) and Weibull time among the susceptible.
_POST_RELAPSE_LOGIT = 0.07
_POST_RELAPSE_SEVERITY = 0.55
_POST_RELAPSE_COMPLETED = -0.55
_RELAPSE_WEIBULL_SHAPE = 1.0
_RELAPSE_WEIBULL_SCALE = 120.0
_LOST_TO_FOLLOW_UP = 0.25
_OVERDOSE_AFTER_RELAPSE = 0.018
_OTHER_DEATH = 0.005
_READMISSION = 0.22
_GROWTH = 0.8


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Draw one category per row from a (rows, k) probability matrix (inverse CDF)."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _index_levels(rng: np.random.Generator, severity: np.ndarray) -> np.ndarray:
    eta = _INDEX_INTERCEPT[None, :] + severity[:, None] * _INDEX_SLOPE[None, :]
    probs = np.exp(eta - eta.max(axis=1, keepdims=True))
    return _categorical(rng, probs)


def _lengths_of_stay(rng: np.random.Generator, level: np.ndarray, completed: np.ndarray) -> np.ndarray:
    """Days of stay: planned length for completers, a beta fraction of it for the others."""
    n = len(level)
    full = np.empty(n)
    for code, i in _L.items():
        m = level == i
        k = int(m.sum())
        if k == 0:
            continue
        if code == "detox":
            v = rng.integers(3, 8, k)
        elif code == "inpatient":
            v = np.clip(np.rint(rng.lognormal(np.log(10.0), 0.35, k)), 5, 21)
        elif code == "residential":
            short = rng.random(k) < 0.5
            v = np.where(short, rng.integers(18, 31, k),
                         np.clip(np.rint(rng.lognormal(np.log(90.0), 0.6, k)), 31, 365))
        elif code == "php":
            v = rng.integers(14, 43, k)
        elif code == "iop":
            v = np.clip(np.rint(rng.normal(75.0, 12.0, k)), 56, 100)
        else:  # op: 3-6 months, a fifth in long-term (maintenance) outpatient care
            v = np.where(rng.random(k) < 0.4, rng.integers(180, 1081, k),
                         np.clip(np.rint(rng.lognormal(np.log(120.0), 0.25, k)), 84, 240))
        full[m] = v
    fraction = rng.beta(1.2, 1.8, n)
    short_stay = np.maximum(1.0, np.rint(full * fraction))
    return np.where(completed, full, np.minimum(short_stay, np.maximum(full - 1, 1))).astype("int64")


def _episodes(rng: np.random.Generator, client: np.ndarray, level: np.ndarray, admit: np.ndarray,
              severity: np.ndarray, last_day: int) -> dict[str, np.ndarray]:
    """One treatment sequence per row: the first episode, then step-downs until none follows."""
    parts: list[dict[str, np.ndarray]] = []
    seq = np.arange(len(client))
    depth = 0
    while len(client):
        n = len(client)
        sev = severity + rng.normal(0.0, 0.3, n)
        centred = sev - (np.bincount(level, sev, _NL) / np.maximum(np.bincount(level, minlength=_NL), 1))[level]
        p_complete = _logistic(_logit(_COMPLETION[level]) + _COMPLETION_SEVERITY * centred)
        completed = rng.random(n) < p_complete
        other = _NONCOMPLETION_REASONS[_categorical(rng, np.broadcast_to(_NONCOMPLETION_MIX, (n, 6)))]
        reason = np.where(completed, _R["completed"], other)
        los = _lengths_of_stay(rng, level, completed)
        discharge = admit + los
        p_step = np.where(completed, _STEPDOWN_P[level],
                          np.where(reason == _R["transferred"], _STEPDOWN_P[level] * _STEPDOWN_P_TRANSFER, 0.0))
        gap = np.minimum(rng.geometric(0.35, n) - 1, 14)
        step = (rng.random(n) < p_step) & (discharge + gap <= last_day)
        parts.append(dict(client=client, seq=seq, depth=np.full(n, depth), level=level, admit=admit,
                          discharge=discharge, reason=reason, severity=sev, has_next=step))
        nxt = _categorical(rng, _STEPDOWN_TO[level[step]]) if step.any() else level[step]
        client, seq, level = client[step], seq[step], nxt
        admit, severity = (discharge + gap)[step], severity[step]
        depth += 1
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _check_arguments(n: int, start: pd.Timestamp, end: pd.Timestamp, as_of: pd.Timestamp,
                     shape: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"The number of episodes must be a positive whole number, not {n!r}.")
    if not start < end:
        raise ValueError(f"The admission window must start before it ends ({start:%Y-%m-%d} >= {end:%Y-%m-%d}).")
    if as_of < end:
        raise ValueError(f"The extraction date {as_of:%Y-%m-%d} must not be before the last admission date.")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}.")


def generate_episodes(n: int = 5000, seed: int = DEFAULT_SEED, *, start: object = "2022-01-01",
                      end: object = "2025-12-31", as_of: object = "2026-06-30",
                      shape: str = "dates") -> pd.DataFrame:
    """Generate ``n`` synthetic treatment episodes, reproducibly from ``seed``.

    Model (per client, then per episode; all draws vectorised; times in days):

    * latent client severity ``s ~ N(0, 1)`` (each episode adds ``N(0, 0.3)`` noise); first
      level of care by a multinomial logit ``P(level = l) ∝ exp(a_l + b_l s)`` with the steepest
      slopes for inpatient and residential and negative ones for IOP and OP;
      ``co_occurring = 1{-0.4 + 0.9 s + 0.5 z > 0}`` with a client effect ``z ~ N(0, 1)``;
      ``prior_treatments ~ Poisson(exp(0.2 + 0.5 s))`` plus the client's earlier episodes;
      primary substance by a multinomial logit in which opioids and methamphetamine rise and
      alcohol and cannabis fall with ``s``;
    * first admissions spread over ``[start, end]`` with a density rising linearly by 80%
      (a growing program); step-downs and readmissions follow them, up to ``as_of``;
    * completion ``~ Bernoulli(logistic(logit(c_l) - 0.35 (s - mean_l s)))`` with ``c_l`` the
      TEDS 2004 completion rate of the level (OP 38%, a little above TEDS' 36% because long OP
      stays are often still open at ``as_of``); other reasons in the TEDS-D 2019 non-completion
      mix;
    * planned length of stay by level (detox 3-7 days, inpatient lognormal median 10 in 5-21,
      residential half short-term 18-30 and half long-term lognormal median 90 in 31-365, PHP
      14-42, IOP normal(75, 12) in 56-100, OP lognormal median 120 in 84-240 with 40% in
      long-term care 180-1080); non-completers stay a ``Beta(1.2, 1.8)`` fraction of it;
    * completed episodes step down with probability 0.55 (IOP 0.40), transferred ones half as
      often, to a lower level ``Geometric(0.35) - 1`` (at most 14) days after discharge;
      after the last episode of a sequence 13-35% of clients are readmitted (more after a relapse);
    * relapse in treatment ``~ Bernoulli(r_l exp(0.3 s))``, ``r_l`` from 2% (inpatient) to 11%
      (OP), doubled for dropouts and terminations; after discharge a cure model,
      ``P(susceptible) = logistic(0.07 + 0.55 s - 0.55 completed)`` and
      ``T ~ Exponential(mean 120 days)``;
    * follow-up: 25% lost at a uniform 0-239 days after discharge, the rest followed 365-540
      days, all capped at ``as_of``; a relapse is recorded only within follow-up (or when an
      overdose death reveals it);
    * deaths after the last episode of a sequence: overdose 0-14 days after a relapse with
      probability 1.8% (4.5% at severity > 0.8), other deaths 0.5% within 540 days; deaths in
      treatment appear as the discharge reason ``died`` with the death date at discharge.

    Parameters
    ----------
    n
        Number of episodes (rows).
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same frame.
    start, end
        Window of admission dates of clients' first episodes (their step-downs and readmissions
        may follow up to ``as_of``).
    as_of
        Data extraction date: later discharges are not yet known (still in treatment), later
        relapses, contacts and deaths are not recorded.
    shape
        ``"dates"`` (admission/discharge/relapse/last contact/death dates) or ``"durations"``
        (``los_days``, ``days_to_relapse`` from admission, ``relapsed`` 0/1 instead of the dates).

    Returns
    -------
    pandas.DataFrame
        One row per episode with canonical column names, values as a CSV would hold them
        (strings, ``"yes"``/``"no"``, empty = missing); dates are ``datetime64[ns]``.
        ``attrs`` holds ``shape``, ``as_of`` and ``seed``.
    """
    start_ts, end_ts, as_of_ts = pd.Timestamp(start), pd.Timestamp(end), pd.Timestamp(as_of)
    _check_arguments(n, start_ts, end_ts, as_of_ts, shape)
    rng = np.random.default_rng(seed)
    epoch = start_ts
    end_day = (end_ts - epoch).days
    as_of_day = (as_of_ts - epoch).days

    n_clients = int(np.ceil(n / 1.45)) + 50
    while True:
        frame = _simulate(rng, n_clients, end_day, as_of_day)
        if len(frame["client"]) >= n:
            break
        n_clients = int(n_clients * 1.3) + 50
    # keep the first n episodes of the clients in random order: only the last client may lose
    # later episodes, and no calendar period is favoured
    order = np.lexsort((frame["admit"], frame["client"]))[:n]
    data = {k: v[order] for k, v in frame.items()}
    data = _record(rng, data, as_of_day)
    return _to_frame(data, epoch, as_of_ts, seed, shape)


def _simulate(rng: np.random.Generator, n_clients: int, end_day: int, as_of_day: int) -> dict[str, np.ndarray]:
    """Clients, their treatment sequences, readmissions and outcomes (days since ``start``)."""
    k = n_clients
    severity = rng.normal(0.0, 1.0, k)
    client_info = {
        "age0": np.clip(np.rint(rng.normal(37.0, 11.5, k) + 2.0 * severity), 18, 71),
        "sex": (rng.random(k) < _logistic(0.45 + 0.15 * severity)).astype("int8"),  # 1 male
        "race": _categorical(rng, np.broadcast_to([0.58, 0.18, 0.15, 0.03, 0.02, 0.04], (k, 6))),
        "site": _categorical(rng, np.broadcast_to([0.38, 0.34, 0.28], (k, 3))),
        "co_occurring_base": rng.normal(0.0, 1.0, k),
        "prior0": rng.poisson(np.exp(0.2 + 0.5 * severity)),
    }
    # program growth: admission density rises linearly by half over the window (inverse CDF)
    g = _GROWTH
    first_day = np.floor((np.sqrt(1.0 + g * (2.0 + g) * rng.random(k)) - 1.0) / g * (end_day + 1))
    first_day = np.minimum(first_day, end_day).astype("int64")
    client = np.arange(k)
    level = _index_levels(rng, severity)
    admit = first_day
    parts = []
    for _ in range(4):  # readmission rounds
        ep = _episodes(rng, client, level, admit, severity[client], as_of_day)
        ep = _outcomes(rng, ep, as_of_day)
        parts.append(ep)
        last = ~ep["has_next"]
        p_readmit = np.where(ep["relapse_true"] < np.inf, _READMISSION * 1.6, _READMISSION * 0.6)
        again = last & ~ep["death_drawn"] & (rng.random(len(last)) < p_readmit)
        # readmission 7-89 days after a relapse, else 90-539 days after discharge; never within
        # the 14 days that would make it look like a step-down
        gap = np.where(ep["relapse_true"] < np.inf,
                       np.maximum(ep["relapse_true"], ep["discharge"]) + rng.integers(7, 90, len(last)),
                       ep["discharge"] + rng.integers(90, 540, len(last)))
        gap = np.maximum(gap, ep["discharge"] + 15)
        again &= gap <= as_of_day
        if not again.any():
            break
        client = ep["client"][again]
        admit = gap[again]
        level = _index_levels(rng, severity[client] + 0.2)
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    # prior treatments: the client's count before the first sequence plus earlier episodes
    order = np.lexsort((out["admit"], out["client"]))
    out = {key: v[order] for key, v in out.items()}
    first = np.r_[True, out["client"][1:] != out["client"][:-1]]
    start_idx = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    out["episode_number"] = np.arange(len(first)) - start_idx
    for key, v in client_info.items():
        out[key] = v[out["client"]]
    out["first_admit"] = out["admit"][start_idx]
    return out


def _outcomes(rng: np.random.Generator, ep: dict[str, np.ndarray], as_of_day: int) -> dict[str, np.ndarray]:
    """True (unobserved) relapse and death times, and follow-up, in days since ``start``."""
    n = len(ep["client"])
    level, reason, sev = ep["level"], ep["reason"], ep["severity"]
    admit, discharge = ep["admit"], ep["discharge"]
    completed = reason == _R["completed"]
    los = discharge - admit
    left_early = (reason == _R["dropped_out"]) | (reason == _R["terminated"])
    p_in = np.clip(_IN_TREATMENT_RELAPSE[level] * np.where(left_early, 2.0, 1.0) * np.exp(0.3 * sev), 0, 0.9)
    in_relapse = rng.random(n) < p_in
    position = np.where(left_early, rng.beta(3.0, 1.0, n), rng.random(n))
    in_day = admit + np.floor(position * (los + 1)).astype("int64").clip(0, los)
    p_susceptible = _logistic(_POST_RELAPSE_LOGIT + _POST_RELAPSE_SEVERITY * sev
                              + _POST_RELAPSE_COMPLETED * completed)
    susceptible = rng.random(n) < p_susceptible
    t_after = np.ceil(_RELAPSE_WEIBULL_SCALE * rng.weibull(_RELAPSE_WEIBULL_SHAPE, n)).astype("int64")
    post_day = discharge + np.maximum(t_after, 1)
    relapse_true = np.where(in_relapse, in_day, np.where(susceptible, post_day, np.iinfo("int64").max))
    relapse_true = relapse_true.astype("float64")
    relapse_true[relapse_true > 1e15] = np.inf

    died_in_treatment = reason == _R["died"]
    relapse_true[died_in_treatment & (relapse_true > discharge)] = np.inf
    last = ~ep["has_next"]
    opioid_risk = np.where(sev > 0.8, 2.5, 1.0)
    overdose = last & np.isfinite(relapse_true) & (rng.random(n) < _OVERDOSE_AFTER_RELAPSE * opioid_risk)
    overdose_day = np.maximum(relapse_true, discharge) + rng.integers(0, 15, n)
    other_death = last & (rng.random(n) < _OTHER_DEATH)
    other_day = discharge + rng.integers(1, 541, n)
    death = np.full(n, np.inf)
    death = np.where(other_death, other_day, death)
    death = np.where(overdose, np.minimum(death, overdose_day), death)
    death = np.where(died_in_treatment, discharge, death)
    relapse_true = np.where(relapse_true > death, np.inf, relapse_true)

    lost = rng.random(n) < _LOST_TO_FOLLOW_UP
    contact = discharge + np.where(lost, rng.integers(0, 240, n), rng.integers(365, 541, n))
    ep.update(relapse_true=relapse_true, death_true=death, death_drawn=np.isfinite(death),
              contact_true=contact.astype("float64"), overdose=overdose & (death == overdose_day))
    return ep


def _record(rng: np.random.Generator, d: dict[str, np.ndarray], as_of_day: int) -> dict[str, np.ndarray]:
    """Apply the extraction date and follow-up: what a program's records would hold."""
    n = len(d["client"])
    in_treatment = d["discharge"] > as_of_day
    end_stay = np.where(in_treatment, as_of_day, d["discharge"])
    death = np.where(d["death_true"] <= as_of_day, d["death_true"], np.nan)
    contact = np.maximum(np.fmin(np.minimum(d["contact_true"], as_of_day), death), d["discharge"])
    contact = np.where(in_treatment, np.maximum(as_of_day - rng.integers(0, 8, n), d["admit"]), contact)
    relapse = d["relapse_true"]
    # a relapse is recorded when it falls within follow-up, or when an overdose death revealed it
    seen = (relapse <= contact) | (d["overdose"] & np.isfinite(death))
    relapse = np.where(seen & (relapse <= as_of_day), relapse, np.nan)
    d["in_treatment"] = in_treatment
    d["end_stay"] = end_stay
    d["relapse_day"] = relapse
    d["contact_day"] = contact
    d["death_day"] = death
    return d


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    width = max(width, len(str(int(numbers.max())))) if len(numbers) else width
    return (prefix + pd.Series(numbers).astype(str).str.zfill(width)).to_numpy(dtype=object)


def _to_frame(d: dict[str, np.ndarray], epoch: pd.Timestamp, as_of: pd.Timestamp, seed: int,
              shape: str) -> pd.DataFrame:
    n = len(d["client"])
    rng = np.random.default_rng([seed, 1])  # covariate draws: independent of the outcome stream
    # rows in admission order; clients numbered by their first admission
    order = np.lexsort((d["client"], d["admit"]))
    d = {k: v[order] for k, v in d.items()}
    _, first, client_idx = np.unique(d["client"], return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype="int64")
    rank[np.argsort(first)] = np.arange(1, len(first) + 1)
    client_no = rank[client_idx]

    def dates(days: np.ndarray) -> pd.Series:
        days = np.asarray(days, dtype="float64")
        out = epoch.to_datetime64() + (np.nan_to_num(days).astype("int64") * np.timedelta64(1, "D"))
        out = out.astype("datetime64[ns]")
        out[np.isnan(days)] = np.datetime64("NaT")
        return pd.Series(out)

    sev = d["severity"]
    level = d["level"]
    in_treatment = d["in_treatment"]
    age = np.clip(np.floor(d["age0"] + (d["admit"] - d["first_admit"]) / 365.25), 18, 75).astype("int64")
    co_occurring = _logistic(-0.4 + 0.9 * sev + 0.5 * d["co_occurring_base"]) > 0.5
    # substance: opioids and methamphetamine rise with severity, alcohol and cannabis fall
    eta = np.array([0.9, 0.3, -0.2, -0.6, -0.3, -1.6])[None, :] + \
        sev[:, None] * np.array([-0.5, 0.7, 0.6, 0.2, -0.6, 0.0])[None, :]
    substance = _categorical(rng, np.exp(eta))
    # the same client keeps the primary substance of the first episode most of the time
    substance = np.where(rng.random(n) < 0.85, substance[first][client_idx], substance)
    payer_p = np.where((age >= 65)[:, None], [[0.25, 0.10, 0.60, 0.03, 0.02]],
                       [[0.52, 0.27, 0.02, 0.08, 0.11]])
    payer = _categorical(rng, payer_p)

    los = (d["end_stay"] - d["admit"]).astype("float64")
    lo_hi = np.array([WEEKLY_HOURS[c] for c in LEVELS_OF_CARE])
    weekly = lo_hi[level, 0] + rng.random(n) * (lo_hi[level, 1] - lo_hi[level, 0])
    scheduled = np.ceil(weekly * np.maximum(los, 1.0) / 7.0 * 2.0) / 2.0
    left_early = (d["reason"] == _R["dropped_out"]) | (d["reason"] == _R["terminated"])
    attendance = 0.5 + 0.5 * np.where(left_early, rng.beta(2.0, 3.0, n), rng.beta(6.0, 1.5, n))
    attended = np.round(scheduled * attendance * 2.0) / 2.0
    missing_hours = rng.random(n)
    scheduled = np.where(missing_hours < 0.04, np.nan, scheduled)
    attended = np.where(missing_hours < 0.07, np.nan, attended)

    reasons = np.array(DISCHARGE_REASONS, dtype=object)[d["reason"]]
    reasons[in_treatment] = np.nan
    frame = pd.DataFrame({
        "episode_id": _ids("E", np.arange(1, n + 1), 6),
        "client_id": _ids("C", client_no, 5),
        "level_of_care": np.array(LEVELS_OF_CARE, dtype=object)[level],
        "admission_date": dates(d["admit"]),
        "discharge_date": dates(np.where(in_treatment, np.nan, d["discharge"])),
        "discharge_reason": reasons,
        "relapse_date": dates(d["relapse_day"]),
        "last_contact_date": dates(d["contact_day"]),
        "death_date": dates(d["death_day"]),
        "age": age,
        "sex": np.where(d["sex"] == 1, "male", "female").astype(object),
        "race_ethnicity": np.array(RACE_ETHNICITY, dtype=object)[d["race"]],
        "primary_substance": np.array(SUBSTANCES, dtype=object)[substance],
        "co_occurring": np.where(co_occurring, "yes", "no").astype(object),
        "prior_treatments": (d["prior0"] + d["episode_number"]).astype("int64"),
        "payer": np.array(PAYERS, dtype=object)[payer],
        "site": np.array(SITES, dtype=object)[d["site"]],
        "hours_attended": attended,
        "hours_scheduled": scheduled,
    })
    if shape == "durations":
        frame = _as_durations(frame, d, in_treatment)
    frame.attrs = {"shape": shape, "as_of": as_of, "seed": seed}
    return frame


def _as_durations(frame: pd.DataFrame, d: dict[str, np.ndarray], in_treatment: np.ndarray) -> pd.DataFrame:
    """Replace the dates by ``los_days``, ``days_to_relapse`` (from admission) and ``relapsed``."""
    relapsed = ~np.isnan(d["relapse_day"])
    follow_end = np.fmin(d["contact_day"], d["death_day"])
    end = np.where(relapsed, d["relapse_day"], follow_end)
    out = frame.drop(columns=["admission_date", "discharge_date", "relapse_date", "last_contact_date",
                              "death_date"])
    out.insert(4, "los_days", np.where(in_treatment, np.nan, d["discharge"] - d["admit"]).astype("float64"))
    out.insert(5, "days_to_relapse", (end - d["admit"]).astype("float64"))
    out.insert(6, "relapsed", relapsed.astype("int64"))
    return out
