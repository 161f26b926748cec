"""Loading: read a file, guard against identifiers, map columns, validate; one call, no traceback.

:func:`load_episodes` is what the app, the command line and a notebook call. It never raises for
bad input: a file that cannot be used comes back with ``report.fatal`` set to one sentence.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from analysis.columns import ColumnInfo, describe_columns
from analysis.identifiers import ColumnScreen, IdentifierFinding, leave_out_free_text, screen_columns
from analysis.io import MAX_BYTES, DataFileError, clean_blanks, content_hash, read_bytes, spreadsheet_rows
from analysis.mapping import (
    Guess,
    MappingSpec,
    apply_mapping,
    event_value_for,
    guess_details,
    is_censoring_indicator,
    resolve_mapping,
    unit_from_name,
)
from analysis.safety import read_upload
from analysis.validation import ValidationReport, _empty_report, validate_episodes

__all__ = ["LoadResult", "load_episodes", "load_frame", "time_unit_and_event_value"]


@dataclass(frozen=True, eq=False)
class LoadResult:
    """Outcome of loading one file.

    ``episodes`` is the canonical episode table (None when rejected); ``raw`` the file as read
    (for showing problem rows); ``mapping`` the ``{canonical: source}`` mapping used; ``columns``
    the role and type of every column (:mod:`analysis.columns`); ``guesses`` every mapping guess
    made or declined, with its reason; ``time_unit`` the unit the durations were read in;
    ``event_value`` the relapse value of ``relapsed`` (None: 1/yes/true); ``column_types`` the
    type overrides the user gave (by the file's column names); ``by`` the grouping column.
    """

    episodes: pd.DataFrame | None
    report: ValidationReport
    mapping: dict[str, str]
    source_name: str
    content_hash: str
    raw: pd.DataFrame | None = None
    identifiers: tuple[IdentifierFinding, ...] = ()
    extra_columns: tuple[str, ...] = field(default=())
    columns: tuple[ColumnInfo, ...] = field(default=())
    guesses: tuple[Guess, ...] = field(default=())
    time_unit: str = "days"
    event_value: str | None = None
    column_types: dict[str, str] = field(default_factory=dict)
    by: str | None = None
    screen: ColumnScreen | None = None  # columns dropped by the user or left out as free text (identifiers.py)
    date_order: str | None = None  # the day/month order the user stated ("dmy"/"mdy"; None: told from the values)

    @property
    def ok(self) -> bool:
        """True when there are episodes to analyse."""
        return self.episodes is not None

    @property
    def display_names(self) -> dict[str, str]:
        """``{column of the episode table: the name the user knows}`` (the file's own column name)."""
        return {i.name: i.source for i in self.columns}

    def display_name(self, column: str) -> str:
        """The file's own name for a column of the episode table (the column itself if unknown)."""
        return self.display_names.get(column, column)

    def resolve_column(self, name: str) -> str:
        """The episode-table column for a name the user gave: the file's own name or a canonical one.

        Raises ``ValueError`` with the columns that exist when ``name`` is neither.
        """
        table = list(self.episodes.columns) if self.episodes is not None else [i.name for i in self.columns]
        if name in table:
            return name
        by_source = {i.source: i.name for i in self.columns}
        if name in by_source:
            return by_source[name]
        lowered = {k.lower(): v for k, v in by_source.items()} | {c.lower(): c for c in table}
        if name.lower() in lowered:
            return lowered[name.lower()]
        known = ", ".join(i.source for i in self.columns)
        raise ValueError(f"There is no column {name!r} in the file (its columns: {known}).")

    def spec(self) -> MappingSpec:
        """What the user decided about this file, to save as JSON (:func:`analysis.mapping.spec_to_json`)."""
        return MappingSpec(dict(self.mapping), dict(self.column_types),
                           None if self.time_unit == "days" else self.time_unit, self.event_value, self.by,
                           self.date_order)

    def problem_rows(self) -> pd.DataFrame:
        """The excluded rows as they were in the file, with their problems listed in a column."""
        if self.raw is None or self.report.n_rows_excluded == 0:
            return pd.DataFrame()
        rows = self.raw.loc[self.report.excluded_index].copy()
        errors = self.report.problems[self.report.problems["severity"] == "error"]
        text = errors.assign(text=errors["column"] + ": " + errors["rule"]).groupby("row")["text"].agg("; ".join)
        rows.insert(0, "row", spreadsheet_rows(self.raw, self.raw.index.get_indexer(rows.index)))
        rows.insert(1, "problems", rows["row"].map(text))
        return rows.reset_index(drop=True)


def _with_notes(report: ValidationReport, notes: list[str]) -> ValidationReport:
    return dataclasses.replace(report, notes=tuple(notes) + tuple(report.notes)) if notes else report


def time_unit_and_event_value(raw: pd.DataFrame, resolved: Mapping[str, str], time_unit: str | None,
                              event_value: object, notes: list[str]) -> tuple[str, str | None]:
    """The time unit (stated, else from the time column's name, else days) and the relapse column's event
    value (stated, else read from its values), with a note in ``notes`` for each one guessed or used. Shared
    by this loader and :func:`analysis.engine.load.open_engine`."""
    if time_unit is None:
        time_unit = "days"
        if "days_to_relapse" in resolved:
            guessed = unit_from_name(resolved["days_to_relapse"])
            if guessed:
                time_unit = guessed
                notes.append(f"Times read in {guessed}: the time column {resolved['days_to_relapse']!r} is named "
                             f"in {guessed} (state the unit with --time-unit if not).")
    if event_value is None and "relapsed" in resolved:
        event_value = event_value_for(resolved["relapsed"], raw[resolved["relapsed"]])
        if event_value is None and is_censoring_indicator(resolved["relapsed"]):
            notes.append(f"{resolved['relapsed']!r} is read as R's censoring indicator, Surv(time, "
                         f"{resolved['relapsed']}): 1 is the relapse, 0 censored (state --event-value 0 if 1 means "
                         "censored).")
    event_value = None if event_value is None else str(event_value)
    if event_value is not None:
        notes.append(f"In {resolved['relapsed']!r}, the value {event_value!r} is the relapse; the other value is "
                     "censored.")
    return time_unit, event_value


def load_frame(raw: pd.DataFrame, *, mapping: Mapping[str, str] | None = None, by: str | None = None,
               as_of: object = None, today: object = None, source_name: str = "data frame",
               digest: str = "", column_types: Mapping[str, str] | None = None, time_unit: str | None = None,
               event_value: object = None, drop_columns: Iterable[str] = (),
               keep_columns: Iterable[str] = (), date_order: str | None = None) -> LoadResult:
    """Identifier guard, mapping, column typing and validation of an already-read table (e.g. from a notebook).

    ``column_types`` ``{column: type}`` overrides the inferred types (file or canonical names);
    ``time_unit`` the unit of the durations (default: guessed from the time column's name, else
    days); ``event_value`` the value of the relapse column meaning a relapse (default: guessed);
    ``drop_columns`` columns left out before the identifier guard (e.g. one it refused);
    ``keep_columns`` unmapped free-text columns to keep (left out by default); ``date_order`` the day/month
    order of numeric dates (``"dmy"`` or ``"mdy"``; default: told from the values, a note says which).
    """
    if not (isinstance(raw.index, pd.RangeIndex) and raw.index.start == 0 and raw.index.step == 1):
        raw = raw.reset_index(drop=True)
    if not raw.attrs.get("text_clean"):
        raw = clean_blanks(raw).copy(deep=False)
        raw.attrs["text_clean"] = True  # every text cell trimmed, blanks missing
    screen = screen_columns(raw, drop=drop_columns)  # (h12a) identifiers in any cell refuse the file
    if screen.refused:
        report = _empty_report(len(raw), screen.message)
        return LoadResult(None, report, {}, source_name, digest, None, screen.findings, screen=screen)
    raw = screen.frame
    details = guess_details(raw)
    try:
        resolved = resolve_mapping(raw, mapping, guess=details.mapping)
        screen = leave_out_free_text(screen, resolved.values(), keep=keep_columns)  # (h12a)
        raw = screen.frame
        infos = describe_columns(raw, resolved, column_types)
    except ValueError as exc:
        return LoadResult(None, _empty_report(len(raw), str(exc)), {}, source_name, digest, raw,
                          guesses=details.guesses)
    overrides = {i.source: i.type for i in infos if i.overridden}
    guesses = [g for g in details.guesses if g.made or g.column not in resolved.values()]
    notes = [*raw.attrs.get("read_notes", ()), *screen.notes,
             *(f"Not guessed: {g.reason}." for g in guesses if not g.made)]
    time_unit, event_value = time_unit_and_event_value(raw, resolved, time_unit, event_value, notes)
    canonical = apply_mapping(raw, resolved)
    table_name = {src: k for k, src in resolved.items()}
    infos = tuple(i if i.role == "canonical" else dataclasses.replace(
        i, name=i.source + "_original" if i.source in table_name.values() else i.source) for i in infos)
    by_user = by
    if by and by not in canonical.columns:
        by = {i.source: i.name for i in infos}.get(by, by)
    episodes, report = validate_episodes(canonical, by=by, as_of=as_of, today=today, time_unit=time_unit,
                                         event_value=event_value, date_order=date_order,
                                         column_types={i.name: i.type for i in infos if i.role != "canonical"})
    extra = tuple(c for c in canonical.columns if c not in resolved)
    return LoadResult(episodes, _with_notes(report, notes), resolved, source_name, digest, raw, (), extra, infos,
                      tuple(guesses), time_unit, event_value, overrides, by_user, screen, date_order)


def load_episodes(source: bytes | str | Path | BinaryIO, *, name: str | None = None,
                  mapping: Mapping[str, str] | None = None, by: str | None = None, as_of: object = None,
                  today: object = None, max_bytes: int = MAX_BYTES, column_types: Mapping[str, str] | None = None,
                  time_unit: str | None = None, event_value: object = None, drop_columns: Iterable[str] = (),
                  keep_columns: Iterable[str] = (), date_order: str | None = None) -> LoadResult:
    """Read, guard, map, type and validate an episode file (CSV, Excel .xlsx or Parquet).

    Parameters
    ----------
    source : bytes, path or binary file object
        Uploaded bytes stay in memory; nothing is written to disk.
    name : str, optional
        File name (for the format check and messages); taken from a path when not given.
    mapping : dict, optional
        ``{canonical: source_column}`` overriding the automatic guesses (an empty source unmaps).
    by : str, optional
        Grouping column (canonical name or the file's own column name); default ``level_of_care``.
    as_of, today : date-like, optional
        Data extraction date and the date after which dates count as "in the future".
    column_types, time_unit, event_value, drop_columns, keep_columns, date_order : optional
        See :func:`load_frame`.
    """
    if name is None and isinstance(source, (str, Path)):
        name = Path(source).name
    label = name or "uploaded file"
    try:
        data = read_bytes(source, max_bytes=max_bytes)
        digest = content_hash(data)
        raw = read_upload(data, name=name, max_bytes=max_bytes)  # (h12a) read_table behind the memory guards
    except DataFileError as exc:
        return LoadResult(None, _empty_report(0, str(exc)), {}, label, "")
    return load_frame(raw, mapping=mapping, by=by, as_of=as_of, today=today, source_name=label, digest=digest,
                      column_types=column_types, time_unit=time_unit, event_value=event_value,
                      drop_columns=drop_columns, keep_columns=keep_columns, date_order=date_order)
