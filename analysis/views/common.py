"""Helpers shared by the views: references of Kaplan-Meier points, hide masks, notes."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.disclosure import Publication, ref
from analysis.disclosure.cells import PROGRAM, cell_id

__all__ = ["km_refs", "km_hidden", "at_risk_after", "CAPTION_SMALL"]

CAPTION_SMALL = ("<{m}: fewer than {m} people. suppressed: hidden so that no count below {m} can be worked "
                 "out from the numbers shown (CMS cell-size rule).")


def km_refs(origin: str, day: object) -> list:
    """A Kaplan-Meier point rests on the group's size from the origin and on the relapses by the day (with no
    censoring before the day it is their share); it is also hidden where fewer than ``min_cell`` remain at
    risk (:func:`km_hidden`)."""
    return [ref("followed", origin=origin, horizon=None), ref("relapsed", origin=origin, day=day, horizon=None)]


def at_risk_after(pub: Publication, by: str, origin: str, groups: Sequence, days: Sequence) -> np.ndarray:
    """People still at risk after each (group, day) pair, NaN where the ledger has no such row."""
    out = []
    for g, d in zip(groups, days, strict=True):
        cid = cell_id("at_risk", by, g, origin=origin, day=d)
        out.append(pub.ledger.value(cid) if cid in pub.ledger else np.nan)
    return np.asarray(out, dtype="float64")


def km_hidden(pub: Publication, by: str, origin: str, groups: Sequence, days: Sequence) -> np.ndarray:
    """Kaplan-Meier points are not shown where fewer than ``min_cell`` are at risk at the day, nor,
    for a group whose curve the app draws, at a day that is not a corner of the published curve (the exact
    estimate there beside the curve's last corner would show the few relapses in between)."""
    at = np.array([pub.at_risk_at(by, origin, g, d) for g, d in zip(groups, days, strict=True)])
    hidden = ~(at >= pub.min_cell)
    if by != PROGRAM:
        km = pub.km(origin, by)
        corners = {g: set(part["time"].astype(float)) for g, part in km.groupby("group", observed=True)}
        hidden |= np.array([float(d) not in corners.get(g, set()) for g, d in zip(groups, days, strict=True)])
    return hidden


def groups_of(frame: pd.DataFrame) -> list:
    return list(frame["group"].astype(object))


def completion_placements(comp: pd.DataFrame, by: str) -> pd.DataFrame:
    """Completion over all discharges (TEDS convention) per level against the TEDS 2004 band of that
    level; empty unless grouping by level of care (those bands are stated per type of service)."""
    from analysis.benchmarks import load_benchmarks, place_against_benchmarks

    cols = ["group", "benchmark_id", "benchmark_low", "benchmark_high", "placement"]
    if by != "level_of_care":
        return pd.DataFrame(columns=cols)
    est = pd.DataFrame({"metric": "discharge_reason_completed", "unit": "discharge",
                        "level_of_care": comp["group"].astype(str), "group": comp["group"].astype(object),
                        "estimate": comp["completion_rate_all"].to_numpy(),
                        "lower": comp["all_ci_lower"].to_numpy(), "upper": comp["all_ci_upper"].to_numpy()})
    placed = place_against_benchmarks(est, load_benchmarks())
    return placed[placed["benchmark_level_of_care"].astype(str) != ""].reset_index(drop=True)


def teds_name(benchmark_id: str) -> str:
    """"teds2004_completion_short_term_residential" -> "short-term" ("" for IOP, OP, detox)."""
    tail = benchmark_id.split("_completion_", 1)[-1].replace("_", " ")
    tail = {"short term residential": "short-term", "long term residential": "long-term",
            "hospital residential": "hospital"}.get(tail, tail)
    return "" if tail in ("iop", "op", "detox") else tail
