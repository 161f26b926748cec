"""Shared checks: an :class:`analysis.engine.Engine` gives the pandas path's numbers (used by the DuckDB
and the PostgreSQL tests). Every comparison is to 1e-12."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.casemix import standardized_differences
from analysis.cohort import derive_cohort
from analysis.engagement import engagement
from analysis.filters import FilterSpec, apply_filters
from analysis.loading import load_episodes
from analysis.relapse import relapse_rates
from analysis.retention import (
    completion_rates,
    discharge_reason_mix,
    length_of_stay,
    retention_at,
    step_downs,
    step_downs_from_transitions,
)
from analysis.survival import cumulative_incidence, km_by_group, logrank, pairwise_logrank, rmst_by_group

TOL = 1e-12
TODAY = "2026-12-01"


def pandas_cohort(path, **kwargs) -> pd.DataFrame:
    result = load_episodes(path, today=TODAY, max_bytes=2_000_000_000, **kwargs)
    assert result.ok, result.report.fatal
    return derive_cohort(result.episodes)


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False,
                                  rtol=TOL, atol=TOL, check_dtype=False, check_categorical=False)


def assert_same_cohort(cohort: pd.DataFrame, engine) -> None:
    """Every cohort column of the engine's rows equals the pandas cohort's (file order)."""
    rows = engine.preview(limit=len(cohort) + 1)
    assert len(rows) == len(cohort)
    if not engine.source.has_row_numbers:  # a warehouse table has no row order: compare by episode id
        cohort = cohort.sort_values("episode_id", kind="stable")
        rows = rows.sort_values("episode_id", kind="stable")
    for col in cohort.columns:
        a, b = cohort[col].reset_index(drop=True), rows[col]
        if isinstance(a.dtype, pd.CategoricalDtype) or a.dtype == object:
            a, b = a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
        pd.testing.assert_series_equal(a, b, check_dtype=False, check_names=False, rtol=TOL, obj=col)


def assert_same_outcomes(cohort: pd.DataFrame, engine, *, by: str = "level_of_care",
                         spec: FilterSpec | None = None, covariates=("age", "sex", "co_occurring")) -> None:
    """Collapsed engine queries fed to the statistics equal the statistics on the pandas rows."""
    rows = cohort if spec is None else apply_filters(cohort, spec)
    assert engine.count(spec) == len(rows)
    for origin in ("discharge", "admission"):
        t, e = f"time_{origin}_days", f"event_{origin}"
        small = engine.collapse([by, t, e], spec)
        small = small[small[t].notna()]
        args = dict(time_col=t, event_col=e, group_col=by)
        km_rows = km_by_group(rows, **args)
        km = km_by_group(small, **args, weight_col="n")
        assert_same(km_rows, km)
        assert_same(rmst_by_group(km_rows), rmst_by_group(km))
        lr_rows, lr = logrank(rows, **args), logrank(small, **args, weight_col="n")
        assert abs(lr_rows.statistic - lr.statistic) <= TOL * max(1.0, lr_rows.statistic)
        assert_same(lr_rows.table, lr.table)
        assert_same(pairwise_logrank(rows, **args), pairwise_logrank(small, **args, weight_col="n"))
        assert_same(cumulative_incidence(rows, **args), cumulative_incidence(small, **args, weight_col="n"))
        horizons = (30, 90, 180, 365)
        assert_same(relapse_rates(rows, by=by, origin=origin, horizons=horizons),
                    relapse_rates(engine.relapse_counts(by, origin, horizons, spec), by=by, origin=origin,
                                  horizons=horizons, count_col="n",
                                  due_days_col="due" if engine.shape == "dates" else None))
    checks = {completion_rates: ["in_treatment", "transferred", "completed"],
              discharge_reason_mix: ["in_treatment", "discharge_reason"],
              length_of_stay: ["los_days", "in_treatment"], retention_at: ["los_days", "in_treatment"],
              engagement: ["los_days", "hours_scheduled", "hours_attended", "level_of_care"]}
    for func, cols in checks.items():
        cols = [c for c in dict.fromkeys([by, *cols]) if c in engine.columns]
        assert_same(func(rows, by=by), func(engine.collapse(cols, spec), by=by, count_col="n"))
    groups = [g for g in ("iop", "residential") if g in set(rows["level_of_care"].astype(object))]
    if len(groups) == 2:
        for cov in covariates:
            assert_same(standardized_differences(rows, groups=groups, covariates=[cov]),
                        standardized_differences(engine.collapse(["level_of_care", cov], spec), groups=groups,
                                                 covariates=[cov], count_col="n"))
    if "client_id" in rows.columns and engine.shape == "dates":
        got = step_downs_from_transitions(engine.transitions(30, spec))
        for want, have in zip(step_downs(rows), got, strict=True):
            assert_same(want, have)


def messy_csv() -> bytes:
    """Episodes with one or more problems of every kind, and a few clean rows."""
    rows = [
        "episode_id,client_id,level_of_care,admission_date,discharge_date,discharge_reason,relapse_date,"
        "last_contact_date,death_date,age,sex,co_occurring,prior_treatments,hours_attended,hours_scheduled,site",
        "E1,C1,IOP,2023-01-05,2023-03-01,Completed,,2023-09-01,,34,female,yes,1,40,50,North",
        "E2,C1,Outpatient,2023-03-10,2023-06-01,completed,2023-08-01,2023-08-01,,35,female,yes,2,20,24,North",
        "E3,C2,Residential,2023-02-30,2023-03-01,dropped out,,,,41,male,no,0,100,120,South",
        "E4,C3,residential,2023-04-01,2023-03-01,AMA,,,,41,male,no,0,100,120,South",
        "E5,C4,Hogwarts,2023-04-01,2023-05-01,Completed,,2023-07-01,,29,male,maybe,1,10,12,South",
        "E6,C5,iop,2099-01-01,,,,,,52,female,no,1,,,North",
        "E7,C6,php,1900-01-01,1900-02-01,completed,,,,45,female,no,3,30,35,North",
        "E1,C7,op,2023-05-01,2023-07-01,completed,,2023-10-01,,60,male,no,x,5,6,South",
        "E9,C8,op,2023-05-01,,completed,2023-04-01,,,130,male,no,-2,9,6,South",
        "E10,C9,,2023-06-01,2023-06-20,Graduated with honours,,2023-12-01,,5,female,no,1,-3,10,North",
        "E11,C10,detox,2023-06-10,2023-06-15,died,,,2023-06-01,38,male,no,0,20,20,South",
        "E12,C11,detox,  2023-06-11 ,2023-06-16,transferred,,NA,,N/A,male,NULL,0,20,20,South",
        "E13,C12,residential,06/12/2023,07/12/2023,completed,,2024-01-05,,33,female,no,0,200,210,North",
        "E14,C12,iop,2023-07-15,2023-10-01,completed,,2024-02-01,,33,female,no,1,100,110,North",
    ]
    return ("\n".join(rows) + "\n").encode()


def assert_same_report(raw: bytes | str, engine, **kwargs) -> None:
    """Rule counts, excluded rows and the first problem rows equal the pandas ValidationReport's."""
    result = load_episodes(raw, name="messy.csv", today=TODAY, **kwargs)
    report = result.report
    want = report.problems_by_column().sort_values(["column", "rule"]).reset_index(drop=True)
    got = engine.rule_counts().sort_values(["column", "rule"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(want[["column", "rule", "severity", "rows"]].astype({"rows": "int64"}),
                                  got[["column", "rule", "severity", "rows"]], check_dtype=False)
    assert got.attrs["n_rows"] == report.n_rows_read
    assert got.attrs["n_excluded"] == report.n_rows_excluded
    want_rows = report.problems[["row", "column", "value", "rule", "severity"]]
    got_rows = engine.problems(limit=len(want_rows) + 5)[["row", "column", "value", "rule", "severity"]]
    key = ["row", "column", "rule"]
    pd.testing.assert_frame_equal(want_rows.sort_values(key).reset_index(drop=True).astype({"row": "int64"}),
                                  got_rows.sort_values(key).reset_index(drop=True), check_dtype=False)
    assert np.array_equal(engine.problems(limit=3)["row"].to_numpy(), np.sort(want_rows["row"].to_numpy())[:3])
    if engine.source.has_row_numbers:  # the whole report object, as the pandas path builds it
        got_report = engine.validation_report()
        assert (got_report.n_rows_read, got_report.n_rows_accepted, got_report.n_rows_excluded) == \
            (report.n_rows_read, report.n_rows_accepted, report.n_rows_excluded)
        assert np.array_equal(got_report.excluded_index, report.excluded_index)
        key = ["row", "column", "rule"]
        pd.testing.assert_frame_equal(report.problems.sort_values(key).reset_index(drop=True),
                                      got_report.problems.sort_values(key).reset_index(drop=True), check_dtype=False)
        pd.testing.assert_frame_equal(report.excluded_by_reason(), got_report.excluded_by_reason(), check_dtype=False)
        pd.testing.assert_frame_equal(report.unknown_labels.reset_index(drop=True),
                                      got_report.unknown_labels, check_dtype=False)
        assert got_report.notes == report.notes and got_report.shape == report.shape


def raw_frames(raw) -> dict:
    """Every frame of a :class:`analysis.disclosure.raw.RawResults`, by (part, key)."""
    out = {}
    for name in ("sizes", "completion", "mix", "los", "los_over", "engagement", "km", "relapse", "retention_km",
                 "casemix", "survival_data"):
        for key, frame in getattr(raw, name).items():
            out[(name, key)] = frame
    for key, tr in raw.trends.items():
        out[("trends", key)] = tr.table
    out[("step_rates",)] = raw.step_rates
    out[("step_flows",)] = raw.step_flows
    return out
