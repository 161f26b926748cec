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

__all__ = ["wider_settings", "month_start", "month_end"]


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


def wider_settings(cohort: pd.DataFrame, spec: FilterSpec) -> list[Neighbour]:
    """Every setting one step wider than ``spec`` (see the module docstring), with the episodes it adds.

    ``cohort`` is the unfiltered cohort of the dataset.
    """
    if spec.is_empty:
        return []
    current = apply_filters(cohort, spec).index
    options = filter_options(cohort)
    out: list[Neighbour] = []
    for name, col in FILTER_COLUMNS.items():
        chosen = getattr(spec, name)
        if not chosen:
            continue
        label = col.replace("_", " ")
        out.append(Neighbour(f"the same view without the {label} filter",
                             _added(cohort, current, dataclasses.replace(spec, **{name: ()}))))
        for value in options.get(name, []):
            if value not in chosen:
                wider = dataclasses.replace(spec, **{name: (*chosen, value)})
                out.append(Neighbour(f"the same view with {label} {value} added", _added(cohort, current, wider)))
    if spec.co_occurring is not None:
        out.append(Neighbour("the same view without the co-occurring filter",
                             _added(cohort, current, dataclasses.replace(spec, co_occurring=None))))
    if spec.admission_from is not None:
        earlier = month_start(month_start(spec.admission_from) - dt.timedelta(days=1))
        out.append(Neighbour("the same view starting a month earlier",
                             _added(cohort, current, dataclasses.replace(spec, admission_from=earlier))))
        out.append(Neighbour("the same view without the start date",
                             _added(cohort, current, dataclasses.replace(spec, admission_from=None))))
    if spec.admission_to is not None:
        later = month_end(month_end(spec.admission_to) + dt.timedelta(days=1))
        out.append(Neighbour("the same view ending a month later",
                             _added(cohort, current, dataclasses.replace(spec, admission_to=later))))
        out.append(Neighbour("the same view without the end date",
                             _added(cohort, current, dataclasses.replace(spec, admission_to=None))))
    return out
