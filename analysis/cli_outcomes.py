"""``python -m analysis outcomes FILE``: retention, relapse, time to relapse and the Cox model, as text or JSON."""
from __future__ import annotations

import argparse
import json
import sys

from analysis.cli import add_file_arguments, mapping_from_args
from analysis.cohort import ORIGINS, derive_cohort
from analysis.loading import load_episodes
from analysis.relapse import DEFAULT_HORIZONS
from analysis.report import outcomes_report
from analysis.suppression import DEFAULT_MIN_CELL

__all__ = ["add_parser", "run"]


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole days separated by commas, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("horizons must be positive whole days")
    return values


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("outcomes", help="compute outcomes by group (text or JSON)",
                              description="Retention, relapse by horizon, Kaplan-Meier time to relapse, log-rank "
                                          "and Cox model by group. Cells under --min-cell people are suppressed.")
    add_file_arguments(p, by_default="level_of_care")
    p.add_argument("--groups", default=None, help="comma-separated subset of groups to compare")
    p.add_argument("--origin", choices=ORIGINS, default="discharge", help="time origin (default discharge)")
    p.add_argument("--horizons", type=_int_list, default=list(DEFAULT_HORIZONS),
                   help="days at which to report relapse and survival (default 30,90,180,365)")
    p.add_argument("--tau", type=float, default=365.0, help="horizon of the restricted mean, days (default 365)")
    p.add_argument("--adjust", default="", help="comma-separated covariates for the Cox model")
    p.add_argument("--reference", default=None, help="reference group (default residential, else the first)")
    p.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL,
                   help=f"suppress counts below this many people (default {DEFAULT_MIN_CELL})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    mapping = mapping_from_args(args)
    if mapping is None:
        return 2
    if args.min_cell < 1:
        print("error: --min-cell must be at least 1.", file=sys.stderr)
        return 2
    result = load_episodes(args.file, mapping=mapping, by=args.by)
    if not result.ok:
        print(f"error: {result.report.fatal}", file=sys.stderr)
        return 2
    by = args.by
    if by not in result.episodes.columns and by in result.mapping.values():
        by = next(k for k, v in result.mapping.items() if v == by)
    cohort = derive_cohort(result.episodes)
    groups = [g.strip() for g in args.groups.split(",")] if args.groups else None
    adjust = [c.strip() for c in args.adjust.split(",") if c.strip()]
    try:
        report = outcomes_report(cohort, by=by, origin=args.origin, horizons=args.horizons, tau=args.tau,
                                 adjust=adjust, reference=args.reference, groups=groups)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = report.to_dict(min_cell=args.min_cell)
        payload["source"] = {"file": result.source_name, "sha256_12": result.content_hash,
                             "rows_read": result.report.n_rows_read, "rows_accepted": result.report.n_rows_accepted,
                             "rows_excluded": result.report.n_rows_excluded}
        print(json.dumps(payload, indent=2))
    else:
        print(f"File: {result.source_name} (sha256 {result.content_hash}); rows read {result.report.n_rows_read:,}, "
              f"accepted {result.report.n_rows_accepted:,}, excluded {result.report.n_rows_excluded:,}")
        print(report.to_text(min_cell=args.min_cell))
    return 0
