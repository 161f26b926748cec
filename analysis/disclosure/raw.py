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

from analysis.cohort import ORIGINS
from analysis.disclosure.cells import LEVEL_CARE, LEVEL_GROUP, LEVEL_PROGRAM, PROGRAM
from analysis.relapse import DEFAULT_HORIZONS, relapse_rates, relapse_survival_data
from analysis.retention import (
    completion_rates,
    discharge_reason_mix,
    engagement,
    group_values,
    length_of_stay,
    retention_curve,
    step_downs,
)
from analysis.survival import km_by_group
from analysis.trends import quarterly_trends

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

    cohort: pd.DataFrame
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
    relapse: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    retention_km: dict[str, pd.DataFrame] = field(default_factory=dict)
    casemix: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    sizes: dict[str, pd.DataFrame] = field(default_factory=dict)
    step_rates: pd.DataFrame | None = None
    step_flows: pd.DataFrame | None = None
    trends: dict[str, object] = field(default_factory=dict)
    """Per scope, :class:`analysis.trends.TrendResult` by quarter of discharge (relapse from discharge at
    :data:`TREND_HORIZON` days); missing for files without discharge dates."""

    def frame(self, scope: Scope) -> pd.DataFrame:
        """The cohort with the scope's grouping column (the program scope adds a constant column)."""
        if scope.by != PROGRAM:
            return self.cohort
        return _program_frame(self.cohort)

    def scope(self, by: str) -> Scope:
        return next(s for s in self.scopes if s.by == by)


def _program_frame(cohort: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in _NEEDED if c in cohort.columns]
    out = cohort[cols].copy()  # narrow: a million-row wide cohort is slow to copy
    out[PROGRAM_COLUMN] = pd.Categorical(np.full(len(out), PROGRAM), categories=[PROGRAM])
    out.attrs = dict(cohort.attrs)
    return out


def _los_over(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Discharged episodes with a stay longer than each of :data:`LOS_DAYS` days, per group."""
    g = group_values(frame, column)
    done = ~frame["in_treatment"].to_numpy(dtype=bool)
    los = frame["los_days"].to_numpy(dtype="float64")
    rows = {"group": g.cat.categories}
    for d in LOS_DAYS:
        over = pd.Series(done & (los > d)).groupby(g.to_numpy(), observed=False).sum()
        rows[f"over_{d}"] = over.reindex(g.cat.categories, fill_value=0).to_numpy(dtype="float64")
    return pd.DataFrame(rows)


def _casemix_counts(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Episodes per group and value of each case-mix column (categorical and yes/no columns only), among
    the episodes followed from an origin (the population of the comparison from that origin)."""
    g = group_values(frame, column)
    parts = []
    for var in CASEMIX_COLUMNS:
        if var not in frame.columns or var == column:
            continue
        col = frame[var]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        values = col.astype(object).where(col.notna()).map(lambda v: None if v is None else str(v))
        table = pd.crosstab(g, values)
        long = table.stack().rename("n").reset_index()
        long.columns = ["group", "value", "n"]
        long.insert(1, "variable", var)
        parts.append(long)
    if not parts:
        return pd.DataFrame(columns=["group", "variable", "value", "n"])
    return pd.concat(parts, ignore_index=True)


def _guarded(fn, *args, **kwargs):
    """A frame, or None when the file lacks what it needs (no discharge dates: no stays, no retention)."""
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


def _sizes(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    g = group_values(frame, column)
    counts = g.value_counts(sort=False).reindex(g.cat.categories, fill_value=0)
    return pd.DataFrame({"group": list(g.cat.categories), "n_episodes": counts.to_numpy(dtype="float64")})


def compute_raw(cohort: pd.DataFrame, by: str, *, horizons: Sequence[float] = DEFAULT_HORIZONS,
                days: Sequence[float] | None = None) -> RawResults:
    """Every raw frame the ledger and the views need, for the scopes of :func:`scopes_for`.

    ``days``: the days of the at-risk rows besides the horizons (default the app's :data:`FORCED_DAYS`; the
    command line passes its horizons only, so a day next to a horizon does not force one of them away).
    """
    scopes = scopes_for(cohort, by)
    whole = tuple(int(h) if float(h).is_integer() else float(h) for h in horizons)
    raw = RawResults(cohort, scopes, whole, None if days is None else tuple(days))
    for scope in scopes:
        frame, col = raw.frame(scope), scope.column
        raw.sizes[scope.by] = _sizes(frame, col)
        if "discharge_reason" in frame.columns:
            raw.completion[scope.by] = completion_rates(frame, by=col)
            raw.mix[scope.by] = discharge_reason_mix(frame, by=col)
        for store, value in ((raw.los, _guarded(length_of_stay, frame, by=col)),
                             (raw.los_over, _guarded(_los_over, frame, col)),
                             (raw.engagement, _guarded(engagement, frame, by=col))):
            if value is not None:
                store[scope.by] = value
        for origin in ORIGINS:
            data = relapse_survival_data(frame, by=col, origin=origin)
            if data.empty:
                continue
            raw.survival_data[(scope.by, origin)] = data
            raw.km[(scope.by, origin)] = km_by_group(data, time_col="time", event_col="event", group_col="group")
            raw.relapse[(scope.by, origin)] = relapse_rates(frame, by=col, origin=origin, horizons=raw.horizons)
            if scope.by != PROGRAM:  # case mix of the people each comparison analyses
                raw.casemix[(scope.by, origin)] = _casemix_counts(frame.loc[data.index], col)
        km_ret = _guarded(retention_curve, frame, by=col)
        if km_ret is not None:
            raw.retention_km[scope.by] = km_ret
        if scope.by == "level_of_care" and {"client_id", "admission_date", "discharge_date"} <= set(frame.columns):
            raw.step_rates, raw.step_flows = step_downs(frame)
        if "discharge_reason" in frame.columns:
            tr = _guarded(quarterly_trends, frame, by=col, period_of="discharge", origin=TREND_ORIGIN,
                          horizon_days=TREND_HORIZON, include_all=False)
            if tr is not None:
                raw.trends[scope.by] = tr
    return raw
