"""analysis.comparison by hand: weights, trimming, effective sizes, standardised differences, E-values,
exclusions, window nulls, the summary's dependence on the PH verdict, suppression and bad input."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.comparison import COUNT_PATHS, compare_groups
from analysis.comparison.balance import balance_table
from analysis.comparison.evalue import e_value_hr, e_value_rr, hr_to_rr
from analysis.comparison.propensity import c_statistic
from analysis.comparison.weights import effective_sample_size, propensity_weights
from analysis.cox import fit_cox

REF = Path(__file__).parent / "data" / "r_compare"


def test_ate_weights_stabilised_and_att_weights_by_hand():
    ps = np.array([0.8, 0.5, 0.25, 0.5])
    in_a = np.array([True, True, False, False])
    ate = propensity_weights(ps, in_a, estimand="ate")
    np.testing.assert_allclose(ate.weights, [0.5 / 0.8, 1.0, 0.5 / 0.75, 1.0])
    assert ate.stabilised and ate.trim is None and ate.n_trimmed == {"a": 0, "b": 0}
    assert ate.ess["a"] == pytest.approx(1.625 ** 2 / (0.625 ** 2 + 1))
    att = propensity_weights(ps, in_a, estimand="att")
    np.testing.assert_allclose(att.weights, [1.0, 1.0, 1 / 3, 1.0])
    assert not att.stabilised and att.ess["a"] == 2.0
    assert att.max_weight == {"a": 1.0, "b": 1.0}


def test_trimming_winsorises_each_group_at_its_percentiles():
    odds = np.array([1.0, 2, 3, 4, 10])
    ps = np.r_[[0.3, 0.6], odds / (1 + odds)]
    in_a = np.r_[[True, True], [False] * 5]
    att = propensity_weights(ps, in_a, estimand="att", trim=(20, 80))
    # numpy linear percentiles of 1,2,3,4,10: 20th = 1 + 0.8 * 1 = 1.8, 80th = 4 + 0.2 * 6 = 5.2
    np.testing.assert_allclose(att.weights, [1, 1, 1.8, 2, 3, 4, 5.2])
    assert att.n_trimmed == {"a": 0, "b": 2}  # the ATT's focal group keeps its weights of 1
    ate = propensity_weights(ps, in_a, estimand="ate", trim=(0, 50))
    w_b = (5 / 7) / (1 - ps[2:])
    np.testing.assert_allclose(ate.weights[2:], np.minimum(w_b, np.median(w_b)))
    assert ate.n_trimmed["b"] == 2 and ate.n_trimmed["a"] == 1  # of two A weights, the larger is capped at the median


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"estimand": "atc"}, "estimand must be one of"),
    ({"trim": (50, 10)}, "0 <= low < high <= 100"),
])
def test_weights_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        propensity_weights(np.array([0.5, 0.5]), np.array([True, False]), **kwargs)


def test_effective_sample_size_and_c_statistic():
    assert effective_sample_size(np.ones(7)) == 7
    assert effective_sample_size(np.array([1.0, 3.0])) == pytest.approx(16 / 10)
    # A scores 0.9, 0.4, 0.4; B 0.4, 0.1: pairs (A > B) 0.9>0.4, 0.9>0.1, 0.4>0.1 twice, 0.4=0.4 twice (1/2)
    assert c_statistic(np.array([0.9, 0.4, 0.4, 0.4, 0.1]), np.array([True, True, True, False, False])) == \
        pytest.approx((1 + 1 + 1 + 1 + 0.5 + 0.5) / 6)


def test_standardised_differences_by_hand():
    data = pd.DataFrame({"x": [1.0, 2, 3, 2, 4], "y": ["u", "v", "v", "u", "u"],
                         "z": pd.array([True, False, True, False, False], dtype="boolean")})
    in_a = np.array([True, True, True, False, False])
    w = np.array([1.0, 1, 2, 1, 3])
    t = balance_table(data, in_a=in_a, covariates=["x", "y", "z"], weights=w).set_index(["covariate", "level"],
                                                                                         drop=False)
    s = math.sqrt((1 + 2) / 2)  # var(1,2,3) = 1, var(2,4) = 2
    x = t.iloc[0]
    assert x["level"] is None and x["kind"] == "mean"
    assert (x["mean_a"], x["mean_b"], x["mean_a_weighted"], x["mean_b_weighted"]) == (2, 3, 2.25, 3.5)
    assert x["smd_before"] == pytest.approx(-1 / s) and x["smd_after"] == pytest.approx(-1.25 / s)
    # y: p_A(u) = 1/3, p_B(u) = 1, denominator sqrt((2/9 + 0) / 2) = 1/3; weighted p_A(u) = 1/4
    u, v = t.loc[("y", "u")], t.loc[("y", "v")]
    assert u["smd_before"] == pytest.approx(-2) and u["smd_after"] == pytest.approx(-2.25)
    assert v["smd_before"] == pytest.approx(2) and v["smd_after"] == pytest.approx(2.25)
    z = t[t["covariate"] == "z"]
    assert len(z) == 1 and z["level"].iloc[0] is True  # one row per binary item
    assert z["smd_before"].iloc[0] == pytest.approx((2 / 3) / (1 / 3))
    assert t["imbalanced_before"].all()
    assert list(t["covariate"]) == ["x", "y", "y", "z"]


def test_e_values_by_hand():
    # VanderWeele & Ding 2017's worked example: RR 3.9 (95% CI 1.8-8.7) gives E-values 7.26 and 3.0
    assert e_value_rr(3.9) == pytest.approx(7.26, abs=0.005)
    assert e_value_rr(1.8) == pytest.approx(3.0)
    assert e_value_rr(1 / 3.9) == pytest.approx(e_value_rr(3.9))
    assert e_value_rr(1.0) == 1.0
    # HR 0.56 (0.46-0.69), common outcome: RR = (1 - 0.5^sqrt(0.56)) / (1 - 0.5^sqrt(1/0.56)) = 0.40470 / 0.60397
    assert hr_to_rr(0.56) == pytest.approx(0.40470 / 0.60397, abs=1e-4)
    common = e_value_hr(0.56, 0.46, 0.69, outcome_share=0.5)
    assert common["common_outcome"] and common["estimate"] == pytest.approx(2.3496, abs=1e-3)
    assert common["limit"] == pytest.approx(e_value_rr(hr_to_rr(0.69)))
    rare = e_value_hr(0.56, 0.46, 0.69, outcome_share=0.1)
    assert not rare["common_outcome"] and rare["estimate"] == pytest.approx(e_value_rr(0.56))
    assert e_value_hr(1.2, 0.9, 1.6, outcome_share=0.5)["limit"] == 1.0  # the interval includes 1
    assert "converted to an approximate risk ratio" in common["method"]


def _rossi(**extra) -> pd.DataFrame:
    d = pd.read_csv(REF / "rossi.csv")
    for c in ["race", "wexp", "mar", "paro"]:
        d[c] = (d[c] == 1).astype("boolean")
    return d


ROSSI = dict(group_col="fin", a=1, b=0, time_col="week", event_col="arrest",
             covariates=["age", "prio", "race", "wexp", "mar", "paro"], time_unit="weeks")


def test_exclusions_counted_by_reason():
    d = _rossi()
    d["prio"] = d["prio"].astype("float64")
    d.loc[:11, "prio"] = np.nan
    d.loc[10:14, "week"] = np.nan
    d.loc[20:22, "age"] = np.nan
    cmp = compare_groups(d, **ROSSI)
    ex = cmp.population.exclusions.set_index("reason")["n"]
    assert ex["no follow-up time from the chosen origin (e.g. still in treatment)"] == 5
    assert ex["missing age"] == 3 and ex["missing prio"] == 10  # rows 10, 11 counted under the time already
    assert cmp.population.n_a + cmp.population.n_b == 432 - 18
    assert cmp.population.exclusions.attrs["count_columns"] == ["n"]


def test_horizons_and_tau_within_follow_up_with_notes():
    cmp = compare_groups(_rossi(), **ROSSI, horizons=(13, 52, 60), tau=70)
    assert cmp.horizons == (13.0, 52.0) and cmp.tau == 52
    assert any("Horizons beyond" in n and "60" in n for n in cmp.notes)
    assert any("restricted mean is taken to 52 weeks" in n for n in cmp.notes)


def test_window_without_events_in_a_group_is_null():
    d = _rossi()
    late_b = (d["fin"] == 0) & (d["week"] > 26) & (d["arrest"] == 1)
    d.loc[late_b, "arrest"] = 0  # no arrests in group 0 after week 26
    cmp = compare_groups(d, **ROSSI, windows=(0, 13, 26, 52))
    t = cmp.window_hazards.table
    assert math.isnan(t["hr"].iloc[2]) and t["events_b"].iloc[2] == 0 and t["events_a"].iloc[2] > 0
    assert any("No hazard ratio for 26-52" in n for n in cmp.notes)
    assert cmp.to_dict()["window_hr"][2]["hr"] is None
    # the other windows equal the limit of the full model, whose window-3 coefficient runs to infinity
    t_ = d["week"].to_numpy(float)
    rows = []
    for k, (lo, hi) in enumerate([(0, 13), (13, 26), (26, 52)]):
        enter = t_ >= lo if k == 0 else t_ > lo
        piece = d[enter].assign(_t=np.minimum(t_[enter], hi), _e=((d["arrest"] == 1) & (t_ <= hi))[enter].astype(float),
                                _s=k)
        for j in range(3):
            piece[f"w{j}"] = ((piece["fin"] == 1) & (j == k)).astype(float)
        rows.append(piece)
    full = fit_cox(pd.concat(rows), time_col="_t", event_col="_e", group_col=None, strata_col="_s",
                   covariates=["w0", "w1", "w2", *ROSSI["covariates"]])
    assert full.infinite_terms == ("w2",)
    hr = full.terms.set_index("term")["hr"]
    np.testing.assert_allclose(t["hr"].iloc[:2], hr[["w0", "w1"]], rtol=1e-4)


def test_summary_follows_the_ph_verdict():
    cmp = compare_groups(_rossi(), **ROSSI, windows=(0, 13, 26, 52))
    assert cmp.ph["holds"]
    holds = cmp.summary()
    assert holds.startswith("Compared fairly")
    assert "The weighted hazard ratio of 1 vs 0 is 0.70 (95% CI 0.48-1.01" in holds
    assert "by window" not in holds
    fails = dataclasses.replace(cmp, ph={**cmp.ph, "p": 0.0004, "holds": False}).summary()
    assert fails.startswith("The hazards of relapse are not proportional (test of proportional hazards, p < 0.001)")
    assert "The hazard ratio of 1 vs 0 by window of follow-up: 0.82 (0.34-1.99) in weeks 0-13" in fails
    assert "is such an average and is not a verdict" in fails
    r = cmp.rmst
    assert f"{r['estimate']:+.1f} weeks" in holds and "no clear difference" in holds  # CI includes 0
    assert cmp.to_dict()["summary"] == holds


def test_to_dict_marks_and_suppresses_counts_of_people():
    cmp = compare_groups(_rossi(), **ROSSI)
    raw = cmp.to_dict()
    assert raw["counts_of_people"] == list(COUNT_PATHS) and raw["suppressed_below"] is None
    assert any(h["n"] is not None and 0 < h["n"] < 11 for h in raw["propensity"]["histogram"])
    sup = cmp.to_dict(min_cell=11)
    assert all(h["n"] is None or h["n"] == 0 or h["n"] >= 11 for h in sup["propensity"]["histogram"])
    assert sup["n"] == {"1": 216, "0": 216} and sup["time_unit"] == "weeks"
    assert "week" in sup["weighted_survival"][0] and "from_week" in sup["window_hr"][0]
    assert cmp.curves.attrs["count_columns"][:3] == ["n_at_risk", "n_event", "n_censor"]
    assert cmp.window_hazards.table.attrs["count_columns"] == ["events_a", "events_b", "at_risk_a", "at_risk_b"]


def test_tiny_curve_values_hidden_below_min_cell():
    d = _rossi()
    cmp = compare_groups(d, **ROSSI)
    few = dataclasses.replace(cmp, survival=cmp.survival.assign(n_at_risk=np.where(cmp.survival["time"] == 52, 5, 200)))
    rows = few.to_dict(min_cell=11)["weighted_survival"]
    last = [r for r in rows if r["week"] == 52]
    assert all(r["estimate"] is None and r["at_risk"] is None for r in last)
    assert all(r["estimate"] is not None for r in rows if r["week"] != 52)


@pytest.mark.parametrize(("change", "kwargs", "message"), [
    (None, {"covariates": ["nope"]}, "No such column: nope"),
    (None, {"b": 1}, "must differ"),
    (None, {"b": 7}, "No episodes with fin = 7"),
    ("event", {}, "must hold 0 \\(censored\\), 1 \\(relapse\\) or 2"),
    ("separate", {"covariates": ["copy"]}, "separate the two groups completely"),
    ("collinear", {"covariates": ["age", "age2"]}, "collinear"),
    (None, {"estimand": "atc"}, "estimand must be one of"),
    (None, {"time_unit": "fortnights"}, "time unit must be one of"),
    (None, {"covariates": ["fin"]}, "grouping column"),
])
def test_bad_input_gets_a_sentence(change, kwargs, message):
    d = _rossi()
    if change == "event":
        d.loc[0, "arrest"] = 3
    elif change == "separate":
        d["copy"] = np.where(d["fin"] == 1, "aid", "none")
    elif change == "collinear":
        d["age2"] = d["age"] * 2.0
    with pytest.raises(ValueError, match=message):
        compare_groups(d, **{**ROSSI, **kwargs})


def test_numbers_at_risk_under_the_chart():
    d = _rossi()
    cmp = compare_groups(d, **ROSSI)
    tab = cmp.at_risk([0, 10, 52, 60]).set_index(["group", "time"])
    for g, fin in (("a", 1), ("b", 0)):
        weeks = d.loc[d["fin"] == fin, "week"]
        assert tab.loc[(g, 0), "n_at_risk"] == len(weeks)
        assert tab.loc[(g, 10), "n_at_risk"] == (weeks >= 10).sum()
        assert tab.loc[(g, 52), "n_at_risk"] == (weeks >= 52).sum()
        assert tab.loc[(g, 60), "n_at_risk"] == 0
    w = cmp.weights.weights[cmp.population.data["in_a"].to_numpy()]
    assert tab.loc[("a", 0), "n_at_risk_weighted"] == pytest.approx(w.sum())
    assert cmp.curves.attrs["time_unit"] == "weeks"


def test_without_covariates_the_summary_says_crude():
    cmp = compare_groups(_rossi(), **{**ROSSI, "covariates": []})
    np.testing.assert_allclose(cmp.weights.weights, 1.0)  # stabilised ATE weights of an empty model
    assert cmp.propensity.c_statistic == 0.5 and cmp.balance.empty
    assert cmp.summary().startswith("Without covariates to adjust for (a crude comparison, not a fair one), ")


def test_seeded_bootstrap_repeats_the_propensity_fit():
    from analysis.comparison.bootstrap import _resample

    codes = np.array([0, 0, 1, 2, 2, 2])
    picked = _resample(codes, np.random.default_rng(3))
    assert len(np.unique(codes)) == 3 and all((codes[picked] == c).sum() % (codes == c).sum() == 0 for c in range(3))
    d = _rossi()
    twice = [compare_groups(d, **ROSSI, bootstrap=5, seed=7).bootstrap for _ in range(2)]
    assert twice[0] == twice[1] and twice[0]["used"] == 5 and twice[0]["unit"] == "episode"
    other = compare_groups(d, **ROSSI, bootstrap=5, seed=8).bootstrap
    assert other["rmst_difference"] != twice[0]["rmst_difference"]
    cmp = compare_groups(d, **ROSSI, bootstrap=40)
    bs = cmp.bootstrap
    # the bootstrap spread agrees with the influence-value standard errors (weights known) to sampling error
    assert bs["rmst_difference"]["se"] == pytest.approx(cmp.rmst["se"], rel=0.3)
    for row, ij in zip(bs["relapse_difference"], cmp.differences["se"], strict=True):
        assert row["se"] == pytest.approx(ij, rel=0.3)
    assert bs["rmst_difference"]["lower"] < cmp.rmst["estimate"] < bs["rmst_difference"]["upper"]
    out = cmp.to_dict()
    assert out["bootstrap"]["method"] == "percentile bootstrap repeating the propensity fit"
    assert "seeded percentile bootstrap (40 replicates)" in out["conventions"]["intervals"]
    assert "bootstrap" not in compare_groups(d, **ROSSI).to_dict()


def test_labels_name_columns_as_the_user_knows_them():
    d = _rossi().rename(columns={"race": "race_ethnicity"})
    cmp = compare_groups(d, **{**ROSSI, "covariates": ["age", "race_ethnicity", "prio"]})
    out = cmp.to_dict(labels={"race_ethnicity": "race", "fin": "FIN"})
    assert out["by"] == "FIN" and out["covariates"] == ["age", "race", "prio"]
    assert "race[True]" in [t["term"] for t in out["propensity"]["terms"]]
    assert [b["covariate"] for b in out["balance"]] == ["age", "race", "prio"]
    assert "adjusted for age, race, prio" in out["summary"]


def test_e_value_uses_relapse_by_the_end_of_follow_up():
    d = _rossi()
    cmp = compare_groups(d, **ROSSI, tau=4)  # relapse by week 4 is rare; by week 52 it is not
    last = cmp.curves.groupby("group")["survival"].last()
    assert cmp.relapse_share == pytest.approx(float((1 - last).max()))
    assert cmp.relapse_share > 0.15 and cmp.e_value["common_outcome"]
    assert cmp.e_value["estimate"] == pytest.approx(e_value_rr(hr_to_rr(cmp.weighted_cox.hr)))


def test_a_level_in_one_group_only_is_said_not_raised():
    d = _rossi()
    d["site"] = np.where(d.index < 3, "rare", "common")
    d.loc[:2, "fin"] = 1  # the three people of the rare site are all in group 1
    cmp = compare_groups(d, **{**ROSSI, "covariates": ["age", "site"]})
    assert any("numerically 0 or 1" in n for n in cmp.notes)
    assert any("site: level(s) rare have fewer than 11 people" in n for n in cmp.notes)
    assert cmp.propensity.outside_support == {"a": 3, "b": 0}
    assert np.isinf(cmp.propensity.terms.set_index("term").loc["site[rare]", "upper"])
    assert cmp.to_dict()["propensity"]["terms"][-1]["upper"] is None  # JSON holds no infinity


def test_cluster_auto_on_client_id_and_missing_ids_are_their_own_cluster():
    from analysis.comparison import compare_cohort

    d = _rossi()
    d["time_admission_days"], d["event_admission"] = d["week"] * 7.0, d["arrest"]
    d["client_id"] = [f"C{i // 2}" for i in range(len(d))]  # pairs of episodes per person
    d.loc[:9, "client_id"] = None
    args = dict(by="fin", a=1, b=0, adjust=["age", "prio"], origin="admission", time_unit="weeks")
    cmp = compare_cohort(d, **args)
    assert cmp.cluster_col == "client_id" and cmp.n_clusters == 10 + (len(d) - 10) // 2
    assert cmp.population.n_a + cmp.population.n_b == len(d)  # nobody dropped for a missing id
    one = compare_cohort(d.assign(client_id=[f"C{i}" for i in range(len(d))]), **args)
    assert one.cluster_col is None and one.n_clusters == len(d)
    assert one.rmst["estimate"] == pytest.approx(cmp.rmst["estimate"], abs=1e-12)  # clusters change the se only
    assert one.rmst["se"] != pytest.approx(cmp.rmst["se"], rel=1e-3)


def test_model_based_fits_on_collapsed_patterns_equal_the_rows():
    """The adjusted and per-window Cox fits read one row per (time, event, group, covariates) with its count: the
    same estimates, variances, PH test and window counts as on the episodes' own rows."""
    from engine_parity import pandas_cohort

    from analysis.comparison.hazards import adjusted_cox, collapsed_population, window_hazard_ratios
    from analysis.comparison.population import comparison_population

    cohort = pandas_cohort(Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv")
    covs = ["sex", "primary_substance", "payer"]
    pop = comparison_population(cohort, group_col="level_of_care", a="iop", b="residential",
                                time_col="time_discharge_days", event_col="event_discharge", covariates=covs).data
    kw = dict(time_col="time_discharge_days", event_col="event_discharge", covariates=covs)
    pat = collapsed_population(pop, **kw)
    assert len(pat) < 0.9 * len(pop) and pat["n"].sum() == len(pop) and pat["n"].min() >= 1
    by_rows, by_patterns = adjusted_cox(pop, **kw), adjusted_cox(pat, **kw, count_col="n")
    for col in ("coef", "se", "p"):
        np.testing.assert_allclose(by_patterns.fit.terms[col], by_rows.fit.terms[col], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(by_patterns.fit.ph_test["chisq"], by_rows.fit.ph_test["chisq"], rtol=1e-9)
    assert (by_patterns.fit.n, by_patterns.fit.n_events) == (by_rows.fit.n, by_rows.fit.n_events) == (len(pop), int(
        (pop["event_discharge"] == 1).sum()))
    w_rows = window_hazard_ratios(pop, **kw, cuts=[0, 30, 90, 365]).table
    w_pat = window_hazard_ratios(pat, **kw, cuts=[0, 30, 90, 365], count_col="n").table
    pd.testing.assert_frame_equal(w_pat[["events_a", "events_b", "at_risk_a", "at_risk_b"]],
                                  w_rows[["events_a", "events_b", "at_risk_a", "at_risk_b"]])
    assert w_rows["at_risk_a"].iloc[0] == int(pop["in_a"].sum())
    np.testing.assert_allclose(w_pat["hr"], w_rows["hr"], rtol=1e-10)
    np.testing.assert_allclose(w_pat["lower"], w_rows["lower"], rtol=1e-10)
