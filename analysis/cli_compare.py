"""``python -m analysis compare FILE --by COL --a A --b B``: a fair comparison of two groups, as text or JSON.

Propensity weighting on the ``--adjust`` covariates, weighted Kaplan-Meier curves with robust intervals,
relapse differences and the RMST difference, weighted and covariate-adjusted hazard ratios, the
proportional-hazards verdict, window hazard ratios and the E-value (see :mod:`analysis.comparison`).
Every number goes through the publication step the page uses (:func:`analysis.views.comparison.publish_comparison`):
counts of 1 to ``--min-cell`` - 1 people, and counts that would give one back, are null ("<N" / "suppressed" in
text), and so is every statistic resting on them.
"""
from __future__ import annotations

import argparse
import json
import sys

from analysis.cli import add_file_arguments, load_from_args
from analysis.cohort import ORIGINS
from analysis.comparison.bootstrap import DEFAULT_SEED
from analysis.provenance import published_rows
from analysis.suppression import DEFAULT_MIN_CELL
from analysis.views.comparison import comparison_payload, publish_comparison

__all__ = ["add_parser", "run"]


def _numbers(text: str, *, count: int | None = None, what: str = "numbers") -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} separated by commas, got {text!r}") from None
    if not values or (count is not None and len(values) != count):
        raise argparse.ArgumentTypeError(f"expected {count or 'some'} {what} separated by commas, got {text!r}")
    return values


def _trim(text: str) -> tuple[float, float]:
    low, high = _numbers(text, count=2, what="percentiles")
    if not 0 <= low < high <= 100:
        raise argparse.ArgumentTypeError(f"--trim LOW,HIGH needs 0 <= LOW < HIGH <= 100, got {text!r}")
    return low, high


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare two groups fairly (propensity weighting, adjusted curves, RMST, E-value)",
        description="Compare group A with group B for comparable people: a logistic propensity model on the --adjust "
                    "covariates, inverse-probability weights (ATE stabilised or ATT), balance before/after, weighted "
                    "Kaplan-Meier curves with robust intervals, relapse and restricted-mean differences (A minus B), "
                    "weighted and covariate-adjusted Cox hazard ratios, the proportional-hazards verdict, hazard ratios "
                    "by window of follow-up and the E-value.")
    add_file_arguments(p, by_default=None)
    p.add_argument("--a", required=True, help="group A (e.g. iop); differences are A minus B")
    p.add_argument("--b", required=True, help="group B, the comparison group (e.g. residential)")
    p.add_argument("--adjust", default="", help="comma-separated covariates (the file's or canonical names)")
    p.add_argument("--reference-level", action="append", default=[], metavar="COL=LEVEL",
                   help="reference level of a categorical covariate (repeatable; default the most frequent)")
    p.add_argument("--estimand", choices=("ate", "att"), default="ate",
                   help="ate: both groups weighted to their joint case mix (default); att: B weighted to A")
    p.add_argument("--trim", type=_trim, default=None, metavar="LOW,HIGH",
                   help="winsorise each group's weights at these percentiles, e.g. 1,99 (default none)")
    p.add_argument("--origin", choices=ORIGINS, default=None,
                   help="time origin (default: discharge when the file records discharge, else admission)")
    p.add_argument("--tau", type=float, default=None,
                   help="horizon of the restricted mean (default 365 days / 52 weeks / 12 months / 1 year)")
    p.add_argument("--horizons", type=_numbers, default=None,
                   help="times of the relapse differences (default 30,90,180,365 days or 4,13,26,52 weeks)")
    p.add_argument("--windows", type=_numbers, default=None,
                   help="limits of the hazard-ratio windows (default 0,30,90,365 days or 0,4,13,52 weeks)")
    p.add_argument("--cluster", default="auto",
                   help="cluster of the robust variances: auto (client_id when people have several episodes), "
                        "none, or a column")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="also give percentile-bootstrap intervals of the relapse and RMST differences from N "
                        "replicates that repeat the propensity fit (default 0: none; slow on large files)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the bootstrap (default {DEFAULT_SEED})")
    p.add_argument("--min-cell", type=int, default=DEFAULT_MIN_CELL,
                   help=f"suppress counts below this many people (default {DEFAULT_MIN_CELL})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.min_cell < 1:
        print("error: --min-cell must be at least 1.", file=sys.stderr)
        return 2
    refs = {}
    for item in args.reference_level:
        if "=" not in item:
            print(f"error: --reference-level expects COL=LEVEL, got {item!r}.", file=sys.stderr)
            return 2
        col, level = item.split("=", 1)
        refs[col.strip()] = level.strip()
    result = load_from_args(args)  # --map, --mapping, --type, --time-unit, --event-value
    if result is None:
        return 2
    if not result.ok:
        print(f"error: {result.report.fatal}", file=sys.stderr)
        for note in result.report.notes:
            print(f"note: {note}", file=sys.stderr)
        return 2
    if result.by is None:
        print("error: --by COL is required: the column whose groups --a and --b name.", file=sys.stderr)
        return 2
    cluster = None if args.cluster == "none" else args.cluster
    try:
        by = result.resolve_column(result.by)
        adjust = [result.resolve_column(c.strip()) for c in args.adjust.split(",") if c.strip()]
        refs = {result.resolve_column(k): v for k, v in refs.items()}
        if cluster not in (None, "auto"):
            cluster = result.resolve_column(cluster)
        # the output step: the comparison published with the counts of the cohort (analysis.disclosure), the
        # same function the page uses; its publication reads the engine's collapsed counts, and only the two
        # groups' rows of the columns the comparison reads leave the engine
        view = publish_comparison(result.engine.counts(), by=by, a=args.a, b=args.b, adjust=adjust, origin=args.origin,
                                  min_cell=args.min_cell, cluster=cluster, time_unit=result.time_unit,
                                  reference_levels=refs, estimand=args.estimand, trim=args.trim, tau=args.tau,
                                  horizons=args.horizons, windows=args.windows, bootstrap=args.bootstrap,
                                  seed=args.seed, labels=result.display_names)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    payload = comparison_payload(view, labels=result.display_names)
    payload["source"] = {"file": result.source_name, "sha256_12": result.content_hash,
                         **published_rows(result.report.n_rows_read, result.report.n_rows_accepted,
                                          result.report.n_rows_excluded, args.min_cell)}
    payload["load_notes"] = list(result.report.notes)
    print(json.dumps(payload, indent=2) if args.json else _text(payload, args.min_cell))
    return 0


def _c(n, min_cell: int) -> str:
    return f"<{min_cell}" if n is None else f"{n:,}"


def _f(x, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _text(d: dict, min_cell: int) -> str:
    a, b, unit = d["a"], d["b"], d["time_unit"]
    u = unit[:-1]
    ps = d["propensity"]
    lines = [
        f"Compare {d['by']} = {a} (A) with {b} (B), from {d['origin']}, estimand {d['estimand'].upper()}; "
        f"times in {unit}.",
        f"File: {d['source']['file']} (sha256 {d['source']['sha256_12']}); episodes used: {a} {_c(d['n'][a], min_cell)}, "
        f"{b} {_c(d['n'][b], min_cell)}" + "".join(f"; excluded ({e['reason']}) {_c(e['n'], min_cell)}"
                                                   for e in d["excluded"]),
        *([f"Origin: {d['origin_reason']}."] if d.get("origin_reason") else []),
        "", "Summary: " + d["summary"], "",
        f"Propensity model on {', '.join(d['covariates']) or 'no covariates'}: c-statistic {_f(ps['c_statistic'], '.3f')}; "
        f"outside common support {_c(ps['outside_support'], min_cell)}; effective sample size {a} "
        f"{_f(ps['ess'][a], '.1f')}, {b} {_f(ps['ess'][b], '.1f')}.",
        "Balance (standardised difference A - B, before -> after weighting):",
    ]
    for r in d["balance"]:
        name = r["covariate"] + (f" = {r['level']}" if r["level"] is not None else "")
        lines.append(f"  {name:<40} {_f(r['smd_before'], '+.3f')} -> {_f(r['smd_after'], '+.3f')}")
    lines.append("Relapse difference A - B (weighted Kaplan-Meier, robust 95% CI):")
    for r in d["relapse_difference"]:
        lines.append(f"  {u} {r[u]:g}: {_f(r['estimate'], '+.3f')} ({_f(r['lower'], '+.3f')} to "
                     f"{_f(r['upper'], '+.3f')}), p {_f(r['p'], '.3g')}")
    r = d["rmst_difference"]
    lines.append(f"Relapse-free {unit} in the first {r['tau']:g} (RMST), A - B: {_f(r['estimate'], '+.1f')} "
                 f"({_f(r['lower'], '+.1f')} to {_f(r['upper'], '+.1f')}), p {_f(r['p'], '.3g')}")
    if "bootstrap" in d:
        bs = d["bootstrap"]
        lines.append(f"Bootstrap ({bs['used']} of {bs['replicates']} replicates, seed {bs['seed']}, resampling "
                     f"{bs['resampled']}): RMST difference {_f(bs['rmst_difference']['lower'], '+.1f')} to "
                     f"{_f(bs['rmst_difference']['upper'], '+.1f')}; relapse difference "
                     + ", ".join(f"{u} {x[u]:g}: {_f(x['lower'], '+.3f')} to {_f(x['upper'], '+.3f')}"
                                 for x in bs["relapse_difference"]))
    for key in ("weighted_cox", "adjusted_cox"):
        h = d[key]
        lines.append(f"Hazard ratio A vs B, {h['model']} ({h['variance']}): {_f(h['hr'])} ({_f(h['lower'])}-"
                     f"{_f(h['upper'])}), p {_f(h['p'], '.3g')}")
    ph = d["ph_test"]
    lines.append(f"Proportional hazards: {'hold' if ph['holds'] else 'do not hold'} (cox.zph p {_f(ph['p'], '.3g')})")
    for w in d["window_hr"]:
        lines.append(f"  {unit} {w['from_' + u]:g}-{w['to_' + u]:g}: HR {_f(w['hr'])} ({_f(w['lower'])}-{_f(w['upper'])})")
    e = d["e_value"]
    lines.append(f"E-value: {_f(e['estimate'])} (CI limit {_f(e['limit'])}); {e['method']}.")
    lines += [f"Note: {n}" for n in d["notes"]]
    return "\n".join(lines)
