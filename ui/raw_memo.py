"""Raw results and ledgers of episode subsets, shared between the publications of one dataset.

A filter change builds the publication of the filtered cohort *and* of every wider setting one step away
(:mod:`analysis.disclosure.neighbours`): one :func:`~analysis.disclosure.raw.compute_raw` and one
:func:`~analysis.disclosure.ledger.build_ledger` for the view and for each set of episodes a wider setting adds.
Most of those sets recur between settings: with one level of care chosen, each other level is a neighbour,
and it is also the cohort of the setting where that level is chosen. Through :func:`sharing`, both functions
(``Publication.build(..., memo=sharing(store, key))``) return the result already computed for the same
rows of the same dataset, with the same grouping and options, instead of computing it again.

Nothing about disclosure changes: every neighbour is still compared, with the counts its rows give (the same
function of the same rows). The store is the caller's: one per process for the bundled sample, one per
session for an upload (:mod:`ui.compute`), so one user's rows never reach another session.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from analysis.disclosure.ledger import build_ledger
from analysis.disclosure.raw import compute_raw

__all__ = ["RawStore", "Sharing", "sharing", "rows_key"]


class RawStore:
    """A bounded store of ``(raw, ledger)`` by rows and options (least recently used dropped first): at most
    ``max_entries`` subsets and ``max_rows`` rows in all (a raw result keeps its rows)."""

    def __init__(self, max_entries: int = 48, max_rows: int | None = None):
        self.max_entries = max_entries
        self.max_rows = max_rows
        self.rows = 0
        self._items: OrderedDict[tuple, list] = OrderedDict()
        self._by_raw: dict[int, list] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def raw(self, key: tuple):
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put_raw(self, key: tuple, raw) -> None:
        with self._lock:
            entry = [raw, None, _rows_of(raw), []]  # raw, its ledger, rows kept, views of it (view)
            if key in self._items:
                return
            self._items[key] = entry
            self._by_raw[id(raw)] = entry
            self.rows += entry[2]
            while len(self._items) > 1 and (len(self._items) > self.max_entries
                                            or self.max_rows is not None and self.rows > self.max_rows):
                _, old = self._items.popitem(last=False)
                for r in (old[0], *old[3]):
                    if self._by_raw.get(id(r)) is old:
                        self._by_raw.pop(id(r))
                self.rows -= old[2]

    def view(self, raw, counts):
        """``raw`` read through another cohort object holding the same episodes (``counts``): a shallow copy that
        shares the frames and the ledger of ``raw`` (the last few such views per entry are kept)."""
        import copy

        with self._lock:
            entry = self._by_raw.get(id(raw))
            out = copy.copy(raw)
            out.counts = counts
            if entry is not None and entry[0] is raw:
                for gone in entry[3][:-3]:
                    if self._by_raw.get(id(gone)) is entry:
                        self._by_raw.pop(id(gone))
                entry[3] = [*entry[3][-3:], out]
                self._by_raw[id(out)] = entry
            return out

    def entry_of(self, raw) -> list | None:
        with self._lock:
            entry = self._by_raw.get(id(raw))
            return entry if entry is not None and (entry[0] is raw or any(v is raw for v in entry[3])) else None


def _rows_of(raw) -> int:
    """Rows a raw result keeps: an in-memory cohort's (an engine's cohort keeps only aggregates: 0)."""
    cohort = getattr(raw.counts, "cohort", None)
    return len(cohort) if isinstance(cohort, pd.DataFrame) else 0


def rows_key(frame) -> str | None:
    """A digest of which rows ``frame`` holds (its index: the file's row numbers), or None when the index is not
    made of plain numbers (then nothing is shared). An engine's cohort (:class:`analysis.counts.EngineCounts`):
    its own ``rows_key`` (which episodes of the engine it holds)."""
    if not isinstance(frame, pd.DataFrame):
        key = getattr(frame, "rows_key", None)
        return None if key is None else f"engine:{key()!r}"
    index = frame.index
    if not (pd.api.types.is_integer_dtype(index.dtype) and index.is_unique):
        return None
    values = np.ascontiguousarray(index.to_numpy(dtype=np.int64))
    return f"{len(values)}:{hashlib.blake2b(values.tobytes(), digest_size=16).hexdigest()}"


def _options_key(kwargs: dict) -> tuple:
    return tuple((k, None if v is None else tuple(float(x) for x in v)) for k, v in sorted(kwargs.items()))


class Sharing:
    """What :meth:`analysis.disclosure.Publication.build` calls (``memo=``) to compute raw results and ledgers:
    the result already in ``store`` for the same rows of the dataset ``dataset_key``, grouping and options."""

    def __init__(self, store: RawStore, dataset_key: str):
        self.store, self.dataset_key = store, dataset_key

    def compute_raw(self, cohort, by, **kwargs):
        rows = rows_key(cohort)
        if rows is None:
            return compute_raw(cohort, by, **kwargs)
        key = (self.dataset_key, rows, by, _options_key(kwargs))
        raw = self.store.raw(key)
        if raw is None:
            raw = compute_raw(cohort, by, **kwargs)
            self.store.put_raw(key, raw)
        elif not isinstance(cohort, pd.DataFrame) and raw.counts is not cohort:
            # an engine's: the same episodes under another setting (a view that was a neighbour's added episodes);
            # the results are the same, but what the publication reads on from raw.counts is this cohort's
            raw = self.store.view(raw, cohort)
        return raw

    def build_ledger(self, raw):
        entry = self.store.entry_of(raw)
        if entry is None:
            return build_ledger(raw)
        if entry[1] is None:
            entry[1] = build_ledger(raw)
        return entry[1]


def sharing(store: RawStore, dataset_key: str) -> Sharing:
    """The memo of ``store`` for one dataset: pass it to ``Publication.build(..., memo=...)``.

    ``dataset_key`` names the dataset (content, mapping, grouping column, columns kept): the frames passed to
    :meth:`~analysis.disclosure.Publication.build` must be rows of that dataset's cohort."""
    return Sharing(store, dataset_key)
