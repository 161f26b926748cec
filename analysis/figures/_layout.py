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

from analysis.schema import LEVEL_LABELS, LEVELS_OF_CARE
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

_TEMPLATE = "plotly_white"
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
    """Short display label: a level code becomes its abbreviation ("iop" -> "IOP", "detox" -> "Detox").

    Uses :data:`analysis.schema.LEVEL_LABELS`: the abbreviation in brackets when the label has one
    ("Intensive outpatient (IOP)" -> "IOP"), else the label ("Residential"). Other values: ``str(g)``.
    """
    code = _level_code(g)
    if code is None:
        return str(g)
    label = LEVEL_LABELS[code]
    if "(" in label and label.endswith(")"):
        short = label[label.rindex("(") + 1:-1]
        return short[:1].upper() + short[1:]
    return label


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


def _layout(fig: go.Figure, title: str, *, hovermode: str | bool = "closest", legend_title: str | None = None,
            height: int | None = None) -> go.Figure:
    entries = sum(1 for t in fig.data if getattr(t, "showlegend", False) is not False and t.name)
    chars = sum(len(t.name) + 6 for t in fig.data if getattr(t, "showlegend", False) is not False and t.name)
    if entries > 8 or chars > 110:  # would wrap into the title: legend on the right, one per line
        legend = {"orientation": "v", "yanchor": "top", "y": 1, "xanchor": "left", "x": 1.02}
    else:
        legend = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}
    legend["title"] = {"text": _esc(legend_title) if legend_title else ""}
    fig.update_layout(
        template=_TEMPLATE, font={"size": _FONT_SIZE},
        title={"text": _esc(title), "x": 0.01, "xanchor": "left"}, legend=legend,
        margin={"l": 70, "r": 30, "t": 90, "b": 110}, hovermode=hovermode, showlegend=True,
    )
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _note(fig: go.Figure, text: str) -> None:
    """Small grey note under the plot area (55 px below it, above the provenance line), left-aligned."""
    fig.add_annotation(text=_esc(text), xref="paper", yref="paper", x=0, y=0, yshift=-55, xanchor="left",
                       yanchor="top", showarrow=False, font={"size": 11, "color": _NOTE_COLOR},
                       name="note")


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
    return "Level of care" if by == "level_of_care" else by.replace("_", " ").capitalize()



def to_image_config(filename: str) -> dict:
    """Plotly config for ``st.plotly_chart``/HTML: PNG download at scale 2 named ``filename``, no logo."""
    return {"toImageButtonOptions": {"format": "png", "filename": str(filename), "scale": 2},
            "displaylogo": False}


def add_provenance(fig: go.Figure, text: str) -> go.Figure:
    """Add a small grey provenance line (data file, date, filters) at the bottom of the figure."""
    fig.add_annotation(text=_esc(text), xref="paper", yref="paper", x=0, y=0, yshift=-78, xanchor="left",
                       yanchor="top", showarrow=False, font={"size": 10, "color": "#777777"},
                       name="provenance")
    return fig
