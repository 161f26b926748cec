"""Checks of a propensity-weighted comparison drawn: balance (a love plot) and overlap of the scores.

* :func:`love_plot_figure`: standardised differences, A minus B, of every covariate and level before
  and after weighting, with the 0.1 line (Austin 2009; a "love plot", as R cobalt's ``love.plot``);
* :func:`overlap_figure`: the propensity score distributions of the two groups as mirrored
  histograms (A above the axis, B below), the common support and the people outside it.

Inputs are the comparison's published frames (:attr:`Comparison.balance`,
:attr:`PropensityModel.histogram`): a hidden value is NaN; ``<col>_suppressed`` flags are honoured.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import labels as vocab
from analysis.figures._compare import as_float, fitted_note, pair_names, place_row_labels
from analysis.figures._layout import (
    _NOTE_COLOR,
    _esc,
    _f32,
    _layout,
    _note,
    _num,
    _small_note,
    group_colors,
    group_label,
)
from analysis.suppression import DEFAULT_MIN_CELL, format_count

__all__ = ["love_plot_figure", "overlap_figure", "IMBALANCE_LINE"]

IMBALANCE_LINE = 0.1
"""|Standardised difference| above which a covariate counts as imbalanced (Austin 2009)."""

_BEFORE = {"color": "#999999", "symbol": "circle-open", "size": 10, "line": {"width": 2, "color": "#888888"}}
_AFTER = {"color": "#000000", "symbol": "circle", "size": 8}


def _row_label(covariate: str, level, names: Mapping[str, str] | None) -> str:
    col = (names or {}).get(covariate) or vocab.column_label(covariate)
    if level is None or (isinstance(level, float) and np.isnan(level)) or str(level) == "":
        return col
    return f"{col}: {vocab.value_label(level, covariate)}"


def love_plot_figure(balance: pd.DataFrame, *, labels: Mapping[str, object] | None = None, signed: bool = False,
                     threshold: float = IMBALANCE_LINE, names: Mapping[str, str] | None = None,
                     title: str | None = None, compact: bool = False) -> go.Figure:
    """Standardised differences before (open grey circles) and after weighting (black dots), one row per item.

    ``SMD = (mean_A - mean_B) / s`` with ``s`` the unweighted pooled SD both before and after weighting
    (:mod:`analysis.comparison.balance`): every numeric covariate, boolean and level of a categorical
    covariate has its row, sorted by the difference before weighting, largest at the top. ``signed=False``
    draws ``|SMD|`` with a dashed line at ``threshold``; ``signed=True`` draws the signed differences with
    lines at ``-threshold``, 0 and ``+threshold`` (right of zero: higher in A). A row whose difference is
    hidden (NaN) has no dot and is named in a note.

    Parameters
    ----------
    balance : DataFrame
        ``covariate``, ``level`` (None for a numeric covariate), ``smd_before``, ``smd_after``.
    labels : mapping, optional
        ``{"a": name, "b": name}``: the direction A minus B is named on the axis.
    names : mapping, optional
        Display names of covariates (the user's own column names); default :func:`analysis.labels.column_label`.
    """
    a_name, b_name = pair_names(labels)
    title = title or "Balance before and after weighting"
    b = balance.reset_index(drop=True)
    level = b["level"].astype(object) if "level" in b.columns else pd.Series([None] * len(b))
    raw_labels = [_row_label(c, lv, names) for c, lv in zip(b["covariate"].astype(str), level, strict=True)]
    row_labels = [_esc(x) for x in raw_labels]
    before, after = _num(b, "smd_before"), _num(b, "smd_after")
    for col, vals in (("smd_before", before), ("smd_after", after)):
        if f"{col}_suppressed" in b.columns:
            vals[b[f"{col}_suppressed"].fillna(False).to_numpy(dtype=bool)] = np.nan
    show_b, show_a = (before, after) if signed else (np.abs(before), np.abs(after))
    order = np.argsort(-np.nan_to_num(np.abs(before), nan=-1.0), kind="stable")
    cats = [row_labels[i] for i in order]
    fig = go.Figure()
    for name, vals, signed_vals, marker in (("Before weighting", show_b, before, _BEFORE),
                                            ("After weighting", show_a, after, _AFTER)):
        m = np.isfinite(vals)
        fig.add_trace(go.Scatter(
            x=_f32(vals[m]), y=np.array(row_labels, dtype=object)[m], mode="markers", name=name, marker=marker,
            customdata=_f32(signed_vals[m]),
            hovertemplate=f"{name.lower()}: %{{customdata:+.3f}} SD (A minus B)<extra>%{{y}}</extra>"))
    line = {"line_dash": "dash", "line_color": "#D55E00", "line_width": 1}
    fig.add_vline(x=threshold, annotation_text=f"{threshold:g}", annotation_position="top right",
                  annotation_font={"size": 11, "color": "#D55E00"}, **line)
    if signed:
        fig.add_vline(x=-threshold, annotation_text=f"-{threshold:g}", annotation_position="top left",
                      annotation_font={"size": 11, "color": "#D55E00"}, **line)
        fig.add_vline(x=0, line_color="#444444", line_width=1)
    finite = np.concatenate([np.abs(v[np.isfinite(v)]) for v in (before, after)] + [np.array([threshold])])
    edge = float(finite.max()) * 1.12
    if signed:
        axis = (f"Standardised difference, {_esc(a_name)} minus {_esc(b_name)} (SD)" if not compact else
                "Std. difference, A minus B (SD)")
        fig.update_xaxes(range=[-edge, edge], title_text=axis, zeroline=False)
    else:
        axis = "Absolute standardised difference (SD)" if not compact else "|Std. difference| (SD)"
        fig.update_xaxes(range=[0, edge], title_text=axis)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=cats, autorange="reversed",
                     title_text="", showgrid=True)
    _layout(fig, title, height=max(320, 150 + (40 if compact else 24) * len(cats)), compact=compact)
    left = place_row_labels(fig, cats, compact=compact)
    still = [raw_labels[i] for i in range(len(b)) if np.isfinite(after[i]) and abs(after[i]) > threshold]
    hidden = [raw_labels[i] for i in range(len(b)) if not (np.isfinite(before[i]) and np.isfinite(after[i]))]
    notes = [f"Differences are {a_name} minus {b_name} over the unweighted pooled SD, before and after weighting"
             + ("" if signed else " (shown without their sign)")
             + f"; beyond {threshold:g} (dashed): imbalanced"]
    notes.append(f"after weighting, still beyond {threshold:g}: " + ", ".join(still)
                 if still else f"after weighting every row is within {threshold:g}")
    if hidden:
        notes.append("not shown (hidden or not estimable): " + ", ".join(hidden))
    fitted_note(fig, "; ".join(notes) + ".", compact=compact, left=left)
    return fig


def _outside_text(outside, a_name: str, b_name: str, min_cell: int) -> str:
    """People outside the common support in words: a count from 1 to ``min_cell - 1`` or a hidden (NaN/None) one
    never appears as a number."""
    if isinstance(outside, Mapping):
        return ", ".join(f"{name} {_count_words(outside.get(k), min_cell)}" for k, name in (("a", a_name), ("b", b_name))
                         if k in outside)
    return _count_words(outside, min_cell)


def _count_words(n, min_cell: int) -> str:
    v = as_float(n)
    if not np.isfinite(v):
        return "not shown"
    if v == 0:
        return "no one"
    text = format_count(v, min_cell=min_cell)
    return f"fewer than {min_cell} people" if text.startswith("<") else f"{text} people"


def _nice_ticks(top: float) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / 3
    mag = 10 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    return [float(v) for v in np.arange(0, top + step * 0.01, step)]


def overlap_figure(histogram: pd.DataFrame, *, labels: Mapping[str, object] | None = None,
                   support: tuple[float, float] | None = None, outside_support=None,
                   min_cell: int = DEFAULT_MIN_CELL, title: str | None = None, compact: bool = False) -> go.Figure:
    """Propensity scores of the two groups as mirrored histograms: A above the axis, B below.

    Bars are people per bin of the score P(A | covariates) (:attr:`PropensityModel.histogram`, bins of
    0.05). A bin whose count is hidden (NaN, flagged ``n_suppressed``, or from 1 to ``min_cell - 1``) has
    no bar: a small grey mark on the axis says it is not empty. The common support (scores between the
    larger of the groups' minima and the smaller of their maxima) is shaded outside its limits, and the
    people outside it are said in words (a small or hidden count as "fewer than 11" / "not shown").

    Parameters
    ----------
    histogram : DataFrame
        ``group`` ("a"/"b" or names), ``bin_lower``, ``bin_upper``, ``n`` (people).
    support : (float, float), optional
        Common support limits.
    outside_support : int, mapping or None
        People outside it: a total, or ``{"a": n, "b": n}``; None or NaN when hidden.
    """
    a_name, b_name = pair_names(labels)
    title = title or f"Overlap of propensity scores: {a_name} and {b_name}"
    keys = [("a", labels["a"]), ("b", labels["b"])] if labels else \
        [(str(g), g) for g in pd.unique(histogram["group"].astype(object))][:2]
    colors = group_colors([str(n) for _, n in keys])
    fig = go.Figure()
    top, hidden_bins = 0.0, 0
    for sign, (key, name) in zip((1.0, -1.0), keys, strict=False):
        h = histogram[histogram["group"].astype(str) == str(key)].sort_values("bin_lower").reset_index(drop=True)
        n = _num(h, "n")
        flag = (h["n_suppressed"].fillna(False).to_numpy(dtype=bool) if "n_suppressed" in h.columns
                else np.zeros(len(h), dtype=bool))
        hide = flag | ~np.isfinite(n) | ((n > 0) & (n < min_cell))
        lo, hi = _num(h, "bin_lower"), _num(h, "bin_upper")
        mid, width = (lo + hi) / 2, hi - lo
        show = ~hide & (n > 0)
        label = _esc(group_label(name))
        fig.add_trace(go.Bar(x=_f32(mid[show]), y=_f32(sign * n[show]), width=_f32(width[show]), name=label,
                             marker={"color": colors[str(name)], "line": {"width": 0}}, legendgroup=str(name),
                             customdata=np.column_stack([lo[show], hi[show], n[show]]),
                             hovertemplate="%{fullData.name}: %{customdata[2]:,.0f} people with scores "
                                           "%{customdata[0]:.2f}-%{customdata[1]:.2f}<extra></extra>"))
        if hide.any():
            hidden_bins += int(hide.sum())
            fig.add_trace(go.Scatter(x=_f32(mid[hide]), y=np.zeros(int(hide.sum()), dtype="float32"), mode="markers",
                                     marker={"symbol": "line-ns-open", "size": 9, "color": "#777777",
                                             "line": {"width": 2, "color": "#777777"}},
                                     name=f"{label}: bin hidden ({_small_note(min_cell)})", showlegend=False,
                                     legendgroup=str(name), hoverinfo="skip"))
        top = max(top, float(np.nanmax(n[show])) if show.any() else 0.0)
    ticks = _nice_ticks(top * 1.05)
    tickvals = sorted({*(-v for v in ticks), *ticks})
    fig.update_yaxes(tickvals=tickvals, ticktext=[f"{abs(v):,.0f}" for v in tickvals],
                     range=[-top * 1.12 - 1, top * 1.12 + 1],
                     title_text=(f"People ({a_name} above, {b_name} below)" if not compact else
                                 f"People ({a_name} up, {b_name} down)"))
    fig.update_xaxes(range=[0, 1], tickformat=".1f", title_text=f"Propensity score: P({a_name} | covariates)")
    fig.add_hline(y=0, line_color="#444444", line_width=1)
    notes = []
    limits = np.array([as_float(v) for v in support], dtype="float64") if support is not None else np.array([np.nan])
    if len(limits) == 2 and np.isfinite(limits).all():
        s_lo, s_hi = float(support[0]), float(support[1])
        for x0, x1 in ((0.0, s_lo), (s_hi, 1.0)):
            if x1 > x0:
                fig.add_vrect(x0=x0, x1=x1, fillcolor="#BBBBBB", opacity=0.25, line_width=0, layer="below")
        for x in (s_lo, s_hi):
            fig.add_vline(x=x, line_dash="dot", line_color="#444444", line_width=1)
        fig.add_annotation(x=(s_lo + s_hi) / 2, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"common support {s_lo:.2f}-{s_hi:.2f}", font={"size": 11, "color": _NOTE_COLOR},
                           name="support")
        notes.append("Shaded: outside the common support; people outside it: "
                     + _outside_text(outside_support, a_name, b_name, min_cell))
    elif outside_support is not None:
        notes.append("People outside the common support: " + _outside_text(outside_support, a_name, b_name, min_cell))
    if hidden_bins:
        notes.append(f"bins with fewer than {min_cell} people, or hidden, have no bar (grey mark on the axis)")
    _layout(fig, title, height=380 if compact else 420, compact=compact)
    fig.update_layout(barmode="overlay", bargap=0)
    if notes:
        _note(fig, "; ".join(notes) + ".")
    return fig
