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
    _by_label,
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
from analysis.figures.curves import _curves_figure
from analysis.retention import ASAM_MIN_HOURS_PER_WEEK, group_values, weeks_of_stay
from analysis.schema import DISCHARGE_REASON_LABELS, DISCHARGE_REASONS
from analysis.suppression import DEFAULT_MIN_CELL, format_count


def retention_figure(km: pd.DataFrame, *, marks: Sequence[float] = (30, 60, 90), min_cell: int = DEFAULT_MIN_CELL,
                     title: str | None = None) -> go.Figure:
    """Share still in treatment by day since admission (Kaplan-Meier, log-log band), lines at ``marks``.

    ``survival`` of :func:`analysis.retention.retention_curve` is the share not yet discharged
    ``S(t) = prod (1 - d_j / n_j)``; curves stop where fewer than ``min_cell`` remain.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Retention in treatment by group (from admission)"
    fig, cut = _curves_figure(km, value_col="survival", lo_col="ci_lower", hi_col="ci_upper", flip=False,
                              min_cell=min_cell,
                              hover=("in treatment %{y:.1%} (95% CI %{customdata[0]:.1%} to "
                                     "%{customdata[1]:.1%}), n %{customdata[2]:,.0f}"))
    for m in marks:
        fig.add_vline(x=float(m), line_dash="dot", line_color="#444444", line_width=1,
                      annotation_text=f"{m:g} d", annotation_position="top right",
                      annotation_font={"size": 11, "color": _NOTE_COLOR})
    fig.update_xaxes(title_text="Days since admission", rangemode="tozero")
    fig.update_yaxes(title_text="Still in treatment (%)", tickformat=".0%", range=[0, 1.02])
    _layout(fig, title, hovermode="x unified")
    if cut:
        _note(fig, f"Curves stop where fewer than {min_cell} remain in treatment ({_small_note(min_cell)}).")
    return fig



def completion_figure(completion: pd.DataFrame, *, placements: pd.DataFrame | None = None,
                      title: str | None = None) -> go.Figure:
    """Completion rate per group, horizontal bars with Wilson 95% error bars, benchmark bands per row.

    Rate = completed / (discharged - transferred) (:func:`analysis.retention.completion_rates`);
    rows whose rate is suppressed (NaN) are left out with a ``"<11: not shown"`` note.

    Parameters
    ----------
    completion : DataFrame
        group, completion_rate, ci_lower, ci_upper (n_completed, n_discharged, n_transferred for hover).
    placements : DataFrame, optional
        group, benchmark_low, benchmark_high, benchmark_label: a translucent rectangle on the row
        of each group (a point value is drawn as a thin bar).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    title = title or "Treatment completion by group (transfers excluded)"
    groups = _group_order(completion["group"])
    colors = group_colors(groups)
    fig = go.Figure()
    labels = [_esc(group_label(g)) for g in groups]
    hidden = []
    for g, label in zip(groups, labels, strict=True):
        r = completion[completion["group"].astype(object) == g]
        rate = _num(r, "completion_rate")
        if len(r) == 0 or np.isnan(rate[0]):
            hidden.append(group_label(g))
            continue
        lo, hi = _num(r, "ci_lower")[0], _num(r, "ci_upper")[0]
        n_c = _count_text(r, "n_completed")[0]
        basis = r.get("n_discharged", pd.Series([np.nan])).astype(float).to_numpy()[0] - \
            r.get("n_transferred", pd.Series([0.0])).astype(float).fillna(0).to_numpy()[0]
        basis_text = format_count(basis) if basis == basis else "suppressed"
        fig.add_trace(go.Bar(
            x=[rate[0]], y=[label], orientation="h", name=label, legendgroup=str(g),
            marker={"color": colors[str(g)], "opacity": 0.85},
            error_x={"type": "data", "symmetric": False, "array": [max(hi - rate[0], 0) if hi == hi else 0],
                     "arrayminus": [max(rate[0] - lo, 0) if lo == lo else 0], "color": "#333333", "thickness": 1.5},
            customdata=[[lo, hi, n_c, basis_text]],
            hovertemplate=("%{x:.1%} (95% CI %{customdata[0]:.1%} to %{customdata[1]:.1%}); "
                           "%{customdata[2]} of %{customdata[3]} discharges<extra>%{fullData.name}</extra>")))
    if placements is not None and len(placements):
        bx, by, btext = [], [], []
        for _, p in placements.iterrows():  # a handful of rows: one per benchmark
            g = p["group"]
            if g not in groups or group_label(g) in hidden:
                continue
            i = groups.index(g)
            low, high = float(p["benchmark_low"]), float(p["benchmark_high"])
            if high - low < 0.006:
                low, high = low - 0.003, high + 0.003
            fig.add_shape(type="rect", x0=low, x1=high, y0=i - 0.45, y1=i + 0.45, xref="x", yref="y",
                          fillcolor="#888888", opacity=0.3, line_width=0, layer="above")
            bx.append((float(p["benchmark_low"]) + float(p["benchmark_high"])) / 2)
            by.append(labels[i])
            btext.append(_esc(p.get("benchmark_label", "benchmark")))
        if bx:
            fig.add_trace(go.Scatter(x=bx, y=by, mode="markers", name="Published benchmark",
                                     marker={"symbol": "line-ns", "size": 22, "color": "#555555",
                                             "line": {"width": 2, "color": "#555555"}},
                                     hovertext=btext, hovertemplate="benchmark %{x:.0%}: %{hovertext}<extra></extra>"))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed",
                     title_text="Group")
    fig.update_xaxes(title_text="Completed (% of discharges, transfers excluded)", tickformat=".0%",
                     range=[0, 1.0])
    _layout(fig, title, height=max(320, 120 + 55 * len(groups)))
    fig.update_layout(bargap=0.35)
    if hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: " + ", ".join(hidden) + ".")
    return fig


def reason_mix_figure(mix: pd.DataFrame, *, title: str | None = None) -> go.Figure:
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
    _layout(fig, title, legend_title="Discharge reason", height=max(340, 160 + 50 * len(groups)))
    if n_hidden:
        _note(fig, f"{_small_note(DEFAULT_MIN_CELL)}: {n_hidden} small or protecting cells left out, "
                   "so some bars do not reach 100%.")
    return fig



def _box_stats(values: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """Per group: n, quartiles (linear interpolation, as pandas) and Tukey whiskers (furthest value
    within 1.5 IQR of the quartiles). One mask per group: fast on millions of rows."""
    groups = groups if isinstance(groups.dtype, pd.CategoricalDtype) else groups.astype("category")
    codes = groups.cat.codes.to_numpy()
    v = np.asarray(values, dtype="float64")
    ok = ~np.isnan(v) & (codes >= 0)
    rows = {}
    for k, cat in enumerate(groups.cat.categories):
        x = v[ok & (codes == k)]
        if len(x) == 0:
            continue
        q1, med, q3 = np.quantile(x, (0.25, 0.5, 0.75))
        iqr = q3 - q1
        rows[cat] = {"n": len(x), "q1": q1, "median": med, "q3": q3, "mean": float(x.mean()),
                     "lowerfence": float(x[x >= q1 - 1.5 * iqr].min()),
                     "upperfence": float(x[x <= q3 + 1.5 * iqr].max())}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["n", "q1", "median", "q3", "mean", "lowerfence",
                                                                 "upperfence"])


def _box_trace(st: pd.Series, *, x: str, name: str, color: str, group_key: str, fill_alpha: float,
               offsetgroup: str | None = None, showlegend: bool = True) -> go.Box:
    return go.Box(x=[x], q1=[st["q1"]], median=[st["median"]], q3=[st["q3"]], lowerfence=[st["lowerfence"]],
                  upperfence=[st["upperfence"]], mean=[st["mean"]], name=name, legendgroup=group_key,
                  offsetgroup=offsetgroup, showlegend=showlegend,
                  marker={"color": color}, line={"color": color}, fillcolor=_rgba(color, fill_alpha),
                  hoverinfo="y+name")


def los_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
               title: str | None = None, min_cell: int = DEFAULT_MIN_CELL, log_y: bool = False) -> go.Figure:
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
    st = _box_stats(cohort.loc[done, "los_days"], g[done])
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
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category")
    fig.update_yaxes(title_text="Length of stay (days)" + (", log scale" if log_y else ""),
                     type="log" if log_y else "linear", rangemode="tozero")
    if log_y:
        ticks = [1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825]
        fig.update_yaxes(tickvals=ticks, ticktext=[str(v) for v in ticks], minor={"showgrid": False})
    _layout(fig, title)
    notes = ["Box: quartiles and median (dashed: mean); whiskers: furthest stay within 1.5 IQR; "
             "outlying stays not drawn"]
    if hidden:
        notes.append(f"{_small_note(min_cell)}: " + ", ".join(hidden))
    _note(fig, ". ".join(notes) + ".")
    return fig




def hours_figure(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence | None = None,
                 title: str | None = None, min_cell: int = DEFAULT_MIN_CELL) -> go.Figure:
    """Scheduled and attended treatment hours per week per episode, boxes per group, ASAM minima as lines.

    Hours per week = hours / (max(length of stay, 1 day) / 7), as
    :func:`analysis.retention.engagement`. Dashed lines at the ASAM minimum scheduled hours
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
    if not {"hours_scheduled", "hours_attended"} <= set(cohort.columns):
        raise ValueError("The data have no hours_scheduled and hours_attended columns, so hours per week "
                         "cannot be shown.")
    title = title or "Treatment hours per week by group"
    g = group_values(cohort, by, groups)
    ok = g.notna().to_numpy()
    c = cohort.loc[ok, [x for x in ("los_days", "hours_scheduled", "hours_attended") if x in cohort.columns]]
    weeks = weeks_of_stay(c["los_days"])
    sched = pd.to_numeric(c["hours_scheduled"], errors="coerce").to_numpy(dtype="float64") / weeks
    att = pd.to_numeric(c["hours_attended"], errors="coerce").to_numpy(dtype="float64") / weeks
    has = ~np.isnan(sched) & ~np.isnan(att)
    gg = g[ok][has]
    order = list(g.cat.categories)
    colors = group_colors(order)
    stats = {"Scheduled": _box_stats(pd.Series(sched[has]), gg), "Attended": _box_stats(pd.Series(att[has]), gg)}
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
    fig.update_xaxes(title_text=_esc(_by_label(by)), type="category")
    fig.update_yaxes(title_text="Hours per week", rangemode="tozero")
    _layout(fig, title)
    notes = ["Per group: left box scheduled (light), right box attended (filled); whiskers 1.5 IQR; "
             "dashed: mean"]
    if hidden:
        notes.append(f"{_small_note(min_cell)}: " + ", ".join(hidden))
    _note(fig, ". ".join(notes) + ".")
    return fig



def sankey_figure(flows: pd.DataFrame, *, min_cell: int = DEFAULT_MIN_CELL, title: str | None = None) -> go.Figure:
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
    _layout(fig, title, height=max(420, 60 * max(len(sources), len(targets), 1) + 200))
    fig.update_layout(showlegend=False)
    if n_hidden:
        _note(fig, f"{n_hidden} link{'s' if n_hidden != 1 else ''} with fewer than {min_cell} episodes "
                   f"not shown ({_small_note(min_cell)}).")
    return fig
