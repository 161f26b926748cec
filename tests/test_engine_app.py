"""The app opens a server-side source through the engine: ``--data PATH_OR_URL`` (here through
``CONTINUUM_DATA``) and a "Database" source from ``st.connection`` + secrets; without either it offers
neither, and the pages show the same numbers as for the same file uploaded."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from ui import compute

ROOT = Path(__file__).resolve().parents[1]
_REAL_PREWARM = compute.prewarm_sample
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    # no single levels computed in the background (their own test below turns it on): its misses would count here
    monkeypatch.setattr(compute, "prewarm_sample", lambda *a, **k: None)
    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    monkeypatch.delenv("CONTINUUM_SAMPLE_PATH", raising=False)
    monkeypatch.delenv("CONTINUUM_DATA", raising=False)
    monkeypatch.delenv("CONTINUUM_TABLE", raising=False)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_server_data_is_every_sessions_default(monkeypatch, tmp_path):
    path = tmp_path / "episodes.parquet"
    table = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(table.slice(0, 3000), path)
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="data_source").value == "Server data"
    assert _metrics(at)["Rows read"] == "3,000"
    ds = at.session_state["_ctx"].dataset
    assert ds.label == "episodes.parquet" and not ds.is_sample and len(ds.cohort) == 3000
    at.switch_page("pages/time_to_relapse.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # back to the sample and to the server data again
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Bundled sample cohort").run()
    assert not at.exception and _metrics(at)["Rows read"] == "5,000"
    at.radio(key="data_source").set_value("Server data").run()
    assert not at.exception and _metrics(at)["Rows read"] == "3,000"


def test_database_source_from_secrets(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    con.register("t", pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)))
    con.execute("CREATE TABLE episodes AS SELECT * FROM t")
    con.close()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["connections"] = {"warehouse": {"url": str(db), "table": "episodes", "label": "Test warehouse"}}
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    radio = at.radio(key="data_source")
    assert "Database: Test warehouse" in radio.options and "Server data" not in radio.options
    radio.set_value("Database: Test warehouse").run()
    assert not at.exception, [e.value for e in at.exception]
    assert _metrics(at)["Rows read"] == "5,000"
    assert at.session_state["_ctx"].dataset.label == "Test warehouse"


def test_plain_start_offers_no_server_source():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.radio(key="data_source").options == ["Bundled sample cohort", "Upload a file"]


def _tables(at) -> list:
    return [d.value.reset_index(drop=True) for d in at.dataframe]


def _walk(at, levels) -> dict:
    """Every table and metric of the result pages after choosing ``levels``."""
    out = {}
    at.multiselect(key="f_levels").set_value(levels).run()
    assert not at.exception, [e.value for e in at.exception]
    for page in ("pages/overview.py", "pages/retention.py", "pages/relapse.py", "pages/time_to_relapse.py",
                 "pages/iop_vs_residential.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        out[page] = (_tables(at), _metrics(at), [w.value for w in at.warning])
    return out


def test_server_data_pages_are_engine_queries_with_the_samples_numbers(monkeypatch, tmp_path):
    """A server-side source's publications are aggregate queries in its engine (no pandas statistics), shared by
    every session, and every table and metric of every page equals the same data read as the bundled sample
    (the pandas path), after a filter change too; a selection a wider one gives away is refused the same way."""
    from analysis.counts import EngineCounts

    path = tmp_path / "episodes.parquet"
    pq.write_table(pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)), path)
    sample = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    expected = _walk(sample, ["iop", "residential"])
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    got = _walk(at, ["iop", "residential"])
    ctx = at.session_state["_ctx"]
    assert ctx.dataset.engine is not None and ctx.dataset.shared
    pub = compute.publication(ctx)
    assert isinstance(pub.raw.counts, EngineCounts) and pub.neighbour_labels
    assert all(isinstance(r.counts, EngineCounts) for r in pub.neighbour_raw)
    for page, (tables, metrics, warnings) in expected.items():
        assert len(got[page][0]) == len(tables) > 0 or page.endswith("iop_vs_residential.py"), page
        for mine, theirs in zip(got[page][0], tables, strict=True):
            assert mine.equals(theirs), (page, mine, theirs)
        assert got[page][1] == metrics and got[page][2] == warnings, page
    # a second session reads the same publication (shared, like the sample's)
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    other.multiselect(key="f_levels").set_value(["iop", "residential"]).run()
    assert compute.publication(other.session_state["_ctx"]) is pub


def test_server_data_refuses_a_selection_a_wider_one_gives_away(monkeypatch, tmp_path):
    """Five episodes at a fifth site: choosing the other sites would show them by subtraction; the engine's count
    of the wider setting refuses it, as the pandas path does, and a wider choice is shown."""
    frame = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)).to_pandas()
    frame.loc[frame.index[:5], "site"] = "Annex"
    path = tmp_path / "episodes.parquet"
    frame.to_parquet(path)
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.multiselect(key="f_sites").set_value(["North Clinic", "South Clinic", "Downtown Center"]).run()
    assert not at.exception, [e.value for e in at.exception]
    ctx = at.session_state["_ctx"]
    assert ctx.dataset.engine is not None
    assert ctx.error is not None and "fewer than 11 episodes compared with the same view without the site filter" \
        in ctx.error
    assert not at.metric  # nothing of the refused view is shown
    at.multiselect(key="f_sites").set_value(["North Clinic", "South Clinic", "Downtown Center", "Annex"]).run()
    assert not at.exception and at.session_state["_ctx"].error is None and at.metric


def test_server_source_is_opened_and_computed_before_the_first_session(monkeypatch, tmp_path):
    """``warm_server_source`` (called when serve.py starts) opens the ``--data`` source in the background and puts
    the whole cohort's raw results and the next-admissions query in place: the first session reads them."""
    import threading

    from ui import data_source

    path = tmp_path / "warm.parquet"
    pq.write_table(pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)), path)
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    monkeypatch.setitem(data_source._WARM, "started", False)
    data_source.warm_server_source()
    warm = [t for t in threading.enumerate() if t.name == "continuum-open-source"]
    assert warm
    for t in warm:
        t.join(180)
    ds = data_source.load_source(data_source.server_source())
    assert ds.engine is not None and ("_pairs", 30.0) in ds.engine.counts()._cache
    from analysis.disclosure.neighbours import engine_filter_options

    queries, real = [], ds.engine.backend.query
    ds.engine.backend.query = lambda sql: queries.append(sql) or real(sql)
    try:
        assert engine_filter_options(ds.engine)["levels"] and not queries  # the filters' values: read, not queried
    finally:
        del ds.engine.backend.query
    hits, misses = compute._SERVER_RAWS.hits, compute._SERVER_RAWS.misses
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_ctx"].dataset is ds
    assert compute._SERVER_RAWS.hits > hits and compute._SERVER_RAWS.misses == misses  # nothing computed again
    data_source.warm_server_source()  # once per process
    assert not [t for t in threading.enumerate() if t.name == "continuum-open-source"]


def test_the_samples_default_view_and_single_levels_are_warm_before_the_first_session(monkeypatch):
    """serve.py warms the bundled sample when the server starts (ui.compute.warm_sample): the first session's
    Overview and a single level chosen afterwards compute no raw result (the store's misses do not move)."""
    import threading

    from ui.raw_memo import RawStore

    monkeypatch.setattr(compute, "prewarm_sample", _REAL_PREWARM)
    monkeypatch.setattr(compute, "_SAMPLE_WARM", [])
    monkeypatch.setattr(compute, "_prewarmed", set())
    monkeypatch.setattr(compute, "_SAMPLE_RAWS", RawStore(max_entries=64))  # nothing computed before
    monkeypatch.setenv("CONTINUUM_PREWARM_IDLE_S", "0")
    monkeypatch.delenv("CONTINUUM_DATA", raising=False)
    compute._publication_shared.clear()
    compute._view_shared.clear()
    import ui.still
    from analysis import figures

    drawn, real, real_fair = [], figures.static_image, compute.fair_comparison
    monkeypatch.setattr(figures, "static_image", lambda *a, **k: drawn.append(a) or real(*a, **k))
    monkeypatch.setattr(ui.still, "_drawn", type(ui.still._drawn)())  # no still chart drawn before
    compute.warm_sample()
    while warming := [t for t in threading.enumerate() if t.name in ("continuum-warm-sample", "continuum-prewarm")]:
        warming[0].join(300)  # (the single levels' thread is started by the warm-up's)
    misses = compute._SAMPLE_RAWS.misses
    assert misses > 0  # (the warm-up computed them)
    chromium = figures.find_chromium() is not None
    assert not chromium or len(drawn) >= 2 * 7  # the Overview's two charts of the whole view and of six levels
    drawn.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="f_levels").set_value(["iop"]).run()
    assert not at.exception and at.session_state["_ctx"].error is None
    assert compute._SAMPLE_RAWS.misses == misses
    assert drawn == [] and (not chromium or len(at.get("image")) == 2)  # their images were drawn ahead
    # the whole cohort's default fair comparison was computed too: the IOP vs residential page computes none
    at.multiselect(key="f_levels").set_value([]).run()
    compared = []
    monkeypatch.setattr(compute, "fair_comparison", lambda *a, **k: compared.append(a) or real_fair(*a, **k))
    at.switch_page("pages/iop_vs_residential.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert compared == [] and any("Adjusted differences" in m.value for m in at.markdown)
    at.selectbox(key="cmp_b").set_value("op").run()
    assert len(compared) == 1  # (another choice is computed: the check above can fail)


def test_server_source_single_levels_are_computed_in_the_background(monkeypatch, tmp_path):
    """As for the sample, each single level of care of a server-side source is computed while the server is idle:
    choosing one afterwards computes nothing (every raw result is the store's)."""
    import threading


    monkeypatch.setattr(compute, "prewarm_sample", _REAL_PREWARM)
    path = tmp_path / "levels.parquet"
    pq.write_table(pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)), path)
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    monkeypatch.setenv("CONTINUUM_PREWARM_IDLE_S", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_ctx"].dataset.key in compute._prewarmed
    for t in [t for t in threading.enumerate() if t.name in ("continuum-prewarm", "continuum-open-source")]:
        t.join(300)
    misses = compute._SERVER_RAWS.misses
    for level in ("php", "detox"):
        at.multiselect(key="f_levels").set_value([level]).run()
        assert not at.exception and at.session_state["_ctx"].error is None
        assert compute._SERVER_RAWS.misses == misses, level
    at.multiselect(key="f_levels").set_value(["php", "detox"]).run()
    assert compute._SERVER_RAWS.misses > misses  # (a new view is computed: the check above can fail)


def test_server_data_without_discharge_reasons_shows_every_page(monkeypatch, tmp_path):
    """A real duration-shaped cohort (UIS, no discharge reasons, grouped by its TREAT arm through a saved mapping) as
    server data: every result page draws without an error box (Retention's stay table once asked for ledger cells
    that only the completion table registered)."""
    from analysis.loading import load_episodes
    from analysis.mapping import spec_to_json

    path = ROOT / "tests" / "data" / "real_cohorts" / "uis.csv"
    mapping = tmp_path / "uis.json"
    mapping.write_text(spec_to_json(load_episodes(path.read_bytes(), name=path.name, by="TREAT").spec()))
    monkeypatch.setenv("CONTINUUM_DATA", str(path))
    monkeypatch.setenv("CONTINUUM_MAPPING", str(mapping))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_ctx"].dataset.engine is not None
    assert at.session_state["by"] == "TREAT" and at.selectbox(key="by").value == "TREAT"  # the mapping's grouping
    for page in ("pages/retention.py", "pages/relapse.py", "pages/time_to_relapse.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, (page, [e.value for e in (*at.exception, *at.error)])
        if page == "pages/retention.py":  # the file records no stays: said in a line, not a table of zeros
            assert any("No length of stay is recorded" in i.value for i in at.info)
            assert not any("Discharged" in d.value.columns and (d.value["Discharged"].astype(str) == "0").all()
                           for d in at.dataframe)
