"""Canonical episode schema: the fields Continuum understands and their vocabularies.

One row is one treatment episode. A file arrives either *date-shaped*
(``admission_date``, ``discharge_date``, ``relapse_date``, ``last_contact_date``,
optional ``death_date``) or *duration-shaped* (``los_days``, ``days_to_relapse`` with
``relapsed`` 0/1, durations counted in days **from admission**). See ``../shared/domain.md``
section 6; the data dictionary in the README and the app is generated from :data:`FIELDS`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Field", "FIELDS", "FIELD_BY_NAME", "DATE_FIELDS", "DURATION_FIELDS", "BOOLEAN_FIELDS",
    "NUMERIC_FIELDS", "CATEGORICAL_COVARIATES",
    "LEVELS_OF_CARE", "LEVEL_LABELS", "DISCHARGE_REASONS", "DISCHARGE_REASON_LABELS",
    "normalize_level_of_care", "normalize_discharge_reason", "parse_boolean",
]


@dataclass(frozen=True)
class Field:
    """One canonical column: name, kind (date|number|integer|boolean|category|id) and meaning."""

    name: str
    kind: str
    description: str
    unit: str = ""


FIELDS: tuple[Field, ...] = (
    Field("episode_id", "id", "Pseudonymous identifier of the treatment episode (unique per row)."),
    Field("client_id", "id", "Pseudonymous identifier of the person; links episodes of one client."),
    Field("level_of_care", "category",
          "Level of care: detox, inpatient, residential, php, iop or op (ASAM labels accepted)."),
    Field("discharge_reason", "category",
          "Why the episode ended: completed, dropped_out (incl. AMA), terminated, transferred, "
          "incarcerated, died or other. Empty while still in treatment."),
    Field("admission_date", "date", "Date of admission to this episode."),
    Field("discharge_date", "date", "Date of discharge; empty while still in treatment."),
    Field("relapse_date", "date", "Date of first return to use after admission; empty if none observed."),
    Field("last_contact_date", "date",
          "Last date the person's use status was known (follow-up); censoring date when no relapse."),
    Field("death_date", "date", "Date of death, if known (a competing event for relapse)."),
    Field("los_days", "number", "Length of stay (duration-shaped files).", "days"),
    Field("days_to_relapse", "number",
          "Days from admission to relapse (relapsed=1) or to last contact (relapsed=0).", "days"),
    Field("relapsed", "boolean", "1 when a relapse was observed at days_to_relapse, else 0."),
    Field("age", "number", "Age at admission.", "years"),
    Field("sex", "category", "Sex as recorded."),
    Field("race_ethnicity", "category", "Race/ethnicity as recorded."),
    Field("primary_substance", "category", "Primary substance at admission (alcohol, opioids, ...)."),
    Field("co_occurring", "boolean", "Co-occurring mental-health disorder (yes/no)."),
    Field("prior_treatments", "integer", "Number of prior treatment episodes.", "episodes"),
    Field("payer", "category", "Payer (Medicaid, private, ...)."),
    Field("site", "category", "Site or program."),
    Field("hours_attended", "number", "Treatment hours attended during the episode.", "hours"),
    Field("hours_scheduled", "number", "Treatment hours scheduled during the episode.", "hours"),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}
DATE_FIELDS = tuple(f.name for f in FIELDS if f.kind == "date")
DURATION_FIELDS = ("los_days", "days_to_relapse")
BOOLEAN_FIELDS = tuple(f.name for f in FIELDS if f.kind == "boolean")
NUMERIC_FIELDS = tuple(f.name for f in FIELDS if f.kind in ("number", "integer"))
CATEGORICAL_COVARIATES = ("sex", "race_ethnicity", "primary_substance", "co_occurring", "payer", "site")

# ---------------------------------------------------------------- levels of care
LEVELS_OF_CARE: tuple[str, ...] = ("detox", "inpatient", "residential", "php", "iop", "op")
"""Codes ordered from most to least intensive."""

LEVEL_LABELS = {
    "detox": "Withdrawal management (detox)",
    "inpatient": "Inpatient",
    "residential": "Residential",
    "php": "Partial hospitalization (PHP)",
    "iop": "Intensive outpatient (IOP)",
    "op": "Outpatient (OP)",
}

_LEVEL_SYNONYMS = {
    "detox": ["detox", "detoxification", "withdrawal management", "wm", "medical detox",
              "ambulatory detox", "detox 24 hour", "detox 24 hour hospital inpatient",
              "detox 24 hour free standing residential", "social detox", "withdrawal"],
    "inpatient": ["inpatient", "medically managed inpatient", "hospital inpatient",
                  "medically managed intensive inpatient", "inpatient hospital", "ip",
                  "rehab residential hospital", "rehab residential hospital non detox",
                  "hospital residential", "acute inpatient", "4", "4 0"],
    "residential": ["residential", "rtc", "res", "residential treatment",
                    "residential short term", "short term residential", "residential long term",
                    "long term residential", "clinically managed residential",
                    "clinically managed high intensity residential",
                    "clinically managed low intensity residential",
                    "clinically managed population specific high intensity residential",
                    "medically monitored intensive inpatient", "halfway house",
                    "3", "3 1", "3 3", "3 5", "3 7"],
    "php": ["php", "partial hospitalization", "partial hospitalisation", "partial hospital",
            "partial hospitalization program", "day treatment", "day program", "2 5"],
    "iop": ["iop", "intensive outpatient", "intensive outpatient program",
            "ambulatory intensive outpatient", "intensive out patient", "2 1", "2"],
    "op": ["op", "outpatient", "standard outpatient", "outpatient services", "out patient",
           "ambulatory non intensive outpatient", "non intensive outpatient", "routine outpatient",
           "general outpatient", "1", "1 0"],
}
# TEDS-D SERVICES codes, recognised only when written with a TEDS prefix ("TEDS 6"), because a
# bare "1" is ASAM level 1 (outpatient) while TEDS code 1 is hospital detox.
_TEDS_SERVICES = {"1": "detox", "2": "detox", "3": "inpatient", "4": "residential",
                  "5": "residential", "6": "iop", "7": "op", "8": "detox"}
_WM_SUFFIX = re.compile(r"^(?:[1-4](?: [0-9])?) wm$|^wm [1-4](?: [0-9])?$")
_NOISE_WORDS = re.compile(r"\b(?:asam|level|loc|of care|program(?:me)?|services?|care|treatment)\b")


def _tokens(label: str) -> str:
    text = str(label).strip().lower().replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


_LEVEL_LOOKUP: dict[str, str] = {}
for _code, _names in _LEVEL_SYNONYMS.items():
    for _name in _names:
        _LEVEL_LOOKUP[_tokens(_name)] = _code


def normalize_level_of_care(label: object) -> str | None:
    """Return the canonical level-of-care code for a label, or ``None`` if it cannot be placed.

    Accepts codes, full names, abbreviations, ASAM levels ("2.1", "Level 2.5", "ASAM 3.5",
    "3.2-WM"), TEDS service codes written "TEDS 6", and case/punctuation variants
    ("Residential - Short Term", "INTENSIVE OUTPATIENT").
    """
    if label is None:
        return None
    if isinstance(label, float):
        if label != label:  # NaN
            return None
        label = f"{label:g}"
    text = _tokens(label)
    if not text:
        return None
    if text in _LEVEL_LOOKUP:
        return _LEVEL_LOOKUP[text]
    teds = re.fullmatch(r"teds(?: services?)?(?: code)? ([1-8])", text)
    if teds:
        return _TEDS_SERVICES[teds.group(1)]
    if _WM_SUFFIX.match(text) or text.endswith(" wm") or text.startswith("wm "):
        return "detox"
    stripped = re.sub(r"\s+", " ", _NOISE_WORDS.sub(" ", text)).strip()
    if stripped in _LEVEL_LOOKUP:
        return _LEVEL_LOOKUP[stripped]
    # ASAM sublevels written "2.1 IOP", "Level 3.5 residential": the number decides
    asam = re.match(r"^([1-4])(?: ([0-9]))?\b", stripped)
    if asam:
        key = asam.group(1) if asam.group(2) is None else f"{asam.group(1)} {asam.group(2)}"
        if key in _LEVEL_LOOKUP:
            return _LEVEL_LOOKUP[key]
    words_set = set(stripped.split())
    for token in ("php", "iop", "op"):
        if token in words_set:
            return token
    for words, code in (("partial hosp", "php"), ("intensive outpatient", "iop"),
                        ("detox", "detox"), ("withdrawal", "detox"), ("residential", "residential"),
                        ("inpatient", "inpatient"), ("outpatient", "op")):
        if words in stripped:
            return code
    return None


# ---------------------------------------------------------------- discharge reasons
DISCHARGE_REASONS: tuple[str, ...] = (
    "completed", "dropped_out", "terminated", "transferred", "incarcerated", "died", "other")
DISCHARGE_REASON_LABELS = {
    "completed": "Completed", "dropped_out": "Dropped out / left against advice",
    "terminated": "Terminated by facility", "transferred": "Transferred",
    "incarcerated": "Incarcerated", "died": "Died", "other": "Other",
}
_REASON_SYNONYMS = {
    "completed": ["completed", "complete", "completion", "treatment completed",
                  "completed treatment", "successful completion", "successfully completed",
                  "successful", "graduated", "discharged completed", "met goals", "1"],
    "dropped_out": ["dropped out", "drop out", "dropout", "dropped", "ama", "left ama",
                    "against medical advice", "left against medical advice", "left against advice",
                    "left against staff advice", "against staff advice", "left", "self discharge",
                    "self discharged", "lost to contact", "lost contact", "no show", "walked out",
                    "left before completing", "2"],
    "terminated": ["terminated", "terminated by facility", "administrative discharge",
                   "administratively discharged", "discharged for non compliance",
                   "discharged for noncompliance", "rule violation", "expelled", "4"],
    "transferred": ["transferred", "transfer", "transferred to another facility",
                    "transferred to another program", "transferred to another program or facility",
                    "referred", "referred out", "step down", "stepped down", "3"],
    "incarcerated": ["incarcerated", "incarceration", "jail", "prison", "arrested",
                     "incarcerated jail", "5"],
    "died": ["died", "death", "deceased", "dead", "6"],
    "other": ["other", "other reason", "moved", "unknown", "7"],
}
_REASON_LOOKUP = {_tokens(n): code for code, names in _REASON_SYNONYMS.items() for n in names}


def normalize_discharge_reason(label: object) -> str | None:
    """Return the canonical discharge-reason code, or ``None`` if the label is not recognised.

    Numeric codes follow the TEDS-D REASON codes (1 completed, 2 dropped out, 3 transferred,
    4 terminated, 5 incarcerated, 6 died, 7 other).
    """
    if label is None or (isinstance(label, float) and label != label):
        return None
    text = _tokens(label)
    if not text:
        return None
    if text in _REASON_LOOKUP:
        return _REASON_LOOKUP[text]
    for words, code in (("against", "dropped_out"), ("ama", "dropped_out"), ("complet", "completed"),
                        ("transfer", "transferred"), ("terminat", "terminated"),
                        ("incarcerat", "incarcerated"), ("jail", "incarcerated"),
                        ("died", "died"), ("death", "died"), ("drop", "dropped_out")):
        if words in text:
            return code
    return None


# ---------------------------------------------------------------- booleans
_TRUE = {"1", "1.0", "yes", "y", "true", "t"}
_FALSE = {"0", "0.0", "no", "n", "false", "f"}


def parse_boolean(value: object) -> bool | None:
    """Parse yes/no, y/n, true/false, t/f, 1/0 (any case). Returns None if not one of these."""
    if isinstance(value, bool):
        return value
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None
