"""Retention and relapse on hand-worked cohorts (every expected number worked out by hand)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import derive_cohort
from analysis.engagement import engagement
from analysis.loading import load_frame
from analysis.relapse import relapse_comparison, relapse_rates
from analysis.retention import (
    completion_rates,
    discharge_reason_mix,
    length_of_stay,
    retention_at,
    step_down_flows,
    step_down_rates,
)


def _cohort(rows, as_of):
    frame = pd.DataFrame(rows, columns=["episode_id", "client_id", "level_of_care", "admission_date",
                                        "discharge_date", "discharge_reason", "relapse_date",
                                        "last_contact_date", "death_date", "hours_attended", "hours_scheduled"])
    result = load_frame(frame, as_of=as_of, today="2026-11-25")
    assert result.report.exit_code == 0, result.report.summary_text()
    return derive_cohort(result.episodes)


# Six IOP episodes admitted 1 Jan 2024, discharged 31 Jan 2024 (30 days); data as of 31 Dec 2024.
# Days from discharge: #1 relapse +10, #2 relapse +60, #3 followed to +200, #4 lost at +20,
# #5 died at +50 without relapse, #6 relapsed during treatment (day 0). #7 still in treatment.
RELAPSE_ROWS = [
    ("E1", "C1", "IOP", "2024-01-01", "2024-01-31", "completed", "2024-02-10", "2024-02-10", None, None, None),
    ("E2", "C2", "IOP", "2024-01-01", "2024-01-31", "AMA", "2024-03-31", "2024-03-31", None, None, None),
    ("E3", "C3", "IOP", "2024-01-01", "2024-01-31", "completed", None, "2024-08-18", None, None, None),
    ("E4", "C4", "IOP", "2024-01-01", "2024-01-31", "transferred", None, "2024-02-20", None, None, None),
    ("E5", "C5", "IOP", "2024-01-01", "2024-01-31", "completed", None, "2024-03-21", "2024-03-21", None, None),
    ("E6", "C6", "IOP", "2024-01-01", "2024-01-31", "dropped out", "2024-01-15", "2024-01-31", None, None, None),
    ("E7", "C7", "IOP", "2024-12-01", None, None, None, None, None, None, None),
]


@pytest.fixture(scope="module")
def relapse_cohort():
    return _cohort(RELAPSE_ROWS, "2024-12-31")


def test_relapse_rates_hand_worked(relapse_cohort):
    r = relapse_rates(relapse_cohort, origin="discharge").set_index("horizon_days")
    assert r["n"].tolist() == [6, 6, 6, 6]  # E7 has no discharge
    # KM from discharge: day 0 relapse (6 at risk) S=5/6; day 10 (5) S=4/6; day 20 censored;
    # day 50 death = censored; day 60 (2 at risk) S=1/3; day 200 censored.
    assert r["km_relapse"].to_numpy() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3])
    # by 30: relapsed E1,E6; free E2,E3,E5; E4 lost -> reached 5 of 6
    # by 90: relapsed E1,E2,E6; free E3; died E5; E4 lost -> reached 5 of 6
    # by 365: discharge + 365 = 30 Jan 2025 is after the data's date (31 Dec 2024): no one is due yet,
    #         so no one is eligible (counting only the early relapses would inflate the share)
    assert r.loc[[30, 90, 365], "n_eligible"].tolist() == [6, 6, 0]
    assert r.loc[[30, 90, 365], "n_relapsed"].tolist() == [2, 3, 0]
    assert r.loc[[30, 90, 365], "n_reached"].tolist() == [5, 5, 0]
    assert np.isnan(r.loc[365, "naive_rate"]) and np.isnan(r.loc[365, "reach"])
    assert r.loc[[30, 90], "naive_rate"].to_numpy() == pytest.approx([2 / 5, 3 / 5])
    assert r.loc[[30, 90], "bound_none_relapsed"].to_numpy() == pytest.approx([2 / 6, 3 / 6])
    assert r.loc[[30, 90], "bound_all_relapsed"].to_numpy() == pytest.approx([3 / 6, 4 / 6])
    assert r.loc[30, "reach"] == pytest.approx(5 / 6)
    # log-log interval turned over: km_lower = 1 - upper(S)
    assert (r["km_lower"] <= r["km_relapse"]).all() and (r["km_upper"] >= r["km_relapse"]).all()
    assert r["estimate"].equals(r["km_relapse"])


def test_lost_as_relapse_convention(relapse_cohort):
    r = relapse_rates(relapse_cohort, origin="discharge", convention="lost_as_relapse").set_index("horizon_days")
    assert r.loc[90, "estimate"] == pytest.approx(4 / 6)
    lo, hi = r.loc[90, ["lower", "upper"]]
    # Wilson 95% for 4/6 (statsmodels proportion_confint(4, 6, method="wilson")): 0.3000, 0.9032
    assert (lo, hi) == pytest.approx((0.29999, 0.90324), abs=1e-4)


def test_relapse_from_admission_uses_admission_time(relapse_cohort):
    r = relapse_rates(relapse_cohort, origin="admission", horizons=[30]).iloc[0]
    # from admission: E6 relapse day 14, others later; E7 admitted 1 Dec, censored at day 30 (as_of)
    assert r["n"] == 7 and r["n_relapsed"] == 1
    assert r["km_relapse"] == pytest.approx(1 / 7)


def test_relapse_comparison_against_reference():
    rows = []
    for i in range(40):  # residential: 10 of 40 relapse by day 20; iop: 20 of 40
        rows.append((f"R{i}", f"R{i}", "residential", "2024-01-01", "2024-01-31", "completed",
                     "2024-02-20" if i < 10 else None, "2024-12-31", None, None, None))
        rows.append((f"I{i}", f"I{i}", "iop", "2024-01-01", "2024-01-31", "completed",
                     "2024-02-20" if i < 20 else None, "2024-12-31", None, None, None))
    cohort = _cohort(rows, "2024-12-31")
    rates = relapse_rates(cohort, origin="discharge", horizons=[90])
    cmp = relapse_comparison(rates, "residential", horizon_days=90).iloc[0]
    assert cmp["group"] == "iop" and cmp["difference"] == pytest.approx(0.25)
    assert cmp["ratio"] == pytest.approx(2.0)
    assert cmp["km_difference"] == pytest.approx(0.25)
    # no censoring before day 90: Greenwood se = sqrt(p(1-p)/n)
    se = np.sqrt(0.5 * 0.5 / 40 + 0.25 * 0.75 / 40)
    assert cmp["km_difference_lower"] == pytest.approx(0.25 - 1.959964 * se, abs=1e-6)
    # chi-square 2x2 [[20,20],[10,30]]: expected 15/25 -> sum (O-E)^2/E = 5.3333
    assert cmp["test"] == "chi-square" and cmp["statistic"] == pytest.approx(16 / 3)


# Retention example: three clients with step-downs (see the test for the worked numbers).
RETENTION_ROWS = [
    ("A1", "C1", "Residential", "2024-01-01", "2024-01-31", "completed", None, "2024-09-01", None, 1000, 1100),
    ("A2", "C1", "IOP", "2024-02-05", "2024-05-01", "completed", None, "2024-09-01", None, 120, 129),
    ("A3", "C1", "OP", "2024-05-20", "2024-08-01", "completed", None, "2024-09-01", None, None, None),
    ("B1", "C2", "Residential", "2024-01-01", "2024-02-15", "AMA", None, "2024-09-01", None, None, None),
    ("B2", "C2", "Residential", "2024-03-01", "2024-04-01", "transferred", None, "2024-09-01", None, None, None),
    ("D1", "C3", "IOP", "2024-01-10", "2024-03-10", "completed", None, "2024-09-01", None, 50, 60),
    ("D2", "C3", "OP", "2024-06-01", "2024-09-01", "terminated", None, "2024-09-01", None, None, None),
]


@pytest.fixture(scope="module")
def retention_cohort():
    return _cohort(RETENTION_ROWS, "2024-09-01")


def test_completion_rates(retention_cohort):
    c = completion_rates(retention_cohort).set_index("group")
    assert c.loc["residential", ["n_discharged", "n_transferred", "n_completed"]].tolist() == [3, 1, 1]
    assert c.loc["residential", "completion_rate"] == pytest.approx(1 / 2)  # transfers left out
    assert c.loc["residential", "completion_rate_all"] == pytest.approx(1 / 3)
    assert c.loc["iop", "completion_rate"] == 1.0
    assert list(c.index) == ["residential", "iop", "op"]  # intensity order, observed only


def test_discharge_reason_mix(retention_cohort):
    m = discharge_reason_mix(retention_cohort)
    res = m[m["group"] == "residential"].set_index("reason")["n"]
    assert res[["completed", "dropped_out", "transferred", "terminated"]].tolist() == [1, 1, 1, 0]
    assert m.groupby("group", observed=True)["share"].sum().to_numpy() == pytest.approx([1, 1, 1])


def test_length_of_stay(retention_cohort):
    los = length_of_stay(retention_cohort).set_index("group")
    assert los.loc["residential", "median_days"] == 31  # 30, 45, 31
    assert los.loc["residential", ["q1_days", "q3_days"]].tolist() == [30.5, 38.0]
    assert los.loc["iop", "median_days"] == 73  # 86 and 60


def test_retention_at(retention_cohort):
    r = retention_at(retention_cohort, days=[30, 60]).set_index(["group", "day"])
    # residential stays 30, 31, 45: at day 30 one of three left -> 2/3; by day 60 none
    assert r.loc[("residential", 30), "retained"] == pytest.approx(2 / 3)
    assert r.loc[("residential", 60), "retained"] == 0


def test_step_downs(retention_cohort):
    s = step_down_rates(retention_cohort).set_index("group")
    assert s.loc["residential", ["n_discharged", "n_step_down"]].tolist() == [3, 1]
    assert s.loc["iop", ["n_discharged", "n_step_down"]].tolist() == [2, 1]  # C3's OP came 83 days later
    assert s.loc["php", "n_discharged"] == 0 and np.isnan(s.loc["php", "step_down_rate"])
    flows = step_down_flows(retention_cohort)
    got = {(a, b): n for a, b, n in flows.itertuples(index=False)}
    assert got == {("residential", "residential"): 1, ("residential", "iop"): 1,
                   ("residential", "no further episode"): 1, ("iop", "op"): 1,
                   ("iop", "no further episode"): 1, ("op", "no further episode"): 2}


def test_engagement(retention_cohort):
    e = engagement(retention_cohort).set_index("group")
    assert list(e.index) == ["residential", "iop", "op"]  # intensity order kept
    # IOP: A2 129 h over 86 days = 10.50 h/week (meets 9); D1 60 h over 60 days = 7.0 h/week (does not)
    assert e.loc["iop", "n_with_hours"] == 2
    assert e.loc["iop", "share_meeting_minimum"] == 0.5
    assert e.loc["iop", "scheduled_per_week_median"] == pytest.approx((129 / (86 / 7) + 7.0) / 2)
    assert e.loc["iop", "attendance_rate"] == pytest.approx(170 / 189)
    assert np.isnan(e.loc["residential", "share_meeting_minimum"])  # no ASAM minimum for residential


def test_engagement_by_several_groupings_equals_one_at_a_time(retention_cohort):
    """One pass for several groupings (each median's quantity sorted once) gives each grouping's frame to the bit,
    on rows and on collapsed rows with counts; a grouping with fewer rows (missing sex) leaves them out."""
    from analysis.engagement import engagement_by

    cohort = retention_cohort.assign(sex=pd.Categorical(["female", None] * (len(retention_cohort) // 2)
                                                        + ["male"] * (len(retention_cohort) % 2)))
    both = engagement_by(cohort, ["level_of_care", "sex"])
    for by in ("level_of_care", "sex"):
        pd.testing.assert_frame_equal(both[by], engagement(cohort, by=by), check_exact=True)
    cols = ["level_of_care", "sex", "los_days", "hours_scheduled", "hours_attended"]
    collapsed = cohort[cols].value_counts(dropna=False).rename("n").reset_index()
    for by, frame in engagement_by(collapsed, ["level_of_care", "sex"], count_col="n").items():
        pd.testing.assert_frame_equal(frame, engagement(cohort, by=by), check_exact=False, rtol=1e-12,
                                      check_categorical=False)
    assert both["sex"].set_index("group").loc["female", "n_with_hours"] <= both["level_of_care"]["n_with_hours"].sum()


def test_engagement_from_its_two_sides_equals_the_rows(retention_cohort):
    """The publication's engagement reads two collapses (stay + scheduled hours, stay + attended hours, of the
    episodes with both) instead of one of all three: the same frame, also where an episode has only one of its
    hours and a group has none."""
    from analysis.counts import FrameCounts
    from analysis.disclosure.raw import _engagement, raw_requests, scopes_for

    cohort = retention_cohort.copy()
    cohort.loc[cohort.index[0], "hours_attended"] = np.nan  # scheduled only
    cohort.loc[cohort["level_of_care"].astype(str) == "residential", ["hours_scheduled", "hours_attended"]] = np.nan
    counts = FrameCounts(cohort)
    plan = raw_requests(counts, "level_of_care", (30,))
    scopes = scopes_for(cohort, "level_of_care")
    sides = _engagement(counts, plan, counts.collapse(**plan["base"]).assign(_program="*"), scopes)
    pd.testing.assert_frame_equal(sides["level_of_care"], engagement(cohort), check_exact=True)
    e = sides["level_of_care"].set_index("group")
    assert e.loc["residential", "n_with_hours"] == 0 and np.isnan(e.loc["residential", "attendance_rate"])


def test_benchmark_estimates_and_placement(relapse_cohort):
    from analysis.report import benchmark_estimates, program_benchmarks

    est = benchmark_estimates(relapse_cohort)
    est = est[est["horizon_days"].notna() | (est["metric"] != "relapse")].set_index(["group", "metric"]).sort_index()
    # one-year relapse from discharge = 1 - KM(365) = 2/3 (see test_relapse_rates_hand_worked)
    assert est.loc[("iop", "relapse"), "estimate"] == pytest.approx(2 / 3)
    # every relapse seen within a year happened by day 90: (1 - S(90)) / (1 - S(365)) = 1
    assert est.loc[("all", "share_of_year_relapses_by_day_90"), "estimate"] == pytest.approx(1.0)
    # whole program: 3 of 6 discharges completed; no stay longer than 30 days
    assert est.loc[("all", "discharge_reason_completed"), "estimate"] == pytest.approx(0.5)
    assert est.loc[("all", "los_over_30_days"), "estimate"] == 0
    placed = program_benchmarks(relapse_cohort).set_index(["group", "benchmark_id"])
    # 2/3 with a wide interval straddles the 40-60% band
    assert placed.loc[("iop", "mclellan2000_relapse_365"), "placement"] == "overlapping"
    assert placed.loc[("all", "tedsd2019_los_over_30_days"), "placement"] == "below"
    # pooled TEDS-D benchmarks are not applied to a single level
    assert ("iop", "tedsd2019_los_over_30_days") not in placed.index
    assert placed.loc[("iop", "teds2004_completion_iop"), "estimate"] == pytest.approx(0.5)


def test_describe_estimate():
    from analysis.report import describe_estimate

    assert describe_estimate("discharge_reason_dropped_out", "iop") == \
        "Discharge reason: dropped out (Intensive outpatient (IOP))"
    assert describe_estimate("los_over_90_days", "all") == "Stays longer than 90 days (whole program)"
    assert describe_estimate("relapse", "all", "Asthma: symptom recurrence") == \
        "Relapse within a year after discharge vs asthma (context) (whole program)"


def test_step_downs_in_one_pass_equal_the_separate_functions(retention_cohort):
    from analysis.retention import step_downs

    rates, flows = step_downs(retention_cohort)
    pd.testing.assert_frame_equal(rates, step_down_rates(retention_cohort))
    pd.testing.assert_frame_equal(flows, step_down_flows(retention_cohort))


def test_asam_minimum_by_codes_equals_the_lookup_of_each_value():
    from analysis.engagement import _asam_minimum

    values = ["iop", None, "php", "op", "detox", "iop", None]
    cat = pd.Series(pd.Categorical(values, categories=["detox", "php", "iop", "op", "unused"]))
    expected = np.array([9.0, np.nan, 20.0, np.nan, np.nan, 9.0, np.nan])
    np.testing.assert_array_equal(_asam_minimum(cat), expected)
    np.testing.assert_array_equal(_asam_minimum(pd.Series(values, dtype=object)), expected)
    assert np.isnan(_asam_minimum(pd.Series(pd.Categorical([None, None], categories=[])))).all()
