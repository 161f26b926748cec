"""The Retention page: completion, discharge reasons, length of stay, retention in treatment, hours, step-downs."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.disclosure import Publication, PublishedTable, TableSpec, ref
from analysis.disclosure.cells import cell_id
from analysis.disclosure.ledger import forced_counts
from analysis.disclosure.raw import RETENTION_DAYS
from analysis.survival import survival_at
from analysis.views.common import completion_placements

__all__ = ["Retention", "retention"]


@dataclass(frozen=True, eq=False)
class Retention:
    """Published retention tables; ``placements`` are the TEDS bands of the completion chart (rates shown
    only), ``los_groups``/``hours_groups`` the groups whose boxes may be drawn, ``flows`` the step-down links,
    ``retention_not_drawn`` the groups with a retention curve left out (their number of episodes is hidden, and a
    curve starts from it)."""

    completion: PublishedTable | None
    placements: pd.DataFrame
    reasons: PublishedTable | None
    los: PublishedTable | None
    los_groups: list
    retention_curve: pd.DataFrame
    retention_days: PublishedTable | None
    hours: PublishedTable | None
    hours_groups: list
    step_downs: PublishedTable | None
    flows: pd.DataFrame | None
    retention_not_drawn: list = field(default_factory=list)


def _completion(pub: Publication) -> tuple[PublishedTable | None, pd.DataFrame]:
    comp = pub.raw.completion.get(pub.by)
    if comp is None:
        return None, pd.DataFrame(columns=["group", "benchmark_low", "benchmark_high", "benchmark_label"])
    rate = [ref("reason", reason="completed"), ref("basis")]
    rate_all = [ref("reason", reason="completed"), ref("discharged")]
    share = [ref("reason", reason="transferred"), ref("discharged")]
    table = pub.table(TableSpec(
        "completion", comp, pub.by,
        counts={"n_episodes": "episodes", "n_in_treatment": "in_treatment", "n_discharged": "discharged",
                "n_transferred": ("reason", {"reason": "transferred"}),
                "n_completed": ("reason", {"reason": "completed"})},
        stats={"completion_rate": rate, "ci_lower": rate, "ci_upper": rate, "completion_rate_all": rate_all,
               "all_ci_lower": rate_all, "all_ci_upper": rate_all, "transfer_share": share}))
    pl = completion_placements(comp, pub.by)
    shown = set(table.frame.loc[~table.hidden("completion_rate_all"), "group"].astype(object))
    pl = pl[pl["group"].isin(shown)]
    placements = pd.DataFrame({"group": pl["group"], "benchmark_low": pl["benchmark_low"],
                               "benchmark_high": pl["benchmark_high"],
                               "benchmark_label": "TEDS 2004 completion, " + pl["benchmark_id"].str.split(
                                   "_completion_").str[-1].str.replace("_", " ")})
    return table, placements


def _reasons(pub: Publication) -> PublishedTable | None:
    mix = pub.raw.mix.get(pub.by)
    if mix is None:
        return None
    share = [ref("reason"), ref("discharged", reason=None)]
    return pub.table(TableSpec("discharge_reasons", mix, pub.by, quals={"reason": "reason"},
                               counts={"n": "reason", "n_discharged": ("discharged", {"reason": None})},
                               stats={"share": share, "ci_lower": share, "ci_upper": share}, plain=("reason",)))


def _los(pub: Publication) -> PublishedTable | None:
    los = pub.raw.los.get(pub.by)
    if los is None or not (los["n_discharged"] > 0).any():  # no stay recorded (a duration file): no table of zeros
        return None
    on_d = [ref("discharged")]
    stats = {c: on_d for c in ("median_days", "q1_days", "q3_days", "mean_days")}
    for d in (30, 90):
        stats[f"share_over_{d}_days"] = [ref("los_over", days=d), ref("discharged")]
    return pub.table(TableSpec("length_of_stay", los, pub.by, counts={"n_discharged": "discharged"},
                               stats=stats))


def _retention_days(pub: Publication) -> PublishedTable | None:
    km = pub.raw.retention_km.get(pub.by)
    if km is None:
        return None
    at = survival_at(km, RETENTION_DAYS).rename(columns={"survival": "retained"})
    counts = forced_counts(km, RETENTION_DAYS)[["group", "day", "at_risk"]]
    at = at.merge(counts.assign(group=counts["group"].astype(object)).rename(columns={"at_risk": "enrolled"}),
                  left_on=[at["group"].astype(object), "day"], right_on=["group", "day"], how="inner",
                  suffixes=("", "_r"))
    at = at.drop(columns=[c for c in at.columns if c.endswith("_r") or c.startswith("key_")])
    point = [ref("episodes", day=None), ref("enrolled")]
    hide = (at["enrolled"] < pub.min_cell).to_numpy()
    return pub.table(TableSpec("retention_days", at[["group", "day", "retained", "ci_lower", "ci_upper", "enrolled"]],
                               pub.by, quals={"day": "day"}, counts={"enrolled": "enrolled"},
                               stats={"retained": point, "ci_lower": point, "ci_upper": point},
                               hide={"retained": hide, "ci_lower": hide, "ci_upper": hide}, plain=("day",)))


def _hours(pub: Publication) -> tuple[PublishedTable | None, list]:
    eng = pub.raw.engagement.get(pub.by)
    if eng is None or "n_meeting_minimum" not in eng.columns:
        return None, []
    on_h = [ref("with_hours")]
    table = pub.table(TableSpec(
        "hours", eng, pub.by, counts={"n_with_hours": "with_hours", "n_meeting_minimum": "meeting_minimum"},
        stats={"scheduled_per_week_median": on_h, "attended_per_week_median": on_h, "attendance_rate": on_h,
               "share_meeting_minimum": [ref("meeting_minimum"), ref("with_hours")]}))
    groups = list(table.frame.loc[~table.hidden("n_with_hours"), "group"].astype(object))
    return table, groups


def _step_downs(pub: Publication) -> tuple[PublishedTable | None, pd.DataFrame | None]:
    raw = pub.raw
    if raw.step_rates is None or "level_of_care" not in {s.by for s in raw.scopes}:
        return None, None
    rates = raw.step_rates[raw.step_rates["n_discharged"] > 0]
    rate = [ref("step_down"), ref("step_discharged")]
    table = pub.table(TableSpec("step_down", rates, "level_of_care",
                                counts={"n_discharged": "step_discharged", "n_step_down": "step_down"},
                                stats={"step_down_rate": rate, "ci_lower": rate, "ci_upper": rate}))
    flows = raw.step_flows.copy()
    shown = [pub.shown(cell_id("flow", "level_of_care", r.from_level, to=r.to_level)) for r in flows.itertuples()]
    flows["n"] = flows["n"].astype("float64").where(shown)
    return table, flows


def retention(pub: Publication) -> Retention:
    """Everything the Retention page shows, published."""
    completion, placements = _completion(pub)
    los = _los(pub)
    hours, hours_groups = _hours(pub)
    steps, flows = _step_downs(pub)
    curve = pub.retention()
    raw_curve = pub.raw.retention_km.get(pub.by)
    drawn = set(curve["group"].astype(object))
    not_drawn = [] if raw_curve is None else [g for g in raw_curve["group"].cat.categories if g not in drawn]
    return Retention(completion, placements, _reasons(pub), los,
                     [] if los is None else list(los.frame.loc[~los.hidden("n_discharged"), "group"].astype(object)),
                     curve, _retention_days(pub), hours, hours_groups, steps, flows, not_drawn)
