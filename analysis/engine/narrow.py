"""A filtered cohort's collapse read off the whole cohort's, when the collapse groups by every filtered column.

A collapse (:meth:`analysis.counts.EngineCounts.collapse`) is one row per distinct combination of its columns
with ``n``. When those columns include every column a filter setting restricts (the level of care is a
column of every collapse of the publication, so a level-of-care filter always qualifies), whether an episode
passes the filter is a function of its row's combination: the filtered cohort's collapse is exactly the rows
of the whole cohort's collapse whose combination passes (same combinations, same counts, same order, since
a subset of sorted rows stays sorted). The same holds for the episodes a wider setting adds (passes the wider
setting and not the current one, :mod:`analysis.disclosure.neighbours`).

So a page rerun after a filter change, and every wider setting it compares with, read the collapses the
unfiltered page already fetched (held by :meth:`analysis.engine.Engine.counts` of no filter) instead of
querying the engine again: the rows are chosen with :func:`analysis.filters.apply_filters`, the same rows as
the SQL of :func:`analysis.filters.filter_sql` (tests/test_engine.py, tests/test_counts.py).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.filters import FILTER_COLUMNS, FilterSpec, apply_filters

__all__ = ["filtered_columns", "can_narrow", "narrow"]


def filtered_columns(spec: FilterSpec | None) -> set[str]:
    """The cohort columns ``spec`` restricts."""
    if spec is None or spec.is_empty:
        return set()
    out = {col for name, col in FILTER_COLUMNS.items() if getattr(spec, name)}
    if spec.co_occurring is not None:
        out.add("co_occurring")
    if spec.admission_from is not None or spec.admission_to is not None:
        out.add("admission_date")
    return out


def can_narrow(spec: FilterSpec | None, minus: FilterSpec | None, plain: Iterable[str]) -> bool:
    """Whether a collapse whose columns as recorded (not a quarter, not computed) are ``plain`` can be read off
    the whole cohort's for the episodes passing ``spec`` and not ``minus``."""
    return (filtered_columns(spec) | filtered_columns(minus)) <= set(plain)


def narrow(whole: pd.DataFrame, spec: FilterSpec | None, minus: FilterSpec | None) -> pd.DataFrame:
    """The rows of the whole cohort's collapse ``whole`` whose combination passes ``spec`` and not ``minus``."""
    index = pd.RangeIndex(len(whole))
    frame = whole.set_axis(index, axis=0)
    keep = np.ones(len(frame), dtype=bool)
    if spec is not None and not spec.is_empty:
        keep &= index.isin(apply_filters(frame, spec).index)
    if minus is not None and not minus.is_empty:
        keep &= ~index.isin(apply_filters(frame, minus).index)
    elif minus is not None:  # every episode passes an empty setting: nothing is left
        keep[:] = False
    out = frame.loc[keep].reset_index(drop=True)
    out.attrs = dict(whole.attrs)
    return out
