"""Column types and roles from content; overrides; typed extra columns; covariate warnings; the Cox model
fits numeric covariates linearly (hand-made files with known answers)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import derive_cohort
from analysis.columns import covariate_warnings, describe_columns, infer_type
from analysis.loading import load_frame
from analysis.report import outcomes_report


@pytest.mark.parametrize("values,expected", [
    (["0", "1", "1", None], "binary"),
    (["yes", "No", " YES "], "binary"),
    ([True, False, True], "binary"),
    (["1", "2", "2", "1"], "categorical"),          # two numbers other than 0/1: a code
    (["3", "-1.5", "1,234", "7"], "numeric"),
    ([str(v) for v in range(30)] + ["unknown"], "numeric"),   # >= 90% numbers: the rest set missing
    (["2024-01-05", "01/02/2024", "2024-03-01"], "date"),
    (["a", "b", "a", "c"], "categorical"),
    ([f"P{i:04d}" for i in range(40)], "id"),
    ([None, "", "  "], "text"),                     # empty
])
def test_infer_type_from_content(values, expected):
    assert infer_type(pd.Series(values, dtype=object if not isinstance(values[0], bool) else bool))[0] == expected


def test_consecutive_whole_numbers_are_an_id_but_a_measurement_is_not():
    assert infer_type(pd.Series(range(1, 101)), "ID")[0] == "id"
    assert infer_type(pd.Series(np.linspace(10, 50, 100)), "bmi")[0] == "numeric"


def _duration_frame(n=60, seed=3):
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "A", "B")
    score = rng.integers(0, 40, n)
    time = rng.integers(1, 200, n)
    event = rng.integers(0, 2, n)
    return pd.DataFrame({"ARM": arm, "SCORE": score.astype(str), "SITE_CODE": np.where(score > 20, "x", "y"),
                         "FLAG": np.where(score % 3 == 0, "yes", "no"), "TIME": time.astype(str),
                         "CENSOR": event.astype(str)})


def test_extra_columns_are_typed_in_the_episode_table():
    result = load_frame(_duration_frame(), by="ARM")
    ep = result.episodes
    assert ep["SCORE"].dtype == "float64"
    assert str(ep["FLAG"].dtype) == "boolean"
    assert ep["SITE_CODE"].dtype == object
    info = {i.source: i for i in result.columns}
    assert (info["SCORE"].role, info["SCORE"].type) == ("covariate", "numeric")
    assert (info["ARM"].role, info["ARM"].type) == ("grouping", "categorical")
    assert info["TIME"].name == "days_to_relapse" and info["CENSOR"].name == "relapsed"


def test_numeric_covariate_enters_the_cox_model_linearly():
    """One coefficient per unit of SCORE, equal to a fit on the float column (not one per distinct value)."""
    result = load_frame(_duration_frame(), by="ARM")
    cohort = derive_cohort(result.episodes)
    report = outcomes_report(cohort, by="ARM", adjust=["SCORE"], labels=result.display_names)
    assert report.cox.terms["term"].tolist() == ["ARM[B]", "SCORE"]
    coded = _duration_frame(n=300)
    coded["SCORE"] = (coded["SCORE"].astype(int) % 4).astype(str)
    linear = outcomes_report(derive_cohort(load_frame(coded, by="ARM").episodes), by="ARM", adjust=["SCORE"])
    as_text = load_frame(coded, by="ARM", column_types={"SCORE": "categorical"})
    report_cat = outcomes_report(derive_cohort(as_text.episodes), by="ARM", adjust=["SCORE"])
    assert linear.cox.terms["term"].tolist() == ["ARM[B]", "SCORE"]
    # one dummy per value against the most frequent one: what --type SCORE=categorical asks for
    assert len(report_cat.cox.terms) == 4 and report_cat.cox.terms["term"].str.startswith("SCORE[").sum() == 3
    assert as_text.column_types == {"SCORE": "categorical"}


def test_override_by_canonical_name_and_contradiction():
    raw = _duration_frame()
    infos = describe_columns(raw, {"days_to_relapse": "TIME"}, {"SCORE": "categorical"})
    assert {i.source: i.type for i in infos}["SCORE"] == "categorical"
    with pytest.raises(ValueError, match="unmap the field with --map days_to_relapse="):
        describe_columns(raw, {"days_to_relapse": "TIME"}, {"days_to_relapse": "categorical"})
    with pytest.raises(ValueError, match="Unknown column type"):
        describe_columns(raw, {}, {"SCORE": "float"})
    bad = load_frame(raw, column_types={"NOPE": "numeric"}, by="ARM")
    assert "not in the file: NOPE" in bad.report.fatal


def test_value_that_does_not_fit_the_type_is_set_missing_with_a_warning():
    raw = _duration_frame()
    raw.loc[4, "SCORE"] = "n/k"
    result = load_frame(raw, by="ARM", column_types={"SCORE": "numeric"})
    warn = result.report.problems.query("column == 'SCORE'")
    assert warn[["row", "rule", "severity"]].values.tolist() == [[6, "non_numeric_value", "warning"]]
    assert np.isnan(result.episodes.loc[4, "SCORE"])


def test_covariate_warnings_say_what_to_do():
    data = pd.DataFrame({"many": [f"l{i % 25}" for i in range(200)], "rare": ["a"] * 195 + ["b"] * 5,
                         "num": np.arange(200.0)})
    notes = covariate_warnings(data, ["many", "rare", "num"], min_cell=11, labels={"rare": "RARE"})
    assert len(notes) == 2
    assert "many has 25 levels" in notes[0] and "--type many=numeric" in notes[0]
    assert notes[1].startswith("RARE has level(s) with fewer than 11 people (b)") and "Merge" in notes[1]


def test_cox_notes_and_covariate_warnings_reach_the_report():
    raw = _duration_frame(n=80)
    raw["RARE"] = ["r"] * 5 + ["s"] * 75
    result = load_frame(raw, by="ARM")
    report = outcomes_report(derive_cohort(result.episodes), by="ARM", adjust=["RARE"])
    assert any("RARE has level(s) with fewer than 11" in n for n in report.to_dict()["notes"])
    assert "notes" in report.to_dict()["cox"] and "converged" in report.to_dict()["cox"]
