"""A level-filtered cohort's levels-of-care scope read off the whole cohort's raw results
(analysis.disclosure.level_scope): every frame equals the cohort's own computation, to the bit, for every set of
levels as a view and as the episodes a wider setting adds (every level but those, and those without a level)."""
from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from engine_parity import TODAY, raw_frames

from analysis.counts import EngineCounts
from analysis.disclosure.raw import compute_raw
from analysis.engine.engine import Engine
from analysis.filters import FilterSpec

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(scope="module")
def engine():
    with Engine.open(SAMPLE, today=TODAY) as e:
        yield e


def _levels(engine) -> list[str]:
    return [str(v) for v in engine.counts().collapse(["level_of_care"])["level_of_care"].dropna()]


def _assert_same(a, b) -> None:
    fa, fb = raw_frames(a), raw_frames(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if fa[key] is None and fb[key] is None:
            continue
        pd.testing.assert_frame_equal(fa[key], fb[key], check_exact=True, obj=str(key))
    for scope, trend in a.trends.items():
        other = b.trends[scope]
        assert (trend.latest_complete, trend.as_of, trend.method) == (other.latest_complete, other.as_of, other.method)


@pytest.mark.parametrize(("by", "size"), [("level_of_care", 1), ("level_of_care", 3), ("level_of_care", 5),
                                          ("sex", 2)])
def test_every_set_of_levels_reads_its_levels_off_the_whole_cohort(engine, monkeypatch, by, size):
    """(Every one of the 63 sets of levels, grouped by level and by sex, was checked once: 2 x 125 cohorts, the
    same; the test runs a spread of them.)"""
    compute_raw(engine.counts(), by)  # the whole cohort's, kept for the level-filtered cohorts
    sets = list(itertools.combinations(_levels(engine), size))
    for chosen in sets if by == "level_of_care" else sets[::4]:
        spec = FilterSpec(levels=chosen)
        for make in (lambda spec=spec: engine.counts(spec),
                     lambda spec=spec: EngineCounts(engine, FilterSpec(), minus=spec)):
            cohort = make()
            if cohort.n_episodes == 0:
                continue
            shared = compute_raw(cohort, by)
            assert cohort.level_source((by, shared.horizons, shared.days)) is not None
            monkeypatch.setattr(engine, "share", False)  # the reference: each cohort its own queries and statistics
            alone = compute_raw(make(), by)
            monkeypatch.setattr(engine, "share", True)
            _assert_same(shared, alone)


def test_only_level_settings_and_the_same_options_read_levels_off(engine):
    whole = compute_raw(engine.counts(), "level_of_care")
    key = ("level_of_care", whole.horizons, whole.days)
    assert engine.counts().level_source(key) is None  # the whole cohort computes its own
    assert engine.counts(FilterSpec(levels=("iop",))).level_source(key)[1] == frozenset({"iop"})
    assert engine.counts(FilterSpec(levels=("iop",), sexes=("female",))).level_source(key) is None
    assert engine.counts(FilterSpec(levels=("iop",))).level_source(("level_of_care", (30,), None)) is None
    complement = EngineCounts(engine, FilterSpec(), minus=FilterSpec(levels=("iop", "op")))
    assert complement.level_source(key)[1] == frozenset(_levels(engine)) - {"iop", "op"}


def test_engagement_of_some_rows_from_the_sorted_hours_of_all():
    """analysis.engagement.Sides.subset: the rows kept of the whole cohort's sorted hours (ties, missing hours and
    stays included) give what sorting the kept rows gives, to the bit."""
    import numpy as np

    from analysis.engagement import Sides, engagement_of_sides

    rng = np.random.default_rng(7)
    n = 5000
    levels = pd.Categorical(rng.choice(["detox", "iop", "op", "php"], n), categories=["detox", "iop", "op", "php"],
                            ordered=True)
    frame = pd.DataFrame({"level_of_care": levels, "los_days": rng.choice([np.nan, 0, 3, 7, 30, 61.5], n),
                          "hours_scheduled": rng.choice([np.nan, 0, 9, 12, 20, 33.3], n),
                          "hours_attended": rng.choice([np.nan, 0, 8, 10, 19.5], n), "n": rng.integers(1, 5, n)})
    cats = {"level_of_care": pd.Index(["detox", "iop", "op", "php"])}
    whole = Sides(frame, frame, "n")
    for keep in (rng.random(n) < 0.4, frame["level_of_care"].isin(["iop", "php"]).to_numpy(), np.zeros(n, bool)):
        part = frame[keep].reset_index(drop=True)
        got = whole.subset(keep, keep).result(part, part, cats)
        want = engagement_of_sides(part, part, cats, count_col="n")
        pd.testing.assert_frame_equal(got["level_of_care"], want["level_of_care"], check_exact=True)
