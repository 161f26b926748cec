"""Quarter-by-quarter trends per level of care, with intervals, incomplete quarters and targets."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._layout import (
    _esc,
    _f32,
    _layout,
    _legend_key,
    _note,
    _rgba,
    _small_note,
    _wrap,
    group_colors,
    group_label,
)
from analysis.labels import fmt_days, fmt_percent, source_label
from analysis.suppression import DEFAULT_MIN_CELL, format_count

__all__ = ["trend_figure"]

_TITLES = {"completion": "Completion (transfers excluded)", "completion_all": "Completion (all discharges)",
           "relapse": "Relapse by {h} days from {origin}", "median_stay": "Median length of stay"}
_TARGET_METRICS = {"completion": "completion_rate", "completion_all": "discharge_reason_completed",
                   "relapse": "relapse", "median_stay": "median_los_days"}


def _name(g: object) -> str:
    return "Whole program" if str(g) == "all" else group_label(g)


def trend_figure(table: pd.DataFrame, metric: str, *, period_of: str = "discharge", groups: Sequence | None = None,
                 targets: pd.DataFrame | None = None, title: str | None = None, min_cell: int = DEFAULT_MIN_CELL,
                 compact: bool = False) -> go.Figure:
    """One measure by quarter, a line per group with 95% error bars; incomplete quarters hollow.

    Parameters
    ----------
    table : DataFrame
        :attr:`analysis.trends.TrendResult.table` (published: suppressed values NaN). Points whose
        ``n`` is below ``min_cell``, or whose ``n_events`` is 1 to ``min_cell - 1``, are left out
        as well (a safety net) and counted in a note.
    metric : {"completion", "completion_all", "relapse", "median_stay"}
    period_of : str
        ``"discharge"`` or ``"admission"``, named on the x axis.
    groups : sequence, optional
        Groups to draw, in order (default: all in the table; ``"all"`` is the whole program, black).
    targets : DataFrame, optional
        The organisation's targets (:func:`analysis.benchmarks.organisation_targets`): a target of
        this measure for a drawn group is a dotted line at its bound, in the group's colour, across
        every quarter (a target holds for each quarter), labelled with its source.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    t = table[table["metric"] == metric]
    if t.empty:
        raise ValueError(f"The trend table has no {metric!r} rows.")
    periods = sorted(pd.unique(t["period"].astype(str)))
    present = list(dict.fromkeys(t["group"].astype(str)))
    groups = [str(g) for g in groups] if groups is not None else present
    colors = group_colors(groups)
    days = (t["unit"] == "days").all()
    h = t["horizon_days"].dropna()
    origin = str(t["origin"].iloc[0]) if "origin" in t.columns else "discharge"
    name = _TITLES.get(metric, metric).format(h=int(h.iloc[0]) if len(h) else 90, origin=origin)
    title = title or f"{name} by quarter of {period_of}"
    fig = go.Figure()
    n_hidden, n_missing, any_open = 0, 0, False
    for g in groups:
        r = t[t["group"].astype(str) == g].set_index("period").reindex(periods)
        if r["estimate"].notna().sum() == 0 and g not in present:
            continue
        est = r["estimate"].to_numpy(dtype="float64")
        n = r["n"].to_numpy(dtype="float64")
        ev = r["n_events"].to_numpy(dtype="float64")
        small = (n < min_cell) | ((ev > 0) & (ev < min_cell))
        n_hidden += int((small & ~np.isnan(est)).sum())
        n_missing += int((np.isnan(est) & r["metric"].notna().to_numpy()).sum())
        est = np.where(small, np.nan, est)
        lo = np.where(small, np.nan, r["lower"].to_numpy(dtype="float64"))
        hi = np.where(small, np.nan, r["upper"].to_numpy(dtype="float64"))
        complete = r["complete"].eq(True).to_numpy()
        any_open = any_open or bool((~complete & ~np.isnan(est)).any())
        shown = [fmt_days(v) if days else fmt_percent(v) for v in est]
        ci = [f"{fmt_days(a, unit=False)}-{fmt_days(b)}" if days else f"{fmt_percent(a)}-{fmt_percent(b)}"
              if np.isfinite(a) and np.isfinite(b) else "no interval" for a, b in zip(lo, hi, strict=True)]
        counts = format_count(pd.Series(n), min_cell=min_cell).tolist()
        custom = np.column_stack([shown, ci, counts,
                                  np.where(complete, "", " (quarter incomplete)")]).astype(object)
        color = colors[g]
        fig.add_trace(go.Scatter(
            x=periods, y=_f32(est), mode="lines+markers", name=_esc(_name(g)), legendgroup=g,
            line={"color": color, "width": 2}, connectgaps=False,
            marker={"color": color, "size": 9, "symbol": np.where(complete, "circle", "circle-open").tolist(),
                    "line": {"width": 2, "color": color}},
            error_y={"type": "data", "symmetric": False, "array": _f32(np.nan_to_num(hi - est)),
                     "arrayminus": _f32(np.nan_to_num(est - lo)), "color": _rgba(color, 0.6), "thickness": 1.2,
                     "width": 3},
            customdata=custom,
            hovertemplate="%{x}: %{customdata[0]} (95% CI %{customdata[1]}), n %{customdata[2]}%{customdata[3]}"
                          "<extra>%{fullData.name}</extra>"))
    notes = []
    if targets is not None and len(targets):
        notes += _target_lines(fig, targets, metric, groups, colors, days, compact)
    step = max(1, -(-len(periods) // (4 if compact else 16)))  # labels that fit side by side, unrotated
    fig.update_xaxes(title_text=f"Quarter of {_esc(period_of)}", type="category", categoryorder="array",
                     categoryarray=periods, tickangle=0, tickvals=periods[::-1][::step][::-1])
    if days:
        fig.update_yaxes(title_text="Median stay (days)", rangemode="tozero")
    else:
        fig.update_yaxes(title_text=f"{_esc(name)} (%)" if not compact else "%", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, hovermode="x unified", height=440, compact=compact)
    if any_open:
        notes.insert(0, "hollow: quarter not over, or its follow-up not complete, at the data's date")
    if n_hidden:
        notes.append(f"{_small_note(min_cell)}: {n_hidden} quarter value{'s' if n_hidden != 1 else ''} not shown")
    if n_missing:
        notes.append(f"{n_missing} quarter value{'s' if n_missing != 1 else ''} without an estimate (suppressed, "
                     "or not yet observable)")
    if notes:
        _note(fig, "; ".join(notes) + ".")
    return fig


def _target_lines(fig: go.Figure, targets: pd.DataFrame, metric: str, groups: list[str], colors: dict[str, str],
                  days: bool, compact: bool) -> list[str]:
    """Dotted target lines for drawn groups; notes for targets of this measure that are not drawn."""
    want = _TARGET_METRICS.get(metric)
    rows = targets[targets["metric"] == want]
    notes = []
    for r in rows.itertuples():
        g = r.level_of_care if r.level_of_care else "all"
        if g not in groups:
            notes.append(f"target {r.id} ({_name(g)}) not drawn: group not on the chart")
            continue
        bound = r.low if r.direction == "higher_is_better" else r.high
        word = "at least" if r.direction == "higher_is_better" else "at most"
        text = f"{fmt_days(bound) if days else fmt_percent(bound, 0)}"
        label = f"Target {_name(g)}: {word} {text} ({source_label(r.source, r.year)})"
        fig.add_hline(y=float(bound), line_dash="dot", line_color=colors[g], line_width=1.5, name=f"target {r.id}")
        # the label goes in the legend, not over the data
        _legend_key(fig, _wrap(_esc(label), 40) if compact else _esc(label),
                    line={"color": colors[g], "dash": "dot", "width": 1.5})
    return notes
