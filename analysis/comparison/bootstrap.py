"""Seeded bootstrap of the adjusted contrasts that repeats the propensity fit (optional; off by default).

The influence-value intervals of :mod:`~analysis.comparison.adjusted_survival` treat the weights as known.
This bootstrap puts the propensity model's own uncertainty in: each replicate resamples people (whole
clusters, e.g. every episode of a client, when a cluster column is given) with replacement, refits the
propensity model, recomputes the weights (same estimand and trimming) and the weighted Kaplan-Meier
curves, and records the relapse differences at the horizons and the RMST difference. Intervals are the
2.5th and 97.5th percentiles of the replicates (percentile bootstrap); the standard error is their
standard deviation. Replicates in which a group is empty or the propensity model cannot be fitted are
left out and counted.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.comparison.adjusted_survival import weighted_km
from analysis.comparison.propensity import fit_propensity
from analysis.comparison.weights import propensity_weights
from analysis.cox import design

__all__ = ["DEFAULT_SEED", "bootstrap_contrasts"]

DEFAULT_SEED = 20261201


def _resample(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row positions of a resample of whole clusters (codes 0..K-1), drawn with replacement."""
    sizes = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    starts = np.cumsum(sizes) - sizes
    chosen = rng.integers(0, len(sizes), len(sizes))
    lengths = sizes[chosen]
    begin = np.repeat(starts[chosen], lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return order[begin + within]


def bootstrap_contrasts(rows: pd.DataFrame, *, time_col: str, event_col: str, covariates: Sequence[str],
                        reference_levels: Mapping | None, estimand: str, trim, horizons: Sequence[float],
                        tau: float, cluster_col: str | None, replicates: int, seed: int = DEFAULT_SEED,
                        conf_level: float = 0.95) -> dict:
    """Percentile-bootstrap intervals of the relapse differences and the RMST difference (see the module notes).

    Returns
    -------
    dict
        ``replicates`` (requested), ``used``, ``failed``, ``seed``, ``unit`` ("cluster" column or
        "episode"), ``relapse_difference`` (list of ``{time, se, lower, upper}``), ``rmst_difference``
        (``{se, lower, upper}``).
    """
    if replicates < 1:
        raise ValueError("The number of bootstrap replicates must be a positive whole number.")
    rng = np.random.default_rng(seed)
    codes = (pd.factorize(design.value_codes(rows[cluster_col]))[0] if cluster_col
             else np.arange(len(rows)))
    t = rows[time_col].to_numpy(dtype="float64")
    relapse = rows[event_col].to_numpy() == 1
    in_a = rows["in_a"].to_numpy()
    h = list(horizons)
    diffs, rmst, failed = [], [], 0
    for _ in range(replicates):
        idx = _resample(codes, rng)
        a = in_a[idx]
        if a.all() or not a.any():
            failed += 1
            continue
        sub = rows.iloc[idx]
        try:
            ps = fit_propensity(sub, in_a=a, covariates=covariates, reference_levels=reference_levels)
            w = propensity_weights(ps.scores, a, estimand=estimand, trim=trim).weights
        except ValueError:
            failed += 1
            continue
        km = weighted_km(t[idx], relapse[idx], w, a, conf_level=conf_level)
        diffs.append(km.differences(h)["relapse_difference"].to_numpy() if h else np.zeros(0))
        rmst.append(km.rmst_difference(tau)["estimate"])
    if not rmst:
        raise ValueError("No bootstrap replicate could be computed (a group is too small to resample).")
    lo, hi = 100 * (1 - conf_level) / 2, 100 * (1 + conf_level) / 2
    d, r = np.vstack(diffs), np.asarray(rmst)
    return {
        "replicates": replicates, "used": len(rmst), "failed": failed, "seed": seed,
        "unit": cluster_col or "episode",
        "relapse_difference": [{"time": float(x), "se": float(d[:, j].std(ddof=1)) if len(r) > 1 else float("nan"),
                                "lower": float(np.percentile(d[:, j], lo)), "upper": float(np.percentile(d[:, j], hi))}
                               for j, x in enumerate(h)],
        "rmst_difference": {"se": float(r.std(ddof=1)) if len(r) > 1 else float("nan"),
                            "lower": float(np.percentile(r, lo)), "upper": float(np.percentile(r, hi))},
    }
