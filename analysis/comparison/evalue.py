"""E-value: how strong unmeasured confounding would have to be to explain an estimate away.

VanderWeele & Ding (2017): for a risk ratio ``RR > 1`` the E-value is ``RR + sqrt(RR (RR - 1))`` (for
``RR < 1`` use ``1 / RR``): the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both the group and the outcome, beyond the measured covariates,
to move the estimate to 1. For the confidence interval the E-value is that of the limit nearest 1, or 1
when the interval includes 1. A hazard ratio of a common outcome (more than 15% with the event by the end
of follow-up, as relapse is) is first converted to an approximate risk ratio,
``RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR))``; for a rare outcome ``RR ~ HR``.

References
----------
VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the E-value.
Ann Intern Med 2017;167:268-74.
"""
from __future__ import annotations

import math

__all__ = ["COMMON_OUTCOME", "hr_to_rr", "e_value_rr", "e_value_hr"]

COMMON_OUTCOME = 0.15


def hr_to_rr(hr: float) -> float:
    """VanderWeele's approximate risk ratio for a hazard ratio of a common outcome."""
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def e_value_rr(rr: float) -> float:
    """E-value of a risk ratio (1 at RR = 1)."""
    if not rr > 0 or math.isinf(rr):
        return float("nan")
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def e_value_hr(hr: float, lower: float, upper: float, *, outcome_share: float) -> dict:
    """E-values of a hazard ratio and of its interval limit nearest 1.

    ``outcome_share`` is the proportion with the event by the end of follow-up; above 15% the hazard ratio
    is converted to an approximate risk ratio first (and the result says so).

    Returns
    -------
    dict
        ``estimate``, ``limit`` (1 when the interval includes 1), ``rr`` (the risk ratio used),
        ``common_outcome`` (bool), ``method`` (a sentence).
    """
    common = outcome_share > COMMON_OUTCOME
    conv = hr_to_rr if common else (lambda x: x)
    rr, rr_lo, rr_hi = conv(hr), conv(lower), conv(upper)
    if rr_lo <= 1 <= rr_hi:
        limit = 1.0
    else:
        limit = e_value_rr(rr_lo if rr > 1 else rr_hi)
    method = ("hazard ratio of a common outcome (more than 15% relapsed) converted to an approximate risk ratio, "
              "RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) (VanderWeele & Ding 2017)" if common else
              "hazard ratio of a rare outcome (15% or fewer relapsed) taken as a risk ratio (VanderWeele & Ding 2017)")
    return {"estimate": e_value_rr(rr), "limit": limit, "rr": rr, "common_outcome": common, "method": method}
