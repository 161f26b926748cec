"""Validation: each rule on a hand-made file, exclusions counted by reason, fatal cases, dtypes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import derive_cohort
from analysis.loading import load_episodes, load_frame
from analysis.validation import RULES, parse_dates

TODAY = "2026-11-25"
GOOD = {"episode_id": "E0", "client_id": "C0", "level_of_care": "Intensive Outpatient",
        "admission_date": "2024-01-05", "discharge_date": "2024-03-30", "discharge_reason": "Completed",
        "relapse_date": "", "last_contact_date": "2024-12-01", "age": "34", "co_occurring": "yes",
        "hours_attended": "100", "hours_scheduled": "120"}


def _frame(*overrides: dict) -> pd.DataFrame:
    rows = []
    for i, o in enumerate(overrides):
        row = {**GOOD, "episode_id": f"E{i}", **o}
        rows.append(row)
    return pd.DataFrame(rows).replace("", None)


def _check(*overrides):
    return load_frame(_frame(*overrides), today=TODAY)


@pytest.mark.parametrize("override,rule,column", [
    ({"admission_date": ""}, "missing_admission_date", "admission_date"),
    ({"admission_date": "2024-02-30"}, "unparseable_date", "admission_date"),
    ({"discharge_date": "soon"}, "unparseable_date", "discharge_date"),
    ({"admission_date": "1900-01-01"}, "implausible_date", "admission_date"),
    ({"last_contact_date": "2027-01-01"}, "future_date", "last_contact_date"),
    ({"discharge_date": "2024-01-01"}, "discharge_before_admission", "discharge_date"),
    ({"relapse_date": "2023-12-31"}, "relapse_before_admission", "relapse_date"),
    ({"last_contact_date": "2023-12-31"}, "last_contact_before_admission", "last_contact_date"),
    ({"level_of_care": ""}, "missing_level_of_care", "level_of_care"),
    ({"level_of_care": "Spa weekend"}, "unknown_level_of_care", "level_of_care"),
    ({"episode_id": "E0"}, "duplicate_episode_id", "episode_id"),
])
def test_each_error_rule_excludes_the_row(override, rule, column):
    result = _check({}, override)  # row 2 good, row 3 broken
    report = result.report
    assert report.n_rows_read == 2 and report.n_rows_accepted == 1 and report.n_rows_excluded == 1
    assert report.exit_code == 1
    errors = report.problems[report.problems["severity"] == "error"]
    assert errors[["row", "column", "rule"]].values.tolist() == [[3, column, rule]]
    assert report.excluded_by_reason()[["rule", "rows"]].values.tolist() == [[rule, 1]]
    assert result.episodes.index.tolist() == [0]
    assert result.problem_rows()["row"].tolist() == [3]


def test_duplicate_message_names_first_row():
    report = _check({}, {}, {"episode_id": "E1"}).report
    dup = report.problems[report.problems["rule"] == "duplicate_episode_id"]
    assert dup["row"].tolist() == [4]
    assert dup["message"].iloc[0].startswith("Episode id already used on row 3")


@pytest.mark.parametrize("override,rule,column,check", [
    ({"co_occurring": "maybe"}, "unparseable_boolean", "co_occurring", ("co_occurring", pd.NA)),
    ({"age": "old"}, "non_numeric_value", "age", ("age", np.nan)),
    ({"age": "7"}, "implausible_age", "age", ("age", np.nan)),
    ({"hours_attended": "-3"}, "negative_value", "hours_attended", ("hours_attended", np.nan)),
    ({"hours_attended": "150"}, "attended_exceeds_scheduled", "hours_attended", ("hours_attended", 150.0)),
    ({"discharge_reason": "went fishing"}, "unknown_discharge_reason", "discharge_reason",
     ("discharge_reason", "other")),
    ({"discharge_date": ""}, "reason_without_discharge_date", "discharge_reason", ("discharge_reason", np.nan)),
])
def test_each_warning_keeps_the_row_and_says_what_changed(override, rule, column, check):
    result = _check(override)
    report = result.report
    assert report.exit_code == 0 and report.n_rows_accepted == 1
    assert report.problems[["row", "column", "rule", "severity"]].values.tolist() == [[2, column, rule, "warning"]]
    col, expected = check
    value = result.episodes[col].iloc[0]
    if expected is pd.NA or (isinstance(expected, float) and np.isnan(expected)):
        assert pd.isna(value)
    else:
        assert value == expected


def test_clean_rows_and_dtypes():
    result = _check({}, {"level_of_care": "ASAM 3.5", "discharge_reason": "AMA", "co_occurring": "N"})
    ep = result.episodes
    assert result.report.exit_code == 0 and result.report.problems.empty
    assert ep["level_of_care"].tolist() == ["iop", "residential"]
    assert list(ep["level_of_care"].cat.categories) == ["detox", "inpatient", "residential", "php", "iop", "op"]
    assert ep["discharge_reason"].tolist() == ["completed", "dropped_out"]
    assert ep["co_occurring"].tolist() == [True, False]
    assert str(ep["admission_date"].dtype) == "datetime64[ns]"
    assert ep["age"].dtype == "float64"
    assert ep.attrs["shape"] == "dates" and ep.attrs["as_of"] == pd.Timestamp("2024-12-01")


def test_mixed_date_formats_in_one_column():
    parsed, bad = parse_dates(pd.Series(["2024-01-05", "01/20/2024", "45292", "5 Mar 2024", "2024-13-01", None]))
    assert parsed.dt.strftime("%Y-%m-%d").tolist()[:4] == ["2024-01-05", "2024-01-20", "2024-01-01", "2024-03-05"]
    assert bad.tolist() == [False, False, False, False, True, False]


def test_day_first_column_is_read_day_first():
    parsed, bad = parse_dates(pd.Series(["13/01/2024", "25/02/2024", "05/03/2024"]))
    assert parsed.dt.strftime("%Y-%m-%d").tolist() == ["2024-01-13", "2024-02-25", "2024-03-05"]
    assert not bad.any()


@pytest.mark.parametrize("frame,fragment", [
    (pd.DataFrame({"level_of_care": pd.Series([], dtype=object), "admission_date": pd.Series([], dtype=object)}),
     "no data rows"),
    (pd.DataFrame({"level_of_care": ["iop"], "colour": ["red"]}), "A required column is missing"),
    (pd.DataFrame({"admission_date": ["2024-01-01"]}), "level_of_care"),
    (pd.DataFrame({"level_of_care": ["iop"], "days_to_relapse": ["5"]}), "no relapsed"),
    (pd.DataFrame({"level_of_care": ["spa", "sauna"], "admission_date": ["2024-01-01", "2024-01-02"]}),
     "No valid row is left"),
])
def test_fatal_problems_reject_the_file(frame, fragment):
    report = load_frame(frame, today=TODAY).report
    assert report.exit_code == 2 and fragment in report.fatal


def test_other_grouping_column_makes_level_optional():
    frame = pd.DataFrame({"arm": ["A", "B", None], "admission_date": ["2024-01-01"] * 3,
                          "discharge_date": ["2024-02-01"] * 3})
    result = load_frame(frame, by="arm", today=TODAY)
    assert result.report.exit_code == 1
    assert result.report.problems[["row", "rule"]].values.tolist() == [[4, "missing_group"]]
    assert result.episodes["arm"].tolist() == ["A", "B"]


def test_duration_shaped_file():
    frame = pd.DataFrame({"LOC": ["iop", "residential", "op"], "LOS": ["60", "-2", "90"],
                          "days_to_relapse": ["100", "30", "x"], "relapsed": ["1", "0", "yes"]})
    result = load_frame(frame, today=TODAY)
    rep = result.report
    assert rep.shape == "durations"
    assert sorted(rep.excluded_by_reason()["rule"]) == ["negative_duration", "non_numeric_duration"]
    ep = result.episodes
    assert ep["los_days"].tolist() == [60.0] and ep["relapsed"].tolist() == [True]
    cohort = derive_cohort(ep)
    assert cohort["time_admission_days"].tolist() == [100.0]
    assert cohort["time_discharge_days"].tolist() == [40.0]


def test_every_rule_is_documented():
    assert all(r.severity in ("error", "warning") and r.description.endswith(".") for r in RULES.values())


def test_load_episodes_from_bytes_end_to_end():
    csv = (b"Episode,Program Type,Admit Date,Discharge Date,Reason,Relapse Date,Last Contact\n"
           b"1,IOP,2024-01-05,2024-03-30,completed,,2024-12-01\n"
           b"2,Residential - Short Term,2024-01-20,2024-02-25,left against advice,2024-03-10,2024-03-10\n"
           b"3,IOP,2024-02-01,2024-01-01,completed,,2024-06-01\n")
    result = load_episodes(csv, name="mine.csv", today=TODAY)
    assert result.report.exit_code == 1 and result.report.n_rows_accepted == 2
    assert result.source_name == "mine.csv" and len(result.content_hash) == 12
    cohort = derive_cohort(result.episodes)
    assert cohort["los_days"].tolist() == [85.0, 36.0]
    assert cohort["event_discharge"].tolist() == [0.0, 1.0]
    assert cohort["time_discharge_days"].tolist() == [246.0, 14.0]  # 30 Mar -> 1 Dec 2024 = 246 days; 25 Feb -> 10 Mar 2024 (leap year) = 14


def test_broken_file_gives_sentence_not_exception():
    result = load_episodes(b"\x00\x01\x02binary", name="x.csv")
    assert result.report.exit_code == 2 and result.report.fatal.endswith(".")


# ---------------------------------------------------------------- extreme values (issue 12, item 6)
@pytest.mark.parametrize("value,year", [("3000-01-01", 3000), ("0001-01-01", 1), ("9999-12-31", 9999)])
def test_dates_outside_the_representable_range_are_a_row_error(value, year):
    report = _check({}, {"discharge_date": value}).report
    errors = report.problems[report.problems["severity"] == "error"]
    assert errors[["row", "column", "rule"]].values.tolist() == [[3, "discharge_date", "date_out_of_range"]]
    assert "1678-2261" in errors["message"].iloc[0]


def test_parquet_dates_in_year_3000_are_a_row_error_not_a_crash():
    import datetime as dt
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"episode_id": ["E0", "E1", "E2"], "level_of_care": ["iop"] * 3,
                      "admission_date": pa.array([dt.datetime(2024, 1, 5), dt.datetime(3000, 1, 1),
                                                  dt.datetime(2024, 2, 1)], type=pa.timestamp("us")),
                      "discharge_date": pa.array([dt.date(2024, 3, 1), dt.date(2024, 3, 1), dt.date(1, 1, 1)],
                                                 type=pa.date32())})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    result = load_episodes(buf.getvalue(), name="x.parquet", today=TODAY)
    errors = result.report.problems[result.report.problems["severity"] == "error"]
    assert errors[["row", "column", "rule"]].values.tolist() == [[3, "admission_date", "date_out_of_range"],
                                                                 [4, "discharge_date", "date_out_of_range"]]
    assert result.episodes["episode_id"].tolist() == ["E0"]


@pytest.mark.parametrize("value,rule", [("1e30", "implausible_count"), ("1e308", "implausible_count"),
                                        (str(2**63), "implausible_count"), ("1001", "implausible_count"),
                                        ("2.5", "non_integer_count"), ("inf", "infinite_value"),
                                        ("-1", "negative_value")])
def test_prior_treatments_that_cannot_be_a_count_are_set_missing_with_a_warning(value, rule):
    result = _check({"prior_treatments": "3"}, {"prior_treatments": value}, {"prior_treatments": "1000"})
    problems = result.report.problems
    assert problems[["row", "column", "rule", "severity"]].values.tolist() == [
        [3, "prior_treatments", rule, "warning"]]
    assert result.report.exit_code == 0
    assert result.episodes["prior_treatments"].dtype == "Int64"
    assert result.episodes["prior_treatments"].tolist() == [3, pd.NA, 1000]


@pytest.mark.parametrize("column", ["hours_attended", "age"])
def test_infinite_covariates_are_set_missing_with_a_warning(column):
    result = _check({}, {column: "inf"})
    assert result.report.problems[["row", "column", "rule"]].values.tolist() == [[3, column, "infinite_value"]]
    assert result.episodes[column].isna().tolist() == [False, True]


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity"])
@pytest.mark.parametrize("column", ["days_to_relapse", "los_days"])
def test_infinite_durations_are_a_row_error_as_outcomes_would_refuse_them(column, value):
    frame = pd.DataFrame({"episode_id": ["E0", "E1"], "level_of_care": ["iop", "op"], "los_days": ["10", "20"],
                          "days_to_relapse": ["100", "200"], "relapsed": ["1", "0"]})
    frame.loc[1, column] = value
    report = load_frame(frame, today=TODAY).report
    assert report.problems[["row", "column", "rule"]].values.tolist() == [[3, column, "infinite_duration"]]
    assert report.exit_code == 1
