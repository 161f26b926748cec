"""Retention and engagement per group: completion, discharge reasons, length of stay, retention
in treatment, hours per week against ASAM thresholds, and step-downs to a lower level of care.

All functions take the cohort table of :func:`analysis.cohort.derive_cohort` and a grouping
column ``by`` (default ``level_of_care``; any categorical column works) and return tidy frames
with one row per group (``group`` first). Counts are raw; suppression of small cells is applied
by :mod:`analysis.suppression` at display/export time.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.proportions import wilson_interval
from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE
from analysis.survival import km_by_group, survival_at

__all__ = ["ASAM_MIN_HOURS_PER_WEEK", "STEP_DOWN_FROM", "group_values", "grouped_quantiles", "weeks_of_stay", "completion_rates",
           "discharge_reason_mix", "length_of_stay", "retention_at", "retention_curve", "engagement",
           "step_down_flows", "step_down_rates", "step_downs"]

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


def _grouped(cohort: pd.DataFrame, by: str, groups: Sequence | None):
    g = group_values(cohort, by, groups)
    return g, g.notna()


def _rows(cohort: pd.DataFrame, mask: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """Only the needed columns of the selected rows (copying a wide cohort of a million rows is slow)."""
    return cohort.loc[mask, [c for c in columns if c in cohort.columns]]


def grouped_quantiles(values: pd.Series, groups: pd.Series, qs: Sequence[float]) -> pd.DataFrame:
    """Quantiles of ``values`` per category of ``groups`` (linear interpolation, as pandas), NaN ignored.

    One boolean mask and one ``np.quantile`` per group: much faster than ``groupby().quantile`` on
    millions of rows. Returns a frame indexed by the categories (all of them, NaN when empty), one
    column per quantile.
    """
    cats = groups.cat.categories
    codes = groups.cat.codes.to_numpy()
    v = np.asarray(values, dtype="float64")
    ok = ~np.isnan(v)
    rows = []
    for k in range(len(cats)):
        x = v[(codes == k) & ok]
        rows.append(np.quantile(x, qs) if len(x) else np.full(len(qs), np.nan))
    return pd.DataFrame(np.array(rows).reshape(len(cats), len(qs)), index=cats, columns=list(qs))


def completion_rates(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                     conf_level: float = 0.95) -> pd.DataFrame:
    """Completion per group with Wilson score intervals.

    ``completion_rate`` = completed / (discharged - transferred): a transfer continues care
    elsewhere and is neither a completion nor a failure, so it is reported apart
    (``transfer_share`` = transferred / discharged). ``completion_rate_all`` = completed /
    discharged, the TEDS convention (all discharges in the denominator). Episodes still in
    treatment are counted (``n_in_treatment``) and left out of the rates.

    Returns
    -------
    pd.DataFrame
        group, n_episodes, n_in_treatment, n_discharged, n_transferred, n_completed,
        completion_rate, ci_lower, ci_upper, completion_rate_all, all_ci_lower, all_ci_upper,
        transfer_share.
    """
    g, ok = _grouped(cohort, by, groups)
    c = _rows(cohort, ok, ["in_treatment", "transferred", "completed"])
    frame = pd.DataFrame({"group": g[ok], "episode": 1, "in_treatment": c["in_treatment"].astype(int),
                          "discharged": (~c["in_treatment"]).astype(int),
                          "transferred": (c["transferred"] & ~c["in_treatment"]).astype(int),
                          "completed": (c["completed"] & ~c["in_treatment"]).astype(int)})
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
                         conf_level: float = 0.95) -> pd.DataFrame:
    """Discharge reasons per group: count and share of discharged episodes (Wilson intervals).

    Returns
    -------
    pd.DataFrame
        group, reason (in :data:`analysis.schema.DISCHARGE_REASONS` order), n, n_discharged,
        share, ci_lower, ci_upper. Every reason appears for every group (n may be 0).
    """
    g, ok = _grouped(cohort, by, groups)
    c = _rows(cohort, ok & ~cohort["in_treatment"], ["discharge_reason"])
    if "discharge_reason" in c.columns:
        reason = c["discharge_reason"].astype(object).fillna("other")
    else:
        reason = pd.Series("other", index=c.index)
    table = pd.crosstab(g[c.index], pd.Categorical(reason, categories=list(DISCHARGE_REASONS)), dropna=False)
    table = table.reindex(index=g.cat.categories, columns=list(DISCHARGE_REASONS), fill_value=0)
    long = table.stack().rename("n").reset_index()
    long.columns = ["group", "reason", "n"]
    long["n_discharged"] = long.groupby("group", observed=False)["n"].transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        long["share"] = long["n"] / long["n_discharged"].where(long["n_discharged"] > 0)
    long["ci_lower"], long["ci_upper"] = wilson_interval(long["n"].to_numpy(), long["n_discharged"].to_numpy(),
                                                         conf_level)
    long["group"] = pd.Categorical(long["group"], categories=g.cat.categories, ordered=True)
    return long


def length_of_stay(cohort: pd.DataFrame, *, by: str = "level_of_care",
                   groups: Sequence | None = None) -> pd.DataFrame:
    """Length of stay (days) of discharged episodes per group: median, quartiles, mean, share > 30/90 days.

    Episodes still in treatment have no completed stay and are counted apart (``n_in_treatment``);
    their time enters :func:`retention_curve` as censored.
    """
    g, ok = _grouped(cohort, by, groups)
    c = _rows(cohort, ok, ["los_days", "in_treatment"])
    los = c["los_days"].where(~c["in_treatment"])
    frame = pd.DataFrame({"group": g[ok], "los": los, "in_treatment": c["in_treatment"].astype(int),
                          "over30": (los > 30).astype(float).where(los.notna()),
                          "over90": (los > 90).astype(float).where(los.notna())})
    grouped = frame.groupby("group", observed=False)
    q = grouped_quantiles(los, g[ok], (0.25, 0.5, 0.75))
    out = pd.DataFrame({
        "n_discharged": grouped["los"].count(), "n_in_treatment": grouped["in_treatment"].sum(),
        "median_days": q[0.5], "q1_days": q[0.25], "q3_days": q[0.75], "mean_days": grouped["los"].mean(),
        "share_over_30_days": grouped["over30"].mean(), "share_over_90_days": grouped["over90"].mean(),
    })
    return out.rename_axis("group").reset_index()


def retention_curve(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                    conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier share still in treatment by day since admission (log-log intervals).

    The event is discharge (any reason); episodes still enrolled at the data's date are
    censored at their current length of stay. Output as :func:`analysis.survival.km_by_group`
    (``survival`` = share still in treatment).
    """
    g, ok = _grouped(cohort, by, groups)
    data = pd.DataFrame({"group": g[ok], "time": cohort.loc[ok, "los_days"],
                         "event": (~cohort.loc[ok, "in_treatment"]).astype("int8")})
    return km_by_group(data, time_col="time", event_col="event", group_col="group", conf_level=conf_level)


def retention_at(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                 days: Sequence[float] = (30, 60, 90), conf_level: float = 0.95) -> pd.DataFrame:
    """Share retained in treatment at stated days (Kaplan-Meier, still-enrolled censored).

    Returns
    -------
    pd.DataFrame
        group, day, retained, ci_lower, ci_upper, n_at_risk.
    """
    at = survival_at(retention_curve(cohort, by=by, groups=groups, conf_level=conf_level), days)
    return at.rename(columns={"survival": "retained"})[["group", "day", "retained", "ci_lower", "ci_upper",
                                                        "n_at_risk"]]


def weeks_of_stay(los_days) -> np.ndarray:
    """Weeks of enrolment for per-week rates: ``max(length of stay, 1 day) / 7``."""
    return np.maximum(np.asarray(los_days, dtype="float64"), 1.0) / 7.0


def engagement(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None) -> pd.DataFrame:
    """Attended and scheduled hours per week, attendance, and the share meeting the ASAM minimum.

    Hours per week = hours / :func:`weeks_of_stay` (the stay in days / 7, at least one day), so a
    short stay keeps the intensity of its schedule. The ASAM minimum (:data:`ASAM_MIN_HOURS_PER_WEEK`) applies to scheduled hours of the
    level of care of each episode (IOP >= 9, PHP >= 20); other levels have no minimum (NaN).

    Returns
    -------
    pd.DataFrame
        group, n_with_hours, scheduled_per_week_median, attended_per_week_median, attendance_rate
        (sum attended / sum scheduled), n_meeting_minimum, share_meeting_minimum.
    """
    g, ok = _grouped(cohort, by, groups)
    cols = ("hours_attended", "hours_scheduled")
    if not all(c in cohort.columns for c in cols):
        return pd.DataFrame({"group": g.cat.categories, "n_with_hours": 0})
    c = _rows(cohort, ok, ["los_days", "hours_scheduled", "hours_attended", "level_of_care"])
    weeks = weeks_of_stay(c["los_days"])
    sched = c["hours_scheduled"].to_numpy(dtype="float64")
    att = c["hours_attended"].to_numpy(dtype="float64")
    has = ~np.isnan(sched) & ~np.isnan(att)
    level = c["level_of_care"].astype(object) if "level_of_care" in c.columns else pd.Series(None, index=c.index)
    minimum = level.map(ASAM_MIN_HOURS_PER_WEEK).to_numpy(dtype="float64")
    sched_pw = sched / weeks
    meets = np.where(has & ~np.isnan(minimum), (sched_pw >= minimum).astype(float), np.nan)
    frame = pd.DataFrame({"group": g[ok].array, "has": has.astype(int),
                          "sched_pw": np.where(has, sched_pw, np.nan), "att_pw": np.where(has, att / weeks, np.nan),
                          "sched": np.where(has, sched, 0.0), "att": np.where(has, att, 0.0), "meets": meets})
    grouped = frame.groupby("group", observed=False)
    out = pd.DataFrame({
        "n_with_hours": grouped["has"].sum(),
        "scheduled_per_week_median": grouped["sched_pw"].median(),
        "attended_per_week_median": grouped["att_pw"].median(),
        "attendance_rate": grouped["att"].sum() / grouped["sched"].sum().where(grouped["sched"].sum() > 0),
        "n_meeting_minimum": grouped["meets"].sum(min_count=1),
        "share_meeting_minimum": grouped["meets"].mean(),
    })
    return out.rename_axis("group").reset_index()


def _level_codes(levels: pd.Series) -> np.ndarray:
    """Level of care as intensity ranks 0..5 (order of LEVELS_OF_CARE), -1 when missing or unknown."""
    if isinstance(levels.dtype, pd.CategoricalDtype) and list(levels.cat.categories) == list(LEVELS_OF_CARE):
        return levels.cat.codes.to_numpy().astype("int16")
    return pd.Categorical(levels.astype(object), categories=list(LEVELS_OF_CARE)).codes.astype("int16")


def _next_episodes(cohort: pd.DataFrame, window_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each episode with a client id: its level, the level of the same client's next admission
    0..``window_days`` days after this discharge (-1 when none), and whether it was discharged."""
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
    return level, to, discharged


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


def _step_rates(level: np.ndarray, to: np.ndarray, discharged: np.ndarray, conf_level: float) -> pd.DataFrame:
    k = len(STEP_DOWN_FROM)  # detox..iop are ranks 0..4
    keep = discharged & (level >= 0) & (level < k)
    n = np.bincount(level[keep], minlength=k)
    x = np.bincount(level[keep], weights=(to[keep] > level[keep]).astype(float), minlength=k)
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


def _step_flows(level: np.ndarray, to: np.ndarray, discharged: np.ndarray) -> pd.DataFrame:
    keep = discharged & (level >= 0)
    m = len(LEVELS_OF_CARE) + 1  # destination slot 0 = no further episode, 1.. = levels
    pairs = np.bincount(level[keep].astype("int64") * m + (to[keep] + 1), minlength=len(LEVELS_OF_CARE) * m)
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
