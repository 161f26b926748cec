"""Frequency counts: collapsed rows (GROUP BY the needed columns, with a count) give the row-level results.

Every statistic that takes a cohort frame is called twice, on the rows and on the rows collapsed by
pandas ``groupby(...).size()`` (an independent collapse: the engine's SQL collapse is tested against
these functions in tests/test_engine.py), and the two results must agree to 1e-12.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.casemix import standardized_differences
from analysis.cohort import derive_cohort
from analysis.engagement import engagement
from analysis.loading import load_episodes
from analysis.relapse import due_days, due_days_floor, relapse_rates
from analysis.retention import (
    completion_rates,
    discharge_reason_mix,
    frequency_counts,
    grouped_quantiles,
    length_of_stay,
    retention_at,
    retention_curve,
    step_downs,
    step_downs_from_transitions,
    weighted_quantiles,
)
from analysis.synthetic import generate_episodes
from analysis.validation import validate_episodes

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv"
TOL = 1e-12


def collapse(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Distinct rows of ``columns`` with how many episodes each stands for (``n``), missing values kept."""
    out = frame.groupby(columns, dropna=False, observed=True, sort=False).size().rename("n").reset_index()
    for col in columns:  # groupby turns a categorical key back into its dtype; keep the others' dtypes too
        out[col] = out[col].astype(frame[col].dtype)
    out.attrs = dict(frame.attrs)
    return out


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False,
                                  rtol=TOL, atol=TOL, check_dtype=False, check_categorical=False)
    assert len(a) == len(b)


@pytest.fixture(scope="module")
def sample_cohort() -> pd.DataFrame:
    result = load_episodes(SAMPLE, today="2026-12-01")
    return derive_cohort(result.episodes)


@pytest.fixture(scope="module")
def small_cohort() -> pd.DataFrame:
    """300 synthetic episodes, a third of them twice (so every analysis collapses some rows):
    small groups, ties and in-treatment rows."""
    raw = generate_episodes(300, seed=7)
    raw.attrs = {}
    episodes, _ = validate_episodes(raw.astype({c: object for c in raw.columns if raw[c].dtype != object}),
                                    today="2026-12-01")
    cohort = derive_cohort(episodes)
    twice = pd.concat([cohort, cohort.iloc[::3]], ignore_index=True)
    twice.attrs = dict(cohort.attrs)
    return twice


# --------------------------------------------------------------------------- weighted quantiles
@pytest.mark.parametrize("values,counts", [
    ([5.0], [1]),
    ([5.0], [7]),
    ([1.0, 2.0], [1, 1]),
    ([3.0, 1.0, 2.0], [2, 5, 1]),
    ([1.0, 1.0, 4.0, 4.0], [3, 0, 2, 1]),
    ([0.0, 10.0], [1, 1000]),
    ([2.5, np.nan, 7.0, -1.0], [4, 3, 1, 2]),
])
def test_weighted_quantiles_equal_numpy_on_expanded_rows(values, counts):
    qs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1 / 3]
    expanded = np.repeat(np.array(values), counts)
    expanded = expanded[~np.isnan(expanded)]
    got = weighted_quantiles(values, counts, qs)
    np.testing.assert_array_equal(got, np.quantile(expanded, qs))  # bit for bit: numpy's own interpolation


def test_weighted_quantiles_random_equal_numpy():
    rng = np.random.default_rng(3)
    for _ in range(200):
        k = int(rng.integers(1, 30))
        values = rng.integers(0, 20, k).astype(float) + rng.choice([0.0, 0.5], k)
        counts = rng.integers(0, 6, k)
        if counts.sum() == 0:
            counts[0] = 1
        qs = rng.random(5)
        np.testing.assert_allclose(weighted_quantiles(values, counts, qs),
                                   np.quantile(np.repeat(values, counts), qs), rtol=TOL, atol=0)


def test_weighted_quantiles_empty_is_nan():
    assert np.isnan(weighted_quantiles([np.nan, 3.0], [2, 0], [0.5])).all()


def test_grouped_quantiles_with_counts():
    groups = pd.Series(pd.Categorical(["a", "b", "a", "a"], categories=["a", "b", "c"]))
    q = grouped_quantiles(pd.Series([1.0, 9.0, 2.0, 4.0]), groups, (0.5,), np.array([1, 2, 3, 1]))
    assert q.loc["a", 0.5] == 2.0  # 1, 2, 2, 2, 4
    assert q.loc["b", 0.5] == 9.0
    assert np.isnan(q.loc["c", 0.5])


@pytest.mark.parametrize("bad", [[1, -1], [1, 0.5], [1, np.nan], [1, np.inf], ["1", "x"]])
def test_count_column_must_hold_whole_numbers(bad):
    frame = pd.DataFrame({"n": bad})
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        frequency_counts(frame, "n")
    with pytest.raises(ValueError, match="not in the data"):
        frequency_counts(frame, "count")


# --------------------------------------------------------------------------- retention
RETENTION_COLUMNS = {
    completion_rates: ["in_treatment", "transferred", "completed"],
    discharge_reason_mix: ["in_treatment", "discharge_reason"],
    length_of_stay: ["los_days", "in_treatment"],
    retention_curve: ["los_days", "in_treatment"],
    retention_at: ["los_days", "in_treatment"],
    engagement: ["los_days", "hours_scheduled", "hours_attended", "level_of_care"],
}


@pytest.mark.parametrize("func", list(RETENTION_COLUMNS), ids=lambda f: f.__name__)
@pytest.mark.parametrize("by", ["level_of_care", "site", "sex"])
@pytest.mark.parametrize("cohort_name", ["sample_cohort", "small_cohort"])
def test_retention_collapsed_equals_rows(func, by, cohort_name, request):
    cohort = request.getfixturevalue(cohort_name)
    cols = list(dict.fromkeys([by, *RETENTION_COLUMNS[func]]))
    small = collapse(cohort, cols)
    assert len(small) < len(cohort)
    assert_same(func(cohort, by=by), func(small, by=by, count_col="n"))


def test_length_of_stay_collapsed_hand_worked():
    # group a: stays 10 x3, 20 x1 (+ one still in treatment); group b: 5 x2
    small = pd.DataFrame({"g": ["a", "a", "a", "b"], "los_days": [10.0, 20.0, 3.0, 5.0],
                          "in_treatment": [False, False, True, False], "n": [3, 1, 1, 2]})
    los = length_of_stay(small, by="g", count_col="n").set_index("group")
    assert los.loc["a", "n_discharged"] == 4 and los.loc["a", "n_in_treatment"] == 1
    assert los.loc["a", "median_days"] == 10.0 and los.loc["a", "q3_days"] == 12.5  # 10, 10, 10, 20
    assert los.loc["a", "mean_days"] == pytest.approx(12.5)
    assert los.loc["b", "median_days"] == 5.0


def test_zero_counts_are_ignored(sample_cohort):
    cols = ["level_of_care", "los_days", "in_treatment"]
    small = collapse(sample_cohort, cols)
    ghost = small.head(5).assign(n=0, los_days=10_000.0)
    padded = pd.concat([small, ghost], ignore_index=True)
    assert_same(length_of_stay(sample_cohort), length_of_stay(padded, count_col="n"))
    assert_same(retention_at(sample_cohort), retention_at(padded, count_col="n"))


def test_group_with_only_in_treatment_episodes(small_cohort):
    cohort = small_cohort.copy()
    cohort["arm"] = np.where(cohort["in_treatment"], "open", cohort["level_of_care"].astype(str))
    small = collapse(cohort, ["arm", "los_days", "in_treatment", "transferred", "completed"])
    for func in (completion_rates, length_of_stay, retention_at):
        assert_same(func(cohort, by="arm"), func(small, by="arm", count_col="n"))


# --------------------------------------------------------------------------- step-downs
def _transitions(cohort: pd.DataFrame, window_days: float = 30) -> pd.DataFrame:
    """Counted transitions by sort and shift (independent of retention._next_episodes)."""
    c = cohort[cohort["client_id"].notna()].copy()
    c["row"] = np.arange(len(c))
    c = c.sort_values(["client_id", "admission_date", "row"], kind="stable")
    nxt_client = c["client_id"].shift(-1)
    gap = (c["admission_date"].shift(-1) - c["discharge_date"]).dt.days
    within = (nxt_client == c["client_id"]) & ~c["in_treatment"] & (gap >= 0) & (gap <= window_days)
    c["next_level"] = c["level_of_care"].astype(object).shift(-1).where(within)
    c["discharged"] = ~c["in_treatment"]
    return collapse(c, ["level_of_care", "next_level", "discharged"])


@pytest.mark.parametrize("cohort_name", ["sample_cohort", "small_cohort"])
def test_step_downs_from_transitions_equal_rows(cohort_name, request):
    cohort = request.getfixturevalue(cohort_name)
    rates, flows = step_downs(cohort)
    got_rates, got_flows = step_downs_from_transitions(_transitions(cohort))
    assert_same(rates, got_rates)
    assert_same(flows, got_flows)
    assert rates["n_step_down"].sum() > 0


# --------------------------------------------------------------------------- relapse
@pytest.mark.parametrize("origin", ["discharge", "admission"])
@pytest.mark.parametrize("by", ["level_of_care", "site"])
@pytest.mark.parametrize("cohort_name", ["sample_cohort", "small_cohort"])
def test_relapse_rates_collapsed_equals_rows(origin, by, cohort_name, request):
    cohort = request.getfixturevalue(cohort_name)
    horizons = (30, 90, 180, 365)
    time_col, event_col = f"time_{origin}_days", f"event_{origin}"
    frame = cohort[[by, time_col, event_col]].copy()
    frame["due"] = due_days_floor(due_days(cohort, origin), horizons)
    small = collapse(frame, [by, time_col, event_col, "due"])
    assert len(small) < len(cohort)
    for convention in ("censor", "lost_as_relapse"):
        rows = relapse_rates(cohort, by=by, origin=origin, horizons=horizons, convention=convention)
        got = relapse_rates(small, by=by, origin=origin, horizons=horizons, convention=convention,
                            count_col="n", due_days_col="due")
        assert_same(rows, got)
    assert rows["n_eligible"].lt(rows["n"]).any()  # the eligibility rule is exercised


def test_due_days_floor_keeps_eligibility():
    due = np.array([0.0, 29.0, 30.0, 89.5, 90.0, 400.0, np.nan])
    floored = due_days_floor(due, (90, 30, 365))
    np.testing.assert_array_equal(floored, [0.0, 0.0, 30.0, 30.0, 90.0, 365.0, np.nan])
    for h in (30, 90, 365):
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(due >= h, floored >= h)


def test_relapse_rates_duration_file_collapsed():
    raw = generate_episodes(400, seed=5, shape="durations")
    raw.attrs = {}
    episodes, _ = validate_episodes(raw.astype(object), today="2026-12-01")
    cohort = derive_cohort(episodes)
    assert due_days(cohort, "admission") is None  # no dates: everyone is eligible
    small = collapse(cohort, ["level_of_care", "time_admission_days", "event_admission"])
    assert_same(relapse_rates(cohort, origin="admission"),
                relapse_rates(small, origin="admission", count_col="n"))


# --------------------------------------------------------------------------- case mix
@pytest.mark.parametrize("cohort_name", ["sample_cohort", "small_cohort"])
def test_standardized_differences_collapsed_equals_rows(cohort_name, request):
    cohort = request.getfixturevalue(cohort_name)
    covariates = ["age", "sex", "primary_substance", "co_occurring", "prior_treatments", "payer"]
    rows = standardized_differences(cohort, groups=["iop", "residential"], covariates=covariates)
    for cov in covariates:
        small = collapse(cohort, ["level_of_care", cov])
        got = standardized_differences(small, groups=["iop", "residential"], covariates=[cov], count_col="n")
        assert_same(rows[rows["variable"] == cov], got)


def test_standardized_difference_hand_worked_with_counts():
    # group a: ages 20 x2, 40 x2 (mean 30, sample variance 400/3); group b: 35 x4 (variance 0)
    small = pd.DataFrame({"g": ["a", "a", "b"], "age": [20.0, 40.0, 35.0], "n": [2, 2, 4]})
    out = standardized_differences(small, by="g", groups=["a", "b"], covariates=["age"], count_col="n")
    row = out.iloc[0]
    assert (row["n_a"], row["n_b"]) == (4, 4)
    assert (row["value_a"], row["value_b"]) == (30.0, 35.0)
    assert row["smd"] == pytest.approx(-5 / np.sqrt((400 / 3) / 2), rel=1e-12)
