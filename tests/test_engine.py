"""The DuckDB engine: sources, privacy settings, SQL validation and cohort, collapsed queries = pandas path."""
from __future__ import annotations

import io
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from engine_parity import (
    TODAY,
    assert_same_cohort,
    assert_same_outcomes,
    assert_same_report,
    messy_csv,
    pandas_cohort,
)

from analysis.cohort import derive_cohort
from analysis.engine.backends import DuckDBBackend, connect_duckdb, to_dialect
from analysis.engine.engine import Engine, EngineError
from analysis.engine.progress import ProgressEvent, TerminalProgress
from analysis.filters import FilterSpec, filter_sql
from analysis.loading import load_episodes
from analysis.synthetic import generate_episodes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(scope="module")
def sample_cohort():
    return pandas_cohort(SAMPLE)


@pytest.fixture(scope="module")
def sample_engine():
    with Engine.open(SAMPLE, today=TODAY) as engine:
        yield engine


# --------------------------------------------------------------------------- privacy and settings
def test_duckdb_never_spills_and_loads_no_extension(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    con = connect_duckdb(memory_limit="64MB", threads=1)
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN ('temp_directory', "
                                "'max_temp_directory_size', 'autoload_known_extensions', "
                                "'autoinstall_known_extensions')").fetchall())
    assert settings["temp_directory"] == ""
    assert settings["max_temp_directory_size"] in ("0 bytes", "0B", "0")
    assert settings["autoload_known_extensions"] == "false" and settings["autoinstall_known_extensions"] == "false"
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET temp_directory = '/tmp/spill'")
    # an upload larger than memory: DuckDB must fail rather than write the rows to a temporary file
    data = generate_episodes(60_000, seed=2)
    data.attrs = {}
    con.register("upload", data)
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute("CREATE TABLE big AS SELECT u.*, v.episode_id AS e2 FROM upload u, upload v "
                    "WHERE u.client_id < v.client_id ORDER BY e2").fetchall()
    assert [p for p in tmp_path.rglob("*")] == []


def test_upload_bytes_leave_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with Engine.open(SAMPLE.read_bytes(), name="episodes.csv", today=TODAY) as engine:
        assert engine.count() == 5000
        engine.collapse(["level_of_care", "los_days"])
        assert [p for p in tmp_path.rglob("*")] == []


# --------------------------------------------------------------------------- sources give the pandas cohort
def test_csv_path_cohort_equals_pandas(sample_cohort, sample_engine):
    assert sample_engine.source.kind == "csv" and sample_engine.as_of == sample_cohort.attrs["as_of"]
    assert_same_cohort(sample_cohort, sample_engine)


def test_other_sources_give_the_same_cohort(sample_cohort, tmp_path):
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    typed = raw.copy()
    for col in ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date"):
        typed[col] = pd.to_datetime(typed[col].replace("", None))
    for col in ("age", "prior_treatments", "hours_attended", "hours_scheduled"):
        typed[col] = pd.to_numeric(typed[col].replace("", None))
    typed.to_parquet(tmp_path / "episodes.parquet", index=False)
    (tmp_path / "parts").mkdir()
    typed.iloc[:2000].to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    typed.iloc[2000:].to_parquet(tmp_path / "parts" / "b.parquet", index=False)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.register("typed", typed)
    con.execute("CREATE TABLE episodes AS SELECT * FROM typed")
    con.close()
    semicolon = raw.to_csv(sep=";", index=False).encode("cp1252")
    for source, kwargs in [(SAMPLE.read_bytes(), {}), (tmp_path / "episodes.parquet", {}),
                           ((tmp_path / "episodes.parquet").read_bytes(), {}),
                           (tmp_path / "warehouse.duckdb", {"table": "episodes"}),
                           (tmp_path / "warehouse.duckdb", {}), (semicolon, {})]:
        with Engine.open(source, today=TODAY, **kwargs) as engine:
            assert_same_cohort(sample_cohort, engine)
    with Engine.open(tmp_path / "parts", today=TODAY) as engine:  # a folder of Parquet files
        assert engine.count() == 5000 and engine.source.details["files"] == 2
    with Engine.open(str(tmp_path / "parts" / "*.parquet"), today=TODAY) as engine:
        assert engine.count() == 5000


def test_windows_1252_and_whitespace_and_markers(tmp_path):
    text = ("episode_id,level_of_care,admission_date,discharge_date,discharge_reason,site\n"
            "E1, IOP ,2023-01-05,2023-02-01,completed,Caf\u00e9 \u2013 Nord\n"
            "E2,op,\u00a02023-01-06,NA,,N/A\n"
            "E3,op,2023-01-07,,,\n")
    path = tmp_path / "win.csv"
    path.write_bytes(text.encode("cp1252"))
    want = pandas_cohort(path)
    with Engine.open(path, today=TODAY) as engine:
        assert engine.source.details["encoding"] == "cp1252"
        assert_same_cohort(want, engine)
        assert engine.preview()["site"].tolist()[0] == "Caf\u00e9 \u2013 Nord"
    path.write_bytes(text.encode("utf-8"))
    with Engine.open(path, today=TODAY) as engine:  # DuckDB's reader: the same cleaning
        assert engine.source.details["encoding"] == "utf-8"
        assert_same_cohort(pandas_cohort(path), engine)


def test_duration_file(tmp_path):
    data = generate_episodes(800, seed=4, shape="durations")
    data.attrs = {}
    path = tmp_path / "durations.csv"
    data.to_csv(path, index=False)
    cohort = pandas_cohort(path)
    with Engine.open(path, today=TODAY) as engine:
        assert engine.shape == "durations"
        assert_same_cohort(cohort, engine)
        assert_same_outcomes(cohort, engine)


# --------------------------------------------------------------------------- outcomes from collapsed queries
def test_sample_outcomes_equal_pandas(sample_cohort, sample_engine):
    assert_same_outcomes(sample_cohort, sample_engine)
    assert_same_outcomes(sample_cohort, sample_engine, by="site")


@pytest.mark.parametrize("spec", [
    FilterSpec(levels=("iop", "residential")),
    FilterSpec(admission_from="2023-01-01", admission_to="2024-06-30", co_occurring=True),
    FilterSpec(sexes=("female",), payers=("medicaid", "private"), age_bands=("25-34", "35-44")),
    FilterSpec(substances=("opioids",), sites=("North Clinic",), co_occurring=False),
])
def test_filters_pushed_down_equal_apply_filters(sample_cohort, sample_engine, spec):
    assert_same_outcomes(sample_cohort, sample_engine, spec=spec)


def test_synthetic_100k_equal_pandas(tmp_path):
    data = generate_episodes(100_000, seed=11)
    data.attrs = {}
    path = tmp_path / "synthetic.parquet"
    data.to_parquet(path, index=False)
    cohort = pandas_cohort(path)
    with Engine.open(path, today=TODAY) as engine:
        assert_same_outcomes(cohort, engine)
        assert_same_outcomes(cohort, engine, spec=FilterSpec(levels=("php", "iop", "op"),
                                                             admission_from="2024-01-01"))


def test_from_cohort_collapse(sample_cohort):
    with Engine.from_cohort(sample_cohort) as engine:
        assert_same_outcomes(sample_cohort, engine)


# --------------------------------------------------------------------------- validation rules in SQL
def test_rule_counts_and_problem_rows_equal_validation():
    data = messy_csv()
    with Engine.open(data, name="messy.csv", today=TODAY) as engine:
        assert_same_report(data, engine)
        assert_same_cohort(pandas_cohort(data), engine)


def test_rule_counts_with_another_grouping_column():
    data = messy_csv()
    with Engine.open(data, by="site", today=TODAY) as engine:
        assert_same_report(data, engine, by="site")


def test_fatal_sentences():
    with pytest.raises(EngineError, match="header but no data rows"):
        Engine.open(b"level_of_care,admission_date\n", today=TODAY)
    with pytest.raises(EngineError, match="level_of_care"):
        Engine.open(b"admission_date,site\n2023-01-01,North\n", today=TODAY)
    with pytest.raises(EngineError, match="There is no file"):
        Engine.open("/nonexistent/episodes.parquet")
    with pytest.raises(EngineError, match="has 2 tables|holds 2 tables"):
        con_path = Path(os.environ.get("TMPDIR", "/tmp")) / "two_tables_h10.duckdb"
        con_path.unlink(missing_ok=True)
        con = duckdb.connect(str(con_path))
        con.execute("CREATE TABLE a (x INT); CREATE TABLE b (x INT)")
        con.close()
        try:
            Engine.open(con_path)
        finally:
            con_path.unlink(missing_ok=True)
    with pytest.raises(EngineError, match="same number of fields"):
        Engine.open(b"level_of_care,admission_date\niop,2023-01-01,extra\n", today=TODAY)


# --------------------------------------------------------------------------- filters, SQL, progress
def test_filter_sql_quotes_values_and_names_missing_columns():
    spec = FilterSpec(sites=("O'Brien House",), admission_to="2024-02-29")
    where = filter_sql(spec, ["site", "admission_date"])
    assert "'O''Brien House'" in where and "admission_date < DATE '2024-03-01'" in where
    con = duckdb.connect()
    frame = pd.DataFrame({"site": ["O'Brien House", "x"], "admission_date": pd.to_datetime(["2024-02-29"] * 2)})
    con.register("t", frame)
    assert con.execute(f"SELECT count(*) FROM t WHERE {where}").fetchone()[0] == 1
    with pytest.raises(ValueError, match="no 'payer' column"):
        filter_sql(FilterSpec(payers=("medicaid",)), ["site"])
    with pytest.raises(ValueError, match="no admission dates"):
        filter_sql(FilterSpec(admission_from="2023-01-01"), ["site"])
    assert filter_sql(FilterSpec(), []) == "TRUE"


def test_sql_transpiles_to_postgres():
    sql = "SELECT date_diff('day', a, b) AS d, list_contains(['x', 'y'], c) AS m FROM t"
    pg = to_dialect(sql, "postgres")
    assert "date_diff" not in pg.lower() and "ANY(ARRAY" in pg
    assert to_dialect(sql, "duckdb") == sql


def test_progress_hooks():
    events: list[ProgressEvent] = []
    with Engine.open(SAMPLE.read_bytes(), today=TODAY, progress=events.append):
        pass
    reads = [e for e in events if e.stage == "read"]
    assert reads and reads[-1].done == 5000 and reads[-1].fraction == 1.0
    assert any(e.stage == "validate" and e.unit == "rules" and e.done > 0 for e in events)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    show = TerminalProgress(out, interval=0)
    show(ProgressEvent("read", 500, None, "rows", "Reading episodes:"))
    show(ProgressEvent("validate", 24, 24, "rules", "Checked rules:"))
    assert "Reading episodes: 500 rows" in out.getvalue() and out.getvalue().endswith("24 of 24 rules\n")
    quiet = io.StringIO()
    TerminalProgress(quiet)(ProgressEvent("read", 5, None, "rows", "x"))
    assert quiet.getvalue() == ""


def test_backend_query_returns_frames():
    backend = DuckDBBackend(threads=1)
    assert backend.query("SELECT 42 AS x")["x"].iloc[0] == 42
    backend.close()


def test_researcher_cohort_units_event_value_and_typed_extra_columns():
    """Issue #8's semantics in SQL: weeks converted to days, a 1/2 status with 2 = relapse, extra columns
    typed by content (a score with a thousands separator, a yes/no flag, a study arm)."""
    rows = ["subject,arm,weeks,status,beck,flag"]
    for i in range(60):
        beck = '"1,234"' if i == 7 else ("n/k" if i == 9 else str(10 + (i * 7) % 31))
        rows.append(f"S{i:03d},{'A' if i % 3 else 'B'},{(i * 5) % 40 + 1},{2 if i % 4 == 0 else 1},{beck},"
                    f"{'yes' if i % 5 else 'no'}")
    data = ("\n".join(rows) + "\n").encode()
    kwargs = dict(mapping={"days_to_relapse": "weeks", "relapsed": "status"}, by="arm", time_unit="weeks",
                  event_value=2)
    result = load_episodes(data, name="trial.csv", today=TODAY, **kwargs)
    assert result.ok, result.report.fatal
    cohort = derive_cohort(result.episodes)
    with Engine.open(data, today=TODAY, **kwargs) as engine:
        assert engine.extra_types == {"subject": "id", "arm": "categorical", "beck": "numeric", "flag": "binary"}
        assert_same_cohort(cohort, engine)
        got = engine.validation_report()
        key = ["row", "column", "rule"]
        pd.testing.assert_frame_equal(result.report.problems.sort_values(key).reset_index(drop=True),
                                      got.problems.sort_values(key).reset_index(drop=True), check_dtype=False)
        assert set(got.problems["rule"]) == {"thousands_separator", "non_numeric_value"}
        assert engine.preview(2)["time_admission_days"].tolist() == [7.0, 42.0]  # 1 and 6 weeks
