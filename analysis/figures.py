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

from analysis.benchmarks import PROPORTION_UNITS
from analysis.retention import ASAM_MIN_HOURS_PER_WEEK, group_values, weeks_of_stay
from analysis.schema import DISCHARGE_REASON_LABELS, DISCHARGE_REASONS, LEVEL_LABELS, LEVELS_OF_CARE
from analysis.suppression import DEFAULT_MIN_CELL, format_count, truncate_curve

__all__ = [
    "LEVEL_COLORS", "OKABE_ITO", "REASON_COLORS", "PLACEMENT_STYLES", "group_colors", "group_label",
    "km_figure", "cumulative_incidence_figure", "retention_figure", "completion_figure",
    "reason_mix_figure", "los_figure", "hours_figure", "sankey_figure", "relapse_horizons_figure",
    "forest_figure", "balance_figure", "benchmark_figure", "to_image_config", "add_provenance",
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
    # explicit range: with few groups the top row would otherwise sit on the domain's edge and be clipped
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels[::-1], showgrid=False,
                     zeroline=False, tickfont={"size": 12}, row=2, col=1, range=[-0.7, len(labels) - 0.3],
                     title_text="")
    fig.add_annotation(text="Number at risk (cumulative relapses)", xref="x2 domain", yref="y2 domain",
                       x=0, y=1.02, xanchor="left", yanchor="bottom", showarrow=False,
                       font={"size": 12, "color": _NOTE_COLOR})


def _curves_figure(km: pd.DataFrame, *, value_col: str, lo_col: str | None, hi_col: str | None,
                   flip: bool, min_cell: int, hover: str, fig: go.Figure | None = None,
                   dash: str | None = None, show_ci: bool = True, showlegend: bool = True,
                   name_suffix: str = "") -> tuple[go.Figure, bool]:
    """Step curves per group from a KM-like table, truncated at ``min_cell`` at risk; returns (fig, cut)."""
    fig = fig if fig is not None else go.Figure()
    groups = _group_order(km["group"])
    colors = group_colors(groups)
    shown = truncate_curve(km, min_cell) if len(km) else km
    cut = len(shown) < len(km)
    cols = [value_col] + [c for c in (lo_col, hi_col) if c]
    for g in groups:
        k = shown[shown["group"] == g]
        if k.empty:
            continue
        kk = k.iloc[_corners(k, cols)]
        y = kk[value_col].to_numpy(dtype="float64")
        if lo_col and hi_col:
            lo, hi = _filled_interval(y, kk[lo_col].to_numpy(dtype="float64"), kk[hi_col].to_numpy(dtype="float64"))
        else:
            lo = hi = y
        if flip:
            y, lo, hi = 1 - y, 1 - hi, 1 - lo
        custom = np.column_stack([lo, hi, kk["n_at_risk"].to_numpy(dtype="float64")])
        _curve_traces(fig, x=kk["time"].to_numpy(dtype="float64"), y=y, lo=lo, hi=hi,
                      name=_esc(group_label(g)) + name_suffix, color=colors[str(g)], group_key=str(g),
                      hover=hover, customdata=custom, show_ci=show_ci and bool(lo_col), row=None, dash=dash,
                      showlegend=showlegend)
    return fig, cut


def _legend_key(fig: go.Figure, name: str, **line_or_marker) -> None:
    """A legend-only entry explaining a line style or marker (no data drawn)."""
    mode = "markers" if "marker" in line_or_marker else "lines"
    fig.add_trace(go.Scatter(x=[None], y=[None], mode=mode, name=name, hoverinfo="skip",
                             legendgroup=f"key:{name}", **line_or_marker))


def cumulative_incidence_figure(cif: pd.DataFrame, *, origin: str, min_cell: int = DEFAULT_MIN_CELL,
                                title: str | None = None) -> go.Figure:
    """Aalen-Johansen cumulative incidence of relapse (solid, with interval band) and death (dashed).

    Death is a competing event: ``F_relapse(t) + F_death(t) + S(t) = 1``
    (:func:`analysis.survival.cumulative_incidence`). Curves stop where fewer than ``min_cell``
    remain at risk.

    Parameters
    ----------
    cif : DataFrame
        group, time, n_at_risk, cif_relapse, ci_lower, ci_upper, cif_death.
    origin : str
        Time origin named on the x axis.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or f"Cumulative incidence of relapse, death as a competing event (from {origin})"
    fig, cut = _curves_figure(cif, value_col="cif_relapse", lo_col="ci_lower", hi_col="ci_upper", flip=False,
                              min_cell=min_cell,
                              hover=("relapse %{y:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
                                     "at risk %{customdata[2]:,.0f}"))
    _curves_figure(cif, value_col="cif_death", lo_col=None, hi_col=None, flip=False, min_cell=min_cell,
                   hover="death %{y:.1%}", fig=fig, dash="dash", show_ci=False, showlegend=False,
                   name_suffix=" (death)")
    _legend_key(fig, "Relapse (solid)", line={"color": "#444444"})
    _legend_key(fig, "Death, competing (dashed)", line={"color": "#444444", "dash": "dash"})
    fig.update_xaxes(title_text=f"Days since {_esc(origin)}", rangemode="tozero")
    fig.update_yaxes(title_text="Cumulative incidence (%)", tickformat=".0%", rangemode="tozero")
    _layout(fig, title, hovermode="x unified")
    if cut:
        _note(fig, f"Curves stop where fewer than {min_cell} remain at risk ({_small_note(min_cell)}).")
    return fig


def retention_figure(km: pd.DataFrame, *, marks: Sequence[float] = (30, 60, 90), min_cell: int = DEFAULT_MIN_CELL,
                     title: str | None = None) -> go.Figure:
    """Share still in treatment by day since admission (Kaplan-Meier, log-log band), lines at ``marks``.

    ``survival`` of :func:`analysis.retention.retention_curve` is the share not yet discharged
    ``S(t) = prod (1 - d_j / n_j)``; curves stop where fewer than ``min_cell`` remain.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Retention in treatment by group (from admission)"
    fig, cut = _curves_figure(km, value_col="survival", lo_col="ci_lower", hi_col="ci_upper", flip=False,
                              min_cell=min_cell,
                              hover=("in treatment %{y:.1%} (95% CI %{customdata[0]:.1%} to "
                                     "%{customdata[1]:.1%}), n %{customdata[2]:,.0f}"))
    for m in marks:
        fig.add_vline(x=float(m), line_dash="dot", line_color="#444444", line_width=1,
                      annotation_text=f"{m:g} d", annotation_position="top right",
                      annotation_font={"size": 11, "color": _NOTE_COLOR})
    fig.update_xaxes(title_text="Days since admission", rangemode="tozero")
    fig.update_yaxes(title_text="Still in treatment (%)", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, hovermode="x unified")
    if cut:
        _note(fig, f"Curves stop where fewer than {min_cell} remain in treatment ({_small_note(min_cell)}).")
    return fig


# ---------------------------------------------------------------------------------------------
# rates per group
# ---------------------------------------------------------------------------------------------
def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _count_text(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df.columns:
        return [""] * len(df)
    return format_count(df[col].reset_index(drop=True)).replace("", "suppressed").tolist()


def completion_figure(completion: pd.DataFrame, *, placements: pd.DataFrame | None = None,
                      title: str | None = None) -> go.Figure:
    """Completion rate per group, horizontal bars with Wilson 95% error bars, benchmark bands per row.

    Rate = completed / (discharged - transferred) (:func:`analysis.retention.completion_rates`);
    rows whose rate is suppressed (NaN) are left out with a ``"<11: not shown"`` note.

    Parameters
    ----------
    completion : DataFrame
        group, completion_rate, ci_lower, ci_upper (n_completed, n_discharged, n_transferred for hover).
    placements : DataFrame, optional
        group, benchmark_low, benchmark_high, benchmark_label: a translucent rectangle on the row
        of each group (a point value is drawn as a thin bar).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Treatment completion by group (transfers excluded)"
    groups = _group_order(completion["group"])
    colors = group_colors(groups)
    fig = go.Figure()
    labels = [_esc(group_label(g)) for g in groups]
    hidden = []
    for g, label in zip(groups, labels, strict=True):
        r = completion[completion["group"].astype(object) == g]
        rate = _num(r, "completion_rate")
        if len(r) == 0 or np.isnan(rate[0]):
            hidden.append(group_label(g))
            continue
        lo, hi = _num(r, "ci_lower")[0], _num(r, "ci_upper")[0]
        n_c = _count_text(r, "n_completed")[0]
        basis = r.get("n_discharged", pd.Series([np.nan])).astype(float).to_numpy()[0] - \
            r.get("n_transferred", pd.Series([0.0])).astype(float).fillna(0).to_numpy()[0]
        basis_text = format_count(basis) if basis == basis else "suppressed"
        fig.add_trace(go.Bar(
            x=[rate[0]], y=[label], orientation="h", name=label, legendgroup=str(g),
            marker={"color": colors[str(g)], "opacity": 0.85},
            error_x={"type": "data", "symmetric": False, "array": [max(hi - rate[0], 0) if hi == hi else 0],
                     "arrayminus": [max(rate[0] - lo, 0) if lo == lo else 0], "color": "#333333", "thickness": 1.5},
            customdata=[[lo, hi, n_c, basis_text]],
            hovertemplate=("%{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}); "
                           "%{customdata[2]} of %{customdata[3]} discharges<extra>%{fullData.name}</extra>")))
    if placements is not None and len(placements):
        bx, by, btext = [], [], []
        for _, p in placements.iterrows():  # a handful of rows: one per benchmark
            g = p["group"]
            if g not in groups or group_label(g) in hidden:
                continue
            i = groups.index(g)
            low, high = float(p["benchmark_low"]), float(p["benchmark_high"])
            if high - low < 0.006:
                low, high = low - 0.003, high + 0.003
            fig.add_shape(type="rect", x0=low, x1=high, y0=i - 0.45, y1=i + 0.45, xref="x", yref="y",
                          fillcolor="#888888", opacity=0.3, line_width=0, layer="above")
            bx.append((float(p["benchmark_low"]) + float(p["benchmark_high"])) / 2)
            by.append(labels[i])
            btext.append(_esc(p.get("benchmark_label", "benchmark")))
        if bx:
            fig.add_trace(go.Scatter(x=bx, y=by, mode="markers", name="Published benchmark",
                                     marker={"symbol": "line-ns", "size": 22, "color": "#555555",
                                             "line": {"width": 2, "color": "#555555"}},
                                     hovertext=btext, hovertemplate="benchmark %{x:.0%}: %{hovertext}<extra></extra>"))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed",
                     title_text="Group")
    fig.update_xaxes(title_text="Completed (% of discharges, transfers excluded)", tickformat=".0%",
                     range=[0, 1.0])
    _layout(fig, title, height=max(320, 120 + 55 * len(groups)))
    fig.update_layout(bargap=0.35)
    if hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: " + ", ".join(hidden) + ".")
    return fig


def reason_mix_figure(mix: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Discharge reasons per group as 100% stacked horizontal bars, one fixed colour per reason.

    Share = episodes with the reason / discharged episodes of the group
    (:func:`analysis.retention.discharge_reason_mix`); suppressed shares (NaN) are left out and noted.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Discharge reasons by group"
    groups = _group_order(mix["group"])
    labels = [_esc(group_label(g)) for g in groups]
    gkey = mix["group"].astype(object)
    fig = go.Figure()
    n_hidden = 0
    reasons = [r for r in DISCHARGE_REASONS if (mix["reason"] == r).any()]
    reasons += [r for r in pd.unique(mix["reason"]) if r not in reasons]
    for reason in reasons:
        rows = mix[mix["reason"] == reason]
        share = _num(rows, "share")
        n = _num(rows, "n")
        hide = np.isnan(share) | (np.isnan(n) if "n" in rows.columns else False)
        n_hidden += int(hide.sum())
        rows = rows[~hide]
        if rows.empty:
            continue
        y = [_esc(group_label(g)) for g in rows["group"].astype(object)]
        custom = np.column_stack([_num(rows, "ci_lower"), _num(rows, "ci_upper")]).astype(object)
        custom = np.column_stack([custom, _count_text(rows, "n"), _count_text(rows, "n_discharged")])
        name = _esc(DISCHARGE_REASON_LABELS.get(reason, reason))
        fig.add_trace(go.Bar(x=_num(rows, "share"), y=y, orientation="h", name=name, legendgroup=str(reason),
                             marker={"color": REASON_COLORS.get(reason, "#BBBBBB")}, customdata=custom,
                             hovertemplate=("%{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}); "
                                            "%{customdata[2]} of %{customdata[3]}<extra>%{fullData.name}</extra>")))
    del gkey
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed",
                     title_text="Group")
    fig.update_xaxes(title_text="Share of discharges (%)", tickformat=".0%", range=[0, 1.0])
    _layout(fig, title, legend_title="Discharge reason", height=max(340, 160 + 50 * len(groups)))
    if n_hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: {n_hidden} small or protecting cells left out, "
                   "so some bars do not reach 100%.")
    return fig


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------
def _box_stats(values: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """Per group: n, quartiles (linear interpolation, as pandas) and Tukey whiskers (furthest value
    within 1.5 IQR of the quartiles). One mask per group: fast on millions of rows."""
    groups = groups if isinstance(groups.dtype, pd.CategoricalDtype) else groups.astype("category")
    codes = groups.cat.codes.to_numpy()
    v = np.asarray(values, dtype="float64")
    ok = ~np.isnan(v) & (codes >= 0)
    rows = {}
    for k, cat in enumerate(groups.cat.categories):
        x = v[ok & (codes == k)]
        if len(x) == 0:
            continue
        q1, med, q3 = np.quantile(x, (0.25, 0.5, 0.75))
        iqr = q3 - q1
        rows[cat] = {"n": len(x), "q1": q1, "median": med, "q3": q3, "mean": float(x.mean()),
                     "lowerfence": float(x[x >= q1 - 1.5 * iqr].min()),
                     "upperfence": float(x[x <= q3 + 1.5 * iqr].max())}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["n", "q1", "median", "q3", "mean", "lowerfence",
                                                                 "upperfence"])


def _box_trace(st: pd.Series, *, x: str, name: str, color: str, group_key: str, fill_alpha: float,
               offsetgroup: str | None = None, showlegend: bool = True) -> go.Box:
    return go.Box(x=[x], q1=[st["q1"]], median=[st["median"]], q3=[st["q3"]], lowerfence=[st["lowerfence"]],
                  upperfence=[st["upperfence"]], mean=[st["mean"]], name=name, legendgroup=group_key,
                  offsetgroup=offsetgroup, showlegend=showlegend,
                  marker={"color": color}, line={"color": color}, fillcolor=_rgba(color, fill_alpha),
                  hoverinfo="y+name")


def los_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
               title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, log_y: bool = False) -> go.Figure:
    """Length of stay (days) of discharged episodes, a box per group (quartiles, Tukey whiskers).

    Boxes are computed here (quartiles by linear interpolation, whiskers at the furthest stay
    within 1.5 IQR of the quartiles) so a million episodes send only five numbers per group; single
    outlying stays are not drawn (they could identify people). Groups with fewer than ``min_cell``
    discharged episodes are left out and noted.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Length of stay by group (discharged episodes)"
    g = group_values(cohort, by, groups)
    done = ~cohort["in_treatment"].to_numpy(dtype=bool) & g.notna().to_numpy()
    order = list(g.cat.categories)
    st = _box_stats(cohort.loc[done, "los_days"], g[done])
    colors = group_colors(order)
    fig = go.Figure()
    hidden = []
    for grp in order:
        if grp not in st.index or st.loc[grp, "n"] < min_cell:
            hidden.append(group_label(grp))
            continue
        label = _esc(group_label(grp))
        fig.add_trace(_box_trace(st.loc[grp], x=label, name=label, color=colors[str(grp)], group_key=str(grp),
                                 fill_alpha=0.35))
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category")
    fig.update_yaxes(title_text="Length of stay (days)" + (", log scale" if log_y else ""),
                     type="log" if log_y else "linear", rangemode="tozero")
    if log_y:
        ticks = [1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825]
        fig.update_yaxes(tickvals=ticks, ticktext=[str(v) for v in ticks], minor={"showgrid": False})
    _layout(fig, title)
    notes = ["Box: quartiles and median (dashed: mean); whiskers: furthest stay within 1.5 IQR; "
             "outlying stays not drawn"]
    if hidden:
        notes.append(f"{_small_note(min_cell)}: " + ", ".join(hidden))
    _note(fig, ". ".join(notes) + ".")
    return fig


def _by_label(by: str) -> str:
    return "Level of care" if by == "level_of_care" else by.replace("_", " ").capitalize()


def hours_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                 title: str | None = None, min_cell: int = DEFAULT_MIN_CELL) -> go.Figure:
    """Scheduled and attended treatment hours per week per episode, boxes per group, ASAM minima as lines.

    Hours per week = hours / (max(length of stay, 1 day) / 7), as
    :func:`analysis.retention.engagement`. Dashed lines at the ASAM minimum scheduled hours
    (:data:`analysis.retention.ASAM_MIN_HOURS_PER_WEEK`: IOP 9, PHP 20 h/week). Groups with fewer
    than ``min_cell`` episodes with hours are left out and noted.

    Raises
    ------
    ValueError
        If the data have no hours_scheduled and hours_attended columns.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if not {"hours_scheduled", "hours_attended"} <= set(cohort.columns):
        raise ValueError("The data have no hours_scheduled and hours_attended columns, so hours per week "
                         "cannot be shown.")
    title = title or "Treatment hours per week by group"
    g = group_values(cohort, by, groups)
    ok = g.notna().to_numpy()
    c = cohort.loc[ok, [x for x in ("los_days", "hours_scheduled", "hours_attended") if x in cohort.columns]]
    weeks = weeks_of_stay(c["los_days"])
    sched = pd.to_numeric(c["hours_scheduled"], errors="coerce").to_numpy(dtype="float64") / weeks
    att = pd.to_numeric(c["hours_attended"], errors="coerce").to_numpy(dtype="float64") / weeks
    has = ~np.isnan(sched) & ~np.isnan(att)
    gg = g[ok][has]
    order = list(g.cat.categories)
    colors = group_colors(order)
    stats = {"Scheduled": _box_stats(pd.Series(sched[has]), gg), "Attended": _box_stats(pd.Series(att[has]), gg)}
    fig = go.Figure()
    hidden = []
    for grp in order:
        st_s = stats["Scheduled"]
        if grp not in st_s.index or st_s.loc[grp, "n"] < min_cell:
            hidden.append(group_label(grp))
            continue
        label = _esc(group_label(grp))
        for series, alpha in (("Scheduled", 0.08), ("Attended", 0.55)):
            fig.add_trace(_box_trace(stats[series].loc[grp], x=label,
                                     name=label if series == "Attended" else f"{label}: scheduled",
                                     color=colors[str(grp)], group_key=str(grp), fill_alpha=alpha,
                                     offsetgroup=series, showlegend=series == "Attended"))
    for level, hours in ASAM_MIN_HOURS_PER_WEEK.items():
        fig.add_hline(y=hours, line_dash="dash", line_color="#444444", line_width=1,
                      annotation_text=f"ASAM minimum {group_label(level)} {hours:g} h/week",
                      annotation_position="top left", annotation_font={"size": 11, "color": _NOTE_COLOR})
    fig.update_layout(boxmode="group")
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category")
    fig.update_yaxes(title_text="Hours per week", rangemode="tozero")
    _layout(fig, title)
    notes = ["Per group: left box scheduled (light), right box attended (filled); whiskers 1.5 IQR; "
             "dashed: mean"]
    if hidden:
        notes.append(f"{_small_note(min_cell)}: " + ", ".join(hidden))
    _note(fig, ". ".join(notes) + ".")
    return fig


# ---------------------------------------------------------------------------------------------
# flows
# ---------------------------------------------------------------------------------------------
def sankey_figure(flows: pd.DataFrame, *, min_cell: int = DEFAULT_MIN_CELL, title: str | None = None) -> go.Figure:
    """Where discharges went next: level discharged from (left) to the next episode's level (right).

    Links with ``n < min_cell`` are dropped (not merged, so a hidden count cannot be worked out from a
    shown total), and the number of hidden links is noted. Node colours: :data:`LEVEL_COLORS`,
    grey for "no further episode".

    Parameters
    ----------
    flows : DataFrame
        :func:`analysis.retention.step_down_flows` output: from_level, to_level, n.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Next level of care after discharge"
    n = _num(flows, "n")
    keep = n >= min_cell
    n_hidden = int(((n >= 1) & ~keep).sum() + np.isnan(n).sum())
    f = flows[keep]
    sources = _group_order(f["from_level"].astype(object)) if len(f) else []
    targets = _group_order(f["to_level"].astype(object)) if len(f) else []
    colors = group_colors([*sources, *[t for t in targets if t not in sources]])
    node_labels = [f"{_esc(group_label(s))} (discharged)" for s in sources]
    node_labels += [_esc(group_label(t)) if _level_code(t) else _esc(str(t).capitalize()) for t in targets]
    node_colors = [colors[str(s)] for s in sources]
    node_colors += [LEVEL_COLORS[_level_code(t)] if _level_code(t) else "#999999" for t in targets]
    src_idx = {s: i for i, s in enumerate(sources)}
    tgt_idx = {t: len(sources) + i for i, t in enumerate(targets)}
    link_src = [src_idx[s] for s in f["from_level"].astype(object)]
    link_tgt = [tgt_idx[t] for t in f["to_level"].astype(object)]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": node_labels, "color": node_colors, "pad": 18, "thickness": 16,
              "line": {"color": "#FFFFFF", "width": 0.5},
              "hovertemplate": "%{label}: %{value:,.0f} episodes<extra></extra>"},
        link={"source": link_src, "target": link_tgt, "value": f["n"].to_numpy(dtype="float64"),
              "color": [_rgba(node_colors[s] if node_colors[s] != "#999999" else "#999999", 0.35)
                        for s in link_src],
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,.0f} episodes<extra></extra>"},
        name="Discharges",
    ))
    _layout(fig, title, height=max(420, 60 * max(len(sources), len(targets), 1) + 200))
    fig.update_layout(showlegend=False)
    if n_hidden:
        _note(fig, f"{n_hidden} link{'s' if n_hidden != 1 else ''} with fewer than {min_cell} episodes "
                   f"not shown ({_small_note(min_cell)}).")
    return fig


# ---------------------------------------------------------------------------------------------
# relapse by horizon, models, benchmarks
# ---------------------------------------------------------------------------------------------
def relapse_horizons_figure(rates: pd.DataFrame, *, title: str | None = None,
                            benchmark_band: tuple[float, float, str] | None = None) -> go.Figure:
    """Cumulative relapse by horizon per group: KM with interval, naive share and lost-as-relapse share.

    Per group and horizon (:func:`analysis.relapse.relapse_rates`): the Kaplan-Meier estimate
    ``1 - S(h)`` with its interval (filled marker and error bar), the naive share
    ``relapsed / reached`` (hollow marker) and the share counting everyone not reached as relapsed
    ``(relapsed + not reached) / eligible`` (x marker). Groups sit side by side within each horizon.
    Suppressed values (NaN) are left out and noted. ``benchmark_band`` is drawn over the 365-day
    horizon when present.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    origin = str(rates["origin"].iloc[0]) if "origin" in rates.columns and len(rates) else "discharge"
    title = title or f"Relapse by time since {origin}"
    horizons = sorted(pd.unique(rates["horizon_days"].astype(int)))
    hpos = {h: i for i, h in enumerate(horizons)}
    groups = _group_order(rates["group"])
    colors = group_colors(groups)
    width = 0.8 / max(len(groups), 1)
    fig = go.Figure()
    n_hidden = 0
    for j, g in enumerate(groups):
        r = rates[rates["group"].astype(object) == g].sort_values("horizon_days")
        x = np.array([hpos[int(h)] for h in r["horizon_days"]], dtype=float) + (j - (len(groups) - 1) / 2) * width
        color = colors[str(g)]
        label = _esc(group_label(g))
        km, lo, hi = _num(r, "km_relapse"), _num(r, "km_lower"), _num(r, "km_upper")
        ok = ~np.isnan(km)
        n_hidden += int((~ok).sum())
        hz = [f"{int(h)} d" for h in r["horizon_days"]]
        custom = np.column_stack([lo, hi, _num(r, "n_at_risk"), hz]).astype(object)
        fig.add_trace(go.Scatter(
            x=x[ok], y=km[ok], mode="markers", name=label, legendgroup=str(g),
            marker={"color": color, "size": 10, "symbol": "circle"},
            error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - km)[ok],
                     "arrayminus": np.nan_to_num(km - lo)[ok], "color": color, "thickness": 1.5, "width": 4},
            customdata=custom[ok],
            hovertemplate=("%{customdata[3]}: Kaplan-Meier %{y:.1%} (95% CI %{customdata[0]:.1%} to "
                           "%{customdata[1]:.1%}), at risk %{customdata[2]:,.0f}<extra>%{fullData.name}</extra>")))
        nv = _num(r, "naive_rate")
        okn = ~np.isnan(nv)
        n_hidden += int((~okn).sum())
        cn = np.column_stack([_num(r, "naive_lower"), _num(r, "naive_upper"), _count_text(r, "n_reached"),
                              _count_text(r, "n_eligible"), hz]).astype(object)
        fig.add_trace(go.Scatter(
            x=x[okn], y=nv[okn], mode="markers", name=f"{label} naive", legendgroup=str(g), showlegend=False,
            marker={"color": color, "size": 10, "symbol": "circle-open", "line": {"width": 2}},
            customdata=cn[okn],
            hovertemplate=("%{customdata[4]}: naive share %{y:.1%} (95% CI %{customdata[0]:.1%} to "
                           "%{customdata[1]:.1%}) among %{customdata[2]} reached of %{customdata[3]} eligible"
                           "<extra>%{fullData.name}</extra>")))
        la = _num(r, "bound_all_relapsed")
        okl = ~np.isnan(la)
        n_hidden += int((~okl).sum())
        cl = np.column_stack([_num(r, "lost_as_relapse_lower"), _num(r, "lost_as_relapse_upper"), hz]).astype(object)
        fig.add_trace(go.Scatter(
            x=x[okl], y=la[okl], mode="markers", name=f"{label} lost as relapse", legendgroup=str(g),
            showlegend=False, marker={"color": color, "size": 9, "symbol": "x-thin", "line": {"color": color, "width": 2}},
            customdata=cl[okl],
            hovertemplate=("%{customdata[2]}: not reached counted as relapse %{y:.1%} (95% CI "
                           "%{customdata[0]:.1%} to %{customdata[1]:.1%})<extra>%{fullData.name}</extra>")))
    _legend_key(fig, "Kaplan-Meier with 95% CI (filled)", marker={"color": "#444444", "size": 9, "symbol": "circle"})
    _legend_key(fig, "Naive: among those reached (hollow)",
                marker={"color": "#444444", "size": 10, "symbol": "circle-open", "line": {"width": 2}})
    _legend_key(fig, "Not reached counted as relapse (×)",
                marker={"color": "#444444", "size": 9, "symbol": "x-thin", "line": {"color": "#444444", "width": 2}})
    if benchmark_band is not None and 365 in hpos:
        low, high, label = benchmark_band
        i = hpos[365]
        fig.add_shape(type="rect", x0=i - 0.48, x1=i + 0.48, y0=low, y1=high, fillcolor="#888888", opacity=0.15,
                      line_width=0, layer="below")
        # label in the empty top of the plot (relapse shares rarely reach 90%), clear of the markers
        fig.add_annotation(x=i + 0.48, y=0.98, text="Shaded: " + _esc(label), showarrow=False, xanchor="right",
                           yanchor="top", font={"size": 11, "color": _NOTE_COLOR})
    fig.update_xaxes(title_text=f"Days since {_esc(origin)} (horizon)", tickvals=list(range(len(horizons))),
                     ticktext=[f"{h} d" for h in horizons], range=[-0.5, len(horizons) - 0.5], showgrid=False,
                     zeroline=False)
    fig.update_yaxes(title_text="Cumulative relapse (%)", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, height=560)  # tall enough for the legend of six groups and three marker keys
    if n_hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: {n_hidden} suppressed value{'s' if n_hidden != 1 else ''} left out.")
    return fig


def forest_figure(terms: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Hazard ratios with 95% Wald intervals ``exp(coef +- z se)`` on a log axis, reference line at 1.

    Rows in the order of ``terms`` (:attr:`analysis.cox.CoxResult.terms`), top to bottom. Level-of-care
    terms (``group[iop]``) take their level colour. Infinite or zero limits (a level without
    relapses) are clipped to the axis with an arrow annotation.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Hazard ratios of relapse (Cox model, 95% CI)"
    t = terms.reset_index(drop=True)
    hr, lo, hi, p = _num(t, "hr"), _num(t, "lower"), _num(t, "upper"), _num(t, "p")
    labels = [_esc(_term_label(x)) for x in t["term"].astype(str)]
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (hr, lo, hi)] + [np.array([1.0])])
    x_min, x_max = finite.min() / 1.5, finite.max() * 1.5
    lo_c = np.where(np.isfinite(lo) & (lo > 0), lo, x_min)
    hi_c = np.where(np.isfinite(hi), hi, x_max)
    ok = np.isfinite(hr) & (hr > 0)
    lvl = [_level_code(s[s.index("[") + 1:-1]) if "[" in s and s.endswith("]") else None
           for s in t["term"].astype(str)]
    colors = [LEVEL_COLORS[c] if c else "#000000" for c in lvl]
    p_text = ["p < 0.001" if v < 0.001 else (f"p = {v:.3f}" if v == v else "p n/a") for v in p]
    custom = np.column_stack([lo, hi, p_text]).astype(object)
    fig = go.Figure(go.Scatter(
        x=hr[ok], y=np.array(labels, dtype=object)[ok], mode="markers", name="Hazard ratio (95% CI)",
        showlegend=False,
        marker={"color": np.array(colors, dtype=object)[ok].tolist(), "size": 10, "symbol": "square"},
        error_x={"type": "data", "symmetric": False, "array": (hi_c - hr)[ok], "arrayminus": (hr - lo_c)[ok],
                 "color": "#333333", "thickness": 1.5, "width": 4},
        customdata=custom[ok],
        hovertemplate="HR %{x:.2f} (95% CI %{customdata[0]:.2f} to %{customdata[1]:.2f}), %{customdata[2]}"
                      "<extra>%{y}</extra>"))
    for i in np.flatnonzero(ok & (~np.isfinite(hi) | ~np.isfinite(lo) | (lo <= 0))):
        if not np.isfinite(hi[i]):
            fig.add_annotation(x=np.log10(x_max), y=labels[i], ax=-30, ay=0, text="∞", showarrow=True,
                               arrowhead=2, xanchor="left", font={"size": 11, "color": _NOTE_COLOR})
        if not (np.isfinite(lo[i]) and lo[i] > 0):
            fig.add_annotation(x=np.log10(x_min), y=labels[i], ax=30, ay=0, text="0", showarrow=True,
                               arrowhead=2, xanchor="right", font={"size": 11, "color": _NOTE_COLOR})
    _legend_key(fig, "Hazard ratio (95% CI)", marker={"color": "#000000", "size": 10, "symbol": "square"})
    fig.add_vline(x=1, line_dash="dash", line_color="#444444", line_width=1)
    ticks = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)
             if x_min <= v <= x_max]
    fig.update_xaxes(type="log", title_text="Hazard ratio (log scale)", range=[np.log10(x_min), np.log10(x_max)],
                     tickvals=ticks, ticktext=[f"{v:g}" for v in ticks], minor={"showgrid": False})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed",
                     title_text="Term")
    _layout(fig, title, height=max(320, 140 + 32 * len(t)))
    notes = ["Hazard ratio > 1: relapse sooner than the reference"]
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} term(s) without an estimate not shown")
    if ok.any() and (~np.isfinite(hi) | ~(lo > 0))[ok].any():
        notes.append("open-ended intervals clipped at the axis")
    _note(fig, "; ".join(notes) + ".")
    return fig


def _term_label(term: str) -> str:
    """``"level_of_care[iop]"`` -> ``"Level of care: IOP"``; other terms unchanged."""
    if "[" in term and term.endswith("]"):
        col, level = term[:-1].split("[", 1)
        return f"{_by_label(col)}: {group_label(level)}"
    return term


def balance_figure(balance: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Case-mix balance: absolute standardized mean differences, largest first, line at 0.1.

    ``SMD = (mean_1 - mean_0) / sqrt((s_1^2 + s_0^2) / 2)`` per variable level (computed by the case-mix
    module); ``|SMD| > 0.1`` is the usual sign of imbalance (Austin 2009).

    Parameters
    ----------
    balance : DataFrame
        variable, level (may be blank for numeric variables), smd; an optional ``group`` (or
        ``comparison``) column colours the dots.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Case-mix balance: standardized differences"
    b = balance.copy()
    b["abs_smd"] = np.abs(_num(b, "smd"))
    level = b["level"].astype(object) if "level" in b.columns else pd.Series(None, index=b.index)
    b["label"] = [_esc(v) if (lv is None or lv != lv or str(lv) == "") else f"{_esc(v)}: {_esc(lv)}"
                  for v, lv in zip(b["variable"].astype(str), level, strict=True)]
    b = b.dropna(subset=["abs_smd"])
    col = "group" if "group" in b.columns else ("comparison" if "comparison" in b.columns else None)
    order = (b.groupby("label", sort=False)["abs_smd"].max().sort_values(ascending=False).index.tolist())
    fig = go.Figure()
    if col is None:
        fig.add_trace(go.Scatter(x=b["abs_smd"], y=b["label"], mode="markers", name="|SMD|",
                                 marker={"color": "#000000", "size": 9}, customdata=_num(b, "smd"),
                                 hovertemplate="|SMD| %{x:.3f} (signed %{customdata:.3f})<extra>%{y}</extra>"))
    else:
        groups = _group_order(b[col])
        colors = group_colors(groups)
        for g in groups:
            r = b[b[col].astype(object) == g]
            name = _esc(group_label(g))
            fig.add_trace(go.Scatter(x=r["abs_smd"], y=r["label"], mode="markers", name=name, legendgroup=str(g),
                                     marker={"color": colors[str(g)], "size": 9}, customdata=_num(r, "smd"),
                                     hovertemplate=("|SMD| %{x:.3f} (signed %{customdata:.3f})"
                                                    "<extra>%{fullData.name}: %{y}</extra>")))
    fig.add_vline(x=0.1, line_dash="dash", line_color="#D55E00", line_width=1,
                  annotation_text="0.1: imbalance", annotation_position="top right",
                  annotation_font={"size": 11, "color": "#D55E00"})
    fig.update_xaxes(title_text="Absolute standardized difference (SD units)", rangemode="tozero")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, autorange="reversed",
                     title_text="Variable")
    _layout(fig, title, height=max(320, 140 + 24 * len(order)))
    return fig


PLACEMENT_STYLES: dict[str, tuple[str, str]] = {
    "below": ("#0072B2", "triangle-left"), "inside": ("#000000", "circle"),
    "overlapping": ("#999999", "diamond"), "above": ("#D55E00", "triangle-right"), "unknown": ("#BBBBBB", "x"),
}
"""Colour and marker per placement of an estimate against a benchmark band."""


def _source_short(p: pd.Series) -> str:
    src = str(p.get("benchmark_source", "") or "")
    author = src.split(" ")[0].rstrip(",.") if src else "benchmark"
    year = p.get("benchmark_year")
    year = "" if year is None or year != year or str(year) == "" else f" {int(float(year))}"
    return f"{author}{year}"


def benchmark_figure(placements: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Each estimate (point, 95% CI) against its benchmark band (grey bar from low to high).

    Placement (:func:`analysis.benchmarks.compare_to_benchmark`): below (upper < low), above
    (lower > high), inside, overlapping. Only proportion benchmarks are drawn (hours per week
    belong on the hours chart); others are noted.

    Parameters
    ----------
    placements : DataFrame
        :func:`analysis.benchmarks.place_against_benchmarks` output; an optional ``what`` column gives
        each row's label (else it is built from metric, horizon and level).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Estimates against published benchmarks"
    p = placements.reset_index(drop=True)
    unit = p["benchmark_unit"].astype(str) if "benchmark_unit" in p.columns else pd.Series("person", index=p.index)
    prop = unit.isin(PROPORTION_UNITS).to_numpy()
    n_other = int((~prop).sum())
    p = p[prop].reset_index(drop=True)
    rows = []
    for _, r in p.iterrows():  # one row per estimate-benchmark pair (a handful)
        if "what" in p.columns and isinstance(r["what"], str) and r["what"]:  # caller's readable label
            rows.append(_esc(f"{r['what']} vs {_source_short(r)}"))
            continue
        metric = str(r["metric"]).replace("_", " ")
        lvl = r.get("level_of_care")
        lvl_text = group_label(lvl) if lvl is not None and lvl == lvl and str(lvl) not in ("", "all") else "all levels"
        h = r.get("horizon_days")
        h_text = f", {int(float(h))} d" if h is not None and h == h and str(h) != "" else ""
        rows.append(_esc(f"{metric}{h_text}, {lvl_text} vs {_source_short(r)}"))
    p["row"] = rows
    low, high = _num(p, "benchmark_low"), _num(p, "benchmark_high")
    width = np.where(high - low < 0.006, 0.006, high - low)
    base = np.where(high - low < 0.006, (low + high) / 2 - 0.003, low)
    fig = go.Figure(go.Bar(x=width, base=base, y=p["row"], orientation="h", name="Benchmark band",
                           marker={"color": "rgba(136,136,136,0.35)"},
                           customdata=np.column_stack([low, high, [_esc(s) for s in p.get(
                               "benchmark_population", pd.Series("", index=p.index)).fillna("").astype(str)]]
                                                      ).astype(object) if len(p) else None,
                           hovertemplate="band %{customdata[0]:.1%} to %{customdata[1]:.1%}<br>%{customdata[2]}"
                                         "<extra></extra>"))
    est, lo, hi = _num(p, "estimate"), _num(p, "lower"), _num(p, "upper")
    place = p["placement"].astype(str) if "placement" in p.columns else pd.Series("unknown", index=p.index)
    for name, (color, symbol) in PLACEMENT_STYLES.items():
        m = (place == name).to_numpy() & ~np.isnan(est)
        if not m.any():
            continue
        fig.add_trace(go.Scatter(
            x=est[m], y=p["row"][m], mode="markers", name=f"Estimate: {name}", legendgroup=name,
            marker={"color": color, "symbol": symbol, "size": 11},
            error_x={"type": "data", "symmetric": False, "array": np.nan_to_num(hi - est)[m],
                     "arrayminus": np.nan_to_num(est - lo)[m], "color": color, "thickness": 1.5, "width": 4},
            customdata=np.column_stack([lo[m], hi[m]]),
            hovertemplate=("estimate %{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
                           f"{name}<extra></extra>")))
    fig.update_xaxes(title_text="Estimate and benchmark (%)", tickformat=".0%", range=[0, 1.0])
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=list(dict.fromkeys(rows)),
                     autorange="reversed", title_text="")
    _layout(fig, title, height=max(320, 140 + 40 * len(p)))
    fig.update_layout(margin={"l": 280}, bargap=0.45)
    notes = ["Bar: published band; point: this program's estimate with 95% CI"]
    if n_other:
        notes.append(f"{n_other} benchmark(s) not in percent (hours per week) shown on the hours chart")
    if np.isnan(est).any():
        notes.append(f"{_small_note(DEFAULT_MIN_CELL)}: {int(np.isnan(est).sum())} estimate(s)")
    _note(fig, "; ".join(notes) + ".")
    return fig


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
