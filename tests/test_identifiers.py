"""Identifier guard: direct identifiers refused by column name and by content; pseudonymous ids pass."""
from __future__ import annotations

import pandas as pd
import pytest

from analysis.identifiers import find_identifier_columns, identifier_message
from analysis.loading import load_frame

BASE = {"episode_id": [f"E{i}" for i in range(20)], "client_id": [f"C{i:04d}" for i in range(20)],
        "study_id": [f"S-{i}" for i in range(20)], "level_of_care": ["iop"] * 20,
        "site": ["North Clinic", "South Clinic"] * 10, "sex": ["female", "male"] * 10,
        "admission_date": ["2024-01-01"] * 20}


def test_clean_file_has_no_findings():
    assert find_identifier_columns(pd.DataFrame(BASE)) == []


@pytest.mark.parametrize("column,kind", [
    ("Patient Name", "a person's name"), ("last_name", "a person's name"), ("SSN", "a social security number"),
    ("Phone", "a phone number"), ("E-mail", "an e-mail address"), ("Street Address", "a street address"),
    ("MRN", "a medical record number"), ("medical_record_number", "a medical record number"),
])
def test_flagged_by_name(column, kind):
    frame = pd.DataFrame({**BASE, column: ["x"] * 20})
    (finding,) = find_identifier_columns(frame)
    assert (finding.column, finding.kind, finding.evidence) == (column, kind, "name")


@pytest.mark.parametrize("values,kind", [
    ([f"{100 + i}-45-{6789 - i}" for i in range(20)], "a social security number"),
    ([f"person{i}@example.org" for i in range(20)], "an e-mail address"),
    ([f"(617) 555-{1000 + i}" for i in range(20)], "a phone number"),
    ([f"{10 + i} Main Street" for i in range(20)], "a street address"),
    ([f"{first} {last}" for first, last in zip(["Maria", "John", "Aisha", "Wei", "Olga"] * 4,
                                 ["Garcia", "Smith", "Khan", "Chen", "Ivanova", "Jones", "Brown", "Lee",
                                  "Patel", "Nguyen"] * 2, strict=True)], "a person's name"),
])
def test_flagged_by_content_under_innocent_name(values, kind):
    frame = pd.DataFrame({**BASE, "notes": values})
    (finding,) = find_identifier_columns(frame)
    assert (finding.column, finding.kind, finding.evidence) == ("notes", kind, "content")


def test_site_names_are_not_person_names():
    frame = pd.DataFrame({**BASE, "program": ["Hope House", "New Start", "Clear Path", "Bright Way"] * 5})
    assert find_identifier_columns(frame) == []


def test_load_refuses_and_names_the_column():
    frame = pd.DataFrame({**BASE, "Client Email": [f"p{i}@x.com" for i in range(20)]})
    result = load_frame(frame)
    assert result.episodes is None and result.report.exit_code == 2
    assert "'Client Email'" in result.report.fatal
    assert result.report.fatal == identifier_message(result.identifiers)
