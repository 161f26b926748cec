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

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.schema import (
    DISCHARGE_REASONS,
    LEVELS_OF_CARE,
    normalize_discharge_reason,
    normalize_level_of_care,
    parse_boolean,
)

__all__ = ["Rule", "RULES", "ValidationReport", "validate_episodes", "parse_dates", "DATE_FORMATS"]


@dataclass(frozen=True)
class Rule:
    """A validation rule: its code, ``"error"`` (row excluded) or ``"warning"`` (row kept), meaning."""

    code: str
    severity: str
    description: str


RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("missing_admission_date", "error", "Admission date is empty."),
    Rule("unparseable_date", "error", "Date cannot be read as a date, or does not exist (e.g. 31 February)."),
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
    Rule("missing_duration", "error", "days_to_relapse is empty."),
    Rule("unparseable_relapsed", "error", "relapsed is not yes/no, y/n, true/false or 1/0."),
    Rule("duplicate_episode_id", "error", "Episode id already used on an earlier row (the first is kept)."),
    Rule("unknown_discharge_reason", "warning", "Discharge reason not recognised; counted as 'other'."),
    Rule("reason_without_discharge_date", "warning",
         "Discharge reason given but no discharge date; the episode is treated as still in treatment."),
    Rule("unparseable_boolean", "warning", "Not yes/no, y/n, true/false or 1/0; set missing."),
    Rule("non_numeric_value", "warning", "Not a number; set missing."),
    Rule("negative_value", "warning", "Negative; set missing."),
    Rule("implausible_age", "warning", "Age outside 10-110 years; set missing."),
    Rule("attended_exceeds_scheduled", "warning", "Hours attended exceed hours scheduled (kept as given)."),
    Rule("unknown_level_of_care_ignored", "warning",
         "Level-of-care label not recognised; set missing (the grouping column is another one)."),
)}

#: Date formats tried, most common first; per column the best-fitting ones are tried in turn.
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y",
                                 "%d-%m-%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M",
                                 "%m/%d/%y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y", "%Y%m%d")
_EARLIEST = pd.Timestamp("1950-01-01")
_DATE_COLUMNS = ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
_AFTER_ADMISSION = {"discharge_date": "discharge_before_admission", "relapse_date": "relapse_before_admission",
                    "last_contact_date": "last_contact_before_admission", "death_date": "death_before_admission"}
_ID_COLUMNS = ("episode_id", "client_id")


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """What validation found. ``problems`` has one row per problem found.

    ``problems`` columns: ``row`` (spreadsheet row number: the header is row 1, the first data
    row is row 2), ``column``, ``value`` (as given), ``rule``, ``severity``, ``message``.
    """

    n_rows_read: int
    n_rows_accepted: int
    problems: pd.DataFrame
    fatal: str | None = None
    shape: str | None = None
    notes: tuple[str, ...] = ()
    unknown_labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["column", "label", "rows"]))
    excluded_index: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))

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
                                      else "durations (days from admission)")]
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
            lines.append("\nFirst problems (row = spreadsheet row, header = row 1):")
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
    """Values as stripped strings (missing stays missing); ``clean``: already stripped by the reader."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values if clean else values.str.strip()
    out = values.astype(object).where(values.notna(), None)
    return out.map(lambda v: None if v is None else str(v).strip())


def parse_dates(values: pd.Series, clean: bool = False) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of dates written in one or several formats.

    Formats of :data:`DATE_FORMATS` are ranked by how many of a sample they read, then tried in
    turn on what is still unread; Excel serial day numbers (e.g. ``45292``) and date objects from
    Excel or Parquet are accepted. Ambiguous day/month orders resolve to the format that reads
    most of the column (US month-first on a tie). Times of day are dropped.

    Returns
    -------
    (parsed, bad)
        ``datetime64[ns]`` Series (NaT where empty or unreadable) and a boolean array marking
        values that were present but could not be read.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return parsed.astype("datetime64[ns]").dt.normalize(), np.zeros(len(values), dtype=bool)
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
    text = objects if clean else objects.astype(str).str.strip()
    remaining = text
    if len(text):
        sample = text.iloc[:: max(1, len(text) // 2000)]
        scores = [(pd.to_datetime(sample, format=f, errors="coerce").notna().sum(), -i, f)
                  for i, f in enumerate(DATE_FORMATS)]
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
        serial = pd.to_numeric(remaining, errors="coerce")
        serial = serial[(serial >= 18264) & (serial <= 73051) & (serial == np.floor(serial))]  # 1950..2100
        if len(serial):
            parsed[serial.index] = pd.Timestamp("1899-12-30") + pd.to_timedelta(serial, unit="D")
    parsed = parsed.dt.normalize()
    bad = present & parsed.isna().to_numpy()
    return parsed, bad


def _numbers(values: pd.Series, clean: bool = False) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        out = values.astype("float64")
        return out, np.zeros(len(values), dtype=bool)
    text = _text(values, clean)
    out = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = (text.notna() & out.isna()).to_numpy()
    if bad.any():  # thousands separators: "1,234"
        retry = pd.to_numeric(text[bad].str.replace(",", "", regex=False), errors="coerce")
        out[retry.index] = retry.astype("float64")
        bad = (text.notna() & out.isna()).to_numpy()
    return out, bad


def _map_unique(values: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct value once (fast on a million rows)."""
    uniques = values.dropna().unique()
    lookup = {u: func(u) for u in uniques}
    return values.map(lookup)


def _booleans(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), np.zeros(len(values), dtype=bool)
    parsed = _map_unique(values, parse_boolean)
    bad = (values.notna() & parsed.isna()).to_numpy()
    return parsed.astype("boolean"), bad


def _empty_report(n: int, fatal: str) -> ValidationReport:
    return ValidationReport(n_rows_read=n, n_rows_accepted=0, problems=_Problems().frame().drop(columns="index")
                            .assign(row=pd.Series(dtype="int64")), fatal=fatal)


def validate_episodes(frame: pd.DataFrame, *, by: str | None = None, as_of: object = None,
                      today: object = None) -> tuple[pd.DataFrame | None, ValidationReport]:
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

    Returns
    -------
    (episodes, report)
        ``episodes`` is None when the report is fatal.
    """
    n = len(frame)
    by = by or "level_of_care"
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

    # dates
    for col in _DATE_COLUMNS:
        if col not in cols:
            continue
        parsed, bad = parse_dates(frame[col], clean)
        problems.add("unparseable_date", col, bad, frame[col])
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
        values, bad = _numbers(frame[col], clean)
        problems.add("non_numeric_duration", col, bad, frame[col])
        negative = (values < 0).to_numpy()
        problems.add("negative_duration", col, negative, frame[col])
        out[col] = values.where(~negative)
    if "relapsed" in cols:
        flags, bad = _booleans(frame["relapsed"])
        problems.add("unparseable_relapsed", "relapsed", bad, frame["relapsed"])
        out["relapsed"] = flags
    if shape == "durations" and "days_to_relapse" in cols:
        problems.add("missing_duration", "days_to_relapse", frame["days_to_relapse"].isna().to_numpy(),
                     frame["days_to_relapse"])

    # level of care and grouping
    if "level_of_care" in cols:
        raw = frame["level_of_care"]
        codes = _map_unique(_text(raw, clean), normalize_level_of_care)
        unknown = (raw.notna() & codes.isna()).to_numpy()
        required = by == "level_of_care"
        problems.add("unknown_level_of_care" if required else "unknown_level_of_care_ignored", "level_of_care",
                     unknown, raw)
        if required:
            problems.add("missing_level_of_care", "level_of_care", raw.isna().to_numpy(), raw)
        if unknown.any():
            counts = raw[unknown].astype(str).value_counts()
            unknown_labels.append(pd.DataFrame({"column": "level_of_care", "label": counts.index,
                                                "rows": counts.to_numpy()}))
        out["level_of_care"] = pd.Categorical(codes, categories=list(LEVELS_OF_CARE), ordered=True)
    if "discharge_reason" in cols:
        raw = frame["discharge_reason"]
        codes = _map_unique(_text(raw, clean), normalize_discharge_reason)
        unknown = (raw.notna() & codes.isna()).to_numpy()
        problems.add("unknown_discharge_reason", "discharge_reason", unknown, raw)
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
            first_row = pd.Series(ids.index[~ids.duplicated(keep="first")] + 2,
                                  index=ids[~ids.duplicated(keep="first")].to_numpy())
            message = "Episode id already used on row " + ids.map(first_row).astype("Int64").astype(str) + \
                      " (the first is kept)."
            problems.add("duplicate_episode_id", "episode_id", dup, frame["episode_id"], message=message)

    # covariates and engagement
    for name in ("age", "prior_treatments", "hours_attended", "hours_scheduled"):
        if name not in cols:
            continue
        values, bad = _numbers(frame[name], clean)
        problems.add("non_numeric_value", name, bad, frame[name])
        if name == "age":
            odd = ((values < 10) | (values > 110)).to_numpy()
            problems.add("implausible_age", name, odd, frame[name])
        else:
            odd = (values < 0).to_numpy()
            problems.add("negative_value", name, odd, frame[name])
        values = values.where(~odd)
        out[name] = values.round().astype("Int64") if name == "prior_treatments" else values
    if {"hours_attended", "hours_scheduled"} <= set(out.columns):
        over = (out["hours_attended"] > out["hours_scheduled"] * 1.0001).to_numpy()
        problems.add("attended_exceeds_scheduled", "hours_attended", over, frame["hours_attended"])
    if "co_occurring" in cols:
        flags, bad = _booleans(frame["co_occurring"])
        problems.add("unparseable_boolean", "co_occurring", bad, frame["co_occurring"])
        out["co_occurring"] = flags
    for name in ("sex", "race_ethnicity", "primary_substance", "payer", "site"):
        if name in cols:
            out[name] = _text(frame[name], clean)
    for col in frame.columns:  # extra columns kept as they are
        if col not in out.columns:
            out[col] = frame[col]
    if by not in ("level_of_care",) and by in out:
        problems.add("missing_group", by, out[by].isna().to_numpy(), frame[by])

    table = problems.frame()
    errors = table[table["severity"] == "error"]
    excluded = np.unique(errors["index"].to_numpy())
    positions = frame.index.get_indexer(excluded)
    keep = np.ones(n, dtype=bool)
    keep[positions] = False
    episodes = out[keep]
    episodes.attrs["shape"] = shape
    if shape == "dates":
        if as_of is not None:
            episodes.attrs["as_of"] = pd.Timestamp(as_of)
        else:
            dates = [episodes[c].max() for c in _DATE_COLUMNS if c in episodes]
            dates = [d for d in dates if not pd.isna(d)]
            episodes.attrs["as_of"] = max(dates) if dates else None
    row_numbers = frame.index.get_indexer(table["index"]) + 2
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
                              excluded_index=excluded)
    return (None if fatal else episodes), report

