"""The automated attacker (tests/attacker.py) against everything the app and the CLI publish.

Cohorts: the bundled sample, and a generated cohort with a 6-episode level of care and a 5-episode site
(plus the small cells any cohort has: in-treatment counts, rare discharge reasons, late relapses). For
the generated cohort, settings one step apart are collected too (all sites but the tiny one; IOP; IOP and
OP; one site) and the time origin is switched. The test fails if any count of 1-10 people is recovered.

A second test runs the same attacker on the app with the protection switched off (plan: show everything;
curves: every event time): it must find leaks, or the attacker would prove nothing.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from analysis.casemix import DEFAULT_COVARIATES
from analysis.cli import main as cli_main
from analysis.cohort import derive_cohort, survival_columns
from analysis.disclosure.format import group_text
from analysis.filters import FilterSpec, apply_filters
from analysis.loading import load_episodes
from analysis.synthetic import generate_episodes
from tests.attacker import (
    Attacker,
    collect_page,
    count_numbers,
    draw_still_charts_interactive,
    facts_from_compare_json,
    facts_from_json,
    facts_from_pages,
)

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "episodes.csv"
PAGES = ["overview", "retention", "relapse", "time_to_relapse", "iop_vs_residential", "benchmarks"]
SITES = ["North Clinic", "South Clinic", "Downtown Center"]


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    import streamlit as st

    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    st.cache_resource.clear()  # AppTest sessions share an id: start from empty caches
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def media(monkeypatch):
    """Bytes of every file the app hands to the browser (downloads), by media file id."""
    store: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, (bytes, bytearray)):
            store[file_id] = bytes(path_or_data)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return store


def small_cohort_file(tmp_path: Path) -> Path:
    """1,500 generated episodes; inpatient cut to 6 episodes, 5 episodes moved to a "Tiny Clinic"."""
    raw = generate_episodes(1500, seed=20261201)
    inpatient = np.flatnonzero(raw["level_of_care"].to_numpy() == "inpatient")
    raw.loc[raw.index[inpatient[6:]], "level_of_care"] = "residential"
    raw.loc[raw.index[[10, 200, 400, 600, 800]], "site"] = "Tiny Clinic"
    path = tmp_path / "small_groups.csv"
    raw.to_csv(path, index=False)
    return path


def run_settings(monkeypatch, media, path: Path, settings: dict[str, dict]) -> list:
    monkeypatch.setenv("CONTINUUM_SAMPLE_PATH", str(path))
    draw_still_charts_interactive(monkeypatch)
    pages = []
    for name, query in settings.items():
        at = AppTest.from_file(APP, default_timeout=300)
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        for page in PAGES:
            at.switch_page(f"pages/{page}.py").run()
            assert not at.exception, (name, page, [e.value for e in at.exception])
            pages.append(collect_page(at, name, page, media))
    return pages


def json_payload(path: Path, capsys) -> dict:
    import json

    capsys.readouterr()
    assert cli_main(["outcomes", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def compare_payload(path: Path, capsys) -> dict:
    import json

    capsys.readouterr()
    assert cli_main(["compare", str(path), "--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust",
                     ",".join(DEFAULT_COVARIATES), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def truth_for(path: Path, settings: dict[str, dict]):
    """The true counts the approximate routes are checked against (computed here from the cohort)."""
    cohort = derive_cohort(load_episodes(path).episodes)
    views = {}
    for name, q in settings.items():
        spec = FilterSpec.from_query(q)
        views[name] = (apply_filters(cohort, spec), q.get("origin", "discharge"))
    labels = {group_text(v): v for v in cohort["level_of_care"].dropna().unique()}

    def truth(kind: str, **info):
        frame, origin = views.get(info.get("setting"), (cohort, "discharge"))
        t_col, e_col = survival_columns(origin)
        if kind == "term_events":
            term = str(info.get("term", ""))
            level = term.split(": ", 1)[-1] if ": " in term else term.split("[", 1)[-1].rstrip("]")
            g = labels.get(level, level)
            rows = frame[(frame["level_of_care"] == g) & frame[t_col].notna()]
            return float((rows[e_col] == 1).sum()) if len(rows) else None
        if kind == "events_between":
            g = labels.get(str(info.get("trace")))
            if g is None:
                return None
            rows = frame[frame["level_of_care"] == g]
            lo, hi = info["start"], info["end"]
            t = rows["los_days"] if info.get("page") == "retention" else rows[t_col]
            event = ~rows["in_treatment"] if info.get("page") == "retention" else rows[e_col] == 1
            within = (t == hi) if lo == hi else (t > lo) & (t <= hi)  # a drop at day 0: events at day 0
            return float((event & within).sum())
        return None

    return truth


SETTINGS = {
    "all": {}, "all, from admission": {"origin": "admission"}, "IOP": {"level": ["iop"]},
    "IOP and OP": {"level": ["iop", "op"]}, "North Clinic": {"site": ["North Clinic"]},
    "all sites but Tiny": {"site": SITES},
}
PAIRS = [("all", "IOP"), ("IOP and OP", "IOP"), ("all", "North Clinic"), ("all", "all sites but Tiny")]


def attack(pages, payloads, truth, origin_of, pairs, origin_pairs=(("all", "all, from admission"),), compare=None):
    facts = facts_from_pages(pages, origin_of)
    for setting, payload in payloads.items():
        facts_from_json(facts, setting, payload, group_text)
    for setting, payload in (compare or {}).items():
        facts_from_compare_json(facts, setting, payload, group_text)
    attacker = Attacker(facts, pages, truth, payloads)
    return attacker, attacker.run(pairs, list(origin_pairs))


def test_attacker_recovers_no_small_count(tmp_path, monkeypatch, media, capsys):
    start = time.perf_counter()
    small = small_cohort_file(tmp_path)
    pages = run_settings(monkeypatch, media, SAMPLE, {"sample": {}})
    pages += run_settings(monkeypatch, media, small, SETTINGS)
    origin_of = {name: q.get("origin", "discharge") for name, q in {"sample": {}, **SETTINGS}.items()}
    payloads = {"sample": json_payload(SAMPLE, capsys), "all": json_payload(small, capsys)}
    truth_small = truth_for(small, SETTINGS)
    truth_sample = truth_for(SAMPLE, {"sample": {}})

    def truth(kind, **info):
        return (truth_sample if info.get("setting") == "sample" else truth_small)(kind, **info)

    compare = {"sample": compare_payload(SAMPLE, capsys), "all": compare_payload(small, capsys)}
    attacker, leaks = attack(pages, payloads, truth, origin_of, PAIRS, compare=compare)
    collected = count_numbers(pages, {**payloads, **{f"compare {k}": v for k, v in compare.items()}})
    comparison_numbers = count_numbers([p for p in pages if p.page == "iop_vs_residential"], compare)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nattacker: {collected:,} numbers collected ({attacker.f.numbers:,} as facts) from {len(pages)} page "
              f"views, {sum(len(p.csvs) for p in pages)} CSV downloads and {len(payloads)} JSON outputs; "
              f"{attacker.tried:,} combinations tried; {len(leaks)} leaks; {elapsed:.1f} s; the comparison page and "
              f"compare JSON: {comparison_numbers:,} numbers")
        for c in leaks[:40]:
            print(f"  LEAK {c.route}: {c.what} = {c.value:g}")
    assert not leaks, "\n".join(f"{c.route}: {c.what} = {c.value:g}" for c in leaks[:40])
    assert collected > 10000 and attacker.tried > 2000  # it did look
    quarters = [k for k in attacker.f.counts if k[1] in ("q_discharged", "q_followed")]
    assert len(quarters) > 100  # the quarterly trends (Overview) were read and attacked too
    refused = [p for p in pages if p.setting == "all sites but Tiny"]
    assert all(not p.csvs for p in refused)  # 5 episodes apart from "all": nothing shown


def test_attacker_finds_leaks_when_protection_is_off(tmp_path, monkeypatch, media, capsys):
    """The same routes against output protected the old way (counts of 1-10 hidden, nothing else; curves at
    every event time): the small cells come out, so the attacker would notice a weak protection."""
    from analysis.disclosure import curves, publication, solver

    def show_everything(ledger, min_cell, sensitive=()):
        return solver.Plan(min_cell, {c: solver.SMALL if 1 <= cell.value < min_cell else solver.SHOWN
                                      for c, cell in ledger.cells.items() if cell.published})

    def every_event(times, events, censored, followed, anchors, min_cell, blocked=(), extra=None):
        return sorted(set(np.asarray(times, dtype=float)[np.asarray(events) > 0].tolist()) | set(anchors))

    import ui.compute
    import ui.sidebar

    monkeypatch.setattr(publication, "protect", show_everything)
    monkeypatch.setattr(curves, "safe_corners", every_event)
    monkeypatch.setattr(ui.compute, "wider_settings", lambda cohort, spec: [])
    monkeypatch.setattr(ui.sidebar, "_refusal", lambda ds, spec, min_cell: None)
    small = small_cohort_file(tmp_path)
    settings = {"all": {}, "all, from admission": {"origin": "admission"}, "all sites but Tiny": {"site": SITES}}
    pages = run_settings(monkeypatch, media, small, settings)
    attacker, leaks = attack(pages, {"all": json_payload(small, capsys)}, truth_for(small, settings),
                             {k: q.get("origin", "discharge") for k, q in settings.items()},
                             [("all", "all sites but Tiny")])
    routes = {c.route for c in leaks}
    assert {"total minus parts", "consecutive days", "step x at risk", "at risk between corners", "two origins",
            "two filter settings"} <= routes, routes
    assert len(leaks) > 50
