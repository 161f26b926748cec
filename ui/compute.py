"""Cached calls into ``analysis``: the publication of the current view and each page's published results.

Everything a page shows comes from :func:`publication` (one per dataset, filter setting, grouping and
threshold, both origins at once) through a view function of :mod:`analysis.views`. The caches are
``st.cache_resource(scope="session")``: one user's upload never reaches another session, and the
objects are not copied on every rerun. Heavy work is keyed on :attr:`ui.state.Context.key`.
"""
from __future__ import annotations

import streamlit as st

from analysis import benchmarks as bm
from analysis.disclosure import Publication
from analysis.disclosure.neighbours import wider_settings
from analysis.views.benchmarks import benchmarks_view
from analysis.views.comparison import comparison, fair_comparison
from analysis.views.overview import overview
from analysis.views.relapse import relapse_view, relapse_vs
from analysis.views.retention import retention
from analysis.views.time_to_relapse import rmst_view, time_to_relapse
from ui.state import Context

__all__ = ["publication", "overview_of", "retention_of", "relapse_of", "relapse_vs_of", "time_to_relapse_of",
           "rmst_of", "comparison_of", "fair_comparison_of", "benchmarks_of", "benchmarks_table", "HORIZONS"]

HORIZONS = (30, 90, 180, 365)
_session = st.cache_resource(show_spinner=False, max_entries=24, scope="session")


@_session
def _publication(key: str, by: str, min_cell: int, _ctx: Context) -> Publication:
    neighbours = wider_settings(_ctx.dataset.cohort, _ctx.spec)
    return Publication.build(_ctx.cohort, by=by, min_cell=min_cell, neighbours=neighbours)


def publication(ctx: Context) -> Publication:
    """The publication of the view (raises :class:`analysis.disclosure.DisclosureRefused` or ValueError)."""
    return _publication(ctx.key, ctx.by, ctx.min_cell, ctx)


def _pub_key(ctx: Context) -> str:
    return f"{ctx.key}|{ctx.by}|{ctx.min_cell}"


@_session
def _overview(key: str, origin: str, _ctx: Context):
    return overview(publication(_ctx), origin)


def overview_of(ctx: Context):
    return _overview(_pub_key(ctx), ctx.origin, ctx)


@_session
def _retention(key: str, _ctx: Context):
    return retention(publication(_ctx))


def retention_of(ctx: Context):
    return _retention(_pub_key(ctx), ctx)


@_session
def _relapse(key: str, origin: str, _ctx: Context):
    return relapse_view(publication(_ctx), origin)


def relapse_of(ctx: Context):
    return _relapse(_pub_key(ctx), ctx.origin, ctx)


@_session
def _relapse_vs(key: str, origin: str, reference: str, horizon: int, _ctx: Context):
    return relapse_vs(publication(_ctx), origin, reference, horizon)


def relapse_vs_of(ctx: Context, reference, horizon: int):
    return _relapse_vs(_pub_key(ctx), ctx.origin, reference, int(horizon), ctx)


@_session
def _time_to_relapse(key: str, origin: str, _ctx: Context):
    return time_to_relapse(publication(_ctx), origin)


def time_to_relapse_of(ctx: Context):
    return _time_to_relapse(_pub_key(ctx), ctx.origin, ctx)


@_session
def _rmst(key: str, origin: str, tau: float, reference: str, _ctx: Context):
    return rmst_view(publication(_ctx), origin, tau, reference)


def rmst_of(ctx: Context, tau: float, reference):
    return _rmst(_pub_key(ctx), ctx.origin, float(tau), reference, ctx)


@_session
def _comparison(key: str, a: str, b: str, origin: str, covariates: tuple, _ctx: Context):
    return comparison(publication(_ctx), a, b, origin, list(covariates))


def comparison_of(ctx: Context, a, b, covariates):
    return _comparison(_pub_key(ctx), a, b, ctx.origin, tuple(covariates), ctx)


@_session
def _fair_comparison(key: str, a: str, b: str, origin: str, covariates: tuple, estimand: str, trim, tau: float,
                     names: tuple, _ctx: Context):
    from analysis.labels import column_label

    labels = {c: column_label(c).lower() for c in covariates}
    return fair_comparison(publication(_ctx), a, b, origin, list(covariates), estimand=estimand, trim=trim, tau=tau,
                           labels=labels, group_names=dict(names))


def fair_comparison_of(ctx: Context, a, b, covariates, *, estimand: str = "ate", trim=None, tau: float = 365,
                       names=None):
    """The published fair comparison (issue #9) of ``a`` with ``b`` on the view's cohort."""
    return _fair_comparison(_pub_key(ctx), a, b, ctx.origin, tuple(covariates), estimand,
                            None if trim is None else tuple(trim), float(tau), tuple(sorted((names or {}).items())),
                            ctx)


@_session
def _benchmarks(key: str, extra: bytes | None, _ctx: Context):
    return benchmarks_view(publication(_ctx), extra)


def benchmarks_of(ctx: Context, extra: bytes | None = None):
    return _benchmarks(_pub_key(ctx), extra, ctx)


@st.cache_data(show_spinner=False, scope="session")
def benchmarks_table(extra: bytes | None = None):
    """The registry (published figures, no data of this program), plus an organisation's own targets."""
    return bm.load_benchmarks(extra)
