"""Time-to-event curves: Kaplan-Meier with its number-at-risk table, cumulative incidence."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._layout import (
    _NOTE_COLOR,
    _esc,
    _group_order,
    _layout,
    _legend_key,
    _note,
    _rgba,
    _small_note,
    group_colors,
    group_label,
)
from analysis.suppression import DEFAULT_MIN_CELL, format_count, truncate_curve


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
