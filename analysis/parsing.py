"""Reading values: dates, numbers, yes/no flags and labels, from text or from typed columns.

Every reader here takes a column as it came from a file (text from CSV; typed values from Parquet
or Excel) and returns the parsed column with a boolean array marking values that were present but
could not be read, so that validation can list them row by row. Nothing is guessed silently:

* **Numbers.** A typed numeric column is used as it is. In text, ``"1,234"`` and ``"1,234.5"``
  (commas in groups of three) are read with the comma as thousands separator and flagged
  (``grouped``) so the change is reported; a decimal comma (``"12,5"``) or a European number
  (``"1.234,5"``) is ambiguous and not read (``ambiguous``), with a message saying how to write it.
  When any value of a column has a decimal comma, every comma in that column is ambiguous.
* **Dates.** See :func:`parse_dates`.
* **Labels.** :func:`as_text` writes numbers without a spurious ``.0`` (an Excel or Parquet id
  ``123.0`` is the label ``"123"``, as in a CSV file).
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.schema import parse_boolean

__all__ = ["DATE_FORMATS", "NumberParse", "parse_dates", "parse_numbers", "parse_booleans", "as_text",
           "map_unique", "dates_out_of_range", "DATE_RANGE", "DATE_ORDERS", "DateOrder", "decide_date_order"]

#: Date formats tried, most common first; per column the best-fitting ones are tried in turn.
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y",
                                 "%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M",
                                 "%m/%d/%y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%Y%m%d")

#: The day/month orders a file's numeric dates can be read in (``date_order``): day first or month first.
DATE_ORDERS: dict[str, str] = {"dmy": "day first (DD/MM/YYYY)", "mdy": "month first (MM/DD/YYYY)"}
#: Formats that read a numeric date month first / day first: a file-wide order leaves out the others.
_MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%Y %H:%M", "%m/%d/%y", "%m.%d.%Y")
_DAY_FIRST = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M", "%d/%m/%y")
_FORMATS_BY_ORDER: dict[str | None, tuple[str, ...]] = {
    None: DATE_FORMATS,
    "dmy": tuple(f for f in DATE_FORMATS if f not in _MONTH_FIRST) + ("%d/%m/%Y %H:%M", "%d/%m/%y"),
    "mdy": tuple(f for f in DATE_FORMATS if f not in _DAY_FIRST) + ("%m.%d.%Y",),
}
#: A numeric date with the year last (``14/03/2023``, ``3.14.23``, ``03-14-2023 10:00``): day and month in some order.
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(?:\d{4}|\d{2})(?:[ T].*)?$")
#: An ISO date-time with fractional seconds or a time zone (``2022-01-01T23:30:00-05:00``, ``...Z``): its date part.
_ISO_ZONED = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*"
                        r"(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$", re.IGNORECASE)

#: The days a date can be (pandas' nanosecond range, whole days): outside them a value is unread, not a crash.
_FIRST_DAY = pd.Timestamp.min.ceil("D")
_LAST_DAY = pd.Timestamp.max.floor("D")
_YEAR = re.compile(r"(?<![0-9])[0-9]{4,}(?![0-9])")

_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_DECIMAL_COMMA = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$"


def map_unique(values: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct value once (fast on a million rows)."""
    uniques = values.dropna().unique()
    lookup = {u: func(u) for u in uniques}
    return values.map(lookup)


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (pd.Timestamp, _dt.datetime)) and value == pd.Timestamp(value).normalize():
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    return str(value).strip()


def as_text(values: pd.Series, clean: bool = False) -> pd.Series:
    """Values as stripped strings, missing (and empty) as None; ``clean``: already stripped by the reader.

    Numbers are written as a person would (``123.0`` -> ``"123"``), so an id read from Excel or
    Parquet gives the same label as from CSV.
    """
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        if clean:
            return values
        # one pass over the cells (pandas' .str.strip and .where cost far more on the many small columns
        # of a wide file, and no less on a long one)
        stripped = [(v.strip() or None) if isinstance(v, str) else None for v in values.to_numpy()]
        return pd.Series(stripped, index=values.index, name=values.name, dtype=object)
    out = values.astype(object).where(values.notna(), None)
    out = map_unique(out, _label)
    return out.where(out.notna() & (out != ""), None)


@dataclass(frozen=True)
class NumberParse:
    """Result of :func:`parse_numbers`: ``values`` (float64, NaN when unread), and per row ``bad``
    (present but not a number), ``grouped`` (read with a thousands separator) and ``ambiguous``
    (a decimal comma or European number: not read, a subset of ``bad``)."""

    values: pd.Series
    bad: np.ndarray
    grouped: np.ndarray
    ambiguous: np.ndarray

    def message(self, index) -> pd.Series:
        """A per-row message for the unread values (ambiguous separators explained)."""
        msg = pd.Series("Not a number.", index=index, dtype=object)
        msg[self.ambiguous] = ("Comma as decimal mark or ambiguous separators: write the number with a "
                               "point for decimals and no thousands separator (12.5, 1234.5).")
        return msg


def parse_numbers(values: pd.Series, clean: bool = False) -> NumberParse:
    """Parse a column of numbers (typed, or text with the separator rules of the module docstring)."""
    n = len(values)
    none = np.zeros(n, dtype=bool)
    if pd.api.types.is_bool_dtype(values):
        return NumberParse(values.astype("float64"), none, none, none)
    if pd.api.types.is_numeric_dtype(values):
        return NumberParse(values.astype("float64"), none, none, none)
    text = as_text(values, clean)
    cells = text.to_numpy(dtype=object)
    present = pd.notna(cells)
    numbers = np.asarray(pd.to_numeric(cells, errors="coerce"), dtype="float64")
    bad = present & np.isnan(numbers)
    grouped = ambiguous = none
    if bad.any():
        rest = text[bad]
        with_comma = rest.str.contains(",", regex=False)
        if with_comma.any():
            decimal = rest.str.match(_DECIMAL_COMMA) & ~rest.str.match(_GROUPED)
            if decimal.any():  # a column with decimal commas: every comma is ambiguous
                amb = with_comma
            else:
                is_grouped = rest.str.match(_GROUPED)
                retry = pd.to_numeric(rest[is_grouped].str.replace(",", "", regex=False), errors="coerce")
                at = values.index.get_indexer(retry.index)
                numbers[at] = retry.to_numpy(dtype="float64")
                grouped = np.zeros(n, dtype=bool)
                grouped[at[retry.notna().to_numpy()]] = True
                amb = with_comma & ~is_grouped
            ambiguous = np.zeros(n, dtype=bool)
            ambiguous[values.index.get_indexer(amb.index[amb])] = True
        bad = present & np.isnan(numbers)
    return NumberParse(pd.Series(numbers, index=values.index, name=values.name), bad, grouped, ambiguous)


def parse_booleans(values: pd.Series, event_value: object = None) -> tuple[pd.Series, np.ndarray]:
    """Parse yes/no, y/n, true/false, 1/0 into pandas ``boolean``; returns ``(flags, bad)``.

    ``event_value``: the label that means True (e.g. ``"2"`` for a status coded 1/2, or ``"0"`` for a
    column where 1 means censored); then the one other label means False and any third label is bad.
    When the event value and every value of the column are yes/no-like (1/0, true/false, yes/no, y/n,
    t/f), they are compared by meaning: ``"1"`` picks ``True`` of a true/false column, ``"no"`` picks ``0``.
    """
    if event_value is None:
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean"), np.zeros(len(values), dtype=bool)
        parsed = map_unique(values, parse_boolean)
        bad = (values.notna() & parsed.isna()).to_numpy()
        return parsed.astype("boolean"), bad
    text = as_text(values)
    lowered = text.str.lower() if text.notna().any() else text
    wanted = _label(event_value).lower()
    labels = pd.unique(lowered.dropna())
    meant = parse_boolean(wanted)
    if meant is not None and len(labels) and all(parse_boolean(v) is not None for v in labels):
        # a yes/no column and a yes/no event value: compared as yes/no, so "1" (or "yes") is True of a
        # true/false column and "0" its False, whatever the column's own spelling
        read = lowered.map({v: parse_boolean(v) == meant for v in labels})
        return read.astype("boolean"), np.zeros(len(values), dtype=bool)
    others = [v for v in labels if v != wanted]
    flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    flags[(lowered == wanted).fillna(False).to_numpy()] = True
    if len(others) == 1:
        flags[(lowered == others[0]).fillna(False).to_numpy()] = False
    bad = (text.notna() & flags.isna()).to_numpy()
    return flags, bad


def parse_dates(values: pd.Series, clean: bool = False, order: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of dates written in one or several formats.

    Formats of :data:`DATE_FORMATS` are ranked by how many of a sample they read, then tried in
    turn on what is still unread; Excel serial day numbers (e.g. ``45292``) and date objects from
    Excel or Parquet are accepted. ``order`` (``"dmy"`` or ``"mdy"``, the file's day/month order
    as :func:`decide_date_order` tells it) reads every numeric date in that order; without it an
    ambiguous order resolves to the format that reads most of the column (US month-first on a tie).
    Times of day are dropped; an ISO date-time with a time zone (``2022-01-01T23:30:00-05:00``,
    ``...Z``) is the calendar date written, not converted to UTC. Empty or blank text is missing,
    not unreadable.

    Returns
    -------
    (parsed, bad)
        ``datetime64[ns]`` Series (NaT where empty or unreadable) and a boolean array marking
        values that were present but could not be read.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        outside = ((parsed < _FIRST_DAY) | (parsed > _LAST_DAY)).to_numpy()  # e.g. year 3000 from Parquet
        if outside.any():
            parsed = parsed.where(~outside)
        return parsed.astype("datetime64[ns]").dt.normalize(), outside
    if values.dtype == object and not clean and pd.api.types.infer_dtype(values, skipna=True) == "string":
        values = values.str.strip()
        values = values.where(values != "", None)
    present = values.notna().to_numpy()
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if not present.any():
        return parsed, np.zeros(len(values), dtype=bool)
    objects = values[present]
    if pd.api.types.infer_dtype(objects, skipna=True) == "string":
        is_date_obj = pd.Series(False, index=objects.index)
    else:
        clean = False
        is_date_obj = objects.map(lambda v: isinstance(v, (_dt.date, pd.Timestamp, np.datetime64)))
    if is_date_obj.any():
        parsed[is_date_obj[is_date_obj].index] = pd.to_datetime(objects[is_date_obj], errors="coerce")
        objects = objects[~is_date_obj]
    text = objects if clean else objects.map(_label)
    remaining = text
    if len(text):
        sample = text.iloc[:: max(1, len(text) // 2000)]
        formats = _FORMATS_BY_ORDER[order] if order in _FORMATS_BY_ORDER else DATE_FORMATS
        scores = [(pd.to_datetime(sample, format=f, errors="coerce").notna().sum(), -i, f)
                  for i, f in enumerate(formats)]
        for score, _, fmt in sorted(scores, reverse=True):
            if remaining.empty:
                break
            if score == 0 and len(remaining) > 1000:
                # a format that read nothing of the sample is only worth a try on a few leftovers
                probe = pd.to_datetime(remaining.iloc[:1000], format=fmt, errors="coerce")
                if probe.isna().all():
                    continue
            got = pd.to_datetime(remaining, format=fmt, errors="coerce")
            ok = got.notna()
            if ok.any():
                parsed[got.index[ok]] = got[ok]
                remaining = remaining[~ok]
        if len(remaining):  # ISO date-times with fractional seconds or a zone: the date written
            zoned = map_unique(remaining.astype(object), _iso_date_part)
            got = pd.to_datetime(zoned, format="%Y-%m-%d", errors="coerce")
            ok = got.notna()
            if ok.any():
                parsed[got.index[ok]] = got[ok]
                remaining = remaining[~ok]
        serial = pd.to_numeric(remaining, errors="coerce")
        serial = serial[(serial >= 18264) & (serial <= 73051) & (serial == np.floor(serial))]  # 1950..2100
        if len(serial):
            parsed[serial.index] = pd.Timestamp("1899-12-30") + pd.to_timedelta(serial, unit="D")
    parsed = parsed.dt.normalize()
    bad = present & parsed.isna().to_numpy()
    return parsed, bad


def _iso_date_part(value: object) -> str | None:
    match = _ISO_ZONED.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


@dataclass(frozen=True)
class DateOrder:
    """The day/month order of a file's numeric dates (:func:`decide_date_order`): ``order`` ``"dmy"``,
    ``"mdy"`` or None (columns that disagree: each read as its values show), and the ``note`` saying so
    (None when the file has no numeric dates)."""

    order: str | None
    note: str | None = None


def _order_evidence(values: pd.Series) -> tuple[str | None, str | None, bool]:
    """(a value read only day first, a value read only month first, any numeric date) of a column."""
    day_first = month_first = None
    numeric = False
    cells = values.dropna()
    if not len(cells):
        return None, None, False
    for v in pd.unique(cells.to_numpy(dtype=object)):
        match = _NUMERIC_DATE.match(v) if isinstance(v, str) else None
        if not match:
            continue
        numeric = True
        first, second = int(match.group(1)), int(match.group(3))
        if day_first is None and 12 < first <= 31 and 1 <= second <= 12:
            day_first = v.strip()
        elif month_first is None and 12 < second <= 31 and 1 <= first <= 12:
            month_first = v.strip()
        if day_first is not None and month_first is not None:
            break
    return day_first, month_first, numeric


def decide_date_order(columns: Mapping[str, pd.Series], stated: str | None = None) -> DateOrder:
    """One day/month order for every date column of a file, from all its numeric dates together.

    A value whose first field is above 12 (``14/03/2023``) means day first, one whose second field is
    above 12 (``03/14/2023``) month first. ``stated`` (``"dmy"``/``"mdy"``, the user's word) wins.
    When nothing decides it (every field 12 or less) the dates are read month first and the note says
    the order could not be told; when columns disagree, each column is read as its values show and the
    note names them."""
    if stated is not None and stated not in DATE_ORDERS:
        raise ValueError(f"Unknown date order {stated!r}; use one of {', '.join(DATE_ORDERS)}.")
    day_cols: list[tuple[str, str]] = []
    month_cols: list[tuple[str, str]] = []
    undecided: list[tuple[str, str]] = []
    for name, values in columns.items():
        if values is None or pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
            continue
        day, month, numeric = _order_evidence(values)
        if day is not None:
            day_cols.append((name, day))
        if month is not None:
            month_cols.append((name, month))
        if numeric and day is None and month is None:
            first = next(v for v in values.dropna() if isinstance(v, str) and _NUMERIC_DATE.match(v))
            undecided.append((name, first.strip()))
    if not (day_cols or month_cols or undecided):
        return DateOrder(stated)
    if stated is not None:
        return DateOrder(stated, f"Dates read {DATE_ORDERS[stated]}, as stated (--date-order {stated}).")
    if day_cols and month_cols:
        said = "; ".join([f"{v} in {c} is day first" for c, v in day_cols] + [f"{v} in {c} is month first"
                                                                             for c, v in month_cols])
        return DateOrder(None, f"The date columns disagree on the day/month order ({said}): each column is read "
                         "in the order its own values show. Check the dates, or state the order (--date-order "
                         "dmy or mdy).")
    if day_cols or month_cols:
        order = "dmy" if day_cols else "mdy"
        column, value = (day_cols or month_cols)[0]
        return DateOrder(order, f"Dates read {DATE_ORDERS[order]}: {value} in {column} can only be read that way; "
                         "every date column of the file is read in this order.")
    column, value = undecided[0]
    return DateOrder("mdy", f"The day/month order of the dates could not be told from the values (every day is 12 "
                     f"or less, e.g. {value} in {column}): dates read {DATE_ORDERS['mdy']}. If they are day first, "
                     "state the order (--date-order dmy).")


#: The first and last year a date can fall in (whole years of pandas' nanosecond range).
DATE_RANGE: tuple[int, int] = (_FIRST_DAY.year + 1, _LAST_DAY.year - 1)


def dates_out_of_range(values: pd.Series, bad: np.ndarray) -> np.ndarray:
    """Of the values :func:`parse_dates` could not read (``bad``), those that are dates outside
    :data:`DATE_RANGE`: typed dates (e.g. year 3000 stored in Parquet) or text holding such a year
    (``"3000-01-01"``, ``"0001-01-01"``), so that they can be reported as out of range, not unreadable."""
    bad = np.asarray(bad, dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    if not bad.any():
        return out
    if pd.api.types.is_datetime64_any_dtype(values):
        return bad.copy()
    first, last = DATE_RANGE

    def outside(v: object) -> bool:
        if isinstance(v, (_dt.date, np.datetime64)):
            return True  # a date object parse_dates could not hold
        years = [int(y) for y in _YEAR.findall(str(v))]
        return len(years) == 1 and not first <= years[0] <= last

    out[np.flatnonzero(bad)] = map_unique(values[bad].astype(object), outside).fillna(False).astype(bool).to_numpy()
    return out
