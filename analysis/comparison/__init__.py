"""A fair comparison of two groups (e.g. IOP vs residential) for comparable people.

:func:`compare_groups` (in :mod:`~analysis.comparison.core`) runs, each step in its own module:

* :mod:`~analysis.comparison.population`: the rows used, every excluded row counted by reason;
* :mod:`~analysis.comparison.propensity`: logistic propensity model, c-statistic, overlap, common support;
* :mod:`~analysis.comparison.weights`: ATE (stabilised) / ATT weights, trimming, effective sample sizes;
* :mod:`~analysis.comparison.balance`: standardised differences before and after weighting;
* :mod:`~analysis.comparison.adjusted_survival`: weighted Kaplan-Meier with robust (IJ) intervals,
  relapse differences at horizons, RMST difference;
* :mod:`~analysis.comparison.hazards`: weighted (robust) and covariate-adjusted Cox hazard ratios, the
  proportional-hazards verdict, hazard ratios per window of follow-up;
* :mod:`~analysis.comparison.evalue`: E-values (VanderWeele & Ding 2017);
* :mod:`~analysis.comparison.summary`: the plain-language summary;

and returns one frozen :class:`~analysis.comparison.result.Comparison` (tidy frames with
``attrs["count_columns"]``, ``to_dict()`` for JSON). :func:`compare_cohort` does the same on a cohort
table (``analysis.cohort.derive_cohort``) for a time origin.
"""
from analysis.comparison.cohort import compare_cohort
from analysis.comparison.core import TIME_UNITS, compare_groups
from analysis.comparison.result import COUNT_PATHS, Comparison

__all__ = ["COUNT_PATHS", "Comparison", "TIME_UNITS", "compare_cohort", "compare_groups"]
