"""Small-cell suppression for every table, chart and export (domain.md section 5.4).

The CMS cell-size rule: no count from 1 to 10 is shown, nor any count (or rate) from which one
can be worked out. Zero is shown: it identifies nobody. The threshold is a setting
(``min_cell``, default 11: counts ``1 .. min_cell - 1`` are hidden).

* :func:`suppress_counts` hides small counts (primary suppression) and the rates built on them.
* :func:`suppress_complementary` also hides the next-smallest counts of a set whose total is known
  (secondary suppression), so a hidden count cannot be recovered by subtraction.
* :func:`format_count` / :func:`format_rate` render the result for display and CSV: ``"<11"`` for a
  small count, ``"suppressed"`` for a count or rate hidden to protect one.
* :func:`truncate_curve` stops survival curves where fewer than ``min_cell`` remain at risk.

References
----------
.. [1] Centers for Medicare & Medicaid Services. CMS cell size suppression policy (cell sizes
   of 1 to 10 are not to be displayed, nor values from which they can be derived).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MIN_CELL", "SUPPRESSED_TEXT", "suppress_counts", "suppress_complementary",
    "format_count", "format_rate", "truncate_curve",
]

DEFAULT_MIN_CELL = 11
"""Smallest count shown; counts from 1 to ``DEFAULT_MIN_CELL - 1`` are suppressed."""

SUPPRESSED_TEXT = "suppressed"
"""Display text for a value hidden to protect a small count (a complementary cell or a rate)."""


def _check_min_cell(min_cell: int) -> int:
    if isinstance(min_cell, bool) or not float(min_cell).is_integer() or min_cell < 1:
        raise ValueError(f"The suppression threshold must be a whole number of at least 1, not {min_cell!r}.")
    return int(min_cell)


def _check_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"The table has no {what} column {', '.join(map(repr, missing))}.")


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _small(values: np.ndarray, min_cell: int) -> np.ndarray:
    return (values >= 1) & (values < min_cell)


def _rate_map(rate_cols: Sequence[str] | Mapping[str, str]) -> dict[str, str | None]:
    if isinstance(rate_cols, str):
        rate_cols = [rate_cols]
    if isinstance(rate_cols, Mapping):
        return dict(rate_cols)
    return {c: None for c in rate_cols}


def _finish(out: pd.DataFrame, df: pd.DataFrame, flags: dict[str, np.ndarray],
            rate_cols: Sequence[str] | Mapping[str, str], basis_col: str | None,
            min_cell: int) -> pd.DataFrame:
    """Hide flagged counts, then rates on hidden counts or small bases; add the flag columns."""
    n = len(df)
    any_count = np.zeros(n, dtype=bool)
    for col, flag in flags.items():
        out[col] = pd.Series(_numeric(df, col), index=df.index).mask(flag)
        out[f"{col}_suppressed"] = flag
        any_count |= flag
    rates = _rate_map(rate_cols)
    _check_columns(df, list(rates), "rate")
    small_basis = np.zeros(n, dtype=bool)
    if basis_col is not None:
        _check_columns(df, [basis_col], "basis count")
        small_basis = _numeric(df, basis_col) < min_cell
    any_flag = any_count.copy()
    for rate, numerator in rates.items():
        if numerator is not None and numerator not in flags:
            raise ValueError(f"The rate column {rate!r} is built on {numerator!r}, which is not one of "
                             "the count columns.")
        hide = small_basis | (flags[numerator] if numerator is not None else any_count)
        out[rate] = df[rate].mask(hide)
        out[f"{rate}_suppressed"] = hide
        any_flag |= hide
    out["suppressed"] = any_flag
    return out


def suppress_counts(df: pd.DataFrame, count_cols: Sequence[str], *, min_cell: int = DEFAULT_MIN_CELL,
                    rate_cols: Sequence[str] | Mapping[str, str] = (),
                    basis_col: str | None = None) -> pd.DataFrame:
    """Primary suppression: hide counts from 1 to ``min_cell - 1`` and the rates built on them.

    A count ``c`` is suppressed when ``1 <= c < min_cell``; zero stays visible. A rate is
    suppressed when its basis count (``basis_col``, e.g. the number of people) is below
    ``min_cell``, or when its numerator count is suppressed (rate × basis would give it back).

    Parameters
    ----------
    df
        Table of counts (one row per cell or per group).
    count_cols
        Count columns to check.
    min_cell
        Smallest count shown (default :data:`DEFAULT_MIN_CELL` = 11).
    rate_cols
        Rate (or interval-limit) columns. A mapping ``{rate_col: numerator_count_col}`` ties each
        rate to its numerator; a plain sequence hides the rate when any count of the row is hidden.
    basis_col
        Denominator count of the rates (may also be a count column).

    Returns
    -------
    pandas.DataFrame
        A copy with hidden values set to NaN (counts become float), a boolean
        ``<col>_suppressed`` column per count and rate column, and ``suppressed`` (any in the row).
    """
    min_cell = _check_min_cell(min_cell)
    count_cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    _check_columns(df, count_cols, "count")
    flags = {c: _small(_numeric(df, c), min_cell) for c in count_cols}
    return _finish(df.copy(), df, flags, rate_cols, basis_col, min_cell)


def _complementary(set_id: np.ndarray, values: np.ndarray, min_cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Primary and complementary flags for cells grouped into sets by integer ``set_id``.

    In every set holding a small count, cells are hidden in the order: small counts, then the
    other non-zero counts from the smallest up, until at least two cells are hidden and the hidden
    cells add up to at least ``min_cell`` (so neither a single hidden count nor the sum of the
    hidden ones is a small number that could be worked out from the total).
    """
    primary = _small(values, min_cell)
    eligible = values > 0  # NaN compares False: never chosen
    rank = np.where(primary, 0, np.where(eligible, 1, 2))
    order = np.lexsort((np.nan_to_num(values, nan=np.inf), rank, set_id))
    s_id = set_id[order]
    s_val = np.where(rank[order] < 2, values[order], 0.0)
    grouped = pd.Series(s_val).groupby(s_id, sort=False)
    sum_before = grouped.cumsum().to_numpy() - s_val
    count_before = grouped.cumcount().to_numpy()
    has_primary = pd.Series(primary[order]).groupby(s_id, sort=False).transform("any").to_numpy(dtype=bool)
    protected = (count_before >= 2) & (sum_before >= min_cell)
    hide_sorted = primary[order] | (has_primary & eligible[order] & ~protected)
    hide = np.empty_like(hide_sorted)
    hide[order] = hide_sorted
    return primary, hide & ~primary


def suppress_complementary(df: pd.DataFrame, count_cols: Sequence[str], total_col: str | None = None,
                           group_cols: Sequence[str] | None = None, *,
                           min_cell: int = DEFAULT_MIN_CELL,
                           rate_cols: Sequence[str] | Mapping[str, str] = ()) -> pd.DataFrame:
    """Primary plus complementary (secondary) suppression for counts that add up to a known total.

    Typical use: a discharge-reason mix, counts per reason within each level of care adding up to
    the level's total. When one count of such a set is hidden and the total is known, the
    next-smallest count must be hidden too or the first is the total minus the rest. Rule, per
    set: hide counts ``1 .. min_cell - 1``; if any were hidden, also hide the remaining non-zero
    counts from the smallest up until at least two are hidden *and* the hidden counts add up to
    ``min_cell`` or more. Zeros are shown and never chosen. A total from 1 to ``min_cell - 1`` is
    hidden as well. The total is assumed knowable even when ``total_col`` is not given (it may
    be printed elsewhere or follow from shares).

    Two layouts:

    * ``group_cols`` given (long table): each count column forms one set per group, its cells
      being the rows of the group (``group_cols=[]``: the whole table is one set).
    * ``group_cols=None`` (wide table): the ``count_cols`` of each row form one set.

    Only one dimension is protected: margins across groups (e.g. a column total per reason over
    all levels) are not checked.

    Parameters
    ----------
    df
        Table of raw (unsuppressed) counts.
    count_cols
        Count columns.
    total_col
        Column with the set total (repeated on each row of a group in a long table), if shown.
    group_cols
        Grouping columns of a long table, or None for a wide table.
    min_cell
        Smallest count shown (default 11).
    rate_cols
        Shares or rates to hide with their counts, as in :func:`suppress_counts`; their basis is
        ``total_col``.

    Returns
    -------
    pandas.DataFrame
        A copy with hidden counts NaN, ``<col>_suppressed`` (primary or complementary),
        ``<col>_complementary`` (hidden only to protect another count), the same for
        ``total_col``, rate flags and ``suppressed`` (any in the row).
    """
    min_cell = _check_min_cell(min_cell)
    count_cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    _check_columns(df, count_cols, "count")
    n = len(df)
    flags: dict[str, np.ndarray] = {}
    comp: dict[str, np.ndarray] = {}
    if group_cols is None:
        values = np.column_stack([_numeric(df, c) for c in count_cols]) if count_cols else np.empty((n, 0))
        set_id = np.repeat(np.arange(n), len(count_cols))
        primary, complementary = _complementary(set_id, values.reshape(-1), min_cell)
        primary = primary.reshape(n, -1)
        complementary = complementary.reshape(n, -1)
        for j, c in enumerate(count_cols):
            flags[c] = primary[:, j] | complementary[:, j]
            comp[c] = complementary[:, j]
    else:
        group_cols = [group_cols] if isinstance(group_cols, str) else list(group_cols)
        _check_columns(df, group_cols, "group")
        if group_cols:
            set_id = df.groupby(group_cols, sort=False, dropna=False, observed=True).ngroup().to_numpy()
        else:
            set_id = np.zeros(n, dtype="int64")
        for c in count_cols:
            primary, complementary = _complementary(set_id, _numeric(df, c), min_cell)
            flags[c] = primary | complementary
            comp[c] = complementary
    if total_col is not None:
        _check_columns(df, [total_col], "total")
        flags[total_col] = _small(_numeric(df, total_col), min_cell)
        comp[total_col] = np.zeros(n, dtype=bool)
    out = _finish(df.copy(), df, flags, rate_cols, total_col, min_cell)
    for c, flag in comp.items():
        out[f"{c}_complementary"] = flag
    return out


def _is_scalar(x: object) -> bool:
    return np.ndim(x) == 0


def _as_float_series(x: object, index: pd.Index | None) -> pd.Series:
    raw = pd.Series(np.atleast_1d(np.asarray(x, dtype="object")), index=index)
    return pd.to_numeric(raw, errors="coerce").astype("float64")


def format_count(x, suppressed=None, min_cell: int = DEFAULT_MIN_CELL, *, complementary=None):
    """Display text for counts: ``"<11"``, ``"suppressed"``, ``""`` or ``"1,234"``.

    A value is shown as ``"<{min_cell}"`` when flagged ``suppressed`` or when it is itself from 1
    to ``min_cell - 1`` (a safety net for unsuppressed input), as :data:`SUPPRESSED_TEXT` when
    flagged ``complementary`` (hidden to protect another count: it is not small), as ``""`` when
    missing, and otherwise rounded to a whole number with thousands separators.

    Returns
    -------
    str or pandas.Series
        A string for scalar input, else a Series of strings (index kept from a Series input).
    """
    min_cell = _check_min_cell(min_cell)
    scalar = _is_scalar(x)
    index = x.index if isinstance(x, pd.Series) else None
    vals = _as_float_series(x, index)
    sup = np.zeros(len(vals), dtype=bool) if suppressed is None else np.broadcast_to(
        np.asarray(suppressed, dtype=bool), len(vals))
    cmp = np.zeros(len(vals), dtype=bool) if complementary is None else np.broadcast_to(
        np.asarray(complementary, dtype=bool), len(vals))
    small = _small(vals.to_numpy(), min_cell)
    text = vals.round(0).map(lambda v: "" if v != v else f"{v:,.0f}")  # display only
    text = text.mask(sup | small, f"<{min_cell}").mask(cmp & ~small, SUPPRESSED_TEXT)
    return text.iloc[0] if scalar else text


def format_rate(x, suppressed=None, *, decimals: int = 1, percent: bool = True,
                suppressed_text: str = SUPPRESSED_TEXT):
    """Display text for proportions (0-1): ``"42.1%"`` (or ``"0.421"`` with ``percent=False``).

    Suppressed values show ``suppressed_text``, missing ones ``""``.

    Returns
    -------
    str or pandas.Series
        A string for scalar input, else a Series of strings.
    """
    scalar = _is_scalar(x)
    index = x.index if isinstance(x, pd.Series) else None
    vals = _as_float_series(x, index)
    sup = np.zeros(len(vals), dtype=bool) if suppressed is None else np.broadcast_to(
        np.asarray(suppressed, dtype=bool), len(vals))
    if percent:
        fmt = f"{{:.{decimals}f}}%"
        shown = (vals * 100).round(decimals)
    else:
        fmt = f"{{:.{decimals + 2}f}}"
        shown = vals.round(decimals + 2)
    text = shown.map(lambda v: "" if v != v else fmt.format(v + 0.0))  # +0.0 turns -0.0 into 0.0
    text = text.mask(sup, suppressed_text)
    return text.iloc[0] if scalar else text


def truncate_curve(km: pd.DataFrame, min_at_risk: int = DEFAULT_MIN_CELL, *, group_col: str = "group",
                   time_col: str = "time", at_risk_col: str = "n_at_risk") -> pd.DataFrame:
    """Stop survival curves where fewer than ``min_at_risk`` remain at risk.

    Per group (all rows are one curve when ``group_col`` is absent), drops every row from the first
    time at which ``n_at_risk < min_at_risk`` onwards; earlier rows keep their order and index.

    Returns
    -------
    pandas.DataFrame
        The kept rows of ``km``.
    """
    min_at_risk = _check_min_cell(min_at_risk)
    _check_columns(km, [time_col, at_risk_col], "curve")
    if km.empty:
        return km.copy()
    groups = km[group_col] if group_col in km.columns else pd.Series(0, index=km.index)
    key = pd.DataFrame({"g": groups.to_numpy(), "t": km[time_col].to_numpy(),
                        "low": (pd.to_numeric(km[at_risk_col], errors="coerce") < min_at_risk).to_numpy()})
    key = key.sort_values(["t"], kind="stable")
    dropped = key.groupby("g", sort=False, dropna=False)["low"].cummax().sort_index()
    return km.loc[~dropped.to_numpy()].copy()
