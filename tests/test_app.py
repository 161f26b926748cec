"""The Streamlit app, headless (streamlit.testing.v1.AppTest): every page renders on the sample cohort,
shows the numbers ``analysis`` computes, and responds to a filter, the origin switch and the URL."""
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.cohort import derive_cohort
from analysis.loading import load_episodes
from analysis.relapse import relapse_rates, relapse_survival_data
from analysis.retention import completion_rates
from analysis.survival import km_by_group, median_survival

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "episodes.csv"
PAGES = ["overview", "data", "retention", "relapse", "time_to_relapse", "iop_vs_residential", "benchmarks",
         "methods"]
TIMEOUT = 120


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("CONTINUUM_STRICT", "1")  # unexpected errors raise instead of becoming st.error
    monkeypatch.delenv("CONTINUUM_SAMPLE_PATH", raising=False)


@pytest.fixture(scope="module")
def cohort():
    return derive_cohort(load_episodes(SAMPLE).episodes)


def _app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _pct_ci(est, lo, hi):
    return f"{est * 100:.1f}% ({lo * 100:.1f}-{hi * 100:.1f}%)"


def _table(at, header):
    for df in at.dataframe:
        if header in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a column {header!r}")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page):
    at = _app()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value


def test_overview_shows_the_analysis_numbers(cohort):
    at = _app()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Episodes"] == f"{len(cohort):,}"
    comp = completion_rates(cohort).set_index("group")
    table = _table(at, "Completion (95% CI)").set_index("Level of care")
    iop = comp.loc["iop"]
    assert table.loc["IOP", "Completion (95% CI)"] == _pct_ci(iop["completion_rate"], iop["ci_lower"], iop["ci_upper"])
    assert table.loc["IOP", "Episodes"] == f"{int(iop['n_episodes']):,}"
    rel = relapse_rates(cohort, origin="discharge").set_index(["group", "horizon_days"])
    r = rel.loc[("residential", 365)]
    assert table.loc["Residential", "Relapse 365 d (95% CI)"] == _pct_ci(r["km_relapse"], r["km_lower"],
                                                                             r["km_upper"])


def test_overview_last_quarter_equals_the_trends(cohort):
    """The "how did we do last quarter?" tiles and table are analysis.trends' numbers, computed here again."""
    from analysis.trends import period_change, quarterly_trends

    at = _app()
    assert not at.exception
    tr = quarterly_trends(cohort, period_of="discharge", origin="discharge", horizon_days=90)
    ch = period_change(tr).set_index(["metric", "group"])
    metrics = {m.label: (m.value, m.proto.delta) for m in at.metric}
    comp = ch.loc[("completion_all", "all")]
    value, delta = metrics[f"Completion, {comp['period']}"]
    assert value == f"{comp['estimate'] * 100:.1f}%"
    d, lo, hi = (round(comp[c] * 100, 1) + 0.0 for c in ("difference", "difference_lower", "difference_upper"))
    assert delta == f"{d:+.1f} pp ({lo:+.1f} to {hi:+.1f})"
    rel = ch.loc[("relapse", "all")]
    assert comp["period"] == "2026Q2" and rel["period"] == "2026Q1"  # relapse: the latest quarter followed 90 days
    assert metrics[f"Relapse by 90 days, {rel['period']}"][0] == f"{rel['estimate'] * 100:.1f}%"
    med = ch.loc[("median_stay", "all")]
    assert metrics[f"Median stay, {med['period']}"] == (f"{med['estimate']:.0f} days", f"{med['difference']:+.0f} days")
    assert any(comp["previous"] in c.value for c in at.caption)
    # "every measure by group" is built only once its expander is opened (ui.widgets.details)
    assert not any("Completion: change" in df.value.columns for df in at.dataframe)
    at.session_state["exp_change_by_group"] = True
    at.run()
    by_level = _table(at, "Completion: change").set_index("Level of care")
    op = ch.loc[("completion_all", "op")]
    t = tr.table.set_index(["metric", "group", "period"]).loc[("completion_all", "op", op["period"])]
    assert by_level.loc["OP", "Completion"] == _pct_ci(op["estimate"], t["lower"], t["upper"])
    # a level whose latest quarter rests on fewer than 11 discharges is hidden, not shown
    t_n = tr.table.set_index(["metric", "group", "period"]).loc[("completion_all", "detox", "2026Q2"), "n"]
    assert t_n < 11 and by_level.loc["Detox", "Completion"] in ("<11", "suppressed"), t_n
    # the review is one click away
    assert any(b.label == "Download review (HTML)" for b in at.get("download_button"))


def test_bad_link_values_are_reported_in_one_line():
    at = _app(level=["iop", "nonsense"], origin="sideways", foo="1")
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    text = warnings[0].replace("\\", "")
    assert "nonsense" in text and "sideways" in text and "unknown setting 'foo'" in text
    assert at.multiselect(key="f_levels").value == ["iop"]  # the rest applied
    at.run()
    assert not at.warning  # said once


def test_a_filter_changes_the_numbers(cohort):
    at = _app()
    at.multiselect(key="f_levels").select("iop").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    iop = cohort[cohort["level_of_care"] == "iop"]
    rate = completion_rates(iop, by="level_of_care").set_index("group").loc["iop", "completion_rate"]
    assert metrics["Completion rate"] == f"{rate * 100:.1f}%"
    # 15 IOP episodes are still in treatment, and one detox episode: the wider setting "IOP and detox" would
    # give the 1 away by subtraction, so the view's total and in-treatment count are hidden, everywhere
    assert metrics["Episodes"] == "suppressed"
    assert not any(f"{len(iop):,}" in c.value for c in at.sidebar.caption)
    assert at.query_params["level"] in ("iop", ["iop"])  # the URL reproduces the view
    # the filter survives a page change
    at.switch_page("pages/retention.py").run()
    comp = _table(at, "Completion rate")
    assert comp["Level of care"].tolist() == ["IOP"]


def test_url_reproduces_a_view(cohort):
    at = _app(level=["residential"], origin="admission", min_cell="20")
    assert not at.exception
    assert at.multiselect(key="f_levels").value == ["residential"]
    assert at.radio(key="origin").value == "admission"
    assert at.number_input(key="min_cell").value == 20
    n_res = int((cohort["level_of_care"] == "residential").sum())
    assert {m.label: m.value for m in at.metric}["Episodes"] in (f"{n_res:,}", "suppressed")


def test_origin_switch_changes_time_to_relapse(cohort):
    at = _app()
    at.switch_page("pages/time_to_relapse.py").run()
    before = _table(at, "Median (days)").copy()
    at.radio(key="origin").set_value("admission").run()
    assert not at.exception
    after = _table(at, "Median (days)")
    assert not before.equals(after)
    data = relapse_survival_data(cohort, origin="admission")
    med = median_survival(km_by_group(data, time_col="time", event_col="event", group_col="group"))
    expected = med.set_index(med["group"].astype(str))["median_days"]
    shown = after.set_index("Level of care")["Median (days)"]
    if pd.isna(expected["iop"]):
        assert shown["IOP"] == "not reached"
    else:
        assert float(shown["IOP"].replace(",", "")) == pytest.approx(expected["iop"])
    assert (shown == "not reached").sum() == expected.reindex(["detox", "inpatient", "residential", "php", "iop", "op"]
                                                             ).isna().sum() or "suppressed" in set(shown)
    assert any("admission" in c.value for c in at.caption) or any("admission" in m.value for m in at.markdown)


def test_relapse_page_numbers(cohort):
    at = _app()
    at.switch_page("pages/relapse.py").run()
    table = _table(at, "Relapse (KM)")
    rel = relapse_rates(cohort, origin="discharge")
    row = rel[(rel["group"] == "op") & (rel["horizon_days"] == 90)].iloc[0]
    shown = table[(table["Level of care"] == "OP") & (table["Horizon (days)"] == "90")].iloc[0]
    assert shown["Relapse (KM)"] == f"{row['km_relapse'] * 100:.1f}%"
    assert shown["Reached"] == f"{int(row['n_reached']):,}"


def test_small_cells_are_suppressed():
    at = _app(level=["inpatient"], site=["North Clinic"], payer=["private"], sex=["male"])
    at.switch_page("pages/retention.py").run()
    assert not at.exception
    # 11 female private inpatients at North Clinic: the wider setting "any sex" adds only ... or the view is kept
    if any("leaves out fewer than" in e.value for e in at.error):
        assert not at.dataframe  # refused: nothing shown
        return
    mix = _table(at, "Discharge reason")
    counts = mix["Episodes"].tolist()
    for v in counts:  # every shown count is 0, >= 11, or hidden
        assert v in ("0", "<11", "suppressed") or int(v.replace(",", "")) >= 11


def test_upload_with_identifier_is_refused_naming_the_column():
    at = _app()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    raw = pd.read_csv(SAMPLE, nrows=50)
    raw.insert(1, "Patient Name", [f"Jane Doe {i}" for i in range(50)])
    at.file_uploader(key="episodes").upload("bad.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Patient Name" in errors


def test_upload_replaces_the_sample_and_stays_in_session():
    at = _app()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    raw = pd.read_csv(SAMPLE, nrows=800)
    raw.loc[3, "admission_date"] = "not a date"
    at.file_uploader(key="episodes").upload("mine.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows read"] == "800"
    assert metrics["Rows excluded"] == "1"
    at.switch_page("pages/overview.py").run()
    assert {m.label: m.value for m in at.metric}["Episodes"] == "799"


def test_upload_without_level_of_care_grouped_by_another_column():
    at = _app()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    raw = pd.read_csv(SAMPLE, nrows=600).drop(columns=["level_of_care"])
    raw["arm"] = ["A", "B", "C"] * 200
    at.file_uploader(key="episodes").upload("trial.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    assert not at.exception
    # no level of care, and a column named like a study arm: grouped by it at once (ui: pages/data.py), said so
    assert not [e.value for e in at.error] and any("Grouped by **arm**" in i.value for i in at.info)
    assert at.selectbox(key=f"map_group_by_{at.session_state['_map_token']}").value == "arm"
    at.button[0].click().run()  # the mapping form's submit button keeps it
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Rows accepted"] == "600"
    assert at.session_state["by"] == "arm"
    at.switch_page("pages/time_to_relapse.py").run()
    assert not at.exception
    medians = _table(at, "Median (days)")
    assert sorted(medians.iloc[:, 0]) == ["A", "B", "C"]


def test_organisation_targets_are_placed_beside_the_published_ones():
    at = _app()
    at.switch_page("pages/benchmarks.py").run()
    own = ("id,metric,horizon_days,origin,unit,level_of_care,low,high,direction,population,source,year,note\n"
           "our_iop_target,relapse,365,discharge,person,iop,0.30,0.45,lower_is_better,Our IOP clients,"
           "Board target 2026,2026,\n")
    at.file_uploader(key="own_benchmarks").upload("targets.csv", own.encode(), "text/csv").run()
    assert not at.exception
    placed = _table(at, "Placement")
    row = placed[placed["Benchmark"] == "30%-45%"]
    assert len(row) == 1 and row["Placement"].iloc[0] == "above the band"  # sample IOP: 49.4% (46.5-52.3%)
    bad = "id,metric\nx,relapse\n"
    at.file_uploader(key="own_benchmarks").upload("bad.csv", bad.encode(), "text/csv").run()
    assert not at.exception
    assert any("organisation" in e.value for e in at.error)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_small_groups(page, cohort):
    """Primary substance "other": PHP has 5 episodes, inpatient 4 (below 11), the other levels 13-43.
    Every page renders, and no table shows a count of 1-10 people."""
    sub = cohort[cohort["primary_substance"] == "other"]
    counts = sub["level_of_care"].value_counts()
    assert counts["php"] == 5 and counts["inpatient"] == 4
    at = _app()
    at.switch_page(f"pages/{page}.py").run()
    at.session_state["f_substances"] = ["other"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}.get("Episodes", str(len(sub))) in (str(len(sub)), "suppressed")
    count_words = ("Episodes", "People", "Discharged", "Completed", "Transferred", "Reached", "Relapsed",
                   "at risk", "Still in treatment", "Still enrolled", "Horizon passed", "Episodes with hours")
    for df in at.dataframe:
        for col in df.value.columns:
            if any(w.lower() in str(col).lower() for w in count_words):
                shown = {str(v) for v in df.value[col]}
                assert not shown & {str(n) for n in range(1, 11)}, (page, col, shown)


def test_km_options_and_figure_downloads(monkeypatch):
    import json

    from tests.attacker import draw_still_charts_interactive

    draw_still_charts_interactive(monkeypatch)  # the figure's spec, read below (its drawing: test_still_charts)
    at = _app()
    at.switch_page("pages/time_to_relapse.py").run()
    assert not at.exception

    def annotations():
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        ticks = [t for k, v in spec["layout"].items() if k.startswith("yaxis") for t in v.get("ticktext", []) or []]
        return " ".join([a.get("text", "") for a in spec["layout"].get("annotations", [])] + ticks)

    assert "Log-rank p" in annotations() and "Censored so far" not in annotations()
    at.segmented_control(key="km_table").set_value("kmunicate").run()
    assert not at.exception and "Censored so far" in annotations() and "Relapses so far" in annotations()
    at.toggle(key="km_p").set_value(False).run()
    assert "Log-rank p" not in annotations()
    at.toggle(key="km_ci").set_value(False).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not any(t.get("fill") == "toself" for t in spec["data"])  # no interval bands
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("SVG") == labels.count("PDF") == len(at.get("plotly_chart")) >= 1


def test_completion_benchmarks_are_drawn_on_their_own_denominator(monkeypatch):
    """TEDS 2004 states completion over all discharges: its ticks appear only when our bars use that basis."""
    import json

    from tests.attacker import draw_still_charts_interactive

    draw_still_charts_interactive(monkeypatch)
    at = _app()
    at.switch_page("pages/retention.py").run()

    def ticks():
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        return [t for t in spec["data"] if "TEDS" in str(t.get("name", "")) or "TEDS" in str(t.get("hovertemplate"))]

    assert ticks() == []
    at.segmented_control(key="completion_basis").set_value("all_discharges").run()
    assert not at.exception and len(ticks()) >= 1
