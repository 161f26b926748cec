"""Inverse-probability-of-treatment weights from propensity scores, optional trimming, effective sizes.

Conventions (Austin & Stuart 2015; Cole & Hernan 2008):

* ATE, stabilised: A ``P(A) / ps``, B ``P(B) / (1 - ps)``, with ``P(A)`` the share of A among the
  compared people. Stabilising multiplies each group's weights by a constant, which leaves the weighted
  Kaplan-Meier curves, differences and RMST unchanged but changes a weighted Cox fit slightly (Efron's
  tied-death averaging and the robust variance see the weights' scale); the Cox hazard ratio here uses
  these stabilised weights.
* ATT (B weighted to resemble A), unstabilised: A ``1``, B ``ps / (1 - ps)``.
* Trimming (optional, default none) winsorises the weights of each group at the chosen percentiles of
  that group's weights (numpy's linear interpolation, R ``quantile(type = 7)``), as R WeightIt's
  ``trim()``; nobody is dropped. Under the ATT, group A's weights (all 1) are left as they are.
* Effective sample size per group (Kish): ``(sum w)^2 / sum w^2``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ESTIMANDS", "WeightSet", "propensity_weights", "effective_sample_size"]

ESTIMANDS = ("ate", "att")


@dataclass(frozen=True)
class WeightSet:
    """Weights per row and what was done to them.

    Attributes
    ----------
    weights : ndarray
        One weight per row (population order).
    estimand : str
        ``"ate"`` or ``"att"``.
    stabilised : bool
    trim : tuple of float or None
        Percentiles ``(low, high)`` (0-100) at which weights were winsorised, or None.
    n_trimmed : dict
        ``{"a": n, "b": n}`` people whose weight was changed by trimming (counts of people).
    ess : dict
        Effective sample size per group ``{"a": float, "b": float}`` (derived from counts of people).
    max_weight : dict
        Largest weight per group.
    """

    weights: np.ndarray
    estimand: str
    stabilised: bool
    trim: tuple[float, float] | None
    n_trimmed: dict
    ess: dict
    max_weight: dict


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    return float(w.sum() ** 2 / (w * w).sum()) if len(w) else 0.0


def _check_trim(trim) -> tuple[float, float] | None:
    if trim is None:
        return None
    low, high = (float(x) for x in trim)
    if not 0 <= low < high <= 100:
        raise ValueError(f"Trimming percentiles must satisfy 0 <= low < high <= 100, not {low:g},{high:g}.")
    return low, high


def propensity_weights(scores: np.ndarray, in_a: np.ndarray, *, estimand: str = "ate",
                       trim: tuple[float, float] | None = None) -> WeightSet:
    """Weights for the ATE (stabilised) or the ATT (unstabilised), optionally trimmed (see the module notes).

    Raises
    ------
    ValueError
        An unknown estimand, bad percentiles, or scores of exactly 0 or 1 (their weight is infinite).
    """
    if estimand not in ESTIMANDS:
        raise ValueError(f"The estimand must be one of {', '.join(ESTIMANDS)}, not {estimand!r}.")
    trim = _check_trim(trim)
    ps = np.asarray(scores, dtype="float64")
    in_a = np.asarray(in_a, dtype=bool)
    if np.any((ps <= 0) | (ps >= 1)):
        raise ValueError("Some propensity scores are exactly 0 or 1, so their weights are infinite: the groups "
                         "do not overlap on the covariates.")
    if estimand == "ate":
        p_a = in_a.mean()
        w = np.where(in_a, p_a / ps, (1 - p_a) / (1 - ps))
    else:
        w = np.where(in_a, 1.0, ps / (1 - ps))
    n_trimmed = {"a": 0, "b": 0}
    if trim is not None:
        w = w.copy()
        for key, mask in (("a", in_a), ("b", ~in_a)):
            if estimand == "att" and key == "a":
                continue
            lo, hi = np.percentile(w[mask], trim)
            clipped = np.clip(w[mask], lo, hi)
            n_trimmed[key] = int((clipped != w[mask]).sum())
            w[mask] = clipped
    return WeightSet(
        weights=w, estimand=estimand, stabilised=estimand == "ate", trim=trim, n_trimmed=n_trimmed,
        ess={"a": effective_sample_size(w[in_a]), "b": effective_sample_size(w[~in_a])},
        max_weight={"a": float(w[in_a].max()), "b": float(w[~in_a].max())})
