"""``python -m analysis outcomes FILE``: retention, relapse, time to relapse and the Cox model, as text or JSON."""
from __future__ import annotations

import argparse
import json
import sys
import threading

from analysis.cli import add_file_arguments, load_from_args
from analysis.cohort import ORIGINS
from analysis.provenance import published_rows
from analysis.suppression import DEFAULT_MIN_CELL

__all__ = ["add_parser", "run", "outcomes_columns"]


def outcomes_columns(available, by: str, adjust=()) -> list[str]:
    """The cohort columns a publication and its covariates read (the grouping, the covariates, and what
    :mod:`analysis.disclosure.raw` computes), in the cohort's order: the rows ``compare`` takes from the engine
    (``outcomes`` takes only counts, :mod:`analysis.counts`)."""
    from analysis.disclosure.raw import _NEEDED

    want = {by, *adjust, *_NEEDED}
    return [c for c in available if c in want]


def publication_queries(engine, by: str, gate=None, after: dict | None = None) -> None:
    """Run, on ``engine`` (the shadow of :func:`analysis.engine.ahead.compute_ahead`), the largest queries the report
    and its publication ask for, in their order (:func:`analysis.disclosure.raw.compute_raw`'s requests, made by the
    same code): the case-mix passes, the stays and engagement's two hours collapses, the report's benchmark rows (while the report fits the
    Cox model), then, once ``gate`` is set (the report done: its Cox model's arrays and the window query's sort are
    not held at once; ``after``: the report's horizons and origin), the survival rows from the other origin,
    the step-downs and the quarterly trends. The command's engine takes these results as they are when they are
    asked for; a query nobody asks for costs only time of the other core."""
    from analysis.cohort import ORIGINS
    from analysis.disclosure.raw import raw_requests

    counts = engine.counts()
    plan = raw_requests(counts, by, ())
    for origin in ORIGINS:
        counts.prefetch([v for k, v in plan.items() if k.startswith(f"casemix_{origin}_")])
    for name in ("base", "stay", "hours_scheduled", "hours_attended"):
        if name in plan and (plan[name].get("nonnull") is None or plan[name]["nonnull"] in counts.columns):
            counts.collapse(**plan[name])
    for columns in (("time_discharge_days", "event_discharge"), ("in_treatment", "discharge_reason")):
        if set(columns) <= set(counts.columns):  # (analysis.report.benchmark_estimates)
            counts.collapse([by, *columns])
    if gate is not None:
        gate.wait()
    horizons = (after or {}).get("horizons")
    if horizons is not None:  # the publication's survival rows (with its relapse horizons), as compute_raw asks
        whole = tuple(int(h) if float(h).is_integer() else float(h) for h in horizons)
        for name, request in raw_requests(counts, by, whole).items():
            if name.startswith("survival_") and name != f"survival_{after.get('origin')}":  # (the report's: held)
                counts.collapse(**request)
    if by == "level_of_care" and {"client_id", "admission_date", "discharge_date"} <= set(counts.columns):
        counts.step_downs()
    for name in ("completion", "relapse", "median_stay"):
        if f"trend_{name}" in plan:
            counts.collapse(**plan[f"trend_{name}"])


def _number_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("horizons must be positive")
    return [int(v) if v.is_integer() else v for v in values]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("outcomes", help="compute outcomes by group (text or JSON)",
                              description="Retention, relapse by horizon, Kaplan-Meier time to relapse, log-rank "
                                          "and Cox model by group. Cells under --min-cell people are suppressed. "
                                          "Columns may be named as in the file or by their canonical names.")
    add_file_arguments(p, by_default=None)
    p.add_argument("--groups", default=None, help="comma-separated subset of groups to compare")
    p.add_argument("--origin", choices=ORIGINS, default=None,
                   help="time origin (default: discharge when the file records discharge, else admission)")
    p.add_argument("--horizons", type=_number_list, default=None,
                   help="times at which to report relapse and survival, in the time unit "
                        "(default 30,90,180,365 days; 4,13,26,52 weeks; 1,3,6,12 months; 1,2,3,5 years)")
    p.add_argument("--tau", type=float, default=None,
                   help="horizon of the restricted mean, in the time unit (default 365 days, 52 weeks, 12 months, "
                        "1 year)")
    p.add_argument("--adjust", default="", help="comma-separated covariates for the Cox model (the file's names)")
    p.add_argument("--reference", default=None, help="reference group (default residential, else the first)")
    p.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL,
                   help=f"suppress counts below this many people (default {DEFAULT_MIN_CELL})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from analysis.engine.ahead import compute_ahead
    from analysis.report import outcomes_report

    if args.min_cell < 1:
        print("error: --min-cell must be at least 1.", file=sys.stderr)
        return 2
    result = load_from_args(args)
    if result is None:
        return 2
    if not result.ok:
        print(f"error: {result.report.fatal}", file=sys.stderr)
        for note in result.report.notes:
            print(f"note: {note}", file=sys.stderr)
        return 2
    groups = [g.strip() for g in args.groups.split(",")] if args.groups else None
    try:
        by = result.resolve_column(result.by) if result.by else "level_of_care"
        adjust = [result.resolve_column(c.strip()) for c in args.adjust.split(",") if c.strip()]
        cohort = result.engine.counts()  # only aggregates leave the engine (analysis.counts)
        # the publication's largest queries computed in a thread meanwhile (analysis.engine.ahead: the same results)
        gate, after = threading.Event(), {}
        compute_ahead(result.engine, lambda shadow: publication_queries(shadow, by, gate, after), gate)
        try:
            report = outcomes_report(cohort, by=by, origin=args.origin, horizons=args.horizons, tau=args.tau,
                                     adjust=adjust, reference=args.reference, groups=groups,
                                     time_unit=result.time_unit, labels=result.display_names, min_cell=args.min_cell)
            after.update(horizons=report.horizons, origin=report.origin)
        finally:
            gate.set()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = report.to_dict(min_cell=args.min_cell)
        payload["source"] = {"file": result.source_name, "sha256_12": result.content_hash,
                             **published_rows(result.report.n_rows_read, result.report.n_rows_accepted,
                                              result.report.n_rows_excluded, args.min_cell)}
        payload["columns"] = {i.source: {"used_as": i.name, "role": i.role, "type": i.type} for i in result.columns}
        payload["load_notes"] = list(result.report.notes)
        print(json.dumps(payload, indent=2))
    else:
        rows = {k: "suppressed" if v is None else f"{v:,}" for k, v in published_rows(
            result.report.n_rows_read, result.report.n_rows_accepted, result.report.n_rows_excluded,
            args.min_cell).items()}
        print(f"File: {result.source_name} (sha256 {result.content_hash}); rows read {rows['rows_read']}, "
              f"accepted {rows['rows_accepted']}, excluded {rows['rows_excluded']}")
        for note in result.report.notes:
            print(f"Note: {note}")
        print(report.to_text(min_cell=args.min_cell))
    return 0
