"""The same analysis inside PostgreSQL: aggregates from the server equal DuckDB's and the pandas path's.

Needs a server: ``CONTINUUM_TEST_POSTGRES_URL`` (``.ci/run`` starts one and loads the tables with
``.ci/load_postgres.py``); without it every test here skips and says why.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from engine_parity import (
    TODAY,
    assert_same,
    assert_same_cohort,
    assert_same_outcomes,
    messy_csv,
    pandas_cohort,
)

from analysis.engine.engine import Engine, EngineError
from analysis.filters import FilterSpec
from analysis.synthetic import generate_episodes

URL = os.environ.get("CONTINUUM_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="no PostgreSQL server configured (CONTINUUM_TEST_POSTGRES_URL; "
                                                "bash .ci/run starts one)")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(scope="module")
def sample_cohort():
    return pandas_cohort(SAMPLE)


@pytest.mark.parametrize("table", ["episodes_sample", "episodes_sample_text"])
def test_sample_in_postgres_equals_pandas_and_duckdb(sample_cohort, table):
    with Engine.open(URL, table=table, today=TODAY) as pg, Engine.open(SAMPLE, today=TODAY) as duck:
        assert pg.backend.dialect == "postgres" and pg.as_of == sample_cohort.attrs["as_of"]
        assert_same_cohort(sample_cohort, pg)
        assert_same_outcomes(sample_cohort, pg)
        assert_same_outcomes(sample_cohort, pg, spec=FilterSpec(levels=("iop", "residential"),
                                                                admission_from="2023-01-01"))
        cols = ["level_of_care", "time_discharge_days", "event_discharge", "los_days", "in_treatment"]
        assert_same(duck.collapse(cols), pg.collapse(cols))
        assert pg.rule_counts().empty


def test_synthetic_100k_in_postgres_equals_pandas(tmp_path):
    data = generate_episodes(100_000, seed=11)  # the table .ci/load_postgres.py loaded
    data.attrs = {}
    path = tmp_path / "synthetic.parquet"
    data.to_parquet(path, index=False)
    cohort = pandas_cohort(path)
    with Engine.open(URL, table="episodes_synthetic", today=TODAY) as pg:
        assert pg.count() == 100_000
        assert_same_outcomes(cohort, pg)
        assert_same_outcomes(cohort, pg, by="site", spec=FilterSpec(co_occurring=True, sexes=("male",)))


def _text_table(con, table: str, raw: pd.DataFrame) -> None:
    """A table of ``raw``'s cells as text in the test server (the caller drops it)."""
    cols = ", ".join(f'"{c}" TEXT' for c in raw.columns)
    con.execute(f'CREATE TABLE "{table}" ({cols})')
    with con.cursor().copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv)') as copy:
        copy.write(raw.to_csv(index=False, header=False))


def test_messy_table_rule_counts_in_postgres():
    import psycopg

    raw = pd.read_csv(pd.io.common.BytesIO(messy_csv()), dtype=str, keep_default_na=False)
    table = f"messy_{os.getpid()}"
    with psycopg.connect(URL, autocommit=True) as con:
        _text_table(con, table, raw)
        try:
            with Engine.open(URL, table=table, today=TODAY) as pg, Engine.open(messy_csv(), today=TODAY) as duck:
                assert_same(duck.rule_counts(), pg.rule_counts())
                assert pg.count() == duck.count()
        finally:
            con.execute(f'DROP TABLE "{table}"')


def test_text_cleaned_where_a_cell_needs_it(tmp_path):
    """Padded labels, missing markers and clean columns in a text table: PostgreSQL cleans only the columns that
    hold such a cell (tested on their distinct values) and gives the pandas path's cohort."""
    import psycopg

    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).head(600)
    raw.loc[::7, "level_of_care"] = "  " + raw.loc[::7, "level_of_care"] + "\u00a0"
    raw.loc[::11, "sex"] = "NA"
    raw.loc[::13, "payer"] = " " + raw.loc[::13, "payer"]
    path = tmp_path / "padded.csv"
    raw.to_csv(path, index=False)
    table = f"padded_{os.getpid()}"
    with psycopg.connect(URL, autocommit=True) as con:
        _text_table(con, table, raw)
        try:
            cohort = pandas_cohort(path)
            assert cohort["sex"].isna().sum() >= 50 and cohort["level_of_care"].notna().all()
            with Engine.open(URL, table=table, today=TODAY) as pg:
                assert_same_cohort(cohort, pg)
        finally:
            con.execute(f'DROP TABLE "{table}"')


def test_postgres_errors_are_sentences():
    with pytest.raises(EngineError, match="--table"):
        Engine.open(URL)
    with pytest.raises(EngineError, match="Cannot read table 'no_such_table'"):
        Engine.open(URL, table="no_such_table")
    with pytest.raises(ValueError, match="Cannot connect to the PostgreSQL database"):
        Engine.open("postgresql://nobody@127.0.0.1:1/none", table="episodes")


def test_command_line_on_a_postgres_table_equals_the_file():
    """``outcomes postgresql://... --table`` gives the numbers of the same rows read from the CSV file;
    ``check`` reads the same rows; the password never reaches the output."""
    import contextlib
    import io
    import json

    from test_engine_cli import assert_same_json

    from analysis.cli import main

    def run(argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()

    args = ["--adjust", "sex,co_occurring,age", "--json"]
    code, out, err = run(["outcomes", URL, "--table", "episodes_sample", *args])
    assert code == 0, err
    want_code, want, want_err = run(["outcomes", str(SAMPLE), *args])
    assert want_code == 0, want_err
    got, want = json.loads(out), json.loads(want)
    assert got["source"]["file"].startswith("episodes_sample (postgresql://") and got["source"]["rows_read"] == 5000
    for payload in (got, want):
        payload.pop("source")
        payload.pop("columns")  # the table's columns are typed (DATE, INTEGER): described as stored
    assert_same_json(got, want)
    # compare: its publication from the server's counts, the two groups' rows fetched by the server's own text of
    # the grouping column (a numeric grouping, prior treatments, differed in one disclosure note: the server's dates,
    # test_publication_from_postgres_equals_the_files; its publication takes 3 minutes, so it is not run here)
    for cmp_args in (["--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust", "sex,age,payer"],):
        code, out, err = run(["compare", URL, "--table", "episodes_sample", *cmp_args, "--json"])
        assert code == 0, err
        want_code, want, want_err = run(["compare", str(SAMPLE), *cmp_args, "--json"])
        assert want_code == 0, want_err
        got, want = json.loads(out), json.loads(want)
        assert got.pop("source")["rows_read"] == want.pop("source")["rows_read"] == 5000
        assert got["n"] == want["n"] and len(got["n"]) == 2 and all(v > 0 for v in got["n"].values())
        assert_same_json(got, want)
    code, out, err = run(["check", URL, "--table", "episodes_sample"])
    assert code == 0 and "Rows read:     5,000" in out, err
    code, out, err = run(["check", URL, "--table", "no_such_table"])
    assert code == 2 and "Traceback" not in err + out


@pytest.mark.parametrize("table", ["episodes_sample", "episodes_sample_text"])
def test_publication_from_postgres_equals_the_files(table):
    """Every count the app publishes (the whole ledger: quarterly trends among them) and every decision of the
    disclosure plan, from the server's counts and from the file's. The server's DATE columns came back as Python
    dates, so the quarters' collapse read as "no discharge dates": the warehouse's Overview had no trends and its
    suppression differed from the file's (compare by prior treatments: one note)."""
    from analysis.disclosure import Publication

    pubs = {}
    for name, source in (("pg", dict(source=URL, table=table)), ("file", dict(source=SAMPLE))):
        with Engine.open(source.pop("source"), today=TODAY, **source) as engine:
            pubs[name] = Publication.build(engine.counts(), by="level_of_care", min_cell=11,
                                           horizons=(30, 90, 180, 365), days=(0,))
    pg, file = pubs["pg"], pubs["file"]
    trend = pg.raw.trends["level_of_care"].table
    assert len(trend) > 100 and set(trend["metric"]) >= {"completion_all", "relapse", "median_stay"}
    assert_same(file.raw.trends["level_of_care"].table, trend)
    assert {c.text(): v.value for c, v in pg.ledger.cells.items()} == {c.text(): v.value for c, v in file.ledger.cells.items()}
    quarters = [c for c in pg.ledger.cells if c.measure.startswith("quarter_")]
    assert len(quarters) > 500
    assert {c.text(): s for c, s in pg.plan.status.items()} == {c.text(): s for c, s in file.plan.status.items()}
    assert pg.plan.notes == file.plan.notes


def test_a_real_cohort_in_typed_columns_equals_the_file():
    """A warehouse table types its columns: UIS (tests/data/real_cohorts/uis.csv) as INTEGER (the CENSOR flag, the
    TREAT arm, TIME) and DOUBLE PRECISION (AGE, BECK, IVHX with blanks). The relapse flag's lookup once joined an
    integer to text, which PostgreSQL refuses ("operator does not exist: integer = text"); now the same JSON as
    the CSV (Cox on 591 episodes, as R's coxph)."""
    import contextlib
    import io
    import json

    import psycopg
    from test_engine_cli import assert_same_json

    from analysis.cli import main

    frame = pd.read_csv(ROOT / "tests" / "data" / "real_cohorts" / "uis.csv")
    columns = ", ".join(f'"{c}" {"DOUBLE PRECISION" if frame[c].dtype.kind == "f" else "INTEGER"}' for c in frame)
    with psycopg.connect(URL, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS uis_typed")
        con.execute(f"CREATE TABLE uis_typed ({columns})")
        with con.cursor().copy("COPY uis_typed FROM STDIN") as copy:
            for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
                copy.write_row(row)

    def run(source, *extra):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["outcomes", source, *extra, "--by", "TREAT", "--adjust", "AGE,BECK,IVHX",
                         "--type", "IVHX=categorical", "--json"])
        assert code == 0, err.getvalue()
        payload = json.loads(out.getvalue())
        payload.pop("source")
        payload.pop("columns")
        return payload

    try:
        got = run(URL, "--table", "uis_typed")
    finally:
        with psycopg.connect(URL, autocommit=True) as con:
            con.execute("DROP TABLE IF EXISTS uis_typed")
    want = run(str(ROOT / "tests" / "data" / "real_cohorts" / "uis.csv"))
    assert got["cox"]["n"] == 591 and [g["n"] for g in got["groups"]] == [320, 308]
    assert_same_json(got, want)
