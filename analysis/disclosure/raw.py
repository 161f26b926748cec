"""The raw (unsuppressed) results behind one publication, computed once and shared by the ledger and the views.

A publication covers one cohort (after filters), one grouping column and both time origins, at three
*scopes*: the whole program (``by = "*"``), levels of care, and the grouping column when it is another
one. Everything a page, the JSON or a report can show is one of these frames (or a statistic computed
from the cohort for the groups the plan leaves visible), so the ledger sees every count.

Nothing here is shown to anyone: it is the input of :mod:`analysis.disclosure.ledger`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.cohort import ORIGINS, survival_columns
from analysis.counts import COUNT, CohortCounts, as_counts
from analysis.disclosure.cells import LEVEL_CARE, LEVEL_GROUP, LEVEL_PROGRAM, PROGRAM
from analysis.disclosure.level_scope import LEVEL_SCOPE, take_casemix, take_groups, take_trends, whole_levels
from analysis.engagement import Sides, engagement_of_sides
from analysis.relapse import DEFAULT_HORIZONS, relapse_rates, relapse_survival_data
from analysis.retention import (
    completion_rates,
    discharge_reason_mix,
    group_values,
    length_of_stay,
    retention_curve,
)
from analysis.survival import km_by_group
from analysis.trends import quarterly_trends_from_counts

__all__ = ["Scope", "RawResults", "compute_raw", "scopes_for", "PROGRAM_COLUMN", "FORCED_DAYS",
           "RETENTION_DAYS", "LOS_DAYS", "CASEMIX_COLUMNS", "TREND_HORIZON", "TREND_ORIGIN"]

PROGRAM_COLUMN = "_program"
"""Constant grouping column of the whole-program scope (one group, ``"*"``)."""
FORCED_DAYS: tuple[int, ...] = (0, 30, 90, 180, 365, 545, 730, 1095)
"""Days at which numbers at risk, relapses and censored are published (tables, horizons, JSON)."""
RETENTION_DAYS: tuple[int, ...] = (30, 60, 90)
LOS_DAYS: tuple[int, ...] = (30, 90, 180, 365)
TREND_HORIZON = 90
"""Relapse horizon (days from discharge) of the quarterly trends."""
TREND_ORIGIN = "discharge"
CASEMIX_COLUMNS: tuple[str, ...] = ("sex", "primary_substance", "co_occurring", "payer", "race_ethnicity", "site",
                                    "age_band")
_NEEDED = ("level_of_care", "client_id", "admission_date", "discharge_date", "discharge_reason", "in_treatment",
           "transferred", "completed", "los_days", "hours_attended", "hours_scheduled", "time_admission_days",
           "event_admission", "time_discharge_days", "event_discharge", *CASEMIX_COLUMNS)


@dataclass(frozen=True)
class Scope:
    """A grouping of the publication: ``by`` (``"*"`` for the whole program), its column and level."""

    by: str
    column: str
    level: int


def scopes_for(cohort: pd.DataFrame, by: str) -> list[Scope]:
    """Whole program, then levels of care (when the data has them), then ``by`` if it is another column."""
    out = [Scope(PROGRAM, PROGRAM_COLUMN, LEVEL_PROGRAM)]
    if "level_of_care" in cohort.columns and cohort["level_of_care"].notna().any():
        out.append(Scope("level_of_care", "level_of_care", LEVEL_CARE))
    if by != "level_of_care":
        out.append(Scope(by, by, LEVEL_GROUP))
    return out


@dataclass
class RawResults:
    """Raw frames per scope (``by`` of the scope as key). Counts are raw; nothing here is published."""

    counts: CohortCounts
    scopes: list[Scope]
    horizons: tuple[int, ...]
    days: tuple[float, ...] | None = None

    @property
    def forced_days(self) -> tuple[float, ...]:
        """Days of the at-risk rows: ``days`` (default :data:`FORCED_DAYS`, the app's) and the horizons."""
        return tuple(sorted(set(FORCED_DAYS if self.days is None else self.days) | set(self.horizons)))
    completion: dict[str, pd.DataFrame] = field(default_factory=dict)
    mix: dict[str, pd.DataFrame] = field(default_factory=dict)
    los: dict[str, pd.DataFrame] = field(default_factory=dict)
    los_over: dict[str, pd.DataFrame] = field(default_factory=dict)
    engagement: dict[str, pd.DataFrame] = field(default_factory=dict)
    km: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    survival_data: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    """Per (scope, origin): ``group, time, event, n`` (:func:`analysis.relapse.relapse_survival_data` on
    collapsed rows: ``n`` episodes per row; the cohort's own rows, ``n = 1``, for an in-memory cohort)."""
    relapse: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    retention_km: dict[str, pd.DataFrame] = field(default_factory=dict)
    casemix: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    sizes: dict[str, pd.DataFrame] = field(default_factory=dict)
    step_rates: pd.DataFrame | None = None
    step_flows: pd.DataFrame | None = None
    trends: dict[str, object] = field(default_factory=dict)
    """Per scope, :class:`analysis.trends.TrendResult` by quarter of discharge (relapse from discharge at
    :data:`TREND_HORIZON` days); missing for files without discharge dates."""

    @property
    def cohort(self) -> pd.DataFrame:
        """The cohort's rows, for the statistics that need rows (a propensity model): an in-memory cohort
        itself; from an engine, fetched (narrow columns only where the caller asks, see ``counts.rows``)."""
        return self.counts.rows()

    @property
    def n_episodes(self) -> int:
        return int(self.counts.n_episodes)

    def scope(self, by: str) -> Scope:
        return next(s for s in self.scopes if s.by == by)


def _program(frame: pd.DataFrame) -> pd.DataFrame:
    """A collapsed frame with the constant grouping column of the whole-program scope."""
    out = frame.copy(deep=False)  # the columns are shared with the frame of the other scopes (0.3 s of 4.6M rows)
    out[PROGRAM_COLUMN] = pd.Categorical.from_codes(np.zeros(len(frame), dtype="int8"), categories=[PROGRAM])
    out.attrs = dict(frame.attrs)
    return out


def _los_over(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Discharged episodes with a stay longer than each of :data:`LOS_DAYS` days, per group."""
    g = group_values(frame, column)
    w = frame[COUNT].to_numpy(dtype="float64")
    done = ~frame["in_treatment"].to_numpy(dtype=bool)
    los = frame["los_days"].to_numpy(dtype="float64")
    rows = {"group": g.cat.categories}
    for d in LOS_DAYS:
        over = pd.Series(w * (done & (los > d))).groupby(g.to_numpy(), observed=False).sum()
        rows[f"over_{d}"] = over.reindex(g.cat.categories, fill_value=0).to_numpy(dtype="float64")
    return pd.DataFrame(rows)


def _casemix_long(frame: pd.DataFrame, column: str, var: str) -> pd.DataFrame | None:
    """Episodes per group and value of ``var`` (its text) in collapsed rows: the cross-table's every cell
    (groups with a value x values seen), zeros included; None for a numeric column."""
    col = frame[var]
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return None
    g = group_values(frame, column)
    values = col.astype(object).where(col.notna()).map(lambda v: None if v is None else str(v))
    ok = (g.notna() & values.notna()).to_numpy()
    if not ok.any():
        return pd.DataFrame(columns=["group", "variable", "value", "n"])
    w = frame[COUNT].to_numpy(dtype="int64")[ok]
    cells = pd.Series(w).groupby([g[ok].to_numpy(), values[ok].to_numpy()], observed=True).sum()
    table = cells.unstack(fill_value=0)
    table = table.reindex(index=[c for c in g.cat.categories if c in table.index],
                          columns=sorted(table.columns)).fillna(0).astype("int64")
    long = table.stack().rename("n").reset_index()
    long.columns = ["group", "value", "n"]
    long["group"] = pd.Categorical(long["group"], categories=[c for c in g.cat.categories if c in table.index],
                                   ordered=True)
    long.insert(1, "variable", var)
    return long


def _guarded(fn, *args, **kwargs):
    """A frame, or None when the file lacks what it needs (no discharge dates: no stays, no retention)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


def _sizes(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    g = group_values(frame, column)
    w = frame[COUNT].to_numpy(dtype="float64")
    counts = pd.Series(w).groupby(g.to_numpy(), observed=False).sum().reindex(g.cat.categories, fill_value=0)
    return pd.DataFrame({"group": list(g.cat.categories), "n_episodes": counts.to_numpy(dtype="float64")})


_BASE = ("in_treatment", "transferred", "completed", "discharge_reason")
_STAY = ("in_treatment", "los_days")
_SCHEDULED = ("level_of_care", "los_days", "hours_scheduled")
_ATTENDED = ("los_days", "hours_attended")


def compute_raw(cohort, by: str, *, horizons: Sequence[float] = DEFAULT_HORIZONS,
                days: Sequence[float] | None = None) -> RawResults:
    """Every raw frame the ledger and the views need, for the scopes of :func:`scopes_for`.

    ``cohort``: a pandas cohort or a :class:`analysis.counts.CohortCounts` (an engine's cohort): every
    frame comes from collapsed rows (:mod:`analysis.counts`), one collapse per family of statistics
    grouped by level of care and ``by`` at once, shared by the scopes.
    ``days``: the days of the at-risk rows besides the horizons (default the app's :data:`FORCED_DAYS`; the
    command line passes its horizons only, so a day next to a horizon does not force one of them away).
    """
    counts = as_counts(cohort)
    scopes = scopes_for(counts.probe(), by)
    whole = tuple(int(h) if float(h).is_integer() else float(h) for h in horizons)
    raw = RawResults(counts, scopes, whole, None if days is None else tuple(days))
    key = (by, whole, raw.days)
    source = whole_levels(counts, key)  # a level filter's levels: the whole cohort's results (level_scope)
    taken = {LEVEL_SCOPE} if source is not None and any(s.by == LEVEL_SCOPE for s in scopes) else set()
    has = set(counts.columns)
    plan = raw_requests(counts, by, whole)
    if hasattr(counts, "prefetch") and any(s.by not in taken and s.by != PROGRAM for s in scopes):
        for origin in ORIGINS:  # an engine: the case-mix tables of an origin in one pass (10M: CPU 19 -> 15 s;
            counts.prefetch([v for k, v in plan.items() if k.startswith(f"casemix_{origin}_")])  # every family
            # in one pass saves 1 s more but holds 1.2 GB more)

    def family(name: str) -> dict[str, pd.DataFrame]:
        frame = counts.collapse(**plan[name])
        return {s.by: (_program(frame) if s.by == PROGRAM else frame) for s in scopes}

    base, stay = family("base"), family("stay")
    surv = {o: family(f"survival_{o}") for o in ORIGINS if f"survival_{o}" in plan}
    engaged = _engagement(counts, plan, base[PROGRAM], [s for s in scopes if s.by not in taken])
    for scope in scopes:
        col, b = scope.column, base[scope.by]
        if scope.by in taken:
            _take_levels(raw, counts, source, surv)
            continue
        raw.sizes[scope.by] = _sizes(b, col)
        if "discharge_reason" in has:
            raw.completion[scope.by] = completion_rates(b, by=col, count_col=COUNT)
            raw.mix[scope.by] = discharge_reason_mix(b, by=col, count_col=COUNT)
        s = stay[scope.by]
        for store, value in ((raw.los, _guarded(length_of_stay, s, by=col, count_col=COUNT)),
                             (raw.los_over, _guarded(_los_over, s, col)),
                             (raw.engagement, engaged.get(col))):
            if value is not None:
                store[scope.by] = value
        for origin, frames in surv.items():
            frame = frames[scope.by]
            data = relapse_survival_data(frame, by=col, origin=origin, count_col=COUNT)
            if data.empty:
                continue
            raw.survival_data[(scope.by, origin)] = data
            raw.km[(scope.by, origin)] = km_by_group(data, time_col="time", event_col="event", group_col="group",
                                                     weight_col=COUNT)
            raw.relapse[(scope.by, origin)] = relapse_rates(
                frame, by=col, origin=origin, horizons=raw.horizons, count_col=COUNT,
                due_days_col="due" if "due" in frame.columns else None)
            if scope.by != PROGRAM:  # case mix of the people each comparison analyses
                raw.casemix[(scope.by, origin)] = _casemix(counts, plan, col, origin)
        km_ret = _guarded(retention_curve, s, by=col, count_col=COUNT)
        if km_ret is not None:
            raw.retention_km[scope.by] = km_ret
        if scope.by == "level_of_care" and {"client_id", "admission_date", "discharge_date"} <= has:
            raw.step_rates, raw.step_flows = counts.step_downs()
    if "trend_completion" in plan:
        _trends(raw, counts, plan, taken, source)
    if hasattr(counts, "keep_raw"):
        counts.keep_raw(key, raw)  # (the whole cohort's: what level-filtered cohorts read their levels off)
    return raw


def _take_levels(raw: RawResults, counts: CohortCounts, source: tuple, surv: dict) -> None:
    """The levels-of-care scope of a level-filtered cohort: the whole cohort's results for its levels
    (:mod:`analysis.disclosure.level_scope`); the survival rows and step-downs are the cohort's own."""
    whole, levels = source
    by = LEVEL_SCOPE
    for name in ("sizes", "completion", "mix", "los", "los_over", "engagement", "retention_km"):
        if by in getattr(whole, name):
            getattr(raw, name)[by] = take_groups(getattr(whole, name)[by], levels)
    for origin, frames in surv.items():
        data = relapse_survival_data(frames[by], by=by, origin=origin, count_col=COUNT)
        if data.empty:
            continue
        raw.survival_data[(by, origin)] = data
        raw.km[(by, origin)] = take_groups(whole.km[(by, origin)], levels)
        raw.relapse[(by, origin)] = take_groups(whole.relapse[(by, origin)], levels)
        mix = whole.casemix[(by, origin)]
        taken = take_casemix(mix, levels) if isinstance(mix["group"].dtype, pd.CategoricalDtype) else None
        raw.casemix[(by, origin)] = taken if taken is not None else _casemix(
            counts, raw_requests(counts, by, raw.horizons), by, origin)
    if {"client_id", "admission_date", "discharge_date"} <= set(counts.columns):
        raw.step_rates, raw.step_flows = counts.step_downs()


def _engagement(counts: CohortCounts, plan: dict, base: pd.DataFrame, scopes: list[Scope]) -> dict[str, pd.DataFrame]:
    """Engagement per scope column (every scope from one pass), from its two sides' collapses."""
    cats = {s.column: group_values(base, s.column).cat.categories for s in scopes}
    if not {"hours_scheduled", "hours_attended"} <= set(counts.columns):
        return {by: pd.DataFrame({"group": c, "n_with_hours": 0}) for by, c in cats.items()}
    names = ("hours_scheduled", "hours_attended")
    found = [getattr(counts, "off_whole", lambda r: None)(plan[name]) for name in names]
    if None in found or found[0][0] is not found[1][0]:
        sides = [_program(counts.collapse(**plan[name])) for name in names]
        return _guarded(engagement_of_sides, *sides, cats, count_col=COUNT) or {}
    if set(cats) <= {PROGRAM_COLUMN}:  # the whole program alone: the groups need not be read off the rows
        sides = [_program(pd.DataFrame(index=pd.RangeIndex(int(f[2].sum())))) for f in found]
    else:
        sides = [_program(counts.collapse(**plan[name])) for name in names]
    whole, keys = found[0][0], (found[0][1], found[1][1])  # a filtered cohort's rows of the whole cohort's
    if ("sides", keys) not in whole.kept:                   # collapses: their hours sorted once for every cohort
        frames = [whole.collapse(**plan[name]) for name in names]
        whole.kept[("sides", keys)] = _guarded(Sides, *frames, COUNT)
    prepared = whole.kept[("sides", keys)]
    if prepared is None:
        return {}
    return _guarded(prepared.subset(found[0][2], found[1][2]).result, *sides, cats) or {}


def raw_requests(counts: CohortCounts, by: str, horizons: Sequence[float]) -> dict[str, dict]:
    """The collapses :func:`compute_raw` reads (keyword arguments of ``CohortCounts.collapse`` by name):
    each family grouped by level of care and ``by`` at once, so one pass of an engine answers them all."""
    keys = [s.column for s in scopes_for(counts.probe(), by) if s.by != PROGRAM]
    has = set(counts.columns)
    plan = {"base": dict(columns=[*keys, *_BASE]), "stay": dict(columns=[*keys, *_STAY]),
            # engagement's two sides, each of the episodes with both hours (analysis.engagement.engagement_of_sides)
            "hours_scheduled": dict(columns=[*keys, *_SCHEDULED], nonnull="hours_attended"),
            "hours_attended": dict(columns=[*keys, *_ATTENDED], nonnull="hours_scheduled")}
    for origin in ORIGINS:
        time_col, event_col = survival_columns(origin)
        if time_col not in has:
            continue
        plan[f"survival_{origin}"] = dict(columns=[*keys, time_col, event_col], due=(origin, tuple(horizons)))
        for var in CASEMIX_COLUMNS:
            if var in has:
                plan[f"casemix_{origin}_{var}"] = dict(columns=[*keys, var], nonnull=time_col)
    if "discharge_reason" in has and "discharge_date" in has:
        time_col, event_col = survival_columns(TREND_ORIGIN)
        for name, cols in (("completion", ("in_treatment", "transferred", "completed")),
                           ("relapse", (time_col, event_col)), ("median_stay", ("los_days", "in_treatment"))):
            plan[f"trend_{name}"] = dict(columns=[*keys, "discharge_date", *cols], quarters=("discharge_date",))
    return plan


def _casemix(counts: CohortCounts, plan: dict, column: str, origin: str) -> pd.DataFrame:
    """Case mix of the people followed from ``origin``, per group of ``column`` (one collapse per variable)."""
    parts = []
    for var in CASEMIX_COLUMNS:
        name = f"casemix_{origin}_{var}"
        if name not in plan or var == column:
            continue
        long = _casemix_long(counts.collapse(**plan[name]), column, var)
        if long is not None:
            parts.append(long)
    if not parts:
        return pd.DataFrame(columns=["group", "variable", "value", "n"])
    return pd.concat(parts, ignore_index=True)


def _trends(raw: RawResults, counts: CohortCounts, plan: dict, taken: set[str] = frozenset(),
            source: tuple | None = None) -> None:
    """Quarterly trends per scope from three collapses (completion, relapse from discharge, stays); a scope in
    ``taken`` off the whole cohort's (``source``: :mod:`analysis.disclosure.level_scope`)."""
    frames = {k: counts.collapse(**plan[f"trend_{k}"]) for k in ("completion", "relapse", "median_stay")}
    for scope in raw.scopes:
        if scope.by in taken:
            whole, levels = source
            result = whole.trends.get(scope.by)
            result = None if result is None else take_trends(result, levels)
            if result is not None:
                raw.trends[scope.by] = result
            continue
        scoped = {k: (_program(f) if scope.by == PROGRAM else f) for k, f in frames.items()}
        tr = _guarded(quarterly_trends_from_counts, scoped, by=scope.column, period_of="discharge",
                      origin=TREND_ORIGIN, horizon_days=TREND_HORIZON, include_all=False, count_col=COUNT)
        if tr is not None:
            raw.trends[scope.by] = tr
