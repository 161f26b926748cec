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

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
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
