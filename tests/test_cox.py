"""analysis.cox against R's survival (coxph Efron, concordance, cox.zph).

Reference values come from tests/r/cox_reference.R (R 4.x, survival 3.5-3), which also writes the
datasets to tests/data/r_cox/. The calls, one per dataset:

    lung:           coxph(Surv(time, event) ~ factor(ph.ecog) + relevel(factor(sex), "male") + age,
                          ties = "efron")
    lung_weighted:  the same with weights = w (w = 1, 2, 3, 1, 2, 3, ...)
    veteran:        coxph(Surv(time, event) ~ factor(celltype, levels = c("squamous", "smallcell",
                          "adeno", "large")) + factor(trt) + karno + age, ties = "efron")
    synthetic_tied: coxph(Surv(days, event == 1) ~ factor(level_of_care, levels = c("residential",
                          "detox", "php", "iop", "op")) + relevel(factor(sex), "male") +
                          relevel(factor(primary_substance), "alcohol") + relevel(factor(co_occurring),
                          "no"), ties = "efron")     # 3000 rows, integer days, event 2 = death; 25 NA
    synthetic_doubled: the same on rbind(syn_d, syn_d) (Efron is not invariant to doubling tied sets)
    then concordance(fit)$concordance and cox.zph(fit)$table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cox import CoxResult, _concordance, fit_cox

DATA = Path(__file__).parent / "data" / "r_cox"
COEF = pd.read_csv(DATA / "coef.csv")
SUMMARY = pd.read_csv(DATA / "summary.csv").set_index("dataset")
ZPH = pd.read_csv(DATA / "zph.csv")


def _lung() -> pd.DataFrame:
    d = pd.read_csv(DATA / "lung.csv")
    d["ph.ecog"] = d["ph.ecog"].astype(int).astype(str)
    return d


def _veteran() -> pd.DataFrame:
    d = pd.read_csv(DATA / "veteran.csv")
    d["celltype"] = pd.Categorical(d["celltype"], categories=["squamous", "smallcell", "adeno", "large"])
    return d


def _synthetic() -> pd.DataFrame:
    d = pd.read_csv(DATA / "synthetic_tied.csv")
    d["level_of_care"] = pd.Categorical(d["level_of_care"], categories=["residential", "detox", "php", "iop", "op"])
    return d


SYN_ARGS = dict(time_col="days", event_col="event", group_col="level_of_care", reference="residential",
                covariates=["sex", "primary_substance", "co_occurring"])


def _fit(name: str) -> CoxResult:
    if name == "lung":
        return fit_cox(_lung(), time_col="time", event_col="event", group_col="ph.ecog", covariates=["sex", "age"])
    if name == "lung_weighted":
        return fit_cox(_lung(), time_col="time", event_col="event", group_col="ph.ecog",
                       covariates=["sex", "age"], weight_col="w")
    if name == "synthetic_doubled":  # many more tied rows per aggregated row
        d = _synthetic()
        return fit_cox(pd.concat([d, d], ignore_index=True), **SYN_ARGS)
    if name == "veteran":
        return fit_cox(_veteran(), time_col="time", event_col="event", group_col="celltype",
                       covariates=["trt", "karno", "age"])
    return fit_cox(_synthetic(), **SYN_ARGS)


DATASETS = ["lung", "lung_weighted", "veteran", "synthetic_tied", "synthetic_doubled"]
FITS = {name: _fit(name) for name in DATASETS}


@pytest.mark.parametrize("name", DATASETS)
def test_coefficients_against_R(name):
    ref = COEF[COEF["dataset"] == name].reset_index(drop=True)
    got = FITS[name].terms
    assert list(got.columns) == ["term", "coef", "se", "hr", "lower", "upper", "z", "p", "se_model"]
    assert got["term"].tolist() == ref["term"].tolist()
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=0, atol=1e-6)
    for col in ["se", "hr", "lower", "upper", "z", "p"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-4, err_msg=col)


@pytest.mark.parametrize("name", DATASETS)
def test_fit_summary_against_R(name):
    ref = SUMMARY.loc[name]
    fit = FITS[name]
    assert fit.n == ref["n"] and fit.n_events == ref["n_events"]
    assert fit.log_likelihood == pytest.approx(ref["loglik"], abs=1e-6)
    assert fit.log_likelihood_null == pytest.approx(ref["loglik_null"], abs=1e-6)
    assert fit.concordance == pytest.approx(ref["concordance"], abs=1e-9)
    assert fit.converged


@pytest.mark.parametrize("name", DATASETS)
def test_ph_test_against_R(name):
    ref = ZPH[ZPH["dataset"] == name].reset_index(drop=True)
    got = FITS[name].ph_test
    assert got["term"].tolist() == ref["term"].tolist()
    assert got["df"].tolist() == ref["df"].tolist()
    np.testing.assert_allclose(got["chisq"], ref["chisq"], rtol=1e-4)
    np.testing.assert_allclose(got["p"], ref["p"], rtol=1e-4)
    assert FITS[name].ph_violated == bool((ref["p"] < 0.05).any())


def test_missing_rows_dropped_and_counted():
    fit = FITS["synthetic_tied"]
    assert fit.n_dropped_missing == 25  # co_occurring set to NA in 25 rows by the R script
    assert fit.n == 3000 - 25
    assert fit.reference == {"level_of_care": "residential", "sex": "male",
                             "primary_substance": "alcohol", "co_occurring": "no"}


def test_death_is_censored_for_the_cause_specific_hazard():
    d = _synthetic()
    assert (d["event"] == 2).sum() > 0
    recoded = fit_cox(d.assign(event=d["event"].replace(2, 0)), **SYN_ARGS)
    pd.testing.assert_frame_equal(recoded.terms, FITS["synthetic_tied"].terms)


def test_fenwick_concordance_path_matches_R(monkeypatch):
    monkeypatch.setattr(_concordance, "_DENSE_CONCORDANCE_CELLS", 0)
    for name in ["lung", "lung_weighted", "synthetic_tied"]:
        assert _fit(name).concordance == pytest.approx(SUMMARY.loc[name, "concordance"], abs=1e-9)


def test_reference_change_inverts_hazard_ratio():
    other = fit_cox(_synthetic(), **{**SYN_ARGS, "reference": "detox"})
    t = other.terms.set_index("term")
    base = FITS["synthetic_tied"].terms.set_index("term")
    assert t.loc["level_of_care[residential]", "coef"] == pytest.approx(-base.loc["level_of_care[detox]", "coef"], abs=1e-8)
    assert t.loc["level_of_care[op]", "coef"] == pytest.approx(
        base.loc["level_of_care[op]", "coef"] - base.loc["level_of_care[detox]", "coef"], abs=1e-8)
    assert other.log_likelihood == pytest.approx(FITS["synthetic_tied"].log_likelihood, abs=1e-8)


def test_reference_levels_and_bool_covariate_names():
    d = _synthetic().dropna()
    d["co_occurring"] = d["co_occurring"] == "yes"
    fit = fit_cox(d, **{**SYN_ARGS, "reference_levels": {"sex": "female"}})
    assert "sex[male]" in fit.terms["term"].tolist()
    assert "co_occurring[True]" in fit.terms["term"].tolist()
    assert fit.reference["sex"] == "female" and fit.reference["co_occurring"] is False
    base = FITS["synthetic_tied"].terms.set_index("term")
    got = fit.terms.set_index("term")
    assert got.loc["sex[male]", "coef"] == pytest.approx(-base.loc["sex[female]", "coef"], abs=1e-8)
    assert got.loc["co_occurring[True]", "coef"] == pytest.approx(base.loc["co_occurring[yes]", "coef"], abs=1e-8)


def test_groups_subset_equals_filtered_fit():
    d = _synthetic()
    sub = fit_cox(d, **{**SYN_ARGS, "groups": ["residential", "iop"]})
    filt = fit_cox(d[d["level_of_care"].isin(["residential", "iop"])], **SYN_ARGS)
    assert sub.terms["term"].tolist()[0] == "level_of_care[iop]"
    pd.testing.assert_frame_equal(sub.terms, filt.terms)


def test_summary_sentence():
    assert FITS["synthetic_tied"].summary_sentence() == (
        "The proportional-hazards assumption looks doubtful for level_of_care (p = 0.004): "
        "the hazard ratio may change over time; read it as an average.")
    assert FITS["lung"].summary_sentence().startswith("No departure from proportional hazards was detected")
    assert "p = 0.169" in FITS["lung"].summary_sentence()
    assert not FITS["lung"].ph_violated and FITS["veteran"].ph_violated


def test_level_without_relapses_is_noted():
    d = _synthetic().dropna()
    d = d[~((d["level_of_care"] == "php") & (d["event"] == 1))]
    fit = fit_cox(d, **SYN_ARGS)
    assert any("level_of_care = php" in n for n in fit.notes)


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (None, {"time_col": "nope"}, "not found"),
        ("negative", {}, "negative"),
        ("no_events", {}, "no relapses"),
        ("one_group", {"reference": None}, "at least two groups"),
        (None, {"reference": "spa"}, "does not occur"),
        ("zero_weight", {"weight_col": "w"}, "positive"),
        (None, {"conf_level": 1.5}, "between 0 and 1"),
    ],
)
def test_invalid_input_raises(change, kwargs, message):
    d = _synthetic().dropna().assign(w=1.0)
    if change == "negative":
        d.loc[d.index[0], "days"] = -1
    elif change == "no_events":
        d["event"] = 0
    elif change == "one_group":
        d["level_of_care"] = "iop"
    elif change == "zero_weight":
        d.loc[d.index[0], "w"] = 0.0
    with pytest.raises(ValueError, match=message):
        fit_cox(d, **{**SYN_ARGS, **kwargs})


def test_sums_over_design_patterns_equal_sums_over_rows():
    """Rows of few distinct design rows are summed per pattern (likelihood, score, information, PH test pieces):
    the same numbers as the sums over the rows, to rounding."""
    from analysis.cox._efron import build_strata, newton

    rng = np.random.default_rng(7)
    n = 4000
    levels = rng.integers(0, 4, n)
    X = np.column_stack([(levels == k).astype(float) for k in (1, 2, 3)] + [rng.integers(0, 2, n).astype(float)])
    time = rng.integers(1, 60, n).astype(float)
    dead = rng.random(n) < 0.6
    w, count = np.ones(n), rng.integers(1, 4, n).astype(float)
    pattern = levels * 2 + X[:, 3].astype(int)
    strata = rng.integers(0, 2, n)
    for s in (None, strata):
        by_rows = build_strata(time, dead, X, w, count, s)
        by_patterns = build_strata(time, dead, X, w, count, s, pattern=pattern)
        assert all(ef.pattern is not None for ef in by_patterns.parts)
        assert all(ef.pattern is None for ef in by_rows.parts)
        beta = np.array([0.3, -0.2, 0.1, 0.4])
        (ll_r, pc_r), (ll_p, pc_p) = by_rows.evaluate(beta), by_patterns.evaluate(beta)
        assert ll_p == pytest.approx(ll_r, rel=1e-13)
        tw = [np.linspace(0, 1, ef.m) for ef in by_rows.parts]
        for t in (None, tw):
            (u_r, i_r), (u_p, i_p) = by_rows.score_info(pc_r, t), by_patterns.score_info(pc_p, t)
            np.testing.assert_allclose(u_p, u_r, rtol=1e-11, atol=1e-9)
            np.testing.assert_allclose(i_p, i_r, rtol=1e-11)
        np.testing.assert_allclose(newton(by_patterns, 4).beta, newton(by_rows, 4).beta, rtol=1e-10)
