"""The app in a real browser: Playwright drives the system Chromium against `streamlit run serve.py` (as users start it).

Visits every page at 1400 and 390 px wide, fails on any Streamlit exception element, and saves full-page
screenshots to tests/artifacts/ (gitignored; ``CONTINUUM_SCREENS=dir`` to put them elsewhere) so a person
can look at them. Skips when /usr/bin/chromium is missing.
"""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CONTINUUM_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("CONTINUUM_SCREENS", ROOT / "tests" / "artifacts"))
WIDTHS = (1400, 390)
#: A drawn chart: an interactive one's SVG, or a still chart's image (the Overview's, drawn on the server)
CHART = "[data-testid=stPlotlyChart] .main-svg, [data-testid=stImage] img"
PAGES = [("overview", "Overview"), ("data", "Data"), ("retention", "Retention"), ("relapse", "Relapse"),
         ("time_to_relapse", "Time to relapse"), ("iop_vs_residential", "IOP vs residential"),
         ("benchmarks", "Benchmarks"), ("methods", "Methods")]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve():
    """A fresh ``streamlit run serve.py`` (as the README starts the app, behind its headers) on a free port."""
    port = _free_port()
    env = {**os.environ, "CONTINUUM_STRICT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server():
    with _serve() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _settle(page) -> None:
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached",
                                                                                         timeout=120_000)
    page.wait_for_timeout(800)


def _screenshot(page, path: Path) -> None:
    """Full-page screenshot: Streamlit scrolls inside its main container, so grow the viewport to fit it."""
    width = page.viewport_size["width"]
    height = page.evaluate("() => Math.max(...Array.from(document.querySelectorAll("
                           "'[data-testid=stMain], [data-testid=stMainBlockContainer]'), e => e.scrollHeight), 1000)")
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 16000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 1000})


def _legends(page) -> list[dict]:
    """Legend placement of every drawn Plotly chart: orientation and y (below the plot: y <= 0)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
        const l = (p._fullLayout || {}).legend || {};
        return {orientation: l.orientation, y: l.y, yref: l.yref, shown: (p._fullLayout || {}).showlegend};
    })""")


def test_every_page_in_a_browser(server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.wait_for_selector("[data-testid=stSidebarNavLink]", timeout=120_000)
    _settle(page)
    for slug, title in PAGES:
        page.locator("[data-testid=stSidebarNavLink]", has_text=title).first.click()
        _settle(page)
        page.wait_for_selector("h1", timeout=60_000)
        assert page.locator("[data-testid=stException]").count() == 0, f"exception on {title}"
        assert "Component Error" not in page.inner_text("body"), f"a component failed on {title}"
        assert page.locator("[data-testid=stSidebar] [data-testid=stMultiSelect]").count() > 0, \
            f"sidebar filters missing on {title}"
        if slug not in ("data", "methods"):
            page.wait_for_selector(CHART, timeout=60_000)
            # the sample's charts are still images on every page (ui/still.py): no Plotly code to load and run
            assert page.locator("[data-testid=stPlotlyChart]").count() == 0, title
            assert page.locator("[data-testid=stImage] img").count() >= 1, title
        # no Deploy button and no developer menu for end users (client.toolbarMode = "minimal")
        assert page.get_by_role("button", name="Deploy").count() == 0
        _screenshot(page, ARTIFACTS / f"{slug}_1400.png")
    page.close()


def test_every_page_on_a_phone(server, browser):
    """390 px wide (a phone): every page opens from its address, charts have their legend under the plot."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = ctx.new_page()
    for slug, title in PAGES:
        page.goto(f"{server}/{'' if slug == 'overview' else slug}")
        _settle(page)
        page.wait_for_selector("h1", timeout=60_000)
        if slug not in ("data", "methods"):  # still charts, drawn again at a phone's width once it is reported
            page.wait_for_selector("[data-testid=stImage] img", timeout=60_000)
            page.wait_for_timeout(1500)
            _settle(page)
            widths = page.eval_on_selector_all("[data-testid=stImage] img", "els => els.map(e => e.naturalWidth)")
            assert widths and all(w == 380 for w in widths), (title, widths)  # analysis.figures.COMPACT_WIDTH
        if slug == "time_to_relapse":  # "Hover values" on: the interactive chart, its legend under the plot
            page.get_by_text("Hover values", exact=True).first.click()
            page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=60_000)
            _settle(page)
            legends = [x for x in _legends(page) if x["shown"]]
            assert legends and all(x["orientation"] == "h" and (x["yref"] == "container" or x["y"] <= 0)
                                   for x in legends), (title, legends)
        assert page.locator("[data-testid=stException]").count() == 0, f"exception on {title}"
        assert "Component Error" not in page.inner_text("body"), f"a component failed on {title}"
        assert "There is no page" not in page.locator("[data-testid=stMain]").inner_text(), title
        _screenshot(page, ARTIFACTS / f"{slug}_390.png")
    ctx.close()


def test_unknown_page_says_so(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/no_such_page")
    _settle(page)
    page.wait_for_selector("h1", timeout=60_000)
    assert "no page 'no_such_page'" in page.locator("[data-testid=stMain]").inner_text()
    page.close()


def test_filter_and_origin_in_a_browser(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/time_to_relapse?origin=admission&level=iop&level=residential")
    _settle(page)
    page.wait_for_selector(CHART, timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    assert "admission" in page.locator("[data-testid=stMain] [data-testid=stCaptionContainer]").first.inner_text()
    _screenshot(page, ARTIFACTS / "time_to_relapse_admission_iop_residential.png")
    narrow = browser.new_page(viewport={"width": 700, "height": 1000})
    narrow.goto(server)
    _settle(narrow)
    narrow.wait_for_selector(CHART, timeout=60_000)
    assert narrow.locator("[data-testid=stException]").count() == 0
    _screenshot(narrow, ARTIFACTS / "overview_700.png")
    page.close()
    narrow.close()


def test_shared_link_opened_first_on_a_fresh_server(browser):
    """A shared deep link as the very first request must get the app's navigation and settings,
    not Streamlit's legacy pages/ listing (which would run the page without app.py)."""
    with _serve() as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/time_to_relapse?origin=admission")
        _settle(page)
        page.wait_for_selector(CHART, timeout=60_000)
        links = [t.strip().splitlines()[-1] for t in page.locator("[data-testid=stSidebarNavLink]").all_inner_texts()]
        assert links == [title for _, title in PAGES]
        assert "admission" in page.locator("[data-testid=stMain] [data-testid=stCaptionContainer]").first.inner_text()
        assert page.locator("[data-testid=stException]").count() == 0
        page.close()


def test_upload_shows_its_own_guesses_and_warns_before_reload(server, browser, tmp_path):
    """After an upload the mapping form shows the new file's guesses (not the sample's), and reloading the page
    asks first (the upload would be lost)."""
    from analysis.synthetic import generate_episodes

    raw = generate_episodes(300, seed=3).rename(columns={"admission_date": "Admit Date"})
    path = tmp_path / "upload.csv"
    raw.to_csv(path, index=False)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/data")
    _settle(page)
    page.get_by_text("Upload a file").click()
    _settle(page)
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.wait_for_timeout(2000)
    _settle(page)
    box = page.locator("[data-testid=stSelectbox]").filter(has_text="Admission date").first
    shown = box.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value)"
                         ".join(' ')")
    assert "Admit Date" in shown, shown
    assert page.locator("[data-testid=stException]").count() == 0
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.mouse.click(700, 200)  # browsers ask only after a user gesture
    with contextlib.suppress(Exception):
        page.reload(timeout=5000)
    assert dialogs == ["beforeunload"]
    page.close()


def test_a_trial_upload_is_grouped_by_its_arm_and_drawn(server, browser):
    """A researcher's trial (veterans, no level of care) uploaded in the browser: grouped by its arm at once, said
    on the Data page, and Time to relapse draws both arms (interactive: an upload's charts); screenshots saved."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/data")
    _settle(page)
    page.get_by_text("Upload a file").click()
    _settle(page)
    page.locator("input[type=file]").first.set_input_files(str(ROOT / "tests" / "data" / "real_cohorts" /
                                                                "veterans.csv"))
    page.wait_for_timeout(2000)
    _settle(page)
    assert page.get_by_text("Grouped by Treatment").count() == 1
    assert page.locator("[data-testid=stException]").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _screenshot(page, ARTIFACTS / "data_trial_upload_1400.png")
    page.get_by_role("link", name="Time to relapse").first.click()
    _settle(page)
    page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=60_000)
    legend = page.locator("[data-testid=stPlotlyChart] .legend").first.text_content()
    assert "standard" in legend and "test" in legend, legend
    _screenshot(page, ARTIFACTS / "time_to_relapse_trial_upload_1400.png")
    page.close()


def test_review_and_figure_downloads(server, browser, tmp_path):
    """The Overview's "Download review (HTML)" gives one self-contained page; a chart's SVG button an SVG."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(server)
    _settle(page)
    page.wait_for_selector(CHART, timeout=60_000)
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name="Download review (HTML)").click()
    review = tmp_path / "review.html"
    info.value.save_as(review)
    text = review.read_text(encoding="utf-8")
    assert "<h2>Trends by quarter</h2>" in text and "<h2>Benchmarks</h2>" in text
    assert 'src="http' not in text and "<link" not in text  # self-contained: nothing fetched when opened
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="SVG").first.click()
    svg = tmp_path / "chart.svg"
    info.value.save_as(svg)
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg")
    page.close()
