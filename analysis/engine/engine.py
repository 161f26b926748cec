"""The :class:`Engine`: a cohort held in DuckDB or PostgreSQL, queried for aggregates.

``Engine.open(source)`` reads a source (:mod:`analysis.engine.sources`), types and checks it in SQL
(:mod:`analysis.engine.episodes_sql`) and derives the cohort in SQL (:mod:`analysis.engine.cohort_sql`).
The cohort stays in the engine as the relation ``cohort``. What comes back is aggregates:
:meth:`Engine.collapse` returns one row per distinct combination of the requested columns with
``n``, the number of episodes, which the statistics take through their ``count_col``/``weight_col``
arguments and turn into the same results as on the rows. Filters are pushed down as ``WHERE``
clauses (:func:`analysis.filters.filter_sql`). Rows come back only for :meth:`Engine.problems` and
:meth:`Engine.preview`.

Where the cohort lives: in DuckDB the checked episodes (typed values and rule flags) are
materialised once as an in-memory table, so that the source is read and checked once and each
filter change is one aggregate query over memory; ``cohort`` is a view over it that computes the
derived columns as it goes. ``materialize=False`` keeps everything a view over the source (Parquet
scanned at each query, least memory). In PostgreSQL the same, as temporary objects of the session: the
rows never leave the server (the checked episodes are a temporary table of the session where the
user may create one).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.engine.backends import Backend, DuckDBBackend, PostgresBackend, literal, quote
from analysis.engine.cohort_sql import COHORT_DTYPES, cohort_select
from analysis.engine.compact import materialise
from analysis.engine.episodes_sql import (
    EpisodesSQL,
    build_episodes,
    problem_rows,
    rule_counts,
    validation_report,
)
from analysis.engine.progress import ProgressHook, poll_duckdb, report
from analysis.engine.sources import SourceInfo, finish_cleaning, forget_distinct, is_database_url, open_source
from analysis.filters import FilterSpec, filter_sql
from analysis.io import DataFileError
from analysis.mapping import resolve_mapping

__all__ = ["Engine", "EngineError"]


class EngineError(ValueError):
    """The source cannot be analysed; the message is one sentence for a person."""


_EXTRA_DTYPES = {"numeric": "float64", "binary": "boolean", "date": "datetime64[ns]"}


def _restore(frame: pd.DataFrame, shape: str | None, extra_types: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Convert fetched columns back to the cohort's pandas dtypes (:data:`COHORT_DTYPES`; extra columns
    by their type: numeric float64, binary boolean, date datetime64)."""
    extra_types = extra_types or {}
    for col in frame.columns:
        dtype = COHORT_DTYPES.get(col) or _EXTRA_DTYPES.get(extra_types.get(col, ""))
        if dtype is None:
            continue
        values = frame[col]
        if dtype == "datetime64[ns]":
            frame[col] = pd.to_datetime(values).astype("datetime64[ns]")
        elif dtype in ("float64", "int8"):
            frame[col] = pd.to_numeric(values).astype(dtype)
        elif dtype == "Int64":
            frame[col] = pd.to_numeric(values).astype("Int64")
        elif dtype == "boolean":
            frame[col] = values.astype(object).where(values.notna(), None).astype("boolean")
        elif dtype == "bool":
            frame[col] = values.astype(bool)
        else:
            frame[col] = values.astype(object).where(values.notna(), None).astype(dtype)
    frame.attrs["shape"] = shape
    return frame


def _shared_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns (``object``) with each distinct value one Python string, shared by its rows: DuckDB makes
    one string per cell, and a collapse the statistics keep (the Cox model's 1.07M covariate patterns of 10M
    episodes, four label columns) held 0.2 GB of copies. Same values, same dtype, missing cells as they were."""
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object or len(values) < 1000:
            continue
        codes, uniques = pd.factorize(values)
        if len(uniques) > len(values) // 10:  # ids: nothing to share
            continue
        out = values.to_numpy(dtype=object, copy=True)
        found = codes >= 0
        out[found] = np.asarray(uniques, dtype=object)[codes[found]]
        frame[col] = pd.Series(out, index=values.index, dtype=object, name=col)
    return frame


def _enum_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` fetched as ENUM (pandas categoricals) as DuckDB gives text: ``object`` with ``None`` for NULL, one
    Python string per distinct value (shared by its rows, as :func:`_shared_strings` makes them)."""
    for col in columns:
        values = frame[col]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            continue
        codes = values.cat.codes.to_numpy()
        out = np.full(len(values), None, dtype=object)
        found = codes >= 0
        out[found] = np.asarray(values.cat.categories, dtype=object)[codes[found]]
        frame[col] = pd.Series(out, index=values.index, dtype=object, name=col)
    return frame


def _spread_sample(backend: Backend, columns: list[str], size: int = 20_000) -> pd.DataFrame:
    """Rows spread evenly over the source (for content-aware mapping guesses), at most about ``size``."""
    n = int(backend.query("SELECT count(*) AS n FROM source_rows")["n"].iloc[0])
    cols = ", ".join(quote(c) for c in columns)
    if "_row" in backend.columns("source_rows"):
        frame = backend.query(f"SELECT {cols} FROM source_rows WHERE _row % {max(1, n // size)} = 0 ORDER BY _row")
    else:
        frame = backend.query(f"SELECT {cols} FROM source_rows LIMIT {size}")
    return frame


class Engine:
    """A cohort in an engine (module docstring). Build one with :meth:`open` or :meth:`from_cohort`."""

    ahead_only = False
    """True for the shadow of :mod:`analysis.engine.ahead` (its collapses are kept for the engine, not read)."""

    def __init__(self, backend: Backend, *, source: SourceInfo | None, episodes: EpisodesSQL | None,
                 shape: str | None, as_of: pd.Timestamp | None, columns: tuple[str, ...]) -> None:
        self.backend = backend
        self.source = source
        self.episodes = episodes
        self.shape = shape
        self.as_of = as_of
        self.columns = columns
        self.extra_types = dict((episodes.extra_types or {}) if episodes is not None else {})
        self.time_unit = "days"
        self._labels: frozenset[str] = frozenset()  # cohort columns stored as ENUM (cohort_labels)
        self._whole = None  # counts() of the whole cohort, made once (after check)
        self._sql_types: dict[str, str] | None = None
        self.share = True
        """Filtered cohorts read their collapses off the whole cohort's where they can (:mod:`analysis.engine.narrow`);
        False: every cohort runs its own queries (the reference the tests compare with; the same numbers)."""

    # ------------------------------------------------------------------ building
    @classmethod
    def open(cls, source: bytes | str | Path, *, table: str | None = None, mapping: Mapping[str, str] | None = None,
             by: str = "level_of_care", as_of: object = None, today: object = None, name: str | None = None,
             progress: ProgressHook | None = None, materialize: bool = True, memory_limit: str | None = None,
             threads: int | None = None, time_unit: str = "days", event_value: object = None,
             column_types: Mapping[str, str] | None = None) -> Engine:
        """Open a file (path or bytes) in DuckDB, or a ``postgresql://`` URL with ``table``, and check it
        (:meth:`connect`, the mapping resolved on a spread sample, then :meth:`check`).

        Raises
        ------
        EngineError
            For anything that cannot be analysed, with one sentence.
        """
        engine = cls.connect(source, table=table, name=name, progress=progress, memory_limit=memory_limit,
                             threads=threads)
        try:
            resolved = resolve_mapping(_spread_sample(engine.backend, list(engine.source.columns)), mapping)
            engine.check(resolved, by=by, as_of=as_of, today=today, progress=progress, materialize=materialize,
                         time_unit=time_unit, event_value=event_value, column_types=column_types)
        except (DataFileError, EngineError, ValueError) as exc:
            engine.close()
            raise EngineError(str(exc)) from None
        return engine

    @classmethod
    def connect(cls, source: bytes | str | Path, *, table: str | None = None, name: str | None = None,
                progress: ProgressHook | None = None, memory_limit: str | None = None,
                threads: int | None = None, defer_clean: bool = False) -> Engine:
        """The source opened as ``source_rows`` (read, not yet checked: call :meth:`check`). ``defer_clean``: a CSV
        path's text is cleaned in a thread meanwhile (:meth:`finish_cleaning`; :meth:`check` waits for it)."""
        try:
            if is_database_url(source):
                backend: Backend = PostgresBackend(str(source))
            else:
                backend = DuckDBBackend(memory_limit=memory_limit, threads=threads)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        try:
            info = open_source(backend, source, table=table, name=name, progress=progress, defer_clean=defer_clean)
            if backend.query("SELECT count(*) AS n FROM (SELECT 1 FROM source_rows LIMIT 1) AS t")["n"].iloc[0] == 0:
                raise EngineError("The file has a header but no data rows.")
        except (DataFileError, EngineError, ValueError) as exc:
            backend.close()
            raise EngineError(str(exc)) from None
        return cls(backend, source=info, episodes=None, shape=None, as_of=None, columns=())

    def sample(self, size: int = 20_000, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Source rows (as read, cleaned) spread evenly over the source, about ``size`` of them; every row
        when the source has no more (so checks made on the sample are made on the whole of a small file)."""
        return _spread_sample(self.backend, list(columns if columns is not None else self.source.columns), size)

    def finish_cleaning(self) -> bool:
        """Wait for the text cleaning of a source opened with ``defer_clean``; True when it cleaned a cell (so
        a sample read before is out of date)."""
        return finish_cleaning(self.backend)

    def source_rows(self) -> int:
        """Rows of the source (data rows, the header not counted)."""
        return int(self.backend.query("SELECT count(*) AS n FROM source_rows")["n"].iloc[0])

    def check(self, mapping: Mapping[str, str], *, by: str = "level_of_care", as_of: object = None,
              today: object = None, progress: ProgressHook | None = None, materialize: bool = True,
              time_unit: str = "days", event_value: object = None,
              column_types: Mapping[str, str] | None = None, exclude: Sequence[str] = (),
              date_order: str | None = None) -> None:
        """Type and check the source with ``mapping`` ({canonical: source column}, resolved) and derive the
        cohort; ``exclude``: source columns left out (dropped by the user, free text); ``date_order``: the file's
        day/month order as stated ("dmy"/"mdy"; None: told from the values, :func:`analysis.parsing.decide_date_order`).

        Raises
        ------
        EngineError
            The file cannot be analysed (a required column missing, no readable date), one sentence.
        """
        backend, info = self.backend, self.source
        if isinstance(backend, DuckDBBackend):
            backend.forget_ahead()  # (results computed ahead are of the cohort checked before)
        finish_cleaning(backend)  # (opened with defer_clean: the rows are checked as cleaned)
        if by not in mapping and by in mapping.values():
            by = next(k for k, v in mapping.items() if v == by)
        source_columns = {c: t for c, t in info.columns.items() if c not in set(exclude)}
        built = build_episodes(backend, source_columns, dict(mapping), by=by, today=today,
                               has_row_numbers=info.has_row_numbers, time_unit=time_unit,
                               event_value=event_value, column_types=dict(column_types or {}),
                               date_order=date_order)
        if built.fatal:
            raise EngineError(built.fatal)
        relation, labels = "episodes", set()
        if materialize and isinstance(backend, DuckDBBackend):
            # one pass over the source: typed values and rule flags of every row, kept in memory (narrow:
            # analysis.engine.compact), and ``episodes`` the view that reads them back
            relation, labels = materialise(backend, built, source_columns,
                                           lambda run: poll_duckdb(backend.con, run, progress, "validate",
                                                                   "Checking the rules:"))
        elif materialize:  # PostgreSQL: a temporary table of this session, in the server, with the values as
            try:            # read (the problem rows and label checks then read it instead of re-reading the source)
                order = ", ".join(quote(c) for c in backend.columns("episodes_view"))
                backend.execute(f"CREATE TEMPORARY TABLE episodes_table AS SELECT {order} FROM episodes_view")
                backend.execute("ANALYZE episodes_table")
                backend.execute(f"CREATE OR REPLACE TEMPORARY VIEW episodes_view AS SELECT {order} FROM episodes_table")
                relation = "episodes_table"
            except Exception:  # no right to create temporary tables: every query reads the views
                relation = "episodes"
        if isinstance(backend, DuckDBBackend):
            forget_distinct(backend)  # (the distinct values of the source's text, read by the lookups and labels)
        report(progress, "validate", len(built.flags), len(built.flags), "rules", "Checked rules:")
        as_of_ts = pd.Timestamp(as_of) if as_of is not None else self._latest_date(backend, built, relation)
        if built.shape == "dates" and as_of_ts is None:
            from analysis.engine.episodes_sql import rule_counts

            counts = rule_counts(backend, built)
            if counts.attrs.get("n_rows", 0) and counts.attrs.get("n_excluded", 0) == counts.attrs["n_rows"]:
                as_of_ts = pd.Timestamp(built.today)  # every row has an error: the report says so, as validation
        if built.shape == "dates" and as_of_ts is None:
            raise EngineError("No valid row is left: no episode has a readable admission date.")
        select = cohort_select(("_row",) * info.has_row_numbers + built.columns, built.shape, as_of_ts, relation)
        temp = "TEMPORARY " if isinstance(backend, PostgresBackend) else ""
        backend.execute(f"CREATE OR REPLACE {temp}VIEW cohort AS {select}")
        if labels:  # the same cohort with its labels as ENUM (for Engine.collapse)
            backend.execute("CREATE OR REPLACE VIEW cohort_labels AS " + cohort_select(
                ("_row",) * info.has_row_numbers + built.columns, built.shape, as_of_ts, "episodes_labels"))
        if relation == "episodes_table":  # PostgreSQL, or a wide table in DuckDB
            names = ", ".join(quote(c) for c in backend.columns("episodes"))
            backend.execute(f"CREATE OR REPLACE {temp}VIEW episodes AS SELECT {names} FROM episodes_table")
        self.episodes, self.shape, self.as_of = built, built.shape, as_of_ts
        self.time_unit = time_unit
        self.extra_types = dict(built.extra_types or {})
        self.columns = tuple(c for c in backend.columns("cohort") if c != "_row")
        self._labels = frozenset(labels & set(self.columns))
        self._whole, self._sql_types = None, None

    @staticmethod
    def _latest_date(backend: Backend, built: EpisodesSQL, relation: str) -> pd.Timestamp | None:
        dates = [c for c in ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
                 if c in built.columns]
        if built.shape != "dates" or not dates:
            return None
        row = backend.query(f"SELECT {', '.join(f'max({quote(c)}) AS {quote(c)}' for c in dates)} "
                            f"FROM {relation} WHERE NOT _excluded").iloc[0]
        values = [pd.Timestamp(v) for v in row if v is not None and not pd.isna(v)]
        return max(values) if values else None

    @classmethod
    def from_cohort(cls, cohort: pd.DataFrame, **settings) -> Engine:
        """An engine over an already-derived pandas cohort (registered in DuckDB without a copy)."""
        backend = DuckDBBackend(**settings)
        frame = cohort.assign(_row=pd.RangeIndex(len(cohort)))
        backend.con.register("cohort_frame", frame)
        backend.execute("CREATE OR REPLACE VIEW cohort AS SELECT * FROM cohort_frame")
        as_of = cohort.attrs.get("as_of")
        return cls(backend, source=None, episodes=None, shape=cohort.attrs.get("shape", "dates"),
                   as_of=None if as_of is None else pd.Timestamp(as_of), columns=tuple(cohort.columns))

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def where(self, spec: FilterSpec | None = None, extra: str | None = None) -> str:
        """The ``WHERE`` condition of a filter spec (and an optional extra SQL condition)."""
        cond = "TRUE" if spec is None or spec.is_empty else filter_sql(spec, self.columns)
        return cond if not extra else f"({cond}) AND ({extra})"

    def collapse(self, columns: Sequence[str] | Mapping[str, str], spec: FilterSpec | None = None, *,
                 where: str | None = None, count: str = "n") -> pd.DataFrame:
        """One row per distinct combination of ``columns`` among the filtered episodes, with ``count``.

        ``columns`` are cohort columns, or a mapping of output name -> SQL expression over them.
        The frame's columns carry the cohort's pandas dtypes; ``attrs`` carries shape and as_of.
        """
        exprs = dict(columns) if isinstance(columns, Mapping) else {c: quote(c) for c in columns}
        missing = [c for c, e in exprs.items() if e == quote(c) and c not in self.columns]
        if missing:
            raise EngineError(f"There is no column {', '.join(repr(m) for m in missing)} in the data.")
        select = ", ".join(f"{e} AS {quote(c)}" for c, e in exprs.items())
        group = ", ".join(str(i + 1) for i in range(len(exprs)))
        sql = (f"SELECT {select}, count(*) AS {quote(count)} FROM cohort WHERE {self.where(spec, where)} "
               f"GROUP BY {group} ORDER BY {group}")
        enums = [c for c, e in exprs.items() if c in self._labels and e == quote(c)]
        rest = " ".join([e for c, e in exprs.items() if c not in enums] + [where or ""])
        if enums and (spec is None or spec.is_empty) and not any(c in rest for c in self._labels):
            # grouped and ordered by the labels' ENUM codes (their values are in text order: analysis.engine.compact),
            # then read as text (_enum_text): the same rows in the same order as grouping the text, without a
            # string per row to sort (10M episodes: the Cox model's 1.07M covariate patterns 2.9 -> 1.7 s)
            inner = (f"SELECT {select}, count(*) AS {quote(count)} FROM cohort_labels WHERE {self.where(None, where)} "
                     f"GROUP BY {group}")
            sql = f"SELECT * FROM ({inner}) AS g ORDER BY {group}"
        else:
            enums = []
        frame = self.backend.query(sql)
        if self.ahead_only:  # (computed for the engine, which reads it: analysis.engine.ahead)
            return frame
        frame = _enum_text(frame, enums)
        frame = _shared_strings(_restore(frame, self.shape, self.extra_types))
        frame[count] = frame[count].astype("int64")
        frame.attrs["as_of"] = self.as_of
        return frame

    def counts(self, spec: FilterSpec | None = None):
        """The cohort (filtered by ``spec``) as :class:`analysis.counts.EngineCounts`: what the outcomes report
        and the publication read, as aggregate queries (only collapsed rows leave the engine). Without a filter,
        the same object every time (its collapses are kept: a filtered cohort reads its rows off them)."""
        from analysis.counts import EngineCounts

        if spec is None or spec.is_empty:  # one per engine: its collapses are what filtered ones are read off
            if self._whole is None:   # (analysis.engine.narrow)
                self._whole = EngineCounts(self, None)
            return self._whole
        return EngineCounts(self, spec)

    def sql_types(self) -> dict[str, str]:
        """The cohort's columns and their SQL types (upper case), read once."""
        if self._sql_types is None:
            self._sql_types = self.backend.columns("cohort")
        return self._sql_types

    def count(self, spec: FilterSpec | None = None) -> int:
        """Episodes in the cohort that pass the filters (a level filter's: read off the whole cohort's count per level,
        :class:`analysis.counts.EngineCounts`, no query)."""
        if self.share and spec is not None and not spec.is_empty:
            return int(self.counts(spec).n_episodes)
        return int(self.backend.query(f"SELECT count(*) AS n FROM cohort WHERE {self.where(spec)}")["n"].iloc[0])

    def preview(self, limit: int = 20, spec: FilterSpec | None = None) -> pd.DataFrame:
        """The first ``limit`` cohort rows (in file order where the source has one)."""
        order = "ORDER BY _row" if "_row" in self.backend.columns("cohort") else ""
        frame = self.backend.query(f"SELECT * FROM cohort WHERE {self.where(spec)} {order} LIMIT {int(limit)}")
        return _restore(frame.drop(columns=[c for c in ("_row",) if c in frame.columns]), self.shape,
                        self.extra_types)

    def frame(self, columns: Sequence[str] | None = None, spec: FilterSpec | None = None, *,
              where: str | None = None) -> pd.DataFrame:
        """The cohort's rows (file order where the source has one) with only ``columns`` (default all), in
        the pandas path's dtypes and with its ``attrs`` (shape, time unit, as_of): what a statistic that
        needs rows (a propensity model, the review) is given, narrow. ``where``: an extra SQL condition
        (e.g. :meth:`group_condition`)."""
        cols = list(self.columns if columns is None else dict.fromkeys(columns))
        missing = [c for c in cols if c not in self.columns]
        if missing:
            raise EngineError(f"There is no column {', '.join(repr(m) for m in missing)} in the data.")
        order = "ORDER BY _row" if "_row" in self.backend.columns("cohort") else ""
        sql = f"SELECT {', '.join(quote(c) for c in cols)} FROM cohort WHERE {self.where(spec, where)} {order}"
        if isinstance(self.backend, DuckDBBackend):
            frame = self.backend.con.sql(sql).to_arrow_table().to_pandas()
        else:
            frame = self.backend.query(sql)
        frame = _restore(frame, self.shape, self.extra_types)
        frame.attrs.update(shape=self.shape, time_unit=self.time_unit)
        if self.as_of is not None:
            frame.attrs["as_of"] = self.as_of
        return frame

    def group_condition(self, column: str, groups: Sequence) -> str:
        """SQL condition: ``column`` holds one of ``groups``, matched as the pandas path matches a group (its
        value, or its text: :func:`analysis.comparison.population.match_group`) on the column's distinct values
        read back in the cohort's dtype; compared as the engine's own text of those values."""
        from analysis.comparison.population import match_group

        if column not in self.columns:
            raise EngineError(f"There is no column {column!r} in the data.")
        q = quote(column)
        found = self.backend.query(f"SELECT DISTINCT {q} AS {q}, CAST({q} AS VARCHAR) AS _text FROM cohort "
                                   f"WHERE {q} IS NOT NULL")
        texts = found.pop("_text")
        values = _restore(found, self.shape, self.extra_types)[column]
        hit = np.zeros(len(values), dtype=bool)
        for g in groups:
            hit |= match_group(values, g)
        chosen = sorted({str(t) for t in texts[hit]})
        return f"CAST({q} AS VARCHAR) IN ({', '.join(literal(t) for t in chosen)})" if chosen else "FALSE"

    def rule_counts(self) -> pd.DataFrame:
        """Rows flagged per validation rule and column (see :func:`analysis.engine.episodes_sql.rule_counts`)."""
        if self.episodes is None:
            return pd.DataFrame(columns=["column", "rule", "severity", "rows"])
        return rule_counts(self.backend, self.episodes)

    def problems(self, limit: int = 100) -> pd.DataFrame:
        """The first ``limit`` problems in file order (row = spreadsheet row)."""
        if self.episodes is None:
            return pd.DataFrame(columns=["row", "column", "value", "rule", "severity"])
        return problem_rows(self.backend, self.episodes, limit)

    def validation_report(self, max_problems: int = 100_000):
        """The :class:`analysis.validation.ValidationReport` of the source, from the engine."""
        if self.episodes is None:
            raise EngineError("This engine holds a derived cohort, not a checked file.")
        return validation_report(self.backend, self.episodes, max_problems=max_problems)

    # ------------------------------------------------------------------ inputs of the analyses
    def due_days_expression(self, origin: str, horizons: Sequence[int]) -> str | None:
        """SQL of :func:`analysis.relapse.due_days` floored to ``horizons`` (None for duration files)."""
        col = f"{origin}_date"
        if self.shape != "dates" or self.as_of is None or col not in self.columns:
            return None
        days = f"date_diff('day', {quote(col)}, DATE '{self.as_of.date().isoformat()}')"
        steps = " ".join(f"WHEN {days} >= {h!r} THEN {h!r}" for h in sorted({float(h) for h in horizons})[::-1])
        return f"CASE WHEN {quote(col)} IS NULL THEN NULL {steps} ELSE 0.0 END"

    def relapse_counts(self, by: str, origin: str, horizons: Sequence[int],
                       spec: FilterSpec | None = None) -> pd.DataFrame:
        """Collapsed input of :func:`analysis.relapse.relapse_rates` (``count_col="n"``, ``due_days_col="due"``)."""
        time_col, event_col = f"time_{origin}_days", f"event_{origin}"
        exprs = {by: quote(by), time_col: quote(time_col), event_col: quote(event_col)}
        due = self.due_days_expression(origin, horizons)
        if due is not None:
            exprs["due"] = due
        return self.collapse(exprs, spec)

    def transitions(self, window_days: float = 30, spec: FilterSpec | None = None,
                    where: str | None = None) -> pd.DataFrame:
        """Counted (level, next level within the window, discharged) rows for
        :func:`analysis.retention.step_downs_from_transitions`."""
        need = {"client_id", "admission_date", "discharge_date", "level_of_care"}
        if not need <= set(self.columns):
            raise EngineError("Step-downs need client_id, admission and discharge dates and level_of_care.")
        # ties (two admissions of a client on one day) in file order; a warehouse table has none: by episode id
        if "_row" in self.backend.columns("cohort"):
            order = "admission_date, _row"
        else:
            order = "admission_date, episode_id" if "episode_id" in self.columns else "admission_date"
        w = f"(PARTITION BY client_id ORDER BY {order})"
        # the levels as their ENUM codes through the window (a byte a row, not a string) where nothing else names one
        enums = ("level_of_care" in self._labels and (spec is None or spec.is_empty)
                 and not any(c in (where or "") for c in self._labels))
        source = "cohort_labels" if enums else "cohort"
        rows = f"{source} WHERE client_id IS NOT NULL AND {self.where(spec, where)}"
        if order == "admission_date, _row" and isinstance(self.backend, DuckDBBackend):
            # the file-order tie-break as 4 bytes, not 8, through the window's sort (10M episodes: 0.5 -> 0.37 GB
            # for the query; a file of more than 4,294,967,295 rows would fail to convert, not misorder)
            rows = (f"(SELECT client_id, admission_date, discharge_date, level_of_care, in_treatment, "
                    f"CAST(_row AS UINTEGER) AS _row FROM {rows}) AS c")
        inner = (f"SELECT level_of_care, NOT in_treatment AS discharged, CASE WHEN NOT in_treatment AND "
                 f"date_diff('day', discharge_date, lead(admission_date) OVER {w}) BETWEEN 0 AND {float(window_days)} "
                 f"THEN lead(level_of_care) OVER {w} END AS next_level FROM {rows}")
        counted = f"SELECT level_of_care, next_level, discharged, count(*) AS n FROM ({inner}) AS t GROUP BY 1, 2, 3"
        if enums:  # read as text, ordered as text
            counted = ("SELECT CAST(level_of_care AS VARCHAR) AS level_of_care, CAST(next_level AS VARCHAR) AS "
                       f"next_level, discharged, n FROM ({counted}) AS g")
        frame = self.backend.query(f"{counted} ORDER BY 1, 2, 3")
        frame["n"] = frame["n"].astype("int64")
        return frame
