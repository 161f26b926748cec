"""Column mapping: guesses, explicit overrides, JSON round trip, command-line pairs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.mapping import (
    apply_mapping,
    guess_mapping,
    mapping_from_json,
    mapping_to_json,
    parse_map_args,
    resolve_mapping,
)


def test_guess_common_names():
    cols = ["Episode ID", "Client", "Program Type", "Admit Date", "Discharge Date", "Reason for Discharge",
            "Relapse Date", "Last Follow-up Date", "AGE", "Gender", "Primary Drug", "Dual Diagnosis", "Payor",
            "Facility", "Hours Attended", "Scheduled Hours", "Favourite colour"]
    assert guess_mapping(cols) == {
        "episode_id": "Episode ID", "client_id": "Client", "level_of_care": "Program Type",
        "admission_date": "Admit Date", "discharge_date": "Discharge Date",
        "discharge_reason": "Reason for Discharge", "relapse_date": "Relapse Date",
        "last_contact_date": "Last Follow-up Date", "age": "AGE", "sex": "Gender",
        "primary_substance": "Primary Drug", "co_occurring": "Dual Diagnosis", "payer": "Payor",
        "site": "Facility", "hours_attended": "Hours Attended", "hours_scheduled": "Scheduled Hours"}


def test_exact_canonical_name_beats_synonym():
    assert guess_mapping(["loc", "level_of_care"]) == {"level_of_care": "level_of_care"}


def test_explicit_mapping_overrides_and_removes():
    cols = ["Admit Date", "Start", "arm"]
    m = resolve_mapping(cols, {"admission_date": "Start"})
    assert m == {"admission_date": "Start"}
    assert resolve_mapping(cols, {"admission_date": ""}) == {}


@pytest.mark.parametrize("explicit,fragment", [
    ({"admision_date": "Start"}, "Unknown field"),
    ({"admission_date": "Nope"}, "not in the file"),
])
def test_bad_explicit_mapping(explicit, fragment):
    with pytest.raises(ValueError, match=fragment):
        resolve_mapping(["Start"], explicit)


def test_apply_mapping_keeps_extra_columns():
    raw = pd.DataFrame({"Admit": ["2024-01-01"], "arm": ["A"], "age": ["30"]})
    out = apply_mapping(raw, {"admission_date": "Admit", "age": "age"})
    assert list(out.columns) == ["admission_date", "arm", "age"]


def test_unmapped_column_with_canonical_name_is_kept_renamed():
    raw = pd.DataFrame({"age": ["x"], "Age at admission": ["30"]})
    out = apply_mapping(raw, {"age": "Age at admission"})
    assert list(out.columns) == ["age_original", "age"]


def test_json_roundtrip_and_errors():
    m = {"admission_date": "Admit", "level_of_care": "Program"}
    assert mapping_from_json(mapping_to_json(m)) == m
    with pytest.raises(ValueError, match="not valid JSON"):
        mapping_from_json("{nope")
    with pytest.raises(ValueError, match="JSON object"):
        mapping_from_json("[1, 2]")
    with pytest.raises(ValueError, match="unknown field"):
        mapping_from_json('{"colour": "x"}')


def test_parse_map_args():
    assert parse_map_args(["admission_date=Admit Date", "level_of_care = LOC"]) == {
        "admission_date": "Admit Date", "level_of_care": "LOC"}
    with pytest.raises(ValueError, match="CANONICAL=SOURCE"):
        parse_map_args(["nonsense"])


# ---------------------------------------------------------------- content-aware guesses
from analysis.mapping import (  # noqa: E402
    MappingSpec,
    guess_details,
    spec_from_json,
    spec_to_json,
)


def test_a_01_relapse_column_is_relapsed_not_a_date():
    raw = pd.DataFrame({"admit": ["2024-01-01"] * 4, "relapse": ["0", "1", "0", "1"],
                        "discharge": ["1", "0", "0", "1"], "time": ["3", "5", "8", "13"]})
    details = guess_details(raw)
    assert details.mapping["relapsed"] == "relapse"
    assert "relapse_date" not in details.mapping and "discharge_date" not in details.mapping
    declined = {g.field: g.reason for g in details.declined()}
    assert "looks like a yes/no column" in declined["discharge_date"]
    assert "--map discharge_date=discharge" in declined["discharge_date"]
    assert details.mapping["admission_date"] == "admit"
    assert "days_to_relapse" not in details.mapping  # a date-shaped file: the time column is not the end point


@pytest.mark.parametrize("name,values,event_value,meaning", [
    ("event", ["0", "1"], None, "1/yes/true is the relapse"),
    ("CENSOR", ["1", "0"], None, "1/yes/true is the relapse"),
    ("censored", ["1", "0"], "0", "1 means censored"),
    ("status", ["1", "2"], "2", "2 is the relapse"),
    ("fstat", ["True", "False"], None, "1/yes/true is the relapse"),
])
def test_event_flags_and_their_event_value(name, values, event_value, meaning):
    raw = pd.DataFrame({name: values * 3, "futime": ["10", "20"] * 3})
    details = guess_details(raw)
    assert details.mapping == {"relapsed": name, "days_to_relapse": "futime"}
    assert details.event_value == event_value
    assert meaning in next(g.reason for g in details.guesses if g.field == "relapsed")


@pytest.mark.parametrize("name,unit", [("weeks", "weeks"), ("TTR", None), ("follow_up_months", "months"),
                                       ("Duration", None), ("time_yrs", "years"), ("lenfol", None)])
def test_time_columns_and_their_unit(name, unit):
    raw = pd.DataFrame({name: ["1", "2.5", "7"], "relapse": ["1", "0", "1"]})
    details = guess_details(raw)
    assert details.mapping.get("days_to_relapse") == name
    assert details.time_unit == unit


def test_a_text_time_column_is_not_a_duration():
    raw = pd.DataFrame({"time": ["morning", "evening", "noon"], "event": ["1", "0", "1"]})
    details = guess_details(raw)
    assert "days_to_relapse" not in details.mapping
    assert "looks like" in details.declined()[0].reason


def test_real_world_names():
    cols = ["Admit Dt", "Disch Dt", "Date of Last Contact", "Date of Relapse", "Program", "Facility"]
    assert guess_mapping(cols) == {"admission_date": "Admit Dt", "discharge_date": "Disch Dt",
                                   "last_contact_date": "Date of Last Contact", "relapse_date": "Date of Relapse",
                                   "level_of_care": "Program", "site": "Facility"}
    for name in ("Service", "LOC", "Modality"):
        assert guess_mapping([name]) == {"level_of_care": name}


def test_abbreviated_export_names_are_expanded_word_by_word():
    cols = ["Disch Reason", "Adm Date", "DC Dt", "Tx Setting"]
    assert guess_mapping(cols) == {"discharge_reason": "Disch Reason", "admission_date": "Adm Date",
                                   "discharge_date": "DC Dt", "level_of_care": "Tx Setting"}
    assert guess_mapping(["Disch Rsn"]) == {"discharge_reason": "Disch Rsn"}
    assert guess_mapping(["Dismissal"]) == {}  # a word is expanded only whole


def test_a_program_column_of_site_names_is_not_a_level_of_care():
    raw = pd.DataFrame({"Program": ["Northside", "Harbor House", "Elm St"] * 4,
                        "Admit Date": ["2024-01-01"] * 12})
    details = guess_details(raw)
    assert "level_of_care" not in details.mapping
    assert "only 0% of its values can be placed" in details.declined()[0].reason


def test_spec_json_roundtrip_and_old_format():
    spec = MappingSpec({"days_to_relapse": "week", "relapsed": "arrest"}, {"prio": "numeric"}, "weeks", "1", "fin")
    assert spec_from_json(spec_to_json(spec)) == spec
    old = spec_from_json('{"admission_date": "Admit", "discharge_date": null}')
    assert old == MappingSpec({"admission_date": "Admit"})
    assert mapping_from_json(spec_to_json(spec)) == spec.columns
    with pytest.raises(ValueError, match="time_unit"):
        spec_from_json('{"format": "continuum-mapping", "columns": {}, "time_unit": "fortnights"}')
    with pytest.raises(ValueError, match="types"):
        spec_from_json('{"format": "continuum-mapping", "columns": {}, "types": {"x": "float"}}')


def test_a_trial_arm_is_guessed_as_the_grouping_only_without_a_level_of_care():
    from analysis.mapping import guess_grouping

    real = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_cohorts"
    found = {}
    for name in ("veterans.csv", "uis.csv", "aids.csv", "gbsg2.csv", "rossi.csv"):
        raw = pd.read_csv(real / name)
        grouping = guess_grouping(raw, guess_mapping(raw))
        found[name] = grouping[0] if grouping else None
    # an arm's name wins over a weaker group word (Prior_therapy); GBSG2's horTh and Rossi's fin name no arm
    assert found == {"veterans.csv": "Treatment", "uis.csv": "TREAT", "aids.csv": "tx", "gbsg2.csv": None,
                     "rossi.csv": None}
    raw = pd.DataFrame({"level_of_care": ["iop", "op"], "arm": ["a", "b"]})
    assert guess_grouping(raw, {"level_of_care": "level_of_care"}) is None
    many = pd.DataFrame({"group": [str(i) for i in range(20)]})
    assert guess_grouping(many, {}) is None  # 20 values: not an arm


def test_the_date_order_round_trips_in_the_saved_mapping():
    from analysis.mapping import MappingSpec, spec_from_json, spec_to_json

    spec = MappingSpec({"admission_date": "Admit"}, date_order="dmy")
    assert spec_from_json(spec_to_json(spec)) == spec
    assert spec_from_json(spec_to_json(MappingSpec({}))).date_order is None
    with pytest.raises(ValueError, match="date_order"):
        spec_from_json('{"format": "continuum-mapping", "version": 2, "columns": {}, "date_order": "ymd"}')
