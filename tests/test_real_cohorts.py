"""Real public cohorts, in their own column names and units, through the command line, against R.

Cohorts (tests/r/real_cohorts_export.py): Rossi recidivism (lifelines; weeks), UIS drug-treatment
(SurvSet; days), ACTG 320 AIDS trial (scikit-survival; days; CSV and Parquet), Worcester Heart Attack
Study (scikit-survival; days; Excel). References:
tests/r/real_cohorts_reference.R (R 4.2.2, survival 3.5-3), on the times as they are in the file:
survfit(Surv(time, status) ~ group, conf.type = "log-log") with summary(times =, extend = TRUE) and
summary(fit, rmean = tau)$table, survdiff, coxph(Surv(time, status) ~ group + covariates,
ties = "efron") with numeric covariates linear, factors against their most frequent level and 0/1
columns as one term, concordance(fit), cox.zph(fit).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "real_cohorts"
REF = ROOT / "tests" / "data" / "r_real"

#: name -> (file, command-line arguments). No --map line is needed: the names are guessed from content.
RUNS = {
    "rossi": ("rossi.csv", ["--by", "fin", "--adjust", "age,prio,wexp,race", "--time-unit", "weeks"]),
    "uis": ("uis.csv", ["--by", "TREAT", "--adjust", "AGE,BECK,NDRUGTX,SITE,IVHX,RACE", "--type", "IVHX=categorical"]),
    "aids": ("aids.csv", ["--by", "tx", "--adjust", "age,cd4,karnof,ivdrug,sex"]),
    "aids_parquet": ("aids.parquet", ["--by", "tx", "--adjust", "age,cd4,karnof,ivdrug,sex"]),
    # los (days in hospital) is read as the length of stay, so the default origin would be discharge;
    # R's reference is the usual Surv(lenfol, fstat) from admission
    "whas500": ("whas500.xlsx", ["--by", "gender", "--adjust", "age,bmi,hr,sysbp,chf,afb", "--origin", "admission"]),
}


def outcomes_json(capsys, file: str, args: list[str]) -> dict:
    code = main(["outcomes", str(DATA / file), *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def compare(payload: dict, name: str) -> dict[str, float]:
    """Largest absolute difference from R per quantity (and assert the structure matches)."""
    ref = name.removesuffix("_parquet")
    diffs: dict[str, float] = {}

    def record(key, ours, theirs):
        ours = np.asarray([np.nan if v is None else v for v in ours], dtype=float)
        theirs = np.asarray(theirs, dtype=float)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (key, ours, theirs)
        ok = ~np.isnan(theirs)
        diffs[key] = max(diffs.get(key, 0.0), float(np.max(np.abs(ours[ok] - theirs[ok]), initial=0.0)))

    groups = {g["group"]: g for g in payload["groups"]}
    km = pd.read_csv(REF / f"{ref}_km.csv", dtype={"group": str})
    shown = 0
    for r in km.itertuples():
        row = next(s for s in groups[r.group]["survival"] if s["time"] == r.time)
        if r.n_risk < payload["min_cell"]:  # suppressed: fewer than min_cell people still at risk
            assert row["estimate"] is None and row["at_risk"] in (None, 0)
            continue
        if row["estimate"] is None:  # hidden by the disclosure step (a count it rests on is protected)
            continue
        shown += 1
        record("km_survival", [row["estimate"]], [r.surv])
        record("km_ci", [row["lower"], row["upper"]], [r.lower, r.upper])
        # published counts: still at risk *after* the day (R's n.risk counts time >= day)
        assert row["at_risk"] is None or row["at_risk"] <= r.n_risk
    assert shown >= 2, (shown, len(km))  # the rest rest on a count of 1-10 (relapses by an early day ...)
    summary = pd.read_csv(REF / f"{ref}_summary.csv", dtype={"group": str})
    for r in summary.itertuples():
        g = groups[r.group]
        if g["n"] is None:  # the group's size is hidden: so is everything resting on it
            assert g["median"] is None and g["rmst"]["estimate"] is None
            continue
        assert g["n"] == r.n and g["events"] in (None, r.events)
        record("median", [g["median"], *g["median_ci"]], [r.median, r.median_lower, r.median_upper])
        record("rmst", [g["rmst"]["estimate"]], [r.rmean])
        record("rmst_se", [g["rmst"]["se"]], [r.rmean_se])
    lr = pd.read_csv(REF / f"{ref}_logrank.csv").iloc[0]
    record("logrank_chisq", [payload["logrank"]["statistic"]], [lr["chisq"]])
    record("logrank_p", [payload["logrank"]["p"]], [lr["p"]])
    cox = payload["cox"]
    assert cox["n"] in (None, lr["n"]) and cox["events"] in (None, lr["events"])
    record("concordance", [cox["concordance"]], [lr["concordance"]])
    r_cox = pd.read_csv(REF / f"{ref}_cox.csv").set_index("term")
    ours = {t["term"]: t for t in cox["terms"]}
    assert set(ours) == set(r_cox.index)
    for term, r in r_cox.iterrows():
        if ours[term]["hr"] is None:  # a level with 1-10 people or relapses: its term is not shown
            continue
        record("cox_hr", [ours[term]["hr"]], [r["hr"]])
        record("cox_ci", [ours[term]["lower"], ours[term]["upper"]], [r["lower"], r["upper"]])
        record("cox_p", [ours[term]["p"]], [r["p"]])
    zph = pd.read_csv(REF / f"{ref}_zph.csv").set_index("term")
    ph = {t["term"]: t for t in cox["ph_test"]}
    assert set(ph) == set(zph.index)
    for term, r in zph.iterrows():
        if ph[term]["chisq"] is None:
            continue
        record("zph_chisq", [ph[term]["chisq"]], [r["chisq"]])
        record("zph_p", [ph[term]["p"]], [r["p"]])
        assert ph[term]["df"] == r["df"]
    return diffs


#: Tolerances: exact arithmetic for Kaplan-Meier, log-rank and RMST; Newton-Raphson's stopping rule for Cox.
TOLERANCE = {"km_survival": 1e-12, "km_ci": 1e-10, "median": 1e-9, "rmst": 1e-9, "rmst_se": 1e-8,
             "logrank_chisq": 1e-9, "logrank_p": 1e-10, "concordance": 1e-10, "cox_hr": 1e-6, "cox_ci": 1e-6,
             "cox_p": 1e-6, "zph_chisq": 1e-5, "zph_p": 1e-6}


@pytest.mark.parametrize("name", list(RUNS))
def test_real_cohort_equals_R(capsys, name):
    file, args = RUNS[name]
    payload = outcomes_json(capsys, file, args)
    diffs = compare(payload, name)
    for key, diff in diffs.items():
        assert diff <= TOLERANCE[key], (key, diff)


def test_rossi_reads_as_a_researcher_would(capsys):
    """week is the time in weeks, arrest the event (1 = arrested), fin a 0/1 arm: no --map needed."""
    payload = outcomes_json(capsys, "rossi.csv", RUNS["rossi"][1])
    assert payload["time_unit"] == "weeks" and payload["horizons"] == [4, 13, 26, 52]
    assert payload["origin"] == "admission" and "no discharge date or length of stay" in payload["origin_reason"]
    assert payload["columns"]["week"]["used_as"] == "days_to_relapse"
    assert payload["columns"]["arrest"]["used_as"] == "relapsed"
    assert payload["columns"]["prio"] == {"used_as": "prio", "role": "covariate", "type": "numeric"}
    assert payload["cox"]["reference"] == {"fin": "0", "race": "1", "wexp": "False"}
    # the JSON names the unit and keeps days beside it: 52 weeks = 364 days
    first = payload["groups"][0]
    assert [s["time"] for s in first["survival"]] == [4, 13, 26, 52]
    assert [s["day"] for s in first["survival"]] == [28, 91, 182, 364]
    assert first["rmst"]["tau"] == 52 and first["rmst"]["unit"] == "weeks"
    # not recorded, never 0%
    assert first["completion_rate"] is None
    assert set(payload["not_recorded"]) == {"completion", "discharge_reasons", "length_of_stay"}


@pytest.mark.parametrize("unit", ["days", "months", "years"])
def test_the_unit_labels_the_times_and_changes_no_number(capsys, unit):
    """The same numbers read in another unit (held internally in days: x 1, 30.4375, 365.25) give the same
    estimates, stated in that unit: results equal R's on the unconverted times whatever the unit."""
    weeks = outcomes_json(capsys, "rossi.csv", RUNS["rossi"][1])
    other = outcomes_json(capsys, "rossi.csv", [*RUNS["rossi"][1][:-2], "--time-unit", unit,
                                                "--horizons", "4,13,26,52", "--tau", "52"])
    assert other["time_unit"] == unit
    assert [t["hr"] for t in other["cox"]["terms"]] == pytest.approx([t["hr"] for t in weeks["cox"]["terms"]],
                                                                       rel=1e-12)
    for gw, go in zip(weeks["groups"], other["groups"], strict=True):
        assert go["rmst"]["estimate"] == pytest.approx(gw["rmst"]["estimate"], rel=1e-12)
        assert go["rmst"]["se"] == pytest.approx(gw["rmst"]["se"], rel=1e-12)
        assert [s["estimate"] for s in go["survival"]] == [s["estimate"] for s in gw["survival"]]
        assert [s["time"] for s in go["survival"]] == [4, 13, 26, 52]
        assert [r["km_relapse"] for r in go["relapse"]] == [r["km_relapse"] for r in gw["relapse"]]


def test_uis_names_and_types(capsys):
    payload = outcomes_json(capsys, "uis.csv", RUNS["uis"][1])
    cols = payload["columns"]
    assert cols["TIME"]["used_as"] == "days_to_relapse" and cols["CENSOR"]["used_as"] == "relapsed"
    assert cols["ID"]["type"] == "id" and cols["ID"]["role"] == "ignored"
    assert cols["BECK"]["type"] == "numeric" and cols["IVHX"]["type"] == "categorical"
    assert payload["time_unit"] == "days"
    terms = [t["term"] for t in payload["cox"]["terms"]]
    assert terms == ["TREAT[1]", "AGE", "BECK", "NDRUGTX", "SITE[1]", "IVHX[1]", "IVHX[2]", "RACE[1]"]
    assert payload["cox"]["reference"] == {"TREAT": "0", "SITE": "0", "IVHX": "3", "RACE": "0"}


def test_uis_cox_counts_the_episodes_left_out_for_a_missing_covariate(capsys):
    """R: ``coxph(Surv(TIME, CENSOR) ~ factor(TREAT) + AGE + BECK + relevel(factor(IVHX), ref = "3"), uis)`` fits
    591 of the 628 episodes, 475 relapses; ``colSums(is.na(uis[, c("AGE", "BECK", "IVHX")]))`` is 5, 33, 18 and
    37 rows are incomplete, 33 of them relapsed. Said in the JSON and the text, AGE's 5 not shown."""
    args = ["--by", "TREAT", "--adjust", "AGE,BECK,IVHX", "--type", "IVHX=categorical"]
    cox = outcomes_json(capsys, "uis.csv", args)["cox"]
    assert (cox["n"], cox["events"], cox["left_out_missing"]) == (591, 475, 37)
    note = ("37 episodes (33 relapses among them) are left out of the Cox model because a covariate is missing "
            "(missing: AGE fewer than 11, BECK 33, IVHX 18); the groups' numbers above include them.")
    assert cox["notes"][0] == note
    assert main(["outcomes", str(DATA / "uis.csv"), *args]) == 0
    text = capsys.readouterr().out
    assert "reference TREAT = 0, IVHX = 3; 591 episodes, 475 relapses;" in text and f"Note: {note}" in text


def test_a_few_episodes_left_out_of_the_cox_model_hide_its_counts(capsys):
    """With AGE alone, 5 episodes are left out: the model's n and events (beside the groups' 320 + 308 followed)
    would give them by subtraction, so neither is shown, nor the number left out."""
    payload = outcomes_json(capsys, "uis.csv", ["--by", "TREAT", "--adjust", "AGE"])
    cox = payload["cox"]
    assert [g["n"] for g in payload["groups"]] == [320, 308]
    assert cox["n"] is None and cox["events"] is None and cox["left_out_missing"] is None
    assert cox["notes"][0].startswith("Fewer than 11 episodes (fewer than 11 relapses among them) are left out")
    assert "AGE fewer than 11" in cox["notes"][0] and cox["terms"][0]["hr"] is not None


def test_a_curve_that_reached_zero_stays_zero(capsys, tmp_path):
    """lifelines' leukemia (Freireich et al. 1963, 6-MP against placebo; weeks): all 21 of Rx = 1 relapsed by
    week 23. R: ``summary(survfit(Surv(t, status) ~ Rx, d, conf.type = "log-log"), times = c(20, 30),
    extend = TRUE)``: Rx = 1 at 30 weeks surv 0, n.risk 0, CI NA (at 20: 0.0952380952381, 0.0162592602122 to
    0.261249981969); Rx = 0 at 30: 0.4481792717087 (0.1880520059592-0.680142628495). The zero is shown, not
    left blank as a day after follow-up; a curve still above zero stays blank after its last time."""
    from lifelines.datasets import load_leukemia

    path = tmp_path / "leukemia.csv"
    load_leukemia().to_csv(path, index=False)
    payload = outcomes_json(capsys, str(path), ["--by", "Rx", "--map", "days_to_relapse=t", "--time-unit", "weeks",
                                                "--horizons", "20,30,40", "--tau", "30", "--min-cell", "1"])
    arms = {g["group"]: {s["time"]: s for s in g["survival"]} for g in payload["groups"]}
    one, zero = arms["1"], arms["0"]
    assert one[20]["estimate"] == pytest.approx(0.0952380952381, abs=1e-12)
    assert one[20]["lower"] == pytest.approx(0.0162592602122, abs=1e-12)
    assert (one[30]["estimate"], one[30]["lower"], one[30]["upper"]) == (0.0, None, None)
    assert (one[30]["at_risk"], one[30]["events"], one[30]["censored"]) == (0, 21, 0)
    assert zero[30]["estimate"] == pytest.approx(0.4481792717087, abs=1e-12)
    assert zero[30]["upper"] == pytest.approx(0.680142628495, abs=1e-12)
    assert zero[40]["estimate"] is None  # after Rx = 0's last time (35 weeks, censored): not extended
    relapse = {r["horizon"]: r["km_relapse"] for r in payload["groups"][1]["relapse"]}
    assert payload["groups"][1]["group"] == "1" and relapse[30] == 1.0 and relapse[40] == 1.0


def test_whas500_excel_defaults_to_discharge_because_it_records_a_length_of_stay(capsys):
    payload = outcomes_json(capsys, "whas500.xlsx", ["--by", "gender"])
    assert payload["columns"]["los"]["used_as"] == "los_days"
    assert payload["columns"]["fstat"]["used_as"] == "relapsed"
    assert payload["origin"] == "discharge" and "records a length of stay" in payload["origin_reason"]
    assert payload["not_recorded"] == {k: v for k, v in payload["not_recorded"].items()
                                       if k in ("completion", "discharge_reasons")}
