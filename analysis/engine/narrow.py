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
querying the engine again: the rows are chosen with :func:`analysis.filters.filter_mask`, the same rows as
the SQL of :func:`analysis.filters.filter_sql` (tests/test_engine.py, tests/test_counts.py).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.filters import FILTER_COLUMNS, FilterSpec, filter_mask

__all__ = ["filtered_columns", "typed_as_filtered", "can_narrow", "narrow", "MAX_MASKS"]

MAX_MASKS = 32
"""Settings whose rows are kept per collapse of the whole cohort (a boolean a row each)."""


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


def typed_as_filtered(spec: FilterSpec | None, minus: FilterSpec | None, sql_types: dict[str, str]) -> bool:
    """Whether the columns the settings restrict have the SQL types :func:`analysis.filters.filter_mask` compares
    as :func:`analysis.filters.filter_sql` does: text (or ENUM) for the categorical filters, BOOLEAN co-occurring,
    DATE or TIMESTAMP admission dates (a number compared as text would not be the same row set)."""
    for col in filtered_columns(spec) | filtered_columns(minus):
        kind = sql_types.get(col, "").upper()
        if col == "co_occurring":
            ok = kind == "BOOLEAN"
        elif col == "admission_date":
            ok = kind == "DATE" or kind.startswith("TIMESTAMP")
        else:
            ok = kind in ("VARCHAR", "TEXT") or kind.startswith("ENUM")
        if not ok:
            return False
    return True


def can_narrow(spec: FilterSpec | None, minus: FilterSpec | None, plain: Iterable[str]) -> bool:
    """Whether a collapse whose columns as recorded (not a quarter, not computed) are ``plain`` can be read off
    the whole cohort's for the episodes passing ``spec`` and not ``minus``."""
    return (filtered_columns(spec) | filtered_columns(minus)) <= set(plain)


def narrow(whole: pd.DataFrame, spec: FilterSpec | None, minus: FilterSpec | None,
           masks: dict | None = None) -> pd.DataFrame:
    """The rows of the whole cohort's collapse ``whole`` whose combination passes ``spec`` and not ``minus``.
    ``masks``: the rows of ``whole`` each setting passes, kept between calls (the view's setting is every
    neighbour's ``minus``); at most :data:`MAX_MASKS` settings are kept."""
    masks = {} if masks is None else masks

    def passes(s: FilterSpec) -> np.ndarray:
        if s not in masks:
            if len(masks) >= MAX_MASKS:
                masks.clear()
            masks[s] = filter_mask(whole, s)
        return masks[s]

    keep = np.ones(len(whole), dtype=bool)
    if spec is not None and not spec.is_empty:
        keep &= passes(spec)
    if minus is not None:  # every episode passes an empty setting: then nothing is left
        keep &= ~passes(minus) if not minus.is_empty else False
    out = whole[keep].reset_index(drop=True)
    out.attrs = dict(whole.attrs)
    return out
