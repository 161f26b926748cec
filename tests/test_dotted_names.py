"""Column names with dots (R's exports: sksurv's flchain has ``flc.grp``) are one column each, everywhere.

A column name is one SQL identifier and is never split on its dots (:func:`analysis.engine.backends.quote`);
only a table name a user gives (``--table schema.table``) is (:func:`analysis.engine.backends.quote_table`).
A file whose grouping column, Cox covariate and a dropped column have dots gives the numbers of the same
file with the dots replaced by underscores; those numbers are checked against lifelines.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.engine.backends import quote, quote_table, table_parts

#: dotted name -> the same column with an underscore
DOTTED = {"flc.grp": "flc_grp", "kappa.x": "kappa_x", "lambda.y": "lambda_y"}


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _cohort(n: int = 150, seed: int = 11) -> pd.DataFrame:
    """Follow-up times that depend on the group and the covariate (so the Cox terms are real numbers)."""
    rng = np.random.default_rng(seed)
    grp = rng.integers(1, 3, n)
    kappa = np.round(rng.normal(1.5, 0.5, n), 3)
    time = np.floor(rng.exponential(220.0 / (0.7 * grp + 0.3 * kappa))) + 1
    return pd.DataFrame({"futime": time.astype(int), "death": (rng.random(n) < 0.7).astype(int),
                         "sex": rng.choice(["F", "M"], n), "flc.grp": grp, "kappa.x": kappa,
                         "lambda.y": np.round(rng.normal(2.0, 1.0, n), 3)})


def _files(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    frame = _cohort()
    dotted, plain = tmp_path / "dotted.csv", tmp_path / "plain.csv"
    frame.to_csv(dotted, index=False)
    frame.rename(columns=DOTTED).to_csv(plain, index=False)
    return dotted, plain, frame


def _args(names: dict[str, str]) -> list[str]:
    return ["--map", "relapsed=death", "--by", names["flc.grp"], "--adjust", f"{names['kappa.x']},sex",
            "--drop", names["lambda.y"]]


def _undotted(value):
    """``value`` (a JSON document) with the underscore names written with their dots."""
    if isinstance(value, dict):
        return {_undotted(k): _undotted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undotted(v) for v in value]
    if isinstance(value, str):
        for dotted, plain in DOTTED.items():
            value = value.replace(plain, dotted)
    return value


def _outcomes(path: Path, names: dict[str, str], *more: str) -> dict:
    code, out, err = _run(["outcomes", path, *more, *_args(names), "--json", "--min-cell", "1"])
    assert code == 0, err
    return json.loads(out)


def _same(a, b, where="$"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (where, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= 1e-12 * max(1.0, abs(a)), (where, a, b)
    else:
        assert a == b, (where, a, b)


# -- quoting ------------------------------------------------------------------------------------------------


def test_a_column_name_is_one_identifier():
    assert quote("flc.grp") == '"flc.grp"'
    assert quote("a.b.c") == '"a.b.c"'
    assert quote('say "hi"') == '"say ""hi"""'
    assert quote("größe x.1") == '"größe x.1"'
    assert quote("") == '""'


def test_a_table_name_keeps_its_schema():
    assert quote_table("episodes") == '"episodes"'
    assert quote_table("analytics.episodes") == '"analytics"."episodes"'
    assert quote_table("db.analytics.episodes") == '"db"."analytics"."episodes"'
    assert table_parts('"my.schema"."ep.2024"') == ["my.schema", "ep.2024"]
    assert table_parts('"say ""hi"""') == ['say "hi"']
    assert quote_table('"v1.episodes"') == '"v1.episodes"'
    for bad in ("", "a.", ".a", "a..b", '"open', '"a"b'):
        with pytest.raises(ValueError):
            table_parts(bad)


def test_a_dotted_column_round_trips_through_duckdb():
    import duckdb

    con = duckdb.connect()
    names = ["flc.grp", 'q"uote.d', "spa ce.s", "größe.x", "a.b.c"]
    con.execute("CREATE TABLE t AS SELECT " + ", ".join(f"{k} AS {quote(n)}" for k, n in enumerate(names)))
    row = con.execute("SELECT " + ", ".join(quote(n) for n in names) + " FROM t").fetchone()
    assert row == tuple(range(len(names)))
    assert [r[0] for r in con.execute("DESCRIBE t").fetchall()] == names
    con.close()


# -- the command line ---------------------------------------------------------------------------------------


def test_the_reported_file_is_read(tmp_path):
    """The file of the report: a sentence about the data, never a DuckDB binder error; --drop works too."""
    path = tmp_path / "d.csv"
    path.write_text("futime,death,sex,flc.grp\n10,1,F,1\n20,0,M,2\n30,1,F,1\n")
    for more in ([], ["--drop", "flc.grp"]):
        code, out, err = _run(["check", path, "--by", "sex", *more])
        assert "Binder" not in out + err and "Traceback" not in out + err
        assert "Rows read:     3" in out  # (no relapse column: refused with a sentence, as any such file)
        assert ("flc.grp" in out.split("Rows read")[0]) is not bool(more)
    code, out, err = _run(["check", path, "--by", "flc.grp", "--map", "relapsed=death"])
    assert code == 0, out + err
    assert "flc.grp" in out and "Rows accepted: 3" in out


def test_check_with_dotted_names(tmp_path):
    dotted, plain, _ = _files(tmp_path)
    reports = {}
    for path, names in ((dotted, {k: k for k in DOTTED}), (plain, DOTTED)):
        args = [a for a in _args(names) if a not in ("--adjust",) and "," not in a]
        code, out, err = _run(["check", path, *args])
        assert code == 0, out + err
        reports[path.name] = out
    out = reports["dotted.csv"]
    assert "flc.grp" in out and "kappa.x" in out and "Rows accepted: 150" in out
    assert "Dropped at your request: 'lambda.y'" in out
    assert "lambda.y" not in out.split("Rows read")[0]  # not among the columns read
    # the same report, but for the file's name, digest and column names
    body = lambda text: [ln for ln in text.splitlines() if not ln.startswith("File:")]  # noqa: E731
    assert body(out) == body(_undotted(reports["plain.csv"]))


def test_outcomes_with_dotted_names_equal_the_underscored_file(tmp_path):
    dotted, plain, frame = _files(tmp_path)
    got = _outcomes(dotted, {k: k for k in DOTTED})
    want = _undotted(_outcomes(plain, DOTTED))
    assert got["by"] == "flc.grp"
    assert [g["group"] for g in got["groups"]] == ["1", "2"]
    assert "lambda.y" not in got["columns"] and "kappa.x" in got["columns"]
    terms = {t["term"]: t for t in got["cox"]["terms"]}
    assert got["cox"]["reference"]["flc.grp"] == "1"
    other = "M" if got["cox"]["reference"]["sex"] == "F" else "F"
    assert set(terms) == {"flc.grp[2]", "kappa.x", f"sex[{other}]"}
    for key in ("groups", "logrank", "pairwise_logrank", "cox", "columns", "n_episodes", "n_used"):
        _same(got[key], want[key], key)

    # the numbers themselves (lifelines, on the rows as written)
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    grp = frame["flc.grp"]
    lr = logrank_test(frame.futime[grp == 1], frame.futime[grp == 2], frame.death[grp == 1], frame.death[grp == 2])
    assert got["logrank"]["statistic"] == pytest.approx(lr.test_statistic, rel=1e-9)
    assert got["logrank"]["p"] == pytest.approx(lr.p_value, rel=1e-9)
    design = pd.DataFrame({"T": frame.futime, "E": frame.death, "grp2": (grp == 2).astype(float),
                           "kappa": frame["kappa.x"], "sex": (frame.sex == other).astype(float)})
    fit = CoxPHFitter().fit(design, "T", "E")
    hr = np.exp(fit.params_)
    assert terms["flc.grp[2]"]["hr"] == pytest.approx(hr["grp2"], rel=1e-6)
    assert terms["kappa.x"]["hr"] == pytest.approx(hr["kappa"], rel=1e-6)
    assert terms[f"sex[{other}]"]["hr"] == pytest.approx(hr["sex"], rel=1e-6)
    assert terms["flc.grp[2]"]["hr"] > 1.0  # (group 2 relapses sooner, as made)
    # Kaplan-Meier of group 1 at 90 days
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(frame.futime[grp == 1], frame.death[grp == 1])
    at_90 = next(s for s in got["groups"][0]["survival"] if s["time"] == 90)
    assert at_90["estimate"] == pytest.approx(float(km.survival_function_at_times(90).iloc[0]), rel=1e-12)


def test_compare_with_dotted_names(tmp_path):
    dotted, plain, _ = _files(tmp_path)
    docs = []
    for path, names in ((dotted, {k: k for k in DOTTED}), (plain, DOTTED)):
        code, out, err = _run(["compare", path, *_args(names), "--a", "1", "--b", "2",
                               "--reference-level", "sex=F", "--json", "--min-cell", "1"])
        assert code == 0, err
        docs.append(json.loads(out))
    got, want = docs[0], _undotted(docs[1])
    got.pop("source"), want.pop("source")
    _same(got, want)


def test_other_readers_with_dotted_names(tmp_path):
    """Parquet and a DuckDB database file (its table in main, in a schema as ``schema.table``, and with a dot in
    its own name) give the CSV file's numbers."""
    import duckdb

    dotted, _, frame = _files(tmp_path)
    want = _outcomes(dotted, {k: k for k in DOTTED})
    frame.to_parquet(tmp_path / "dotted.parquet", index=False)
    db = tmp_path / "cohorts.duckdb"
    con = duckdb.connect(str(db))
    con.register("f", frame)
    con.execute("CREATE TABLE episodes AS SELECT * FROM f")
    con.execute("CREATE SCHEMA study")
    con.execute("CREATE TABLE study.flchain AS SELECT * FROM f")
    con.execute('CREATE TABLE "v1.episodes" AS SELECT * FROM f')
    con.close()
    runs = {"parquet": [tmp_path / "dotted.parquet"], "main": [db, "--table", "episodes"],
            "schema": [db, "--table", "study.flchain"], "quoted": [db, "--table", '"study"."flchain"'],
            "dotted_table": [db, "--table", "v1.episodes"]}
    for label, source in runs.items():
        got = _outcomes(source[0], {k: k for k in DOTTED}, *source[1:])
        for key in ("groups", "logrank", "cox", "n_used"):
            _same(got[key], want[key], f"{label}.{key}")
    assert _outcomes(db, {k: k for k in DOTTED}, "--table", "study.flchain")["source"]["file"] == \
        "cohorts.duckdb:study.flchain"
    code, out, err = _run(["check", db, "--table", "study.nothing", "--map", "relapsed=death"])
    assert code == 2 and "has no table 'study.nothing'" in out + err
    assert "study.flchain" in out + err and "v1.episodes" in out + err  # (the tables it has are listed)


@pytest.mark.skipif(not os.environ.get("CONTINUUM_TEST_POSTGRES_URL"),
                    reason="no PostgreSQL server configured (CONTINUUM_TEST_POSTGRES_URL; bash .ci/run starts one)")
def test_postgres_schema_table_with_dotted_columns(tmp_path):
    """``--table schema.table`` in PostgreSQL (the one place a name is split) with dotted column names. (The coded
    columns are TEXT, as in a staging table: an INTEGER relapse or grouping column fails in PostgreSQL whatever
    its name, ``integer = text`` in the join of its lookup, a defect of its own.)"""
    import psycopg

    url = os.environ["CONTINUUM_TEST_POSTGRES_URL"]
    dotted, _, frame = _files(tmp_path)
    types = {"futime": "INTEGER", "death": "TEXT", "sex": "TEXT", "flc.grp": "TEXT",
             "kappa.x": "DOUBLE PRECISION", "lambda.y": "DOUBLE PRECISION"}
    with psycopg.connect(url, autocommit=True) as con, con.cursor() as cur:
        cur.execute('DROP SCHEMA IF EXISTS "dotted.test" CASCADE')
        cur.execute('CREATE SCHEMA "dotted.test"')
        cur.execute(f'CREATE TABLE "dotted.test".flchain ({", ".join(f"{quote(c)} {t}" for c, t in types.items())})')
        with cur.copy('COPY "dotted.test".flchain FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(frame.to_csv(index=False, header=False))
    try:
        want = _outcomes(dotted, {k: k for k in DOTTED})
        got = _outcomes(url, {k: k for k in DOTTED}, "--table", '"dotted.test".flchain')
        for key in ("logrank", "cox", "n_used"):
            _same(got[key], want[key], key)
        for g, w in zip(got["groups"], want["groups"], strict=True):
            _same(g["survival"], w["survival"], g["group"])
    finally:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute('DROP SCHEMA IF EXISTS "dotted.test" CASCADE')
