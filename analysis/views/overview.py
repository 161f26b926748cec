"""The Overview page: the cohort in one screen (headline numbers, key figures per group, a small KM chart)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.benchmarks import load_benchmarks, place_against_benchmarks
from analysis.disclosure import Publication, PublishedCount, PublishedTable, TableSpec, fmt_ci, ref
from analysis.disclosure.cells import PROGRAM
from analysis.views.common import completion_placements, km_hidden, km_refs, teds_name

__all__ = ["Overview", "overview"]


@dataclass(frozen=True, eq=False)
class Overview:
    """Published headline numbers (``headline``: one-row program table), key figures and curves."""

    episodes: PublishedCount
    headline: PublishedTable
    key_figures: PublishedTable
    km: pd.DataFrame
    groups: list
    origin: str


def _headline(pub: Publication, origin: str) -> PublishedTable:
    raw = pub.raw
    comp = raw.completion.get(PROGRAM)
    los = raw.los.get(PROGRAM)
    rel = raw.relapse.get((PROGRAM, origin))
    row = {"n_episodes": float(len(raw.cohort)), "completion_rate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
           "median_days": float(los["median_days"].iloc[0]) if los is not None else np.nan, "relapse": np.nan, "relapse_lower": np.nan,
           "relapse_upper": np.nan}
    if comp is not None:
        c = comp.iloc[0]
        row.update(completion_rate=c["completion_rate"], ci_lower=c["ci_lower"], ci_upper=c["ci_upper"])
    if rel is not None and (rel["horizon_days"] == 365).any():
        r = rel[rel["horizon_days"] == 365].iloc[0]
        row.update(relapse=r["km_relapse"], relapse_lower=r["km_lower"], relapse_upper=r["km_upper"])
    frame = pd.DataFrame([row])
    rate = [ref("reason", reason="completed"), ref("basis")]
    km = km_refs(origin, 365)
    hide = km_hidden(pub, PROGRAM, origin, [PROGRAM], [365])
    return pub.table(TableSpec(
        "headline", frame, PROGRAM, group_col=None, counts={"n_episodes": "episodes"},
        stats={"completion_rate": rate, "ci_lower": rate, "ci_upper": rate, "median_days": [ref("discharged")],
               "relapse": km, "relapse_lower": km, "relapse_upper": km},
        hide={"relapse": hide, "relapse_lower": hide, "relapse_upper": hide}))


def overview(pub: Publication, origin: str) -> Overview:
    """Everything the Overview shows, published."""
    raw, by = pub.raw, pub.by
    comp = raw.completion.get(by)
    los = raw.los.get(by)
    rel = raw.relapse.get((by, origin))
    groups = list(raw.sizes[by]["group"])
    frame = pd.DataFrame({"group": groups})
    if comp is not None:
        c = comp.set_index(comp["group"].astype(object))
        for col in ("n_episodes", "completion_rate", "ci_lower", "ci_upper", "completion_rate_all"):
            frame[col] = frame["group"].map(c[col]).astype("float64")
    else:
        frame["n_episodes"] = raw.sizes[by]["n_episodes"].to_numpy()
    if los is not None:
        frame["median_days"] = frame["group"].map(los.set_index(los["group"].astype(object))["median_days"]).astype(
            "float64")
    else:
        frame["median_days"] = np.nan
    for h in (90, 365):
        for col in ("km_relapse", "km_lower", "km_upper"):
            if rel is None:
                frame[f"{col}_{h}"] = np.nan
                continue
            at = rel[rel["horizon_days"] == h].set_index(rel[rel["horizon_days"] == h]["group"].astype(object))
            frame[f"{col}_{h}"] = frame["group"].map(at[col]).astype("float64")
    # benchmark placements beside the figures
    teds = completion_placements(comp, by) if comp is not None else pd.DataFrame(columns=["group"])
    frame["completion_benchmark"] = [
        "; ".join(f"{r.benchmark_low:.0%}{' ' + teds_name(r.benchmark_id) if teds_name(r.benchmark_id) else ''}: "
                  f"{r.placement}" for r in teds[teds["group"] == g].itertuples()) for g in groups]
    placed = place_against_benchmarks(pd.DataFrame({
        "metric": "relapse", "horizon_days": 365, "origin": origin, "unit": "person",
        "estimate": frame["km_relapse_365"], "lower": frame["km_lower_365"], "upper": frame["km_upper_365"],
        "group": frame["group"]}), load_benchmarks())
    pl = dict(zip(placed["group"], placed["placement"], strict=False))
    frame["relapse_benchmark"] = [pl.get(g, "") if origin == "discharge" else "band is from discharge"
                                  for g in groups]
    rate = [ref("reason", reason="completed"), ref("basis")]
    rate_all = [ref("reason", reason="completed"), ref("discharged")]
    stats = {"completion_rate": rate, "ci_lower": rate, "ci_upper": rate, "completion_benchmark": rate_all,
             "median_days": [ref("discharged")]}
    hide = {}
    for h in (90, 365):
        mask = km_hidden(pub, by, origin, groups, [h] * len(groups))
        for col in ("km_relapse", "km_lower", "km_upper"):
            stats[f"{col}_{h}"] = km_refs(origin, h)
            hide[f"{col}_{h}"] = mask
    stats["relapse_benchmark"] = km_refs(origin, 365)
    hide["relapse_benchmark"] = hide["km_relapse_365"]
    if comp is None:
        for k in ("completion_rate", "ci_lower", "ci_upper", "completion_benchmark"):
            stats.pop(k)
    table = pub.table(TableSpec("overview_key_figures", frame, by, counts={"n_episodes": "episodes"}, stats=stats,
                                hide=hide))
    f = table.frame
    table = table.with_column("completion", [fmt_ci(*v) for v in f[["completion_rate", "ci_lower", "ci_upper"]]
                                             .to_numpy()] if "completion_rate" in f else [""] * len(f),
                              "completion_rate")
    for h in (90, 365):
        table = table.with_column(f"relapse_{h}", [fmt_ci(*v) for v in f[[f"km_relapse_{h}", f"km_lower_{h}",
                                                                          f"km_upper_{h}"]].to_numpy()],
                                  f"km_relapse_{h}")
    return Overview(pub.count("episodes"), _headline(pub, origin), table, pub.km(origin), groups, origin)
