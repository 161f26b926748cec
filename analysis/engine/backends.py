"""Where the SQL runs: an in-memory DuckDB (every file) or a PostgreSQL server (a warehouse table).

SQL is written once, in DuckDB's dialect, and run on PostgreSQL through SQLGlot's transpiler
(:func:`to_dialect`, cached per statement). Chosen over Ibis by measurement (1M episodes, this
machine): the engines do the same work either way (collapse query 0.3-0.5 s through both), SQLGlot
transpiles a statement in 2.8 ms against Ibis's 10 ms to build and compile the same expression, imports
in 0.2 s against 0.35 s, is already a dependency (Ibis itself depends on it, plus six more packages),
and keeps the SQL readable beside the pandas code it must equal.

DuckDB privacy settings (:func:`connect_duckdb`): in-memory database, no temporary directory and a
zero temporary-size limit, so a query that does not fit in memory fails with "Out of Memory" instead
of spilling uploaded rows to disk; extensions are never installed or loaded automatically (none may
be downloaded at run time), and the configuration is locked once set.
"""
from __future__ import annotations

import os
from functools import lru_cache

import duckdb
import pandas as pd

__all__ = ["Backend", "DuckDBBackend", "PostgresBackend", "connect_duckdb", "to_dialect", "quote", "quote_table",
           "table_parts", "literal", "DEFAULT_MEMORY_LIMIT"]

#: DuckDB's memory limit when none is given: 60% of the machine's memory (DuckDB's default is 80%).
DEFAULT_MEMORY_LIMIT: str = f"{int(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') * 0.6 / 2**20)}MB"


@lru_cache(maxsize=512)
def to_dialect(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB dialect) in ``dialect`` ("duckdb" returns it unchanged)."""
    if dialect == "duckdb":
        return sql
    import sqlglot  # (imported when a warehouse is used: 0.06 s of every command otherwise)

    return ";\n".join(sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE))


def literal(text: object) -> str:
    """A SQL string literal (quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def quote(name: str) -> str:
    """One SQL identifier (a column, alias or table name), quoted: never split, so a column named ``flc.grp``
    (R's exports), or with quotes, spaces or any other character, is that one column. A table name a user
    gives (``--table schema.table``) goes through :func:`quote_table`."""
    return '"' + str(name).replace('"', '""') + '"'


def table_parts(name: str) -> list[str]:
    """The parts of a table name a user gives: ``schema.table`` (or ``db.schema.table``) split on its dots, a part
    in double quotes taken as written (``"my.schema"."t"``, ``""`` for a quote inside it); read by SQLGlot's
    parser (DuckDB's and PostgreSQL's identifier rules).

    Raises
    ------
    ValueError
        An empty name or part, an unclosed quote, or anything else than a table name.
    """
    import sqlglot
    from sqlglot import exp

    text = str(name).strip()
    problem = ValueError(f"{text!r} is not a table name (schema.table, with double quotes around a part that has "
                         "dots or spaces).")
    if not text or text.startswith(".") or text.endswith(".") or (".." in text and '"' not in text):
        raise problem  # (the parser would read ".a" and "a..b" as a and a.b)
    try:
        table = sqlglot.parse_one(text, into=exp.Table, dialect="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        raise problem from None
    parts = [p.name for p in table.parts]
    if table.alias or not parts or any(not p.strip() for p in parts):
        raise problem
    return parts


def quote_table(name: str) -> str:
    """A table name a user gives (``--table``) as a qualified SQL name: ``schema.table`` keeps its dot
    (:func:`table_parts`); every part one quoted identifier (:func:`quote`)."""
    return ".".join(quote(part) for part in table_parts(name))


def connect_duckdb(*, memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that never writes uploaded data to disk (module docstring)."""
    config = {
        "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT,
        "temp_directory": "",
        "max_temp_directory_size": "0KB",
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
    }
    if threads:
        config["threads"] = int(threads)
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = true")  # tracked for analysis.engine.progress's hooks ...
    con.execute("SET enable_progress_bar_print = false")  # ... never printed on stdout
    con.execute("SET lock_configuration = true")
    return con


class Backend:
    """Runs SQL written in DuckDB's dialect and returns pandas frames (small ones: aggregates)."""

    dialect: str = "duckdb"

    def query(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Make a small pandas frame (a lookup table) queryable as ``name`` for this session."""
        raise NotImplementedError

    def columns(self, relation: str) -> dict[str, str]:
        """Column name -> SQL type name (upper case) of a relation."""
        frame = self.query(f"SELECT * FROM {relation} LIMIT 0")
        return dict(frame.attrs.get("sql_types", {})) or {c: "VARCHAR" for c in frame.columns}

    def close(self) -> None:
        pass


class DuckDBBackend(Backend):
    """An in-process DuckDB (see :func:`connect_duckdb`)."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, **settings) -> None:
        self.con = con if con is not None else connect_duckdb(**settings)
        self.ahead = None  # results computed ahead in a thread (analysis.engine.ahead), or None

    def query(self, sql: str) -> pd.DataFrame:
        if self.ahead is not None:
            frame = self.ahead.claim(sql)
            if frame is not None:
                return frame
        return self.con.execute(sql).df()

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def columns(self, relation: str) -> dict[str, str]:
        rows = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        return {r[0]: str(r[1]).upper() for r in rows}

    def forget_ahead(self) -> None:
        """Stop the queries computed ahead and drop their results (:mod:`analysis.engine.ahead`)."""
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            ahead.stop()

    def close(self) -> None:
        self.forget_ahead()
        pending = getattr(self, "pending", None)  # (a source's text cleaning still running in a thread)
        if pending is not None:
            self.pending = None
            pending.wait(quiet=True)
        self.con.close()


_PG_TYPES = {16: "BOOLEAN", 20: "BIGINT", 21: "SMALLINT", 23: "INTEGER", 700: "REAL", 701: "DOUBLE",
             1700: "DECIMAL", 1082: "DATE", 1114: "TIMESTAMP", 1184: "TIMESTAMPTZ", 25: "VARCHAR",
             1043: "VARCHAR", 1042: "VARCHAR"}


class PostgresBackend(Backend):
    """A PostgreSQL server reached with psycopg; statements are transpiled from DuckDB's dialect.

    Only the results of the engine's queries (aggregates, a preview, problem rows) come back.
    """

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self.con = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"Cannot connect to the PostgreSQL database ({first}).") from None

    def _run(self, sql: str):
        cur = self.con.cursor()
        cur.execute(to_dialect(sql, self.dialect))
        return cur

    def query(self, sql: str) -> pd.DataFrame:
        cur = self._run(sql)
        names = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
        types = {d.name: _PG_TYPES.get(d.type_code, "VARCHAR") for d in cur.description}
        for name, sql_type in types.items():  # as DuckDB's ``.df()`` gives them (psycopg: date, Decimal objects)
            if sql_type in ("DATE", "TIMESTAMP"):
                frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
            elif sql_type == "DECIMAL":
                frame[name] = pd.to_numeric(frame[name]).astype("float64")
        frame.attrs["sql_types"] = types
        return frame

    def execute(self, sql: str) -> None:
        self._run(sql).close()

    def register_frame(self, name: str, frame: pd.DataFrame) -> None:
        types = {"b": "BOOLEAN", "i": "BIGINT", "u": "BIGINT", "f": "DOUBLE PRECISION", "M": "DATE"}
        cols = ", ".join(f"{quote(c)} {types.get(frame[c].dtype.kind, 'TEXT')}" for c in frame.columns)
        with self.con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {quote(name)}")
            cur.execute(f"CREATE TEMPORARY TABLE {quote(name)} ({cols})")
            names = ", ".join(quote(c) for c in frame.columns)
            with cur.copy(f"COPY {quote(name)} ({names}) FROM STDIN") as copy:
                rows = frame.astype(object).where(frame.notna(), None)
                for c in frame.columns:
                    if frame[c].dtype.kind == "M":
                        rows[c] = [None if v is None else v.date() for v in rows[c]]
                for row in rows.itertuples(index=False):
                    copy.write_row(row)

    def columns(self, relation: str) -> dict[str, str]:
        return self.query(f"SELECT * FROM {relation} LIMIT 0").attrs["sql_types"]

    def close(self) -> None:
        if not self.con.closed:
            try:  # drop this session's temporary views and lookups now, not when the server gets round to it
                self.con.execute("DISCARD TEMP")
            except Exception:
                pass
            self.con.close()
