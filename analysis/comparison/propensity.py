"""Propensity model: the probability of being in group A rather than B given the covariates.

Logistic regression (statsmodels ``GLM`` with the binomial family, iteratively reweighted least squares,
as R ``glm(family = binomial)``; fitted on one row per group and covariate pattern with its frequency,
which is the same likelihood) on a design read by dtype as everywhere else (:mod:`analysis.cox.design`):
numeric covariates linear per unit, booleans one term against ``False``, categorical covariates one
dummy per level against a named reference level. With it: the c-statistic (area under the ROC curve of
the scores, ties counting 1/2: how well the covariates tell the groups apart, 0.5 = not at all), the
distribution of the scores in each group (overlap), and the people outside the common support (scores
below the larger of the two groups' minima or above the smaller of their maxima; they are counted,
not dropped).
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from analysis.cox import design

__all__ = ["PropensityModel", "fit_propensity", "c_statistic"]

_EXTREME = 1e-8  # scores this close to 0 or 1 are "numerically 0 or 1" (R glm's warning)
_BINS = 20
_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass(frozen=True)
class PropensityModel:
    """Result of :func:`fit_propensity`.

    Attributes
    ----------
    scores : ndarray
        P(group A | covariates) per used row, in the population's row order (proportion 0-1).
    terms : DataFrame
        ``term`` (``(Intercept)``, ``col``, ``col[level]``), ``coef`` (log odds of A vs B), ``se``,
        ``odds_ratio``, ``lower``, ``upper`` (Wald), ``p``.
    reference : dict
        Reference level of each categorical covariate.
    c_statistic : float
        Area under the ROC curve of the scores for A vs B (0.5-1).
    support : tuple of float
        Common support ``(lower, upper)`` of the scores.
    outside_support : dict
        ``{"a": n, "b": n}`` people outside the common support (counts of people).
    distribution : DataFrame
        ``group`` ("a"/"b"), ``quantile`` (0, 0.05, 0.25, 0.5, 0.75, 0.95, 1), ``score``.
    histogram : DataFrame
        ``group``, ``bin_lower``, ``bin_upper`` (20 bins of width 0.05 on [0, 1]), ``n`` (people: a count
        of people; ``attrs["count_columns"]``).
    covariates : tuple of str
        Covariates in the model (constant ones are left out, with a note).
    notes : tuple of str
    """

    scores: np.ndarray
    terms: pd.DataFrame
    reference: dict
    c_statistic: float
    support: tuple[float, float]
    outside_support: dict
    distribution: pd.DataFrame
    histogram: pd.DataFrame
    covariates: tuple[str, ...]
    notes: tuple[str, ...] = ()


def c_statistic(scores: np.ndarray, in_a: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random A > score of a random B), ties 1/2 (Mann-Whitney)."""
    n_a, n_b = int(in_a.sum()), int((~in_a).sum())
    ranks = stats.rankdata(scores)
    return float((ranks[in_a].sum() - n_a * (n_a + 1) / 2) / (n_a * n_b))


def _variables(data: pd.DataFrame, covariates: Sequence[str], reference_levels: Mapping) -> tuple[list, list]:
    variables, notes = [], []
    for c in covariates:
        v = design.variable(data[c], c, reference_levels.get(c))
        if v.constant:
            notes.append(f"{c} has a single value in the compared groups and was left out of the propensity model.")
            continue
        notes.extend(design.variable_notes(v))
        variables.append(v)
    return variables, notes


def fit_propensity(data: pd.DataFrame, *, in_a: np.ndarray, covariates: Sequence[str],
                   reference_levels: Mapping[str, object] | None = None, conf_level: float = 0.95) -> PropensityModel:
    """Fit ``glm(in_a ~ covariates, family = binomial)`` and describe the overlap of the scores.

    Without covariates the score is the share of A (every row the same).

    Raises
    ------
    ValueError
        Collinear covariates (a term carries no separate information), or groups the covariates
        separate perfectly (no comparable people: no weighting can fix that).
    """
    reference_levels = dict(reference_levels or {})
    in_a = np.asarray(in_a, dtype=bool)
    variables, notes = _variables(data, covariates, reference_levels)
    # one row per (group, covariate pattern) with its frequency: the same likelihood, far fewer rows
    parts = [in_a.astype(np.int64)] + [v.codes if v.categorical else design.value_codes(v.values) for v in variables]
    first, inverse, counts = design.collapse(design.pattern_key(parts))
    terms, X, _ = design.design_columns(variables, first)
    names = ["(Intercept)", *[t.name for t in terms]]
    Xc = np.column_stack([np.ones(len(first)), X])
    if np.linalg.matrix_rank(Xc) < Xc.shape[1]:
        raise ValueError("The propensity model cannot be estimated: its covariates are collinear (a level or "
                         "combination carries no separate information). Remove or merge covariates.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sm.GLM(in_a[first].astype("float64"), Xc, family=sm.families.Binomial(),
                     freq_weights=counts.astype("float64")).fit(maxiter=100)
    kinds = {type(w.message) for w in caught} | {w.category for w in caught}
    scores = np.asarray(fit.predict(Xc), dtype="float64")[inverse]
    extreme = (scores < _EXTREME) | (scores > 1 - _EXTREME)
    if PerfectSeparationWarning in kinds or extreme.all():
        raise ValueError("The covariates separate the two groups completely (every propensity score is 0 or 1): "
                         "there are no comparable people, so no fair comparison can be made with them. Remove "
                         "the covariate that defines the groups, or merge the levels only one group has.")
    if ConvergenceWarning in kinds or not getattr(fit, "converged", True):
        notes.append("The propensity model did not converge; its scores may be unreliable (usually a level "
                     "that occurs in one group only: merge it).")
    if extreme.any():
        notes.append("Some propensity scores are numerically 0 or 1 (R: \"fitted probabilities numerically 0 "
                     "or 1 occurred\"): a covariate level (nearly) occurs in one group only; those people have "
                     "no counterpart in the other group.")
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    coef, se = np.asarray(fit.params), np.asarray(fit.bse)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a separated level: limits run to inf
        table = pd.DataFrame({"term": names, "coef": coef, "se": se, "odds_ratio": np.exp(coef),
                              "lower": np.exp(coef - z * se), "upper": np.exp(coef + z * se),
                              "p": 2 * stats.norm.sf(np.abs(coef / se))})
    lo = max(scores[in_a].min(), scores[~in_a].min())
    hi = min(scores[in_a].max(), scores[~in_a].max())
    outside = (scores < lo) | (scores > hi)
    return PropensityModel(
        scores=scores, terms=table, reference={v.name: v.ref for v in variables if v.categorical},
        c_statistic=c_statistic(scores, in_a), support=(float(lo), float(hi)),
        outside_support={"a": int((outside & in_a).sum()), "b": int((outside & ~in_a).sum())},
        distribution=_distribution(scores, in_a), histogram=_histogram(scores, in_a),
        covariates=tuple(v.name for v in variables), notes=tuple(notes))


def _distribution(scores: np.ndarray, in_a: np.ndarray) -> pd.DataFrame:
    rows = [(g, q, float(np.quantile(scores[mask], q)))
            for g, mask in (("a", in_a), ("b", ~in_a)) for q in _QUANTILES]
    return pd.DataFrame(rows, columns=["group", "quantile", "score"])


def _histogram(scores: np.ndarray, in_a: np.ndarray) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    idx = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, _BINS - 1)
    parts = []
    for g, mask in (("a", in_a), ("b", ~in_a)):
        parts.append(pd.DataFrame({"group": g, "bin_lower": edges[:-1], "bin_upper": edges[1:],
                                   "n": np.bincount(idx[mask], minlength=_BINS)}))
    out = pd.concat(parts, ignore_index=True)
    out.attrs["count_columns"] = ["n"]
    return out
