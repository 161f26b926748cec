"""Engagement per group: attended and scheduled hours per week, attendance, and the share of episodes whose
schedule meets the ASAM minimum of their level of care.

Like :mod:`analysis.retention`, it takes the cohort table (or collapsed rows with a ``count_col`` of frequency
counts, as :mod:`analysis.engine` gives) and returns one row per group. Hours are nearly continuous, so the
collapse of stay, scheduled and attended hours together has almost as many rows as episodes (4.65M for 10M
episodes grouped by level and age band). Every statistic reads one of the two hours only (attendance is the sum
of one over the sum of the other), so a publication reads two collapses instead, stay and scheduled hours, stay
and attended hours, of the episodes with both recorded (0.92M and 1.0M rows): :func:`engagement_of_sides`.
:func:`engagement_by` computes several groupings of the same rows at once: each median's quantity is sorted
once for every grouping, and each group's quantile is read off the sorted values
(:func:`analysis.retention.sorted_weighted_quantiles`). The results equal those of one grouping at a time on
the rows, to the bit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.retention import (
    ASAM_MIN_HOURS_PER_WEEK,
    frequency_counts,
    group_values,
    sorted_weighted_quantiles,
    weeks_of_stay,
)

__all__ = ["engagement", "engagement_by", "engagement_of_sides", "Sides"]

_HOURS = ("hours_attended", "hours_scheduled")


def _asam_minimum(level: pd.Series) -> np.ndarray:
    """The ASAM minimum scheduled hours per week of each row's level of care (NaN: none); a categorical level is
    looked up once per category (2.8M collapsed rows: 0.16 s as Python objects, 0.01 s by codes)."""
    if isinstance(level.dtype, pd.CategoricalDtype):
        per = pd.Series(level.cat.categories.astype(object)).map(ASAM_MIN_HOURS_PER_WEEK).to_numpy(dtype="float64")
        codes = level.cat.codes.to_numpy()
        return np.where(codes >= 0, per[np.maximum(codes, 0)] if len(per) else np.nan, np.nan)
    return level.astype(object).map(ASAM_MIN_HOURS_PER_WEEK).to_numpy(dtype="float64")


def engagement(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
               count_col: str | None = None) -> pd.DataFrame:
    """Attended and scheduled hours per week, attendance, and the share meeting the ASAM minimum.

    Hours per week = hours / :func:`weeks_of_stay` (the stay in days / 7, at least one day), so a
    short stay keeps the intensity of its schedule. The ASAM minimum (:data:`ASAM_MIN_HOURS_PER_WEEK`)
    applies to scheduled hours of the level of care of each episode (IOP >= 9, PHP >= 20); other
    levels have no minimum (NaN). Medians as ``numpy.median``.

    Returns
    -------
    pd.DataFrame
        group, n_with_hours, scheduled_per_week_median, attended_per_week_median, attendance_rate
        (sum attended / sum scheduled), n_meeting_minimum, share_meeting_minimum.
    """
    return engagement_by(cohort, [by], groups=groups, count_col=count_col)[by]


class _Sorted:
    """One per-row quantity sorted once (NaN and rows counting 0 last), for the quantiles of every grouping."""

    def __init__(self, values: np.ndarray, weight: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        self.values = values[self.order]
        self.weight = weight[self.order]
        self.usable = ~np.isnan(self.values) & (self.weight > 0)

    def subset(self, rows: np.ndarray) -> _Sorted:
        """The same for the rows ``rows`` (boolean, in the original order): the kept rows of this sort, renumbered."""
        out = object.__new__(_Sorted)
        inside = rows[self.order]
        out.order = (np.cumsum(rows) - 1)[self.order[inside]]
        out.values, out.weight, out.usable = self.values[inside], self.weight[inside], self.usable[inside]
        return out

    def medians(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        codes = codes[self.order]
        out = np.full(n_groups, np.nan)
        for k in range(n_groups):
            sel = (codes == k) & self.usable
            if sel.any():
                out[k] = sorted_weighted_quantiles(self.values[sel], self.weight[sel], (0.5,))[0]
        return out


def engagement_by(cohort: pd.DataFrame, bys: Sequence[str], *, groups: Sequence | None = None,
                  count_col: str | None = None) -> dict[str, pd.DataFrame]:
    """:func:`engagement` for each grouping column of ``bys`` (``groups`` applies to each), from one pass over
    the rows: {column: frame}."""
    cats = {by: group_values(cohort, by, groups).cat.categories for by in bys}
    if not all(c in cohort.columns for c in _HOURS):
        return {by: pd.DataFrame({"group": c, "n_with_hours": 0}) for by, c in cats.items()}
    return engagement_of_sides(cohort, cohort, cats, count_col=count_col)


def engagement_of_sides(scheduled: pd.DataFrame, attended: pd.DataFrame, categories: Mapping[str, pd.Index], *,
                        count_col: str | None = None) -> dict[str, pd.DataFrame]:
    """:func:`engagement_by` from its two sides apart: ``scheduled`` rows (grouping columns, ``level_of_care``,
    ``los_days``, ``hours_scheduled``) and ``attended`` rows (grouping columns, ``los_days``, ``hours_attended``),
    of the episodes with both hours recorded (a side may also hold the other hours column: rows where it is
    missing are then left out), with their ``count_col``. Every statistic reads one side (attendance: the sum of
    one over the sum of the other), so two collapses of two columns each give what the collapse of all three
    does, with about a fifth of its rows each (10M episodes: 0.92M and 1.0M rows against 4.65M).
    ``categories``: the groups of each grouping column (the cohort's, so a group without hours is a row of 0)."""
    return Sides(scheduled, attended, count_col).result(scheduled, attended, categories)


class Sides:
    """The per-row work of :func:`engagement_of_sides` on its two side frames (hours per week, the ASAM minimum, each
    median's quantity sorted), done once. :meth:`subset` is the same for some of the rows (a
    filtered cohort's rows of the whole cohort's collapses, :mod:`analysis.engine.narrow`) without sorting again:
    the rows kept of a stable sort are the stable sort of the rows kept, so the results are the same to the bit."""

    def __init__(self, scheduled: pd.DataFrame, attended: pd.DataFrame, count_col: str | None):
        s_side, a_side = _side(scheduled, "hours_scheduled", "hours_attended", count_col), \
            _side(attended, "hours_attended", "hours_scheduled", count_col)
        level = scheduled["level_of_care"] if "level_of_care" in scheduled.columns else \
            pd.Series(None, index=scheduled.index)
        minimum = _asam_minimum(level)
        sched_pw = s_side.hours / s_side.weeks
        has = s_side.has
        meets = np.where(has & ~np.isnan(minimum), (sched_pw >= minimum).astype(float), np.nan)
        self.s_side, self.a_side, self.meets = s_side, a_side, meets
        self.q_sched = _Sorted(np.where(has, sched_pw, np.nan), s_side.w)
        self.q_att = _Sorted(np.where(a_side.has, a_side.hours / a_side.weeks, np.nan), a_side.w)

    def subset(self, s_rows: np.ndarray, a_rows: np.ndarray) -> Sides:
        """The same for the rows ``s_rows`` of the scheduled side and ``a_rows`` of the attended side (boolean)."""
        out = object.__new__(Sides)
        out.s_side, out.a_side = self.s_side.subset(s_rows), self.a_side.subset(a_rows)
        out.meets = self.meets[s_rows]
        out.q_sched, out.q_att = self.q_sched.subset(s_rows), self.q_att.subset(a_rows)
        return out

    def result(self, scheduled: pd.DataFrame, attended: pd.DataFrame,
               categories: Mapping[str, pd.Index]) -> dict[str, pd.DataFrame]:
        """Engagement per group of each grouping column (``scheduled`` and ``attended``: the rows of this object)."""
        s_side, a_side = self.s_side, self.a_side
        has = s_side.has
        s_sums = s_side.weighted({"has": has.astype("float64"), "sched": np.where(has, s_side.hours, 0.0),
                                  "meets": self.meets})
        a_sums = a_side.weighted({"att": np.where(a_side.has, a_side.hours, 0.0)})
        out = {}
        for by, cats in categories.items():
            s_codes, a_codes = s_side.codes(scheduled, by, cats), a_side.codes(attended, by, cats)
            sums = {**_binned(s_codes, len(cats), s_sums), **_binned(a_codes, len(cats), a_sums)}
            frame = pd.DataFrame({
                "n_with_hours": sums["has"].astype("int64"),
                "scheduled_per_week_median": self.q_sched.medians(s_codes, len(cats)),
                "attended_per_week_median": self.q_att.medians(a_codes, len(cats)),
                "attendance_rate": sums["att"] / np.where(sums["sched"] > 0, sums["sched"], np.nan),
                "n_meeting_minimum": np.where(sums["meets_n"] > 0, sums["meets"], np.nan),
                "share_meeting_minimum": sums["meets"] / np.where(sums["meets_n"] > 0, sums["meets_n"], np.nan),
            }, index=pd.CategoricalIndex(cats, categories=cats, ordered=True, name="group"))
            out[by] = frame.reset_index()
        return out


class _Side:
    """One side's rows: its hours, whether the episode has both hours, weeks of stay, counts."""

    def __init__(self, hours: np.ndarray, has: np.ndarray, weeks: np.ndarray, w: np.ndarray):
        self.hours, self.has, self.weeks, self.w = hours, has, weeks, w
        self._wf = w.astype("float64")

    def subset(self, rows: np.ndarray) -> _Side:
        return _Side(self.hours[rows], self.has[rows], self.weeks[rows], self.w[rows])

    def weighted(self, per_row: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``w x`` and ``w [x present]`` (as ``<name>_n``) per row, NaN as 0: per group, their bin counts."""
        out = {}
        for name, x in per_row.items():
            present = ~np.isnan(x)
            out[name] = np.where(present, x * self._wf, 0.0)
            out[f"{name}_n"] = np.where(present, self._wf, 0.0)
        return out

    def codes(self, frame: pd.DataFrame, by: str, cats: pd.Index) -> np.ndarray:
        """Each row's group code among ``cats`` (-1: no group, or a row counting 0)."""
        col = frame[by]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.set_categories(cats).cat.codes.to_numpy()
        else:
            codes = pd.Categorical(col.astype(object).where(col.notna()), categories=cats).codes
        return np.where((codes >= 0) & (self.w > 0), codes, -1)


def _side(frame: pd.DataFrame, hours: str, other: str, count_col: str | None) -> _Side:
    x = frame[hours].to_numpy(dtype="float64", na_value=np.nan)
    has = ~np.isnan(x)
    if other in frame.columns:
        has &= ~np.isnan(frame[other].to_numpy(dtype="float64", na_value=np.nan))
    los = frame["los_days"] if "los_days" in frame.columns else np.full(len(frame), np.nan)
    return _Side(x, has, weeks_of_stay(los), frequency_counts(frame, count_col))


def _binned(codes: np.ndarray, n_groups: int, weighted: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    binned = np.where(codes >= 0, codes, n_groups)  # rows of no group: their own bin, dropped
    return {k: np.bincount(binned, weights=v, minlength=n_groups + 1)[:n_groups] for k, v in weighted.items()}
