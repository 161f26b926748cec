"""Harrell's concordance as R ``concordance(fit)``: predictor ties count 1/2, pairs tied on the death time
are not comparable, a censoring at time t outlasts a relapse at t; strata are compared within."""
from __future__ import annotations

import numpy as np

from analysis.cox._efron import _Efron, _Strata

_DENSE_CONCORDANCE_CELLS = 5_000_000


def concordance(model: _Strata, eta: np.ndarray) -> float:
    """Concordance of the linear predictor ``eta`` (one value per collapsed row), summed over strata."""
    totals = np.zeros(3)
    for ef, rows in zip(model.parts, model.rows, strict=True):
        totals += _counts(ef, eta[rows])
    conc, disc, tied = totals
    denom = conc + disc + tied
    return float((conc + tied / 2) / denom) if denom > 0 else float("nan")


def _counts(ef: _Efron, eta: np.ndarray) -> np.ndarray:
    m = ef.m
    uniq, rank = np.unique(eta, return_inverse=True)
    M = len(uniq)
    rank = rank.ravel()
    rd = rank[ef.dead]
    cw = ef.cw
    if m * M <= _DENSE_CONCORDANCE_CELLS:
        h = np.bincount(ef.pos * M + rank, weights=cw, minlength=(m + 1) * M).reshape(m + 1, M)
        atrisk = np.cumsum(h[::-1], axis=0)[::-1][1:]  # rows with pos > t, by predictor rank
        below = np.cumsum(atrisk, axis=1) - atrisk
        less = below[ef.tdead, rd]
        eq = atrisk[ef.tdead, rd]
        total = atrisk.sum(axis=1)[ef.tdead]
    else:
        less, eq, total = _counts_fenwick(ef, rank, rd, M)
    more = total - less - eq
    wd = ef.cwd
    # concordant: the death has the higher risk score and the shorter time
    return np.array([wd @ less, wd @ more, wd @ eq])


def _counts_fenwick(ef: _Efron, rank, rd, M):
    """Same counts with a Fenwick tree, one vectorised pass per death time (large predictor sets)."""
    tree = np.zeros(M + 1)
    order = np.argsort(ef.pos, kind="stable")
    bounds = np.searchsorted(ef.pos[order], np.arange(ef.m + 2))
    dorder = np.argsort(ef.tdead, kind="stable")
    dbounds = np.searchsorted(ef.tdead[dorder], np.arange(ef.m + 1))
    less = np.zeros(len(rd))
    leq = np.zeros(len(rd))
    total = np.zeros(len(rd))
    running = 0.0

    def query(idx):
        s = np.zeros(len(idx))
        idx = idx.copy()
        while np.any(idx > 0):
            ok = idx > 0
            s[ok] += tree[idx[ok]]
            idx[ok] -= idx[ok] & -idx[ok]
        return s

    for t in range(ef.m - 1, -1, -1):
        rows = order[bounds[t + 1]:bounds[t + 2]]
        if len(rows):
            idx = rank[rows] + 1
            val = ef.cw[rows]
            running += val.sum()
            while len(idx):
                np.add.at(tree, idx, val)
                idx = idx + (idx & -idx)
                keep = idx <= M
                idx, val = idx[keep], val[keep]
        deaths = dorder[dbounds[t]:dbounds[t + 1]]
        less[deaths] = query(rd[deaths])
        leq[deaths] = query(rd[deaths] + 1)
        total[deaths] = running
    return less, leq - less, total
