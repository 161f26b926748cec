"""One vocabulary of display labels and number formats, for every table, chart and CSV header.

Codes stay codes inside :mod:`analysis` (``"iop"``, ``"self_pay"``, ``True``); this module turns
them into what a person reads, in one place, so no page keeps its own dictionary:

* values: :func:`value_label` (``"iop"`` -> ``"IOP"``, ``"dropped_out"`` -> ``"Dropped out / left
  against advice"``, ``"self_pay"`` -> ``"Self-pay"``, ``True`` in ``co_occurring`` -> ``"yes"``),
  :func:`group_label` (a group of any grouping column), :func:`term_label` (a model term:
  ``"co_occurring[True]"`` -> ``"Co-occurring disorder: yes"``);
* columns: :func:`column_label` (``"n_at_risk"`` -> ``"At risk"``, ``"los_days"`` -> ``"Length of
  stay (days)"`` with its unit); a user's own column name is kept as written;
* numbers: :func:`fmt_percent`, :func:`fmt_ci`, :func:`fmt_pp` (differences of proportions in
  percentage points, never "%"), :func:`fmt_days`, :func:`fmt_median_days` ("not reached" when the
  curve does not reach 50%), :func:`fmt_p`, :func:`fmt_ratio`, :func:`fmt_count` (``"<11"``);
* sources: :func:`source_label` (``"McLellan et al. 2000"``, ``"SAMHSA TEDS 2004"``).

Formats: percentages with one decimal (``"42.1%"``); intervals ``"42.1% (38.0-46.3%)"``, written
with ``" to "`` when a limit is negative (``"-5.2 pp (-9.8 to -0.6)"``); days as whole numbers
below 100 days with one decimal only when the value is not whole; p-values ``"<0.001"`` or three
decimals; a missing value is ``""`` (a table shows the reason, e.g. ``"suppressed"``).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from analysis.schema import DISCHARGE_REASON_LABELS, LEVELS_OF_CARE
from analysis.suppression import DEFAULT_MIN_CELL, format_count

__all__ = [
    "LEVEL_SHORT", "VALUE_LABELS", "COLUMN_LABELS", "COLUMN_UNITS", "BOOLEAN_TEXT", "NOT_RECORDED",
    "NOT_REACHED", "level_code", "value_label", "group_label", "column_label", "term_label", "readable_codes",
    "fmt_percent", "fmt_ci", "fmt_pp", "fmt_days", "fmt_median_days", "fmt_p", "fmt_ratio", "fmt_count",
    "csv_frame", "source_label",
]

NOT_RECORDED = "not recorded"
"""Text for a missing value (a blank cell in the user's file)."""
NOT_REACHED = "not reached"
"""Text for a median (or its limit) that the curve does not reach within the follow-up."""
BOOLEAN_TEXT = {True: "yes", False: "no"}

LEVEL_SHORT: dict[str, str] = {
    "detox": "Detox", "inpatient": "Inpatient", "residential": "Residential", "php": "PHP", "iop": "IOP",
    "op": "OP",
}
"""Short level-of-care labels for charts and tables (long ones: :data:`analysis.schema.LEVEL_LABELS`)."""

VALUE_LABELS: dict[str, dict[str, str]] = {
    "level_of_care": LEVEL_SHORT,
    "discharge_reason": dict(DISCHARGE_REASON_LABELS),
    "reason": dict(DISCHARGE_REASON_LABELS),
    "payer": {"medicaid": "Medicaid", "medicare": "Medicare", "private": "Private insurance",
              "self_pay": "Self-pay", "uninsured": "Uninsured", "other": "Other"},
    "sex": {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"},
    "primary_substance": {"alcohol": "Alcohol", "opioids": "Opioids", "methamphetamine": "Methamphetamine",
                          "cannabis": "Cannabis", "cocaine": "Cocaine", "stimulants": "Stimulants",
                          "benzodiazepines": "Benzodiazepines", "other": "Other"},
    "origin": {"admission": "from admission", "discharge": "from discharge"},
    "placement": {"below": "below the band", "inside": "inside the band", "overlapping": "overlapping the band",
                  "above": "above the band", "unknown": "cannot be placed", "suppressed": "suppressed",
                  "not_comparable": "context only (another measure)"},
    "status": {"met": "met", "not_met": "not met", "cannot_tell": "cannot tell from the interval",
               "suppressed": "suppressed", "no_estimate": "no estimate"},
}
"""Display label per code, by column. Codes not listed are shown as written."""

COLUMN_LABELS: dict[str, str] = {
    # canonical episode fields
    "episode_id": "Episode id", "client_id": "Client id", "level_of_care": "Level of care",
    "discharge_reason": "Discharge reason", "admission_date": "Admission date", "discharge_date": "Discharge date",
    "relapse_date": "Relapse date", "last_contact_date": "Last contact date", "death_date": "Death date",
    "los_days": "Length of stay", "days_to_relapse": "Days to relapse", "relapsed": "Relapsed", "age": "Age",
    "sex": "Sex", "race_ethnicity": "Race/ethnicity", "primary_substance": "Primary substance",
    "co_occurring": "Co-occurring disorder", "prior_treatments": "Prior treatments", "payer": "Payer",
    "site": "Site", "hours_attended": "Hours attended", "hours_scheduled": "Hours scheduled",
    # derived cohort columns
    "age_band": "Age band", "admission_year": "Admission year", "admission_quarter": "Admission quarter",
    "discharge_quarter": "Discharge quarter", "in_treatment": "Still in treatment", "completed": "Completed",
    "transferred": "Transferred",
    # result columns
    "group": "Group", "reason": "Discharge reason", "period": "Quarter", "metric": "Measure", "day": "Day",
    "time": "Day", "horizon_days": "Horizon", "n": "People", "n_episodes": "Episodes",
    "n_discharged": "Discharged", "n_in_treatment": "Still in treatment", "n_transferred": "Transferred",
    "n_completed": "Completed", "n_basis": "Discharges (transfers excluded)", "n_at_risk": "At risk",
    "n_event": "Relapses", "n_censor": "Censored", "n_event_cum": "Relapses so far",
    "n_censor_cum": "Censored so far", "n_eligible": "Eligible", "n_reached": "Reached",
    "n_relapsed": "Relapsed", "survival": "Relapse-free", "km_relapse": "Cumulative relapse",
    "completion_rate": "Completion (transfers excluded)", "completion_rate_all": "Completion, all discharges",
    "share": "Share", "reach": "Reached", "naive_rate": "Naive share among those reached",
    "estimate": "Estimate", "lower": "95% CI lower", "upper": "95% CI upper", "ci_lower": "95% CI lower",
    "ci_upper": "95% CI upper", "median_days": "Median", "rmst_days": "Restricted mean", "hr": "Hazard ratio",
    "p": "p", "p_adjusted": "p (Holm)", "smd": "Standardized difference", "difference": "Difference",
    "difference_lower": "Difference, 95% CI lower", "difference_upper": "Difference, 95% CI upper",
    "placement": "Placement", "status": "Target status", "target_low": "Target low", "target_high": "Target high",
    # trend columns
    "complete": "Complete", "note": "Note", "unit": "Unit", "se": "Standard error", "n_events": "Events",
    "n_at_risk_end": "At risk at the horizon", "period_start": "Quarter start", "period_end": "Quarter end",
    "previous": "Previous quarter", "previous_estimate": "Previous estimate", "previous_n": "People, previous",
    "origin": "Time origin", "method": "Method",
}
"""Header per column name; a user's own column names are kept as written."""

COLUMN_UNITS: dict[str, str] = {
    "los_days": "days", "days_to_relapse": "days", "age": "years", "prior_treatments": "episodes",
    "hours_attended": "hours", "hours_scheduled": "hours", "day": "days", "time": "days", "horizon_days": "days",
    "median_days": "days", "rmst_days": "days", "survival": "%", "km_relapse": "%", "completion_rate": "%",
    "completion_rate_all": "%", "share": "%", "reach": "%", "naive_rate": "%",
    "difference": "percentage points", "difference_lower": "percentage points",
    "difference_upper": "percentage points",
}
"""Unit per column, added to the header by ``column_label(name, unit=True)``."""

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_BOOLEAN_COLUMNS = ("co_occurring", "relapsed", "in_treatment", "completed", "transferred")


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def level_code(value: object) -> str | None:
    """The level-of-care code a value is (``"iop"``, ``" IOP "``), or None; no fuzzy matching."""
    text = str(value).strip().lower()
    return text if text in LEVELS_OF_CARE else None


def value_label(value: object, column: str | None = None) -> str:
    """Display label of one value, using its column's vocabulary when known.

    Missing values read :data:`NOT_RECORDED`; booleans (and ``"True"``/``"False"`` text, 1/0 in a
    boolean column) ``"yes"``/``"no"``; a level-of-care code its short label in any column; codes of
    :data:`VALUE_LABELS` their label; anything else ``str(value)`` unchanged (the user's own labels).
    """
    if _missing(value):
        return NOT_RECORDED
    if isinstance(value, bool | np.bool_):
        return BOOLEAN_TEXT[bool(value)]
    text = str(value)
    if column in _BOOLEAN_COLUMNS or column is None:
        low = text.strip().lower()
        if low in ("true", "false"):
            return BOOLEAN_TEXT[low == "true"]
        if column is not None and low in ("1", "0", "1.0", "0.0"):
            return BOOLEAN_TEXT[low.startswith("1")]
    if column in VALUE_LABELS and text in VALUE_LABELS[column]:
        return VALUE_LABELS[column][text]
    code = level_code(text)
    if code is not None and column in (None, "level_of_care", "group", "from_level", "to_level"):
        return LEVEL_SHORT[code]
    return text


def group_label(value: object, by: str | None = None) -> str:
    """Label of a group value: a level code its short label, a code of ``by``'s vocabulary its label."""
    if by is not None and by != "level_of_care":
        return value_label(value, by)
    return value_label(value, "level_of_care")


def column_label(name: str, *, unit: bool = False) -> str:
    """Header of a column: ``"n_at_risk"`` -> ``"At risk"``; ``unit=True`` adds the unit in brackets.

    Names not in :data:`COLUMN_LABELS` that look like code (``snake_case``) are turned into words
    (``"time_discharge_days"`` -> ``"Time discharge days"``); others (a user's own ``"Admit Dt"``)
    are kept as written.
    """
    name = str(name)
    if name in COLUMN_LABELS:
        text = COLUMN_LABELS[name]
    elif _SNAKE.match(name):
        text = name.replace("_", " ")
        text = text[:1].upper() + text[1:]
    else:
        return name
    if unit and name in COLUMN_UNITS:
        text += f" ({COLUMN_UNITS[name]})"
    return text


def term_label(term: str) -> str:
    """A model term for people: ``"level_of_care[iop]"`` -> ``"Level of care: IOP"``.

    ``"co_occurring[True]"`` -> ``"Co-occurring disorder: yes"``, ``"payer[self_pay]"`` ->
    ``"Payer: Self-pay"``; a numeric term ``"age"`` -> ``"Age (per year)"``, other numeric terms
    their column label "(per unit)".
    """
    term = str(term)
    if "[" in term and term.endswith("]"):
        col, level = term[:-1].split("[", 1)
        if level.startswith("T."):  # patsy's treatment coding
            level = level[2:]
        return f"{column_label(col)}: {value_label(level, col)}"
    per = {"age": "per year", "prior_treatments": "per episode", "los_days": "per day"}.get(term, "per unit")
    return f"{column_label(term)} ({per})" if (term in COLUMN_LABELS or _SNAKE.match(term)) else term


def readable_codes(text: str, names=None) -> str:
    """Column codes inside a sentence made readable: ``"payer (p = 0.049)"`` stays, ``"level_of_care"``
    -> ``"level of care"``, ``"co_occurring"`` -> ``"co-occurring disorder"`` (``names``: which codes;
    default every column of :data:`COLUMN_LABELS` with an underscore)."""
    names = [n for n in (names or COLUMN_LABELS) if "_" in n]
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", column_label(name).lower(), text)
    return text


# ---------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------
def _finite(x: object) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_percent(x: object, decimals: int = 1) -> str:
    """A proportion (0-1) as a percentage: ``0.4213`` -> ``"42.1%"``; ``""`` when missing."""
    if not _finite(x):
        return ""
    return f"{float(x) * 100:.{decimals}f}%".replace("-0.0%", "0.0%")


def _range(lo: str, hi: str, negative: bool) -> str:
    return f"{lo} to {hi}" if negative else f"{lo}-{hi}"


def fmt_ci(estimate: object, lower: object, upper: object, *, kind: str = "percent", decimals: int = 1) -> str:
    """Estimate with its interval: ``"42.1% (38.0-46.3%)"``, ``"0.81 (0.70-0.93)"``, ``"154 days (120-190)"``.

    ``kind``: ``"percent"`` (proportions 0-1), ``"ratio"`` (two decimals), ``"days"``. A missing
    limit is written ``"not reached"`` for days (an open upper limit of a median), else the
    interval is left out. ``""`` when the estimate is missing.
    """
    if not _finite(estimate):
        return ""
    if kind == "percent":
        core, scale, unit = fmt_percent(estimate, decimals), 100.0, "%"
    elif kind == "ratio":
        core, scale, unit = f"{float(estimate):.2f}", 1.0, ""
    elif kind == "days":
        core, scale, unit = fmt_days(estimate), 1.0, ""
    else:
        raise ValueError(f"Unknown number kind {kind!r}: use percent, ratio or days.")
    if kind == "days":
        lo = fmt_days(lower, unit=False) if _finite(lower) else NOT_REACHED
        hi = fmt_days(upper, unit=False) if _finite(upper) else NOT_REACHED
        if lo == NOT_REACHED and hi == NOT_REACHED:
            return core
        return f"{core} ({lo} to {hi})" if NOT_REACHED in (lo, hi) else f"{core} ({lo}-{hi})"
    if not (_finite(lower) and _finite(upper)):
        return core
    d = 2 if kind == "ratio" else decimals
    lo_v, hi_v = float(lower) * scale, float(upper) * scale
    return f"{core} ({_range(f'{lo_v:.{d}f}', f'{hi_v:.{d}f}', lo_v < 0 or hi_v < 0)}{unit})"


def fmt_pp(difference: object, lower: object = None, upper: object = None, *, decimals: int = 1) -> str:
    """A difference of two proportions in percentage points: ``-0.052`` -> ``"-5.2 pp"``.

    With limits: ``"-5.2 pp (95% CI -9.8 to -0.6)"``. A sign is always written (``"+3.0 pp"``).
    """
    if not _finite(difference):
        return ""

    def one(v: float) -> str:
        v = round(float(v) * 100, decimals) + 0.0
        return f"{v:+.{decimals}f}"

    text = f"{one(difference)} pp"
    if _finite(lower) and _finite(upper):
        text += f" (95% CI {one(lower)} to {one(upper)})"
    return text


def fmt_days(x: object, *, unit: bool = True) -> str:
    """Days: ``4.0`` -> ``"4 days"``, ``12.5`` -> ``"12.5 days"``, ``1`` -> ``"1 day"``; ``""`` when missing."""
    if not _finite(x):
        return ""
    v = float(x)
    text = f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 100 else f"{v:,.1f}"
    if not unit:
        return text
    return f"{text} day" if text == "1" else f"{text} days"


def fmt_median_days(median: object, lower: object = None, upper: object = None, *,
                    suppressed: bool = False) -> str:
    """A median time: ``"154 days (120-190)"``; :data:`NOT_REACHED` when the curve does not reach 50%.

    ``suppressed=True`` gives ``"suppressed"`` (a median resting on too few people is hidden, which
    is not the same as not reached).
    """
    if suppressed:
        return "suppressed"
    if not _finite(median):
        return NOT_REACHED
    if lower is None and upper is None:
        return fmt_days(median)
    return fmt_ci(median, lower, upper, kind="days")


def fmt_p(p: object) -> str:
    """A p-value: ``"<0.001"`` or three decimals; ``""`` when missing."""
    if not _finite(p):
        return ""
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ratio(x: object, lower: object = None, upper: object = None) -> str:
    """A ratio (hazard ratio, risk ratio) with two decimals and its interval."""
    return fmt_ci(x, lower, upper, kind="ratio")


def fmt_count(n: object, *, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """A count of people: ``"1,234"``; 1 to ``min_cell - 1`` shows ``"<11"`` (never the number)."""
    return format_count(n, min_cell=min_cell)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
_CODE_COLUMNS = ("group", "level_of_care", "discharge_reason", "reason", "from_level", "to_level", "placement",
                 "status", "origin")


def csv_frame(df: pd.DataFrame, columns=None, *, by: str | None = None) -> pd.DataFrame:
    """A table for a CSV download: numbers stay numbers, codes become labels, headers say their unit.

    Numeric columns are kept as float (estimates, lower, upper, p: no rounding, no "%", no "<0.001";
    a suppressed value is empty); code columns (group, level of care, discharge reason, placement,
    ...) and booleans get their display labels (``by`` names the grouping column, so a ``group`` of
    payers reads "Self-pay"); ``<col>_suppressed`` flags become "<label> suppressed" yes/no columns
    after their value. Headers by :func:`column_label` with units.
    """
    names = [c for c in (columns if columns is not None else df.columns) if not str(c).endswith("_suppressed")]
    out = {}
    for c in names:
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            out[column_label(c)] = s.map(lambda v: value_label(v))
        elif pd.api.types.is_numeric_dtype(s) and c not in _CODE_COLUMNS:
            out[column_label(c, unit=True)] = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            vocab = by if c == "group" and by else c
            out[column_label(c)] = s.astype(object).map(lambda v, col=vocab: "" if _missing(v) else value_label(v, col))
        flag = f"{c}_suppressed"
        if flag in df.columns:
            out[f"{column_label(c)} suppressed"] = df[flag].astype(bool).map(BOOLEAN_TEXT)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------
def source_label(source: object, year: object = None) -> str:
    """Short citation of a benchmark source with its year: ``"McLellan et al. 2000"``, ``"SAMHSA TEDS 2004"``.

    SAMHSA data sets are named by their acronym (TEDS, TEDS-D); an author list ``"Surname AB, ..."``
    gives the first surname, with "et al." when there are several authors; other sources their
    first words. The year is added when known.
    """
    src = "" if _missing(source) else str(source).strip()
    yr = "" if _missing(year) or str(year).strip() in ("", "<NA>") else f" {int(float(year))}"
    if not src:
        return ("benchmark" + yr).strip()
    acronym = re.search(r"\((TEDS(?:-[A-Z])?)\)", src)
    if src.upper().startswith("SAMHSA") and acronym:
        return f"SAMHSA {acronym.group(1)}{yr}"
    if "ASAM Criteria" in src:
        return f"ASAM Criteria{yr}"
    authors = re.match(r"^([A-Z][A-Za-z'\-]+) [A-Z]{1,3}(,| and |\.)", src)
    if authors:
        several = authors.group(2) != "."
        return f"{authors.group(1)}{' et al.' if several else ''}{yr}"
    words = re.split(r"[.:;,(]", src)[0].split()
    return " ".join(words[:3]) + yr
