"""The Relapse page: cumulative relapse by horizon (Kaplan-Meier, reach, naive share, bounds) and a comparison."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.disclosure import Publication, PublishedTable, TableSpec, ref
from analysis.relapse import relapse_comparison
from analysis.views.common import at_risk_after, km_hidden, km_refs

__all__ = ["RelapseView", "relapse_view", "relapse_vs"]

_KM = ("km_relapse", "km_lower", "km_upper")


@dataclass(frozen=True, eq=False)
class RelapseView:
    rates: PublishedTable
    groups: list  # groups that can be a reference (size shown)
    origin: str


def relapse_view(pub: Publication, origin: str) -> RelapseView:
    """The relapse-by-horizon table, published (KM points on their day rows; reach and bounds on their counts)."""
    by = pub.by
    rates = pub.raw.relapse.get((by, origin))
    if rates is None:
        raise ValueError(f"No episodes with follow-up from {origin} match these filters.")
    rates = rates.copy()
    groups = rates["group"].astype(object).tolist()
    days = rates["horizon_days"].astype(int).tolist()
    rates["n_at_risk"] = at_risk_after(pub, by, origin, groups, days)  # after the day: the published count
    quals = {"origin": origin, "horizon": "horizon_days"}
    km = [ref("followed", horizon=None), ref("relapsed", day="@horizon_days", horizon=None)]
    reach = [ref("reached"), ref("eligible")]
    naive = [ref("relapsed_eligible"), ref("reached")]
    bounds = [ref("relapsed_eligible"), ref("reached"), ref("eligible")]
    hide = km_hidden(pub, by, origin, groups, days)
    stats = {c: km for c in (*_KM, "km_se")}
    stats.update({"reach": reach, "naive_rate": naive, "naive_lower": naive, "naive_upper": naive,
                  "bound_none_relapsed": bounds, "bound_all_relapsed": bounds, "lost_as_relapse_lower": bounds,
                  "lost_as_relapse_upper": bounds})
    est = {"censor": km, "lost_as_relapse": bounds}[str(rates["convention"].iloc[0])]
    stats.update({"estimate": est, "lower": est, "upper": est})
    table = pub.table(TableSpec(
        "relapse_by_horizon", rates, by, quals=quals,
        counts={"n": ("followed", {"horizon": None}), "n_at_risk": ("at_risk", {"day": "@horizon_days", "horizon": None}),
                "n_eligible": "eligible", "n_reached": "reached", "n_relapsed": "relapsed_eligible"},
        stats=stats, hide={c: hide for c in (*_KM, "km_se")}, plain=("horizon_days", "origin", "convention")))
    visible = [g for g in rates["group"].cat.categories if g in pub.groups(by, origin)]
    return RelapseView(table, visible, origin)


def relapse_vs(pub: Publication, origin: str, reference: object, horizon: int) -> PublishedTable:
    """Each visible group against the reference at one horizon (KM difference and ratio; Newcombe among reached).

    Every number of a row rests on both groups' Kaplan-Meier points (and, for the reached-based part,
    both groups' relapsed and reached counts), so a hidden group's comparison is hidden with it.
    """
    by = pub.by
    rates = pub.raw.relapse[(by, origin)]
    visible = pub.groups(by, origin)
    if reference not in visible:
        raise ValueError(f"The reference group {reference!r} is hidden (fewer than {pub.min_cell} people, or "
                         "protecting a small count); choose another.")
    cmp_ = relapse_comparison(rates, reference, horizon_days=horizon)
    cmp_ = cmp_[cmp_["group"].isin(visible)].reset_index(drop=True)
    quals = {"origin": origin, "day": horizon}
    both_km = [*km_refs(origin, horizon), *[ref(r.measure, group=reference, **dict(r.quals)) for r in km_refs(origin, horizon)]]
    both_counts = [ref(m, horizon=horizon, day=None) for m in ("relapsed_eligible", "reached")]
    both_counts += [ref(m, group=reference, horizon=horizon, day=None) for m in ("relapsed_eligible", "reached")]
    groups = cmp_["group"].astype(object).tolist()
    hide = km_hidden(pub, by, origin, groups, [horizon] * len(groups)) | km_hidden(
        pub, by, origin, [reference] * len(groups), [horizon] * len(groups))
    km_cols = [c for c in cmp_.columns if c.startswith("km_")]
    reached_cols = [c for c in ("proportion", "reference_proportion", "difference", "difference_lower",
                                "difference_upper", "ratio", "ratio_lower", "ratio_upper", "p_value")
                    if c in cmp_.columns]
    stats = {c: both_km for c in km_cols}
    stats.update({c: both_counts for c in reached_cols})
    numeric = [c for c in cmp_.columns if c not in stats and c not in ("group", "reference", "horizon_days")
               and pd.api.types.is_numeric_dtype(cmp_[c])]
    stats.update({c: both_counts for c in numeric})  # any other count-based column (successes, n, test)
    return pub.table(TableSpec("relapse_comparison", cmp_.assign(reference=reference), by, quals=quals,
                               stats=stats, hide={c: hide for c in km_cols},
                               plain=("reference", "horizon_days", *[c for c in cmp_.columns
                                                                     if cmp_[c].dtype == object and c != "group"])))
