"""Loading through the engine: what :func:`analysis.loading.load_episodes` decides, for a source of any size.

:func:`open_engine` opens a file path (CSV, Parquet, a folder or glob of Parquet, a ``.duckdb`` file),
uploaded bytes or a ``postgresql://`` table, and returns an :class:`EngineLoad`: the
:class:`analysis.loading.LoadResult` of the pandas path (report, mapping, column roles and types,
guesses, time unit, relapse value, identifier screen) with the checked cohort held in an
:class:`analysis.engine.Engine` instead of a pandas frame.

The decisions about columns (identifier guard, mapping guesses, free text, column types, time unit,
relapse value) are the pandas path's own functions, run on the source's rows when it has at most
:data:`WHOLE_FILE_ROWS` of them (so on every small file they see exactly what the pandas path sees),
and on an evenly spread sample of that many rows of a larger source. The rows themselves are typed,
checked and derived in SQL (:mod:`analysis.engine.episodes_sql`, :mod:`analysis.engine.cohort_sql`).
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from analysis.engine.engine import Engine, EngineError
from analysis.engine.progress import ProgressHook
from analysis.engine.sources import is_database_url
from analysis.loading import LoadResult, time_unit_and_event_value
from analysis.parsing import DATE_ORDERS
from analysis.validation import _empty_report

__all__ = ["EngineLoad", "open_engine", "WHOLE_FILE_ROWS", "source_hash"]

#: Sources with at most this many rows have their columns judged on every row (as the pandas path);
#: larger ones on this many rows spread evenly over the source.
WHOLE_FILE_ROWS: int = 50_000


@dataclass(frozen=True, eq=False)
class EngineLoad(LoadResult):
    """A :class:`analysis.loading.LoadResult` whose cohort is in :attr:`engine` (``episodes`` is None)."""

    engine: Engine | None = None

    @property
    def ok(self) -> bool:
        return self.engine is not None and self.report.fatal is None

    def resolve_column(self, name: str) -> str:
        table = list(self.engine.columns) if self.engine is not None else [i.name for i in self.columns]
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

    def problem_rows(self) -> pd.DataFrame:
        """The problems found (row, column, value as read, rule, severity, message; the first 100,000), one
        line per problem: the source's rows stay in the engine (or the database)."""
        if self.report.n_rows_excluded == 0 and self.report.problems.empty:
            return pd.DataFrame()
        return self.report.problems.reset_index(drop=True)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()

    def __enter__(self) -> EngineLoad:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def source_hash(source: bytes | str | Path, table: str | None = None) -> str:
    """The content hash the pandas path gives (:func:`analysis.io.content_hash`: sha256, 12 hex digits) of
    a file, uploaded bytes, or every file of a folder/glob in order; "" for a database table."""
    from analysis.io import content_hash

    if isinstance(source, (bytes, bytearray, memoryview)):
        return content_hash(bytes(source))
    if is_database_url(source):
        return ""
    text = str(source)
    path = Path(text)
    if path.is_file() and path.suffix.lower() not in (".duckdb", ".db", ".ddb"):
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("*.parquet"))
    elif path.is_file():
        return ""
    else:
        import glob

        files = [Path(f) for f in sorted(glob.glob(text, recursive=True))]
    if len(files) == 1 and files[0].stat().st_size < (64 << 20):
        return content_hash(files[0].read_bytes())
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


class _Hashing:
    """:func:`source_hash` of a source computed in a thread; :meth:`result` waits for it ("" when it cannot be read)."""

    def __init__(self, source: bytes | str | Path, table: str | None) -> None:
        import threading

        self._digest, self._error = "", None
        self._thread = threading.Thread(target=self._run, args=(source, table), daemon=True)
        self._thread.start()

    def _run(self, source: bytes | str | Path, table: str | None) -> None:
        try:
            self._digest = source_hash(source, table)
        except OSError:
            self._digest = ""
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest


def _fail(message: str, label: str, digest: str = "", n_rows: int = 0, **fields) -> EngineLoad:
    return EngineLoad(None, _empty_report(n_rows, message), {}, label, digest, **fields)


def _too_big(engine: Engine, n_rows: int) -> str:
    """The sentence for a source whose checking does not fit in the memory this process may use."""
    return (f"The file is too large to check in the memory this process may use ({len(engine.source.columns):,} "
            f"columns, {n_rows:,} rows): leave out columns you do not need, or run Continuum with more memory.")


def open_engine(source: bytes | str | Path, *, table: str | None = None, name: str | None = None,
                mapping: Mapping[str, str] | None = None, by: str | None = None, as_of: object = None,
                today: object = None, column_types: Mapping[str, str] | None = None, time_unit: str | None = None,
                event_value: object = None, drop_columns: Iterable[str] = (), keep_columns: Iterable[str] = (),
                progress: ProgressHook | None = None, memory_limit: str | None = None,
                threads: int | None = None, date_order: str | None = None) -> EngineLoad:
    """Open, guard, map, type and check a source in the engine; never raises for bad input.

    Arguments as :func:`analysis.loading.load_episodes` (``table``: the table of a ``.duckdb`` file or a
    PostgreSQL database). A source that cannot be used comes back with ``report.fatal`` set. ``date_order``
    (``"dmy"``/``"mdy"``) as :func:`analysis.validation.validate_episodes`: one day/month order for the file.
    """
    if is_database_url(source):
        label = f"{table or 'table'} ({_redacted(str(source))})"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "uploaded file"
    else:
        label = name or (Path(str(source)).name if Path(str(source)).exists() else str(source))
        if table and str(source).lower().endswith((".duckdb", ".db", ".ddb")):
            label = f"{label}:{table}"
    hashing = _Hashing(source, table)  # (in a thread while the engine reads: hashlib and file reads let go of the GIL)
    try:
        engine = Engine.connect(source, table=table, name=name, progress=progress, memory_limit=memory_limit,
                                threads=threads, defer_clean=True)
    except EngineError as exc:
        hashing.result()
        return _fail(str(exc), label)
    nested = [c for c, t in engine.source.columns.items()
              if str(t).upper().startswith(("STRUCT", "MAP", "UNION", "LIST")) or str(t).endswith("]")]
    if nested:
        engine.close()
        hashing.result()
        sentence = _nested_sentence(source, label)
        if sentence:  # the pandas path's sentence (analysis.safety.parquet_problem), for one file
            return _fail(sentence, label)
        return _fail(f"The column{'s' if len(nested) > 1 else ''} {', '.join(repr(c) for c in nested)} "
                     f"hold{'' if len(nested) > 1 else 's'} nested values (lists or records); store one value "
                     "per cell.", label)
    digest = hashing.result()
    drop_columns, keep_columns = tuple(drop_columns), tuple(keep_columns)
    try:
        n_rows = engine.source_rows()
        # judged on the sample while a CSV's text is cleaned in a thread (Engine.connect, defer_clean); when the
        # cleaning changed a cell of the sample, judged again on the cleaned sample
        sample = engine.sample(WHOLE_FILE_ROWS)
        while True:
            before = sample.copy()
            try:
                raw, screen, details, resolved, infos = _judge(engine, sample, mapping, column_types, drop_columns,
                                                               keep_columns)
            except ValueError:
                if engine.finish_cleaning():
                    sample = engine.sample(WHOLE_FILE_ROWS)
                    if not sample.equals(before):
                        continue
                raise
            if engine.finish_cleaning():
                sample = engine.sample(WHOLE_FILE_ROWS)
                if not sample.equals(before):
                    continue
            break
        if screen.refused:
            engine.close()
            return _fail(screen.message, label, digest, n_rows, identifiers=screen.findings, screen=screen)
    except ValueError as exc:
        engine.close()
        return _fail(str(exc), label, digest, n_rows)
    except duckdb.OutOfMemoryException:
        engine.close()
        return _fail(_too_big(engine, n_rows if "n_rows" in locals() else 0), label, digest)
    overrides = {i.source: i.type for i in infos if i.overridden}
    guesses = [g for g in details.guesses if g.made or g.column not in resolved.values()]
    notes = [*screen.notes, *(f"Not guessed: {g.reason}." for g in guesses if not g.made)]
    time_unit, event_value = time_unit_and_event_value(raw, resolved, time_unit, event_value, notes)
    table_name = {src: k for k, src in resolved.items()}
    infos = tuple(i if i.role == "canonical" else dataclasses.replace(
        i, name=i.source + "_original" if i.source in table_name.values() else i.source) for i in infos)
    by_user = by
    if by and by not in resolved:
        by = {i.source: i.name for i in infos}.get(by, by)
    kept = set(map(str, raw.columns))
    exclude = [c for c in engine.source.columns if c not in kept]
    fields = dict(guesses=tuple(guesses), time_unit=time_unit, event_value=event_value, column_types=overrides,
                  date_order=date_order,
                  by=by_user, screen=screen, columns=infos)
    try:
        if date_order is not None and date_order not in DATE_ORDERS:
            raise ValueError(f"Unknown date order {date_order!r}; use one of {', '.join(DATE_ORDERS)}.")
        engine.check(resolved, by=by or "level_of_care", as_of=as_of, today=today, progress=progress,
                     time_unit=time_unit, event_value=event_value, exclude=exclude,
                     column_types={i.source: i.type for i in infos if i.role != "canonical"},
                     date_order=date_order)  # (None: told from every date column together, with a note)
        engine.time_unit = time_unit
        report = engine.validation_report()
    except (EngineError, ValueError) as exc:
        engine.close()
        return _fail(str(exc), label, digest, n_rows, **fields)
    except duckdb.OutOfMemoryException:
        engine.close()
        return _fail(_too_big(engine, n_rows), label, digest, n_rows, **fields)
    if notes:
        report = dataclasses.replace(report, notes=tuple(notes) + tuple(report.notes))
    extra = tuple(c for c in kept if c not in set(resolved.values()))
    if report.fatal:
        engine.close()
        engine = None
    return EngineLoad(None, report, resolved, label, digest, None, (), extra, **fields, engine=engine)


def _judge(engine: Engine, raw: pd.DataFrame, mapping: Mapping[str, str] | None,
           column_types: Mapping[str, str] | None, drop_columns: tuple, keep_columns: tuple) -> tuple:
    """The decisions about columns on the source's sample ``raw`` (:meth:`Engine.sample`; the pandas path's
    functions): (sample, identifier screen, guesses, mapping, column descriptions); the last three None when
    the screen refuses the file."""
    from analysis.columns import describe_columns
    from analysis.identifiers import leave_out_free_text, screen_columns
    from analysis.io import clean_blanks
    from analysis.mapping import guess_details, resolve_mapping

    # text trimmed and missing markers NULL in the engine already (sources.source_rows): only NULL -> NaN
    raw = clean_blanks(raw).copy(deep=False) if engine.source.kind in ("xlsx", "xls") else raw
    raw.attrs["text_clean"] = True
    screen = screen_columns(raw, drop=drop_columns)
    if screen.refused:
        return raw, screen, None, None, None
    raw = screen.frame
    details = guess_details(raw)
    resolved = resolve_mapping(raw, mapping, guess=details.mapping)
    screen = leave_out_free_text(screen, resolved.values(), keep=keep_columns)
    raw = screen.frame
    return raw, screen, details, resolved, describe_columns(raw, resolved, column_types)


def _nested_sentence(source: object, label: str) -> str | None:
    """What :func:`analysis.safety.parquet_problem` says of a Parquet file with nested columns (from its schema)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            schema = pq.ParquetFile(pa.BufferReader(bytes(source))).schema_arrow
        elif Path(str(source)).is_file():
            schema = pq.read_schema(str(source))
        else:
            return None
    except Exception:
        return None
    nested = [f"'{f.name}' ({f.type})" for f in schema if pa.types.is_nested(f.type)
              or (pa.types.is_dictionary(f.type) and pa.types.is_nested(f.type.value_type))]
    if not nested:
        return None
    return (f"'{label}' has nested values (lists, structs or maps) in column(s) {', '.join(nested[:5])}: "
            "Continuum reads one plain value per cell. Save those columns as plain text or numbers.")


def _redacted(url: str) -> str:
    """A database URL without its password (for messages and the JSON's source)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))
