"""Cox proportional-hazards regression (Efron ties) and the proportional-hazards test, as R's survival.

One public function, :func:`fit_cox`, fits the cause-specific hazard of relapse (event code 1; codes 0
and 2 -- censored and death, the competing event -- are both treated as censored) by level of care
(or any grouping column), adjusted for covariates, optionally weighted, stratified, on frequency counts
and with a robust (sandwich) variance, and returns a frozen :class:`CoxResult` with the hazard ratios,
Harrell's concordance, R 3.x's ``cox.zph`` score test of proportional hazards and, in words, R's
warnings (no convergence; a coefficient running to infinity).

The estimator is a vectorised Newton-Raphson written in numpy rather than lifelines' ``CoxPHFitter``,
because R's Efron approximation with case weights divides a tied set into as many terms as there are
tied *rows* (``ndead``) and averages their weights (``wtave = deadwt / ndead``); a weighted lifelines
fit on aggregated rows is not the same estimator. Here identical rows (same time, event, design row,
weight, cluster and stratum) are collapsed into one row with a frequency count, and every sum keeps the
raw-row structure (``ndead`` counts raw rows), so a fit on the aggregated rows equals R's ``coxph`` on
the raw rows to rounding; that is what makes a million episodes fit in about a second. Callers that
already hold collapsed rows pass their counts as ``count_col``.

Modules: :mod:`~analysis.cox.fit` (the public function), :mod:`~analysis.cox.design` (covariates to
terms by dtype, shared with the propensity model), ``_efron`` (likelihood, Newton-Raphson, score
residuals), ``_concordance``, ``_zph``.
"""
from analysis.cox.fit import CoxResult, fit_cox

__all__ = ["CoxResult", "fit_cox"]
