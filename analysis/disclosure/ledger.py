"""The count families of Continuum's outputs, and how they add up (the ledger of one publication).

Each ``_family`` function reads raw frames (:mod:`analysis.disclosure.raw`) and registers cells and
relations. Measures (qualifiers in brackets), all counts of episodes:

=====================  ==========================================================================
episodes, in_treatment, discharged     episodes = in_treatment + discharged
reason (reason)        discharged = sum of reasons; ``basis`` = discharged - transferred (completion)
los_over (days)        discharged stays longer than 30/90/180/365 days (nested: a chain)
with_hours, meeting_minimum            engagement: episodes with hours, scheduled at the ASAM minimum
step_discharged, step_down, flow (to)  step-downs (levels of care only)
followed (origin)      episodes with follow-up from the origin (the n of every survival analysis)
at_risk, relapsed, censored (origin, day)   still at risk *after* the day, relapsed and censored *by*
                       the day: followed = at_risk + relapsed + censored (one partition per day)
relapses_total (origin)                every relapse in follow-up (the "events" of the JSON and Cox)
eligible, reached, relapsed_eligible (origin, horizon)   reach at a horizon
enrolled, left, still_in (day)         retention: still enrolled after the day, discharged and
                       censored (in treatment) by the day: episodes = enrolled + left + still_in
covariate (origin, variable, value), covariate_n (origin, variable)   case mix of the people followed
quarter_discharged, quarter_completed (quarter)   trends by quarter of discharge: completion over all
                       discharges (transfers left out would give away the quarter's few transfers)
quarter_followed, quarter_relapsed (quarter, origin, day)   relapse by the trend horizon among the
                       quarter's discharges: discharged = followed + not followed; followed = relapsed + rest
=====================  ==========================================================================

Quarter cells add up over the quarters to the group's cell of the same people (discharged, completed,
followed, relapsed by the day), so one quarter hidden among shown ones and a shown total is protected.

Every measure of a group also sums to the whole-program cell of the same measure (plus a virtual
"no group value" remainder). Days and horizons of a cumulative measure form chains: the count
between any two days is a virtual cell, so a small one is protected wherever it sits.

Bundles: ``followed`` carries its whole survival analysis (curve, day rows, total relapses): hiding it
hides all of them. The cells of a day row are decided one by one (at risk is the cheapest: the Kaplan-Meier
estimate at the day rests on the relapses by it, not on the number still at risk).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from analysis.cohort import ORIGINS
from analysis.disclosure.cells import PROGRAM, CellId, Ledger, cell_id
from analysis.disclosure.raw import FORCED_DAYS, LOS_DAYS, RETENTION_DAYS, RawResults, Scope
from analysis.schema import LEVELS_OF_CARE

__all__ = ["build_ledger", "COSTS", "forced_counts"]

#: Cost of hiding one cell of each measure (how much a reader loses); default 1.
COSTS: dict[str, float] = {
    "episodes": 4, "discharged": 4, "in_treatment": 2, "basis": 6, "los_over": 2, "with_hours": 2,
    "step_discharged": 2, "step_down": 2, "followed": 30, "at_risk": 2, "relapsed": 5, "censored": 3,
    "relapses_total": 5, "eligible": 2, "reached": 2, "relapsed_eligible": 2, "enrolled": 2, "left": 2,
    "still_in": 2, "covariate_n": 2,
}
_ORIGIN_COST = {"discharge": 1.3, "admission": 1.0}  # the default origin is kept in preference
_DAY_WEIGHT = {0: 1.0, 30: 2.0, 60: 2.0, 90: 3.0, 180: 2.0, 365: 4.0, 545: 0.5, 730: 0.4, 1095: 0.3}


class _Builder:
    def __init__(self, ledger: Ledger, horizons: tuple = ()):
        self.ledger = ledger
        self.horizons = {float(h) for h in horizons}
        self.by_measure: dict[tuple[str, tuple], dict[str, list[CellId]]] = defaultdict(lambda: defaultdict(list))

    def add(self, scope: Scope, measure: str, group: object, count: float, *, published: bool = True,
            **quals: object) -> CellId:
        cid = cell_id(measure, scope.by, group, **quals)
        cost = COSTS.get(measure, 1.0) * _ORIGIN_COST.get(str(quals.get("origin", "")), 1.0)
        if "day" in quals:  # the horizons of the relapse tables, the JSON and the benchmarks go last
            day = float(quals["day"])
            cost *= max(_DAY_WEIGHT.get(day, 1.0), 3.0 if day in self.horizons else 0.0)
        if cid not in self.ledger:
            self.by_measure[(measure, cid.qualifiers)][scope.by].append(cid)
        self.ledger.add(cid, count, published=published, level=scope.level, cost=cost)
        return cid

    def rest(self, scope: Scope, name: str, total: CellId, parts: list[CellId]) -> None:
        """``total = sum(parts) + remainder`` with a virtual remainder named ``name``."""
        rem = CellId(name, total.by, total.group, total.qualifiers)
        self.ledger.add_sum(total, parts, remainder=rem)


def _groups(frame: pd.DataFrame) -> list:
    return list(frame["group"].astype(object))


def forced_counts(km: pd.DataFrame, days=FORCED_DAYS) -> pd.DataFrame:
    """Per group and day: followed, at risk after the day, relapsed and censored by the day, total relapses.

    From a :func:`analysis.survival.km_by_group` frame (deaths count as censored, as in Kaplan-Meier).
    ``at_risk = followed - relapsed - censored`` (people with time > day). Days after a group's last
    follow-up time are left out (they would repeat its totals), unless its curve reached zero (everyone still
    followed relapsed): then nobody is at risk and the totals hold, as R's ``summary(fit, times, extend = TRUE)``.
    """
    rows = []
    for g, k in km.groupby("group", observed=True, sort=False):
        t = k["time"].to_numpy(dtype="float64")
        ev = np.cumsum(k["n_event"].to_numpy(dtype="float64"))
        ce = np.cumsum(k["n_censor"].to_numpy(dtype="float64"))
        n = float(k["n_at_risk"].iloc[0])
        reached_zero = float(k["survival"].iloc[-1]) == 0.0
        kept = [d for d in days if d <= t[-1] or reached_zero]
        last = np.searchsorted(t, np.asarray(kept, dtype="float64"), side="right") - 1
        for d, i in zip(kept, last, strict=True):
            r = ev[i] if i >= 0 else 0.0
            c = ce[i] if i >= 0 else 0.0
            rows.append((g, d, n, n - r - c, r, c, ev[-1]))
    return pd.DataFrame(rows, columns=["group", "day", "followed", "at_risk", "relapsed", "censored",
                                       "relapses_total"])


def _episodes(b: _Builder, scope: Scope, comp: pd.DataFrame, mix: pd.DataFrame) -> None:
    for r in comp.itertuples():
        e = b.add(scope, "episodes", r.group, r.n_episodes)
        i = b.add(scope, "in_treatment", r.group, r.n_in_treatment)
        d = b.add(scope, "discharged", r.group, r.n_discharged)
        b.ledger.add_sum(e, [i, d])
    for g, part in mix.groupby("group", observed=True, sort=False):
        d = cell_id("discharged", scope.by, g)
        reasons = {rr.reason: b.add(scope, "reason", g, rr.n, reason=rr.reason) for rr in part.itertuples()}
        b.rest(scope, "reason_missing", d, list(reasons.values()))
        if "transferred" in reasons:
            basis = b.add(scope, "basis", g, b.ledger.value(d) - b.ledger.value(reasons["transferred"]))
            b.ledger.add_sum(d, [basis, reasons["transferred"]])


def _stay_sizes(b: _Builder, scope: Scope, los: pd.DataFrame) -> None:
    """A file without discharge reasons (durations: a length of stay): per group, episodes = in treatment +
    discharged with a stay + the rest (a virtual remainder: discharged without a recorded stay); the number in
    treatment is not shown there, only what it gives away."""
    for r in los.itertuples():
        e = cell_id("episodes", scope.by, r.group)
        if e not in b.ledger:
            continue
        i = b.add(scope, "in_treatment", r.group, r.n_in_treatment, published=False)
        d = b.add(scope, "discharged", r.group, r.n_discharged)
        b.rest(scope, "stay_missing", e, [i, d])


def _los(b: _Builder, scope: Scope, over: pd.DataFrame) -> None:
    for r in over.itertuples():
        chain = [b.add(scope, "los_over", r.group, getattr(r, f"over_{d}"), days=d) for d in reversed(LOS_DAYS)]
        d = cell_id("discharged", scope.by, r.group)
        if d in b.ledger:
            b.ledger.add_chain([*chain, d], "los_between", key="days")


def _engagement(b: _Builder, scope: Scope, eng: pd.DataFrame) -> None:
    if "n_meeting_minimum" not in eng.columns:
        return
    for r in eng.itertuples():
        w = b.add(scope, "with_hours", r.group, r.n_with_hours)
        e = cell_id("episodes", scope.by, r.group)
        if e in b.ledger:
            b.rest(scope, "without_hours", e, [w])
        if r.n_meeting_minimum == r.n_meeting_minimum:  # defined for levels with a minimum
            m = b.add(scope, "meeting_minimum", r.group, r.n_meeting_minimum)
            b.rest(scope, "below_minimum", w, [m])


def _step_downs(b: _Builder, scope: Scope, rates: pd.DataFrame, flows: pd.DataFrame) -> None:
    rank = {lvl: i for i, lvl in enumerate(LEVELS_OF_CARE)}
    for lvl in LEVELS_OF_CARE:
        part = flows[flows["from_level"] == lvl]
        if part.empty:
            continue
        sd = b.add(scope, "step_discharged", lvl, part["n"].sum())
        d = cell_id("discharged", scope.by, lvl)
        if d in b.ledger:
            b.rest(scope, "no_client_id", d, [sd])
        cells = {r.to_level: b.add(scope, "flow", lvl, r.n, to=r.to_level) for r in part.itertuples()}
        b.ledger.add_sum(sd, list(cells.values()))
        row = rates[rates["group"] == lvl]
        if len(row):
            down = [c for to, c in cells.items() if rank.get(to, -1) > rank[lvl]]
            step = b.add(scope, "step_down", lvl, row["n_step_down"].iloc[0])
            b.ledger.add_sum(step, down)


def _survival(b: _Builder, scope: Scope, origin: str, km: pd.DataFrame, rates: pd.DataFrame,
              days: tuple[float, ...]) -> None:
    counts = forced_counts(km, days)
    for g, part in counts.groupby("group", observed=True, sort=False):
        f = b.add(scope, "followed", g, part["followed"].iloc[0], origin=origin)
        base = cell_id("discharged" if origin == "discharge" else "episodes", scope.by, g)
        if base in b.ledger:
            b.rest(scope, "not_followed", base, [f])
        rel_chain, cen_chain, members = [], [], []
        for r in part.itertuples():
            row = [b.add(scope, m, g, getattr(r, m), origin=origin, day=r.day)
                   for m in ("at_risk", "relapsed", "censored")]
            b.ledger.add_sum(f, row)
            rel_chain.append(row[1])
            cen_chain.append(row[2])
            members += row
        total = b.add(scope, "relapses_total", g, part["relapses_total"].iloc[0], origin=origin)
        b.ledger.add_chain([*rel_chain, total], "relapsed_between")
        b.ledger.add_chain(cen_chain, "censored_between")
        b.rest(scope, "not_relapsed", f, [total])
        b.ledger.bundle(f, [*members, total])
    for g, part in rates.groupby("group", observed=True, sort=False):
        f = cell_id("followed", scope.by, g, origin=origin)
        if f not in b.ledger:
            continue
        eligible = []
        for r in part.itertuples():
            h = int(r.horizon_days) if float(r.horizon_days).is_integer() else float(r.horizon_days)
            el = b.add(scope, "eligible", g, r.n_eligible, origin=origin, horizon=h)
            re = b.add(scope, "reached", g, r.n_reached, origin=origin, horizon=h)
            rl = b.add(scope, "relapsed_eligible", g, r.n_relapsed, origin=origin, horizon=h)
            b.rest(scope, "not_reached", el, [re])
            b.rest(scope, "reached_free", re, [rl])
            km_rel = cell_id("relapsed", scope.by, g, origin=origin, day=h)
            if km_rel in b.ledger:
                b.rest(scope, "relapsed_not_eligible", km_rel, [rl])
            eligible.append(el)
        b.ledger.add_chain([*reversed(eligible), f], "eligible_between", key="horizon")


def _retention(b: _Builder, scope: Scope, km: pd.DataFrame) -> None:
    counts = forced_counts(km, RETENTION_DAYS)
    for g, part in counts.groupby("group", observed=True, sort=False):
        e = cell_id("episodes", scope.by, g)
        followed = float(part["followed"].iloc[0])
        if e not in b.ledger:
            e = b.add(scope, "episodes", g, followed)
        elif b.ledger.value(e) != followed:  # episodes without a length of stay are not in the retention curve
            base = b.add(scope, "retention_followed", g, followed, published=False)
            b.rest(scope, "retention_not_recorded", e, [base])
            e = base
        left, still = [], []
        for r in part.itertuples():
            # only the number still enrolled is shown; discharged / censored by the day are remainders
            row = [b.add(scope, "enrolled", g, r.at_risk, day=r.day),
                   b.add(scope, "left", g, r.relapsed, published=False, day=r.day),
                   b.add(scope, "still_in", g, r.censored, published=False, day=r.day)]
            b.ledger.add_sum(e, row)
            left.append(row[1])
            still.append(row[2])
        b.ledger.add_chain(left, "left_between")
        b.ledger.add_chain(still, "still_in_between")


def _casemix(b: _Builder, scope: Scope, origin: str, counts: pd.DataFrame) -> None:
    for (g, var), part in counts.groupby(["group", "variable"], observed=True, sort=False):
        cells = [b.add(scope, "covariate", g, r.n, variable=var, value=r.value, origin=origin)
                 for r in part.itertuples()]
        n = b.add(scope, "covariate_n", g, part["n"].sum(), variable=var, origin=origin)
        b.ledger.add_sum(n, cells)
        f = cell_id("followed", scope.by, g, origin=origin)
        if f in b.ledger:
            b.rest(scope, "covariate_missing", f, [n])


def _exact_or_rest(b: _Builder, total: CellId, parts: list[CellId], name: str) -> None:
    """``total = sum(parts)``: exact when nothing is left over (an attacker knows the definitions), else with a
    virtual remainder."""
    left = b.ledger.value(total) - sum(b.ledger.value(p) for p in parts)
    if abs(left) < 1e-9:
        b.ledger.add_sum(total, parts)
    else:
        b.ledger.add_sum(total, parts, remainder=CellId(name, total.by, total.group, total.qualifiers))


def _trends(b: _Builder, scope: Scope, trend) -> None:
    """Quarterly trends (:func:`analysis.trends.quarterly_trends`, quarters of discharge)."""
    t = trend.table
    h, origin = int(trend.horizon_days), trend.origin
    per_group: dict[object, dict[str, list[CellId]]] = defaultdict(lambda: defaultdict(list))

    def rows(metric):
        part = t[t["metric"] == metric]
        return {(str(r.group), str(r.period)): r for r in part.itertuples()}

    # Completion by quarter is over all discharges: with transfers left out, the quarter's denominator beside
    # its discharges would give away its transfers, a handful per level and quarter.
    comp_all, rel = rows("completion_all"), rows("relapse")
    for (g, q), r in comp_all.items():
        d = b.add(scope, "quarter_discharged", g, r.n, quarter=q)
        c = b.add(scope, "quarter_completed", g, r.n_events, quarter=q)
        parts = per_group[g]
        parts["discharged"].append(d)
        parts["completed"].append(c)
        b.rest(scope, "quarter_not_completed", d, [c])
        if (g, q) in rel:
            rr = rel[(g, q)]
            f = b.add(scope, "quarter_followed", g, rr.n, quarter=q, origin=origin)
            e = b.add(scope, "quarter_relapsed", g, rr.n_events, quarter=q, origin=origin, day=h)
            b.rest(scope, "quarter_not_followed", d, [f])
            b.rest(scope, "quarter_not_relapsed", f, [e])
            parts["followed"].append(f)
            parts["relapsed"].append(e)
    for g, parts in per_group.items():
        totals = {"discharged": cell_id("discharged", scope.by, g),
                  "completed": cell_id("reason", scope.by, g, reason="completed"),
                  "followed": cell_id("followed", scope.by, g, origin=origin),
                  "relapsed": cell_id("relapsed", scope.by, g, origin=origin, day=h)}
        for key, total in totals.items():
            if parts.get(key) and total in b.ledger:
                _exact_or_rest(b, total, parts[key], f"quarter_{key}_no_quarter")


def _program_sums(b: _Builder) -> None:
    """Every group cell adds up to the whole-program cell of the same measure (+ "no group" remainder)."""
    for (measure, quals), by_scope in b.by_measure.items():
        if PROGRAM not in by_scope:
            continue
        total = by_scope[PROGRAM][0]
        for scope_by, parts in by_scope.items():
            if scope_by == PROGRAM:
                continue
            rem = CellId(f"{measure}_no_group", scope_by, PROGRAM, quals)
            b.ledger.add_sum(total, parts, remainder=rem)


def build_ledger(raw: RawResults) -> Ledger:
    """All cells and relations of the publication of ``raw``."""
    b = _Builder(Ledger(), raw.horizons)
    for scope in raw.scopes:
        for r in raw.sizes[scope.by].itertuples():  # the size of every group, whatever else the file records
            b.add(scope, "episodes", r.group, r.n_episodes)
        if scope.by in raw.completion:
            _episodes(b, scope, raw.completion[scope.by], raw.mix[scope.by])
        elif scope.by in raw.los:  # no discharge reasons: the stay table's discharged are the cells
            _stay_sizes(b, scope, raw.los[scope.by])
        if scope.by in raw.los_over:
            _los(b, scope, raw.los_over[scope.by])
        if scope.by in raw.engagement:
            _engagement(b, scope, raw.engagement[scope.by])
        for origin in ORIGINS:
            if (scope.by, origin) in raw.km:
                _survival(b, scope, origin, raw.km[(scope.by, origin)], raw.relapse[(scope.by, origin)],
                          raw.forced_days)
            if (scope.by, origin) in raw.casemix:
                _casemix(b, scope, origin, raw.casemix[(scope.by, origin)])
        if scope.by in raw.retention_km:
            _retention(b, scope, raw.retention_km[scope.by])
        if scope.by == "level_of_care" and raw.step_flows is not None:
            _step_downs(b, scope, raw.step_rates, raw.step_flows)
        if scope.by in raw.trends:
            _trends(b, scope, raw.trends[scope.by])
    _program_sums(b)
    return b.ledger

