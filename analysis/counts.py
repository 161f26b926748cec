"""A cohort as frequency counts: what the publication and the outcomes report read, from memory or an engine.

Every statistic of the publication (:mod:`analysis.disclosure.raw`) and of the outcomes report
(:func:`analysis.report.outcomes_report`) reads a few columns of the cohort and takes *collapsed rows*:
one row per distinct combination of those columns with ``n``, how many episodes it stands for
(``count_col="n"`` / ``weight_col="n"`` in survival, relapse, retention, trends, case mix and Cox; equal to
the row-level results, tests/test_frequency_counts.py). Where the rows come from is this module's concern:

* :class:`FrameCounts`: a pandas cohort in memory (an upload, the sample, a filtered view). Its
  ``collapse`` returns the rows themselves with ``n = 1``: no grouping cost, and the statistics run the
  same code as on a collapsed table.
* :class:`EngineCounts`: a cohort inside the SQL engine (:class:`analysis.engine.Engine`: DuckDB or a
  PostgreSQL warehouse), optionally filtered. Its ``collapse`` is one ``GROUP BY``: only aggregates leave
  the engine, so 10 million episodes never become pandas rows.

``probe()`` is a one-row frame with the cohort's columns, dtypes and ``attrs`` (a value where the column has
one): enough for the decisions that look only at what a file records (origin, recorded outcomes).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from analysis.engine.narrow import (
    can_narrow,
    filtered_columns,
    narrow,
    narrow_rows,
    pairs_sql,
    transitions_off_pairs,
    typed_as_filtered,
)

__all__ = ["COUNT", "CohortCounts", "FrameCounts", "EngineCounts", "as_counts", "survival_rows"]

COUNT = "n"
"""Name of the frequency-count column of every collapsed frame."""


class CohortCounts(Protocol):
    """What the statistics need from a cohort (see the module docstring)."""

    columns: tuple[str, ...]
    attrs: dict
    n_episodes: int

    def collapse(self, columns: Sequence[str], *, nonnull: str | None = None, quarters: Sequence[str] = (),
                 due: tuple[str, Sequence[float]] | None = None) -> pd.DataFrame:
        """Distinct combinations of ``columns`` (those the cohort has) with :data:`COUNT`.

        ``nonnull``: only episodes where that column is recorded. ``quarters``: date columns replaced by the
        first day of their quarter (trends by quarter). ``due=(origin, horizons)``: a column ``due``, the days
        from the origin date to the data's date floored to the horizons (:func:`analysis.relapse.due_days_floor`),
        for date-shaped cohorts with a data date.
        """

    def probe(self) -> pd.DataFrame:
        """One row with the cohort's columns (an engine's: those of ``_PROBED``), dtypes and attrs; a column holds a
        value where it has one."""

    def rows(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The cohort's rows (only ``columns``): for the few statistics that need rows (propensity models)."""

    def rows_of(self, columns: Sequence[str], by: str, groups: Sequence) -> pd.DataFrame:
        """The rows of the episodes whose ``by`` is one of ``groups`` (as ``match_group`` matches them), only
        ``columns`` (those the cohort has): what a comparison of two groups reads."""

    def step_downs(self, window_days: float = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:func:`analysis.retention.step_downs` (rates, flows): episodes of a client in sequence."""


_PROBED = ("level_of_care", "admission_date", "discharge_date", "los_days", "discharge_reason")
"""The columns the decisions on a probe read (origin, recorded outcomes, scopes): the engine's probe holds these."""


def _present(columns: Sequence[str], available) -> list[str]:
    have = set(available)
    return [c for c in dict.fromkeys(columns) if c in have]


class FrameCounts:
    """A pandas cohort: ``collapse`` hands back its rows (narrow) with ``n = 1``."""

    def __init__(self, cohort: pd.DataFrame):
        from analysis.cohort import data_as_of

        self.cohort = cohort
        self.columns = tuple(cohort.columns)
        self.attrs = dict(cohort.attrs)
        as_of = data_as_of(cohort)  # of the whole cohort: a narrow collapse must not take its own latest date
        if as_of is not None:
            self.attrs["as_of"] = as_of
        self.n_episodes = len(cohort)

    def collapse(self, columns: Sequence[str], *, nonnull: str | None = None, quarters: Sequence[str] = (),
                 due: tuple[str, Sequence[float]] | None = None) -> pd.DataFrame:
        from analysis.relapse import due_days, due_days_floor

        cols = _present(columns, self.columns)
        frame = self.cohort[cols]
        extra = {}
        if due is not None:
            full = due_days(self.cohort, due[0])
            if full is not None:
                extra["due"] = due_days_floor(full, due[1])
        out = frame.assign(**extra, **{COUNT: np.ones(len(frame), dtype="int64")})
        if nonnull is not None:
            out = out[self.cohort[nonnull].notna().to_numpy()] if nonnull in self.columns else out.iloc[:0]
        out.attrs = dict(self.attrs)
        return out  # quarter columns stay dates: a date and its quarter's first day fall in the same quarter

    def probe(self) -> pd.DataFrame:
        return self.cohort

    def rows(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.cohort if columns is None else self.cohort[_present(columns, self.columns)]

    def rows_of(self, columns: Sequence[str], by: str, groups: Sequence) -> pd.DataFrame:
        from analysis.comparison.population import match_group

        values = self.cohort[by]
        keep = np.zeros(len(values), dtype=bool)
        for g in groups:
            keep |= match_group(values, g)
        return self.cohort.loc[keep, _present(columns, self.columns)]

    def step_downs(self, window_days: float = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
        from analysis.retention import step_downs

        return step_downs(self.cohort, window_days=window_days)


class EngineCounts:
    """A cohort inside :class:`analysis.engine.Engine` (with an optional filter): ``collapse`` is a GROUP BY."""

    def __init__(self, engine, spec=None, where: str | None = None, minus=None):
        from analysis.engine.backends import quote

        if minus is not None and where is not None:
            raise ValueError("A cohort takes an SQL condition or a setting to leave out, not both.")
        self.minus = minus
        """A :class:`analysis.filters.FilterSpec` whose episodes are left out (a wider setting's added episodes:
        ``spec`` and not ``minus``), or None."""
        if minus is not None:
            where = f"NOT COALESCE(({engine.where(minus)}), FALSE)"
        self._narrows = (where is None or minus is not None) and typed_as_filtered(spec, minus, engine.sql_types())
        """Whether a collapse may be read off the whole cohort's (:mod:`analysis.engine.narrow`): the condition is
        made of filter settings only."""
        self.engine, self.spec, self.where = engine, spec, where
        self.columns = tuple(engine.columns)
        self.attrs = {"shape": engine.shape, "time_unit": engine.time_unit}
        if engine.as_of is not None:
            self.attrs["as_of"] = engine.as_of
        self._quote = quote
        self._probe: pd.DataFrame | None = None
        self._cache: dict[tuple, pd.DataFrame] = {}
        self._masks: dict[tuple, dict] = {}  # of the whole cohort: per collapse, the rows each setting passes
        self.queries = 0
        """Grouping queries run so far for this cohort alone (each distinct collapse once)."""
        self._raws: dict[tuple, object] = {}  # the whole cohort's: its raw results by options (keep_raw)
        self.kept: dict[tuple, object] = {}
        """What is computed once from the whole cohort's collapses and subset for a filtered cohort (:meth:`off_whole`)."""
        filtered = sorted(filtered_columns(spec) | filtered_columns(minus))
        if filtered and set(filtered) <= set(self.columns) and self._narrowed({c: c for c in filtered}):
            self.n_episodes = int(self.collapse(filtered)[COUNT].sum())  # off the whole cohort's, no query
        else:
            self.n_episodes = int(engine.backend.query(f"SELECT count(*) AS n FROM cohort WHERE {self._where()}")["n"]
                                  .iloc[0])

    def _narrowed(self, names: dict[str, str]) -> bool:
        """Whether the collapse of output ``names`` ({alias: name}) is read off the whole cohort's (not for the
        whole cohort itself; only where every filtered column is a column of the collapse as recorded)."""
        if not (self._narrows and self.engine.share) or (self.minus is None and (self.spec is None or self.spec.is_empty)):
            return False
        return can_narrow(self.spec, self.minus, [c for a, c in names.items() if a == c])

    def keep_raw(self, key: tuple, raw) -> None:
        """Keep the whole cohort's raw results (:func:`analysis.disclosure.raw.compute_raw`, options ``key``), which a
        level-filtered cohort's levels are read off (:meth:`level_source`); a filtered cohort keeps none."""
        if self.engine.share and self.engine.counts() is self:
            self._raws[key] = raw

    def level_source(self, key: tuple):
        """(the whole cohort's raw results of options ``key``, the levels of care this cohort holds) when this cohort
        is made by level-of-care settings only and read off the whole cohort's, and those results are kept; else
        None (:mod:`analysis.disclosure.level_scope`)."""
        if "level_of_care" not in self.columns or not self._narrowed({"level_of_care": "level_of_care"}):
            return None
        raw = self.engine.counts()._raws.get(key)
        if raw is None:
            return None
        levels = self.collapse(["level_of_care"])["level_of_care"]
        return raw, frozenset(str(v) for v in levels[levels.notna()])

    def rows_key(self) -> tuple:
        """Names which episodes this cohort holds, so that two cohorts with the same key hold the same episodes of
        this engine (a memo shares their results, ``ui.raw_memo``): for filter settings, the filtered columns and
        a digest of which of their combinations pass (a neighbour's added episodes can be another view's); else
        the SQL condition."""
        if getattr(self, "_rows_key", None) is None:
            filtered = sorted(filtered_columns(self.spec) | filtered_columns(self.minus))
            if self._narrows and (self.spec is None or self.spec.is_empty) and self.minus is None:
                self._rows_key = ("all",)
            elif self._narrows and filtered and set(filtered) <= set(self.columns):
                import hashlib

                rows = self.collapse(filtered)
                digest = hashlib.blake2b(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes(),
                                         digest_size=16).hexdigest()
                self._rows_key = ("combinations", tuple(filtered), len(rows), digest)
            else:
                self._rows_key = ("sql", self._where())
        return self._rows_key

    def _off_whole(self, key: tuple, request: dict) -> pd.DataFrame:
        """This cohort's rows of the whole cohort's collapse ``request`` (cache key ``key``, the same there)."""
        whole = self.engine.counts()
        if key not in whole._cache:
            whole.collapse(**request)
        return narrow(whole._cache[key], self.spec, self.minus, whole._masks.setdefault(key, {}))

    def off_whole(self, request: dict) -> tuple[EngineCounts, tuple, np.ndarray] | None:
        """(the whole cohort, the cache key of ``collapse(**request)`` there, which of its rows are this cohort's) when
        that collapse is read off the whole cohort's; else None. The whole cohort's :attr:`kept` holds what is
        computed once from its collapses (engagement's sorted hours, :class:`analysis.engagement.Sides`)."""
        if request.get("nonnull") is not None and request["nonnull"] not in self.columns:
            return None
        key, _exprs, names, _flag = self._request(request["columns"], request.get("nonnull"),
                                                  request.get("quarters", ()), request.get("due"))
        if not self._narrowed(names):
            return None
        whole = self.engine.counts()
        if key not in whole._cache:
            whole.collapse(**request)
        return whole, key, narrow_rows(whole._cache[key], self.spec, self.minus, whole._masks.setdefault(key, {}))

    def _extra(self, extra: str | None = None) -> str | None:
        """This cohort's own condition (``where``) and an optional extra one, besides the filter."""
        parts = [c for c in (self.where, extra) if c]
        return " AND ".join(f"({c})" for c in parts) if parts else None

    def _where(self, extra: str | None = None) -> str:
        """The whole SQL condition of this cohort (filter, ``where``) and an optional extra condition."""
        return self.engine.where(self.spec, self._extra(extra))

    def _request(self, columns: Sequence[str], nonnull: str | None, quarters: Sequence[str],
                 due: tuple[str, Sequence[float]] | None) -> tuple[tuple, dict[str, str], dict[str, str], str | None]:
        """(cache key, {alias: SQL}, {alias: output name}, key of the condition on ``nonnull`` in the SQL)."""
        q = self._quote
        exprs, names = {}, {}
        for c in _present(columns, self.columns):
            alias = f"_q_{c}" if c in quarters else c
            exprs[alias] = f"CAST(date_trunc('quarter', {q(c)}) AS DATE)" if c in quarters else q(c)
            names[alias] = c
        if due is not None:
            sql = self.engine.due_days_expression(due[0], due[1])
            if sql is not None:
                alias = f"_due_{due[0]}_" + "_".join(f"{float(h):g}" for h in sorted(due[1])).replace(".", "p")
                exprs[alias], names[alias] = sql, "due"
        flag = None
        if nonnull is not None:
            flag = f"_nn_{nonnull}"
            exprs[flag] = f"{q(nonnull)} IS NOT NULL"
        return (tuple(exprs), flag), exprs, names, flag

    def collapse(self, columns: Sequence[str], *, nonnull: str | None = None, quarters: Sequence[str] = (),
                 due: tuple[str, Sequence[float]] | None = None) -> pd.DataFrame:
        if nonnull is not None and nonnull not in self.columns:
            frame = self.engine.collapse(_present(columns, self.columns), self.spec, where="FALSE", count=COUNT)
            frame.attrs.update(self.attrs)
            return frame
        key, exprs, names, flag = self._request(columns, nonnull, quarters, due)
        if key not in self._cache and self._narrowed(names):  # off the whole cohort's collapse (no query)
            self._cache[key] = self._off_whole(key, dict(columns=columns, nonnull=nonnull, quarters=quarters, due=due))
        if key not in self._cache:  # the report and its publication ask for some collapses twice
            where = None if flag is None else exprs.pop(flag)
            frame = self.engine.collapse(exprs, self.spec, where=self._extra(where), count=COUNT)
            self._cache[key] = frame.rename(columns=names)
            self.queries += 1
        frame = self._cache[key].copy()
        frame.attrs = dict(self.attrs)
        return frame

    def prefetch(self, requests: Sequence[dict]) -> None:
        """Compute many small collapses (keyword dicts of :meth:`collapse`) in one pass over the cohort: a
        ``GROUP BY GROUPING SETS`` query (more when they group by over 30 columns in all); later ``collapse``
        calls with the same arguments are answered from memory. For families of few distinct rows (a large
        one, such as the Cox model's covariate patterns, is cheaper on its own)."""
        wanted, narrowed = {}, []
        for r in requests:
            if r.get("nonnull") is not None and r["nonnull"] not in self.columns:
                continue
            key, exprs, names, flag = self._request(r["columns"], r.get("nonnull"), r.get("quarters", ()), r.get("due"))
            if key in self._cache:
                continue
            if self._narrowed(names):
                narrowed.append((key, r))
            else:
                wanted[key] = (exprs, names, flag)
        if narrowed:  # the whole cohort's, in one pass there (or already held), then this cohort's rows of them
            self.engine.counts().prefetch([r for _, r in narrowed])
            for key, r in narrowed:
                self._cache[key] = self._off_whole(key, r)
        chunks: list[list] = []
        for key, req in wanted.items():  # at most 30 grouping columns per query (PostgreSQL's GROUPING: 31)
            for chunk in chunks:
                if len(set().union(*(set(r[0]) for _, r in chunk)) | set(req[0])) <= 30:
                    chunk.append((key, req))
                    break
            else:
                chunks.append([(key, req)])
        for chunk in chunks:
            self._grouping_sets(chunk)

    def _grouping_sets(self, chunk: list) -> None:
        from analysis.engine.engine import _enum_text, _restore

        q = self._quote
        exprs: dict[str, str] = {}
        for _, (e, _names, flag) in chunk:
            exprs.update({a: (f"({sql})" if a == flag else sql) for a, sql in e.items()})
        aliases = list(exprs)
        labels = getattr(self.engine, "_labels", frozenset())
        enums = [a for a, sql in exprs.items() if a in labels and sql == q(a)]
        rest = " ".join([sql for a, sql in exprs.items() if a not in enums] + [self.where or ""])
        source = "cohort"
        if enums and (self.spec is None or self.spec.is_empty) and not any(c in rest for c in labels):
            source = "cohort_labels"  # grouped by the labels' ENUM codes, read back as text (Engine.collapse; 10M
        else:                         # episodes: an origin's case-mix pass 1.7-2.6 -> 0.7-1.0 s at load 3.5)
            enums = []
        inner = (f"SELECT {', '.join(f'{sql} AS {q(a)}' for a, sql in exprs.items())} FROM {source} "
                 f"WHERE {self._where()}")
        sets = ", ".join("(" + ", ".join(q(a) for a in e) + ")" for _, (e, _n, _f) in chunk)
        frame = self.engine.backend.query(
            f"SELECT {', '.join(q(a) for a in aliases)}, GROUPING({', '.join(q(a) for a in aliases)}) AS _gid, "
            f"count(*) AS {q(COUNT)} FROM ({inner}) AS t GROUP BY GROUPING SETS ({sets})")
        self.queries += 1
        gid = frame["_gid"].to_numpy(dtype="int64")
        k = len(aliases)
        for key, (e, names, flag) in chunk:
            mask = sum(1 << (k - 1 - i) for i, a in enumerate(aliases) if a not in e)
            part = _enum_text(frame.loc[gid == mask, [*e, COUNT]], [a for a in enums if a in e])
            if flag is not None:
                part = part[part[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)].drop(columns=[flag])
            part = _restore(part.rename(columns=names).reset_index(drop=True), self.engine.shape,
                            self.engine.extra_types)
            part[COUNT] = part[COUNT].astype("int64")
            part.attrs["as_of"] = self.engine.as_of
            self._cache[key] = part

    def probe(self) -> pd.DataFrame:
        if self._probe is None:
            q = self._quote
            cols = [c for c in _PROBED if c in self.columns]  # a wide file: not one subquery per column
            from analysis.engine.engine import _restore

            if "level_of_care" in cols and self._narrowed({"level_of_care": "level_of_care"}):
                frame = self._probe_off_whole(cols)  # a level filter: no query
            else:
                pick = ", ".join(f"(SELECT {q(c)} FROM cohort WHERE {q(c)} IS NOT NULL AND {self._where()} "
                                 f"LIMIT 1) AS {q(c)}" for c in cols)
                frame = self.engine.backend.query(f"SELECT {pick}")
            frame = _restore(frame, self.engine.shape, self.engine.extra_types)
            frame.attrs.update(self.attrs)
            self._probe = frame
        return self._probe

    def _probe_off_whole(self, cols: list[str]) -> pd.DataFrame:
        """The probe of a cohort made by level-of-care settings: a value of each column (its least) among the levels
        that pass, from one query of the whole cohort by level (kept), instead of a query per cohort (10M: 60 ms)."""
        q, whole = self._quote, self.engine.counts()
        key = ("_probe_levels", tuple(cols))
        if key not in whole._cache:
            others = ", ".join(f"min({q(c)}) AS {q(c)}" for c in cols if c != "level_of_care")
            whole._cache[key] = self.engine.backend.query(
                f"SELECT {q('level_of_care')}{', ' if others else ''}{others} FROM cohort GROUP BY 1")
        levels = whole._cache[key]
        mine = narrow(levels.assign(level_of_care=levels["level_of_care"].astype(object)), self.spec, self.minus)
        row = {}
        for c in cols:
            values = mine[c][mine[c].notna()]
            row[c] = [values.iloc[0] if len(values) else None]
        return pd.DataFrame(row)

    def rows(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if self.where:
            raise NotImplementedError("The rows of a difference of two filter settings are not fetched.")
        return self.engine.frame(columns, self.spec)

    def rows_of(self, columns: Sequence[str], by: str, groups: Sequence) -> pd.DataFrame:
        if self.where:
            raise NotImplementedError("The rows of a difference of two filter settings are not fetched.")
        return self.engine.frame(_present(columns, self.columns), self.spec,
                                 where=self.engine.group_condition(by, groups))

    def step_downs(self, window_days: float = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
        from analysis.engine.backends import DuckDBBackend
        from analysis.retention import step_downs_from_transitions

        whole, key = self.engine.counts(), ("_pairs", float(window_days))
        # a level filter, or the whole cohort once they are held (an app's warm-up, ui.compute.warm_engine, makes
        # them first): off the whole cohort's next admissions (analysis.engine.narrow; one window query for all)
        off_pairs = self._narrowed({"level_of_care": "level_of_care"}) or (
            self is whole and self.engine.share and key in whole._cache)
        if off_pairs and isinstance(self.engine.backend, DuckDBBackend) and \
                {"client_id", "admission_date", "discharge_date", "level_of_care"} <= set(self.columns):
            if key not in whole._cache:
                whole._cache[key] = self.engine.backend.query(pairs_sql(self.engine, window_days))
            found = transitions_off_pairs(whole._cache[key], self.spec, self.minus)
            if found is not None:
                return step_downs_from_transitions(found)
        return step_downs_from_transitions(self.engine.transitions(window_days, self.spec, where=self.where))


def as_counts(source) -> CohortCounts:
    """A :class:`CohortCounts` for a pandas cohort or anything that already is one."""
    if isinstance(source, pd.DataFrame):
        return FrameCounts(source)
    return source


def survival_rows(counts: CohortCounts, by: str, origin: str, covariates: Sequence[str] = (),
                  groups: Sequence | None = None, due_horizons: Sequence[float] | None = None) -> pd.DataFrame:
    """``group, time, event, n`` (and the ``covariates``) of the episodes followed from ``origin``, collapsed:
    the input of Kaplan-Meier, the log-rank tests and the Cox model (``weight_col``/``count_col="n"``).
    With ``due_horizons`` the frame also has ``due`` (:meth:`CohortCounts.collapse`), for relapse rates."""
    from analysis.cohort import survival_columns
    from analysis.relapse import relapse_survival_data

    time_col, event_col = survival_columns(origin)
    covariates = [c for c in covariates if c != by]
    frame = counts.collapse([by, time_col, event_col, *covariates],
                            due=None if due_horizons is None else (origin, due_horizons))
    data = relapse_survival_data(frame, by=by, origin=origin, groups=groups, count_col=COUNT)
    keep = [c for c in (*covariates, "due") if c in frame.columns]
    return data.join(frame.loc[data.index, keep]) if keep else data
