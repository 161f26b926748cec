"""Server memory before, during and after eight browser sessions that each upload 100,000 episodes.

Run: ``python benchmarks/bench_sessions.py [--sessions 8] [--rows 100000] [--cycles 2] [--script serve.py]``.
Starts ``streamlit run serve.py`` on a free port, drives the system Chromium (Playwright): each
session opens the Data page, uploads its own CSV and then opens the Overview. Prints the server's
resident memory (VmRSS) when idle, after a warm-up session (the bundled sample is cached once per
process), with all sessions open, and after they closed (Streamlit drops a closed session after
``server.disconnectedSessionTTL`` = 30 s; server/privacy.py returns freed memory every 30 s), per cycle.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settle(page) -> None:
    page.wait_for_timeout(300)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached",
                                                                                         timeout=600_000)


@contextlib.contextmanager
def server(script: str, tmpdir: str):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script, f"--server.port={port}",
                             "--server.headless=true"], cwd=ROOT, env={**os.environ, "TMPDIR": tmpdir},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        for _ in range(240):
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            time.sleep(0.5)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--script", default="serve.py")
    parser.add_argument("--wait", type=float, default=75.0, help="seconds to wait after closing the sessions")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from analysis.synthetic import generate_episodes

    files = []
    for i in range(args.sessions):
        frame = generate_episodes(args.rows, seed=100 + i)
        frame.attrs = {}
        files.append((f"cohort_{i}.csv", frame.to_csv(index=False, date_format="%Y-%m-%d").encode()))
    print(f"{args.sessions} sessions, each uploading {args.rows:,} episodes ({len(files[0][1]) / 1e6:.1f} MB)")
    with tempfile.TemporaryDirectory() as tmp, server(args.script, tmp) as (url, pid), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        print(f"{'moment':<34} {'server RSS MB':>14}")
        print(f"{'idle, after start':<34} {rss_mb(pid):>14.0f}")
        warm = browser.new_context()
        page = warm.new_page()
        page.goto(url)
        _settle(page)
        warm.close()
        print(f"{'after a warm-up session (sample)':<34} {rss_mb(pid):>14.0f}")
        for cycle in range(1, args.cycles + 1):
            contexts = []
            start = time.perf_counter()
            for name, data in files:
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(f"{url}/data")
                _settle(page)
                page.get_by_text("Upload a file").click()
                _settle(page)
                page.locator("[data-testid=stFileUploaderDropzoneInput][accept*=csv]").set_input_files(
                    {"name": name, "mimeType": "text/csv", "buffer": data})
                page.wait_for_timeout(1000)
                _settle(page)
                page.locator("[data-testid=stSidebarNavLink]", has_text="Overview").first.click()
                _settle(page)
                contexts.append(ctx)
            print(f"{f'cycle {cycle}: {len(contexts)} sessions open':<34} {rss_mb(pid):>14.0f}"
                  f"   ({time.perf_counter() - start:.0f} s to load them)")
            for ctx in contexts:
                ctx.close()
            time.sleep(args.wait)
            print(f"{f'cycle {cycle}: {args.wait:.0f} s after closing':<34} {rss_mb(pid):>14.0f}")
        browser.close()
        leftovers = [p.name for p in Path(tmp).iterdir()]
        print(f"files left under the server's TMPDIR: {leftovers or 'none'}")


if __name__ == "__main__":
    main()
