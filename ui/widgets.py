"""Display helpers shared by the pages: published tables with CSV download, charts with provenance,
empty states and the page guard that turns errors into sentences.

Tables arrive published (:class:`analysis.disclosure.PublishedTable`); this module only lays them out
(:func:`analysis.disclosure.render`) and never sees a hidden value.
"""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import streamlit as st

from analysis import figures
from analysis.disclosure import LEGEND, Col, PublishedTable, group_text, render
from analysis.export import to_csv_bytes
from analysis.labels import column_label
from ui.state import Context
from ui.text import md

__all__ = ["Col", "table", "chart", "page_guard", "require_data", "label", "BY_LABELS", "legend", "narrow",
           "watch_viewport", "details"]

NARROW_PX = 700
"""Below this window width charts are laid out for a phone (legend below, wrapped labels)."""
_VIEWPORT_JS = f"""
export default function(component) {{
  const {{ setStateValue }} = component;
  const report = () => {{
    const narrow = window.innerWidth < {NARROW_PX};
    if (window.__continuumNarrow !== narrow) {{
      window.__continuumNarrow = narrow;
      if (narrow || window.__continuumReported) setStateValue('narrow', narrow);
      window.__continuumReported = window.__continuumReported || narrow;
    }}
  }};
  report();
  const chunk = component.data && component.data.preload;
  if (chunk && !window.__continuumPreload) {{  // a page drawn with still charts: load the interactive charts'
    window.__continuumPreload = true;         // code once the page has settled, so the next page need not wait
    const main = document.querySelector('script[type="module"][src*="/index."]');
    const url = new URL('./' + chunk, main ? main.src : document.baseURI).href;
    const load = () => import(url).catch(() => {{ window.__continuumPreload = false; }});
    let calm = 0;  // wait until the page has finished (script not running, nothing pending) for half a second
    const wait = setInterval(() => {{
      const app = document.querySelector("[data-testid='stApp']");
      const busy = !app || app.getAttribute('data-test-script-state') !== 'notRunning'
        || document.querySelector("[data-testid='stSkeleton'], [data-testid='stSpinner']");
      calm = busy ? 0 : calm + 1;
      if (calm >= 2) {{ clearInterval(wait); (window.requestIdleCallback || setTimeout)(load, {{timeout: 3000}}); }}
    }}, 250);
  }}
  if (!window.__continuumResize) {{
    window.__continuumResize = true;
    let t = null;
    window.addEventListener('resize', () => {{ clearTimeout(t); t = setTimeout(report, 400); }});
  }}
}}
"""
_viewport = None

log = logging.getLogger("continuum.app")

class _ColumnLabels(dict):
    """The known grouping columns (keys, in order) and their headers from the one vocabulary
    (:func:`analysis.labels.column_label`); any other column's header from it too."""

    def get(self, key, default=None):  # noqa: ARG002 - every column has a label
        return column_label(key)

    def __missing__(self, key):
        return column_label(key)


BY_LABELS: dict[str, str] = _ColumnLabels({c: column_label(c) for c in (
    "level_of_care", "primary_substance", "age_band", "sex", "site", "payer", "race_ethnicity", "admission_year",
    "admission_quarter")})


def label(g: object) -> str:
    """Display label of a group value ("iop" -> "IOP"); plain text (escape with :func:`ui.text.md`)."""
    return group_text(g)


@functools.cache
def _plotly_chunk() -> str | None:
    """File name of Streamlit's interactive-chart code (``PlotlyChart.<hash>.js``), if this Streamlit has one."""
    from pathlib import Path

    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return found[0].name if found else None


def watch_viewport(*, preload: bool = True) -> None:
    """Mount the (invisible) component that tells the server when the window is narrow: a wide window never
    reports (no extra rerun), a narrow one once, and a resize across the limit once more. With ``preload`` it
    also loads the interactive charts' code once a page has settled (a no-op where a chart has loaded it): after
    a page without charts the next page with interactive charts need not wait for it. (Data the server holds
    for everyone is drawn as still charts on every page, :mod:`ui.still`: there the code is loaded only when a
    "Hover values" switch asks for it, and the browser's time is left to the pages.)"""
    global _viewport
    try:
        if _viewport is None:
            _viewport = st.components.v2.component("continuum_viewport", js=_VIEWPORT_JS)
        chunk = _plotly_chunk() if preload else None
        _viewport(key="viewport", on_narrow_change=lambda: None, data={"preload": chunk} if chunk else None)
    except Exception:  # noqa: BLE001 - no browser (AppTest, bare mode): the wide layout
        log.debug("viewport component unavailable", exc_info=True)


def narrow() -> bool:
    """True when the browser window is narrower than :data:`NARROW_PX` (charts laid out compact)."""
    state = st.session_state.get("viewport")
    try:
        return bool(state and state.get("narrow"))
    except AttributeError:
        return False


def legend(min_cell: int) -> str:
    """The caption that says what "<11" and "suppressed" mean."""
    return LEGEND.format(m=min_cell)


def table(pt: PublishedTable, cols: Mapping[str, Col], *, name: str, ctx: Context, origin: str | None = None,
          caption: str | None = None, height: int | str = "auto", csv_cols: Mapping[str, Col] | None = None):
    """Show a published table with readable labels and a CSV download carrying its provenance.

    ``caption`` is trusted text written by the page (it may hold Markdown); data-derived text in it must
    go through :func:`ui.text.md`. ``csv_cols``: the CSV's columns when they differ from the screen's (numbers
    as numbers: estimate, lower and upper apart, where the screen shows "42.1% (38.0-46.3%)"). Returns the
    displayed frame.
    """
    shown = render(pt, cols)
    csv = render(pt, csv_cols or cols, csv=True)
    config = {c.label: st.column_config.TextColumn(c.label, help=c.help) for c in cols.values()
              if c.label in shown.columns}
    if isinstance(height, int) and 35 * (len(shown) + 1) + 3 <= height:
        height = "auto"  # a short table keeps its own height instead of trailing empty rows
    st.dataframe(shown, hide_index=True, column_config=config, height=height, key=f"tbl_{name}")
    hidden = any(pt.hidden(c).any() for c in cols if c in pt.status.columns)
    text = " ".join(t for t in (caption, legend(ctx.min_cell) if hidden else None) if t)
    if text:
        st.caption(text)
    st.download_button("Download CSV", to_csv_bytes(csv, ctx.provenance(origin=origin)),
                       file_name=f"continuum_{name}.csv", mime="text/csv", key=f"dl_{name}",
                       icon=":material/download:")
    return shown


def _static(fig, fmt: str):
    def build() -> bytes:  # runs when the button is clicked, outside the script run
        return figures.static_image(fig, fmt)
    return build


def chart(fig, *, name: str, ctx: Context, origin: str | None = None) -> None:
    """Show a plotly figure (built from published data) with its provenance line, a PNG button in its toolbar,
    and SVG and PDF downloads (drawn on click by the system Chromium: nothing is computed until then).

    Inside a :func:`ui.still.still_charts` block (every page with charts has one), a figure of data the server
    holds for everyone is shown as a still chart: an image drawn once for every session, with a "Hover values"
    switch (an interactive chart costs the browser 1 s for Plotly's code and 0.2-0.4 s a chart to draw; a
    Retention page of six took 2.6 s after a click). An upload's charts are interactive, drawn in its browser."""
    from ui import still  # (ui.still imports this module)

    charts = still.active()
    if charts is not None and ctx.dataset.shared:
        charts.show(charts.prepare(fig, name=name, origin=origin))
        return
    figures.add_provenance(fig, ctx.provenance(origin=origin).caption())
    st.plotly_chart(fig, config=figures.to_image_config(f"continuum_{name}"), key=f"fig_{name}")
    static_buttons(fig, name)


def static_buttons(fig, name: str, *, live_key: str | None = None) -> None:
    """SVG and PDF downloads of ``fig`` (drawn when clicked); with ``live_key``, the switch that shows a still
    chart (an image) as the interactive chart instead (:mod:`ui.still`)."""
    with st.container(horizontal=True, gap="small", key=f"figdl_{name}", vertical_alignment="center"):
        for fmt, mime in (("svg", "image/svg+xml"), ("pdf", "application/pdf")):
            st.download_button(f"{fmt.upper()}", data=_static(fig, fmt), file_name=f"continuum_{name}.{fmt}",
                               mime=mime, on_click="ignore", key=f"dl_{fmt}_{name}", type="tertiary",
                               icon=":material/download:", help=f"This chart as {fmt.upper()} (vector, for print "
                               "and publication), with its provenance line.")
        if live_key is not None:
            st.toggle("Hover values", key=live_key, help="Show this chart interactively: values on hover, zoom, "
                      "groups hidden by a click on the legend (it loads a moment longer).")


def require_data(ctx: Context) -> bool:
    """Show the empty state and return False when there is nothing to analyse (or nothing that may be shown)."""
    if ctx.error:
        st.error(md(ctx.error))
        return False
    if ctx.filtered is None:  # not ctx.cohort: a server-side source's rows are taken only when a page reads them
        st.error(md(ctx.dataset.result.report.fatal or "The data could not be loaded."))
        st.page_link("pages/data.py", label="Go to Data to load another file", icon=":material/upload_file:")
        return False
    if ctx.n == 0:
        st.info("No episodes match these filters. Widen the filters in the sidebar.")
        return False
    if ctx.n < ctx.min_cell:
        st.info(f"Fewer than {ctx.min_cell} episodes match these filters, too few to show anything without "
                "identifying someone. Widen the filters in the sidebar.")
        return False
    return True


@contextmanager
def page_guard(what: str) -> Iterator[None]:
    """Turn errors inside a page body into a sentence (``ValueError`` texts come from ``analysis``).

    With ``CONTINUUM_STRICT=1`` (the tests) unexpected errors are re-raised so they are not hidden.
    """
    try:
        yield
    except ValueError as err:
        st.error(f"{what} could not be computed: {md(err)}")
    except Exception as err:  # noqa: BLE001 - the page must not show a traceback to a user
        if os.environ.get("CONTINUUM_STRICT") == "1":
            raise
        log.exception("page error")
        st.error(f"Something went wrong while computing {what.lower()} ({type(err).__name__}). "
                 "Try other filters; if it persists, report it with the provenance line.")


@contextmanager
def details(label_: str, key: str) -> Iterator[bool]:
    """An expander whose content is built only while it is open (opening it reruns the page): the tables a
    reader asks for are neither sent nor drawn on every visit. Yields whether it is open.

    ``with details("Numbers at risk", "at_risk") as shown:`` then ``if shown:`` around the content.
    """
    exp = st.expander(label_, key=f"exp_{key}", on_change="rerun")
    with exp:
        yield bool(exp.open)
