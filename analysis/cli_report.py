"""``python -m analysis report FILE --out review.html``: the shareable review as one HTML file (and a PDF)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analysis.cli import add_file_arguments, mapping_from_args
from analysis.cohort import ORIGINS
from analysis.engine.load import open_engine
from analysis.engine.progress import TerminalProgress
from analysis.suppression import DEFAULT_MIN_CELL

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="write the review as a self-contained HTML file (and PDF)",
                              description="Key figures, trends by quarter, retention, relapse, time to relapse, "
                                          "IOP vs residential, benchmarks, methods and provenance in one HTML file "
                                          "that opens offline. Cells under --min-cell people are suppressed.")
    add_file_arguments(p, by_default="level_of_care")
    p.add_argument("--out", required=True, help="HTML file to write (e.g. review.html)")
    p.add_argument("--pdf", default=None, help="also print a PDF here (needs the system Chromium)")
    p.add_argument("--static", action="store_true",
                   help="embed figures as SVG images instead of interactive charts (smaller, no script)")
    p.add_argument("--origin", choices=ORIGINS, default="discharge", help="time origin (default discharge)")
    p.add_argument("--targets", default=None, help="CSV of the organisation's own targets (benchmark columns)")
    p.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL,
                   help=f"suppress counts below this many people (default {DEFAULT_MIN_CELL})")
    p.add_argument("--title", default="Outcomes review", help="title of the review")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from analysis.filters import FilterSpec
    from analysis.provenance import Provenance
    from analysis.review import build_review
    from analysis.review_html import print_pdf, write_review

    mapping = mapping_from_args(args)
    if mapping is None:
        return 2
    if args.min_cell < 1:
        print("error: --min-cell must be at least 1.", file=sys.stderr)
        return 2
    if args.targets is not None and not Path(args.targets).is_file():
        print(f"error: no targets file at {args.targets}.", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = open_engine(args.file, table=args.table, mapping=mapping, by=args.by,
                         progress=TerminalProgress(sys.stderr), date_order=args.date_order)
    args.opened = result
    if not result.ok:
        print(f"error: {result.report.fatal}", file=sys.stderr)
        return 2
    by = args.by
    if by not in result.engine.columns and by in result.mapping.values():
        by = next(k for k, v in result.mapping.items() if v == by)
    # the review's publication reads the engine's collapsed counts; only the compared groups' rows leave it
    cohort = result.engine.counts()
    prov = Provenance(source=result.source_name, content_hash=result.content_hash, filters=FilterSpec().describe(),
                      origin=args.origin, by=by, rows_used=int(cohort.n_episodes),
                      rows_excluded=result.report.n_rows_excluded, min_cell=args.min_cell)
    try:
        try:
            review = build_review(cohort, provenance=prov, by=by, origin=args.origin, min_cell=args.min_cell,
                                  extra_benchmarks=Path(args.targets) if args.targets else None, title=args.title)
        finally:
            result.close()
        out = write_review(review, args.out, static=args.static)
        print(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s.")
        if args.pdf:
            pdf = print_pdf(review, args.pdf)
            print(f"Wrote {pdf} ({pdf.stat().st_size / 1e6:.1f} MB).")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
