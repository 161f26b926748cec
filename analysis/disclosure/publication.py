"""One publication: everything that may be shown for one cohort, grouping and threshold, decided once.

:meth:`Publication.build` computes the raw results (:mod:`analysis.disclosure.raw`), the ledger of
their counts (:mod:`analysis.disclosure.ledger`) and the plan (:func:`analysis.disclosure.solver.protect`)
for both time origins at once, so that switching the origin, the page or the output (page, CSV,
JSON, report) never shows a count that another one hides.

**Filter settings.** A view with filters is compared with each *wider* setting one step away
(a value added to a filter, a filter removed, a date bound moved out; see
:mod:`analysis.disclosure.neighbours`). The episodes in the difference are counted with the same
ledger: a view whose difference from a wider one is 1 to ``min_cell - 1`` episodes is refused
(:class:`DisclosureRefused`); otherwise every count whose difference is that small is hidden here
(status ``"protect"``), and curve corners where the difference is that small are not drawn. The
wider setting is never changed, so the pair never shows both numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.counts import as_counts
from analysis.disclosure.cells import PROGRAM, CellId, Ledger, cell_id
from analysis.disclosure.curves import publish_cif, publish_km
from analysis.disclosure.ledger import build_ledger
from analysis.disclosure.raw import RETENTION_DAYS, RawResults, compute_raw
from analysis.disclosure.solver import SHOWN, Plan, protect
from analysis.disclosure.tables import PublishedTable, TableSpec, publish_table
from analysis.relapse import DEFAULT_HORIZONS
from analysis.suppression import DEFAULT_MIN_CELL

__all__ = ["Publication", "PublishedCount", "DisclosureRefused", "Neighbour"]


class DisclosureRefused(ValueError):
    """The view differs from a wider filter setting by 1 to ``min_cell - 1`` episodes."""


@dataclass(frozen=True)
class Neighbour:
    """A wider filter setting one step away: its description and the episodes it adds (raw cohort rows, or
    an engine's :class:`analysis.counts.EngineCounts` of them)."""

    label: str
    added: object


@dataclass(frozen=True)
class PublishedCount:
    """One count as published: ``value`` (None when hidden) and ``status``."""

    value: float | None
    status: str

    @property
    def shown(self) -> bool:
        return self.status == SHOWN


def _size(added) -> int:
    """Episodes a wider setting adds: a pandas frame's rows, or a counted cohort's episodes."""
    return len(added) if isinstance(added, pd.DataFrame) else int(added.n_episodes)


def _limit_threads():
    """BLAS threads fight over the cores of a busy server; the solver's SVDs are small: use one."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


@dataclass(frozen=True, eq=False)
class Publication:
    """Raw results, ledger and plan of one cohort (see the module docstring)."""

    by: str
    min_cell: int
    raw: RawResults
    ledger: Ledger
    plan: Plan
    neighbour_raw: tuple[RawResults, ...] = ()
    neighbour_labels: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, cohort, *, by: str = "level_of_care", min_cell: int = DEFAULT_MIN_CELL,
              neighbours: Sequence[Neighbour] = (), horizons: Sequence[float] = DEFAULT_HORIZONS,
              days: Sequence[float] | None = None, memo=None) -> Publication:
        """Compute and protect everything for ``cohort`` (a pandas cohort, or an engine's cohort as
        :class:`analysis.counts.EngineCounts`) grouped by ``by``. ``memo``: an object whose ``compute_raw`` and
        ``build_ledger`` stand in for those functions (``ui.raw_memo`` shares results between filter settings).

        Raises
        ------
        DisclosureRefused
            A wider filter setting adds 1 to ``min_cell - 1`` episodes.
        ValueError
            No episodes, or a grouping column the cohort does not have.
        """
        raw_of = compute_raw if memo is None else memo.compute_raw
        ledger_of = build_ledger if memo is None else memo.build_ledger
        counts = as_counts(cohort)
        if counts.n_episodes == 0:
            raise ValueError("No episodes match the selection.")
        if by not in counts.columns:
            raise ValueError(f"There is no column '{by}' to group by.")
        for nb in neighbours:
            if 0 < _size(nb.added) < min_cell:
                raise DisclosureRefused(
                    f"This selection leaves out fewer than {min_cell} episodes compared with {nb.label}, so "
                    "comparing the two would show counts about those few people. Choose a wider or a narrower "
                    "selection.")
        raw = raw_of(cohort, by, horizons=horizons, days=days)
        ledger = ledger_of(raw)
        n_raw = []
        sensitive: set[CellId] = set()
        for nb in neighbours:
            if _size(nb.added) == 0:
                continue
            nraw = raw_of(nb.added, by, horizons=horizons, days=days)
            nled = ledger_of(nraw)
            for cid, cell in ledger.cells.items():
                if not cell.published:
                    continue
                other = nled.cells.get(cid)
                if other is not None and 1 <= other.value < min_cell:
                    sensitive.add(cid)
            n_raw.append(nraw)
        with _limit_threads():
            plan = protect(ledger, min_cell, sensitive=sensitive)
        return cls(by, int(min_cell), raw, ledger, plan, tuple(n_raw), tuple(nb.label for nb in neighbours))

    # ------------------------------------------------------------------ reading the plan
    def status(self, cid: CellId) -> str:
        return self.plan.status.get(cid, "missing")

    def shown(self, cid: CellId) -> bool:
        return self.plan.status.get(cid) == SHOWN

    def count(self, measure: str, group: object = PROGRAM, by: str | None = None, **quals) -> PublishedCount:
        """A single count (a metric, a caption); ``by`` defaults to the publication's grouping."""
        b = PROGRAM if group == PROGRAM else (by or self.by)
        cid = cell_id(measure, b, group, **quals)
        if cid not in self.plan.status:
            raise ValueError(f"The count {cid.text()} is not in the ledger.")
        st = self.plan.status[cid]
        return PublishedCount(self.ledger.value(cid) if st == SHOWN else None, st)

    def table(self, spec: TableSpec) -> PublishedTable:
        """Publish a raw table (:func:`analysis.disclosure.tables.publish_table`)."""
        values = self._cache.get("_values")
        if values is None:  # (once per publication: the trends view publishes a table per metric and scope)
            values = self._cache["_values"] = {c: cell.value for c, cell in self.ledger.cells.items()}
        return publish_table(spec, self.plan, values)

    def groups(self, by: str | None = None, origin: str | None = None) -> list:
        """Groups of ``by`` whose size is shown: ``followed`` from the origin, else the episodes."""
        by = by or self.by
        if origin is not None:
            km = self.raw.km.get((by, origin))
            if km is None:
                return []
            return [g for g in km["group"].cat.categories if self.shown(cell_id("followed", by, g, origin=origin))]
        groups = list(self.raw.sizes[by]["group"])
        return [g for g in groups if self.shown(cell_id("episodes", by, g))]

    def at_risk_at(self, by: str, origin: str, group, day: float) -> float:
        """People at risk *at* the day (time >= day, R's ``n.risk``): the truncation rule's number, never shown."""
        km = self.raw.km.get((by, origin))
        if km is None:
            return 0.0
        k = km[km["group"].astype(object) == group]
        later = k[k["time"] >= float(day)]
        return float(later["n_at_risk"].iloc[0]) if len(later) else 0.0

    # ------------------------------------------------------------------ curves
    def _blocked(self, by: str, origin: str | None, kind: str) -> dict:
        """Per group, curve times at which a wider filter setting differs by a small count."""
        out: dict = {}
        for nraw in self.neighbour_raw:
            km = nraw.retention_km.get(by) if kind == "retention" else nraw.km.get((by, origin))
            mine = self.raw.retention_km.get(by) if kind == "retention" else self.raw.km.get((by, origin))
            if km is None or mine is None:
                continue
            for g, k in km.groupby("group", observed=True, sort=False):
                t = k["time"].to_numpy(dtype="float64")
                ce = np.cumsum(k["n_event"].to_numpy(dtype="float64"))
                cc = np.cumsum(k["n_censor"].to_numpy(dtype="float64"))
                total = float(k["n_at_risk"].iloc[0])
                cand = mine.loc[mine["group"].astype(object) == g, "time"].to_numpy(dtype="float64")
                i = np.searchsorted(t, cand, side="right") - 1
                e = np.where(i >= 0, ce[np.maximum(i, 0)], 0.0)
                c = np.where(i >= 0, cc[np.maximum(i, 0)], 0.0)
                small = np.zeros(len(cand), dtype=bool)
                for v in (e, c, total - e - c):
                    small |= (v >= 1) & (v < self.min_cell)
                out.setdefault(g, set()).update(cand[small].tolist())
        return out

    def _anchors(self, measure_rows: Sequence[str], by: str, groups: Sequence, days: Sequence[int],
                 **quals) -> dict:
        out = {}
        for g in groups:
            out[g] = [d for d in days if all(self.shown(cell_id(m, by, g, day=d, **quals)) for m in measure_rows)]
        return out

    def km(self, origin: str, by: str | None = None) -> pd.DataFrame:
        """Published Kaplan-Meier curves (relapse-free) from ``origin`` for the visible groups."""
        by = by or self.by
        key = ("km", by, origin)
        if key not in self._cache:
            km = self.raw.km.get((by, origin))
            if km is None:
                self._cache[key] = pd.DataFrame(columns=["group", "time", "n_at_risk", "n_event", "n_censor",
                                                         "survival", "ci_lower", "ci_upper"])
            else:
                groups = self.groups(by, origin)
                followed = {g: self.ledger.value(cell_id("followed", by, g, origin=origin)) for g in groups}
                days = self.raw.forced_days
                anchors = self._anchors(("at_risk", "relapsed", "censored"), by, groups, days, origin=origin)
                blocked = self._blocked(by, origin, "km")
                for g in groups:  # a day whose number at risk is hidden is never a corner (it would show it)
                    blocked.setdefault(g, set()).update(
                        float(d) for d in days if cell_id("at_risk", by, g, origin=origin, day=d) in self.ledger
                        and not self.shown(cell_id("at_risk", by, g, origin=origin, day=d)))
                self._cache[key] = publish_km(km, followed=followed, anchors=anchors, min_cell=self.min_cell,
                                              blocked=blocked)
        return self._cache[key]

    def retention(self, by: str | None = None) -> pd.DataFrame:
        """Published retention curves (still in treatment by day since admission) for the visible groups."""
        by = by or self.by
        key = ("retention", by)
        if key not in self._cache:
            km = self.raw.retention_km.get(by)
            if km is None:
                return pd.DataFrame(columns=["group", "time", "n_at_risk", "n_event", "n_censor", "survival",
                                             "ci_lower", "ci_upper"])
            groups = [g for g in km["group"].cat.categories if self.shown(cell_id("episodes", by, g))]
            followed = {g: self.ledger.value(cell_id("episodes", by, g)) for g in groups}
            anchors = self._anchors(("enrolled",), by, groups, RETENTION_DAYS)
            self._cache[key] = publish_km(km, followed=followed, anchors=anchors, min_cell=self.min_cell,
                                          blocked=self._blocked(by, None, "retention"))
        return self._cache[key]

    def cif(self, origin: str, by: str | None = None) -> pd.DataFrame:
        """Published cumulative incidence (relapse, death) at a subset of the published KM corners."""
        from analysis.survival import cumulative_incidence

        by = by or self.by
        data = self.raw.survival_data.get((by, origin))
        km = self.km(origin, by)
        if data is None or km.empty:
            return pd.DataFrame(columns=["group", "time", "n_at_risk", "cif_relapse", "ci_lower", "ci_upper",
                                         "cif_death"])
        keep = data["group"].isin(list(km["group"].cat.categories))
        sub = data[keep].copy()
        sub["group"] = sub["group"].cat.set_categories(list(km["group"].cat.categories))
        cif = cumulative_incidence(sub, time_col="time", event_col="event", group_col="group", weight_col="n")
        deaths = {}
        for g, part in sub[sub["event"] == 2].groupby("group", observed=True):
            counts = part.groupby("time")["n"].sum().sort_index()
            deaths[g] = (counts.index.to_numpy(dtype="float64"), counts.to_numpy(dtype="float64"))
        for g in km["group"].cat.categories:
            deaths.setdefault(g, (np.array([]), np.array([])))
        return publish_cif(cif, km, deaths, self.min_cell)

    def at_risk_table(self, origin: str, days: Sequence[int], by: str | None = None) -> PublishedTable:
        """Numbers still at risk after each day, relapsed and censored by it (a day row is shown whole or not)."""
        from analysis.disclosure.ledger import forced_counts

        by = by or self.by
        km = self.raw.km.get((by, origin))
        frame = forced_counts(km, [int(d) for d in days]) if km is not None else pd.DataFrame(
            columns=["group", "day", "followed", "at_risk", "relapsed", "censored", "relapses_total"])
        frame = frame[frame["day"].isin([d for d in days if d in self.raw.forced_days])].reset_index(drop=True)
        spec = TableSpec(f"at_risk_{origin}", frame, by, quals={"origin": origin, "day": "day"},
                         counts={"at_risk": "at_risk", "relapsed": "relapsed", "censored": "censored"},
                         plain=("day",))
        return self.table(spec)

    def visible_note(self, by: str | None, origin: str | None, what: str) -> str | None:
        """A sentence naming the groups left out of a test or model because their size is hidden."""
        from analysis.disclosure.format import group_text as group_label

        by = by or self.by
        shown = set(self.groups(by, origin))
        if origin is not None:
            km = self.raw.km.get((by, origin))
            every = list(km["group"].cat.categories) if km is not None else []
        else:
            every = list(self.raw.sizes[by]["group"])
        left = [group_label(g) for g in every if g not in shown]
        if not left:
            return None
        return (f"{what} computed without {', '.join(left)}: fewer than {self.min_cell} people there, or their "
                "number is hidden to protect a small count.")

