"""The Overview's still charts (ui.still): SVG drawn on the server, with the interactive chart as fallback."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import figures
from tests.attacker import svg_texts

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.skipif(figures.find_chromium() is None, reason="no Chromium to draw with")


def _overview() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_overview_draws_its_charts_as_svg_images():
    at = _overview()
    assert len(at.get("plotly_chart")) == 0
    images = [url for el in at.get("image") for url in el.value]
    assert len(images) == 2 and all(u.startswith("data:image/svg+xml;base64,") for u in images)
    trend, km = (svg_texts(u) for u in images)
    assert "Completion by quarter of discharge" in trend and "Whole program" in trend
    assert "Time to relapse (from discharge)" in km and "365 days" in km
    assert {"Detox", "Inpatient", "Residential", "PHP", "IOP", "OP"} <= set(km)  # the legend
    assert any(t.startswith("sample cohort (episodes.csv)") for t in km)  # the provenance line is drawn
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("SVG") == labels.count("PDF") >= 2  # the downloads stay


def test_hover_values_switch_shows_that_chart_interactive(monkeypatch):
    at = _overview()
    assert [t.label for t in at.toggle].count("Hover values") == 2
    import ui.still

    drawn, real = [], figures.static_image
    monkeypatch.setattr(figures, "static_image", lambda fig, *a, **k: drawn.append(fig) or real(fig, *a, **k))
    monkeypatch.setattr(ui.still, "_drawn", type(ui.still._drawn)())  # nothing drawn before

    def km_drawn() -> bool:
        return any("Time to relapse" in str(f.layout.title.text) for f in drawn)

    at.toggle(key="live_overview_time_to_relapse").set_value(True).run()
    assert not at.exception
    assert not km_drawn() and drawn  # the chart shown live is not drawn; the other one is
    specs = [el.proto.spec for el in at.get("plotly_chart")]
    assert len(specs) == 1 and "Time to relapse (from discharge)" in specs[0]  # the KM chart, interactive
    assert len(at.get("image")) == 1 and "Completion by quarter" in " ".join(svg_texts(at.get("image")[0].value[0]))
    at.toggle(key="live_overview_time_to_relapse").set_value(False).run()
    assert len(at.get("plotly_chart")) == 0 and len(at.get("image")) == 2
    assert km_drawn()  # switched off again, it is drawn


def test_without_chromium_the_overview_shows_interactive_charts(monkeypatch):
    import ui.still

    def refuse(*_a, **_k):
        raise ValueError("no Chromium")

    monkeypatch.setattr(figures, "static_image", refuse)
    monkeypatch.setattr(ui.still, "_drawn", type(ui.still._drawn)())  # nothing drawn before
    at = _overview()
    assert len(at.get("image")) == 0
    specs = [el.proto.spec for el in at.get("plotly_chart")]
    assert len(specs) == 2 and "Time to relapse (from discharge)" in specs[1]


def test_figures_drawn_at_the_same_time_equal_those_drawn_one_by_one():
    from concurrent.futures import ThreadPoolExecutor

    import plotly.graph_objects as go

    figs = [go.Figure(go.Scatter(x=[0, 1, 2], y=[0, k, 2 * k], name=f"s{k}")).update_layout(title=f"f{k}")
            for k in range(1, 5)]
    one_by_one = [figures.static_image(f, "svg", width=400, height=300) for f in figs]
    with ThreadPoolExecutor(max_workers=figures.TABS * 2) as pool:
        together = list(pool.map(lambda f: figures.static_image(f, "svg", width=400, height=300), figs))
    def texts(svg: bytes) -> list[str]:
        return svg_texts("data:image/svg+xml;base64," + base64.b64encode(svg).decode())

    for k, (a, b) in enumerate(zip(one_by_one, together, strict=True), start=1):
        assert f"f{k}" in texts(a) and texts(a) == texts(b)  # each drawing is its own figure's


def test_an_uploads_overview_is_not_drawn_outside_the_process(monkeypatch):
    """An upload's figures are not handed to Chromium: its Overview shows interactive charts."""
    import pandas as pd

    calls = []
    real = figures.static_image
    monkeypatch.setattr(figures, "static_image", lambda *a, **k: calls.append(a) or real(*a, **k))
    at = _overview()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    raw = pd.read_csv(Path(APP).parent / "sample_data" / "episodes.csv", nrows=900)
    at.file_uploader(key="episodes").upload("mine.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    calls.clear()
    at.switch_page("pages/overview.py").run()
    assert not at.exception and "Data: mine\\.csv" in " ".join(str(c.value) for c in at.caption)
    assert len(at.get("image")) == 0 and len(at.get("plotly_chart")) == 2 and calls == []
    assert "Hover values" not in [t.label for t in at.toggle]  # its charts are interactive already: no switch
