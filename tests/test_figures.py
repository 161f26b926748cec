"""Figures: every builder on small hand frames made with the real analysis functions.

Checked: titles, axis titles with units, one legend group per group in its level colour, KM curves
cut where fewer than 11 are at risk (counted here by hand from the rows), suppressed bars absent,
the number-at-risk text equal to ``at_risk_table``, small Sankey links hidden, speed on 1M rows.
"""
from __future__ import annotations

import html
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from analysis import figures as F
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
    assert cols["Site A"] == "#000000" and cols["Site B"] == "#F0E442"
    # the third non-level group takes an Okabe-Ito colour not used by a level on this chart
    assert cols["Site C"] not in {"#56B4E9", "#0072B2", "#000000", "#F0E442"}
    many = F.group_colors([f"s{i}" for i in range(12)])
    assert len(many) == 12 and list(many.values())[:2] == ["#000000", "#F0E442"]
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
    np.testing.assert_allclose(np.asarray(iop.y), 1 - k.loc[x, "survival"].to_numpy())
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
    np.testing.assert_allclose(np.asarray(r_lo.y), 1 - np.asarray(s_hi.y))
    np.testing.assert_allclose(np.asarray(r_hi.y), 1 - np.asarray(s_lo.y))
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
    assert "McLellan" in _annotations(fig)
    assert any(s.type == "rect" for s in fig.layout.shapes) and any(s.type == "line" for s in fig.layout.shapes)
    # the x ticks of the chart are the table's days, so columns line up
    assert list(fig.layout.xaxis.tickvals) == days


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
def test_km_figure_speed_one_million_rows():
    rng = np.random.default_rng(0)
    n = 1_000_000
    big = pd.DataFrame({"g": rng.choice(list(F.LEVEL_COLORS), n), "t": rng.integers(0, 3000, n).astype(float),
                        "e": rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05])})
    km = km_by_group(big, time_col="t", event_col="e", group_col="g")
    assert km.groupby("group", observed=True).size().min() > 2500  # thousands of distinct times
    ar = at_risk_table(km, [0, 90, 180, 365, 730])
    F.km_figure(km, at_risk=ar)  # warm-up (plotly validators)
    best = min(_timed(lambda: F.km_figure(km, at_risk=ar)) for _ in range(3))
    assert best < 0.3
    fig = F.km_figure(km, at_risk=ar)
    marks = [t for t in fig.data if t.mode == "markers"]
    assert all(len(t.x) <= 200 for t in marks)


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


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
