"""Proportions against published worked examples, R values and hand computations."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.proportions import (
    risk_difference,
    risk_difference_and_ratio,
    risk_ratio,
    two_by_two_test,
    wilson_interval,
)


def test_wilson_against_R_prop_test():
    # R: prop.test(5, 10, correct = FALSE)$conf.int -> 0.2365931 0.7634069
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2365931, abs=1e-7) and hi == pytest.approx(0.7634069, abs=1e-7)
    # R: prop.test(0, 10, correct = FALSE)$conf.int -> 0.0000000 0.2775328
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775328, abs=1e-7)


def test_wilson_vectorised_matches_statsmodels_and_nan_for_empty():
    x = np.array([0, 1, 7, 33, 50, 0])
    n = np.array([10, 12, 40, 50, 50, 0])
    lo, hi = wilson_interval(x, n, conf_level=0.9)
    ref_lo, ref_hi = proportion_confint(x[:5], n[:5], alpha=0.1, method="wilson")
    np.testing.assert_allclose(lo[:5], ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi[:5], ref_hi, atol=1e-12)
    assert np.isnan(lo[5]) and np.isnan(hi[5])
    assert hi[4] == 1.0  # x == n: upper limit exactly 1


def test_wilson_hand_formula():
    x, n, z = 12, 30, stats.norm.ppf(0.975)
    p = x / n
    centre = (x + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    assert wilson_interval(x, n) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence level"):
        wilson_interval(1, 10, conf_level=95)


# Newcombe RG. Stat Med 1998;17:873-90, Table II, method 10 (hybrid score, no CC)
NEWCOMBE_TABLE_II = [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
]


def test_risk_difference_newcombe_published_examples():
    x1, n1, x0, n0, lo, hi = (np.array(c) for c in zip(*NEWCOMBE_TABLE_II, strict=True))
    out = risk_difference(x1, n1, x0, n0)
    np.testing.assert_allclose(out["difference"], x1 / n1 - x0 / n0, atol=1e-12)
    np.testing.assert_allclose(out["lower"].round(4), lo, atol=1e-12)
    np.testing.assert_allclose(out["upper"].round(4), hi, atol=1e-12)
    assert out.loc[0, "difference"] == pytest.approx(0.2)


def test_risk_difference_equals_statsmodels_newcomb():
    out = risk_difference(np.array([30, 4]), np.array([90, 25]), 21, 80, conf_level=0.95)
    for i, (a, m) in enumerate([(30, 90), (4, 25)]):
        lo, hi = confint_proportions_2indep(a, m, 21, 80, method="newcomb", compare="diff")
        assert (out.loc[i, "lower"], out.loc[i, "upper"]) == pytest.approx((lo, hi), abs=1e-12)


def test_risk_ratio_katz_hand_computation():
    # RR = 0.20/0.10 = 2; SE(log RR) = sqrt(1/20 - 1/100 + 1/10 - 1/100) = sqrt(0.13)
    out = risk_ratio(20, 100, 10, 100)
    se = math.sqrt(0.13)
    z = 1.959963984540054
    assert out.loc[0, "ratio"] == pytest.approx(2.0)
    assert out.loc[0, "lower"] == pytest.approx(2 * math.exp(-z * se), rel=1e-12)
    assert out.loc[0, "upper"] == pytest.approx(2 * math.exp(z * se), rel=1e-12)
    # rounded: R epitools::riskratio.wald -> 0.9866 4.0545
    assert round(out.loc[0, "lower"], 4) == 0.9866 and round(out.loc[0, "upper"], 4) == 4.0545


def test_risk_ratio_zero_events_gives_nan_interval():
    out = risk_ratio(np.array([0, 5]), np.array([10, 10]), np.array([3, 0]), np.array([10, 10]))
    assert out.loc[0, "ratio"] == 0.0 and np.isnan(out.loc[0, "lower"])
    assert np.isnan(out.loc[1, "ratio"]) and np.isnan(out.loc[1, "upper"])


def test_chi_square_when_expected_counts_large():
    # expected counts 15, 85, 15, 85; X2 = 2*(25/15 + 25/85) = 3.921569
    # R: chisq.test(matrix(c(20, 10, 80, 90), 2), correct = FALSE) -> X-squared = 3.9216, p = 0.04767
    test, stat, p = two_by_two_test(20, 100, 10, 100)
    assert test == "chi-square"
    assert stat == pytest.approx(2 * (25 / 15 + 25 / 85), rel=1e-12)
    assert p == pytest.approx(0.04767, abs=5e-6)


def test_fisher_when_an_expected_count_is_below_5():
    # table [[3, 7], [9, 1]]: expected 6, 4, 6, 4 -> Fisher
    # R: fisher.test(matrix(c(3, 9, 7, 1), 2))$p.value -> 0.01977
    test, stat, p = two_by_two_test(3, 10, 9, 10)
    assert test == "fisher"
    # two-sided p by hand: sum of hypergeometric probabilities <= P(observed)
    dist = stats.hypergeom(20, 12, 10)
    probs = dist.pmf(np.arange(0, 11))
    expected_p = probs[probs <= dist.pmf(3) * (1 + 1e-7)].sum()
    assert p == pytest.approx(expected_p, rel=1e-9)
    assert round(p, 5) == 0.01977
    assert stat == pytest.approx((3 * 1) / (7 * 9))


def test_fisher_for_empty_row():
    assert two_by_two_test(0, 0, 3, 10)[0] == "fisher"
    assert two_by_two_test(0, 0, 3, 10)[2] == 1.0


def test_vectorised_group_comparison():
    counts = pd.DataFrame({"group": ["residential", "iop", "op"],
                           "successes": [48, 56, 9], "n": [80, 70, 10]})
    out = risk_difference_and_ratio(counts, "residential")
    assert out["group"].tolist() == ["iop", "op"]
    assert out.loc[0, "difference"] == pytest.approx(0.2)
    assert (round(out.loc[0, "difference_lower"], 4), round(out.loc[0, "difference_upper"], 4)) == (
        0.0524, 0.3339)
    assert out.loc[0, "ratio"] == pytest.approx(0.8 / 0.6)
    assert out["test"].tolist() == ["chi-square", "fisher"]
    assert out.loc[0, "p_value"] == pytest.approx(stats.chi2_contingency(
        [[56, 14], [48, 32]], correction=False)[1], rel=1e-12)
    with pytest.raises(ValueError, match="reference group"):
        risk_difference_and_ratio(counts, "php")


def test_vectorised_over_many_groups():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 500, 100_000)
    x = rng.binomial(n, 0.4)
    lo, hi = wilson_interval(x, n)
    rd = risk_difference(x, n, 400, 1000)
    assert np.all(lo <= x / n) and np.all(hi >= x / n)
    assert np.all(rd["lower"] <= rd["difference"]) and np.all(rd["upper"] >= rd["difference"])
