"""analysis.counts: the publication and the outcomes report from an engine's GROUP BY queries equal the same
computations on the pandas cohort's rows (to 1e-12), and no row leaves the engine on the way."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_parity import TODAY, assert_same, pandas_cohort, raw_frames

from analysis.counts import COUNT, FrameCounts, survival_rows
from analysis.disclosure import Publication
from analysis.disclosure.raw import compute_raw
from analysis.engine.engine import Engine
from analysis.filters import FilterSpec, apply_filters
from analysis.report import benchmark_estimates, outcomes_report
from analysis.trends import quarterly_trends, quarterly_trends_from_counts

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(scope="module")
def cohort():
    return pandas_cohort(SAMPLE)


@pytest.fixture(scope="module")
def engine():
    with Engine.open(SAMPLE, today=TODAY) as e:
        yield e


@pytest.fixture()
def rows_never_fetched(engine, monkeypatch):
    """Engine.frame (the only way rows leave the engine, besides a preview) raises."""
    def refuse(*args, **kwargs):
        raise AssertionError("rows were fetched from the engine")
    monkeypatch.setattr(engine, "frame", refuse)
    return engine


def _same_raw(a, b) -> None:
    fa, fb = raw_frames(a), raw_frames(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        x, y = fa[key], fb[key]
        if key[0] == "survival_data":  # rows (n = 1) against collapsed rows: the same episodes per cell
            x, y = (f.groupby(["group", "time", "event"], observed=True)["n"].sum().reset_index() for f in (x, y))
        assert_same(x, y)


@pytest.mark.parametrize("by", ["level_of_care", "site"])
def test_publication_inputs_from_engine_equal_rows(cohort, rows_never_fetched, by):
    rows = compute_raw(cohort, by)
    sql = compute_raw(rows_never_fetched.counts(), by)
    _same_raw(rows, sql)
    assert rows.n_episodes == sql.n_episodes == len(cohort) == 5000
    assert len(rows.trends) == 3 if by == "site" else 2  # program, level (and site) by quarter
    assert set(rows.casemix[("level_of_care", "discharge")]["variable"]) >= {"sex", "payer", "primary_substance"}


@pytest.mark.parametrize("spec", [FilterSpec(levels=("iop", "residential")),
                                  FilterSpec(sexes=("female",), admission_from="2023-01-01")])
def test_filtered_publication_from_engine_equals_rows(cohort, rows_never_fetched, spec):
    a = Publication.build(apply_filters(cohort, spec), by="level_of_care")
    b = Publication.build(rows_never_fetched.counts(spec), by="level_of_care")
    _same_raw(a.raw, b.raw)
    assert a.plan.status == b.plan.status  # the same cells suppressed


@pytest.mark.parametrize("spec", [FilterSpec(levels=("iop", "residential", "op"), sexes=("female",)),
                                  FilterSpec(sites=("North Clinic",), admission_from="2023-03-01",
                                             admission_to="2025-06-30", co_occurring=True)])
def test_neighbours_inside_the_engine_protect_as_the_rows_do(cohort, rows_never_fetched, spec):
    from analysis.disclosure.neighbours import engine_wider_settings, wider_settings

    rows_nb = wider_settings(cohort, spec)
    sql_nb = engine_wider_settings(rows_never_fetched, spec)
    assert [n.label for n in rows_nb] == [n.label for n in sql_nb] and len(rows_nb) >= 5
    assert [len(n.added) for n in rows_nb] == [n.added.n_episodes for n in sql_nb]
    a = Publication.build(apply_filters(cohort, spec), by="level_of_care", neighbours=rows_nb)
    b = Publication.build(rows_never_fetched.counts(spec), by="level_of_care", neighbours=sql_nb)
    for x, y in zip(a.neighbour_raw, b.neighbour_raw, strict=True):
        _same_raw(x, y)
    assert a.plan.status == b.plan.status
    assert sum(v != "shown" for v in a.plan.status.values()) > 0  # the neighbours hide something


def test_outcomes_report_and_json_from_engine_equal_rows(cohort, rows_never_fetched):
    adjust = ["sex", "payer"]
    a = outcomes_report(cohort, adjust=adjust)
    b = outcomes_report(rows_never_fetched.counts(), adjust=adjust)
    for x, y in ((a.km, b.km), (a.relapse, b.relapse), (a.completion, b.completion), (a.rmst, b.rmst),
                 (a.cox.terms, b.cox.terms), (a.cox.ph_test, b.cox.ph_test), (a.benchmarks, b.benchmarks)):
        assert_same(x, y)
    assert a.n_used == b.n_used and a.n_episodes == b.n_episodes == 5000
    assert a.cox.concordance == pytest.approx(b.cox.concordance, abs=1e-12)
    _same_json(a.to_dict(), b.to_dict())


def _same_json(a, b, path="$"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _same_json(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_json(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_frame_counts_hand_back_rows_and_engine_counts_group_them():
    cohort = pd.DataFrame({"level_of_care": pd.Categorical(["iop", "iop", "op", "iop", "op"]),
                           "time_discharge_days": [10.0, 10.0, 5.0, np.nan, 5.0],
                           "event_discharge": [1.0, 1.0, 0.0, np.nan, 0.0]})
    cohort.attrs["shape"] = "durations"
    rows = FrameCounts(cohort).collapse(["level_of_care", "time_discharge_days", "event_discharge", "absent"])
    assert list(rows.columns) == ["level_of_care", "time_discharge_days", "event_discharge", COUNT]
    assert rows[COUNT].tolist() == [1, 1, 1, 1, 1]
    with Engine.from_cohort(cohort) as engine:
        grouped = engine.counts().collapse(["level_of_care", "time_discharge_days", "event_discharge"])
        grouped = grouped.sort_values(["level_of_care", "time_discharge_days"]).reset_index(drop=True)
        assert grouped[COUNT].tolist() == [2, 1, 2]  # iop at 10 days twice, iop not followed, op at 5 twice
        followed = engine.counts().collapse(["level_of_care"], nonnull="time_discharge_days")
        assert dict(zip(followed["level_of_care"].astype(str), followed[COUNT], strict=True)) == {"iop": 2, "op": 2}
        data = survival_rows(engine.counts(), "level_of_care", "discharge")
        assert int(data[COUNT].sum()) == 4 and set(data["event"]) == {0, 1}


def test_quarterly_trends_from_collapsed_quarters_equal_rows(cohort):
    rows = quarterly_trends(cohort, include_all=False)
    collapsed = {}
    for name, cols in (("completion", ["in_treatment", "transferred", "completed"]),
                       ("relapse", ["time_discharge_days", "event_discharge"]),
                       ("median_stay", ["los_days", "in_treatment"])):
        f = cohort.assign(discharge_date=cohort["discharge_date"].dt.to_period("Q").dt.start_time)
        f = f.groupby(["level_of_care", "discharge_date", *cols], observed=True, dropna=False).size()
        collapsed[name] = f.rename(COUNT).reset_index()
        collapsed[name].attrs = {**cohort.attrs, "as_of": rows.as_of}
    counted = quarterly_trends_from_counts(collapsed, include_all=False, count_col=COUNT)
    assert_same(rows.table, counted.table)
    assert rows.latest_complete == counted.latest_complete
    assert len(rows.table) > 100


def test_benchmark_estimates_of_a_subset_of_groups(cohort):
    both = benchmark_estimates(cohort, groups=["iop", "residential"])
    sub = cohort[cohort["level_of_care"].isin(["iop", "residential"])]
    assert_same(both, benchmark_estimates(sub))
    rel = both[(both["group"] == "all") & (both["metric"] == "relapse") & both["horizon_days"].notna()]
    assert int(rel["n"].iloc[0]) == int(sub["time_discharge_days"].notna().sum())


@pytest.mark.parametrize(("by", "groups"), [("level_of_care", ["iop", "residential"]), ("site", ["North Clinic"]),
                                            ("co_occurring", [True]), ("prior_treatments", [0, "2"])])
def test_rows_of_two_groups_from_engine_equal_the_pandas_rows(cohort, engine, by, groups):
    """A comparison takes only its groups' rows: the engine's (matched on the text of the column's values) are
    the pandas cohort's rows of those groups, in file order, in the pandas dtypes."""
    cols = [by, "time_discharge_days", "event_discharge", "age", "client_id"]
    mine = engine.counts().rows_of(cols, by, groups)
    theirs = FrameCounts(cohort).rows_of(cols, by, groups)
    assert len(mine) == len(theirs) > 0
    assert len(theirs) < len(cohort)
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True), check_categorical=False)
    none = engine.counts().rows_of(cols, by, ["no such group"])
    assert len(none) == 0 and list(none.columns) == cols
