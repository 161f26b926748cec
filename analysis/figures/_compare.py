"""Helpers of the comparison figures (adjusted, effects, weighting): the pair's names, row labels, notes.

Row labels of dot-and-whisker charts (love plot, forest plots) go beside the rows, or above them on a phone.

On a wide screen the labels are the y axis' tick labels and the left margin is sized to the longest
one, so the notes under the chart can be wrapped to the plot's own width. On a phone
(``compact=True``) a label column would leave the dots a third of the screen: each label is written
above its row instead (annotations named ``"row label"``) and the plot keeps the full width, as
:func:`analysis.figures.benchmark_figure` does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.figures._layout import _lines, _note, _wrap, group_label

WIDE_PX = 1000
"""Width a wide figure is laid out for (the page's column and the 1100 px export are wider)."""
_CHAR_PX = 6.1  # one 11 px note character
_LABEL_CHAR_PX = 6.8  # one 13 px tick-label character


def pair_names(labels: Mapping[str, object] | None) -> tuple[str, str]:
    """Display names of A and B from ``{"a": name, "b": name}``; "A" and "B" without them."""
    if labels and "a" in labels and "b" in labels:
        return group_label(labels["a"]), group_label(labels["b"])
    return "A", "B"


def as_float(x) -> float:
    """A number, or NaN for None, text or anything else that is not one."""
    try:
        return float(x) if x is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def p_text(p: float) -> str:
    """``"p < 0.001"``, ``"p = 0.042"``, or ``""`` when missing."""
    return "" if not np.isfinite(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def place_row_labels(fig: go.Figure, labels: Sequence[str], *, compact: bool, yaxis: str = "y",
                     left: int | None = None) -> int:
    """Size the left margin for ``labels`` (wide) or write them above their rows (compact); returns the margin.

    Compact: labels wrap at 54 characters, sit on a white ground over the grid, and the category axis
    (reversed: the first label on top) gets room above its first row.
    """
    rows = list(dict.fromkeys(labels))
    if compact:
        for text in rows:
            fig.add_annotation(x=0, xref="paper", y=text, yref=yaxis, text=_wrap(text, 54), showarrow=False,
                               xanchor="left", yanchor="bottom", yshift=7, align="left", font={"size": 11},
                               bgcolor="rgba(255,255,255,0.85)", name="row label")
        top = 0.5 + 0.45 * max((_lines(_wrap(rows[0], 54)) if rows else 1), 1)
        fig.update_layout(**{f"yaxis{yaxis[1:]}": {"showticklabels": False, "title_text": "",
                                                   "autorange": False, "range": [len(rows) - 0.5, -top]}})
        margin = 14
    else:
        longest = max((len(part) for t in labels for part in str(t).split("<br>")), default=8)
        margin = left if left is not None else int(min(420, 24 + _LABEL_CHAR_PX * longest))
        fig.update_layout(**{f"yaxis{yaxis[1:]}": {"automargin": False}})
    fig.update_layout(margin={"l": margin})
    return margin


def fitted_note(fig: go.Figure, text: str, *, compact: bool, left: int) -> None:
    """A note wrapped to the plot's width on a wide figure (the shared notes assume a narrow label margin)."""
    if compact:
        _note(fig, text)
        return
    width = int((WIDE_PX - left - 30) / _CHAR_PX)
    for line in _wrap(text, width).split("<br>"):
        _note(fig, line)
