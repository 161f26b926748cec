"""A fair comparison of two groups drawn: the adjusted (weighted) curves with their risk table.

:func:`adjusted_km_figure` draws the weighted Kaplan-Meier curves of relapse per group of
:class:`analysis.comparison.Comparison` with their robust 95% bands, and under them the numbers at
risk, people and weighted (two rows per group; :func:`weighted_risk_rows` gives that table as text).
The effect measures are in :mod:`analysis.figures.effects`, the design checks (balance, overlap) in
:mod:`analysis.figures.weighting`.

The builder takes the comparison's frames as published (a hidden value is NaN; a ``<col>_suppressed``
flag, where present, hides its cell too) with groups keyed ``"a"``/``"b"`` and ``labels`` naming them
(:attr:`Comparison.labels`), or frames whose groups are already the groups' names. Colours are the
groups' (:func:`analysis.figures.group_colors`: one per level of care).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._compare import fitted_note
from analysis.figures._layout import (
    _NOTE_COLOR,
    _esc,
    _layout,
    _num,
    _small_note,
    group_colors,
    group_label,
)
from analysis.figures.curves import _curve_traces, _filled_interval, _step_points
from analysis.suppression import DEFAULT_MIN_CELL, format_count, truncate_curve

__all__ = ["adjusted_km_figure", "weighted_risk_rows"]

_ESTIMANDS = {"ate": "ATE weights, stabilised: both groups weighted to the case mix of everyone compared",
              "att": "ATT weights: {b} weighted to the case mix of {a}"}


# ---------------------------------------------------------------------------------------------
# groups
# ---------------------------------------------------------------------------------------------
def _groups(frame: pd.DataFrame, labels: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """``[(key in the frame, group name)]`` in the order a, b (or the frame's order without labels)."""
    keys = [str(g) for g in pd.unique(frame["group"].astype(object))] if "group" in frame.columns else []
    if labels:
        return [(k, str(labels[k])) for k in ("a", "b") if k in labels]
    return [(k, k) for k in keys]


def _unit_word(time_unit: str) -> str:
    return time_unit[:-1] if time_unit.endswith("s") else time_unit


def _axis_time(time_unit: str, origin: str | None) -> str:
    unit = time_unit[:1].upper() + time_unit[1:]
    return f"{unit} since {_esc(origin)}" if origin else unit


def _fmt_time(t: float) -> str:
    return f"{t:g}"


# ---------------------------------------------------------------------------------------------
# adjusted curves with the weighted risk table
# ---------------------------------------------------------------------------------------------
def _count_texts(a: pd.DataFrame, col: str, min_cell: int, also_hidden: np.ndarray | None = None) -> pd.Series:
    """Count text: a flag ``<col>_suppressed`` or a count from 1 to ``min_cell - 1`` reads ``"<11"``; a hidden
    (NaN) count, or one hidden with ``also_hidden``, reads ``"suppressed"``."""
    vals = pd.to_numeric(a[col], errors="coerce").reset_index(drop=True) if col in a.columns else \
        pd.Series(np.nan, index=range(len(a)))
    flag = (a[f"{col}_suppressed"].fillna(False).to_numpy(dtype=bool) if f"{col}_suppressed" in a.columns
            else np.zeros(len(a), dtype=bool))
    hidden = vals.isna().to_numpy()
    if also_hidden is not None:
        hidden = hidden | also_hidden
        vals = vals.mask(also_hidden)
    return format_count(vals, flag, min_cell=min_cell, complementary=hidden & ~flag)


def weighted_risk_rows(at_risk: pd.DataFrame, labels: Mapping[str, object] | None = None, *,
                       min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """The table under :func:`adjusted_km_figure` as text: one row per group and kind (people, weighted),
    one column per time.

    People counts from 1 to ``min_cell - 1`` (or flagged ``n_at_risk_suppressed``) read ``"<11"``, hidden
    (NaN) ones ``"suppressed"``; a weighted number is hidden wherever the people behind it are (it is
    about as many), and rounded to a whole number otherwise.

    Returns
    -------
    DataFrame
        ``group`` (name), ``kind`` ("people" / "weighted"), then one text column per time.
    """
    rows = []
    for key, name in _groups(at_risk, labels):
        a = at_risk[at_risk["group"].astype(str) == key].sort_values("time").reset_index(drop=True)
        people = _count_texts(a, "n_at_risk", min_cell)
        hide = (people.str.startswith("<") | (people == "suppressed")).to_numpy()
        weighted = _count_texts(a, "n_at_risk_weighted", min_cell, also_hidden=hide)
        times = [_fmt_time(t) for t in a["time"].to_numpy(dtype="float64")]
        rows.append({"group": name, "kind": "people", **dict(zip(times, people, strict=True))})
        rows.append({"group": name, "kind": "weighted", **dict(zip(times, weighted, strict=True))})
    return pd.DataFrame(rows)


_ROW_PX = 19


def _add_weighted_table(fig: go.Figure, at_risk: pd.DataFrame, pairs: list[tuple[str, str]], colors: dict,
                        min_cell: int, compact: bool) -> None:
    """Two text rows per group in subplot row 2: people at risk, then the weighted number at risk."""
    size = 10 if compact else 12
    ticktext, pos = [], 0
    for key, name in pairs:
        a = at_risk[at_risk["group"].astype(str) == key].sort_values("time").reset_index(drop=True)
        if a.empty:
            continue
        color = colors[name]
        people = _count_texts(a, "n_at_risk", min_cell)
        hide = (people.str.startswith("<") | (people == "suppressed")).to_numpy()
        weighted = _count_texts(a, "n_at_risk_weighted", min_cell, also_hidden=hide)
        label = _esc(group_label(name))
        x = a["time"].to_numpy(dtype="float64")
        for kind, text, tick in (("people", people, f"<b>{label}</b>"),
                                 ("weighted", weighted, "weighted" if not compact else "wtd")):
            ticktext.append(f'<span style="color:{color}">{tick}</span>')
            fig.add_trace(go.Scatter(x=x, y=np.full(len(a), pos, dtype="float64"), mode="text", text=text.tolist(),
                                     textfont={"color": color, "size": size}, hoverinfo="skip", showlegend=False,
                                     legendgroup=name, name=f"{label} at risk, {kind}"), row=2, col=1)
            pos += 1
    fig.update_yaxes(range=[pos - 0.4, -0.6], tickvals=list(range(pos)), ticktext=ticktext, showgrid=False,
                     zeroline=False, tickfont={"size": size}, title_text="", row=2, col=1)
    fig.add_annotation(text="Number at risk: people, and weighted", xref="x2 domain", yref="y2 domain", x=0, y=1.0,
                       yshift=4, xanchor="left", yanchor="bottom", showarrow=False,
                       font={"size": size, "color": _NOTE_COLOR})


def _top(y: float) -> float:
    """The top of a shortened relapse axis: the next 10% above the highest value (at least 10%)."""
    return float(min(1.02, max(0.1, np.ceil(y * 10 + 1e-9) / 10 + 0.02)))


def adjusted_km_figure(curves: pd.DataFrame, at_risk: pd.DataFrame | None = None, *,
                       labels: Mapping[str, object] | None = None, origin: str | None = "discharge",
                       time_unit: str = "days", estimand: str | None = None, tau: float | None = None,
                       show_ci: bool = True, as_relapse: bool = True, full_axis: bool | None = None,
                       min_cell: int = DEFAULT_MIN_CELL,
                       title: str | None = None, compact: bool = False) -> go.Figure:
    """Weighted Kaplan-Meier curves of relapse per group, robust 95% bands, the weighted risk table under them.

    Each curve starts at the origin with no one relapsed (a relapse at time 0, such as one during
    treatment counted from discharge, is the curve's first step, drawn as a rise at 0) and stops where
    fewer than ``min_cell`` people remain at risk (:func:`analysis.suppression.truncate_curve`, when
    ``n_at_risk`` is given). The bands are the comparison's robust (infinitesimal-jackknife) log-log
    intervals, turned over for relapse: ``[1 - upper, 1 - lower]``. The hover gives estimates and
    intervals only: numbers at risk at every step would give the steps' sizes away, so they are written
    only in the table, at the times of ``at_risk`` (which are the x ticks; on a phone choose few, e.g.
    0, 90, 180, 365 days).

    Parameters
    ----------
    curves : DataFrame
        :attr:`Comparison.curves`: ``group``, ``time``, ``survival``, ``ci_lower``, ``ci_upper`` (and
        ``n_at_risk`` for the truncation).
    at_risk : DataFrame, optional
        :meth:`Comparison.at_risk`: ``group``, ``time``, ``n_at_risk`` (people), ``n_at_risk_weighted``;
        flags ``n_at_risk_suppressed`` / ``n_at_risk_weighted_suppressed`` are honoured.
    labels : mapping, optional
        ``{"a": name, "b": name}`` (:attr:`Comparison.labels`) when the frames' groups are ``"a"``/``"b"``.
    origin, time_unit : str
        Named on the x axis ("Days since discharge") and at time 0.
    estimand : {"ate", "att"}, optional
        Says in a note which weights made the curves.
    tau : float, optional
        A dotted line at the restricted-mean horizon.
    show_ci, as_relapse : bool
        Bands on or off; cumulative relapse ``1 - S`` (default) or relapse-free ``S``.
    full_axis : bool, optional
        The relapse axis from 0 to 100% (True), or to just above the highest band (False). Default
        (None): the full axis unless every band stays under 50%, when a full axis would flatten
        the curves; the axis' ticks say where it stops. Relapse-free curves always get the full axis.
    """
    pairs = _groups(curves, labels)
    a_name, b_name = ([group_label(n) for _, n in pairs] + ["A", "B"])[:2]
    title = title or f"Relapse after weighting: {a_name} vs {b_name}" + (f" (from {origin})" if origin else "")
    colors = group_colors([n for _, n in pairs])
    has_n = "n_at_risk" in curves.columns
    shown = truncate_curve(curves, min_cell) if has_n and len(curves) else curves
    table = at_risk is not None and len(at_risk) > 0
    chart_px = 300 if compact else 400
    if table:
        n_rows = 2 * sum((at_risk["group"].astype(str) == k).any() for k, _ in pairs) + 1
        table_px, gap_px = _ROW_PX * n_rows + 10, 90 if origin else 70  # room for the two-line tick at 0
        total = chart_px + table_px + gap_px
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[chart_px / total, table_px / total],
                            vertical_spacing=gap_px / total)
        row, kw = 1, {"row": 1, "col": 1}
    else:
        fig, row, kw, table_px, gap_px = go.Figure(), None, {}, 0, 0
    unit = _unit_word(time_unit)
    word = "relapsed" if as_relapse else "relapse-free"
    hover = (f"{word} %{{y:.1%}} (95% CI %{{customdata[0]:.1%}} to %{{customdata[1]:.1%}}), "
             f"{unit} %{{x:g}}")
    span = float(np.nanmax(shown["time"])) if len(shown) else 0.0
    x_max, cut, missing, y_top = 0.0, False, [], 0.0
    for key, name in pairs:
        k = shown[shown["group"].astype(str) == key].sort_values("time", kind="stable")
        cut = cut or len(k) < int((curves["group"].astype(str) == key).sum())
        k = k.dropna(subset=["survival"])
        if k.empty:
            missing.append(group_label(name))
            continue
        kk = k.iloc[_step_points(k, ("survival", "ci_lower", "ci_upper"), span)]
        t = kk["time"].to_numpy(dtype="float64")
        s = kk["survival"].to_numpy(dtype="float64")
        lo, hi = _filled_interval(s, _num(kk, "ci_lower"), _num(kk, "ci_upper"))
        if t[0] > 0 or s[0] < 1:  # the start: everyone relapse-free at the origin
            t, s, lo, hi = np.r_[min(t[0], 0.0), t], np.r_[1.0, s], np.r_[1.0, lo], np.r_[1.0, hi]
        y, lo, hi = (1 - s, 1 - hi, 1 - lo) if as_relapse else (s, lo, hi)
        x_max = max(x_max, float(t[-1]))
        y_top = max(y_top, float(np.nanmax(hi if show_ci else y)))
        _curve_traces(fig, x=t, y=y, lo=lo, hi=hi, name=_esc(group_label(name)), color=colors[name],
                      group_key=name, hover=hover, customdata=np.column_stack([lo, hi]), show_ci=show_ci, row=row)
    if table:
        _add_weighted_table(fig, at_risk, pairs, colors, min_cell, compact)
        days = np.unique(at_risk["time"].to_numpy(dtype="float64"))
        x_max = max(x_max, float(days.max()))
        ticktext = [f"0<br>{_esc(origin)}" if d == 0 and origin else _fmt_time(d) for d in days]
        fig.update_xaxes(tickvals=days, ticktext=ticktext, row=1, col=1)
        fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=2, col=1)
        fig.update_xaxes(showticklabels=True, title_text=_axis_time(time_unit, origin), row=1, col=1)
    else:
        fig.update_xaxes(title_text=_axis_time(time_unit, origin))
    if full_axis is None:
        full_axis = y_top >= 0.5
    pad = (0.06 if table else 0.02) * x_max if x_max > 0 else 1.0
    fig.update_xaxes(range=[-pad, x_max + pad])
    fig.update_yaxes(title_text="Relapsed, weighted (%)" if as_relapse else "Relapse-free, weighted (%)",
                     tickformat=".0%", range=[0, 1.02] if not (as_relapse and full_axis is False) else
                     [0, _top(y_top)], **kw)
    if tau is not None and np.isfinite(tau):
        fig.add_vline(x=float(tau), line_dash="dot", line_color="#444444", line_width=1,
                      annotation_text=f"restricted mean to {tau:g} {time_unit}", annotation_position="top left",
                      annotation_font={"size": 11, "color": _NOTE_COLOR}, **kw)
    _layout(fig, title, hovermode="x unified", height=chart_px + table_px + gap_px + (170 if compact else 200),
            compact=compact, notes_at=18 if table else 55)
    weights = _ESTIMANDS[estimand].format(a=a_name, b=b_name) if estimand in _ESTIMANDS else None
    notes = ["Weighted Kaplan-Meier" + (f" ({weights})" if weights else "")
             + (", shaded: robust 95% intervals" if show_ci else "")]
    if origin == "discharge":
        notes.append("a relapse before discharge counts at day 0")
    if cut or missing:
        notes.append(f"curves stop where fewer than {min_cell} people remain at risk ({_small_note(min_cell)})")
    if missing:
        notes.append("no curve: " + ", ".join(missing))
    fitted_note(fig, "; ".join(notes) + ".", compact=compact, left=110)
    return fig
