"""Column mapping: the user's column names onto the canonical ones of :mod:`analysis.schema`.

A mapping is a plain ``{canonical_name: source_column}`` dict. :func:`guess_mapping` proposes one
from common names (case, spaces and punctuation ignored); an explicit mapping overrides the guess
field by field, and can be saved as JSON (:func:`mapping_to_json`) and reused
(:func:`mapping_from_json`). Columns that are not mapped are kept under their own names as
candidate covariates or grouping columns.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

import pandas as pd

from analysis.schema import FIELD_BY_NAME

__all__ = ["SYNONYMS", "normalize_name", "guess_mapping", "resolve_mapping", "apply_mapping",
           "mapping_to_json", "mapping_from_json", "parse_map_args"]

#: Common source names per canonical field (compared after :func:`normalize_name`).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "episode_id": ("episode_id", "episode", "episode_number", "episode_no", "case_id", "caseid", "admission_id",
                   "admit_id", "enrollment_id", "encounter_id", "stay_id", "treatment_episode_id", "discharge_id",
                   "disyr_caseid"),
    "client_id": ("client_id", "client", "person_id", "participant_id", "subject_id", "study_id", "pseudo_id",
                  "patient_id", "patient_key", "client_key", "member_id", "pid", "id_client"),
    "level_of_care": ("level_of_care", "loc", "level", "care_level", "asam_level", "asam", "program_type",
                      "service_type", "services", "service", "treatment_setting", "setting", "modality",
                      "program_level", "level_of_service", "services_d", "serv_type"),
    "discharge_reason": ("discharge_reason", "reason_for_discharge", "reason", "discharge_status",
                         "discharge_type", "reasonforleaving", "reason_for_leaving", "disposition",
                         "discharge_disposition", "outcome", "reason_d", "end_reason"),
    "admission_date": ("admission_date", "admit_date", "date_of_admission", "admission", "admitted", "start_date",
                       "intake_date", "enrollment_date", "episode_start", "admitdate", "date_admitted"),
    "discharge_date": ("discharge_date", "date_of_discharge", "discharge", "discharged", "end_date", "exit_date",
                       "episode_end", "dischargedate", "date_discharged"),
    "relapse_date": ("relapse_date", "date_of_relapse", "return_to_use_date", "first_use_date", "relapse",
                     "first_relapse_date", "relapsedate", "date_relapsed"),
    "last_contact_date": ("last_contact_date", "last_contact", "last_followup_date", "last_follow_up_date",
                          "last_follow_up", "last_followup", "followup_date", "follow_up_date", "censor_date",
                          "last_known_date", "date_last_seen", "last_seen"),
    "death_date": ("death_date", "date_of_death", "dod", "deceased_date", "died_date"),
    "los_days": ("los_days", "los", "length_of_stay", "length_of_stay_days", "days_in_treatment",
                 "days_in_tx", "stay_days", "tx_days", "los_d"),
    "days_to_relapse": ("days_to_relapse", "time_to_relapse", "time_to_relapse_days", "relapse_days",
                        "days_to_event", "survival_days", "followup_days", "follow_up_days", "time", "time_days"),
    "relapsed": ("relapsed", "relapse_flag", "relapse_event", "returned_to_use", "event", "status",
                 "relapse_yn", "any_relapse"),
    "age": ("age", "age_years", "age_at_admission", "admission_age", "age_admit"),
    "sex": ("sex", "gender", "sex_at_birth", "gender_identity"),
    "race_ethnicity": ("race_ethnicity", "race", "ethnicity", "race_eth", "raceeth"),
    "primary_substance": ("primary_substance", "substance", "primary_drug", "drug", "sub1", "substance_1",
                          "primary_substance_of_use", "drug_of_choice", "primary_sud"),
    "co_occurring": ("co_occurring", "cooccurring", "co_occurring_disorder", "dual_diagnosis", "mental_health",
                     "psych_prob", "psyprob", "mh_diagnosis", "cod"),
    "prior_treatments": ("prior_treatments", "prior_tx", "prior_episodes", "previous_treatments", "noprior",
                         "num_prior_treatments", "prior_admissions"),
    "payer": ("payer", "payor", "insurance", "primary_payer", "pay_source", "primpay", "funding_source"),
    "site": ("site", "site_name", "facility", "clinic", "program", "location", "center", "agency", "provider"),
    "hours_attended": ("hours_attended", "attended_hours", "hours_received", "service_hours", "hours_delivered",
                       "attended"),
    "hours_scheduled": ("hours_scheduled", "scheduled_hours", "hours_planned", "planned_hours", "scheduled"),
}


def normalize_name(name: object) -> str:
    """Lower-case, non-alphanumerics to single underscores: ``"Admit Date "`` -> ``"admit_date"``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


_LOOKUP: dict[str, str] = {}
for _canonical, _names in SYNONYMS.items():
    for _n in _names:
        _LOOKUP.setdefault(normalize_name(_n), _canonical)


def guess_mapping(columns: Iterable[object]) -> dict[str, str]:
    """Propose ``{canonical: source_column}`` from column names.

    An exact canonical name wins over a synonym; each canonical field and each source column is
    used at most once (first match in column order).
    """
    columns = [str(c) for c in columns]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False):
        for col in columns:
            if col in used:
                continue
            key = normalize_name(col)
            canonical = key if exact and key in FIELD_BY_NAME else (None if exact else _LOOKUP.get(key))
            if canonical and canonical not in mapping:
                mapping[canonical] = col
                used.add(col)
    return mapping


def resolve_mapping(columns: Iterable[object], explicit: Mapping[str, str] | None = None) -> dict[str, str]:
    """The guess, overridden field by field by ``explicit``; raises ``ValueError`` naming bad entries.

    An explicit entry whose value is empty or None removes that field from the mapping.
    """
    columns = [str(c) for c in columns]
    explicit = dict(explicit or {})
    unknown = [k for k in explicit if k not in FIELD_BY_NAME]
    if unknown:
        raise ValueError(f"Unknown field(s) in the column mapping: {', '.join(unknown)}. "
                         f"Known fields: {', '.join(FIELD_BY_NAME)}.")
    missing = [f"{k}={v}" for k, v in explicit.items() if v and v not in columns]
    if missing:
        raise ValueError(f"The column mapping names column(s) not in the file: {', '.join(missing)}.")
    mapping = guess_mapping(columns)
    claimed = {v for v in explicit.values() if v}
    mapping = {k: v for k, v in mapping.items() if v not in claimed}
    for k, v in explicit.items():
        if v:
            mapping[k] = v
        else:
            mapping.pop(k, None)
    return mapping


def apply_mapping(raw: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Rename mapped columns to their canonical names; unmapped columns keep their own names.

    An unmapped column whose own name collides with a canonical name that is mapped elsewhere is
    kept with the suffix ``_original`` so nothing is lost.
    """
    rename = {src: canonical for canonical, src in mapping.items()}
    taken = set(rename.values())
    for col in raw.columns:
        if col not in rename and col in taken:
            rename[col] = f"{col}_original"
    out = raw.rename(columns=rename)
    out.attrs = dict(raw.attrs)
    return out


def mapping_to_json(mapping: Mapping[str, str]) -> str:
    """Serialise a mapping to JSON (``{"canonical": "source", ...}``)."""
    return json.dumps(dict(mapping), indent=2, sort_keys=True)


def mapping_from_json(text: str | bytes) -> dict[str, str]:
    """Read a mapping saved by :func:`mapping_to_json`; ``ValueError`` with a sentence if malformed."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The mapping file is not valid JSON.") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, (str, type(None)))
                                             for k, v in data.items()):
        raise ValueError('The mapping file must be a JSON object like {"admission_date": "Admit Date"}.')
    unknown = [k for k in data if k not in FIELD_BY_NAME]
    if unknown:
        raise ValueError(f"The mapping file names unknown field(s): {', '.join(unknown)}.")
    return {k: v for k, v in data.items() if v}


def parse_map_args(items: Iterable[str] | None) -> dict[str, str]:
    """Parse command-line ``CANONICAL=SOURCE`` pairs into a mapping."""
    mapping: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"--map expects CANONICAL=SOURCE, got {item!r}.")
        key, value = item.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping
