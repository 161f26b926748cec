"""Nothing on disk, nothing shared (issue 12, item 5).

* AppTest: two sessions upload different files at the same time and each sees only its own; a refused
  column can be dropped and the file goes on; left-out free text can be kept.
* Real server (``streamlit run serve.py``) and a real browser: two people upload at once, one file of
  several MB; while they do, no file appears under the server's temp directory or the project
  (inotify) and the server holds no file there open, not even an unnamed deleted one (/proc/PID/fd);
  each sees only their own file. A control run of plain Streamlit on a bare uploader shows that the
  same watcher does see Starlette's temp-file spool, so the check can fail.
* The server's answers carry the security headers, it listens on the loopback interface only, and
  the pages fetch nothing from another host.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "episodes.csv"
CHROMIUM = Path(os.environ.get("CONTINUUM_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    monkeypatch.delenv("CONTINUUM_SAMPLE_PATH", raising=False)


def _data_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# ---------------------------------------------------------------- sessions, in process
def test_two_live_sessions_each_see_only_their_own_upload():
    """Both sessions are alive in one process, their runs interleaved (AppTest cannot run two scripts in
    parallel threads: it shares one test runtime; the browser test below uploads truly at once)."""
    sample = pd.read_csv(SAMPLE)
    a = sample.iloc[:700].assign(site="Site Alpha")
    b = sample.iloc[700:1600].assign(site="Site Bravo")
    sessions = {"a.csv": (_data_page(), a), "b.csv": (_data_page(), b)}
    for name, (at, frame) in sessions.items():
        at.file_uploader(key="episodes").upload(name, frame.to_csv(index=False).encode(), "text/csv").run()
    for _ in range(2):  # each session again after the other one's upload
        for name, (at, frame) in sessions.items():
            at.run()
            assert not at.exception
            assert _metrics(at)["Rows read"] == f"{len(frame):,}"
            ds = at.session_state["dataset"]
            assert ds.label == name and set(ds.cohort["site"]) == set(frame["site"])
    for at, frame in sessions.values():
        at.switch_page("pages/overview.py").run()
        assert _metrics(at)["Episodes"] == f"{len(frame):,}"


def test_refused_column_is_dropped_with_one_click_and_the_file_goes_on():
    at = _data_page()
    raw = pd.read_csv(SAMPLE, nrows=300)
    raw["Contact"] = ["call 415-555-0100" if i % 3 == 0 else "" for i in range(300)]
    at.file_uploader(key="episodes").upload("c.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    assert "'Contact' holds a phone number in 100 of 300 rows" in " ".join(e.value for e in at.error).replace("\\", "")  # Markdown-escaped (ui.text.md)
    at.button(key="drop_identifiers").click().run()
    assert not at.exception and not at.error
    assert _metrics(at)["Rows accepted"] == "300"
    assert any("Dropped at your request: 'Contact'" in i.value.replace("\\", "") for i in at.info)


def test_free_text_is_left_out_with_a_note_and_can_be_kept():
    at = _data_page()
    raw = pd.read_csv(SAMPLE, nrows=300)
    raw["Notes"] = [f"Week {i}: attended group, discussed coping plan and triggers" for i in range(300)]
    at.file_uploader(key="episodes").upload("n.csv", raw.to_csv(index=False).encode(), "text/csv").run()
    assert any("Left out as free text: 'Notes'" in i.value.replace("\\", "") for i in at.info)
    assert "Notes" not in at.session_state["dataset"].cohort.columns
    at.multiselect(key="keep_free_text").select("Notes").run()
    assert not at.exception
    assert "Notes" in at.session_state["dataset"].cohort.columns


def test_spool_threshold_is_above_the_upload_cap():
    from starlette import formparsers
    from streamlit import config

    from server.privacy import keep_uploads_in_memory

    threshold = keep_uploads_in_memory()
    cap = config.get_option("server.maxUploadSize") * 1024 * 1024
    assert formparsers.MultiPartParser.spool_max_size == threshold > cap + 1024 * 1024
    assert keep_uploads_in_memory() == threshold  # idempotent


def test_security_headers_are_added_to_http_responses_only():
    import asyncio

    from server.privacy import SecurityHeaders

    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-frame-options", b"SAMEORIGIN")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message):
        sent.append(message)

    asyncio.run(SecurityHeaders(app)({"type": "http"}, None, send))
    headers = dict(sent[0]["headers"])
    assert b"frame-ancestors 'none'" in headers[b"content-security-policy"]
    assert headers[b"x-frame-options"] == b"SAMEORIGIN"  # an app's own header is not overridden
    assert headers[b"referrer-policy"] == b"no-referrer" and sent[1]["body"] == b"ok"
    sent.clear()
    asyncio.run(SecurityHeaders(app)({"type": "websocket"}, None, send))
    assert dict(sent[0]["headers"]) == {b"x-frame-options": b"SAMEORIGIN"}


# ---------------------------------------------------------------- a real server and browser
IN_CREATE, IN_MOVED_TO = 0x100, 0x80


#: Directories of the tools, not of the server: compiled modules, caches, and tests/artifacts (the browser test's
#: screenshots, which another pytest-xdist worker may save while an upload is watched).
_NOT_WATCHED = (".git", "__pycache__", ".pytest_cache", ".ruff_cache", "artifacts")


class DiskWatcher:
    """Watches directories (inotify, recursive) and a process's open files (/proc/PID/fd) in a thread."""

    def __init__(self, pid: int, roots: list[Path]):
        self.pid, self.roots = pid, [r.resolve() for r in roots]
        self._installed = str(Path(sys.prefix).resolve()) + os.sep
        self.created: list[str] = []
        self.open_files: set[str] = set()
        self._stop = threading.Event()
        self._libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK)
        self._dirs: dict[int, Path] = {}
        for root in self.roots:
            for d, subdirs, _ in os.walk(root):
                subdirs[:] = [s for s in subdirs if s not in _NOT_WATCHED]
                wd = self._libc.inotify_add_watch(self._fd, str(d).encode(), IN_CREATE | IN_MOVED_TO)
                if wd >= 0:
                    self._dirs[wd] = Path(d)
        self._baseline = self._fd_targets()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _fd_targets(self) -> set[str]:
        """Open files of the process; read-only opens of the installed packages (the static files the
        server sends to the browser, lazily opened) are left out: they cannot hold an upload. The flags are read
        before the target, so a file closed in between (a static file just sent) is skipped, not counted as
        written."""
        out = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{self.pid}/fd"):
                writable = self._writable(fd)
                if writable is None:  # closed meanwhile
                    continue
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
                    if target.startswith(self._installed) and not writable:
                        continue
                    out.add(target)
        return out

    def _writable(self, fd: str) -> bool | None:
        """Whether ``fd`` is open for writing (None: it is no longer open)."""
        try:
            with open(f"/proc/{self.pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("flags:"):
                        return int(line.split()[1], 8) & (os.O_WRONLY | os.O_RDWR) != 0
        except OSError:
            return None
        return True

    def _suspicious(self, target: str) -> bool:
        if target.startswith(("/dev/", "/memfd:", "socket:", "pipe:", "anon_inode:", "/proc/")):
            return False
        return target.endswith("(deleted)") or any(target.startswith(str(r)) for r in self.roots)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.open_files |= {t for t in self._fd_targets() - self._baseline if self._suspicious(t)}
            with contextlib.suppress(BlockingIOError):
                buf = os.read(self._fd, 65536)
                offset = 0
                while offset < len(buf):
                    wd, _mask, _cookie, length = struct.unpack_from("iIII", buf, offset)
                    name = buf[offset + 16: offset + 16 + length].rstrip(b"\0").decode("utf-8", "replace")
                    if name not in _NOT_WATCHED:
                        self.created.append(str(self._dirs.get(wd, Path("?")) / name))
                    offset += 16 + length
            time.sleep(0.002)

    def __enter__(self) -> DiskWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join()
        os.close(self._fd)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(script: Path, tmpdir: Path, *extra: str, env: dict[str, str] | None = None):
    port = _free_port()
    env = {**os.environ, "CONTINUUM_STRICT": "1", "TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir),
           **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), f"--server.port={port}",
                             "--server.headless=true", "--browser.gatherUsageStats=false", *extra],
                            cwd=script.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"streamlit run {script.name} did not start")
        yield url, proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _settle(page) -> None:
    page.wait_for_timeout(300)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached",
                                                                                         timeout=180_000)


def _upload(page, url: str, name: str, data: bytes, *, continuum: bool = True) -> None:
    page.goto(f"{url}/data" if continuum else url)
    _settle(page)
    if continuum:
        page.get_by_text("Upload a file").click()
        _settle(page)
    target = "[data-testid=stFileUploaderDropzoneInput][accept*=csv]" if continuum else \
        "[data-testid=stFileUploaderDropzoneInput]"
    page.locator(target).set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})
    page.wait_for_timeout(1000)
    _settle(page)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _files(n_rows: int, site: str) -> bytes:
    sample = pd.read_csv(SAMPLE)
    frame = pd.concat([sample] * (n_rows // len(sample) + 1)).iloc[:n_rows].assign(site=site)
    frame["episode_id"] = [f"{site[:2]}{i:07d}" for i in range(n_rows)]
    return frame.to_csv(index=False).encode()


@pytest.mark.browser
def test_plain_streamlit_spools_uploads_to_the_temp_dir_so_the_watcher_can_fail(browser, tmp_path):
    app = tmp_path / "bare.py"
    app.write_text("import streamlit as st\nf = st.file_uploader('file')\nst.write(len(f.getvalue()) if f else 0)\n")
    spool = tmp_path / "tmp"
    spool.mkdir()
    with _server(app, spool) as (url, proc, _):
        page = browser.new_page()
        with DiskWatcher(proc.pid, [spool]) as watcher:
            _upload(page, url, "big.csv", _files(30_000, "Site Spool"), continuum=False)
        page.close()
    assert any(str(spool) in f for f in watcher.open_files | set(watcher.created)), \
        "the watcher did not see Starlette's spool: the main test would prove nothing"


@pytest.mark.browser
def test_two_uploads_at_once_touch_no_disk_and_stay_apart(browser, tmp_path):
    spool = tmp_path / "tmp"
    spool.mkdir()
    files = {"alpha.csv": (_files(30_000, "Site Alpha"), "30,000"), "bravo.csv": (_files(2_000, "Site Bravo"), "2,000")}
    assert len(files["alpha.csv"][0]) > 3 * 1024**2
    # The server's background work on the bundled sample is off here: it draws the sample's still charts in the
    # system Chromium (a profile in TMPDIR) whenever the server has been idle for 3 s, which may fall inside the
    # watch and is not the uploads' doing (CI failed once so). That an upload is never handed to Chromium is
    # tests/test_still_charts.py::test_an_uploads_overview_is_not_drawn_outside_the_process.
    with _server(ROOT / "serve.py", spool, env={"CONTINUUM_PREWARM": "0"}) as (url, proc, _):
        contexts = {name: browser.new_context() for name in files}
        pages = {name: ctx.new_page() for name, ctx in contexts.items()}
        for page in pages.values():
            page.goto(f"{url}/data")
            _settle(page)
            page.get_by_text("Upload a file").click()
            _settle(page)
        with DiskWatcher(proc.pid, [spool, ROOT]) as watcher:
            for name, page in pages.items():  # both uploads are sent before either is awaited
                page.locator("[data-testid=stFileUploaderDropzoneInput][accept*=csv]").set_input_files(
                    {"name": name, "mimeType": "text/csv", "buffer": files[name][0]})
            for page in pages.values():
                page.wait_for_timeout(1000)
                _settle(page)
        for name, page in pages.items():
            text = page.locator("[data-testid=stMain]").inner_text()
            other = next(n for n in files if n != name)
            assert f"Rows read\n\n{files[name][1]}" in text and files[other][1] not in text.split("Rows read")[1][:40]
            page.locator("[data-testid=stSidebarNavLink]", has_text="Overview").first.click()  # same session
            _settle(page)
            overview = page.locator("[data-testid=stMain]").inner_text()
            assert f"Data: {name}" in overview and f"Data: {other}" not in overview
        for ctx in contexts.values():
            ctx.close()
    assert watcher.created == [] and watcher.open_files == set(), (watcher.created, watcher.open_files)


@pytest.mark.browser
def test_headers_loopback_only_and_nothing_fetched_from_elsewhere(browser, tmp_path):
    with _server(ROOT / "serve.py", tmp_path) as (url, proc, port):
        with urllib.request.urlopen(url) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert listening.strip() and all(line.split()[3].startswith(("127.0.0.1:", "[::1]:"))
                                         for line in listening.strip().splitlines()), listening
        page = browser.new_page()
        requests: list[str] = []
        console: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(url)
        _settle(page)
        for title in ("Data", "Retention", "Time to relapse", "Methods"):
            page.locator("[data-testid=stSidebarNavLink]", has_text=title).first.click()
            _settle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        # the policy lets the page's own component run (the viewport watcher is imported from a blob: URL)
        assert "Component Error" not in page.inner_text("body")
        assert not [m for m in console if "Content Security Policy" in m or "Failed to fetch" in m], console
        page.close()
    foreign = [r for r in requests if not r.startswith((url, url.replace("http", "ws"), "data:", "blob:"))]
    assert requests and foreign == []
