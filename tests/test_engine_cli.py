"""The command line through the engine gives the pandas path's numbers on every file the tests use.

Each run is made twice in one process: as shipped (``open_engine``: the source read, checked and derived
in DuckDB, the statistics on the cohort the engine hands over) and with the pandas path swapped in
(``load_episodes`` + ``derive_cohort``, the loading that served the command line before the engine).
The JSON documents must agree key for key, numbers to 1e-12; ``check`` prints the same report.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

import analysis.cli as cli
import analysis.cli_compare as cli_compare
import analysis.cli_outcomes as cli_outcomes
from analysis.cohort import derive_cohort
from analysis.loading import load_episodes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"
REAL = ROOT / "tests" / "data" / "real_cohorts"
TOL = 1e-12

RUNS = {
    "sample": (SAMPLE, ["--adjust", "sex,co_occurring,age,payer"]),
    "sample_admission": (SAMPLE, ["--origin", "admission", "--by", "site", "--adjust", "primary_substance"]),
    "rossi": (REAL / "rossi.csv", ["--by", "fin", "--adjust", "age,prio,wexp,race", "--time-unit", "weeks"]),
    "uis": (REAL / "uis.csv", ["--by", "TREAT", "--adjust", "AGE,BECK,NDRUGTX,SITE,IVHX,RACE",
                               "--type", "IVHX=categorical"]),
    "aids": (REAL / "aids.csv", ["--by", "tx", "--adjust", "age,cd4,karnof,ivdrug,sex"]),
    "aids_parquet": (REAL / "aids.parquet", ["--by", "tx", "--adjust", "age,cd4,karnof,ivdrug,sex"]),
    "whas500": (REAL / "whas500.xlsx", ["--by", "gender", "--adjust", "age,bmi,hr,sysbp,chf,afb",
                                        "--origin", "admission"]),
    "whas500_csv": (REAL / "whas500.csv", ["--by", "gender", "--adjust", "age,bmi,chf", "--origin", "admission"]),
}


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


class _RowsEngine:
    """What the commands ask of an engine, answered by the pandas cohort."""

    def __init__(self, cohort):
        self.cohort = cohort
        self.columns = tuple(cohort.columns)

    def frame(self, columns=None):
        return self.cohort if columns is None else self.cohort[list(columns)]

    def counts(self, spec=None):
        from analysis.counts import FrameCounts

        return FrameCounts(self.cohort)  # the rows themselves (n = 1): the pandas path of every statistic


def _pandas_loader(args, **kwargs):
    """``load_from_args`` as it was before the engine: load_episodes + derive_cohort."""
    from analysis.columns import parse_type_args
    from analysis.mapping import parse_map_args

    result = load_episodes(args.file, mapping=parse_map_args(args.map), by=args.by,
                           column_types=parse_type_args(args.types), time_unit=args.time_unit,
                           event_value=args.event_value, drop_columns=args.drop, keep_columns=args.keep, **kwargs)
    if result.ok:
        object.__setattr__(result, "engine", _RowsEngine(derive_cohort(result.episodes)))
    return result


def _pandas_run(monkeypatch, argv):
    with monkeypatch.context() as m:
        m.setattr(cli_outcomes, "load_from_args", _pandas_loader)
        m.setattr(cli_compare, "load_from_args", _pandas_loader)
        return _run(argv)


def assert_same_json(a, b, path="$"):
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (path, set(a) ^ set(b))
        for k in a:
            assert_same_json(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_json(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        assert abs(a - b) <= TOL * max(1.0, abs(a)), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("name", list(RUNS))
def test_outcomes_json_equals_pandas_path(monkeypatch, name):
    path, args = RUNS[name]
    argv = ["outcomes", str(path), *args, "--json"]
    code, out, err = _run(argv)
    assert code == 0, err
    want_code, want, want_err = _pandas_run(monkeypatch, argv)
    assert want_code == 0, want_err
    got, want = json.loads(out), json.loads(want)
    assert got["cox"] is not None and got["groups"]  # the comparison is about real numbers
    assert_same_json(got, want)


@pytest.mark.parametrize("name", ["sample", "rossi", "aids_parquet"])
def test_outcomes_text_equals_pandas_path(monkeypatch, name):
    path, args = RUNS[name]
    argv = ["outcomes", str(path), *args]
    code, out, err = _run(argv)
    assert code == 0, err
    assert (0, out) == _pandas_run(monkeypatch, argv)[:2]


def test_compare_json_equals_pandas_path(monkeypatch):
    argv = ["compare", str(SAMPLE), "--by", "level_of_care", "--a", "iop", "--b", "residential",
            "--adjust", "age,sex,co_occurring", "--json"]
    code, out, err = _run(argv)
    assert code == 0, err
    want_code, want, want_err = _pandas_run(monkeypatch, argv)
    assert want_code == 0, want_err
    assert_same_json(json.loads(out), json.loads(want))


@pytest.mark.parametrize("name", ["sample", "uis", "aids_parquet", "whas500"])
def test_check_prints_the_pandas_report(monkeypatch, name):
    import analysis.cli_check as cli_check

    path, args = RUNS[name]
    args = [a for a in args if a not in ("--adjust",) and "," not in a or a.startswith("IVHX")]
    argv = ["check", str(path), *[a for a in args if a not in ("--origin", "admission")]]
    code, out, err = _run(argv)
    with monkeypatch.context() as m:
        m.setattr(cli_check, "load_from_args", _pandas_loader)
        want = _run(argv)
    assert (code, out) == want[:2], err


def test_check_messy_file_same_problems(tmp_path, monkeypatch):
    from engine_parity import messy_csv

    import analysis.cli_check as cli_check

    path = tmp_path / "messy.csv"
    path.write_bytes(messy_csv())
    code, out, err = _run(["check", str(path)])
    with monkeypatch.context() as m:
        m.setattr(cli_check, "load_from_args", _pandas_loader)
        want = _run(["check", str(path)])
    assert code == 1 and "duplicate_episode_id" in out
    assert (code, out) == want[:2]


def test_sources_the_pandas_path_cannot_open(tmp_path):
    """A folder of Parquet files and a DuckDB table give the numbers of the same rows in one file."""
    import duckdb
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 2000), folder / "a.parquet")
    pq.write_table(table.slice(2000), folder / "b.parquet")
    pq.write_table(table, tmp_path / "whole.parquet")
    db = tmp_path / "episodes.duckdb"
    con = duckdb.connect(str(db))
    con.register("t", table)
    con.execute("CREATE TABLE episodes AS SELECT * FROM t")
    con.close()
    args = ["--adjust", "sex,age", "--json"]
    runs = {}
    for label, source in (("whole", [str(tmp_path / "whole.parquet")]), ("folder", [str(folder)]),
                          ("glob", [str(folder / "*.parquet")]), ("duckdb", [str(db), "--table", "episodes"])):
        code, out, err = _run(["outcomes", *source, *args])
        assert code == 0, (label, err)
        runs[label] = json.loads(out)
    for label in ("folder", "glob", "duckdb"):
        a, b = dict(runs["whole"]), dict(runs[label])
        a.pop("source"), b.pop("source")
        assert_same_json(a, b, label)
    assert runs["duckdb"]["source"]["file"] == "episodes.duckdb:episodes"
    assert runs["duckdb"]["source"]["rows_read"] == 5000


def test_unreadable_source_is_a_sentence(tmp_path):
    code, out, err = _run(["outcomes", str(tmp_path / "missing.parquet"), "--json"])
    assert code == 2 and err.startswith("error: There is no file") and "Traceback" not in err
    code, out, err = _run(["check", str(tmp_path / "*.parquet")])
    assert code == 2 and "No file matches" in out + err


def _fuzz_file(tmp_path, case: str) -> Path:
    from fuzz_inputs import corpus

    data = next(f.data for f in corpus() if f.case == case)
    path = tmp_path / case.replace("/", "_")
    path.write_bytes(data)
    return path


FUZZ_PARITY = ["lookalike_labels/level_zero_width.csv", "lookalike_labels/level_cyrillic.csv",
               "prior_treatments/prior_1e30.csv", "prior_treatments/prior_1e308.csv", "prior_treatments/prior_2p63.csv",
               "nan_inf/relapse_days_inf.csv", "nan_inf/all_inf.csv", "parquet/struct_level.parquet",
               "parquet/year_3000.parquet", "parquet/year_1.parquet", "bad_dates/relapse_far_future.csv"]


@pytest.mark.parametrize("case", FUZZ_PARITY)
def test_fuzz_files_same_report_and_exit(tmp_path, monkeypatch, case):
    """The new validation rules (date_out_of_range, infinite_duration, implausible_count ...) in the engine:
    ``check`` prints the pandas report and ``outcomes --json`` gives the same exit code and document."""
    import analysis.cli_check as cli_check

    path = _fuzz_file(tmp_path, case)
    for argv in (["check", str(path)], ["outcomes", str(path), "--json"]):
        got = _run(argv)
        with monkeypatch.context() as m:
            m.setattr(cli_check, "load_from_args", _pandas_loader)
            m.setattr(cli_outcomes, "load_from_args", _pandas_loader)
            want = _run(argv)
        assert "Traceback" not in got[2]
        if argv[0] == "check":
            assert got[:2] == want[:2], got[2]
        else:
            assert got[0] == want[0], (got[2], want[2])
            if got[0] == 0:
                assert_same_json(json.loads(got[1]), json.loads(want[1]))
            else:
                assert got[2] == want[2]


def test_fuzz_rules_counted(tmp_path):
    """The counts behind the parity: each new rule fires in the engine on the file made for it."""
    code, out, _ = _run(["check", str(_fuzz_file(tmp_path, "prior_treatments/prior_1e30.csv"))])
    assert code == 0 and "implausible_count" in out
    code, out, _ = _run(["check", str(_fuzz_file(tmp_path, "nan_inf/relapse_days_inf.csv"))])
    assert code == 1 and "infinite_duration" in out
    code, out, _ = _run(["check", str(_fuzz_file(tmp_path, "parquet/year_1.parquet"))])
    assert code == 2 and "date out of range" in out


def test_wide_csv_same_report(tmp_path, monkeypatch):
    """A file of 300 extra columns (read by pyarrow, extra columns' values inline as CASE): the pandas report,
    with a non-number, an invalid yes/no and an unreadable date among the extra columns."""
    import numpy as np
    import pandas as pd

    import analysis.cli_check as cli_check

    base = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).iloc[:60].reset_index(drop=True)
    rng = np.random.default_rng(3)
    extra = pd.DataFrame(rng.integers(0, 9, (60, 300)).astype(str), columns=[f"x{i}" for i in range(300)])
    extra.loc[5, "x1"] = "abc"
    extra["flag"] = np.where(np.arange(60) % 2, "yes", "no")
    extra.loc[7, "flag"] = "maybe"
    extra["seen"] = "2023-01-0" + pd.Series(np.arange(60) % 9 + 1).astype(str)
    extra.loc[9, "seen"] = "2023-13-45"
    path = tmp_path / "wide.csv"
    pd.concat([base, extra], axis=1).to_csv(path, index=False)
    for argv in (["check", str(path)], ["outcomes", str(path), "--json"]):
        got = _run(argv)
        with monkeypatch.context() as m:
            m.setattr(cli_check, "load_from_args", _pandas_loader)
            m.setattr(cli_outcomes, "load_from_args", _pandas_loader)
            want = _run(argv)
        if argv[0] == "check":
            assert got[:2] == want[:2], got[2]
            assert "non_numeric_value" in got[1] and "x1" in got[1]
        else:
            assert got[0] == want[0] == 0, got[2]
            assert_same_json(json.loads(got[1]), json.loads(want[1]))
    # a rule no value of a column can break gets no flag: x1's non-number is flagged, x2 (digits only) has no
    # flag at all (2,000 such columns made 6,000-column tables: 29 s and 1.3 GB for 120 rows)
    from analysis.engine.load import open_engine

    with open_engine(path) as opened:
        flags = {f.flag for f in opened.engine.episodes.flags}
        assert "_w__non_numeric_value__x1" in flags and "_w__non_numeric_value__x2" not in flags
        assert not any(f.endswith("__x2") for f in flags)
        assert sum(f.startswith("_w__thousands_separator__x") for f in flags) == 0
