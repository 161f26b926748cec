"""Every chart of the app as a pure plotly builder (no Streamlit, never ``fig.show()``).

Each builder takes a tidy frame produced by the analysis modules and returns a
``plotly.graph_objects.Figure``. Conventions shared by all of them:

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
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.schema import LEVEL_LABELS, LEVELS_OF_CARE
from analysis.suppression import DEFAULT_MIN_CELL, format_count, truncate_curve

__all__ = [
    "LEVEL_COLORS", "OKABE_ITO", "REASON_COLORS", "group_colors", "group_label",
    "km_figure", "to_image_config", "add_provenance",
]

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

    Other groups take, in order, black ``#000000``, yellow ``#F0E442``, then the Okabe-Ito colours
    of levels of care *not* among ``groups`` (so no colour means two things on one chart), then
    greys; past that the sequence repeats.

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
    pool = [*_OTHER_COLORS, *(LEVEL_COLORS[lvl] for lvl in LEVELS_OF_CARE if lvl not in used), *_GREYS]
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
    fig.update_layout(
        template=_TEMPLATE, font={"size": _FONT_SIZE},
        title={"text": _esc(title), "x": 0.01, "xanchor": "left"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                "title": {"text": _esc(legend_title) if legend_title else ""}},
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


# ---------------------------------------------------------------------------------------------
# time-to-event curves
# ---------------------------------------------------------------------------------------------
def _corners(k: pd.DataFrame, value_cols: Sequence[str]) -> np.ndarray:
    """Positions of the step corners of one curve: the first row, rows where a value changes, the last."""
    n = len(k)
    if n <= 2:
        return np.arange(n)
    vals = np.column_stack([k[c].to_numpy(dtype="float64") for c in value_cols])
    same = (vals[1:] == vals[:-1]) | (np.isnan(vals[1:]) & np.isnan(vals[:-1]))
    keep = np.ones(n, dtype=bool)
    keep[1:] = ~same.all(axis=1)
    keep[-1] = True
    return np.flatnonzero(keep)


def _sample(idx: np.ndarray, at_most: int) -> np.ndarray:
    if len(idx) <= at_most:
        return idx
    return idx[np.unique(np.linspace(0, len(idx) - 1, at_most).round().astype(int))]


def _curve_traces(fig: go.Figure, *, x, y, lo, hi, name: str, color: str, group_key: str,
                  hover: str, customdata, show_ci: bool, row: int | None, dash: str | None = None,
                  showlegend: bool = True, ci_alpha: float = 0.15) -> None:
    """A step line with an optional shaded interval band (lower bound, then upper filled to it)."""
    kw = {"row": row, "col": 1} if row is not None else {}
    if show_ci:
        fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0, "shape": "hv", "color": color},
                                 hoverinfo="skip", showlegend=False, legendgroup=group_key,
                                 name=f"{name} lower"), **kw)
        fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0, "shape": "hv", "color": color},
                                 fill="tonexty", fillcolor=_rgba(color, ci_alpha), hoverinfo="skip",
                                 showlegend=False, legendgroup=group_key, name=f"{name} upper"), **kw)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=group_key,
                             line={"color": color, "width": 2, "shape": "hv", "dash": dash},
                             customdata=customdata, hovertemplate=hover, showlegend=showlegend), **kw)


def _filled_interval(est: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds for a band: NaN limits (R leaves them NaN where S is 0 or 1) fall back to the estimate."""
    return np.where(np.isnan(lo), est, lo), np.where(np.isnan(hi), est, hi)


def km_figure(km: pd.DataFrame, *, at_risk: pd.DataFrame | None = None, origin: str = "discharge",
              title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, show_ci: bool = True,
              show_censor_marks: bool = True, as_relapse: bool = True,
              benchmark_band: tuple[float, float, str] | None = None,
              horizon_days: float | None = None) -> go.Figure:
    """Kaplan-Meier curves per group, with interval bands, censor marks and a number-at-risk table.

    Plots cumulative relapse ``1 - S(t)`` (``as_relapse=True``; the log-log interval turned over:
    ``[1 - upper, 1 - lower]``) or relapse-free survival ``S(t)``, as step functions. Each curve
    stops at the first time fewer than ``min_cell`` are at risk
    (:func:`analysis.suppression.truncate_curve`). Only step corners are drawn (rows where the
    estimate or its interval changes, plus the last row), and at most 200 censor marks per group
    (evenly sampled), so a million episodes draw as fast as a hundred.

    Parameters
    ----------
    km : DataFrame
        :func:`analysis.survival.km_by_group` output (group, time, n_at_risk, n_event, n_censor,
        survival, ci_lower, ci_upper).
    at_risk : DataFrame, optional
        :func:`analysis.survival.at_risk_table` output; drawn under the chart, one row per group,
        ``"n at risk (cumulative relapses)"``, counts from 1 to ``min_cell - 1`` shown as ``"<11"``.
    origin : str
        Time origin, named on the x axis ("Days since discharge") and in the default title.
    benchmark_band : (low, high, label), optional
        Shaded horizontal band (proportions) with its label, drawn as given.
    horizon_days : float, optional
        A vertical dotted line at this day.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or f"Time to relapse by group (from {origin})"
    groups = _group_order(km["group"])
    colors = group_colors(groups)
    shown = truncate_curve(km, min_cell) if len(km) else km
    table = at_risk is not None and len(at_risk) > 0
    n_groups = max(len(groups), 1)
    if table:
        table_share = min(0.45, 0.06 + 0.045 * n_groups)
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[1 - table_share, table_share],
                            vertical_spacing=0.13)
        row = 1
    else:
        fig = go.Figure()
        row = None
    percent_word = "Cumulative relapse (%)" if as_relapse else "Relapse-free (%)"
    hover = ("%{y:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
             "at risk %{customdata[2]:,.0f}")
    dropped_groups = []
    x_max = 0.0
    cut = False
    for g in groups:
        key = str(g)
        color = colors[key]
        name = _esc(group_label(g))
        k_all = km[km["group"] == g]
        k = shown[shown["group"] == g]
        if len(k) < len(k_all):
            cut = True
        if k.empty:
            dropped_groups.append(group_label(g))
            continue
        pos = _corners(k, ("survival", "ci_lower", "ci_upper"))
        kk = k.iloc[pos]
        t = kk["time"].to_numpy(dtype="float64")
        s = kk["survival"].to_numpy(dtype="float64")
        lo, hi = _filled_interval(s, kk["ci_lower"].to_numpy(dtype="float64"),
                                  kk["ci_upper"].to_numpy(dtype="float64"))
        if as_relapse:
            y, lo, hi = 1 - s, 1 - hi, 1 - lo
        else:
            y = s
        x_max = max(x_max, float(t[-1]))
        custom = np.column_stack([lo, hi, kk["n_at_risk"].to_numpy(dtype="float64")])
        _curve_traces(fig, x=t, y=y, lo=lo, hi=hi, name=name, color=color, group_key=key,
                      hover=hover, customdata=custom, show_ci=show_ci, row=row)
        if show_censor_marks:
            cens = np.flatnonzero(k["n_censor"].to_numpy(dtype="float64") > 0)
            cens = _sample(cens, 120)
            if len(cens):
                ck = k.iloc[cens]
                cy = ck["survival"].to_numpy(dtype="float64")
                fig.add_trace(go.Scatter(
                    x=ck["time"].to_numpy(dtype="float64"), y=1 - cy if as_relapse else cy, mode="markers",
                    marker={"symbol": "line-ns-open", "size": 5, "color": color, "opacity": 0.7,
                            "line": {"width": 1, "color": color}},
                    hoverinfo="skip", showlegend=False, legendgroup=key, name=f"{name} censored"),
                    **({"row": row, "col": 1} if row else {}))
    if table:
        _at_risk_rows(fig, at_risk, groups, colors, min_cell)
        days = np.unique(at_risk["day"].to_numpy(dtype="float64"))
        x_max = max(x_max, float(days.max()))
        fig.update_xaxes(tickvals=days, row=1, col=1)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=2, col=1)
        fig.update_xaxes(showticklabels=True, title_text=f"Days since {_esc(origin)}", row=1, col=1)
    else:
        fig.update_xaxes(title_text=f"Days since {_esc(origin)}")
    pad = (0.06 if table else 0.02) * x_max if x_max > 0 else 1.0
    fig.update_xaxes(range=[-pad, x_max + pad])
    fig.update_yaxes(title_text=percent_word, tickformat=".0%", range=[0, 1.02], **({"row": 1, "col": 1} if table else {}))
    kw = {"row": 1, "col": 1} if table else {}
    if benchmark_band is not None:
        low, high, label = benchmark_band
        fig.add_hrect(y0=low, y1=high, fillcolor="#888888", opacity=0.15, line_width=0, layer="below",
                      annotation_text=_esc(label), annotation_position="top left",
                      annotation_font={"size": 11, "color": _NOTE_COLOR}, **kw)
    if horizon_days is not None:
        fig.add_vline(x=float(horizon_days), line_dash="dot", line_color="#444444", line_width=1,
                      annotation_text=f"{horizon_days:g} days", annotation_position="top right",
                      annotation_font={"size": 11, "color": _NOTE_COLOR}, **kw)
    _layout(fig, title, hovermode="x unified", height=560 + (40 * n_groups if table else 0))
    notes = []
    if cut or dropped_groups:
        notes.append(f"Curves stop where fewer than {min_cell} remain at risk ({_small_note(min_cell)})")
    if dropped_groups:
        notes.append("no curve: " + ", ".join(dropped_groups))
    if notes:
        _note(fig, "; ".join(notes) + ".")
    return fig


def _at_risk_rows(fig: go.Figure, at_risk: pd.DataFrame, groups: list, colors: dict[str, str],
                  min_cell: int) -> None:
    """Number-at-risk table in row 2: one text row per group, ``"n at risk (cumulative relapses)"``."""
    labels = []
    for g in groups:
        a = at_risk[at_risk["group"].astype(object) == g].sort_values("day")
        if a.empty:
            continue
        label = _esc(group_label(g))
        labels.append(label)
        n = format_count(a["n_at_risk"].reset_index(drop=True), min_cell=min_cell)
        text = n
        if "n_event_cum" in a.columns:
            ev = format_count(a["n_event_cum"].reset_index(drop=True), min_cell=min_cell)
            text = n + " (" + ev + ")"
        fig.add_trace(go.Scatter(x=a["day"].to_numpy(dtype="float64"), y=[label] * len(a), mode="text",
                                 text=text.tolist(), textfont={"color": colors[str(g)], "size": 12},
                                 hoverinfo="skip", showlegend=False, legendgroup=str(g),
                                 name=f"{label} at risk"), row=2, col=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels[::-1], showgrid=False,
                     zeroline=False, tickfont={"size": 12}, row=2, col=1,
                     title_text="")
    fig.add_annotation(text="Number at risk (cumulative relapses)", xref="x2 domain", yref="y2 domain",
                       x=0, y=1.02, xanchor="left", yanchor="bottom", showarrow=False,
                       font={"size": 12, "color": _NOTE_COLOR})


# ---------------------------------------------------------------------------------------------
# export helpers
# ---------------------------------------------------------------------------------------------
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
