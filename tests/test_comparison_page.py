"""The "IOP vs residential" page and the published comparison behind it (issue #9, item 10).

* the page's headline numbers are analysis.comparison's (computed here independently with compare_cohort);
* a failed proportional-hazards test changes the summary (it says so first and leads with the RMST);
* a small group is not offered, a small covariate level is hidden in the balance table and the Cox terms;
* the JSON of ``compare`` goes through the same publication (no count of 1-10 in any count path, hidden
  complementary counts null, statistics on a hidden count null).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analysis import labels as vocab
from analysis.casemix import DEFAULT_COVARIATES
from analysis.cli import main as cli_main
from analysis.cohort import derive_cohort
from analysis.comparison import compare_cohort
from analysis.disclosure import Publication
from analysis.loading import load_episodes
from analysis.views.comparison import comparison_payload, fair_comparison, publish_comparison

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    import streamlit as st

    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="module")
def cohort():
    return derive_cohort(load_episodes(SAMPLE).episodes)


def page(monkeypatch, path: Path = SAMPLE) -> AppTest:
    monkeypatch.setenv("CONTINUUM_SAMPLE_PATH", str(path))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/iop_vs_residential.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at, start: str) -> str:
    hit = [m.value for m in at.metric if m.label.startswith(start)]
    assert hit, [m.label for m in at.metric]
    return hit[0]


def small_cohort_file(tmp_path: Path) -> Path:
    from tests.test_attacker import small_cohort_file as make

    return make(tmp_path)


def test_page_shows_the_comparison_of_analysis(monkeypatch, cohort):
    at = page(monkeypatch)
    covs = [v for v in DEFAULT_COVARIATES if v in cohort.columns]
    raw = compare_cohort(cohort, by="level_of_care", a="iop", b="residential", adjust=covs, origin="discharge")
    assert metric(at, "Relapse-free days, first 365") == f"{raw.rmst['estimate']:+.1f} days"
    d = raw.differences.set_index("time")
    for day in (90, 180, 365):
        assert metric(at, f"Relapsed by day {day}") == vocab.fmt_pp(d.loc[day, "relapse_difference"])
    w, adj = raw.weighted_cox, raw.adjusted_cox
    assert metric(at, "Weighted hazard ratio") == vocab.fmt_ci(w.hr, w.lower, w.upper, kind="ratio")
    assert metric(at, "Covariate-adjusted hazard ratio") == vocab.fmt_ci(adj.hr, adj.lower, adj.upper, kind="ratio")
    assert metric(at, "E-value") == f"{raw.e_value['estimate']:.2f}"
    # the sample's PH test fails: the page says so at the top and in the summary, which leads with the RMST
    assert raw.ph["holds"] is False
    assert any("not proportional" in x.value for x in at.warning)
    summary = next(m.value for m in at.markdown if "Compared fairly" in m.value)
    assert summary.startswith("The hazards of relapse are not proportional")
    assert summary.index("relapse\\-free time") < summary.index("hazard ratio of IOP vs Residential by window")
    # the window table's counts are the ledger's: relapses of IOP in days 0-30 = relapsed by day 30
    windows = next(df.value for df in at.dataframe if "From day" in df.value.columns)
    t, e = cohort["time_discharge_days"], cohort["event_discharge"]
    iop = (cohort["level_of_care"] == "iop") & t.notna()
    assert windows.iloc[0]["Relapses, IOP"] == f"{int(((t <= 30) & (e == 1) & iop).sum()):,}"
    # widgets change the numbers: ATT and tau 180
    at.radio(key="cmp_estimand").set_value("att").run()
    at.selectbox(key="cmp_tau").select(180).run()
    assert not at.exception
    att = compare_cohort(cohort, by="level_of_care", a="iop", b="residential", adjust=covs, origin="discharge",
                         estimand="att", tau=180)
    assert metric(at, "Relapse-free days, first 180") == f"{att.rmst['estimate']:+.1f} days"


def test_a_passing_ph_test_changes_the_summary(monkeypatch, cohort):
    """With the PH verdict forced to "holds" the summary quotes one hazard ratio and no warning leads the page."""
    import analysis.comparison.core as core

    monkeypatch.setattr(core, "ph_verdict", lambda *r: {"p": 0.4, "holds": True,
                                                        "tests": [{"model": x.model, "p": 0.4} for x in r]})
    at = page(monkeypatch)
    assert not any("not proportional" in x.value for x in at.warning)
    summary = next(m.value for m in at.markdown if "Compared fairly" in m.value)
    assert summary.startswith("Compared fairly")
    assert "The weighted hazard ratio of IOP vs Residential is" in summary
    assert "by window of follow\\-up" not in summary
    assert any("does not reject" in m.value for m in at.markdown)


def test_small_group_not_offered_and_small_levels_hidden(monkeypatch, tmp_path):
    path = small_cohort_file(tmp_path)
    at = page(monkeypatch, path)
    assert "inpatient" not in at.selectbox(key="cmp_a").options  # 6 episodes: not comparable
    at.multiselect(key="cmp_covs").select("site").run()
    assert not at.exception
    balance = next(df.value for df in at.dataframe if "Characteristic" in df.value.columns)
    tiny = balance[balance["Characteristic"].str.contains("Tiny Clinic")]
    pub_view = fair_comparison(Publication.build(derive_cohort(load_episodes(path).episodes)), "iop", "residential",
                               "discharge", ["site"])
    raw = pub_view.result.balance
    n_tiny = raw[raw["level"].astype(str) == "Tiny Clinic"]
    if len(n_tiny):  # Tiny Clinic has IOP or residential episodes: its shares rest on fewer than 11 people
        assert (tiny["after weighting"] == "suppressed").all()
        terms = pub_view.cox_terms.frame
        assert terms.loc[terms["term"] == "site[Tiny Clinic]", "hr"].isna().all()


def _count_values(payload: dict):
    """Every value at the JSON's count paths (``counts_of_people``)."""
    def walk(obj, parts):
        if not parts:
            yield obj
            return
        head, rest = parts[0], parts[1:]
        if head == "*":
            for v in (obj or {}).values():
                yield from walk(v, rest)
        elif head.endswith("[]"):
            for item in obj.get(head[:-2], []) or []:
                yield from walk(item, rest)
        elif isinstance(obj, dict) and head in obj:
            yield from walk(obj[head], rest)

    for path in payload["counts_of_people"]:
        yield from walk(payload, path.split("."))


def test_compare_json_is_the_published_view(tmp_path, capsys):
    path = small_cohort_file(tmp_path)
    covs = "age,sex,primary_substance,co_occurring,prior_treatments,site"
    capsys.readouterr()
    assert cli_main(["compare", str(path), "--by", "level_of_care", "--a", "iop", "--b", "residential", "--adjust",
                     covs, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cohort = derive_cohort(load_episodes(path).episodes)
    view = publish_comparison(cohort, by="level_of_care", a="iop", b="residential", adjust=covs.split(","))
    mine = comparison_payload(view)
    for key in ("n", "propensity", "balance", "weighted_survival", "relapse_difference", "rmst_difference",
                "window_hr", "e_value", "summary"):
        assert d[key] == mine[key], key
    values = [v for v in _count_values(d) if v is not None]
    assert values and all(v == 0 or v >= 11 for v in values)
    # a bin of the score histogram with 1-10 people is null, and so is a bin protecting it
    bins = [h["n"] for h in d["propensity"]["histogram"]]
    raw_bins = view.result.propensity.histogram["n"].to_numpy()
    assert all(b is None for b, r in zip(bins, raw_bins, strict=True) if 1 <= r < 11)
    hidden_large = [r for b, r in zip(bins, raw_bins, strict=True) if b is None and r >= 11]
    shown_small = [r for b, r in zip(bins, raw_bins, strict=True) if b is not None and 1 <= r < 11]
    assert not shown_small and (hidden_large or sum(1 <= r < 11 for r in raw_bins) != 1)
    # the statistics of a hidden level are null in the JSON too
    for b in d["balance"]:
        if b["level"] == "Tiny Clinic":
            assert b["smd_after"] is None and b["mean_a"] is None
    tiny_terms = [t for t in d["propensity"]["terms"] if "Tiny Clinic" in t["term"]]
    assert all(t["odds_ratio"] is None for t in tiny_terms)


def test_window_with_few_relapses_has_no_ratio_and_no_count(capsys):
    """Rossi (lifelines) in weeks: 8 arrests in the first 4 weeks of one arm; that count is hidden, and the window's
    hazard ratio (whose interval would give it back) with it; the later window's ratio is shown (its relapse counts
    may be hidden too: with the total shown they would give the first window's back)."""
    import pandas as pd

    rossi = ROOT / "tests" / "data" / "r_compare" / "rossi.csv"
    raw = pd.read_csv(rossi)
    early = {g: int(((raw["fin"] == g) & (raw["arrest"] == 1) & (raw["week"] <= 4)).sum()) for g in (0, 1)}
    assert any(1 <= v < 11 for v in early.values())  # the premise
    capsys.readouterr()
    assert cli_main(["compare", str(rossi), "--by", "fin", "--a", "1", "--b", "0", "--windows", "0,4,52",
                     "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    first, second = d["window_hr"]
    assert first["hr"] is None and first["lower"] is None
    assert [first["events"][k] for k in ("1", "0")] == [None if 1 <= early[g] < 11 else early[g] for g in (1, 0)]
    assert second["hr"] is not None and all(v is None or v >= 11 for v in second["events"].values())


@pytest.mark.parametrize("k", [5, 40])
def test_people_left_out_for_a_missing_covariate(cohort, k):
    """A few IOP episodes without age: the compared IOP people differ from those followed by 1-10, so nothing of
    the comparison is shown; 40 without age: the compared people (followed - 40) and the 40 are shown."""
    c = cohort.copy()
    rng = np.random.default_rng(1)
    idx = rng.choice(c.index[(c["level_of_care"] == "iop") & c["time_discharge_days"].notna()], k, replace=False)
    c.loc[idx, "age"] = np.nan
    view = fair_comparison(Publication.build(c, by="level_of_care"), "iop", "residential", "discharge",
                           ["age", "sex"])
    d = comparison_payload(view)
    followed = int((c["time_discharge_days"].notna() & (c["level_of_care"] == "iop")).sum())
    missing = next(e for e in d["excluded"] if e["reason"] == "missing age")
    if k < 11:
        assert not view.shown and d["n"]["iop"] is None and missing["n"] is None
        assert d["rmst_difference"]["estimate"] is None and d["weighted_cox"]["hr"] is None and view.curves.empty
    else:
        assert view.shown and d["n"]["iop"] == followed - k and missing["n"] == k
        assert d["rmst_difference"]["estimate"] == pytest.approx(view.result.rmst["estimate"])
    values = [v for v in _count_values(d) if v is not None]
    assert all(v == 0 or v >= 11 for v in values)
