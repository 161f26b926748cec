"""The Benchmarks page: the program's figures placed against the registry, each resting on its counts.

Estimates from :func:`analysis.report.program_benchmarks`: one-year relapse from discharge (rests on the
group's Kaplan-Meier point at day 365), the share of the year's relapses that came by day 90 (points
at 90 and 365), discharge-reason shares (the reason's count and the discharged), stays longer than
30/90/180/365 days (the count over the limit and the discharged). A hidden estimate hides its placement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.disclosure import Publication, PublishedTable, TableSpec, ref
from analysis.disclosure.cells import PROGRAM
from analysis.report import describe_estimate, program_benchmarks
from analysis.views.common import km_hidden, km_refs

__all__ = ["BenchmarksView", "benchmarks_view"]

_PLAIN = ("level_of_care", "metric", "horizon_days", "origin", "unit", "benchmark_id", "benchmark_unit",
          "benchmark_level_of_care", "benchmark_low", "benchmark_high", "benchmark_direction", "benchmark_population",
          "benchmark_source", "benchmark_year", "benchmark_note", "benchmark_provided_by", "what")
_STATS = ("estimate", "lower", "upper", "placement")


@dataclass(frozen=True, eq=False)
class BenchmarksView:
    placements: PublishedTable


def _refs(metric: str) -> list:
    if metric == "relapse":
        return km_refs("discharge", 365)
    if metric == "share_of_year_relapses_by_day_90":
        return [*km_refs("discharge", 90), *km_refs("discharge", 365)]
    if metric.startswith("discharge_reason_"):
        return [ref("reason", reason=metric.removeprefix("discharge_reason_")), ref("discharged")]
    if metric.startswith("los_over_"):
        days = int(metric.removeprefix("los_over_").removesuffix("_days"))
        return [ref("los_over", days=days), ref("discharged")]
    return [ref("__unknown__")]  # a metric nobody registered is never shown


def benchmarks_view(pub: Publication, extra_benchmarks: bytes | None = None) -> BenchmarksView:
    """Placements against the registry (and an organisation's own targets), published."""
    placed = program_benchmarks(pub.raw.counts, by=pub.by, extra_benchmarks=extra_benchmarks)
    placed = placed.assign(what=[describe_estimate(m, g, str(pop)) for m, g, pop in
                                 zip(placed["metric"], placed["group"], placed["benchmark_population"], strict=True)])
    parts = []
    for is_all in (True, False):
        rows = placed[(placed["group"] == "all") == is_all]
        for metric, part in rows.groupby("metric", sort=False):
            part = part.copy()
            if is_all:
                part["group"] = PROGRAM
            groups = part["group"].astype(object).tolist()
            hide = np.zeros(len(part), dtype=bool)
            if metric in ("relapse", "share_of_year_relapses_by_day_90"):
                hide = km_hidden(pub, PROGRAM if is_all else pub.by, "discharge", groups, [365] * len(groups))
                if metric != "relapse":
                    hide |= km_hidden(pub, PROGRAM if is_all else pub.by, "discharge", groups, [90] * len(groups))
            refs = _refs(metric)
            parts.append(pub.table(TableSpec(
                "benchmark_placements", part, PROGRAM if is_all else pub.by, group_col=None if is_all else "group",
                stats={c: refs for c in _STATS}, hide={c: hide for c in _STATS},
                plain=tuple(c for c in _PLAIN if c in part.columns) + (("group",) if is_all else ()))))
    if not parts:
        return BenchmarksView(pub.table(TableSpec("benchmark_placements", placed.iloc[:0], pub.by,
                                                  stats={c: [] for c in _STATS}, plain=_PLAIN)))
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    status = pd.concat([p.status for p in parts], ignore_index=True)
    frame["group"] = frame["group"].astype(object).replace({PROGRAM: "all"})
    order = np.argsort(pd.Categorical(frame["what"], categories=list(dict.fromkeys(placed["what"]))).codes,
                       kind="stable")
    table = PublishedTable("benchmark_placements", frame.iloc[order].reset_index(drop=True),
                           status.iloc[order].reset_index(drop=True), parts[0].kinds, pub.min_cell)
    return BenchmarksView(table)
