"""Canonical episode schema: the fields Continuum understands and their vocabularies.

One row is one treatment episode. A file arrives either *date-shaped*
(``admission_date``, ``discharge_date``, ``relapse_date``, ``last_contact_date``,
optional ``death_date``) or *duration-shaped* (``los_days``, ``days_to_relapse`` with
``relapsed`` 0/1, durations counted in days **from admission**). See ``../shared/domain.md``
section 6; the data dictionary in the README and the app is generated from :data:`FIELDS`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Field", "FIELDS", "FIELD_BY_NAME", "DATE_FIELDS", "DURATION_FIELDS", "BOOLEAN_FIELDS",
    "NUMERIC_FIELDS", "CATEGORICAL_COVARIATES",
    "LEVELS_OF_CARE", "LEVEL_LABELS", "DISCHARGE_REASONS", "DISCHARGE_REASON_LABELS",
    "normalize_level_of_care", "normalize_discharge_reason", "level_label_issue", "reason_label_issue",
    "parse_boolean",
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
                    "rehab residential short term 30 days or fewer", "rehab residential long term more than 30 days",
                    "3", "3 1", "3 3", "3 5", "3 7"],
    "php": ["php", "partial hospitalization", "partial hospitalisation", "partial hospital",
            "partial hospitalization program", "day treatment", "day program", "2 5"],
    "iop": ["iop", "intensive outpatient", "intensive outpatient program",
            "ambulatory intensive outpatient", "intensive out patient", "2 1", "2"],
    "op": ["op", "outpatient", "standard outpatient", "outpatient services", "out patient",
           "ambulatory non intensive outpatient", "non intensive outpatient", "routine outpatient",
           "general outpatient", "outpatient non intensive", "1", "1 0"],
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

# ---------------------------------------------------------------- labels that must not be placed
# A label is text or a number. Before any lookup it is NFKC-normalised (full-width letters, ligatures
# and typographic dashes become plain ones); a letter outside ASCII that remains ("İOP" with a dotted
# capital I, "ІОР" in Cyrillic) is a look-alike and is never mapped to a level. Labels that negate or
# qualify a level ("Not IOP", "Residential (not IOP)", "OP step-down from IOP") or name two levels
# ("IOP/OP") are not placed either: the row is reported, never silently changed.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_NEGATIONS = re.compile(r"\b(?:not|non|no|without|excluding|exclude|except|never|nor|ex|other than|instead of)\b")
_DIRECTIONS = frozenset("from to after before pre post prior previous former formerly referred referral refer "
                        "transition transitioned transitioning transfer transferred vs versus waitlist "
                        "waitlisted waiting pending planned declined refused failed then into".split())
_LEVEL_PHRASES = sorted(
    {name: code for code, names in _LEVEL_SYNONYMS.items() for name in map(_tokens, names)
     if not re.fullmatch(r"[0-9 ]+", name)}.items(), key=lambda kv: -len(kv[0]))
_LEVEL_PHRASES += [("partial hosp", "php"), ("withdrawal", "detox"), ("detox", "detox")]


def _label_text(label: object) -> tuple[str | None, str | None]:
    """(NFKC text of a label, None) or (None, why it cannot be read as a label)."""
    if label is None or isinstance(label, (bool, np.bool_)):
        return None, None if label is None else "a yes/no value, not a label"
    if isinstance(label, (float, np.floating)):
        if label != label:  # NaN
            return None, None
        return f"{float(label):g}", None
    if isinstance(label, (int, np.integer)):
        return str(int(label)), None
    if not isinstance(label, str):
        return None, f"a {type(label).__name__} value, not a text label"
    text = unicodedata.normalize("NFKC", label).translate(_DASHES)
    odd = [c for c in text if ord(c) > 127 and unicodedata.category(c)[0] in "LM"]
    if odd:
        names = ", ".join(dict.fromkeys(f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in odd))
        return None, f"non-ASCII look-alike characters ({names})"
    return text, None


def _level_mentions(text: str) -> list[str]:
    """Level codes named in a token string, longest phrase first ("intensive outpatient" is one)."""
    found, rest = [], f" {text} "
    for phrase, code in _LEVEL_PHRASES:
        key = f" {phrase} "
        while key in rest:
            found.append(code)
            rest = rest.replace(key, " | ", 1)
    return found


def level_label_issue(label: object) -> str | None:
    """Why a level-of-care label is not placed (look-alike characters, negation, two levels), or None."""
    return _level(label)[1]


def normalize_level_of_care(label: object) -> str | None:
    """Return the canonical level-of-care code for a label, or ``None`` if it cannot be placed.

    Accepts codes, full names, abbreviations, ASAM levels ("2.1", "Level 2.5", "ASAM 3.5",
    "3.2-WM"), TEDS service codes written "TEDS 6", and case/punctuation variants
    ("Residential - Short Term", "INTENSIVE OUTPATIENT"). Returns ``None``, never another level, for
    labels that negate, qualify or combine levels ("Not IOP", "OP step-down from IOP", "IOP/OP"), for
    look-alike characters ("İOP") and for values that are not text or numbers (a Parquet struct);
    :func:`level_label_issue` says why.
    """
    return _level(label)[0]


def _level(label: object) -> tuple[str | None, str | None]:
    raw, issue = _label_text(label)
    if raw is None:
        return None, issue
    text = _tokens(raw)
    if not text:
        return None, None
    if text in _LEVEL_LOOKUP:
        return _LEVEL_LOOKUP[text], None
    teds = re.fullmatch(r"teds(?: services?)?(?: code)? ([1-8])", text)
    if teds:
        return _TEDS_SERVICES[teds.group(1)], None
    words = set(text.split())
    if _NEGATIONS.search(text):
        return None, "the label negates a level ('not', 'non', 'without' ...)"
    if _WM_SUFFIX.match(text) or text.endswith(" wm") or text.startswith("wm "):
        return ("detox", None) if not words & _DIRECTIONS else (None, "the label qualifies a level")
    stripped = re.sub(r"\s+", " ", _NOISE_WORDS.sub(" ", text)).strip()
    if stripped in _LEVEL_LOOKUP:
        return _LEVEL_LOOKUP[stripped], None
    mentions = set(_level_mentions(stripped))
    asam = re.match(r"^([1-4])(?: ([0-9]))?\b", stripped)  # "2.1 IOP", "Level 3.5 residential"
    if asam:
        key = asam.group(1) if asam.group(2) is None else f"{asam.group(1)} {asam.group(2)}"
        if key in _LEVEL_LOOKUP:
            mentions.add(_LEVEL_LOOKUP[key])
    if not mentions:
        return None, None
    if words & _DIRECTIONS:
        return None, "the label qualifies a level ('from', 'after', 'step-down to' ...)"
    combined = "/" in raw or "+" in raw or words & {"and", "or", "plus", "with"}
    if len(mentions) > 1 and not combined and "detox" in mentions and mentions <= {"detox", "inpatient",
                                                                                  "residential", "op"}:
        return "detox", None  # "inpatient detox", "residential withdrawal management": the setting of a detox
    if len(mentions) > 1:
        return None, "the label names more than one level"
    return mentions.pop(), None


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


_REASON_STEMS = (("against", "dropped_out"), ("ama\\b", "dropped_out"), ("complet", "completed"),
                 ("transfer", "transferred"), ("terminat", "terminated"), ("incarcerat", "incarcerated"),
                 ("jail", "incarcerated"), ("died", "died"), ("death", "died"), ("drop", "dropped_out"))
_NEGATED_STEM = re.compile(r"\b(?:in|un|non)\s?(?:complet|success)|\b(?:not|never|without|failed|fail|unable|"
                           r"didn t|didnt|did not)\b(?:\s\w+)?\s(?:to\s)?(?:complet|success|finish|graduat)")


def reason_label_issue(label: object) -> str | None:
    """Why a discharge-reason label is not recognised (look-alike characters, negation, two reasons), or None."""
    return _reason(label)[1]


def normalize_discharge_reason(label: object) -> str | None:
    """Return the canonical discharge-reason code, or ``None`` if the label is not recognised.

    Numeric codes follow the TEDS-D REASON codes (1 completed, 2 dropped out, 3 transferred,
    4 terminated, 5 incarcerated, 6 died, 7 other). A negated reason ("did not complete",
    "incomplete"), two reasons at once and look-alike characters give ``None``.
    """
    return _reason(label)[0]


def _reason(label: object) -> tuple[str | None, str | None]:
    raw, issue = _label_text(label)
    if raw is None:
        return None, issue
    text = _tokens(raw)
    if not text:
        return None, None
    if text in _REASON_LOOKUP:
        return _REASON_LOOKUP[text], None
    if _NEGATED_STEM.search(text) or set(text.split()) & {"not", "never", "without"}:
        return None, "the label negates a reason ('not completed', 'incomplete' ...)"
    codes = {code for stem, code in _REASON_STEMS if re.search(rf"\b{stem}", text)}
    if len(codes) > 1:
        return None, "the label names more than one reason"
    return (codes.pop() if codes else None), None


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
