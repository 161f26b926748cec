"""Sources: put an episode table in front of the engine as the relation ``source_rows``.

Which reader, and why (measured on 1M synthetic episodes, 136 MB of CSV, this 2-core machine):

* **CSV from a path**: DuckDB's own parallel reader, all columns as text, with the delimiter and
  header read as :mod:`analysis.io` reads them (0.35 s to a first aggregate through a view, 245 MB
  peak; 1.0 s and 436 MB into an in-memory table). Files that are not UTF-8 (Windows-1252, Latin-1)
  go through the in-memory path below, which decodes as :mod:`analysis.io` does.
* **CSV as bytes** (an upload): decoded and parsed by pyarrow exactly as :mod:`analysis.io` does
  (encoding fallbacks, delimiter sniffing, quoted newlines), then registered in DuckDB as an Arrow
  table without a copy (0.72 s, 564 MB). Nothing is written to disk.
* **Parquet**: a file, a folder (every ``*.parquet`` below it) or a glob, scanned in place by DuckDB
  (typed columns stay typed); Parquet bytes are read by pyarrow and registered.
* **A DuckDB database file**: attached read-only; ``table`` names the table (optional when the file
  holds one table).
* **A PostgreSQL table**: the relation stays in the server; only aggregates come back.

Every source gets ``_row``, the 0-based data row (header = spreadsheet row 1, so spreadsheet row =
``_row + 2``), except PostgreSQL tables, whose rows have no order (problem rows then carry their
episode id). Text cells are trimmed and the missing markers of :mod:`analysis.io` become NULL in the
view ``source_rows``, whatever the reader.
"""
from __future__ import annotations

import codecs
import datetime
import glob as _glob
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.engine.backends import Backend, DuckDBBackend, PostgresBackend, quote, quote_table, table_parts
from analysis.engine.backends import literal as _literal
from analysis.engine.progress import ProgressHook, poll_duckdb, report
from analysis.io import MISSING_MARKERS, DataFileError, detect_format

__all__ = ["SourceInfo", "open_source", "is_database_url", "WHITESPACE", "distinct_values", "has_many_values",
           "forget_distinct", "finish_cleaning"]

#: Leading or trailing whitespace of a text cell, as a regular expression per engine: the Unicode
#: whitespace that pyarrow's ``utf8_trim_whitespace`` trims on the pandas path (RE2 in DuckDB, where this
#: is 3 times faster than ``trim`` with a character list; RE2's ``\s`` lacks the vertical tab and the separators
#: 0x1c-0x1f that pyarrow trims, so they are listed; PostgreSQL's own regular expressions).
WHITESPACE: dict[str, str] = {
    "duckdb": r"^[\s\x0b\x1c-\x1f\x{85}\pZ]+|[\s\x0b\x1c-\x1f\x{85}\pZ]+$",
    "postgres": r"^[[:space:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
                r"|[[:space:]\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$",
}
_RAW = "source_raw"


@dataclass(frozen=True)
class SourceInfo:
    """What was opened: ``kind`` (csv, parquet, xlsx, duckdb, postgres), a display ``name``, the
    columns (name -> SQL type) of ``source_rows`` without ``_row``, and whether rows are numbered."""

    kind: str
    name: str
    columns: dict[str, str]
    has_row_numbers: bool
    details: dict


def is_database_url(source: object) -> bool:
    """True for ``postgresql://...`` (or ``postgres://...``) connection URLs."""
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("postgresql", "postgres")


def open_source(backend: Backend, source: bytes | str | Path, *, table: str | None = None, name: str | None = None,
                progress: ProgressHook | None = None, defer_clean: bool = False) -> SourceInfo:
    """Open ``source`` on ``backend`` as the relation ``source_rows`` (module docstring). ``defer_clean``: a CSV
    path's text is cleaned in a thread (:func:`finish_cleaning` waits for it; until then ``source_rows`` may
    hold cells as read).

    Raises
    ------
    DataFileError
        The source cannot be read, with a sentence naming the problem.
    """
    if isinstance(backend, PostgresBackend):
        if not table:
            raise DataFileError("Name the table to analyse (--table episodes).")
        try:
            relation = quote_table(table)  # (schema.table keeps its dot; a column name never does: quote)
        except ValueError as exc:
            raise DataFileError(str(exc)) from None
        columns = _checked_columns(backend, relation, f"table {table!r}")
        _clean_view(backend, relation, columns, row_col=None)
        return SourceInfo("postgres", table, columns, False, {"table": table})
    if not isinstance(backend, DuckDBBackend):
        raise TypeError("Files are read by the DuckDB backend.")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open_bytes(backend, bytes(source), name or "uploaded file", progress)
    text = str(source)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        files = sorted(_glob.glob(text, recursive=True))
        if not files:
            raise DataFileError(f"No file matches {text}.")
        return _open_parquet(backend, files, text, progress)
    path = Path(text)
    if not path.exists():
        raise DataFileError(f"There is no file at {path}.")
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet"))
        if not files:
            raise DataFileError(f"The folder {path} holds no .parquet files.")
        return _open_parquet(backend, files, str(path), progress)
    suffix = path.suffix.lower()
    if suffix in (".duckdb", ".db", ".ddb"):
        return _open_duckdb_file(backend, path, table)
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    fmt = detect_format(head) if head.strip() else None
    if fmt is None:
        raise DataFileError(f"'{path.name}' is empty.")
    if fmt == "parquet":
        return _open_parquet(backend, [str(path)], path.name, progress, defer_clean)
    if fmt == "csv":
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        if utf8:
            try:
                return _open_csv_path(backend, path, head, progress, defer_clean)
            except _NotUtf8:
                pass
    return _open_bytes(backend, path.read_bytes(), path.name, progress)


class _NotUtf8(Exception):
    """The file is read by the in-memory (Arrow) path instead: not UTF-8, or too many columns."""


#: CSV files with more columns than this are read by pyarrow (one table), not DuckDB's reader.
_WIDE_COLUMNS = 256


def _checked_columns(backend: Backend, relation: str, label: str) -> dict[str, str]:
    try:
        columns = backend.columns(relation)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataFileError(f"Cannot read {label} ({first}).") from None
    columns = {k: v for k, v in columns.items() if k not in ("_row", "_file")}
    if not columns:
        raise DataFileError(f"{label} has no columns.")
    return columns


def _is_text(sql_type: str) -> bool:
    # (a list of text, VARCHAR[], passes as stored: open_engine refuses nested columns by name)
    return sql_type.startswith(("VARCHAR", "TEXT", "STRING", "CHAR")) and not sql_type.endswith("]")


def _is_marker(q: str) -> str:
    """True for a cell that is one of the missing markers (``=`` tests joined by ``OR``: DuckDB turns a long
    ``IN`` list into a join, twice as slow here)."""
    return "(" + " OR ".join(f"{q} = {_literal(m)}" for m in MISSING_MARKERS) + ")"


def _may_trim(q: str) -> str:
    """True for a cell whose first or last character could be whitespace: its first byte or last character
    is not printable ASCII (every character of :data:`WHITESPACE` is a control or space character below
    ``!``, or not ASCII), or the empty string. Plain comparisons, several times cheaper per cell than the
    regular expression: the cells it lets through are the only ones trimming can change."""
    return f"({q} < '!' OR {q} >= chr(127) OR right({q}, 1) < '!' OR right({q}, 1) >= chr(127))"


def _text_needs(backend: Backend, relation: str, columns: dict[str, str]) -> dict[str, str | None]:
    """What cleaning each text column of ``relation`` needs: "trim" (a cell may have whitespace to trim; then
    the markers too), "markers" (no whitespace to trim, but a cell is a missing marker) or None (no cell
    changes). A column of few distinct values is tested on them (10M episodes: 0.06 s a column); one of many
    (identifiers: more than a tenth of the first :data:`_PROBE` rows distinct), and every column of a wide
    file, on its cells (0.9 s a column at 10M). Either test is exact; the choice only saves time."""
    text = [c for c, t in columns.items() if _is_text(t)]
    if not text:
        return {}
    if isinstance(backend, PostgresBackend):
        return _text_needs_postgres(backend, relation, text)
    many = list(text)
    if len(text) <= _DISTINCT_TESTS:
        listed = ", ".join(quote(c) for c in text)
        probe = ", ".join(f"count(DISTINCT {quote(c)})" for c in text)
        counts = backend.con.execute(f"SELECT {probe} FROM (SELECT {listed} FROM {relation} LIMIT {_PROBE}) AS p").fetchone()
        many = [c for c, n in zip(text, counts, strict=True) if n > _PROBE // 10]
    found: dict[str, tuple] = {}
    few = [c for c in text if c not in set(many)]
    backend.distinct = _Distinct({}, set(many) if len(text) <= _DISTINCT_TESTS else set())
    if few:
        # the distinct values kept in an (in-memory) table: tested here, then read by the lookups and the labels
        # (distinct_values) instead of one more DISTINCT pass over the rows per column
        parts = [f"SELECT DISTINCT {k} AS k, {quote(c)} AS v FROM {relation}" for k, c in enumerate(few)]
        backend.con.execute(f"CREATE OR REPLACE TABLE {_DISTINCT_TABLE} AS {' UNION ALL '.join(parts)}")
        rows = backend.con.execute(f"SELECT k, bool_or({_may_trim('v')}) AS t, bool_or({_is_marker('v')}) AS m "
                                   f"FROM {_DISTINCT_TABLE} GROUP BY k").fetchall()
        found.update({few[k]: (t, m) for k, t, m in rows})
        backend.distinct.index.update({c: k for k, c in enumerate(few)})
    for start in range(0, len(many), 500):
        chunk = many[start:start + 500]
        parts = [f"bool_or({_may_trim(quote(c))}), bool_or({_is_marker(quote(c))})" for c in chunk]
        row = backend.con.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchone()
        found.update({c: (row[2 * k], row[2 * k + 1]) for k, c in enumerate(chunk)})
    return {c: "trim" if found[c][0] else "markers" if found[c][1] else None for c in text}


#: The (in-memory) table of the distinct values of the text columns that have few (:func:`_text_needs`).
_DISTINCT_TABLE = "_source_distinct"


@dataclass
class _Distinct:
    """What :func:`_text_needs` learnt of ``source_rows``' text columns: ``index`` (column -> its key in
    :data:`_DISTINCT_TABLE`, for the columns whose values it holds as ``source_rows`` has them), ``many`` (the
    columns with more than ``_PROBE // 10`` distinct values in their first ``_PROBE`` rows)."""

    index: dict[str, int]
    many: set[str]


def distinct_values(backend: Backend, column: str) -> pd.Series | None:
    """The distinct non-NULL values of ``source_rows``' ``column`` (any order), read from what :func:`_text_needs`
    kept; None when it kept nothing for that column (then ask ``source_rows``)."""
    known = getattr(backend, "distinct", None)
    if not isinstance(known, _Distinct) or column not in known.index:
        return None
    frame = backend.query(f"SELECT v FROM {_DISTINCT_TABLE} WHERE k = {known.index[column]} AND v IS NOT NULL")
    return frame["v"]


def has_many_values(backend: Backend, column: str) -> bool:
    """True when ``source_rows``' ``column`` is known to hold more than ``_PROBE // 10`` distinct values."""
    known = getattr(backend, "distinct", None)
    return isinstance(known, _Distinct) and column in known.many


def forget_distinct(backend: Backend) -> None:
    """Drop what :func:`_text_needs` kept (once the source is checked)."""
    if isinstance(getattr(backend, "distinct", None), _Distinct):
        backend.distinct = None
        backend.con.execute(f"DROP TABLE IF EXISTS {_DISTINCT_TABLE}")


def _keep_distinct(backend: Backend, needs: dict[str, str | None]) -> None:
    """Keep what :func:`_text_needs` found only for the columns that cleaning leaves as they are (``source_rows``
    holds those values): a column to trim or with missing markers is asked again."""
    known = getattr(backend, "distinct", None)
    if isinstance(known, _Distinct):
        known.index = {c: k for c, k in known.index.items() if needs.get(c) is None}
        known.many = {c for c in known.many if needs.get(c) is None}


def _text_needs_postgres(backend: Backend, relation: str, text: list[str]) -> dict[str, str | None]:
    """:func:`_text_needs` in PostgreSQL: a column of few distinct values is tested on them with the cleaning's
    own regular expression (exact, whatever the collation); a column of many keeps the cleaning."""
    listed = ", ".join(quote(c) for c in text[:_DISTINCT_TESTS])
    probe = ", ".join(f"count(DISTINCT {quote(c)}) AS {quote(c)}" for c in text[:_DISTINCT_TESTS])
    counts = backend.query(f"SELECT {probe} FROM (SELECT {listed} FROM {relation} LIMIT {_PROBE}) AS p").iloc[0]
    few = [c for c in text[:_DISTINCT_TESTS] if int(counts[c]) <= _PROBE // 10]
    out: dict[str, str | None] = dict.fromkeys(text, "trim")
    if few:
        pattern = _literal(WHITESPACE["postgres"])
        parts = [f"SELECT {k} AS k, coalesce(bool_or(regexp_matches(v, {pattern})), FALSE) AS t, "
                 f"coalesce(bool_or({_is_marker('v')}), FALSE) AS m FROM (SELECT DISTINCT {quote(c)} AS v FROM "
                 f"{relation}) AS d" for k, c in enumerate(few)]
        for r in backend.query(" UNION ALL ".join(parts)).itertuples():
            out[few[int(r.k)]] = "trim" if r.t else "markers" if r.m else None
    return out


#: Up to this many text columns are tested on their distinct values where they have few (:func:`_text_needs`);
#: how many distinct values a column has is judged on its first ``_PROBE`` rows.
_DISTINCT_TESTS = 64
_PROBE = 20_000


def _cleaned(columns: dict[str, str], dialect: str, relation: str, keep: tuple[str, ...] = (),
             needs: dict[str, str | None] | None = None) -> str:
    """A ``SELECT`` of ``relation`` with every text cell trimmed and the missing markers NULL (other
    types as stored; ``keep``: more select items passed through). ``needs`` (:func:`_text_needs`) limits
    the work to what each column needs; without it every text column is trimmed and its markers NULL.

    Two levels, the trim inside and the markers outside, so the regular expression runs once per
    cell; the markers as ``=`` tests joined by ``OR`` (DuckDB turns a long ``IN`` list into a join
    that no query can prune, and a list literal per row is slower).
    """
    inner, outer = list(keep), [k.rsplit(" AS ", 1)[-1] for k in keep]
    for col, sql_type in columns.items():
        q = quote(col)
        need = "trim" if needs is None else needs.get(col)
        if _is_text(sql_type) and need is not None:
            if need == "trim":
                inner.append(f"regexp_replace({q}, {_literal(WHITESPACE[dialect])}, '', 'g') AS {q}")
            else:  # no cell has whitespace to trim: as the trim would leave it
                inner.append(q)
            outer.append(f"CASE WHEN {_is_marker(q)} THEN NULL ELSE {q} END AS {q}")
        else:
            inner.append(q)
            outer.append(q)
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {relation}) AS trimmed"


def _clean_view(backend: Backend, relation: str, columns: dict[str, str], row_col: str | None,
                extra: tuple[str, ...] = (), clean: bool = True) -> None:
    """``source_rows`` over ``relation``: cleaned text (:func:`_cleaned`) unless already ``clean``; only the text
    columns that hold a cell to clean get the cleaning (:func:`_text_needs`)."""
    keep = tuple(([] if row_col is None else [f"{row_col} AS _row"]) + list(extra))
    if clean:
        needs = _text_needs(backend, relation, columns)
        _keep_distinct(backend, needs)
        select = _cleaned(columns, backend.dialect, relation, keep, needs)
    else:
        select = f"SELECT {', '.join(list(keep) + [quote(c) for c in columns])} FROM {relation}"
    kind = "TEMPORARY VIEW" if isinstance(backend, PostgresBackend) else "VIEW"
    backend.execute(f"CREATE OR REPLACE {kind} source_rows AS {select}")


def _clean_in_place(backend: DuckDBBackend, table: str, columns: dict[str, str]) -> bool:
    """Clean the text cells of the in-memory ``table`` as :func:`_cleaned` does (trim, then the markers
    NULL), updating only the cells that cleaning changes: a column with none costs one pass of cheap tests.
    True when some column had cells to clean."""
    needs = _text_needs(backend, table, columns)
    _keep_distinct(backend, needs)
    for col, need in needs.items():
        q = quote(col)
        if need == "trim":  # (an UPDATE answers with its count of rows: fetched, so the connection is free)
            backend.con.execute(f"UPDATE {table} SET {q} = regexp_replace({q}, {_literal(WHITESPACE['duckdb'])}, "
                                f"'', 'g') WHERE {_may_trim(q)}").fetchall()
        if need is not None:
            backend.con.execute(f"UPDATE {table} SET {q} = NULL WHERE {_is_marker(q)}").fetchall()
    return any(need is not None for need in needs.values())


class _Cleaning:
    """:func:`_clean_in_place` of a CSV path's table in a thread, on a cursor of its own (DuckDB lets go of the GIL
    while it works), so that the caller can judge the columns on a sample meanwhile; :func:`finish_cleaning`
    waits for it and says whether a cell was cleaned (the sample is then read again)."""

    def __init__(self, backend: DuckDBBackend, table: str, columns: dict[str, str]) -> None:
        import threading

        self.backend, self.changed, self.error = backend, False, None
        self._cursor = backend.con.cursor()
        self._thread = threading.Thread(target=self._run, args=(table, columns), daemon=True)
        self._thread.start()

    def _run(self, table: str, columns: dict[str, str]) -> None:
        try:
            worker = DuckDBBackend(con=self._cursor)
            self.changed = _clean_in_place(worker, table, columns)
            self.backend.distinct = getattr(worker, "distinct", None)
        except BaseException as exc:  # re-raised by wait(), in the caller's thread
            self.error = exc

    def wait(self, quiet: bool = False) -> bool:
        self._thread.join()
        self._cursor.close()
        if self.error is not None and not quiet:
            raise self.error
        return self.changed


class _DeferredView:
    """:func:`_text_needs` of a scanned source (Parquet) in a thread, on a cursor of its own, while ``source_rows``
    is the source as stored (the caller judges the columns on a sample meanwhile, as with :class:`_Cleaning`);
    :meth:`wait` then makes ``source_rows`` the cleaned view :func:`_clean_view` makes, and says whether it cleans
    a column (the sample is then read again)."""

    def __init__(self, backend: DuckDBBackend, relation: str, columns: dict[str, str], keep: tuple[str, ...]) -> None:
        import threading

        self.backend, self.relation, self.columns, self.keep = backend, relation, columns, keep
        self.needs: dict[str, str | None] | None = None
        self.error: BaseException | None = None
        self._cursor = backend.con.cursor()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            worker = DuckDBBackend(con=self._cursor)
            self.needs = _text_needs(worker, self.relation, self.columns)
            self.distinct = getattr(worker, "distinct", None)
        except BaseException as exc:  # re-raised by wait(), in the caller's thread
            self.error = exc

    def wait(self, quiet: bool = False) -> bool:
        self._thread.join()
        self._cursor.close()
        if quiet:  # (the connection is being closed)
            return False
        if self.error is not None:
            raise self.error
        self.backend.distinct = self.distinct
        _keep_distinct(self.backend, self.needs)
        select = _cleaned(self.columns, self.backend.dialect, self.relation, self.keep, self.needs)
        self.backend.execute(f"CREATE OR REPLACE VIEW source_rows AS {select}")
        return any(need is not None for need in self.needs.values())


def finish_cleaning(backend: Backend) -> bool:
    """Wait for the text cleaning a source opened with ``defer_clean`` runs in a thread (:class:`_Cleaning`);
    True when it cleaned a cell (what was read of ``source_rows`` before is then out of date)."""
    pending = getattr(backend, "pending", None)
    if pending is None:
        return False
    backend.pending = None
    return pending.wait()


def _register_arrow(backend: DuckDBBackend, table: pa.Table, kind: str, name: str, details: dict,
                    clean: bool = True, rows=None) -> SourceInfo:
    """``rows``: the ``_row`` of each row (spreadsheet row - 2) when it is not its position."""
    numbers = range(table.num_rows) if rows is None else [int(r) for r in rows]
    table = table.append_column("_row", pa.array(numbers, type=pa.int64()))
    backend.con.register(_RAW, table)
    columns = _checked_columns(backend, _RAW, f"'{name}'")
    _clean_view(backend, _RAW, columns, row_col="_row", clean=clean)
    return SourceInfo(kind, name, columns, True, {**details, "rows": table.num_rows})


def _open_bytes(backend: DuckDBBackend, data: bytes, name: str, progress: ProgressHook | None) -> SourceInfo:
    fmt = detect_format(data)
    label = f"'{name}'"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as exc:
            raise DataFileError(f"{label} could not be read as Parquet ({type(exc).__name__}).") from None
        return _register_arrow(backend, table, "parquet", name, {})
    if fmt == "csv":
        if not _plain_csv(_decode_head(data), label):
            return _open_app_csv(backend, data, name)
        try:
            table, details = _csv_arrow(data, label, progress)
        except DataFileError:  # (pyarrow's raw error): the app's reader reads it or says why not, as an upload
            return _open_app_csv(backend, data, name)
        return _register_arrow(backend, table, "csv", name, details, clean=False)  # cleaned by _csv_arrow
    from analysis.io import read_table, spreadsheet_rows  # Excel (and old .xls, which read_table refuses)

    frame = read_table(data, name=name)
    rows = spreadsheet_rows(frame) - 2
    frame = _unique_names(frame)
    frame.attrs = {}
    columns = {}
    for col in frame.columns:
        values = frame[col].astype(object)
        values = values.where(values.notna(), None)
        try:
            columns[col] = pa.array(values.to_numpy(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # numbers and text (or dates) in one column, which Arrow refuses: each cell's text, as the app reads
            # it (an id 12345 as "12345", a count 2 as "2", "unknown" as it is)
            text = values.map(_cell_text, na_action="ignore")
            columns[col] = pa.array(text.to_numpy(), type=pa.string(), from_pandas=True)
    table = pa.table(columns) if columns else pa.table({})
    return _register_arrow(backend, table, fmt, name, {}, rows=rows)


def _cell_text(value: object) -> str:
    """A cell of a mixed Excel column as text: integral numbers without ``.0``, dates as ISO (no midnight time)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    return str(value)


def _unique_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Column names DuckDB can hold: a blank name (a wholly empty column is left out, one with cells becomes
    ``column N``) and names equal but for case (``Age`` and ``age``: DuckDB's names ignore case; the later one
    becomes ``age_1``, as DuckDB would name it)."""
    names, keep, taken = [], [], set()
    for k, col in enumerate(frame.columns):
        name = str(col)
        if not name.strip():
            if not frame.iloc[:, k].notna().any():
                continue
            name = f"column {k + 1}"
        base, n = name, 1
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        names.append(name)
        keep.append(k)
    if keep == list(range(frame.shape[1])) and names == [str(c) for c in frame.columns]:
        return frame
    out = frame.iloc[:, keep].copy(deep=False)
    out.columns = names
    out.attrs = dict(frame.attrs)
    return out


def _decode_head(data: bytes) -> str:
    """The first 64 KiB of a CSV's bytes as text (as :func:`analysis.io._decode` decodes, BOM dropped)."""
    head = data[:1 << 16]
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
    return head.decode("latin-1")


def _plain_csv(text: str, label: str) -> bool:
    """True when the CSV starts with its header and its names suit DuckDB's reader (and :func:`_csv_arrow`): no
    ``sep=`` line, blank, comment or title line above it, no blank name, no two names equal but for case.
    Other layouts are read by the app's reader (:func:`_open_app_csv`), which finds the header."""
    from analysis.io import _layout

    if not text.strip():
        return True  # (refused with a sentence by the caller)
    layout = _layout(text, label)
    if layout.sep_line or layout.blank_before or layout.comments_before or layout.title_rows:
        return False
    names = layout.names
    return all(n for n in names) and len({n.lower() for n in names}) == len(names)


def _open_app_csv(backend: DuckDBBackend, data: bytes, name: str) -> SourceInfo:
    """A CSV whose layout DuckDB's reader cannot take (:func:`_plain_csv`) read by the app's own reader
    (:func:`analysis.io.read_table`: the same header, rows and row numbers as an upload), then registered as
    Arrow. Slower than DuckDB's reader on a large file, but such files are the exception."""
    from analysis.io import read_table, spreadsheet_rows

    frame = read_table(data, name=name, max_bytes=max(len(data), 1))
    rows = spreadsheet_rows(frame) - 2
    frame = _unique_names(frame)
    details = {"encoding": frame.attrs.get("encoding", "utf-8"), "delimiter": frame.attrs.get("delimiter", ","),
               "read_notes": tuple(frame.attrs.get("read_notes", ()))}
    frame.attrs = {}
    table = pa.Table.from_pandas(frame.astype(object).where(frame.notna(), None), preserve_index=False,
                                 schema=pa.schema([(c, pa.string()) for c in frame.columns]))
    return _register_arrow(backend, table, "csv", name, details, clean=False, rows=rows)  # cleaned by read_table


def _csv_arrow(data: bytes, label: str, progress: ProgressHook | None) -> tuple[pa.Table, dict]:
    """Decode and parse CSV bytes as :func:`analysis.io.read_table` does, to an Arrow table of text."""
    import pyarrow.csv as pacsv

    from analysis.io import _check_columns, _clean_text, _decode, _header, _sniff_delimiter

    text, encoding = _decode(data)
    delimiter = _sniff_delimiter(text)
    names = [h.strip() for h in _header(text, delimiter)]
    if not names:
        raise DataFileError(f"{label} is empty.")
    _check_columns(pd.DataFrame(columns=names), label)
    utf8 = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if encoding != "utf-8-sig":
        utf8 = text.encode("utf-8")
    del text
    try:
        reader = pacsv.open_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False))
        batches, rows = [], 0
        for batch in reader:
            batches.append(batch)
            rows += batch.num_rows
            report(progress, "read", rows, None, "rows", "Reading episodes:")
    except pa.ArrowInvalid as exc:
        detail = str(exc).split("\n")[0]
        raise DataFileError(f"{label} could not be read as a table ({detail}). "
                            "Check that every row has the same number of fields as the header.") from None
    report(progress, "read", rows, rows, "rows", "Reading episodes:")
    table = pa.Table.from_batches(batches, schema=reader.schema)
    table = pa.table({n: _clean_text(table.column(n)) for n in table.column_names})
    return table, {"encoding": "utf-8" if encoding == "utf-8-sig" else encoding, "delimiter": delimiter}


def _open_csv_path(backend: DuckDBBackend, path: Path, head: bytes, progress: ProgressHook | None,
                   defer_clean: bool = False) -> SourceInfo:
    from analysis.io import _check_columns, _header, _sniff_delimiter

    text = head.decode("utf-8", errors="ignore")
    text = text[1:] if text.startswith("\ufeff") else text
    if not _plain_csv(text, f"'{path.name}'"):  # a title, sep= or blank line above the header, odd names
        return _open_app_csv(backend, path.read_bytes(), path.name)
    delimiter = _sniff_delimiter(text)
    names = [h.strip() for h in _header(text, delimiter)]
    label = f"'{path.name}'"
    if not names:
        raise DataFileError(f"{label} is empty.")
    _check_columns(pd.DataFrame(columns=names), label)
    if len(names) > _WIDE_COLUMNS:
        raise _NotUtf8()  # DuckDB's reader plans a wide file slowly (26 s for 2,000 columns): the Arrow path
    cols = "{" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in names) + "}"
    # read into memory as stored, then cleaned in place where a cell needs it (_clean_in_place)
    # (DuckDB's default buffer size: 16 MiB buffers read 1M episodes 0.15 s faster, but leave partly filled row
    # groups, 17 for 9, on which an UPDATE of 1,500 cells by _clean_in_place took 1.0-2.1 s instead of 0.07 s)
    reader = (f"read_csv({_literal(str(path))}, header = true, delim = {_literal(delimiter)}, quote = '\"', "
              f"escape = '\"', columns = {cols}, null_padding = false, strict_mode = true, encoding = 'utf-8')")
    sql = f"CREATE OR REPLACE TABLE {_RAW} AS SELECT * FROM {reader}"
    try:
        poll_duckdb(backend.con, lambda: backend.con.execute(sql), progress, "read", "Reading episodes:")
    except Exception as exc:
        message = str(exc)
        if "unicode" in message.lower() or "utf" in message.lower():
            raise _NotUtf8() from None
        if "interrupt" in message.lower():  # (stopped, not refused: said as before)
            detail = message.strip().splitlines()[0]
            raise DataFileError(f"{label} could not be read as a table ({detail}).") from None
        # DuckDB's reader refuses the layout (a ragged row, a title it could not see): the app's reader either
        # reads the file or refuses it with its own sentence (naming the row), never DuckDB's raw error
        backend.con.execute(f"DROP TABLE IF EXISTS {_RAW}")
        return _open_app_csv(backend, path.read_bytes(), path.name)
    columns = _checked_columns(backend, _RAW, label)
    _clean_view(backend, _RAW, columns, row_col="rowid", clean=False)
    rows = backend.con.execute(f"SELECT count(*) FROM {_RAW}").fetchone()[0]
    if defer_clean:
        backend.pending = _Cleaning(backend, _RAW, columns)
    else:
        _clean_in_place(backend, _RAW, columns)
    report(progress, "read", rows, rows, "rows", "Reading episodes:")
    return SourceInfo("csv", path.name, columns, True, {"encoding": "utf-8", "delimiter": delimiter, "rows": rows})


def _open_parquet(backend: DuckDBBackend, files: list[str], name: str, progress: ProgressHook | None,
                  defer_clean: bool = False) -> SourceInfo:
    listing = "[" + ", ".join(_literal(f) for f in files) + "]"
    relation = (f"(SELECT * FROM read_parquet({listing}, union_by_name = true, file_row_number = true"
                f"{', filename = true' if len(files) > 1 else ''}))")
    label = f"'{name}'"
    columns = _checked_columns(backend, relation, label)
    columns = {k: v for k, v in columns.items() if k not in ("file_row_number", "filename")}
    backend.execute(f"CREATE OR REPLACE VIEW {_RAW} AS SELECT * FROM {relation}")
    # several files: rows are numbered within each file, and _file says which file a problem row came from
    extra = ("filename AS _file",) if len(files) > 1 else ()
    if defer_clean:  # which text columns need cleaning found in a thread while the caller judges a sample
        keep = ("file_row_number AS _row", *extra)   # (10M episodes: 1.3 s of scans of every id)
        _clean_view(backend, _RAW, columns, row_col="file_row_number", extra=extra, clean=False)
        backend.pending = _DeferredView(backend, _RAW, columns, keep)
    else:
        _clean_view(backend, _RAW, columns, row_col="file_row_number", extra=extra)
    return SourceInfo("parquet", name, columns, True, {"files": len(files)})


def _duckdb_table(found: list[tuple[str, str]], table: str) -> tuple[str, str] | None:
    """The (schema, table) of ``found`` that ``table`` names: a table of that exact name (of the main schema
    first: a dot in a table's own name is kept), else ``schema.table`` (:func:`table_parts`); None when none."""
    exact = sorted(found, key=lambda st: st[0] != "main")
    for schema, name in exact:
        if name == table:
            return schema, name
    try:
        parts = table_parts(table)
    except ValueError:
        return None
    if len(parts) == 1:
        return next(((s, t) for s, t in exact if t == parts[0]), None)
    if len(parts) == 3 and parts[0] == "source_db":  # (the attached database's own name)
        parts = parts[1:]
    if len(parts) == 2 and tuple(parts) in found:
        return parts[0], parts[1]
    return None


def _open_duckdb_file(backend: DuckDBBackend, path: Path, table: str | None) -> SourceInfo:
    try:
        backend.execute(f"ATTACH {_literal(str(path))} AS source_db (READ_ONLY)")
    except Exception as exc:
        raise DataFileError(f"'{path.name}' could not be opened as a DuckDB database "
                            f"({str(exc).strip().splitlines()[0]}).") from None
    found = backend.con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                "WHERE database_name = 'source_db' ORDER BY 1, 2").fetchall()
    # a table of the main schema is named by itself, one of another schema as schema.table
    tables = {(t if s == "main" else f"{s}.{t}"): (s, t) for s, t in found}
    if table is None:
        if len(tables) != 1:
            listed = ", ".join(tables) if tables else "none"
            raise DataFileError(f"'{path.name}' holds {len(tables)} tables ({listed}); name one with --table.")
        table = next(iter(tables))
    where = _duckdb_table(found, table)
    if where is None:
        raise DataFileError(f"'{path.name}' has no table {table!r} (it has {', '.join(tables) or 'none'}).")
    relation = f"source_db.{quote(where[0])}.{quote(where[1])}"
    columns = _checked_columns(backend, relation, f"table {table!r}")
    backend.execute(f"CREATE OR REPLACE VIEW {_RAW} AS SELECT rowid AS _rowid, * FROM {relation}")
    _clean_view(backend, _RAW, columns, row_col="_rowid")
    return SourceInfo("duckdb", f"{path.name}:{table}", columns, True, {"table": table})
