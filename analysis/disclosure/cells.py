"""The ledger: every count of people a publication can show, and the linear relations between them.

A *cell* is a count of people (episodes) in a set: "IOP episodes discharged", "relapses by day 90
from discharge among residential episodes". It is identified by a :class:`CellId` (a measure name,
the grouping column and group, and qualifiers such as the origin or the day), so the same count
shown by two tables, two pages or the JSON is one cell with one decision.

A *relation* is an exact linear equation between cells, ``sum(coef * cell) == 0``; the usual one
is a total and its parts (:meth:`Ledger.add_sum`). Parts that no table shows (episodes with no group
value, people not reached at a horizon, relapses between two days) are *virtual* cells: never
published, but counts of people all the same, so a small one must not be derivable either.

The solver (:mod:`analysis.disclosure.solver`) reads the ledger and decides which published cells
to hide. Levels make decisions consistent across groupings: cells of level 0 (the whole program)
are decided first, from relations among themselves only, then level 1 (levels of care), then level 2
(any other grouping column), each with the earlier levels fixed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["CellId", "Cell", "Ledger", "cell_id", "PROGRAM", "LEVEL_PROGRAM", "LEVEL_CARE", "LEVEL_GROUP"]

PROGRAM = "*"
"""Grouping column and group of whole-program cells."""
LEVEL_PROGRAM, LEVEL_CARE, LEVEL_GROUP = 0, 1, 2


class CellId(NamedTuple):
    """Identity of a count: ``measure`` for ``group`` of grouping column ``by``, with ``qualifiers``."""

    measure: str
    by: str
    group: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        """Readable form: ``"discharged[level_of_care=iop]"`` or ``"at_risk[*, origin=discharge, day=90]"``."""
        where = "*" if self.by == PROGRAM else f"{self.by}={self.group}"
        quals = "".join(f", {k}={v}" for k, v in self.qualifiers)
        return f"{self.measure}[{where}{quals}]"


def _qual_value(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def cell_id(measure: str, by: str = PROGRAM, group: object = PROGRAM, **qualifiers: object) -> CellId:
    """Build a :class:`CellId`; qualifier values become text (``90.0`` -> ``"90"``), sorted by name."""
    quals = tuple(sorted((k, _qual_value(v)) for k, v in qualifiers.items() if v is not None))
    return CellId(measure, by, PROGRAM if by == PROGRAM else _qual_value(group), quals)


@dataclass
class Cell:
    """One count: its value, whether any output shows it, what hiding it costs, and what hides with it.

    ``bundle``: cells that are hidden together with this one (a row of an at-risk table; a whole
    survival curve with its group size). ``cost``: how much is lost when it is hidden (a group size that
    carries a survival curve costs more than a discharge-reason count).
    """

    id: CellId
    value: float
    published: bool
    level: int
    cost: float = 1.0
    bundle: tuple[CellId, ...] = ()


@dataclass
class Ledger:
    """Cells and relations of one publication (see the module docstring)."""

    cells: dict[CellId, Cell] = field(default_factory=dict)
    relations: list[dict[CellId, int]] = field(default_factory=list)

    # ------------------------------------------------------------------ cells
    def add(self, cid: CellId, value: float, *, published: bool = True, level: int = LEVEL_GROUP,
            cost: float = 1.0) -> CellId:
        """Register a count. The same id twice must carry the same value (else ``ValueError``)."""
        value = float(value)
        if value != value:  # NaN: a count that could not be computed is not a cell
            raise ValueError(f"The count {cid.text()} is missing.")
        old = self.cells.get(cid)
        if old is not None:
            if abs(old.value - value) > 1e-9:
                raise ValueError(f"The count {cid.text()} has two values ({old.value:g} and {value:g}).")
            old.published = old.published or published
            old.cost = max(old.cost, cost)
            old.level = min(old.level, level)
            return cid
        self.cells[cid] = Cell(cid, value, published, level, cost)
        return cid

    def virtual(self, cid: CellId, value: float, *, level: int = LEVEL_GROUP) -> CellId:
        """Register a count no output shows (a remainder); it is protected like any other."""
        return self.add(cid, value, published=False, level=level)

    def bundle(self, head: CellId, members: Iterable[CellId]) -> None:
        """Hiding ``head`` hides every member too (members already registered)."""
        members = tuple(m for m in members if m in self.cells)
        cell = self.cells[head]
        cell.bundle = tuple(dict.fromkeys((*cell.bundle, *members)))

    # ------------------------------------------------------------------ relations
    def add_relation(self, terms: Mapping[CellId, int]) -> None:
        """``sum(coef * cell) == 0`` over registered cells; checked against the values."""
        terms = {c: int(k) for c, k in terms.items() if k}
        missing = [c.text() for c in terms if c not in self.cells]
        if missing:
            raise ValueError(f"A relation names unregistered counts: {', '.join(missing)}.")
        residual = sum(k * self.cells[c].value for c, k in terms.items())
        if abs(residual) > 1e-6:
            described = " ".join(f"{k:+d}*{c.text()}" for c, k in terms.items())
            raise ValueError(f"The relation {described} = 0 does not hold (residual {residual:g}).")
        if len(terms) >= 2:
            self.relations.append(terms)

    def add_sum(self, total: CellId, parts: Sequence[CellId], *, remainder: CellId | None = None) -> None:
        """``total = sum(parts)`` (+ ``remainder``, a virtual cell created with the difference)."""
        parts = list(dict.fromkeys(parts))
        if remainder is not None:
            rest = self.cells[total].value - sum(self.cells[p].value for p in parts)
            level = max([self.cells[total].level, *(self.cells[p].level for p in parts)])
            self.virtual(remainder, rest, level=level)
            parts.append(remainder)
        terms = {total: 1}
        for p in parts:
            terms[p] = terms.get(p, 0) - 1
        self.add_relation(terms)

    def add_chain(self, cumulative: Sequence[CellId], atom_measure: str, *, key: str = "day") -> None:
        """Nested cumulative counts ``c_1 <= c_2 <= ...`` (relapses by day 30, by day 90, ...).

        Every pair gets ``c_j = c_i + between(i, j)`` with ``between`` a virtual cell named
        ``atom_measure`` (qualifiers ``from``/``to``: the ``key`` qualifier of the two cells), so a small
        count between *any* two shown days is protected, not only between neighbours.
        """
        cum = list(cumulative)
        for i in range(len(cum)):
            for j in range(i + 1, len(cum)):
                a, b = self.cells[cum[i]], self.cells[cum[j]]
                quals = dict(b.id.qualifiers)
                quals["from"] = dict(a.id.qualifiers).get(key, "start")
                quals["to"] = dict(b.id.qualifiers).get(key, "end")
                quals.pop(key, None)
                atom = CellId(atom_measure, b.id.by, b.id.group, tuple(sorted(quals.items())))
                self.add_sum(b.id, [a.id], remainder=atom)

    # ------------------------------------------------------------------ reading
    def value(self, cid: CellId) -> float:
        return self.cells[cid].value

    def __contains__(self, cid: object) -> bool:
        return cid in self.cells

    def __len__(self) -> int:
        return len(self.cells)
