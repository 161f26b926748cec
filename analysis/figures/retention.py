"""Retention charts: time in treatment, completion, discharge reasons, length of stay, hours, flows."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._layout import (
    _NOTE_COLOR,
    LEVEL_COLORS,
    REASON_COLORS,
    _count_text,
    _esc,
    _group_order,
    _layout,
    _level_code,
    _note,
    _num,
    _rgba,
    _small_note,
    group_colors,
    group_label,
)
from analysis.figures.benchmarks import benchmark_variant
from analysis.figures.curves import _curves_figure
from analysis.labels import source_label
from analysis.schema import DISCHARGE_REASON_LABELS, DISCHARGE_REASONS
from analysis.suppression import DEFAULT_MIN_CELL, format_count


def retention_figure(km: pd.DataFrame, *, marks: Sequence[float] = (30, 60, 90), min_cell: int = DEFAULT_MIN_CELL,
                     title: str | None = None, show_ci: bool = True, compact: bool = False) -> go.Figure:
    """Share still in treatment by day since admission (Kaplan-Meier, log-log band), lines at ``marks``.

    ``survival`` of :func:`analysis.retention.retention_curve` is the share not yet discharged
    ``S(t) = prod (1 - d_j / n_j)``; curves stop where fewer than ``min_cell`` remain.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Retention in treatment by group (from admission)"
    fig, cut = _curves_figure(km, value_col="survival", lo_col="ci_lower", hi_col="ci_upper", flip=False,
                              min_cell=min_cell, show_ci=show_ci,
                              hover=("in treatment %{y:.1%} (95% CI %{customdata[0]:.1%} to "
                                     "%{customdata[1]:.1%}), n %{customdata[2]:,.0f}"))
    for j, m in enumerate(marks):  # compact: one label for all marks, they are too close to label apart
        text = (", ".join(f"{v:g}" for v in marks) + " d" if j == len(marks) - 1 else None) if compact else f"{m:g} d"
        label = {"annotation_text": text, "annotation_position": "top right",
                 "annotation_font": {"size": 11, "color": _NOTE_COLOR}} if text else {}
        fig.add_vline(x=float(m), line_dash="dot", line_color="#444444", line_width=1, **label)
    fig.update_xaxes(title_text="Days since admission", rangemode="tozero")
    fig.update_yaxes(title_text="Still in treatment (%)", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, hovermode="x unified", compact=compact)
    if cut:
        _note(fig, f"Curves stop where fewer than {min_cell} remain in treatment ({_small_note(min_cell)}).")
    return fig



COMPLETION_BASES: dict[str, tuple[str, str, str, str]] = {
    "excluding_transfers": ("completion_rate", "ci_lower", "ci_upper", "transfers excluded"),
    "all_discharges": ("completion_rate_all", "all_ci_lower", "all_ci_upper", "all discharges"),
}
_AXIS_WORDS = {"excluding_transfers": "% of discharges, transfers excluded", "all_discharges": "% of all discharges"}
_AXIS_SHORT = {"excluding_transfers": "%, transfers excluded", "all_discharges": "% of all discharges"}
"""Denominators of a completion rate: the columns of :func:`analysis.retention.completion_rates` and
their wording. TEDS states completion over all discharges (transfers included)."""


def _placement_basis(p: pd.Series) -> str:
    """The denominator a completion benchmark was stated over: ``benchmark_basis`` if given, else from the
    metric (``completion_rate`` excludes transfers; TEDS's ``discharge_reason_completed`` does not)."""
    basis = p.get("benchmark_basis")
    if isinstance(basis, str) and basis in COMPLETION_BASES:
        return basis
    metric = p.get("metric", p.get("benchmark_metric"))
    return "excluding_transfers" if metric == "completion_rate" else "all_discharges"


def completion_figure(completion: pd.DataFrame, *, placements: pd.DataFrame | None = None,
                      title: str | None = None, basis: str = "excluding_transfers",
                      compact: bool = False) -> go.Figure:
    """Completion rate per group, horizontal bars with Wilson 95% error bars, benchmark ticks per row.

    ``basis="excluding_transfers"``: completed / (discharged - transferred); ``"all_discharges"``:
    completed / discharged, the TEDS convention (:func:`analysis.retention.completion_rates`).
    A benchmark tick is drawn only beside bars of its own denominator (TEDS ticks beside rates over
    all discharges), and only on a row whose rate is shown; two ticks on one row (TEDS residential)
    are labelled ("short-term", "long-term"). Rows whose rate is suppressed (NaN) are left out with
    a ``"<11: not shown"`` note.

    Parameters
    ----------
    completion : DataFrame
        group and the rate columns of ``basis`` (n_completed, n_discharged, n_transferred for hover).
    placements : DataFrame, optional
        group, benchmark_low, benchmark_high; optional benchmark_label, benchmark_id,
        benchmark_source, benchmark_year, benchmark_basis (or metric), placement. A point value is
        drawn as a thin bar.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if basis not in COMPLETION_BASES:
        raise ValueError(f"Unknown completion basis {basis!r}: use one of {', '.join(COMPLETION_BASES)}.")
    rate_col, lo_col, hi_col, words = COMPLETION_BASES[basis]
    title = title or f"Treatment completion by group ({words})"
    groups = _group_order(completion["group"])
    colors = group_colors(groups)
    fig = go.Figure()
    labels = [_esc(group_label(g)) for g in groups]
    hidden = []
    for g, label in zip(groups, labels, strict=True):
        r = completion[completion["group"].astype(object) == g]
        rate = _num(r, rate_col)
        if len(r) == 0 or np.isnan(rate[0]):
            hidden.append(group_label(g))
            continue
        lo, hi = _num(r, lo_col)[0], _num(r, hi_col)[0]
        n_c = _count_text(r, "n_completed")[0]
        n_dis = r.get("n_discharged", pd.Series([np.nan])).astype(float).to_numpy()[0]
        n_tr = r.get("n_transferred", pd.Series([0.0])).astype(float).fillna(0).to_numpy()[0]
        denom = n_dis - n_tr if basis == "excluding_transfers" else n_dis
        denom_text = format_count(denom) if denom == denom else "suppressed"
        fig.add_trace(go.Bar(
            x=[rate[0]], y=[label], orientation="h", name=label, legendgroup=str(g), showlegend=False,
            marker={"color": colors[str(g)], "opacity": 0.85},
            error_x={"type": "data", "symmetric": False, "array": [max(hi - rate[0], 0) if hi == hi else 0],
                     "arrayminus": [max(rate[0] - lo, 0) if lo == lo else 0], "color": "#333333", "thickness": 1.5},
            customdata=[[lo, hi, n_c, denom_text]],
            hovertemplate=("%{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}); "
                           "%{customdata[2]} of %{customdata[3]} discharges<extra>%{fullData.name}</extra>")))
    notes = []
    if placements is not None and len(placements):
        notes += _completion_ticks(fig, placements, groups, labels, hidden, basis, compact)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed",
                     title_text="Group")
    words_axis = (_AXIS_SHORT if compact else _AXIS_WORDS)[basis]
    fig.update_xaxes(title_text=f"Completed ({words_axis})", tickformat=".0%", range=[0, 1.0])
    _layout(fig, title, height=max(320, 120 + 55 * len(groups)), compact=compact)
    fig.update_layout(bargap=0.35)
    if hidden:
        notes.insert(0, f"{_small_note(DEFAULT_MIN_CELL)}: " + ", ".join(hidden))
    if notes:
        _note(fig, "; ".join(notes) + ".")
    return fig


def _completion_ticks(fig: go.Figure, placements: pd.DataFrame, groups: list, labels: list[str], hidden: list[str],
                      basis: str, compact: bool) -> list[str]:
    """Benchmark ticks of the figure's denominator on shown rows; returns notes on the ticks left out."""
    bx, by, btext, other_basis, sources = [], [], [], 0, []
    per_row: dict[object, int] = {}
    drawn = []
    for _, p in placements.iterrows():  # a handful of rows: one per benchmark
        g = p["group"]
        if g not in groups or group_label(g) in hidden or str(p.get("placement", "")) == "suppressed":
            continue
        if _placement_basis(p) != basis:
            other_basis += 1
            continue
        per_row[g] = per_row.get(g, 0) + 1
        drawn.append(p)
    for p in drawn:
        i = groups.index(p["group"])
        low, high = float(p["benchmark_low"]), float(p["benchmark_high"])
        x0, x1 = (low - 0.003, high + 0.003) if high - low < 0.006 else (low, high)
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=i - 0.45, y1=i + 0.45, xref="x", yref="y",
                      fillcolor="#888888", opacity=0.3, line_width=0, layer="above", name="benchmark tick")
        mid = (low + high) / 2
        variant = benchmark_variant(p)
        if per_row[p["group"]] > 1:  # two ticks on one row must say which is which
            tag = variant.replace("-term", "") if compact else variant  # "short", "long": no overlap on a phone
            fig.add_annotation(x=mid, y=i - 0.45, text=_esc(tag or f"{mid:.0%}"), showarrow=False,
                               yanchor="bottom", font={"size": 10, "color": _NOTE_COLOR}, name="tick label")
        src = source_label(p.get("benchmark_source", ""), p.get("benchmark_year")) \
            if "benchmark_source" in p.index else str(p.get("benchmark_label", "benchmark"))
        sources.append(src)
        bx.append(mid)
        by.append(labels[i])
        btext.append(_esc(" ".join(x for x in (src, variant) if x)))
    if bx:
        names = ", ".join(dict.fromkeys(sources))
        fig.add_trace(go.Scatter(x=bx, y=by, mode="markers",
                                 name=_esc(f"Benchmark: {names} ({COMPLETION_BASES[basis][3]})"),
                                 marker={"symbol": "line-ns", "size": 22, "color": "#555555",
                                         "line": {"width": 2, "color": "#555555"}},
                                 hovertext=btext, hovertemplate="benchmark %{x:.0%}: %{hovertext}<extra></extra>"))
    if other_basis:
        other = "all discharges" if basis == "excluding_transfers" else "transfers excluded"
        return [f"{other_basis} benchmark tick(s) stated over {other} not drawn beside rates with "
                f"{COMPLETION_BASES[basis][3]}"]
    return []


def reason_mix_figure(mix: pd.DataFrame, *, title: str | None = None, compact: bool = False) -> go.Figure:
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
    # the legend's title would sit beside the chart's title on a wide screen; the reasons name themselves
    _layout(fig, title, legend_title="Discharge reason" if compact else None, height=max(340, 160 + 50 * len(groups)),
            compact=compact)
    if n_hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: {n_hidden} small or protecting cells left out, "
                   "so some bars do not reach 100%.")
    return fig



def sankey_figure(flows: pd.DataFrame, *, min_cell: int = DEFAULT_MIN_CELL, title: str | None = None,
                  compact: bool = False) -> go.Figure:
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
    _layout(fig, title, height=max(420, 60 * max(len(sources), len(targets), 1) + 200), compact=compact)
    fig.update_layout(showlegend=False)
    if n_hidden:
        _note(fig, f"{n_hidden} link{'s' if n_hidden != 1 else ''} with fewer than {min_cell} episodes "
                   f"not shown ({_small_note(min_cell)}).")
    return fig
