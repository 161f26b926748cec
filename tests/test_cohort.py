"""Cohort derivation against hand-worked examples (dates and durations)."""
import numpy as np
import pandas as pd
import pytest

from analysis.cohort import analysis_rows, derive_cohort, survival_columns

AS_OF = pd.Timestamp("2024-12-31")


def _episodes(rows):
    cols = ["episode_id", "level_of_care", "discharge_reason", "admission_date", "discharge_date",
            "relapse_date", "last_contact_date", "death_date", "age"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ["admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date"]:
        df[c] = pd.to_datetime(df[c])
    df.attrs["as_of"] = AS_OF
    return df


@pytest.fixture()
def cohort():
    return derive_cohort(_episodes([
        # A: residential 30 days, relapse 40 days after discharge
        ["A", "residential", "completed", "2024-01-01", "2024-01-31", "2024-03-11", "2024-06-01", None, 24],
        # B: IOP, relapse during treatment (day 20 of 60), still counted from discharge at day 0
        ["B", "iop", "dropped_out", "2024-02-01", "2024-04-01", "2024-02-21", "2024-05-01", None, 25],
        # C: OP, no relapse, lost to follow-up: censored at last contact 100 days after discharge
        ["C", "op", "completed", "2024-01-01", "2024-03-01", None, "2024-06-09", None, 44.5],
        # D: detox, died 10 days after discharge without relapse: competing event
        ["D", "detox", "completed", "2024-05-01", "2024-05-06", None, "2024-05-10", "2024-05-16", 55],
        # E: still in treatment at as_of, no contact recorded: censored at as_of from admission
        ["E", "residential", None, "2024-12-01", None, None, None, None, np.nan],
        # F: died in treatment (reason died, no death date): death at discharge, day 0 from discharge
        ["F", "inpatient", "died", "2024-03-01", "2024-03-05", None, None, None, 60],
        # G: no last contact recorded after discharge: censored at discharge (day 0)
        ["G", "php", "transferred", "2024-03-01", "2024-03-29", None, None, None, 30],
    ]))


def test_length_of_stay_and_flags(cohort):
    assert cohort["los_days"].tolist() == [30, 60, 60, 5, 30, 4, 28]
    assert cohort["in_treatment"].tolist() == [False, False, False, False, True, False, False]
    assert cohort["completed"].tolist() == [True, False, True, True, False, False, False]
    assert cohort["transferred"].tolist() == [False] * 6 + [True]
    assert cohort["relapse_in_treatment"].tolist() == [False, True, False, False, False, False, False]


def test_time_and_event_from_admission(cohort):
    # A: 2024-01-01 -> 2024-03-11 = 70 days; B: 20; C: 2024-01-01 -> 2024-06-09 = 160;
    # D: 15 (death); E: 30 (as_of); F: 4 (death at discharge); G: 28 (discharge)
    assert cohort["time_admission_days"].tolist() == [70, 20, 160, 15, 30, 4, 28]
    assert cohort["event_admission"].tolist() == [1, 1, 0, 2, 0, 2, 0]


def test_time_and_event_from_discharge(cohort):
    t = cohort["time_discharge_days"].tolist()
    e = cohort["event_discharge"].tolist()
    assert t[:4] == [40, 0, 100, 10] and np.isnan(t[4]) and t[5:] == [0, 0]
    assert e[:4] == [1, 1, 0, 2] and np.isnan(e[4]) and e[5:] == [2, 0]


def test_analysis_rows_and_columns(cohort):
    assert survival_columns("discharge") == ("time_discharge_days", "event_discharge")
    assert len(analysis_rows(cohort, "discharge")) == 6
    assert len(analysis_rows(cohort, "admission")) == 7
    with pytest.raises(ValueError, match="Time origin"):
        survival_columns("birth")


def test_age_bands_and_calendar(cohort):
    assert cohort["age_band"].astype(object).where(cohort["age_band"].notna(), None).tolist() == [
        "<25", "25-34", "35-44", "55+", None, "55+", "25-34"]
    assert cohort["admission_quarter"].tolist()[:2] == ["2024Q1", "2024Q1"]
    assert cohort.attrs["shape"] == "dates" and cohort.attrs["as_of"] == AS_OF


def test_relapse_after_last_contact_still_counts():
    c = derive_cohort(_episodes([
        ["A", "iop", "completed", "2024-01-01", "2024-03-01", "2024-05-01", "2024-04-01", None, 30]]))
    assert c["event_discharge"].tolist() == [1] and c["time_discharge_days"].tolist() == [61]


def test_relapse_before_death_is_the_event():
    c = derive_cohort(_episodes([
        ["A", "iop", "completed", "2024-01-01", "2024-03-01", "2024-03-11", "2024-03-11", "2024-03-15", 30]]))
    assert c["event_discharge"].tolist() == [1] and c["time_discharge_days"].tolist() == [10]


def test_durations_shape():
    df = pd.DataFrame({
        "level_of_care": ["iop", "iop", "residential", "op"],
        "los_days": [60.0, 60.0, 30.0, np.nan],
        "days_to_relapse": [100.0, 45.0, 20.0, 400.0],
        "relapsed": pd.array([True, True, False, False], dtype="boolean"),
    })
    c = derive_cohort(df)
    assert c.attrs["shape"] == "durations"
    assert c["time_admission_days"].tolist() == [100, 45, 20, 400]
    assert c["event_admission"].tolist() == [1, 1, 0, 0]
    t = c["time_discharge_days"].tolist()
    # 100-60 = 40; relapse at 45 < 60 -> during treatment, day 0; censored at 20 < 30 -> day 0; in treatment
    assert t[:3] == [40, 0, 0] and np.isnan(t[3])
    assert c["relapse_in_treatment"].tolist() == [False, True, False, False]
    assert c["in_treatment"].tolist() == [False, False, False, True]


def test_durations_without_los_have_no_discharge_origin():
    df = pd.DataFrame({"level_of_care": ["iop"], "days_to_relapse": [10.0],
                       "relapsed": pd.array([True], dtype="boolean")})
    c = derive_cohort(df)
    assert len(analysis_rows(c, "discharge")) == 0 and len(analysis_rows(c, "admission")) == 1


def test_needs_a_shape():
    with pytest.raises(ValueError, match="admission date"):
        derive_cohort(pd.DataFrame({"level_of_care": ["iop"]}))
