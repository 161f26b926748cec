"""Episode filters shared by every page: a frozen :class:`FilterSpec` and a vectorised :func:`apply_filters`.

A spec is plain data (dates and tuples of strings), so it hashes, compares and round-trips through
URL query parameters (:meth:`FilterSpec.to_query` / :meth:`FilterSpec.from_query`): a shared link
reproduces a view. An empty tuple (or ``None``) means "no restriction" on that column.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

__all__ = ["FilterSpec", "FILTER_COLUMNS", "SHORT_LEVEL_LABELS", "apply_filters", "filter_mask", "filter_options",
           "filter_sql"]

#: FilterSpec attribute -> cohort column it restricts (categorical filters).
FILTER_COLUMNS: dict[str, str] = {
    "levels": "level_of_care",
    "substances": "primary_substance",
    "age_bands": "age_band",
    "sexes": "sex",
    "sites": "site",
    "payers": "payer",
}
#: Short display names of level-of-care codes (for one-line descriptions).
SHORT_LEVEL_LABELS: dict[str, str] = {"detox": "Detox", "inpatient": "Inpatient", "residential": "Residential",
                                      "php": "PHP", "iop": "IOP", "op": "OP"}
_QUERY_KEYS: dict[str, str] = {"admission_from": "from", "admission_to": "to", "levels": "level",
                               "substances": "substance", "age_bands": "age", "sexes": "sex",
                               "co_occurring": "cooc", "sites": "site", "payers": "payer"}
_DESCRIBE_NAMES: dict[str, str] = {"levels": "levels", "substances": "primary substance",
                                   "age_bands": "age", "sexes": "sex", "sites": "sites", "payers": "payers"}


def _as_date(value: object) -> dt.date | None:
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(str(value)).date()
    except (ValueError, TypeError) as err:
        raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD).") from err


def _as_tuple(values: object) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(dict.fromkeys(str(v) for v in values if v is not None and str(v) != ""))


@dataclass(frozen=True)
class FilterSpec:
    """Which episodes to analyse.

    Attributes
    ----------
    admission_from, admission_to : datetime.date or None
        Inclusive admission-date range (``admission_from <= admission_date <= admission_to``).
    levels, substances, age_bands, sexes, sites, payers : tuple of str
        Allowed values of ``level_of_care``, ``primary_substance``, ``age_band``, ``sex``, ``site``,
        ``payer``; empty = all (episodes with a missing value are kept only when unrestricted).
    co_occurring : bool or None
        True keeps episodes with a co-occurring disorder, False those without, None all.
    """

    admission_from: dt.date | None = None
    admission_to: dt.date | None = None
    levels: tuple[str, ...] = ()
    substances: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    co_occurring: bool | None = None
    sites: tuple[str, ...] = ()
    payers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "admission_from", _as_date(self.admission_from))
        object.__setattr__(self, "admission_to", _as_date(self.admission_to))
        for name in FILTER_COLUMNS:
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        if self.co_occurring is not None and not isinstance(self.co_occurring, bool):
            raise ValueError("co_occurring must be True, False or None.")
        if self.admission_from and self.admission_to and self.admission_from > self.admission_to:
            raise ValueError(f"The admission range starts ({self.admission_from}) after it ends "
                             f"({self.admission_to}).")

    @property
    def is_empty(self) -> bool:
        """True when no filter is set (every episode is kept)."""
        return self == FilterSpec()

    def key(self) -> str:
        """A stable text key (for caches)."""
        return repr(self)

    def describe(self) -> str:
        """One line for people: ``"Admitted 2023-01-01 to 2024-12-31; levels IOP, Residential"``."""
        parts = []
        if self.admission_from and self.admission_to:
            parts.append(f"Admitted {self.admission_from:%Y-%m-%d} to {self.admission_to:%Y-%m-%d}")
        elif self.admission_from:
            parts.append(f"Admitted from {self.admission_from:%Y-%m-%d}")
        elif self.admission_to:
            parts.append(f"Admitted up to {self.admission_to:%Y-%m-%d}")
        for name, label in _DESCRIBE_NAMES.items():
            values = getattr(self, name)
            if values:
                shown = [SHORT_LEVEL_LABELS.get(v, v) for v in values] if name == "levels" else list(values)
                parts.append(f"{label} {', '.join(shown)}")
            if name == "sexes" and self.co_occurring is not None:
                parts.append("with a co-occurring disorder" if self.co_occurring
                             else "without a co-occurring disorder")
        return "; ".join(parts) if parts else "All episodes (no filters)"

    def to_query(self) -> dict[str, str | list[str]]:
        """URL query parameters (only the filters that are set; lists for multi-valued filters)."""
        out: dict[str, str | list[str]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            key = _QUERY_KEYS[f.name]
            if value is None or value == ():
                continue
            if isinstance(value, dt.date):
                out[key] = value.isoformat()
            elif isinstance(value, bool):
                out[key] = "yes" if value else "no"
            else:
                out[key] = list(value)
        return out

    @classmethod
    def from_query(cls, query: Mapping[str, object]) -> FilterSpec:
        """Inverse of :meth:`to_query`; unknown keys are ignored, a value may be a string or a list."""
        def get(key: str) -> object:
            value = query.get(key)
            if isinstance(value, (list, tuple)):
                return list(value)
            return value

        def scalar(key: str) -> object:
            value = get(key)
            return value[-1] if isinstance(value, list) and value else (None if value == [] else value)

        cooc = scalar("cooc")
        cooc_value = None if cooc in (None, "") else str(cooc).strip().lower() in ("yes", "true", "1")
        kwargs: dict[str, object] = {"admission_from": scalar("from"), "admission_to": scalar("to"),
                                     "co_occurring": cooc_value}
        for name in FILTER_COLUMNS:
            kwargs[name] = get(_QUERY_KEYS[name])
        return cls(**kwargs)


def filter_options(cohort: pd.DataFrame) -> dict[str, list[str]]:
    """Values each categorical filter can take in this cohort (level and age-band order kept, others sorted)."""
    out: dict[str, list[str]] = {}
    for name, col in FILTER_COLUMNS.items():
        if col not in cohort.columns:
            continue
        s = cohort[col]
        if isinstance(s.dtype, pd.CategoricalDtype):  # the categories that occur, from the codes (10M rows: no
            codes = s.cat.codes.to_numpy()             # string per row)
            seen = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
            present = {str(c) for c, k in zip(s.cat.categories, seen, strict=True) if k}
            out[name] = [str(c) for c in s.cat.categories if str(c) in present]
        else:
            out[name] = sorted(s.dropna().astype(str).unique().tolist())
    return out


def apply_filters(cohort: pd.DataFrame, spec: FilterSpec) -> pd.DataFrame:
    """The episodes of ``cohort`` that pass every filter of ``spec`` (a boolean mask, no row loop).

    Raises
    ------
    ValueError
        A filter names a column the data does not have (e.g. a date range on a duration-shaped file).
    """
    if spec.is_empty:
        return cohort
    out = cohort[filter_mask(cohort, spec)]
    out.attrs = dict(cohort.attrs)
    return out


def filter_mask(cohort: pd.DataFrame, spec: FilterSpec) -> np.ndarray:
    """Which rows of ``cohort`` pass every filter of ``spec`` (the mask of :func:`apply_filters`; raises as it does)."""
    keep = np.ones(len(cohort), dtype=bool)
    if spec.admission_from or spec.admission_to:
        if "admission_date" not in cohort.columns:
            raise ValueError("This file has no admission dates, so it cannot be filtered by admission date.")
        adm = cohort["admission_date"]
        if spec.admission_from:
            keep &= (adm >= pd.Timestamp(spec.admission_from)).to_numpy()
        if spec.admission_to:
            keep &= (adm < pd.Timestamp(spec.admission_to) + pd.Timedelta(days=1)).to_numpy()
    for name, col in FILTER_COLUMNS.items():
        values = getattr(spec, name)
        if not values:
            continue
        if col not in cohort.columns:
            raise ValueError(f"This file has no '{col}' column to filter on.")
        s = cohort[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = [c for c in s.cat.categories if str(c) in set(values)]
            keep &= s.isin(cats).to_numpy()
        else:
            keep &= s.isin(values).to_numpy()  # categories are text (validation keeps them as str)
    if spec.co_occurring is not None:
        if "co_occurring" not in cohort.columns:
            raise ValueError("This file has no 'co_occurring' column to filter on.")
        cooc = cohort["co_occurring"].astype("boolean")
        keep &= (cooc == spec.co_occurring).fillna(False).to_numpy(dtype=bool)
    return keep


def filter_sql(spec: FilterSpec, columns) -> str:
    """The filters of ``spec`` as one SQL condition (DuckDB dialect; ``TRUE`` when none is set).

    Same rows as :func:`apply_filters`: admission range inclusive by calendar day, categorical filters
    compared as text, a missing value kept only when its column is unrestricted, co-occurring
    ``TRUE``/``FALSE`` with missing excluded. Values are SQL string literals with quotes doubled,
    columns quoted identifiers.

    Raises
    ------
    ValueError
        A filter names a column the data does not have (the sentences of :func:`apply_filters`).
    """
    def lit(value: object) -> str:
        return "'" + str(value).replace("'", "''") + "'"

    def ident(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    columns = set(columns)
    parts: list[str] = []
    if spec.admission_from or spec.admission_to:
        if "admission_date" not in columns:
            raise ValueError("This file has no admission dates, so it cannot be filtered by admission date.")
        if spec.admission_from:
            parts.append(f"admission_date >= DATE {lit(spec.admission_from.isoformat())}")
        if spec.admission_to:
            nxt = spec.admission_to + dt.timedelta(days=1)
            parts.append(f"admission_date < DATE {lit(nxt.isoformat())}")
    for name, col in FILTER_COLUMNS.items():
        values = getattr(spec, name)
        if not values:
            continue
        if col not in columns:
            raise ValueError(f"This file has no '{col}' column to filter on.")
        parts.append(f"CAST({ident(col)} AS VARCHAR) IN ({', '.join(lit(v) for v in values)})")
    if spec.co_occurring is not None:
        if "co_occurring" not in columns:
            raise ValueError("This file has no 'co_occurring' column to filter on.")
        parts.append(f"co_occurring = {'TRUE' if spec.co_occurring else 'FALSE'}")
    return " AND ".join(f"({p})" for p in parts) if parts else "TRUE"
