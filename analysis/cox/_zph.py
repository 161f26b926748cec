"""Proportional-hazards score test as R >= 3.0 ``cox.zph(fit)`` (``transform = "km"``, ``terms = TRUE``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.cox._efron import _Strata


def zph_table(model: _Strata, time, dead, count, pcs, info, term_cols: list[list[int]],
              term_names: list[str]) -> pd.DataFrame:
    """``cox.zph(fit)$table``: per term and global chi-square, df and p.

    Time is replaced by ``g(t) = 1 - KM(t-)`` of all rows (unweighted, all strata together), centred on
    its mean over the deaths; the test is Grambsch & Therneau's one-step score test for adding
    ``x * g(t)`` to the model, with score and information summed over strata (R ``zph1``).
    """
    dtimes = np.unique(time[dead])
    at = np.searchsorted(dtimes, time, "right")  # row at risk at death time t iff t < at
    n_at = np.cumsum(np.bincount(at, weights=count, minlength=len(dtimes) + 1)[::-1])[::-1][1:]
    d = np.bincount(np.searchsorted(dtimes, time[dead]), weights=count[dead], minlength=len(dtimes))
    surv = np.cumprod(1 - d / n_at)
    tt = 1 - np.concatenate([[1.0], surv[:-1]])
    centre = (d @ tt) / d.sum()
    gts = [tt[np.searchsorted(dtimes, ef.dtimes)] - centre for ef in model.parts]
    u2, i12 = model.score_info(pcs, gts)
    _, i22 = model.score_info(pcs, [g * g for g in gts])
    p = info.shape[0]
    full = np.block([[info, i12], [i12.T, i22]])
    rows = []
    for name, jj in zip([*term_names, "GLOBAL"], [*term_cols, list(range(p))], strict=True):
        kk = list(range(p)) + [p + j for j in jj]
        u = np.concatenate([np.zeros(p), u2[jj]])
        try:
            chisq = float(u @ np.linalg.solve(full[np.ix_(kk, kk)], u))
        except np.linalg.LinAlgError:
            chisq = float("nan")
        rows.append((name, chisq, len(jj), float(stats.chi2.sf(chisq, len(jj)))))
    return pd.DataFrame(rows, columns=["term", "chisq", "df", "p"])
