"""The table under a Kaplan-Meier chart: numbers at risk, and (KMunicate style) relapses and censored.

Morris TP et al. Proposals on Kaplan-Meier plots in medical research and a survey of stakeholder
views: KMunicate. BMJ Open 2019;9:e030215 (the "at risk / events / censored" table under the curves).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._layout import _NOTE_COLOR, _esc, group_label
from analysis.suppression import format_count

__all__ = ["RISK_TABLE_STYLES", "risk_table_rows", "add_risk_table"]

RISK_TABLE_STYLES: tuple[str, ...] = ("at_risk", "kmunicate")
"""``at_risk``: one row per group, "n at risk (cumulative relapses)"; ``kmunicate``: three blocks
(at risk, relapses so far, censored so far), one row per group in each."""

_BLOCKS = (("At risk", "n_at_risk"), ("Relapses so far", "n_event_cum"), ("Censored so far", "n_censor_cum"))
ROW_PX = 19
"""Height of one table row in pixels (12 px text with room between rows)."""


def risk_table_rows(at_risk: pd.DataFrame, groups: list, style: str) -> list[tuple[str, object]]:
    """The table's rows top to bottom as ``(kind, value)``: ``("header", text)`` or ``(column, group)``."""
    if style not in RISK_TABLE_STYLES:
        raise ValueError(f"Unknown risk table style {style!r}: use one of {', '.join(RISK_TABLE_STYLES)}.")
    present = [g for g in groups if (at_risk["group"].astype(object) == g).any()]
    if style == "at_risk":
        return [("n_at_risk", g) for g in present]
    rows: list[tuple[str, object]] = []
    for header, col in _BLOCKS:
        if col not in at_risk.columns:
            continue
        rows.append(("header", header))
        rows += [(col, g) for g in present]
    return rows


def _counts(a: pd.DataFrame, col: str, min_cell: int) -> pd.Series:
    """Count text; a ``<col>_suppressed`` flag (from :mod:`analysis.suppression`) shows "<11" too."""
    flag = a[f"{col}_suppressed"].to_numpy(dtype=bool) if f"{col}_suppressed" in a.columns else None
    return format_count(a[col], flag, min_cell=min_cell)


def add_risk_table(fig: go.Figure, at_risk: pd.DataFrame, groups: list, colors: dict[str, str], min_cell: int,
                   *, style: str = "at_risk", compact: bool = False, row: int = 2) -> int:
    """Draw the table in subplot ``row`` (numeric y axis, one text trace per table row); returns its rows.

    Counts from 1 to ``min_cell - 1``, and counts flagged in ``<column>_suppressed``, read ``"<11"``
    (:func:`analysis.suppression.format_count`): the table is given published counts, this is a
    safety net. ``style="at_risk"`` writes
    ``"n (cumulative relapses)"`` per group, or only ``n`` when ``compact`` (numbers side by side
    must not overlap on a phone).
    """
    rows = risk_table_rows(at_risk, groups, style)
    size = 10 if compact else 12
    ticktext, tickvals = [], []
    for pos, (kind, value) in enumerate(rows):
        tickvals.append(pos)
        if kind == "header":
            ticktext.append(f"<b>{_esc(value)}</b>")
            continue
        g = value
        label = _esc(group_label(g))
        ticktext.append(f'<span style="color:{colors[str(g)]}">{label}</span>')
        a = at_risk[at_risk["group"].astype(object) == g].sort_values("day").reset_index(drop=True)
        text = _counts(a, kind, min_cell)
        if style == "at_risk" and not compact and "n_event_cum" in a.columns:
            text = text + " (" + _counts(a, "n_event_cum", min_cell) + ")"
        fig.add_trace(go.Scatter(x=a["day"].to_numpy(dtype="float64"), y=np.full(len(a), pos, dtype="float64"),
                                 mode="text", text=text.tolist(), textfont={"color": colors[str(g)], "size": size},
                                 hoverinfo="skip", showlegend=False, legendgroup=str(g),
                                 name=f"{label} {kind.replace('n_', '').replace('_cum', '').replace('_', ' ')}"),
                      row=row, col=1)
    # explicit reversed range: the first row on top, and no row clipped at the domain's edge
    fig.update_yaxes(range=[len(rows) - 0.4, -0.6], tickvals=tickvals, ticktext=ticktext, showgrid=False,
                     zeroline=False, tickfont={"size": size}, title_text="", row=row, col=1)
    if style == "at_risk":
        head = "Number at risk" + ("" if compact else " (cumulative relapses)")
        fig.add_annotation(text=head, xref=f"x{row} domain", yref=f"y{row} domain", x=0, y=1.0, yshift=4,
                           xanchor="left", yanchor="bottom", showarrow=False,
                           font={"size": size, "color": _NOTE_COLOR})
    return len(rows) + (1 if style == "at_risk" else 0)
