"""The program's estimates against published benchmark bands."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.benchmarks import PROPORTION_UNITS
from analysis.figures._layout import (
    _esc,
    _layout,
    _note,
    _num,
    _small_note,
    group_label,
)
from analysis.suppression import DEFAULT_MIN_CELL

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
