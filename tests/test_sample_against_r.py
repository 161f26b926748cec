"""The whole pipeline on the bundled sample, from the CSV file, against R's survival package.

Reference: tests/r/sample_reference.R (run by hand; R 4.2.2, survival 3.5-3), which derives the
follow-up times in R from the raw CSV independently of the Python code, then calls
survfit(conf.type="log-log"), summary(times=, extend=TRUE), summary(fit, rmean=365)$table,
survdiff, coxph(ties="efron") with loc (ref residential) + age + sex + co_occurring, and cox.zph.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import derive_cohort
from analysis.loading import load_episodes
from analysis.report import outcomes_report

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "data" / "r_sample"
R_TERMS = {"locdetox": "level_of_care[detox]", "locinpatient": "level_of_care[inpatient]",
           "locphp": "level_of_care[php]", "lociop": "level_of_care[iop]", "locop": "level_of_care[op]",
           "age": "age", "sexmale": "sex[male]", "sexfemale": "sex[female]", "coyes": "co_occurring[True]"}


@pytest.fixture(scope="module")
def cohort():
    result = load_episodes(ROOT / "sample_data" / "episodes.csv")
    return derive_cohort(result.episodes)


@pytest.fixture(scope="module", params=["discharge", "admission"])
def pair(request, cohort):
    origin = request.param
    report = outcomes_report(cohort, origin=origin, adjust=["age", "sex", "co_occurring"],
                             reference="residential")
    return origin, report


def test_km_at_horizons(pair):
    origin, report = pair
    r = pd.read_csv(REF / f"km_{origin}.csv").set_index(["group", "day"])
    ours = report.survival.assign(group=report.survival["group"].astype(str)).set_index(["group", "day"])
    joined = r.join(ours, how="inner")
    assert len(joined) == 24
    np.testing.assert_allclose(joined["survival"], joined["surv"], atol=1e-10)
    np.testing.assert_allclose(joined["ci_lower"], joined["lower"], atol=1e-8)
    np.testing.assert_allclose(joined["ci_upper"], joined["upper"], atol=1e-8)
    np.testing.assert_array_equal(joined["n_at_risk"], joined["n_risk"])


def test_medians_rmst_counts(pair):
    origin, report = pair
    r = pd.read_csv(REF / f"summary_{origin}.csv").set_index("group")
    med = report.medians.assign(group=report.medians["group"].astype(str)).set_index("group").loc[r.index]
    np.testing.assert_allclose(med["median_days"], r["median"], equal_nan=True)
    np.testing.assert_allclose(med["ci_lower"], r["median_lower"], equal_nan=True)
    np.testing.assert_allclose(med["ci_upper"], r["median_upper"], equal_nan=True)
    rm = report.rmst.assign(group=report.rmst["group"].astype(str)).set_index("group").loc[r.index]
    np.testing.assert_allclose(rm["rmst_days"], r["rmean"], rtol=1e-9)
    np.testing.assert_allclose(rm["se"], r["rmean_se"], rtol=1e-6)
    first = report.km.groupby("group", observed=True)["n_at_risk"].first()
    first.index = first.index.astype(str)
    np.testing.assert_array_equal(first.loc[r.index], r["n"])


def test_logrank_and_cox(pair):
    origin, report = pair
    lr = pd.read_csv(REF / f"logrank_{origin}.csv").iloc[0]
    assert report.logrank.statistic == pytest.approx(lr["chisq"], rel=1e-8)
    assert report.logrank.p == pytest.approx(lr["p"], rel=1e-6)
    assert report.cox.concordance == pytest.approx(lr["concordance"], abs=1e-9)
    r = pd.read_csv(REF / f"cox_{origin}.csv")
    r["term"] = r["term"].map(R_TERMS)
    terms = report.cox.terms.set_index("term").loc[r["term"]]
    np.testing.assert_allclose(terms["coef"], r["coef"], atol=1e-6)
    np.testing.assert_allclose(terms["se"], r["se"], rtol=1e-4)
    np.testing.assert_allclose(terms["lower"], r["lower"], rtol=1e-4)
    np.testing.assert_allclose(terms["p"], r["p"], rtol=1e-4, atol=1e-12)
    z = pd.read_csv(REF / f"zph_{origin}.csv")
    z["term"] = z["term"].replace({"loc": "level_of_care", "co": "co_occurring"})
    ph = report.cox.ph_test.set_index("term").loc[z["term"]]
    np.testing.assert_allclose(ph["chisq"], z["chisq"], rtol=1e-4)
