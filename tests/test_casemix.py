"""Standardised differences against hand computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.casemix import standardized_differences


def test_numeric_and_categorical_smd():
    cohort = pd.DataFrame({
        "level_of_care": pd.Categorical(["residential"] * 4 + ["iop"] * 4,
                                        categories=["residential", "iop"], ordered=True),
        "age": [30.0, 40, 50, 60, 20, 30, 40, 50],
        "co_occurring": pd.array([True, True, True, False, True, False, False, False], dtype="boolean"),
    })
    out = standardized_differences(cohort, groups=("residential", "iop"), covariates=["age", "co_occurring"])
    age = out[out["variable"] == "age"].iloc[0]
    # means 45 and 35; sample variances both 166.67 -> SMD = 10 / 12.910 = 0.7746
    assert age["smd"] == pytest.approx(10 / np.sqrt(500 / 3))
    yes = out[(out["variable"] == "co_occurring") & (out["level"] == "True")].iloc[0]
    # shares 0.75 and 0.25: (0.5) / sqrt((0.1875 + 0.1875) / 2) = 1.1547
    assert yes["smd"] == pytest.approx(0.5 / np.sqrt(0.1875))
    assert out["imbalanced"].all()


def test_needs_two_groups():
    cohort = pd.DataFrame({"level_of_care": ["iop"], "age": [30.0]})
    with pytest.raises(ValueError, match="exactly two"):
        standardized_differences(cohort, groups=("iop",))
