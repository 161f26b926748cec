"""Text and CSV renderings of published tables: the one place hidden cells get their labels.

* a count from 1 to ``min_cell - 1`` reads ``"<11"``;
* a count hidden to protect another one reads ``"suppressed"`` (it is not small: labelling it "<11"
  would be false and would tell which cells are the small ones);
* a statistic that rests on a hidden count reads ``"suppressed"``.

Screen text rounds rates to 0.1 percentage point; the CSV keeps numbers as numbers (rates 0-1 to
four decimals, counts as integers) and writes the labels only where a value is hidden. Neither ever
contains a hidden value: :class:`analysis.disclosure.tables.PublishedTable` holds none.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.disclosure.solver import SMALL
from analysis.disclosure.tables import PublishedTable
from analysis.schema import LEVEL_LABELS
from analysis.suppression import SUPPRESSED_TEXT

__all__ = ["Col", "render", "hidden_text", "group_text", "fmt_p", "fmt_ci", "count_text", "LEGEND"]

LEGEND = ("<{m}: fewer than {m} people. suppressed: hidden so that no count below {m} can be worked out "
          "from the others (CMS cell-size rule).")


@dataclass(frozen=True)
class Col:
    """A column to render: header ``label``, ``kind`` and help text.

    kind: "group" (group labels), "text" (codes of reason, placement, status ... columns read as words),
    "count", "rate" (0-1, shown as %), "pp" (a difference of proportions: "+3.0 pp" on screen, 0-1 in the
    CSV), "days", "int", "number", "p", "ratio".
    """

    label: str
    kind: str = "text"
    help: str | None = None


_GROUP_VOCABULARIES = ("payer", "sex", "primary_substance", "discharge_reason")
_CODE_COLUMNS = ("reason", "discharge_reason", "placement", "status", "origin", "level_of_care", "from_level",
                 "to_level", "benchmark_direction")


def group_text(g: object) -> str:
    """Short display label of a group value (:mod:`analysis.labels`, one vocabulary): a level code becomes its
    abbreviation ("iop" -> "IOP"), "True"/"False" yes/no, a payer, sex, substance or reason code its label
    ("self_pay" -> "Self-pay"); anything else (a user's own value) as written."""
    from analysis.labels import BOOLEAN_TEXT, VALUE_LABELS

    code = str(g).strip().lower()
    if code in LEVEL_LABELS:
        label = LEVEL_LABELS[code]
        if "(" in label and label.endswith(")"):
            short = label[label.rindex("(") + 1:-1]
            return short[:1].upper() + short[1:]
        return label
    if code in ("true", "false"):
        return BOOLEAN_TEXT[code == "true"]
    text = str(g)
    for vocab in _GROUP_VOCABULARIES:
        if text in VALUE_LABELS.get(vocab, {}):
            return VALUE_LABELS[vocab][text]
    return text


def hidden_text(status: str, min_cell: int) -> str:
    """``"<11"`` for a small count, ``"suppressed"`` for anything else that is hidden."""
    return f"<{min_cell}" if status == SMALL else SUPPRESSED_TEXT


def count_text(value: float | None, status: str, min_cell: int, *, csv: bool = False) -> str:
    """One count as text: ``"1,234"`` (``"1234"`` in CSV), or its hidden label."""
    if value is None or value != value:
        return "" if status == "shown" else hidden_text(status, min_cell)
    return f"{value:.0f}" if csv else f"{value:,.0f}"


def fmt_p(p: float | None) -> str:
    """p-value text: "<0.001" or three decimals."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(est, lo, hi, *, percent: bool = True, decimals: int = 1) -> str:
    """"42.1% (38.0-46.3%)" or "0.81 (0.70-0.93)"; "" when the estimate is missing."""
    if est is None or not np.isfinite(est):
        return ""
    ok = lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi)
    if percent:
        core = f"{est * 100:.{decimals}f}%"
        return core + (f" ({lo * 100:.{decimals}f}-{hi * 100:.{decimals}f}%)" if ok else "")
    core = f"{est:.2f}"
    return core + (f" ({lo:.2f}-{hi:.2f})" if ok else "")


def _number(v: float, kind: str, csv: bool) -> str | float:
    if v != v:
        return ""
    if kind == "rate":
        return round(float(v), 4) if csv else f"{v * 100:.1f}%"
    if kind == "pp":  # a difference of proportions: percentage points on screen, 0-1 in the CSV
        return round(float(v), 4) if csv else f"{round(v * 100, 1) + 0.0:+.1f} pp"
    if kind == "int":
        return f"{v:.0f}"
    if kind == "p":
        return round(float(v), 6) if csv else fmt_p(v)
    dec = 1 if kind == "days" else 2
    return round(float(v), 4) if csv else f"{v:.{dec}f}"


def render(pt: PublishedTable, cols: Mapping[str, Col], *, csv: bool = False) -> pd.DataFrame:
    """The table as shown (``csv=False``: text) or downloaded (``csv=True``: numbers, labels where hidden).

    Columns come out in the order of ``cols``, headed by their labels; columns the table lacks are skipped.
    """
    out = {}
    frame = pt.frame
    for name, col in cols.items():
        if name not in frame.columns:
            continue
        s = frame[name]
        status = pt.status[name] if name in pt.status.columns else pd.Series("shown", index=frame.index)
        if col.kind == "group":
            out[col.label] = s.astype(object).map(group_text)
            continue
        if col.kind == "text" and name in _CODE_COLUMNS:  # codes read as words ("dropped_out" -> "Dropped out ...")
            from analysis.labels import value_label

            text = s.astype(object).map(lambda v, c=name: "" if v is None or (isinstance(v, float) and v != v) or v == ""
                                        else value_label(v, c))
        elif col.kind == "text":
            text = s.astype(object).map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
        elif col.kind == "count":
            vals = pd.to_numeric(s, errors="coerce")
            text = pd.Series([count_text(None if v != v else v, st, pt.min_cell, csv=csv)
                              for v, st in zip(vals, status, strict=True)], index=frame.index, dtype=object)
            if csv:
                text = text.map(lambda t: int(t) if t.isdigit() else t)
        else:
            vals = pd.to_numeric(s, errors="coerce")
            text = pd.Series([_number(v, col.kind, csv) for v in vals], index=frame.index, dtype=object)
        hidden = status.isin(("small", "protect", "rests")).to_numpy()
        labels = [hidden_text(st, pt.min_cell) for st in status]
        text = pd.Series(np.where(hidden, labels, text.to_numpy(dtype=object)), index=frame.index, dtype=object)
        out[col.label] = text
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)
