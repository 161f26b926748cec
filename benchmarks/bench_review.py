"""Time the shareable review: building it, writing the HTML, and (``--pdf``) the static SVGs and the PDF.

Run: ``python benchmarks/bench_review.py [--sizes 5000,100000] [--pdf]``. Anchor: ``outcomes_report`` on the
same cohort (what ``python -m analysis outcomes`` computes), with the ratio. The 5,000 run uses the sample file.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_figures import cohort_of  # noqa: E402

from analysis.provenance import Provenance  # noqa: E402
from analysis.report import outcomes_report  # noqa: E402
from analysis.review import build_review  # noqa: E402
from analysis.review_html import print_pdf, review_html  # noqa: E402


def run(n: int, pdf: bool) -> None:
    cohort = cohort_of(n)
    prov = Provenance(source=f"{n} episodes", content_hash="", filters="all episodes", origin="discharge",
                      by="level_of_care", rows_used=len(cohort), rows_excluded=0, min_cell=11)
    t = time.perf_counter()
    outcomes_report(cohort)
    anchor = time.perf_counter() - t
    t = time.perf_counter()
    review = build_review(cohort, provenance=prov)
    built = time.perf_counter() - t
    t = time.perf_counter()
    page = review_html(review)
    written = time.perf_counter() - t
    n_figs = sum(len(s.figures) for s in review.sections)
    print(f"{n:>9,} episodes: build_review {built:.1f} s (anchor outcomes_report {anchor:.1f} s, ratio "
          f"{built / anchor:.1f}); HTML {written:.2f} s, {len(page) / 1e6:.1f} MB, {n_figs} charts in two layouts")
    if pdf:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            review_html(review, static=True)
            svg = time.perf_counter() - t
            t = time.perf_counter()
            print_pdf(review, Path(tmp) / "review.pdf")
            printed = time.perf_counter() - t
        print(f"{'':>19}static HTML (SVG per chart) {svg:.1f} s = {svg / n_figs:.2f} s per chart; "
              f"PDF (static HTML again + Chromium print) {printed:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="5000,100000")
    p.add_argument("--pdf", action="store_true")
    args = p.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        run(n, args.pdf)


if __name__ == "__main__":
    main()
