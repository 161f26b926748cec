"""Relapse by fixed horizons, honest about who was reached.

For each group and horizon h (days from the chosen origin), :func:`relapse_rates` gives

* ``km_relapse``: cumulative relapse ``1 - S(h)`` from Kaplan-Meier, censoring at last contact
  (deaths censored: cause-specific view), with the log-log interval turned over
  (``1 - upper``, ``1 - lower``); this is the default estimate;
* the **reach**: of the people *eligible* at h (whose origin + h lies on or before the data's
  date; with duration-shaped files, everyone), how many were *reached*: relapse seen by h, known free of relapse at h
  (followed to h or beyond), or died before h without relapse;
* the **naive** share ``relapsed / reached`` ("success among responders", which the field
  distrusts), with a Wilson interval;
* the **bounds** under the two extreme assumptions about those not reached: none relapsed
  (``relapsed / eligible``) and all relapsed (``(relapsed + not reached) / eligible``); the upper
  bound is the conventional "lost to follow-up counts as relapse" estimate (Wilson interval).

``convention="lost_as_relapse"`` makes that upper bound the headline ``estimate``.

Collapsed input: ``count_col`` names a column of frequency counts (a row stands for that many
identical episodes, as :mod:`analysis.engine` hands over ``GROUP BY`` rows), and ``due_days_col`` a
column of days from the origin to the data's date, which replaces the origin date in the
eligibility rule (eligible at h when ``due_days >= h``); it may be floored to the horizons
(:func:`due_days_floor`) so that collapsing keeps few rows. Results equal the row-level call.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.cohort import data_as_of, survival_columns
from analysis.proportions import risk_difference_and_ratio, wilson_interval
from analysis.retention import frequency_counts, group_values
from analysis.survival import km_by_group, survival_at

__all__ = ["DEFAULT_HORIZONS", "CONVENTIONS", "relapse_rates", "relapse_comparison", "relapse_survival_data",
           "due_days", "due_days_floor"]

DEFAULT_HORIZONS: tuple[int, ...] = (30, 90, 180, 365)
CONVENTIONS: tuple[str, ...] = ("censor", "lost_as_relapse")


def relapse_survival_data(cohort: pd.DataFrame, *, by: str = "level_of_care", origin: str = "discharge",
                          groups: Sequence | None = None, count_col: str | None = None) -> pd.DataFrame:
    """The rows usable from ``origin`` as ``group, time, event`` (event 0 censored, 1 relapse, 2 death).

    With ``count_col`` (frequency counts) the frame also has ``n``, the count of each row, and rows
    with count 0 are left out.
    """
    time_col, event_col = survival_columns(origin)
    g = group_values(cohort, by, groups)
    w = frequency_counts(cohort, count_col)
    ok = g.notna() & cohort[time_col].notna() & (w > 0)
    extra = {} if count_col is None else {"n": w[ok.to_numpy()]}
    if not ok.any():
        return pd.DataFrame({"group": g[ok], "time": pd.Series(dtype="float64"), "event": pd.Series(dtype="int8"),
                             **{k: pd.Series(dtype="int64") for k in extra}})
    g = g[ok]
    observed = [c for c in g.cat.categories if (g == c).any()] if groups is None else list(groups)
    return pd.DataFrame({"group": g.cat.set_categories(observed, ordered=True),
                         "time": cohort.loc[ok, time_col].astype("float64"),
                         "event": cohort.loc[ok, event_col].astype("int8"), **extra})


def due_days(cohort: pd.DataFrame, origin: str) -> pd.Series | None:
    """Days from each episode's origin date to the data's date (None when eligibility is not by date).

    An episode is eligible at horizon h (it could have been followed to h) when ``due_days >= h``;
    NaN (no origin date) is never eligible. Duration-shaped files have no dates: everyone is
    eligible, and this returns None.
    """
    start = _origin_dates(cohort, origin)
    as_of = data_as_of(cohort)
    if start is None or as_of is None:
        return None
    return ((as_of - start) / pd.Timedelta(days=1)).astype("float64")


def due_days_floor(due: pd.Series | np.ndarray, horizons: Sequence[int]) -> np.ndarray:
    """``due_days`` floored to the largest horizon it reaches (0 below the first; NaN stays NaN).

    Eligibility at every one of ``horizons`` is unchanged, and a collapsed table keeps at most
    ``len(horizons) + 2`` distinct values of it.
    """
    h = np.sort(np.asarray(horizons, dtype="float64"))
    d = np.asarray(due, dtype="float64")
    k = np.searchsorted(h, d, side="right")
    out = np.where(k > 0, h[np.maximum(k - 1, 0)], 0.0)
    return np.where(np.isnan(d), np.nan, out)


def _origin_dates(cohort: pd.DataFrame, origin: str) -> pd.Series | None:
    col = f"{origin}_date"
    if col in cohort.columns and cohort.attrs.get("shape", "dates") == "dates":
        return cohort[col]
    return None


def relapse_rates(cohort: pd.DataFrame, *, by: str = "level_of_care", origin: str = "discharge",
                  horizons: Sequence[int] = DEFAULT_HORIZONS, groups: Sequence | None = None,
                  convention: str = "censor", conf_level: float = 0.95, count_col: str | None = None,
                  due_days_col: str | None = None) -> pd.DataFrame:
    """Cumulative relapse by each horizon per group: Kaplan-Meier, naive, reach and bounds.

    Parameters
    ----------
    cohort : DataFrame
        Output of :func:`analysis.cohort.derive_cohort`.
    by, origin, horizons, groups
        Grouping column, time origin ("admission" or "discharge"), horizons in days, groups kept.
    convention : {"censor", "lost_as_relapse"}
        Which estimate fills ``estimate``/``lower``/``upper``.
    count_col, due_days_col
        Frequency counts and days from origin to the data's date, for collapsed input (module
        docstring). Without ``due_days_col`` eligibility comes from the origin date column and the
        data's date (:func:`due_days`).

    Returns
    -------
    pd.DataFrame
        One row per group and horizon: group, horizon_days, origin, n (people in the analysis),
        n_at_risk (still followed and relapse-free at h), km_relapse, km_se (Greenwood), km_lower, km_upper,
        n_eligible, n_relapsed (relapse seen by h among eligible), n_reached, reach (share),
        naive_rate, naive_lower, naive_upper, bound_none_relapsed, bound_all_relapsed,
        lost_as_relapse_lower, lost_as_relapse_upper, estimate, lower, upper, convention.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"Convention must be one of {', '.join(CONVENTIONS)}, not {convention!r}.")
    horizons = [int(h) if float(h).is_integer() else float(h) for h in horizons]  # days; months are fractional
    if not horizons or min(horizons) <= 0:
        raise ValueError("Horizons must be positive numbers of days.")
    data = relapse_survival_data(cohort, by=by, origin=origin, groups=groups, count_col=count_col)
    if data.empty:
        raise ValueError("No episodes with follow-up from this origin match the selection.")
    weight = None if count_col is None else "n"
    km = km_by_group(data, time_col="time", event_col="event", group_col="group", conf_level=conf_level,
                     weight_col=weight)
    at = survival_at(km, horizons)
    at = at.rename(columns={"day": "horizon_days"})

    t = data["time"].to_numpy()
    e = data["event"].to_numpy()
    w = data["n"].to_numpy() if weight else np.ones(len(data), dtype="int64")
    if due_days_col is not None:
        if due_days_col not in cohort.columns:
            raise ValueError(f"The column {due_days_col!r} is not in the data.")
        due = cohort.loc[data.index, due_days_col].to_numpy(dtype="float64", na_value=np.nan)
    else:
        full = due_days(cohort, origin)
        due = None if full is None else full.loc[data.index].to_numpy(dtype="float64", na_value=np.nan)
    parts = []
    for h in horizons:
        relapsed = (e == 1) & (t <= h)
        free = t >= h
        free &= ~relapsed
        died = (e == 2) & (t < h)
        reached = relapsed | free | died
        if due is not None:
            # only people whose horizon has passed by the data's date could have been followed to it;
            # admitting those not yet due because they relapsed early would condition on the outcome
            with np.errstate(invalid="ignore"):
                eligible = due >= h
        else:
            eligible = np.ones(len(t), dtype=bool)
        frame = pd.DataFrame({"group": data["group"], "eligible": w * eligible, "relapsed": w * (relapsed & eligible),
                              "reached": w * (reached & eligible), "n": w})
        s = frame.groupby("group", observed=False).sum()
        s["horizon_days"] = h
        parts.append(s.reset_index())
    counts = pd.concat(parts, ignore_index=True).rename(columns={"eligible": "n_eligible",
                                                                 "relapsed": "n_relapsed", "reached": "n_reached"})
    out = counts.merge(at[["group", "horizon_days", "survival", "std_err", "ci_lower", "ci_upper", "n_at_risk"]],
                       on=["group", "horizon_days"], how="left")
    out["km_relapse"] = 1 - out.pop("survival")
    out["km_se"] = out.pop("std_err")
    out["km_lower"] = 1 - out.pop("ci_upper")
    out["km_upper"] = 1 - out.pop("ci_lower")
    el = out["n_eligible"].to_numpy(dtype="float64")
    x = out["n_relapsed"].to_numpy(dtype="float64")
    r = out["n_reached"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["reach"] = np.where(el > 0, r / el, np.nan)
        out["naive_rate"] = np.where(r > 0, x / r, np.nan)
        out["bound_none_relapsed"] = np.where(el > 0, x / el, np.nan)
        out["bound_all_relapsed"] = np.where(el > 0, (x + el - r) / el, np.nan)
    out["naive_lower"], out["naive_upper"] = wilson_interval(x, r, conf_level)
    out["lost_as_relapse_lower"], out["lost_as_relapse_upper"] = wilson_interval(x + el - r, el, conf_level)
    if convention == "censor":
        out["estimate"], out["lower"], out["upper"] = out["km_relapse"], out["km_lower"], out["km_upper"]
    else:
        out["estimate"] = out["bound_all_relapsed"]
        out["lower"], out["upper"] = out["lost_as_relapse_lower"], out["lost_as_relapse_upper"]
    out["convention"] = convention
    out["origin"] = origin
    out["group"] = pd.Categorical(out["group"], categories=km["group"].cat.categories, ordered=True)
    cols = ["group", "horizon_days", "origin", "n", "n_at_risk", "km_relapse", "km_se", "km_lower", "km_upper",
            "n_eligible", "n_relapsed", "n_reached", "reach", "naive_rate", "naive_lower", "naive_upper",
            "bound_none_relapsed", "bound_all_relapsed", "lost_as_relapse_lower", "lost_as_relapse_upper",
            "estimate", "lower", "upper", "convention"]
    return out[cols].sort_values(["group", "horizon_days"], kind="stable").reset_index(drop=True)


def relapse_comparison(rates: pd.DataFrame, reference: object, *, horizon_days: int = 365,
                       conf_level: float = 0.95) -> pd.DataFrame:
    """Each group against a reference group at one horizon.

    Two views, labelled:

    * ``km_*``: difference and ratio of Kaplan-Meier cumulative relapse, independent groups:
      difference ``d +- z sqrt(se1^2 + se0^2)`` with Greenwood standard errors (``km_se``), ratio
      by the delta method on the log scale, ``sd(log p) = se / p``; Wald p-value of the difference.
    * counts among people **reached** at the horizon: Newcombe difference, Katz ratio and
      chi-square / Fisher test (:func:`analysis.proportions.risk_difference_and_ratio`).
    """
    at = rates[rates["horizon_days"] == horizon_days]
    if at.empty:
        raise ValueError(f"No relapse rates at {horizon_days} days.")
    if reference not in set(at["group"]):
        raise ValueError(f"The reference group {reference!r} is not among the groups.")
    counts = pd.DataFrame({"group": at["group"].astype(object).to_numpy(),
                           "successes": at["n_relapsed"].to_numpy(), "n": at["n_reached"].to_numpy()})
    counts = counts[counts["n"] > 0]
    if reference not in set(counts["group"]):
        raise ValueError(f"No one in the reference group {reference!r} was reached by {horizon_days} days.")
    table = risk_difference_and_ratio(counts, reference, conf_level=conf_level)
    from scipy import stats
    z = stats.norm.ppf(0.5 + conf_level / 2)
    km = at.set_index(at["group"].astype(object))
    se = km["km_se"].fillna(0.0)
    p0, s0 = km.loc[reference, "km_relapse"], se.loc[reference]
    p1 = km.loc[table["group"], "km_relapse"].to_numpy()
    s1 = se.loc[table["group"]].to_numpy()
    d = p1 - p0
    sd = np.sqrt(s1 ** 2 + s0 ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_rr = np.log(p1 / p0)
        se_log = np.sqrt((s1 / p1) ** 2 + (s0 / p0) ** 2)
    table.insert(2, "horizon_days", horizon_days)
    table["km_relapse"] = p1
    table["km_reference"] = p0
    table["km_difference"] = d
    table["km_difference_lower"] = d - z * sd
    table["km_difference_upper"] = d + z * sd
    table["km_difference_p"] = 2 * stats.norm.sf(np.abs(d / sd))
    table["km_ratio"] = np.exp(log_rr)
    table["km_ratio_lower"] = np.exp(log_rr - z * se_log)
    table["km_ratio_upper"] = np.exp(log_rr + z * se_log)
    return table
