"""Trends by quarter and the organisation's targets: "how did we do last quarter?".

:func:`quarterly_trends` gives, per group (level of care) and for the whole program, per quarter of
discharge (default) or of admission:

* ``completion``: completed / (discharged - transferred), Wilson 95% interval; ``completion_all``:
  completed / discharged (the TEDS convention);
* ``relapse`` at ``horizon_days`` (default 90) from discharge (or admission): ``1 - S(90)`` from
  Kaplan-Meier among the quarter's episodes, exponential-Greenwood ("log-log") 95% interval and
  Greenwood standard error. People not yet followed for 90 days are censored at their last contact,
  so they count while observed and are not taken as relapse-free; a quarter in which no one has
  been followed for 90 days has no estimate (``note`` says so) rather than an extrapolated one;
* ``median_stay``: median length of stay in days, from Kaplan-Meier of time in treatment with
  episodes still in treatment censored (with discharge quarters all stays are complete and this is
  the sample median, R's convention); interval from the log-log band (Brookmeyer-Crowley style).

A quarter not over at the data's date (``as_of``) is marked ``complete = False``; for relapse the
quarter's episodes must also have had ``horizon_days`` of possible follow-up.

:func:`period_change` compares a quarter with the one before it (differences of proportions with
Newcombe's hybrid score interval; of Kaplan-Meier relapse with Greenwood standard errors,
independent quarters; medians without an interval). :func:`target_status_table` judges the
organisation's own targets (:func:`analysis.benchmarks.organisation_targets`) as met / not met /
cannot tell from the interval.

Results hold raw counts; :data:`COUNT_COLUMNS` lists the columns that count people, for the
publishing (disclosure) step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.benchmarks import target_status
from analysis.cohort import data_as_of, survival_columns
from analysis.proportions import risk_difference, wilson_interval
from analysis.retention import frequency_counts, group_values
from analysis.suppression import DEFAULT_MIN_CELL
from analysis.survival import km_by_group, median_survival, survival_at

__all__ = ["PERIODS_OF", "TREND_METRICS", "COUNT_COLUMNS", "ALL_GROUP", "TrendResult", "quarterly_trends", "quarterly_trends_from_counts",
           "latest_complete", "period_change", "target_status_table"]

PERIODS_OF: tuple[str, ...] = ("discharge", "admission")
TREND_METRICS: tuple[str, ...] = ("completion", "completion_all", "relapse", "median_stay")
COUNT_COLUMNS: tuple[str, ...] = ("n", "n_events", "n_at_risk_end", "n_in_treatment")
"""Columns of :attr:`TrendResult.table` that are counts of people (episodes)."""
ALL_GROUP = "all"
"""Group label of the whole-program rows."""
_TARGET_METRICS = {"completion_rate": "completion", "discharge_reason_completed": "completion_all",
                   "relapse": "relapse", "median_los_days": "median_stay"}
_COLUMNS = ["metric", "group", "period", "period_start", "period_end", "horizon_days", "origin", "unit",
            "estimate", "lower", "upper", "se", "n", "n_events", "n_at_risk_end", "n_in_treatment", "complete",
            "note"]


@dataclass(frozen=True)
class TrendResult:
    """Quarterly trends (raw counts; suppress before showing).

    Attributes
    ----------
    table : DataFrame
        One row per metric, group and period: metric, group, period (``"2024Q3"``), period_start,
        period_end, horizon_days, origin, unit (``"proportion"`` or ``"days"``), estimate, lower,
        upper, se (relapse only), n (people in the denominator), n_events (completed / relapsed by
        the horizon / discharged), n_at_risk_end (relapse: still followed and relapse-free at the
        horizon), n_in_treatment, complete (bool), note.
    period_of, origin, horizon_days, freq
        What the periods are, the relapse clock, its horizon, ``"Q"`` for quarters.
    as_of : Timestamp or None
        The data's date; periods ending after it are incomplete.
    latest_complete : str or None
        The latest period that is over (the default "this period" of :func:`period_change`).
    method : str
        The methods in one paragraph, for a report.
    """

    table: pd.DataFrame
    period_of: str
    origin: str
    horizon_days: int
    freq: str
    as_of: pd.Timestamp | None
    latest_complete: str | None
    method: str
    count_columns: tuple[str, ...] = COUNT_COLUMNS


def _method(period_of: str, origin: str, h: int) -> str:
    return (f"Periods are calendar quarters of {period_of}. Completion: completed / (discharged - transferred), "
            f"and completed / discharged (TEDS convention), Wilson 95% intervals. Relapse by {h} days from "
            f"{origin}: one minus Kaplan-Meier at day {h} among the quarter's episodes, censored at last contact (deaths "
            "censored), log-log 95% interval; people not yet followed for "
            f"{h} days count while observed; a quarter in which no one has been followed {h} days has no "
            "estimate. Median stay: Kaplan-Meier median of days in treatment, episodes still in treatment "
            "censored, interval from the log-log band. Change from the previous quarter: Newcombe hybrid score "
            "interval for completion, Greenwood standard errors (independent quarters) for relapse; differences "
            "of proportions in percentage points. A quarter not over at the data's date is marked incomplete.")


def _period_column(cohort: pd.DataFrame, period_of: str, freq: str) -> pd.Series:
    col = f"{period_of}_date"
    if col not in cohort.columns or not pd.api.types.is_datetime64_any_dtype(cohort[col]):
        raise ValueError(f"Trends by quarter of {period_of} need {period_of} dates; these data have none "
                         "(a file of durations has no calendar).")
    return cohort[col].dt.to_period(freq)


@dataclass(frozen=True)
class _Cells:
    """Each row's cell (group x period) as one integer key, and the cohort row it comes from.

    Rows of the whole program repeat every row under the extra group code ``len(groups)``; keys are
    ``group_code * n_periods + period_offset`` (integers: a million rows group in a blink, where
    string keys took seconds).
    """

    pos: np.ndarray
    key: np.ndarray
    groups: list
    first_period: int
    n_periods: int
    freq: str
    w: np.ndarray
    """How many episodes each entry stands for (1 for rows; the counts of collapsed rows)."""

    def labels(self, keys) -> tuple[list, list[str]]:
        k = np.asarray(keys, dtype=np.int64)
        group = [self.groups[i] for i in k // self.n_periods]
        period = [str(pd.Period(ordinal=int(o), freq=self.freq)) for o in k % self.n_periods + self.first_period]
        return group, period


def _cells(cohort: pd.DataFrame, by: str, period: pd.Series, include_all: bool, freq: str,
           count_col: str | None = None) -> _Cells:
    g = group_values(cohort, by)
    codes = g.cat.codes.to_numpy()
    ordinal = period.array.asi8 if len(period) else np.array([], dtype=np.int64)
    ok = (codes >= 0) & period.notna().to_numpy() & (frequency_counts(cohort, count_col) > 0)
    if not ok.any():
        raise ValueError("No episodes with a date for the chosen quarters match the selection.")
    first, last = int(ordinal[ok].min()), int(ordinal[ok].max())
    n_periods = last - first + 1
    pos = np.flatnonzero(ok)
    groups = [*g.cat.categories]
    key = codes[ok].astype(np.int64) * n_periods + (ordinal[ok] - first)
    if include_all:
        pos = np.concatenate([pos, pos])
        key = np.concatenate([key, len(groups) * n_periods + (ordinal[ok] - first)])
        groups.append(ALL_GROUP)
    w = frequency_counts(cohort, count_col)[pos]
    return _Cells(pos=pos, key=key, groups=groups, first_period=first, n_periods=n_periods, freq=freq, w=w)


def _col(cohort: pd.DataFrame, name: str, pos: np.ndarray, dtype: str) -> np.ndarray:
    return cohort[name].to_numpy(dtype=dtype, na_value=np.nan if dtype == "float64" else False)[pos]


def _completion(cohort: pd.DataFrame, cells: _Cells, conf_level: float) -> pd.DataFrame:
    in_tr = _col(cohort, "in_treatment", cells.pos, "bool")
    w = cells.w
    f = pd.DataFrame({"key": cells.key, "n_in_treatment": w * in_tr, "discharged": w * ~in_tr,
                      "transferred": w * (_col(cohort, "transferred", cells.pos, "bool") & ~in_tr),
                      "completed": w * (_col(cohort, "completed", cells.pos, "bool") & ~in_tr)})
    s = f.groupby("key", sort=True).sum().reset_index()
    group, period = cells.labels(s["key"])
    rows = []
    for metric, basis in (("completion", s["discharged"] - s["transferred"]), ("completion_all", s["discharged"])):
        lo, hi = wilson_interval(s["completed"].to_numpy(), basis.to_numpy(), conf_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.where(basis > 0, s["completed"] / basis.where(basis > 0), np.nan)
        rows.append(pd.DataFrame({"metric": metric, "group": group, "period": period, "unit": "proportion",
                                  "estimate": est, "lower": lo, "upper": hi, "n": basis.to_numpy(),
                                  "n_events": s["completed"].to_numpy(), "n_in_treatment": s["n_in_treatment"]}))
    return pd.concat(rows, ignore_index=True)


def _km(cells: _Cells, time: np.ndarray, event: np.ndarray, conf_level: float):
    ok = ~np.isnan(time)
    data = pd.DataFrame({"key": cells.key[ok], "time": time[ok], "event": event[ok], "n": cells.w[ok]})
    if data.empty:
        return None, None
    km = km_by_group(data, time_col="time", event_col="event", group_col="key", conf_level=conf_level,
                     weight_col="n")
    return km, data


def _relapse(cohort: pd.DataFrame, cells: _Cells, origin: str, h: int, conf_level: float) -> pd.DataFrame:
    time_col, event_col = survival_columns(origin)
    km, data = _km(cells, _col(cohort, time_col, cells.pos, "float64"), _col(cohort, event_col, cells.pos, "float64"),
                   conf_level)
    if km is None:
        return pd.DataFrame()
    at = survival_at(km, [h])
    n = data.groupby("key")["n"].sum()
    keys = at["group"].astype(np.int64).to_numpy()
    group, period = cells.labels(keys)
    observable = at["n_at_risk"].to_numpy() > 0
    return pd.DataFrame({
        "metric": "relapse", "group": group, "period": period, "unit": "proportion",
        "estimate": np.where(observable, 1 - at["survival"], np.nan),
        "lower": np.where(observable, 1 - at["ci_upper"], np.nan),
        "upper": np.where(observable, 1 - at["ci_lower"], np.nan),
        "se": np.where(observable, at["std_err"], np.nan), "n": n.reindex(keys).to_numpy(),
        "n_events": at["n_event_cum"].to_numpy(), "n_at_risk_end": at["n_at_risk"].to_numpy(),
        "note": np.where(observable, "", f"no one followed {h} days yet")})


def _median_stay(cohort: pd.DataFrame, cells: _Cells, conf_level: float) -> pd.DataFrame:
    discharged = (~_col(cohort, "in_treatment", cells.pos, "bool")).astype(float)
    km, data = _km(cells, _col(cohort, "los_days", cells.pos, "float64"), discharged, conf_level)
    if km is None:
        return pd.DataFrame()
    med = median_survival(km)
    counts = data.assign(n_events=data["event"] * data["n"]).groupby("key").agg(n=("n", "sum"),
                                                                                 n_events=("n_events", "sum"))
    keys = med["group"].astype(np.int64).to_numpy()
    group, period = cells.labels(keys)
    reached = med["median_days"].notna().to_numpy()
    return pd.DataFrame({
        "metric": "median_stay", "group": group, "period": period, "unit": "days", "estimate": med["median_days"],
        "lower": med["ci_lower"], "upper": med["ci_upper"], "n": counts["n"].reindex(keys).to_numpy(),
        "n_events": counts["n_events"].reindex(keys).to_numpy(),
        "note": np.where(reached, "", "median not reached (more than half still in treatment)")})


def quarterly_trends(cohort: pd.DataFrame, *, by: str = "level_of_care", period_of: str = "discharge",
                     origin: str = "discharge", horizon_days: int = 90, include_all: bool = True,
                     freq: str = "Q", conf_level: float = 0.95) -> TrendResult:
    """Completion, relapse by ``horizon_days`` and median stay per group and quarter (module docstring).

    Raises
    ------
    ValueError
        Without dates for ``period_of`` (duration-shaped files), or with an unknown ``period_of``.
    """
    parts = dict.fromkeys(("completion", "relapse", "median_stay"), cohort)
    return quarterly_trends_from_counts(parts, by=by, period_of=period_of, origin=origin, horizon_days=horizon_days,
                                        include_all=include_all, freq=freq, conf_level=conf_level)


def quarterly_trends_from_counts(parts: dict[str, pd.DataFrame], *, by: str = "level_of_care",
                                 period_of: str = "discharge", origin: str = "discharge", horizon_days: int = 90,
                                 include_all: bool = True, freq: str = "Q", conf_level: float = 0.95,
                                 count_col: str | None = None) -> TrendResult:
    """:func:`quarterly_trends` from collapsed rows: ``parts`` holds a frame for ``completion`` (group, the
    period's date, in_treatment, transferred, completed), ``relapse`` (group, date, time and event from the
    origin) and ``median_stay`` (group, date, los_days, in_treatment), each with ``count_col`` (the date may
    be the first day of its quarter). The data's date is taken from the completion frame's ``attrs``."""
    if period_of not in PERIODS_OF:
        raise ValueError(f"Periods can be of {' or '.join(PERIODS_OF)}, not {period_of!r}.")
    survival_columns(origin)  # checks the origin
    h = int(horizon_days)
    if h <= 0:
        raise ValueError("The relapse horizon must be a positive number of days.")
    cells = {k: _cells(f, by, _period_column(f, period_of, freq), include_all, freq, count_col) for k, f in parts.items()}
    cohort = parts["completion"]
    tables = [_completion(cohort, cells["completion"], conf_level),
              _relapse(parts["relapse"], cells["relapse"], origin, h, conf_level),
              _median_stay(parts["median_stay"], cells["median_stay"], conf_level)]
    table = pd.concat([p for p in tables if len(p)], ignore_index=True)
    table["period"] = table["period"].astype(str)
    periods = pd.PeriodIndex(table["period"], freq=freq)
    table["period_start"] = periods.start_time
    table["period_end"] = periods.end_time.normalize()
    as_of = data_as_of(cohort)
    over = np.ones(len(table), dtype=bool) if as_of is None else (table["period_end"] <= as_of).to_numpy()
    table["horizon_days"] = np.where(table["metric"] == "relapse", h, np.nan)
    table["origin"] = np.where(table["metric"] == "relapse", origin, "")
    if period_of == origin and as_of is not None:  # follow-up to the horizon possible for every episode
        followed = (table["period_end"] + pd.Timedelta(days=h) <= as_of).to_numpy()
    else:  # admission quarters with a discharge clock: the period being over is all we can check
        followed = over
    table["complete"] = np.where(table["metric"] == "relapse", over & followed, over)
    note = table["note"].fillna("") if "note" in table.columns else pd.Series("", index=table.index)
    incomplete = np.where(~over, "quarter not over at the data's date",
                          np.where(~table["complete"], f"follow-up to {h} days not over for everyone", ""))
    table["note"] = [("; ".join(x for x in (a, b) if x)) for a, b in zip(incomplete, note, strict=True)]
    for c in ("se", "n_at_risk_end", "n_in_treatment"):
        if c not in table.columns:
            table[c] = np.nan
    order = {m: i for i, m in enumerate(TREND_METRICS)}
    rank = {str(g): i for i, g in enumerate(cells["completion"].groups)}
    table = table.assign(_m=table["metric"].map(order), _g=table["group"].astype(str).map(rank))
    table = table.sort_values(["_m", "_g", "period"], kind="stable").drop(columns=["_m", "_g"])
    table = table[_COLUMNS].reset_index(drop=True)
    done = sorted(set(table.loc[table["period_end"] <= as_of, "period"])) if as_of is not None else \
        sorted(set(table["period"]))
    return TrendResult(table=table, period_of=period_of, origin=origin, horizon_days=h, freq=freq, as_of=as_of,
                       latest_complete=done[-1] if done else None, method=_method(period_of, origin, h))


def _previous(period: str, freq: str) -> str:
    return str(pd.Period(period, freq=freq) - 1)


def latest_complete(trend: TrendResult, metric: str) -> str | None:
    """The latest period that is complete for ``metric`` (relapse needs its follow-up over too)."""
    t = trend.table
    done = t.loc[(t["metric"] == metric) & t["complete"].astype(bool), "period"]
    return max(done) if len(done) else None


def period_change(trend: TrendResult, period: str | None = None, *, conf_level: float = 0.95) -> pd.DataFrame:
    """This period against the previous one, per metric and group.

    ``period`` defaults, per metric, to the latest period complete for it (:func:`latest_complete`:
    for relapse at 90 days, the latest quarter whose 90 days of follow-up are over). Differences
    (this - previous): completion by Newcombe's hybrid score interval
    (:func:`analysis.proportions.risk_difference`), relapse by ``d +- z sqrt(se1^2 + se0^2)`` with
    Greenwood standard errors (the quarters hold different episodes), median stay as a plain
    difference of days without an interval. Differences of proportions are in 0-1 (show them in
    percentage points).

    Returns
    -------
    DataFrame
        metric, group, period, previous, unit, estimate, previous_estimate, difference,
        difference_lower, difference_upper, method, n, previous_n, complete, previous_complete, note.
    """
    t = trend.table
    parts = []
    for metric in dict.fromkeys(t["metric"]):
        this = period or latest_complete(trend, metric)
        if this is None:
            continue
        prev = _previous(this, trend.freq)
        now = t[(t["metric"] == metric) & (t["period"] == this)]
        before = t[(t["metric"] == metric) & (t["period"] == prev)]
        parts.append(now.merge(before, on=["metric", "group"], how="left", suffixes=("", "_prev"))
                     .assign(previous=prev))
    if not parts or all(p.empty for p in parts):
        raise ValueError(f"No episodes in {period}." if period else "No quarter is complete yet, so there is "
                         "nothing to compare.")
    m = pd.concat(parts, ignore_index=True)
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    d = m["estimate"] - m["estimate_prev"]
    lo = pd.Series(np.nan, index=m.index)
    hi = pd.Series(np.nan, index=m.index)
    method = pd.Series("no interval for a difference of medians", index=m.index)
    is_prop = m["metric"].isin(["completion", "completion_all"])
    prop = is_prop & m["n_prev"].gt(0) & m["n"].gt(0)
    if prop.any():
        rd = risk_difference(m.loc[prop, "n_events"], m.loc[prop, "n"], m.loc[prop, "n_events_prev"],
                             m.loc[prop, "n_prev"], conf_level)
        lo[prop], hi[prop] = rd["lower"].to_numpy(), rd["upper"].to_numpy()
    method[is_prop] = "Newcombe hybrid score"
    rel = m["metric"] == "relapse"
    sd = np.sqrt(m["se"] ** 2 + m["se_prev"] ** 2)
    lo[rel], hi[rel] = (d - z * sd)[rel], (d + z * sd)[rel]
    method[rel] = "Greenwood standard errors, independent quarters"
    return pd.DataFrame({
        "metric": m["metric"], "group": m["group"], "period": m["period"], "previous": m["previous"],
        "unit": m["unit"], "estimate": m["estimate"], "previous_estimate": m["estimate_prev"], "difference": d,
        "difference_lower": lo, "difference_upper": hi, "method": method, "n": m["n"], "previous_n": m["n_prev"],
        "complete": m["complete"], "previous_complete": m["complete_prev"],
        "note": m["note"].fillna("")})


def target_status_table(trend: TrendResult, targets: pd.DataFrame, period: str | None = None, *,
                        min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """The organisation's targets for one period: met / not met / cannot tell.

    ``period`` defaults, per measure, to the latest period complete for it (:func:`latest_complete`).

    ``targets`` are registry rows (:func:`analysis.benchmarks.organisation_targets`). Metrics judged:
    ``completion_rate`` (transfers excluded), ``discharge_reason_completed`` (all discharges),
    ``relapse`` (its ``horizon_days`` and ``origin`` must be the trend's) and ``median_los_days``
    (unit days). A target for a level of care is judged on that level; one without a level on the
    whole program. An estimate resting on fewer than ``min_cell`` people (or events) is
    ``"suppressed"``, never judged (:func:`analysis.benchmarks.target_status`).

    Returns
    -------
    DataFrame
        target_id, metric, group, period, estimate, lower, upper, target_low, target_high, direction,
        status, source, note (why a target could not be judged).
    """
    cols = ["target_id", "metric", "group", "period", "estimate", "lower", "upper", "target_low", "target_high",
            "direction", "status", "source", "note"]
    rows = []
    for r in targets.itertuples():
        metric = _TARGET_METRICS.get(str(r.metric))
        group = r.level_of_care if r.level_of_care else ALL_GROUP
        this = period or (latest_complete(trend, metric) if metric else None)
        t = trend.table[trend.table["period"] == this]
        base = {"target_id": r.id, "metric": str(r.metric), "group": group, "period": this,
                "target_low": float(r.low), "target_high": float(r.high), "direction": r.direction,
                "source": r.source, "estimate": np.nan, "lower": np.nan, "upper": np.nan}
        note = ""
        if metric is None:
            note = "no quarterly estimate of this measure"
        elif metric == "relapse" and (pd.isna(r.horizon_days) or int(r.horizon_days) != trend.horizon_days
                                      or (r.origin and r.origin != trend.origin)):
            note = f"trend is relapse by {trend.horizon_days} days from {trend.origin}; target is another horizon"
        match = t[(t["metric"] == metric) & (t["group"].astype(str) == str(group))] if not note else t.iloc[:0]
        if not note and match.empty:
            note = f"no {group} episodes in {this}"
        if note:
            rows.append({**base, "status": "no_estimate", "note": note})
            continue
        e = match.iloc[0]
        small = (e["n"] < min_cell) or (0 < e["n_events"] < min_cell)
        status = target_status(e["estimate"], e["lower"], e["upper"], r.low, r.high, r.direction, suppressed=small)
        rows.append({**base, "estimate": e["estimate"], "lower": e["lower"], "upper": e["upper"], "status": status,
                     "note": e["note"]})
    return pd.DataFrame(rows, columns=cols)
