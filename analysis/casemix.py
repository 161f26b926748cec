"""Case mix of two groups: standardised mean differences of covariates.

Confounding by severity (domain.md section 5.2) is why a naive IOP-vs-residential comparison is not a
verdict. Before any adjusted comparison, show how different the two groups are: the standardised
difference of each covariate (Austin 2009), ``|SMD| > 0.1`` being the usual mark of imbalance.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.retention import frequency_counts, group_values

__all__ = ["DEFAULT_COVARIATES", "IMBALANCE_THRESHOLD", "standardized_differences"]

DEFAULT_COVARIATES: tuple[str, ...] = ("age", "sex", "primary_substance", "co_occurring", "prior_treatments",
                                       "payer")
IMBALANCE_THRESHOLD = 0.1


def standardized_differences(cohort: pd.DataFrame, *, by: str = "level_of_care", groups: Sequence,
                             covariates: Sequence[str] = DEFAULT_COVARIATES,
                             count_col: str | None = None) -> pd.DataFrame:
    """Standardised differences between two groups, per numeric covariate and per category level.

    Numeric: ``(mean_a - mean_b) / sqrt((var_a + var_b) / 2)`` (sample variances, ddof 1).
    Categorical or boolean, per level: ``(p_a - p_b) / sqrt((p_a (1 - p_a) + p_b (1 - p_b)) / 2)``.
    Missing values are left out per covariate (``n_a``/``n_b`` say how many were used).
    ``count_col``: frequency counts (a row stands for that many identical episodes), so a cohort
    collapsed to distinct (group, covariate) values gives the same table as the rows.

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
    w = pd.Series(frequency_counts(cohort, count_col), index=cohort.index)
    in_a, in_b = (g == a) & (w > 0), (g == b) & (w > 0)
    rows = []
    for var in covariates:
        if var not in cohort.columns:
            continue
        col = cohort[var]
        xa, xb = col[in_a].dropna(), col[in_b].dropna()
        wa, wb = w[xa.index], w[xb.index]
        na, nb = int(wa.sum()), int(wb.sum())
        if na == 0 or nb == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            (ma, va), (mb, vb) = _mean_var(xa, wa), _mean_var(xb, wb)
            pooled = np.sqrt((va + vb) / 2) if na > 1 and nb > 1 else np.nan
            smd = (ma - mb) / pooled if pooled and pooled > 0 else 0.0
            rows.append((var, "", "mean", na, nb, ma, mb, smd))
            continue
        # shares per level from counts per value (no per-row string conversion: fast on a million rows)
        share_a, share_b = _shares(xa, wa), _shares(xb, wb)
        for level in sorted(set(share_a.index) | set(share_b.index)):
            pa, pb = float(share_a.get(level, 0.0)), float(share_b.get(level, 0.0))
            denom = np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2)
            smd = (pa - pb) / denom if denom > 0 else 0.0
            rows.append((var, level, "share", na, nb, pa, pb, smd))
    out = pd.DataFrame(rows, columns=["variable", "level", "kind", "n_a", "n_b", "value_a", "value_b", "smd"])
    out["imbalanced"] = out["smd"].abs() > IMBALANCE_THRESHOLD
    out.attrs["groups"] = (a, b)
    return out


def _mean_var(x: pd.Series, w: pd.Series) -> tuple[float, float]:
    """Mean and sample variance (ddof 1) of values with frequency counts (as on the expanded rows)."""
    v = x.to_numpy(dtype="float64")
    c = w.to_numpy(dtype="float64")
    n = c.sum()
    mean = float(np.dot(c, v) / n)
    var = float(np.dot(c, (v - mean) ** 2) / (n - 1)) if n > 1 else np.nan
    return mean, var


def _shares(x: pd.Series, w: pd.Series) -> pd.Series:
    """Share of each value (as text) among the counted rows."""
    counts = w.groupby(x.to_numpy(dtype=object), sort=False).sum()
    counts = counts.groupby(counts.index.map(str)).sum()  # values that print alike are one level, as before
    return counts / counts.sum()
