"""Benchmarks on charts: bands drawn only where their definition applies, and the placement chart.

A band is stated for a horizon, a time origin and a unit (person or discharge). On a time axis
(:func:`draw_band_at_horizon`) it is a short grey bar at its horizon, labelled with its source and
year; the chart says in a note when it cannot be drawn (another origin, no curve reaching the
horizon). :func:`benchmark_figure` puts each estimate beside its band; a suppressed estimate and a
band about another measure (symptom recurrence in other illnesses) get no placement marker.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.benchmarks import PROPORTION_UNITS, BenchmarkBand
from analysis.figures._layout import (
    _NOTE_COLOR,
    _esc,
    _layout,
    _note,
    _num,
    _small_note,
    _wrap,
    group_label,
)
from analysis.labels import source_label
from analysis.suppression import DEFAULT_MIN_CELL

__all__ = ["PLACEMENT_STYLES", "as_band", "draw_band_at_horizon", "benchmark_variant", "benchmark_figure"]

PLACEMENT_STYLES: dict[str, tuple[str, str]] = {
    "below": ("#0072B2", "triangle-left"), "inside": ("#000000", "circle"),
    "overlapping": ("#999999", "diamond"), "above": ("#D55E00", "triangle-right"), "unknown": ("#BBBBBB", "x"),
}
"""Colour and marker per placement of an estimate against a benchmark band."""

_BAND_FILL = "rgba(110,110,110,0.35)"


def as_band(band: BenchmarkBand | tuple) -> BenchmarkBand:
    """A :class:`~analysis.benchmarks.BenchmarkBand` from itself or a legacy ``(low, high, label)`` tuple.

    A tuple is read as the one-year band (``horizon_days=365``, origin not stated: the caller checked
    it) with ``label`` as its source text; ``(low, high, label, horizon_days)`` gives the horizon.
    """
    if isinstance(band, BenchmarkBand):
        return band
    low, high, label, *rest = band
    return BenchmarkBand(low=float(low), high=float(high), horizon_days=float(rest[0]) if rest else 365.0,
                         origin=None, unit="person", source=str(label), what="")


def _short(band: BenchmarkBand) -> str:
    text = f"{band.low:.0%}" if band.low == band.high else f"{band.low * 100:.0f}-{band.high:.0%}"
    head = band.source if not band.what else f"{band.source}: {text}"
    at = f" at {band.horizon_days:g} days" if band.horizon_days is not None else ""
    return head + at if band.what else f"{head} (band{at})"


def draw_band_at_horizon(fig: go.Figure, band: BenchmarkBand, *, origin: str | None, unit: str, x_max: float,
                         span: float, as_relapse: bool = True, compact: bool = False, **kw) -> str | None:
    """Draw ``band`` as a grey bar at its horizon on a time axis; return why not when it does not apply.

    The bar is centred on the horizon, ``max(1.2% of the axis, 2 days)`` either side, from ``low`` to
    ``high`` (turned over, ``1 - high`` to ``1 - low``, on a relapse-free axis), with its label above
    it and the full label on hover. Not drawn (and the reason returned) when the band's origin or
    unit is not the chart's, it has no horizon, or no curve reaches the horizon.
    """
    if band.horizon_days is None:
        return f"{band.source}: no horizon stated, so not drawn on a time axis"
    if not band.applies_to(origin=origin, unit=unit):
        return f"{band.source} band is stated from {band.origin}, so not drawn on a chart from {origin}"
    h = float(band.horizon_days)
    if x_max < h:
        return f"{band.source} band at {h:g} days not drawn: no curve reaches {h:g} days"
    half = max(0.012 * span, 2.0)
    y0, y1 = (band.low, band.high) if as_relapse else (1 - band.high, 1 - band.low)
    fig.add_shape(type="rect", x0=h - half, x1=h + half, y0=y0, y1=y1, fillcolor=_BAND_FILL, line_width=0,
                  layer="above", name="benchmark band", **kw)
    label = _esc(_short(band))
    fig.add_annotation(x=h, y=y1, text=_wrap(label, 22 if compact else 40), showarrow=False, yanchor="bottom",
                       xanchor="right" if h > 0.6 * x_max else "center", align="right",
                       font={"size": 11, "color": _NOTE_COLOR}, bgcolor="rgba(255,255,255,0.75)",
                       name="benchmark label", **kw)
    fig.add_trace(go.Scatter(x=[h], y=[(y0 + y1) / 2], mode="markers", marker={"size": 14, "opacity": 0},
                             hovertext=[_esc(band.label or _short(band))], hoverinfo="text", showlegend=False,
                             name="benchmark"), **kw)
    return None


def benchmark_variant(p: pd.Series) -> str:
    """What tells two benchmarks of one level apart: "short-term", "long-term" (TEDS residential), else ""."""
    text = " ".join(str(p.get(c, "") or "") for c in ("benchmark_variant", "benchmark_id", "benchmark_label"))
    text = text.lower().replace("_", " ").replace("-", " ")
    for words, short in (("short term", "short-term"), ("long term", "long-term"), ("hospital", "hospital")):
        if words in text:
            return short
    return str(p.get("benchmark_variant", "") or "")


def _row_label(r: pd.Series) -> str:
    source = source_label(r.get("benchmark_source", ""), r.get("benchmark_year"))
    variant = benchmark_variant(r)
    source += f" {variant}" if variant in ("short-term", "long-term") else ""
    if "what" in r.index and isinstance(r["what"], str) and r["what"]:  # caller's readable label
        return f"{r['what']} vs {source}"
    metric = str(r["metric"]).replace("_", " ")
    lvl = r.get("level_of_care")
    lvl_text = group_label(lvl) if lvl is not None and lvl == lvl and str(lvl) not in ("", "all") else "all levels"
    h = r.get("horizon_days")
    h_text = f", {int(float(h))} d" if h is not None and h == h and str(h) not in ("", "<NA>") else ""
    return f"{metric}{h_text}, {lvl_text} vs {source}"


def benchmark_figure(placements: pd.DataFrame, *, title: str | None = None, compact: bool = False) -> go.Figure:
    """Each estimate (point, 95% CI) against its benchmark band (grey bar from low to high).

    Placement (:func:`analysis.benchmarks.compare_to_benchmark`): below (upper < low), above
    (lower > high), inside, overlapping. Only proportion benchmarks are drawn (hours per week
    belong on the hours chart); others are noted. Rows whose placement is ``suppressed`` or whose
    estimate is missing show the band only; bands about another measure (``not_comparable``,
    direction ``other_measure``) show the band only and say "context". Row labels name the source
    and year and wrap (at 48 characters, 22 when ``compact``).

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
    place = p["placement"].astype(str) if "placement" in p.columns else pd.Series("unknown", index=p.index)
    context = (place == "not_comparable").to_numpy()
    est = _num(p, "estimate")
    hidden = ((place == "suppressed").to_numpy() | np.isnan(est)) & ~context
    width = 56 if compact else 48  # compact: the label goes above its row, across the chart
    rows = []
    for i, (_, r) in enumerate(p.iterrows()):  # one row per estimate-benchmark pair (a handful)
        text = _row_label(r)
        if context[i] and "context" not in text:
            text += " (context: another measure)"
        rows.append(_wrap(_esc(text), width))
    p["row"] = rows
    low, high = _num(p, "benchmark_low"), _num(p, "benchmark_high")
    thin = high - low < 0.006
    pop = p["benchmark_population"] if "benchmark_population" in p.columns else pd.Series("", index=p.index)
    custom = np.column_stack([low, high, [_esc(s) for s in pop.fillna("").astype(str)]]).astype(object)
    fig = go.Figure(go.Bar(x=np.where(thin, 0.006, high - low), base=np.where(thin, (low + high) / 2 - 0.003, low),
                           y=p["row"], orientation="h", name="Benchmark band", marker={"color": _BAND_FILL},
                           customdata=custom if len(p) else None,
                           hovertemplate="band %{customdata[0]:.1%} to %{customdata[1]:.1%}<br>%{customdata[2]}"
                                         "<extra></extra>"))
    lo, hi = _num(p, "lower"), _num(p, "upper")
    for name, (color, symbol) in PLACEMENT_STYLES.items():
        m = (place == name).to_numpy() & ~hidden & ~context
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
                     autorange="reversed", title_text="", tickfont={"size": 12}, showticklabels=not compact)
    lines = max((r.count("<br>") + 1 for r in rows), default=1)
    row_px = (30 + 13 * lines) if compact else (18 + 13 * lines)
    _layout(fig, title, height=max(320, 140 + row_px * len(p)), compact=compact)
    if compact:  # on a phone each label sits above its bar and the chart keeps the full width
        for r in dict.fromkeys(rows):
            fig.add_annotation(x=0, xref="paper", y=r, yref="y", text=r, showarrow=False, xanchor="left",
                               yanchor="bottom", yshift=7, align="left", font={"size": 11}, name="row label")
        fig.update_layout(margin={"l": 12}, bargap=0.6)
    else:
        longest = max((len(part) for r in rows for part in r.split("<br>")), default=10)
        fig.update_layout(margin={"l": int(min(600, 12 + 6.6 * longest))}, bargap=0.45)
    notes = ["Bar: published band; point: this program's estimate with 95% CI"]
    if context.any():
        notes.append("context bands (other illnesses) are another measure: no placement")
    if n_other:
        notes.append(f"{n_other} benchmark(s) not in percent (hours per week) shown on the hours chart")
    if hidden.any():
        notes.append(f"{_small_note(DEFAULT_MIN_CELL)}: {int(hidden.sum())} estimate(s), band only")
    _note(fig, "; ".join(notes) + ".")
    return fig
