"""Page timings in a real browser: Playwright drives the system Chromium against ``streamlit run serve.py``.

Run: ``python benchmarks/bench_browser.py [--repeats 2] [--width 1400]``. Prints, per page, the time
from navigation to a complete page (the script has stopped running and every Plotly chart on the page
has drawn its SVG, every still chart's image is decoded), for:

* ``first``: the first browser session after the server started (includes reading the sample);
* ``cold``: a new browser session (new context, no cookies) on a warm server, best of ``--repeats``;
* ``switch``: clicking the page's link in the sidebar from the Overview in an open session, ``--dwell`` seconds
  after the Overview is complete (default 0: at once; a reader looks at the Overview first, and the Overview's
  still charts leave the interactive charts' code to load in that time, ``ui.widgets.watch_viewport``);
* ``filter``: on the Overview, choosing one level of care in the sidebar filter (``--levels``, one new session
  each), until the page is complete; the sidebar's count is printed to show the filter applied.

The machine's load average is printed with the figures: the machine is shared and noisy, so read the
ratios between pages and between runs, not one absolute time. Targets (issue 11): Overview cold < 3 s,
any page switch < 1.5 s, a filter change < 1.5 s.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CONTINUUM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = [("", "Overview"), ("data", "Data"), ("retention", "Retention"), ("relapse", "Relapse"),
         ("time_to_relapse", "Time to relapse"), ("iop_vs_residential", "IOP vs residential"),
         ("benchmarks", "Benchmarks"), ("methods", "Methods")]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
_COMPLETE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector("[data-testid='stSkeleton'], [data-testid='stSpinner']")) return false;
  const charts = document.querySelectorAll("[data-testid='stPlotlyChart']");
  for (const c of charts) { if (!c.querySelector('.main-svg')) return false; }
  for (const i of document.querySelectorAll("[data-testid='stImage'] img")) {
    if (!i.complete || !i.naturalWidth) return false;  // a still chart (SVG image) not yet decoded
  }
  return document.querySelector("[data-testid='stMain']") !== null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(extra: list[str], root: Path = ROOT, script: str = "serve.py", env: dict[str, str] | None = None):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / script), "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", *extra],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise SystemExit("streamlit did not start")
        yield url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def wait_complete(page, timeout_s: float = 120) -> None:
    time.sleep(0.05)  # let the rerun start before polling for its end
    page.wait_for_function(_COMPLETE_JS, timeout=timeout_s * 1000, polling=50)


def timed_goto(browser, url: str, width: int) -> tuple[float, object, object]:
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    wait_complete(page)
    return time.perf_counter() - t0, ctx, page


def filter_change(page, level: str) -> tuple[float, str]:
    """Seconds from choosing ``level`` in the sidebar's Level of care filter to a complete page, and the
    sidebar's count caption afterwards (to check that the filter applied)."""
    page.get_by_role("combobox", name="Level of care").first.click()
    option = page.get_by_role("option").filter(has_text=level).first
    t0 = time.perf_counter()
    option.click()
    page.keyboard.press("Escape")
    wait_complete(page)
    secs = time.perf_counter() - t0
    caption = page.locator("[data-testid=stSidebar] [data-testid=stCaptionContainer]").last.inner_text()
    return secs, caption.split(".")[0]


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for streamlit run")
    ap.add_argument("--data", default=None, help="a server-side source (streamlit run ... -- --data PATH)")
    ap.add_argument("--start-wait", type=float, default=0.0,
                    help="seconds between the server's start and the first session (a --data source is opened "
                         "and its whole cohort computed in the background meanwhile)")
    ap.add_argument("--levels", default="detox,IOP", help="levels of care chosen one at a time for the filter "
                                                           "change (each in a new session, each a new filter)")
    ap.add_argument("--dwell", type=float, default=0.0, help="seconds on the Overview before a switch")
    ap.add_argument("--pages", default="", help="comma-separated page titles to time (default: every page)")
    ap.add_argument("--root", default=str(ROOT), help="the app's directory (e.g. a checkout of an older commit, "
                                                      "to time before and after on the same machine load)")
    ap.add_argument("--script", default="serve.py", help="what to run: serve.py (as the README starts it, behind "
                                                          "its security headers) or app.py (development)")
    args = ap.parse_args()
    pages = [p for p in PAGES if not args.pages or p[1] in args.pages.split(",")]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"serving {args.script}")
    extra = [*args.server_arg, *(["--", "--data", args.data] if args.data else [])]
    with serve(extra, Path(args.root), args.script) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        if args.start_wait:
            print(f"waiting {args.start_wait:g} s after the server started (its background work runs)")
            time.sleep(args.start_wait)
        rows = []
        first, ctx, _ = timed_goto(browser, f"{url}/", args.width)
        ctx.close()
        print(f"first session after server start, Overview: {first:.2f} s")
        for path, title in pages:
            cold = []
            for _ in range(args.repeats):
                t, ctx, _ = timed_goto(browser, f"{url}/{path}", args.width)
                cold.append(t)
                ctx.close()
            # switch: from an open Overview session, click the page's sidebar link
            t, ctx, page = timed_goto(browser, f"{url}/", args.width)
            switch = float("nan")
            if path:
                time.sleep(args.dwell)
                link = page.locator("[data-testid=stSidebarNavLink]", has_text=title).first
                t0 = time.perf_counter()
                link.click()
                page.wait_for_url(f"**/{path}*")
                wait_complete(page)
                switch = time.perf_counter() - t0
            ctx.close()
            rows.append((title, min(cold), max(cold), switch))
            print(f"  {title:<20} cold {min(cold):5.2f} s (worst {max(cold):5.2f})  switch {switch:5.2f} s", flush=True)
        # filter change on the Overview: one level of care chosen (the list's first entry is "Select all")
        filt = []
        for level in filter(None, args.levels.split(",")):
            t, ctx, page = timed_goto(browser, f"{url}/", args.width)
            filt.append((level, filter_change(page, level)))
            ctx.close()
        browser.close()
    for level, (secs, caption) in filt:
        print(f"filter change on the Overview (level {level} chosen): {secs:.2f} s  [{caption}]")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"| page | cold (best) | cold (worst) | switch from Overview (after {args.dwell:g} s there) |")
    print("|---|---|---|---|")
    for title, best, worst, switch in rows:
        print(f"| {title} | {best:.2f} s | {worst:.2f} s | {'' if switch != switch else f'{switch:.2f} s'} |")


if __name__ == "__main__":
    main()
