"""One pass over an engine's cohort for several filtered cohorts at once (a view and its wider settings).

A page rerun after a filter change reads the same collapses (:meth:`analysis.counts.EngineCounts.collapse`)
for the view and for the episodes each wider setting adds (:mod:`analysis.disclosure.neighbours`): five
cohorts with four neighbours, each collapse a scan of the whole cohort. :class:`Together` answers a collapse
for all its cohorts (*members*) in one query:

1. one scan groups the episodes of any member by the requested columns and ``_atom``, the bit mask of the
   members the episode belongs to (bit ``i``: member ``i``'s whole condition holds; a member's condition is
   exactly the one its own query would use, so membership is the same);
2. the few atoms are joined to the members whose bit they carry and their counts summed per member and
   combination, ordered as :meth:`analysis.engine.Engine.collapse` orders them.

Each member gets the rows its own query would have returned (the same distinct combinations, the same counts,
the same order, restored to the same dtypes separately), so every statistic computed from them is the same
number. Step-down transitions (a window over each client's episodes of the cohort) are computed the same way,
the window partitioned by member as well as by client. Members are never mixed: an episode counts in a member
only where that member's condition holds.
"""
from __future__ import annotations

from collections.abc import Sequence

from analysis.engine.backends import quote

__all__ = ["Together", "MAX_MEMBERS"]

MAX_MEMBERS = 62
"""Members of one pass (bits of a BIGINT mask); more cohorts share passes in groups of this many."""


class Together:
    """A group of :class:`analysis.counts.EngineCounts` of one engine whose collapses are fetched together."""

    def __init__(self, members: Sequence) -> None:
        if not members or len(members) > MAX_MEMBERS:
            raise ValueError(f"One shared pass takes 1 to {MAX_MEMBERS} cohorts.")
        engine = members[0].engine
        if any(m.engine is not engine for m in members):
            raise ValueError("Cohorts of different engines are not read together.")
        self.engine = engine
        self.members = list(members)
        self.queries = 0
        """Queries this group ran (each answers every member)."""
        for m in self.members:
            m._together = self

    # ------------------------------------------------------------------ SQL pieces
    def _conditions(self) -> list[str]:
        return [m._where() for m in self.members]

    def _atom(self) -> str:
        return " + ".join(f"(CASE WHEN COALESCE(({c}), FALSE) THEN CAST({1 << i} AS BIGINT) ELSE 0 END)"
                          for i, c in enumerate(self._conditions()))

    def _any(self) -> str:
        return " OR ".join(f"COALESCE(({c}), FALSE)" for c in self._conditions())

    def _members_sql(self, wanted: Sequence[int]) -> str:
        return ("(SELECT * FROM (VALUES " + ", ".join(f"({i}, CAST({1 << i} AS BIGINT))" for i in wanted)
                + ") AS v(_member, _bit)) AS m")

    def _wanting(self, key) -> list[int]:
        return [i for i, m in enumerate(self.members) if key not in m._cache]

    # ------------------------------------------------------------------ collapses
    def collapse(self, key, exprs: dict[str, str], names: dict[str, str], where: str | None) -> None:
        """Fill ``_cache[key]`` of every member lacking it: :meth:`Engine.collapse` of ``exprs`` with the
        extra condition ``where`` (the same for every member), renamed by ``names``, one query in all."""
        from analysis.counts import COUNT
        from analysis.engine.engine import _restore, _shared_strings

        wanted = self._wanting(key)
        if not wanted:
            return
        aliases = list(exprs)
        k = len(aliases)
        cond = self._any() if where is None else f"({self._any()}) AND ({where})"
        select = ", ".join(f"{sql} AS {quote(a)}" for a, sql in exprs.items())
        group = ", ".join(str(i + 1) for i in range(k + 1))
        atoms = (f"SELECT {select}, {self._atom()} AS _atom, count(*) AS _n FROM cohort WHERE {cond} "
                 f"GROUP BY {group}")
        cols = ", ".join(f"a.{quote(a)}" for a in aliases)
        order = ", ".join(str(i + 1) for i in range(k + 1))
        sql = (f"SELECT m._member AS _member, {cols}, CAST(sum(a._n) AS BIGINT) AS {quote(COUNT)} "
               f"FROM ({atoms}) AS a JOIN {self._members_sql(wanted)} ON (a._atom & m._bit) <> 0 "
               f"GROUP BY {order} ORDER BY {order}")
        frame = self.engine.backend.query(sql)
        self.queries += 1
        member = frame["_member"].to_numpy()
        for i in wanted:
            part = frame.loc[member == i, [*aliases, COUNT]].reset_index(drop=True)
            part = _shared_strings(_restore(part, self.engine.shape, self.engine.extra_types))
            part[COUNT] = part[COUNT].astype("int64")
            part.attrs["as_of"] = self.engine.as_of
            self.members[i]._cache[key] = part.rename(columns=names)

    def grouping_sets(self, chunk: list) -> None:
        """:meth:`analysis.counts.EngineCounts.prefetch`'s ``GROUP BY GROUPING SETS`` for every member at once."""
        from analysis.counts import COUNT
        from analysis.engine.engine import _restore

        wanted = sorted({i for key, _ in chunk for i in self._wanting(key)})
        if not wanted:
            return
        exprs: dict[str, str] = {}
        for _, (e, _names, flag) in chunk:
            exprs.update({a: (f"({sql})" if a == flag else sql) for a, sql in e.items()})
        aliases = list(exprs)
        inner = (f"SELECT {', '.join(f'{sql} AS {quote(a)}' for a, sql in exprs.items())}, {self._atom()} AS _atom "
                 f"FROM cohort WHERE {self._any()}")
        sets = ", ".join("(_atom, " + ", ".join(quote(a) for a in e) + ")" for _, (e, _n, _f) in chunk)
        listed = ", ".join(quote(a) for a in aliases)
        atoms = (f"SELECT {listed}, _atom, GROUPING({listed}) AS _gid, count(*) AS _n FROM ({inner}) AS t "
                 f"GROUP BY GROUPING SETS ({sets})")
        cols = ", ".join(f"a.{quote(a)}" for a in aliases)
        group = ", ".join(str(i + 1) for i in range(len(aliases) + 2))
        frame = self.engine.backend.query(
            f"SELECT m._member AS _member, {cols}, a._gid AS _gid, CAST(sum(a._n) AS BIGINT) AS {quote(COUNT)} "
            f"FROM ({atoms}) AS a JOIN {self._members_sql(wanted)} ON (a._atom & m._bit) <> 0 GROUP BY {group}")
        self.queries += 1
        gid = frame["_gid"].to_numpy(dtype="int64")
        member = frame["_member"].to_numpy()
        k = len(aliases)
        for i in wanted:
            m = self.members[i]
            for key, (e, names, flag) in chunk:
                if key in m._cache:
                    continue
                mask = sum(1 << (k - 1 - j) for j, a in enumerate(aliases) if a not in e)
                part = frame.loc[(gid == mask) & (member == i), [*e, COUNT]]
                if flag is not None:
                    part = part[part[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)].drop(columns=[flag])
                part = _restore(part.rename(columns=names).reset_index(drop=True), self.engine.shape,
                                self.engine.extra_types)
                part[COUNT] = part[COUNT].astype("int64")
                part.attrs["as_of"] = self.engine.as_of
                m._cache[key] = part

    # ------------------------------------------------------------------ step-downs
    def transitions(self, window_days: float) -> None:
        """:meth:`Engine.transitions` of every member lacking it, one query (window by member and client)."""
        engine = self.engine
        key = ("_transitions", float(window_days))
        wanted = self._wanting(key)
        if not wanted:
            return
        need = {"client_id", "admission_date", "discharge_date", "level_of_care"}
        if not need <= set(engine.columns):
            from analysis.engine.engine import EngineError
            raise EngineError("Step-downs need client_id, admission and discharge dates and level_of_care.")
        has_row = "_row" in engine.backend.columns("cohort")
        if has_row:
            order = "admission_date, _row"
        else:
            order = "admission_date, episode_id" if "episode_id" in engine.columns else "admission_date"
        keep = ["level_of_care", "in_treatment", "client_id", "admission_date", "discharge_date",
                *(["_row"] if has_row else []), *(["episode_id"] if not has_row and "episode_id" in engine.columns
                                                  else [])]
        rows = (f"SELECT {', '.join(keep)}, {self._atom()} AS _atom FROM cohort "
                f"WHERE client_id IS NOT NULL AND ({self._any()})")
        split = (f"SELECT r.*, m._member AS _member FROM ({rows}) AS r JOIN {self._members_sql(wanted)} "
                 "ON (r._atom & m._bit) <> 0")
        w = f"(PARTITION BY _member, client_id ORDER BY {order})"
        inner = (f"SELECT _member, level_of_care, NOT in_treatment AS discharged, CASE WHEN NOT in_treatment AND "
                 f"date_diff('day', discharge_date, lead(admission_date) OVER {w}) BETWEEN 0 AND {float(window_days)} "
                 f"THEN lead(level_of_care) OVER {w} END AS next_level FROM ({split}) AS s")
        frame = engine.backend.query(
            f"SELECT _member, level_of_care, next_level, discharged, count(*) AS n FROM ({inner}) AS t "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
        self.queries += 1
        frame["n"] = frame["n"].astype("int64")
        member = frame["_member"].to_numpy()
        for i in wanted:
            part = frame.loc[member == i, ["level_of_care", "next_level", "discharged", "n"]].reset_index(drop=True)
            self.members[i]._cache[key] = part


def read_together(cohorts: Sequence) -> list[Together]:
    """Link the engine cohorts among ``cohorts`` (:class:`analysis.counts.EngineCounts`, by engine) so that each
    collapse any of them needs is fetched for all of them in one pass; other cohorts are left alone."""
    from analysis.counts import EngineCounts

    by_engine: dict[int, list] = {}
    for c in cohorts:
        if isinstance(c, EngineCounts):
            by_engine.setdefault(id(c.engine), []).append(c)
    out = []
    for group in by_engine.values():
        for start in range(0, len(group), MAX_MEMBERS):
            part = group[start:start + MAX_MEMBERS]
            if len(part) > 1:
                out.append(Together(part))
    return out
