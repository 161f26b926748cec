"""Still charts: figures drawn once on the server as SVG and shown as images, on every page with charts (a page
wraps its body in :func:`still_charts`, and :func:`ui.widgets.chart` inside it shows a chart of shared data so).

An interactive chart costs the browser Streamlit's Plotly code (4.7 MB, about a second of the main thread to
run) and 0.2-0.4 s a chart to draw: a cold Overview was 3.8 s with its two charts and 2.3 s with none
(docs/architecture.md). A still chart is drawn by :func:`analysis.figures.static_image` (kaleido and the
system Chromium: 0.2-0.4 s a figure here) on a worker thread while the page goes on computing, kept for every
session (the key is the figure itself: a session meets only drawings of figures it has made), and falls back
to the interactive chart where there is no Chromium. The SVG and PDF downloads stay as on every chart.

Only the figures of data the server holds for everyone are drawn so (the bundled sample, a ``--data`` source or
a database: :attr:`ui.state.Dataset.shared`); the "Hover values" switch under a still chart shows it as the
interactive chart for that session (values on hover, zoom). Drawing hands the figure to a Chromium process,
which keeps a profile and a page in the temp directory, and an upload's numbers stay inside this process (an upload's
Overview shows interactive charts; its SVG and PDF downloads are drawn when a user asks for one).

Use::

    with still_charts(ctx) as charts:
        km = charts.prepare(fig_km, name="overview_time_to_relapse", origin=ctx.origin)   # starts drawing now
        ...
        charts.show(charts.prepare(fig_trend, name="trend", where="column", height=380))
        ...
        charts.show(km)   # the images are put in place when the block ends
"""
from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from analysis import figures
from ui.state import Context
from ui.widgets import narrow, static_buttons

__all__ = ["still_charts", "StillCharts", "WIDTHS", "predraw", "active"]

#: Layout width (px) a still chart is drawn at: the page's width, a column's (a phone's: COMPACT_WIDTH).
WIDTHS = {"page": 1000, "column": 600}
_ENTRIES = 256
_drawn: OrderedDict[tuple[str, int, int], str | None] = OrderedDict()
_lock = threading.Lock()
_active: contextvars.ContextVar[StillCharts | None] = contextvars.ContextVar("continuum_still_charts", default=None)
_worker = ThreadPoolExecutor(max_workers=figures.TABS, thread_name_prefix="continuum-still")
log = logging.getLogger("continuum.app")


def _draw(fig, key: tuple[str, int, int]) -> str | None:
    """The SVG of ``fig`` at the key's width and height (None: it cannot be drawn here)."""
    with _lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
    try:
        svg = figures.static_image(fig, "svg", width=key[1], height=key[2]).decode()
    except Exception:  # noqa: BLE001 - no Chromium, or it failed: the interactive chart instead
        log.info("still chart not drawn; interactive instead", exc_info=True)
        svg = None
    with _lock:
        _drawn[key] = svg
        while len(_drawn) > _ENTRIES:
            _drawn.popitem(last=False)
    return svg


def _start(ctx: Context, fig, *, origin: str | None, where: str, height: int | None, compact: bool,
           name: str = "", live: bool = False) -> Still:
    """The figure's drawing started (``live``: the session shows it interactive, so nothing is drawn)."""
    height = int(height or fig.layout.height or 450)
    fig.update_layout(height=height)
    width = figures.COMPACT_WIDTH if compact else WIDTHS[where]
    figures.add_provenance(fig, ctx.provenance(origin=origin).caption(), width=width)
    if live or not ctx.dataset.shared:  # shown interactive; an upload's figures never leave this process
        done: Future = Future()
        done.set_result(None)
        return Still(fig, done, name)
    key = (fig.to_json(), width, height)
    return Still(fig, _worker.submit(_draw, fig, key), name)


def predraw(ctx: Context, fig, *, origin: str | None = None, where: str = "page", height: int | None = None) -> None:
    """Draw ``fig`` ahead for a wide window, as :meth:`StillCharts.prepare` would for ``ctx`` (background work: a
    page that makes the same figure later finds its image; only data the server holds for everyone)."""
    if ctx.dataset.shared:
        _start(ctx, fig, origin=origin, where=where, height=height, compact=False).drawing.result()


@dataclass(frozen=True)
class Still:
    """A figure being drawn (its provenance line added), shown under ``name``; a drawing of None: shown as the
    interactive chart."""

    fig: object
    drawing: Future
    name: str = ""


class StillCharts:
    """Figures drawn on a worker thread, put in place when the :func:`still_charts` block ends."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._shown: list[tuple[object, Still]] = []

    def prepare(self, fig, *, name: str, origin: str | None = None, where: str = "page",
                height: int | None = None) -> Still:
        """Start drawing ``fig`` (with the provenance line of ``origin``) for a place ``where`` wide, ``height``
        layout pixels high (default: the figure's own, else 450); a compact figure at a phone's width. ``name``
        keys its downloads and its "Hover values" switch: where that is on, nothing is drawn."""
        meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
        return _start(self.ctx, fig, origin=origin, where=where, height=height,
                      compact=narrow() or bool(meta.get("continuum", {}).get("compact")),
                      name=name, live=bool(st.session_state.get(_live_key(name))))

    def show(self, still: Still) -> None:
        """Keep the chart's place here (with its SVG and PDF downloads, and the "Hover values" switch that shows
        the interactive chart instead); the image fills it at the block's end."""
        self._shown.append((st.empty(), still))
        static_buttons(still.fig, still.name, live_key=_live_key(still.name) if self.ctx.dataset.shared else None)

    def _fill(self) -> None:
        for slot, still in self._shown:
            svg = still.drawing.result()
            if svg is None:
                slot.plotly_chart(still.fig, config=figures.to_image_config(f"continuum_{still.name}"),
                                  key=f"fig_{still.name}")
            else:
                slot.image(svg, width="stretch")


def _live_key(name: str) -> str:
    return f"live_{name}"


def active() -> StillCharts | None:
    """The innermost :func:`still_charts` block of this script run (None outside one): where
    :func:`ui.widgets.chart` puts a chart of shared data."""
    return _active.get()


@contextmanager
def still_charts(ctx: Context) -> Iterator[StillCharts]:
    """A page's still charts; their images are put in place when the block ends (even if it fails midway).
    Inside the block, :func:`ui.widgets.chart` shows a chart of shared data as one of them."""
    charts = StillCharts(ctx)
    token = _active.set(charts)
    try:
        yield charts
    finally:
        _active.reset(token)
        charts._fill()
