"""Cached calls into ``analysis``: every heavy computation of the pages goes through here.

Each wrapper takes ``key`` (content hash + mapping + filter spec, see :attr:`ui.state.Context.key`)
and the settings that change the result; the cohort itself is passed as ``_cohort`` (not hashed).
``scope="session"`` keeps one user's upload out of every other session's cache.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from analysis import benchmarks as bm
from analysis import casemix, relapse, report, retention, survival
from analysis import suppression as suppress
from analysis.cohort import survival_columns
from analysis.cox import CoxResult, fit_cox

__all__ = ["ALL_LABEL", "overall", "completion", "reason_mix", "los", "retention_km", "retention_points",
           "engagement", "step_flows", "step_rates", "relapse_rates", "relapse_vs", "km", "at_risk", "medians",
           "logrank_tests", "rmst", "cif", "cox", "balance", "benchmarks_table", "placements", "completion_placements", "program_benchmarks",
           "HORIZONS"]

ALL_LABEL = "All episodes"
HORIZONS = (30, 90, 180, 365)
_cache = st.cache_data(show_spinner=False, max_entries=128, scope="session")
_OVERALL_COLS = ("admission_date", "discharge_date", "discharge_reason", "in_treatment", "transferred", "completed", "los_days",
                 "time_admission_days", "event_admission", "time_discharge_days", "event_discharge")


def overall(cohort: pd.DataFrame) -> pd.DataFrame:
    """A narrow copy of the cohort with one constant group column ``program`` (for whole-program figures)."""
    cols = [c for c in _OVERALL_COLS if c in cohort.columns]
    out = cohort[cols].copy()
    out["program"] = pd.Categorical(np.full(len(out), ALL_LABEL), categories=[ALL_LABEL])
    out.attrs = dict(cohort.attrs)
    return out


@_cache
def completion(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return retention.completion_rates(_cohort, by=by)


@_cache
def reason_mix(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return retention.discharge_reason_mix(_cohort, by=by)


@_cache
def los(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return retention.length_of_stay(_cohort, by=by)


@_cache
def retention_km(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return retention.retention_curve(_cohort, by=by)


@_cache
def retention_points(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return survival.survival_at(retention.retention_curve(_cohort, by=by), (30, 60, 90)).rename(
        columns={"survival": "retained"})


@_cache
def engagement(key: str, _cohort: pd.DataFrame, by: str) -> pd.DataFrame:
    return retention.engagement(_cohort, by=by)


@_cache
def _step_downs(key: str, _cohort: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return retention.step_downs(_cohort)


def step_flows(key: str, _cohort: pd.DataFrame) -> pd.DataFrame:
    return _step_downs(key, _cohort)[1]


def step_rates(key: str, _cohort: pd.DataFrame) -> pd.DataFrame:
    return _step_downs(key, _cohort)[0]


@_cache
def relapse_rates(key: str, _cohort: pd.DataFrame, by: str, origin: str,
                  horizons: Sequence[int] = HORIZONS) -> pd.DataFrame:
    return relapse.relapse_rates(_cohort, by=by, origin=origin, horizons=horizons)


@_cache
def relapse_vs(key: str, _cohort: pd.DataFrame, by: str, origin: str, reference: str,
               horizon: int) -> pd.DataFrame:
    rates = relapse.relapse_rates(_cohort, by=by, origin=origin, horizons=HORIZONS)
    return relapse.relapse_comparison(rates, reference, horizon_days=horizon)


def _surv_data(cohort: pd.DataFrame, by: str, origin: str, groups: Sequence | None = None) -> pd.DataFrame:
    return relapse.relapse_survival_data(cohort, by=by, origin=origin, groups=groups)


@_cache
def km(key: str, _cohort: pd.DataFrame, by: str, origin: str) -> pd.DataFrame:
    data = _surv_data(_cohort, by, origin)
    if data.empty:
        raise ValueError(f"No episodes with follow-up from {origin} match these filters.")
    return survival.km_by_group(data, time_col="time", event_col="event", group_col="group")


@_cache
def at_risk(key: str, _cohort: pd.DataFrame, by: str, origin: str, days: tuple[int, ...]) -> pd.DataFrame:
    return survival.at_risk_table(km(key, _cohort, by, origin), list(days))


@_cache
def medians(key: str, _cohort: pd.DataFrame, by: str, origin: str) -> pd.DataFrame:
    return survival.median_survival(km(key, _cohort, by, origin))


@_cache
def logrank_tests(key: str, _cohort: pd.DataFrame, by: str, origin: str):
    data = _surv_data(_cohort, by, origin)
    if data["group"].nunique() < 2:
        return None, pd.DataFrame()
    glob = survival.logrank(data, time_col="time", event_col="event", group_col="group")
    pairs = survival.pairwise_logrank(data, time_col="time", event_col="event", group_col="group")
    return glob, pairs


@_cache
def rmst(key: str, _cohort: pd.DataFrame, by: str, origin: str, tau: float) -> pd.DataFrame:
    return survival.rmst_by_group(km(key, _cohort, by, origin), tau=tau)


@_cache
def cif(key: str, _cohort: pd.DataFrame, by: str, origin: str) -> pd.DataFrame:
    data = _surv_data(_cohort, by, origin)
    return survival.cumulative_incidence(data, time_col="time", event_col="event", group_col="group")


@_cache
def cox(key: str, _cohort: pd.DataFrame, by: str, origin: str, groups: tuple, covariates: tuple) -> CoxResult:
    time_col, event_col = survival_columns(origin)
    cols = list(dict.fromkeys([time_col, event_col, by, *covariates]))
    rows = _cohort.loc[_cohort[time_col].notna(), cols]  # narrow: the wide cohort is slow to copy
    return fit_cox(rows, time_col=time_col, event_col=event_col, group_col=by, reference=groups[0],
                   covariates=list(covariates), groups=list(groups))


@_cache
def balance(key: str, _cohort: pd.DataFrame, by: str, groups: tuple, covariates: tuple) -> pd.DataFrame:
    return casemix.standardized_differences(_cohort, by=by, groups=list(groups), covariates=list(covariates))


@st.cache_data(show_spinner=False, scope="session")
def benchmarks_table(extra: bytes | None = None) -> pd.DataFrame:
    return bm.load_benchmarks(extra)


@_cache
def program_benchmarks(key: str, _cohort: pd.DataFrame, by: str, extra: bytes | None = None) -> pd.DataFrame:
    """Placements against the registry plus an organisation's own targets (CSV bytes, kept in memory)."""
    return report.program_benchmarks(_cohort, by=by, extra_benchmarks=extra)


def placements(estimates: pd.DataFrame) -> pd.DataFrame:
    """Estimates placed against the packaged benchmark bands (cheap; not cached)."""
    return bm.place_against_benchmarks(estimates, benchmarks_table())


def completion_placements(comp: pd.DataFrame, by: str) -> pd.DataFrame:
    """Completion over all discharges (TEDS convention) per level against the TEDS 2004 band of that
    level; empty unless grouping by level of care (those bands are stated per type of service)."""
    if by != "level_of_care":
        return pd.DataFrame(columns=["group", "benchmark_id", "benchmark_low", "benchmark_high", "placement"])
    est = pd.DataFrame({"metric": "discharge_reason_completed", "unit": "discharge",
                        "level_of_care": comp["group"].astype(str), "group": comp["group"].astype(object),
                        "estimate": comp["completion_rate_all"].to_numpy(),
                        "lower": comp["all_ci_lower"].to_numpy(), "upper": comp["all_ci_upper"].to_numpy()})
    pl = placements(est)
    return pl[pl["benchmark_level_of_care"].astype(str) != ""]


# ---------------------------------------------------------------------------------------------
# small-cell suppression of the tables above (display and export; analysis.suppression rules)
# ---------------------------------------------------------------------------------------------
def sup_completion(comp: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Completion table with counts 1..min_cell-1 hidden and the rates built on them."""
    comp = comp.assign(n_basis=comp["n_discharged"] - comp["n_transferred"])
    rates = {"completion_rate": "n_completed", "ci_lower": "n_completed", "ci_upper": "n_completed",
             "completion_rate_all": "n_completed", "all_ci_lower": "n_completed", "all_ci_upper": "n_completed",
             "transfer_share": "n_transferred"}
    out = suppress.suppress_counts(comp, ["n_episodes", "n_in_treatment", "n_discharged", "n_transferred",
                                          "n_completed", "n_basis"], min_cell=min_cell, rate_cols=rates,
                                   basis_col="n_basis")
    return out


def sup_relapse(rates: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Relapse-by-horizon table: people, reached and relapsed counts hidden when small, with their rates."""
    rate_cols = {c: "n_relapsed" for c in ("km_relapse", "km_lower", "km_upper", "naive_rate", "naive_lower",
                                           "naive_upper", "bound_none_relapsed", "bound_all_relapsed",
                                           "lost_as_relapse_lower", "lost_as_relapse_upper", "estimate", "lower",
                                           "upper")}
    rate_cols["reach"] = "n_reached"
    return suppress.suppress_counts(rates, ["n", "n_at_risk", "n_eligible", "n_relapsed", "n_reached"],
                                    min_cell=min_cell, rate_cols=rate_cols, basis_col="n")


def sup_mix(mix: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Discharge-reason mix with complementary suppression within each group (counts add to the total)."""
    return suppress.suppress_complementary(mix, ["n"], total_col="n_discharged", group_cols=["group"],
                                           min_cell=min_cell,
                                           rate_cols={"share": "n", "ci_lower": "n", "ci_upper": "n"})
