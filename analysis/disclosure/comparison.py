"""The counts of a fair comparison of two groups (issue #9), added to a publication and protected with it.

A :class:`~analysis.comparison.Comparison` shows counts no other page has: the people outside the common
support of the propensity scores, the histogram of the scores, the people whose weight was trimmed, the
people left out for a missing covariate, the shares of a covariate's levels that the case mix does not
count, the relapses in each window of follow-up. :func:`extend_for_comparison` registers them in a copy
of the publication's ledger at a fourth level (:data:`LEVEL_COMPARISON`, decided after every other one),
with the relations that tie them to the counts already published:

=========================  ===============================================================================
compared (origin, cmp)     people of a group in the comparison; when they are the people followed from the
                           origin (no one left out for a missing covariate) this *is* ``followed``
cmp_excluded (reason)      ``episodes = compared + sum of reasons`` (a row counted under its first reason);
                           ``followed = compared + missing-covariate reasons``
cmp_at_risk / cmp_relapsed / cmp_censored (day)   as ``at_risk`` / ``relapsed`` / ``censored``, for a
                           compared population that is not the people followed (chains, links to the
                           followed people's counts); otherwise those cells themselves
cmp_relapses_total         every relapse of the compared people (``relapses_total`` when they are the same)
cmp_level (variable, value)   people per level of a categorical covariate (``covariate`` of the case mix
                           when it counts the same people): ``compared = sum of levels``
cmp_outside                people outside the common support: ``compared = outside + inside``
cmp_bin (bin)              the score histogram: ``compared = sum of bins``
cmp_trimmed                people whose weight was trimmed: ``compared = trimmed + rest``
cmp_window_events (from, to)  relapses in a window: ``relapsed(to) = relapsed(from) + events``
=========================  ===============================================================================

``cmp`` is a short key of the comparison's population (groups, origin, covariates), so two comparisons
of one publication never share a cell by accident. The earlier decisions are fixed: the solver
(:func:`protect_more`) hides only comparison cells (a fixed cell hidden anyway is said in the notes), so
the other pages and the comparison never disagree on a count.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.disclosure.cells import CellId, Ledger, cell_id
from analysis.disclosure.publication import Publication
from analysis.disclosure.solver import PROTECT, SHOWN, SMALL, Plan, _State
from analysis.disclosure.tables import HIDDEN_STATUSES, RESTS, PublishedTable

__all__ = ["LEVEL_COMPARISON", "ComparisonCells", "extend_for_comparison", "protect_more", "publish_cells"]

LEVEL_COMPARISON = 3
_COSTS = {"compared": 30, "cmp_at_risk": 2, "cmp_relapsed": 5, "cmp_censored": 3, "cmp_relapses_total": 5,
          "cmp_level": 3, "cmp_outside": 2, "cmp_bin": 1, "cmp_trimmed": 1, "cmp_excluded": 2,
          "cmp_window_events": 4}


def _key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:10]


@dataclass
class ComparisonCells:
    """The cell of every count the comparison can show, per group (``"a"`` / ``"b"``).

    ``n``: the compared people; ``at_risk[day]``, ``relapsed[day]``, ``censored[day]`` (days in days);
    ``events``: every relapse; ``levels[(variable, value)]``; ``outside``; ``bins[k]``; ``trimmed``;
    ``excluded[reason]``; ``window_events[k]`` (None: not publishable); ``window_at_risk[k]``. ``same``:
    the compared people are the people followed.
    """

    same: bool
    key: str
    n: dict = field(default_factory=dict)
    at_risk: dict = field(default_factory=dict)
    relapsed: dict = field(default_factory=dict)
    censored: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    levels: dict = field(default_factory=dict)
    outside: dict = field(default_factory=dict)
    bins: dict = field(default_factory=dict)
    trimmed: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    window_events: dict = field(default_factory=dict)
    window_at_risk: dict = field(default_factory=dict)


class _Add:
    def __init__(self, ledger: Ledger, by: str, key: str):
        self.ledger, self.by, self.key = ledger, by, key

    def cell(self, measure: str, group, count: float, /, *, published: bool = True, **quals) -> CellId:
        cid = cell_id(measure, self.by, group, cmp=self.key, **quals)
        day = quals.get("day")
        cost = _COSTS.get(measure, 1.0) * (3.0 if day in (90, 180, 365) else 1.0)
        self.ledger.add(cid, count, published=published, level=LEVEL_COMPARISON, cost=cost)
        return cid

    def rest(self, name: str, total: CellId, parts: Sequence[CellId], **quals) -> None:
        q = {**dict(total.qualifiers), "cmp": self.key, **{k: str(v) for k, v in quals.items()}}
        rem = CellId(name, total.by, total.group, tuple(sorted(q.items())))
        self.ledger.add_sum(total, list(parts), remainder=rem)
        self.ledger.cells[rem].level = LEVEL_COMPARISON


def _copy(ledger: Ledger) -> Ledger:
    return Ledger({c: dataclasses.replace(cell) for c, cell in ledger.cells.items()}, list(ledger.relations))


def _cum(times: np.ndarray, hit: np.ndarray, days: Sequence[float]) -> np.ndarray:
    """Count of ``hit`` rows with time <= each day."""
    t = np.sort(times[hit])
    return np.searchsorted(t, np.asarray(days, dtype="float64"), side="right").astype("float64")


def extend_for_comparison(pub: Publication, *, groups: Mapping[str, object], origin: str, rows: pd.DataFrame,
                          time_days: np.ndarray, relapse: np.ndarray, in_a: np.ndarray,
                          exclusions: Mapping[str, Mapping[str, int]], levels: Mapping[str, Sequence],
                          outside: Mapping[str, int], bins: Mapping[str, np.ndarray],
                          trimmed: Mapping[str, int] | None, days: Sequence[float],
                          windows: Sequence[float]) -> tuple[Publication, ComparisonCells]:
    """A publication whose ledger and plan also cover one comparison (see the module docstring).

    Parameters
    ----------
    pub : Publication
        Built on the cohort the comparison ran on, grouped by the comparison's column.
    groups : ``{"a": value, "b": value}``
    rows : DataFrame
        The compared rows (cohort index), with the covariates.
    time_days, relapse, in_a : arrays
        Follow-up in days, relapse (bool) and group A membership per compared row.
    exclusions : ``{"a": {reason: n}, "b": ...}`` rows of the group left out, by reason (the first reason is
        the missing follow-up time).
    levels : ``{variable: [level, ...]}`` the categorical covariates and their levels (booleans: ``[True]``).
    outside, bins, trimmed : per group: people outside the support, the 20 histogram bins, people trimmed.
    days : days of the at-risk rows (and window limits), in days.
    windows : window limits in days.
    """
    by = pub.by
    data = pub.raw.survival_data.get((by, origin))
    if data is None:
        raise ValueError(f"No episodes with follow-up from {origin}.")
    gcol = data["group"].astype(object)
    same = all(set(rows.index[in_a if k == "a" else ~in_a]) == set(data.index[(gcol == g).to_numpy()])
               for k, g in groups.items())
    key = _key(by, origin, groups["a"], groups["b"], *sorted(map(str, levels)), *rows.columns)
    ledger = _copy(pub.ledger)
    add = _Add(ledger, by, key)
    out = ComparisonCells(same, key)
    days = sorted({float(d) for d in [*days, *windows]})
    base_cols = set(pub.raw.casemix.get((by, origin), pd.DataFrame(columns=["variable"]))["variable"].unique())
    for k, g in groups.items():
        mask = in_a if k == "a" else ~in_a
        t, rel = time_days[mask], relapse[mask]
        n = float(mask.sum())
        followed = cell_id("followed", by, g, origin=origin)
        last = float(t.max()) if len(t) else 0.0
        if same:
            out.n[k] = followed
            out.events[k] = cell_id("relapses_total", by, g, origin=origin)
            for d in days:
                for store, m in ((out.at_risk, "at_risk"), (out.relapsed, "relapsed"), (out.censored, "censored")):
                    cid = cell_id(m, by, g, origin=origin, day=d)
                    store.setdefault(k, {})[d] = cid if cid in ledger else None
                if d >= last and out.relapsed[k][d] is None:
                    out.relapsed[k][d] = out.events[k]
        else:
            cn = out.n[k] = add.cell("compared", g, n, origin=origin)
            e_cum, c_cum = _cum(t, rel, days), _cum(t, ~rel, days)
            rel_chain, cen_chain = [], []
            for d, e, c in zip(days, e_cum, c_cum, strict=True):
                row = [add.cell("cmp_at_risk", g, n - e - c, origin=origin, day=d),
                       add.cell("cmp_relapsed", g, e, origin=origin, day=d),
                       add.cell("cmp_censored", g, c, origin=origin, day=d)]
                ledger.add_sum(cn, row)
                out.at_risk.setdefault(k, {})[d], out.relapsed.setdefault(k, {})[d] = row[0], row[1]
                out.censored.setdefault(k, {})[d] = row[2]
                rel_chain.append(row[1])
                cen_chain.append(row[2])
                for old, new in zip(("at_risk", "relapsed", "censored"), row, strict=True):
                    oid = cell_id(old, by, g, origin=origin, day=d)
                    if oid in ledger:
                        add.rest(f"{old}_not_compared", oid, [new])
            tot = out.events[k] = add.cell("cmp_relapses_total", g, float(rel.sum()), origin=origin)
            ledger.add_chain([*rel_chain, tot], "cmp_relapsed_between")
            ledger.add_chain(cen_chain, "cmp_censored_between")
            add.rest("cmp_not_relapsed", cn, [tot])
            old_tot = cell_id("relapses_total", by, g, origin=origin)
            if old_tot in ledger:
                add.rest("relapses_not_compared", old_tot, [tot])
        # people left out, by reason: episodes = compared + reasons; followed = compared + missing covariates
        reasons = exclusions.get(k, {})
        cells = {r: add.cell("cmp_excluded", g, v, reason=r) for r, v in reasons.items()}
        out.excluded[k] = cells
        episodes = cell_id("episodes", by, g)
        if not same:
            first = next(iter(reasons), None)
            try:
                ledger.add_sum(followed, [out.n[k], *[c for r, c in cells.items() if r != first]])
            except ValueError:
                pass
        if episodes in ledger:
            try:
                ledger.add_sum(episodes, [out.n[k], *cells.values()])
            except ValueError:  # the file's episodes and the compared rows do not partition: a remainder
                add.rest("cmp_other", episodes, [out.n[k], *cells.values()])
        # covariate levels
        for var, levs in levels.items():
            codes, uniques = pd.factorize(rows[var].to_numpy()[mask])
            counts = dict(zip([str(u) for u in uniques], np.bincount(codes[codes >= 0], minlength=len(uniques)),
                              strict=True))
            cells_v = []
            for lev in levs:
                v = float(counts.get(str(lev), 0))
                cid = cell_id("covariate", by, g, variable=var, value=str(lev), origin=origin)
                if not (same and var in base_cols and cid in ledger):
                    cid = add.cell("cmp_level", g, v, variable=var, value=str(lev), origin=origin)
                    old = cell_id("covariate", by, g, variable=var, value=str(lev), origin=origin)
                    if old in ledger:
                        add.rest("covariate_not_compared", old, [cid])
                out.levels.setdefault(k, {})[(var, str(lev))] = cid
                cells_v.append(cid)
            if cells_v and not (same and var in base_cols):
                if len(levs) > 1 or not isinstance(levs[0], (bool, np.bool_)):
                    ledger.add_sum(out.n[k], cells_v) if _adds_up(ledger, out.n[k], cells_v) else add.rest(
                        "cmp_level_other", out.n[k], cells_v, variable=var)
                else:
                    add.rest("cmp_level_false", out.n[k], cells_v, variable=var)
        # propensity: outside the support, histogram, trimming
        o = out.outside[k] = add.cell("cmp_outside", g, outside[k], origin=origin)
        add.rest("cmp_inside", out.n[k], [o])
        out.bins[k] = [add.cell("cmp_bin", g, float(v), origin=origin, bin=j) for j, v in enumerate(bins[k])]
        ledger.add_sum(out.n[k], out.bins[k])
        if trimmed is not None:
            tr = out.trimmed[k] = add.cell("cmp_trimmed", g, trimmed[k], origin=origin)
            add.rest("cmp_untrimmed", out.n[k], [tr])
        # windows: relapses in (lo, hi] and people entering
        ev, ar = [], []
        for j, (lo, hi) in enumerate(zip(windows[:-1], windows[1:], strict=True)):
            lo, hi = float(lo), float(hi)
            ar.append(out.n[k] if j == 0 else out.at_risk[k].get(lo))
            e_hi = out.relapsed[k].get(hi)
            if hi >= last:
                e_hi = out.events[k] if e_hi is None else e_hi
            if j == 0:
                ev.append(e_hi)
                continue
            e_lo = out.relapsed[k].get(lo)
            if e_hi is None or e_lo is None:
                ev.append(None)
                continue
            between = ledger.value(e_hi) - ledger.value(e_lo)
            w = add.cell("cmp_window_events", g, between, origin=origin, **{"from": lo, "to": hi})
            ledger.add_sum(e_hi, [e_lo, w])
            ev.append(w)
        out.window_events[k], out.window_at_risk[k] = ev, ar
    plan = protect_more(ledger, pub.plan)
    ext = dataclasses.replace(pub, ledger=ledger, plan=plan, _cache={})
    return ext, out


def _adds_up(ledger: Ledger, total: CellId, parts: Sequence[CellId]) -> bool:
    return abs(ledger.value(total) - sum(ledger.value(p) for p in parts)) < 1e-9


def protect_more(ledger: Ledger, base: Plan, *, level: int = LEVEL_COMPARISON, max_rounds: int = 100) -> Plan:
    """Decide the cells of ``level`` with every earlier decision of ``base`` fixed.

    The rules are the solver's (:func:`analysis.disclosure.solver.protect`): small counts hidden, then
    complementary cells chosen among the new ones (relation by relation, then the linear audit). A fixed cell
    that must be hidden all the same is hidden and named in the plan's notes.
    """
    sensitive = {c for c, why in base.reasons.items() if why == c and base.status.get(c) != SHOWN}
    state = _State(ledger, base.min_cell, sensitive)
    old = set(base.status)
    state.hidden |= {c for c, s in base.status.items() if s != SHOWN}
    state.locked = {c for c, cell in ledger.cells.items() if cell.level < level}
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        state.local_pass(level)
        if not state.audit_pass(level):
            break
    if rounds >= max_rounds:
        state.notes.append("The suppression of the comparison did not settle; its counts are hidden.")
        state.hidden |= {c for c, cell in ledger.cells.items() if cell.published and c not in old}
    status = dict(base.status)
    for cid, cell in ledger.cells.items():
        if not cell.published:
            continue
        if cid in old and base.status[cid] != SHOWN:
            continue
        if cid not in state.hidden:
            status[cid] = SHOWN
        elif 1 <= cell.value < state.m:
            status[cid] = SMALL
        else:
            status[cid] = PROTECT
    broken = [c.text() for c in old if base.status[c] == SHOWN and status[c] != SHOWN]
    notes = list(base.notes) + list(dict.fromkeys(state.notes))
    if broken:
        notes.append("Hidden for the comparison although shown elsewhere: " + ", ".join(broken[:5]) + ".")
    return Plan(base.min_cell, status, tuple(notes), base.rounds + rounds, {**base.reasons, **state.reason})


def publish_cells(name: str, frame: pd.DataFrame, pub: Publication, *, counts: Mapping[str, Sequence] = (),
                  stats: Mapping[str, Sequence[Sequence]] = (), hide: Mapping[str, object] = (),
                  plain: Sequence[str] = ()) -> PublishedTable:
    """A published table whose cells name their ledger cells directly (a table over two groups per row).

    ``counts``: ``{column: [CellId or None per row]}`` (None: not publishable, hidden); the frame's value must
    equal the ledger's. ``stats``: ``{column: [[CellId, ...] per row]}``, hidden when any is not shown (a None
    in the list hides it). ``hide``: ``{column: bool array}``. Columns not named are dropped.
    """
    frame = frame.reset_index(drop=True)
    n = len(frame)
    counts, stats, hide = dict(counts or {}), dict(stats or {}), dict(hide or {})
    keep = [c for c in frame.columns if c in counts or c in stats or c in plain]
    out = frame[keep].copy()
    status = pd.DataFrame(index=frame.index)
    kinds: dict[str, str] = {}
    for col, cids in counts.items():
        st = []
        vals = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        for i in range(n):
            cid = cids[i]
            if cid is None:
                st.append(PROTECT if vals[i] == vals[i] else SHOWN)
                continue
            if cid not in pub.plan.status:
                raise ValueError(f"The count {cid.text()} of table '{name}' is not in the ledger.")
            if vals[i] == vals[i] and abs(pub.ledger.value(cid) - vals[i]) > 1e-6:
                raise ValueError(f"Table '{name}' shows {vals[i]:g} for {cid.text()}, the ledger has "
                                 f"{pub.ledger.value(cid):g}.")
            st.append(pub.plan.status[cid])
        status[col], kinds[col] = st, "count"
    for col, refs in stats.items():
        extra = np.asarray(hide.get(col, np.zeros(n, dtype=bool)), dtype=bool)
        status[col] = [RESTS if extra[i] or any(c is None or pub.plan.status.get(c) != SHOWN for c in refs[i])
                       else SHOWN for i in range(n)]
        kinds[col] = "stat"
    for col in kinds:
        mask = status[col].isin(HIDDEN_STATUSES).to_numpy()
        if mask.any():
            if pd.api.types.is_numeric_dtype(out[col]) or kinds[col] == "count":
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64").mask(mask)
            else:
                out[col] = out[col].astype(object).mask(mask, None)
    return PublishedTable(name, out, status, kinds, pub.min_cell)
