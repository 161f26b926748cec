"""The engine's page rerun after a filter change: a view and its wider settings read off the whole cohort's
collapses (analysis.engine.narrow) and shared through ui.raw_memo publish exactly what each cohort's own queries
publish, with fewer queries."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from engine_parity import TODAY, raw_frames

from analysis.disclosure import Publication
from analysis.disclosure.neighbours import engine_wider_settings, wider_specs
from analysis.engine.engine import Engine
from analysis.filters import FilterSpec

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"
SPECS = [FilterSpec(levels=("iop", "residential", "op")),  # read off the whole cohort (every collapse has the level)
         FilterSpec(levels=("iop", "residential", "op"), sexes=("female",)),  # most collapses: their own queries
         FilterSpec(sites=("North Clinic",), admission_from="2023-03-01", admission_to="2025-06-30",
                    co_occurring=True)]


@pytest.fixture(scope="module")
def engine():
    with Engine.open(SAMPLE, today=TODAY) as e:
        yield e


class Counter:
    """Counts the engine's queries (every one goes through ``backend.query``)."""

    def __init__(self, engine, monkeypatch):
        self.n = 0
        real = engine.backend.query

        def query(sql):
            self.n += 1
            return real(sql)
        monkeypatch.setattr(engine.backend, "query", query)


def assert_identical_raw(a, b) -> None:
    """Every raw frame the same: values (exactly), dtypes, categories, order."""
    fa, fb = raw_frames(a), raw_frames(b)
    assert fa.keys() == fb.keys()
    assert a.n_episodes == b.n_episodes
    for key in fa:
        pd.testing.assert_frame_equal(fa[key], fb[key], check_exact=True, obj=str(key))


def assert_identical_publications(a: Publication, b: Publication) -> None:
    assert a.neighbour_labels == b.neighbour_labels
    assert len(a.neighbour_raw) == len(b.neighbour_raw) > 0
    assert_identical_raw(a.raw, b.raw)
    for x, y in zip(a.neighbour_raw, b.neighbour_raw, strict=True):
        assert_identical_raw(x, y)
    assert {c: cell.value for c, cell in a.ledger.cells.items()} == {c: cell.value for c, cell in b.ledger.cells.items()}
    assert a.plan.status == b.plan.status  # the same cells published, hidden and protected
    for origin in ("discharge", "admission"):
        pd.testing.assert_frame_equal(a.km(origin), b.km(origin), check_exact=True)
        pd.testing.assert_frame_equal(a.cif(origin), b.cif(origin), check_exact=True)
    pd.testing.assert_frame_equal(a.retention(), b.retention(), check_exact=True)


@pytest.mark.parametrize("spec", SPECS)
def test_reading_off_the_whole_cohort_publishes_what_separate_queries_publish(engine, monkeypatch, spec):
    counter = Counter(engine, monkeypatch)
    monkeypatch.setattr(engine, "share", False)
    alone = Publication.build(engine.counts(spec), neighbours=engine_wider_settings(engine, spec))
    monkeypatch.setattr(engine, "share", True)
    separate = counter.n
    counter.n = 0
    shared = Publication.build(engine.counts(spec), neighbours=engine_wider_settings(engine, spec))
    assert_identical_publications(alone, shared)
    assert sum(v != "shown" for v in shared.plan.status.values()) > 0  # the neighbours hide something
    n = 1 + len(shared.neighbour_raw)
    assert n >= 5
    if spec == SPECS[0]:  # every collapse groups by level: the whole cohort's once, not one per collapse and cohort
        assert counter.n < separate / 2
    else:  # a sex, a site, a date range: most collapses do not hold them, and each cohort queries its own
        assert counter.n <= separate


REQUESTS = ((["level_of_care", "time_discharge_days", "event_discharge"], {}),
            (["level_of_care", "sex", "payer"], {"nonnull": "time_admission_days"}),
            (["level_of_care", "discharge_date", "completed"], {"quarters": ("discharge_date",)}),
            (["level_of_care", "admission_date", "site", "co_occurring"], {}))


def _read(engine, spec, share: bool) -> list:
    """Collapses and step-downs of the view and of what each wider setting adds: each cohort its own queries
    (``share`` off) or read off the whole cohort's collapses."""
    engine.share = share
    cohorts = [engine.counts(spec)] + [nb.added for nb in engine_wider_settings(engine, spec)]
    out = []
    for c in cohorts:
        frames = [c.collapse(cols, **kw) for cols, kw in REQUESTS]
        c.prefetch([dict(columns=["level_of_care", v], nonnull="time_discharge_days") for v in ("sex", "payer")])
        for v in ("sex", "payer"):  # a grouping-sets query's rows come in no order (their readers sum them)
            f = c.collapse(["level_of_care", v], nonnull="time_discharge_days")
            frames.append(f.sort_values(["level_of_care", v], na_position="last").reset_index(drop=True))
        out.append((c.n_episodes, frames, c.step_downs()))
    engine.share = True
    return out


@pytest.mark.parametrize("spec", SPECS)
def test_every_cohort_gets_its_own_rows(engine, spec):
    """Cohorts that overlap (a neighbour without a filter holds those with one value added): each collapse read
    off the whole cohort's equals the cohort's own query, cell by cell."""
    alone = _read(engine, spec, False)
    assert len(alone) >= 5 and len({n for n, _, _ in alone}) > 3
    for (n, frames, steps), (n0, frames0, steps0) in zip(_read(engine, spec, True), alone, strict=True):
        assert n == n0 == int(frames[0]["n"].sum())
        for x, y in zip((*frames, *steps), (*frames0, *steps0), strict=True):
            pd.testing.assert_frame_equal(x, y, check_exact=True)


def test_a_filter_change_after_the_whole_page_queries_no_collapse(engine, monkeypatch):
    """The unfiltered page's collapses are kept: the rerun after a level filter reads the view's and its
    neighbours' off them (at most the step-downs' window and the whole cohort's probe by level, each once per
    engine, are queried: counts and probes of the cohorts are read off too)."""
    from analysis.disclosure.neighbours import engine_filter_options

    spec = FilterSpec(levels=("iop", "op"))
    Publication.build(engine.counts(), by="level_of_care")
    options = engine_filter_options(engine)  # (the sidebar's choices, shown with the unfiltered page)
    counter = Counter(engine, monkeypatch)
    seen = []
    real = engine.backend.query
    monkeypatch.setattr(engine.backend, "query", lambda sql: seen.append(sql) or real(sql))
    pub = Publication.build(engine.counts(spec), neighbours=engine_wider_settings(engine, spec, options))
    assert len(pub.neighbour_raw) >= 4
    grouped = [q for q in seen if "GROUP BY" in q and "lead(" not in q and "min(" not in q]
    assert grouped == [], grouped[:1]
    assert len(seen) <= 2
    assert engine.count(spec) == pub.raw.n_episodes and len(seen) <= 2  # the sidebar's count: read off too
    del counter


def test_a_memo_shares_the_engine_cohorts_of_earlier_reruns(engine, monkeypatch):
    """ui.raw_memo on the engine path: a neighbour's added episodes that are another view (each single level is
    a neighbour of every other) are computed once; the publications equal those built without it."""
    from ui.raw_memo import RawStore, sharing

    store = RawStore()
    memo = sharing(store, "sample through the engine")
    detox, iop = FilterSpec(levels=("detox",)), FilterSpec(levels=("iop",))
    counter = Counter(engine, monkeypatch)
    first = Publication.build(engine.counts(detox), neighbours=engine_wider_settings(engine, detox), memo=memo)
    assert (store.hits, store.misses) == (0, 7)  # the view and its 6 wider settings
    counter.n = 0
    view = engine.counts(iop)
    second = Publication.build(view, neighbours=engine_wider_settings(engine, iop), memo=memo)
    assert (store.hits, store.misses) == (6, 8)  # only "every level but iop" is new
    assert counter.n <= 4  # its step-downs' window and a probe (of two new cohorts): the rest is read off or held
    assert second.raw.counts is view and len(second.raw.cohort) == view.n_episodes  # the view's own rows
    assert store.entry_of(second.raw)[1] is second.ledger  # the ledger computed for detox's neighbour, shared
    monkeypatch.setattr(engine, "share", False)
    for spec, shared in ((detox, first), (iop, second)):
        alone = Publication.build(engine.counts(spec), neighbours=engine_wider_settings(engine, spec))
        assert_identical_publications(alone, shared)
    assert any(s == "protect" for s in second.plan.status.values())


def test_narrowing_only_where_the_pandas_mask_is_the_sql_condition():
    """A filter on a column whose SQL type the pandas mask would not compare as SQL does (a number compared as
    text) is not read off the whole cohort; nor is a collapse without the filtered column, or a quarter of it."""
    from analysis.engine.narrow import can_narrow, narrow, typed_as_filtered

    sites, dates = FilterSpec(sites=("1",)), FilterSpec(admission_from="2024-01-01", co_occurring=True)
    assert typed_as_filtered(sites, None, {"site": "VARCHAR"})
    assert not typed_as_filtered(sites, None, {"site": "BIGINT"})
    assert typed_as_filtered(None, dates, {"admission_date": "DATE", "co_occurring": "BOOLEAN"})
    assert not typed_as_filtered(None, dates, {"admission_date": "VARCHAR", "co_occurring": "BOOLEAN"})
    assert can_narrow(sites, dates, ["site", "admission_date", "co_occurring", "n"])
    assert not can_narrow(sites, dates, ["site", "co_occurring"])
    whole = pd.DataFrame({"site": ["1", "1", "2", None], "admission_date": pd.to_datetime(
        ["2023-12-31", "2024-01-01", "2024-02-01", "2024-03-01"]), "co_occurring": pd.array([True, True, None, True]),
        "n": [3, 4, 5, 6]})
    wider = FilterSpec(admission_from="2024-01-01")
    added = narrow(whole, wider, dates)  # from 2024 and not (from 2024 with a co-occurring disorder)
    assert added["n"].tolist() == [5] and added.index.tolist() == [0]
    assert narrow(whole, sites, None)["n"].tolist() == [3, 4]
    assert narrow(whole, None, FilterSpec()).empty  # every episode passes an empty setting: none is added


@pytest.mark.parametrize("spec", [FilterSpec(levels=("iop", "residential", "op")), FilterSpec(levels=("detox",)),
                                  FilterSpec(levels=("php", "iop"))])
def test_step_downs_of_a_level_filter_read_off_the_whole_cohort(engine, spec):
    """Which admission comes next depends on the cohort: read off the whole cohort's next admissions within the
    window, the first whose level passes; the same transitions as each cohort's own window query."""
    from analysis.engine.narrow import pairs_sql, transitions_off_pairs

    pairs = engine.backend.query(pairs_sql(engine, 30))
    cohorts = [(None, None), (spec, None)] + [(nb.added.spec, spec) for nb in engine_wider_settings(engine, spec)]
    for wider, minus in cohorts:
        where = None if minus is None else f"NOT COALESCE(({engine.where(minus)}), FALSE)"
        own = engine.transitions(30, wider, where=where)
        got = transitions_off_pairs(pairs, wider, minus)
        assert got is not None
        pd.testing.assert_frame_equal(got, own, check_dtype=False)
        assert own["next_level"].notna().sum() > 0 or minus is not None


def test_whole_cohort_step_downs_read_off_held_next_admissions(engine, monkeypatch):
    """Once a level filter has made the next admissions (an app's warm-up makes them first), the whole cohort's
    step-downs read off them with no query of their own, equal to its window query's (the command line's, made
    when nothing is held)."""
    whole, key = engine.counts(), ("_pairs", 30.0)
    monkeypatch.delitem(whole._cache, key, raising=False)
    own = whole.step_downs()
    assert key not in whole._cache  # nothing held: the whole cohort's own window query, no next admissions
    engine.counts(FilterSpec(levels=("iop",))).step_downs()
    assert key in whole._cache
    counter = Counter(engine, monkeypatch)
    got = whole.step_downs()
    assert counter.n == 0
    assert own[0]["n_step_down"].sum() == 1025 and own[1]["n"].sum() == 4846  # (the sample: real step-downs)
    for a, b in zip(got, own, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_step_downs_off_the_whole_cohort_on_crowded_clients():
    """Clients with many admissions close together (overlapping stays, ties on a day, missing levels, stays not
    over): every level setting and its wider settings give the window query's transitions, or None where more
    than PAIRS_K admissions follow within the window (then the cohort's own query runs)."""
    import numpy as np

    from analysis.engine.narrow import pairs_sql, transitions_off_pairs

    rng = np.random.default_rng(7)
    n = 4000
    levels = np.array(["detox", "inpatient", "residential", "php", "iop", "op", None], dtype=object)
    adm = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    stay = rng.integers(-3, 40, n)  # a few discharges before the admission: the next starts "before" it
    discharge = adm + pd.to_timedelta(np.abs(stay), unit="D")
    frame = pd.DataFrame({"client_id": [f"c{i}" for i in rng.integers(0, 1000, n)], "admission_date": adm,
                          "discharge_date": discharge.where(rng.random(n) > 0.1),
                          "level_of_care": levels[rng.integers(0, len(levels), n)]})
    frame["in_treatment"] = frame["discharge_date"].isna()
    frame.loc[:30, "client_id"] = None
    with Engine.from_cohort(frame) as eng:
        pairs = eng.backend.query(pairs_sql(eng, 30))
        assert pairs.loc[pairs["c2"].astype(bool), "n"].sum() > 100
        assert (pairs["z1"] == False).any()  # noqa: E712 - an admission before the discharge
        found, fallback = 0, 0
        for spec in (FilterSpec(levels=("iop",)), FilterSpec(levels=("iop", "op", "php")),
                     FilterSpec(levels=("detox", "residential"))):
            options = {"levels": [v for v in levels if v is not None]}
            for wider, minus in [(None, None), (spec, None)] + [(w, spec) for _, w in wider_specs(spec, options)]:
                where = None if minus is None else f"NOT COALESCE(({eng.where(minus)}), FALSE)"
                own = eng.transitions(30, wider, where=where)
                got = transitions_off_pairs(pairs, wider, minus)
                if got is None:
                    fallback += 1
                    continue
                found += 1
                pd.testing.assert_frame_equal(got, own, check_dtype=False)
        assert found >= 10 and fallback >= 1, (found, fallback)
        whole = transitions_off_pairs(pairs, None, None)  # the whole cohort: never a fallback
        pd.testing.assert_frame_equal(whole, eng.transitions(30), check_dtype=False)
