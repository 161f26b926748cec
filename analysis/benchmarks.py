"""Published benchmarks and where a program's estimate sits against them.

The packaged table ``analysis/data/benchmarks.csv`` holds only figures cited in the domain brief
(McLellan et al. JAMA 2000; Hunt et al. 1971; SAMHSA TEDS-D 2019 and TEDS 2004; NIATx; the ASAM
Criteria), each with its source, year, horizon, time origin and unit. An organisation can add its
own targets in a file of the same format (:func:`load_benchmarks`).

A benchmark is a band ``[low, high]`` (``low == high`` for a point value), not a verdict:
:func:`compare_to_benchmark` says whether an estimate's 95% interval lies below, inside, across or
above it. It says nothing for an estimate that is suppressed (``"suppressed"``) or for a figure
about another measure, shown for context only (direction ``other_measure``: symptom recurrence in
diabetes, hypertension and asthma beside relapse in addiction; ``"not_comparable"``).

An organisation's own targets are judged by :func:`target_status`: met, not met, or cannot tell
from the interval. :class:`BenchmarkBand` carries one band with the horizon, origin and unit it
was stated for, so a chart draws it only where that definition applies.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.schema import LEVELS_OF_CARE, normalize_level_of_care

__all__ = [
    "COLUMNS", "REQUIRED_COLUMNS", "UNITS", "PROPORTION_UNITS", "DIRECTIONS", "PLACEMENTS", "STATUSES",
    "BenchmarkBand", "load_benchmarks", "validate_benchmarks", "compare_to_benchmark", "place_against_benchmarks",
    "benchmark_band", "target_status", "organisation_targets",
]

COLUMNS: tuple[str, ...] = ("id", "metric", "horizon_days", "origin", "unit", "level_of_care", "low",
                            "high", "direction", "population", "source", "year", "note")
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "metric", "unit", "low", "high", "direction", "source")
"""Columns an organisation's file must have; the others may be left out (read as blank)."""
PROPORTION_UNITS: tuple[str, ...] = ("person", "discharge", "episode", "appointment")
"""Units whose ``low``/``high`` are proportions in 0-1 (per person, discharge, episode, appointment)."""
UNITS: tuple[str, ...] = (*PROPORTION_UNITS, "hours/week", "days")
DIRECTIONS: tuple[str, ...] = ("lower_is_better", "higher_is_better", "context", "other_measure")
"""``context``: no better side, still placed; ``other_measure``: a figure about another measure,
shown beside ours for context and never placed."""
ORIGINS: tuple[str, ...] = ("admission", "discharge")
PLACEMENTS: tuple[str, ...] = ("below", "inside", "overlapping", "above", "unknown", "suppressed",
                               "not_comparable")
STATUSES: tuple[str, ...] = ("met", "not_met", "cannot_tell", "suppressed", "no_estimate", "not_a_target")
"""Results of :func:`target_status`."""

_PACKAGED_BY = "Continuum"
_EXTRA_BY = "organisation"


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def _rows(mask: pd.Series, label: str) -> str:
    # data row numbers as a spreadsheet shows them (header is row 1)
    idx = np.flatnonzero(mask.to_numpy(dtype=bool)) + 2
    shown = ", ".join(map(str, idx[:5])) + (" ..." if len(idx) > 5 else "")
    return f"{label} row{'s' if len(idx) > 1 else ''} {shown}"


def validate_benchmarks(df: pd.DataFrame, label: str = "benchmark file") -> pd.DataFrame:
    """Check and normalise a benchmark table; raise ``ValueError`` naming what is wrong.

    Rules: the :data:`REQUIRED_COLUMNS` are present; ``id`` and ``metric`` are filled and ids are
    unique; ``unit`` is one of :data:`UNITS`; ``direction`` one of :data:`DIRECTIONS`; ``low`` and
    ``high`` are numbers with ``low <= high``, in 0-1 for the :data:`PROPORTION_UNITS`;
    ``horizon_days`` and ``year`` are blank or whole numbers; ``origin`` is blank, ``admission`` or
    ``discharge``; ``level_of_care`` is blank, ``all`` or a label :func:`analysis.schema.normalize_level_of_care`
    places (stored as its code). Unknown extra columns are dropped.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` in order; ``low``/``high`` float, ``horizon_days``/``year`` Int64,
        text columns str with ``""`` for blank.
    """
    df = df.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"The {label} has no column {', '.join(map(repr, missing))}; a benchmark file needs "
                         f"the columns {', '.join(COLUMNS)} (optional: horizon_days, origin, level_of_care, "
                         "population, year, note).")
    df = df.reset_index(drop=True)
    out = pd.DataFrame(index=df.index)
    for c in ("id", "metric", "unit", "direction", "origin", "level_of_care", "population", "source", "note"):
        col = df[c] if c in df.columns else pd.Series("", index=df.index)
        out[c] = col.astype("string").fillna("").str.strip().astype(object)
    for c in ("id", "metric", "source"):
        if (out[c] == "").any():
            raise ValueError(f"The {label} has an empty {c!r} in {_rows(out[c] == '', 'data')}.")
    dup = out["id"].duplicated(keep=False)
    if dup.any():
        raise ValueError(f"The {label} repeats the id {out.loc[dup, 'id'].iloc[0]!r}: every benchmark "
                         "needs its own id.")
    out["unit"] = out["unit"].str.lower()
    out["direction"] = out["direction"].str.lower()
    out["origin"] = out["origin"].str.lower()
    for c, allowed in (("unit", UNITS), ("direction", DIRECTIONS)):
        bad = ~out[c].isin(allowed)
        if bad.any():
            raise ValueError(f"The {label} has {c} {out.loc[bad, c].iloc[0]!r} in {_rows(bad, 'data')}; "
                             f"{c} must be one of {', '.join(allowed)}.")
    bad = ~out["origin"].isin(("", *ORIGINS))
    if bad.any():
        raise ValueError(f"The {label} has origin {out.loc[bad, 'origin'].iloc[0]!r} in {_rows(bad, 'data')}; "
                         "origin must be admission, discharge or blank.")
    levels = out["level_of_care"].map(lambda v: "" if v.lower() in ("", "all") else normalize_level_of_care(v))
    bad = levels.isna()
    if bad.any():
        raise ValueError(f"The {label} has level of care {out.loc[bad, 'level_of_care'].iloc[0]!r} in "
                         f"{_rows(bad, 'data')}; use one of {', '.join(LEVELS_OF_CARE)} or leave it blank "
                         "for all levels.")
    out["level_of_care"] = levels.astype(object)
    for c in ("low", "high"):
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna()
        if bad.any():
            raise ValueError(f"The {label} has a {c!r} that is not a number in {_rows(bad, 'data')}.")
        out[c] = num.astype("float64")
    bad = out["low"] > out["high"]
    if bad.any():
        raise ValueError(f"The {label} has low above high in {_rows(bad, 'data')}.")
    prop = out["unit"].isin(PROPORTION_UNITS)
    bad = prop & ((out["low"] < 0) | (out["high"] > 1))
    if bad.any():
        raise ValueError(f"The {label} has a proportion outside 0-1 in {_rows(bad, 'data')}; write "
                         "proportions as 0-1 (40% as 0.40).")
    for c in ("horizon_days", "year"):
        raw = df[c] if c in df.columns else pd.Series("", index=df.index)
        blank = _blank(raw)
        num = pd.to_numeric(raw.where(~blank), errors="coerce")
        bad = (~blank & num.isna()) | (num < 0) | (num.notna() & (num % 1 != 0))
        if bad.any():
            raise ValueError(f"The {label} has a {c!r} that is not a whole number in {_rows(bad, 'data')}.")
        out[c] = num.astype("Int64")
    return out[list(COLUMNS)]


def _read(extra: str | Path | bytes | pd.DataFrame) -> pd.DataFrame:
    if isinstance(extra, pd.DataFrame):
        return extra.copy()
    if isinstance(extra, bytes | bytearray):
        source: object = io.BytesIO(bytes(extra))
    elif isinstance(extra, str | Path):
        source = Path(extra)
    elif hasattr(extra, "read"):
        source = extra
    else:
        raise ValueError(f"Cannot read benchmarks from a {type(extra).__name__}: give a path, bytes or a "
                         "DataFrame.")
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"The organisation's benchmark file could not be read as CSV: {err}") from err


_PACKAGED: tuple | None = None
"""(the packaged file's size and modification time, its checked table), read once."""


def _packaged_stamp() -> tuple:
    try:
        stat = Path(str(resources.files("analysis.data").joinpath("benchmarks.csv"))).stat()
        return stat.st_size, stat.st_mtime_ns
    except OSError:  # (not a plain file: read every time)
        return (object(),)


def load_benchmarks(extra: str | Path | bytes | pd.DataFrame | None = None) -> pd.DataFrame:
    """The packaged benchmark table, with an organisation's own benchmarks appended.

    Reads ``analysis/data/benchmarks.csv`` through :mod:`importlib.resources` and, if given,
    ``extra`` (a CSV path, CSV bytes or a DataFrame with the same columns), both checked by
    :func:`validate_benchmarks`. An organisation's id may not repeat a packaged id.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` plus ``provided_by`` (``"Continuum"`` or ``"organisation"``).
    """
    if _PACKAGED is None or _PACKAGED[0] != _packaged_stamp():
        with resources.files("analysis.data").joinpath("benchmarks.csv").open("rb") as fh:
            packaged = pd.read_csv(fh, dtype=str, keep_default_na=False)
        checked = validate_benchmarks(packaged, "packaged benchmark file")
        checked["provided_by"] = _PACKAGED_BY
        globals()["_PACKAGED"] = (_packaged_stamp(), checked)
    table = _PACKAGED[1].copy()  # (read and checked once per file version: each view placed its estimates on it)
    if extra is None:
        return table
    own = validate_benchmarks(_read(extra), "organisation's benchmark file")
    clash = own["id"].isin(table["id"])
    if clash.any():
        raise ValueError(f"The organisation's benchmark file reuses the packaged id "
                         f"{own.loc[clash, 'id'].iloc[0]!r}; give your benchmark another id.")
    own["provided_by"] = _EXTRA_BY
    return pd.concat([table, own], ignore_index=True)


def _interval(estimate, lower, upper, *more):
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype="float64") for a in (estimate, lower, upper, *more)))
    est, lo, hi = arrays[:3]
    no_interval = np.isnan(lo) | np.isnan(hi)
    return (est, np.where(no_interval, est, lo), np.where(no_interval, est, hi), *arrays[3:])


def _flags(flag, shape) -> np.ndarray:
    """A boolean array of ``shape`` from a flag (scalar or array; missing counts as False)."""
    if flag is None:
        return np.zeros(shape, dtype=bool)
    a = np.asarray(flag, dtype=object)
    return np.broadcast_to(np.where(pd.isna(a), False, a).astype(bool), shape)


def compare_to_benchmark(estimate, lower, upper, low, high, *, suppressed=None, comparable=None):
    """Where an estimate's interval lies against a benchmark band ``[low, high]``.

    ``"below"`` when ``upper < low``; ``"above"`` when ``lower > high``; ``"inside"`` when
    ``low <= lower`` and ``upper <= high``; ``"overlapping"`` otherwise (the interval meets the band
    without lying within it; touching an end counts as meeting). A missing interval falls back to
    the point estimate; ``"unknown"`` when nothing is available. ``"suppressed"`` where
    ``suppressed`` is true (an estimate that is not shown is not placed either) and
    ``"not_comparable"`` where ``comparable`` is false (a band about another measure). Vectorised.

    Returns
    -------
    str or numpy.ndarray of str
    """
    est, lo, hi, b_lo, b_hi = _interval(estimate, lower, upper, low, high)
    sup = _flags(suppressed, est.shape)
    other = ~_flags(True if comparable is None else comparable, est.shape)
    unknown = np.isnan(lo) | np.isnan(hi) | np.isnan(b_lo) | np.isnan(b_hi)
    with np.errstate(invalid="ignore"):
        result = np.select(
            [sup, other, unknown, hi < b_lo, lo > b_hi, (lo >= b_lo) & (hi <= b_hi)],
            ["suppressed", "not_comparable", "unknown", "below", "above", "inside"], default="overlapping")
    return str(result) if result.ndim == 0 else result.astype(object)


def target_status(estimate, lower, upper, low, high, direction, *, suppressed=None):
    """Whether an estimate meets a target, judged from its 95% interval.

    ``higher_is_better`` (the target is at least ``low``): ``"met"`` when ``lower >= low``,
    ``"not_met"`` when ``upper < low``, else ``"cannot_tell"``. ``lower_is_better`` (at most
    ``high``): ``"met"`` when ``upper <= high``, ``"not_met"`` when ``lower > high``, else
    ``"cannot_tell"``. Without an interval the point estimate decides. ``"suppressed"`` where
    ``suppressed``; ``"no_estimate"`` when the estimate is missing; ``"not_a_target"`` for the
    directions ``context`` and ``other_measure``. Vectorised.

    Returns
    -------
    str or numpy.ndarray of str
    """
    est, lo, hi, b_lo, b_hi = _interval(estimate, lower, upper, low, high)
    direction = np.broadcast_to(np.asarray(direction, dtype=object), est.shape)
    sup = _flags(suppressed, est.shape)
    up = direction == "higher_is_better"
    down = direction == "lower_is_better"
    with np.errstate(invalid="ignore"):
        result = np.select(
            [~(up | down), sup, np.isnan(est),
             up & (lo >= b_lo), up & (hi < b_lo), down & (hi <= b_hi), down & (lo > b_hi)],
            ["not_a_target", "suppressed", "no_estimate", "met", "not_met", "met", "not_met"],
            default="cannot_tell")
    return str(result) if result.ndim == 0 else result.astype(object)


def organisation_targets(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`load_benchmarks` that an organisation added (its own targets)."""
    return benchmarks[benchmarks["provided_by"] == _EXTRA_BY].reset_index(drop=True)


@dataclass(frozen=True)
class BenchmarkBand:
    """One benchmark band with the definition it was stated for, so a chart draws it only there.

    Attributes
    ----------
    low, high : float
        The band, proportions 0-1 (``low == high`` for a point value).
    horizon_days : float or None
        The horizon the figure was stated at (365 for "within a year"); None when not stated.
    origin : str or None
        ``"admission"`` or ``"discharge"``; None when not stated.
    unit : str
        ``"person"``, ``"discharge"``, ...
    source : str
        Short citation with year, e.g. ``"McLellan et al. 2000"``.
    what : str
        What the band measures, e.g. ``"relapse within a year after treatment"``.
    """

    low: float
    high: float
    horizon_days: float | None
    origin: str | None
    unit: str
    source: str
    what: str

    @property
    def label(self) -> str:
        """``"McLellan et al. 2000: 40-60% relapse within a year after treatment (365 days from discharge)"``."""
        band = f"{self.low:.0%}" if self.low == self.high else f"{self.low * 100:.0f}-{self.high:.0%}"
        where = []
        if self.horizon_days is not None:
            where.append(f"{self.horizon_days:g} days")
        if self.origin:
            where.append(f"from {self.origin}")
        tail = f" ({' '.join(where)})" if where else ""
        return f"{self.source}: {band} {self.what}{tail}"

    def applies_to(self, *, origin: str | None = None, unit: str | None = None) -> bool:
        """True when a chart with this origin and unit may draw the band (unstated parts match anything)."""
        ok_origin = self.origin is None or origin is None or self.origin == origin
        ok_unit = unit is None or self.unit == unit
        return ok_origin and ok_unit


_BAND_WHAT = {"relapse": "relapse within a year after treatment",
              "share_of_year_relapses_by_day_90": "of the year's relapses by 3 months"}


def benchmark_band(benchmark_id: str, benchmarks: pd.DataFrame | None = None) -> BenchmarkBand:
    """The band of one registry row (default: the packaged table) as a :class:`BenchmarkBand`."""
    from analysis.labels import source_label

    table = load_benchmarks() if benchmarks is None else benchmarks
    rows = table[table["id"] == benchmark_id]
    if rows.empty:
        raise ValueError(f"No benchmark with the id {benchmark_id!r} in the registry.")
    r = rows.iloc[0]
    h = r["horizon_days"]
    return BenchmarkBand(low=float(r["low"]), high=float(r["high"]),
                         horizon_days=None if pd.isna(h) else float(h), origin=r["origin"] or None,
                         unit=str(r["unit"]), source=source_label(r["source"], r["year"]),
                         what=_BAND_WHAT.get(str(r["metric"]), str(r["metric"]).replace("_", " ")))


def _key(series: pd.Series | None, n: int, kind: str) -> np.ndarray:
    if series is None:
        return np.full(n, -1 if kind == "int" else "", dtype=object)
    if kind == "int":
        return pd.to_numeric(series, errors="coerce").round().astype("Int64").fillna(-1).to_numpy(dtype=object)
    text = series.astype("string").fillna("").str.strip().str.lower()
    return text.mask(text == "all", "").to_numpy(dtype=object)


def place_against_benchmarks(estimates: pd.DataFrame, benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join estimates to matching benchmarks and place each estimate's interval against the band.

    Matching: same ``metric``; same ``horizon_days`` and ``origin`` (a blank matches only a blank);
    same ``unit`` if ``estimates`` has a unit column; a benchmark stated for all levels of care
    (blank level) matches every estimate, a level-specific benchmark only estimates for that level.
    Placement by :func:`compare_to_benchmark`: ``"suppressed"`` for an estimate flagged in an
    optional ``suppressed`` column, ``"not_comparable"`` against a band of direction
    ``other_measure``.

    Parameters
    ----------
    estimates
        Columns ``metric`` and ``estimate``; optional ``lower``, ``upper``, ``horizon_days``,
        ``origin``, ``level_of_care`` (blank or ``"all"`` for the whole program), ``unit``,
        ``suppressed`` (bool).
    benchmarks
        Output of :func:`load_benchmarks` (default: the packaged table).

    Returns
    -------
    pandas.DataFrame
        One row per (estimate, matching benchmark): the estimate's columns, then ``benchmark_id``,
        ``benchmark_low``, ``benchmark_high``, ``benchmark_unit``, ``benchmark_level_of_care``,
        ``benchmark_direction``, ``benchmark_population``, ``benchmark_source``, ``benchmark_year``,
        ``benchmark_note``, ``benchmark_provided_by`` and ``placement``.
    """
    for c in ("metric", "estimate"):
        if c not in estimates.columns:
            raise ValueError(f"The estimates table has no column {c!r}.")
    bench = load_benchmarks() if benchmarks is None else benchmarks
    n, m = len(estimates), len(bench)
    left = estimates.reset_index(drop=True).copy()
    keys = {"_metric": (_key(left["metric"], n, "str"), _key(bench["metric"], m, "str")),
            "_h": (_key(left.get("horizon_days"), n, "int"), _key(bench["horizon_days"], m, "int")),
            "_o": (_key(left.get("origin"), n, "str"), _key(bench["origin"], m, "str"))}
    if "unit" in left.columns:
        keys["_u"] = (_key(left["unit"], n, "str"), _key(bench["unit"], m, "str"))
    right = bench.reset_index(drop=True).rename(columns=lambda c: f"benchmark_{c}")
    for k, (lv, rv) in keys.items():
        left[k] = lv
        right[k] = rv
    left["_lvl"] = _key(left.get("level_of_care"), n, "str")
    right["_blvl"] = _key(bench["level_of_care"], m, "str")
    merged = left.merge(right, on=list(keys), how="inner", sort=False)
    merged = merged[(merged["_blvl"] == "") | (merged["_blvl"] == merged["_lvl"])]
    lower = merged["lower"] if "lower" in merged.columns else np.nan
    upper = merged["upper"] if "upper" in merged.columns else np.nan
    merged["placement"] = compare_to_benchmark(
        merged["estimate"], lower, upper, merged["benchmark_low"], merged["benchmark_high"],
        suppressed=merged["suppressed"].to_numpy() if "suppressed" in merged.columns else None,
        comparable=(merged["benchmark_direction"] != "other_measure").to_numpy())
    drop = [*keys, "_lvl", "_blvl", "benchmark_metric", "benchmark_horizon_days", "benchmark_origin"]
    return merged.drop(columns=drop).reset_index(drop=True)
