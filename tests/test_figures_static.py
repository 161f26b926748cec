"""Static export (SVG, PDF, PNG through kaleido and the system Chromium) and the plotted numbers."""
import html

import numpy as np
import pandas as pd
import pytest

from analysis import figures as F
from analysis.survival import km_by_group


@pytest.fixture(scope="module", autouse=True)
def _stop_export_browser():
    """The browser started for SVG/PDF export is stopped after this module (not left to interpreter exit)."""
    yield
    F.close_static_export()


needs_chromium = pytest.mark.skipif(F.find_chromium() is None, reason="no Chromium on this machine")


@pytest.fixture(scope="module")
def km():
    data = pd.DataFrame({"group": ["iop"] * 30 + ["op"] * 30, "time": np.tile(np.arange(1, 31, dtype=float), 2),
                         "event": np.tile([1, 0, 1], 20)})
    return km_by_group(data, time_col="time", event_col="event", group_col="group")


@needs_chromium
def test_svg_pdf_png_export(km):
    fig = F.km_figure(km, title="Export <test> & check", show_censor_marks=False)
    svg = F.static_image(fig, "svg")
    assert svg.lstrip().startswith(b"<svg")
    # the title is text in the drawing, escaped: "<test>" never becomes a tag
    assert "Export <test> & check" in html.unescape(svg.decode()) and b"<test>" not in svg
    assert b'width="1000"' in svg  # default width of a wide figure
    assert F.static_image(fig, "pdf").startswith(b"%PDF")
    png = F.static_image(F.km_figure(km, compact=True), "png", scale=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width == 2 * F.COMPACT_WIDTH  # compact figures export at phone width


def test_export_refuses_unknown_format(km):
    with pytest.raises(ValueError, match="choose one of svg, pdf, png"):
        F.static_image(F.km_figure(km), "eps")


def test_export_without_chromium_says_so(km, monkeypatch):
    from analysis.figures import static
    monkeypatch.setattr(static, "find_chromium", lambda: None)
    monkeypatch.setattr(static, "_started_with", None)
    with pytest.raises(ValueError, match="needs Chromium"):
        F.static_image(F.km_figure(km), "svg")


def test_figure_data_gives_plotted_numbers_as_floats(km):
    fig = F.km_figure(km, show_censor_marks=False)
    data = F.figure_data(fig)
    assert list(data.columns) == ["series", "x", "estimate", "lower", "upper"]
    assert set(data["series"]) == {"IOP", "OP"}
    iop = data[data["series"] == "IOP"].set_index("x")
    k = km[km["group"] == "iop"].set_index("time")
    # cumulative relapse 1 - S(t) and its log-log interval turned over, to 6 decimals
    np.testing.assert_allclose(iop["estimate"], 1 - k.loc[iop.index, "survival"], atol=1e-6)
    np.testing.assert_allclose(iop["upper"], 1 - k.loc[iop.index, "ci_lower"].fillna(k.loc[iop.index, "survival"]),
                               atol=1e-6)
    assert all(data[c].dtype == "float64" for c in ("estimate", "lower", "upper"))
    # error bars give the limits too (a forest plot)
    terms = pd.DataFrame({"term": ["level_of_care[iop]"], "hr": [0.8], "lower": [0.7], "upper": [0.9], "p": [0.01]})
    fd = F.figure_data(F.forest_figure(terms))
    assert fd[["estimate", "lower", "upper"]].iloc[0].tolist() == pytest.approx([0.8, 0.7, 0.9])
