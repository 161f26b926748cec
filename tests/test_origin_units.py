"""Origin that fits the file, outcomes not recorded, time units and the user's names on the command line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.cohort import choose_origin, derive_cohort, recorded_outcomes
from analysis.loading import load_frame
from analysis.report import outcomes_report


def _durations(with_los: bool) -> pd.DataFrame:
    n = 40
    frame = pd.DataFrame({"ARM": ["a", "b"] * (n // 2), "TIME": [str(5 + 3 * i) for i in range(n)],
                          "EVENT": [str(i % 2) for i in range(n)]})
    if with_los:
        frame["LOS"] = [str(2 + i % 4) for i in range(n)]
    return frame


def test_default_origin_is_discharge_only_where_the_file_records_it():
    no_los = derive_cohort(load_frame(_durations(False), by="ARM").episodes)
    assert choose_origin(no_los)[0] == "admission"
    with pytest.raises(ValueError, match="Use the origin admission"):
        choose_origin(no_los, "discharge")
    with_los = derive_cohort(load_frame(_durations(True), mapping={"los_days": "LOS"}, by="ARM").episodes)
    origin, reason = choose_origin(with_los)
    assert origin == "discharge" and "length of stay" in reason
    assert choose_origin(with_los, "admission") == ("admission", "time from admission, as chosen")


def test_not_recorded_is_null_with_a_note_never_zero():
    cohort = derive_cohort(load_frame(_durations(False), by="ARM").episodes)
    assert recorded_outcomes(cohort) == {"completion": False, "discharge_reasons": False, "length_of_stay": False}
    d = outcomes_report(cohort, by="ARM").to_dict()
    assert all(g["completion_rate"] is None for g in d["groups"])
    assert "completion" in d["not_recorded"]
    assert any("rather than 0%" in n for n in d["notes"])
    assert "not recorded" in outcomes_report(cohort, by="ARM").to_text()


def test_hand_worked_times_in_weeks():
    """Six people, times in weeks: 1, 2, 2+, 3, 4+, 5 (event/censored). KM at 2 weeks = (5/6)(4/5) = 2/3; median 3
    weeks; RMST to 4 weeks = 1*1 + 1*(5/6) + 2*(2/3)... computed below by hand."""
    raw = pd.DataFrame({"arm": ["x"] * 6 + ["y"] * 6, "weeks": ["1", "2", "2", "3", "4", "5"] * 2,
                        "relapse": ["1", "1", "0", "1", "0", "1"] * 2})
    result = load_frame(raw, by="arm")
    assert result.time_unit == "weeks"
    assert result.episodes["days_to_relapse"].tolist()[:3] == [7.0, 14.0, 14.0]
    report = outcomes_report(derive_cohort(result.episodes), by="arm", horizons=[2], tau=4)
    d = report.to_dict(min_cell=1)
    g = d["groups"][0]
    assert g["survival"][0]["time"] == 2 and g["survival"][0]["day"] == 14
    assert g["survival"][0]["estimate"] == pytest.approx(2 / 3)
    assert g["median"] == 3 and g["median_days"] == 21
    # S = 1 on [0,1), 5/6 on [1,2), 2/3 on [2,3), 2/3 * 2/3 = 4/9 on [3,4)
    assert g["rmst"]["estimate"] == pytest.approx(1 + 5 / 6 + 2 / 3 + 4 / 9)
    assert d["time_unit"] == "weeks" and g["rmst"]["unit"] == "weeks"


def _write(tmp_path, frame, name="cohort.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_cli_names_types_unit_and_origin_sentences(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({"ARM": rng.choice(["ctl", "trt"], n), "AGE": rng.integers(20, 60, n),
                          "SCORE": rng.integers(0, 30, n), "Race": rng.choice(["w", "b", "o"], n),
                          "WEEKS": rng.integers(1, 60, n), "STATUS": rng.choice([1, 2], n)})
    path = _write(tmp_path, frame)
    code = main(["outcomes", path, "--by", "ARM", "--adjust", "AGE,SCORE,Race", "--time-unit", "weeks", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["by"] == "ARM" and d["time_unit"] == "weeks" and d["origin"] == "admission"
    assert [t["term"] for t in d["cox"]["terms"]][:3] == ["ARM[trt]", "AGE", "SCORE"]
    assert any(t["term"].startswith("Race[") for t in d["cox"]["terms"])
    assert any("'2' is the relapse" in n for n in d["load_notes"])
    # an unsupported origin: one sentence naming the one that works
    assert main(["outcomes", path, "--by", "ARM", "--origin", "discharge"]) == 2
    assert "Use the origin admission" in capsys.readouterr().err
    # an unknown column: its name and the columns there are
    assert main(["outcomes", path, "--by", "ARM", "--adjust", "BECK"]) == 2
    assert "no column 'BECK'" in capsys.readouterr().err
    # flipping the event: 1 now means relapse, so the event counts change
    main(["outcomes", path, "--by", "ARM", "--event-value", "1", "--json"])
    flipped = json.loads(capsys.readouterr().out)
    expected = int(((frame["ARM"] == "ctl") & (frame["STATUS"] == 1)).sum())
    if flipped["groups"][0]["events"] is None:  # hidden by the disclosure step (few relapses after the last day
        by_day = [s["events"] for s in flipped["groups"][0]["survival"] if s["events"] is not None]  # shown)
        before = [s["events"] for s in d["groups"][0]["survival"] if s["events"] is not None]
        assert by_day and by_day[-1] <= expected and by_day != before
    else:
        assert flipped["groups"][0]["events"] == expected


def test_check_shows_types_and_saves_a_reusable_mapping(tmp_path, capsys):
    frame = pd.DataFrame({"arm": ["a", "b"] * 15, "ttr": range(1, 31), "event": [0, 1, 1] * 10,
                          "score": [str(i % 7) for i in range(30)]})
    path = _write(tmp_path, frame)
    saved = tmp_path / "mapping.json"
    code = main(["check", path, "--by", "arm", "--type", "score=categorical", "--time-unit", "months",
                 "--save-mapping", str(saved)])
    text = capsys.readouterr().out
    assert code == 0
    assert "days_to_relapse <- ttr" in text and "score" in text and "categorical" in text
    spec = json.loads(saved.read_text())
    assert spec["types"] == {"score": "categorical"} and spec["time_unit"] == "months" and spec["by"] == "arm"
    main(["outcomes", path, "--mapping", str(saved), "--adjust", "score", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["time_unit"] == "months" and d["by"] == "arm"
    assert sum(t["term"].startswith("score[") for t in d["cox"]["terms"]) == 6


def test_help_documents_unmapping(capsys):
    main(["outcomes", "--help"])
    assert "CANONICAL= with nothing after '=' unmaps" in " ".join(capsys.readouterr().out.split())
