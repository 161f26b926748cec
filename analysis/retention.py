"""Retention per group: completion, discharge reasons, length of stay, retention in treatment, and step-downs
to a lower level of care (hours per week against ASAM thresholds: :mod:`analysis.engagement`).

All functions take the cohort table of :func:`analysis.cohort.derive_cohort` and a grouping
column ``by`` (default ``level_of_care``; any categorical column works) and return tidy frames
with one row per group (``group`` first). Counts are raw; suppression of small cells is applied
by :mod:`analysis.suppression` at display/export time.

Frequency counts: every function taking a cohort also takes ``count_col``, a column of whole
numbers saying how many identical episodes a row stands for. A cohort collapsed to the distinct
values of the columns an analysis needs (``GROUP BY ... count(*)``, as :mod:`analysis.engine`
does) then gives the same results as the row-level table (quantiles included:
:func:`weighted_quantiles` equals ``numpy.quantile`` on the expanded rows). Rows with count 0 are
ignored.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.proportions import wilson_interval
from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE
from analysis.survival import km_by_group, survival_at

__all__ = ["ASAM_MIN_HOURS_PER_WEEK", "STEP_DOWN_FROM", "group_values", "frequency_counts", "weighted_quantiles",
           "sorted_weighted_quantiles", "grouped_quantiles", "weeks_of_stay", "completion_rates", "discharge_reason_mix", "length_of_stay",
           "retention_at", "retention_curve", "step_down_flows", "step_down_rates", "step_downs",
           "step_downs_from_transitions"]

#: Minimum scheduled hours per week by level (ASAM Criteria, 3rd ed.; adults).
ASAM_MIN_HOURS_PER_WEEK: dict[str, float] = {"iop": 9.0, "php": 20.0}
#: Levels whose discharges can "step down" to a less intensive level.
STEP_DOWN_FROM: tuple[str, ...] = LEVELS_OF_CARE[:-1]  # every level but OP, the least intensive


def group_values(cohort: pd.DataFrame, by: str, groups: Sequence | None = None) -> pd.Series:
    """The grouping column as an ordered Categorical of observed (or requested) groups.

    Level of care keeps its intensity order; other columns keep categorical order or sort.
    Rows outside ``groups`` (or with a missing group) become NaN.
    """
    if by not in cohort.columns:
        raise ValueError(f"There is no column '{by}' to group by.")
    col = cohort[by]
    if isinstance(col.dtype, pd.CategoricalDtype):
        counts = np.bincount(col.cat.codes.to_numpy()[col.cat.codes.to_numpy() >= 0],
                             minlength=len(col.cat.categories))
        observed = [c for c, k in zip(col.cat.categories, counts, strict=True) if k > 0]
    else:
        col = col.astype(object).where(col.notna())
        observed = sorted(col.dropna().unique().tolist(), key=str)
        col = col.astype("category")
    if groups is not None:
        missing = [g for g in groups if g not in observed]
        if missing:
            raise ValueError(f"No episodes in group(s) {', '.join(map(str, missing))} of '{by}'.")
        observed = list(groups)
    # recode the categories (cheap on millions of rows; no conversion to Python objects)
    values = col.cat.set_categories(observed, ordered=True)
    return pd.Series(values.to_numpy(), index=cohort.index, name="group", dtype=values.dtype)


def frequency_counts(frame: pd.DataFrame, count_col: str | None) -> np.ndarray:
    """How many episodes each row stands for (int64): the ``count_col`` column, or 1 for row-level data.

    Raises
    ------
    ValueError
        The column is missing, or holds anything but whole numbers >= 0.
    """
    if count_col is None:
        return np.ones(len(frame), dtype="int64")
    if count_col not in frame.columns:
        raise ValueError(f"The count column {count_col!r} is not in the data.")
    w = pd.to_numeric(frame[count_col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(w) | (w < 0) | (w != np.floor(w))
    if bad.any():
        raise ValueError(f"The count column {count_col!r} must hold whole numbers >= 0 "
                         "(how many episodes each row stands for).")
    return w.astype("int64")


def _grouped(cohort: pd.DataFrame, by: str, groups: Sequence | None, count_col: str | None = None):
    """(group values, rows used, counts of every row): rows with a group and a count above 0 are used."""
    g = group_values(cohort, by, groups)
    w = frequency_counts(cohort, count_col)
    return g, g.notna() & (w > 0), w


def _rows(cohort: pd.DataFrame, mask: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """Only the needed columns of the selected rows (copying a wide cohort of a million rows is slow)."""
    return cohort.loc[mask, [c for c in columns if c in cohort.columns]]


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's linear interpolation (``numpy.lib._function_base_impl._lerp``), so results match to the bit."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def weighted_quantiles(values, counts, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of values with frequency counts, equal to ``numpy.quantile`` (linear) on the expanded rows.

    With N the total count, quantile q sits at position ``h = (N - 1) q`` of the expanded sorted values
    x_0..x_{N-1}: ``x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h))`` (both x_{N-1} when
    ``h >= N - 1``), where x_k is the first value whose cumulative count exceeds k. NaN values and
    counts of 0 are ignored; nothing left gives NaN.
    """
    v = np.asarray(values, dtype="float64")
    w = np.asarray(counts, dtype="int64")
    keep = ~np.isnan(v) & (w > 0)
    if not keep.any():
        return np.full(np.shape(qs), np.nan)
    v, w = v[keep], w[keep]
    order = np.argsort(v, kind="stable")
    return sorted_weighted_quantiles(v[order], w[order], qs)


def sorted_weighted_quantiles(values: np.ndarray, counts: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """:func:`weighted_quantiles` of values already sorted ascending, with no NaN and counts above 0 (not
    checked), so a caller that sorted once can read the quantiles of many subsets in order."""
    qs = np.asarray(qs, dtype="float64")
    if not len(values):
        return np.full(qs.shape, np.nan)
    v, cum = values, np.cumsum(counts)
    n = cum[-1]
    h = (n - 1) * qs
    lo = np.floor(h)
    top = h >= n - 1
    a = v[np.searchsorted(cum, np.where(top, n - 1, lo).astype("int64"), side="right")]
    b = v[np.searchsorted(cum, np.where(top, n - 1, lo + 1).astype("int64"), side="right")]
    return _lerp(a, b, h - lo)


def grouped_quantiles(values: pd.Series, groups: pd.Series, qs: Sequence[float],
                      counts: np.ndarray | None = None) -> pd.DataFrame:
    """Quantiles of ``values`` per category of ``groups`` (linear interpolation, as pandas), NaN ignored.

    One boolean mask and one ``np.quantile`` per group: much faster than ``groupby().quantile`` on
    millions of rows. ``counts``: frequency counts of the rows (:func:`weighted_quantiles`). Returns a
    frame indexed by the categories (all of them, NaN when empty), one column per quantile.
    """
    cats = groups.cat.categories
    codes = groups.cat.codes.to_numpy()
    v = np.asarray(values, dtype="float64")
    ok = ~np.isnan(v)
    w = None if counts is None or np.all(np.asarray(counts) == 1) else np.asarray(counts)
    rows = []
    for k in range(len(cats)):
        sel = (codes == k) & ok
        if w is not None:
            rows.append(weighted_quantiles(v[sel], w[sel], qs))
        else:
            x = v[sel]
            rows.append(np.quantile(x, qs) if len(x) else np.full(len(qs), np.nan))
    return pd.DataFrame(np.array(rows).reshape(len(cats), len(qs)), index=cats, columns=list(qs))


def _weighted_sums(group: pd.Series, columns: dict[str, np.ndarray], weight: np.ndarray) -> pd.DataFrame:
    """Per group: ``sum(w x)`` and ``sum(w [x present])`` (as ``<name>_n``) of each column, NaN left out.

    One column at a time, grouped by the group's codes (a frame of every column, grouped by the labels as
    objects, held 0.9 GB more for the 2.8M hours rows of 10M episodes); pandas sums each column alone anyway."""
    key = pd.Categorical.from_codes(group.cat.codes.to_numpy(), categories=group.cat.categories, ordered=True)
    sums = {}
    for name, x in columns.items():
        x = np.asarray(x, dtype="float64")
        has = ~np.isnan(x)
        sums[name] = pd.Series(np.where(has, x * weight, 0.0)).groupby(key, observed=False).sum()
        sums[f"{name}_n"] = pd.Series(np.where(has, weight, 0)).groupby(key, observed=False).sum()
    return pd.DataFrame(sums).rename_axis("group")


def _mean(sums: pd.DataFrame, name: str) -> pd.Series:
    n = sums[f"{name}_n"]
    return sums[name] / n.where(n > 0)


def completion_rates(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                     conf_level: float = 0.95, count_col: str | None = None) -> pd.DataFrame:
    """Completion per group with Wilson score intervals.

    ``completion_rate`` = completed / (discharged - transferred): a transfer continues care
    elsewhere and is neither a completion nor a failure, so it is reported apart
    (``transfer_share`` = transferred / discharged). ``completion_rate_all`` = completed /
    discharged, the TEDS convention (all discharges in the denominator). Episodes still in
    treatment are counted (``n_in_treatment``) and left out of the rates. ``count_col``: see the
    module docstring.

    Returns
    -------
    pd.DataFrame
        group, n_episodes, n_in_treatment, n_discharged, n_transferred, n_completed,
        completion_rate, ci_lower, ci_upper, completion_rate_all, all_ci_lower, all_ci_upper,
        transfer_share.
    """
    g, ok, w = _grouped(cohort, by, groups, count_col)
    c = _rows(cohort, ok, ["in_treatment", "transferred", "completed"])
    w = w[ok.to_numpy()]
    it = c["in_treatment"].to_numpy(dtype=bool)
    frame = pd.DataFrame({"group": g[ok], "episode": w, "in_treatment": w * it, "discharged": w * ~it,
                          "transferred": w * (c["transferred"].to_numpy(dtype=bool) & ~it),
                          "completed": w * (c["completed"].to_numpy(dtype=bool) & ~it)}, index=c.index)
    s = frame.groupby("group", observed=False).sum()
    basis = s["discharged"] - s["transferred"]
    lo, hi = wilson_interval(s["completed"].to_numpy(), basis.to_numpy(), conf_level)
    lo_all, hi_all = wilson_interval(s["completed"].to_numpy(), s["discharged"].to_numpy(), conf_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({
            "group": s.index, "n_episodes": s["episode"].to_numpy(), "n_in_treatment": s["in_treatment"].to_numpy(),
            "n_discharged": s["discharged"].to_numpy(), "n_transferred": s["transferred"].to_numpy(),
            "n_completed": s["completed"].to_numpy(),
            "completion_rate": (s["completed"] / basis.where(basis > 0)).to_numpy(),
            "ci_lower": lo, "ci_upper": hi,
            "completion_rate_all": (s["completed"] / s["discharged"].where(s["discharged"] > 0)).to_numpy(),
            "all_ci_lower": lo_all, "all_ci_upper": hi_all,
            "transfer_share": (s["transferred"] / s["discharged"].where(s["discharged"] > 0)).to_numpy(),
        })
    return out.reset_index(drop=True)


def discharge_reason_mix(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                         conf_level: float = 0.95, count_col: str | None = None) -> pd.DataFrame:
    """Discharge reasons per group: count and share of discharged episodes (Wilson intervals).

    Returns
    -------
    pd.DataFrame
        group, reason (in :data:`analysis.schema.DISCHARGE_REASONS` order), n, n_discharged,
        share, ci_lower, ci_upper. Every reason appears for every group (n may be 0).
    """
    g, ok, w = _grouped(cohort, by, groups, count_col)
    use = (ok & ~cohort["in_treatment"].astype(bool)).to_numpy()
    if "discharge_reason" in cohort.columns:
        reason = cohort.loc[use, "discharge_reason"].astype(object).fillna("other")
    else:
        reason = pd.Series("other", index=cohort.index[use])
    reason_codes = pd.Categorical(reason, categories=list(DISCHARGE_REASONS)).codes.astype("int64")
    cats = g.cat.categories
    k = len(DISCHARGE_REASONS)
    cells = np.bincount(g[use].cat.codes.to_numpy().astype("int64") * k + reason_codes, weights=w[use],
                        minlength=len(cats) * k).astype("int64")
    long = pd.DataFrame({"group": np.repeat(np.asarray(cats, dtype=object), k),
                         "reason": np.tile(np.array(DISCHARGE_REASONS, dtype=object), len(cats)), "n": cells})
    long["n_discharged"] = np.repeat(cells.reshape(len(cats), k).sum(axis=1), k)
    with np.errstate(invalid="ignore", divide="ignore"):
        long["share"] = long["n"] / long["n_discharged"].where(long["n_discharged"] > 0)
    long["ci_lower"], long["ci_upper"] = wilson_interval(long["n"].to_numpy(), long["n_discharged"].to_numpy(),
                                                         conf_level)
    long["group"] = pd.Categorical(long["group"], categories=cats, ordered=True)
    return long


def length_of_stay(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                   count_col: str | None = None) -> pd.DataFrame:
    """Length of stay (days) of discharged episodes per group: median, quartiles, mean, share > 30/90 days.

    Episodes still in treatment have no completed stay and are counted apart (``n_in_treatment``);
    their time enters :func:`retention_curve` as censored. Quartiles as ``numpy.quantile`` (linear).
    """
    g, ok, w = _grouped(cohort, by, groups, count_col)
    c = _rows(cohort, ok, ["los_days", "in_treatment"])
    w = w[ok.to_numpy()]
    it = c["in_treatment"].to_numpy(dtype=bool)
    los = np.where(it, np.nan, c["los_days"].to_numpy(dtype="float64"))
    with np.errstate(invalid="ignore"):
        sums = _weighted_sums(g[ok], {"los": los, "it": it.astype("float64"),
                                      "over30": np.where(np.isnan(los), np.nan, los > 30),
                                      "over90": np.where(np.isnan(los), np.nan, los > 90)}, w)
    q = grouped_quantiles(los, g[ok], (0.25, 0.5, 0.75), w)
    out = pd.DataFrame({
        "n_discharged": sums["los_n"], "n_in_treatment": sums["it"].astype("int64"),
        "median_days": q[0.5].to_numpy(), "q1_days": q[0.25].to_numpy(), "q3_days": q[0.75].to_numpy(),
        "mean_days": _mean(sums, "los"),
        "share_over_30_days": _mean(sums, "over30"), "share_over_90_days": _mean(sums, "over90"),
    })
    return out.rename_axis("group").reset_index()


def retention_curve(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                    conf_level: float = 0.95, count_col: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier share still in treatment by day since admission (log-log intervals).

    The event is discharge (any reason); episodes still enrolled at the data's date are
    censored at their current length of stay. Output as :func:`analysis.survival.km_by_group`
    (``survival`` = share still in treatment).
    """
    g, ok, w = _grouped(cohort, by, groups, count_col)
    data = pd.DataFrame({"group": g[ok], "time": cohort.loc[ok, "los_days"],
                         "event": (~cohort.loc[ok, "in_treatment"].astype(bool)).astype("int8"),
                         "n": w[ok.to_numpy()]})
    return km_by_group(data, time_col="time", event_col="event", group_col="group", conf_level=conf_level,
                       weight_col=None if count_col is None else "n")


def retention_at(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                 days: Sequence[float] = (30, 60, 90), conf_level: float = 0.95,
                 count_col: str | None = None) -> pd.DataFrame:
    """Share retained in treatment at stated days (Kaplan-Meier, still-enrolled censored).

    Returns
    -------
    pd.DataFrame
        group, day, retained, ci_lower, ci_upper, n_at_risk.
    """
    curve = retention_curve(cohort, by=by, groups=groups, conf_level=conf_level, count_col=count_col)
    at = survival_at(curve, days)
    return at.rename(columns={"survival": "retained"})[["group", "day", "retained", "ci_lower", "ci_upper",
                                                        "n_at_risk"]]


def weeks_of_stay(los_days) -> np.ndarray:
    """Weeks of enrolment for per-week rates: ``max(length of stay, 1 day) / 7``."""
    return np.maximum(np.asarray(los_days, dtype="float64"), 1.0) / 7.0


def _level_codes(levels: pd.Series) -> np.ndarray:
    """Level of care as intensity ranks 0..5 (order of LEVELS_OF_CARE), -1 when missing or unknown."""
    if isinstance(levels.dtype, pd.CategoricalDtype) and list(levels.cat.categories) == list(LEVELS_OF_CARE):
        return levels.cat.codes.to_numpy().astype("int16")
    return pd.Categorical(levels.astype(object), categories=list(LEVELS_OF_CARE)).codes.astype("int16")


def _next_episodes(cohort: pd.DataFrame,
                   window_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each episode with a client id: its level, the level of the same client's next admission
    0..``window_days`` days after this discharge (-1 when none), whether it was discharged, and its
    count (1: these are rows)."""
    need = {"client_id", "admission_date", "discharge_date", "level_of_care"}
    if not need <= set(cohort.columns):
        raise ValueError("Step-downs need client_id, admission and discharge dates and level_of_care.")
    c = cohort.loc[cohort["client_id"].notna(), ["client_id", "admission_date", "discharge_date", "level_of_care",
                                                  "in_treatment"]]
    codes, _ = pd.factorize(c["client_id"])
    adm = c["admission_date"].to_numpy(dtype="datetime64[ns]")
    order = np.lexsort((adm, codes))
    client, adm = codes[order], adm[order]
    level = _level_codes(c["level_of_care"])[order]
    discharge = c["discharge_date"].to_numpy(dtype="datetime64[ns]")[order]
    discharged = ~c["in_treatment"].to_numpy(dtype=bool)[order]
    same = np.append(client[1:] == client[:-1], False)
    next_adm = np.append(adm[1:], np.datetime64("NaT", "ns"))
    gap = (next_adm - discharge) / np.timedelta64(1, "D")
    within = same & discharged & (gap >= 0) & (gap <= window_days)
    to = np.where(within, np.append(level[1:], -1), -1).astype("int16")
    return level, to, discharged, np.ones(len(level), dtype="int64")


def step_down_rates(cohort: pd.DataFrame, *, window_days: float = 30, conf_level: float = 0.95) -> pd.DataFrame:
    """Share of discharges from detox/inpatient/residential/PHP/IOP followed by a lower level within the window.

    A step-down is the same client's next admission, 0 to ``window_days`` days after discharge,
    at a less intensive level (order of :data:`analysis.schema.LEVELS_OF_CARE`). Needs ``client_id``.

    Returns
    -------
    pd.DataFrame
        group (the level stepped down from), n_discharged, n_step_down, step_down_rate, ci_lower,
        ci_upper.
    """
    return _step_rates(*_next_episodes(cohort, window_days), conf_level)


def _step_rates(level: np.ndarray, to: np.ndarray, discharged: np.ndarray, count: np.ndarray,
                conf_level: float) -> pd.DataFrame:
    k = len(STEP_DOWN_FROM)  # detox..iop are ranks 0..4
    keep = discharged & (level >= 0) & (level < k)
    n = np.bincount(level[keep], weights=count[keep], minlength=k).astype("int64")
    x = np.bincount(level[keep], weights=count[keep] * (to[keep] > level[keep]), minlength=k)
    lo, hi = wilson_interval(x, n, conf_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = x / np.where(n > 0, n, np.nan)
    return pd.DataFrame({"group": list(STEP_DOWN_FROM), "n_discharged": n, "n_step_down": x.astype("int64"),
                         "step_down_rate": rate, "ci_lower": lo, "ci_upper": hi})


def step_down_flows(cohort: pd.DataFrame, *, window_days: float = 30) -> pd.DataFrame:
    """Transitions between levels: discharges followed by the same client's next admission in the window.

    Returns
    -------
    pd.DataFrame
        from_level, to_level ("no further episode" when none in the window), n.
    """
    return _step_flows(*_next_episodes(cohort, window_days))


def _step_flows(level: np.ndarray, to: np.ndarray, discharged: np.ndarray, count: np.ndarray) -> pd.DataFrame:
    keep = discharged & (level >= 0)
    m = len(LEVELS_OF_CARE) + 1  # destination slot 0 = no further episode, 1.. = levels
    pairs = np.bincount(level[keep].astype("int64") * m + (to[keep] + 1), weights=count[keep],
                        minlength=len(LEVELS_OF_CARE) * m).astype("int64")
    idx = np.flatnonzero(pairs)
    names = np.array([*LEVELS_OF_CARE], dtype=object)
    to_names = np.array(["no further episode", *LEVELS_OF_CARE], dtype=object)
    flows = pd.DataFrame({"from_level": names[idx // m], "to_level": to_names[idx % m], "n": pairs[idx]})
    # order: by level stepped from, then destination in intensity order with "no further episode" last
    rank = (idx // m) * m + np.where(idx % m == 0, m, idx % m)
    return flows.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def step_downs(cohort: pd.DataFrame, *, window_days: float = 30,
               conf_level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`step_down_rates` and :func:`step_down_flows` from one pass over the episodes."""
    arrays = _next_episodes(cohort, window_days)
    return _step_rates(*arrays, conf_level), _step_flows(*arrays)


def step_downs_from_transitions(transitions: pd.DataFrame, *, count_col: str = "n",
                                conf_level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`step_downs` from counted transitions (what :mod:`analysis.engine` computes in SQL).

    ``transitions`` has one row per distinct (``level_of_care``, ``next_level``, ``discharged``) of the
    episodes with a client id: the episode's level, the level of the same client's next admission
    0..window days after this discharge (missing when none), whether the episode was discharged, and
    ``count_col``, how many episodes. Gives the same frames as :func:`step_downs` on the rows.
    """
    need = {"level_of_care", "next_level", "discharged", count_col}
    if not need <= set(transitions.columns):
        raise ValueError(f"Step-down transitions need the columns {', '.join(sorted(need))}.")
    level = _level_codes(transitions["level_of_care"])
    to = _level_codes(transitions["next_level"])
    discharged = transitions["discharged"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    arrays = (level, to, discharged, frequency_counts(transitions, count_col))
    return _step_rates(*arrays, conf_level), _step_flows(*arrays)
