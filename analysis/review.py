"""The review a program director sends to a board: every headline figure and table, published.

:func:`build_review` runs the app's analyses on a cohort and returns a :class:`Review` of sections
(key figures, trends by quarter, retention, relapse, time to relapse, IOP vs residential,
benchmarks, methods and provenance), each a few figures and tables of display text.
:func:`analysis.review_html.review_html` renders it as one self-contained HTML file.

Small cells are suppressed as in the app, by the same step: every number comes from the views of
:mod:`analysis.views` on one :class:`analysis.disclosure.Publication` (the app passes its own, so the
report shows exactly what the pages show; the command line builds one for the file). Hidden cells read
``<11`` or ``suppressed``; curves are published on safe corners.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import figures
from analysis import labels as L
from analysis.benchmarks import load_benchmarks, organisation_targets
from analysis.casemix import DEFAULT_COVARIATES
from analysis.disclosure import Col, Publication, PublishedTable, render
from analysis.provenance import Provenance
from analysis.suppression import DEFAULT_MIN_CELL
from analysis.views.benchmarks import benchmarks_view
from analysis.views.comparison import comparable_groups, comparison
from analysis.views.overview import change_by_group, group_name, overview, trends
from analysis.views.relapse import relapse_view
from analysis.views.retention import retention
from analysis.views.time_to_relapse import rmst_view, time_to_relapse

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


def _text(pt: PublishedTable, cols: dict) -> pd.DataFrame:
    """A published table as display text (hidden cells read "<11" or "suppressed")."""
    return render(pt, {k: Col(*v) if isinstance(v, tuple) else Col(v) for k, v in cols.items()})


def _ci_column(pt: PublishedTable, name: str, est: str, lo: str, hi: str, kind: str = "percent") -> PublishedTable:
    f = pt.frame
    return pt.with_column(name, [L.fmt_ci(e, a, b, kind=kind) for e, a, b in
                                 zip(f[est], f[lo], f[hi], strict=True)], est)


# ---------------------------------------------------------------------------------------------
# sections (each from the view of the page that shows the same)
# ---------------------------------------------------------------------------------------------
def _key_figures(pub: Publication, origin: str) -> ReviewSection:
    ov = overview(pub, origin)
    kf = ov.key_figures
    f = kf.frame
    kf = kf.with_column("median_text", [L.fmt_days(v) for v in f["median_days"]], "median_days")
    kf = kf.with_column("placement_text", [L.VALUE_LABELS["placement"].get(str(v), v) if v else "" for v in
                                           f["relapse_benchmark"]], "relapse_benchmark")
    frame = _text(kf, {"group": (L.column_label(pub.by), "group"), "n_episodes": ("Episodes", "count"),
                       "completion": "Completion (transfers excluded)", "median_text": "Median stay",
                       "relapse_90": "Relapse by 90 days", "relapse_365": "Relapse by 365 days",
                       "placement_text": "Against 40-60% (McLellan et al. 2000)"})
    frame[L.column_label(pub.by)] = [L.group_label(g, pub.by) for g in f["group"]]
    table = ReviewTable(f"Key figures by {L.column_label(pub.by).lower()}", frame,
                        note=f"Relapse: one minus Kaplan-Meier from {origin}, censored at last contact, 95% log-log "
                             "intervals. Median stay: discharged episodes.")
    return ReviewSection("key", "Key figures", "The program at a glance: who was treated, who finished, and who "
                         "returned to use.", tables=(table,))


def _trends(pub: Publication, targets: pd.DataFrame | None, caption: str) -> ReviewSection | None:
    tv = trends(pub, targets)
    if tv is None:
        return None
    frame = tv.table.frame.assign(n_events=np.nan)
    figs = tuple(_pair(lambda k, m=metric: figures.trend_figure(frame, m, groups=tv.groups, targets=targets,
                                                                min_cell=pub.min_cell, compact=k), caption)
                 for metric in ("completion_all", "relapse", "median_stay"))
    change = change_by_group(tv).rename(columns={"Group": L.column_label(pub.by)})
    q = tv.latest.get("completion_all")
    tables = [ReviewTable(f"The latest complete quarter ({q}) against the one before", change,
                          note="Differences of proportions in percentage points (pp) with 95% intervals; the change "
                               f"in median stay has no interval. Relapse by {tv.horizon_days} days compares the "
                               f"latest quarter whose {tv.horizon_days} days of follow-up are over.")]
    if tv.targets is not None:
        t = tv.targets
        f = t.frame
        est = [L.fmt_ci(e, lo, hi, kind="days" if m == "median_los_days" else "percent")
               for e, lo, hi, m in zip(f["estimate"], f["lower"], f["upper"], f["metric"], strict=True)]
        t = t.with_column("estimate_text", est, "estimate").with_column(
            "status_text", [L.VALUE_LABELS["status"].get(v, v) for v in f["status"]], "status").with_column(
            "who", [group_name(g) for g in f["group"]], "target_id")
        tables.append(ReviewTable("The organisation's targets, latest complete quarter", _text(t, {
            "target_id": "Target", "who": L.column_label(pub.by), "period": "Quarter", "estimate_text": "Estimate",
            "status_text": "Status", "note": "Note"})))
    return ReviewSection("trends", "Trends by quarter", "Quarter by quarter of discharge, per level of care and for "
                         "the whole program; hollow points are quarters not over (or whose follow-up is not over) "
                         "at the data's date.", figures=figs, tables=tuple(tables), notes=(tv.method,))


def _retention(pub: Publication, caption: str) -> ReviewSection:
    rv = retention(pub)
    figs = []
    if rv.completion is not None:
        comp = rv.completion.frame
        figs.append(_pair(lambda k: figures.completion_figure(comp, placements=rv.placements, compact=k), caption))
    if rv.reasons is not None:
        mix = rv.reasons.frame
        figs.append(_pair(lambda k: figures.reason_mix_figure(mix, compact=k), caption))
    tables = ()
    if rv.completion is not None:
        tables = (ReviewTable("Completion", _text(rv.completion, {
            "group": (L.column_label(pub.by), "group"), "n_episodes": ("Episodes", "count"),
            "n_discharged": ("Discharged", "count"), "completion_rate": ("Completion (transfers excluded)", "rate"),
            "ci_lower": ("95% CI lower", "rate"), "ci_upper": ("95% CI upper", "rate"),
            "completion_rate_all": ("Completion, all discharges (TEDS)", "rate")})),)
    return ReviewSection("retention", "Retention", "Do people stay and finish? Completion leaves transfers out "
                         "(care continued elsewhere); the TEDS 2004 figures beside it count transfers in the "
                         "denominator, so they are compared with completion over all discharges.",
                         figures=tuple(figs), tables=tables)


def _relapse(pub: Publication, origin: str, caption: str) -> ReviewSection:
    view = relapse_view(pub, origin)
    band = (0.40, 0.60, "40-60% within a year (McLellan et al., JAMA 2000)") if origin == "discharge" else None
    rates = view.rates.frame
    fig = _pair(lambda k: figures.relapse_horizons_figure(rates, benchmark_band=band, compact=k), caption)
    t = _ci_column(view.rates, "km_text", "km_relapse", "km_lower", "km_upper")
    frame = _text(t, {"group": (L.column_label(pub.by), "group"), "horizon_days": ("Horizon (days)", "int"),
                      "km_text": "Kaplan-Meier", "reach": ("Reached", "rate"),
                      "naive_rate": ("Naive share among those reached", "rate"),
                      "bound_all_relapsed": ("Not reached counted as relapse", "rate")})
    return ReviewSection("relapse", f"Relapse (from {origin})", "Share who returned to use by each horizon, honest "
                         "about who could not be reached: the Kaplan-Meier estimate (censored at last contact), the "
                         "naive share among those reached, and the share if everyone not reached had relapsed.",
                         figures=(fig,), tables=(ReviewTable("Relapse by horizon", frame),))


def _time_to_relapse(pub: Publication, origin: str, caption: str) -> ReviewSection:
    view = time_to_relapse(pub, origin)
    at = view.at_risk.frame.rename(columns={"at_risk": "n_at_risk", "relapsed": "n_event_cum",
                                            "censored": "n_censor_cum"})
    at = at[at["n_at_risk"].notna() & at["n_event_cum"].notna() & at["n_censor_cum"].notna()]
    band = (0.40, 0.60, "40-60% relapse within a year (McLellan et al., JAMA 2000)") if origin == "discharge" else None
    meds = view.medians.frame
    p = view.logrank.p if view.logrank is not None else None
    fig = _pair(lambda k: figures.km_figure(view.km, at_risk=at, origin=origin, min_cell=pub.min_cell,
                                            benchmark_band=band, horizon_days=365, logrank_p=p, medians=meds,
                                            risk_table="kmunicate", show_censor_marks=False, compact=k), caption)
    med = view.medians
    mf = med.frame
    med = med.with_column("median_text", [L.fmt_median_days(m, lo, hi) for m, lo, hi in
                                          zip(mf["median_days"], mf["ci_lower"], mf["ci_upper"], strict=True)],
                          "median_days")
    tables = [ReviewTable("Median time to relapse", _text(med, {
        "group": (L.column_label(pub.by), "group"), "n": ("People", "count"),
        "median_text": "Median time to relapse"}))]
    groups = view.groups
    if groups:
        ref = "residential" if "residential" in groups else groups[0]
        rm, _ = rmst_view(pub, origin, 365.0, ref)
        rm = _ci_column(rm, "rmst_text", "rmst_days", "ci_lower", "ci_upper", kind="days")
        tables.append(ReviewTable("Relapse-free days in the first 365", _text(rm, {
            "group": (L.column_label(pub.by), "group"), "n": ("People", "count"),
            "rmst_text": "Restricted mean (days)"})))
    if view.pairwise is not None and len(view.pairwise):
        tables.append(ReviewTable("Pairwise log-rank tests (Holm-adjusted p)", _text(view.pairwise, {
            "group_a": ("Group A", "group"), "group_b": ("Group B", "group"), "p": ("p", "p"),
            "p_adjusted": ("p (Holm)", "p")})))
    lr = view.logrank
    notes = [f"Global log-rank test: chi-square {lr.statistic:.2f}, p {L.fmt_p(lr.p)}."] if lr is not None else []
    if view.test_note:
        notes.append(view.test_note)
    return ReviewSection("time", f"Time to relapse (from {origin})", "Kaplan-Meier curves of cumulative relapse "
                         "with 95% bands, medians (dotted), and the numbers at risk, relapsed and censored under "
                         "the chart.", figures=(fig,), tables=tuple(tables), notes=tuple(notes))


def _compare(pub: Publication, origin: str, caption: str) -> ReviewSection | None:
    if pub.by != "level_of_care":
        return None
    pair = ("iop", "residential")
    visible = comparable_groups(pub, origin)
    if any(g not in visible for g in pair):
        return ReviewSection("compare", "IOP vs residential", "Not shown: one of the two groups has fewer than "
                             f"{pub.min_cell} people followed, or its number is hidden to protect a small count.")
    covs = [c for c in DEFAULT_COVARIATES if c in pub.raw.counts.columns]
    view = comparison(pub, *pair, origin, covs)
    at = view.at_risk.frame.rename(columns={"at_risk": "n_at_risk", "relapsed": "n_event_cum"})
    at = at[at["n_at_risk"].notna() & at["n_event_cum"].notna()]
    figs = [_pair(lambda k: figures.km_figure(view.km, at_risk=at, origin=origin, min_cell=pub.min_cell,
                                              show_censor_marks=False, logrank_p=view.logrank_p, compact=k,
                                              title=f"IOP and residential, as they are (naive), from {origin}"),
                  caption)]
    terms = view.cox_terms.frame
    terms = terms[terms["hr"].notna()]
    if len(terms):
        figs.append(_pair(lambda k: figures.forest_figure(
            terms, compact=k, title="Hazard ratios of relapse, adjusted for case mix (Cox, reference "
            "residential)"), caption))
    bal = view.balance.frame
    bal = bal[bal["smd"].notna()].assign(variable=lambda b: b["variable"].map(L.column_label),
                                         level=lambda b: b["level"].replace({"True": "yes", "False": "no"}))
    if len(bal):
        figs.append(_pair(lambda k: figures.balance_figure(bal, title="Case mix: IOP vs residential", compact=k),
                          caption))
    notes = ["A naive comparison is not a verdict on IOP: residential clients are often more severely ill. The Cox "
             "model adjusts only for the measured differences shown in the case-mix chart."]
    hr = view.main_hr
    if hr is not None:
        notes.append(f"Adjusted hazard ratio of relapse, IOP vs residential: {L.fmt_ratio(hr['hr'], hr['lower'], hr['upper'])}.")
    return ReviewSection("compare", "IOP vs residential", "Two levels side by side: first as they are, then with "
                         "hazard ratios adjusted for age, sex, substance, co-occurring disorder, prior treatments "
                         "and payer where recorded.", figures=tuple(figs), notes=tuple(notes))


def _benchmarks(pub: Publication, extra: object, caption: str) -> ReviewSection:
    placed = benchmarks_view(pub, extra).placements
    f = placed.frame
    for_fig = f[f["estimate"].notna()].assign(level_of_care=lambda x: x["group"].where(x["group"] != "all", ""))
    fig = _pair(lambda k: figures.benchmark_figure(for_fig, compact=k), caption)
    t = _ci_column(placed, "estimate_text", "estimate", "lower", "upper")
    t = t.with_column("band", [f"{lo:.1%}" if lo == hi else f"{lo:.0%}-{hi:.0%}" for lo, hi in
                               zip(f["benchmark_low"], f["benchmark_high"], strict=True)], "what")
    t = t.with_column("placement_text", [L.VALUE_LABELS["placement"].get(str(p), p) for p in f["placement"]],
                      "placement")
    t = t.with_column("source_text", [L.source_label(s, y) for s, y in
                                      zip(f["benchmark_source"], f["benchmark_year"], strict=True)], "what")
    rows = _text(t, {"what": "Program estimate", "estimate_text": "Estimate", "band": "Benchmark",
                     "placement_text": "Placement", "source_text": "Source"})
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


def build_review(cohort, *, provenance: Provenance, by: str = "level_of_care",
                 origin: str = "discharge", min_cell: int = DEFAULT_MIN_CELL,
                 extra_benchmarks: object = None, title: str = "Outcomes review",
                 publication: Publication | None = None) -> Review:
    """Every section of the review for ``cohort`` (a pandas cohort or an engine's
    :class:`analysis.counts.CohortCounts`; see the module docstring); raises ValueError on bad input.

    ``publication``: the app's publication of the same view (filters, grouping, threshold), so the report shows
    what the pages show; without it one is built for ``cohort``.
    """
    pub = publication if publication is not None else Publication.build(cohort, by=by, min_cell=min_cell)
    by, min_cell = pub.by, pub.min_cell
    caption = _caption(provenance, min_cell)
    targets = organisation_targets(load_benchmarks(extra_benchmarks)) if extra_benchmarks is not None else None
    sections = [_key_figures(pub, origin)]
    trend = _trends(pub, targets, caption)
    trend_note = () if trend is not None else ("No trends by quarter: these data have no discharge dates.",)
    if trend is not None:
        sections.append(trend)
    sections += [_retention(pub, caption), _relapse(pub, origin, caption), _time_to_relapse(pub, origin, caption)]
    compare = _compare(pub, origin, caption)
    if compare is not None:
        sections.append(compare)
    sections.append(_benchmarks(pub, extra_benchmarks, caption))
    as_of = cohort.attrs.get("as_of")
    return Review(title=title, provenance=provenance, provenance_lines=_provenance_lines(provenance, min_cell),
                  as_of="" if as_of is None else str(pd.Timestamp(as_of).date()),
                  origin=origin, by=by, min_cell=min_cell, sections=tuple(sections),
                  methods=_METHODS + trend_note)
