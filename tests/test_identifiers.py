"""Identifier guard: direct identifiers anywhere in a cell, in any share of rows, are refused with the column,
what it holds and how many rows; legitimate look-alikes pass; the user can drop the column and go on.

The two case lists recreate the probe of issue 12 (39 disguised files, 15 legitimate columns).
"""
from __future__ import annotations

import hashlib
import uuid

import pandas as pd
import pytest

from analysis.identifiers import (
    find_identifier_columns,
    identifier_message,
    leave_out_free_text,
    name_kind,
    screen_columns,
)
from analysis.loading import load_frame
from analysis.mapping import guess_mapping

N = 30
BASE = {"episode_id": [f"E{i}" for i in range(N)], "client_id": [f"C{i:04d}" for i in range(N)],
        "level_of_care": ["iop", "residential", "op"] * (N // 3), "site": ["North Clinic", "South Clinic"] * (N // 2),
        "sex": ["female", "male"] * (N // 2), "admission_date": [f"2024-01-{1 + i % 28:02d}" for i in range(N)]}
FIRST = ["John", "Maria", "Aisha", "Wei", "Olga", "James", "Linda", "Carlos", "Fatima", "Robert"]
LAST = ["Smith", "Garcia", "Khan", "Chen", "Ivanova", "Johnson", "Brown", "Lopez", "Nguyen", "Patel"]


def _sparse(values: list[str], every: int = 3, filler: str = "no concerns today") -> list[str]:
    """The identifier in one row out of ``every``; the other rows hold innocent text."""
    return [values[i % len(values)] if i % every == 0 else filler for i in range(N)]


def _cycle(values: list) -> list:
    return [values[i % len(values)] for i in range(N)]


SSNS = ["219-09-9999", "078-05-1120", "123-45-6789", "536-22-8726", "401-77-3310"]
DISGUISED: dict[str, tuple[str, list, str]] = {
    # SSN
    "ssn dashes in a third of notes": ("notes", _sparse([f"ssn {s} verified" for s in SSNS]), "a social security number"),
    "ssn bare digits": ("ref", _cycle([s.replace("-", "") for s in SSNS] + ["432198765", "287654321"]),
                        "a social security number"),
    "ssn with spaces": ("ref2", _cycle([s.replace("-", " ") for s in SSNS]), "a social security number"),
    "ssn in one row only": ("comment", ["ok"] * (N - 1) + ["SSN 219099999 on file"], "a social security number"),
    "ssn as integers": ("code", _cycle([219099999, 78051120 + 100000000, 536228726, 401773310, 287654321]),
                        "a social security number"),
    "column tax_id": ("tax_id", _cycle(["A7", "B8", "C9"]), "a social security number"),
    "column SS#": ("SS#", _cycle(["on file", "missing", "pending"]), "a social security number"),
    # phones
    "phone bare 10 digits": ("contact", _cycle(["4155550100", "2125550143", "3125550199", "6175550123"]),
                             "a phone number"),
    "phone international": ("contact2", _cycle(["+44 20 7946 0958", "+33 1 42 68 53 00", "+49 30 901820"]),
                            "a phone number"),
    "phone (415) in a third of notes": ("notes", _sparse(["call back at (415) 555-0100", "cell 617.555.0199"]),
                                        "a phone number"),
    "phone with +1": ("contact3", _cycle(["+1 415 555 0100", "+1-212-555-0143"]), "a phone number"),
    "phone UK national": ("contact4", _cycle(["020 7946 0958", "0161 496 0000"]), "a phone number"),
    "column telefono": ("teléfono", _cycle(["si tiene", "no tiene", "otro"]), "a phone number"),
    # e-mail
    "email with display name": ("contact5", _cycle(["John <j@x.org>", "Maria <m.g@mail.com>"]), "an e-mail address"),
    "email in a third of notes": ("Notes", _sparse([f"reach at p{i}@mail.com" for i in range(10)]),
                                  "an e-mail address"),
    "email in one row": ("remarks", ["fine"] * (N - 1) + ["wife: ann.lee@example.org"], "an e-mail address"),
    "column correo": ("correo", _cycle(["a", "b", "c", "d"]), "an e-mail address"),
    # names
    "names LAST, FIRST in capitals": ("client", _cycle([f"{b.upper()}, {a.upper()}" for a, b in zip(FIRST, LAST, strict=True)]),
                                      "a person's name"),
    "names with accents": ("persona", _cycle(["José García", "María Fernández", "Raúl Jiménez", "Inés Núñez"]),
                           "a person's name"),
    "name in a note": ("notes", _sparse(["Pt John Smith called", "Mrs Quispe asked for a copy"]), "a person's name"),
    "column nombre": ("nombre", _cycle(["J", "M", "R"]), "a person's name"),
    "names not in any list": ("who", _cycle(["Xiomara Quispe", "Tupac Mamani", "Yaretzi Huaman", "Ixchel Coj",
                                             "Nayeli Tzoc", "Itzel Cux", "Citlali Ajpop"]), "a person's name"),
    "first names with unlisted surnames": ("contact6", _cycle([f"{a} Zzyzx{i}" for i, a in enumerate(FIRST)]),
                                           "a person's name"),
    # addresses
    "street address with city and zip": ("home", _cycle(["12 Oak St, Springfield, IL 62704",
                                                         "400 Market Street, Austin, TX 78701"]),
                                         "a street address"),
    "po box": ("mailing", _cycle(["PO Box 123", "P.O. Box 77", "po box 9"]), "a street address"),
    "address in a note": ("notes", _sparse(["moved to 55 Elm Avenue last week"]), "a street address"),
    "column domicilio": ("domicilio", _cycle(["urbano", "rural", "otro", "x1"]), "a street address"),
    # MRN
    "column MR#": ("MR#", _cycle(["A1", "B2", "C3"]), "a medical record number"),
    "column hospital_id": ("hospital_id", _cycle(["H1", "H2", "H3"]), "a medical record number"),
    "column patient_number": ("patient_number", _cycle(["P1", "P2", "P3"]), "a medical record number"),
    "mrn in notes": ("notes", _sparse(["MRN: 0012345 checked", "MR# 445566 transferred"]),
                     "a medical record number"),
    # dates of birth
    "column dob": ("dob", _cycle(["1980-01-02", "1975-05-06"]), "a date of birth"),
    "column birth_date": ("Birth Date", _cycle(["1980-01-02", "1975-05-06"]), "a date of birth"),
    "dob in notes": ("notes", _sparse(["DOB 01/02/1980", "born on March 3, 1971"]), "a date of birth"),
    # ZIP
    "column zip": ("zip", _cycle(["62704", "78701", "10001"]), "a ZIP code"),
    "zip+4": ("area", _cycle(["62704-1234", "78701-0001"]), "a ZIP code"),
    # IP
    "ipv4": ("src", _cycle(["192.168.1.20", "10.0.0.7", "172.16.4.1"]), "an IP address"),
    "ipv6": ("src6", _cycle(["2001:db8::1", "fe80::1ff:fe23:4567:890a"]), "an IP address"),
    "column ip_address": ("ip_address", _cycle(["a", "b"]), "an IP address"),
}


LEGITIMATE: dict[str, tuple[str, list]] = {
    "yes/no street_drug": ("street_drug", _cycle(["yes", "no", "no"])),
    "yes/no phone_followup": ("phone_followup", _cycle(["Y", "N"])),
    "yes/no email_consent": ("email_consent", _cycle(["true", "false"])),
    "yes/no mobile_unit": ("mobile_unit", _cycle([1, 0, 0])),
    "yes/no cell": ("cell", _cycle(["yes", "no", ""])),
    "yes/no address_verified": ("address_verified", _cycle(["Yes", "No"])),
    "study ids 001-002-0003": ("study_id", [f"{1 + i % 3:03d}-{2 + i % 5:03d}-{i:04d}" for i in range(N)]),
    "pseudonymous ids": ("pseudo_id", [f"P-{1000 + 7 * i}" for i in range(N)]),
    "sha256 hashed ids": ("hashed_id", [hashlib.sha256(str(i).encode()).hexdigest() for i in range(N)]),
    "uuid ids": ("uuid", [str(uuid.UUID(int=i * 2**100 + 12345)) for i in range(N)]),
    "sequential 9-digit ids": ("case_number", [str(219000001 + i) for i in range(N)]),
    "referral sources": ("referral_source", _cycle(["Self Referral", "Drug Court", "Family Member", "Primary Care",
                                                   "Social Services", "Criminal Justice", "Employer Referral"])),
    "substances with Crystal": ("substance_detail", _cycle(["Crystal Meth", "Heroin", "Alcohol", "Cannabis"])),
    "program names": ("program", _cycle(["Hope House", "New Start", "Grace Church Program", "Jordan Valley Clinic"])),
    "counts and dates": ("prior_admissions", _cycle(["0", "1", "2", "12", "2024-03-01"])),
}


# Written after the guard was tuned on the 39 + 15 above, as a check on over-fitting: on first run
# 13 of 15 disguised were caught (lower-case names in a note and a Spanish street address were not;
# both were then added) and 15 of 15 legitimate passed.
HELD_OUT_DISGUISED: dict[str, tuple[str, list]] = {
    "email in capitals": ("x1", _cycle(["JANE.DOE@HOSPITAL.ORG", "BOB@X.NET"])),
    "email in parentheses": ("x2", _sparse(["(contact: a_b@c.co.uk)"])),
    "phone with dots, international": ("x3", _cycle(["+49.30.901820", "+61 2 9374 4000"])),
    "phone with extension": ("x4", _cycle(["415-555-0100 x23", "212.555.0143 ext 4"])),
    "ssn after a label": ("x5", _sparse(["SS#: 219-09-9999"])),
    "lower-case name in a note": ("x6", _sparse(["spoke with maria lopez today"])),
    "relative named": ("x7", _sparse(["Mother Ana Ruiz present"])),
    "address with apartment": ("x8", _cycle(["221B Baker Street Apt 4", "1600 Pennsylvania Ave NW"])),
    "spanish address": ("x9", _cycle(["Calle Mayor 12, 28013 Madrid", "Avenida Reforma 222"])),
    "mrn glued to its number": ("x10", _cycle(["MRN0012345", "MRN0012346"])),
    "dob in words": ("x11", _sparse(["date of birth: 3 March 1971"])),
    "column Birthday": ("Birthday", _cycle(["a1", "b2"])),
    "column e_mail_addr": ("e_mail_addr", _cycle(["a1", "b2"])),
    "column client_phone": ("client_phone", _cycle(["a1", "b2"])),
    "ip in a url": ("x12", _sparse(["from http://203.0.113.5/login"])),
}
HELD_OUT_LEGITIMATE: dict[str, tuple[str, list]] = {
    "version numbers": ("app_version", _cycle(["1.2.3", "2.0.1"])), "decimal hours": ("hours", _cycle(["12.5", "3.25"])),
    "counts": ("visits", [str(i) for i in range(N)]), "dates": ("followup", _cycle(["2024-01-05", "03/04/2024"])),
    "icd-10 codes": ("dx", _cycle(["F11.20", "F10.239", "F15.10"])), "times": ("time", _cycle(["10:30", "14:45:00"])),
    "state codes": ("state", _cycle(["IL", "TX", "CA"])), "counties": ("county", _cycle(["Cook County", "Travis County"])),
    "staff initials": ("staff", _cycle(["JS", "MG", "AK"])),
    "payer names": ("payer_name", _cycle(["Blue Cross Blue Shield", "Aetna", "United Healthcare"])),
    "urls": ("resource", _cycle(["https://findtreatment.gov", "https://samhsa.gov"])),
    "money": ("charges", _cycle(["12,500.00", "$3,200"])), "percentages": ("adherence", _cycle(["85%", "92.5%"])),
    "referral with a person word": ("referral", _cycle(["Friend or Family", "Self", "Court Ordered"])),
    "facilities named for saints": ("facility", _cycle(["St Mary Recovery Center", "St Luke Hospital"])),
}


@pytest.mark.parametrize("case", list(HELD_OUT_DISGUISED))
def test_held_out_disguised_identifier_refused(case):
    column, values = HELD_OUT_DISGUISED[case]
    assert [f.column for f in find_identifier_columns(pd.DataFrame({**BASE, column: values}))] == [column]


@pytest.mark.parametrize("case", list(HELD_OUT_LEGITIMATE))
def test_held_out_legitimate_column_passes(case):
    column, values = HELD_OUT_LEGITIMATE[case]
    assert find_identifier_columns(pd.DataFrame({**BASE, column: values})) == []


@pytest.mark.parametrize("case", list(DISGUISED))
def test_disguised_identifier_refused(case):
    column, values, kind = DISGUISED[case]
    frame = pd.DataFrame({**BASE, column: values})
    findings = find_identifier_columns(frame)
    assert [(f.column, f.kind) for f in findings] == [(column, kind)], findings


@pytest.mark.parametrize("case", list(LEGITIMATE))
def test_legitimate_column_passes(case):
    column, values = LEGITIMATE[case]
    assert find_identifier_columns(pd.DataFrame({**BASE, column: values})) == []


def test_clean_file_has_no_findings():
    assert find_identifier_columns(pd.DataFrame(BASE)) == []


def test_probe_score_all_caught_all_pass():
    caught = sum(bool(find_identifier_columns(pd.DataFrame({**BASE, c: v}))) for c, v, _ in DISGUISED.values())
    passed = sum(not find_identifier_columns(pd.DataFrame({**BASE, c: v})) for c, v in LEGITIMATE.values())
    assert (len(DISGUISED), caught, len(LEGITIMATE), passed) == (39, 39, 15, 15)


@pytest.mark.parametrize("column,kind", [
    ("Patient Name", "a person's name"), ("last_name", "a person's name"), ("SSN", "a social security number"),
    ("Phone", "a phone number"), ("E-mail", "an e-mail address"), ("Street Address", "a street address"),
    ("MRN", "a medical record number"), ("medical_record_number", "a medical record number"),
    ("tax_id", "a social security number"), ("SS#", "a social security number"), ("telefono", "a phone number"),
    ("MR#", "a medical record number"), ("hospital_id", "a medical record number"), ("DOB", "a date of birth"),
    ("Zip Code", "a ZIP code"), ("IP address", "an IP address"),
])
def test_flagged_by_name(column, kind):
    frame = pd.DataFrame({**BASE, column: [f"A{i}" for i in range(N)]})
    (finding,) = find_identifier_columns(frame)
    assert (finding.column, finding.kind, finding.evidence) == (column, kind, "name")


@pytest.mark.parametrize("column", ["email_consent", "phone_followup", "address_verified", "mobile_unit",
                                    "street_drug", "site_name", "program_name", "patient_id", "episode_number"])
def test_qualified_or_pseudonymous_names_are_not_identifier_names(column):
    assert name_kind(column) is None


def test_name_column_with_flags_or_nothing_passes():
    assert find_identifier_columns(pd.DataFrame({**BASE, "phone": _cycle(["yes", "no"])})) == []
    assert find_identifier_columns(pd.DataFrame({**BASE, "email": [None] * N})) == []


def test_rows_are_counted_and_named_in_the_message():
    frame = pd.DataFrame({**BASE, "Notes": _sparse([f"reach at p{i}@mail.com" for i in range(10)])})
    (finding,) = find_identifier_columns(frame)
    assert (finding.rows, finding.n_rows) == (10, N)
    message = identifier_message([finding])
    assert "'Notes' holds an e-mail address in 10 of 30 rows" in message
    assert "--drop Notes" in message and "p0@mail.com" not in message  # the identifier itself is never echoed


def test_several_kinds_in_one_column_are_each_reported():
    values = _cycle(["reach at p1@mail.com", "ssn 219-09-9999", "no concerns today"])
    kinds = [f.kind for f in find_identifier_columns(pd.DataFrame({**BASE, "notes": values}))]
    assert kinds == ["a social security number", "an e-mail address"]


def test_one_identifier_among_a_million_rows_is_found():
    n = 1_000_000
    frame = pd.DataFrame({"episode_id": [f"E{i:07d}" for i in range(n)], "level_of_care": ["iop", "op"] * (n // 2)})
    frame.loc[654_321, "level_of_care"] = "iop (contact j.doe@mail.org)"
    (finding,) = find_identifier_columns(frame)
    assert (finding.column, finding.kind, finding.rows) == ("level_of_care", "an e-mail address", 1)


def test_sequential_ids_pass_but_random_nine_digit_numbers_do_not():
    seq = pd.DataFrame({**BASE, "ref": [str(100_000_000 + i) for i in range(N)]})
    assert find_identifier_columns(seq) == []
    rnd = pd.DataFrame({**BASE, "ref": [str(100_000_000 + 29_876_543 * i) for i in range(N)]})
    assert [f.kind for f in find_identifier_columns(rnd)] == ["a social security number"]


def test_names_as_repeated_labels_pass_but_distinct_names_do_not():
    staff = pd.DataFrame({"counselor": _cycle(["John Smith", "Maria Garcia"]) * 10})  # 600 rows, two labels
    assert find_identifier_columns(staff) == []
    people = pd.DataFrame({"who": [f"{a} {b}" for a in FIRST for b in LAST][:N]})
    assert [f.kind for f in find_identifier_columns(people)] == ["a person's name"]


# ---------------------------------------------------------------- going on: drop, free text
def test_load_refuses_and_names_the_column():
    frame = pd.DataFrame({**BASE, "Client Email": [f"p{i}@x.com" for i in range(N)]})
    result = load_frame(frame)
    assert result.episodes is None and result.report.exit_code == 2
    assert "'Client Email'" in result.report.fatal
    assert result.report.fatal == identifier_message(result.identifiers)


def test_dropping_the_column_lets_the_file_go_on():
    frame = pd.DataFrame({**BASE, "Client Email": [f"p{i}@x.com" for i in range(N)]})
    screen = screen_columns(frame, drop=["Client Email"])
    assert not screen.refused and screen.dropped == ("Client Email",)
    assert "Client Email" not in screen.frame.columns and list(screen.frame.columns) == list(BASE)
    assert any("Dropped at your request" in n for n in screen.notes)


def test_unmapped_free_text_is_left_out_unless_kept():
    notes = [f"Session {i}: discussed coping plan and relapse triggers at length" for i in range(N)]
    frame = pd.DataFrame({**BASE, "notes": notes, "referral_source": _cycle(["Self Referral", "Drug Court"])})
    screen = leave_out_free_text(screen_columns(frame), guess_mapping(frame).values())
    assert screen.free_text == ("notes",) and "notes" not in screen.frame.columns
    assert "referral_source" in screen.frame.columns
    assert any("Left out as free text: 'notes'" in n for n in screen.notes)
    kept = leave_out_free_text(screen_columns(frame), guess_mapping(frame).values(), keep=["notes"])
    assert kept.free_text == () and "notes" in kept.frame.columns
    assert "notes" in load_frame(frame, keep_columns=["notes"]).raw.columns
    assert "notes" not in load_frame(frame).raw.columns


def test_mapped_text_column_is_never_left_out_as_free_text():
    reasons = [f"Client completed the program after {i} weeks of attendance" for i in range(N)]
    frame = pd.DataFrame({**BASE, "discharge_reason": reasons})
    assert leave_out_free_text(screen_columns(frame), guess_mapping(frame).values()).free_text == ()


def test_check_command_refuses_then_goes_on_with_drop(tmp_path, capsys):
    from analysis.cli import main

    path = tmp_path / "episodes.csv"
    pd.DataFrame({**BASE, "Contact": _sparse(["call (415) 555-0100"])}).to_csv(path, index=False)
    assert main(["check", str(path)]) == 2
    out = capsys.readouterr().out
    assert "'Contact' holds a phone number in 10 of 30 rows" in out and "--drop Contact" in out
    assert main(["check", str(path), "--drop", "Contact"]) == 0
    assert "Dropped at your request: 'Contact'" in capsys.readouterr().out
