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
    row = {"n_episodes": float(raw.n_episodes), "completion_rate": np.nan, "ci_lower": np.nan, "ci_upper": np.nan,
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


# ---------------------------------------------------------------------------------------------------------
# trends by quarter and the organisation's targets ("how did we do last quarter?")
# ---------------------------------------------------------------------------------------------------------
TREND_METRICS = ("completion_all", "relapse", "median_stay")
"""Measures of the quarterly trends as published (completion over all discharges: see the ledger)."""
_TREND_PLAIN = ("metric", "period", "period_start", "period_end", "unit", "horizon_days", "origin", "complete",
                "note")
_TARGET_NOT_BY_QUARTER = ("completion with transfers left out is not shown by quarter (a quarter's few transfers "
                          "would be given away); a target on completion over all discharges "
                          "(discharge_reason_completed) can be judged")


@dataclass(frozen=True, eq=False)
class Trends:
    """Published quarterly trends (``table``), this quarter against the previous one (``change``) and the
    organisation's targets (``targets``, None without any). Group ``"all"`` is the whole program."""

    table: PublishedTable
    change: PublishedTable
    targets: PublishedTable | None
    groups: list
    latest: dict
    as_of: object
    horizon_days: int
    origin: str
    method: str
    target_rows: pd.DataFrame | None = None


def _trend_refs(metric: str, quarter: str = "@period") -> list:
    from analysis.disclosure.raw import TREND_HORIZON

    if metric == "completion_all":
        return [ref("quarter_completed", quarter=quarter), ref("quarter_discharged", quarter=quarter)]
    if metric == "relapse":
        return [ref("quarter_followed", quarter=quarter, day=None),
                ref("quarter_relapsed", quarter=quarter, day=TREND_HORIZON)]
    if metric == "median_stay":
        return [ref("quarter_discharged", quarter=quarter)]
    return [ref("__not_published__")]


def _trend_quals(metric: str) -> dict:
    from analysis.disclosure.raw import TREND_HORIZON, TREND_ORIGIN

    quals = {"quarter": "period"}
    if metric == "relapse":
        quals.update(origin=TREND_ORIGIN, day=TREND_HORIZON)
    return quals


def _concat(parts: list[PublishedTable], name: str, min_cell: int) -> PublishedTable:
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    status = pd.concat([p.status for p in parts], ignore_index=True)
    kinds: dict = {}
    for p in parts:
        kinds.update(p.kinds)
    for col in status.columns:  # a column one part lacks is shown there (plain) or nothing to hide
        status[col] = status[col].fillna("shown")
    return PublishedTable(name, frame, status, kinds, min_cell)


def _scopes(pub: Publication) -> list[tuple[str, pd.DataFrame]]:
    out = []
    for scope_by in (PROGRAM, pub.by):
        tr = pub.raw.trends.get(scope_by)
        if tr is not None:
            out.append((scope_by, tr))
    return out


def _at_risk_end(tr) -> dict:
    t = tr.table[tr.table["metric"] == "relapse"]
    return {(str(g), str(p)): float(v) for g, p, v in zip(t["group"], t["period"], t["n_at_risk_end"], strict=True)}


def _publish_rows(pub: Publication, frame: pd.DataFrame, scope_by: str, name: str, stats: dict, counts: dict,
                  quals: dict, hide: dict, plain: tuple) -> PublishedTable:
    is_all = scope_by == PROGRAM
    part = frame.copy()
    if is_all:
        part["group"] = PROGRAM
    table = pub.table(TableSpec(name, part, scope_by, group_col=None if is_all else "group", quals=quals,
                                counts=counts, stats=stats, hide=hide,
                                plain=tuple(c for c in plain if c in part.columns) + (("group",) if is_all else ())))
    if is_all:
        table.frame["group"] = "all"
    return table


def trends(pub: Publication, targets: pd.DataFrame | None = None) -> Trends | None:
    """Quarterly trends of completion (all discharges), relapse by 90 days from discharge and median stay, per
    group of the publication's grouping and for the whole program; the latest complete quarter against the one
    before (percentage points, 95% intervals); the organisation's targets as met / not met / cannot tell.
    None when the data have no discharge dates."""
    from analysis.trends import latest_complete, period_change

    scopes = _scopes(pub)
    if not scopes:
        return None
    rows, changes, target_parts = [], [], []
    for scope_by, tr in scopes:
        t = tr.table[tr.table["metric"].isin(TREND_METRICS)]
        risk = _at_risk_end(tr)
        for metric, part in t.groupby("metric", sort=False):
            part = part.reset_index(drop=True)
            count = {"completion_all": "quarter_discharged", "median_stay": "quarter_discharged",
                     "relapse": ("quarter_followed", {"day": None})}[metric]
            refs = _trend_refs(metric)
            hide = np.zeros(len(part), dtype=bool)
            if metric == "relapse":
                hide = (part["n_at_risk_end"].fillna(0) < pub.min_cell).to_numpy()
            rows.append(_publish_rows(pub, part, scope_by, "trends", {c: refs for c in ("estimate", "lower", "upper")},
                                      {"n": count}, _trend_quals(metric), {c: hide for c in ("estimate", "lower",
                                                                                              "upper")},
                                      _TREND_PLAIN))
        try:
            ch = period_change(tr)
        except ValueError:
            ch = None
        if ch is not None:
            ch = ch[ch["metric"].isin(TREND_METRICS)]
            for metric, part in ch.groupby("metric", sort=False):
                part = part.reset_index(drop=True)
                this, prev = _trend_refs(metric), _trend_refs(metric, "@previous")
                hide = np.zeros(len(part), dtype=bool)
                hide_prev = np.zeros(len(part), dtype=bool)
                if metric == "relapse":
                    g = part["group"].astype(str)
                    hide = np.array([risk.get((a, b), 0) < pub.min_cell for a, b in zip(g, part["period"], strict=True)])
                    hide_prev = np.array([risk.get((a, b), 0) < pub.min_cell
                                          for a, b in zip(g, part["previous"], strict=True)])
                both = hide | hide_prev
                changes.append(_publish_rows(
                    pub, part, scope_by, "trend_change",
                    {"estimate": this, "previous_estimate": prev, "difference": this + prev,
                     "difference_lower": this + prev, "difference_upper": this + prev}, {}, _trend_quals(metric),
                    {"estimate": hide, "previous_estimate": hide_prev, "difference": both, "difference_lower": both,
                     "difference_upper": both},
                    ("metric", "period", "previous", "unit", "method", "complete", "previous_complete", "note")))
    if targets is not None and len(targets):
        target_parts = _targets(pub, targets)
    program = dict(scopes)[PROGRAM] if PROGRAM in dict(scopes) else scopes[0][1]
    latest = {m: latest_complete(program, m) for m in TREND_METRICS}
    table = _concat(rows, "trends", pub.min_cell)
    change = _concat(changes, "trend_change", pub.min_cell) if changes else pub.table(TableSpec(
        "trend_change", pd.DataFrame(columns=["group", "metric"]), pub.by, plain=("metric",)))
    groups = [g for g in dict.fromkeys(table.frame["group"].astype(object)) if g != "all"]
    h = int(program.horizon_days)
    method = ("Quarters of discharge. Completion: completed / all discharges of the quarter (transfers count as not "
              "completed, the TEDS convention; with transfers left out, a quarter's few transfers would be given "
              f"away), Wilson 95% intervals. Relapse by {h} days from discharge: one minus Kaplan-Meier at day {h} among "
              "the quarter's discharges, censored at last contact, log-log 95% interval; a quarter whose "
              f"{h} days of follow-up are not over for everyone is marked incomplete. Median stay: median days in "
              "treatment of the quarter's discharges, interval from the log-log band. Change from the previous "
              "quarter: Newcombe hybrid score interval (completion), Greenwood standard errors of independent "
              "quarters (relapse), in percentage points; no interval for the change in median stay.")
    return Trends(table, change, _concat(target_parts, "targets", pub.min_cell) if target_parts else None,
                  ["all", *groups], latest, program.as_of, h, program.origin, method, targets)


def group_name(g: object) -> str:
    """"all" -> "Whole program", a level code -> its label."""
    from analysis.labels import group_label

    return "Whole program" if str(g) == "all" else group_label(g)


def _hidden_label(status: str, min_cell: int) -> str:
    from analysis.disclosure.format import hidden_text

    return hidden_text(status, min_cell)


def change_text(tr: Trends, metric: str, group: object) -> tuple[str, str, str]:
    """(estimate, change, quarters) of one measure and group as text: ``("55.0% (46.4-63.4%)",
    "+3.0 pp (95% CI -7.7 to +13.4)", "2026Q2 vs 2026Q1")``; hidden values read as their label."""
    from analysis.labels import fmt_ci, fmt_days, fmt_pp

    f, st = tr.change.frame, tr.change.status
    rows = np.flatnonzero(((f["metric"] == metric) & (f["group"].astype(str) == str(group))).to_numpy())
    if not len(rows):
        return "", "", ""
    i = rows[0]
    r, s = f.iloc[i], st.iloc[i]
    t = tr.table.frame
    lo = hi = None
    match = t[(t["metric"] == metric) & (t["group"].astype(str) == str(group)) & (t["period"] == r["period"])]
    if len(match):
        lo, hi = match["lower"].iloc[0], match["upper"].iloc[0]
    days = r["unit"] == "days"
    if s["estimate"] != "shown":
        est = _hidden_label(s["estimate"], tr.table.min_cell)
    elif pd.isna(r["estimate"]):
        est = "not yet observable" if metric == "relapse" else "no discharges"
    else:
        est = fmt_ci(r["estimate"], lo, hi, kind="days" if days else "percent")
    if s["difference"] != "shown":
        ch = _hidden_label(s["difference"], tr.table.min_cell)
    elif pd.isna(r["difference"]):
        ch = "no previous quarter" if pd.isna(r["previous_estimate"]) else ""
    elif days:
        ch = f"{r['difference']:+,.0f} days" if abs(r["difference"]) >= 1 else f"{r['difference']:+.1f} days"
        ch = ch.replace("+0 days", "0 days")
    else:
        ch = fmt_pp(r["difference"], r["difference_lower"], r["difference_upper"])
    del fmt_days
    return est, ch, f"{r['period']} vs {r['previous']}"


def change_by_group(tr: Trends) -> pd.DataFrame:
    """One row per group (whole program first): each measure's latest complete quarter with its change from the
    quarter before, as text (published values only)."""
    names = {"completion_all": "Completion", "relapse": f"Relapse by {tr.horizon_days} days", "median_stay":
             "Median stay"}
    rows = []
    for g in tr.groups:
        row = {"Group": group_name(g)}
        for m, name in names.items():
            est, ch, _ = change_text(tr, m, g)
            row[name] = est
            row[f"{name}: change"] = ch
        rows.append(row)
    return pd.DataFrame(rows)


def _targets(pub: Publication, targets: pd.DataFrame) -> list[PublishedTable]:
    """One published row per target: judged on the whole program or on its level of care."""
    from dataclasses import replace

    from analysis.trends import target_status_table

    program = pub.raw.trends.get(PROGRAM)
    levels = pub.raw.trends.get("level_of_care")
    if program is None:
        return []
    table = program.table.assign(group="all")
    if levels is not None:
        table = pd.concat([table, levels.table], ignore_index=True)
    both = replace(program, table=table)
    st = target_status_table(both, targets, min_cell=pub.min_cell)
    not_by_quarter = st["metric"] == "completion_rate"
    st.loc[not_by_quarter, ["estimate", "lower", "upper"]] = np.nan
    st.loc[not_by_quarter, "status"] = "no_estimate"
    st.loc[not_by_quarter, "note"] = _TARGET_NOT_BY_QUARTER
    risk = {**_at_risk_end(program), **_at_risk_end(levels)} if levels is not None else _at_risk_end(program)
    risk = {(("*" if g == "*" else g), p): v for (g, p), v in risk.items()}
    parts = []
    metric_of = {"discharge_reason_completed": "completion_all", "relapse": "relapse", "median_los_days": "median_stay"}
    for i in range(len(st)):
        row = st.iloc[[i]].reset_index(drop=True)
        r = row.iloc[0]
        is_all = str(r["group"]) == "all"
        scope_by = PROGRAM if is_all else "level_of_care"
        judged = r["status"] not in ("no_estimate", "not_a_target") and r["metric"] in metric_of
        metric = metric_of.get(str(r["metric"]), "")
        refs = _trend_refs(metric) if judged else []
        hide = np.zeros(1, dtype=bool)
        if judged and metric == "relapse":
            hide[0] = risk.get(("*" if is_all else str(r["group"]), str(r["period"])), 0) < pub.min_cell
        quals = _trend_quals(metric) if judged else {}
        parts.append(_publish_rows(pub, row, scope_by, "targets", {c: refs for c in ("estimate", "lower", "upper",
                                                                                    "status")},
                                   {}, quals, {c: hide for c in ("estimate", "lower", "upper", "status")},
                                   ("target_id", "metric", "period", "target_low", "target_high", "direction",
                                    "source", "note")))
    return parts
