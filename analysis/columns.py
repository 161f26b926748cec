"""Column roles and types, inferred from a column's content (never from its name alone).

Every column of a loaded file gets a **type** and a **role**:

========== =================================================================================
type        content rule (on the non-empty values)
========== =================================================================================
binary      only two values, both yes/no-like (0/1, yes/no, y/n, true/false, t/f), or a typed
            boolean column
numeric     at least 90% are numbers (typed numbers, or text such as ``3``, ``-1.5``, ``1,234``)
            and more than two distinct values, or exactly two numbers where one is 0 and the
            other 1 (then binary)
categorical numbers with exactly two distinct values other than 0/1 (a code, e.g. 1/2), or text
            with at most 50 distinct values or at most half as many distinct values as rows
date        typed dates, or at least 90% of the text values read as dates
id          every value distinct (more than 20 of them), and text, or whole numbers that run
            consecutively or sit in a column named like an id
text        other text (free text, too many distinct values to compare groups)
========== =================================================================================

and an **empty** column (no value at all) is ``text`` with the role ``ignored``.

Roles: ``canonical`` (mapped onto a field of :mod:`analysis.schema`), ``grouping`` (binary or
categorical with 2-20 levels: a candidate grouping column, usable as a covariate too),
``covariate`` (numeric, or categorical with more levels) and ``ignored`` (ids, free text, dates
that are not mapped, empty or constant columns).

How statistics use the types (the contract of ``docs/architecture.md``): numeric columns arrive in
the episode table as ``float64`` and enter a Cox model linearly (per unit); binary as pandas
``boolean``, one term; categorical as ``object`` strings, treatment dummies against a named
reference level; dates as ``datetime64[ns]``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.parsing import as_text, parse_dates, parse_numbers
from analysis.schema import FIELD_BY_NAME, parse_boolean

__all__ = ["TYPES", "ROLES", "ColumnInfo", "infer_type", "describe_columns", "columns_frame",
           "covariate_warnings", "MAX_LEVELS", "parse_type_args"]

TYPES: tuple[str, ...] = ("numeric", "binary", "categorical", "date", "id", "text")
ROLES: tuple[str, ...] = ("canonical", "grouping", "covariate", "ignored")
#: More levels than this and a categorical covariate gets a warning (and is not a grouping candidate).
MAX_LEVELS = 20

_ID_NAME = re.compile(r"(^|[^a-z])(id|key|no|num|number|code|pid|mrn)($|[^a-z])|id$", re.IGNORECASE)
_SAMPLE = 20_000  # inference reads at most this many non-empty values of a column, spread over it

#: Schema field kinds and the column type they amount to.
_KIND_TYPE = {"id": "id", "category": "categorical", "date": "date", "number": "numeric", "integer": "numeric",
              "boolean": "binary"}


@dataclass(frozen=True)
class ColumnInfo:
    """One column of the file: its own name, its name in the episode table, role, type and why.

    ``levels`` is the number of distinct non-empty values (of a mapped column: in a sample of up to
    20,000 values spread over it); ``missing`` the empty cells;
    ``overridden`` says the type was set by the user rather than inferred.
    """

    source: str
    name: str
    role: str
    type: str
    reason: str
    levels: int
    missing: int
    overridden: bool = False


def _sample(values: pd.Series, clean: bool = False) -> pd.Series:
    """Non-empty values, at most :data:`_SAMPLE` of them taken evenly over the column."""
    step = max(1, len(values) // (4 * _SAMPLE))
    present = (values.iloc[::step] if step > 1 else values).dropna()
    if present.empty and step > 1:
        present = values.dropna()
    step = max(1, len(present) // _SAMPLE)
    if step > 1:
        present = present.iloc[::step]
    if present.dtype == object and not clean:
        keep = [not (isinstance(v, str) and not v.strip()) for v in present.to_numpy()]
        if not all(keep):
            present = present[np.array(keep, dtype=bool)]
    return present


def infer_type(values: pd.Series, name: str = "", *, clean: bool = False) -> tuple[str, str]:
    """The type of a column from its content, and a sentence saying why (rules in the module docstring).

    ``clean``: text cells are already trimmed and blanks missing (a reader's ``attrs["text_clean"]``).
    """
    present = _sample(values, clean)
    if present.empty:
        return "text", "empty: no value in the column"
    n = len(present)
    if pd.api.types.is_bool_dtype(present):
        return "binary", "stored as true/false"
    if pd.api.types.is_datetime64_any_dtype(present):
        return "date", "stored as dates"
    distinct = pd.unique(np.array([str(v).strip().lower() for v in present.to_numpy()], dtype=object)) \
        if present.dtype == object else pd.unique(present)
    k = len(distinct)
    numbers = parse_numbers(present, clean)
    share_numeric = 1 - numbers.bad.mean()
    if k <= 2 and all(parse_boolean(v) is not None for v in distinct):
        shown = "/".join(sorted(str(v) for v in distinct))
        return "binary", f"two yes/no values ({shown})"
    if share_numeric >= 0.9:
        vals = numbers.values.to_numpy(dtype="float64")
        vals = vals[~np.isnan(vals)]
        uniq = np.unique(vals)
        if len(uniq) == 2:
            shown = "/".join(f"{v:g}" for v in uniq)
            return "categorical", f"numbers with only two values ({shown}): a code"
        whole = bool(np.all(vals == np.round(vals)))
        if whole and k == n and n > 20:
            run = vals.max() - vals.min() == n - 1
            if run or _ID_NAME.search(name):
                return "id", "whole numbers, every one different" + (" and consecutive" if run else "")
        extra = "" if share_numeric == 1 else f" ({share_numeric:.0%} of the values; the rest are set missing)"
        return "numeric", f"numbers, {k} distinct values{extra}"
    if not pd.api.types.is_numeric_dtype(present):
        dates, bad = parse_dates(present.iloc[:5000])
        if 1 - bad.mean() >= 0.9:
            return "date", "text that reads as dates"
    if k == n and n > 20:
        return "id", "text, every value different"
    if k <= 50 or k <= n / 2:
        return "categorical", f"text with {k} distinct values"
    return "text", f"text with {k} distinct values in {n} rows (free text)"


def _role(type_: str, levels: int) -> str:
    if levels < 2 or type_ in ("id", "text", "date"):
        return "ignored"
    if type_ in ("binary", "categorical") and levels <= MAX_LEVELS:
        return "grouping"
    return "covariate"


def describe_columns(raw: pd.DataFrame, mapping: Mapping[str, str],
                     overrides: Mapping[str, str] | None = None) -> tuple[ColumnInfo, ...]:
    """Role and type of every column of ``raw`` (the file as read), given the column mapping.

    ``overrides``: ``{column: type}`` set by the user, by the file's own name (or the canonical
    name of a mapped field); they win over the inferred type of an unmapped column. A mapped
    column's type is its field's kind; an override that contradicts it raises ``ValueError``
    with a sentence saying how to unmap the field instead.
    """
    by_source = {src: canonical for canonical, src in mapping.items()}
    overrides = resolve_overrides(raw.columns, mapping, overrides)
    infos = []
    for col in raw.columns:
        col = str(col)
        values = raw[col] if raw.attrs.get("text_clean") else as_text(raw[col])
        cells = values.to_numpy()
        empty = pd.isna(cells)
        missing = int(empty.sum())
        if col in by_source:  # a mapped column: its distinct values are only shown (from a sample)
            levels = int(values.iloc[:: max(1, len(values) // _SAMPLE)].nunique())
            field = FIELD_BY_NAME[by_source[col]]
            type_ = _KIND_TYPE[field.kind]
            wanted = overrides.get(col)
            if wanted and wanted != type_ and not (wanted == "categorical" and type_ == "binary"):
                raise ValueError(f"{col} is mapped to the field {field.name} ({field.kind}), so it cannot be "
                                 f"read as {wanted}. To use it as a {wanted} column of its own, unmap the "
                                 f"field with --map {field.name}= (or '(not in file)' in the app).")
            infos.append(ColumnInfo(col, field.name, "canonical", type_, f"mapped to {field.name}", levels, missing))
            continue
        levels = len(pd.unique(cells[~empty])) if missing < len(cells) else 0
        if col in overrides:
            type_, reason, overridden = overrides[col], "set by you", True
        else:
            (type_, reason), overridden = infer_type(values, col, clean=True), False
        infos.append(ColumnInfo(col, col, _role(type_, levels), type_, reason, levels, missing, overridden))
    return tuple(infos)


def resolve_overrides(columns, mapping: Mapping[str, str], overrides: Mapping[str, str] | None) -> dict[str, str]:
    """``{file column: type}`` from overrides given by file name or canonical name; ``ValueError`` if unknown."""
    columns = [str(c) for c in columns]
    out: dict[str, str] = {}
    for key, type_ in dict(overrides or {}).items():
        type_ = str(type_).strip().lower()
        if type_ not in TYPES:
            raise ValueError(f"Unknown column type {type_!r} for {key}; use one of {', '.join(TYPES)}.")
        if key in columns:
            out[key] = type_
        elif key in mapping and mapping[key] in columns:
            out[mapping[key]] = type_
        else:
            lowered = {c.lower(): c for c in columns}
            if key.lower() in lowered:
                out[lowered[key.lower()]] = type_
            else:
                raise ValueError(f"--type names a column that is not in the file: {key}.")
    return out


def columns_frame(infos: tuple[ColumnInfo, ...]) -> pd.DataFrame:
    """The column table shown by ``check`` and the Data page."""
    return pd.DataFrame({"column": [i.source for i in infos], "used_as": [i.name for i in infos],
                         "role": [i.role for i in infos], "type": [i.type for i in infos],
                         "levels": [i.levels for i in infos], "missing": [i.missing for i in infos],
                         "why": [i.reason for i in infos]})


def covariate_warnings(data: pd.DataFrame, covariates, *, min_cell: int, labels: Mapping[str, str] | None = None,
                       count_col: str | None = None) -> list[str]:
    """Plain-language warnings for categorical covariates: too many levels, or a level with too few people.
    ``count_col``: collapsed rows (each stands for that many people)."""
    labels = dict(labels or {})
    out = []
    for c in covariates:
        if c not in data.columns:
            continue
        s = data[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            continue
        if count_col is None:
            counts = s.dropna().astype(str).value_counts()
        else:
            ok = s.notna().to_numpy()
            counts = data.loc[ok, count_col].groupby(s[ok].astype(str).to_numpy()).sum()
            counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
        shown = labels.get(c, c)
        if len(counts) > MAX_LEVELS:
            out.append(f"{shown} has {len(counts)} levels: each becomes its own term in the Cox model, which is "
                       f"then hard to read and unstable. Group rare levels into an 'other' level, or read it as "
                       f"a number with --type {shown}=numeric if it is one.")
        small = counts[counts < min_cell]
        if len(small) and len(counts) <= MAX_LEVELS:
            names = ", ".join(map(str, small.index[:5])) + (" ..." if len(small) > 5 else "")
            out.append(f"{shown} has level(s) with fewer than {min_cell} people ({names}): their hazard ratios "
                       "rest on very few people and are unstable. Merge them with a neighbouring level, or "
                       "leave the covariate out.")
    return out


def parse_type_args(items) -> dict[str, str]:
    """Parse command-line ``COLUMN=TYPE`` pairs."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"--type expects COLUMN=TYPE (a type among {', '.join(TYPES)}), got {item!r}.")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip().lower()
    return out
