"""The Data page with a researcher's own cohort (UIS, in its own names): roles and types shown and
overridable, the unit and grouping saved with the mapping, a mapping remembered for a file with the same
columns, a rejected file read as a rejection, and the pages showing the CLI's numbers."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
UIS = ROOT / "tests" / "data" / "real_cohorts" / "uis.csv"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    monkeypatch.delenv("CONTINUUM_SAMPLE_PATH", raising=False)


def _upload(name: str, data: bytes, mime="text/csv") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="episodes").upload(name, data, mime).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at, header):
    for df in at.dataframe:
        if header in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a column {header!r}")


def test_uis_roles_types_and_grouping_by_its_own_arm_equal_the_cli(capsys):
    at = _upload("uis.csv", UIS.read_bytes())
    token = at.session_state["_map_token"]
    assert at.selectbox(key=f"map_days_to_relapse_{token}").value == "TIME"
    assert at.selectbox(key=f"map_relapsed_{token}").value == "CENSOR"
    assert at.selectbox(key=f"map_time_unit_{token}").value == "days"
    at.selectbox(key=f"map_group_by_{at.session_state['_map_token']}").set_value("TREAT")
    at.button[0].click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Rows accepted"] == "628"
    assert at.session_state["by"] == "TREAT"
    at.switch_page("pages/time_to_relapse.py").run()
    assert not at.exception
    medians = _table(at, "Median (days)")
    main(["outcomes", str(UIS), "--by", "TREAT", "--json"])
    cli = json.loads(capsys.readouterr().out)
    shown = dict(zip(medians.iloc[:, 0].astype(str), medians["Median (days)"].astype(str), strict=True))
    for g in cli["groups"]:
        assert float(shown[g["group"]].split()[0]) == pytest.approx(g["median"]), (shown, g["median"])


def test_the_mapping_is_remembered_for_a_file_with_the_same_columns():
    raw = pd.read_csv(UIS)
    at = _upload("uis.csv", raw.to_csv(index=False).encode())
    token = at.session_state["_map_token"]
    at.selectbox(key=f"map_time_unit_{token}").set_value("weeks")
    at.selectbox(key=f"map_group_by_{at.session_state['_map_token']}").set_value("TREAT")
    at.button[0].click().run()
    assert at.session_state["dataset"].result.time_unit == "weeks"
    buf = io.BytesIO()
    raw.to_excel(buf, index=False)
    at.file_uploader(key="episodes").upload(
        "uis.xlsx", buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet").run()
    assert not at.exception
    result = at.session_state["dataset"].result
    assert result.source_name == "uis.xlsx" and result.time_unit == "weeks" and result.by == "TREAT"
    assert any("same columns" in c.value for c in at.caption)


def test_a_rejected_file_reads_as_a_rejection():
    raw = pd.DataFrame({"x": ["1", "2"], "y": ["a", "b"]})
    at = _upload("nothing.csv", raw.to_csv(index=False).encode())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["File"] == "rejected" and "Rows accepted" not in metrics
    assert any(e.value.startswith("File rejected:") for e in at.error)


def test_a_type_override_is_saved_with_the_mapping():
    at = _upload("uis.csv", UIS.read_bytes())
    token = at.session_state["_map_token"]
    at.selectbox(key=f"map_group_by_{at.session_state['_map_token']}").set_value("TREAT")
    # what the column editor returns when the user sets IVHX (row 4) to categorical
    at.session_state[f"types_{token}"] = {"edited_rows": {4: {"type": "categorical"}}, "added_rows": [],
                                           "deleted_rows": []}
    at.button[0].click().run()
    assert not at.exception
    result = at.session_state["dataset"].result
    assert result.column_types == {"IVHX": "categorical"}
    spec = json.loads(at.session_state["dataset"].mapping_json)  # what "Download this mapping" saves
    assert spec["types"] == {"IVHX": "categorical"} and spec["by"] == "TREAT"


def test_a_second_upload_gets_its_own_guesses_without_stale_widget_warnings():
    at = _upload("uis.csv", UIS.read_bytes())
    rossi = (ROOT / "tests" / "data" / "real_cohorts" / "rossi.csv").read_bytes()
    at.file_uploader(key="episodes").upload("rossi.csv", rossi, "text/csv").run()
    assert not at.exception
    token = at.session_state["_map_token"]
    assert at.selectbox(key=f"map_days_to_relapse_{token}").value == "week"
    assert at.selectbox(key=f"map_time_unit_{token}").value == "weeks"
    assert not [w.value for w in at.warning if "Session State" in str(w.value)]


def test_a_trial_file_without_a_level_of_care_is_grouped_by_its_arm():
    """A researcher's trial (scikit-survival's veterans: Treatment standard/test, and Prior_therapy, a covariate)
    has no level of care: grouped by its arm at once, said in one line, instead of "File rejected"; every page
    then runs. A file with a level of care (the sample) is not regrouped."""
    at = _upload("veterans.csv", (ROOT / "tests" / "data" / "real_cohorts" / "veterans.csv").read_bytes())
    ds = at.session_state["dataset"]
    assert ds.result.ok and ds.result.by == "Treatment" and ds.result.report.n_rows_accepted == 137
    assert any("Grouped by **Treatment**" in i.value for i in at.info)
    assert not [e.value for e in at.error]
    assert at.selectbox(key=f"map_group_by_{at.session_state['_map_token']}").value == "Treatment"
    for page in ("overview", "time_to_relapse", "relapse"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not [e.value for e in at.error], page
    sample = (ROOT / "sample_data" / "episodes.csv").read_bytes()
    at = _upload("mine.csv", sample)
    assert at.session_state["dataset"].result.by in (None, "level_of_care")
    assert not any("Grouped by" in i.value for i in at.info)


def test_the_date_order_is_stated_on_the_data_page_and_saved_with_the_mapping():
    """A DD/MM file whose days are all 12 or less cannot tell its order: read month first, and the page lets the
    user say "day first"; then the episodes equal the ISO file's, and the saved mapping keeps the order."""
    raw = pd.read_csv(ROOT / "sample_data" / "episodes.csv")
    dates = ["admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date"]
    for col in dates:
        raw[col] = pd.to_datetime(raw[col])
    keep = pd.Series(True, index=raw.index)
    for col in dates:
        keep &= raw[col].isna() | (raw[col].dt.day <= 12)
    rows = raw[keep].copy()
    iso = rows.copy()
    for col in dates:
        rows[col] = rows[col].dt.strftime("%d/%m/%Y")
        iso[col] = iso[col].dt.strftime("%Y-%m-%d")
    at = _upload("dmy.csv", rows.to_csv(index=False).encode())
    assert any("could not be told from the values" in i.value.replace("\\", "") for i in at.info)
    token = at.session_state["_map_token"]
    at.selectbox(key=f"map_date_order_{token}").set_value("dmy")
    at.button[0].click().run()
    assert not at.exception
    result = at.session_state["dataset"].result
    want = _upload("iso.csv", iso.to_csv(index=False).encode()).session_state["dataset"].result
    assert result.date_order == "dmy" and len(result.episodes) == len(want.episodes) > 20
    pd.testing.assert_series_equal(result.episodes["discharge_date"].reset_index(drop=True),
                                   want.episodes["discharge_date"].reset_index(drop=True))
    assert json.loads(at.session_state["dataset"].mapping_json)["date_order"] == "dmy"
