"""Proportions and their comparisons: Wilson intervals, risk difference and ratio, 2x2 tests.

Every function takes counts (scalars, numpy arrays or pandas Series, broadcast against each
other) so one call covers all groups of a table. Proportions are in 0-1.

References
----------
.. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209-12.
.. [2] Newcombe RG. Interval estimation for the difference between independent proportions:
   comparison of eleven methods. Stat Med 1998;17:873-90 (method 10, hybrid score).
.. [3] Katz D, Baptista J, Azen SP, Pike MC. Obtaining confidence intervals for the risk ratio
   in cohort studies. Biometrics 1978;34:469-74.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "TableTest", "wilson_interval", "risk_difference", "risk_ratio", "two_by_two_test",
    "risk_difference_and_ratio",
]


class TableTest(NamedTuple):
    """Result of :func:`two_by_two_test`; unpacks as ``(test, statistic, p_value)``."""

    test: str
    statistic: float
    p_value: float


def _z(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise ValueError(f"The confidence level must be between 0 and 1, not {conf_level!r}.")
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def _counts(successes, n) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(successes, dtype="float64")
    m = np.asarray(n, dtype="float64")
    x, m = np.broadcast_arrays(x, m)
    if np.any(x < 0) or np.any(m < 0) or np.any(x > m):
        raise ValueError("Counts must satisfy 0 <= successes <= n.")
    return x, m


def _out(a: np.ndarray):
    return float(a) if np.ndim(a) == 0 else a


def _wilson(x: np.ndarray, m: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised Wilson interval; returns (p, lower, upper) with NaN where n == 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(m > 0, x / m, np.nan)
        z2 = z * z
        denom = m + z2
        centre = (x + z2 / 2) / denom
        half = z * np.sqrt(m) / denom * np.sqrt(p * (1 - p) + z2 / (4 * m))
    lower = np.clip(centre - half, 0.0, 1.0)
    upper = np.clip(centre + half, 0.0, 1.0)
    # exact boundary values (avoid 1e-17 rounding at x == 0 or x == n)
    lower = np.where(x == 0, 0.0, lower)
    upper = np.where(x == m, 1.0, upper)
    nan = m == 0
    return p, np.where(nan, np.nan, lower), np.where(nan, np.nan, upper)


def wilson_interval(successes, n, conf_level: float = 0.95):
    """Wilson score interval for a binomial proportion (no continuity correction).

    Formula: ``(x + z²/2)/(n + z²) ± z·sqrt(n)/(n + z²)·sqrt(p(1-p) + z²/(4n))`` with
    ``p = x/n`` and ``z`` the standard-normal quantile for ``conf_level`` [1]_. Identical to
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")`` and R's
    ``prop.test(x, n, correct = FALSE)$conf.int``.

    Parameters
    ----------
    successes, n
        Counts (scalars or arrays, broadcast together).
    conf_level
        Two-sided confidence level, default 0.95.

    Returns
    -------
    (lower, upper)
        Floats for scalar input, else arrays; NaN where ``n == 0``.
    """
    x, m = _counts(successes, n)
    _, lower, upper = _wilson(x, m, _z(conf_level))
    return _out(lower), _out(upper)


def risk_difference(x1, n1, x0, n0, conf_level: float = 0.95) -> pd.DataFrame:
    """Risk difference ``p1 - p0`` with Newcombe's hybrid score interval (method 10).

    With Wilson limits ``(l1, u1)`` for ``p1`` and ``(l0, u0)`` for ``p0`` [2]_::

        lower = d - sqrt((p1 - l1)² + (u0 - p0)²)
        upper = d + sqrt((u1 - p1)² + (p0 - l0)²)

    The same as ``statsmodels`` ``confint_proportions_2indep(method="newcomb")``.

    Parameters
    ----------
    x1, n1
        Events and total in the compared group(s).
    x0, n0
        Events and total in the reference group(s).
    conf_level
        Two-sided confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per broadcast element: ``p1``, ``p0``, ``difference``, ``lower``, ``upper``
        (NaN where either total is 0).
    """
    z = _z(conf_level)
    a, m1 = _counts(x1, n1)
    b, m0 = _counts(x0, n0)
    a, m1, b, m0 = np.broadcast_arrays(a, m1, b, m0)
    p1, l1, u1 = _wilson(a, m1, z)
    p0, l0, u0 = _wilson(b, m0, z)
    d = p1 - p0
    lower = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return pd.DataFrame({"p1": np.atleast_1d(p1), "p0": np.atleast_1d(p0),
                         "difference": np.atleast_1d(d), "lower": np.atleast_1d(lower),
                         "upper": np.atleast_1d(upper)})


def risk_ratio(x1, n1, x0, n0, conf_level: float = 0.95) -> pd.DataFrame:
    """Risk ratio ``p1 / p0`` with the Katz log interval.

    ``exp(log(RR) ± z·sqrt(1/x1 - 1/n1 + 1/x0 - 1/n0))`` [3]_ (R ``epitools::riskratio.wald``).
    The ratio is NaN when ``x0 == 0`` or a total is 0; the interval is NaN when either count of
    events is 0 (the log standard error is undefined there).

    Returns
    -------
    pandas.DataFrame
        Columns ``p1``, ``p0``, ``ratio``, ``lower``, ``upper``.
    """
    z = _z(conf_level)
    a, m1 = _counts(x1, n1)
    b, m0 = _counts(x0, n0)
    a, m1, b, m0 = np.broadcast_arrays(a, m1, b, m0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = np.where(m1 > 0, a / m1, np.nan)
        p0 = np.where(m0 > 0, b / m0, np.nan)
        ratio = np.where(b > 0, p1 / p0, np.nan)
        ok = (a > 0) & (b > 0)
        se = np.where(ok, np.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m0), np.nan)
        log_rr = np.where(ok, np.log(ratio), np.nan)
    return pd.DataFrame({"p1": np.atleast_1d(p1), "p0": np.atleast_1d(p0),
                         "ratio": np.atleast_1d(ratio),
                         "lower": np.atleast_1d(np.exp(log_rr - z * se)),
                         "upper": np.atleast_1d(np.exp(log_rr + z * se))})


def two_by_two_test(x1, n1, x0, n0) -> TableTest:
    """Test of independence for one 2x2 table (events/non-events by group).

    Pearson's chi-square without continuity correction (``sum((O - E)² / E)``, 1 df) when every
    expected count ``row total × column total / N`` is at least 5; otherwise Fisher's exact test
    (two-sided, ``scipy.stats.fisher_exact``; the statistic is then the sample odds ratio).
    Tables with an empty row or column (an expected count of 0) use Fisher's test (p = 1).

    Returns
    -------
    TableTest
        ``(test, statistic, p_value)`` with ``test`` ``"chi-square"`` or ``"fisher"``.
    """
    a, m1 = _counts(x1, n1)
    b, m0 = _counts(x0, n0)
    if a.ndim or b.ndim:
        raise ValueError("two_by_two_test takes the counts of one table (scalars).")
    table = np.array([[a, m1 - a], [b, m0 - b]], dtype="float64")
    if table.sum() == 0:
        raise ValueError("The table is empty: both groups have n = 0.")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if np.all(expected >= 5):
        chi2 = float(((table - expected) ** 2 / expected).sum())
        return TableTest("chi-square", chi2, float(stats.chi2.sf(chi2, 1)))
    res = stats.fisher_exact(table.astype("int64"))
    return TableTest("fisher", float(res.statistic), float(res.pvalue))


def risk_difference_and_ratio(counts: pd.DataFrame, reference: object, *, group_col: str = "group",
                              successes_col: str = "successes", n_col: str = "n",
                              conf_level: float = 0.95) -> pd.DataFrame:
    """Compare every group of a count table with one reference group.

    Risk difference with Newcombe's hybrid score interval (:func:`risk_difference`), risk ratio
    with the Katz log interval (:func:`risk_ratio`) and the 2x2 test of
    :func:`two_by_two_test` for each non-reference group, computed in one vectorised pass.

    Parameters
    ----------
    counts
        One row per group with ``group_col``, ``successes_col`` and ``n_col``.
    reference
        Value of ``group_col`` that every other group is compared with.

    Returns
    -------
    pandas.DataFrame
        One row per non-reference group: ``group``, ``reference``, ``successes``, ``n``,
        ``proportion``, ``reference_proportion``, ``difference``, ``difference_lower``,
        ``difference_upper``, ``ratio``, ``ratio_lower``, ``ratio_upper``, ``test``,
        ``statistic``, ``p_value``.
    """
    missing = [c for c in (group_col, successes_col, n_col) if c not in counts.columns]
    if missing:
        raise ValueError(f"The count table has no column {', '.join(map(repr, missing))}.")
    is_ref = (counts[group_col] == reference).to_numpy()
    if is_ref.sum() != 1:
        raise ValueError(f"The reference group {reference!r} must appear exactly once in "
                         f"{group_col!r} (found {int(is_ref.sum())}).")
    ref = counts.loc[is_ref].iloc[0]
    rest = counts.loc[~is_ref]
    x1 = rest[successes_col].to_numpy(dtype="float64")
    n1 = rest[n_col].to_numpy(dtype="float64")
    x0, n0 = float(ref[successes_col]), float(ref[n_col])
    rd = risk_difference(x1, n1, x0, n0, conf_level)
    rr = risk_ratio(x1, n1, x0, n0, conf_level)
    tests = [two_by_two_test(a, m, x0, n0) for a, m in zip(x1, n1, strict=True)]  # one per group
    return pd.DataFrame({
        "group": rest[group_col].to_numpy(), "reference": reference,
        "successes": x1, "n": n1, "proportion": rd["p1"].to_numpy(),
        "reference_proportion": rd["p0"].to_numpy(),
        "difference": rd["difference"].to_numpy(), "difference_lower": rd["lower"].to_numpy(),
        "difference_upper": rd["upper"].to_numpy(), "ratio": rr["ratio"].to_numpy(),
        "ratio_lower": rr["lower"].to_numpy(), "ratio_upper": rr["upper"].to_numpy(),
        "test": [t.test for t in tests], "statistic": [t.statistic for t in tests],
        "p_value": [t.p_value for t in tests],
    })
