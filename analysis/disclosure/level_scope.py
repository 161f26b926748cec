"""A level-filtered cohort's results by level of care, read off the whole cohort's.

Every statistic of a publication's levels-of-care scope (:mod:`analysis.disclosure.raw`) is computed per level,
each level from its own episodes: completion, reasons, stays, engagement, Kaplan-Meier, relapse rates, case mix,
retention, trends by quarter. A cohort made by level-of-care settings only (the view "IOP, residential and OP",
or the episodes a wider setting adds, "every level but those") holds *all* the episodes of each level it holds, so
its result for a level is the whole cohort's result for that level: the rows of the whole cohort's frames for its
levels, with the group column's categories those levels (in their order). Only the cohort's own whole-program scope
(the pooled levels) is new; this module takes the levels' rows instead of computing them again (10M episodes: a
pooled filter change computed two cohorts' levels again, half of their statistics).

The frames are the same to the bit (tests/test_level_scope.py compares every frame with the cohort's own
computation for every set of levels); what is not taken here (step-downs, which depend on the cohort's next
admissions, and the survival rows, which keep the cohort's own row numbers) is computed as before.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

__all__ = ["LEVEL_SCOPE", "take_groups", "take_casemix", "take_trends", "whole_levels"]

LEVEL_SCOPE = "level_of_care"
"""The scope read off the whole cohort's (its ``by`` in :class:`analysis.disclosure.raw.RawResults`)."""


def whole_levels(counts, key: tuple):
    """(the whole cohort's raw results under ``key``, the levels ``counts`` holds) when ``counts`` is an engine's
    cohort made by level-of-care settings only and the whole cohort's raw results of the same options are held
    (:meth:`analysis.counts.EngineCounts.level_source`); else None."""
    source = getattr(counts, "level_source", None)
    return None if source is None else source(key)


def take_groups(frame: pd.DataFrame | None, levels: frozenset) -> pd.DataFrame | None:
    """The rows of ``frame`` whose ``group`` is one of ``levels``, numbered from 0, with a categorical group's
    categories those of its categories that are in ``levels`` (their order and ``ordered`` kept)."""
    if frame is None:
        return None
    group = frame["group"]
    keep = group.isin(list(levels)).to_numpy(dtype=bool)
    out = frame.loc[keep].reset_index(drop=True)
    if isinstance(group.dtype, pd.CategoricalDtype):
        cats = [c for c in group.cat.categories if c in levels]
        out["group"] = pd.Categorical(out["group"], categories=cats, ordered=group.cat.ordered)
    out.attrs = dict(frame.attrs)
    return out


def take_casemix(frame: pd.DataFrame, levels: frozenset) -> pd.DataFrame | None:
    """:func:`take_groups` of a case-mix frame (:func:`analysis.disclosure.raw._casemix`): each variable's cross-table
    holds the values seen in its groups, so a value no kept group has is dropped. None when a variable would be left
    without a row (its frame has another shape then: the cohort's own computation)."""
    out = take_groups(frame, levels)
    if out is None:
        return None
    kept = out.groupby(["variable", "value"], sort=False, observed=True)["n"].transform("sum").to_numpy() > 0
    if not kept.all():
        out = out.loc[kept].reset_index(drop=True)
        out.attrs = dict(frame.attrs)
    if set(out["variable"]) != set(frame["variable"]):
        return None
    return out


def take_trends(result, levels: frozenset):
    """A :class:`analysis.trends.TrendResult` of the levels: the table's rows of those groups, and the latest complete
    period of those rows (as :func:`analysis.trends.quarterly_trends_from_counts` decides it). None when no row is
    left (the cohort's own computation would find no episode with a date)."""
    table = result.table
    keep = table["group"].astype(str).isin([str(v) for v in levels]).to_numpy(dtype=bool)
    if not keep.any():
        return None
    table = table.loc[keep].reset_index(drop=True)
    as_of = result.as_of
    done = sorted(set(table.loc[table["period_end"] <= as_of, "period"])) if as_of is not None else \
        sorted(set(table["period"]))
    return dataclasses.replace(result, table=table, latest_complete=done[-1] if done else None)
