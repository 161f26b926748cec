"""Comparisons between groups: hazard ratios (forest plot) and case-mix balance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import labels
from analysis.figures._layout import (
    _NOTE_COLOR,
    LEVEL_COLORS,
    _esc,
    _group_order,
    _hide_legend,
    _layout,
    _legend_key,
    _level_code,
    _note,
    _num,
    _wrap,
    group_colors,
    group_label,
)


def forest_figure(terms: pd.DataFrame, *, title: str | None = None, compact: bool = False) -> go.Figure:
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
    labels = [_wrap(_esc(_term_label(x)), 22) if compact else _esc(_term_label(x)) for x in t["term"].astype(str)]
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
    _layout(fig, title, height=max(320, 140 + (40 if compact else 32) * len(t)), compact=compact)
    if compact:
        _fit_left_margin(fig, labels)
    notes = ["Hazard ratio above one: relapse sooner than the reference"]
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} term(s) without an estimate not shown")
    if ok.any() and (~np.isfinite(hi) | ~(lo > 0))[ok].any():
        notes.append("open-ended intervals clipped at the axis")
    _note(fig, "; ".join(notes) + ".")
    return fig


def _fit_left_margin(fig: go.Figure, labels: list[str]) -> None:
    """Left margin from the longest (wrapped) label line, so notes know the plot's width on a phone."""
    longest = max((len(part) for lab in labels for part in str(lab).split("<br>")), default=8)
    fig.update_layout(margin={"l": int(min(170, 12 + 6.4 * longest))})
    fig.update_yaxes(automargin=False, title_text="")


def _term_label(term: str) -> str:
    """``"level_of_care[iop]"`` -> ``"Level of care: IOP"`` (:func:`analysis.labels.term_label`)."""
    return labels.term_label(term)


def balance_figure(balance: pd.DataFrame, *, title: str | None = None, compact: bool = False) -> go.Figure:
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
    b["label"] = [_esc(labels.column_label(v)) if (lv is None or lv != lv or str(lv) == "")
                  else _esc(f"{labels.column_label(v)}: {labels.value_label(lv, v)}")
                  for v, lv in zip(b["variable"].astype(str), level, strict=True)]
    if compact:
        b["label"] = [_wrap(x, 22) for x in b["label"]]
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
    fig.update_xaxes(title_text="|Standardized difference| (SD)" if compact else
                     "Absolute standardized difference (SD units)", rangemode="tozero")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order, autorange="reversed",
                     title_text="Variable")
    _layout(fig, title, height=max(320, 140 + (44 if compact else 24) * len(order)), compact=compact)
    if col is None:  # one series: the axis says what the dots are
        _hide_legend(fig)
    if compact:
        _fit_left_margin(fig, order)
    return fig
