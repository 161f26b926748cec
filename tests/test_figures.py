"""Figures: every builder on small hand frames made with the real analysis functions.

Checked: titles, axis titles with units, one legend group per group in its level colour, KM curves
cut where fewer than 11 are at risk (counted here by hand from the rows), suppressed bars absent,
the number-at-risk text equal to ``at_risk_table``, small Sankey links hidden, speed on 1M rows.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis import figures as F
from analysis import labels
from analysis.survival import at_risk_table, km_by_group


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _axis_titles(fig: go.Figure) -> list[str]:
    lay = fig.layout
    out = []
    for name in dir(lay):
        if name.startswith(("xaxis", "yaxis")):
            ax = getattr(lay, name)
            if ax is not None and ax.title is not None and ax.title.text:
                out.append(ax.title.text)
    return out


def _lines(fig: go.Figure) -> list:
    """Legend-bearing traces (one per group)."""
    return [t for t in fig.data if t.showlegend is not False]


def _annotations(fig: go.Figure) -> str:
    return " | ".join(html.unescape(a.text) for a in fig.layout.annotations if a.text)


def _tiny_km_data() -> pd.DataFrame:
    """Two levels: iop 30 people at days 1..30 (every 3rd censored), op 14 people at days 2, 4, ..., 28."""
    iop_t = np.arange(1, 31, dtype=float)
    iop_e = np.where(np.arange(30) % 3 == 2, 0, 1)
    op_t = np.arange(2, 30, 2, dtype=float)
    op_e = np.ones(14, dtype=int)
    return pd.DataFrame({
        "group": ["iop"] * 30 + ["op"] * 14,
        "time": np.concatenate([iop_t, op_t]),
        "event": np.concatenate([iop_e, op_e]),
    })


# ---------------------------------------------------------------------------------------------
# colours and labels
# ---------------------------------------------------------------------------------------------
def test_level_colors_are_okabe_ito():
    assert F.LEVEL_COLORS == {"detox": "#E69F00", "inpatient": "#D55E00", "residential": "#CC79A7",
                              "php": "#009E73", "iop": "#0072B2", "op": "#56B4E9"}
    assert set(F.LEVEL_COLORS.values()) <= set(F.OKABE_ITO)


def test_group_colors_levels_then_others():
    cols = F.group_colors(["op", "iop", "Site A", "Site B", "Site C"])
    assert cols["op"] == "#56B4E9" and cols["iop"] == "#0072B2"
    # black first, then colours of levels not on this chart (detox orange here), faint yellow last
    assert cols["Site A"] == "#000000" and cols["Site B"] == F.LEVEL_COLORS["detox"]
    # the third non-level group takes an Okabe-Ito colour not used by a level on this chart
    assert cols["Site C"] not in {"#56B4E9", "#0072B2", "#000000", "#F0E442"}
    many = F.group_colors([f"s{i}" for i in range(12)])
    assert len(many) == 12 and list(many.values())[:2] == ["#000000", F.LEVEL_COLORS["detox"]]
    assert list(many.values())[7] == "#F0E442"
    # non-string groups are keyed by str()
    assert set(F.group_colors([True, False])) == {"True", "False"}


def test_group_label():
    assert F.group_label("iop") == "IOP"
    assert F.group_label("php") == "PHP"
    assert F.group_label("op") == "OP"
    assert F.group_label("detox") == "Detox"
    assert F.group_label("residential") == "Residential"
    assert F.group_label("North Clinic") == "North Clinic"
    assert F.group_label(3) == "3"


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier
# ---------------------------------------------------------------------------------------------
def test_km_figure_structure_colours_and_titles():
    data = _tiny_km_data()
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    fig = F.km_figure(km, origin="discharge")
    assert fig.layout.title.text == "Time to relapse by group (from discharge)"
    assert "Days since discharge" in _axis_titles(fig)
    assert "Cumulative relapse (%)" in _axis_titles(fig)
    lines = _lines(fig)
    assert [t.name for t in lines] == ["IOP", "OP"]
    assert [t.line.color for t in lines] == ["#0072B2", "#56B4E9"]
    assert all(t.line.shape == "hv" for t in lines)
    # every trace of a group (band, line, marks) carries its legend group
    assert {t.legendgroup for t in fig.data} == {"iop", "op"}
    band = [t for t in fig.data if t.fill == "tonexty"]
    assert len(band) == 2 and band[0].fillcolor == "rgba(0,114,178,0.15)"
    assert fig.layout.yaxis.tickformat == ".0%"
    assert fig.layout.hovermode == "x unified"


def test_km_figure_truncates_below_min_cell_and_values_are_one_minus_s():
    data = _tiny_km_data()
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    fig = F.km_figure(km, show_ci=False, show_censor_marks=False)
    iop = next(t for t in fig.data if t.name == "IOP")
    # by hand: at day t, n at risk = #(time >= t) = 31 - t; the curve stops at the first
    # time with n < 11, i.e. t = 21: last drawn time is 20
    assert np.asarray(iop.x).max() == 20
    # drawn values are 1 - S(t) from the KM table (step corners only)
    k = km[(km["group"] == "iop") & (km["time"] <= 20)].set_index("time")
    x = np.asarray(iop.x)
    np.testing.assert_allclose(np.asarray(iop.y), 1 - k.loc[x, "survival"].to_numpy(), atol=1e-7)
    # hand-computed 1 - S(2): two events out of 30 then 29 at risk
    assert np.asarray(iop.y)[x == 2][0] == pytest.approx(1 - (29 / 30) * (28 / 29))
    # op: 14 at risk at time 2; 11 at time 8, 10 at time 10 -> stops at 8
    op = next(t for t in fig.data if t.name == "OP")
    assert np.asarray(op.x).max() == 8
    assert "<11: not shown" in _annotations(fig)


def test_km_figure_survival_view_and_ci_flip():
    data = _tiny_km_data()
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    rel = F.km_figure(km, show_censor_marks=False)
    surv = F.km_figure(km, show_censor_marks=False, as_relapse=False)
    assert "Relapse-free (%)" in _axis_titles(surv)
    r_lo, r_hi = rel.data[0], rel.data[1]
    s_lo, s_hi = surv.data[0], surv.data[1]
    # 1 - S interval is [1 - upper, 1 - lower]; NaN limits (S = 1) fall back to the estimate
    # (plotted as float32: equal to 1e-7, far below a pixel)
    np.testing.assert_allclose(np.asarray(r_lo.y), 1 - np.asarray(s_hi.y), atol=1e-7)
    np.testing.assert_allclose(np.asarray(r_hi.y), 1 - np.asarray(s_lo.y), atol=1e-7)
    assert np.all(np.asarray(r_lo.y) <= np.asarray(rel.data[2].y) + 1e-12)


def test_km_at_risk_table_text_matches_at_risk_table():
    data = _tiny_km_data()
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    days = [0, 5, 10, 20, 25]
    ar = at_risk_table(km, days)
    fig = F.km_figure(km, at_risk=ar, origin="admission", horizon_days=20,
                      benchmark_band=(0.4, 0.6, "40-60% relapse within a year (McLellan et al., JAMA 2000)"))
    assert "Days since admission" in _axis_titles(fig)
    text_traces = [t for t in fig.data if t.mode == "text"]
    assert len(text_traces) == 2
    for tr, g in zip(text_traces, ["iop", "op"], strict=True):
        a = ar[ar["group"] == g]
        expected = []
        for n, e in zip(a["n_at_risk"], a["n_event_cum"], strict=True):
            fmt = lambda v: "<11" if 1 <= v < 11 else f"{v:,.0f}"  # noqa: E731
            expected.append(f"{fmt(n)} ({fmt(e)})")
        assert list(tr.text) == expected
        assert tr.textfont.color == F.LEVEL_COLORS[g]
        np.testing.assert_array_equal(np.asarray(tr.x), np.asarray(days, dtype=float))
    # by hand, iop at day 5: 26 at risk (T >= 5); events by day 5: days 1, 2, 4, 5 -> 4 -> "<11"
    assert text_traces[0].text[1] == "26 (<11)"
    # op at day 25: T >= 25 -> 28 only... times 26, 28 -> 2 at risk -> "<11"
    assert text_traces[1].text[4].startswith("<11")
    assert "Number at risk" in _annotations(fig)
    # the curves stop at day 20: a band stated at 365 days has nothing to sit beside, and says so
    assert "band at 365 days not drawn: no curve reaches 365 days" in _annotations(fig)
    assert not any(s.type == "rect" for s in fig.layout.shapes) and any(s.type == "line" for s in fig.layout.shapes)
    # the x ticks of the chart are the table's days, so columns line up
    assert list(fig.layout.xaxis.tickvals) == days
    # a table of day 0 alone (a small trial's curves cut before its first table day) leaves Plotly's own ticks:
    # one "0" under the whole axis told nothing (veterans, uploaded)
    lone = F.km_figure(km, at_risk=at_risk_table(km, [0]), origin="admission")
    assert lone.layout.xaxis.tickvals is None and lone.layout.xaxis.range[1] > 20


def test_km_figure_escapes_uploaded_labels_and_handles_ten_groups():
    rng = np.random.default_rng(1)
    groups = [f"<b>site {i}</b>" for i in range(10)]
    data = pd.DataFrame({"group": np.repeat(groups, 40), "time": rng.integers(0, 100, 400).astype(float),
                         "event": rng.integers(0, 2, 400)})
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    fig = F.km_figure(km, at_risk=at_risk_table(km, [0, 30, 60]))
    names = [t.name for t in _lines(fig)]
    assert len(names) == 10
    assert all(n.startswith("&lt;b&gt;site") for n in names)
    assert len({t.line.color for t in _lines(fig)}) == 10


@pytest.mark.slow
def test_km_figure_one_million_rows_is_thinned():
    # speed is measured outside the tests (project rule: no timed assertions); measured 0.06 s here
    rng = np.random.default_rng(0)
    n = 1_000_000
    big = pd.DataFrame({"g": rng.choice(list(F.LEVEL_COLORS), n), "t": rng.integers(0, 3000, n).astype(float),
                        "e": rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05])})
    km = km_by_group(big, time_col="t", event_col="e", group_col="g")
    assert km.groupby("group", observed=True).size().min() > 2500  # thousands of distinct times
    ar = at_risk_table(km, [0, 90, 180, 365, 730])
    fig = F.km_figure(km, at_risk=ar)
    marks = [t for t in fig.data if t.mode == "markers"]
    assert len(marks) == 6 and all(len(t.x) <= 200 for t in marks)
    # step corners only: never more points than distinct event times (+ first and last row)
    for t in _lines(fig):
        k = km[(km["group"] == t.legendgroup) & (km["n_event"] > 0)]
        assert len(t.x) <= len(k) + 2


# ---------------------------------------------------------------------------------------------
# export helpers
# ---------------------------------------------------------------------------------------------
def test_to_image_config_and_provenance():
    cfg = F.to_image_config("relapse_km")
    assert cfg == {"toImageButtonOptions": {"format": "png", "filename": "relapse_km", "scale": 2},
                   "displaylogo": False}
    fig = F.add_provenance(go.Figure(), "file.csv <2026>")
    ann = fig.layout.annotations[-1]
    assert ann.text == "file.csv &lt;2026&gt;" and ann.xref == "paper" and ann.font.color == "#777777"


# ---------------------------------------------------------------------------------------------
# the other builders, on a small synthetic cohort run through the real analysis functions
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cohort():
    from analysis.cohort import derive_cohort
    from analysis.synthetic import generate_episodes
    return derive_cohort(generate_episodes(3000, seed=11))


def _check_common(fig: go.Figure, *units: str) -> None:
    assert fig.layout.title.text
    titles = " | ".join(_axis_titles(fig))
    for u in units:
        assert u in titles


def test_cumulative_incidence_figure(cohort):
    from analysis.relapse import relapse_survival_data
    from analysis.survival import cumulative_incidence
    d = relapse_survival_data(cohort)
    cif = cumulative_incidence(d, time_col="time", event_col="event", group_col="group")
    fig = F.cumulative_incidence_figure(cif, origin="discharge")
    _check_common(fig, "Days since discharge", "(%)")
    solid = [t for t in fig.data if t.mode == "lines" and t.showlegend is not False and t.legendgroup in F.LEVEL_COLORS]
    assert {t.legendgroup for t in solid} == set(cif["group"].astype(str))
    assert all(t.line.color == F.LEVEL_COLORS[t.legendgroup] for t in solid)
    dashed = [t for t in fig.data if t.line.dash == "dash" and t.legendgroup in F.LEVEL_COLORS]
    assert len(dashed) == len(solid)
    # each curve stops before n at risk drops under 11
    for t in solid:
        k = cif[(cif["group"] == t.legendgroup)]
        first_low = k.loc[k["n_at_risk"] < 11, "time"].min()
        assert np.asarray(t.x).max() < first_low


def test_retention_figure_marks(cohort):
    from analysis.retention import retention_curve
    fig = F.retention_figure(retention_curve(cohort), marks=(30, 60, 90))
    _check_common(fig, "Days since admission", "Still in treatment (%)")
    vlines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(s.x0 for s in vlines) == [30, 60, 90]


def test_completion_figure_hides_suppressed_and_draws_benchmarks(cohort):
    from analysis.retention import completion_rates
    comp = completion_rates(cohort)
    comp.loc[comp["group"] == "inpatient", ["completion_rate", "ci_lower", "ci_upper", "n_completed"]] = np.nan
    pl = pd.DataFrame({"group": ["iop", "op"], "benchmark_low": [0.38, 0.36], "benchmark_high": [0.38, 0.36],
                       "benchmark_label": ["TEDS 2004 IOP", "TEDS 2004 OP"]})
    fig = F.completion_figure(comp, placements=pl)
    _check_common(fig, "(% of discharges")
    bars = [t for t in fig.data if t.type == "bar"]
    assert "Inpatient" not in [t.name for t in bars]
    assert len(bars) == len(comp) - 1
    iop = next(t for t in bars if t.name == "IOP")
    r = comp[comp["group"] == "iop"].iloc[0]
    assert iop.x[0] == pytest.approx(r["completion_rate"])
    assert iop.error_x.array[0] == pytest.approx(r["ci_upper"] - r["completion_rate"])
    assert iop.marker.color == F.LEVEL_COLORS["iop"]
    # TEDS ticks are stated over all discharges: not drawn beside rates that leave transfers out
    assert not [s for s in fig.layout.shapes if s.type == "rect"]
    assert "2 benchmark tick(s) stated over all discharges not drawn" in _annotations(fig)
    assert "<11: not shown" in _annotations(fig)


def test_completion_figure_like_for_like_ticks(cohort):
    from analysis.benchmarks import place_against_benchmarks
    from analysis.retention import completion_rates

    comp = completion_rates(cohort)
    est = pd.DataFrame({"metric": "discharge_reason_completed", "unit": "discharge",
                        "level_of_care": comp["group"].astype(str), "group": comp["group"].astype(object),
                        "estimate": comp["completion_rate_all"], "lower": comp["all_ci_lower"],
                        "upper": comp["all_ci_upper"]})
    pl = place_against_benchmarks(est)
    pl = pl[pl["benchmark_level_of_care"] != ""]
    fig = F.completion_figure(comp, placements=pl, basis="all_discharges")
    assert "all discharges" in fig.layout.title.text and "all discharges" in fig.layout.xaxis.title.text
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    # bars over all discharges: completed / discharged, by hand from the cohort
    res = cohort[(cohort["level_of_care"] == "residential") & ~cohort["in_treatment"]]
    assert bars["Residential"].x[0] == pytest.approx(res["completed"].mean())
    ticks = [s for s in fig.layout.shapes if s.type == "rect"]
    # one TEDS 2004 tick per level with a by-service figure (php has none); residential has two
    assert len(ticks) == 6
    res_i = list(fig.layout.yaxis.categoryarray).index("Residential")
    res_ticks = sorted((t.x0 + t.x1) / 2 for t in ticks if t.y0 < res_i < t.y1)
    assert res_ticks == pytest.approx([0.43, 0.62])
    tick_labels = [a.text for a in fig.layout.annotations if a.name == "tick label"]
    assert sorted(tick_labels) == ["long-term", "short-term"]
    key = next(t for t in fig.data if t.type == "scatter")
    assert key.name == "Benchmark: SAMHSA TEDS 2004 (all discharges)"
    # a suppressed row gets neither a bar nor a tick
    comp2 = comp.copy()
    comp2.loc[comp2["group"] == "residential", ["completion_rate_all", "all_ci_lower", "all_ci_upper"]] = np.nan
    fig2 = F.completion_figure(comp2, placements=pl, basis="all_discharges")
    assert len([s for s in fig2.layout.shapes if s.type == "rect"]) == 4
    with pytest.raises(ValueError, match="Unknown completion basis"):
        F.completion_figure(comp, basis="some")


def test_reason_mix_figure_fixed_colours_and_suppression(cohort):
    from analysis.retention import discharge_reason_mix
    from analysis.suppression import suppress_counts
    mix = suppress_counts(discharge_reason_mix(cohort), ["n"], rate_cols={"share": "n"})
    fig = F.reason_mix_figure(mix)
    _check_common(fig, "Share of discharges (%)")
    assert fig.layout.barmode == "stack"
    for t in fig.data:
        assert t.marker.color == F.REASON_COLORS[t.legendgroup]
        shown = mix[(mix["reason"] == t.legendgroup) & mix["share"].notna()]
        assert len(t.x) == len(shown)
        np.testing.assert_allclose(np.asarray(t.x), shown["share"].to_numpy())
    n_hidden = int(mix["share"].isna().sum())
    assert n_hidden > 0 and f"{n_hidden} small" in _annotations(fig)


def test_los_figure_box_stats_match_pandas(cohort):
    fig = F.los_figure(cohort)
    _check_common(fig, "Length of stay (days)")
    done = cohort[~cohort["in_treatment"]]
    for t in fig.data:
        s = done.loc[done["level_of_care"] == t.legendgroup, "los_days"]
        assert t.median[0] == pytest.approx(s.median())
        assert t.q1[0] == pytest.approx(s.quantile(0.25)) and t.q3[0] == pytest.approx(s.quantile(0.75))
        iqr = s.quantile(0.75) - s.quantile(0.25)
        assert t.upperfence[0] == pytest.approx(s[s <= s.quantile(0.75) + 1.5 * iqr].max())
        assert t.line.color == F.LEVEL_COLORS[t.legendgroup]
    small = cohort.copy()
    keep = small.index[(small["level_of_care"] == "inpatient") & ~small["in_treatment"]][:5]
    small = small[(small["level_of_care"] != "inpatient") | small.index.isin(keep)]
    fig2 = F.los_figure(small)
    assert "inpatient" not in {t.legendgroup for t in fig2.data}
    assert "<11: not shown: Inpatient" in _annotations(fig2)
    assert F.los_figure(cohort, log_y=True).layout.yaxis.type == "log"


def test_hours_figure_asam_lines(cohort):
    fig = F.hours_figure(cohort)
    _check_common(fig, "Hours per week")
    hl = sorted(s.y0 for s in fig.layout.shapes if s.type == "line")
    assert hl == [9.0, 20.0]
    assert "ASAM minimum IOP 9 h/week" in _annotations(fig)
    # by hand for IOP: scheduled hours / (max(los, 1) / 7)
    c = cohort[(cohort["level_of_care"] == "iop") & cohort["hours_scheduled"].notna() & cohort["hours_attended"].notna()]
    per_week = c["hours_scheduled"] / (np.maximum(c["los_days"], 1) / 7)
    sched = next(t for t in fig.data if t.legendgroup == "iop" and t.offsetgroup == "Scheduled")
    assert sched.median[0] == pytest.approx(per_week.median())
    with pytest.raises(ValueError, match="hours"):
        F.hours_figure(cohort.drop(columns=["hours_scheduled"]))


def test_sankey_hides_small_links():
    flows = pd.DataFrame({"from_level": ["residential", "residential", "residential", "iop", "iop"],
                          "to_level": ["iop", "op", "no further episode", "op", "no further episode"],
                          "n": [40, 7, 100, 3, 80]})
    fig = F.sankey_figure(flows)
    sk = fig.data[0]
    assert list(sk.link.value) == [40, 100, 80]
    labels = list(sk.node.label)
    assert labels[:2] == ["Residential (discharged)", "IOP (discharged)"]
    assert "No further episode" in labels and "OP" not in labels
    assert sk.node.color[0] == F.LEVEL_COLORS["residential"]
    assert "2 links with fewer than 11 episodes not shown" in _annotations(fig)
    assert fig.layout.title.text


def test_relapse_horizons_figure(cohort):
    from analysis.relapse import relapse_rates
    rates = relapse_rates(cohort)
    rates.loc[(rates["group"] == "inpatient") & (rates["horizon_days"] == 365), "naive_rate"] = np.nan
    fig = F.relapse_horizons_figure(rates, benchmark_band=(0.4, 0.6, "40-60% (McLellan 2000)"))
    _check_common(fig, "Days since discharge", "Cumulative relapse (%)")
    assert list(fig.layout.xaxis.ticktext) == ["30 d", "90 d", "180 d", "365 d"]
    km = next(t for t in fig.data if t.name == "IOP")
    r = rates[rates["group"] == "iop"]
    np.testing.assert_allclose(np.asarray(km.y), r["km_relapse"].to_numpy())
    np.testing.assert_allclose(np.asarray(km.error_y.array), (r["km_upper"] - r["km_relapse"]).to_numpy())
    assert km.marker.color == F.LEVEL_COLORS["iop"]
    naive = next(t for t in fig.data if t.name == "Inpatient naive")
    assert len(naive.x) == 3 and naive.marker.symbol == "circle-open"
    lost = next(t for t in fig.data if t.name == "IOP lost as relapse")
    np.testing.assert_allclose(np.asarray(lost.y), r["bound_all_relapsed"].to_numpy())
    assert any(s.type == "rect" for s in fig.layout.shapes)
    assert "1 suppressed value left out" in _annotations(fig)


def test_forest_figure_log_axis_and_clipping():
    terms = pd.DataFrame({"term": ["level_of_care[iop]", "age", "level_of_care[op]", "sex[<b>x</b>]"],
                          "hr": [0.8, 1.01, 2.0, 1.2], "lower": [0.7, 1.0, 0.5, 1.0],
                          "upper": [0.9, 1.02, np.inf, 1.4], "p": [0.0001, 0.04, 0.3, 0.05]})
    fig = F.forest_figure(terms)
    _check_common(fig, "Hazard ratio (log scale)")
    assert fig.layout.xaxis.type == "log"
    pts = fig.data[0]
    assert list(pts.y) == ["Level of care: IOP", "Age (per year)", "Level of care: OP", "Sex: &lt;b&gt;x&lt;/b&gt;"]
    assert pts.marker.color[0] == F.LEVEL_COLORS["iop"]
    assert np.isfinite(np.asarray(pts.error_x.array)).all()
    assert "∞" in _annotations(fig)
    assert any(s.x0 == 1 for s in fig.layout.shapes)
    assert list(pts.customdata[:, 2]) == ["p < 0.001", "p = 0.040", "p = 0.300", "p = 0.050"]


def test_balance_figure_sorted_with_reference_line(cohort):
    from analysis.casemix import standardized_differences
    bal = standardized_differences(cohort, groups=["iop", "residential"])
    fig = F.balance_figure(bal)
    _check_common(fig, "SD units")
    order = list(fig.layout.yaxis.categoryarray)
    top = bal.loc[bal["smd"].abs().idxmax()]
    assert order[0].startswith(html.escape(labels.column_label(top["variable"])))
    assert not any("_" in o for o in order)  # readable labels, no raw codes
    np.testing.assert_allclose(np.sort(np.asarray(fig.data[0].x)), np.sort(bal["smd"].abs().to_numpy()))
    assert any(s.x0 == 0.1 for s in fig.layout.shapes)


def test_benchmark_figure():
    from analysis.benchmarks import place_against_benchmarks
    est = pd.DataFrame({"metric": ["relapse", "discharge_reason_completed"], "estimate": [0.52, 0.40],
                        "lower": [0.49, 0.36], "upper": [0.55, 0.44], "horizon_days": [365, None],
                        "origin": ["discharge", None], "level_of_care": ["", "iop"]})
    pl = place_against_benchmarks(est)
    fig = F.benchmark_figure(pl)
    _check_common(fig, "(%)")
    band = fig.data[0]
    assert band.type == "bar" and len(band.y) == len(pl)
    inside = next(t for t in fig.data if t.name == "Estimate: inside")
    assert inside.x[0] == pytest.approx(0.52) and inside.marker.color == F.PLACEMENT_STYLES["inside"][0]
    mcl = pl[pl["benchmark_id"] == "mclellan2000_relapse_365"].iloc[0]
    i = list(pl["benchmark_id"]).index("mclellan2000_relapse_365")
    assert band.base[i] == pytest.approx(mcl["benchmark_low"]) and band.x[i] == pytest.approx(0.2)


def test_benchmark_figure_uses_caller_labels():
    from analysis.benchmarks import place_against_benchmarks

    est = pd.DataFrame({"metric": ["relapse"], "horizon_days": [365], "origin": ["discharge"], "unit": ["person"],
                        "estimate": [0.5], "lower": [0.45], "upper": [0.55],
                        "what": ["Relapse within a year after discharge (IOP)"]})
    fig = F.benchmark_figure(place_against_benchmarks(est))
    labels = {str(v).replace("<br>", " ") for t in fig.data for v in (t.y if t.y is not None else [])}
    assert "Relapse within a year after discharge (IOP) vs McLellan et al. 2000" in labels


# ---------------------------------------------------------------------------------------------
# benchmarks drawn only where they apply; KM publication options; compact layout; sizes
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_km(cohort):
    from analysis.relapse import relapse_survival_data
    d = relapse_survival_data(cohort, origin="discharge")
    return d, km_by_group(d, time_col="time", event_col="event", group_col="group")


def _band_shapes(fig):
    return [s for s in fig.layout.shapes if s.type == "rect" and s.name == "benchmark band"]


def test_km_band_drawn_at_its_horizon_only(sample_km):
    from analysis.benchmarks import benchmark_band
    _, km = sample_km
    band = benchmark_band("mclellan2000_relapse_365")
    fig = F.km_figure(km, origin="discharge", benchmark_band=band, show_censor_marks=False)
    (rect,) = _band_shapes(fig)
    # a short bar centred on day 365 (1.2% of the axis either side), from 40% to 60%, not a strip
    half = 0.012 * float(fig.layout.xaxis.range[1] / 1.02)
    assert rect.x0 == pytest.approx(365 - half, abs=1) and rect.x1 == pytest.approx(365 + half, abs=1)
    assert 350 < rect.x0 < 365 < rect.x1 < 380
    assert (rect.y0, rect.y1) == (0.4, 0.6)
    assert not [s for s in fig.layout.shapes if s.xref == "paper" or (s.x0 is not None and s.x0 < 300)]
    assert "McLellan et al. 2000: 40-60% at 365 days" in _annotations(fig)
    # the legacy tuple is the one-year band, drawn the same way
    legacy = F.km_figure(km, benchmark_band=(0.4, 0.6, "40-60% (McLellan 2000)"), show_censor_marks=False)
    assert _band_shapes(legacy)[0].x0 == pytest.approx(rect.x0)
    # from admission the band (stated from discharge) is not drawn, and the chart says why
    adm = F.km_figure(km, origin="admission", benchmark_band=band, show_censor_marks=False)
    assert not _band_shapes(adm)
    assert "stated from discharge, so not drawn on a chart from admission" in _annotations(adm)


def test_relapse_horizons_band_only_at_365_and_same_origin(cohort):
    from analysis.benchmarks import benchmark_band
    from analysis.relapse import relapse_rates
    band = benchmark_band("mclellan2000_relapse_365")
    fig = F.relapse_horizons_figure(relapse_rates(cohort, origin="discharge"), benchmark_band=band)
    (rect,) = _band_shapes(fig)
    assert (rect.x0, rect.x1) == (3 - 0.48, 3 + 0.48)  # the fourth horizon, 365 d, only
    adm = F.relapse_horizons_figure(relapse_rates(cohort, origin="admission"), benchmark_band=band)
    assert not _band_shapes(adm) and "not drawn on rates from admission" in _annotations(adm)
    short = F.relapse_horizons_figure(relapse_rates(cohort, horizons=(30, 90)), benchmark_band=band)
    assert not _band_shapes(short) and "a horizon not shown here" in _annotations(short)


def test_benchmark_figure_no_marker_for_context_or_suppressed():
    from analysis.benchmarks import place_against_benchmarks
    est = pd.DataFrame({"metric": ["relapse", "relapse", "relapse"], "horizon_days": [365, 365, None],
                        "origin": ["discharge", "discharge", None], "unit": "person",
                        "level_of_care": ["iop", "op", ""], "estimate": [0.5, np.nan, 0.5],
                        "lower": [0.45, np.nan, 0.45], "upper": [0.55, np.nan, 0.55],
                        "suppressed": [False, True, False]})
    pl = place_against_benchmarks(est)
    fig = F.benchmark_figure(pl)
    band = fig.data[0]
    assert len(band.y) == 5  # iop and op against McLellan; three chronic-illness context bands
    markers = [t for t in fig.data if t.type == "scatter"]
    assert len(markers) == 1 and len(markers[0].x) == 1 and markers[0].x[0] == 0.5  # iop only
    rows = [str(y).replace("<br>", " ") for y in band.y]
    assert sum(r.endswith("(context: another measure)") for r in rows) == 3
    notes = _annotations(fig)
    assert "context bands (other illnesses) are another measure: no placement" in notes
    assert "<11: not shown: 1 estimate(s), band only" in notes
    # long labels wrap, and the left margin follows the longest line
    assert all(len(part) <= 48 for r in band.y for part in str(r).split("<br>") if " " in part)
    # on a phone the labels go above their bars, so the chart keeps the full width
    compact = F.benchmark_figure(pl, compact=True)
    assert compact.layout.yaxis.showticklabels is False and compact.layout.margin.l == 12
    assert sorted(a.text for a in compact.layout.annotations if a.name == "row label") == sorted(set(compact.data[0].y))


def test_km_logrank_p_medians_and_kmunicate_table(sample_km):
    from analysis.survival import logrank, median_survival
    d, km = sample_km
    lr = logrank(d, time_col="time", event_col="event", group_col="group")
    med = median_survival(km)
    ar = at_risk_table(km, [0, 90, 180, 365])
    fig = F.km_figure(km, at_risk=ar, logrank_p=lr.p, medians=med, risk_table="kmunicate",
                      show_censor_marks=False)
    p_ann = next(a for a in fig.layout.annotations if a.name == "logrank")
    assert p_ann.text == (f"Log-rank p = {lr.p:.3f}" if lr.p >= 0.001 else "Log-rank p <0.001")
    # one dotted line down from 50% at each median lying on its drawn curve
    drawn = {t.legendgroup: max(t.x) for t in _lines(fig) if t.legendgroup in F.LEVEL_COLORS}
    expected = {str(g): m for g, m in zip(med["group"], med["median_days"], strict=True)
                if np.isfinite(m) and str(g) in drawn and m <= drawn[str(g)]}
    lines = {s.name.removeprefix("median "): s.x0 for s in fig.layout.shapes if (s.name or "").startswith("median ")
             and s.name != "median 50%"}
    assert lines == pytest.approx(expected) and len(expected) > 0
    # KMunicate: three blocks (at risk, relapses so far, censored so far), a row per group in each
    text = {t.name: list(t.text) for t in fig.data if t.mode == "text"}
    iop = ar[ar["group"] == "iop"]
    fmt = lambda v: "<11" if 1 <= v < 11 else f"{v:,.0f}"  # noqa: E731
    assert text["IOP at risk"] == [fmt(v) for v in iop["n_at_risk"]]
    assert text["IOP event"] == [fmt(v) for v in iop["n_event_cum"]]
    assert text["IOP censor"] == [fmt(v) for v in iop["n_censor_cum"]]
    ticks = [t.replace("<b>", "").replace("</b>", "") for t in fig.layout.yaxis2.ticktext]
    n = ar["group"].nunique()
    assert ticks[0] == "At risk" and ticks[n + 1] == "Relapses so far" and ticks[2 * n + 2] == "Censored so far"
    assert len(ticks) == 3 * (n + 1)
    # bands off
    off = F.km_figure(km, show_ci=False, show_censor_marks=False)
    assert not [t for t in off.data if t.fill == "tonexty"]
    with pytest.raises(ValueError, match="Unknown risk table style"):
        F.km_figure(km, at_risk=ar, risk_table="fancy")


def test_compact_layout_legend_below_and_notes_stack(sample_km):
    _, km = sample_km
    ar = at_risk_table(km, [0, 90, 180, 365])
    wide = F.km_figure(km, at_risk=ar, show_censor_marks=False)
    fig = F.km_figure(km, at_risk=ar, show_censor_marks=False, compact=True,
                      title="Time to relapse by level of care, from discharge, with numbers at risk")
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0 and fig.layout.legend.yanchor == "bottom"
    assert wide.layout.legend.y == 1.02
    assert "<br>" in fig.layout.title.text and all(len(p) <= 36 for p in fig.layout.title.text.split("<br>"))
    # phone: numbers at risk without the cumulative relapses in brackets, so columns do not overlap
    iop = next(t for t in fig.data if t.mode == "text" and t.name == "IOP at risk")
    assert not any("(" in str(v) for v in iop.text)
    # notes and provenance stack under each other and the bottom margin grows with them
    before = (fig.layout.margin.b, fig.layout.height)
    F.add_provenance(fig, "Data: sample.csv " + "x " * 60)
    ys = sorted(-a.yshift for a in fig.layout.annotations if a.name in ("note", "provenance"))
    assert ys == sorted(set(ys)) and len(ys) >= 2
    assert fig.layout.margin.b > before[0] and fig.layout.height - before[1] == fig.layout.margin.b - before[0]


def test_every_builder_takes_compact(cohort, sample_km):
    from analysis.relapse import relapse_rates
    from analysis.retention import completion_rates, discharge_reason_mix, retention_curve
    _, km = sample_km
    figs = [F.retention_figure(retention_curve(cohort), compact=True),
            F.completion_figure(completion_rates(cohort), compact=True),
            F.reason_mix_figure(discharge_reason_mix(cohort), compact=True),
            F.los_figure(cohort, compact=True), F.hours_figure(cohort, compact=True),
            F.relapse_horizons_figure(relapse_rates(cohort), compact=True), F.km_figure(km, compact=True)]
    for fig in figs:
        assert fig.layout.legend.yref == "container" and fig.layout.margin.l <= 52
        assert fig.layout.legend.entrywidthmode == "fraction"


def test_figures_sent_small(sample_km):
    import json

    import plotly.io as pio
    _, km = sample_km
    fig = F.km_figure(km)
    spec = json.loads(pio.to_json(fig, validate=False))
    # plotted numbers travel as float32 typed arrays, and the template carries no trace defaults
    line = next(t for t in spec["data"] if t.get("name") == "IOP")
    assert line["y"]["dtype"] == "f4" and line["customdata"]["dtype"] == "f4"
    assert "data" not in spec["layout"]["template"]
    assert len(json.dumps(spec["layout"]["template"])) < 1500


def test_step_points_merge_corners_below_a_pixel():
    from analysis.figures.curves import MAX_CURVE_POINTS, _step_points
    t = np.arange(0, 6000, dtype=float)
    k = pd.DataFrame({"time": t, "survival": 1 - t / 6000})  # a corner at every day
    pos = _step_points(k, ("survival",), span=6000.0)
    assert len(pos) <= MAX_CURVE_POINTS + 1 and pos[0] == 0 and pos[-1] == len(t) - 1
    # each kept corner is the last corner of its 4-day bin: the drawn step is off by < 4 days of 6,000
    assert np.diff(t[pos]).max() <= 6000 / MAX_CURVE_POINTS
    few = _step_points(k.iloc[:100], ("survival",), span=6000.0)
    assert len(few) == 100  # small curves keep every corner


def _collapsed(cohort, columns):
    """Distinct combinations of ``columns`` with their count ``n`` (what an engine's collapse hands a figure)."""
    out = cohort[columns].groupby(columns, observed=True, dropna=False).size().rename("n").reset_index()
    return out[out["n"] > 0]


@pytest.mark.parametrize("kind", ["los", "hours", "hours_sides"])
def test_box_figures_on_collapsed_rows_equal_the_rows(cohort, kind):
    """A server-side source hands the stay and hours boxes collapsed rows with counts: the same boxes (quartiles
    and whiskers exactly, means to rounding), the same groups left out."""
    c = cohort.copy()
    c["los_days"] = c["los_days"].round()  # (few distinct stays, so the collapse has fewer rows than the cohort)
    if kind == "los":
        cols, draw = ["level_of_care", "in_treatment", "los_days"], F.los_figure
    elif kind == "hours":
        cols, draw = ["level_of_care", "los_days", "hours_scheduled", "hours_attended"], F.hours_figure
    else:  # the publication's two sides, each of the episodes with the other hours recorded (ui.compute.figure_rows)
        c.loc[c.index[::7], "hours_attended"] = np.nan
        c.loc[c.index[3::11], "hours_scheduled"] = np.nan
        cols = ["level_of_care", "los_days", "hours_scheduled"]
        attended = _collapsed(c[c["hours_scheduled"].notna()], ["level_of_care", "los_days", "hours_attended"])
        draw = lambda rows, **kw: F.hours_figure(rows, attended=attended if "count_col" in kw else None, **kw)  # noqa: E731
        c_rows = c[c["hours_attended"].notna()]
        rows = _collapsed(c_rows, cols)
    if kind != "hours_sides":
        rows = _collapsed(c, cols)
    assert len(rows) < len(c) and rows["n"].max() > 1
    a, b = draw(c), draw(rows, count_col="n")
    assert len(a.data) == len(b.data) > 0
    for x, y in zip(a.data, b.data, strict=True):
        assert (x.legendgroup, x.offsetgroup) == (y.legendgroup, y.offsetgroup)
        for attr in ("q1", "median", "q3", "lowerfence", "upperfence"):
            assert getattr(x, attr) == getattr(y, attr), attr
        assert y.mean[0] == pytest.approx(x.mean[0], rel=1e-12)
    assert _annotations(a) == _annotations(b)
