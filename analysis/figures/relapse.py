"""Relapse by horizon: Kaplan-Meier beside the naive and lost-as-relapse shares."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.benchmarks import BenchmarkBand
from analysis.figures._layout import (
    _NOTE_COLOR,
    _count_text,
    _esc,
    _group_order,
    _layout,
    _legend_key,
    _note,
    _num,
    _small_note,
    _wrap,
    group_colors,
    group_label,
)
from analysis.figures.benchmarks import _short, as_band
from analysis.suppression import DEFAULT_MIN_CELL


def relapse_horizons_figure(rates: pd.DataFrame, *, title: str | None = None,
                            benchmark_band: BenchmarkBand | tuple | None = None, compact: bool = False) -> go.Figure:
    """Cumulative relapse by horizon per group: KM with interval, naive share and lost-as-relapse share.

    Per group and horizon (:func:`analysis.relapse.relapse_rates`): the Kaplan-Meier estimate
    ``1 - S(h)`` with its interval (filled marker and error bar), the naive share
    ``relapsed / reached`` (hollow marker) and the share counting everyone not reached as relapsed
    ``(relapsed + not reached) / eligible`` (x marker). Groups sit side by side within each horizon.
    Suppressed values (NaN) are left out and noted. ``benchmark_band`` (a
    :class:`~analysis.benchmarks.BenchmarkBand`, or ``(low, high, label)`` for the one-year band) is
    drawn over its own horizon only, and only when its origin is the rates' origin; otherwise a
    note says why it is not drawn.

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
    band_note = None
    if benchmark_band is not None:
        band = as_band(benchmark_band)
        h = None if band.horizon_days is None else int(band.horizon_days)
        if not band.applies_to(origin=origin, unit="person"):
            band_note = f"{band.source} band is stated from {band.origin}, so not drawn on rates from {origin}"
        elif h not in hpos:
            band_note = f"{band.source} band is stated at {h} days, a horizon not shown here"
        else:
            i = hpos[h]
            fig.add_shape(type="rect", x0=i - 0.48, x1=i + 0.48, y0=band.low, y1=band.high, fillcolor="#888888",
                          opacity=0.15, line_width=0, layer="below", name="benchmark band")
            # label in the empty top of the plot (relapse shares rarely reach 90%), clear of the markers
            text = _short(band) if compact else (band.label if band.what else band.source)
            fig.add_annotation(x=i + 0.48, y=0.98, text=_wrap("Shaded: " + _esc(text), 26 if compact else 60),
                               showarrow=False, xanchor="right", yanchor="top", align="right",
                               font={"size": 11, "color": _NOTE_COLOR})
    fig.update_xaxes(title_text=f"Days since {_esc(origin)} (horizon)", tickvals=list(range(len(horizons))),
                     ticktext=[f"{h} d" for h in horizons], range=[-0.5, len(horizons) - 0.5], showgrid=False,
                     zeroline=False)
    fig.update_yaxes(title_text="Cumulative relapse (%)", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, height=560, compact=compact)  # tall enough for six groups and three marker keys
    if band_note:
        _note(fig, band_note + ".")
    if n_hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: {n_hidden} suppressed value{'s' if n_hidden != 1 else ''} left out.")
    return fig
