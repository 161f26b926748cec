"""Queries answered ahead: DuckDB runs the aggregate queries a command will ask for next, in a thread, while Python
works on the results it has (the statistics are single-threaded; DuckDB lets go of the GIL while it works).

:func:`compute_ahead` runs a function on a *shadow* of an :class:`analysis.engine.Engine` (the same cohort, its
queries run on a cursor of their own) in a thread; every query the shadow runs is kept with its SQL text. When
the engine itself later runs exactly that SQL (:meth:`analysis.engine.backends.DuckDBBackend.query`), it takes
the kept result (waiting for it when it is still being computed) instead of running it again. So the results
are the engine's own queries' results, the same rows: only who runs them, and when, changes.

* A query the engine asks for before the shadow has run it is run by the engine as usual (the shadow, reaching it
  later, runs it for itself only: in practice the small probes the report makes first).
* A result is handed over once (the engine's callers keep what they need); results never asked for are dropped
  when the engine is closed or checks again. The cohort does not change between (the checked table is read-only),
  so a kept result is the answer the engine would get.
* A failure in the thread only stops it: the engine then runs the query itself (and meets the error, if any).

Measured on 10M synthetic episodes (``outcomes --adjust`` with four covariates, 2 cores): the case-mix passes,
the hours and stays collapses, the step-downs' window query and the quarterly trends are computed while the
report fits the Cox model and the publication's statistics run (see docs/engine.md).
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import pandas as pd

__all__ = ["Ahead", "compute_ahead"]


class _Overtaken(Exception):
    """The engine asked for this query itself first: the shadow stops."""


class _Entry:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.frame: pd.DataFrame | None = None


class Ahead:
    """The results computed ahead for one DuckDB backend, keyed by their SQL text (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._asked: set[str] = set()
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self._cursors: list = []
        self._gates: list[threading.Event] = []
        self.used = 0
        """Queries the engine took from here (for the tests)."""

    def claim(self, sql: str) -> pd.DataFrame | None:
        """The result of ``sql`` when it was computed ahead (waiting for it while it runs), else None (the caller
        runs it); either way the shadow will not run it later."""
        with self._lock:
            self._asked.add(sql)
            entry = self._entries.pop(sql, None)
        if entry is None:
            return None
        entry.done.wait()
        if entry.frame is not None:
            self.used += 1
        return entry.frame

    def _run(self, cursor, sql: str) -> pd.DataFrame:
        """Run ``sql`` for the shadow on its cursor, kept for the engine (a copy for the shadow)."""
        with self._lock:
            if self._stopped:
                raise _Overtaken()
            # the engine ran it already (in practice the report's first small probes): run for the shadow only
            mine = sql not in self._asked
            entry = self._entries.get(sql) if mine else None
            fresh = mine and entry is None
            if fresh:
                entry = self._entries[sql] = _Entry()
        if not mine:
            return _for_shadow(cursor.execute(sql).df())
        if not fresh:  # (asked twice by the shadow)
            entry.done.wait()
            if entry.frame is None:
                raise _Overtaken()
            return _for_shadow(entry.frame)
        try:
            entry.frame = cursor.execute(sql).df()
        finally:
            entry.done.set()
        return _for_shadow(entry.frame)

    def stop(self) -> None:
        """Stop the threads (interrupting a running query) and drop what was not handed over."""
        with self._lock:
            self._stopped = True
            entries, self._entries = self._entries, {}
        for gate in self._gates:  # (a shadow waiting for its go-ahead stops)
            gate.set()
        for cursor in self._cursors:
            try:
                cursor.interrupt()
            except Exception:
                pass
        for thread in self._threads:
            thread.join()
        for entry in entries.values():
            entry.done.set()


#: Results of more rows than this reach the shadow without their rows (its columns, empty): the shadow only runs
#: queries, and the engine takes the kept result (so a large result, a collapse of 2.8M rows, is held once).
_SHADOW_ROWS = 100_000


def _for_shadow(frame: pd.DataFrame) -> pd.DataFrame:
    """What the shadow's own code reads of a result: a copy (it may change it in place), empty when large."""
    return frame.iloc[:0].copy() if len(frame) > _SHADOW_ROWS else frame.copy()


def _shadow_backend(backend, ahead: Ahead, cursor):
    from analysis.engine.backends import DuckDBBackend

    class _ShadowBackend(DuckDBBackend):
        def query(self, sql: str) -> pd.DataFrame:
            return ahead._run(self.con, sql)

        def execute(self, sql: str) -> None:  # the shadow only reads
            raise _Overtaken()

        def close(self) -> None:
            pass

    return _ShadowBackend(con=cursor)


def compute_ahead(engine, work: Callable[[object], object], gate: threading.Event | None = None) -> Ahead | None:
    """Run ``work(shadow)`` in a thread, ``shadow`` a copy of ``engine`` whose queries are kept for ``engine``
    (module docstring); returns the :class:`Ahead` now attached to the engine's backend (None for a backend that
    is not DuckDB: nothing is run). ``gate``: an event ``work`` waits for (set when the engine is closed, too)."""
    from analysis.engine.backends import DuckDBBackend

    backend = getattr(engine, "backend", None)
    if not isinstance(backend, DuckDBBackend):  # (a warehouse, or a pandas cohort standing in for an engine)
        return None
    ahead = getattr(backend, "ahead", None)
    if ahead is None:
        ahead = backend.ahead = Ahead()
    cursor = backend.con.cursor()
    shadow = copy.copy(engine)
    shadow.backend = _shadow_backend(backend, ahead, cursor)
    shadow._whole = None
    shadow.ahead_only = True

    def target() -> None:
        try:
            work(shadow)
        except Exception:  # (overtaken, interrupted, or an error the engine will meet itself)
            pass
        finally:
            try:
                cursor.close()
            except Exception:
                pass

    thread = threading.Thread(target=target, daemon=True, name="continuum-ahead")
    if gate is not None:
        ahead._gates.append(gate)
        if ahead._stopped:
            gate.set()
    ahead._threads.append(thread)
    ahead._cursors.append(cursor)
    thread.start()
    return ahead
