"""Covariates to model terms, decided by dtype (the column-typing contract of COORDINATION.md).

* float / integer (``float64``, ``Int64``, ...): one linear term per unit, named after the column;
* boolean (numpy ``bool`` or pandas ``"boolean"``): one term ``col[True]`` against ``False``;
* object strings / Categorical: treatment dummies ``col[level]`` against a named reference level
  (given, else the most frequent level; ties go to the first level in category order, else sorted).

Shared by the Cox model (:mod:`analysis.cox`) and the propensity model (:mod:`analysis.comparison`) so
both read a covariate the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Term", "Variable", "MANY_LEVELS", "variable", "design_columns", "variable_notes", "pattern_key", "collapse", "value_codes"]

MANY_LEVELS = 20  # more levels than this gets a note (issue #8)


@dataclass(frozen=True)
class Variable:
    """One covariate read by dtype: categorical with levels and a reference, or numeric values."""

    name: str
    categorical: bool
    levels: tuple = ()
    ref: object = None
    codes: np.ndarray | None = None  # per row: index into levels
    values: np.ndarray | None = None  # numeric values
    boolean: bool = False

    @property
    def constant(self) -> bool:
        if self.categorical:
            return len(self.levels) < 2
        return bool(np.all(self.values == self.values[0])) if len(self.values) else True


@dataclass(frozen=True)
class Term:
    """One design column: its name (``col[level]`` or ``col``), variable and level (None if numeric)."""

    name: str
    variable: str
    level: object = None


def is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(s.dtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or pd.api.types.is_string_dtype(s.dtype)
    )


def ordered_levels(s: pd.Series) -> list:
    """Observed levels: category order for a Categorical, else sorted (R's factor default)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique().tolist())
        return [c for c in s.cat.categories if c in present]
    return _sorted_levels(pd.unique(s).tolist())


def _sorted_levels(uniq: list) -> list:
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def find_level(levels: Sequence, wanted, col: str):
    for lev in levels:
        if lev == wanted or str(lev) == str(wanted):
            return lev
    shown = ", ".join(map(str, levels))
    raise ValueError(f"Reference level {wanted!r} of {col!r} does not occur in the data (levels: {shown}).")


def _codes(s: pd.Series, levels: Sequence) -> np.ndarray:
    lookup = {lev: i for i, lev in enumerate(levels)}
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_map = np.array([lookup.get(c, -1) for c in s.cat.categories], dtype=np.int64)
        return cat_map[s.cat.codes.to_numpy()]
    codes, uniq = pd.factorize(s, sort=False)
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[codes]


def categorical_variable(s: pd.Series, name: str, ref=None, *, first_is_default: bool = False,
                         counts: np.ndarray | None = None) -> Variable:
    """A categorical variable (no missing values in ``s``); ``counts`` are row frequencies (default 1)."""
    found, uniq = (None, None) if isinstance(s.dtype, pd.CategoricalDtype) else pd.factorize(s, sort=False)
    if found is not None and not (found < 0).any():
        # one factorisation for both the levels (sorted, as ordered_levels) and the codes (as _codes)
        levels = _sorted_levels(uniq.tolist())
        lookup = {lev: i for i, lev in enumerate(levels)}
        codes = np.array([lookup[u] for u in uniq], dtype=np.int64)[found]
    else:
        levels = ordered_levels(s)
        codes = _codes(s, levels)
    boolean = pd.api.types.is_bool_dtype(s.dtype)
    if ref is not None:
        ref_level = find_level(levels, ref, name)
    elif first_is_default:
        ref_level = levels[0]
    elif boolean and False in levels:
        ref_level = False
    else:
        freq = np.bincount(codes, weights=counts, minlength=len(levels))
        ref_level = levels[int(np.argmax(freq))]  # most frequent, ties -> first level
    return Variable(name, True, tuple(levels), ref_level, codes=codes, boolean=boolean)


def variable(s: pd.Series, name: str, ref=None, *, counts: np.ndarray | None = None) -> Variable:
    """Read one covariate column (no missing values) by its dtype."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype):
        raise ValueError(f"{name!r} holds dates; a date cannot be a covariate (use a number of days or a year).")
    if is_categorical(s):
        return categorical_variable(s, name, ref, counts=counts)
    if ref is not None:
        raise ValueError(f"{name!r} is numeric (one term per unit); it has no reference level.")
    return Variable(name, False, values=s.to_numpy(dtype="float64"))


def design_columns(variables: Sequence[Variable], rows: np.ndarray | None = None
                   ) -> tuple[list[Term], np.ndarray, list[list[int]]]:
    """Terms, the design matrix (rows x terms, uncentred, column-major) and the columns of each variable."""
    terms: list[Term] = []
    term_cols: list[list[int]] = []
    for v in variables:
        idx = []
        if v.categorical:
            ref_code = v.levels.index(v.ref)
            for j, lev in enumerate(v.levels):
                if j != ref_code:
                    idx.append(len(terms))
                    terms.append(Term(f"{v.name}[{lev}]", v.name, lev))
        else:
            idx.append(len(terms))
            terms.append(Term(v.name, v.name))
        term_cols.append(idx)
    if rows is not None:
        n = len(rows)
    elif variables:
        n = len(variables[0].codes if variables[0].categorical else variables[0].values)
    else:
        n = 0
    X = np.zeros((n, len(terms)), order="F")
    for v, idx in zip(variables, term_cols, strict=True):
        if v.categorical:
            codes = v.codes if rows is None else v.codes[rows]
            col = np.full(len(v.levels), -1, dtype=np.int64)  # level code -> design column (-1: reference)
            col[[j for j, lev in enumerate(v.levels) if j != v.levels.index(v.ref)]] = idx
            target = col[codes]
            hit = target >= 0
            X[np.nonzero(hit)[0], target[hit]] = 1.0
        else:
            X[:, idx[0]] = v.values if rows is None else v.values[rows]
    return terms, X, term_cols


def variable_notes(v: Variable, counts: np.ndarray | None = None, min_cell: int = 11) -> list[str]:
    """Plain-language notes on a categorical covariate: too many levels, levels with few people."""
    if not v.categorical:
        return []
    notes = []
    if len(v.levels) > MANY_LEVELS:
        notes.append(f"{v.name} has {len(v.levels)} levels (more than {MANY_LEVELS}): each gets its own "
                     f"term, so estimates are unstable; merge rare levels, or if it is a number, type it as "
                     f"numeric (--type {v.name}=numeric).")
    freq = np.bincount(v.codes, weights=counts, minlength=len(v.levels))
    small = [str(lev) for lev, f in zip(v.levels, freq, strict=True) if 0 < f < min_cell]
    if small:
        notes.append(f"{v.name}: level(s) {', '.join(small)} have fewer than {min_cell} people; their "
                     "estimates are unstable and could point at individuals: merge them with another level.")
    return notes


def value_codes(values) -> np.ndarray:
    """Integer codes (>= 0, equal values equal codes, not necessarily dense) of a column without missing values.

    Whole numbers in a modest range (days, ages, counts, codes) are offset by their minimum, which is much
    cheaper than hashing; anything else is factorised.
    """
    if isinstance(values, pd.Series | pd.api.extensions.ExtensionArray) and pd.api.types.is_numeric_dtype(values.dtype):
        x = np.asarray(pd.array(values).to_numpy(dtype="float64", na_value=np.nan))
    else:
        x = np.asarray(values)
    if x.dtype.kind in "iub" or (x.dtype.kind == "f" and len(x) and np.all(np.isfinite(x))):
        lo, hi = (x.min(), x.max()) if len(x) else (0, 0)
        if hi - lo <= 4 * len(x) + 1024 and (x.dtype.kind != "f" or np.array_equal(x, np.floor(x))):
            return (x - lo).astype(np.int64)
    return pd.factorize(x if x.dtype.kind != "O" else pd.Series(x))[0].astype(np.int64)


def collapse(key: np.ndarray, counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with equal keys as one: ``(first, inverse, count)``, the position of each group's first row (in
    order of first appearance), each row's group and each group's count (sum of ``counts``, default 1)."""
    inverse, uniques = pd.factorize(key)
    seen = np.maximum.accumulate(np.concatenate([[-1], inverse]))
    first = np.flatnonzero(np.diff(seen) > 0)
    return first, inverse, np.bincount(inverse, weights=counts, minlength=len(uniques))


def pattern_key(parts: Sequence[np.ndarray]) -> np.ndarray:
    """One integer per distinct combination of integer-coded columns (codes >= 0), e.g. to collapse rows."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    radix = 1
    for part in parts:
        card = int(part.max()) + 1 if len(part) else 1
        if radix * card >= 2**62:  # too many combinations for one integer key
            return pd.MultiIndex.from_arrays(list(parts)).factorize()[0].astype(np.int64)
        key = key * card + part
        radix *= card
    return key
