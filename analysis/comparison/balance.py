"""Covariate balance before and after weighting: standardised differences (A minus B).

Numeric covariates: ``(mean_A - mean_B) / s`` with ``s = sqrt((var_A + var_B) / 2)`` from the unweighted
sample variances (n - 1). Each level of a categorical covariate (every level, the reference included) and
a boolean covariate's ``True``: ``(p_A - p_B) / s`` with ``s = sqrt((p_A (1 - p_A) + p_B (1 - p_B)) / 2)``
from the unweighted shares. After weighting the numerator uses weighted means and shares and the
denominator stays the unweighted one, so a change in the SMD is a change in the means only (R cobalt's
``bal.tab`` with ``s.d.denom = "pooled"``; cobalt's own default for the ATT is the treated group's SD).
``|SMD| > 0.1`` is the usual mark of imbalance (Austin 2009).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.cox import design

__all__ = ["IMBALANCE_THRESHOLD", "balance_table"]

IMBALANCE_THRESHOLD = 0.1
_COLUMNS = ["covariate", "level", "kind", "mean_a", "mean_b", "mean_a_weighted", "mean_b_weighted",
            "smd_before", "smd_after"]


def _smd(diff: float, s: float) -> float:
    if s > 0:
        return float(diff / s)
    return 0.0 if diff == 0 else float("nan")


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(x @ w / w.sum())


def balance_table(data: pd.DataFrame, *, in_a: np.ndarray, covariates: Sequence[str],
                  weights: np.ndarray) -> pd.DataFrame:
    """One row per numeric covariate, per boolean covariate and per level of a categorical covariate.

    Returns
    -------
    DataFrame
        ``covariate``, ``level`` (None for numeric; ``True`` for a boolean), ``kind`` ("mean" or "share"),
        ``mean_a``, ``mean_b`` (unweighted means or shares, 0-1), ``mean_a_weighted``, ``mean_b_weighted``,
        ``smd_before``, ``smd_after`` (A minus B; NaN where both groups are constant and differ),
        ``imbalanced_before``, ``imbalanced_after`` (``|SMD| > 0.1``).
    """
    in_a = np.asarray(in_a, dtype=bool)
    w = np.asarray(weights, dtype="float64")
    wa, wb = w[in_a], w[~in_a]
    rows = []
    for c in covariates:
        v = design.variable(data[c], c)
        if not v.categorical:
            x = v.values
            xa, xb = x[in_a], x[~in_a]
            var_a = xa.var(ddof=1) if len(xa) > 1 else 0.0
            var_b = xb.var(ddof=1) if len(xb) > 1 else 0.0
            s = np.sqrt((var_a + var_b) / 2)
            ma, mb, mwa, mwb = xa.mean(), xb.mean(), _wmean(xa, wa), _wmean(xb, wb)
            rows.append((c, None, "mean", ma, mb, mwa, mwb, _smd(ma - mb, s), _smd(mwa - mwb, s)))
            continue
        k = len(v.levels)
        ca, cb = v.codes[in_a], v.codes[~in_a]
        pa = np.bincount(ca, minlength=k) / len(ca)
        pb = np.bincount(cb, minlength=k) / len(cb)
        pwa = np.bincount(ca, weights=wa, minlength=k) / wa.sum()
        pwb = np.bincount(cb, weights=wb, minlength=k) / wb.sum()
        levels = list(enumerate(v.levels))
        if v.boolean:  # one row: the share that is True (0 when nobody is)
            j = v.levels.index(True) if True in v.levels else None
            pa, pb, pwa, pwb = ([0.0] if j is None else [arr[j]] for arr in (pa, pb, pwa, pwb))
            levels = [(0, True)]
        for j, lev in levels:
            s = np.sqrt((pa[j] * (1 - pa[j]) + pb[j] * (1 - pb[j])) / 2)
            rows.append((c, lev, "share", pa[j], pb[j], pwa[j], pwb[j], _smd(pa[j] - pb[j], s),
                         _smd(pwa[j] - pwb[j], s)))
    out = pd.DataFrame(rows, columns=_COLUMNS)
    out["imbalanced_before"] = out["smd_before"].abs() > IMBALANCE_THRESHOLD
    out["imbalanced_after"] = out["smd_after"].abs() > IMBALANCE_THRESHOLD
    return out
