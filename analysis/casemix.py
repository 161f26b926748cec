"""Case mix of two groups: standardised mean differences of covariates.

Confounding by severity (domain.md section 5.2) is why a naive IOP-vs-residential comparison is not a
verdict. Before any adjusted comparison, show how different the two groups are: the standardised
difference of each covariate (Austin 2009), ``|SMD| > 0.1`` being the usual mark of imbalance.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.retention import group_values

__all__ = ["DEFAULT_COVARIATES", "IMBALANCE_THRESHOLD", "standardized_differences"]

DEFAULT_COVARIATES: tuple[str, ...] = ("age", "sex", "primary_substance", "co_occurring", "prior_treatments",
                                       "payer")
IMBALANCE_THRESHOLD = 0.1


def standardized_differences(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence,
                             covariates: Sequence[str] = DEFAULT_COVARIATES) -> pd.DataFrame:
    """Standardised differences between two groups, per numeric covariate and per category level.

    Numeric: ``(mean_a - mean_b) / sqrt((var_a + var_b) / 2)`` (sample variances, ddof 1).
    Categorical or boolean, per level: ``(p_a - p_b) / sqrt((p_a (1 - p_a) + p_b (1 - p_b)) / 2)``.
    Missing values are left out per covariate (``n_a``/``n_b`` say how many were used).

    References
    ----------
    Austin PC. Balance diagnostics for comparing the distribution of baseline covariates between
    treatment groups in propensity-score matched samples. Stat Med 2009;28:3083-107.

    Returns
    -------
    pd.DataFrame
        variable, level ("" for numeric), kind ("mean" or "share"), n_a, n_b, value_a, value_b, smd,
        imbalanced (|smd| > 0.1).
    """
    if len(groups) != 2:
        raise ValueError("Case mix compares exactly two groups.")
    a, b = groups
    g = group_values(cohort, by, [a, b])
    rows = []
    for var in covariates:
        if var not in cohort.columns:
            continue
        col = cohort[var]
        xa, xb = col[g == a].dropna(), col[g == b].dropna()
        if len(xa) == 0 or len(xb) == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            xa, xb = xa.astype("float64"), xb.astype("float64")
            pooled = np.sqrt((xa.var(ddof=1) + xb.var(ddof=1)) / 2) if len(xa) > 1 and len(xb) > 1 else np.nan
            smd = (xa.mean() - xb.mean()) / pooled if pooled and pooled > 0 else 0.0
            rows.append((var, "", "mean", len(xa), len(xb), xa.mean(), xb.mean(), smd))
            continue
        # shares per level from value counts (no per-row string conversion: fast on a million rows)
        share_a = xa.value_counts(normalize=True)
        share_b = xb.value_counts(normalize=True)
        share_a.index, share_b.index = share_a.index.map(str), share_b.index.map(str)
        share_a, share_b = share_a.groupby(level=0).sum(), share_b.groupby(level=0).sum()
        for level in sorted(set(share_a.index) | set(share_b.index)):
            pa, pb = float(share_a.get(level, 0.0)), float(share_b.get(level, 0.0))
            denom = np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2)
            smd = (pa - pb) / denom if denom > 0 else 0.0
            rows.append((var, level, "share", len(xa), len(xb), pa, pb, smd))
    out = pd.DataFrame(rows, columns=["variable", "level", "kind", "n_a", "n_b", "value_a", "value_b", "smd"])
    out["imbalanced"] = out["smd"].abs() > IMBALANCE_THRESHOLD
    out.attrs["groups"] = (a, b)
    return out
