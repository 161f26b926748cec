"""The review a program director sends to a board: every headline figure and table, published.

:func:`build_review` runs the app's analyses on a cohort and returns a :class:`Review` of sections
(key figures, trends by quarter, retention, relapse, time to relapse, IOP vs residential,
benchmarks, methods and provenance), each a few figures and tables of display text.
:func:`analysis.review_html.review_html` renders it as one self-contained HTML file.

Small cells are suppressed as in the app: the numbers come from
:meth:`analysis.report.OutcomesReport.to_dict` (counts below ``min_cell`` and the estimates resting
on them are ``None``) and from :mod:`analysis.suppression` for the tables to_dict does not hold
(completion counts, discharge-reason mix with complementary suppression, relapse rates by horizon,
case-mix shares, quarterly trends); curves stop where fewer than ``min_cell`` remain at risk.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import figures
from analysis import labels as L
from analysis.benchmarks import benchmark_band, load_benchmarks, organisation_targets
from analysis.casemix import DEFAULT_COVARIATES, standardized_differences
from analysis.provenance import Provenance
from analysis.relapse import relapse_rates, relapse_survival_data
from analysis.report import describe_estimate, outcomes_report, program_benchmarks
from analysis.retention import completion_rates, discharge_reason_mix, length_of_stay
from analysis.suppression import DEFAULT_MIN_CELL, suppress_complementary, suppress_counts
from analysis.survival import km_by_group
from analysis.trends import ALL_GROUP, period_change, quarterly_trends, target_status_table

__all__ = ["ReviewTable", "ReviewFigure", "ReviewSection", "Review", "build_review"]


@dataclass(frozen=True)
class ReviewTable:
    """A table of display text (headers are labels; cells are already formatted and suppressed)."""

    caption: str
    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class ReviewFigure:
    """One chart laid out twice: for a wide screen or paper, and ``compact`` for a phone."""

    wide: go.Figure
    compact: go.Figure


def _pair(build, caption: str) -> ReviewFigure:
    """``build(compact)`` called for both layouts, each with the provenance line."""
    return ReviewFigure(figures.add_provenance(build(False), caption), figures.add_provenance(build(True), caption))


@dataclass(frozen=True)
class ReviewSection:
    """One part of the review: a heading, an introductory sentence, figures, tables, notes."""

    key: str
    title: str
    intro: str
    figures: tuple[ReviewFigure, ...] = ()
    tables: tuple[ReviewTable, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    """Everything the report shows, published (no count from 1 to ``min_cell - 1``)."""

    title: str
    provenance: Provenance
    provenance_lines: tuple[str, ...]
    as_of: str
    origin: str
    by: str
    min_cell: int
    sections: tuple[ReviewSection, ...]
    methods: tuple[str, ...]


def _g(value: object, by: str) -> str:
    return "Whole program" if str(value) == ALL_GROUP else L.group_label(value, by)


def _count(n: object, min_cell: int) -> str:
    return "suppressed" if n is None or (isinstance(n, float) and np.isnan(n)) else L.fmt_count(n, min_cell=min_cell)


def _ci(entry: dict | None, kind: str = "percent") -> str:
    if not entry or entry.get("estimate") is None:
        return "suppressed"
    return L.fmt_ci(entry["estimate"], entry.get("lower"), entry.get("upper"), kind=kind)


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
def _key_figures(d: dict, cohort: pd.DataFrame, by: str, min_cell: int) -> ReviewSection:
    los = length_of_stay(cohort, by=by).set_index("group")
    comp = completion_rates(cohort, by=by).set_index("group")
    rows = []
    for g in d["groups"]:
        rel = {r["horizon_days"]: r for r in g["relapse"]}
        bench = [b for b in d["benchmarks"] if b["group"] == g["group"] and b["metric"] == "relapse"]
        n_dis = los.loc[g["group"], "n_discharged"] if g["group"] in los.index else 0
        med = los.loc[g["group"], "median_days"] if g["group"] in los.index else np.nan
        ep = comp.loc[g["group"], "n_episodes"] if g["group"] in comp.index else 0
        rows.append({
            L.column_label(by): _g(g["group"], by),
            "Episodes": L.fmt_count(ep, min_cell=min_cell),
            "Completion (transfers excluded)": _ci(g["completion_rate"]),
            "Median stay": L.fmt_days(med) if n_dis >= min_cell else "suppressed",
            "Relapse by 90 days": _ci({"estimate": rel.get(90, {}).get("km_relapse"),
                                       "lower": rel.get(90, {}).get("km_lower"),
                                       "upper": rel.get(90, {}).get("km_upper")}),
            "Relapse by 365 days": _ci({"estimate": rel.get(365, {}).get("km_relapse"),
                                        "lower": rel.get(365, {}).get("km_lower"),
                                        "upper": rel.get(365, {}).get("km_upper")}),
            "Against 40-60% (McLellan et al. 2000)": L.VALUE_LABELS["placement"].get(
                bench[0]["placement"], bench[0]["placement"]) if bench else "",
        })
    table = ReviewTable(f"Key figures by {L.column_label(by).lower()}", pd.DataFrame(rows),
                        note=f"Relapse: one minus Kaplan-Meier from {d['origin']}, censored at last contact, "
                             "95% log-log intervals. Median stay: discharged episodes.")
    return ReviewSection("key", "Key figures", "The program at a glance: who was treated, who finished, and who "
                         "returned to use.", tables=(table,))


def _shown(v: float, hidden: bool, days: bool, note: str = "") -> str:
    if hidden:
        return "suppressed"
    if not np.isfinite(v):
        return "not yet observable" if "followed" in note else "no episodes"
    return L.fmt_days(v) if days else L.fmt_percent(v)


def _day_change(d: float) -> str:
    return "" if not np.isfinite(d) else f"{d:+,.0f} days"


def _published_trend(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Trend rows with estimates resting on fewer than ``min_cell`` people (or events) hidden."""
    small = (table["n"] < min_cell) | ((table["n_events"] > 0) & (table["n_events"] < min_cell))
    out = table.copy()
    out.loc[small, ["estimate", "lower", "upper", "se"]] = np.nan
    out["suppressed"] = small
    return out


def _trends(cohort: pd.DataFrame, by: str, origin: str, min_cell: int, targets: pd.DataFrame | None,
            caption: str) -> ReviewSection:
    tr = quarterly_trends(cohort, by=by, origin="discharge")
    pub = _published_trend(tr.table, min_cell)
    groups = [g for g in dict.fromkeys(pub["group"].astype(str))]
    figs = []
    for metric in ("completion", "relapse", "median_stay"):
        figs.append(_pair(lambda k, m=metric: figures.trend_figure(pub, m, groups=groups, targets=targets,
                                                                    min_cell=min_cell, compact=k), caption))
    ch = period_change(tr)
    sup = set(zip(pub.loc[pub["suppressed"], "metric"], pub.loc[pub["suppressed"], "group"],
                  pub.loc[pub["suppressed"], "period"], strict=True))
    rows = []
    what = {"completion": "Completion (transfers excluded)", "relapse": "Relapse by 90 days",
            "median_stay": "Median stay"}
    for r in ch[ch["metric"].isin(list(what))].itertuples():
        hidden = (r.metric, r.group, r.period) in sup
        hidden_prev = (r.metric, r.group, r.previous) in sup
        days = r.unit == "days"
        change = "suppressed" if hidden or hidden_prev else (
            _day_change(r.difference) if days else L.fmt_pp(r.difference, r.difference_lower, r.difference_upper))
        rows.append({"Measure": what[r.metric], L.column_label(by): _g(r.group, by), "Quarter": r.period,
                     "Estimate": _shown(r.estimate, hidden, days, r.note), "Previous quarter": r.previous,
                     "Previous estimate": _shown(r.previous_estimate, hidden_prev, days), "Change": change})
    tables = [ReviewTable("The latest complete quarter against the one before", pd.DataFrame(rows),
                          note="Differences of proportions in percentage points (pp) with 95% intervals; the change "
                               "in median stay has no interval. Relapse by 90 days compares the latest quarter whose "
                               "90 days of follow-up are over.")]
    if targets is not None and len(targets):
        st = target_status_table(tr, targets, min_cell=min_cell)
        tables.append(ReviewTable("The organisation's targets, latest complete quarter", pd.DataFrame({
            "Target": st["target_id"], L.column_label(by): [_g(g, by) for g in st["group"]], "Quarter": st["period"],
            "Estimate": ["suppressed" if s == "suppressed" else ("" if np.isnan(e) else
                         (L.fmt_days(e) if m == "median_los_days" else L.fmt_percent(e)))
                         for s, e, m in zip(st["status"], st["estimate"], st["metric"], strict=True)],
            "Status": [L.VALUE_LABELS["status"].get(s, s) for s in st["status"]], "Note": st["note"]})))
    return ReviewSection("trends", "Trends by quarter", "Quarter by quarter of discharge, per level of care and for "
                         "the whole program; hollow points are quarters not over (or whose follow-up is not over) "
                         "at the data's date.", figures=tuple(figs), tables=tuple(tables), notes=(tr.method,))


def _retention(cohort: pd.DataFrame, by: str, min_cell: int, placed: pd.DataFrame, caption: str) -> ReviewSection:
    comp = completion_rates(cohort, by=by).assign(n_basis=lambda c: c["n_discharged"] - c["n_transferred"])
    rates = {c: "n_completed" for c in ("completion_rate", "ci_lower", "ci_upper", "completion_rate_all",
                                        "all_ci_lower", "all_ci_upper")}
    comp = suppress_counts(comp, ["n_episodes", "n_discharged", "n_transferred", "n_completed", "n_basis"],
                           min_cell=min_cell, rate_cols=rates, basis_col="n_basis")
    comp.loc[comp["n_discharged_suppressed"], ["completion_rate_all", "all_ci_lower", "all_ci_upper"]] = np.nan
    teds = placed[placed["benchmark_id"].str.startswith("teds2004_completion")]
    mix = suppress_complementary(discharge_reason_mix(cohort, by=by), ["n"], total_col="n_discharged",
                                 group_cols=["group"], min_cell=min_cell,
                                 rate_cols={"share": "n", "ci_lower": "n", "ci_upper": "n"})
    figs = (_pair(lambda k: figures.completion_figure(comp, compact=k), caption),
            _pair(lambda k: figures.completion_figure(comp, placements=teds, basis="all_discharges", compact=k),
                  caption),
            _pair(lambda k: figures.reason_mix_figure(mix, compact=k), caption))
    return ReviewSection("retention", "Retention", "Do people stay and finish? Completion leaves transfers out "
                         "(care continued elsewhere); the second chart puts completion over all discharges beside "
                         "the TEDS 2004 figures, which count transfers in the denominator.",
                         figures=figs)


def _relapse(d: dict, cohort: pd.DataFrame, by: str, origin: str, min_cell: int, caption: str) -> ReviewSection:
    rates = relapse_rates(cohort, by=by, origin=origin)
    rate_cols = {c: "n_relapsed" for c in ("km_relapse", "km_lower", "km_upper", "naive_rate", "naive_lower",
                                           "naive_upper", "bound_none_relapsed", "bound_all_relapsed",
                                           "lost_as_relapse_lower", "lost_as_relapse_upper")}
    rates = suppress_counts(rates, ["n", "n_at_risk", "n_eligible", "n_relapsed", "n_reached"], min_cell=min_cell,
                            rate_cols=rate_cols, basis_col="n")
    band = benchmark_band("mclellan2000_relapse_365")
    fig = _pair(lambda k: figures.relapse_horizons_figure(rates, benchmark_band=band, compact=k), caption)
    rows = []
    for g in d["groups"]:
        for r in g["relapse"]:
            rows.append({L.column_label(by): _g(g["group"], by), "Horizon": f"{r['horizon_days']} days",
                         "Kaplan-Meier": _ci({"estimate": r["km_relapse"], "lower": r["km_lower"],
                                              "upper": r["km_upper"]}),
                         "Reached": "suppressed" if r["reach"] is None else L.fmt_percent(r["reach"]),
                         "Naive share among those reached": "suppressed" if r["naive_rate"] is None
                         else L.fmt_percent(r["naive_rate"]),
                         "Not reached counted as relapse": "suppressed" if r["lost_as_relapse"] is None
                         else L.fmt_percent(r["lost_as_relapse"])})
    return ReviewSection("relapse", f"Relapse (from {origin})", "Share who returned to use by each horizon, honest "
                         "about who could not be reached: the Kaplan-Meier estimate (censored at last contact), the "
                         "naive share among those reached, and the share if everyone not reached had relapsed.",
                         figures=(fig,), tables=(ReviewTable("Relapse by horizon", pd.DataFrame(rows)),))


def _time_to_relapse(d: dict, report, by: str, origin: str, min_cell: int, caption: str) -> ReviewSection:
    start = [{"group": g["group"], "day": 0, "n_at_risk": g["n"], "n_event_cum": 0, "n_censor_cum": 0}
             for g in d["groups"]]  # everyone is at risk at day 0 (n, as published)
    at = pd.DataFrame(start + [{"group": g["group"], "day": s["day"], "n_at_risk": s["at_risk"],
                                "n_event_cum": s["events"], "n_censor_cum": s["censored"]}
                               for g in d["groups"] for s in g["survival"]])
    at = at.astype({"n_at_risk": float, "n_event_cum": float, "n_censor_cum": float})
    for c in ("n_at_risk", "n_event_cum", "n_censor_cum"):
        at[f"{c}_suppressed"] = at[c].isna()
    meds = pd.DataFrame({"group": [g["group"] for g in d["groups"]],
                         "median_days": [np.nan if g["median_days"] is None else g["median_days"] for g in d["groups"]]})
    band = benchmark_band("mclellan2000_relapse_365")
    fig = _pair(lambda k: figures.km_figure(report.km, at_risk=at, origin=origin, min_cell=min_cell,
                                            benchmark_band=band, horizon_days=365,
                                            logrank_p=(d["logrank"] or {}).get("p"), medians=meds,
                                            risk_table="kmunicate", show_censor_marks=False, compact=k), caption)
    rows = [{L.column_label(by): _g(g["group"], by), "People": _count(g["n"], min_cell),
             "Relapses": _count(g["events"], min_cell),
             "Median time to relapse": L.fmt_median_days(g["median_days"], *(g["median_ci"] or (None, None)),
                                                         suppressed=g["suppressed"]),
             f"Relapse-free days in the first {int(d['groups'][0]['rmst']['tau'])}": _ci(g["rmst"], "days")}
            for g in d["groups"]]
    tables = [ReviewTable("Median and restricted mean time to relapse", pd.DataFrame(rows))]
    if d["pairwise_logrank"]:
        tables.append(ReviewTable("Pairwise log-rank tests (Holm-adjusted p)", pd.DataFrame([
            {"Group A": _g(p["group_a"], by), "Group B": _g(p["group_b"], by), "p": L.fmt_p(p["p"]),
             "p (Holm)": L.fmt_p(p["p_holm"])} for p in d["pairwise_logrank"]])))
    lr = d["logrank"]
    notes = (f"Global log-rank test: chi-square {lr['statistic']:.2f}, p {L.fmt_p(lr['p'])}.",) if lr else ()
    return ReviewSection("time", f"Time to relapse (from {origin})", "Kaplan-Meier curves of cumulative relapse "
                         "with 95% bands, medians (dotted), and the numbers at risk, relapsed and censored under "
                         "the chart.", figures=(fig,), tables=tuple(tables),
                         notes=notes)


def _compare(cohort: pd.DataFrame, by: str, origin: str, min_cell: int, caption: str) -> ReviewSection | None:
    if by != "level_of_care":
        return None
    pair = ["iop", "residential"]
    sizes = cohort["level_of_care"].astype(object).value_counts()
    if any(sizes.get(g, 0) < min_cell for g in pair):
        return ReviewSection("compare", "IOP vs residential", "Not shown: one of the two groups has fewer than "
                             f"{min_cell} episodes.")
    covs = [c for c in DEFAULT_COVARIATES if c in cohort.columns]
    rep = outcomes_report(cohort, by=by, origin=origin, groups=pair, adjust=covs, reference="residential")
    data = relapse_survival_data(cohort, by=by, origin=origin, groups=pair)
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    d = rep.to_dict(min_cell)
    figs = [_pair(lambda k: figures.km_figure(km, origin=origin, min_cell=min_cell, show_censor_marks=False,
                                              logrank_p=(d["logrank"] or {}).get("p"), compact=k,
                                              title=f"IOP and residential, as they are (naive), from {origin}"),
                  caption)]
    if rep.cox is not None:
        figs.append(_pair(lambda k: figures.forest_figure(
            rep.cox.terms, compact=k, title="Hazard ratios of relapse, adjusted for case mix (Cox, reference "
            "residential)"), caption))
    bal = standardized_differences(cohort, groups=pair, covariates=covs)
    share = (bal["kind"] == "share").to_numpy()
    counts = bal.assign(count_a=np.where(share, (bal["value_a"] * bal["n_a"]).round(), np.nan),
                        count_b=np.where(share, (bal["value_b"] * bal["n_b"]).round(), np.nan))
    counts = suppress_counts(counts, ["count_a", "count_b"], min_cell=min_cell)
    shown = bal[~counts["suppressed"].to_numpy()]
    figs.append(_pair(lambda k: figures.balance_figure(shown, title="Case mix: IOP vs residential", compact=k),
                      caption))
    notes = ["A naive comparison is not a verdict on IOP: residential clients are often more severely ill. The Cox "
             "model adjusts only for the measured differences shown in the case-mix chart."]
    if rep.cox is not None:
        notes.append(L.readable_codes(rep.cox.summary_sentence()))
    return ReviewSection("compare", "IOP vs residential", "Two levels side by side: first as they are, then with "
                         "hazard ratios adjusted for age, sex, substance, co-occurring disorder, prior treatments "
                         "and payer where recorded.", figures=tuple(figs),
                         notes=tuple(notes))


def _benchmarks(placed: pd.DataFrame, min_cell: int, caption: str) -> ReviewSection:
    small = placed["n"] < min_cell
    shown = placed.assign(estimate=placed["estimate"].mask(small), lower=placed["lower"].mask(small),
                          upper=placed["upper"].mask(small), placement=placed["placement"].mask(small, "suppressed"),
                          what=[describe_estimate(m, g, str(p)) for m, g, p in
                                zip(placed["metric"], placed["group"], placed["benchmark_population"], strict=True)])
    fig = _pair(lambda k: figures.benchmark_figure(shown, compact=k), caption)
    rows = pd.DataFrame({"Program estimate": shown["what"],
                         "Estimate": [L.fmt_ci(e, lo, hi) or "suppressed" for e, lo, hi in
                                      zip(shown["estimate"], shown["lower"], shown["upper"], strict=True)],
                         "Benchmark": [f"{lo:.1%}" if lo == hi else f"{lo:.0%}-{hi:.0%}" for lo, hi in
                                       zip(shown["benchmark_low"], shown["benchmark_high"], strict=True)],
                         "Placement": [L.VALUE_LABELS["placement"].get(p, p) for p in shown["placement"]],
                         "Source": [L.source_label(s, y) for s, y in
                                    zip(shown["benchmark_source"], shown["benchmark_year"], strict=True)]})
    return ReviewSection("benchmarks", "Benchmarks", "A benchmark is a band, not a verdict: where the program's "
                         "estimate and its 95% interval sit against it, for the horizon, origin and unit it was "
                         "stated for.", figures=(fig,), tables=(ReviewTable("Every comparison", rows),))


def _rows_text(p: Provenance, min_cell: int) -> str:
    """Rows used and excluded, as counts (a handful excluded reads "<11", like any small count)."""
    return (f"{L.fmt_count(p.rows_used, min_cell=min_cell)} used, "
            f"{L.fmt_count(p.rows_excluded, min_cell=min_cell)} excluded by validation")


def _caption(p: Provenance, min_cell: int) -> str:
    src = f"{p.source} ({p.short_hash})" if p.short_hash else p.source
    origin = f" | from {p.origin}" if p.origin else ""
    return f"{src} | {p.filters}{origin} | {_rows_text(p, min_cell)} | <{min_cell} hidden | Continuum {p.version}"


def _provenance_lines(p: Provenance, min_cell: int) -> tuple[str, ...]:
    return (f"Source: {p.source}" + (f" (sha256 {p.content_hash})" if p.content_hash else ""),
            f"Filters: {p.filters}", f"Time origin: {p.origin or 'not used'}",
            f"Grouped by: {L.column_label(p.by).lower()}", f"Rows: {_rows_text(p, min_cell)}",
            f"Small cells: counts below {min_cell} suppressed", f"Analysis version: Continuum {p.version}",
            f"Created: {p.created}")


_METHODS = (
    "Completion: completed / (discharged - transferred), Wilson score 95% intervals; TEDS comparisons use all "
    "discharges in the denominator, as TEDS does.",
    "Relapse: one minus the Kaplan-Meier estimate, censored at last contact, deaths censored (cause-specific); "
    "exponential-Greenwood (log-log) 95% intervals. Beside it the share reached, the naive share among those "
    "reached and the share counting everyone not reached as relapsed.",
    "Time to relapse: Kaplan-Meier with log-log bands, medians with Brookmeyer-Crowley style intervals, log-rank "
    "tests (pairwise with Holm's adjustment), restricted mean time free of relapse; Cox proportional hazards "
    "(Efron ties) for adjusted hazard ratios. These estimators equal R's survival package.",
    "Small cells: no count below the threshold is shown, nor an estimate resting on one; curves stop where fewer "
    "remain at risk; a shown count that would reveal a hidden one is hidden too.",
)


def build_review(cohort: pd.DataFrame, *, provenance: Provenance, by: str = "level_of_care",
                 origin: str = "discharge", min_cell: int = DEFAULT_MIN_CELL,
                 extra_benchmarks: object = None, title: str = "Outcomes review") -> Review:
    """Every section of the review for ``cohort`` (see the module docstring); raises ValueError on bad input."""
    report = outcomes_report(cohort, by=by, origin=origin)
    d = report.to_dict(min_cell)
    caption = _caption(provenance, min_cell)
    placed = program_benchmarks(cohort, by=by, extra_benchmarks=extra_benchmarks)
    targets = organisation_targets(load_benchmarks(extra_benchmarks)) if extra_benchmarks is not None else None
    sections = [_key_figures(d, cohort, by, min_cell)]
    trend_note = ()
    try:
        sections.append(_trends(cohort, by, origin, min_cell, targets, caption))
    except ValueError as exc:  # a file of durations has no calendar: say so, carry on
        trend_note = (f"No trends by quarter: {exc}",)
    sections += [_retention(cohort, by, min_cell, placed, caption), _relapse(d, cohort, by, origin, min_cell, caption),
                 _time_to_relapse(d, report, by, origin, min_cell, caption)]
    compare = _compare(cohort, by, origin, min_cell, caption)
    if compare is not None:
        sections.append(compare)
    sections.append(_benchmarks(placed, min_cell, caption))
    as_of = cohort.attrs.get("as_of")
    return Review(title=title, provenance=provenance, provenance_lines=_provenance_lines(provenance, min_cell),
                  as_of="" if as_of is None else str(pd.Timestamp(as_of).date()),
                  origin=origin, by=by, min_cell=min_cell, sections=tuple(sections),
                  methods=_METHODS + trend_note + tuple(d["notes"]))
