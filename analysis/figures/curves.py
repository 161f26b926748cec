"""Time-to-event curves: Kaplan-Meier with its risk table, cumulative incidence; the step-curve helpers.

Curves are sent at a size that does not grow with the cohort: only step corners are drawn (rows
where the estimate or its interval changes, plus the first and last row), at most
:data:`MAX_CURVE_POINTS` per curve (corners closer than ``1/MAX_CURVE_POINTS`` of the time axis,
well under a pixel, are merged into the last of them), at most 120 censor marks per group, and the
plotted numbers are float32.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.benchmarks import BenchmarkBand
from analysis.figures._layout import (
    _NOTE_COLOR,
    _esc,
    _f32,
    _group_order,
    _layout,
    _legend_key,
    _note,
    _rgba,
    _small_note,
    group_colors,
    group_label,
)
from analysis.figures.benchmarks import as_band, draw_band_at_horizon
from analysis.figures.risk_table import ROW_PX, add_risk_table
from analysis.labels import fmt_p
from analysis.suppression import DEFAULT_MIN_CELL, truncate_curve

MAX_CURVE_POINTS = 1500
"""Most points per drawn curve, whatever the cohort's size."""


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


def _step_points(k: pd.DataFrame, value_cols: Sequence[str], span: float) -> np.ndarray:
    """Step corners, merged to at most :data:`MAX_CURVE_POINTS` per curve.

    Corners falling in the same bin of width ``span / MAX_CURVE_POINTS`` keep only the last (the
    value the curve reaches in that bin) plus the curve's first row: the drawn step moves by less
    than one bin, under a pixel at any screen width.
    """
    pos = _corners(k, value_cols)
    if len(pos) <= MAX_CURVE_POINTS or span <= 0:
        return pos
    t = k["time"].to_numpy(dtype="float64")[pos]
    b = np.floor(t / (span / MAX_CURVE_POINTS)).astype(np.int64)
    keep = np.r_[b[1:] != b[:-1], True]
    keep[0] = True
    return pos[keep]


def _sample(idx: np.ndarray, at_most: int) -> np.ndarray:
    if len(idx) <= at_most:
        return idx
    return idx[np.unique(np.linspace(0, len(idx) - 1, at_most).round().astype(int))]


def _curve_traces(fig: go.Figure, *, x, y, lo, hi, name: str, color: str, group_key: str,
                  hover: str, customdata, show_ci: bool, row: int | None, dash: str | None = None,
                  showlegend: bool = True, ci_alpha: float = 0.15) -> None:
    """A step line with an optional shaded interval band (lower bound, then upper filled to it)."""
    kw = {"row": row, "col": 1} if row is not None else {}
    x = _f32(x)
    if show_ci:
        fig.add_trace(go.Scatter(x=x, y=_f32(lo), mode="lines", line={"width": 0, "shape": "hv", "color": color},
                                 hoverinfo="skip", showlegend=False, legendgroup=group_key,
                                 name=f"{name} lower"), **kw)
        fig.add_trace(go.Scatter(x=x, y=_f32(hi), mode="lines", line={"width": 0, "shape": "hv", "color": color},
                                 fill="tonexty", fillcolor=_rgba(color, ci_alpha), hoverinfo="skip",
                                 showlegend=False, legendgroup=group_key, name=f"{name} upper"), **kw)
    fig.add_trace(go.Scatter(x=x, y=_f32(y), mode="lines", name=name, legendgroup=group_key,
                             line={"color": color, "width": 2, "shape": "hv", "dash": dash},
                             customdata=_f32(customdata), hovertemplate=hover, showlegend=showlegend), **kw)


def _filled_interval(est: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds for a band: NaN limits (R leaves them NaN where S is 0 or 1) fall back to the estimate."""
    return np.where(np.isnan(lo), est, lo), np.where(np.isnan(hi), est, hi)


def km_figure(km: pd.DataFrame, *, at_risk: pd.DataFrame | None = None, origin: str = "discharge",
              title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, show_ci: bool = True,
              show_censor_marks: bool = True, as_relapse: bool = True,
              benchmark_band: BenchmarkBand | tuple | None = None, horizon_days: float | None = None,
              logrank_p: float | None = None, medians: pd.DataFrame | None = None,
              risk_table: str = "at_risk", compact: bool = False) -> go.Figure:
    """Kaplan-Meier curves per group, with interval bands, censor marks and a risk table.

    Plots cumulative relapse ``1 - S(t)`` (``as_relapse=True``; the log-log interval turned over:
    ``[1 - upper, 1 - lower]``) or relapse-free survival ``S(t)``, as step functions. Each curve
    stops at the first time fewer than ``min_cell`` are at risk
    (:func:`analysis.suppression.truncate_curve`); see the module docstring for the thinning.

    Parameters
    ----------
    km : DataFrame
        :func:`analysis.survival.km_by_group` output (group, time, n_at_risk, n_event, n_censor,
        survival, ci_lower, ci_upper).
    at_risk : DataFrame, optional
        :func:`analysis.survival.at_risk_table` output, drawn under the chart; the x ticks are its days.
    origin : str
        Time origin, named on the x axis ("Days since discharge") and in the default title.
    show_ci, show_censor_marks : bool
        Interval bands and censoring ticks on or off.
    benchmark_band : BenchmarkBand or (low, high, label), optional
        Drawn only at its horizon (a tuple means the 365-day horizon), as a short grey bar with its
        source and year, and only when its origin is the chart's and a curve reaches the horizon;
        otherwise a note says why it is not drawn.
    horizon_days : float, optional
        A vertical dotted line at this day.
    logrank_p : float, optional
        The log-rank test's p-value, written in the corner of the chart.
    medians : DataFrame, optional
        :func:`analysis.survival.median_survival` output (group, median_days): dotted lines from 50%
        down to each reached median that lies on the drawn curve.
    risk_table : {"at_risk", "kmunicate"}
        ``at_risk``: "n at risk (cumulative relapses)" per group; ``kmunicate``: at risk, relapses
        so far and censored so far in three blocks (Morris et al., BMJ Open 2019).
    compact : bool
        Laid out for a narrow screen (legend below, wrapped labels, smaller table text).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or f"Time to relapse by group (from {origin})"
    groups = _group_order(km["group"])
    colors = group_colors(groups)
    shown = truncate_curve(km, min_cell) if len(km) else km
    table = at_risk is not None and len(at_risk) > 0
    chart_px = 300 if compact else 400
    if table:
        from analysis.figures.risk_table import risk_table_rows

        n_rows = len(risk_table_rows(at_risk, groups, risk_table)) + (1 if risk_table == "at_risk" else 0)
        table_px = ROW_PX * n_rows + 10
        gap_px = 70
        total = chart_px + table_px + gap_px
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[chart_px / total, table_px / total],
                            vertical_spacing=gap_px / total)
        row = 1
    else:
        fig = go.Figure()
        row, table_px, gap_px = None, 0, 0
    kw = {"row": 1, "col": 1} if table else {}
    hover = ("%{y:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
             "at risk %{customdata[2]:,.0f}")
    span = float(np.nanmax(shown["time"])) if len(shown) else 0.0
    dropped_groups, cut, x_max, drawn_until = [], False, 0.0, {}
    for g in groups:
        key = str(g)
        color = colors[key]
        name = _esc(group_label(g))
        k = shown[shown["group"] == g]
        cut = cut or len(k) < int((km["group"] == g).sum())
        if k.empty:
            dropped_groups.append(group_label(g))
            continue
        kk = k.iloc[_step_points(k, ("survival", "ci_lower", "ci_upper"), span)]
        t = kk["time"].to_numpy(dtype="float64")
        s = kk["survival"].to_numpy(dtype="float64")
        lo, hi = _filled_interval(s, kk["ci_lower"].to_numpy(dtype="float64"),
                                  kk["ci_upper"].to_numpy(dtype="float64"))
        y, lo, hi = (1 - s, 1 - hi, 1 - lo) if as_relapse else (s, lo, hi)
        x_max = max(x_max, float(t[-1]))
        drawn_until[key] = float(t[-1])
        custom = np.column_stack([lo, hi, kk["n_at_risk"].to_numpy(dtype="float64")])
        _curve_traces(fig, x=t, y=y, lo=lo, hi=hi, name=name, color=color, group_key=key,
                      hover=hover, customdata=custom, show_ci=show_ci, row=row)
        if show_censor_marks:
            cens = _sample(np.flatnonzero(k["n_censor"].to_numpy(dtype="float64") > 0), 120)
            if len(cens):
                ck = k.iloc[cens]
                cy = ck["survival"].to_numpy(dtype="float64")
                fig.add_trace(go.Scatter(
                    x=_f32(ck["time"]), y=_f32(1 - cy if as_relapse else cy), mode="markers",
                    marker={"symbol": "line-ns-open", "size": 5, "color": color, "opacity": 0.7,
                            "line": {"width": 1, "color": color}},
                    hoverinfo="skip", showlegend=False, legendgroup=key, name=f"{name} censored"), **kw)
    notes = []
    if medians is not None and len(medians):
        notes += _median_lines(fig, medians, colors, drawn_until, kw)
    if table:
        add_risk_table(fig, at_risk, groups, colors, min_cell, style=risk_table, compact=compact)
        days = np.unique(at_risk["day"].to_numpy(dtype="float64"))
        x_max = max(x_max, float(days.max()))
        if len(days) >= 3:  # the table's days as the ticks, so its columns line up with the curves' grid
            fig.update_xaxes(tickvals=days, row=1, col=1)
        # (else Plotly's own ticks: a small trial's curves, cut where few remain, may reach no table day but 0)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=2, col=1)
        fig.update_xaxes(showticklabels=True, title_text=f"Days since {_esc(origin)}", row=1, col=1)
    else:
        fig.update_xaxes(title_text=f"Days since {_esc(origin)}")
    pad = (0.06 if table else 0.02) * x_max if x_max > 0 else 1.0
    fig.update_xaxes(range=[-pad, x_max + pad])
    fig.update_yaxes(title_text="Cumulative relapse (%)" if as_relapse else "Relapse-free (%)", tickformat=".0%",
                     range=[0, 1.02], **kw)
    if benchmark_band is not None:
        band = as_band(benchmark_band)
        why = draw_band_at_horizon(fig, band, origin=origin, unit="person", x_max=x_max, span=x_max,
                                   as_relapse=as_relapse, compact=compact, **kw)
        if why:
            notes.append(why)
    if horizon_days is not None:
        fig.add_vline(x=float(horizon_days), line_dash="dot", line_color="#444444", line_width=1,
                      annotation_text=f"{horizon_days:g} days", annotation_position="top left",
                      annotation_font={"size": 11, "color": _NOTE_COLOR}, **kw)
    if logrank_p is not None and np.isfinite(logrank_p):
        p_text = fmt_p(logrank_p)
        fig.add_annotation(text=f"Log-rank p {p_text}" if p_text.startswith("<") else f"Log-rank p = {p_text}",
                           xref="x domain", yref="y domain", x=0.01, y=0.98, xanchor="left", yanchor="top",
                           showarrow=False, font={"size": 12, "color": "#222222"}, bgcolor="rgba(255,255,255,0.8)",
                           name="logrank")
    _layout(fig, title, hovermode="x unified", height=chart_px + table_px + gap_px + (170 if compact else 200),
            compact=compact, notes_at=18 if table else 55)
    if cut or dropped_groups:
        notes.insert(0, f"Curves stop where fewer than {min_cell} remain at risk ({_small_note(min_cell)})")
    if dropped_groups:
        notes.insert(1, "no curve: " + ", ".join(dropped_groups))
    if notes:
        _note(fig, "; ".join(notes) + ".")
    return fig


def _median_lines(fig: go.Figure, medians: pd.DataFrame, colors: dict[str, str], drawn_until: dict[str, float],
                  kw: dict) -> list[str]:
    """Dotted lines at 50% out to each median on a drawn curve, and down from it; notes for the others."""
    med = medians.assign(group=medians["group"].astype(object))
    on_curve, off_curve = [], []
    for g, m in zip(med["group"], pd.to_numeric(med["median_days"], errors="coerce"), strict=True):
        key = str(g)
        if key not in drawn_until or not np.isfinite(m):
            continue
        (on_curve if m <= drawn_until[key] else off_curve).append((key, float(m), g))
    for key, m, _ in on_curve:
        fig.add_shape(type="line", x0=m, x1=m, y0=0, y1=0.5, line={"color": colors[key], "width": 1.5, "dash": "dot"},
                      name=f"median {_esc(key)}", **kw)
    if on_curve:
        fig.add_shape(type="line", x0=0, x1=max(m for _, m, _ in on_curve), y0=0.5, y1=0.5,
                      line={"color": "#777777", "width": 1, "dash": "dot"}, name="median 50%", **kw)
        _legend_key(fig, "Median (dotted)", line={"color": "#777777", "dash": "dot"})
    notes = []
    if off_curve:
        notes.append("median beyond the drawn curve, not marked: " + ", ".join(group_label(g) for *_, g in off_curve))
    return notes


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
    span = float(np.nanmax(shown["time"])) if len(shown) else 0.0
    for g in groups:
        k = shown[shown["group"] == g]
        if k.empty:
            continue
        kk = k.iloc[_step_points(k, cols, span)]
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
                                title: str | None = None, show_ci: bool = True, compact: bool = False) -> go.Figure:
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
                              min_cell=min_cell, show_ci=show_ci,
                              hover=("relapse %{y:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}), "
                                     "at risk %{customdata[2]:,.0f}"))
    _curves_figure(cif, value_col="cif_death", lo_col=None, hi_col=None, flip=False, min_cell=min_cell,
                   hover="death %{y:.1%}", fig=fig, dash="dash", show_ci=False, showlegend=False,
                   name_suffix=" (death)")
    _legend_key(fig, "Relapse (solid)", line={"color": "#444444"})
    _legend_key(fig, "Death, competing (dashed)", line={"color": "#444444", "dash": "dash"})
    fig.update_xaxes(title_text=f"Days since {_esc(origin)}", rangemode="tozero")
    fig.update_yaxes(title_text="Cumulative incidence (%)", tickformat=".0%", rangemode="tozero")
    _layout(fig, title, hovermode="x unified", compact=compact)
    if cut:
        _note(fig, f"Curves stop where fewer than {min_cell} remain at risk ({_small_note(min_cell)}).")
    return fig
