"""Published tables: a raw tidy frame, what each column is, and the plan's verdict on every cell.

A :class:`TableSpec` says, for a raw frame,

* which column holds the group (and of which grouping: ``by``), and which columns (or constants)
  qualify each row (origin, day, horizon, reason ...);
* which columns are **counts** of people, and of which ledger measure (:mod:`analysis.disclosure.ledger`);
* which columns are **statistics**, and the counts each rests on (:class:`Ref`): a rate rests on its
  numerator and denominator, a median or a curve on its group size, a comparison on both groups.

:func:`publish_table` looks every count up in the plan (a count that is not in the ledger is an error:
every number that can be shown must be protected), hides the hidden ones, hides every statistic that
rests on a hidden count, and returns a :class:`PublishedTable` whose frame holds no hidden value.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.disclosure.cells import PROGRAM, CellId, cell_id
from analysis.disclosure.solver import PROTECT, SHOWN, SMALL, Plan

__all__ = ["Ref", "ref", "TableSpec", "PublishedTable", "publish_table", "RESTS", "HIDDEN_STATUSES"]

RESTS = "rests"
"""Status of a statistic hidden because a count it rests on is hidden."""
HIDDEN_STATUSES = (SMALL, PROTECT, RESTS)


@dataclass(frozen=True)
class Ref:
    """A count a statistic rests on: ``measure`` for the row's group (or ``group``: a value, or
    ``"@column"`` to read it from the row), with the row's qualifiers overridden by ``quals``."""

    measure: str
    quals: tuple[tuple[str, object], ...] = ()
    group: object = None
    by: str | None = None


def ref(measure: str, *, group: object = None, by: str | None = None, **quals: object) -> Ref:
    return Ref(measure, tuple(sorted(quals.items())), group, by)


@dataclass(frozen=True)
class TableSpec:
    """How to read a raw frame (see the module docstring).

    ``counts``: ``{column: measure}`` or ``{column: (measure, {qualifier: value})}``; a qualifier value
    ``"@column"`` is read from the row, ``None`` removes a row qualifier (also in :class:`Ref`).
    ``stats``: ``{column: [Ref, ...]}``. ``quals``: ``{qualifier: column}`` read per row, or a
    constant (any non-column value). ``hide``: ``{column: boolean array}``, statistics hidden for
    another reason (fewer than ``min_cell`` at risk, a test that left hidden groups out ...).
    ``plain``: other columns passed through as they are (labels, benchmark bands, days); every other
    column of the frame is dropped, so an undeclared number never reaches anyone.
    """

    name: str
    frame: pd.DataFrame
    by: str
    group_col: str | None = "group"
    quals: Mapping[str, object] = field(default_factory=dict)
    counts: Mapping[str, object] = field(default_factory=dict)
    stats: Mapping[str, Sequence[Ref]] = field(default_factory=dict)
    hide: Mapping[str, object] = field(default_factory=dict)
    plain: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class PublishedTable:
    """A table fit to show: ``frame`` (hidden cells are NaN / None), ``status`` (same index; one column per
    count or statistic: ``"shown"``, ``"small"``, ``"protect"`` or ``"rests"``), ``kinds``
    (``{column: "count" | "stat"}``) and ``notes``."""

    name: str
    frame: pd.DataFrame
    status: pd.DataFrame
    kinds: dict[str, str]
    min_cell: int
    notes: tuple[str, ...] = ()

    def hidden(self, column: str) -> np.ndarray:
        """Boolean mask of the hidden cells of a column (all False for other columns)."""
        if column not in self.status.columns:
            return np.zeros(len(self.frame), dtype=bool)
        return self.status[column].isin(HIDDEN_STATUSES).to_numpy()

    def rows(self, mask) -> PublishedTable:
        """The same table restricted to the rows where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        return PublishedTable(self.name, self.frame[mask].reset_index(drop=True),
                              self.status[mask].reset_index(drop=True), self.kinds, self.min_cell, self.notes)

    def __len__(self) -> int:
        return len(self.frame)

    def with_column(self, name: str, values, like: str) -> PublishedTable:
        """A copy with one more column (text built from published values) hidden where ``like`` is."""
        frame = self.frame.copy()
        hidden = self.hidden(like)
        frame[name] = pd.Series(list(values), index=frame.index, dtype=object).mask(hidden, None)
        status = self.status.copy()
        status[name] = self.status[like] if like in self.status.columns else "shown"
        return PublishedTable(self.name, frame, status, {**self.kinds, name: "stat"}, self.min_cell, self.notes)


def _qual_values(spec: TableSpec, frame: pd.DataFrame) -> dict[str, list]:
    out = {}
    for name, src in spec.quals.items():
        if isinstance(src, str) and src in frame.columns:
            out[name] = frame[src].tolist()
        else:
            out[name] = [src] * len(frame)
    return out


def _cell(measure: str, by: str, group: object, quals: dict) -> CellId:
    return cell_id(measure, by, group, **quals)


def _resolve(extra: Mapping[str, object], frame: pd.DataFrame, i: int) -> dict:
    """Qualifiers of a column: ``"@column"`` reads the row's value, ``None`` drops a row qualifier."""
    out = {}
    for k, v in extra.items():
        out[k] = frame[v[1:]].iloc[i] if isinstance(v, str) and v.startswith("@") else v
    return out


def publish_table(spec: TableSpec, plan: Plan, values: Mapping[CellId, float]) -> PublishedTable:
    """Apply the plan to a table (see the module docstring).

    Parameters
    ----------
    spec : TableSpec
    plan : Plan
        The publication's decisions.
    values : mapping
        Ledger values by cell, to check that the table's counts are the ones the plan protected.

    Raises
    ------
    ValueError
        A count column names a cell the ledger does not have, or with another value.
    """
    frame = spec.frame.reset_index(drop=True)
    n = len(frame)
    quals = _qual_values(spec, frame)
    groups = frame[spec.group_col].tolist() if spec.group_col else [PROGRAM] * n
    by = spec.by if spec.group_col else PROGRAM
    keep = [c for c in frame.columns if c == spec.group_col or c in spec.plain or c in spec.counts
            or c in spec.stats or any(c == src for src in spec.quals.values() if isinstance(src, str))]
    out = frame[keep].copy()
    status = pd.DataFrame(index=frame.index)
    kinds: dict[str, str] = {}
    for col, what in spec.counts.items():
        measure, extra = (what, {}) if isinstance(what, str) else what
        st = []
        values_col = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        for i in range(n):
            if values_col[i] != values_col[i]:
                st.append(SHOWN)  # nothing to show
                continue
            cid = _cell(measure, by, groups[i], {**{k: v[i] for k, v in quals.items()}, **_resolve(extra, frame, i)})
            if cid not in plan.status:
                raise ValueError(f"The count {cid.text()} of table '{spec.name}' is not in the ledger; "
                                 "register it in analysis.disclosure.ledger before showing it.")
            if abs(values[cid] - values_col[i]) > 1e-6:
                raise ValueError(f"Table '{spec.name}' shows {values_col[i]:g} for {cid.text()}, "
                                 f"the ledger has {values[cid]:g}.")
            st.append(plan.status[cid])
        status[col] = st
        kinds[col] = "count"
    for col, refs in spec.stats.items():
        st = []
        extra_hide = spec.hide.get(col)
        extra_hide = np.zeros(n, dtype=bool) if extra_hide is None else np.asarray(extra_hide, dtype=bool)
        for i in range(n):
            row_q = {k: v[i] for k, v in quals.items()}
            hidden = bool(extra_hide[i])
            for r in refs:
                g = r.group
                if isinstance(g, str) and g.startswith("@"):
                    g = frame[g[1:]].iloc[i]
                g = groups[i] if g is None else g
                r_by = r.by or by
                cid = _cell(r.measure, r_by, PROGRAM if r_by == PROGRAM else g,
                            {**row_q, **_resolve(dict(r.quals), frame, i)})
                if plan.status.get(cid) != SHOWN:
                    hidden = True
                    break
            st.append(RESTS if hidden else SHOWN)
        status[col] = st
        kinds[col] = "stat"
    for col, kind in kinds.items():
        mask = status[col].isin(HIDDEN_STATUSES).to_numpy()
        if mask.any():
            if pd.api.types.is_numeric_dtype(out[col]) or kind == "count":
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64").mask(mask)
            else:
                out[col] = out[col].astype(object).mask(mask, None)
    return PublishedTable(spec.name, out, status, kinds, plan.min_cell, spec.notes)
