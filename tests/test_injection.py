"""Injection: a file name, column name or group label never becomes Markdown/HTML on a page, and no CSV
download lets a label start a line of its own or run as a spreadsheet formula."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from analysis.export import FORMULA_PREFIXES, comment_line, to_csv_bytes
from analysis.provenance import Provenance
from ui.text import md

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "episodes.csv"
PAGES = ["overview", "data", "retention", "relapse", "time_to_relapse", "iop_vs_residential", "benchmarks", "methods"]

EVIL = ["![x](http://evil.example/img.png)", "[click me](http://evil.example/)", "<img src=x onerror=alert(1)>",
        ":red[alarm] :material/warning: $x^2$", "Line one\n=2+3 calc\r\n+SUM(1)", "www.evil.example",
        "**bold** _it_ `code`", "=HYPERLINK(\"http://evil.example\",\"x\")"]
#: Markdown that would render as something other than text: image, link, HTML, autolink, directive, LaTeX
_MARKUP = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(|(?<!\\)<[a-zA-Z/]|(?<!\\):[a-z]+\[|(?<!\\)\$[^$]+(?<!\\)\$|"
                     r"(?<!\\)\*\*|(?<!\\)`|^\s*#", re.M)


def unescaped_markup(text: str) -> list[str]:
    return _MARKUP.findall(text)


@pytest.mark.parametrize("label", EVIL)
def test_md_makes_any_label_literal(label):
    text = md(label)
    assert not unescaped_markup(text), text
    assert "\n" not in text and "\r" not in text
    assert re.sub(r"\\(.)", r"\1", text).replace("\u200b", "") == " ".join(label.split())  # the text comes back
    plain = text.replace("\\", "")
    assert not re.search(r"(?i)www\.", plain) and "://" not in plain and not re.search("@(?!\u200b)", plain)


def test_csv_header_lines_stay_comments_and_formulas_are_quoted():
    prov = Provenance(source="=cmd|' /C calc'!A0.csv", content_hash="ab" * 32,
                      filters="sites North\n=cmd|' /C calc'!A0, +SUM(A1); -2+3, @x", origin=None, by="site",
                      rows_used=50, rows_excluded=0, min_cell=11, created="2026-01-01 00:00 UTC")
    table = pd.DataFrame({"Site": ["=1+1", " =2+2", "+3", "-x", "@y", "\t=z", "North", "-12.5%", "a\n=cmd|' /C x'!A0"],
                          "n": [11, 12, 13, 14, 15, 16, 17, 18, 19]})
    table.columns = ["=HYPERLINK(\"x\")", "n"]
    text = to_csv_bytes(table, prov).decode("utf-8")
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    assert len(header) == len(prov.lines())  # one line per item: the newline did not make a new line
    for ln in lines:
        first = ln.split(",", 1)[0]
        assert not first.lstrip().startswith(FORMULA_PREFIXES) or re.fullmatch(r"[+-]?\d+(\.\d+)?%?", first), ln
    for ln in header:
        for piece in re.split(r"[,;]", ln)[1:]:
            assert not piece.lstrip().startswith(("=", "+", "-", "@")), ln
    body = pd.read_csv(__import__("io").StringIO("\n".join(ln for ln in lines if not ln.startswith("#"))), dtype=str)
    assert body.columns[0] == "'=HYPERLINK(\"x\")"
    assert body.iloc[:, 0].tolist()[:6] == ["'=1+1", "' =2+2", "+3", "'-x", "'@y", "' =z"]  # +3 is a number
    assert body.iloc[6, 0] == "North" and body.iloc[7, 0] == "-12.5%"  # text and plain numbers untouched
    assert body.iloc[8, 0] == "a =cmd|' /C x'!A0" and len(lines) == len(header) + 1 + len(table)  # one line per row
    assert comment_line("a\r\nb\u2028c") == "# a b c"


@pytest.fixture
def media(monkeypatch):
    store: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, (bytes, bytearray)):
            store[file_id] = bytes(path_or_data)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return store


def _texts(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "error", "warning", "success", "subheader", "title", "header"):
        out += [str(e.value) for e in at.get(kind)]
    out += [str(e.value) for e in at.sidebar.caption]
    out += [str(m.label) for m in at.metric]
    return out


def test_evil_file_name_columns_and_labels_are_text_everywhere(monkeypatch, media):
    import streamlit as st

    st.cache_resource.clear()
    monkeypatch.setenv("CONTINUUM_STRICT", "1")
    raw = pd.read_csv(SAMPLE, nrows=1500)
    raw["site"] = [EVIL[i % 4] if i % 2 else EVIL[4 + i % 4] for i in range(len(raw))]
    raw[EVIL[0] + " " + EVIL[1]] = range(len(raw))  # a column name that is markup
    name = "![x](http://evil.example/f.png) [a](http://evil.example) =cmd.csv"
    at = AppTest.from_file(APP, default_timeout=300).run()
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("Upload a file").run()
    at.file_uploader(key="episodes").upload(name, raw.to_csv(index=False).encode(), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    at.session_state["by"] = "site"
    at.session_state["f_sites"] = [EVIL[4], EVIL[5], EVIL[6], EVIL[7], EVIL[1]]
    checked = downloads = 0
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for text in _texts(at):
            checked += 1
            bad = [m for m in unescaped_markup(text) if m.strip() not in ("**",)]
            # pages write their own bold text: only data-derived markup counts, which md() escapes
            assert not [m for m in bad if "evil" in text or "HYPERLINK" in text or "alarm" in text], (page, text)
        for el in at.get("download_button"):
            data = media.get(el.proto.url.rsplit("/", 1)[-1].split(".")[0])
            if data is None or not str(el.proto.label).startswith("Download CSV"):
                continue
            downloads += 1
            lines = data.decode("utf-8").splitlines()
            for ln in lines:
                assert not ln.lstrip().startswith(FORMULA_PREFIXES), (page, ln)
            header = [ln for ln in lines if ln.startswith("#")]
            assert any("filters" in ln for ln in header)
            assert not any(ln.startswith("+SUM") for ln in lines)  # the label's newline did not start a line
    assert checked > 50 and downloads > 5
