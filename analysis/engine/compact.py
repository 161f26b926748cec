"""The checked episodes materialised narrow in DuckDB: the table ``episodes_table`` and the view ``episodes``.

DuckDB's in-memory tables are not compressed: a ``BOOLEAN`` takes a byte per row and a ``VARCHAR`` sixteen
(10M synthetic episodes: 65 columns, 2.5 GB, most of the peak memory of ``outcomes``). So the table stores

* the rule flags packed, 64 to a ``UBIGINT`` column (``_flags_0``, ...); ``_excluded`` stays a column;
* text columns of few distinct values (labels: level of care, discharge reason, sex, payer, ...) as
  ``ENUM`` (one byte a row for up to 255 values), their values those of the source column (or the
  codes a label can be read as);

and the view ``episodes`` gives back every column with its name and type (flags as booleans, labels as
``VARCHAR``), so every query reads what it read before. A value outside its ``ENUM`` makes the cast fail
(never a silent ``NULL``): the table is then made as it is, wide. Files of more than :data:`MAX_COLUMNS`
columns are materialised wide too (thousands of flags are slow to plan twice).
"""
from __future__ import annotations

from collections.abc import Callable

import duckdb

from analysis.engine.backends import DuckDBBackend, literal, quote
from analysis.engine.episodes_sql import EpisodesSQL
from analysis.engine.sources import distinct_values, has_many_values
from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE

__all__ = ["materialise", "MAX_COLUMNS", "MAX_LABELS"]

#: Wider sources (columns) are materialised as they are.
MAX_COLUMNS = 200
#: Text columns with more distinct values (approximately) stay ``VARCHAR``.
MAX_LABELS = 1000
_TEXT = ("VARCHAR", "TEXT", "STRING")
_CODES = {"level_of_care": LEVELS_OF_CARE, "discharge_reason": DISCHARGE_REASONS}


def _labels(backend: DuckDBBackend, built: EpisodesSQL, types: dict[str, str],
            source_types: dict[str, str]) -> dict[str, list[str]]:
    """Column -> the values it can hold, for the text columns of at most :data:`MAX_LABELS` of them."""
    out: dict[str, list[str]] = {}
    read: dict[str, str] = {}  # column -> its source column, read as is
    sources = built.sources or {}
    for col in built.columns:
        if not types.get(col, "").startswith(_TEXT):
            continue
        if col in _CODES:
            out[col] = list(_CODES[col])
        elif col in sources and str(source_types.get(sources[col], "")).upper().startswith(_TEXT):
            read[col] = sources[col]
    for col, src in list(read.items()):  # what was learnt of the source's text when it was opened
        if has_many_values(backend, src):  # (more than MAX_LABELS distinct values in its first rows)
            del read[col]
            continue
        values = distinct_values(backend, src)
        if values is not None:
            del read[col]
            if len(values) <= MAX_LABELS:
                out[col] = values.tolist()
    if not read:
        return out
    approx = backend.con.execute("SELECT " + ", ".join(f"approx_count_distinct({quote(s)})" for s in read.values())
                                 + " FROM source_rows").fetchone()
    for (col, src), n in zip(read.items(), approx, strict=True):
        if n <= MAX_LABELS:
            rows = backend.con.execute(f"SELECT DISTINCT {quote(src)} FROM source_rows "
                                       f"WHERE {quote(src)} IS NOT NULL").fetchall()
            if len(rows) <= MAX_LABELS:
                out[col] = [r[0] for r in rows]
    return out


def _plan(backend: DuckDBBackend, built: EpisodesSQL,
          source_types: dict[str, str]) -> tuple[str, str, str, set[str]] | None:
    """(the ``SELECT`` list of the narrow table over ``episodes``, that of the view giving ``episodes`` back,
    that of the same view with the labels left as ``ENUM``, the columns stored as ``ENUM``)."""
    if len(source_types) > MAX_COLUMNS:
        return None
    types = backend.columns("episodes")
    flags = [f.flag for f in built.flags if f.flag in types]
    # each ENUM's values in text order (code point order, which is UTF-8's byte order and DuckDB's for text), so that
    # ordering by its codes is ordering by the text (Engine.collapse sorts codes, not strings)
    labels = {c: sorted(v) for c, v in _labels(backend, built, types, source_types).items() if v}
    stored, view, enums = [], [], []
    for col in types:
        if col in flags:
            word, bit = divmod(flags.index(col), 64)
            view.append(f"(({quote(f'_flags_{word}')} & CAST({1 << bit} AS UBIGINT)) <> 0) AS {quote(col)}")
            enums.append(view[-1])
        elif col in labels:
            stored.append(f"CAST({quote(col)} AS ENUM({', '.join(literal(v) for v in labels[col])})) AS {quote(col)}")
            view.append(f"CAST({quote(col)} AS VARCHAR) AS {quote(col)}")
            enums.append(quote(col))
        else:
            stored.append(quote(col))
            view.append(quote(col))
            enums.append(quote(col))
    for word in range(0, len(flags), 64):
        bits = " | ".join(f"(CASE WHEN {quote(f)} THEN CAST({1 << k} AS UBIGINT) ELSE CAST(0 AS UBIGINT) END)"
                          for k, f in enumerate(flags[word:word + 64]))
        stored.append(f"({bits}) AS {quote(f'_flags_{word // 64}')}")
    return ", ".join(stored), ", ".join(view), ", ".join(enums), set(labels)


def materialise(backend: DuckDBBackend, built: EpisodesSQL, source_types: dict[str, str],
                run: Callable[[Callable[[], object]], object]) -> tuple[str, set[str]]:
    """Create ``episodes_table`` from ``episodes`` (narrow where it can: module docstring); when narrow, make
    ``episodes`` the view over it. ``run`` runs the (long) statement it is given, with progress reports.

    Returns the relation the cohort reads (``episodes``; ``episodes_table`` when wide) and the columns stored
    as ``ENUM`` (none when the table is wide); the view ``episodes_labels`` is then
    ``episodes`` with those columns as ``ENUM`` (what :meth:`analysis.engine.Engine.collapse` groups by: a
    byte, not a string, per row)."""
    plan = _plan(backend, built, source_types)
    done = False
    if plan is not None:
        try:
            run(lambda: backend.execute(f"CREATE OR REPLACE TABLE episodes_table AS SELECT {plan[0]} FROM episodes"))
            done = True
        except duckdb.ConversionException:  # a value outside its ENUM: the table as it is
            pass
    if not done:  # the caller reads the table itself and makes ``episodes`` a view over it
        run(lambda: backend.execute("CREATE OR REPLACE TABLE episodes_table AS SELECT * FROM episodes"))
        return "episodes_table", set()
    backend.execute(f"CREATE OR REPLACE VIEW episodes AS SELECT {plan[1]} FROM episodes_table")
    if plan[3]:
        backend.execute(f"CREATE OR REPLACE VIEW episodes_labels AS SELECT {plan[2]} FROM episodes_table")
    return "episodes", plan[3]
