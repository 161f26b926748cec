"""Identifier guard: refuse files that carry direct identifiers (domain.md section 5.5).

A column is flagged by its **name** (person names, SSN, phone, e-mail, street address, medical
record number) or by its **content** (a sample of its values looks like SSNs, e-mail addresses,
phone numbers, street addresses or "First Last" person names). Pseudonymous ids (``client_id``,
``episode_id``, ``study_id``) are not identifiers and pass.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["IdentifierFinding", "find_identifier_columns", "identifier_message"]

_SAMPLE = 2000
_SHARE = 0.5  # share of non-empty sampled values that must match a content pattern

_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a person's name", re.compile(
        r"^(?:(?:patient|client|person|member|participant|full|first|last|given|family|middle|maiden|sur)_?name"
        r"|name|surname|forename|firstname|lastname|fname|lname|name_(?:first|last|full))$")),
    ("a social security number", re.compile(r"(?:^|_)(?:ssn|ss_?no|ss_?num|social_?security(?:_?n(?:o|um(?:ber)?))?)"
                                            r"(?:_|$)")),
    ("a phone number", re.compile(r"(?:^|_)(?:phone|telephone|tel|mobile|cell|cellphone|fax)(?:_?n(?:o|um|umber))?"
                                  r"(?:_|$)")),
    ("an e-mail address", re.compile(r"(?:^|_)e_?mail(?:_?address)?(?:_|$)")),
    ("a street address", re.compile(r"(?:^|_)(?:street|street_?address|home_?address|address|addr|address_?line"
                                    r"(?:_?[12])?)(?:_|$)")),
    ("a medical record number", re.compile(r"(?:^|_)(?:mrn|medical_?record(?:_?n(?:o|um(?:ber)?))?|med_?rec(?:_?no)?"
                                           r"|chart_?(?:no|num|number)|health_?record_?n(?:o|umber))(?:_|$)")),
)

_CONTENT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("a social security number", r"\d{3}-\d{2}-\d{4}"),
    ("an e-mail address", r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"),
    ("a phone number", r"(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}"),
    ("a street address", r"\d{1,6}\s+(?:[A-Za-z0-9.']+\s+){1,4}(?:st|street|ave|avenue|rd|road|blvd|boulevard|ln"
                         r"|lane|dr|drive|way|ct|court|pl|place|ter|terrace|hwy|highway|pkwy)\.?"
                         r"(?:,?\s+(?:apt|unit|suite|#)\s*\S+)?"),
)
_PERSON_NAME = r"[A-Z][a-z'\-]+,?\s+(?:[A-Z]\.?\s+)?[A-Z][a-z'\-]+"
_NOT_PERSON_WORDS = re.compile(
    r"\b(?:clinic|center|centre|hospital|program|house|health|services?|county|city|north|south|east|west|"
    r"outpatient|inpatient|residential|detox|medicaid|medicare|private|alcohol|opioids?|cocaine|cannabis|"
    r"completed|dropped|transferred|terminated|other|unknown|white|black|hispanic|asian|female|male)\b", re.I)


@dataclass(frozen=True)
class IdentifierFinding:
    """A column that appears to hold direct identifiers, and why."""

    column: str
    kind: str
    evidence: str  # "name" or "content"


def _normalize(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def find_identifier_columns(raw: pd.DataFrame) -> list[IdentifierFinding]:
    """Return the columns of ``raw`` that look like direct identifiers (by name, then by content)."""
    findings: list[IdentifierFinding] = []
    for col in raw.columns:
        key = _normalize(str(col))
        hit = next((kind for kind, pattern in _NAME_PATTERNS if pattern.search(key)), None)
        if hit:
            findings.append(IdentifierFinding(str(col), hit, "name"))
            continue
        values = raw[col]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        # an evenly spaced sample of the column (cheap on millions of rows), then its non-empty values
        sample = values.iloc[:: max(1, len(values) // (4 * _SAMPLE))].dropna()
        if len(sample) > _SAMPLE:
            sample = sample.iloc[:: max(1, len(sample) // _SAMPLE)]
        sample = sample[sample.map(lambda v: isinstance(v, str))]
        if len(sample) == 0:
            continue
        sample = sample.astype(str).str.strip()
        for kind, pattern in _CONTENT_PATTERNS:
            if sample.str.fullmatch(pattern, case=False).mean() >= _SHARE:
                findings.append(IdentifierFinding(str(col), kind, "content"))
                break
        else:
            if len(sample) >= 5 and _looks_like_person_names(sample):
                findings.append(IdentifierFinding(str(col), "a person's name", "content"))
    return findings


def _looks_like_person_names(sample: pd.Series) -> bool:
    shaped = sample.str.fullmatch(_PERSON_NAME)
    if shaped.mean() < _SHARE:
        return False
    named = sample[shaped]
    if named.str.contains(_NOT_PERSON_WORDS).mean() > 0.2:
        return False
    # Person names are nearly all distinct; category labels repeat.
    return named.nunique() / len(named) >= 0.3


def identifier_message(findings: list[IdentifierFinding]) -> str:
    """One sentence refusing the file and naming the column(s)."""
    parts = [f"'{f.column}' ({f.kind}, judged by its {f.evidence})" for f in findings]
    noun = "column" if len(findings) == 1 else "columns"
    return (f"This file appears to contain direct identifiers in {noun} {', '.join(parts)}. "
            "Continuum only accepts de-identified data: remove the column and load the file again. "
            "Nothing from this file was kept.")
