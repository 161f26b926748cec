"""Which unknown counts a set of linear relations pins down exactly (the attacker's linear algebra).

Given relations ``sum(coef * cell) == 0`` and the set of *unknown* cells (hidden counts, and non-zero
virtual ones), an unknown is *determined* when every solution of the relations gives it the same
value: an attacker who knows all the other (shown) cells computes it.

Method: relations holding a virtual unknown that appears in no other relation are peeled off first
(that unknown absorbs the relation; it cannot help pin anything else). The rest, the core, is split
into connected blocks; in each, an unknown is determined iff it has no component in the null space
of the block's matrix (SVD, ``scipy.linalg.null_space``). A peeled unknown is determined iff the other
unknowns of its relation are determined together, evaluated in reverse peeling order.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.linalg import null_space

from analysis.disclosure.cells import CellId


def _null_space(a: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the null space of ``a``: LAPACK's divide-and-conquer SVD (``gesdd``), and where it
    does not converge (it can fail on large 0/1 matrices: a 959 x 1482 block of the sample grouped by prior
    treatments did), the QR-iteration SVD (``gesvd``), slower and sure."""
    from numpy.linalg import LinAlgError

    try:
        return null_space(a, rcond=1e-10)
    except LinAlgError:
        return null_space(a, rcond=1e-10, lapack_driver="gesvd")

__all__ = ["LinearAudit"]

_TOL = 1e-8


def _matrix(rels: Sequence[dict[CellId, int]], rows: Sequence[int], pos: dict[CellId, int]) -> np.ndarray:
    """The block's dense matrix (a row per relation, a column per unknown of ``pos``), filled from each
    relation's own terms (a few per row) instead of looking every unknown up in every row."""
    a = np.zeros((len(rows), len(pos)))
    for r, i in enumerate(rows):
        for c, k in rels[i].items():
            j = pos.get(c)
            if j is not None:
                a[r, j] = k
    return a


class LinearAudit:
    """Determinacy of unknowns under ``relations`` (see the module docstring).

    Parameters
    ----------
    relations : sequence of dict
        ``{cell: coefficient}`` per relation.
    unknown : set of CellId
        Cells an attacker does not see.
    absorbing : set of CellId
        Unknowns that may be peeled (virtual cells: no output shows them).
    null_spaces : dict, optional
        Null spaces by block matrix, kept by the caller between audits of one publication (the solver audits
        after each cell it hides; most blocks are then as they were): a block met again is not decomposed again.
    """

    def __init__(self, relations: Sequence[dict[CellId, int]], unknown: set[CellId], absorbing: set[CellId],
                 null_spaces: dict | None = None):
        self._null_spaces = {} if null_spaces is None else null_spaces
        self.rels = [r for r in relations if any(c in unknown for c in r)]
        self.unk_of = [[c for c in r if c in unknown] for r in self.rels]
        index: dict[CellId, list[int]] = {}
        for i, u in enumerate(self.unk_of):
            for c in u:
                index.setdefault(c, []).append(i)
        self.index = index
        alive = [True] * len(self.rels)
        count = {c: len(v) for c, v in index.items()}
        self.peeled: list[tuple[CellId | None, int]] = []
        queue = [i for i, u in enumerate(self.unk_of) if any(c in absorbing and count[c] == 1 for c in u)]
        while queue:
            i = queue.pop()
            if not alive[i]:
                continue
            private = [c for c in self.unk_of[i] if c in absorbing and count[c] == 1]
            if not private:
                continue
            alive[i] = False
            self.peeled.append((private[0] if len(private) == 1 else None, i))
            for c in self.unk_of[i]:
                count[c] -= 1
                if count[c] == 1 and c in absorbing:
                    queue.extend(j for j in index[c] if alive[j])
        self.core = [i for i, a in enumerate(alive) if a]
        self._blocks()
        self._peeled_free()

    # ------------------------------------------------------------------ core
    def _blocks(self) -> None:
        names = sorted({c for i in self.core for c in self.unk_of[i]})
        pos = {c: j for j, c in enumerate(names)}
        parent = list(range(len(names)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for i in self.core:
            js = [pos[c] for c in self.unk_of[i]]
            for j in js[1:]:
                parent[find(j)] = find(js[0])
        members: dict[int, list[CellId]] = {}
        for c in names:
            members.setdefault(find(pos[c]), []).append(c)
        rows: dict[int, list[int]] = {}
        for i in self.core:
            rows.setdefault(find(pos[self.unk_of[i][0]]), []).append(i)
        self.block_of: dict[CellId, int] = {}
        self.block_cells: dict[int, list[CellId]] = members
        self.block_pos: dict[int, dict[CellId, int]] = {}
        self.block_rows: dict[int, list[int]] = rows
        self.block_null: dict[int, np.ndarray] = {}
        self.free: dict[CellId, bool] = {}
        for root, cells in members.items():
            for c in cells:
                self.block_of[c] = root
            self.block_pos[root] = {c: j for j, c in enumerate(cells)}
            r = rows.get(root, [])
            if len(cells) == 1:
                basis = np.zeros((1, 0)) if r else np.ones((1, 1))
            elif not r:
                basis = np.eye(len(cells))
            else:
                a = _matrix(self.rels, r, self.block_pos[root])
                key = (a.shape, hashlib.blake2b(a.tobytes(), digest_size=16).digest())
                basis = self._null_spaces.get(key)
                if basis is None:
                    basis = self._null_spaces[key] = _null_space(a)
            self.block_null[root] = basis
            moves = np.abs(basis).max(axis=1) > _TOL if basis.size else np.zeros(len(cells), dtype=bool)
            for c, m in zip(cells, moves, strict=True):
                self.free[c] = bool(m)

    def _combination_free(self, combo: dict[CellId, float]) -> bool:
        """True when a combination of core unknowns is not determined."""
        by_block: dict[int, dict[CellId, float]] = {}
        for c, k in combo.items():
            by_block.setdefault(self.block_of[c], {})[c] = k
        for root, part in by_block.items():
            basis = self.block_null[root]
            if basis.size == 0:
                continue
            pos = self.block_pos[root]  # the combination's few terms against their rows of the basis
            w = np.fromiter(part.values(), dtype="float64", count=len(part))
            if np.abs(w @ basis[[pos[c] for c in part]]).max() > _TOL:
                return True
        return False

    def _peeled_free(self) -> None:
        for absorbing, i in reversed(self.peeled):
            unk = self.unk_of[i]
            if absorbing is None:
                for c in unk:
                    self.free.setdefault(c, True)
                continue
            others = [c for c in unk if c != absorbing]
            for c in others:  # unknowns left only in peeled relations are free
                if c not in self.free:
                    self.free[c] = True
            if any(self.free[c] and c not in self.block_of for c in others):
                self.free[absorbing] = True
                continue
            core = {c: float(self.rels[i][c]) for c in others if c in self.block_of}
            self.free[absorbing] = self._combination_free(core) if core else False

    # ------------------------------------------------------------------ answers
    def determined(self, cells: Iterable[CellId]) -> list[CellId]:
        """The given unknowns that are pinned down (cells not in any relation are free)."""
        return [c for c in cells if c in self.index and not self.free.get(c, True)]

    def support(self, target: CellId) -> list[int]:
        """Indices (into ``self.rels``) of the relations an attacker combines to compute ``target``."""
        if target in self.block_of:
            root = self.block_of[target]
            cells, rows = self.block_cells[root], self.block_rows.get(root, [])
            if not rows:
                return []
            a = _matrix(self.rels, rows, self.block_pos[root])
            e = np.zeros(len(cells))
            e[cells.index(target)] = 1.0
            y = np.linalg.lstsq(a.T, e, rcond=None)[0]
            return [i for i, w in zip(rows, y, strict=True) if abs(w) > 1e-9]
        for absorbing, i in self.peeled:
            if absorbing == target:
                out = [i]
                for c in self.unk_of[i]:
                    if c != target and c in self.block_of:
                        out += self.block_rows.get(self.block_of[c], [])
                return out
        return []
