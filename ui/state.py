"""Session state: the loaded dataset, the filter/grouping/origin/threshold settings and the URL.

The dataset lives in ``st.session_state`` (an upload is never written to disk). The bundled sample
(or the file named by the ``CONTINUUM_SAMPLE_PATH`` environment variable) is read once per process
and shared read-only.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.cohort import derive_cohort
from analysis.filters import FilterSpec, apply_filters
from analysis.loading import LoadResult, load_episodes
from analysis.mapping import spec_to_json
from analysis.provenance import Provenance

__all__ = ["Dataset", "Context", "sample_path", "load_dataset", "sample_dataset", "current_dataset",
           "set_dataset", "context", "set_context", "begin_run", "end_run", "server_idle_for", "ROOT"]

ROOT = Path(__file__).resolve().parents[1]


def sample_path() -> Path:
    """The default dataset: ``$CONTINUUM_SAMPLE_PATH`` if set, else ``sample_data/episodes.csv``."""
    env = os.environ.get("CONTINUUM_SAMPLE_PATH")
    return Path(env) if env else ROOT / "sample_data" / "episodes.csv"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded file: the load result, its cohort table (None when rejected) and where it came from."""

    key: str
    label: str
    is_sample: bool
    result: LoadResult
    cohort: pd.DataFrame | None
    mapping_json: str
    engine: object | None = None
    """The open :class:`analysis.engine.engine.Engine` of a server-side source (``--data``, a database): the
    publications are aggregate queries in it (:mod:`ui.compute`); None for the sample and uploads."""
    engine_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """One query at a time in :attr:`engine` (a DuckDB or PostgreSQL connection is not shared by threads)."""

    @property
    def shared(self) -> bool:
        """The same for every session (the sample, a server-side source): its results are computed once per
        process. An upload's stay in its session."""
        return self.is_sample or self.engine is not None

    @property
    def content_hash(self) -> str:
        return self.result.content_hash

    @property
    def rows_excluded(self) -> int:
        return int(self.result.report.n_rows_excluded)


def load_dataset(data: bytes, name: str, mapping: dict | None, *, is_sample: bool,
                 by: str | None = None, column_types: dict | None = None, time_unit: str | None = None,
                 event_value: str | None = None, drop_columns: tuple[str, ...] = (),
                 keep_columns: tuple[str, ...] = (), date_order: str | None = None) -> Dataset:
    """Load bytes (identifier guard, mapping, column types, validation) and derive the cohort table.

    ``by``: the grouping column when it is not ``level_of_care`` (a study arm, a site); a file
    without a level of care is then valid. ``column_types``, ``time_unit``, ``event_value``: as
    :func:`analysis.loading.load_episodes` (chosen on the Data page, saved with the mapping).
    ``drop_columns``/``keep_columns``: columns dropped before the identifier guard, free-text columns kept.
    """
    result = load_episodes(data, name=name, mapping=mapping, by=by, column_types=column_types,
                           time_unit=time_unit, event_value=event_value, drop_columns=drop_columns,
                           keep_columns=keep_columns, date_order=date_order)
    cohort = derive_cohort(result.episodes) if result.ok else None
    mapping_json = spec_to_json(result.spec()) if result.mapping else "{}"
    label = f"sample cohort ({name})" if is_sample else name
    key = f"{result.content_hash}|{mapping_json}|{by or ''}|{sorted(drop_columns)}|{sorted(keep_columns)}"
    return Dataset(key, label, is_sample, result, cohort, mapping_json)


@st.cache_resource(show_spinner="Loading the sample cohort ...", max_entries=4)
def _sample(path: str, mtime: float) -> Dataset:
    p = Path(path)
    return load_dataset(p.read_bytes(), p.name, None, is_sample=True)


def sample_dataset() -> Dataset:
    """The default dataset, read once per process (shared read-only)."""
    p = sample_path()
    return _sample(str(p), p.stat().st_mtime)


def current_dataset() -> Dataset:
    """The session's dataset: an upload if one was loaded, else the server's ``--data`` source, else the sample."""
    ds = st.session_state.get("dataset")
    if ds is not None:
        return ds
    from ui.data_source import default_dataset  # (engine) a source named by --data on the server

    return default_dataset() or sample_dataset()


def set_dataset(ds: Dataset | None) -> None:
    """Make ``ds`` the session's dataset (None goes back to the sample); resets the filters."""
    st.session_state["dataset"] = ds
    st.session_state["_reset_filters"] = True


@dataclass(frozen=True, eq=False)
class Context:
    """Everything a page needs from the shared settings, computed once per run by ``app.py``."""

    dataset: Dataset
    spec: FilterSpec
    by: str
    origin: str
    min_cell: int
    filtered: pd.DataFrame | Callable[[], pd.DataFrame] | None
    """The filtered cohort, or what makes it when a page first reads :attr:`cohort` (a server-side source: its
    publications are engine queries, so the rows are taken only for a page that draws from rows)."""
    error: str | None = None
    rows_shown: bool = True  # the view's number of episodes is a published count (False: hidden)
    n_rows: int | None = None  # episodes of the view when counted without taking its rows (None: len(cohort))

    @functools.cached_property
    def cohort(self) -> pd.DataFrame | None:
        """The filtered cohort's rows (taken on first use when :attr:`filtered` is lazy)."""
        return self.filtered() if callable(self.filtered) else self.filtered

    @property
    def key(self) -> str:
        """Cache key: content hash + mapping + filters (grouping and origin are passed separately)."""
        return f"{self.dataset.key}|{self.spec.key()}"

    @property
    def n(self) -> int:
        if self.n_rows is not None:
            return self.n_rows
        return 0 if self.cohort is None else len(self.cohort)

    def provenance(self, origin: str | None = None, by: str | None = None) -> Provenance:
        """Provenance of an output of this view (``origin`` only for time-to-event outputs)."""
        return Provenance(source=self.dataset.label, content_hash=self.dataset.content_hash,
                          filters=self.spec.describe(), origin=origin, by=by or self.by,
                          rows_used=self.n if self.rows_shown else None,
                          rows_excluded=self.dataset.rows_excluded, min_cell=self.min_cell)


def filtered_cohort(ds: Dataset, spec: FilterSpec) -> pd.DataFrame:
    """The dataset's cohort after filters, memoised in the session for the current (dataset, spec)."""
    memo_key = f"{ds.key}|{spec.key()}"
    memo = st.session_state.get("_filtered")
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    out = apply_filters(ds.cohort, spec)
    st.session_state["_filtered"] = (memo_key, out)
    return out


def set_context(ctx: Context) -> None:
    """Store this run's context (called by ``app.py`` after drawing the sidebar)."""
    st.session_state["_ctx"] = ctx
    st.session_state["_ctx_fresh"] = True


_RUNS = {"running": 0, "ended": 0.0}
_RUNS_LOCK = threading.Lock()


def begin_run() -> None:
    """Mark the start of a run of ``app.py`` (counted over every session, see :func:`server_idle_for`)."""
    with _RUNS_LOCK:
        _RUNS["running"] += 1


def end_run() -> None:
    """Mark the end of a full run of ``app.py`` (the stored context is stale from now on)."""
    with _RUNS_LOCK:
        _RUNS["running"] = max(0, _RUNS["running"] - 1)
        _RUNS["ended"] = time.monotonic()
    st.session_state["_ctx_fresh"] = False


def server_idle_for() -> float:
    """Seconds since the last run of ``app.py`` ended in any session, 0 while one is running (background work
    waits for this, so it uses the time between people's clicks)."""
    with _RUNS_LOCK:
        return 0.0 if _RUNS["running"] else time.monotonic() - _RUNS["ended"]


def _leave_legacy_pages_mode() -> None:
    """Hand a page run in Streamlit's legacy ``pages/`` mode over to ``app.py``.

    Streamlit (1.67) starts a new server in its legacy multipage mode because a ``pages/`` folder
    sits beside ``app.py``; the first ``st.navigation`` call switches it off. If the very first
    request is a shared deep link (``/time_to_relapse?origin=admission``), the legacy mode runs the
    page file alone, with file names as navigation. Switch the mode off and rerun: ``app.py`` then
    runs, with its navigation, and opens the page the URL asks for.
    """
    from streamlit.runtime.pages_manager import PagesManager

    # only on a session's first run, before app.py ever ran in it (AppTest, which re-enters the
    # legacy mode on every run, has run app.py first and keeps its widget state)
    if PagesManager.uses_pages_directory and "_ctx" not in st.session_state:
        PagesManager.uses_pages_directory = False
        st.rerun()


def context() -> Context:
    """The context ``app.py`` computed for this run.

    When a page runs without ``app.py`` having run first (``AppTest`` re-runs only the current page
    after its first run), the page draws the shared sidebar itself, so the context is never stale.
    """
    _leave_legacy_pages_mode()
    if not st.session_state.get("_ctx_fresh"):
        from ui.sidebar import render_sidebar
        st.session_state["_ctx"] = render_sidebar(current_dataset())  # not marked fresh: redraw next run
    return st.session_state["_ctx"]
