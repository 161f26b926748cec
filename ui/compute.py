"""Cached calls into ``analysis``: the publication of the current view and each page's published results.

Everything a page shows comes from :func:`publication` (one per dataset, filter setting, grouping and
threshold, both origins at once) through a view function of :mod:`analysis.views`. The caches are
``st.cache_resource``: per session (``scope="session"``) for an upload, so one user's upload never reaches
another session; shared by every session for the bundled sample (the same for everyone); objects are not
copied on every rerun. Heavy work is keyed on :attr:`ui.state.Context.key`.
"""
from __future__ import annotations

import contextlib
import threading

import streamlit as st

from analysis import benchmarks as bm
from analysis.disclosure import Publication
from analysis.disclosure.neighbours import engine_filter_options, engine_wider_settings, wider_settings
from analysis.views.benchmarks import benchmarks_view
from analysis.views.comparison import comparison, fair_comparison
from analysis.views.overview import overview, trends
from analysis.views.relapse import relapse_view, relapse_vs
from analysis.views.retention import retention
from analysis.views.time_to_relapse import rmst_view, time_to_relapse
from ui.raw_memo import RawStore, sharing
from ui.state import Context

__all__ = ["publication", "overview_of", "retention_of", "relapse_of", "relapse_vs_of", "time_to_relapse_of",
           "rmst_of", "comparison_of", "fair_comparison_of", "benchmarks_of", "benchmarks_table", "trends_of", "own_targets", "HORIZONS", "figure_rows"]

HORIZONS = (30, 90, 180, 365)
_session = st.cache_resource(show_spinner=False, max_entries=24, scope="session")
_shared = st.cache_resource(show_spinner=False, max_entries=64)
"""The bundled sample is the same for everyone: its publications and views are computed once per process and
shared by every session (keyed on its content hash, filters, grouping and threshold). An upload's stay in its
session (``scope="session"``): one user's file never reaches another session."""


_SAMPLE_RAWS = RawStore(max_entries=64)
"""Raw results of the bundled sample's episode subsets, shared by every session (the sample is the same for all)."""


_SERVER_RAWS = RawStore(max_entries=64)
"""Raw results of a server-side source's cohorts (aggregates of the engine: no rows kept), shared by every session
(the source is opened once per process for all of them)."""


def raw_store(ctx: Context) -> RawStore:
    """Where the view's publication finds the raw results of subsets computed before (:mod:`ui.raw_memo`): the
    process's for the sample and a server-side source, the session's for an upload (at most three times its rows
    kept)."""
    if ctx.dataset.is_sample:
        return _SAMPLE_RAWS
    if ctx.dataset.engine is not None:
        return _SERVER_RAWS
    store = st.session_state.get("_raw_store")
    if store is None or store[0] != ctx.dataset.key:
        rows = 0 if ctx.dataset.cohort is None else len(ctx.dataset.cohort)
        store = (ctx.dataset.key, RawStore(max_entries=16, max_rows=3 * rows))
        st.session_state["_raw_store"] = store
    return store[1]


def engine_lock(ds) -> contextlib.AbstractContextManager:
    """Held while a server-side source's engine runs queries (one at a time); nothing for in-memory data."""
    return ds.engine_lock if ds.engine is not None else contextlib.nullcontext()


def _build_publication(_ctx: Context) -> Publication:
    ds, memo = _ctx.dataset, sharing(raw_store(_ctx), _ctx.dataset.key)
    if ds.engine is not None:  # a server-side source: the view and its wider settings as aggregate queries
        with engine_lock(ds):
            return Publication.build(ds.engine.counts(_ctx.spec), by=_ctx.by, min_cell=_ctx.min_cell,
                                     neighbours=engine_wider_settings(ds.engine, _ctx.spec), memo=memo)
    neighbours = wider_settings(ds.cohort, _ctx.spec)
    return Publication.build(_ctx.cohort, by=_ctx.by, min_cell=_ctx.min_cell, neighbours=neighbours, memo=memo)


@_shared
def _publication_shared(key: str, by: str, min_cell: int, _ctx: Context) -> Publication:
    return _build_publication(_ctx)


@_session
def _publication_session(key: str, by: str, min_cell: int, _ctx: Context) -> Publication:
    return _build_publication(_ctx)


def publication(ctx: Context) -> Publication:
    """The publication of the view (raises :class:`analysis.disclosure.DisclosureRefused` or ValueError)."""
    fn = _publication_shared if ctx.dataset.shared else _publication_session
    pub = fn(ctx.key, ctx.by, ctx.min_cell, ctx)
    key = f"{ctx.key}|{ctx.by}|{ctx.min_cell}"
    (_SHARED_BUILT if ctx.dataset.shared else st.session_state.setdefault("_built_publications", set())).add(key)
    return pub


def publication_ready(ctx: Context) -> bool:
    """Whether the view's publication is already built (a cache hit), without building it."""
    memo = st.session_state.setdefault("_built_publications", set())
    return f"{ctx.key}|{ctx.by}|{ctx.min_cell}" in memo or ctx.dataset.shared and _shared_hit(ctx)


def _shared_hit(ctx: Context) -> bool:
    return f"{ctx.key}|{ctx.by}|{ctx.min_cell}" in _SHARED_BUILT


_SHARED_BUILT: set[str] = set()


def _pub_key(ctx: Context) -> str:
    return f"{ctx.key}|{ctx.by}|{ctx.min_cell}"


def _trends_view(pub, extra):
    targets = bm.organisation_targets(bm.load_benchmarks(extra)) if extra is not None else None
    return trends(pub, targets)


def _fair_comparison_view(lock, pub, a, b, origin, covariates, estimand, trim, tau, names):
    """The fair comparison; the engine's lock is held only while the two groups' rows are fetched (10M episodes:
    the propensity models and Cox fits run for half a minute, other sessions' queries do not wait for them)."""
    from analysis.labels import column_label
    from analysis.views.comparison import comparison_rows

    counts = pub.raw.counts
    with lock:
        counts.probe()
        rows = comparison_rows(counts, pub.by, a, b, origin, covariates)
    labels = {c: column_label(c).lower() for c in covariates}
    return fair_comparison(pub, a, b, origin, list(covariates), estimand=estimand, trim=trim, tau=tau,
                           labels=labels, group_names=dict(names), rows=rows)


def default_comparison(ctx: Context, groups: list) -> tuple | None:
    """The IOP vs residential page's first choice: groups A and B (IOP and residential where both can be shown,
    else the first two) and the covariates adjusted for (None with fewer than two groups)."""
    from analysis.casemix import DEFAULT_COVARIATES

    if len(groups) < 2:
        return None
    a = "iop" if "iop" in groups else groups[0]
    b = "residential" if "residential" in groups and a != "residential" else next(g for g in groups if g != a)
    return a, b, [v for v in DEFAULT_COVARIATES if v in comparison_covariates(ctx)]


def comparison_covariates(ctx: Context) -> list[str]:
    """The covariates the comparison page offers for the view's grouping."""
    from analysis.casemix import DEFAULT_COVARIATES

    columns = ctx.dataset.cohort.columns
    return [v for v in (*DEFAULT_COVARIATES, "race_ethnicity", "payer", "site") if v in columns and v != ctx.by]


_VIEWS = {
    "overview": overview, "retention": retention, "relapse": relapse_view, "relapse_vs": relapse_vs,
    "time_to_relapse": time_to_relapse, "rmst": rmst_view,
    "comparison": lambda pub, a, b, origin, covs: comparison(pub, a, b, origin, list(covs)),
    "benchmarks": benchmarks_view, "trends": _trends_view,
}


_UNLOCKED = {"fair_comparison": _fair_comparison_view}
"""Views that take the engine's lock themselves, only for their queries (called with the lock first)."""


def _run_view(kind: str, args: tuple, ctx: Context):
    pub = publication(ctx)  # (outside the engine's lock: another session may be building it, holding its cache)
    if kind in _UNLOCKED:
        return _UNLOCKED[kind](engine_lock(ctx.dataset), pub, *args)
    with engine_lock(ctx.dataset):
        return _VIEWS[kind](pub, *args)


@_shared
def _view_shared(kind: str, key: str, args: tuple, _ctx: Context):
    return _run_view(kind, args, _ctx)


@_session
def _view_session(kind: str, key: str, args: tuple, _ctx: Context):
    return _run_view(kind, args, _ctx)


def _view(ctx: Context, kind: str, *args):
    fn = _view_shared if ctx.dataset.shared else _view_session
    return fn(kind, _pub_key(ctx), tuple(args), ctx)


def figure_rows(ctx: Context, family: str):
    """What a figure drawn from rows reads: its publication's own collapse ``family`` (of
    :func:`analysis.disclosure.raw.raw_requests`: ``"stay"`` for Retention's stay boxes, ``"hours_scheduled"``
    and ``"hours_attended"`` for its hours boxes), the view's distinct combinations with their count ``n``, already
    computed for its statistics (an engine's: no new query; in memory: the rows themselves, ``n = 1``)."""
    from analysis.disclosure.raw import raw_requests

    pub = publication(ctx)
    counts = pub.raw.counts
    with engine_lock(ctx.dataset):
        return counts.collapse(**raw_requests(counts, pub.by, pub.raw.horizons)[family])


def overview_of(ctx: Context):
    return _view(ctx, "overview", ctx.origin)


OWN_TARGETS = "own_targets_bytes"


def own_targets() -> bytes | None:
    """The organisation's targets file read on the Benchmarks page (kept for the session, so the Overview
    judges the same targets)."""
    return st.session_state.get(OWN_TARGETS)


def trends_of(ctx: Context, extra: bytes | None = None):
    """Quarterly trends, change from the previous quarter and the targets (None without discharge dates).
    With an organisation's own targets the result stays in the session."""
    if extra is not None:
        return _view_session("trends", _pub_key(ctx), (extra,), ctx)
    return _view(ctx, "trends", None)


def retention_of(ctx: Context):
    return _view(ctx, "retention")


def relapse_of(ctx: Context):
    return _view(ctx, "relapse", ctx.origin)


def relapse_vs_of(ctx: Context, reference, horizon: int):
    return _view(ctx, "relapse_vs", ctx.origin, reference, int(horizon))


def time_to_relapse_of(ctx: Context):
    return _view(ctx, "time_to_relapse", ctx.origin)


def rmst_of(ctx: Context, tau: float, reference):
    return _view(ctx, "rmst", ctx.origin, float(tau), reference)


def comparison_of(ctx: Context, a, b, covariates):
    return _view(ctx, "comparison", a, b, ctx.origin, tuple(covariates))


def fair_comparison_of(ctx: Context, a, b, covariates, *, estimand: str = "ate", trim=None, tau: float = 365,
                       names=None):
    """The published fair comparison (issue #9) of ``a`` with ``b`` on the view's cohort."""
    return _view(ctx, "fair_comparison", a, b, ctx.origin, tuple(covariates), estimand,
                 None if trim is None else tuple(trim), float(tau), tuple(sorted((names or {}).items())))


def benchmarks_of(ctx: Context, extra: bytes | None = None):
    if extra is not None:  # an organisation's own targets stay in its session
        return _view_session("benchmarks", _pub_key(ctx), (extra,), ctx)
    return _view(ctx, "benchmarks", None)


@st.cache_data(show_spinner=False, scope="session")
def benchmarks_table(extra: bytes | None = None):
    """The registry (published figures, no data of this program), plus an organisation's own targets."""
    return bm.load_benchmarks(extra)


def warm_engine(ds) -> None:
    """A server-side source's whole-cohort results, before anyone asks (:func:`ui.data_source.warm_server_source`):
    the filter columns' values (the wider settings of every filter change), the engine's next-admissions query
    that every level filter's step-downs read off (and the whole cohort's, made first), then the unfiltered
    cohort's raw results and ledger in the shared store (the first page's publication then only plans)."""
    from analysis.disclosure.publication import DEFAULT_HORIZONS
    from analysis.filters import FilterSpec

    memo = sharing(_SERVER_RAWS, ds.key)
    with engine_lock(ds):
        levels = engine_filter_options(ds.engine).get("levels", [])  # (every filter change's wider settings)
        if levels:  # first: the whole cohort's step-downs then read off them too (no window query of its own)
            ds.engine.counts(FilterSpec(levels=(levels[0],))).step_downs()
        counts = ds.engine.counts()
        memo.build_ledger(memo.compute_raw(counts, "level_of_care", horizons=DEFAULT_HORIZONS, days=None))


_STOP = threading.Event()
_BACKGROUND: list = []


def background(fn, name: str) -> None:
    """Run ``fn`` on a daemon thread that the interpreter waits for (up to 60 s) when it exits: a DuckDB query cut
    off by the exit aborts the process. ``fn`` should look at :func:`stopping` between its steps."""
    import atexit

    if not _BACKGROUND:
        atexit.register(_join_background)
    thread = threading.Thread(target=fn, name=name, daemon=True)
    _BACKGROUND.append(thread)
    thread.start()


def stopping() -> bool:
    """Whether the process is exiting (background work stops at its next step)."""
    return _STOP.is_set()


def _join_background() -> None:
    _STOP.set()
    for thread in _BACKGROUND:
        thread.join(60)


_prewarmed: set[str] = set()  # datasets whose single levels are being (or were) computed in the background
IDLE_S = 3.0
"""Background work starts a step only after every session's run has been over for this long (a browser is still
drawing the page for a second or two after the run ends; ``CONTINUUM_PREWARM_IDLE_S`` overrides it)."""


def _wait_for_idle(stop_after_s: float = 600.0) -> bool:
    """Sleep until no session has run ``app.py`` for :data:`IDLE_S` seconds (False: gave up)."""
    import os
    import time

    from ui.state import server_idle_for

    wanted = float(os.environ.get("CONTINUUM_PREWARM_IDLE_S", IDLE_S))
    deadline = time.monotonic() + stop_after_s
    while time.monotonic() < deadline and not stopping():
        idle = server_idle_for()
        if idle >= wanted:
            return True
        time.sleep(max(0.05, wanted - idle))
    return False


def prewarm_sample(ctx: Context, levels: list[str], *, delay_s: float = 1.0) -> None:
    """Once per process and dataset, in the background: the publication and Overview of the bundled sample (or of
    a server-side source: :attr:`ui.state.Dataset.shared`) for each single level of care (the first filter most
    people try), so choosing one is a cache hit for everyone, and a wider choice finds its neighbours' results
    (each other level's episodes) computed. Uploads never.

    Each step (one level's publication, its Overview, its trends) starts only when no session is running the
    app (:func:`_wait_for_idle`): the work fills the time between clicks instead of competing with them (on the
    shared 2-core machine an always-on background thread slowed the first sessions). The neighbours' raw results
    are shared (:mod:`ui.raw_memo`), so after the first level each costs about a fifth of a cold build.
    ``CONTINUUM_PREWARM=0`` turns it off."""
    import os

    off = os.environ.get("CONTINUUM_PREWARM", "1") == "0"
    if off or ctx.dataset.key in _prewarmed or not ctx.dataset.shared or ctx.dataset.cohort is None:
        return
    _prewarmed.add(ctx.dataset.key)
    import logging
    import time

    from analysis.cohort import choose_origin
    from analysis.filters import FilterSpec, apply_filters

    ds, log = ctx.dataset, logging.getLogger("continuum.app")
    origin = choose_origin(ds.cohort)[0]  # the default view's (discharge where the data records it)

    def run() -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: nice this thread only, sessions go first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        time.sleep(delay_s)  # let the first page of the first session go first
        for level in levels:
            spec = FilterSpec(levels=(level,))
            try:
                if ds.engine is not None:  # counted in the engine; its publication is queries (no rows taken)
                    with engine_lock(ds):
                        n = ds.engine.count(spec)
                    one = Context(ds, spec, "level_of_care", origin, ctx.min_cell,
                                  lambda spec=spec: apply_filters(ds.cohort, spec), n_rows=n)
                else:
                    one = Context(ds, spec, "level_of_care", origin, ctx.min_cell, apply_filters(ds.cohort, spec))
                if one.n < one.min_cell:
                    continue
                for step, args in _warm_steps(one, origin):
                    if not _wait_for_idle() or stopping():
                        return
                    step(*args)
            except Exception:  # noqa: BLE001 - a refused or failing view is computed (and said) when asked for
                log.debug("prewarm %s", level, exc_info=True)
        if ctx.spec.is_empty and _wait_for_idle() and not stopping():
            try:  # the whole cohort's default fair comparison: the IOP vs residential page's first view
                warm_comparison(ctx)
            except Exception:  # noqa: BLE001
                log.debug("prewarm comparison", exc_info=True)

    background(run, "continuum-prewarm")


def warm_comparison(ctx: Context) -> None:
    """The IOP vs residential page's first view of ``ctx`` (:func:`default_comparison`, ATE weights, no trimming,
    365 days), computed into the shared cache as the page would ask for it."""
    from analysis.views.comparison import comparable_groups
    from ui.widgets import label

    chosen = default_comparison(ctx, comparable_groups(publication(ctx), ctx.origin))
    if chosen is not None:
        a, b, covariates = chosen
        fair_comparison_of(ctx, a, b, covariates, estimand="ate", trim=None, tau=365,
                           names={"a": label(a), "b": label(b)})


def _warm_steps(ctx: Context, origin: str) -> tuple:
    """What the background work computes for a view, step by step: its publication, Overview, trends and the
    Overview's still charts."""
    return ((publication, (ctx,)), (_view, (ctx, "overview", origin)), (_view, (ctx, "trends", None)),
            (_predraw, (ctx,)))


def _predraw(ctx: Context) -> None:
    """The Overview's still charts of ``ctx`` drawn ahead (:func:`ui.overview_charts.predraw_overview`), with the
    provenance line a session would give them (whether the view's number of episodes is shown)."""
    import dataclasses

    from ui.overview_charts import predraw_overview

    predraw_overview(dataclasses.replace(ctx, rows_shown=publication(ctx).count("episodes").shown))


_SAMPLE_WARM: list[bool] = []


def warm_sample() -> None:
    """Once per process, when the server starts on the bundled sample (no ``--data``; called by ``serve.py``): its
    default view (publication, Overview, trends) and then each single level of care (:func:`prewarm_sample`), in
    the background before anyone asks, so neither the first session nor a first filter change waits for them (a
    session right after the start took 8-10 s to its Overview, a level chosen before the background work had
    reached it 1.7 s). ``CONTINUUM_PREWARM=0`` turns it off."""
    import os

    from ui.data_source import server_source

    if _SAMPLE_WARM or os.environ.get("CONTINUUM_PREWARM", "1") == "0" or server_source() is not None:
        return
    _SAMPLE_WARM.append(True)

    def run() -> None:
        import logging

        from analysis.cohort import choose_origin
        from analysis.filters import FilterSpec, filter_options
        from analysis.suppression import DEFAULT_MIN_CELL
        from ui.state import sample_dataset

        try:
            ds = sample_dataset()
            if ds.cohort is None:
                return
            origin = choose_origin(ds.cohort)[0]
            whole = Context(ds, FilterSpec(), "level_of_care", origin, DEFAULT_MIN_CELL, ds.cohort)
            for step, args in _warm_steps(whole, origin):
                if stopping():
                    return
                step(*args)
            prewarm_sample(whole, list(filter_options(ds.cohort).get("levels", [])), delay_s=0.0)
        except Exception:  # noqa: BLE001 - what fails here is computed (and said) when a session asks
            logging.getLogger("continuum.app").debug("warming the sample", exc_info=True)

    background(run, "continuum-warm-sample")
