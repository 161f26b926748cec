"""analysis.cox additions against R: robust (sandwich) variance, clusters, non-integer weights, strata,
frequency counts and R's warnings (tests/r/cox_robust_reference.R, R 4.x, survival 3.5-3):

    lung_robust:          coxph(Surv(time, event) ~ ph.ecog + sex + age, data = lung_d, robust = TRUE)
    lung_weighted_robust: the same with weights = rw (non-integer, 0.2-4), robust = TRUE
    lung_cluster:         the same with weights = rw, cluster = inst
    lung_strata:          coxph(Surv(time, event) ~ ph.ecog + sex + age + strata(strat), data = lung_d)
    rossi_robust:         coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, robust = TRUE)
    rossi_weighted:       coxph(Surv(week, arrest) ~ fin, weights = 0.5 + prio / 4, robust = TRUE)
    then concordance(fit)$concordance and cox.zph(fit)$table; and the warnings of
    coxph(Surv(time, event) ~ lvl + x, data = mono) and of the lung model with iter.max = 2.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cox import _efron, fit_cox

DATA = Path(__file__).parent / "data"
REF = DATA / "r_cox_robust"
COEF = pd.read_csv(REF / "coef.csv")
SUMMARY = pd.read_csv(REF / "summary.csv").set_index("dataset")
ZPH = pd.read_csv(REF / "zph.csv")
LUNG_COVS = ["sex", "age"]


def _lung() -> pd.DataFrame:
    d = pd.read_csv(REF / "lung_extra.csv")
    d["ph.ecog"] = d["ph.ecog"].astype(int).astype(str)
    return d


def _rossi() -> pd.DataFrame:
    return pd.read_csv(DATA / "r_compare" / "rossi.csv")


def _fit(name: str, data: pd.DataFrame | None = None, **extra):
    lung = dict(time_col="time", event_col="event", group_col="ph.ecog", covariates=LUNG_COVS,
                reference_levels={"sex": "male"})
    args = {
        "lung_robust": dict(lung, robust=True),
        "lung_weighted_robust": dict(lung, weight_col="rw", robust=True),
        "lung_cluster": dict(lung, weight_col="rw", cluster_col="inst"),
        "lung_strata": dict(lung, strata_col="strat"),
        "rossi_robust": dict(time_col="week", event_col="arrest", group_col="fin",
                             covariates=["age", "race", "wexp", "mar", "paro", "prio"], robust=True),
        "rossi_weighted": dict(time_col="week", event_col="arrest", group_col="fin", weight_col="w", robust=True),
    }[name]
    if data is None:
        data = _rossi().assign(w=lambda d: 0.5 + d["prio"] / 4) if name.startswith("rossi") else _lung()
    return fit_cox(data, **{**args, **extra})


NAMES = list(SUMMARY.index)
FITS = {name: _fit(name) for name in NAMES}


def _our_term(rterm: str) -> str:
    for var in ("ph.ecog", "sex", "fin"):
        if rterm.startswith(var):
            return f"{var}[{rterm[len(var):]}]"
    return rterm


@pytest.mark.parametrize("name", NAMES)
def test_coefficients_and_robust_se_against_R(name):
    ref = COEF[COEF["dataset"] == name].reset_index(drop=True)
    got = FITS[name].terms
    assert got["term"].tolist() == [_our_term(t) for t in ref["rterm"]]
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["se_model"], ref["se_model"], rtol=1e-6)
    for col in ["se", "hr", "lower", "upper", "z", "p"]:
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-6, err_msg=col)


@pytest.mark.parametrize("name", NAMES)
def test_summary_and_ph_test_against_R(name):
    ref, fit = SUMMARY.loc[name], FITS[name]
    assert (fit.n, fit.n_events) == (ref["n"], ref["n_events"])
    assert fit.log_likelihood == pytest.approx(ref["loglik"], abs=1e-6)
    assert fit.log_likelihood_null == pytest.approx(ref["loglik_null"], abs=1e-6)
    assert fit.concordance == pytest.approx(ref["concordance"], abs=1e-9)
    assert fit.converged and not fit.warnings
    z = ZPH[ZPH["dataset"] == name].reset_index(drop=True)
    np.testing.assert_allclose(fit.ph_test["chisq"], z["chisq"], rtol=1e-6)
    np.testing.assert_allclose(fit.ph_test["p"], z["p"], rtol=1e-6)


def test_variance_labels():
    assert FITS["lung_robust"].variance == "robust" and FITS["lung_robust"].n_clusters == 227
    assert FITS["lung_cluster"].variance == "robust, clustered on inst"
    assert FITS["lung_cluster"].n_clusters == _lung()["inst"].nunique()
    assert FITS["lung_strata"].variance == "model-based" and FITS["lung_strata"].n_clusters is None
    np.testing.assert_array_equal(FITS["lung_strata"].terms["se"], FITS["lung_strata"].terms["se_model"])


def _collapsed(d: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return d.groupby(cols, observed=True, dropna=False).size().rename("n").reset_index()


@pytest.mark.parametrize("extra", [{}, {"robust": True}, {"weight_col": "w", "robust": True}])
def test_counts_equal_raw_rows(extra):
    """Collapsed rows with a count column give the raw-row fit (Efron tie structure of the raw rows)."""
    syn = pd.read_csv(DATA / "r_cox" / "synthetic_tied.csv").dropna()
    syn = pd.concat([syn, syn, syn.iloc[::3]], ignore_index=True)  # raw rows with many exact duplicates
    syn["w"] = np.where(syn["sex"] == "male", 1.5, 0.75)
    args = dict(time_col="days", event_col="event", group_col="level_of_care", reference="residential",
                covariates=["sex", "primary_substance", "co_occurring"], **extra)
    raw = fit_cox(syn, **args)
    coll = _collapsed(syn, ["days", "event", "level_of_care", "sex", "primary_substance", "co_occurring", "w"])
    assert len(coll) < len(syn) / 2
    agg = fit_cox(coll, count_col="n", **args)
    pd.testing.assert_frame_equal(agg.terms, raw.terms, rtol=1e-12, atol=1e-14)
    pd.testing.assert_frame_equal(agg.ph_test, raw.ph_test, rtol=1e-10)
    assert (agg.n, agg.n_events, agg.concordance) == (raw.n, raw.n_events, pytest.approx(raw.concordance, abs=1e-14))
    assert agg.n_clusters == raw.n_clusters


def test_counts_with_cluster_equal_raw_rows():
    d = _lung()
    raw = _fit("lung_cluster", d)
    dup = pd.concat([d, d.iloc[:40]], ignore_index=True)  # 40 episodes twice, same cluster
    coll = _collapsed(dup, ["time", "event", "ph.ecog", "sex", "age", "rw", "inst"])
    agg = _fit("lung_cluster", coll, count_col="n")
    ref = _fit("lung_cluster", dup)
    assert agg.n == len(dup) == ref.n
    pd.testing.assert_frame_equal(agg.terms, ref.terms, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ref.terms["se"], raw.terms["se"])


def test_count_zero_rows_and_bad_counts():
    d = _lung().assign(n=1)
    base = _fit("lung_robust", d, count_col="n")
    pd.testing.assert_frame_equal(base.terms, FITS["lung_robust"].terms, rtol=1e-12, atol=1e-14)
    extra = d.iloc[:5].assign(n=0, time=1.0)
    same = _fit("lung_robust", pd.concat([d, extra]), count_col="n")
    pd.testing.assert_frame_equal(same.terms, base.terms, rtol=1e-12, atol=1e-14)
    assert same.n == base.n
    for bad in (1.5, -1):
        with pytest.raises(ValueError, match="whole numbers of episodes"):
            _fit("lung_robust", d.assign(n=[bad] + [1] * (len(d) - 1)), count_col="n")


def test_monotone_likelihood_said_in_words():
    r = pd.read_csv(REF / "warnings.csv").set_index("case")["warning"]
    assert "Loglik converged before variable  1 ; coefficient may be infinite" in r["mono_level"]
    mono = pd.read_csv(REF / "mono.csv")
    mono["g"] = "all"
    mono["lvl"] = pd.Categorical(mono["lvl"], categories=["some", "none"])
    fit = fit_cox(mono, time_col="time", event_col="event", group_col="lvl", covariates=["x"])
    assert fit.converged
    assert fit.infinite_terms == ("lvl[none]",)  # R's variable 1
    assert len(fit.warnings) == 1 and "lvl[none]" in fit.warnings[0] and "may be infinite" in fit.warnings[0]
    assert fit.warnings[0] in fit.notes
    assert any("No relapses in lvl = none" in n for n in fit.notes)
    assert not any("x" == t for t in fit.infinite_terms)


def test_no_convergence_said_in_words(monkeypatch):
    r = pd.read_csv(REF / "warnings.csv").set_index("case")["warning"]
    assert r["lung_iter2"] == "Ran out of iterations and did not converge"
    monkeypatch.setattr(_efron, "_MAX_ITER", 2)
    fit = fit_cox(_lung(), time_col="time", event_col="event", group_col="ph.ecog", covariates=LUNG_COVS)
    assert not fit.converged and fit.iterations == 2
    assert len(fit.warnings) == 1 and "did not converge" in fit.warnings[0]


def test_boolean_covariate_one_term_against_false():
    d = _rossi().assign(married=lambda x: x["mar"] == 1)
    d["married"] = d["married"].astype("boolean")
    fit = fit_cox(d, time_col="week", event_col="arrest", group_col="fin", covariates=["married", "age"])
    base = fit_cox(d, time_col="week", event_col="arrest", group_col="fin", covariates=["mar", "age"])
    assert fit.terms["term"].tolist() == ["fin[1]", "married[True]", "age"]
    assert fit.reference["married"] is False
    np.testing.assert_allclose(fit.terms["coef"], base.terms["coef"], rtol=1e-12)


def test_many_and_small_levels_noted():
    d = _rossi()
    d["site"] = (d.index % 25).astype(str)
    d.loc[:4, "site"] = "tiny"
    fit = fit_cox(d, time_col="week", event_col="arrest", group_col="fin", covariates=["site"])
    assert any("site has 26 levels (more than 20)" in n for n in fit.notes)
    assert any("site: level(s) tiny have fewer than 11 people" in n for n in fit.notes)


def test_date_covariate_refused():
    d = _rossi().assign(when=pd.Timestamp("2020-01-01"))
    with pytest.raises(ValueError, match="holds dates"):
        fit_cox(d, time_col="week", event_col="arrest", group_col="fin", covariates=["when"])


def test_starting_values_reach_the_same_fit():
    base = FITS["rossi_robust"]
    start = {t: c + 0.3 for t, c in zip(base.terms["term"], base.terms["coef"], strict=True)} | {"not_a_term": 9.0}
    warm = _fit("rossi_robust", init=start)
    np.testing.assert_allclose(warm.terms["coef"], base.terms["coef"], atol=1e-7)
    np.testing.assert_allclose(warm.terms["se"], base.terms["se"], rtol=1e-6)
    assert warm.log_likelihood_null == base.log_likelihood_null
