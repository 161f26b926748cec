"""Distributions per group as box plots computed here: length of stay, treatment hours per week.

Quartiles are computed in Python (linear interpolation, as pandas) and whiskers at the furthest
value within 1.5 IQR, so a million episodes send five numbers per group and no single outlying
stay (which could identify a person) is drawn.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._layout import (
    _NOTE_COLOR,
    _by_label,
    _esc,
    _hide_legend,
    _layout,
    _note,
    _rgba,
    _small_note,
    group_colors,
    group_label,
)
from analysis.retention import ASAM_MIN_HOURS_PER_WEEK, group_values, weeks_of_stay, weighted_quantiles
from analysis.suppression import DEFAULT_MIN_CELL


def _box_stats(values: pd.Series, groups: pd.Series, counts=None) -> pd.DataFrame:
    """Per group: n, quartiles (linear interpolation, as pandas) and Tukey whiskers (furthest value
    within 1.5 IQR of the quartiles). One mask per group: fast on millions of rows. ``counts``: episodes per row
    (collapsed rows, :mod:`analysis.counts`): the same quartiles and whiskers as on the expanded rows."""
    groups = groups if isinstance(groups.dtype, pd.CategoricalDtype) else groups.astype("category")
    codes = groups.cat.codes.to_numpy()
    v = np.asarray(values, dtype="float64")
    w = None if counts is None or np.all(np.asarray(counts) == 1) else np.asarray(counts, dtype="int64")
    ok = ~np.isnan(v) & (codes >= 0) & (w is None or w > 0)
    rows = {}
    for k, cat in enumerate(groups.cat.categories):
        sel = ok & (codes == k)
        x = v[sel]
        if len(x) == 0:
            continue
        if w is None:
            n, (q1, med, q3), mean = len(x), np.quantile(x, (0.25, 0.5, 0.75)), float(x.mean())
        else:
            wx = w[sel]
            n, (q1, med, q3) = int(wx.sum()), weighted_quantiles(x, wx, (0.25, 0.5, 0.75))
            mean = float(np.dot(x, wx) / n)
        iqr = q3 - q1
        rows[cat] = {"n": n, "q1": q1, "median": med, "q3": q3, "mean": mean,
                     "lowerfence": float(x[x >= q1 - 1.5 * iqr].min()),
                     "upperfence": float(x[x <= q3 + 1.5 * iqr].max())}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["n", "q1", "median", "q3", "mean", "lowerfence",
                                                                 "upperfence"])


def _counts(cohort: pd.DataFrame, count_col: str | None, mask: np.ndarray) -> np.ndarray | None:
    """Episodes per row of the rows ``mask`` selects (``count_col`` of collapsed rows), or None: one each."""
    return None if count_col is None else cohort[count_col].to_numpy(dtype="int64")[mask]


def _box_trace(st: pd.Series, *, x: str, name: str, color: str, group_key: str, fill_alpha: float,
               offsetgroup: str | None = None, showlegend: bool = True) -> go.Box:
    return go.Box(x=[x], q1=[st["q1"]], median=[st["median"]], q3=[st["q3"]], lowerfence=[st["lowerfence"]],
                  upperfence=[st["upperfence"]], mean=[st["mean"]], name=name, legendgroup=group_key,
                  offsetgroup=offsetgroup, showlegend=showlegend,
                  marker={"color": color}, line={"color": color}, fillcolor=_rgba(color, fill_alpha),
                  hoverinfo="y+name")


def _finish_boxes(fig: go.Figure, title: str, compact: bool, key: str, hidden: list[str], min_cell: int) -> go.Figure:
    """Layout, the key to the boxes and the groups left out; compact: no legend (the x axis names the groups,
    a legend repeating them costs a third of a phone screen)."""
    _layout(fig, title, compact=compact, notes_at=110 if compact else 55)
    if compact:
        _hide_legend(fig)
    notes = [key] + ([f"{_small_note(min_cell)}: " + ", ".join(hidden)] if hidden else [])
    _note(fig, ". ".join(notes) + ".")
    return fig


def los_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
               title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, log_y: bool = False,
               compact: bool = False, count_col: str | None = None) -> go.Figure:
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
    st = _box_stats(cohort.loc[done, "los_days"], g[done], _counts(cohort, count_col, done))
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
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category", tickangle=-45 if compact else None)
    fig.update_yaxes(title_text="Length of stay (days)" + (", log scale" if log_y else ""),
                     type="log" if log_y else "linear", rangemode="tozero")
    if log_y:
        ticks = [1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825]
        fig.update_yaxes(tickvals=ticks, ticktext=[str(v) for v in ticks], minor={"showgrid": False})
    return _finish_boxes(fig, title, compact, "Box: quartiles and median (dashed: mean); whiskers: furthest stay "
                         "within 1.5 IQR; outlying stays not drawn", hidden, min_cell)




def _in_groups(col: pd.Series, order: list) -> pd.Series:
    """``col`` as a Categorical of the groups ``order`` (others and missing: NaN)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        values = col.cat.set_categories(order, ordered=True)
    else:
        values = pd.Categorical(col.astype(object).where(col.notna()), categories=order, ordered=True)
    return pd.Series(values, index=col.index, name="group")


def _hours_per_week(rows: pd.DataFrame, g: pd.Series, hours: str, other: str, count_col: str | None) -> pd.DataFrame:
    """Box statistics per group of ``hours`` per week, over the rows with both hours (``other``, when there)."""
    ok = g.notna().to_numpy()
    c = rows.loc[ok, [x for x in ("los_days", hours, other) if x in rows.columns]]
    per_week = pd.to_numeric(c[hours], errors="coerce").to_numpy(dtype="float64") / weeks_of_stay(c["los_days"])
    has = ~np.isnan(per_week)
    if other in c.columns:
        has &= ~np.isnan(pd.to_numeric(c[other], errors="coerce").to_numpy(dtype="float64"))
    w = _counts(rows, count_col, ok)
    return _box_stats(pd.Series(per_week[has]), g[ok][has], None if w is None else w[has])


def hours_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                 title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, compact: bool = False,
                 count_col: str | None = None, attended: pd.DataFrame | None = None) -> go.Figure:
    """Scheduled and attended treatment hours per week per episode, boxes per group, ASAM minima as lines.

    ``attended``: the attended hours' rows apart (grouping column, ``los_days``, ``hours_attended``), ``cohort``
    then the scheduled hours' (as :func:`analysis.engagement.engagement_of_sides`); each box reads its own side's
    rows of the episodes with both hours.

    Hours per week = hours / (max(length of stay, 1 day) / 7), as
    :func:`analysis.engagement.engagement`. Dashed lines at the ASAM minimum scheduled hours
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
    if "hours_scheduled" not in cohort.columns or "hours_attended" not in (cohort if attended is None
                                                                           else attended).columns:
        raise ValueError("The data have no hours_scheduled and hours_attended columns, so hours per week "
                         "cannot be shown.")
    title = title or "Treatment hours per week by group"
    g = group_values(cohort, by, groups)
    order = list(g.cat.categories)
    colors = group_colors(order)
    stats = {"Scheduled": _hours_per_week(cohort, g, "hours_scheduled", "hours_attended", count_col),
             "Attended": _hours_per_week(cohort if attended is None else attended,
                                         g if attended is None else _in_groups(attended[by], order),
                                         "hours_attended", "hours_scheduled", count_col)}
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
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category", tickangle=-45 if compact else None)
    fig.update_yaxes(title_text="Hours per week", rangemode="tozero")
    return _finish_boxes(fig, title, compact, "Per group: left box scheduled (light), right box attended (filled); "
                         "whiskers 1.5 IQR; dashed: mean", hidden, min_cell)
