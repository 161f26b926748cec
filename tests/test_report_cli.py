"""The outcomes report and the command line: JSON shape, same numbers as the functions, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.cohort import derive_cohort
from analysis.loading import load_episodes
from analysis.relapse import relapse_survival_data
from analysis.report import outcomes_report
from analysis.retention import completion_rates
from analysis.survival import km_by_group, logrank, median_survival, rmst_by_group, survival_at

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(scope="module")
def sample_cohort():
    result = load_episodes(SAMPLE)
    assert result.report.exit_code == 0
    return derive_cohort(result.episodes)


@pytest.fixture(scope="module")
def sample_json():
    out = subprocess.run([sys.executable, "-m", "analysis", "outcomes", str(SAMPLE), "--json",
                          "--adjust", "age,co_occurring"], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout)


def test_json_shape(sample_json):
    d = sample_json
    assert d["by"] == "level_of_care" and d["origin"] == "discharge" and d["n_episodes"] == 5000
    assert [g["group"] for g in d["groups"]] == ["detox", "inpatient", "residential", "php", "iop", "op"]
    g = d["groups"][4]
    assert set(g) >= {"group", "n", "events", "median_days", "median_ci", "survival", "rmst", "completion_rate"}
    assert [s["day"] for s in g["survival"]] == [30, 90, 180, 365]
    assert set(g["survival"][0]) >= {"day", "estimate", "lower", "upper", "at_risk"}
    assert g["rmst"]["tau"] == 365 and set(g["completion_rate"]) == {"estimate", "lower", "upper"}
    assert set(d["logrank"]) == {"statistic", "df", "p"} and d["logrank"]["df"] == 5
    terms = [t["term"] for t in d["cox"]["terms"]]
    assert "level_of_care[iop]" in terms and "age" in terms and "co_occurring[True]" in terms
    assert d["cox"]["reference"]["level_of_care"] == "residential"


def test_json_numbers_equal_the_functions(sample_json, sample_cohort):
    data = relapse_survival_data(sample_cohort, origin="discharge")
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    at = survival_at(km, [30, 90, 180, 365]).set_index(["group", "day"])
    med = median_survival(km).set_index("group")
    rm = rmst_by_group(km, tau=365).set_index("group")
    comp = completion_rates(sample_cohort).set_index("group")
    lr = logrank(data, time_col="time", event_col="event", group_col="group")
    shown_rows = 0
    for g in sample_json["groups"]:
        name = g["group"]
        mine = data[data["group"] == name]
        assert g["n"] == len(mine)
        for s in g["survival"]:
            if s["estimate"] is not None:
                assert s["estimate"] == pytest.approx(at.loc[(name, s["day"]), "survival"], abs=1e-12)
                assert s["lower"] == pytest.approx(at.loc[(name, s["day"]), "ci_lower"], abs=1e-12)
            if s["at_risk"] is not None:  # published counts: after the day / by the day, adding up to n
                shown_rows += 1
                assert s["at_risk"] == int((mine["time"] > s["day"]).sum())
                assert s["events"] == int(((mine["event"] == 1) & (mine["time"] <= s["day"])).sum())
                assert s["censored"] == int(((mine["event"] != 1) & (mine["time"] <= s["day"])).sum())
                assert s["at_risk"] + s["events"] + s["censored"] == g["n"]
        if g["median_days"] is not None:
            assert g["median_days"] == med.loc[name, "median_days"]
        assert g["rmst"]["estimate"] == pytest.approx(rm.loc[name, "rmst_days"], abs=1e-9)
        assert g["completion_rate"]["estimate"] == pytest.approx(comp.loc[name, "completion_rate"], abs=1e-12)
    assert shown_rows >= 12  # most day rows of the sample are shown
    assert sample_json["logrank"]["statistic"] == pytest.approx(lr.statistic, abs=1e-9)


def test_small_groups_are_suppressed(sample_cohort):
    small = pd.concat([sample_cohort[sample_cohort["level_of_care"] != "inpatient"],
                       sample_cohort[sample_cohort["level_of_care"] == "inpatient"].head(8)])
    d = outcomes_report(small).to_dict(min_cell=11)
    inpatient = next(g for g in d["groups"] if g["group"] == "inpatient")
    assert inpatient["suppressed"] and inpatient["n"] is None and inpatient["median_days"] is None
    assert all(s["estimate"] is None for s in inpatient["survival"])
    assert inpatient["rmst"]["estimate"] is None and inpatient["completion_rate"]["estimate"] is None
    assert "<11" in outcomes_report(small).to_text()


def test_admission_origin_with_duration_file(tmp_path):
    frame = pd.DataFrame({"arm": ["A"] * 30 + ["B"] * 30, "los_days": [30] * 60,
                          "days_to_relapse": list(range(10, 40)) * 2, "relapsed": [1, 0] * 30})
    path = tmp_path / "durations.csv"
    frame.to_csv(path, index=False)
    code = main(["outcomes", str(path), "--by", "arm", "--origin", "admission", "--json", "--horizons", "20"])
    assert code == 0


def _write(tmp_path, text: str, name: str = "f.csv") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD = ("episode_id,level_of_care,admission_date,discharge_date,discharge_reason,relapse_date,last_contact_date\n"
        "1,IOP,2024-01-05,2024-03-30,completed,,2024-12-01\n")


@pytest.mark.parametrize("text,expected", [
    (GOOD, 0),
    (GOOD + "2,IOP,2024-01-05,2023-03-30,completed,,2024-12-01\n", 1),  # discharge before admission
    (GOOD + "3,Spa,2024-01-05,2024-03-30,completed,,2024-12-01\n", 1),  # unknown level
    (GOOD + "1,IOP,2024-01-05,2024-03-30,completed,,2024-12-01\n", 1),  # duplicate id
    (GOOD + "4,IOP,2024-01-05,2099-03-30,completed,,2024-12-01\n", 1),  # future
    (GOOD + "5,IOP,yesterday,2024-03-30,completed,,2024-12-01\n", 1),  # unparseable
    ("level_of_care,colour\nIOP,red\n", 2),  # required column missing
    ("level_of_care,admission_date\n", 2),  # no rows
    ("name,level_of_care,admission_date\nJo Smith,IOP,2024-01-01\n", 2),  # identifier
    ("", 2),  # empty file
])
def test_check_exit_codes(tmp_path, capsys, text, expected):
    assert main(["check", _write(tmp_path, text)]) == expected
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


def test_check_with_map_and_by(tmp_path, capsys):
    path = _write(tmp_path, "arm,start,end\nA,2024-01-01,2024-02-01\nB,2024-01-01,2024-02-01\n")
    assert main(["check", path, "--map", "admission_date=start", "--map", "discharge_date=end", "--by", "arm"]) == 0
    assert "Rows accepted: 2" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["check"], ["check", "/no/such/file.csv"], ["outcomes", "/no/such.csv"],
                                  ["check", "x.csv", "--map", "oops"], ["frobnicate"]])
def test_cli_never_tracebacks(argv, capsys):
    assert main(argv) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err


def test_text_p_values_never_read_zero():
    """A p-value that underflows to 0 (flchain's age in a Cox model: R prints < 2e-16) reads as below a bound."""
    from analysis.report import _p

    assert (_p(0.0), _p(5e-324), _p(2.05e-05), _p(0.0223), _p(None)) == (
        "< 1e-300", "< 1e-300", "= 2.05e-05", "= 0.0223", "= -")


def test_the_source_block_shows_no_small_count(capsys, tmp_path):
    """``outcomes``' source block (rows read, accepted, excluded): 3 rows excluded of 5,000 would show a count of 3
    directly and by subtraction; a one-row file its 1. Hidden, with one more of the three where needed."""
    from analysis.provenance import published_rows

    assert published_rows(5000, 4997, 3, 11) == {"rows_read": None, "rows_accepted": 4997, "rows_excluded": None}
    assert published_rows(5000, 5000, 0, 11) == {"rows_read": 5000, "rows_accepted": 5000, "rows_excluded": 0}
    assert published_rows(5000, 4950, 50, 11) == {"rows_read": 5000, "rows_accepted": 4950, "rows_excluded": 50}
    assert published_rows(1, 1, 0, 11) == {"rows_read": None, "rows_accepted": None, "rows_excluded": 0}
    assert published_rows(20, 5, 15, 11) == {"rows_read": None, "rows_accepted": None, "rows_excluded": 15}
    raw = pd.read_csv(Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv")
    raw.loc[[10, 20, 30], "admission_date"] = "not a date"
    path = tmp_path / "three_bad.csv"
    raw.to_csv(path, index=False)
    assert main(["outcomes", str(path), "--json"]) in (0, 1)
    source = json.loads(capsys.readouterr().out)["source"]
    assert (source["rows_read"], source["rows_accepted"], source["rows_excluded"]) == (None, 4997, None)
    assert main(["outcomes", str(path)]) in (0, 1)
    assert "rows read suppressed, accepted 4,997, excluded suppressed" in capsys.readouterr().out
