"""The checked episodes materialised narrow (analysis.engine.compact): the same report and cohort as the wide
table and the pandas path, smaller, nothing on disk; a value outside its ENUM falls back to the wide table."""
from __future__ import annotations

from pathlib import Path

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

from analysis.engine import compact
from analysis.engine.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


def _stored(engine: Engine) -> dict[str, str]:
    return dict(engine.backend.con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                           "WHERE table_name = 'episodes_table'").fetchall())


def _table_bytes(engine: Engine) -> int:
    return int(engine.backend.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory() "
                                          "WHERE tag = 'IN_MEMORY_TABLE'").fetchone()[0])


def _answers(engine: Engine) -> tuple:
    report = engine.validation_report()
    labels = [c for c in ("level_of_care", "sex", "payer", "site", "discharge_reason") if c in engine.columns]
    return (engine.rule_counts(), engine.problems(limit=200), report.problems, report.excluded_index,
            report.unknown_labels, engine.collapse([*labels, "event_admission", "in_treatment"]),
            engine.frame(["episode_id", "client_id", *labels, "admission_date"]),
            engine.backend.query("SELECT * FROM episodes ORDER BY _row"))


def _assert_same_answers(a: tuple, b: tuple) -> None:
    for x, y in zip(a, b, strict=True):
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)
        else:
            assert (x == y).all()


def test_narrow_table_is_smaller_and_answers_as_the_wide_one(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with Engine.open(messy_csv(), name="messy.csv", today=TODAY) as narrow:
        messy = _answers(narrow)
        assert "_flags_0" in _stored(narrow) and _stored(narrow)["sex"].startswith("ENUM(")
        assert len(messy[0]) > 10 and len(messy[1]) > 10 and messy[1]["row"].iloc[0] == 4  # E3: 2023-02-30
    with Engine.open(SAMPLE, today=TODAY) as narrow:
        stored = _stored(narrow)
        # 43 rule flags packed in one word; labels as ENUM (their values those of the file), ids as text
        assert [c for c in stored if c.startswith(("_e__", "_w__"))] == [] and stored["_flags_0"] == "UBIGINT"
        assert stored["level_of_care"].startswith("ENUM('detox'") and stored["sex"].startswith("ENUM(")
        assert stored["episode_id"] == "VARCHAR" and stored["_excluded"] == "BOOLEAN"
        # the view reads every column back with its type: flags as booleans, labels as text
        types = narrow.backend.columns("episodes")
        assert types["sex"] == "VARCHAR" and types["_e__missing_level_of_care__level_of_care"] == "BOOLEAN"
        assert narrow.count() == 5000
        got, size = _answers(narrow), _table_bytes(narrow)
        assert [p for p in tmp_path.rglob("*")] == []  # in memory only
    monkeypatch.setattr(compact, "MAX_COLUMNS", 0)  # the table as it is
    with Engine.open(SAMPLE, today=TODAY) as wide:
        assert "_flags_0" not in _stored(wide) and _stored(wide)["sex"] == "VARCHAR"
        _assert_same_answers(_answers(wide), got)
        # (5,000 rows: blocks of 256 KiB, the source's own table counted in both; 10M rows: 48%; the wide table
        # has only the flags some value of the file can raise)
        assert size < 0.85 * _table_bytes(wide)
    with Engine.open(messy_csv(), name="messy.csv", today=TODAY) as wide:
        _assert_same_answers(_answers(wide), messy)
    assert got[5]["n"].sum() == 5000 and len(got[6]) == 5000


def test_narrow_table_keeps_the_messy_report_and_the_pandas_cohort():
    raw = messy_csv()
    with Engine.open(raw, name="messy.csv", today=TODAY) as engine:
        assert any(t.startswith("ENUM(") for t in _stored(engine).values())
        assert_same_report(raw, engine)
    cohort = pandas_cohort(SAMPLE)
    with Engine.open(SAMPLE, today=TODAY) as engine:
        assert_same_cohort(cohort, engine)
        assert_same_outcomes(cohort, engine)


def test_value_outside_its_enum_falls_back_to_the_wide_table(monkeypatch):
    with Engine.open(SAMPLE, today=TODAY) as engine:
        want = _answers(engine)
    monkeypatch.setitem(compact._CODES, "level_of_care", ("detox",))  # the other levels are outside it
    with Engine.open(SAMPLE, today=TODAY) as engine:
        assert _stored(engine)["level_of_care"] == "VARCHAR" and "_flags_0" not in _stored(engine)
        _assert_same_answers(_answers(engine), want)


@pytest.mark.parametrize("limit", [0, 2])
def test_text_with_many_values_stays_text(monkeypatch, limit):
    monkeypatch.setattr(compact, "MAX_LABELS", limit)
    with Engine.open(SAMPLE, today=TODAY) as engine:
        stored = _stored(engine)
        assert stored["site"] == stored["race_ethnicity"] == "VARCHAR"  # 3 and 6 values
        assert stored["sex"] == ("VARCHAR" if limit == 0 else "ENUM('female', 'male')") or \
            stored["sex"] == "ENUM('male', 'female')"  # (DISTINCT's order)
        assert stored["level_of_care"].startswith("ENUM(")  # the codes a label is read as: always few
        assert engine.count() == 5000


def test_collapse_shares_its_label_strings():
    with Engine.open(SAMPLE, today=TODAY) as engine:
        got = engine.collapse(["level_of_care", "sex", "payer", "race_ethnicity", "los_days"])
        sql = engine.backend.query("SELECT level_of_care, sex, payer, race_ethnicity, los_days, count(*) AS n "
                                   "FROM cohort GROUP BY ALL ORDER BY ALL")
    assert len(got) > 1000 and got["n"].sum() == 5000 and got["sex"].dtype == object
    assert got["sex"].tolist() == sql["sex"].tolist() and got["payer"].tolist() == sql["payer"].tolist()
    assert len({id(v) for v in got["sex"]}) == got["sex"].nunique(dropna=False)  # one string per value
    assert len({id(v) for v in got["race_ethnicity"]}) == got["race_ethnicity"].nunique(dropna=False)


def test_collapse_by_enum_codes_gives_the_text_collapse():
    with Engine.open(messy_csv(), name="messy.csv", today=TODAY) as engine:  # labels with NULLs, 'other'
        assert {"level_of_care", "sex", "discharge_reason"} <= engine._labels
        wanted = [(["level_of_care", "sex", "discharge_reason", "los_days"], None),
                  (["sex", "time_discharge_days", "event_discharge"], '"time_discharge_days" IS NOT NULL'),
                  ({"sex": '"sex"', "q": "CAST(date_trunc('quarter', \"admission_date\") AS DATE)"}, None)]
        fast = [engine.collapse(c, where=w) for c, w in wanted]
        labels, engine._labels = engine._labels, frozenset()  # every collapse through the text columns
        slow = [engine.collapse(c, where=w) for c, w in wanted]
        engine._labels = labels
    for a, b in zip(fast, slow, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert fast[0]["n"].sum() == 5 and len(fast[0]) == 5  # the valid rows of the messy file
    assert fast[0]["level_of_care"].dtype == "category" and fast[1]["sex"].dtype == object


def test_step_downs_through_enum_codes_give_the_text_ones():
    with Engine.open(SAMPLE, today=TODAY) as engine:
        assert "level_of_care" in engine._labels
        fast = engine.transitions(30)
        labels, engine._labels = engine._labels, frozenset()
        slow = engine.transitions(30)
        engine._labels = labels
        filtered = engine.transitions(30, where="level_of_care <> 'op'")  # names a label: through the text
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast["n"].sum() == 5000 and fast["next_level"].notna().any() and fast["level_of_care"].dtype == object
    assert set(filtered["level_of_care"]) == set(fast["level_of_care"]) - {"op"}


def test_enum_values_are_in_text_order_so_codes_sort_as_text():
    with Engine.open(SAMPLE, today=TODAY) as engine:
        stored = _stored(engine)
        for col in ("level_of_care", "sex", "payer", "race_ethnicity"):
            values = engine.backend.con.execute(
                f"SELECT enum_range(NULL::{stored[col]})").fetchone()[0]
            assert list(values) == sorted(values), col
        # canonical level order (detox, inpatient, residential, ...) is not text order: the rows come in text order
        cols = ["level_of_care", "sex", "payer", "race_ethnicity", "time_discharge_days", "event_discharge"]
        fast = engine.collapse(cols)
        labels, engine._labels = engine._labels, frozenset()
        slow = engine.collapse(cols)
        engine._labels = labels
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert len(fast) > 1000
    assert [str(v) for v in fast["level_of_care"].drop_duplicates()] == sorted(
        str(v) for v in fast["level_of_care"].dropna().unique())
