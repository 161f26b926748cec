"""Wider filter settings one step away from a view, and the episodes each one adds.

Two settings that differ by one step give away, by subtraction, the counts of the episodes in the
difference. One step wider than :class:`analysis.filters.FilterSpec` ``spec`` is:

* a categorical filter with values chosen: one more value of it, or the filter removed (which also
  brings back episodes with no value);
* the co-occurring filter set: removed;
* an admission-date bound set: moved out by one calendar month, or removed.

The sidebar offers date bounds in whole months only (one day's admissions would almost always be a
small count), so a month is the smallest step. Settings that differ by more than one step differ
by a union of single steps, each of which is checked (counts are never negative, so a union of
differences that are each 0 or at least ``min_cell`` is too). Not covered: combining three or
more settings that are not nested (inclusion-exclusion over two filters); see docs/architecture.md.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from analysis.disclosure.publication import Neighbour
from analysis.filters import FILTER_COLUMNS, FilterSpec, apply_filters, filter_options

__all__ = ["wider_settings", "wider_specs", "engine_wider_settings", "engine_filter_options", "month_start",
           "month_end"]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def _added(cohort: pd.DataFrame, current: pd.Index, wider: FilterSpec) -> pd.DataFrame:
    rows = apply_filters(cohort, wider)
    out = rows.loc[~rows.index.isin(current)]
    out.attrs = dict(cohort.attrs)
    return out


def wider_specs(spec: FilterSpec, options: dict[str, list[str]]) -> list[tuple[str, FilterSpec]]:
    """Every setting one step wider than ``spec`` (module docstring) as (label, setting); ``options`` are
    the values each categorical filter can take (:func:`analysis.filters.filter_options`)."""
    out: list[tuple[str, FilterSpec]] = []
    for name, col in FILTER_COLUMNS.items():
        chosen = getattr(spec, name)
        if not chosen:
            continue
        label = col.replace("_", " ")
        out.append((f"the same view without the {label} filter", dataclasses.replace(spec, **{name: ()})))
        for value in options.get(name, []):
            if value not in chosen:
                out.append((f"the same view with {label} {value} added",
                            dataclasses.replace(spec, **{name: (*chosen, value)})))
    if spec.co_occurring is not None:
        out.append(("the same view without the co-occurring filter", dataclasses.replace(spec, co_occurring=None)))
    if spec.admission_from is not None:
        earlier = month_start(month_start(spec.admission_from) - dt.timedelta(days=1))
        out.append(("the same view starting a month earlier", dataclasses.replace(spec, admission_from=earlier)))
        out.append(("the same view without the start date", dataclasses.replace(spec, admission_from=None)))
    if spec.admission_to is not None:
        later = month_end(month_end(spec.admission_to) + dt.timedelta(days=1))
        out.append(("the same view ending a month later", dataclasses.replace(spec, admission_to=later)))
        out.append(("the same view without the end date", dataclasses.replace(spec, admission_to=None)))
    return out


def wider_settings(cohort: pd.DataFrame, spec: FilterSpec) -> list[Neighbour]:
    """Every setting one step wider than ``spec`` (see the module docstring), with the episodes it adds.

    ``cohort`` is the unfiltered cohort of the dataset.
    """
    if spec.is_empty:
        return []
    current = apply_filters(cohort, spec).index
    return [Neighbour(label, _added(cohort, current, wider)) for label, wider in wider_specs(spec, filter_options(cohort))]


def engine_filter_options(engine) -> dict[str, list[str]]:
    """:func:`analysis.filters.filter_options` of an engine's cohort (one small query per filter column)."""
    counts = engine.counts()
    out: dict[str, list[str]] = {}
    for name, col in FILTER_COLUMNS.items():
        if col in engine.columns:
            out.update({k: v for k, v in filter_options(counts.collapse([col])).items() if k == name})
    return out


def engine_wider_settings(engine, spec: FilterSpec, options: dict[str, list[str]] | None = None) -> list[Neighbour]:
    """:func:`wider_settings` inside an engine: each neighbour's added episodes are an
    :class:`analysis.counts.EngineCounts` (the wider setting and not the current one), never rows."""
    from analysis.counts import EngineCounts

    if spec.is_empty:
        return []
    options = engine_filter_options(engine) if options is None else options
    return [Neighbour(label, EngineCounts(engine, wider, minus=spec)) for label, wider in wider_specs(spec, options)]
