"""Cohort derivation: turn validated episodes (date- or duration-shaped) into the analysis table.

One function, :func:`derive_cohort`, adds the derived columns every outcome needs: length of stay,
still-in-treatment flag, completion, the relapse end point measured from admission and from
discharge with censoring at last contact, and death as a competing event. The column contract is
in ``docs/architecture.md``.

Conventions (days, integer calendar-day differences):

* **End of follow-up.** For a discharged episode, the later of last contact and discharge (being in
  treatment is contact); for an episode still in treatment, last contact if recorded, else the
  data's ``as_of`` date.
* **Relapse** (event 1) at the relapse date whenever one is recorded and falls on or before the
  date of death (a recorded relapse is itself an observation, so it counts even if it is later
  than the recorded last contact).
* **Death** (event 2, competing) at the death date when no relapse precedes it. An episode whose
  discharge reason is ``died`` and whose death date is empty is taken to have died at discharge.
* **Censored** (event 0) at the end of follow-up otherwise.
* **Origin discharge.** Time from discharge to the same end point. A relapse on or before the
  discharge date (during treatment) is an event at day 0, flagged ``relapse_in_treatment``, so it
  stays visible instead of being lost; episodes still in treatment have no discharge time (NaN).
* **Duration-shaped files** (``days_to_relapse`` from admission with ``relapsed``, optional
  ``los_days``): ``time_admission_days`` is ``days_to_relapse`` as given; the discharge-origin
  time is ``days_to_relapse - los_days`` with a relapse before discharge an event at day 0 (and a
  censoring before discharge censored at day 0). Without ``los_days`` there is no discharge origin.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.schema import DATE_FIELDS

__all__ = ["ORIGINS", "AGE_BANDS", "derive_cohort", "survival_columns", "analysis_rows", "data_as_of",
           "choose_origin", "recorded_outcomes"]

ORIGINS: tuple[str, ...] = ("admission", "discharge")
AGE_BANDS: tuple[str, ...] = ("<25", "25-34", "35-44", "45-54", "55+")

_DAY = np.timedelta64(1, "D")


def survival_columns(origin: str) -> tuple[str, str]:
    """Return ``(time_column, event_column)`` of the cohort table for a time origin."""
    if origin not in ORIGINS:
        raise ValueError(f"Time origin must be one of {', '.join(ORIGINS)}, not {origin!r}.")
    return f"time_{origin}_days", f"event_{origin}"


def analysis_rows(cohort: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Rows usable for time-to-relapse analyses from ``origin``.

    From discharge, episodes still in treatment (no discharge yet) have no time and are left out;
    from admission every episode with a follow-up time is used.
    """
    time_col, _ = survival_columns(origin)
    return cohort[cohort[time_col].notna()]


def _discharge_source(cohort: pd.DataFrame) -> str | None:
    """What the file records about discharge (None when nothing)."""
    if cohort.attrs.get("shape", "dates") == "durations" or "admission_date" not in cohort.columns:
        has = "los_days" in cohort.columns and bool(cohort["los_days"].notna().any())
        return "a length of stay" if has else None
    if "discharge_date" in cohort.columns and bool(cohort["discharge_date"].notna().any()):
        return "discharge dates"
    return None


def choose_origin(cohort: pd.DataFrame, requested: str | None = None) -> tuple[str, str]:
    """The time origin to use and why, as ``(origin, reason)``.

    Default: ``discharge`` when the file records discharge (dates, or a length of stay in a
    duration file), else ``admission``. A requested origin the file cannot support raises
    ``ValueError`` with a sentence naming the origin that works.
    """
    source = _discharge_source(cohort)
    if requested is not None and requested not in ORIGINS:
        raise ValueError(f"Time origin must be one of {', '.join(ORIGINS)}, not {requested!r}.")
    if requested == "discharge" and source is None:
        raise ValueError("Time from discharge cannot be measured: the file records no discharge date or length of "
                         "stay (los_days). Use the origin admission (--origin admission), which this file supports, "
                         "or map the column that holds the length of stay.")
    if requested is not None:
        return requested, f"time from {requested}, as chosen"
    if source is not None:
        return "discharge", (f"time from discharge (durability after treatment), the default because the file "
                             f"records {source}")
    return "admission", ("time from admission (intention to treat), because the file records no discharge date "
                         "or length of stay")


def recorded_outcomes(cohort: pd.DataFrame) -> dict[str, bool]:
    """Which retention outcomes the file records: ``completion`` and ``discharge_reasons`` need a
    discharge reason, ``length_of_stay`` a discharge date or length of stay. An outcome that is not
    recorded is shown as "not recorded", never as 0%."""
    reasons = "discharge_reason" in cohort.columns and bool(cohort["discharge_reason"].notna().any())
    return {"completion": reasons, "discharge_reasons": reasons,
            "length_of_stay": _discharge_source(cohort) is not None}


def data_as_of(episodes: pd.DataFrame) -> pd.Timestamp | None:
    """The data's extraction date: ``attrs['as_of']`` if set, else the latest date in the file."""
    as_of = episodes.attrs.get("as_of")
    if as_of is not None and not pd.isna(as_of):
        return pd.Timestamp(as_of)
    latest = [episodes[c].max() for c in DATE_FIELDS if c in episodes.columns]
    latest = [d for d in latest if not pd.isna(d)]
    return max(latest) if latest else None


def _days(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier) / _DAY).to_numpy(dtype="float64", na_value=np.nan)


def _date_column(episodes: pd.DataFrame, name: str) -> pd.Series:
    if name in episodes.columns:
        return pd.to_datetime(episodes[name])
    return pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns]")


def _reason_is(episodes: pd.DataFrame, code: str) -> np.ndarray:
    if "discharge_reason" not in episodes.columns:
        return np.zeros(len(episodes), dtype=bool)
    return (episodes["discharge_reason"].astype("object") == code).to_numpy(dtype=bool)


def _derive_from_dates(episodes: pd.DataFrame, as_of: pd.Timestamp | None, out: dict) -> None:
    adm = _date_column(episodes, "admission_date")
    dis = _date_column(episodes, "discharge_date")
    rel = _date_column(episodes, "relapse_date")
    contact = _date_column(episodes, "last_contact_date")
    death = _date_column(episodes, "death_date")
    died_at_discharge = _reason_is(episodes, "died") & death.isna().to_numpy() & dis.notna().to_numpy()
    death = death.mask(died_at_discharge, dis)
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else adm.max()

    in_treatment = dis.isna()
    end_of_stay = dis.fillna(as_of_ts)
    # end of follow-up: discharged -> later of contact and discharge; enrolled -> contact or as_of
    follow_end = pd.Series(
        np.where(in_treatment, contact.fillna(as_of_ts), np.maximum(contact.fillna(dis), dis)),
        index=episodes.index, dtype="datetime64[ns]")
    relapse_seen = rel.notna() & (death.isna() | (rel <= death))
    death_first = ~relapse_seen & death.notna()
    end = rel.where(relapse_seen, death.where(death_first, follow_end))
    event = np.where(relapse_seen, 1, np.where(death_first, 2, 0)).astype("int8")

    t_adm = _days(end, adm)
    t_dis = _days(end, dis)
    relapse_in_treatment = relapse_seen & (in_treatment | (rel <= dis))
    died_in_treatment = death_first & ~in_treatment & (death <= dis)
    t_dis = np.where((relapse_in_treatment | died_in_treatment).to_numpy(), 0.0, t_dis)
    t_dis = np.where(in_treatment.to_numpy(), np.nan, t_dis)
    out.update(
        in_treatment=in_treatment.to_numpy(),
        los_days=_days(end_of_stay, adm),
        relapse_in_treatment=relapse_in_treatment.to_numpy(),
        time_admission_days=t_adm,
        event_admission=event,
        time_discharge_days=t_dis,
        event_discharge=np.where(in_treatment.to_numpy(), np.nan, event.astype("float64")),
        admission_year=adm.dt.year.astype("Int64"),
        admission_quarter=adm.dt.to_period("Q").astype(str).where(adm.notna()),
    )


def _derive_from_durations(episodes: pd.DataFrame, out: dict) -> None:
    t_adm = pd.to_numeric(episodes["days_to_relapse"], errors="coerce").to_numpy(dtype="float64")
    relapsed = episodes["relapsed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    died = _reason_is(episodes, "died") & ~relapsed
    event = np.where(relapsed, 1, np.where(died, 2, 0)).astype("int8")
    if "los_days" in episodes.columns:
        los = pd.to_numeric(episodes["los_days"], errors="coerce").to_numpy(dtype="float64")
    else:
        los = np.full(len(episodes), np.nan)
    in_treatment = np.isnan(los) & ("los_days" in episodes.columns)
    raw = t_adm - los
    relapse_in_treatment = relapsed & (raw <= 0)
    t_dis = np.where(np.isnan(los), np.nan, np.maximum(raw, 0.0))
    out.update(
        in_treatment=in_treatment,
        los_days=los,
        relapse_in_treatment=relapse_in_treatment,
        time_admission_days=t_adm,
        event_admission=event,
        time_discharge_days=t_dis,
        event_discharge=np.where(np.isnan(t_dis), np.nan, event.astype("float64")),
        admission_year=pd.array([pd.NA] * len(episodes), dtype="Int64"),
        admission_quarter=pd.Series(None, index=episodes.index, dtype="object"),
    )


def derive_cohort(episodes: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """Derive the analysis table from validated canonical episodes.

    Parameters
    ----------
    episodes
        Output of :func:`analysis.validation.validate_episodes` (or any frame with canonical
        columns and dtypes). Date-shaped when ``admission_date`` is present, otherwise
        duration-shaped (``days_to_relapse`` and ``relapsed`` required).
    as_of
        Data extraction date; episodes without discharge are censored here. Defaults to
        ``episodes.attrs['as_of']`` or the latest date in the file.

    Returns
    -------
    pandas.DataFrame
        The episodes with the derived columns of ``docs/architecture.md`` appended (see the
        module docstring for the conventions). ``attrs`` carries ``shape`` and ``as_of``.
    """
    if "admission_date" in episodes.columns:
        shape = "dates"
    elif {"days_to_relapse", "relapsed"} <= set(episodes.columns):
        shape = "durations"
    else:
        raise ValueError("The episodes need either an admission date or days_to_relapse with relapsed.")
    out: dict = {}
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else data_as_of(episodes)
    if shape == "dates":
        _derive_from_dates(episodes, as_of_ts, out)
    else:
        _derive_from_durations(episodes, out)

    cohort = episodes.copy()
    for name, values in out.items():
        cohort[name] = values
    cohort["completed"] = _reason_is(episodes, "completed")
    cohort["transferred"] = _reason_is(episodes, "transferred")
    if "age" in episodes.columns:
        age = pd.to_numeric(episodes["age"], errors="coerce")
        cohort["age_band"] = pd.cut(age, bins=[-np.inf, 25, 35, 45, 55, np.inf], right=False,
                                    labels=list(AGE_BANDS))
    cohort.attrs = {**episodes.attrs, "shape": shape, "as_of": as_of_ts}
    return cohort
