"""Quarterly trends, change from the previous quarter and targets, on a hand-worked cohort.

Every expected number below is worked out by hand in the comments; intervals are checked against
statsmodels (Wilson, Newcombe) as an independent computation.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.benchmarks import load_benchmarks, organisation_targets
from analysis.cohort import derive_cohort
from analysis.loading import load_frame
from analysis.trends import COUNT_COLUMNS, period_change, quarterly_trends, target_status_table

# IOP. Q1 2024 discharges: E1-E5; Q2: E6-E9; Q3 (not over on the data's date, 15 Sep 2024): E10;
# E11 still in treatment. One residential episode R1 (Q1). Days from discharge in brackets.
ROWS = [
    ("E1", "IOP", "2024-01-01", "2024-01-31", "completed", "2024-02-20", "2024-02-20"),    # relapse +20
    ("E2", "IOP", "2024-01-05", "2024-02-04", "completed", None, "2024-08-01"),            # free to +179
    ("E3", "IOP", "2024-01-10", "2024-02-09", "transferred", None, "2024-03-10"),          # lost at +30
    ("E4", "IOP", "2024-01-15", "2024-03-15", "dropped out", "2024-04-14", "2024-04-14"),  # relapse +30
    ("E5", "IOP", "2024-02-01", "2024-03-31", "completed", None, "2024-09-01"),            # free to +154
    ("E6", "IOP", "2024-04-01", "2024-04-11", "completed", None, "2024-09-10"),            # free to +152
    ("E7", "IOP", "2024-04-01", "2024-05-01", "completed", "2024-05-11", "2024-05-11"),    # relapse +10
    ("E8", "IOP", "2024-04-01", "2024-05-31", "dropped out", "2024-06-10", "2024-06-10"),  # relapse +10
    ("E9", "IOP", "2024-04-01", "2024-06-30", "terminated", None, "2024-07-30"),           # lost at +30
    ("E10", "IOP", "2024-07-01", "2024-07-15", "completed", None, "2024-09-01"),           # free to +48
    ("E11", "IOP", "2024-08-01", None, None, None, None),
    ("R1", "Residential", "2024-01-01", "2024-02-15", "completed", None, "2024-09-01"),
]


@pytest.fixture(scope="module")
def cohort():
    frame = pd.DataFrame(ROWS, columns=["episode_id", "level_of_care", "admission_date", "discharge_date",
                                        "discharge_reason", "relapse_date", "last_contact_date"])
    result = load_frame(frame, as_of="2024-09-15", today="2026-01-01")
    assert result.report.exit_code == 0, result.report.summary_text()
    return derive_cohort(result.episodes)


@pytest.fixture(scope="module")
def trend(cohort):
    return quarterly_trends(cohort)


def _row(trend, metric, group, period):
    t = trend.table
    r = t[(t["metric"] == metric) & (t["group"] == group) & (t["period"] == period)]
    assert len(r) == 1, (metric, group, period)
    return r.iloc[0]


def test_completion_by_discharge_quarter(trend):
    # Q1 IOP: 5 discharged, 1 transferred, 3 completed -> 3/4 (transfers excluded), 3/5 over all discharges
    q1 = _row(trend, "completion", "iop", "2024Q1")
    assert (q1["n"], q1["n_events"], q1["estimate"]) == (4, 3, 0.75)
    assert (q1["lower"], q1["upper"]) == pytest.approx(proportion_confint(3, 4, method="wilson"))
    assert _row(trend, "completion_all", "iop", "2024Q1")["estimate"] == pytest.approx(3 / 5)
    # Q2 IOP: 4 discharged, none transferred, 2 completed
    assert _row(trend, "completion", "iop", "2024Q2")["estimate"] == 0.5
    # whole program Q1: IOP plus R1 (completed): 4 of 5
    assert _row(trend, "completion", "all", "2024Q1")["estimate"] == pytest.approx(4 / 5)
    assert trend.as_of == pd.Timestamp("2024-09-15") and trend.latest_complete == "2024Q2"


def test_relapse_90_kaplan_meier_by_quarter(trend):
    # Q1 IOP from discharge: relapse +20 (5 at risk) S=4/5; +30: relapse E4, E3 censored (4 at risk)
    # S = 4/5 * 3/4 = 3/5; no more relapses -> 1 - S(90) = 0.4. At risk at day 90: E2, E5.
    q1 = _row(trend, "relapse", "iop", "2024Q1")
    assert q1["estimate"] == pytest.approx(0.4)
    assert (q1["n"], q1["n_events"], q1["n_at_risk_end"]) == (5, 2, 2)
    # Greenwood: Var(log S) = 1/(5*4) + 1/(4*3); se(S) = S sqrt(Var)
    var = 1 / 20 + 1 / 12
    assert q1["se"] == pytest.approx(0.6 * math.sqrt(var))
    # log-log interval of S, S^exp(+-z sqrt(var)/log S) (log S < 0: the + sign gives the upper limit),
    # turned over for relapse
    z = 1.959963984540054
    s_hi = 0.6 ** math.exp(z * math.sqrt(var) / math.log(0.6))
    s_lo = 0.6 ** math.exp(-z * math.sqrt(var) / math.log(0.6))
    assert (q1["lower"], q1["upper"]) == pytest.approx((1 - s_hi, 1 - s_lo))
    assert q1["complete"]
    # Q2: two relapses at +10 among 4 -> S = 1/2; Greenwood 2/(4*2); 31 Mar + 90 days is not yet
    # reached for every Q2 discharge (30 Jun + 90 = 28 Sep > 15 Sep): follow-up incomplete
    q2 = _row(trend, "relapse", "iop", "2024Q2")
    assert q2["estimate"] == pytest.approx(0.5) and q2["se"] == pytest.approx(0.25)
    assert not q2["complete"] and "follow-up to 90 days not over" in q2["note"]
    # Q3: E10 followed 48 days only: no one reached day 90, so no estimate (not an extrapolation)
    q3 = _row(trend, "relapse", "iop", "2024Q3")
    assert np.isnan(q3["estimate"]) and q3["n_at_risk_end"] == 0 and "no one followed 90 days yet" in q3["note"]
    assert "quarter not over" in q3["note"]


def test_median_stay_by_quarter(trend, cohort):
    # Q1 IOP stays 30, 30, 30, 60, 60 days -> 30; Q2 stays 10, 30, 60, 90: S = 1/2 on a flat step
    # from 30 to 60 -> the midpoint, 45 (R's rule, the sample median)
    assert _row(trend, "median_stay", "iop", "2024Q1")["estimate"] == 30
    q2 = _row(trend, "median_stay", "iop", "2024Q2")
    assert q2["estimate"] == 45 and q2["unit"] == "days" and q2["n_events"] == 4
    assert q2["estimate"] == cohort.loc[cohort["discharge_date"].dt.quarter.eq(2), "los_days"].median()


def test_admission_quarters_count_those_still_in_treatment(cohort):
    tr = quarterly_trends(cohort, period_of="admission")
    q3 = _row(tr, "completion", "iop", "2024Q3")
    # admitted in Q3: E10 (discharged, completed) and E11 (still in treatment, not in the rate)
    assert (q3["n"], q3["n_events"], q3["n_in_treatment"]) == (1, 1, 1)
    assert not q3["complete"]
    with pytest.raises(ValueError, match="Periods can be of discharge or admission"):
        quarterly_trends(cohort, period_of="referral")


def test_change_from_previous_quarter(trend):
    # by default each measure's latest complete quarter: Q2 for completion and stays, but Q1 for
    # relapse by 90 days (Q2's follow-up is not over on 15 Sep)
    default = period_change(trend).set_index(["metric", "group"])
    assert default.loc[("completion", "iop"), "period"] == "2024Q2"
    assert default.loc[("relapse", "iop"), ["period", "previous"]].tolist() == ["2024Q1", "2023Q4"]
    assert np.isnan(default.loc[("relapse", "iop"), "difference"])  # nothing before Q1
    ch = period_change(trend, "2024Q2").set_index(["metric", "group"])
    assert set(ch["period"]) == {"2024Q2"} and set(ch["previous"]) == {"2024Q1"}
    c = ch.loc[("completion", "iop")]
    assert c["difference"] == pytest.approx(0.5 - 0.75)
    lo, hi = confint_proportions_2indep(2, 4, 3, 4, method="newcomb", compare="diff")
    assert (c["difference_lower"], c["difference_upper"]) == pytest.approx((lo, hi))
    assert c["method"] == "Newcombe hybrid score"
    r = ch.loc[("relapse", "iop")]
    # 0.5 - 0.4 = 0.1; sd = sqrt(0.25^2 + (0.6 sqrt(1/20 + 1/12))^2)
    sd = math.sqrt(0.25 ** 2 + 0.36 * (1 / 20 + 1 / 12))
    assert r["difference"] == pytest.approx(0.1)
    assert (r["difference_lower"], r["difference_upper"]) == pytest.approx((0.1 - 1.959964 * sd, 0.1 + 1.959964 * sd),
                                                                           abs=1e-6)
    m = ch.loc[("median_stay", "iop")]
    assert m["difference"] == 15 and np.isnan(m["difference_lower"])
    # residential had no Q2 discharges: nothing to compare
    assert ("completion", "residential") not in ch.index
    with pytest.raises(ValueError, match="No episodes in 2023Q1"):
        period_change(trend, "2023Q1")


TARGETS = (b"id,metric,horizon_days,origin,unit,level_of_care,low,high,direction,source\n"
           b"iop_completion,completion_rate,,,discharge,IOP,0.5,1,higher_is_better,Board 2024\n"
           b"program_completion,completion_rate,,,discharge,,0.9,1,higher_is_better,Board 2024\n"
           b"iop_relapse_90,relapse,90,discharge,person,IOP,0,0.3,lower_is_better,Board 2024\n"
           b"iop_relapse_30,relapse,30,discharge,person,IOP,0,0.3,lower_is_better,Board 2024\n"
           b"iop_stay,median_los_days,,,days,IOP,28,365,higher_is_better,Board 2024\n"
           b"no_shows,no_show_rate,,,appointment,,0,0.2,lower_is_better,Board 2024\n")


def test_targets_met_not_met_cannot_tell(trend):
    targets = organisation_targets(load_benchmarks(TARGETS))
    st = target_status_table(trend, targets, "2024Q1", min_cell=1).set_index("target_id")
    # IOP completion 3/4, Wilson 0.30-0.95: across 0.5 -> cannot tell
    assert st.loc["iop_completion", "status"] == "cannot_tell"
    # whole program 4/5, Wilson upper 0.964 vs target 0.9: across -> cannot tell; lower 0.376
    assert st.loc["program_completion", ["group", "status"]].tolist() == ["all", "cannot_tell"]
    # relapse 0.4 with upper > 0.3 and lower < 0.3 -> cannot tell
    assert st.loc["iop_relapse_90", "status"] == "cannot_tell"
    assert st.loc["iop_relapse_30", "status"] == "no_estimate" and "another horizon" in st.loc["iop_relapse_30",
                                                                                                "note"]
    # median stay: stays 30, 30, 30, 60, 60 -> S(30) = 2/5 with Var(log S) = 3/(5*2); the lower band
    # 0.4^exp(+z sqrt(0.3)/log 0.4) = 0.05 is under 50% at day 30 -> lower limit 30; the upper band
    # 0.75 at day 30 and undefined at S = 0 (day 60) -> upper limit not reached. 30 >= 28: met.
    stay = st.loc["iop_stay"]
    assert stay["estimate"] == 30 and stay["lower"] == 30 and np.isnan(stay["upper"])
    assert stay["status"] == "met"
    assert st.loc["no_shows", "status"] == "no_estimate"
    # with the default threshold every estimate here rests on fewer than 11 people: never judged
    default = target_status_table(trend, targets, "2024Q1").set_index("target_id")
    assert set(default.loc[["iop_completion", "iop_relapse_90", "iop_stay"], "status"]) == {"suppressed"}


def test_counts_of_people_are_named_and_raw(trend):
    assert set(COUNT_COLUMNS) <= set(trend.table.columns) and trend.count_columns == COUNT_COLUMNS
    # raw: small counts are there (suppression is the publishing step's job)
    assert (trend.table["n"].between(1, 10)).any()
    assert "Kaplan-Meier" in trend.method and "Newcombe" in trend.method


def test_durations_file_has_no_calendar():
    frame = pd.DataFrame({"level_of_care": ["iop"] * 3, "los_days": [10, 20, 30], "days_to_relapse": [40, 50, 60],
                          "relapsed": [1, 0, 1]})
    cohort = derive_cohort(load_frame(frame, today="2026-01-01").episodes)
    with pytest.raises(ValueError, match="need discharge dates"):
        quarterly_trends(cohort)


def test_trend_figure_points_hollow_incomplete_targets_and_small_cells(trend):
    from analysis import figures as F

    targets = organisation_targets(load_benchmarks(TARGETS))
    fig = F.trend_figure(trend.table, "relapse", targets=targets, min_cell=1)
    iop = next(t for t in fig.data if t.name == "IOP")
    assert list(iop.x) == ["2024Q1", "2024Q2", "2024Q3"]
    # drawn values are the table's; Q3 has no estimate (no one followed 90 days) and is a gap
    np.testing.assert_allclose(np.asarray(iop.y, dtype=float)[:2], [0.4, 0.5], atol=1e-7)
    assert np.isnan(np.asarray(iop.y, dtype=float)[2])
    # Q2's follow-up is not over: hollow marker
    assert list(iop.marker.symbol)[:2] == ["circle", "circle-open"]
    assert next(t for t in fig.data if t.name == "Whole program").line.color == "#000000"
    # the IOP 90-day target (at most 30%) as a dotted line at 0.3 in IOP's colour, named in the legend
    line = next(s for s in fig.layout.shapes if s.name == "target iop_relapse_90")
    assert (line.y0, line.line.color, line.line.dash) == (0.3, F.LEVEL_COLORS["iop"], "dot")
    assert any(t.name == "Target IOP: at most 30% (Board 2024)" for t in fig.data)
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "hollow: quarter not over" in notes and "without an estimate" in notes
    # with the default threshold every quarter here rests on fewer than 11 people: nothing is drawn
    safe = F.trend_figure(trend.table, "completion")
    assert all(np.isnan(np.asarray(t.y, dtype=float)).all() for t in safe.data if t.name in ("IOP", "Residential"))
    assert "&lt;11: not shown: 7 quarter values" in " ".join(a.text for a in safe.layout.annotations)
    days = F.trend_figure(trend.table, "median_stay", min_cell=1)
    assert days.layout.yaxis.title.text == "Median stay (days)"
    with pytest.raises(ValueError, match="no 'visits' rows"):
        F.trend_figure(trend.table, "visits")
