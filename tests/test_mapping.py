"""Column mapping: guesses, explicit overrides, JSON round trip, command-line pairs."""
from __future__ import annotations

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
