"""CSV downloads that are safe to open in a spreadsheet and carry their provenance.

:func:`to_csv_bytes` writes a table as UTF-8 CSV with the provenance as leading ``# `` comment
lines, and neutralises spreadsheet-formula injection (OWASP "CSV injection"): any text cell (or
column name) starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
apostrophe, so a spreadsheet shows it as text instead of evaluating it. Numbers (numeric columns,
and text that is exactly a plain number such as ``-0.5`` or ``-12%``) are left untouched.
"""
from __future__ import annotations

import re

import pandas as pd

from analysis.provenance import Provenance

__all__ = ["FORMULA_PREFIXES", "neutralize_formulas", "to_csv_bytes", "comment_line"]

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d[\d,]*)?(?:\.\d+)?(?:[eE][+-]?\d+)?%?$")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPLIT_FORMULA = re.compile(r"([,;]\s*)(?=[=+\-@])")


def _escape(value: object) -> object:
    if isinstance(value, str):
        value = _BREAKS.sub(" ", value)  # one line per row: no line of the file starts inside a label
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_PREFIXES) and not (
            value.strip() and _PLAIN_NUMBER.match(value.strip()) and any(ch.isdigit() for ch in value)):
        return "'" + value
    return value


def comment_line(text: str) -> str:
    """One provenance value as a safe ``# `` comment line (see the module docstring)."""
    one = _BREAKS.sub(" ", str(text))
    return "# " + _SPLIT_FORMULA.sub(lambda m: m.group(1) + "'", one)


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names cannot run as spreadsheet formulas.

    Rule: line breaks and control characters become spaces; then a string starting (after spaces) with
    one of :data:`FORMULA_PREFIXES` gets a leading ``'``, unless it is a plain number (``-3``, ``+1.5``,
    ``-12.5%``). Non-text columns are untouched.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            out[col] = s.astype(object).map(_escape)
    out.columns = [_escape(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame, provenance: Provenance | None = None, *, index: bool = False) -> bytes:
    """The table as UTF-8 CSV bytes: ``# `` provenance lines, then the header and rows.

    Parameters
    ----------
    df : DataFrame
        The table as shown (suppressed cells already replaced by ``"<11"``).
    provenance : Provenance, optional
        Written first, one ``# key: value`` line each.
    index : bool
        Write the index as a column.
    """
    header = "".join(comment_line(line) + "\n" for line in provenance.lines()) if provenance is not None else ""
    body = neutralize_formulas(df).to_csv(index=index, lineterminator="\n")
    return (header + body).encode("utf-8")
