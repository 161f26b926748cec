"""Which published counts to hide: primary and complementary suppression over a whole ledger (CMS rule).

Rules, for threshold ``m`` (counts ``1 .. m - 1`` are small):

1. **Primary**: a published count from 1 to ``m - 1`` is hidden (status ``"small"``). Zero is shown.
   Cells named *sensitive* by the caller (a count whose difference to a wider filter setting is small)
   are hidden too (status ``"protect"``). Virtual cells (never shown) that are small are sensitive.
2. **Complementary**, relation by relation, until nothing changes: an *unknown* is a hidden cell or a
   non-zero virtual one (a virtual zero is treated as known: an attacker may guess it).

   a. A relation with exactly one unknown that is sensitive gives it away: hide one more cell.
   b. When every unknown of a relation stands on the same side (parts of a shown total), their sum
      is known: it is a count of people (the union), so it must be 0 or at least ``m``: hide more.

   The cell hidden is the cheapest one of the relation (``Cell.cost`` of its whole bundle), then
   the smallest, so the fewest and least useful cells go.
3. **Audit**: a sensitive unknown must not be determined by all relations together. The null space
   of the relation matrix restricted to the unknowns is computed (SVD); an unknown with no component
   in it is determined. For each, one more cell of one of its relations is hidden, the one that
   frees it at the lowest cost, and the rules run again.

Last, a hidden cell that the relations pin down anyway (with its whole bundle) is shown again: hiding
it protects nothing.

Levels (see :mod:`analysis.disclosure.cells`) are solved in order, each with the earlier decisions
fixed, so a whole-program count has one fate whatever the grouping. If a relation can be repaired only
by hiding a fixed cell, it is hidden anyway (safety first) and the plan says so in ``notes``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from analysis.disclosure.audit import LinearAudit
from analysis.disclosure.cells import CellId, Ledger

__all__ = ["Plan", "protect", "SMALL", "PROTECT", "SHOWN"]

SHOWN, SMALL, PROTECT = "shown", "small", "protect"


@dataclass(frozen=True)
class Plan:
    """The decision for every cell: ``status[cid]`` is ``"shown"``, ``"small"`` or ``"protect"``.

    ``notes``: sentences about fixes that broke the level order (normally empty).
    ``rounds``: solver passes (local rules + audit), for the record.
    """

    min_cell: int
    status: dict[CellId, str]
    notes: tuple[str, ...] = ()
    rounds: int = 0
    reasons: dict[CellId, CellId] = field(default_factory=dict)

    def shown(self, cid: CellId) -> bool:
        return self.status.get(cid) == SHOWN

    def hidden(self) -> list[CellId]:
        return [c for c, s in self.status.items() if s != SHOWN]


class _State:
    def __init__(self, ledger: Ledger, min_cell: int, sensitive: set[CellId]):
        self.ledger = ledger
        self.m = min_cell
        self.cells = ledger.cells
        self.hidden: set[CellId] = set()
        self.virtual_unknown = {c.id for c in self.cells.values() if not c.published and c.value != 0}
        self.sensitive: set[CellId] = set()
        self.reason: dict[CellId, CellId] = {}
        self.locked: set[CellId] = set()
        self.notes: list[str] = []
        self._by_level: dict[int, list[dict[CellId, int]]] = {}
        self._null_spaces: dict = {}  # the audits' null spaces by block matrix (analysis.disclosure.audit)
        self.aliases: dict[CellId, set[CellId]] = {}
        for rel in ledger.relations:  # x - y (- virtual zeros) = 0: two names of one count, hidden together
            live = {c: k for c, k in rel.items() if self.cells[c].published or self.cells[c].value != 0}
            if len(live) == 2 and all(self.cells[c].published for c in live) and sum(live.values()) == 0:
                x, y = live
                self.aliases.setdefault(x, set()).add(y)
                self.aliases.setdefault(y, set()).add(x)
        self.by_cell: dict[CellId, list[int]] = {}
        for i, rel in enumerate(ledger.relations):
            for c in rel:
                self.by_cell.setdefault(c, []).append(i)
        for c in self.cells.values():
            small = 1 <= c.value < min_cell
            if c.published and (small or c.id in sensitive):
                self.sensitive.add(c.id)
                self.hide(c.id, c.id)
            elif not c.published and small:
                self.sensitive.add(c.id)

    def unknown(self, cid: CellId) -> bool:
        return cid in self.hidden or cid in self.virtual_unknown

    def closure(self, cid: CellId) -> list[CellId]:
        out, todo = [], [cid]
        while todo:
            c = todo.pop()
            if c in out or c in self.hidden:
                continue
            out.append(c)
            todo.extend(self.cells[c].bundle)
            todo.extend(self.aliases.get(c, ()))
        return out

    def hide(self, cid: CellId, because: CellId) -> None:
        for c in self.closure(cid):
            self.hidden.add(c)
            self.reason.setdefault(c, because)

    def candidates(self, rel: dict[CellId, int], level: int, *, allow_locked: bool = False) -> list[CellId]:
        """Shown, published, non-zero cells of the relation, cheapest first."""
        out = []
        for c in rel:
            cell = self.cells[c]
            if not cell.published or c in self.hidden or cell.value == 0 or cell.level > level:
                continue
            if c in self.locked and not allow_locked:
                continue
            out.append(c)
        return sorted(out, key=lambda c: (sum(self.cells[x].cost for x in self.closure(c)), self.cells[c].value,
                                          c))

    def violation(self, rel: dict[CellId, int], derived: dict[CellId, dict[CellId, int]]) -> CellId | None:
        """The sensitive cell a relation gives away (rule 2a / 2b), or None; ``derived`` counts as known."""
        unk = [c for c in rel if self.unknown(c) and c not in derived]
        if not unk:
            return None
        if len(unk) == 1:
            return unk[0] if unk[0] in self.sensitive else None
        signs = {np.sign(rel[c]) for c in unk}
        if len(signs) == 1:
            union = sum(abs(rel[c]) * self.cells[c].value for c in unk)
            if 1 <= union < self.m:
                return min(unk, key=lambda c: self.cells[c].value)
        return None

    def local_pass(self, level: int) -> bool:
        """Rules 2a/2b until stable; True if anything was hidden.

        An unknown that is the only unknown of a relation is *derived* (an attacker solves that
        relation) and counts as known in every other relation, so a chain of single-unknown
        relations is followed to its end. When a leak involves derived cells, the cells of the
        relations that derived them are candidates too (breaking the chain anywhere will do).
        """
        rels = self._relations(level)
        any_change = False
        for rel in rels:  # first the obvious repairs, relation by relation (no derivations yet)
            while (victim := self.violation(rel, {})) is not None:
                cand = sorted(self.candidates(rel, level), key=lambda c, r=rel: self._pinned_elsewhere(c, r))
                if not cand:
                    break
                self.hide(cand[0], victim)
                any_change = True
        while True:
            derived = self._derive(rels)
            fixed = False
            for rel in rels:
                victim = self.violation(rel, derived)
                if victim is None:
                    continue
                cand = sorted(self._trace_candidates(rel, derived, level), key=lambda c: self._pinned_elsewhere(c, rel))
                if not cand:
                    cand = self.candidates(rel, level, allow_locked=True)
                    if cand:
                        self.notes.append(f"{cand[0].text()} hidden here although decided at an earlier level.")
                if not cand:
                    self.notes.append(f"No cell left to protect {victim.text()}.")
                    continue
                self.hide(cand[0], victim)
                fixed = any_change = True
                break  # derivations change: start again
            if not fixed:
                return any_change

    def _pinned_elsewhere(self, cid: CellId, rel: dict[CellId, int]) -> bool:
        """Whether hiding ``cid`` is pointless: another relation holds it with every other cell known."""
        for i in self.by_cell.get(cid, []):
            other = self.ledger.relations[i]
            if other is not rel and all(c == cid or not self.unknown(c) for c in other):
                return True
        return False

    def _trace_candidates(self, rel: dict[CellId, int], derived: dict[CellId, dict[CellId, int]],
                          level: int) -> list[CellId]:
        """Shown cells of ``rel`` and of the relations that derived its derived cells, cheapest first."""
        out: list[CellId] = []
        todo, seen = [rel], set()
        while todo and len(seen) < 50:
            r = todo.pop()
            if id(r) in seen:
                continue
            seen.add(id(r))
            out.extend(c for c in self.candidates(r, level) if c not in out)
            todo.extend(derived[c] for c in r if c in derived)
        return sorted(out, key=lambda c: (sum(self.cells[x].cost for x in self.closure(c)), self.cells[c].value, c))

    def _derive(self, rels: list[dict[CellId, int]]) -> dict[CellId, dict[CellId, int]]:
        """Non-sensitive unknowns an attacker solves from relations with one unknown, to a fixed point,
        each with the relation that gives it (a queue over relations with one open unknown)."""
        derived: dict[CellId, dict[CellId, int]] = {}
        open_unk: list[list[CellId]] = []
        where: dict[CellId, list[int]] = {}
        for i, rel in enumerate(rels):
            unk = [c for c in rel if self.unknown(c)]
            open_unk.append(unk)
            for c in unk:
                where.setdefault(c, []).append(i)
        left = [len(u) for u in open_unk]
        queue = [i for i, n in enumerate(left) if n == 1]
        while queue:
            i = queue.pop()
            if left[i] != 1:
                continue
            c = next(x for x in open_unk[i] if x not in derived)
            if c in self.sensitive:
                continue
            derived[c] = rels[i]
            for j in where[c]:
                left[j] -= 1
                if left[j] == 1:
                    queue.append(j)
        return derived

    def _relations(self, level: int) -> list[dict[CellId, int]]:
        if level not in self._by_level:
            rels = [r for r in self.ledger.relations if all(self.cells[c].level <= level for c in r)]
            # relations within one group first, sums across groups last: complementary cells chosen
            # inside groups often protect the cross-group sums as well
            rels.sort(key=lambda r: (len({(c.by, c.group) for c in r}), len(r)))
            self._by_level[level] = rels
        return self._by_level[level]

    # ------------------------------------------------------------------ audit
    def _audit(self, relations: list[dict[CellId, int]]) -> LinearAudit:
        unknown = {c for r in relations for c in r if self.unknown(c)}
        absorbing = {c for c in unknown if not self.cells[c].published}
        return LinearAudit(relations, unknown, absorbing, self._null_spaces)

    def determined(self, level: int, targets: Iterable[CellId] | None = None) -> list[CellId]:
        """Sensitive unknowns (or ``targets``) that the relations of the level pin down exactly."""
        wanted = self.sensitive if targets is None else set(targets)
        audit = self._audit(self._relations(level))
        return sorted(audit.determined(c for c in wanted if self.unknown(c)))

    def audit_pass(self, level: int) -> bool:
        """Rule 3: free the first determined sensitive cell.

        The relations of a derivation of the target (:meth:`LinearAudit.support`) are the ones the
        attacker combines; their shown cells are the candidates, cheapest first. The first whose
        hiding frees the target (checked on the relations around it) is kept; else the cheapest one
        that is not itself determined once hidden (it adds a real unknown). The next pass re-checks
        everything on the whole level.
        """
        audit = self._audit(self._relations(level))
        pinned = sorted(audit.determined(c for c in self.sensitive if self.unknown(c)))
        if not pinned:
            return False
        target = pinned[0]
        support = [audit.rels[i] for i in audit.support(target)]
        cands: list[CellId] = []
        for rel in support:
            cands.extend(c for c in self.candidates(rel, level) if c not in cands)
        if not cands:
            self.notes.append(f"{target.text()} cannot be protected within its level.")
            return False
        cands.sort(key=lambda c: (sum(self.cells[x].cost for x in self.closure(c)), self.cells[c].value, c))
        fallback = None
        for c in cands[:25]:
            saved = set(self.hidden)
            self.hide(c, target)
            near = self._around([target, *self.closure_hidden(c)], level)
            local = self._audit(near)
            if not local.determined([target]):
                return True
            if fallback is None and not local.determined([c]):
                fallback = c
            self.hidden = saved
        self.hide(fallback if fallback is not None else cands[0], target)
        return True

    def reveal_derivable(self) -> None:
        """Show again hidden cells an attacker computes anyway (their whole bundle determined):
        hiding them protects nothing and only costs the reader."""
        levels = sorted({c.level for c in self.cells.values()})
        audit = self._audit(self._relations(levels[-1])) if levels else None
        if audit is None:
            return
        for cid in sorted(self.hidden):
            if cid in self.sensitive or cid not in self.hidden:
                continue
            group = [c for c in self.closure_hidden(cid) if self.cells[c].published]
            if all(c not in self.sensitive and c in audit.index and not audit.free.get(c, True) for c in group):
                self.hidden -= set(group)

    def closure_hidden(self, cid: CellId) -> list[CellId]:
        """The cells hidden together with ``cid`` (itself, its bundle and aliases), already hidden or not."""
        out, todo = [], [cid]
        while todo:
            c = todo.pop()
            if c in out:
                continue
            out.append(c)
            todo.extend(self.cells[c].bundle)
            todo.extend(self.aliases.get(c, ()))
        return out

    def _around(self, seeds: list[CellId], level: int, hops: int = 3) -> list[dict[CellId, int]]:
        """Relations of the level within ``hops`` steps of the seeds, moving through unknown cells."""
        seen_rel: set[int] = set()
        frontier = [c for c in seeds if self.unknown(c)]
        seen_cell = set(frontier)
        for _ in range(hops):
            nxt = []
            for c in frontier:
                for i in self.by_cell.get(c, []):
                    if i in seen_rel:
                        continue
                    rel = self.ledger.relations[i]
                    if any(self.cells[x].level > level for x in rel):
                        continue
                    seen_rel.add(i)
                    for x in rel:
                        if x not in seen_cell and self.unknown(x) and self.cells[x].published:
                            seen_cell.add(x)
                            nxt.append(x)
            frontier = nxt
        return [self.ledger.relations[i] for i in sorted(seen_rel)]


def protect(ledger: Ledger, min_cell: int, *, sensitive: Iterable[CellId] = (),
            max_rounds: int = 200) -> Plan:
    """Decide which cells of ``ledger`` to hide (see the module docstring).

    Parameters
    ----------
    ledger : Ledger
        Cells and relations of the publication.
    min_cell : int
        Smallest count shown (counts ``1 .. min_cell - 1`` are hidden).
    sensitive : iterable of CellId
        Published cells to hide whatever their value (e.g. because they differ from the same cell of
        a wider filter setting by a small count).

    Returns
    -------
    Plan
    """
    state = _State(ledger, int(min_cell), set(sensitive))
    levels = sorted({c.level for c in ledger.cells.values()})
    rounds = 0
    for level in levels:
        while rounds < max_rounds:
            rounds += 1
            state.local_pass(level)
            if not state.audit_pass(level):
                break
        state.locked |= {c for c, cell in state.cells.items() if cell.level <= level}
    if rounds >= max_rounds:
        state.notes.append("The suppression did not settle; every count of the publication is hidden.")
        state.hidden |= {c for c, cell in state.cells.items() if cell.published}
    state.reveal_derivable()
    status = {}
    for cid, cell in state.cells.items():
        if not cell.published:
            continue
        if cid not in state.hidden:
            status[cid] = SHOWN
        elif 1 <= cell.value < state.m:
            status[cid] = SMALL
        else:
            status[cid] = PROTECT
    return Plan(state.m, status, tuple(dict.fromkeys(state.notes)), rounds, dict(state.reason))
