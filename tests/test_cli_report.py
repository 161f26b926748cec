"""``python -m analysis report``: writes the review, says in one sentence what went wrong otherwise."""
from __future__ import annotations

import dataclasses

import pytest

from analysis import figures
from analysis.cli import main
from analysis.synthetic import generate_episodes


@pytest.fixture(scope="module", autouse=True)
def _stop_export_browser():
    """The browser started for SVG/PDF export is stopped after this module (not left to interpreter exit)."""
    yield
    figures.close_static_export()


@pytest.fixture(scope="module")
def episodes_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "episodes.csv"
    generate_episodes(1200, seed=9).to_csv(path, index=False)
    return path


def test_report_writes_a_self_contained_html(episodes_csv, tmp_path, capsys):
    out = tmp_path / "review.html"
    targets = tmp_path / "targets.csv"
    targets.write_text("id,metric,unit,level_of_care,low,high,direction,source,year\n"
                       "iop_completion,completion_rate,discharge,IOP,0.5,1,higher_is_better,Board,2025\n")
    assert main(["report", str(episodes_csv), "--out", str(out), "--targets", str(targets)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<h2>Trends by quarter</h2>" in page
    assert "The organisation&#x27;s targets" in page and "iop_completion" in page
    assert "episodes.csv" in page
    assert "Wrote" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["missing.csv"], "error:"),
    (["{csv}", "--min-cell", "0"], "--min-cell must be at least 1"),
    (["{csv}", "--targets", "nope.csv"], "no targets file at nope.csv"),
])
def test_report_errors_are_sentences(args, message, episodes_csv, tmp_path, capsys):
    argv = ["report", *[a.replace("{csv}", str(episodes_csv)) for a in args], "--out", str(tmp_path / "r.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_bad_targets_file_is_reported(episodes_csv, tmp_path, capsys):
    bad = tmp_path / "targets.csv"
    bad.write_text("id,metric,unit,low,high,direction,source\nx,completion_rate,discharge,50,60,higher_is_better,B\n")
    assert main(["report", str(episodes_csv), "--out", str(tmp_path / "r.html"), "--targets", str(bad)]) == 2
    assert "proportion outside 0-1" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(figures.find_chromium() is None, reason="no Chromium on this machine")
def test_pdf_printed_by_the_system_chromium(episodes_csv, tmp_path):
    from analysis.cohort import derive_cohort
    from analysis.loading import load_episodes
    from analysis.provenance import Provenance
    from analysis.review import build_review
    from analysis.review_html import print_pdf

    loaded = load_episodes(episodes_csv)
    cohort = derive_cohort(loaded.episodes)
    prov = Provenance(source="episodes.csv", content_hash=loaded.content_hash, filters="all episodes",
                      origin="discharge", by="level_of_care", rows_used=len(cohort), rows_excluded=0, min_cell=11)
    review = build_review(cohort, provenance=prov)
    small = dataclasses.replace(review, sections=review.sections[:1])  # the key figures table only: fast
    pdf = print_pdf(small, tmp_path / "review.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
