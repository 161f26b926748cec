"""Column mapping: the user's column names onto the canonical ones of :mod:`analysis.schema`.

A mapping is a plain ``{canonical_name: source_column}`` dict. :func:`guess_mapping` proposes one
from the column names (case, spaces and punctuation ignored) **checked against the content** when
the table is given (:func:`guess_details` says why each guess was, or was not, made); an explicit
mapping overrides the guess field by field (an empty value unmaps a field: ``--map
discharge_date=``), and can be saved as JSON with the column types, the time unit, the relapse
value and the grouping column (:class:`MappingSpec`, :func:`spec_to_json`) and reused
(:func:`spec_from_json`; a plain ``{canonical: source}`` object of older versions still loads).
Columns that are not mapped are kept under their own names as candidate covariates or grouping
columns.

Guess rules (content of the non-empty values):

* a date field only if at least half the values read as dates;
* ``relapsed`` for a column named like relapse/relapsed/event/status/censor/cens/fstat/death whose
  values are yes/no-like (0/1, yes/no, true/false): 1/yes/true means the relapse (as R's
  ``Surv(time, x)``; ``cens``/``censor`` are R's censoring indicators, 1 = event), except for a
  column named ``censored``/``is_censored``/``*_censored``, where 1 means censored; a status coded
  1/2 takes 2 as the event (R's convention); a death flag (``death``/``deaths``) of a file of dates is
  not its relapse, and a ``death`` column of dates is ``death_date``;
* ``days_to_relapse`` for a numeric column named like time/ttr/futime/survival/days/weeks/months/
  duration/follow_up/lenfol (when the file has no admission date), never an age (``Age_in_years`` is
  ``age``); a time-to-event name (``time``, ``futime``, ``Survival_in_days``) wins over one that only
  holds a unit (``Months_from_Diagnosis``); its name sets the time unit (weeks, months, years) unless
  the user states one;
* numeric fields (length of stay, age, counts, hours) only if at least 90% of the values are numbers;
* ``level_of_care`` and ``discharge_reason`` only if at least half the values can be placed;
* ``co_occurring`` only if the values are yes/no-like.

A guess the content contradicts is not made, and the reason says what the column looks like and
how to map it anyway.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np
import pandas as pd

from analysis.parsing import parse_dates, parse_numbers
from analysis.schema import FIELD_BY_NAME, normalize_discharge_reason, normalize_level_of_care, parse_boolean

__all__ = ["SYNONYMS", "normalize_name", "guess_mapping", "guess_grouping", "guess_details", "Guess", "MappingGuess",
           "resolve_mapping", "apply_mapping", "MappingSpec", "spec_to_json", "spec_from_json",
           "mapping_to_json", "mapping_from_json", "parse_map_args", "FIELD_LABELS", "event_value_for",
           "unit_from_name"]

#: Common source names per canonical field (compared after :func:`normalize_name`).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "episode_id": ("episode_id", "episode", "episode_number", "episode_no", "case_id", "caseid", "admission_id",
                   "admit_id", "enrollment_id", "encounter_id", "stay_id", "treatment_episode_id", "discharge_id",
                   "disyr_caseid"),
    "client_id": ("client_id", "client", "person_id", "participant_id", "subject_id", "study_id", "pseudo_id",
                  "patient_id", "patient_key", "client_key", "member_id", "pid", "id_client"),
    "level_of_care": ("level_of_care", "loc", "level", "care_level", "asam_level", "asam", "program_type",
                      "service_type", "services", "service", "treatment_setting", "setting", "modality",
                      "program_level", "level_of_service", "services_d", "serv_type", "program", "program_name",
                      "treatment_type", "tx_type", "care_type", "service_level"),
    "discharge_reason": ("discharge_reason", "reason_for_discharge", "reason", "discharge_status",
                         "discharge_type", "reasonforleaving", "reason_for_leaving", "disposition",
                         "discharge_disposition", "outcome", "reason_d", "end_reason"),
    "admission_date": ("admission_date", "admit_date", "date_of_admission", "admission", "admitted", "start_date",
                       "intake_date", "enrollment_date", "episode_start", "admitdate", "date_admitted", "admit_dt",
                       "adm_dt", "admission_dt", "adm_date", "admit", "intake_dt", "start_dt"),
    "discharge_date": ("discharge_date", "date_of_discharge", "discharge", "discharged", "end_date", "exit_date",
                       "episode_end", "dischargedate", "date_discharged", "disch_dt", "dis_dt", "discharge_dt",
                       "disch_date", "dc_date", "dc_dt", "end_dt", "exit_dt"),
    "relapse_date": ("relapse_date", "date_of_relapse", "return_to_use_date", "first_use_date", "relapse",
                     "first_relapse_date", "relapsedate", "date_relapsed", "relapse_dt", "date_of_return_to_use"),
    "last_contact_date": ("last_contact_date", "last_contact", "last_followup_date", "last_follow_up_date",
                          "last_follow_up", "last_followup", "followup_date", "follow_up_date", "censor_date",
                          "last_known_date", "date_last_seen", "last_seen", "last_contact_dt", "date_of_last_contact",
                          "last_fu_date", "last_fu_dt", "date_last_contact"),
    "death_date": ("death_date", "date_of_death", "dod", "deceased_date", "died_date"),
    "los_days": ("los_days", "los", "length_of_stay", "length_of_stay_days", "days_in_treatment",
                 "days_in_tx", "stay_days", "tx_days", "los_d"),
    "days_to_relapse": ("days_to_relapse", "time_to_relapse", "time_to_relapse_days", "relapse_days",
                        "days_to_event", "survival_days", "followup_days", "follow_up_days", "time", "time_days",
                        "ttr", "futime", "fu_time", "lenfol", "duration", "follow_up", "followup", "days", "weeks",
                        "week", "months", "month", "years", "stime", "survtime", "surv_time", "time_to_event",
                        "t", "duration_col"),
    "relapsed": ("relapsed", "relapse_flag", "relapse_event", "returned_to_use", "event", "status",
                 "relapse_yn", "any_relapse", "relapse", "censor", "censored", "cens", "is_censored",
                 "fstat", "event_flag", "failure", "fail", "e", "event_col", "observed"),
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
    "site": ("site", "site_name", "facility", "clinic", "location", "center", "agency", "provider", "site_id",
             "facility_name", "clinic_name"),
    "hours_attended": ("hours_attended", "attended_hours", "hours_received", "service_hours", "hours_delivered",
                       "attended"),
    "hours_scheduled": ("hours_scheduled", "scheduled_hours", "hours_planned", "planned_hours", "scheduled"),
}


#: Readable labels of the canonical fields (the app's mapping form).
FIELD_LABELS: dict[str, str] = {
    "episode_id": "Episode id", "client_id": "Client id", "level_of_care": "Level of care",
    "discharge_reason": "Discharge reason", "admission_date": "Admission date", "discharge_date": "Discharge date",
    "relapse_date": "Relapse date", "last_contact_date": "Last contact date", "death_date": "Date of death",
    "los_days": "Length of stay", "days_to_relapse": "Time to relapse or last contact",
    "relapsed": "Relapsed (event)", "age": "Age", "sex": "Sex", "race_ethnicity": "Race / ethnicity",
    "primary_substance": "Primary substance", "co_occurring": "Co-occurring disorder",
    "prior_treatments": "Prior treatments", "payer": "Payer", "site": "Site",
    "hours_attended": "Hours attended", "hours_scheduled": "Hours scheduled",
}


def normalize_name(name: object) -> str:
    """Lower-case, non-alphanumerics to single underscores: ``"Admit Date "`` -> ``"admit_date"``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


_LOOKUP: dict[str, list[str]] = {}
for _canonical, _names in SYNONYMS.items():
    for _n in _names:
        _LOOKUP.setdefault(normalize_name(_n), []).append(_canonical)
_TIME_WORDS = {"time", "ttr", "futime", "days", "day", "weeks", "week", "wk", "wks", "months", "month", "years",
               "year", "duration", "follow", "followup", "fu", "lenfol", "survtime", "stime"}
_SURE_TIME_WORDS = {"time", "ttr", "futime", "survival", "duration", "follow", "followup", "fu", "lenfol",
                    "survtime", "stime", "tte"}
_EVENT_WORDS = {"relapse", "relapsed", "event", "status", "censor", "censored", "cens", "fstat", "fail",
                "failure", "dead", "died", "death", "deaths", "arrest", "arrested", "recid"}
_DEATH_WORDS = {"death", "deaths", "dead", "died", "deceased"}
_LITERAL_CENSOR = re.compile(r"^(is_)?censored$|_censored$")
"""Names that say "censored": their 1 means censored (``cens``/``censor`` are R's censoring indicators, 1 = event)."""
_CENSORING_INDICATOR = re.compile(r"(^|_)(cens|censor)(_|$)")
_UNIT_WORDS = {"weeks": ("week", "weeks", "wk", "wks", "weekly"), "months": ("month", "months", "mo", "mos"),
               "years": ("year", "years", "yr", "yrs")}
_ABBREVIATIONS = {"disch": "discharge", "dschg": "discharge", "dc": "discharge", "dis": "discharge",
                  "adm": "admission", "admit": "admission", "rsn": "reason", "dt": "date", "tx": "treatment",
                  "lvl": "level", "pgm": "program", "prog": "program", "svc": "service", "dx": "diagnosis"}
"""Abbreviations of export column names, expanded word by word before the synonyms are looked up."""
_DATE_SHARE = 0.5
_NUMBER_SHARE = 0.9
_LABEL_SHARE = 0.5


def _time_rank(column: str) -> int:
    """How surely a column named so is the follow-up time: 2 for a time-to-event name (``time``,
    ``futime``, ``Survival_in_days``, a synonym of ``days_to_relapse``), 1 for a name that only
    holds a unit (``Months_from_Diagnosis``), 0 if the name does not suggest a duration."""
    if "days_to_relapse" not in _candidates(column):
        return 0
    key = normalize_name(column)
    if key in _LOOKUP or set(key.split("_")) & _SURE_TIME_WORDS:
        return 2
    return 1


def _candidates(column: str) -> list[str]:
    """Canonical fields a column name suggests, best first (exact canonical name, synonyms, patterns)."""
    key = normalize_name(column)
    out: list[str] = [key] if key in FIELD_BY_NAME else []
    variants = [key, re.sub(r"_dt$", "_date", key)]
    expanded = "_".join(_ABBREVIATIONS.get(w, w) for w in key.split("_"))  # "disch_rsn" -> "discharge_reason"
    if expanded != key:
        variants += [expanded, re.sub(r"_dt$", "_date", expanded)]
    if key.startswith("date_of_"):
        rest = key.removeprefix("date_of_")
        variants += [rest, f"{rest}_date"]
    for v in variants:
        out += _LOOKUP.get(v, [])
    words = set(key.split("_"))
    if "age" in words and not words & {"group", "grp", "cat", "category", "band", "range", "class", "date", "dt"}:
        out = [f for f in out if f != "days_to_relapse"] + ["age"]  # "Age_in_years" is an age, not a duration
    elif (words & _TIME_WORDS or ("survival" in words and not words & _EVENT_WORDS)) \
            and not words & {"los", "stay", "admission", "discharge", "date", "dt"}:
        out.append("days_to_relapse")
    if words & _EVENT_WORDS and not words & {"date", "dt", "time", "days"}:
        out.append("relapsed")
        if words & _DEATH_WORDS:
            out.append("death_date")  # a column "death" of dates is the date of death, of 0/1 the event
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Guess:
    """One proposed (``made``) or declined guess: field, column and the reason in words."""

    field: str
    column: str
    reason: str
    made: bool = True


@dataclass(frozen=True)
class MappingGuess:
    """Result of :func:`guess_details`: the mapping, every guess with its reason, and the guessed
    relapse value (``event_value``, None for yes/no-like 1 = relapse) and time unit (None: days)."""

    mapping: dict[str, str]
    guesses: tuple[Guess, ...]
    event_value: str | None = None
    time_unit: str | None = None

    def declined(self) -> list[Guess]:
        return [g for g in self.guesses if not g.made]


def _present(values: pd.Series) -> pd.Series:
    """At most 2,000 non-empty values taken evenly over the column (enough to judge its content)."""
    out = values.iloc[:: max(1, len(values) // 4000)].dropna()
    if out.empty:
        out = values.dropna()
    out = out.iloc[:: max(1, len(out) // 2000)]
    if out.dtype == object:
        out = out[out.astype(str).str.strip() != ""]
    return out


def _looks_like(values: pd.Series) -> str:
    from analysis.columns import infer_type

    type_, reason = infer_type(values)
    return {"binary": f"a yes/no column ({reason})", "numeric": f"a number ({reason})",
            "categorical": f"a category ({reason})", "date": "a date", "id": "an identifier",
            "text": "free text"}[type_]


def _check(field_name: str, column: str, values: pd.Series) -> tuple[bool, str, str | None]:
    """Does the content fit the field? ``(ok, reason, event_value)``."""
    present = _present(values)
    if present.empty:
        return True, f"name {column!r} (the column is empty)", None
    kind = FIELD_BY_NAME[field_name].kind
    how = f"--map {field_name}={column}"
    if kind == "date":
        _, bad = parse_dates(present.iloc[:: max(1, len(present) // 500)])
        share = 1 - bad.mean()
        if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_datetime64_any_dtype(present):
            share = 0.0 if present.max() < 18264 else share  # small numbers are not Excel dates
        if share < _DATE_SHARE:
            return False, (f"{column!r} is named like {field_name} but looks like {_looks_like(values)}, "
                           f"not a date ({share:.0%} read as dates); map it with {how} if it is one"), None
        return True, f"name {column!r}; {share:.0%} of the values read as dates", None
    if field_name == "relapsed":
        written = {str(v).strip().lower(): str(v).strip() for v in pd.unique(present.astype(str))}
        labels = sorted(written)
        if len(labels) <= 2 and all(parse_boolean(v) is not None for v in labels):
            yes, no = _yes_no_labels(written)
            key = normalize_name(column)
            if _LITERAL_CENSOR.search(key):
                return True, (f"name {column!r}; values {'/'.join(labels)}: 1 means censored, so {no} is the "
                              f"relapse (flip with --event-value {yes})"), no
            meaning = f"1/yes/true is the relapse (flip with --event-value {no} if {yes} means censored)"
            if _CENSORING_INDICATOR.search(key):
                meaning = (f"1/yes/true is the relapse: read as R's censoring indicator (Surv(time, {column}): "
                           f"{yes} = event, {no} = censored; flip with --event-value {no} if {yes} means censored)")
            return True, f"name {column!r}; values {'/'.join(labels)}: {meaning}", None
        if labels in (["1", "2"], ["1.0", "2.0"]):
            return True, (f"name {column!r}; values 1/2: 2 is the relapse, as in R's Surv "
                          "(flip with --event-value 1)"), "2"
        return False, (f"{column!r} is named like an event flag but looks like {_looks_like(values)}, not "
                       f"0/1 or yes/no; map it with {how} --event-value VALUE if one value means relapse"), None
    if kind in ("number", "integer"):
        share = 1 - parse_numbers(present).bad.mean()
        if share < _NUMBER_SHARE:
            return False, (f"{column!r} is named like {field_name} but looks like {_looks_like(values)} "
                           f"({share:.0%} numbers); map it with {how} if it holds numbers"), None
        return True, f"name {column!r}; {share:.0%} of the values are numbers", None
    if field_name in ("level_of_care", "discharge_reason"):
        norm = normalize_level_of_care if field_name == "level_of_care" else normalize_discharge_reason
        uniq = pd.Series(present.astype(str).unique())
        placed = uniq.map(norm).notna()
        share = float(present.astype(str).isin(set(uniq[placed])).mean())
        if share < _LABEL_SHARE:
            return False, (f"{column!r} is named like {field_name} but only {share:.0%} of its values can be "
                           f"placed (e.g. {', '.join(map(repr, uniq[~placed].head(3)))}); "
                           f"map it with {how} to use it anyway (unplaced labels exclude rows)"), None
        return True, f"name {column!r}; {share:.0%} of the values recognised", None
    if kind == "boolean":
        share = float(present.map(parse_boolean).notna().mean())
        if share < _NUMBER_SHARE:
            return False, (f"{column!r} is named like {field_name} but looks like {_looks_like(values)}, "
                           f"not yes/no; map it with {how} if it is"), None
    return True, f"name {column!r}", None


def _yes_no_labels(written: Mapping[str, str]) -> tuple[str, str]:
    """The values of a yes/no column meaning 1 and 0, as an event value names them: ``("1", "0")`` for
    numbers, else the column's own labels (``("True", "False")``, ``("yes", "no")``)."""
    yes = next((w for k, w in written.items() if parse_boolean(k)), None)
    no = next((w for k, w in written.items() if parse_boolean(k) is False), None)
    if yes is None or no is None or all(k.replace(".0", "") in ("0", "1") for k in written):
        return "1", "0"
    return yes, no


def is_censoring_indicator(column: str) -> bool:
    """Whether a column is named as R's censoring indicator (``cens``, ``censor``: 1 = event), not "censored"."""
    key = normalize_name(column)
    return bool(_CENSORING_INDICATOR.search(key)) and not _LITERAL_CENSOR.search(key)


def event_value_for(column: str, values: pd.Series) -> str | None:
    """The relapse value a column's name and content suggest (None: 1/yes/true), as in the guess rules."""
    return _check("relapsed", column, values)[2]


def unit_from_name(column: str) -> str | None:
    words = set(normalize_name(column).split("_"))
    for unit, names in _UNIT_WORDS.items():
        if words & set(names):
            return unit
    return None


def guess_details(raw: pd.DataFrame | Iterable[object]) -> MappingGuess:
    """Propose a mapping from the column names, checked against the content when ``raw`` is a table.

    Each canonical field and each column is used at most once: an exact canonical name first, then
    names in column order; a field whose content check fails is declined (with its reason) and the
    column stays free for the next field its name suggests (a 0/1 ``relapse`` column becomes
    ``relapsed``, not ``relapse_date``).
    """
    frame = raw if isinstance(raw, pd.DataFrame) else None
    columns = [str(c) for c in (raw.columns if frame is not None else raw)]
    mapping: dict[str, str] = {}
    guesses: list[Guess] = []
    event_value = None
    exact = [c for c in columns if normalize_name(c) in FIELD_BY_NAME]
    order = exact + [c for c in columns if c not in exact]
    for col in order:
        for field_name in _candidates(col):
            if field_name in mapping:
                continue
            if field_name == "days_to_relapse" and "admission_date" in mapping:
                continue
            if field_name == "days_to_relapse":
                rank = _time_rank(col)
                better = next((c for c in columns if c != col and c not in mapping.values() and _time_rank(c) > rank
                               and (frame is None or _check(field_name, c, frame[c])[0])), None)
                if better is not None:  # "Months_from_Diagnosis" is not the follow-up of "Survival_in_days"
                    guesses.append(Guess(field_name, col, f"{col!r} is named like a time but {better!r} is named "
                                         f"more like the follow-up time; map it with --map {field_name}={col} if "
                                         "it is the time to the event", made=False))
                    continue
            ok, reason, ev = (True, f"name {col!r}", None) if frame is None else _check(field_name, col, frame[col])
            if not ok:
                guesses.append(Guess(field_name, col, reason, made=False))
                continue
            mapping[field_name] = col
            guesses.append(Guess(field_name, col, reason))
            if field_name == "relapsed":
                event_value = ev
            break
    if "admission_date" in mapping:  # a date-shaped file: durations and flags are not the end point
        for f in ("days_to_relapse",):
            mapping.pop(f, None)
        if "relapsed" in mapping and set(normalize_name(mapping["relapsed"]).split("_")) & {"death", "deaths"}:
            column = mapping.pop("relapsed")  # a death flag of an episode file is not its relapse
            guesses = [g for g in guesses if not (g.field == "relapsed" and g.column == column)]
            guesses.append(Guess("relapsed", column, f"{column!r} is a death flag of a file of dates, not the "
                                 f"relapse; map it with --map relapsed={column} if it is the event", made=False))
            event_value = None
    unit = unit_from_name(mapping["days_to_relapse"]) if "days_to_relapse" in mapping else None
    if unit:
        guesses.append(Guess("time_unit", mapping["days_to_relapse"],
                             f"the time column {mapping['days_to_relapse']!r} is named in {unit}: times read as "
                             f"{unit} (state --time-unit days if not)"))
    return MappingGuess(mapping, tuple(guesses), event_value, unit)


#: Words of a column name that say "study arm" (a trial's file has no level of care; it is grouped by its arm).
_ARM_WORDS = {"arm", "arms", "treatment", "treat", "trt", "tx", "rx", "allocation", "randomisation", "randomization",
              "randomised", "randomized", "intervention"}
_GROUP_WORDS = {"group", "grp", "cohort", "condition", "therapy"}  # (weaker: "Prior_therapy" is a covariate)
#: An arm has at least two and at most this many distinct values.
MAX_ARMS = 10


def guess_grouping(raw: pd.DataFrame, mapping: Mapping[str, str]) -> tuple[str, str] | None:
    """A grouping column for a file without a level of care (a trial's: its arm), with the reason: the first
    column not mapped to a field whose name says arm/treatment (TREAT, Treatment, tx, Rx, arm), else group, and
    that holds 2 to :data:`MAX_ARMS` distinct values; None when the file has a level of care or no such column."""
    if "level_of_care" in mapping:
        return None
    used = set(mapping.values())
    for words in (_ARM_WORDS, _GROUP_WORDS):  # an arm's name first (veterans: Treatment, not Prior_therapy)
        for col in raw.columns:
            if col in used or not set(normalize_name(col).split("_")) & words:
                continue
            n = raw[col].dropna().astype(str).str.strip().replace("", np.nan).dropna().nunique()
            if 2 <= n <= MAX_ARMS:
                return str(col), (f"the file has no level of care, and {col!r} is named like a study arm or "
                                  f"group ({n} values)")
    return None


def guess_mapping(columns: pd.DataFrame | Iterable[object]) -> dict[str, str]:
    """Propose ``{canonical: source_column}``: from names only, or from names and content for a table."""
    return guess_details(columns).mapping


def resolve_mapping(columns: pd.DataFrame | Iterable[object], explicit: Mapping[str, str] | None = None,
                    *, guess: Mapping[str, str] | None = None) -> dict[str, str]:
    """The guess, overridden field by field by ``explicit``; raises ``ValueError`` naming bad entries.

    ``columns`` is the table (content-aware guesses) or its column names (names only). An explicit
    entry whose value is empty or None removes that field from the mapping (unmapping it).
    ``guess``: a guess already made (:func:`guess_details`), so the content is not read twice.
    """
    names = [str(c) for c in (columns.columns if isinstance(columns, pd.DataFrame) else columns)]
    explicit = dict(explicit or {})
    unknown = [k for k in explicit if k not in FIELD_BY_NAME]
    if unknown:
        raise ValueError(f"Unknown field(s) in the column mapping: {', '.join(unknown)}. "
                         f"Known fields: {', '.join(FIELD_BY_NAME)}.")
    missing = [f"{k}={v}" for k, v in explicit.items() if v and v not in names]
    if missing:
        raise ValueError(f"The column mapping names column(s) not in the file: {', '.join(missing)}.")
    if guess is not None:
        mapping = dict(guess)
    else:
        mapping = guess_mapping(columns if isinstance(columns, pd.DataFrame) else names)
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


_TIME_UNITS = ("days", "weeks", "months", "years")
_TYPES = ("numeric", "binary", "categorical", "date", "id", "text")


@dataclass(frozen=True)
class MappingSpec:
    """Everything a user decides about a file, saved as one JSON file and reused.

    ``columns`` ``{canonical: source}`` (an empty source unmaps a field); ``types`` ``{column:
    type}`` overrides of :mod:`analysis.columns`; ``time_unit`` of the durations (None: guessed or
    days); ``event_value`` the value of the relapse column that means a relapse (None: 1/yes/true);
    ``by`` the grouping column (None: level of care); ``date_order`` the day/month order of the file's dates
    (``"dmy"``/``"mdy"``; None: told from the values).
    """

    columns: dict[str, str]
    types: dict[str, str] = dataclass_field(default_factory=dict)
    time_unit: str | None = None
    event_value: str | None = None
    by: str | None = None
    date_order: str | None = None


def spec_to_json(spec: MappingSpec) -> str:
    """Serialise a :class:`MappingSpec` (format ``continuum-mapping`` version 2)."""
    payload = {"format": "continuum-mapping", "version": 2, "columns": dict(sorted(spec.columns.items()))}
    if spec.types:
        payload["types"] = dict(sorted(spec.types.items()))
    for key in ("time_unit", "event_value", "by", "date_order"):
        if getattr(spec, key) is not None:
            payload[key] = getattr(spec, key)
    return json.dumps(payload, indent=2)


def spec_from_json(text: str | bytes) -> MappingSpec:
    """Read a saved mapping: version 2 (:func:`spec_to_json`) or a plain ``{canonical: source}`` object."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The mapping file is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValueError('The mapping file must be a JSON object like {"admission_date": "Admit Date"}.')
    if data.get("format") != "continuum-mapping":
        return MappingSpec(_columns(data))
    types = data.get("types") or {}
    if not isinstance(types, dict) or any(v not in _TYPES for v in types.values()):
        raise ValueError(f"The mapping file's types must be one of {', '.join(_TYPES)}.")
    unit = data.get("time_unit")
    if unit is not None and unit not in _TIME_UNITS:
        raise ValueError(f"The mapping file's time_unit must be one of {', '.join(_TIME_UNITS)}.")
    event = data.get("event_value")
    by = data.get("by")
    order = data.get("date_order")
    if order is not None and order not in ("dmy", "mdy"):
        raise ValueError("The mapping file's date_order must be dmy or mdy.")
    return MappingSpec(_columns(data.get("columns") or {}), {str(k): str(v) for k, v in types.items()}, unit,
                       None if event is None else str(event), None if by is None else str(by), order)


def _columns(data: dict) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in data.items()):
        raise ValueError('The mapping file must be a JSON object like {"admission_date": "Admit Date"}.')
    unknown = [k for k in data if k not in FIELD_BY_NAME]
    if unknown:
        raise ValueError(f"The mapping file names unknown field(s): {', '.join(unknown)}.")
    return {k: v for k, v in data.items() if v}


def mapping_to_json(mapping: Mapping[str, str], **extras) -> str:
    """Serialise a mapping: ``{"canonical": "source"}`` alone, or with ``types``/``time_unit``/
    ``event_value``/``by`` as a version-2 :class:`MappingSpec`."""
    if any(v for v in extras.values()):
        return spec_to_json(MappingSpec(dict(mapping), **{k: v for k, v in extras.items() if v}))
    return json.dumps(dict(mapping), indent=2, sort_keys=True)


def mapping_from_json(text: str | bytes) -> dict[str, str]:
    """The ``{canonical: source}`` part of a saved mapping (either format); ``ValueError`` if malformed."""
    return spec_from_json(text).columns


def parse_map_args(items: Iterable[str] | None) -> dict[str, str]:
    """Parse command-line ``CANONICAL=SOURCE`` pairs into a mapping (``CANONICAL=`` unmaps the field)."""
    mapping: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"--map expects CANONICAL=SOURCE (or CANONICAL= to unmap), got {item!r}.")
        key, value = item.split("=", 1)
        mapping[key.strip()] = value.strip()
    return mapping
