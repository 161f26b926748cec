"""The Time to relapse page: published Kaplan-Meier curves with numbers at risk, medians, log-rank tests,
restricted means and the competing-risks curves. Tests and differences use the visible groups only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.disclosure import Publication, PublishedTable, TableSpec, ref
from analysis.survival import (
    LogRankResult,
    logrank,
    median_survival,
    pairwise_logrank,
    rmst_by_group,
    rmst_difference,
)

__all__ = ["TimeToRelapse", "time_to_relapse", "AT_RISK_DAYS", "logrank_visible", "rmst_view"]

AT_RISK_DAYS = (0, 90, 180, 365, 545, 730, 1095)


@dataclass(frozen=True, eq=False)
class TimeToRelapse:
    km: pd.DataFrame
    at_risk: PublishedTable
    medians: PublishedTable
    logrank: LogRankResult | None
    pairwise: PublishedTable | None
    test_note: str | None
    deaths_recorded: bool
    cif: pd.DataFrame | None
    groups: list
    origin: str


def _visible_data(pub: Publication, origin: str) -> pd.DataFrame:
    data = pub.raw.survival_data[(pub.by, origin)]
    groups = pub.groups(pub.by, origin)
    data = data[data["group"].isin(groups)].copy()
    data["group"] = data["group"].cat.set_categories(groups)
    return data


def logrank_visible(pub: Publication, origin: str) -> tuple[LogRankResult | None, pd.DataFrame, str | None]:
    """Global and pairwise log-rank tests over the visible groups, with a note naming any left out."""
    data = _visible_data(pub, origin)
    note = pub.visible_note(pub.by, origin, "The log-rank tests are")
    if data["group"].nunique() < 2:
        return None, pd.DataFrame(columns=["group_a", "group_b", "statistic", "p", "p_adjusted"]), note
    glob = logrank(data, time_col="time", event_col="event", group_col="group", weight_col="n")
    pairs = pairwise_logrank(data, time_col="time", event_col="event", group_col="group", weight_col="n")
    return glob, pairs, note


def _per_group(pub: Publication, frame: pd.DataFrame, name: str, origin: str, cols: tuple[str, ...]) -> PublishedTable:
    on_n = [ref("followed")]
    return pub.table(TableSpec(name, frame, pub.by, quals={"origin": origin}, counts={"n": "followed"},
                               stats={c: on_n for c in cols}))


def rmst_view(pub: Publication, origin: str, tau: float, reference: object) -> tuple[PublishedTable, PublishedTable | None]:
    """Restricted mean to ``tau`` per group (resting on its size) and differences from the reference
    (resting on both groups); only visible groups enter the differences."""
    km = pub.raw.km[(pub.by, origin)]
    rm = rmst_by_group(km, tau=tau)
    n = km.groupby("group", observed=True)["n_at_risk"].first()
    rm = rm.assign(n=rm["group"].map(n).astype("float64"))
    table = _per_group(pub, rm, f"rmst_from_{origin}", origin, ("rmst_days", "se", "ci_lower", "ci_upper"))
    visible = pub.groups(pub.by, origin)
    if reference not in visible or len(visible) < 2:
        return table, None
    diff = rmst_difference(rm[rm["group"].isin(visible)].reset_index(drop=True), reference)
    both = [ref("followed"), ref("followed", group=reference)]
    cols = [c for c in ("difference_days", "se", "ci_lower", "ci_upper", "z", "p") if c in diff.columns]
    return table, pub.table(TableSpec(f"rmst_difference_from_{origin}", diff.assign(reference=reference), pub.by,
                                      quals={"origin": origin}, stats={c: both for c in cols}, plain=("reference",)))


def time_to_relapse(pub: Publication, origin: str) -> TimeToRelapse:
    """Everything the Time to relapse page shows except the restricted mean (see :func:`rmst_view`)."""
    by = pub.by
    km_raw = pub.raw.km.get((by, origin))
    if km_raw is None:
        raise ValueError(f"No episodes with follow-up from {origin} match these filters.")
    t_max = float(np.nanmax(km_raw["time"])) if len(km_raw) else 0.0
    days = tuple(d for d in AT_RISK_DAYS if d <= max(t_max, 0))
    med = median_survival(km_raw)
    n = km_raw.groupby("group", observed=True)["n_at_risk"].first()
    med = med.assign(n=med["group"].map(n).astype("float64"))
    medians = _per_group(pub, med, f"median_from_{origin}", origin, ("median_days", "ci_lower", "ci_upper"))
    glob, pairs, note = logrank_visible(pub, origin)
    pair_table = None
    if glob is not None:  # both groups of every pair are visible: nothing rests on a hidden count
        pair_table = pub.table(TableSpec(f"pairwise_logrank_from_{origin}", pairs, by, group_col=None,
                                         stats={c: [] for c in ("statistic", "p", "p_adjusted")},
                                         plain=("group_a", "group_b")))
    data = pub.raw.survival_data[(by, origin)]
    deaths = bool((data["event"] == 2).any())
    return TimeToRelapse(pub.km(origin), pub.at_risk_table(origin, days), medians, glob, pair_table, note, deaths,
                         pub.cif(origin) if deaths else None, pub.groups(by, origin), origin)
