"""Cohort derivation as SQL: the relation ``cohort`` from the valid rows of ``episodes``.

The same conventions as :func:`analysis.cohort.derive_cohort` (see its module docstring), written
as one ``SELECT`` in DuckDB's dialect and run as is on DuckDB or transpiled to PostgreSQL. Day
counts are calendar-day differences of dates (``date_diff('day', a, b)``), as the pandas path's
differences of normalised timestamps. :data:`COHORT_DTYPES` gives the pandas dtypes that frames
fetched from the engine are converted back to, so the statistics see what they see on the pandas
path (level of care and discharge reason as ordered categories, flags as booleans).
"""
from __future__ import annotations

import pandas as pd

from analysis.cohort import AGE_BANDS
from analysis.engine.backends import quote
from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE

__all__ = ["cohort_select", "COHORT_DTYPES", "DERIVED_COLUMNS"]

COHORT_DTYPES: dict[str, object] = {
    "level_of_care": pd.CategoricalDtype(list(LEVELS_OF_CARE), ordered=True),
    "discharge_reason": pd.CategoricalDtype(list(DISCHARGE_REASONS)),
    "age_band": pd.CategoricalDtype(list(AGE_BANDS), ordered=True),
    "in_treatment": "bool", "completed": "bool", "transferred": "bool", "relapse_in_treatment": "bool",
    "co_occurring": "boolean", "relapsed": "boolean",
    "los_days": "float64", "time_admission_days": "float64", "time_discharge_days": "float64",
    "event_admission": "int8", "event_discharge": "float64", "admission_year": "Int64",
    "age": "float64", "hours_attended": "float64", "hours_scheduled": "float64", "days_to_relapse": "float64",
    "prior_treatments": "Int64",
    **{c: "datetime64[ns]" for c in ("admission_date", "discharge_date", "relapse_date", "last_contact_date",
                                     "death_date")},
}
DERIVED_COLUMNS: tuple[str, ...] = ("in_treatment", "los_days", "relapse_in_treatment", "time_admission_days",
                                    "event_admission", "time_discharge_days", "event_discharge", "admission_year",
                                    "admission_quarter", "completed", "transferred", "age_band")


def _days(later: str, earlier: str) -> str:
    return f"CAST(date_diff('day', {earlier}, {later}) AS DOUBLE)"


def cohort_select(columns: tuple[str, ...] | list[str], shape: str, as_of: pd.Timestamp | None,
                  source: str = "episodes") -> str:
    """``SELECT`` of the cohort over ``source`` (valid rows only); ``columns`` are the episodes' columns.

    ``as_of`` is the data's date (date-shaped files): episodes without discharge are censored there.
    """
    cols = set(columns)
    keep = [quote(c) for c in columns if c not in DERIVED_COLUMNS and c != "_row"]
    keep = (["_row"] if "_row" in cols else []) + keep

    def col(name: str, kind: str = "DATE") -> str:
        return quote(name) if name in cols else f"CAST(NULL AS {kind})"

    reason = col("discharge_reason", "VARCHAR")
    derived: dict[str, str] = {}
    if shape == "dates":
        if as_of is None:
            raise ValueError("A date-shaped cohort needs the data's date (as_of).")
        as_of_sql = f"DATE '{pd.Timestamp(as_of).date().isoformat()}'"
        adm, dis, rel, contact = col("admission_date"), col("discharge_date"), col("relapse_date"), col("last_contact_date")
        death = (f"CASE WHEN {reason} = 'died' AND {col('death_date')} IS NULL AND {dis} IS NOT NULL THEN {dis} "
                 f"ELSE {col('death_date')} END")
        it = f"({dis} IS NULL)"
        follow_end = (f"CASE WHEN {it} THEN COALESCE({contact}, {as_of_sql}) "
                      f"ELSE GREATEST(COALESCE({contact}, {dis}), {dis}) END")
        relapse_seen = f"({rel} IS NOT NULL AND ({death} IS NULL OR {rel} <= {death}))"
        death_first = f"(NOT {relapse_seen} AND {death} IS NOT NULL)"
        end = f"CASE WHEN {relapse_seen} THEN {rel} WHEN {death_first} THEN {death} ELSE {follow_end} END"
        event = f"CASE WHEN {relapse_seen} THEN 1 WHEN {death_first} THEN 2 ELSE 0 END"
        rit = f"({relapse_seen} AND ({it} OR COALESCE({rel} <= {dis}, FALSE)))"
        dit = f"({death_first} AND NOT {it} AND COALESCE({death} <= {dis}, FALSE))"
        derived = {
            "in_treatment": it,
            "los_days": _days(f"COALESCE({dis}, {as_of_sql})", adm),
            "relapse_in_treatment": rit,
            "time_admission_days": _days(end, adm),
            "event_admission": f"CAST({event} AS TINYINT)",
            "time_discharge_days": f"CASE WHEN {it} THEN NULL WHEN {rit} OR {dit} THEN 0.0 ELSE {_days(end, dis)} END",
            "event_discharge": f"CASE WHEN {it} THEN NULL ELSE CAST({event} AS DOUBLE) END",
            "admission_year": f"CAST(EXTRACT(year FROM {adm}) AS BIGINT)",
            "admission_quarter": (f"CAST(EXTRACT(year FROM {adm}) AS VARCHAR) || 'Q' || "
                                  f"CAST(EXTRACT(quarter FROM {adm}) AS VARCHAR)"),
        }
    else:
        t_adm = col("days_to_relapse", "DOUBLE")
        relapsed = f"COALESCE({col('relapsed', 'BOOLEAN')}, FALSE)"
        died = f"(COALESCE({reason} = 'died', FALSE) AND NOT {relapsed})"
        event = f"CASE WHEN {relapsed} THEN 1 WHEN {died} THEN 2 ELSE 0 END"
        los = col("los_days", "DOUBLE")
        t_dis = f"CASE WHEN {los} IS NULL OR {t_adm} IS NULL THEN NULL ELSE GREATEST({t_adm} - {los}, 0.0) END"
        derived = {
            "in_treatment": f"({los} IS NULL)" if "los_days" in cols else "FALSE",
            "los_days": f"CAST({los} AS DOUBLE)",
            "relapse_in_treatment": f"COALESCE({relapsed} AND {t_adm} - {los} <= 0, FALSE)",
            "time_admission_days": f"CAST({t_adm} AS DOUBLE)",
            "event_admission": f"CAST({event} AS TINYINT)",
            "time_discharge_days": t_dis,
            "event_discharge": f"CASE WHEN ({t_dis}) IS NULL THEN NULL ELSE CAST({event} AS DOUBLE) END",
            "admission_year": "CAST(NULL AS BIGINT)",
            "admission_quarter": "CAST(NULL AS VARCHAR)",
        }
    derived["completed"] = f"COALESCE({reason} = 'completed', FALSE)"
    derived["transferred"] = f"COALESCE({reason} = 'transferred', FALSE)"
    if "age" in cols:
        derived["age_band"] = ("CASE WHEN age IS NULL THEN NULL WHEN age < 25 THEN '<25' WHEN age < 35 THEN '25-34' "
                               "WHEN age < 45 THEN '35-44' WHEN age < 55 THEN '45-54' ELSE '55+' END")
    select = ", ".join(keep + [f"{expr} AS {quote(name)}" for name, expr in derived.items()])
    return f"SELECT {select} FROM {source} WHERE NOT _excluded"
