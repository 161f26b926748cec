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

__all__ = ["filtered_columns", "typed_as_filtered", "can_narrow", "narrow", "narrow_rows", "MAX_MASKS", "PAIRS_K", "pairs_sql",
           "transitions_off_pairs"]

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
    out = whole[narrow_rows(whole, spec, minus, masks)].reset_index(drop=True)
    out.attrs = dict(whole.attrs)
    return out


def narrow_rows(whole: pd.DataFrame, spec: FilterSpec | None, minus: FilterSpec | None,
                masks: dict | None = None) -> np.ndarray:
    """Which rows of ``whole`` :func:`narrow` keeps (boolean)."""
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
    return keep


PAIRS_K = 4
"""Next admissions within the window kept per episode in :func:`pairs_sql` (more: the cohort's own query)."""


def pairs_sql(engine, window_days: float) -> str:
    """Per distinct combination: an episode's level and whether it was discharged, and for each of the next
    :data:`PAIRS_K` admissions of the same client (in the order of :meth:`analysis.engine.Engine.transitions`) that
    start at most ``window_days`` days after its discharge (``c<j>``), that admission's level (``l<j>``) and
    whether it starts on or after the discharge (``z<j>``); ``more``: a further one does too.

    For a cohort made by a level filter the next admission *in the cohort* is the first of these whose level
    passes (those in between are not in it); if none passes, the cohort's next one starts later than the window
    (admissions are in order), so the episode has no step-down: :func:`transitions_off_pairs`."""
    from analysis.engine.backends import quote

    if "_row" in engine.backend.columns("cohort"):
        order = "admission_date, _row"
    else:
        order = "admission_date, episode_id" if "episode_id" in engine.columns else "admission_date"
    w = float(window_days)
    leads = ", ".join(f"lead(admission_date, {j}) OVER w AS a{j}, lead(level_of_care, {j}) OVER w AS l{j}"
                      for j in range(1, PAIRS_K + 2))
    inner = (f"SELECT level_of_care AS lv, NOT in_treatment AS discharged, discharge_date AS dd, {leads} FROM cohort "
             f"WHERE client_id IS NOT NULL WINDOW w AS (PARTITION BY client_id ORDER BY {order})")
    cols = []
    for j in range(1, PAIRS_K + 2):
        c = f"COALESCE(discharged AND date_diff('day', dd, a{j}) <= {w}, FALSE)"
        if j > PAIRS_K:
            cols.append(f"{c} AS more")
            break
        cols += [f"{c} AS c{j}", f"CASE WHEN {c} THEN l{j} END AS l{j}",
                 f"CASE WHEN {c} THEN date_diff('day', dd, a{j}) >= 0 END AS z{j}"]
    listed = ", ".join(cols)
    n = len(cols) + 2
    return (f"SELECT lv, discharged, {listed}, count(*) AS {quote('n')} FROM ({inner}) AS t "
            f"GROUP BY {', '.join(str(i) for i in range(1, n + 1))}")


def transitions_off_pairs(pairs: pd.DataFrame, spec: FilterSpec | None, minus: FilterSpec | None) -> pd.DataFrame | None:
    """:meth:`analysis.engine.Engine.transitions` of the episodes passing ``spec`` and not ``minus`` (settings of
    the level of care only) from :func:`pairs_sql`'s frame; None when an episode of the cohort has more than
    :data:`PAIRS_K` next admissions in the window and none of them passes (then the cohort's own query)."""
    def passes(levels: pd.Series) -> np.ndarray:
        frame = pd.DataFrame({"level_of_care": levels})
        keep = np.ones(len(frame), dtype=bool)
        if spec is not None and not spec.is_empty:
            keep &= filter_mask(frame, spec)
        if minus is not None:
            keep &= ~filter_mask(frame, minus) if not minus.is_empty else False
        return keep

    mine = pairs.loc[passes(pairs["lv"])].reset_index(drop=True)
    nxt = np.full(len(mine), None, dtype=object)
    decided = np.zeros(len(mine), dtype=bool)
    for j in range(1, PAIRS_K + 1):
        here = mine[f"c{j}"].to_numpy(dtype=bool) & passes(mine[f"l{j}"]) & ~decided
        step = here & mine[f"z{j}"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        nxt[step] = mine[f"l{j}"].to_numpy(dtype=object)[step]
        decided |= here
    if (mine["more"].to_numpy(dtype=bool) & ~decided).any():
        return None
    out = pd.DataFrame({"level_of_care": mine["lv"].to_numpy(dtype=object), "next_level": nxt,
                        "discharged": mine["discharged"].to_numpy(dtype=bool), "n": mine["n"].to_numpy(dtype="int64")})
    out = out.groupby(["level_of_care", "next_level", "discharged"], dropna=False, sort=False)["n"].sum().reset_index()
    out = out.sort_values(["level_of_care", "next_level", "discharged"], na_position="last", kind="stable")
    out = out.reset_index(drop=True).astype({"n": "int64"})
    for col in ("level_of_care", "next_level"):  # missing as None, as the query gives it
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
