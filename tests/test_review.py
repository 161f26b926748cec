"""The shareable HTML review: self-contained, no count of 1-10 anywhere in it, every text escaped.

The review is built from a synthetic cohort small enough that many cells (levels by quarter,
discharge reasons, people at risk late in follow-up) fall under 11, so the suppression is exercised.
"""
from __future__ import annotations

import base64
import html
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from analysis import figures
from analysis.cohort import derive_cohort
from analysis.loading import load_frame
from analysis.provenance import Provenance
from analysis.review import build_review
from analysis.review_html import review_html
from analysis.synthetic import generate_episodes


@pytest.fixture(scope="module", autouse=True)
def _stop_export_browser():
    """The browser started for SVG/PDF export is stopped after this module (not left to interpreter exit)."""
    yield
    figures.close_static_export()


EVIL_FILE = '<img src=http://evil.example/x.png onerror="alert(1)">.csv'
EVIL_COLUMN = "<b>Study arm</b>"
EVIL_VALUE = "<script>alert('arm')</script>"


@pytest.fixture(scope="module")
def cohort():
    raw = generate_episodes(1500, seed=5)
    raw[EVIL_COLUMN] = np.where(np.arange(len(raw)) % 2 == 0, EVIL_VALUE, "B & C")
    return derive_cohort(load_frame(raw, today="2026-07-01").episodes)


def _prov(cohort, source=EVIL_FILE):
    return Provenance(source=source, content_hash="ab" * 32, filters="all episodes", origin="discharge",
                      by="level_of_care", rows_used=len(cohort), rows_excluded=3, min_cell=11)


@pytest.fixture(scope="module")
def review(cohort):
    return build_review(cohort, provenance=_prov(cohort))


@pytest.fixture(scope="module")
def page(review):
    return review_html(review)


# ---------------------------------------------------------------------------------------------
# reading the HTML back: visible text, and every string inside the figures
# ---------------------------------------------------------------------------------------------
class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.scripts, self.attrs, self.tags = [], [], [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in is None:
            self.text.append(data)


def _read(page):
    r = _Reader()
    r.feed(page)
    return r


def _figure_specs(reader) -> list[dict]:
    specs = []
    for s in reader.scripts:
        m = re.fullmatch(r"\(function\(\)\{var f=(\{.*\});var c=(\{.*\});draw\(.*", s, flags=re.S)
        if m:
            specs += [json.loads(m.group(1)), json.loads(m.group(2))]  # wide and compact layouts
    return specs


_SKIP_KEYS = {"legendgroup", "hovertemplate", "texttemplate", "tickformat", "ticktext", "tickvals", "bdata", "dtype", "shape",
              "color", "fillcolor", "bgcolor", "bordercolor", "family", "symbol", "dash", "colorway", "template"}


def _strings(obj, key=None):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in _SKIP_KEYS:
                yield from _strings(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v, key)
    elif isinstance(obj, str) and not obj.startswith(("#", "rgba(", "rgb(")):
        yield obj


_UNIT = (r"(?:\s*(?:-|–|to)\s*[\d.,]+)?\s*(?:%|pp\b|days?\b|d\b|h/week|hours?\b|years?\b|weeks?\b|months?\b"
         # counts of chart elements in notes ("3 suppressed values left out"), not of people
         r"|(?:suppressed |small or protecting |quarter )?(?:values?|cells?|links?)\b|estimate\(s\)|term\(s\)"
         r"|benchmark tick\(s\))")
_NAMES = (r"\btype [12]\b",)  # diabetes types: names that contain a number, not counts


def small_counts(text: str) -> list[str]:
    """Whole numbers from 1 to 10 in ``text`` that could be counts of people.

    Not counts: decimals, percentages and other numbers with a unit (a range like "5-9 days" too),
    parts of dates (2024-03-01), times, quarters (2024Q3), hashes and identifiers (a digit touching a
    letter), version numbers, and the names in ``_NAMES``.
    """
    for name in _NAMES:
        text = re.sub(name, " ", text, flags=re.I)
    text = re.sub(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}", " ", text)
    found = []
    for m in re.finditer(r"\d[\d,]*", text):
        token, start, end = m.group(), m.start(), m.end()
        before, after = text[start - 1:start], text[end:end + 2]
        if before and (before.isalpha() or before in "._#") or (after[:1] == "." and after[1:2].isdigit()):
            continue
        if after[:1].isalpha() and not re.match(_UNIT, text[end:]):
            continue
        if re.match(_UNIT, text[end:]):
            continue
        value = int(token.replace(",", ""))
        if 1 <= value <= 10:
            found.append(text[max(0, start - 25):end + 25])
    return found


def test_the_small_count_finder_can_fail():
    # negative controls: these must be caught, or the checks below prove nothing
    assert small_counts("Episodes: 7 in inpatient")
    assert small_counts("<td>3</td>") and small_counts("at risk 10 (4)")
    # and these are not counts
    assert not small_counts("42.1% (38.0-46.3%), 5-9 days, 30 d, +5.2 pp, 2024Q3, 2026-06-30 22:26, sha256 "
                            "bfed08cf4a2d, Continuum 0.1.0, type 1 diabetes, <11, by 3 months, 0 relapses, "
                            "3 suppressed values left out")
    assert small_counts("3 people left out")


# ---------------------------------------------------------------------------------------------
# the review's content
# ---------------------------------------------------------------------------------------------
def test_review_has_every_section(review, page, cohort):
    keys = [s.key for s in review.sections]
    assert keys == ["key", "trends", "retention", "relapse", "time", "compare", "benchmarks"]
    for heading in ("Key figures", "Trends by quarter", "Retention", "Relapse (from discharge)",
                    "Time to relapse (from discharge)", "IOP vs residential", "Benchmarks", "Methods", "Provenance"):
        assert f"<h2>{heading}</h2>" in page
    key = review.sections[0].tables[0].frame.set_index("Level of care")
    # the key figures come from OutcomesReport.to_dict: completion as the report computes it
    # completion by hand from the cohort: completed / (discharged - transferred)
    iop = cohort[(cohort["level_of_care"] == "iop") & ~cohort["in_treatment"]]
    rate = iop["completed"].sum() / (len(iop) - iop["transferred"].sum())
    assert key.loc["IOP", "Completion (transfers excluded)"].startswith(f"{rate * 100:.1f}%")
    # inpatient is small: its rates rest on fewer than 11 people somewhere
    assert "suppressed" in " ".join(review.sections[1].tables[0].frame.astype(str).to_numpy().ravel())


def test_no_external_url(page):
    r = _read(page)
    for tag, key, value in r.attrs:
        if key in ("src", "href", "action", "poster", "srcset", "data", "formaction"):
            assert not re.match(r"\s*(https?:|//|ftp:)", value, flags=re.I), (tag, key, value[:80])
            assert value.startswith(("#", "data:")) or not value, (tag, key, value[:80])
    assert not {"link", "iframe", "object", "embed", "base"} & set(r.tags)
    css = " ".join(s for s in re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    assert "url(" not in css and "@import" not in css
    # plotly.js is inlined exactly once; every other script is a figure
    big = [s for s in r.scripts if len(s) > 1_000_000]
    assert len(big) == 1 and "plotly" in big[0][:2000].lower()
    # text inside figures is escaped: no tag that could carry a URL (the file name's "http://" is text)
    for spec in _figure_specs(r):
        assert not any(re.search(r"<\s*(a|img|script|iframe|link|image)\b", s, flags=re.I) for s in _strings(spec))


def _without_file_name(text: str) -> str:
    """The file's name is the user's own text (it may hold digits), not a number the review computed."""
    text = text.replace("<br>", " ")  # wrapped on a phone
    for form in (EVIL_FILE, html.escape(EVIL_FILE, quote=False), html.escape(EVIL_FILE)):
        text = text.replace(form, " ")
    return text


def test_no_count_of_one_to_ten_anywhere(page, review):
    r = _read(page)
    visible = " ".join(r.text) + " " + " ".join(v for _, k, v in r.attrs if k in ("alt", "aria-label", "title"))
    assert small_counts(_without_file_name(visible)) == []
    specs = _figure_specs(r)
    assert len(specs) == 2 * sum(len(s.figures) for s in review.sections)
    for spec in specs:
        hits = [h for s in _strings(spec) for h in small_counts(_without_file_name(s))]
        assert hits == [], spec["layout"].get("title", {}).get("text")
        # numbers behind hover counts ("at risk %{customdata[2]}") are at least 11 (or hidden)
        for trace in spec["data"]:
            for m in re.finditer(r"(?:at risk|n) %\{customdata\[(\d)\]", trace.get("hovertemplate", "")):
                cd = trace["customdata"]
                arr = (np.frombuffer(base64.b64decode(cd["bdata"]), dtype=cd["dtype"]).reshape(
                    [int(x) for x in str(cd["shape"]).split(",")]) if isinstance(cd, dict) else
                       np.array(cd, dtype=object))
                col = pd.to_numeric(pd.Series(arr[:, int(m.group(1))]), errors="coerce").dropna()
                assert not col.between(1, 10).any(), trace.get("name")


def test_small_cells_really_occur_in_this_cohort(cohort):
    # the cohort must have small cells for the test above to mean anything
    from analysis.trends import quarterly_trends
    t = quarterly_trends(cohort).table
    assert t["n"].between(1, 10).sum() > 20
    assert (cohort["level_of_care"] == "inpatient").sum() < 200


def test_file_names_labels_and_columns_are_escaped(cohort):
    rv = build_review(cohort, provenance=_prov(cohort), by=EVIL_COLUMN)
    page = review_html(rv)
    r = _read(page)
    assert "evil.example" not in " ".join(v for _, _, v in r.attrs)  # the file name never becomes an attribute
    assert "img" not in r.tags and "b" not in r.tags
    assert EVIL_FILE not in page and EVIL_COLUMN not in page and EVIL_VALUE not in page
    assert "&lt;img src=http://evil.example/x.png onerror=&quot;alert(1)&quot;&gt;.csv" in page
    assert "&lt;b&gt;Study arm&lt;/b&gt;" in page
    # the page has exactly its own script elements: figure JSON has no "<" at all (JSON escapes)
    assert page.count("<script") == len(r.scripts) and page.count("</script>") == len(r.scripts)
    figure_scripts = [x for x in r.scripts if x.startswith("(function(){var f=")]
    assert 2 * len(figure_scripts) == len(_figure_specs(r)) > 0 and all("<" not in x for x in figure_scripts)
    # and the labels plotly draws were escaped before plotly saw them
    drawn = [s for spec in _figure_specs(r) for s in _strings(spec)]
    assert not any("<script" in s for s in drawn) and any("&lt;script&gt;" in s for s in drawn)


@pytest.mark.slow
@pytest.mark.skipif(figures.find_chromium() is None, reason="no Chromium on this machine")
def test_static_review_has_images_and_no_script(review):
    import dataclasses
    review = dataclasses.replace(review, sections=review.sections[:2])  # key figures and trends: 3 charts
    page = review_html(review, static=True)
    r = _read(page)
    assert "script" not in r.tags
    imgs = [v for t, k, v in r.attrs if t == "img" and k == "src"]
    assert len(imgs) == sum(len(s.figures) for s in review.sections)
    assert all(v.startswith("data:image/svg+xml;base64,") for v in imgs)
    svg = base64.b64decode(imgs[0].split(",", 1)[1]).decode()
    assert svg.startswith("<svg")
    assert small_counts(_without_file_name(html.unescape(re.sub(r"<[^>]+>", " ", svg)))) == []


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(figures.find_chromium() is None, reason="no Chromium on this machine")
def test_review_opens_offline_without_any_request(page, tmp_path):
    """In a real browser the interactive review draws every chart and asks the network for nothing."""
    playwright = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "review.html"
    path.write_text(page, encoding="utf-8")
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=figures.find_chromium(),
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                           "--disable-component-update", "--no-first-run"])
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            requests, errors = [], []
            tab.on("request", lambda req: requests.append(req.url))
            tab.on("pageerror", lambda err: errors.append(str(err)))
            tab.goto(path.as_uri(), wait_until="load")
            tab.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= "
                                  f"{page.count(';draw(')}", timeout=60_000)
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))] == []
