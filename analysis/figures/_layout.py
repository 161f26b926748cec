"""Shared look of every chart: palette, group colours and labels, layout, notes, provenance.

Conventions shared by all builders of :mod:`analysis.figures`:

* one colour per level of care everywhere (:data:`LEVEL_COLORS`, the Okabe-Ito palette, which is
  colour-blind safe); other groups get the remaining Okabe-Ito colours, then greys
  (:func:`group_colors`);
* a title, axis titles with units, a legend, hover text with numbers and intervals;
* proportions stay in 0-1 and are shown as percentages (``tickformat=".0%"``);
* small cells: curves stop where fewer than ``min_cell`` (default 11) remain at risk
  (:func:`analysis.suppression.truncate_curve`); bars and points whose counts are suppressed (NaN)
  are left out and a note ``"<11: not shown"`` is added;
* uploaded labels are text: they are HTML-escaped before plotly sees them, and never put inside a
  ``hovertemplate`` format string (plotly would read ``%{...}`` there).
"""
from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from analysis import labels
from analysis.schema import LEVELS_OF_CARE
from analysis.suppression import format_count

OKABE_ITO: tuple[str, ...] = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                              "#D55E00", "#CC79A7")
"""Okabe & Ito (2008) colour-blind-safe palette, in its published order."""

LEVEL_COLORS: dict[str, str] = {
    "detox": "#E69F00", "inpatient": "#D55E00", "residential": "#CC79A7",
    "php": "#009E73", "iop": "#0072B2", "op": "#56B4E9",
}
"""One colour per level of care, used on every chart."""

_OTHER_COLORS: tuple[str, ...] = ("#000000", "#F0E442")
_GREYS: tuple[str, ...] = ("#555555", "#999999", "#333333", "#777777", "#BBBBBB")

REASON_COLORS: dict[str, str] = {
    "completed": "#009E73", "transferred": "#56B4E9", "dropped_out": "#D55E00",
    "terminated": "#E69F00", "incarcerated": "#CC79A7", "died": "#000000", "other": "#999999",
}
"""Fixed colours per discharge reason (Okabe-Ito; completion green, leaving early vermillion)."""

def _trimmed_template() -> go.layout.Template:
    """plotly_white's layout only: its defaults for 40 trace types we never draw weigh 6 kB per figure."""
    keep = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor",
            "xaxis", "yaxis", "shapedefaults", "annotationdefaults", "title")
    base = pio.templates["plotly_white"].layout.to_plotly_json()
    return go.layout.Template(layout={k: v for k, v in base.items() if k in keep})


_TEMPLATE = _trimmed_template()
COMPACT_WIDTH = 380
"""Width (px) a compact figure is laid out for: a phone held upright."""
_FONT_SIZE = 13
_NOTE_COLOR = "#555555"


# ---------------------------------------------------------------------------------------------
# colours, labels, shared layout
# ---------------------------------------------------------------------------------------------
def _level_code(g: object) -> str | None:
    text = str(g).strip().lower()
    return text if text in LEVEL_COLORS else None


def group_colors(groups: Iterable) -> dict[str, str]:
    """Colour per group: levels of care get :data:`LEVEL_COLORS`, other groups the rest of the palette.

    Other groups take, in order, black ``#000000``, the Okabe-Ito colours of levels of care *not*
    among ``groups`` (so no colour means two things on one chart), yellow ``#F0E442`` (last: it is
    faint on white), then greys; past that the sequence repeats.

    Parameters
    ----------
    groups : iterable
        Group values (level codes such as ``"iop"``, or any other labels).

    Returns
    -------
    dict
        ``{str(group): "#RRGGBB"}`` in the order given.
    """
    groups = [str(g) for g in groups]
    used = {_level_code(g) for g in groups} - {None}
    pool = [_OTHER_COLORS[0], *(LEVEL_COLORS[lvl] for lvl in LEVELS_OF_CARE if lvl not in used),
            *_OTHER_COLORS[1:], *_GREYS]
    out: dict[str, str] = {}
    i = 0
    for g in groups:
        if g in out:
            continue
        code = _level_code(g)
        if code is not None:
            out[g] = LEVEL_COLORS[code]
        else:
            out[g] = pool[i % len(pool)]
            i += 1
    return out


def group_label(g: object) -> str:
    """Short display label of a group (:func:`analysis.labels.group_label`): "iop" -> "IOP"."""
    return labels.group_label(g)


def _esc(text: object) -> str:
    """Escape text for plotly, which reads a few HTML tags and entities in labels."""
    return html.escape(str(text), quote=False)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _group_order(series: pd.Series) -> list:
    """Groups in the frame's categorical order (observed only), else first-appearance order."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().astype(object))
        return [c for c in series.cat.categories if c in present]
    found = list(pd.unique(series.dropna()))
    if found and all(_level_code(g) is not None for g in found):
        rank = {lvl: i for i, lvl in enumerate(LEVELS_OF_CARE)}
        found.sort(key=lambda g: rank[_level_code(g)])
    return found


def _wrap(text: str, width: int) -> str:
    """Break already-escaped text into lines of at most ``width`` characters with ``<br>`` (plotly's break)."""
    out, line = [], ""
    for word in str(text).split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return "<br>".join(out)


def _lines(text: str) -> int:
    return str(text).count("<br>") + 1


def _state(fig: go.Figure) -> dict:
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    return dict(meta.get("continuum", {"compact": False, "bottom": 55, "legend_px": 0}))


def _set_state(fig: go.Figure, state: dict, height: int | None = None) -> None:
    """Store the layout state; grow the bottom margin to hold notes and legend, and the height with it
    (so the plot area keeps its size, whatever height a caller set in between)."""
    margin_b = max(110, state["bottom"] + state["legend_px"] + 12)
    old_b = fig.layout.margin.b if fig.layout.margin.b is not None else 110
    base = height if height is not None else (fig.layout.height or 450)
    fig.update_layout(meta={"continuum": state}, margin={"b": margin_b},
                      height=int(base + margin_b - (110 if height is not None else old_b)))


def _legend_columns(fig: go.Figure) -> tuple[int, int, int]:
    """(entries per row, rows, extra text lines) of a compact legend: 3 per row when every name is short,
    2, else 1; names wrapped with ``<br>`` add lines.

    Plotly is given ``entrywidth`` as that fraction of the width, so the rows are known in advance
    and the bottom margin can hold them exactly.
    """
    names = [str(t.name) for t in fig.data if getattr(t, "showlegend", True) is not False and t.name]
    if not names or fig.layout.showlegend is False:
        return 1, 0, 0
    plain = [n.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") for n in names]
    longest = max(len(part) for n in plain for part in n.split("<br>"))
    per_row = 3 if longest <= 8 else 2 if longest <= 18 else 1
    return per_row, -(-len(names) // per_row), sum(n.count("<br>") for n in plain)


def _layout(fig: go.Figure, title: str, *, hovermode: str | bool = "closest", legend_title: str | None = None,
            height: int | None = None, compact: bool = False, notes_at: int = 55) -> go.Figure:
    """Title, legend, margins and template shared by every chart.

    Wide (default): the legend sits above the plot, or on the right when it would run into the
    title (more than 8 entries or 110 characters). ``compact=True`` (a phone, a narrow column):
    title wrapped to 36 characters, the legend below the chart, narrow margins; notes and the
    provenance line added later wrap too and the bottom margin grows to hold them. Notes start
    ``notes_at`` px under the plot area (under the x-axis title; less under a table without axis).
    """
    keys = []
    if compact:  # legend-only keys explaining line styles and markers become one note: a phone's legend is short
        for t in fig.data:
            if str(getattr(t, "legendgroup", "") or "").startswith("key:") and t.showlegend is not False:
                keys.append(t.name)
                t.showlegend = False
    shown = [t for t in fig.data if getattr(t, "showlegend", False) is not False and t.name]
    if compact:
        for t in shown:  # a long legend name wraps rather than running off a phone's screen
            if len(t.name) > 44 and "<br>" not in t.name:
                t.name = _wrap(t.name, 40)
        title_text = _wrap(_esc(title), 36)
        per_row, rows, extra = _legend_columns(fig)
        legend = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "xanchor": "left", "x": 0,
                  "font": {"size": 12}, "entrywidthmode": "fraction", "entrywidth": round(1 / per_row - 0.04, 3)}
        margin = {"l": 52, "r": 24, "t": 28 + 20 * _lines(title_text)}
        legend_px = 29 * rows + 16 * extra + 12 + (22 if legend_title and rows else 0)
    else:
        title_text = _esc(title)
        chars = sum(len(t.name) + 6 for t in shown)
        if len(shown) > 8 or chars > 110:  # would wrap into the title: legend on the right, one per line
            legend = {"orientation": "v", "yanchor": "top", "y": 1, "xanchor": "left", "x": 1.02}
        else:
            legend = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}
        margin = {"l": 70, "r": 30, "t": 90}
        legend_px = 0
    legend["title"] = {"text": _esc(legend_title) if legend_title else ""}
    if compact:
        legend["title"]["side"] = "top left"
    fig.update_layout(
        template=_TEMPLATE, font={"size": _FONT_SIZE - (1 if compact else 0)},
        title={"text": title_text, "x": 0.01, "xanchor": "left", "font": {"size": 15 if compact else 17}},
        legend=legend, margin=margin, hovermode=hovermode, showlegend=True,
    )
    state = {"compact": compact, "bottom": notes_at, "legend_px": legend_px}
    _set_state(fig, state, height=int(height or 450))
    if keys:
        _stack_text(fig, "Key: " + "; ".join(keys) + ".", size=11, color=_NOTE_COLOR, name="note")
    return fig


def _hide_legend(fig: go.Figure) -> None:
    """No legend (the axis already names the groups); the bottom margin no longer holds one."""
    state = _state(fig)
    state["legend_px"] = 0
    fig.update_layout(showlegend=False)
    _set_state(fig, state)


def _note(fig: go.Figure, text: str) -> None:
    """Small grey note under the plot area (below the axis title, above the provenance line), left-aligned.

    Notes stack: each one goes under the previous; in compact figures they wrap to the width.
    """
    _stack_text(fig, _esc(text), size=11, color=_NOTE_COLOR, name="note")


def _stack_text(fig: go.Figure, text: str, *, size: int, color: str, name: str, width: int | None = None) -> None:
    state = _state(fig)
    left = fig.layout.margin.l if fig.layout.margin.l is not None else 52
    width = COMPACT_WIDTH if state["compact"] else width
    text = _wrap(text, int((width - left - 16) / 6.1) if width else 190)
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, yshift=-state["bottom"], xanchor="left",
                       yanchor="top", showarrow=False, align="left", font={"size": size, "color": color},
                       name=name)
    state["bottom"] += (size + 4) * _lines(text) + 4
    _set_state(fig, state)


def _small_note(min_cell: int) -> str:
    return f"<{min_cell}: not shown"


def _legend_key(fig: go.Figure, name: str, **line_or_marker) -> None:
    """A legend-only entry explaining a line style or marker (no data drawn)."""
    mode = "markers" if "marker" in line_or_marker else "lines"
    fig.add_trace(go.Scatter(x=[None], y=[None], mode=mode, name=name, hoverinfo="skip",
                             legendgroup=f"key:{name}", **line_or_marker))



def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _count_text(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df.columns:
        return [""] * len(df)
    return format_count(df[col].reset_index(drop=True)).replace("", "suppressed").tolist()



def _by_label(by: str) -> str:
    return labels.column_label(by)


def _f32(values) -> np.ndarray:
    """Plotted numbers as float32: half the bytes sent to the browser, far below a pixel of error."""
    return np.asarray(values, dtype="float32")



def to_image_config(filename: str) -> dict:
    """Plotly config for ``st.plotly_chart``/HTML: PNG download at scale 2 named ``filename``, no logo."""
    return {"toImageButtonOptions": {"format": "png", "filename": str(filename), "scale": 2},
            "displaylogo": False}


def add_provenance(fig: go.Figure, text: str, *, width: int | None = None) -> go.Figure:
    """Add a small grey provenance line (data file, date, filters) under the chart and its notes, wrapped to
    ``width`` layout pixels when given (a figure drawn at a fixed width: a still chart, an export)."""
    _stack_text(fig, _esc(text), size=10, color="#777777", name="provenance", width=width)
    return fig
