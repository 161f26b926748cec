"""Raw results and ledgers of episode subsets, shared between the publications of one dataset.

A filter change builds the publication of the filtered cohort *and* of every wider setting one step away
(:mod:`analysis.disclosure.neighbours`): one :func:`~analysis.disclosure.raw.compute_raw` and one
:func:`~analysis.disclosure.ledger.build_ledger` for the view and for each set of episodes a wider setting adds.
Most of those sets recur between settings: with one level of care chosen, each other level is a neighbour,
and it is also the cohort of the setting where that level is chosen. Inside :func:`sharing`, both functions
(as :meth:`analysis.disclosure.Publication.build` calls them) return the result already computed for the same
rows of the same dataset, with the same grouping and options, instead of computing it again.

Nothing about disclosure changes: every neighbour is still compared, with the counts its rows give (the same
function of the same rows). The store is the caller's: one per process for the bundled sample, one per
session for an upload (:mod:`ui.compute`), so one user's rows never reach another session.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from analysis.disclosure import publication as _publication

__all__ = ["RawStore", "sharing", "rows_key"]

_compute_raw = _publication.compute_raw
_build_ledger = _publication.build_ledger
_ACTIVE: contextvars.ContextVar[tuple[RawStore, str] | None] = contextvars.ContextVar("continuum_raw_memo",
                                                                                     default=None)


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
            entry = [raw, None, _rows_of(raw)]
            if key in self._items:
                return
            self._items[key] = entry
            self._by_raw[id(raw)] = entry
            self.rows += entry[2]
            while len(self._items) > 1 and (len(self._items) > self.max_entries
                                            or self.max_rows is not None and self.rows > self.max_rows):
                _, old = self._items.popitem(last=False)
                self._by_raw.pop(id(old[0]), None)
                self.rows -= old[2]

    def entry_of(self, raw) -> list | None:
        with self._lock:
            entry = self._by_raw.get(id(raw))
            return entry if entry is not None and entry[0] is raw else None


def _rows_of(raw) -> int:
    cohort = getattr(raw, "cohort", None)
    return 0 if cohort is None else len(cohort)


def rows_key(frame: pd.DataFrame) -> str | None:
    """A digest of which rows ``frame`` holds (its index: the file's row numbers), or None when the index is not
    made of plain numbers (then nothing is shared)."""
    index = frame.index
    if not (pd.api.types.is_integer_dtype(index.dtype) and index.is_unique):
        return None
    values = np.ascontiguousarray(index.to_numpy(dtype=np.int64))
    return f"{len(values)}:{hashlib.blake2b(values.tobytes(), digest_size=16).hexdigest()}"


def _options_key(kwargs: dict) -> tuple:
    return tuple((k, None if v is None else tuple(float(x) for x in v)) for k, v in sorted(kwargs.items()))


def _shared_compute_raw(cohort, by, **kwargs):
    active = _ACTIVE.get()
    rows = rows_key(cohort) if active is not None else None
    if rows is None:
        return _compute_raw(cohort, by, **kwargs)
    store, dataset_key = active
    key = (dataset_key, rows, by, _options_key(kwargs))
    raw = store.raw(key)
    if raw is None:
        raw = _compute_raw(cohort, by, **kwargs)
        store.put_raw(key, raw)
    return raw


def _shared_build_ledger(raw):
    active = _ACTIVE.get()
    entry = active[0].entry_of(raw) if active is not None else None
    if entry is None:
        return _build_ledger(raw)
    if entry[1] is None:
        entry[1] = _build_ledger(raw)
    return entry[1]


# Publication.build calls these two by their names in its module: inside `sharing` they consult the store,
# outside it (the command line, the report, the tests) they are the plain functions.
_publication.compute_raw = _shared_compute_raw
_publication.build_ledger = _shared_build_ledger


@contextlib.contextmanager
def sharing(store: RawStore, dataset_key: str) -> Iterator[RawStore]:
    """Within the block, publications built in this thread share raw results and ledgers through ``store``.

    ``dataset_key`` names the dataset (content, mapping, grouping column, columns kept): the frames passed to
    :meth:`~analysis.disclosure.Publication.build` must be rows of that dataset's cohort."""
    token = _ACTIVE.set((store, dataset_key))
    try:
        yield store
    finally:
        _ACTIVE.reset(token)
