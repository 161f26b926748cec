"""Validation: every row checked, every problem listed, every excluded row counted with its reason.

:func:`validate_episodes` takes a frame whose columns already carry canonical names (see
:mod:`analysis.mapping`) and returns the canonical episode table (dtypes in
``docs/architecture.md``) and a :class:`ValidationReport`. Rules are vectorised (no Python loop
over rows) and listed in :data:`RULES`:

* **errors** exclude the row (an analysis cannot use it as it stands);
* **warnings** keep the row; the value concerned is set missing or recoded as the rule says, and
  the change is listed, so nothing is changed silently.

Fatal problems (no rows, a required column missing, no valid row left) set
``ValidationReport.fatal`` to one sentence and no episodes are returned.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.io import spreadsheet_rows
from analysis.parsing import (
    DATE_FORMATS,
    DATE_RANGE,
    as_text,
    dates_out_of_range,
    decide_date_order,
    map_unique,
    parse_booleans,
    parse_dates,
    parse_numbers,
)
from analysis.schema import (
    DISCHARGE_REASONS,
    LEVELS_OF_CARE,
    level_label_issue,
    normalize_discharge_reason,
    normalize_level_of_care,
    reason_label_issue,
)

__all__ = ["Rule", "RULES", "ValidationReport", "validate_episodes", "parse_dates", "DATE_FORMATS", "TIME_UNITS"]


@dataclass(frozen=True)
class Rule:
    """A validation rule: its code, ``"error"`` (row excluded) or ``"warning"`` (row kept), meaning."""

    code: str
    severity: str
    description: str


#: prior_treatments above this are taken for a data error (set missing with a warning).
MAX_PRIOR_TREATMENTS = 1000

RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("missing_admission_date", "error", "Admission date is empty."),
    Rule("unparseable_date", "error", "Date cannot be read as a date, or does not exist (e.g. 31 February)."),
    Rule("date_out_of_range", "error",
         f"Date is outside the years {DATE_RANGE[0]}-{DATE_RANGE[1]}, so it cannot be an episode date."),
    Rule("implausible_date", "error", "Date is before 1 January 1950."),
    Rule("future_date", "error", "Date is later than today."),
    Rule("discharge_before_admission", "error", "Discharge date is before the admission date."),
    Rule("relapse_before_admission", "error", "Relapse date is before the admission date."),
    Rule("last_contact_before_admission", "error", "Last contact date is before the admission date."),
    Rule("death_before_admission", "error", "Date of death is before the admission date."),
    Rule("missing_level_of_care", "error", "Level of care is empty."),
    Rule("unknown_level_of_care", "error", "Level-of-care label is not one Continuum can place."),
    Rule("missing_group", "error", "The grouping column is empty."),
    Rule("non_numeric_duration", "error", "Duration is not a number of days."),
    Rule("negative_duration", "error", "Duration is negative."),
    Rule("infinite_duration", "error", "Duration is infinite (inf): not a number of days."),
    Rule("missing_duration", "error", "days_to_relapse is empty."),
    Rule("unparseable_relapsed", "error", "relapsed is not yes/no, y/n, true/false or 1/0."),
    Rule("duplicate_episode_id", "error", "Episode id already used on an earlier row (the first is kept)."),
    Rule("unknown_discharge_reason", "warning", "Discharge reason not recognised; counted as 'other'."),
    Rule("unusual_characters", "warning",
         "Label holds invisible, full-width or symbol characters (a zero-width space, a non-breaking space, "
         "an emoji); read as the label without them."),
    Rule("reason_without_discharge_date", "warning",
         "Discharge reason given but no discharge date; the episode is treated as still in treatment."),
    Rule("unparseable_boolean", "warning", "Not yes/no, y/n, true/false or 1/0; set missing."),
    Rule("non_numeric_value", "warning", "Not a number; set missing."),
    Rule("negative_value", "warning", "Negative; set missing."),
    Rule("implausible_age", "warning", "Age outside 10-110 years; set missing."),
    Rule("infinite_value", "warning", "Infinite (inf); set missing."),
    Rule("implausible_count", "warning", f"More than {MAX_PRIOR_TREATMENTS:,} prior treatments; set missing."),
    Rule("non_integer_count", "warning", "Not a whole number of treatments; set missing."),
    Rule("attended_exceeds_scheduled", "warning", "Hours attended exceed hours scheduled (kept as given)."),
    Rule("unknown_level_of_care_ignored", "warning",
         "Level-of-care label not recognised; set missing (the grouping column is another one)."),
    Rule("thousands_separator", "warning", "Read with the comma as thousands separator (1,234 -> 1234)."),
    Rule("unparseable_extra_date", "warning", "Not a date; set missing."),
)}

#: Days per time unit of a duration-shaped file (internally every duration is in days).
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 30.4375, "years": 365.25}

_EARLIEST = pd.Timestamp("1950-01-01")
_DATE_COLUMNS = ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
_AFTER_ADMISSION = {"discharge_date": "discharge_before_admission", "relapse_date": "relapse_before_admission",
                    "last_contact_date": "last_contact_before_admission", "death_date": "death_before_admission"}
_ID_COLUMNS = ("episode_id", "client_id")


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """What validation found. ``problems`` has one row per problem found.

    ``problems`` columns: ``row`` (spreadsheet row number: the header is row 1, the first data
    row is row 2, unless the file had lines above the header, ``header_row``; blank and comment
    lines the reader skipped keep their numbers, :func:`analysis.io.spreadsheet_rows`),
    ``column``, ``value`` (as given), ``rule``, ``severity``, ``message``.
    """

    n_rows_read: int
    n_rows_accepted: int
    problems: pd.DataFrame
    fatal: str | None = None
    shape: str | None = None
    notes: tuple[str, ...] = ()
    unknown_labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["column", "label", "rows"]))
    excluded_index: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    time_unit: str = "days"
    header_row: int = 1

    @property
    def n_rows_excluded(self) -> int:
        """Rows excluded because of at least one error."""
        return int(len(self.excluded_index))

    @property
    def exit_code(self) -> int:
        """0 every row valid, 1 some rows excluded but the rest analysable, 2 file rejected."""
        if self.fatal:
            return 2
        return 1 if self.n_rows_excluded else 0

    def excluded_by_reason(self) -> pd.DataFrame:
        """Rows excluded per error rule (a row with two errors counts under both)."""
        errors = self.problems[self.problems["severity"] == "error"]
        counts = errors.groupby("rule", sort=False)["row"].nunique()
        out = pd.DataFrame({"rule": counts.index, "rows": counts.to_numpy()})
        out["description"] = out["rule"].map(lambda r: RULES[r].description)
        return out.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)

    def problems_by_column(self) -> pd.DataFrame:
        """Problem counts per column, rule and severity."""
        if self.problems.empty:
            return pd.DataFrame(columns=["column", "rule", "severity", "rows"])
        out = (self.problems.groupby(["column", "rule", "severity"], sort=False)["row"].nunique()
               .rename("rows").reset_index())
        return out.sort_values(["severity", "rows"], ascending=[True, False], kind="stable").reset_index(drop=True)

    def summary_text(self, max_examples: int = 5) -> str:
        """A plain-text report for the command line."""
        lines = [f"Rows read:     {self.n_rows_read:,}"]
        if self.fatal:
            lines.append(f"REJECTED: {self.fatal}")
            return "\n".join(lines)
        lines += [f"Rows accepted: {self.n_rows_accepted:,}",
                  f"Rows excluded: {self.n_rows_excluded:,}",
                  "File shape:    " + ("dates (admission, discharge, relapse, last contact)" if self.shape == "dates"
                                      else f"durations (from admission, read in {self.time_unit})")]
        by_reason = self.excluded_by_reason()
        if len(by_reason):
            lines.append("\nExcluded rows by reason:")
            lines += [f"  {r.rows:>8,}  {r.rule}: {r.description}" for r in by_reason.itertuples()]
        warnings = self.problems[self.problems["severity"] == "warning"]
        if len(warnings):
            lines.append("\nWarnings (rows kept):")
            counts = warnings.groupby("rule", sort=False)["row"].nunique().sort_values(ascending=False)
            lines += [f"  {n:>8,}  {rule}: {RULES[rule].description}" for rule, n in counts.items()]
        if len(self.problems):
            lines.append("\nProblems by column:")
            lines += [f"  {r.column:<22} {r.rule:<32} {r.severity:<8} {r.rows:>8,}"
                      for r in self.problems_by_column().itertuples()]
            lines.append(f"\nFirst problems (row = spreadsheet row, header = row {self.header_row}):")
            for r in self.problems.head(max_examples).itertuples():
                lines.append(f"  row {r.row}: {r.column} = {r.value!r}: {r.message}")
        if len(self.unknown_labels):
            lines.append("\nLabels that could not be placed:")
            lines += [f"  {r.column}: {r.label!r} ({r.rows:,} rows)" for r in self.unknown_labels.itertuples()]
        for note in self.notes:
            lines.append(f"\nNote: {note}")
        return "\n".join(lines)


class _Problems:
    """Collects problems as arrays (vectorised), one block per rule and column."""

    def __init__(self) -> None:
        self.blocks: list[pd.DataFrame] = []

    def add(self, rule: str, column: str, mask: pd.Series | np.ndarray, values: pd.Series,
            message: pd.Series | str | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        index = values.index[mask]
        shown = values[mask].astype(object).where(values[mask].notna(), "")
        msg = RULES[rule].description if message is None else message
        if isinstance(msg, pd.Series):
            msg = msg[mask].to_numpy()
        self.blocks.append(pd.DataFrame({"index": index.to_numpy(), "column": column,
                                         "value": shown.astype(str).to_numpy(), "rule": rule,
                                         "severity": RULES[rule].severity, "message": msg}))

    def frame(self) -> pd.DataFrame:
        if not self.blocks:
            return pd.DataFrame({"index": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                                 "value": pd.Series(dtype=object), "rule": pd.Series(dtype=object),
                                 "severity": pd.Series(dtype=object), "message": pd.Series(dtype=object)})
        out = pd.concat(self.blocks, ignore_index=True)
        return out.sort_values(["index", "severity"], kind="stable").reset_index(drop=True)


def _text(values: pd.Series, clean: bool = False) -> pd.Series:
    return as_text(values, clean)


def _numbers(problems: _Problems, rule: str, column: str, values: pd.Series, clean: bool) -> pd.Series:
    """Numbers of a column; unread values listed under ``rule``, thousands separators as a warning."""
    parsed = parse_numbers(values, clean)
    if parsed.bad.any():
        problems.add(rule, column, parsed.bad, values, message=parsed.message(values.index))
    problems.add("thousands_separator", column, parsed.grouped, values)
    return parsed.values


def _type_extra_columns(frame: pd.DataFrame, out: pd.DataFrame, problems: _Problems, *, by: str, clean: bool,
                        column_types: Mapping[str, str] | None, date_order: str | None = None
                        ) -> dict[str, pd.Series]:
    """Extra (unmapped) columns typed by content (or as the user said); the grouping column as labels.

    Returns the typed columns (the caller adds them to the table at once: 10,000 columns one by one
    would be quadratic)."""
    from analysis.columns import infer_type

    types = dict(column_types or {})
    extra: dict[str, pd.Series] = {}
    for col in frame.columns:
        if col in out.columns:
            continue
        values = frame[col]
        type_ = types.get(col) or infer_type(values, str(col), clean=clean)[0]
        if col == by or type_ in ("categorical", "id", "text"):
            extra[col] = _text(values, clean)
        elif type_ == "numeric":
            extra[col] = _numbers(problems, "non_numeric_value", col, values, clean)
        elif type_ == "binary":
            flags, bad = parse_booleans(values)
            problems.add("unparseable_boolean", col, bad, values)
            extra[col] = flags
        elif type_ == "date":
            parsed, bad = parse_dates(values, clean, order=date_order)
            problems.add("unparseable_extra_date", col, bad, values)
            extra[col] = parsed
        else:
            raise ValueError(f"Unknown column type {type_!r} for {col}.")
    return extra


def _odd_characters(label: object) -> str | None:
    """The invisible, full-width or symbol characters of a label, named (``"U+200B ZERO WIDTH SPACE"``), or None.

    Letters with accents (``é``) are ordinary; look-alike letters from other scripts (Cyrillic ``О``,
    dotted ``İ``) are refused by the label readers of :mod:`analysis.schema` instead.
    """
    if not isinstance(label, str) or label.isascii():
        return None
    odd = [c for c in label if ord(c) > 127 and (unicodedata.category(c)[0] in "CZ"
                                                   or unicodedata.category(c) in ("So", "Sk")
                                                   or unicodedata.normalize("NFKC", c) != c)]
    if not odd:
        return None
    return ", ".join(dict.fromkeys(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')}" for c in odd))


def _visible(text: pd.Series) -> pd.Series:
    """Labels with invisible characters removed and odd spaces made spaces ("I\u200bOP" is "IOP", not "I OP"),
    before they are placed (the change is reported by :func:`_unusual_characters`)."""
    if text.dtype != object:
        return text

    def clean(label: object) -> object:
        if not isinstance(label, str) or label.isascii():
            return label
        return "".join("" if unicodedata.category(c) == "Cf" else " " if unicodedata.category(c) == "Zs" else c
                       for c in label)

    return map_unique(text, clean)


def _unusual_characters(problems: _Problems, column: str, text: pd.Series, codes: pd.Series | None,
                        raw: pd.Series) -> None:
    """Warn, row by row, about labels read despite invisible or full-width characters (never silently)."""
    if text.dtype != object:
        return
    odd = map_unique(text, _odd_characters)
    mask = odd.notna() & (codes.notna() if codes is not None else True)
    if not mask.any():
        return
    read_as = ("read as '" + codes.astype(object).where(codes.notna(), "").astype(str) + "'") if codes is not None \
        else pd.Series("kept as written, so it is a group apart from the same label without them", index=text.index)
    problems.add("unusual_characters", column, mask.to_numpy(), raw,
                 message="The label holds " + odd.fillna("") + "; " + read_as + ".")


def _why_unplaced(text: pd.Series, unknown: np.ndarray, issue, description: str) -> pd.Series | None:
    """The rule's description with why a label is not placed (it negates a level, look-alike letters ...)."""
    if not unknown.any():
        return None
    why = map_unique(text.where(unknown), issue)
    return pd.Series(description, index=text.index, dtype=object).where(
        why.isna(), description.rstrip(".") + ": " + why.fillna("") + ".")


def _empty_report(n: int, fatal: str) -> ValidationReport:
    return ValidationReport(n_rows_read=n, n_rows_accepted=0, problems=_Problems().frame().drop(columns="index")
                            .assign(row=pd.Series(dtype="int64")), fatal=fatal)


def validate_episodes(frame: pd.DataFrame, *, by: str | None = None, as_of: object = None,
                      today: object = None, time_unit: str = "days", event_value: object = None,
                      column_types: Mapping[str, str] | None = None, date_order: str | None = None
                      ) -> tuple[pd.DataFrame | None, ValidationReport]:
    """Check every row of a canonically named episode frame.

    Parameters
    ----------
    frame : DataFrame
        Columns named as in :mod:`analysis.schema` (after :func:`analysis.mapping.apply_mapping`);
        other columns are kept as candidate covariates.
    by : str, optional
        Grouping column. When it is not ``level_of_care``, ``level_of_care`` is not required.
    as_of : date-like, optional
        Data extraction date; default the latest date in the file.
    today : date-like, optional
        Dates later than this are rejected as future dates; default today's date.
    time_unit : {"days", "weeks", "months", "years"}
        Unit of the durations ``los_days`` and ``days_to_relapse`` in the file; they are converted
        to days (:data:`TIME_UNITS`) and ``attrs["time_unit"]`` records the unit.
    event_value : optional
        The value of ``relapsed`` that means a relapse when it is not yes/no-like (``2`` of a 1/2
        status) or when 1 means censored (then ``0``).
    column_types : mapping, optional
        Type of each extra (unmapped) column (:mod:`analysis.columns`); inferred from content when
        not given. Numeric columns become ``float64``, binary ``boolean``, dates ``datetime64``,
        the rest text; values that do not fit the type are set missing with a warning.
    date_order : {"dmy", "mdy"}, optional
        The day/month order of numeric dates, as the user states it; otherwise told from every date
        column together (:func:`analysis.parsing.decide_date_order`), and a note says which was used.

    Returns
    -------
    (episodes, report)
        ``episodes`` is None when the report is fatal.
    """
    n = len(frame)
    by = by or "level_of_care"
    if time_unit not in TIME_UNITS:
        return None, _empty_report(n, f"Unknown time unit {time_unit!r}; use one of {', '.join(TIME_UNITS)}.")
    if n == 0:
        return None, _empty_report(0, "The file has a header but no data rows.")
    cols = set(frame.columns)
    if "admission_date" in cols:
        shape = "dates"
    elif cols & {"los_days", "days_to_relapse", "relapsed"}:
        shape = "durations"
    else:
        return None, _empty_report(n, "A required column is missing: the file needs admission_date "
                                      "(with discharge, relapse and last-contact dates), or the durations "
                                      "days_to_relapse and relapsed. Map one of your columns to them.")
    if shape == "durations" and ("days_to_relapse" in cols) != ("relapsed" in cols):
        have, lack = ("days_to_relapse", "relapsed") if "days_to_relapse" in cols else ("relapsed", "days_to_relapse")
        return None, _empty_report(n, f"A required column is missing: the file has {have} but no {lack}; "
                                      "map the column that holds it.")
    if by == "level_of_care" and "level_of_care" not in cols:
        return None, _empty_report(n, "A required column is missing: level_of_care. Map the column that holds the "
                                      "level of care, or choose another grouping column (a study arm, a site).")
    if by not in cols:
        return None, _empty_report(n, f"The grouping column '{by}' is not in the file.")

    today = pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize()
    clean = bool(frame.attrs.get("text_clean"))
    problems = _Problems()
    out = pd.DataFrame(index=frame.index)
    notes: list[str] = []
    unknown_labels: list[pd.DataFrame] = []

    # dates: one day/month order for the whole file
    try:
        decided = decide_date_order({c: frame[c] for c in _DATE_COLUMNS if c in cols}, date_order)
    except ValueError as exc:
        return None, _empty_report(n, str(exc))
    if decided.note:
        notes.append(decided.note)
    for col in _DATE_COLUMNS:
        if col not in cols:
            continue
        parsed, bad = parse_dates(frame[col], clean, order=decided.order)
        outside = dates_out_of_range(frame[col], bad)
        problems.add("unparseable_date", col, bad & ~outside, frame[col])
        problems.add("date_out_of_range", col, outside, frame[col])
        early = (parsed < _EARLIEST).to_numpy()
        problems.add("implausible_date", col, early, frame[col])
        future = (parsed > today).to_numpy()
        problems.add("future_date", col, future, frame[col],
                     message=f"Date is later than today ({today.date()}).")
        out[col] = parsed.where(~(early | future))
    if shape == "dates":
        adm = out["admission_date"]
        problems.add("missing_admission_date", "admission_date", frame["admission_date"].isna().to_numpy(),
                     frame["admission_date"])
        for col, rule in _AFTER_ADMISSION.items():
            if col in out:
                before = (out[col] < adm).to_numpy()
                problems.add(rule, col, before, frame[col])
        if "discharge_date" not in cols:
            notes.append("No discharge_date column: every episode is treated as still in treatment, "
                         "so nothing can be measured from discharge.")
        if "relapse_date" not in cols:
            notes.append("No relapse_date column: no relapse can be observed in this file.")
        if "last_contact_date" not in cols:
            notes.append("No last_contact_date column: follow-up ends at discharge for people with no relapse.")

    # durations
    for col in ("los_days", "days_to_relapse"):
        if col not in cols:
            continue
        values = _numbers(problems, "non_numeric_duration", col, frame[col], clean)
        infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))  # outcomes refuses them too
        problems.add("infinite_duration", col, infinite, frame[col])
        negative = (values < 0).to_numpy() & ~infinite
        problems.add("negative_duration", col, negative, frame[col])
        out[col] = values.where(~(negative | infinite)) * TIME_UNITS[time_unit]
    if "relapsed" in cols:
        flags, bad = parse_booleans(frame["relapsed"], event_value)
        message = None if event_value is None else (
            f"relapsed is neither {event_value!r} (relapse) nor the one other value of the column (censored).")
        problems.add("unparseable_relapsed", "relapsed", bad, frame["relapsed"], message=message)
        out["relapsed"] = flags
    if shape == "durations" and "days_to_relapse" in cols:
        problems.add("missing_duration", "days_to_relapse", frame["days_to_relapse"].isna().to_numpy(),
                     frame["days_to_relapse"])

    # level of care and grouping
    if "level_of_care" in cols:
        raw = frame["level_of_care"]
        text = _text(raw, clean)
        codes = map_unique(_visible(text), normalize_level_of_care)
        unknown = (raw.notna() & codes.isna()).to_numpy()
        required = by == "level_of_care"
        problems.add("unknown_level_of_care" if required else "unknown_level_of_care_ignored", "level_of_care",
                     unknown, raw, message=_why_unplaced(text, unknown, level_label_issue,
                                                         RULES["unknown_level_of_care" if required else
                                                               "unknown_level_of_care_ignored"].description))
        _unusual_characters(problems, "level_of_care", text, codes, raw)
        if required:
            problems.add("missing_level_of_care", "level_of_care", raw.isna().to_numpy(), raw)
        if unknown.any():
            counts = raw[unknown].astype(str).value_counts()
            unknown_labels.append(pd.DataFrame({"column": "level_of_care", "label": counts.index,
                                                "rows": counts.to_numpy()}))
        out["level_of_care"] = pd.Categorical(codes, categories=list(LEVELS_OF_CARE), ordered=True)
    if "discharge_reason" in cols:
        raw = frame["discharge_reason"]
        text = _text(raw, clean)
        codes = map_unique(_visible(text), normalize_discharge_reason)
        unknown = (raw.notna() & codes.isna()).to_numpy()
        problems.add("unknown_discharge_reason", "discharge_reason", unknown, raw,
                     message=_why_unplaced(text, unknown, reason_label_issue,
                                           RULES["unknown_discharge_reason"].description))
        _unusual_characters(problems, "discharge_reason", text, codes, raw)
        if unknown.any():
            counts = raw[unknown].astype(str).value_counts()
            unknown_labels.append(pd.DataFrame({"column": "discharge_reason", "label": counts.index,
                                                "rows": counts.to_numpy()}))
        codes = codes.where(~unknown, "other")
        if shape == "dates":
            if "discharge_date" in out:
                no_date = (codes.notna() & out["discharge_date"].isna() & frame["discharge_date"].isna()).to_numpy()
            else:
                no_date = codes.notna().to_numpy()
            problems.add("reason_without_discharge_date", "discharge_reason", no_date, raw)
            codes = codes.where(~no_date)
        out["discharge_reason"] = pd.Categorical(codes, categories=list(DISCHARGE_REASONS))

    # ids
    for col in _ID_COLUMNS:
        if col in cols:
            out[col] = _text(frame[col], clean)
    if "episode_id" in out:
        ids = out["episode_id"]
        dup = (ids.notna() & ids.duplicated(keep="first")).to_numpy()
        if dup.any():
            first = ~ids.duplicated(keep="first").to_numpy()
            first_row = pd.Series(spreadsheet_rows(frame, np.flatnonzero(first)), index=ids[first].to_numpy())
            message = "Episode id already used on row " + ids.map(first_row).astype("Int64").astype(str) + \
                      " (the first is kept)."
            problems.add("duplicate_episode_id", "episode_id", dup, frame["episode_id"], message=message)

    # covariates and engagement
    for name in ("age", "prior_treatments", "hours_attended", "hours_scheduled"):
        if name not in cols:
            continue
        values = _numbers(problems, "non_numeric_value", name, frame[name], clean)
        infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
        problems.add("infinite_value", name, infinite, frame[name])
        values = values.where(~infinite)
        if name == "age":
            odd = ((values < 10) | (values > 110)).to_numpy()
            problems.add("implausible_age", name, odd, frame[name])
        else:
            odd = (values < 0).to_numpy()
            problems.add("negative_value", name, odd, frame[name])
        if name == "prior_treatments":  # a count: whole, and not 1e30 (which cannot even be an integer)
            many = (values > MAX_PRIOR_TREATMENTS).to_numpy()
            problems.add("implausible_count", name, many, frame[name])
            fraction = (values.notna() & (values != values.round())).to_numpy() & ~many & ~odd
            problems.add("non_integer_count", name, fraction, frame[name])
            odd = odd | many | fraction
        values = values.where(~odd)
        out[name] = values.astype("Int64") if name == "prior_treatments" else values
    if {"hours_attended", "hours_scheduled"} <= set(out.columns):
        over = (out["hours_attended"] > out["hours_scheduled"] * 1.0001).to_numpy()
        problems.add("attended_exceeds_scheduled", "hours_attended", over, frame["hours_attended"])
    if "co_occurring" in cols:
        flags, bad = parse_booleans(frame["co_occurring"])
        problems.add("unparseable_boolean", "co_occurring", bad, frame["co_occurring"])
        out["co_occurring"] = flags
    for name in ("sex", "race_ethnicity", "primary_substance", "payer", "site"):
        if name in cols:
            out[name] = _text(frame[name], clean)
    extra = _type_extra_columns(frame, out, problems, by=by, clean=clean, column_types=column_types,
                                date_order=decided.order)
    if extra:
        out = pd.concat([out, pd.DataFrame(extra, index=frame.index)], axis=1)
    if by not in ("level_of_care",) and by in out:
        problems.add("missing_group", by, out[by].isna().to_numpy(), frame[by])
        _unusual_characters(problems, by, out[by], None, frame[by])

    table = problems.frame()
    errors = table[table["severity"] == "error"]
    excluded = np.unique(errors["index"].to_numpy())
    positions = frame.index.get_indexer(excluded)
    keep = np.ones(n, dtype=bool)
    keep[positions] = False
    episodes = out[keep]
    episodes.attrs["shape"] = shape
    episodes.attrs["time_unit"] = time_unit
    if shape == "dates":
        if as_of is not None:
            episodes.attrs["as_of"] = pd.Timestamp(as_of)
        else:
            dates = [episodes[c].max() for c in _DATE_COLUMNS if c in episodes]
            dates = [d for d in dates if not pd.isna(d)]
            episodes.attrs["as_of"] = max(dates) if dates else None
    row_numbers = spreadsheet_rows(frame, frame.index.get_indexer(table["index"]))
    table = table.drop(columns="index").assign(row=row_numbers)[["row", "column", "value", "rule", "severity",
                                                                 "message"]]
    labels = (pd.concat(unknown_labels, ignore_index=True) if unknown_labels
              else pd.DataFrame(columns=["column", "label", "rows"]))
    fatal = None
    if keep.sum() == 0:
        fatal = (f"No valid row is left: all {n:,} rows have errors "
                 f"(most often: {errors['rule'].value_counts().index[0].replace('_', ' ')}).")
    report = ValidationReport(n_rows_read=n, n_rows_accepted=0 if fatal else int(keep.sum()), problems=table,
                              fatal=fatal, shape=shape, notes=tuple(notes), unknown_labels=labels,
                              excluded_index=excluded, time_unit=time_unit,
                              header_row=int(frame.attrs.get("header_row", 1)))
    return (None if fatal else episodes), report

