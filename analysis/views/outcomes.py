"""The JSON of ``python -m analysis outcomes`` (and :meth:`OutcomesReport.to_dict`), through the publication.

Every count is the ledger's (numbers at risk are counted *after* each day, relapses and censorings
*by* it, so the three add up to the group's ``n``); every estimate rests on the counts it needs and
is ``null`` when one of them is hidden. The log-rank tests and the Cox model are computed on the
groups whose size is shown, and ``notes`` says which were left out.
"""
from __future__ import annotations

import math

import pandas as pd

from analysis.counts import survival_rows as cox_rows
from analysis.cox import fit_cox
from analysis.disclosure import Publication
from analysis.disclosure.cells import PROGRAM, cell_id
from analysis.survival import logrank, pairwise_logrank
from analysis.views.benchmarks import benchmarks_view

__all__ = ["outcomes_payload"]


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


class _Reader:
    def __init__(self, pub: Publication, by: str, origin: str):
        self.pub, self.by, self.origin = pub, by, origin

    def count(self, measure: str, group, **q) -> float | None:
        b = PROGRAM if group == PROGRAM else self.by
        cid = cell_id(measure, b, group, **q)
        if cid not in self.pub.ledger or not self.pub.shown(cid):
            return None
        return self.pub.ledger.value(cid)

    def shown(self, measure: str, group, **q) -> bool:
        return self.count(measure, group, **q) is not None

    def km_ok(self, group, day, *, zero: bool = False) -> bool:
        """The estimate at a day rests on the group's size and the relapses by the day, and needs at least
        ``min_cell`` at risk at the day (R's ``n.risk``; computed, not shown), unless it is ``zero``: a curve that
        reached 0 (everyone followed relapsed) is 0 from then on, with nobody at risk."""
        o = self.origin
        at = self.pub.at_risk_at(PROGRAM if group == PROGRAM else self.by, o, group, day)
        return (self.shown("relapsed", group, origin=o, day=day) and self.shown("followed", group, origin=o)
                and (at >= self.pub.min_cell or (zero and at == 0)))


def _int(x: float | None) -> int | None:
    return None if x is None else int(round(x))


def _day(x) -> int | float:
    """A day as the ledger writes it (whole days as int)."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _group_entry(rd: _Reader, report, g) -> dict:
    o = rd.origin
    u = report._in_unit
    n = rd.count("followed", g, origin=o)
    ok = n is not None
    med = report.medians.set_index(report.medians["group"].astype(object))
    rm = report.rmst.set_index(report.rmst["group"].astype(object))
    surv = report.survival[report.survival["group"].astype(object) == g]
    has_med = ok and g in med.index
    entry = {"group": str(g), "n": _int(n), "events": _int(rd.count("relapses_total", g, origin=o)),
             "suppressed": not ok, "n_status": rd.pub.status(cell_id("followed", rd.by, g, origin=o)),
             "median": u(med.loc[g, "median_days"]) if has_med else None,
             "median_ci": [u(med.loc[g, "ci_lower"]), u(med.loc[g, "ci_upper"])] if has_med else None,
             "median_days": _num(med.loc[g, "median_days"]) if has_med else None}
    entry["survival"] = []
    for r in surv.itertuples():
        d = _day(r.day)
        show = rd.km_ok(g, d, zero=r.survival == 0)
        entry["survival"].append({
            "time": u(r.day), "day": d, "estimate": _num(r.survival) if show else None,
            "lower": _num(r.ci_lower) if show else None, "upper": _num(r.ci_upper) if show else None,
            "at_risk": _int(rd.count("at_risk", g, origin=o, day=d)),
            "events": _int(rd.count("relapsed", g, origin=o, day=d)),
            "censored": _int(rd.count("censored", g, origin=o, day=d))})
    entry["rmst"] = {"tau": u(report.tau), "unit": report.time_unit,
                     **{k: (u(rm.loc[g, col]) if ok and g in rm.index else None)
                        for k, col in (("estimate", "rmst_days"), ("se", "se"), ("lower", "ci_lower"),
                                       ("upper", "ci_upper"))}}
    if not report.recorded.get("completion", True):
        entry["completion_rate"] = None
    else:
        comp = report.completion.set_index(report.completion["group"].astype(object))
        rate_ok = g in comp.index and rd.shown("reason", g, reason="completed") and rd.shown("basis", g)
        entry["completion_rate"] = {k: (_num(comp.loc[g, col]) if rate_ok else None)
                                    for k, col in (("estimate", "completion_rate"), ("lower", "ci_lower"),
                                                   ("upper", "ci_upper"))}
    entry["relapse"] = []
    for r in report.relapse[report.relapse["group"].astype(object) == g].itertuples():
        h = _day(r.horizon_days)
        el = rd.count("eligible", g, origin=o, horizon=h)
        re = rd.count("reached", g, origin=o, horizon=h)
        rl = rd.count("relapsed_eligible", g, origin=o, horizon=h)
        km = rd.km_ok(g, h, zero=r.km_relapse == 1)
        entry["relapse"].append({
            "horizon": u(r.horizon_days), "horizon_days": h, "km_relapse": _num(r.km_relapse) if km else None,
            "km_lower": _num(r.km_lower) if km else None, "km_upper": _num(r.km_upper) if km else None,
            "n_eligible": _int(el), "n_reached": _int(re), "n_relapsed": _int(rl),
            "reach": _num(r.reach) if el is not None and re is not None else None,
            "naive_rate": _num(r.naive_rate) if rl is not None and re is not None else None,
            "lost_as_relapse": _num(r.bound_all_relapsed) if None not in (el, re, rl) else None,
            "bound_none_relapsed": _num(r.bound_none_relapsed) if el is not None and rl is not None else None})
    return entry


def _tests(pub: Publication, report, visible: list) -> tuple[dict | None, list]:
    data = pub.raw.survival_data[(report.by, report.origin)]
    data = data[data["group"].isin(visible)].copy()
    data["group"] = data["group"].cat.set_categories(visible)
    if len(visible) < 2:
        return None, []
    lr = logrank(data, time_col="time", event_col="event", group_col="group", weight_col="n")
    pw = pairwise_logrank(data, time_col="time", event_col="event", group_col="group", weight_col="n")
    return ({"statistic": _num(lr.statistic), "df": int(lr.df), "p": _num(lr.p)},
            [{"group_a": str(r.group_a), "group_b": str(r.group_b), "statistic": _num(r.statistic), "p": _num(r.p),
              "p_holm": _num(r.p_adjusted)} for r in pw.itertuples()])


def _cox(pub: Publication, report, visible: list, adjust: list) -> tuple[dict | None, str | None]:
    """The report's Cox model refitted on the visible groups (the same call as the report's own)."""
    from analysis.report import _rename_group_terms, default_reference

    if len(visible) < 2 or report.cox is None:
        return None, None
    by_label = report.labels.get(report.by, report.by)
    ref = report.cox.reference.get(by_label, report.cox.reference.get(report.by))
    ref = ref if ref in visible else default_reference(report.by, visible)
    frame = cox_rows(pub.raw.counts, report.by, report.origin, list(adjust), groups=visible)
    binary = {c: False for c in adjust if pd.api.types.is_bool_dtype(frame[c])}
    fitted = getattr(report, "cox_fit", None)
    if fitted is not None and visible == report.groups() and list(adjust) == list(report.adjust) \
            and fitted.reference.get("group") == ref:
        cox = fitted  # every group visible: the refit is the report's own call on the same rows
    else:
        try:
            cox = fit_cox(frame, time_col="time", event_col="event", group_col="group", reference=ref,
                          covariates=list(adjust), reference_levels=binary, count_col="n")
        except ValueError as exc:
            return None, f"Cox model not fitted: {exc}"
    hidden = [_term_hidden_codes(frame, "event", t, "group", pub.min_cell) for t in cox.terms["term"]]
    ph_hidden = [any(h for t, h in zip(cox.terms["term"], hidden, strict=True) if t.split("[")[0] == term)
                 for term in cox.ph_test["term"]]
    cox = _rename_group_terms(cox, report.by, report.labels)
    left_out, left_out_events, note = _left_out(frame, list(adjust), pub.min_cell, report.labels)
    # the model's n and events beside the groups' followed and relapses give the episodes left out by subtraction
    n_ok = all(pub.shown(cell_id("followed", report.by, g, origin=report.origin)) for g in visible) and \
        not 1 <= left_out < pub.min_cell
    ev_ok = all(pub.shown(cell_id("relapses_total", report.by, g, origin=report.origin)) for g in visible) and \
        not 1 <= left_out_events < pub.min_cell
    return {"reference": {k: str(v) for k, v in cox.reference.items()},
            "n": cox.n if n_ok else None, "events": cox.n_events if ev_ok else None,
            "left_out_missing": left_out if left_out == 0 or left_out >= pub.min_cell else None,
            "concordance": _num(cox.concordance),
            "terms": [{"term": r.term, **{k: None if h else _num(getattr(r, k)) for k in ("hr", "lower", "upper", "p")}}
                      for r, h in zip(cox.terms.itertuples(), hidden, strict=True)],
            "ph_test": [{"term": r.term, **{k: None if h else _num(getattr(r, k)) for k in ("chisq", "df", "p")}}
                        for r, h in zip(cox.ph_test.itertuples(), ph_hidden, strict=True)],
            "ph_note": cox.summary_sentence(), "notes": [*([note] if note else []), *cox.notes],
            "converged": bool(cox.converged)}, None


def _left_out(rows: pd.DataFrame, adjust: list, min_cell: int,
              labels: dict | None = None) -> tuple[int, int, str | None]:
    """(episodes, relapses among them) of the model's ``rows`` (collapsed: ``n``) left out of the Cox model because
    a covariate is missing, and the sentence saying so: each covariate's own count where it is not 1 to
    ``min_cell - 1`` (a count of few people is never shown; R's ``coxph`` leaves the same rows out). ``labels``:
    the covariates' names as the file has them."""
    import numpy as np

    if not adjust:
        return 0, 0, None
    w = rows["n"].to_numpy(dtype="int64") if "n" in rows.columns else np.ones(len(rows), dtype="int64")
    missing = rows[adjust].isna()
    out = missing.any(axis=1).to_numpy()
    n, events = int(w[out].sum()), int(w[out & (rows["event"] == 1).to_numpy()].sum())
    if n == 0:
        return 0, 0, None

    def count(k: int) -> str:
        return f"{k:,}" if k >= min_cell else f"fewer than {min_cell}"

    each = ", ".join(f"{(labels or {}).get(c, c)} {count(int(w[missing[c].to_numpy()].sum()))}"
                     for c in adjust if missing[c].any())
    sentence = (f"{count(n)} episodes ({count(events) if events else 'no'} relapses among them) are left out of the "
                f"Cox model because a covariate is missing (missing: {each}); the groups' numbers above include them.")
    return n, events, sentence[0].upper() + sentence[1:]


def _term_hidden_codes(rows: pd.DataFrame, event_col: str, term: str, by: str, min_cell: int) -> bool:
    """:func:`analysis.views.comparison._term_hidden` on the distinct values of the column (the same
    answer; it compares each distinct value's text once instead of each row's)."""
    import numpy as np

    if "[" not in term or not term.endswith("]"):
        return False
    var, level = term[:-1].split("[", 1)
    if var == by or var not in rows.columns:
        return False
    codes, uniques = pd.factorize(rows[var])
    names = np.array([str(v) for v in uniques], dtype=object)
    inside = np.isin(codes, np.flatnonzero(names == level))
    relapse = (rows[event_col] == 1).to_numpy()
    w = rows["n"].to_numpy(dtype="int64") if "n" in rows.columns else np.ones(len(rows), dtype="int64")
    for n in ((w * inside).sum(), (w * ~inside).sum(), (w * (inside & relapse)).sum(), (w * (~inside & relapse)).sum()):
        if 1 <= n < min_cell:
            return True
    return False


def outcomes_payload(report, cohort: pd.DataFrame, min_cell: int, adjust: list | None = None) -> dict:
    """The JSON-ready dict of an :class:`analysis.report.OutcomesReport` (shape in the README)."""
    from analysis import __version__

    pub = Publication.build(cohort, by=report.by, min_cell=min_cell, horizons=report.horizons, days=(0,))
    rd = _Reader(pub, report.by, report.origin)
    groups = report.groups()
    visible = [g for g in groups if g in pub.groups(report.by, report.origin)]
    notes = list(report.notes)
    left = [str(g) for g in groups if g not in visible]
    if left:
        notes.append(f"Computed without {', '.join(left)} (fewer than {min_cell} people, or their number is hidden to "
                     "protect a small count): log-rank tests and the Cox model.")
    lr, pw = _tests(pub, report, visible)
    cox, cox_error = _cox(pub, report, visible, list(adjust if adjust is not None else report.adjust))
    ns = [rd.count("followed", g, origin=report.origin) for g in groups]
    episodes = rd.count("episodes", PROGRAM)
    bench = []
    if report.benchmarks is not None:
        table = benchmarks_view(pub).placements
        f = table.frame
        keep = f["group"].isin(["all", *[str(g) for g in groups]]).to_numpy()
        for r, st in zip(f[keep].itertuples(), table.status[keep].itertuples(), strict=True):
            bench.append({"group": r.group, "metric": r.metric, "benchmark_id": r.benchmark_id,
                          "estimate": _num(r.estimate), "lower": _num(r.lower), "upper": _num(r.upper),
                          "band": [_num(r.benchmark_low), _num(r.benchmark_high)],
                          "placement": r.placement if st.placement == "shown" else "suppressed",
                          "source": r.benchmark_source,
                          "year": None if _num(r.benchmark_year) is None else int(r.benchmark_year)})
    from analysis.report import _NOT_RECORDED

    return {
        "by": report.labels.get(report.by, report.by), "origin": report.origin,
        "origin_reason": report.origin_reason, "time_unit": report.time_unit, "n_episodes": _int(episodes),
        "n_used": _int(sum(ns)) if None not in ns else None,
        "horizons": [report._in_unit(h) for h in report.horizons], "min_cell": int(min_cell),
        "analysis_version": __version__,
        "not_recorded": {k: _NOT_RECORDED[k] for k, v in report.recorded.items() if not v},
        "counts_convention": "at_risk: still followed and relapse-free after the day; events and censored: by the "
                             "day (they add up to n).",
        "groups": [_group_entry(rd, report, g) for g in groups],
        "logrank": lr, "pairwise_logrank": pw, "cox": cox, "benchmarks": bench,
        "notes": notes + ([cox_error] if cox_error else []) + ([report.cox_error] if report.cox_error else [])
        + list(pub.plan.notes)}

