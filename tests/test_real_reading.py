"""How real survival files are read: event flags, censoring indicators, the time column and its unit.

Files (tests/data/real_cohorts), written as their packages ship them:

* ``gbsg2.csv``: German Breast Cancer Study Group 2 (Schumacher et al. 1994; R's ``TH.data::GBSG2``), 686
  women, from scikit-survival (``sksurv.datasets.load_gbsg2``) with ``cens`` written 0/1 as TH.data ships
  it ("censoring indicator (0 - censored, 1 - event)"): age, estrec, horTh, menostat, pnodes, progrec,
  tgrade, tsize, cens, time (days to recurrence-free survival event or censoring).
* ``veterans.csv``: Veterans' Administration lung cancer trial (Kalbfleisch & Prentice), 137 men, from
  scikit-survival (``load_veterans_lung_cancer``): Age_in_years, Celltype, Karnofsky_score,
  Months_from_Diagnosis, Prior_therapy, Treatment, Status (True = died), Survival_in_days.
* ``larynx.csv``: larynx cancer (Klein & Moeschberger), 90 men, from lifelines (``load_larynx``): time,
  age, death (0/1), Stage_II, Stage_III, Stage_IV.

R references (R 4.2.2, survival 3.5-3), on the files as they are::

    d <- read.csv("gbsg2.csv"); survdiff(Surv(time, cens) ~ horTh, d)
    #   horTh=no 440 observed 205, horTh=yes 246 observed 94; Chisq 8.564780854, p 0.003427282265
    v <- read.csv("veterans.csv"); v$ev <- v$Status == "True"
    summary(survfit(Surv(Survival_in_days, ev) ~ Treatment, v))$table
    #   standard: 69 records, 64 events, median 103; test: 68 records, 64 events, median 52.5
    survdiff(Surv(Survival_in_days, ev) ~ Treatment, v)$chisq   # 0.008227343202
    l <- read.csv("larynx.csv"); survdiff(Surv(time, death) ~ Stage_IV, l)$chisq   # 19.82686073
    #   events 39 (Stage_IV=0), 11 (Stage_IV=1); medians 6.4 and 1.5
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.loading import load_episodes
from analysis.mapping import guess_details
from analysis.parsing import parse_booleans

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "real_cohorts"

GBSG2_EVENTS = {"no": 205, "yes": 94}
GBSG2_CHISQ, GBSG2_P = 8.564780854, 0.003427282265


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def outcomes(capsys, path: Path, *args: str) -> dict:
    code, out, err = run(capsys, "outcomes", path, *args, "--json", "--min-cell", "1")
    assert code == 0, err
    return json.loads(out)


def arms(payload: dict) -> dict[str, dict]:
    return {g["group"]: g for g in payload["groups"]}


@pytest.fixture
def gbsg2_bool(tmp_path) -> dict[str, Path]:
    """GBSG2 with cens as True/False, as scikit-survival holds it: CSV text and a native bool Parquet column."""
    d = pd.read_csv(DATA / "gbsg2.csv")
    d["cens"] = d["cens"].astype(bool)
    d.to_csv(tmp_path / "gbsg2_bool.csv", index=False)
    d.to_parquet(tmp_path / "gbsg2_bool.parquet", index=False)
    return {"csv": tmp_path / "gbsg2_bool.csv", "parquet": tmp_path / "gbsg2_bool.parquet"}


# ------------------------------------------------------------------ B: cens is R's censoring indicator


def test_gbsg2_cens_is_the_event_as_in_R(capsys):
    """cens 1 = event (TH.data, Surv(time, cens)): events and the log-rank test equal R's survdiff."""
    payload = outcomes(capsys, DATA / "gbsg2.csv", "--by", "horTh")
    assert {k: g["events"] for k, g in arms(payload).items()} == GBSG2_EVENTS
    assert {k: g["n"] for k, g in arms(payload).items()} == {"no": 440, "yes": 246}
    assert payload["logrank"]["statistic"] == pytest.approx(GBSG2_CHISQ, abs=1e-8)
    assert payload["logrank"]["p"] == pytest.approx(GBSG2_P, abs=1e-10)
    assert payload["columns"]["cens"]["used_as"] == "relapsed"


def test_check_says_how_cens_is_read_and_how_to_flip_it(capsys):
    code, out, _ = run(capsys, "check", DATA / "gbsg2.csv", "--by", "horTh")
    assert code == 0
    line = next(x for x in out.splitlines() if x.strip().startswith("relapsed <- cens"))
    assert "censoring indicator" in line and "1 = event, 0 = censored" in line
    assert "--event-value 0" in line


def test_the_flip_gives_the_censorings_as_events(capsys):
    flipped = outcomes(capsys, DATA / "gbsg2.csv", "--by", "horTh", "--event-value", "0")
    assert {k: g["events"] for k, g in arms(flipped).items()} == {"no": 440 - 205, "yes": 246 - 94}


@pytest.mark.parametrize("name,values,event_value,words", [
    ("cens", ["1", "0"], None, "censoring indicator"),
    ("CENSOR", ["1", "0"], None, "censoring indicator"),
    ("censored", ["1", "0"], "0", "1 means censored"),
    ("is_censored", ["True", "False"], "False", "1 means censored"),
    ("right_censored", ["yes", "no"], "no", "1 means censored"),
])
def test_censoring_names(name, values, event_value, words):
    """cens/censor are event indicators (R); censored/is_censored/*_censored say 1 = censored."""
    details = guess_details(pd.DataFrame({name: values * 3, "futime": ["10", "20"] * 3}))
    assert details.mapping["relapsed"] == name
    assert details.event_value == event_value
    assert words in next(g.reason for g in details.guesses if g.field == "relapsed")


# ------------------------------------------------------------------ A: True/False with --event-value 1/0


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("value", [None, "1", "True", "yes"])
def test_true_false_event_column_with_event_value_one(capsys, gbsg2_bool, kind, value):
    """A True/False column read with --event-value 1 (or True, yes) equals the 0/1 file: R's events and chi2."""
    extra = () if value is None else ("--event-value", value)
    payload = outcomes(capsys, gbsg2_bool[kind], "--by", "horTh", *extra)
    assert payload["source"]["rows_excluded"] == 0
    assert {k: g["events"] for k, g in arms(payload).items()} == GBSG2_EVENTS
    assert payload["logrank"]["statistic"] == pytest.approx(GBSG2_CHISQ, abs=1e-8)
    reference = outcomes(capsys, DATA / "gbsg2.csv", "--by", "horTh")
    for ours, theirs in zip(payload["groups"], reference["groups"], strict=True):
        assert ours["median"] == theirs["median"] and ours["survival"] == theirs["survival"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("value", ["0", "False", "no"])
def test_true_false_event_column_with_event_value_zero(capsys, gbsg2_bool, kind, value):
    payload = outcomes(capsys, gbsg2_bool[kind], "--by", "horTh", "--event-value", value)
    assert payload["source"]["rows_excluded"] == 0
    assert {k: g["events"] for k, g in arms(payload).items()} == {"no": 235, "yes": 152}


def test_the_check_suggestion_works_for_a_boolean_column(capsys, gbsg2_bool):
    """The guess's flip names a value of the column (False of True/False), and that value is accepted."""
    code, out, _ = run(capsys, "check", gbsg2_bool["csv"], "--by", "horTh")
    assert code == 0 and "REJECTED" not in out
    line = next(x for x in out.splitlines() if x.strip().startswith("relapsed <- cens"))
    assert "--event-value False" in line
    code, out, _ = run(capsys, "check", gbsg2_bool["csv"], "--by", "horTh", "--event-value", "False")
    assert code == 0 and "Rows accepted: 686" in out


def test_the_pandas_path_reads_the_same(gbsg2_bool):
    for path in gbsg2_bool.values():
        for value in ("1", "True", 1, True):
            result = load_episodes(path, by="horTh", event_value=value)
            assert result.ok and result.report.n_rows_excluded == 0
            events = result.episodes.groupby("horTh")["relapsed"].sum().to_dict()
            assert events == GBSG2_EVENTS


@pytest.mark.parametrize("values,event_value,expected", [
    (["True", "False", "True", None], "1", [True, False, True, None]),
    (["True", "False", "True", None], "0", [False, True, False, None]),
    (["yes", "no"], "1", [True, False]),
    (["Y", "N"], "0", [False, True]),
    (["1", "0"], "yes", [True, False]),
    (["0", "1"], "False", [True, False]),
    (["t", "f"], 1, [True, False]),
])
def test_yes_no_event_values_match_by_meaning(values, event_value, expected):
    flags, bad = parse_booleans(pd.Series(values, dtype=object), event_value=event_value)
    assert [None if pd.isna(v) else bool(v) for v in flags] == expected
    assert not bad.any()
    native = parse_booleans(pd.Series([True, False]), event_value=event_value)[0]
    assert list(native) == ([True, False] if str(event_value).lower() in ("1", "true", "yes") else [False, True])


def test_a_status_coded_1_2_still_takes_the_label():
    flags, bad = parse_booleans(pd.Series(["1", "2", "2"]), event_value="2")
    assert list(flags) == [False, True, True] and not bad.any()
    flags, bad = parse_booleans(pd.Series(["True", "False", "maybe"]), event_value="1")
    assert bad.all()  # a third label: literal matching, nothing is read as the event by accident


# ------------------------------------------------------------------ C: the time column and its unit


def test_veterans_time_is_survival_in_days_not_age(capsys):
    details = guess_details(pd.read_csv(DATA / "veterans.csv"))
    assert details.mapping["days_to_relapse"] == "Survival_in_days"
    assert details.mapping["relapsed"] == "Status"
    assert details.mapping.get("age") == "Age_in_years"
    assert details.time_unit is None  # days
    declined = {g.column: g.reason for g in details.declined() if g.field == "days_to_relapse"}
    assert "Survival_in_days" in declined["Months_from_Diagnosis"]

    code, out, _ = run(capsys, "check", DATA / "veterans.csv", "--by", "Treatment")
    assert code == 0
    assert "days_to_relapse <- Survival_in_days" in out and "Times in: days" in out
    assert "read in days" in out and "Times in: years" not in out and "time_unit" not in out


def test_veterans_km_medians_equal_R(capsys):
    payload = outcomes(capsys, DATA / "veterans.csv", "--by", "Treatment")
    assert payload["time_unit"] == "days"
    got = {k: (g["n"], g["events"], g["median"]) for k, g in arms(payload).items()}
    assert got == {"standard": (69, 64, 103), "test": (68, 64, 52.5)}
    assert payload["logrank"]["statistic"] == pytest.approx(0.008227343202, abs=1e-10)


@pytest.mark.parametrize("columns,time", [
    (["age_years_x", "Months_from_Diagnosis", "Survival_in_days"], "Survival_in_days"),
    (["Age_in_years", "time"], "time"),
    (["years", "patient_age"], "years"),
    (["age_at_entry_years", "futime"], "futime"),
])
def test_an_age_is_never_the_duration(columns, time):
    raw = pd.DataFrame({c: [40.0 + i, 61.0, 55.0] for i, c in enumerate(columns)} | {"event": [1, 0, 1]})
    details = guess_details(raw)
    assert details.mapping["days_to_relapse"] == time
    assert not any(g.field == "days_to_relapse" and "age" in g.column.lower() and g.made for g in details.guesses)


def test_an_age_alone_is_not_a_duration():
    details = guess_details(pd.DataFrame({"Age_in_years": [40, 61, 55], "event": [1, 0, 1]}))
    assert "days_to_relapse" not in details.mapping and details.time_unit is None


def test_rossi_check_summary_says_weeks(capsys):
    code, out, _ = run(capsys, "check", DATA / "rossi.csv", "--by", "fin")
    assert code == 0
    assert "Times in: weeks" in out
    assert "durations (from admission, read in weeks)" in out and "read in days" not in out


def test_the_summary_says_the_unit_stated(capsys):
    code, out, _ = run(capsys, "check", DATA / "gbsg2.csv", "--by", "horTh", "--time-unit", "months")
    assert code == 0 and "read in months" in out
    result = load_episodes(DATA / "rossi.csv", by="fin")  # the pandas path says it too
    assert "read in weeks" in result.report.summary_text()


# ------------------------------------------------------------------ D: death as an event name


def test_larynx_death_is_the_event(capsys):
    details = guess_details(pd.read_csv(DATA / "larynx.csv"))
    assert details.mapping["relapsed"] == "death" and details.mapping["days_to_relapse"] == "time"
    payload = outcomes(capsys, DATA / "larynx.csv", "--by", "Stage_IV")
    got = {k: (g["n"], g["events"], g["median"]) for k, g in arms(payload).items()}
    assert got == {"0": (77, 39, 6.4), "1": (13, 11, 1.5)}
    assert payload["logrank"]["statistic"] == pytest.approx(19.82686073, abs=1e-7)


def test_death_dates_still_map_to_death_date():
    dates = ["2020-01-05", None, "2021-03-01", None]
    episode = pd.DataFrame({"admission_date": ["2019-01-01"] * 4, "discharge_date": ["2019-02-01"] * 4,
                            "death_date": dates, "death": [1, 0, 1, 0]})
    details = guess_details(episode)
    assert details.mapping["death_date"] == "death_date"
    assert "relapsed" not in details.mapping  # a death flag of an episode file is not the relapse
    for name in ("death", "Date of Death", "DOD", "death_dt"):
        got = guess_details(pd.DataFrame({"admit_date": ["2019-01-01"] * 4, name: dates}))
        assert got.mapping.get("death_date") == name, name
        assert "relapsed" not in got.mapping
    durations = guess_details(pd.DataFrame({"futime": [3.0, 5.0, 8.0, 2.0], "deaths": [1, 0, 1, 0],
                                            "death_date": dates}))
    assert durations.mapping["relapsed"] == "deaths" and durations.mapping["death_date"] == "death_date"
    assert np.array_equal(pd.read_csv(DATA / "larynx.csv")["death"].unique(), [1, 0])


def test_outcomes_says_cens_was_read_as_the_censoring_indicator(capsys):
    """``outcomes`` (not only ``check``) says how ``cens`` was read and how to flip it; a stated value says nothing."""
    notes = outcomes(capsys, DATA / "gbsg2.csv", "--by", "horTh")["load_notes"]
    said = [n for n in notes if "censoring indicator" in n]
    assert said == ["'cens' is read as R's censoring indicator, Surv(time, cens): 1 is the relapse, 0 censored "
                    "(state --event-value 0 if 1 means censored)."]
    stated = outcomes(capsys, DATA / "gbsg2.csv", "--by", "horTh", "--event-value", "1")["load_notes"]
    assert not [n for n in stated if "censoring indicator" in n]


def test_lifelines_t_and_e_columns_are_guessed(capsys, tmp_path):
    """lifelines' own names, ``T`` (duration) and ``E`` (event observed), as its datasets and its users write them:
    waltons (163 flies, miR-137 against control) read with no --map. R: ``survdiff(Surv(T, E) ~ group, d)``
    chisq 122.249125573, observed 122 (control) and 34; ``survfit`` medians 58 and 26."""
    from lifelines.datasets import load_waltons

    path = tmp_path / "waltons.csv"
    load_waltons().to_csv(path, index=False)
    payload = outcomes(capsys, path, "--by", "group")
    assert payload["columns"]["T"]["used_as"] == "days_to_relapse" and payload["columns"]["E"]["used_as"] == "relapsed"
    assert payload["logrank"]["statistic"] == pytest.approx(122.249125573, abs=1e-8)
    assert {g: (a["events"], a["median"]) for g, a in arms(payload).items()} == {"control": (122, 58),
                                                                                 "miR-137": (34, 26)}
