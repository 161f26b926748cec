"""Validation as SQL: the relation ``episodes`` (typed canonical columns and one flag per rule) from ``source_rows``.

``episodes_view`` also carries each mapped column as read (``_raw__<column>``) for the problem rows;
``episodes`` is the same without them (what the engine materialises).

Phase-1 draft of :func:`analysis.validation.validate_episodes` in SQL, with today's rules and
dtypes (to be ported to the column roles and types of issue #8). The same Python functions decide
what a value means: text that must be parsed (dates, numbers, yes/no, level-of-care and
discharge-reason labels) is parsed once per *distinct* value (``SELECT DISTINCT``, a few thousand
values even for millions of rows) by the functions validation uses, and the answers go back into
the engine as a lookup table joined to the rows; typed columns (Parquet and warehouse dates and
numbers) are cast in SQL. So a label or a date means the same thing on every path.

Known differences to the pandas path, kept for phase 2: when a date column mixes formats, the
format order is ranked on distinct values rather than on a sample of rows; a warehouse table has
no row order, so duplicate episode ids keep an arbitrary first row there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.engine.backends import Backend, literal, quote
from analysis.parsing import (
    as_text,
    dates_out_of_range,
    decide_date_order,
    parse_booleans,
    parse_dates,
    parse_numbers,
)
from analysis.schema import (
    FIELD_BY_NAME,
    level_label_issue,
    normalize_discharge_reason,
    normalize_level_of_care,
    reason_label_issue,
)
from analysis.validation import MAX_PRIOR_TREATMENTS, RULES, TIME_UNITS

__all__ = ["EpisodesSQL", "build_episodes", "RuleFlag", "rule_counts", "problem_rows", "validation_report"]

_DATE_COLUMNS = ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
_AFTER_ADMISSION = {"discharge_date": "discharge_before_admission", "relapse_date": "relapse_before_admission",
                    "last_contact_date": "last_contact_before_admission", "death_date": "death_before_admission"}
_NUMBER_COVARIATES = ("age", "prior_treatments", "hours_attended", "hours_scheduled")
_TEXT_COLUMNS = ("episode_id", "client_id", "sex", "race_ethnicity", "primary_substance", "payer", "site")
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING", "CHAR")
_DATE_TYPES = ("DATE", "TIMESTAMP")
_NUMERIC_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT",
                  "UTINYINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")


@dataclass(frozen=True)
class RuleFlag:
    """One rule on one column: the boolean flag column of ``episodes`` that marks its rows."""

    flag: str
    rule: str
    column: str
    message: str | None = None  # SQL of a per-row sentence, when the rule's description is not the whole story

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity


@dataclass(frozen=True)
class EpisodesSQL:
    """The ``episodes`` relation: its shape, canonical and extra columns, rule flags, or a fatal sentence."""

    shape: str | None
    columns: tuple[str, ...]
    flags: tuple[RuleFlag, ...]
    notes: tuple[str, ...] = ()
    fatal: str | None = None
    today: pd.Timestamp | None = None
    extra_types: dict | None = None  # type of each extra (unmapped) column: numeric, binary, date, ...
    sources: dict | None = None  # column -> the source column it is read from
    time_unit: str = "days"  # the unit the durations were read in (the report says it)


#: The days a date can be on the pandas path (its nanosecond range): typed dates outside are date_out_of_range.
_FIRST_DAY, _LAST_DAY = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")

#: In a file of more than :data:`_WIDE` columns, lookups of at most :data:`_INLINE` distinct text values are
#: written inline as a ``CASE`` (thousands of joins are slow to plan); in a narrower file every lookup is a
#: join, a hash probe per row (1M episodes: 1.7 s of CPU to check against 2.5 s with ``CASE`` chains, whose
#: text is repeated in each rule that reads the value).
_INLINE, _WIDE = 64, 64


def _answer_type(answers: np.ndarray) -> str:
    dtype = getattr(answers, "dtype", None)
    if dtype is not None and dtype.kind == "M":
        return "DATE"
    if dtype is not None and (dtype.kind == "b" or str(dtype) == "boolean"):
        return "BOOLEAN"
    if dtype is not None and dtype.kind in "fiu":
        return "DOUBLE"
    for a in answers:
        if a is None or a is pd.NA or a is pd.NaT or (isinstance(a, float) and np.isnan(a)):
            continue
        if isinstance(a, (bool, np.bool_)):
            return "BOOLEAN"
        if isinstance(a, (int, float, np.integer, np.floating)):
            return "DOUBLE"
        if isinstance(a, (pd.Timestamp, np.datetime64)):
            return "DATE"
        return "VARCHAR"
    return "VARCHAR"


def _sql_value(a: object, dialect: str) -> str:
    if a is None or a is pd.NA or a is pd.NaT or (isinstance(a, (float, np.floating)) and np.isnan(a)):
        return "NULL"
    if isinstance(a, np.datetime64):
        if np.isnat(a):
            return "NULL"
        a = pd.Timestamp(a)
    if isinstance(a, (bool, np.bool_)):
        return "TRUE" if a else "FALSE"
    if isinstance(a, (int, float, np.integer, np.floating)):
        value = float(a)
        if np.isinf(value):
            double = "DOUBLE PRECISION" if dialect == "postgres" else "DOUBLE"
            return f"CAST('{'-' if value < 0 else ''}Infinity' AS {double})"
        return repr(value)
    if isinstance(a, pd.Timestamp):
        return f"DATE '{a.date().isoformat()}'"
    return literal(a)


def _is(sql_type: str, kinds: tuple[str, ...]) -> bool:
    return str(sql_type).upper().startswith(kinds)


class _Builder:
    def __init__(self, backend: Backend, types: dict[str, str], mapping: dict[str, str], today: pd.Timestamp,
                 date_order: str | None = None) -> None:
        self.backend = backend
        self.date_order_stated = date_order  # "dmy"/"mdy" as the user stated it, or None: told from the values
        self._date_order = None  # the order decided (analysis.parsing.DateOrder), once asked for
        self.types = types
        self.src = {canonical: source for canonical, source in mapping.items() if source in types}
        self.today = today
        self.joins: list[str] = []
        self.select: dict[str, str] = {}  # output column -> expression
        self.flags: list[RuleFlag] = []
        self.extra_types: dict[str, str] = {}
        self.distinct: dict[str, pd.Series] = {}  # prefetched distinct values of source columns
        self.lookups: dict[str, tuple[str, str]] = {}  # alias of a joined lookup -> (its text column, its table)

    def raw(self, canonical: str) -> str:
        return f"s.{quote(self.src[canonical])}"

    def sql_type(self, canonical: str) -> str:
        return self.types[self.src[canonical]]

    def flag(self, rule: str, column: str, condition: str, message: str | None = None) -> None:
        if condition == "FALSE":  # no value can break the rule (an inline lookup's answers): nothing to count
            return
        name = f"_{'e' if RULES[rule].severity == 'error' else 'w'}__{rule}__{column}"
        self.select[name] = f"COALESCE({condition}, FALSE)"
        self.flags.append(RuleFlag(name, rule, column, message))

    def distinct_of(self, source: str, *, keep: bool) -> pd.Series:
        """The distinct non-null values of a source column: prefetched, else found when the source was opened
        (DuckDB), else queried; ``keep``: held for the next caller (else taken, as a lookup takes them)."""
        values = self.distinct.get(source) if keep else self.distinct.pop(source, None)
        if values is None and self.backend.dialect == "duckdb":
            from analysis.engine.sources import distinct_values

            values = distinct_values(self.backend, source)  # found when the source was opened
        if values is None:
            values = self.backend.query(f"SELECT DISTINCT {quote(source)} AS v FROM source_rows "
                                        f"WHERE {quote(source)} IS NOT NULL")["v"]
        values = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
        if keep:
            self.distinct[source] = values
        return values

    def lookup(self, canonical: str, parse) -> dict[str, str]:
        """Join a lookup of the column's distinct values -> ``parse(values)`` (a dict of arrays, ``x`` the
        value); returns the SQL expression of each answer. A text column with few distinct values gets its
        answers inline (``CASE value WHEN ...``), not a join: a wide file has thousands of such columns."""
        raw = self.raw(canonical)
        values = self.distinct_of(self.src[canonical], keep=False)
        parsed = parse(values.reset_index(drop=True))
        if (len(values) <= _INLINE and len(self.types) > _WIDE and _is(self.sql_type(canonical), _TEXT_TYPES)
                and all(isinstance(v, str) for v in values)):
            keys = [literal(v) for v in values]
            out = {}
            for name, answers in parsed.items():
                answers = np.asarray(answers, dtype=object) if not isinstance(answers, np.ndarray) else answers
                sql_type = _answer_type(answers)
                if sql_type == "BOOLEAN" and not any(a is True or a is np.True_ for a in answers):
                    out[name] = "FALSE"  # a flag no value raises (most of a wide file's rules)
                    continue
                if not len(keys):
                    out[name] = f"CAST(NULL AS {sql_type})"
                    continue
                cases = " ".join(f"WHEN {k} THEN {_sql_value(a, self.backend.dialect)}"
                                 for k, a in zip(keys, answers, strict=True))
                out[name] = f"CAST((CASE {raw} {cases} END) AS {sql_type})"
            return out
        table = f"_lookup_{len(self.joins)}"
        # the key keeps a number's or a flag's own type: PostgreSQL has no integer = text (a warehouse's INTEGER
        # relapse flag failed the join); text and mixed values stay Python objects
        key = values.to_numpy() if values.dtype.kind in "biuf" else values.to_numpy(dtype=object)
        self.backend.register_frame(table, pd.DataFrame({"v": key, **parsed}))
        alias = f"lk_{len(self.joins)}"
        self.joins.append(f"LEFT JOIN {table} AS {alias} ON {raw} = {alias}.v")
        if _is(self.sql_type(canonical), _TEXT_TYPES):
            self.lookups[alias] = (raw, table)
        return {k: f"{alias}.{k}" for k in parsed}

    def prefetch_distinct(self, columns: list[str]) -> None:
        """The distinct values of many text columns at once, for a wide file of few rows (DuckDB): its cells
        fetched as Arrow and made unique there (a ``DISTINCT`` aggregate per column costs 10 ms each)."""
        import pyarrow.compute as pc

        columns = [c for c in columns if _is(self.types[c], _TEXT_TYPES)]
        if self.backend.dialect != "duckdb" or len(columns) < 50:
            return
        n = int(self.backend.query("SELECT count(*) AS n FROM source_rows")["n"].iloc[0])
        if n * len(columns) > 20_000_000:
            return
        for start in range(0, len(columns), 1000):
            chunk = columns[start:start + 1000]
            listed = ", ".join(quote(c) for c in chunk)
            table = self.backend.con.sql(f"SELECT {listed} FROM source_rows").to_arrow_table()
            for i, c in enumerate(chunk):
                self.distinct[c] = pd.Series(pc.unique(table.column(i).drop_null()).to_pylist(), dtype=object)

    # typed values ------------------------------------------------------------------------
    def date(self, canonical: str) -> str:
        """The column as dates; dates outside :data:`analysis.parsing.DATE_RANGE` NULL (see :meth:`date_outside`)."""
        return self.dates(canonical)[0]

    def date_order(self) -> str | None:
        """The file's one day/month order, told from the distinct values of every text date column together
        (:func:`analysis.parsing.decide_date_order`, as validation tells it), or as the user stated it
        (``date_order`` of :func:`build_episodes`)."""
        decided = self._date_order
        if decided is None:
            columns = {}
            for col in _DATE_COLUMNS:
                if col not in self.src or not _is(self.sql_type(col), _TEXT_TYPES):
                    continue
                columns[col] = self.distinct_of(self.src[col], keep=True)  # (kept: the lookup reads them)
            decided = decide_date_order(columns, self.date_order_stated)
            self._date_order = decided
        return decided.order

    def dates(self, canonical: str) -> tuple[str, str]:
        """(the column as dates with those outside pandas' range NULL, the condition of being outside it)."""
        if _is(self.sql_type(canonical), _DATE_TYPES):
            value = f"CAST({self.raw(canonical)} AS DATE)"
            outside = (f"({value} < DATE '{_FIRST_DAY.date().isoformat()}' OR "
                       f"{value} > DATE '{_LAST_DAY.date().isoformat()}')")
            return f"CASE WHEN {outside} THEN NULL ELSE {value} END", outside
        clean = _is(self.sql_type(canonical), _TEXT_TYPES)
        order = self.date_order()

        def parse(v: pd.Series) -> dict:
            parsed, bad = parse_dates(v, clean=clean, order=order)
            return {"x": parsed.to_numpy(), "out": dates_out_of_range(v, bad)}

        lk = self.lookup(canonical, parse)
        return f"CAST({lk['x']} AS DATE)", lk["out"]

    def number(self, canonical: str, rule: str) -> str:
        """The column as numbers, flagging unread values under ``rule`` and thousands separators."""
        if _is(self.sql_type(canonical), _NUMERIC_TYPES):
            return f"CAST({self.raw(canonical)} AS DOUBLE)"

        def parse(v: pd.Series) -> dict:
            got = parse_numbers(v.astype(object), clean=True)
            return {"x": got.values.to_numpy(), "bad": got.bad, "grouped": got.grouped,
                    "msg": got.message(v.index).where(got.bad, None).to_numpy(dtype=object)}

        lk = self.lookup(canonical, parse)
        self.flag(rule, canonical, lk["bad"], message=lk["msg"])
        self.flag("thousands_separator", canonical, lk["grouped"])
        return lk["x"]

    def infinite(self, value: str) -> str:
        double = "DOUBLE PRECISION" if self.backend.dialect == "postgres" else "DOUBLE"
        return f"(abs({value}) = CAST('Infinity' AS {double}))"

    def boolean(self, canonical: str, event_value: object = None) -> str:
        if event_value is None and _is(self.sql_type(canonical), ("BOOLEAN",)):
            return self.raw(canonical)
        return self.lookup(canonical, lambda v: {'x': parse_booleans(v, event_value)[0].array})["x"]

    def label(self, canonical: str, normalize, issue=None, rule: str | None = None) -> str:
        """The column's labels placed by ``normalize`` once invisible characters are removed (as validation);
        flags ``unusual_characters`` where a label was placed despite them."""
        from analysis.validation import _odd_characters, _visible, _why_unplaced

        def parse(v: pd.Series) -> dict:
            text = as_text(v)
            codes = _visible(text).map(normalize)
            odd = text.map(_odd_characters)
            unusual = (odd.notna() & codes.notna()).to_numpy()
            msg = ("The label holds " + odd.fillna("") + "; read as '" + codes.fillna("").astype(str) + "'.")
            out = {"x": codes.to_numpy(dtype=object), "odd": unusual,
                   "oddmsg": msg.where(unusual, None).to_numpy(dtype=object)}
            if issue is not None:  # why a label is not placed (negation, look-alike letters), as validation
                unknown = (text.notna() & codes.isna()).to_numpy()
                why = _why_unplaced(text, unknown, issue, RULES[rule].description)
                out["why"] = (np.full(len(text), None, dtype=object) if why is None
                              else why.where(unknown, None).to_numpy(dtype=object))
            return out

        lk = self.lookup(canonical, parse)
        self._unusual = (lk["odd"], lk["oddmsg"])
        self._why = lk.get("why")
        return lk["x"]

    def flag_unusual(self, canonical: str) -> None:
        odd, message = self._unusual
        self.flag("unusual_characters", canonical, odd, message=message)

    def text(self, canonical: str) -> str:
        raw = self.raw(canonical)
        if _is(self.sql_type(canonical), _TEXT_TYPES):
            return raw
        return self.lookup(canonical, lambda v: {'x': as_text(v).to_numpy(dtype=object)})["x"]

    def sample(self, column: str) -> pd.Series:
        """The column's values at evenly spread rows, as :func:`analysis.columns.infer_type` samples them."""
        from analysis.columns import _SAMPLE

        q = quote(column)
        if getattr(self, "_sample_rows", None) is None:  # one query for every extra column (wide files)
            n = int(self.backend.query("SELECT count(*) AS n FROM source_rows")["n"].iloc[0])
            step = max(1, n // (4 * _SAMPLE))
            cols = [c for c in self.types if c not in set(self.src.values()) or c == column]
            listed = ", ".join(quote(c) for c in dict.fromkeys(cols))
            if "_row" in self.backend.columns("source_rows"):
                self._sample_rows = self.backend.query(f"SELECT {listed} FROM source_rows WHERE _row % {step} = 0 "
                                                       "ORDER BY _row")
            else:
                self._sample_rows = self.backend.query(f"SELECT {listed} FROM source_rows LIMIT {4 * _SAMPLE * 4}")
        values = self._sample_rows[column] if column in self._sample_rows.columns else None
        if values is None:
            values = self.backend.query(f"SELECT {q} AS v FROM source_rows")["v"].iloc[:0]
        values = values.rename("v")
        if values.notna().any():
            return values
        return self.backend.query(f"SELECT {q} AS v FROM source_rows WHERE {q} IS NOT NULL")["v"]


def build_episodes(backend: Backend, source_columns: dict[str, str], mapping: dict[str, str], *,
                   by: str = "level_of_care", today: object = None, has_row_numbers: bool = True,
                   time_unit: str = "days", event_value: object = None,
                   column_types: dict[str, str] | None = None, date_order: str | None = None) -> EpisodesSQL:
    """Create the view ``episodes`` over ``source_rows`` (module docstring); returns what it holds.

    ``time_unit``, ``event_value`` and ``column_types`` as :func:`analysis.validation.validate_episodes`.
    """
    if time_unit not in TIME_UNITS:
        return EpisodesSQL(None, (), (), fatal=f"Unknown time unit {time_unit!r}; use one of {', '.join(TIME_UNITS)}.")
    b = _Builder(backend, source_columns, mapping,
                 pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize(), date_order)
    for col in source_columns:  # an unmapped column named as a field that nothing else maps is that field,
        if col in FIELD_BY_NAME and col not in b.src and col not in set(b.src.values()):  # as apply_mapping
            b.src[col] = col
    cols = set(b.src)
    if "admission_date" in cols:
        shape = "dates"
    elif cols & {"los_days", "days_to_relapse", "relapsed"}:
        shape = "durations"
    else:
        return EpisodesSQL(None, (), (), fatal="A required column is missing: the file needs admission_date "
                           "(with discharge, relapse and last-contact dates), or the durations days_to_relapse "
                           "and relapsed. Map one of your columns to them.")
    if shape == "durations" and ("days_to_relapse" in cols) != ("relapsed" in cols):
        have, lack = ("days_to_relapse", "relapsed") if "days_to_relapse" in cols else ("relapsed", "days_to_relapse")
        return EpisodesSQL(None, (), (), fatal=f"A required column is missing: the file has {have} but no {lack}; "
                           "map the column that holds it.")
    extra = [c for c in source_columns if c not in set(b.src.values())]
    if by == "level_of_care" and "level_of_care" not in cols:
        return EpisodesSQL(None, (), (), fatal="A required column is missing: level_of_care. Map the column that "
                           "holds the level of care, or choose another grouping column (a study arm, a site).")
    if by not in cols and by not in extra:
        return EpisodesSQL(None, (), (), fatal=f"The grouping column '{by}' is not in the file.")
    notes: list[str] = []
    sel = b.select
    duplicates = None
    if "episode_id" in cols and has_row_numbers and backend.dialect == "duckdb":
        # ids used more than once and their first row, found in a thread while the lookups are parsed
        duplicates = _DuplicateIds(b, _is(b.sql_type("episode_id"), _TEXT_TYPES))
    earliest, latest = "DATE '1950-01-01'", f"DATE '{b.today.date().isoformat()}'"
    for col in _DATE_COLUMNS:
        if col not in cols:
            continue
        parsed, outside = b.dates(col)
        b.flag("unparseable_date", col, f"{b.raw(col)} IS NOT NULL AND {parsed} IS NULL AND NOT ({outside})")
        b.flag("date_out_of_range", col, outside)
        b.flag("implausible_date", col, f"{parsed} < {earliest}")
        b.flag("future_date", col, f"{parsed} > {latest}")
        sel[col] = f"CASE WHEN {parsed} < {earliest} OR {parsed} > {latest} THEN NULL ELSE {parsed} END"
    decided = b._date_order  # the file's one day/month order (_Builder.date_order), said as validation says it
    if decided is not None and decided.note:
        notes.append(decided.note)
    if shape == "dates":
        b.flag("missing_admission_date", "admission_date", f"{b.raw('admission_date')} IS NULL")
        for col, rule in _AFTER_ADMISSION.items():
            if col in cols:
                b.flag(rule, col, f"({sel[col]}) < ({sel['admission_date']})")
        for col, note in (("discharge_date", "No discharge_date column: every episode is treated as still in "
                           "treatment, so nothing can be measured from discharge."),
                          ("relapse_date", "No relapse_date column: no relapse can be observed in this file."),
                          ("last_contact_date", "No last_contact_date column: follow-up ends at discharge for "
                           "people with no relapse.")):
            if col not in cols:
                notes.append(note)
    for col in ("los_days", "days_to_relapse"):
        if col in cols:
            value = b.number(col, "non_numeric_duration")
            infinite = b.infinite(value)
            b.flag("infinite_duration", col, infinite)  # outcomes refuses them too
            b.flag("negative_duration", col, f"{value} < 0 AND NOT {infinite}")
            sel[col] = (f"CASE WHEN {value} < 0 OR {infinite} THEN NULL "
                        f"ELSE {value} * {float(TIME_UNITS[time_unit])!r} END")
    if "relapsed" in cols:
        sel["relapsed"] = b.boolean("relapsed", event_value)
        message = None if event_value is None else literal(
            f"relapsed is neither {event_value!r} (relapse) nor the one other value of the column (censored).")
        b.flag("unparseable_relapsed", "relapsed", f"{b.raw('relapsed')} IS NOT NULL AND {sel['relapsed']} IS NULL",
               message=message)
    if shape == "durations" and "days_to_relapse" in cols:
        b.flag("missing_duration", "days_to_relapse", f"{b.raw('days_to_relapse')} IS NULL")
    if "level_of_care" in cols:
        required = by == "level_of_care"
        rule = "unknown_level_of_care" if required else "unknown_level_of_care_ignored"
        code = b.label("level_of_care", normalize_level_of_care, level_label_issue, rule)
        b.flag(rule, "level_of_care", f"{b.raw('level_of_care')} IS NOT NULL AND {code} IS NULL",
               message=f"COALESCE({b._why}, {literal(RULES[rule].description)})")
        b.flag_unusual("level_of_care")
        if required:
            b.flag("missing_level_of_care", "level_of_care", f"{b.raw('level_of_care')} IS NULL")
        sel["level_of_care"] = code
    if "discharge_reason" in cols:
        code = b.label("discharge_reason", normalize_discharge_reason, reason_label_issue, "unknown_discharge_reason")
        raw = b.raw("discharge_reason")
        b.flag("unknown_discharge_reason", "discharge_reason", f"{raw} IS NOT NULL AND {code} IS NULL",
               message=f"COALESCE({b._why}, {literal(RULES['unknown_discharge_reason'].description)})")
        b.flag_unusual("discharge_reason")
        code = f"CASE WHEN {raw} IS NOT NULL AND {code} IS NULL THEN 'other' ELSE {code} END"
        if shape == "dates":
            if "discharge_date" in cols:
                no_date = f"({code}) IS NOT NULL AND ({sel['discharge_date']}) IS NULL AND {b.raw('discharge_date')} IS NULL"
            else:
                no_date = f"({code}) IS NOT NULL"
            b.flag("reason_without_discharge_date", "discharge_reason", no_date)
            code = f"CASE WHEN {no_date} THEN NULL ELSE {code} END"
        sel["discharge_reason"] = code
    for col in ("episode_id", "client_id"):
        if col in cols:
            sel[col] = b.text(col)
    if "episode_id" in cols:
        ident = sel["episode_id"]
        if duplicates is not None:
            if duplicates.any():  # (no id used twice: no row can break the rule, nothing to join)
                b.joins.append(f"LEFT JOIN {_DUPLICATES} AS dup ON {ident} = dup.id")
                b.flag("duplicate_episode_id", "episode_id", "s._row > dup.first_row")
        elif has_row_numbers:  # ids used more than once and their first row: one aggregate (a window is 20x slower)
            raw_id = quote(b.src["episode_id"])
            key = raw_id if ident == b.raw("episode_id") else f"CAST({raw_id} AS VARCHAR)"
            b.joins.append(f"LEFT JOIN (SELECT {key} AS id, min(_row) AS first_row FROM source_rows "
                           f"WHERE {raw_id} IS NOT NULL GROUP BY 1 HAVING count(*) > 1) AS dup ON {ident} = dup.id")
            b.flag("duplicate_episode_id", "episode_id", "s._row > dup.first_row")
        else:  # a warehouse table has no row order: the first by the id's own order (ties arbitrary)
            b.flag("duplicate_episode_id", "episode_id",
                   f"{ident} IS NOT NULL AND row_number() OVER (PARTITION BY {ident} ORDER BY {ident}) > 1")
    for col in _NUMBER_COVARIATES:
        if col not in cols:
            continue
        read = b.number(col, "non_numeric_value")
        infinite = b.infinite(read)
        b.flag("infinite_value", col, infinite)
        value = f"(CASE WHEN {infinite} THEN NULL ELSE {read} END)"
        odd = f"({value} < 10 OR {value} > 110)" if col == "age" else f"{value} < 0"
        b.flag("implausible_age" if col == "age" else "negative_value", col, odd)
        if col == "prior_treatments":  # a count: whole, and not 1e30 (which cannot even be an integer)
            many = f"{value} > {MAX_PRIOR_TREATMENTS}"
            b.flag("implausible_count", col, many)
            fraction = f"({value} <> ROUND({value}) AND NOT ({many}) AND NOT ({odd}))"
            b.flag("non_integer_count", col, fraction)
            odd = f"({odd} OR {many} OR {fraction})"
        kept = f"CASE WHEN COALESCE({odd}, FALSE) THEN NULL ELSE {value} END"
        sel[col] = f"CAST(ROUND({kept}) AS BIGINT)" if col == "prior_treatments" else kept
    if {"hours_attended", "hours_scheduled"} <= cols:
        b.flag("attended_exceeds_scheduled", "hours_attended",
               f"({sel['hours_attended']}) > ({sel['hours_scheduled']}) * 1.0001")
    if "co_occurring" in cols:
        sel["co_occurring"] = b.boolean("co_occurring")
        b.flag("unparseable_boolean", "co_occurring",
               f"{b.raw('co_occurring')} IS NOT NULL AND {sel['co_occurring']} IS NULL")
    for col in _TEXT_COLUMNS[2:]:
        if col in cols:
            sel[col] = b.text(col)
    _type_extra_columns(b, extra, by, column_types or {})
    if by != "level_of_care":
        b.flag("missing_group", by, f"({sel[by]}) IS NULL")
    if backend.dialect == "duckdb" and len(b.types) <= _WIDE:
        _drop_unraised_flags(b)
    errors = [f.flag for f in b.flags if f.severity == "error"]
    data_cols = [c for c in sel if not c.startswith("_")]
    row = ["s._row AS _row"] if has_row_numbers else []
    raw_cols = [f"{b.raw(c)} AS {quote('_raw__' + c)}" for c in b.src]
    if any(" AS dup ON " in j for j in b.joins):
        raw_cols.append("dup.first_row AS _dup_first_row")
    raw_cols += [f"{f.message} AS {quote('_msg__' + f.flag)}" for f in b.flags if f.message]
    parts = row + [f"{expr} AS {quote(name)}" for name, expr in sel.items()] + raw_cols
    inner = f"SELECT {', '.join(parts)} FROM source_rows AS s {' '.join(b.joins)}"
    excluded = any_of([quote(f) for f in errors])
    temp = "TEMPORARY " if backend.dialect == "postgres" else ""
    backend.execute(f"CREATE OR REPLACE {temp}VIEW episodes_view AS SELECT *, ({excluded}) AS _excluded FROM ({inner}) AS t")
    # without the raw copies: what the cohort, the counts and a materialised table need
    names = ", ".join(quote(c) for c in ["_row"] * has_row_numbers + list(sel) + ["_excluded"])
    backend.execute(f"CREATE OR REPLACE {temp}VIEW episodes AS SELECT {names} FROM episodes_view")
    return EpisodesSQL(shape, tuple(data_cols), tuple(b.flags), tuple(notes), today=b.today,
                       extra_types=dict(b.extra_types), sources=dict(b.src), time_unit=time_unit)


#: The table of the episode ids used more than once (id, first_row), made by :class:`_DuplicateIds`.
_DUPLICATES = "_duplicate_ids"


class _DuplicateIds:
    """The episode ids of ``source_rows`` used more than once and the first row of each, as the table
    :data:`_DUPLICATES`, made in a thread on a cursor of its own (one aggregate over every id: the largest
    operator of the check; it runs while the lookups are parsed in Python, DuckDB letting go of the GIL).

    In two steps: the ids used more than once (``GROUP BY id HAVING count(*) > 1``, no other aggregate), then the
    first row of those ids only (a second pass, when there are some). The first row as an aggregate of every id
    (``min(_row)`` beside the count) took 2.7 s at 10M distinct ids against 1.0 s without it."""

    def __init__(self, b: _Builder, text: bool) -> None:
        import threading

        raw_id = quote(b.src["episode_id"])
        key = raw_id if text else f"CAST({raw_id} AS VARCHAR)"
        self._used_twice = (f"CREATE OR REPLACE TEMPORARY TABLE _ids_used_twice AS SELECT {key} AS id FROM source_rows "
                            f"WHERE {raw_id} IS NOT NULL GROUP BY 1 HAVING count(*) > 1")
        self._first = (f"CREATE OR REPLACE TABLE {_DUPLICATES} AS SELECT {key} AS id, min(_row) AS first_row "
                       f"FROM source_rows WHERE {raw_id} IS NOT NULL AND {key} IN (SELECT id FROM _ids_used_twice) "
                       "GROUP BY 1")
        self._con = b.backend.con
        self._cursor = self._con.cursor()
        self._error: BaseException | None = None
        self._found = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _make(self, con) -> None:
        con.execute(self._used_twice)
        self._found = con.execute("SELECT count(*) FROM _ids_used_twice").fetchone()[0] > 0
        if self._found:
            con.execute(self._first)
        else:  # (nothing reads it: no row can break the rule)
            con.execute(f"CREATE OR REPLACE TABLE {_DUPLICATES} AS SELECT id, CAST(NULL AS BIGINT) AS first_row "
                        "FROM _ids_used_twice")
        con.execute("DROP TABLE IF EXISTS _ids_used_twice")

    def _run(self) -> None:
        try:
            self._make(self._cursor)
        except BaseException as exc:  # re-raised by any(), in the caller's thread
            self._error = exc
        finally:
            self._cursor.close()

    def any(self) -> bool:
        """Waits for the table; True when some id is used more than once."""
        import duckdb

        self._thread.join()
        if isinstance(self._error, duckdb.CatalogException):  # a source registered on this connection only
            self._make(self._con)                              # (uploaded bytes as Arrow): made here instead
        elif self._error is not None:
            raise self._error
        return self._found


_LITERAL = re.compile(r"'(?:[^']|'')*'")
_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"')
_ROW_REF = re.compile(r'\bs\.(?:"(?:[^"]|"")*"|\w+)')
_JOIN_REF = re.compile(r"\b(lk_\d+|dup)\.")


def _drop_unraised_flags(b: _Builder) -> None:
    """Leave out the flags no row can raise: a rule whose condition reads one text column and its lookup only
    is true for a row exactly when it is true for that row's value, so it is evaluated on the lookup's values
    (and NULL) in one small query per lookup; a rule no value breaks is not checked on every row (the synthetic
    1M file: 35 of 43 rules). As the wide files' inline lookups, whose flags no value raises are left out."""
    import duckdb

    by_lookup: dict[str, list[RuleFlag]] = {}
    for f in b.flags:
        condition = _LITERAL.sub("''", b.select[f.flag])
        rows = set(_ROW_REF.findall(condition))
        joins = set(_JOIN_REF.findall(_IDENTIFIER.sub('""', condition)))
        if len(joins) != 1 or next(iter(joins)) not in b.lookups:
            continue
        alias = next(iter(joins))
        if rows - {b.lookups[alias][0]}:
            continue
        by_lookup.setdefault(alias, []).append(f)
    never: set[str] = set()
    for alias, flags in by_lookup.items():
        raw, table = b.lookups[alias]
        tests = ", ".join(f"bool_or({b.select[f.flag]})" for f in flags)
        sql = (f"SELECT {tests} FROM (SELECT v AS {raw[2:]} FROM {table} UNION ALL SELECT NULL) AS s "
               f"LEFT JOIN {table} AS {alias} ON {raw} = {alias}.v")
        try:
            raised = b.backend.con.execute(sql).fetchone()
        except duckdb.Error:  # (not expected) every row is checked
            continue
        never.update(f.flag for f, hit in zip(flags, raised, strict=True) if not hit)
    if never:
        b.flags = [f for f in b.flags if f.flag not in never]
        for name in never:
            del b.select[name]


def _type_extra_columns(b: _Builder, extra: list[str], by: str, column_types: dict[str, str]) -> None:
    """Extra (unmapped) columns typed by content or as the user said, as validation types them."""
    from analysis.columns import infer_type

    b.prefetch_distinct(list(extra))
    for col in extra:
        b.src[col] = col
        type_ = column_types.get(col) or infer_type(b.sample(col), str(col))[0]
        if col == by or type_ in ("categorical", "id", "text"):
            b.select[col] = b.text(col)
            type_ = "categorical" if col == by else type_  # the grouping column as labels, as validation
        elif type_ == "numeric":
            b.select[col] = b.number(col, "non_numeric_value")
        elif type_ == "binary":
            b.select[col] = b.boolean(col)
            b.flag("unparseable_boolean", col, f"{b.raw(col)} IS NOT NULL AND {b.select[col]} IS NULL")
        elif type_ == "date":
            b.select[col] = b.date(col)
            b.flag("unparseable_extra_date", col, f"{b.raw(col)} IS NOT NULL AND {b.select[col]} IS NULL")
        else:
            raise ValueError(f"Unknown column type {type_!r} for {col}.")
        b.extra_types[col] = type_


def any_of(conditions: list[str]) -> str:
    """``c1 OR c2 OR ...`` as a balanced tree (a file with thousands of columns has thousands of flags, and
    a chain that long exceeds the engines' expression depth)."""
    if not conditions:
        return "FALSE"
    if len(conditions) == 1:
        return conditions[0]
    mid = len(conditions) // 2
    return f"({any_of(conditions[:mid])} OR {any_of(conditions[mid:])})"


def rule_counts(backend: Backend, built: EpisodesSQL) -> pd.DataFrame:
    """Rows flagged per rule and column (one aggregate query): column, rule, severity, rows."""
    if not built.flags:
        return pd.DataFrame(columns=["column", "rule", "severity", "rows"])
    sums = ", ".join(f"sum(CASE WHEN {quote(f.flag)} THEN 1 ELSE 0 END) AS {quote(f.flag)}" for f in built.flags)
    counts = backend.query(f"SELECT count(*) AS _n, sum(CASE WHEN _excluded THEN 1 ELSE 0 END) AS _x, {sums} "
                           "FROM episodes").iloc[0]
    out = pd.DataFrame({"column": [f.column for f in built.flags], "rule": [f.rule for f in built.flags],
                        "severity": [f.severity for f in built.flags],
                        "rows": [int(counts[f.flag] or 0) for f in built.flags]})
    out.attrs["n_rows"] = int(counts["_n"])
    out.attrs["n_excluded"] = int(counts["_x"] or 0)
    return out[out["rows"] > 0].reset_index(drop=True)


def problem_rows(backend: Backend, built: EpisodesSQL, limit: int = 100) -> pd.DataFrame:
    """The first ``limit`` problems in file order: row (spreadsheet row), column, value, rule, severity, message."""
    empty = pd.DataFrame(columns=["row", "column", "value", "rule", "severity", "message"])
    if not built.flags:
        return empty
    numbered = "_row" in backend.columns("episodes")
    has_dup = any(f.rule == "duplicate_episode_id" for f in built.flags) and numbered
    if numbered and backend.dialect == "duckdb":
        # the rows of the first problems from the checked (materialised) flags, then the values as read for
        # those rows only: the view with the raw values re-reads the source, so it is asked about few rows
        flagged = any_of([quote(f.flag) for f in built.flags])
        backend.execute(f"CREATE OR REPLACE TEMPORARY TABLE _problem_rows AS SELECT _row FROM episodes "
                        f"WHERE {flagged} ORDER BY _row LIMIT {int(limit)}")
        if backend.query("SELECT count(*) AS n FROM _problem_rows")["n"].iloc[0] == 0:
            return empty
        backend.execute("CREATE OR REPLACE TEMPORARY TABLE _problem_view AS SELECT * FROM episodes_view "
                        "WHERE _row IN (SELECT _row FROM _problem_rows)")  # one pass over the source
        source = "_problem_view"
    else:  # a warehouse table: the flagged rows of the raw-value view in one pass (not one pass per rule)
        flagged = any_of([quote(f.flag) for f in built.flags])
        backend.execute("DROP TABLE IF EXISTS _problem_view")
        backend.execute(f"CREATE TEMPORARY TABLE _problem_view AS SELECT * FROM episodes_view WHERE {flagged} "
                        f"LIMIT {int(limit)}")
        source = "_problem_view"
    # without row numbers (a warehouse table) problems carry row 0 and name their episode id in the message
    row = "_row" if numbered else "CAST(0 AS BIGINT) AS _row"
    ident = ("CAST(episode_id AS VARCHAR)" if not numbered and "episode_id" in built.columns
             else "CAST(NULL AS VARCHAR)")
    parts = []
    for k, f in enumerate(built.flags):  # k: the order validation applies its rules in (its problems' order)
        raw = quote("_raw__" + f.column)
        first = "_dup_first_row" if has_dup else "CAST(NULL AS BIGINT)"
        message = quote("_msg__" + f.flag) if f.message else "CAST(NULL AS VARCHAR)"
        parts.append(f"SELECT {row}, {literal(f.column)} AS column_name, CAST({raw} AS VARCHAR) AS value, "
                     f"{literal(f.rule)} AS rule, {first} AS first_row, {message} AS message, {ident} AS _id, "
                     f"{k} AS _k FROM {source} WHERE {quote(f.flag)}")
    sql = f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS p ORDER BY _row, _k LIMIT {int(limit)}"
    frame = backend.query(sql)
    if frame.empty:
        return empty
    frame["row"] = frame.pop("_row").astype("int64") + (2 if numbered else 0)
    frame["severity"] = frame["rule"].map(lambda r: RULES[r].severity)
    frame = frame.rename(columns={"column_name": "column"})
    frame["value"] = frame["value"].where(frame["value"].notna(), "")
    frame["message"] = [msg if isinstance(msg, str) else _message(rule, first, built.today)
                        for rule, first, msg in zip(frame["rule"], frame["first_row"], frame["message"], strict=True)]
    if not numbered:
        frame["message"] = [m if not isinstance(i, str) else f"Episode {i}: {m}"
                            for i, m in zip(frame["_id"], frame["message"], strict=True)]
    return frame[["row", "column", "value", "rule", "severity", "message"]].sort_values(
        ["row", "severity"], kind="stable").reset_index(drop=True).astype({"row": np.int64})


def _message(rule: str, first_row, today: pd.Timestamp | None) -> str:
    """The sentence validation gives for a problem (its rule's description, with details where it adds them)."""
    if rule == "future_date" and today is not None:
        return f"Date is later than today ({today.date()})."
    if rule == "duplicate_episode_id" and first_row is not None and not pd.isna(first_row):
        return f"Episode id already used on row {int(first_row) + 2} (the first is kept)."
    return RULES[rule].description


def validation_report(backend: Backend, built: EpisodesSQL, *, max_problems: int = 100_000):
    """A :class:`analysis.validation.ValidationReport` from the engine: exact rule counts, the first
    ``max_problems`` problems (all of them, as the pandas path lists, when there are no more; otherwise
    a note says how many are listed), the labels that could not be placed, the excluded rows."""
    from analysis.validation import ValidationReport

    counts = rule_counts(backend, built)
    n_rows, n_excluded = counts.attrs.get("n_rows", 0), counts.attrs.get("n_excluded", 0)
    problems = problem_rows(backend, built, limit=max_problems)
    notes = list(built.notes)
    total = int(counts["rows"].sum()) if len(counts) else 0
    if total > len(problems):
        notes.append(f"The first {len(problems):,} of {total:,} problems are listed; the counts are of all rows.")
    labels = []
    for f in built.flags:
        flagged = counts[(counts["rule"] == f.rule) & (counts["column"] == f.column)]
        if f.rule in ("unknown_level_of_care", "unknown_level_of_care_ignored", "unknown_discharge_reason") \
                and len(flagged):  # (the view with the raw values is costly to plan on a wide file)
            raw = quote("_raw__" + f.column)
            got = backend.query(f"SELECT CAST({raw} AS VARCHAR) AS label, count(*) AS rows FROM episodes_view "
                                f"WHERE {quote(f.flag)} GROUP BY 1 ORDER BY 2 DESC, 1")
            labels.append(got.assign(column=f.column)[["column", "label", "rows"]])
    unknown = (pd.concat(labels, ignore_index=True) if labels
               else pd.DataFrame(columns=["column", "label", "rows"]))
    if "_row" in backend.columns("episodes"):
        excluded = backend.query("SELECT _row FROM episodes WHERE _excluded ORDER BY _row")["_row"].to_numpy("int64")
    else:  # a warehouse table has no row numbers: as many placeholders as rows excluded (the counts are exact)
        excluded = np.arange(n_excluded, dtype=np.int64)
    fatal = None
    if n_rows and n_excluded == n_rows:
        top = counts[counts["severity"] == "error"].sort_values("rows", ascending=False)["rule"].iloc[0]
        fatal = f"No valid row is left: all {n_rows:,} rows have errors (most often: {top.replace('_', ' ')})."
    return ValidationReport(n_rows_read=n_rows, n_rows_accepted=0 if fatal else n_rows - n_excluded,
                            problems=problems, fatal=fatal, shape=built.shape, notes=tuple(notes),
                            unknown_labels=unknown, excluded_index=excluded, time_unit=built.time_unit)
