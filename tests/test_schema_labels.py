"""Label normalisation (schema.normalize_*): the documented label forms are placed; labels that negate,
qualify or combine levels, look-alike characters and non-text values are never placed (None, with the
reason), so validation reports the row instead of silently changing it (issue 12, item 6)."""
from __future__ import annotations

import pytest

from analysis.schema import (
    level_label_issue,
    normalize_discharge_reason,
    normalize_level_of_care,
    reason_label_issue,
)

PLACED = [
    ("Intensive Outpatient", "iop"), ("IOP", "iop"), ("iop", "iop"), ("ASAM 2.1", "iop"), ("2.1", "iop"),
    (2.1, "iop"), (1, "op"), ("Level 2.5", "php"), ("Residential - Short Term", "residential"),
    ("3.7-WM", "detox"), ("TEDS 6", "iop"), ("INTENSIVE OUTPATIENT", "iop"), ("Partial Hospitalization (PHP)", "php"),
    ("Inpatient detox", "detox"), ("Residential withdrawal management", "detox"),
    ("Outpatient (non-intensive)", "op"), ("Ambulatory, non-intensive outpatient", "op"),
    ("Rehab/residential, short term (30 days or fewer)", "residential"),
    ("Rehab/residential, long term (more than 30 days)", "residential"),
    ("Rehab/residential, hospital (non-detox)", "inpatient"), ("Detox, 24-hour, hospital inpatient", "detox"),
    ("\uff29\uff2f\uff30", "iop"),  # full-width IOP: a compatibility form of the same letters
    ("IOP \u2013 telehealth", "iop"), ("Level 3.5 residential", "residential"),
    ("Intensive outpatient program - adolescent", "iop"), ("Residential step-down", "residential"),
    ("Standard OP", "op"), ("Medically monitored intensive inpatient", "residential"),
]

NOT_PLACED = [
    ("Not IOP", "negates"), ("Residential (not IOP)", "negates"), ("Non-IOP", "negates"),
    ("OP step-down from IOP", "qualifies"), ("Step down to IOP", "qualifies"), ("Pre-IOP", "qualifies"),
    ("Referred to IOP", "qualifies"), ("IOP waitlist", "qualifies"),
    ("IOP/OP", "more than one level"), ("PHP or IOP", "more than one level"),
    ("Residential and IOP", "more than one level"), ("Residential inpatient", "more than one level"),
    ("\u0130OP", "U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE"),  # İOP used to become OP
    ("\u0406\u041e\u0420", "CYRILLIC"),  # ІОР, all Cyrillic
    ("I\u041eP", "U+041E CYRILLIC CAPITAL LETTER O"),  # one Cyrillic letter
    ({"level": "IOP"}, "dict value"), (["IOP"], "list value"), (True, "yes/no value"),
]


@pytest.mark.parametrize("label,code", PLACED)
def test_documented_level_labels_are_placed(label, code):
    assert normalize_level_of_care(label) == code
    assert level_label_issue(label) is None


@pytest.mark.parametrize("label,why", NOT_PLACED)
def test_negated_qualified_combined_and_look_alike_levels_are_not_placed(label, why):
    assert normalize_level_of_care(label) is None
    assert why in level_label_issue(label)


@pytest.mark.parametrize("label", ["MAT", "Telehealth", "", "  ", None, float("nan")])
def test_unknown_or_empty_level_is_none_without_a_reason(label):
    assert normalize_level_of_care(label) is None and level_label_issue(label) is None


@pytest.mark.parametrize("label,code", [
    ("Completed", "completed"), ("Treatment completed", "completed"), ("Successfully completed program", "completed"),
    ("Left AMA", "dropped_out"), ("AMA", "dropped_out"), ("Dropped out - AMA", "dropped_out"),
    ("Transferred to IOP", "transferred"), ("Terminated - rule violation", "terminated"), ("Died (overdose)", "died"),
    (6, "died"), ("Left before completing", "dropped_out"),
])
def test_reasons_are_recognised(label, code):
    assert normalize_discharge_reason(label) == code


@pytest.mark.parametrize("label,why", [
    ("Did not complete", "negates"), ("Incomplete", "negates"), ("Not completed", "negates"),
    ("Unsuccessful completion", "negates"), ("Failed to complete treatment", "negates"),
    ("Completed/Transferred", "more than one reason"), ("\u0421ompleted", "CYRILLIC CAPITAL LETTER ES"),
    ({"reason": "completed"}, "dict value"),
])
def test_negated_combined_and_look_alike_reasons_are_not_recognised(label, why):
    assert normalize_discharge_reason(label) is None
    assert why in reason_label_issue(label)


def test_amazing_is_not_ama():
    assert normalize_discharge_reason("Amazing progress") is None
