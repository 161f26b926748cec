"""``python -m analysis compare``: the JSON shape of issue #9, equal to the library call; sentences on bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.cohort import derive_cohort
from analysis.comparison import compare_cohort
from analysis.loading import load_episodes

SAMPLE = str(Path(__file__).parent.parent / "sample_data" / "episodes.csv")
COVS = "age,sex,primary_substance,co_occurring,prior_treatments"
ISSUE_KEYS = {"a", "b", "estimand", "origin", "n", "propensity", "balance", "weighted_survival", "relapse_difference",
              "rmst_difference", "weighted_cox", "adjusted_cox", "ph_test", "window_hr", "e_value", "summary"}


@pytest.fixture(scope="module")
def sample_json():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", SAMPLE, "--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust", COVS,
                   "--json"])
    assert rc == 0
    return json.loads(buf.getvalue())


def test_json_has_the_issue_shape_and_the_library_numbers(sample_json):
    d = sample_json
    assert ISSUE_KEYS <= set(d)
    assert (d["a"], d["b"], d["estimand"], d["origin"], d["time_unit"]) == ("iop", "residential", "ate", "discharge", "days")
    assert d["n"] == {"iop": 1396, "residential": 965}
    assert d["excluded"] == [{"reason": "no follow-up time from the chosen origin (e.g. still in treatment)", "n": 21}]
    assert {"c_statistic", "outside_support", "ess"} <= set(d["propensity"])
    assert d["propensity"]["outside_support"] is None  # 9 people: a count under 11 is not shown
    assert {"covariate", "level", "smd_before", "smd_after"} <= set(d["balance"][0])
    assert {"group", "day", "estimate", "lower", "upper"} <= set(d["weighted_survival"][0])
    assert [r["day"] for r in d["relapse_difference"]] == [30, 90, 180, 365]
    assert {"tau", "estimate", "lower", "upper", "p"} <= set(d["rmst_difference"])
    assert {"hr", "lower", "upper", "p"} <= set(d["weighted_cox"]) and {"hr", "lower", "upper", "p"} <= set(d["adjusted_cox"])
    assert d["ph_test"]["holds"] is False and [w["to_day"] for w in d["window_hr"]] == [30, 90, 365]
    assert {"estimate", "limit"} <= set(d["e_value"]) and "conventions" in d and "counts_of_people" in d
    cohort = derive_cohort(load_episodes(SAMPLE).episodes)
    lib = compare_cohort(cohort, by="level_of_care", a="iop", b="residential", adjust=COVS.split(",")).to_dict(min_cell=11)
    for key in ("rmst_difference", "weighted_cox", "adjusted_cox", "window_hr", "relapse_difference", "summary"):
        assert d[key] == lib[key]
    assert d["source"]["rows_read"] == 5000


def test_text_output(capsys):
    rc = main(["compare", SAMPLE, "--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust", "age,sex",
               "--estimand", "att", "--trim", "1,99", "--origin", "admission", "--tau", "180"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "estimand ATT" in out and "from admission" in out
    assert "Relapse-free days in the first 180 (RMST)" in out
    assert "Summary: " in out and "Hazard ratio A vs B, weighted (robust" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--by", "level_of_care", "--a", "IOP", "--b", "residential"], "No episodes with level_of_care = 'IOP' (its groups:"),
    (["--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust", "nope"], "No such column: nope"),
    (["--a", "iop", "--b", "residential"], "--by COL is required"),
    (["--by", "level_of_care", "--a", "iop", "--b", "iop"], "must differ"),
    (["--by", "level_of_care", "--a", "iop", "--b", "residential", "--reference-level", "sex"], "COL=LEVEL"),
    (["--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust", "sex", "--reference-level", "sex=other"],
     "does not occur"),
])
def test_bad_input_is_a_sentence_and_exit_2(capsys, argv, message):
    assert main(["compare", SAMPLE, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_option_values_exit_2(capsys):
    assert main(["compare", SAMPLE, "--by", "level_of_care", "--a", "iop", "--b", "residential", "--trim", "5"]) == 2
    assert "expected 2 percentiles" in capsys.readouterr().err
