"""Queries computed ahead in a thread (analysis.engine.ahead) give the command the same results, and are used."""
from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import pytest

import analysis.cli as cli
import analysis.engine.ahead as ahead_mod
from analysis.engine.ahead import Ahead, compute_ahead
from analysis.engine.load import open_engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"
ARGS = ["outcomes", str(SAMPLE), "--json", "--adjust", "sex,co_occurring,age,payer"]


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    return out.getvalue()


def test_outcomes_json_is_the_same_with_and_without_queries_ahead(monkeypatch):
    used = []
    claim = Ahead.claim

    def counting(self, sql):
        frame = claim(self, sql)
        used.append(frame is not None)
        return frame

    monkeypatch.setattr(Ahead, "claim", counting)
    with_ahead = _run(ARGS)
    assert sum(used) >= 5  # the case-mix passes, stays, hours, step-downs, trends: taken, not run again
    monkeypatch.setattr(ahead_mod, "compute_ahead", lambda *a, **k: None)
    used.clear()
    without = _run(ARGS)
    assert not any(used)
    assert with_ahead == without


def test_a_result_is_the_engines_own_and_handed_over_once():
    with open_engine(SAMPLE) as loaded:
        engine = loaded.engine
        sql = "SELECT level_of_care, count(*) AS n FROM cohort GROUP BY 1 ORDER BY 1"
        done = threading.Event()
        ahead = compute_ahead(engine, lambda shadow: (shadow.backend.query(sql), done.set()))
        done.wait(10)
        first = engine.backend.query(sql)  # taken from the thread
        assert ahead.used == 1
        again = engine.backend.query(sql)  # run by the engine itself
        assert ahead.used == 1
        assert first.equals(again) and first.equals(engine.backend.con.execute(sql).df())


def test_the_engine_running_a_query_first_does_not_stop_the_thread():
    with open_engine(SAMPLE) as loaded:
        engine = loaded.engine
        gate, done = threading.Event(), threading.Event()
        first = "SELECT sex, count(*) AS n FROM cohort GROUP BY 1 ORDER BY 1"
        after = "SELECT payer, count(*) AS n FROM cohort GROUP BY 1 ORDER BY 1"

        def work(shadow):
            gate.wait()
            assert len(shadow.backend.query(first))  # the engine ran it already: run for the shadow only
            shadow.backend.query(after)
            done.set()

        ahead = compute_ahead(engine, work, gate)
        mine = engine.backend.query(first)  # before the thread reaches it: the engine runs it
        assert ahead.used == 0
        gate.set()
        assert done.wait(10)
        assert first not in ahead._entries
        assert engine.backend.query(after).equals(engine.backend.con.execute(after).df()) and ahead.used == 1
        assert mine.equals(engine.backend.con.execute(first).df())


def test_closing_stops_a_waiting_thread():
    loaded = open_engine(SAMPLE)
    gate = threading.Event()
    ran = []
    ahead = compute_ahead(loaded.engine, lambda shadow: (gate.wait(), ran.append(shadow.backend.query(
        "SELECT count(*) AS n FROM cohort"))), gate)
    loaded.close()  # sets the gate, interrupts, joins: returns
    assert gate.is_set() and not any(t.is_alive() for t in ahead._threads)


def test_checking_again_drops_what_was_computed_ahead():
    with open_engine(SAMPLE) as loaded:
        engine = loaded.engine
        done = threading.Event()
        sql = "SELECT count(*) AS n FROM cohort"
        compute_ahead(engine, lambda shadow: (shadow.backend.query(sql), done.set()))
        done.wait(10)
        assert engine.backend.ahead is not None
        engine.check(loaded.mapping)
        assert engine.backend.ahead is None


@pytest.mark.parametrize("rows", [3, 200_001])
def test_the_shadow_reads_small_results_and_only_the_columns_of_large_ones(rows):
    import pandas as pd

    frame = pd.DataFrame({"a": range(rows)})
    seen = ahead_mod._for_shadow(frame)
    assert list(seen.columns) == ["a"] and len(seen) == (rows if rows <= ahead_mod._SHADOW_ROWS else 0)
    assert seen is not frame
