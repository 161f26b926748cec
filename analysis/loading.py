"""Loading: read a file, guard against identifiers, map columns, validate; one call, no traceback.

:func:`load_episodes` is what the app, the command line and a notebook call. It never raises for
bad input: a file that cannot be used comes back with ``report.fatal`` set to one sentence.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from analysis.identifiers import IdentifierFinding, find_identifier_columns, identifier_message
from analysis.io import MAX_BYTES, DataFileError, content_hash, read_bytes, read_table
from analysis.mapping import apply_mapping, resolve_mapping
from analysis.validation import ValidationReport, _empty_report, validate_episodes

__all__ = ["LoadResult", "load_episodes", "load_frame"]


@dataclass(frozen=True, eq=False)
class LoadResult:
    """Outcome of loading one file.

    ``episodes`` is the canonical episode table (None when rejected); ``raw`` the file as read
    (for showing problem rows); ``mapping`` the ``{canonical: source}`` mapping used.
    """

    episodes: pd.DataFrame | None
    report: ValidationReport
    mapping: dict[str, str]
    source_name: str
    content_hash: str
    raw: pd.DataFrame | None = None
    identifiers: tuple[IdentifierFinding, ...] = ()
    extra_columns: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when there are episodes to analyse."""
        return self.episodes is not None

    def problem_rows(self) -> pd.DataFrame:
        """The excluded rows as they were in the file, with their problems listed in a column."""
        if self.raw is None or self.report.n_rows_excluded == 0:
            return pd.DataFrame()
        rows = self.raw.loc[self.report.excluded_index].copy()
        errors = self.report.problems[self.report.problems["severity"] == "error"]
        text = errors.assign(text=errors["column"] + ": " + errors["rule"]).groupby("row")["text"].agg("; ".join)
        rows.insert(0, "row", rows.index + 2)
        rows.insert(1, "problems", rows["row"].map(text))
        return rows.reset_index(drop=True)


def load_frame(raw: pd.DataFrame, *, mapping: Mapping[str, str] | None = None, by: str | None = None,
               as_of: object = None, today: object = None, source_name: str = "data frame",
               digest: str = "") -> LoadResult:
    """Identifier guard, mapping and validation of an already-read table (e.g. from a notebook)."""
    if not (isinstance(raw.index, pd.RangeIndex) and raw.index.start == 0 and raw.index.step == 1):
        raw = raw.reset_index(drop=True)
    findings = tuple(find_identifier_columns(raw))
    if findings:
        report = _empty_report(len(raw), identifier_message(list(findings)))
        return LoadResult(None, report, {}, source_name, digest, None, findings)
    try:
        resolved = resolve_mapping(raw.columns, mapping)
    except ValueError as exc:
        return LoadResult(None, _empty_report(len(raw), str(exc)), {}, source_name, digest, raw)
    canonical = apply_mapping(raw, resolved)
    if by and by not in canonical.columns and by in resolved.values():
        by = next(k for k, v in resolved.items() if v == by)
    episodes, report = validate_episodes(canonical, by=by, as_of=as_of, today=today)
    extra = tuple(c for c in canonical.columns if c not in resolved)
    return LoadResult(episodes, report, resolved, source_name, digest, raw, (), extra)


def load_episodes(source: bytes | str | Path | BinaryIO, *, name: str | None = None,
                  mapping: Mapping[str, str] | None = None, by: str | None = None, as_of: object = None,
                  today: object = None, max_bytes: int = MAX_BYTES) -> LoadResult:
    """Read, guard, map and validate an episode file (CSV, Excel .xlsx or Parquet).

    Parameters
    ----------
    source : bytes, path or binary file object
        Uploaded bytes stay in memory; nothing is written to disk.
    name : str, optional
        File name (for the format check and messages); taken from a path when not given.
    mapping : dict, optional
        ``{canonical: source_column}`` overriding the automatic guesses.
    by : str, optional
        Grouping column (canonical name or the file's own column name); default ``level_of_care``.
    as_of, today : date-like, optional
        Data extraction date and the date after which dates count as "in the future".
    """
    if name is None and isinstance(source, (str, Path)):
        name = Path(source).name
    label = name or "uploaded file"
    try:
        data = read_bytes(source, max_bytes=max_bytes)
        digest = content_hash(data)
        raw = read_table(data, name=name, max_bytes=max_bytes)
    except DataFileError as exc:
        return LoadResult(None, _empty_report(0, str(exc)), {}, label, "")
    return load_frame(raw, mapping=mapping, by=by, as_of=as_of, today=today, source_name=label, digest=digest)
