"""analysis.survival against R survival 3.5-3 (tests/r/survival_reference.R) and hand-worked values.

Reference calls (per dataset: lung by sex, veteran by celltype, a synthetic weekly-tied cohort with
competing deaths and day-0 relapses, and a tiny hand set), with e1 = (event == 1):
    fit <- survfit(Surv(time, e1) ~ group, data = df, conf.type = "log-log")
    summary(fit, censored = TRUE)                    -> <name>_km.csv
    summary(fit, times = ..., extend = TRUE)         -> <name>_times.csv (counts cumulated per group)
    summary(fit, rmean = tau)$table                  -> <name>_table.csv (rmean, se(rmean), median, CI)
    survdiff(Surv(time, e1) ~ group, data = df)      -> <name>_logrank*.csv
    survdiff on each pair, p.adjust(p, "holm")       -> <name>_pairwise.csv
    survfit(Surv(time, factor(event, 0:2, c("censor", "relapse", "death"))) ~ group) -> synthetic_aj.csv
Estimates agree to 1e-9 absolute (R writes 15 significant digits).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.survival import (
    LogRankResult,
    at_risk_table,
    cumulative_incidence,
    holm_adjust,
    km_by_group,
    logrank,
    median_survival,
    pairwise_logrank,
    rmst_by_group,
    rmst_difference,
    survival_at,
)

REF = Path(__file__).parent / "data" / "r_survival"
DATASETS = ["lung", "veteran", "synthetic", "tiny"]
ATOL = 1e-9
COLS = {"time_col": "time", "event_col": "event", "group_col": "group"}


def _ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


def _data(name: str) -> tuple[pd.DataFrame, list[str]]:
    """The dataset, with the group order R used (factor levels)."""
    return _ref(f"{name}.csv"), _ref(f"{name}_logrank_groups.csv")["group"].tolist()


def _close(ours, theirs, atol=ATOL):
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, atol=atol, rtol=0, equal_nan=True)


@pytest.fixture(scope="module", params=DATASETS)
def case(request):
    df, order = _data(request.param)
    km = km_by_group(df, **COLS, groups=order)
    return request.param, df, order, km


# --------------------------------------------------------------------------------------- KM
def test_km_against_R(case):
    name, df, order, km = case
    ref = _ref(f"{name}_km.csv")
    # R's survfit has no time-0 row unless data sit at 0; ours adds one (survfit0) with S = 1, CI [1, 1]
    added = (km["time"] == 0) & (km["n_event"] == 0) & (km["n_censor"] == 0)
    assert (km.loc[added, ["survival", "ci_lower", "ci_upper"]] == 1).all().all()
    ours = km[~added].reset_index(drop=True)
    assert ours["group"].astype(str).tolist() == ref["group"].tolist()
    for col in ["time", "n_at_risk", "n_event", "n_censor", "survival", "std_err", "ci_lower", "ci_upper"]:
        _close(ours[col], ref[col])
    assert list(km["group"].cat.categories) == order


def test_km_properties(case):
    _, _, _, km = case
    for _, g in km.groupby("group", observed=True):
        assert g["time"].iloc[0] == 0
        assert np.all(np.diff(g["time"]) > 0)
        assert np.all(np.diff(g["survival"]) <= 0)
        ok = g["ci_lower"].notna()
        assert np.all(g.loc[ok, "ci_lower"] <= g.loc[ok, "survival"] + 1e-12)
        assert np.all(g.loc[ok, "survival"] <= g.loc[ok, "ci_upper"] + 1e-12)


def test_survival_at_against_R(case):
    name, _, _, km = case
    ref = _ref(f"{name}_times.csv")
    days = ref["day"].drop_duplicates().to_numpy()
    ours = survival_at(km, days)
    assert ours["group"].astype(str).tolist() == ref["group"].tolist()
    for col in ["day", "survival", "std_err", "ci_lower", "ci_upper", "n_at_risk", "n_event_cum", "n_censor_cum"]:
        _close(ours[col], ref[col])
    table = at_risk_table(km, days)
    assert list(table.columns) == ["group", "day", "n_at_risk", "n_event_cum", "n_censor_cum"]
    _close(table["n_at_risk"], ref["n_at_risk"])


def test_median_against_R(case):
    name, _, _, km = case
    ref = _ref(f"{name}_table.csv")
    ref = ref[ref["tau"] == ref["tau"].iloc[0]]
    ours = median_survival(km)
    assert ours["group"].astype(str).tolist() == ref["group"].tolist()
    _close(ours["median_days"], ref["median"])
    _close(ours["ci_lower"], ref["median_lcl"])
    _close(ours["ci_upper"], ref["median_ucl"])


def test_median_midpoint_rule_by_hand():
    # group a: 4 events at 1..4, S = .75, .5, .25, 0 -> S = 0.5 exactly on [2, 3): median (2 + 3) / 2
    df, order = _data("tiny")
    med = median_survival(km_by_group(df, **COLS, groups=order))
    assert med["median_days"].tolist() == [2.5, 5.0]


def test_rmst_against_R(case):
    name, _, _, km = case
    ref = _ref(f"{name}_table.csv")
    for tau, r in ref.groupby("tau"):
        ours = rmst_by_group(km, tau=tau)
        _close(ours["rmst_days"], r["rmean"])
        _close(ours["se"], r["se_rmean"])
        z = 1.959963984540054
        _close(ours["ci_lower"], r["rmean"] - z * r["se_rmean"], atol=1e-8)


def test_rmst_by_hand():
    # S = 1 on [0, 1), .75 on [1, 2), .5 on [2, 2.5]: area 1 + .75 + .25 = 2.0 (tau = 2.5)
    # se^2 = A1^2 d/(n(n-d)) + A2^2 ...: A1 = .75 + .25 = 1.0 (n=4,d=1 -> 1/12), A2 = .25 (n=3 -> 1/6)
    df, order = _data("tiny")
    r = rmst_by_group(km_by_group(df[df["group"] == "a"], **COLS), tau=2.5)
    assert r["rmst_days"].iloc[0] == pytest.approx(2.0)
    assert r["se"].iloc[0] == pytest.approx(np.sqrt(1 / 12 + 0.25 ** 2 / 6))


def test_rmst_difference_by_hand():
    table = pd.DataFrame({"group": ["a", "b", "c"], "tau": 365.0, "rmst_days": [200.0, 230.0, 190.0],
                          "se": [10.0, 20.0, 0.0], "ci_lower": np.nan, "ci_upper": np.nan})
    d = rmst_difference(table, "a")
    assert d["group"].tolist() == ["b", "c"]
    assert d["difference_days"].tolist() == [30.0, -10.0]
    se = np.sqrt(500.0)
    assert d["se"].iloc[0] == pytest.approx(se)
    assert d["ci_lower"].iloc[0] == pytest.approx(30 - 1.959963984540054 * se)
    assert d["p"].iloc[0] == pytest.approx(0.17971249487899976)  # 2 * pnorm(-30 / sqrt(500)) in R
    with pytest.raises(ValueError, match="Reference group"):
        rmst_difference(table, "zzz")


# --------------------------------------------------------------------------------------- log-rank
def test_logrank_against_R(case):
    name, df, order, _ = case
    ref = _ref(f"{name}_logrank.csv").iloc[0]
    groups = _ref(f"{name}_logrank_groups.csv")
    res = logrank(df, **COLS, groups=order)
    assert isinstance(res, LogRankResult)
    assert res.statistic == pytest.approx(ref["statistic"], abs=1e-8)
    assert res.df == ref["df"]
    assert res.p == pytest.approx(ref["p"], rel=1e-8)
    assert res.table["group"].astype(str).tolist() == groups["group"].tolist()
    for col in ["n", "observed", "expected"]:
        _close(res.table[col], groups[col])


def test_pairwise_logrank_against_R(case):
    name, df, order, _ = case
    ref = _ref(f"{name}_pairwise.csv")
    ours = pairwise_logrank(df, **COLS, groups=order)
    assert ours["group_a"].tolist() == ref["group_a"].tolist()
    assert ours["group_b"].tolist() == ref["group_b"].tolist()
    _close(ours["statistic"], ref["statistic"], atol=1e-8)
    np.testing.assert_allclose(ours["p"], ref["p"], rtol=1e-8)
    np.testing.assert_allclose(ours["p_adjusted"], ref["p_adjusted"], rtol=1e-8)


def test_holm_by_hand():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "holm") = 0.04 0.09 0.09 0.50
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])


# --------------------------------------------------------------------------------------- Aalen-Johansen
def test_cumulative_incidence_against_R():
    df, order = _data("synthetic")
    ref = _ref("synthetic_aj.csv")
    assert (ref["conf_type"] == "log").all()
    ours = cumulative_incidence(df, **COLS, groups=order)
    assert ours["group"].astype(str).tolist() == ref["group"].tolist()
    for col in ["time", "n_at_risk", "cif_relapse", "cif_death", "se_relapse", "se_death",
                "ci_lower", "ci_upper"]:
        _close(ours[col], ref[col])
    # ignoring the competing risk overstates relapse: 1 - KM >= Aalen-Johansen
    assert np.all(ours["km_relapse_complement"] >= ours["cif_relapse"] - 1e-12)


def test_cumulative_incidence_by_hand_ties():
    # 4 at risk at t=1: one relapse and one death together; then one relapse at 2 (n = 2), one censored.
    # F1(1) = 1/4, F2(1) = 1/4, S(1) = 1/2; F1(2) = 1/4 + 1/2 * 1/2 = 1/2.
    df = pd.DataFrame({"time": [1, 1, 2, 3], "event": [1, 2, 1, 0]})
    cif = cumulative_incidence(df, time_col="time", event_col="event", group_col=None)
    assert cif["time"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(cif["cif_relapse"], [0.25, 0.5, 0.5])
    np.testing.assert_allclose(cif["cif_death"], [0.25, 0.25, 0.25])
    # at the first time the IJ variance is the binomial p (1 - p) / n
    assert cif["se_relapse"].iloc[0] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))


# --------------------------------------------------------------------------------------- weights, groups
def _aggregated(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["group", "time", "event"], as_index=False).size().rename(columns={"size": "n"})


def test_frequency_weights_equal_row_level():
    df, order = _data("synthetic")
    agg = _aggregated(df)
    assert len(agg) < len(df) / 2
    pd.testing.assert_frame_equal(km_by_group(agg, **COLS, groups=order, weight_col="n"),
                                  km_by_group(df, **COLS, groups=order))
    a = logrank(agg, **COLS, groups=order, weight_col="n")
    b = logrank(df, **COLS, groups=order)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-12)
    pd.testing.assert_frame_equal(pairwise_logrank(agg, **COLS, groups=order, weight_col="n"),
                                  pairwise_logrank(df, **COLS, groups=order))
    pd.testing.assert_frame_equal(cumulative_incidence(agg, **COLS, groups=order, weight_col="n"),
                                  cumulative_incidence(df, **COLS, groups=order), atol=1e-12)


def test_group_order_restriction_and_single_group():
    df, _ = _data("veteran")
    df["group"] = pd.Categorical(df["group"], categories=["large", "adeno", "smallcell", "squamous", "unused"])
    km = km_by_group(df, **COLS)
    assert list(km["group"].cat.categories) == ["large", "adeno", "smallcell", "squamous"]
    two = km_by_group(df, **COLS, groups=["squamous", "large"])
    assert list(two["group"].cat.categories) == ["squamous", "large"]
    assert logrank(df, **COLS, groups=["squamous", "large"]).df == 1
    one = km_by_group(df, time_col="time", event_col="event", group_col=None)
    assert set(one["group"]) == {"all"}
    assert one["n_at_risk"].iloc[0] == len(df)


def test_missing_rows_ignored_and_death_is_censoring():
    df = pd.DataFrame({"time": [1, 2, np.nan, 3, 4], "event": [1, 2, 1, np.nan, 0]})
    km = km_by_group(df, time_col="time", event_col="event", group_col=None)
    assert km["n_at_risk"].iloc[0] == 3
    assert km["n_censor"].tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(km["survival"], [1, 2 / 3, 2 / 3, 2 / 3])


@pytest.mark.parametrize("frame, kwargs, message", [
    (pd.DataFrame({"time": [-1.0, 2], "event": [1, 0]}), {}, "negative"),
    (pd.DataFrame({"time": [1.0, 2], "event": [3, 0]}), {}, "must hold 0"),
    (pd.DataFrame({"time": [1.0, 2], "event": [1, 0]}), {"time_col": "days"}, "not in the data"),
    (pd.DataFrame({"time": [1.0, 2], "event": [1, 0], "w": [-1, 1]}), {"weight_col": "w"}, "negative weights"),
    (pd.DataFrame({"time": [1.0, 2], "event": [1, 0], "g": ["a", "b"]}),
     {"group_col": "g", "groups": ["a", "c"]}, "No analysable rows"),
    (pd.DataFrame({"time": [np.nan], "event": [1]}), {}, "No rows"),
])
def test_invalid_input(frame, kwargs, message):
    args = {"time_col": "time", "event_col": "event", "group_col": None} | kwargs
    with pytest.raises(ValueError, match=message):
        km_by_group(frame, **args)
