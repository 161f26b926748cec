"""Figures of a fair comparison: the drawn numbers are the Comparison's, small counts never appear.

On the sample (IOP vs residential, five covariates) and on Rossi's recidivism data (financial aid vs
none, weeks) with a window emptied of arrests in one group: curves and bands equal ``1 - S`` and the
turned-over robust limits at every curve time, the risk rows equal ``Comparison.at_risk(times)``, the
love plot's dots equal the standardised differences with the 0.1 line, the overlap bars equal the
histogram's counts (small bins not drawn), the hazard ratios and differences (with their limits, read
back through ``figure_data``) equal the comparison's, a window without a ratio reads "no estimate".
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import figures as F
from analysis.cohort import derive_cohort
from analysis.comparison import compare_cohort, compare_groups
from analysis.labels import fmt_pp
from analysis.loading import load_episodes

ROOT = Path(__file__).resolve().parents[1]
TIMES = [0, 30, 90, 180, 365]
COVS = ["age", "sex", "primary_substance", "co_occurring", "prior_treatments"]


@pytest.fixture(scope="module")
def cmp():
    cohort = derive_cohort(load_episodes(ROOT / "sample_data" / "episodes.csv").episodes)
    return compare_cohort(cohort, by="level_of_care", a="iop", b="residential", adjust=COVS)


@pytest.fixture(scope="module")
def rossi():
    """Rossi et al. (1980) via R survival's ``rossi``: no arrests among those without aid after week 26."""
    d = pd.read_csv(ROOT / "tests" / "data" / "r_compare" / "rossi.csv")
    for c in ["race", "wexp", "mar", "paro"]:
        d[c] = (d[c] == 1).astype("boolean")
    d.loc[(d["fin"] == 0) & (d["week"] > 26) & (d["arrest"] == 1), "arrest"] = 0
    return compare_groups(d, group_col="fin", a=1, b=0, time_col="week", event_col="arrest",
                          covariates=["age", "prio", "race", "wexp", "mar", "paro"], time_unit="weeks",
                          windows=(0, 13, 26, 52))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
_SMALL = re.compile(r"(?<![\d.,<\-+])(10|[1-9])(?![\d.,%])")


def _texts(fig) -> list[str]:
    """Every text a reader can see in a figure: trace texts and names, annotations, titles."""
    out = [html.unescape(a.text or "") for a in fig.layout.annotations]
    out.append(fig.layout.title.text or "")
    for t in fig.data:
        out.append(str(t.name or ""))
        text = getattr(t, "text", None)
        if text is not None:
            out += [str(x) for x in np.atleast_1d(text)]
    return out


def _assert_no_small_count(fig) -> None:
    """No number from 1 to 10 written anywhere (decimals such as 0.1 or 3.3 pp are not counts)."""
    for text in _texts(fig):
        plain = re.sub(r"<[^>]+>", " ", text)
        assert not _SMALL.search(plain), f"a count from 1 to 10 in {plain!r}"
    for t in fig.data:
        if t.type == "bar":
            y = np.abs(np.asarray(t.y, dtype="float64"))
            assert not ((y >= 1) & (y <= 10)).any(), t.name


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, f"{name}: {[t.name for t in fig.data]}"
    return found[0]


def _step_at(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A drawn step line (shape "hv") read at times ``t``: the last point at or before each."""
    return y[np.searchsorted(x, t, side="right") - 1]


# ---------------------------------------------------------------------------------------------
# adjusted curves and the weighted risk table
# ---------------------------------------------------------------------------------------------
def test_adjusted_curves_equal_the_weighted_km_and_its_robust_bands(cmp):
    fig = F.adjusted_km_figure(cmp.curves, cmp.at_risk(TIMES), labels=cmp.labels, origin=cmp.origin,
                               estimand=cmp.estimand, tau=cmp.tau)
    for key, name, level in (("a", "IOP", "iop"), ("b", "Residential", "residential")):
        line = _trace(fig, name)
        assert line.line.color == F.LEVEL_COLORS[level] and line.line.shape == "hv"
        c = cmp.curves[(cmp.curves["group"] == key) & (cmp.curves["n_at_risk"] >= 11)]
        first_small = cmp.curves[(cmp.curves["group"] == key) & (cmp.curves["n_at_risk"] < 11)]["time"].min()
        x, y = np.asarray(line.x, dtype="float64"), np.asarray(line.y, dtype="float64")
        assert x[0] == 0 and y[0] == 0  # the origin: no one relapsed yet
        assert x[-1] == c["time"].max() and x[-1] < first_small  # stops before fewer than 11 are at risk
        t = c["time"].to_numpy()
        np.testing.assert_allclose(_step_at(x[1:], y[1:], t), 1 - c["survival"], atol=1e-6)
        lo = np.asarray(_trace(fig, f"{name} lower").y, dtype="float64")[1:]
        hi = np.asarray(_trace(fig, f"{name} upper").y, dtype="float64")[1:]
        np.testing.assert_allclose(_step_at(x[1:], lo, t), 1 - c["ci_upper"], atol=1e-6)
        np.testing.assert_allclose(_step_at(x[1:], hi, t), 1 - c["ci_lower"], atol=1e-6)
    # the day-0 rise is drawn: IOP's first step is the relapses during treatment
    iop = _trace(fig, "IOP")
    assert iop.x[1] == 0 and iop.y[1] == pytest.approx(1 - cmp.curves["survival"].iloc[0], abs=1e-6)
    assert fig.layout.xaxis.title.text == "Days since discharge"
    assert list(fig.layout.xaxis.tickvals) == TIMES and fig.layout.xaxis.ticktext[0] == "0<br>discharge"
    assert fig.layout.yaxis.title.text == "Relapsed, weighted (%)"
    notes = " ".join(_texts(fig))
    assert "robust 95% intervals" in notes and "ATE weights, stabilised" in notes
    assert "a relapse before discharge counts at day 0" in notes and "restricted mean to 365 days" in notes
    _assert_no_small_count(fig)


def test_risk_rows_are_people_and_weighted_at_risk(cmp):
    ar = cmp.at_risk(TIMES)
    fig = F.adjusted_km_figure(cmp.curves, ar, labels=cmp.labels, origin=cmp.origin)
    for key, name in (("a", "IOP"), ("b", "Residential")):
        a = ar[ar["group"] == key]
        people = _trace(fig, f"{name} at risk, people")
        weighted = _trace(fig, f"{name} at risk, weighted")
        assert list(people.x) == TIMES == list(weighted.x)
        assert list(people.text) == [f"{int(n):,}" for n in a["n_at_risk"]]
        assert list(weighted.text) == [f"{n:,.0f}" for n in a["n_at_risk_weighted"]]
    rows = F.weighted_risk_rows(ar, cmp.labels)
    assert rows[["group", "kind"]].values.tolist() == [["iop", "people"], ["iop", "weighted"],
                                                       ["residential", "people"], ["residential", "weighted"]]
    assert rows.loc[0, "0"] == "1,396" and rows.loc[2, "365"] == "246" and rows.loc[3, "365"] == "252"
    ticks = [re.sub(r"<[^>]+>", "", t) for t in fig.layout.yaxis2.ticktext]
    assert ticks == ["IOP", "weighted", "Residential", "weighted"]


def test_risk_rows_hide_small_flagged_and_hidden_counts(cmp):
    ar = cmp.at_risk([0, 90, 180]).copy()
    ar.loc[0, "n_at_risk"] = 7.0  # small: "<11", and its weighted number hidden with it
    ar.loc[1, "n_at_risk"] = np.nan  # hidden by the publishing step
    ar["n_at_risk_suppressed"] = False
    ar.loc[2, "n_at_risk_suppressed"] = True  # flagged
    fig = F.adjusted_km_figure(cmp.curves, ar, labels=cmp.labels)
    assert list(_trace(fig, "IOP at risk, people").text) == ["<11", "suppressed", "<11"]
    assert list(_trace(fig, "IOP at risk, weighted").text) == ["suppressed"] * 3
    assert list(_trace(fig, "Residential at risk, people").text) == [f"{int(n):,}" for n in ar["n_at_risk"][3:]]
    _assert_no_small_count(fig)


def test_adjusted_curves_options(cmp):
    no_ci = F.adjusted_km_figure(cmp.curves, labels=cmp.labels, show_ci=False, as_relapse=False, origin="admission")
    assert not [t for t in no_ci.data if t.name.endswith((" lower", " upper"))]
    c = cmp.curves[cmp.curves["group"] == "b"]
    line = _trace(no_ci, "Residential")
    assert line.y[0] == 1 and line.y[1] == pytest.approx(c["survival"].iloc[0], abs=1e-6)
    assert no_ci.layout.xaxis.title.text == "Days since admission"
    assert no_ci.layout.yaxis.title.text == "Relapse-free, weighted (%)"
    # groups already named in the frame, ATT weights named in the note
    named = cmp.curves.assign(group=cmp.curves["group"].map(cmp.labels))
    att = F.adjusted_km_figure(named, estimand="att")
    assert [t.name for t in att.data if t.showlegend is not False] == ["IOP", "Residential"]
    assert "ATT weights: Residential weighted to the case mix of IOP" in " ".join(_texts(att))


# ---------------------------------------------------------------------------------------------
# love plot
# ---------------------------------------------------------------------------------------------
def test_love_plot_dots_are_the_standardised_differences(cmp):
    bal = cmp.balance
    fig = F.love_plot_figure(bal, labels=cmp.labels)
    before, after = _trace(fig, "Before weighting"), _trace(fig, "After weighting")
    assert len(before.x) == len(bal) == len(after.x) == 11
    by_label = dict(zip(before.y, np.asarray(before.x, dtype="float64"), strict=True))
    assert by_label["Age"] == pytest.approx(abs(bal["smd_before"].iloc[0]), abs=1e-6)
    assert by_label["Primary substance: Alcohol"] == pytest.approx(0.272913, abs=1e-6)
    np.testing.assert_allclose(np.sort(np.asarray(after.x, dtype="float64")), np.sort(np.abs(bal["smd_after"])),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(before.customdata, dtype="float64"), bal["smd_before"], atol=1e-6)
    order = list(fig.layout.yaxis.categoryarray)  # largest imbalance before weighting on top
    assert order[0] == "Co-occurring disorder: yes" and len(order) == 11
    assert [s.x0 for s in fig.layout.shapes if s.type == "line"] == [0.1]
    notes = " ".join(_texts(fig))
    assert "Differences are IOP minus Residential over the unweighted pooled SD" in notes
    assert "after weighting every row is within 0.1" in notes
    _assert_no_small_count(fig)


def test_love_plot_signed_hidden_and_imbalanced_rows(cmp):
    bal = cmp.balance.copy()
    bal.loc[1, "smd_after"] = 0.25  # still imbalanced after weighting
    bal["smd_before_suppressed"] = False
    bal.loc[4, "smd_before_suppressed"] = True  # hidden
    fig = F.love_plot_figure(bal, labels=cmp.labels, signed=True)
    before = _trace(fig, "Before weighting")
    assert len(before.x) == 10 and "Primary substance: Cannabis" not in before.y
    assert dict(zip(before.y, before.x, strict=True))["Age"] == pytest.approx(bal["smd_before"].iloc[0], abs=1e-6)
    assert sorted(s.x0 for s in fig.layout.shapes if s.type == "line") == [-0.1, 0, 0.1]
    assert "IOP minus Residential" in fig.layout.xaxis.title.text
    notes = " ".join(_texts(fig))
    assert "still beyond 0.1: Sex: Female" in notes and "not shown (hidden or not estimable): Primary substance: " \
                                                         "Cannabis" in notes


# ---------------------------------------------------------------------------------------------
# overlap
# ---------------------------------------------------------------------------------------------
def test_overlap_bars_are_the_histogram_counts_small_bins_not_drawn(cmp):
    ps = cmp.propensity
    h = ps.histogram
    fig = F.overlap_figure(h, labels=cmp.labels, support=ps.support, outside_support=ps.outside_support)
    for key, name, sign in (("a", "IOP", 1), ("b", "Residential", -1)):
        bars = _trace(fig, name)
        g = h[(h["group"] == key) & (h["n"] >= 11)]
        np.testing.assert_allclose(np.asarray(bars.y, dtype="float64"), sign * g["n"].to_numpy(float))
        np.testing.assert_allclose(np.asarray(bars.x, dtype="float64"), (g["bin_lower"] + g["bin_upper"]) / 2,
                                   atol=1e-6)
        assert bars.marker.color == F.group_colors(["iop", "residential"])[cmp.labels[key]]
    small = h[(h["n"] > 0) & (h["n"] < 11)]
    assert len(small) > 0  # the sample has small bins: they are marked, not drawn
    marks = [t for t in fig.data if t.type == "scatter" and "bin hidden" in t.name]
    assert sum(len(t.x) for t in marks) == len(small)
    assert sorted(s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1) == \
        pytest.approx(sorted(ps.support))
    notes = " ".join(_texts(fig))
    assert ps.outside_support == {"a": 9, "b": 0}
    assert "people outside it: IOP fewer than 11 people, Residential no one" in notes
    _assert_no_small_count(fig)


@pytest.mark.parametrize(("outside", "text"), [(None, "not shown"), (float("nan"), "not shown"), (0, "no one"),
                                               (25, "25 people"), (4, "fewer than 11 people")])
def test_overlap_count_outside_support_in_words(cmp, outside, text):
    ps = cmp.propensity
    fig = F.overlap_figure(ps.histogram, labels=cmp.labels, support=ps.support, outside_support=outside)
    assert f"people outside it: {text}" in " ".join(_texts(fig))


def test_overlap_honours_hidden_and_flagged_bins(cmp):
    h = cmp.propensity.histogram.copy()
    big = h.index[(h["group"] == "a") & (h["n"] >= 11)]
    h["n_suppressed"] = False
    h.loc[big[0], "n_suppressed"] = True
    h.loc[big[1], "n"] = np.nan
    fig = F.overlap_figure(h, labels=cmp.labels)
    assert len(_trace(fig, "IOP").y) == len(big) - 2


# ---------------------------------------------------------------------------------------------
# hazard ratios
# ---------------------------------------------------------------------------------------------
def test_window_hazard_ratios_beside_the_whole_period(cmp):
    fig = F.window_hr_figure(cmp.window_hazards.table, weighted=cmp.weighted_cox, adjusted=cmp.adjusted_cox,
                             labels=cmp.labels, ph_p=cmp.ph["p"])
    data = F.figure_data(fig).set_index("x")
    w = cmp.window_hazards.table
    for r in w.itertuples():
        row = data.loc[f"Days {r.from_time:g}-{r.to_time:g}"]
        assert row[["estimate", "lower", "upper"]].tolist() == pytest.approx([r.hr, r.lower, r.upper], abs=1e-5)
    for label, h in (("Whole period, weighted", cmp.weighted_cox), ("Whole period, covariate-adjusted",
                                                                    cmp.adjusted_cox)):
        assert data.loc[label, ["estimate", "lower", "upper"]].tolist() == pytest.approx([h.hr, h.lower, h.upper],
                                                                                          abs=1e-5)
    assert list(fig.layout.yaxis.categoryarray) == ["Days 0-30", "Days 30-90", "Days 90-365",
                                                    "Whole period, weighted", "Whole period, covariate-adjusted"]
    assert fig.layout.xaxis.type == "log" and [s.x0 for s in fig.layout.shapes if s.name != "separator"] == [1]
    notes = " ".join(_texts(fig))
    assert "Above one: IOP relapses sooner than Residential" in notes
    assert "proportional hazards rejected (p < 0.001)" in notes and "no estimate" not in notes
    _assert_no_small_count(fig)


def test_window_without_a_ratio_reads_no_estimate(rossi):
    w = rossi.window_hazards.table
    assert np.isnan(w["hr"].iloc[2]) and np.isfinite(w["hr"].iloc[:2]).all()
    fig = F.window_hr_figure(w, weighted=rossi.weighted_cox.to_dict(), labels={"a": "aid", "b": "no aid"},
                             time_unit="weeks", ph_p=0.4)
    data = F.figure_data(fig)
    assert "Weeks 26-52" not in set(data["x"]) and {"Weeks 0-13", "Weeks 13-26"} <= set(data["x"])
    mark = [a for a in fig.layout.annotations if a.text == "no estimate"]
    assert len(mark) == 1 and mark[0].y == "Weeks 26-52" and mark[0].x == 0  # at the line (log10 1 = 0)
    assert "Weeks 26-52" in fig.layout.yaxis.categoryarray
    notes = " ".join(_texts(fig))
    assert "no evidence against proportional hazards (p = 0.400)" in notes and "Above one: aid relapses" in notes


# ---------------------------------------------------------------------------------------------
# the headline differences
# ---------------------------------------------------------------------------------------------
def test_contrasts_are_the_relapse_and_rmst_differences(cmp):
    fig = F.contrasts_figure(cmp.differences, cmp.rmst, labels=cmp.labels, horizons=[90, 180, 365])
    data = F.figure_data(fig)
    d = cmp.differences.set_index("time").loc[[90, 180, 365]]
    rel = data[data["series"] == "Relapse difference (95% CI)"]
    np.testing.assert_allclose(rel[["estimate", "lower", "upper"]].to_numpy(),
                               d[["relapse_difference", "relapse_lower", "relapse_upper"]].to_numpy(), atol=1e-6)
    assert list(rel["x"]) == [f"Relapsed by {t} days: {fmt_pp(r.relapse_difference, r.relapse_lower, r.relapse_upper)}"
                              for t, r in zip((90, 180, 365), d.itertuples(), strict=True)]
    assert rel["x"].iloc[0] == "Relapsed by 90 days: +3.3 pp (95% CI -0.8 to +7.5)"
    rm = data[data["series"].str.startswith("Restricted mean")].iloc[0]
    r = cmp.rmst
    assert [rm["estimate"], rm["lower"], rm["upper"]] == pytest.approx([r["estimate"], r["lower"], r["upper"]],
                                                                       abs=1e-5)
    assert rm["x"] == "Relapse-free days of the first 365: -6.9 days (95% CI -20.7 to +6.8)"
    notes = " ".join(_texts(fig))
    assert "IOP 215.6, Residential 222.5" in notes and "right of zero: more of IOP relapsed" in notes
    assert fig.layout.xaxis.range[0] == -fig.layout.xaxis.range[1]  # centred on zero
    _assert_no_small_count(fig)


def test_contrasts_hidden_horizon_and_no_rmst(cmp):
    d = cmp.differences.copy()
    d.loc[d["time"] == 180, ["relapse_difference", "relapse_lower", "relapse_upper"]] = np.nan
    fig = F.contrasts_figure(d, labels=cmp.labels)
    data = F.figure_data(fig)
    assert len(data) == 3 and not data["x"].str.contains("180").any()
    assert "Relapsed by 180 days: not shown" in fig.layout.yaxis.categoryarray
    assert "yaxis2" not in fig.layout.to_plotly_json()


# ---------------------------------------------------------------------------------------------
# phones, and a real drawing
# ---------------------------------------------------------------------------------------------
def _all(cmp, compact: bool):
    ps = cmp.propensity
    times = [0, 90, 180, 365] if compact else TIMES
    return {
        "curves": F.adjusted_km_figure(cmp.curves, cmp.at_risk(times), labels=cmp.labels, origin=cmp.origin,
                                       estimand=cmp.estimand, tau=cmp.tau, compact=compact),
        "love": F.love_plot_figure(cmp.balance, labels=cmp.labels, compact=compact),
        "overlap": F.overlap_figure(ps.histogram, labels=cmp.labels, support=ps.support,
                                    outside_support=ps.outside_support, compact=compact),
        "hazards": F.window_hr_figure(cmp.window_hazards.table, weighted=cmp.weighted_cox,
                                      adjusted=cmp.adjusted_cox, labels=cmp.labels, ph_p=cmp.ph["p"], compact=compact),
        "contrasts": F.contrasts_figure(cmp.differences, cmp.rmst, labels=cmp.labels, compact=compact),
    }


def test_compact_layouts_for_a_phone(cmp):
    wide, phone = _all(cmp, False), _all(cmp, True)
    for name, fig in phone.items():
        assert fig.layout.meta["continuum"]["compact"] is True, name
        assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container", name
        _assert_no_small_count(fig)
    for name in ("love", "hazards", "contrasts"):  # labels above their rows, the plot the full width
        labels = [a.text for a in phone[name].layout.annotations if a.name == "row label"]
        assert labels and phone[name].layout.margin.l == 14 and phone[name].layout.yaxis.showticklabels is False
        assert wide[name].layout.margin.l > 100
    assert list(phone["curves"].layout.xaxis.tickvals) == [0, 90, 180, 365]
    # the same numbers on a phone
    pd.testing.assert_frame_equal(F.figure_data(wide["hazards"]), F.figure_data(phone["hazards"]))


needs_chromium = pytest.mark.skipif(F.find_chromium() is None, reason="no Chromium on this machine")


@needs_chromium
def test_every_figure_draws_at_desktop_and_phone_width(cmp):
    try:
        for compact, width in ((False, 1100), (True, 380)):
            for name, fig in _all(cmp, compact).items():
                png = F.static_image(fig, "png", width=width)
                assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == width, name
    finally:
        F.close_static_export()


def test_builders_take_published_frames_without_optional_columns(cmp):
    """A published curve may be only its corners, without numbers at risk; the builders still draw."""
    curves = cmp.curves[["group", "time", "survival", "ci_lower", "ci_upper"]].iloc[::25]
    fig = F.adjusted_km_figure(curves, labels=cmp.labels)
    assert len(_trace(fig, "IOP").x) > 5
    bal = cmp.balance[["covariate", "level", "smd_before", "smd_after"]]
    assert len(_trace(F.love_plot_figure(bal), "After weighting").x) == 11
    hr = cmp.weighted_cox.to_dict()
    assert F.figure_data(F.window_hr_figure(cmp.window_hazards.table.iloc[:0], weighted=hr))["estimate"].iloc[0] \
        == pytest.approx(cmp.weighted_cox.hr, abs=1e-5)


def test_uploaded_group_names_are_escaped_and_never_in_a_hover_template(cmp):
    labels = {"a": "<b>zqx</b> & %{x}", "b": "night"}
    figs = [F.adjusted_km_figure(cmp.curves, cmp.at_risk(TIMES), labels=labels),
            F.love_plot_figure(cmp.balance, labels=labels),
            F.overlap_figure(cmp.propensity.histogram, labels=labels, support=cmp.propensity.support),
            F.window_hr_figure(cmp.window_hazards.table, weighted=cmp.weighted_cox, labels=labels),
            F.contrasts_figure(cmp.differences, cmp.rmst, labels=labels)]
    for fig in figs:
        shown = [a.text for a in fig.layout.annotations] + [fig.layout.title.text] + [t.name for t in fig.data]
        assert any("&lt;b&gt;zqx&lt;/b&gt; &amp; %{x}" in (s or "") for s in shown), fig.layout.title.text
        assert not any("<b>zqx</b>" in (s or "") for s in shown)
        assert not any("zqx" in (t.hovertemplate or "") for t in fig.data)


def test_relapse_axis_shortened_only_when_every_band_stays_under_half(cmp, rossi):
    full = F.adjusted_km_figure(cmp.curves, labels=cmp.labels)
    assert list(full.layout.yaxis.range) == [0, 1.02]  # the sample reaches 50%
    short = F.adjusted_km_figure(rossi.curves, labels={"a": "aid", "b": "no aid"}, time_unit="weeks", origin=None)
    top = 1 - rossi.curves["ci_lower"].min()  # the highest band, relapse = 1 - lower limit of S
    assert top < 0.5 and list(short.layout.yaxis.range) == pytest.approx([0, np.ceil(top * 10) / 10 + 0.02])
    assert list(F.adjusted_km_figure(rossi.curves, full_axis=True).layout.yaxis.range) == [0, 1.02]
    assert short.layout.xaxis.title.text == "Weeks"
