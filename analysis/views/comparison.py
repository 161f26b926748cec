"""The comparison of two groups (the "IOP vs residential" page, ``compare --json``, the report), published.

:func:`fair_comparison` runs :func:`analysis.comparison.compare_cohort` on the publication's cohort and
publishes it: its counts are registered with the publication's (:mod:`analysis.disclosure.comparison`,
earlier decisions fixed), and every statistic rests on the counts it gives back:

* the curves, the horizons' estimates and differences, the RMST difference, the effective sample sizes,
  the c-statistic, the balance of numeric covariates and the PH test rest on both groups' sizes;
* a balance row of a level on that level's people in both groups; a Cox or propensity term of a level on
  them too, and is hidden when the level (or the rest) has 1 to ``min_cell - 1`` people or relapses in a
  group (its interval width would give them back);
* the hazard ratios and the E-value on both groups' sizes and relapses; a window's hazard ratio on the
  relapses of both groups in the window;
* the weighted curves are drawn at the corners of the groups' published (unweighted) curves, so a
  difference between two points never stands on a few people; an estimate at a horizon, and the RMST to
  tau, only where the horizon (tau) is such a corner of both curves; numbers at risk are the ledger's
  (after the day), the weighted ones shown where the people are.

:func:`comparison_payload` turns the result into the JSON of ``python -m analysis compare --json`` (shape
of issue #9): the page, the command line and the report (:func:`comparison_for_review`) publish alike.

The older case-mix view (:func:`comparison`, :func:`_term_hidden`) stays for the outcomes JSON.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.casemix import standardized_differences
from analysis.cohort import choose_origin, survival_columns
from analysis.cox import CoxResult, fit_cox
from analysis.disclosure import Publication, PublishedCount, PublishedTable, TableSpec, ref
from analysis.disclosure.cells import cell_id
from analysis.disclosure.comparison import ComparisonCells, extend_for_comparison, publish_cells
from analysis.disclosure.curves import safe_corners
from analysis.disclosure.raw import CASEMIX_COLUMNS
from analysis.views.common import km_hidden, km_refs
from analysis.views.time_to_relapse import logrank_visible

__all__ = ["Comparison", "comparison", "comparable_groups", "FairComparison", "fair_comparison",
           "comparison_payload", "comparison_for_review", "comparison_days", "publish_comparison", "RISK_DAYS",
           "TAU_CHOICES"]

RISK_DAYS = (0, 90, 180, 365)
"""Days of the numbers at risk under the adjusted curves (page)."""
TAU_CHOICES = (90, 180, 365, 730)
"""Restricted-mean horizons the page offers (days of the published at-risk rows, so corners of the curves)."""


# ================================================================================================
# the fair comparison (issue #9)
# ================================================================================================
@dataclass(frozen=True, eq=False)
class FairComparison:
    """A published comparison of groups ``a`` and ``b`` (frames keyed ``"a"`` / ``"b"``, hidden = NaN/None).

    ``result`` is the raw :class:`analysis.comparison.Comparison`: for conventions, notes and labels only,
    never for numbers shown to a person. Counts are :class:`PublishedCount`; tables
    :class:`PublishedTable`; ``curves`` a frame (group, time, survival, ci_lower, ci_upper) at safe corners;
    ``at_risk`` (group, time, n_at_risk, n_at_risk_weighted) with hidden values NaN.
    """

    result: object
    pub: Publication
    cells: ComparisonCells
    a: object
    b: object
    by: str
    origin: str
    time_unit: str
    days_per_unit: float
    n: dict
    excluded: list
    outside: dict
    outside_total: PublishedCount
    trimmed: dict
    ess: dict
    c_statistic: float | None
    histogram: PublishedTable
    balance: PublishedTable
    curves: pd.DataFrame
    at_risk: pd.DataFrame
    at_risk_table: PublishedTable
    survival: PublishedTable
    differences: PublishedTable
    rmst: dict
    weighted_cox: dict | None
    adjusted_cox: dict | None
    cox_terms: PublishedTable
    propensity_terms: PublishedTable
    window_hr: PublishedTable
    ph: dict
    e_value: dict | None
    summary: str
    notes: tuple[str, ...]
    masked: object  # the Comparison with every hidden statistic NaN (what the summary was written from)

    @property
    def labels(self) -> dict:
        return {"a": str(self.a), "b": str(self.b)}

    @property
    def shown(self) -> bool:
        """Both groups' compared people are shown (else nothing of the comparison is)."""
        return self.n["a"].shown and self.n["b"].shown

    @property
    def ph_holds(self) -> bool:
        return bool(self.ph["holds"])


def comparable_groups(pub: Publication, origin: str) -> list:
    """Groups whose number of people followed from the origin is shown (the population compared)."""
    return pub.groups(pub.by, origin)


def _nan(x) -> float:
    return float("nan") if x is None else float(x)


def _exclusions(cohort: pd.DataFrame, by: str, g, time_col: str, covariates: Sequence[str],
                cluster_col: str | None) -> dict:
    """Rows of group ``g`` left out, by the first reason (as :func:`comparison_population` counts them)."""
    from analysis.comparison.population import match_group

    mask = match_group(cohort[by], g)
    keep = mask.copy()
    out = {}
    gone = keep & cohort[time_col].isna().to_numpy()
    out["no follow-up time from the chosen origin (e.g. still in treatment)"] = float(gone.sum())
    keep &= ~gone
    for c in covariates:
        gone = keep & cohort[c].isna().to_numpy()
        out[f"missing {c}"] = float(gone.sum())
        keep &= ~gone
    if cluster_col and cluster_col in cohort.columns and cluster_col != "client_id":
        gone = keep & cohort[cluster_col].isna().to_numpy()
        out[f"missing {cluster_col}"] = float(gone.sum())
    return out


def _levels(rows: pd.DataFrame, covariates: Sequence[str]) -> dict:
    from analysis.cox import design

    out = {}
    for c in covariates:
        v = design.variable(rows[c], c)
        if v.categorical:
            out[c] = [True] if v.boolean else list(v.levels)
    return out


def _small(n: float, m: int) -> bool:
    return 1 <= n < m


def _texts(rows: pd.DataFrame, var: str, cache: dict) -> np.ndarray:
    """A covariate's values as text (None when missing), computed once per variable."""
    if var not in cache:
        s = rows[var]
        codes, uniques = pd.factorize(s)
        names = np.array([str(u) for u in uniques] + [None], dtype=object)
        cache[var] = names[np.where(codes < 0, len(uniques), codes)]
    return cache[var]


def _level_hidden(rows: pd.DataFrame, in_a: np.ndarray, relapse: np.ndarray | None, var: str, level: str,
                  m: int, cache: dict | None = None) -> bool:
    """A term of a level: people (and relapses) in the level and outside it, in each group, 0 or >= m."""
    inside = _texts(rows, var, {} if cache is None else cache) == str(level)
    for g in (in_a, ~in_a):
        parts = [inside & g, ~inside & g]
        if relapse is not None:
            parts += [inside & g & relapse, ~inside & g & relapse]
        if any(_small(float(p.sum()), m) for p in parts):
            return True
    return False


def _split_term(term: str) -> tuple[str, str | None]:
    if "[" in term and term.endswith("]"):
        var, level = term[:-1].split("[", 1)
        return var, level
    return term, None


def _corner_times(ext: Publication, cells: ComparisonCells, groups: dict, origin: str, t_days: np.ndarray,
                  relapse: np.ndarray, in_a: np.ndarray) -> dict:
    """Per group: the days at which its curve may be drawn (corners), or None when its size is hidden."""
    out = {}
    if cells.same:
        km = ext.km(origin)
        for k, g in groups.items():
            part = km[km["group"].astype(object) == g]
            out[k] = part["time"].to_numpy(dtype="float64") if len(part) else None
        return out
    blocked_nb = ext._blocked(ext.by, origin, "km")
    for k, g in groups.items():
        if not ext.shown(cells.n[k]):
            out[k] = None
            continue
        mask = in_a if k == "a" else ~in_a
        t, rel = t_days[mask], relapse[mask]
        times, inv = np.unique(t, return_inverse=True)
        ev = np.bincount(inv, weights=rel.astype(float), minlength=len(times))
        ce = np.bincount(inv, weights=(~rel).astype(float), minlength=len(times))
        anchors, blocked = [], set(blocked_nb.get(g, set()))
        for d, cid in cells.at_risk[k].items():
            trio = (cid, cells.relapsed[k].get(d), cells.censored[k].get(d))
            if all(c is not None and ext.shown(c) for c in trio):
                anchors.append(d)
            else:
                blocked.add(float(d))
        corners = safe_corners(times, ev, ce, float(mask.sum()), anchors, ext.min_cell, blocked)
        out[k] = np.array([0.0, *corners])
    return out


def fair_comparison(pub: Publication, a, b, origin: str, covariates: Sequence[str] = (), *, estimand: str = "ate",
                    trim: tuple[float, float] | None = None, tau: float | None = None,
                    horizons: Sequence[float] | None = None, windows: Sequence[float] | None = None,
                    time_unit: str = "days", cluster: str | None = "auto",
                    reference_levels: Mapping[str, object] | None = None, risk_days: Sequence[float] = RISK_DAYS,
                    bootstrap: int = 0, seed: int | None = None, labels: Mapping[str, str] | None = None,
                    group_names: Mapping[str, str] | None = None, rows: pd.DataFrame | None = None) -> FairComparison:
    """The comparison of ``a`` with ``b`` on the publication's cohort, published (see the module docstring).

    ``labels`` names columns in the summary (the file's own names); ``group_names`` ``{"a": .., "b": ..}`` the
    groups (default their values). Times (``tau``, ``horizons``, ``windows``, ``risk_days``) are in ``time_unit``. The publication must hold
    the days of the horizons, window limits, tau and the at-risk rows among its at-risk days
    (:attr:`RawResults.forced_days`; the app's days 0, 30, 90, 180, 365, 545, 730, 1095 do): a day that is
    not one has no published count, and what rests on it is hidden.

    Raises
    ------
    ValueError
        A group that is hidden or absent, or anything :func:`analysis.comparison.compare_cohort` refuses.
    """
    from analysis.comparison import compare_cohort
    from analysis.comparison.bootstrap import DEFAULT_SEED
    from analysis.validation import TIME_UNITS as DAYS_IN

    by, m = pub.by, pub.min_cell
    visible = comparable_groups(pub, origin)
    for g in (a, b):
        if not any(str(v) == str(g) for v in visible):
            raise ValueError(f"The group {g!r} cannot be compared: fewer than {m} people followed from {origin}, "
                             "or their number is hidden to protect a small count. Choose another.")
    a = next(v for v in visible if str(v) == str(a))
    b = next(v for v in visible if str(v) == str(b))
    counts = pub.raw.counts
    # only the two groups' rows of the columns the comparison reads leave the engine (10M episodes: not the
    # cohort's every row and column)
    cohort = rows if rows is not None else comparison_rows(counts, by, a, b, origin, covariates, cluster)
    options = {"estimand": estimand, "trim": trim, "tau": tau, "horizons": horizons, "windows": windows}
    cmp = compare_cohort(cohort, by=by, a=a, b=b, adjust=list(covariates), origin=origin, cluster=cluster,
                         time_unit=time_unit, reference_levels=reference_levels, bootstrap=bootstrap,
                         seed=DEFAULT_SEED if seed is None else seed,
                         origin_reason=choose_origin(counts.probe(), origin)[1], **options)
    unit_days = 1.0 if time_unit == "days" else float(DAYS_IN[time_unit])
    time_col, event_col = survival_columns(origin)
    rows = cmp.population.data
    in_a = rows["in_a"].to_numpy()
    t_days = cohort.loc[rows.index, time_col].to_numpy(dtype="float64")
    relapse = (rows[event_col].to_numpy() == 1)
    groups = {"a": a, "b": b}
    ps = cmp.propensity
    hist = ps.histogram
    bins = {k: hist.loc[hist["group"] == k, "n"].to_numpy(dtype="float64") for k in groups}
    levels = _levels(rows, cmp.covariates)
    excl = {k: _exclusions(cohort, by, g, time_col, cmp.covariates, cmp.cluster_col) for k, g in groups.items()}
    win_days = [float(w) * unit_days for w in cmp.windows]
    days = sorted({*(float(d) * unit_days for d in risk_days), *(h * unit_days for h in cmp.horizons),
                   cmp.tau * unit_days})
    ext, cells = extend_for_comparison(
        pub, groups=groups, origin=origin, rows=rows, time_days=t_days, relapse=relapse, in_a=in_a,
        exclusions=excl, levels=levels, outside=ps.outside_support, bins=bins,
        trimmed=cmp.weights.n_trimmed if cmp.weights.trim else None, days=days, windows=win_days)
    shown = ext.shown
    both_n = [cells.n["a"], cells.n["b"]]
    both_ev = [cells.events["a"], cells.events["b"]]
    n_ok = all(shown(c) for c in both_n)

    def count(cid) -> PublishedCount:
        if cid is None:
            return PublishedCount(None, "protect")
        st = ext.status(cid)
        return PublishedCount(ext.ledger.value(cid) if st == "shown" else None, st)

    n = {k: count(cells.n[k]) for k in groups}
    outside = {k: count(cells.outside[k]) for k in groups}
    raw_out = float(ps.outside_support["a"] + ps.outside_support["b"])
    out_total = (PublishedCount(outside["a"].value + outside["b"].value, "shown")
                 if outside["a"].shown and outside["b"].shown else
                 PublishedCount(None, "small" if _small(raw_out, m) else "protect"))
    trimmed = {k: count(cells.trimmed.get(k)) for k in groups} if cmp.weights.trim else {}
    reasons = list(excl["a"])
    excluded = []
    for r in reasons:
        pa, pb = count(cells.excluded["a"][r]), count(cells.excluded["b"][r])
        total = pa.value + pb.value if pa.shown and pb.shown else None
        if (total or 0) > 0 or total is None:
            excluded.append({"reason": r, "n": total, "by_group": {"a": pa, "b": pb}})
    ess = {k: (float(cmp.weights.ess[k]) if n[k].shown else None) for k in groups}
    c_stat = float(ps.c_statistic) if n_ok else None

    # the histogram of the scores
    hframe = hist.assign(group=hist["group"].astype(str)).reset_index(drop=True)
    hcells = [cells.bins[g][i] for g, i in zip(hframe["group"], np.tile(np.arange(len(bins["a"])), 2), strict=True)]
    histogram = publish_cells("propensity_histogram", hframe, ext, counts={"n": hcells},
                              plain=("group", "bin_lower", "bin_upper"))

    # balance
    bal = cmp.balance.reset_index(drop=True).copy()
    brefs = []
    for r in bal.itertuples():
        if r.kind == "share":
            lev = str(r.level)
            brefs.append([*both_n, cells.levels["a"].get((r.covariate, lev)), cells.levels["b"].get((r.covariate, lev))])
        else:
            brefs.append(both_n)
    bal["level"] = bal["level"].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
    bcols = ["mean_a", "mean_b", "mean_a_weighted", "mean_b_weighted", "smd_before", "smd_after"]
    balance = publish_cells("balance", bal, ext, stats={c: brefs for c in bcols},
                            plain=("covariate", "level", "kind", "imbalanced_before", "imbalanced_after"))
    bmask = balance.hidden("smd_after")
    if bmask.any():
        for col in ("imbalanced_before", "imbalanced_after"):
            balance.frame[col] = balance.frame[col].astype(object).mask(bmask, None)

    # curves at the corners of the published curves
    corners = _corner_times(ext, cells, groups, origin, t_days, relapse, in_a)
    parts = []
    for k in groups:
        c = cmp.curves[cmp.curves["group"] == k].sort_values("time")
        cs = corners.get(k)
        if cs is None or not n_ok:
            continue
        ct = c["time"].to_numpy(dtype="float64")
        at_u = cs / unit_days
        j = np.searchsorted(ct, at_u + 1e-9, side="right") - 1
        vals = {col: np.where(j >= 0, c[col].to_numpy(dtype="float64")[np.maximum(j, 0)], 1.0)
                for col in ("survival", "ci_lower", "ci_upper")}
        parts.append(pd.DataFrame({"group": k, "time": at_u, **vals}))
    curves = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "time", "survival", "ci_lower", "ci_upper"])
    corner_sets = {k: set(np.round(corners[k], 9)) if corners.get(k) is not None else set() for k in groups}

    def is_corner(k, day_u: float) -> bool:
        """A point of the weighted curve may be shown at a corner of the group's published curve, or past its last
        corner when the relapses since that corner are 0 or at least ``min_cell`` and ``min_cell`` people are still
        at risk at the day (the end of follow-up, e.g. week 52 of a study)."""
        day = round(day_u * unit_days, 9)
        if day in corner_sets[k]:
            return True
        if not corner_sets[k]:
            return False
        mask = in_a if k == "a" else ~in_a
        t, rel = t_days[mask], relapse[mask]
        last = max(c for c in corner_sets[k] if c <= day) if any(c <= day for c in corner_sets[k]) else 0.0
        between = float((rel & (t > last) & (t <= day)).sum())
        return float((t >= day).sum()) >= m and not _small(between, m)

    # numbers at risk under the chart (after the day), people and weighted
    w = cmp.weights.weights
    rows_r = []
    for k in groups:
        mask = in_a if k == "a" else ~in_a
        for d in sorted({*map(float, risk_days), *cmp.horizons}):
            dd = float(d) * unit_days
            cid = cells.at_risk[k].get(dd)
            if cid is None or dd > t_days[mask].max():
                continue
            pc = count(cid) if n_ok else PublishedCount(None, "protect")
            after = t_days[mask] > dd
            rows_r.append({"group": k, "time": float(d), "n_at_risk": _nan(pc.value),
                           "n_at_risk_weighted": float(w[mask][after].sum()) if pc.shown else float("nan"),
                           "status": pc.status, "cid": cid if n_ok else None})
    at_risk = pd.DataFrame(rows_r, columns=["group", "time", "n_at_risk", "n_at_risk_weighted", "status", "cid"])
    at_risk_table = publish_cells("adjusted_at_risk", at_risk.drop(columns=["cid"]), ext,
                                  counts={"n_at_risk": list(at_risk["cid"])},
                                  stats={"n_at_risk_weighted": [[c] for c in at_risk["cid"]]}, plain=("group", "time"))
    at_risk = at_risk.drop(columns=["cid"])

    # horizons
    surv = cmp.survival.reset_index(drop=True)
    s_hide = np.array([not is_corner(r.group, r.time) for r in surv.itertuples()], dtype=bool)
    survival = publish_cells("weighted_survival", surv, ext,
                             stats={c: [[cells.n[r.group], *both_n] for r in surv.itertuples()]
                                    for c in ("survival", "std_err", "ci_lower", "ci_upper")},
                             hide={c: s_hide for c in ("survival", "std_err", "ci_lower", "ci_upper")},
                             plain=("group", "time"))
    diffs = cmp.differences.reset_index(drop=True)
    d_hide = np.array([not (is_corner("a", t) and is_corner("b", t)) for t in diffs["time"]], dtype=bool)
    dcols = [c for c in diffs.columns if c != "time"]
    differences = publish_cells("relapse_difference", diffs, ext, stats={c: [both_n] * len(diffs) for c in dcols},
                                hide={c: d_hide for c in dcols}, plain=("time",))
    r = dict(cmp.rmst)
    rmst_ok = n_ok and is_corner("a", r["tau"]) and is_corner("b", r["tau"])
    rmst = {k: (v if rmst_ok or k == "tau" else None) for k, v in r.items()}
    rmst["shown"] = rmst_ok

    # hazard ratios
    # a hazard ratio's interval gives a group's relapses back roughly: hidden when they are 1 to m - 1
    ev_raw = {k: float(relapse[in_a if k == "a" else ~in_a].sum()) for k in groups}
    ev_ok = n_ok and not any(_small(v, m) for v in ev_raw.values())
    ev_total_shown = all(shown(c) for c in both_ev)

    def hr(h) -> dict | None:
        if not ev_ok:
            return None
        d = h.to_dict()
        return {"hr": d["hr"], "lower": d["lower"], "upper": d["upper"], "p": d["p"], "ph_p": d["ph_p"],
                "variance": d["variance"], "model": d["model"], "n": d["n"],
                "events": d["events"] if ev_total_shown else None, "warnings": d["warnings"]}

    wcox, acox = hr(cmp.weighted_cox), hr(cmp.adjusted_cox)
    m_ = m
    text_cache: dict = {}
    terms = cmp.adjusted_cox.fit.terms.reset_index(drop=True).copy()
    terms["term"] = terms["term"].map(lambda t: f"{by}[{a}]" if t == "_group[a]" else t)
    t_refs, t_hide = [], []
    for t in terms["term"]:
        var, lev = _split_term(t)
        extra = []
        hidden = False
        if lev is not None and var in levels:
            extra = [cells.levels["a"].get((var, lev)), cells.levels["b"].get((var, lev))]
            hidden = _level_hidden(rows, in_a, relapse, var, lev, m_, text_cache)
        t_refs.append([*both_n, *extra] if ev_ok else [None])
        t_hide.append(hidden)
    tcols = [c for c in ("coef", "se", "hr", "lower", "upper", "z", "p") if c in terms.columns]
    cox_terms = publish_cells("cox_terms", terms, ext, stats={c: t_refs for c in tcols},
                              hide={c: np.array(t_hide, dtype=bool) for c in tcols}, plain=("term",))
    pterms = ps.terms.reset_index(drop=True).copy()
    p_refs, p_hide = [], []
    for t in pterms["term"]:
        var, lev = _split_term(t)
        extra, hidden = [], False
        if lev is not None and var in levels:
            extra = [cells.levels["a"].get((var, lev)), cells.levels["b"].get((var, lev))]
            hidden = _level_hidden(rows, in_a, None, var, lev, m_, text_cache)
        p_refs.append([*both_n, *extra])
        p_hide.append(hidden)
    pcols = ["coef", "se", "odds_ratio", "lower", "upper", "p"]
    propensity_terms = publish_cells("propensity_terms", pterms, ext, stats={c: p_refs for c in pcols},
                                     hide={c: np.array(p_hide, dtype=bool) for c in pcols}, plain=("term",))

    # windows
    wt = cmp.window_hazards.table.reset_index(drop=True)
    wev = {k: cells.window_events[k] for k in groups}
    war = {k: cells.window_at_risk[k] for k in groups}
    # a window's ratio rests on both groups' sizes; its interval gives the window's relapses back roughly, so it
    # is hidden when a group has 1 to m - 1 of them there (a count hidden only to protect another one is large)
    w_refs = [both_n] * len(wt)
    w_hide = np.array([not n_ok or _small(float(r.events_a), m) or _small(float(r.events_b), m)
                       for r in wt.itertuples()], dtype=bool)
    window_hr = publish_cells("window_hr", wt, ext,
                              counts={"events_a": wev["a"], "events_b": wev["b"],
                                      "at_risk_a": war["a"], "at_risk_b": war["b"]},
                              stats={c: w_refs for c in ("hr", "lower", "upper", "p")},
                              hide={c: w_hide for c in ("hr", "lower", "upper", "p")},
                              plain=("from_time", "to_time"))
    ph = {"p": cmp.ph["p"] if n_ok else None, "holds": cmp.ph["holds"],
          "tests": [{"model": t["model"], "p": t["p"] if n_ok else None} for t in cmp.ph["tests"]]}
    ev = dict(cmp.e_value) if wcox is not None else None

    masked = _masked(cmp, survival, differences, rmst, wcox, acox, window_hr, balance, ev)
    summary = "The comparison cannot be shown: the number of people in a group is hidden to protect a small count."
    if n_ok:
        from analysis.comparison.summary import summary_text

        named = dataclasses.replace(masked, a=group_names["a"], b=group_names["b"]) if group_names else masked
        summary = summary_text(named, m, labels, outside_support=out_total.value if out_total.shown else (
            1 if out_total.status == "small" else None))
    notes = tuple(dict.fromkeys([*cmp.notes, *[x for x in ext.plan.notes if x not in pub.plan.notes]]))
    return FairComparison(
        result=cmp, pub=ext, cells=cells, a=a, b=b, by=by, origin=origin, time_unit=time_unit,
        days_per_unit=unit_days, n=n, excluded=excluded, outside=outside, outside_total=out_total, trimmed=trimmed,
        ess=ess, c_statistic=c_stat, histogram=histogram, balance=balance, curves=curves, at_risk=at_risk, at_risk_table=at_risk_table,
        survival=survival, differences=differences, rmst=rmst, weighted_cox=wcox, adjusted_cox=acox,
        cox_terms=cox_terms, propensity_terms=propensity_terms, window_hr=window_hr, ph=ph, e_value=ev,
        summary=summary, notes=notes, masked=masked)


def _masked(cmp, survival: PublishedTable, differences: PublishedTable, rmst: dict, wcox, acox,
            window_hr: PublishedTable, balance: PublishedTable, ev):
    """The raw comparison with every hidden statistic NaN (the summary is written from it)."""
    nan = float("nan")
    r = {k: (nan if v is None else v) for k, v in rmst.items() if k != "shown"}
    diffs = cmp.differences.copy()
    for c in diffs.columns:
        if c != "time":
            diffs[c] = differences.frame[c].to_numpy(dtype="float64")
    wt = cmp.window_hazards.table.copy()
    for c in ("hr", "lower", "upper", "p"):
        wt[c] = window_hr.frame[c].to_numpy(dtype="float64")
    bal = cmp.balance.copy()
    hidden = balance.hidden("smd_after")
    bal.loc[hidden, ["smd_before", "smd_after"]] = nan
    bal.loc[hidden, ["imbalanced_before", "imbalanced_after"]] = False

    def hz(h, shown):
        return h if shown is not None else dataclasses.replace(h, hr=nan, lower=nan, upper=nan, p=nan)

    e = ev if ev is not None else {**cmp.e_value, "estimate": nan, "limit": nan}
    return dataclasses.replace(
        cmp, differences=diffs, rmst=r, weighted_cox=hz(cmp.weighted_cox, wcox),
        adjusted_cox=hz(cmp.adjusted_cox, acox), balance=bal, e_value=e,
        window_hazards=dataclasses.replace(cmp.window_hazards, table=wt))


# ------------------------------------------------------------------------------------------------ JSON
def _num(x) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def _int(pc: PublishedCount) -> int | None:
    return None if pc.value is None else int(round(pc.value))


def _time(x):
    x = _num(x)
    return int(x) if x is not None and x.is_integer() else x


def comparison_payload(view: FairComparison, labels: Mapping[str, str] | None = None) -> dict:
    """The JSON of ``python -m analysis compare --json`` (issue #9's shape), every number as published.

    Counts hidden by the publication (small, or protecting a small one) are null, and so is every statistic
    resting on one; ``suppressed_below`` is the threshold. ``counts_of_people`` lists the count paths.
    """
    from analysis.comparison.result import COUNT_PATHS, _level, _namer

    cmp = view.result
    name = _namer(labels)
    lab = view.labels
    unit = view.time_unit[:-1] if view.time_unit.endswith("s") else view.time_unit
    ps = cmp.propensity
    k2 = {"a": lab["a"], "b": lab["b"]}

    def row_ok(pt: PublishedTable, i: int, col: str) -> bool:
        return not pt.hidden(col)[i]

    hist = view.histogram.frame
    bal = view.balance.frame
    out = {
        "by": name(view.by), "a": lab["a"], "b": lab["b"], "estimand": cmp.estimand, "origin": view.origin,
        "origin_reason": cmp.origin_reason, "time_unit": view.time_unit, "covariates": [name(c) for c in cmp.covariates],
        "n": {k2[k]: _int(v) for k, v in view.n.items()},
        "excluded": [{"reason": e["reason"], "n": None if e["n"] is None else int(e["n"])} for e in view.excluded],
        "propensity": {
            "c_statistic": _num(view.c_statistic),
            "outside_support": _int(view.outside_total),
            "outside_support_by_group": {k2[k]: _int(v) for k, v in view.outside.items()},
            "support": [_num(ps.support[0]), _num(ps.support[1])] if view.c_statistic is not None else [None, None],
            "ess": {k2[k]: _num(v) for k, v in view.ess.items()},
            "max_weight": {k2[k]: (_num(v) if view.n[k].shown else None) for k, v in cmp.weights.max_weight.items()},
            "n_trimmed": {k2[k]: _int(v) for k, v in view.trimmed.items()} if view.trimmed else {lab["a"]: 0, lab["b"]: 0},
            "reference": {name(k): _level(v) for k, v in ps.reference.items()},
            "terms": [{"term": name(t.term), "coef": _num(t.coef), "se": _num(t.se), "odds_ratio": _num(t.odds_ratio),
                       "lower": _num(t.lower), "upper": _num(t.upper), "p": _num(t.p)}
                      for t in view.propensity_terms.frame.itertuples()],
            "distribution": [{"group": k2[d.group], "quantile": d.quantile,
                              "score": _num(d.score) if view.n[d.group].shown else None}
                             for d in ps.distribution.itertuples()],
            "histogram": [{"group": k2[h.group], "bin_lower": _num(h.bin_lower), "bin_upper": _num(h.bin_upper),
                           "n": None if h.n != h.n else int(h.n)} for h in hist.itertuples()],
        },
        "balance": [{"covariate": name(b.covariate), "level": _level(b.level), "kind": b.kind,
                     "mean_a": _num(b.mean_a), "mean_b": _num(b.mean_b),
                     "mean_a_weighted": _num(b.mean_a_weighted), "mean_b_weighted": _num(b.mean_b_weighted),
                     "smd_before": _num(b.smd_before), "smd_after": _num(b.smd_after)} for b in bal.itertuples()],
        "weighted_survival": [],
        "relapse_difference": [],
    }
    ar = view.at_risk
    for s in view.survival.frame.itertuples():
        hit = ar[(ar["group"] == s.group) & (ar["time"] == s.time)]
        out["weighted_survival"].append({
            "group": k2[s.group], unit: _time(s.time), "estimate": _num(s.survival), "lower": _num(s.ci_lower),
            "upper": _num(s.ci_upper), "std_err": _num(s.std_err),
            "at_risk": _num(hit["n_at_risk"].iloc[0]) if len(hit) else None,
            "at_risk_weighted": _num(hit["n_at_risk_weighted"].iloc[0]) if len(hit) else None})
        if out["weighted_survival"][-1]["at_risk"] is not None:
            out["weighted_survival"][-1]["at_risk"] = int(out["weighted_survival"][-1]["at_risk"])
    for d in view.differences.frame.itertuples():
        ok = _num(d.relapse_difference) is not None
        out["relapse_difference"].append({
            unit: _time(d.time), "estimate": _num(d.relapse_difference), "lower": _num(d.relapse_lower),
            "upper": _num(d.relapse_upper), "p": _num(d.p), "se": _num(d.se),
            "relapse": {lab["a"]: _num(1 - d.survival_a) if ok else None,
                        lab["b"]: _num(1 - d.survival_b) if ok else None}})
    r = view.rmst
    out["rmst_difference"] = {"tau": _time(r["tau"]), "estimate": _num(r["estimate"]), "lower": _num(r["lower"]),
                              "upper": _num(r["upper"]), "p": _num(r["p"]), "se": _num(r["se"]),
                              "rmst": {lab["a"]: _num(r["rmst_a"]), lab["b"]: _num(r["rmst_b"])}}

    def hrd(h: dict | None, model: str) -> dict:
        if h is None:
            return {"hr": None, "lower": None, "upper": None, "p": None, "ph_p": None, "variance": None,
                    "model": model, "n": None, "events": None, "warnings": []}
        n_both = [view.n["a"].value, view.n["b"].value]
        return {**{k: _num(h[k]) for k in ("hr", "lower", "upper", "p", "ph_p")}, "variance": h["variance"],
                "model": h["model"], "n": int(sum(n_both)), "events": None if h["events"] is None else int(h["events"]),
                "warnings": h["warnings"]}

    out["weighted_cox"] = hrd(view.weighted_cox, "weighted")
    out["adjusted_cox"] = hrd(view.adjusted_cox, "covariate-adjusted")
    out["cox_terms"] = [{"term": name(t.term), "hr": _num(t.hr), "lower": _num(t.lower), "upper": _num(t.upper),
                         "p": _num(t.p)} for t in view.cox_terms.frame.itertuples()]
    out["ph_test"] = {"p": _num(view.ph["p"]), "holds": view.ph["holds"],
                      "tests": [{"model": t["model"], "p": _num(t["p"])} for t in view.ph["tests"]]}
    out["window_hr"] = [{f"from_{unit}": _time(w.from_time), f"to_{unit}": _time(w.to_time), "hr": _num(w.hr),
                         "lower": _num(w.lower), "upper": _num(w.upper), "p": _num(w.p),
                         "events": {lab["a"]: _cnt(w.events_a), lab["b"]: _cnt(w.events_b)},
                         "at_risk": {lab["a"]: _cnt(w.at_risk_a), lab["b"]: _cnt(w.at_risk_b)}}
                        for w in view.window_hr.frame.itertuples()]
    e = view.e_value
    out["e_value"] = ({"estimate": _num(e["estimate"]), "limit": _num(e["limit"]), "rr": _num(e["rr"]),
                       "common_outcome": e["common_outcome"], "relapse_share": None,
                       "method": e["method"]} if e is not None else
                      {"estimate": None, "limit": None, "rr": None, "common_outcome": None, "relapse_share": None,
                       "method": cmp.e_value["method"]})
    if e is not None and _num(view.n["a"].value) is None:
        out["e_value"]["relapse_share"] = None
    # clients of the compared episodes: with both groups' sizes shown, episodes minus clients (the repeat episodes)
    # is a count too, so both must be 0 or >= min_cell
    nc = cmp.n_clusters
    if nc is not None:
        m = view.pub.min_cell
        total = (view.n["a"].value or 0) + (view.n["b"].value or 0)
        if not view.shown or _small(nc, m) or _small(total - nc, m):
            nc = None
    out["cluster"] = {"column": cmp.cluster_col, "n_clusters": nc}
    out["summary"] = view.summary
    out["notes"] = list(view.notes)
    out["conventions"] = {**cmp.conventions(),
                          "counts": "at_risk: still followed and relapse-free after the day (people), "
                                    "at_risk_weighted: their weights' sum; curves drawn at the corners of the "
                                    "published unweighted curves; a count from 1 to min_cell - 1, or one that "
                                    "would give such a count back, is null, as is every statistic resting on it"}
    out["counts_of_people"] = list(COUNT_PATHS)
    out["suppressed_below"] = view.pub.min_cell
    if cmp.bootstrap is not None:
        bs = cmp.bootstrap
        ok = {_time(t): not h for t, h in zip(view.differences.frame["time"],
                                             view.differences.hidden("relapse_difference"), strict=True)}
        out["bootstrap"] = {
            "replicates": bs["replicates"], "used": bs["used"], "failed": bs["failed"], "seed": bs["seed"],
            "resampled": bs["unit"], "method": "percentile bootstrap repeating the propensity fit",
            "relapse_difference": [{unit: _time(x["time"]), **{k: (_num(x[k]) if ok.get(_time(x["time"])) else None)
                                                               for k in ("se", "lower", "upper")}}
                                   for x in bs["relapse_difference"]],
            "rmst_difference": {k: (_num(v) if view.rmst["shown"] else None) for k, v in bs["rmst_difference"].items()}}
    return out


def _cnt(x) -> int | None:
    return None if x is None or x != x else int(round(float(x)))


def comparison_columns(columns: Sequence[str], by: str, origin: str, covariates: Sequence[str],
                       cluster: str | None = "auto") -> list[str]:
    """The cohort columns a comparison of two groups reads (of ``columns``, the cohort's): the grouping, the
    origin's time and event, the covariates and the cluster (``client_id`` for ``"auto"``)."""
    time_col, event_col = survival_columns(origin)
    extra = ["client_id"] if cluster == "auto" else ([cluster] if cluster else [])
    return [c for c in dict.fromkeys([by, time_col, event_col, *covariates, *extra]) if c in set(columns)]


def comparison_rows(counts, by: str, a, b, origin: str, covariates: Sequence[str],
                    cluster: str | None = "auto") -> pd.DataFrame:
    """The two groups' rows of the columns a comparison reads (:func:`comparison_columns`), from a
    :class:`analysis.counts.CohortCounts` (an engine's: only these rows leave it)."""
    return counts.rows_of(comparison_columns(counts.columns, by, origin, covariates, cluster), by, [a, b])


def comparison_days(cohort: pd.DataFrame, *, by: str, a, b, origin: str, time_unit: str = "days",
                    tau: float | None = None, horizons: Sequence[float] | None = None,
                    windows: Sequence[float] | None = None, adjust: Sequence[str] = ()) -> tuple[list, list]:
    """The comparison's horizons and the days a publication must hold for it (in days): 0, the horizons,
    the window limits and tau (shortened to the follow-up as :func:`compare_groups` does)."""
    from analysis.comparison.core import TIME_UNITS
    from analysis.comparison.population import match_group
    from analysis.validation import TIME_UNITS as DAYS_IN

    unit_days = 1.0 if time_unit == "days" else float(DAYS_IN[time_unit])
    defaults = TIME_UNITS.get(time_unit, TIME_UNITS["days"])
    time_col, _ = survival_columns(origin)
    ok = cohort[time_col].notna().to_numpy()
    for c in adjust:
        if c in cohort.columns:
            ok &= cohort[c].notna().to_numpy()
    t = cohort[time_col].to_numpy(dtype="float64") / unit_days
    follow = []
    for g in (a, b):
        m = match_group(cohort[by], g) & ok if by in cohort.columns else ok & False
        follow.append(float(t[m].max()) if m.any() else 0.0)
    end = min(follow)
    hz = [float(h) for h in (horizons if horizons is not None else defaults["horizons"]) if float(h) <= end]
    tau_ = float(tau if tau is not None else defaults["tau"])
    tau_ = min(tau_, end) if end > 0 else tau_
    win = [float(w) for w in (windows if windows is not None else defaults["windows"])]
    days = sorted({0.0, *(h * unit_days for h in hz), *(w * unit_days for w in win), tau_ * unit_days})
    return hz, days


def publish_comparison(cohort, *, by: str, a, b, adjust: Sequence[str] = (), origin: str | None = None,
                       min_cell: int | None = None, time_unit: str = "days", tau: float | None = None,
                       horizons: Sequence[float] | None = None, windows: Sequence[float] | None = None,
                       **options) -> FairComparison:
    """The published comparison of a whole cohort (the command line): a publication grouped by ``by`` that holds
    the comparison's days (:func:`comparison_days`), then :func:`fair_comparison` on it, with the numbers at
    risk at 0 and the horizons.

    ``cohort``: a pandas cohort or a :class:`analysis.counts.CohortCounts` (an engine's cohort): the publication
    reads its collapsed counts, and only the two groups' rows of the comparison's columns are fetched."""
    from analysis.cohort import choose_origin
    from analysis.comparison.population import _columns, check_groups_present, match_group
    from analysis.counts import as_counts
    from analysis.suppression import DEFAULT_MIN_CELL

    counts = as_counts(cohort)
    missing = [c for c in [by, *adjust] if c not in counts.columns]
    if missing:
        raise ValueError(f"No such column: {', '.join(missing)}. The data has: "
                         f"{_columns(pd.DataFrame(columns=list(counts.columns)))}.")
    if str(a) == str(b):
        raise ValueError("The two groups to compare must differ.")
    present = counts.collapse([by])
    check_groups_present(present, by, (a, match_group(present[by], a)), (b, match_group(present[by], b)))
    origin, why = choose_origin(counts.probe(), origin)
    rows = comparison_rows(counts, by, a, b, origin, adjust, options.get("cluster", "auto"))
    hz, days = comparison_days(rows, by=by, a=a, b=b, origin=origin, time_unit=time_unit, tau=tau,
                               horizons=horizons, windows=windows, adjust=adjust)
    pub = Publication.build(counts, by=by, min_cell=DEFAULT_MIN_CELL if min_cell is None else min_cell,
                            horizons=[d for d in days if d > 0], days=days)
    view = fair_comparison(pub, a, b, origin, list(adjust), tau=tau, horizons=horizons, windows=windows,
                           time_unit=time_unit, risk_days=(0, *hz), rows=rows, **options)
    return dataclasses.replace(view, result=dataclasses.replace(view.result, origin_reason=why))


def comparison_for_review(pub: Publication, a, b, origin: str, covariates: Sequence[str] = (), **options) -> dict:
    """For the report (:mod:`analysis.review`): the published comparison as the JSON dict, with the view.

    Returns ``{"payload": comparison_payload(view), "view": view}``; raises ValueError as
    :func:`fair_comparison` does (e.g. a hidden group).
    """
    view = fair_comparison(pub, a, b, origin, covariates, **options)
    return {"payload": comparison_payload(view), "view": view}


# ================================================================================================
# the older case-mix / Cox view (kept for the outcomes JSON's helpers)
# ================================================================================================
@dataclass(frozen=True, eq=False)
class Comparison:
    a: object
    b: object
    balance: PublishedTable
    km: pd.DataFrame
    at_risk: PublishedTable
    naive: PublishedTable
    logrank_p: float | None
    cox_terms: PublishedTable
    ph_test: PublishedTable
    cox_n: PublishedCount
    cox_events: PublishedCount
    cox: CoxResult
    main_hr: dict | None


def _followed_rows(pub: Publication, a, b, origin: str, covariates: Sequence[str]) -> pd.DataFrame:
    """The two groups' people followed from ``origin`` (the survival data's rows), the columns the older view
    reads (only these rows leave an engine)."""
    time_col, event_col = survival_columns(origin)
    cols = list(dict.fromkeys([time_col, event_col, pub.by, *covariates]))
    rows = pub.raw.counts.rows_of(cols, pub.by, [a, b])
    return rows[rows[time_col].notna().to_numpy()]


def _balance(pub: Publication, a, b, origin: str, covariates: Sequence[str], rows: pd.DataFrame) -> PublishedTable:
    bal = standardized_differences(rows, by=pub.by, groups=[a, b], covariates=list(covariates))
    bal = bal.assign(level=bal["level"].astype(str))
    stats_a, stats_b = [], []
    for r in bal.itertuples():
        if r.kind == "share" and r.variable in CASEMIX_COLUMNS:
            stats_a.append([ref("covariate", variable=r.variable, value=r.level, group=a, origin=origin),
                            ref("covariate_n", variable=r.variable, group=a, origin=origin)])
            stats_b.append([ref("covariate", variable=r.variable, value=r.level, group=b, origin=origin),
                            ref("covariate_n", variable=r.variable, group=b, origin=origin)])
        else:
            stats_a.append([ref("followed", group=a, origin=origin)])
            stats_b.append([ref("followed", group=b, origin=origin)])
    # refs differ per row: publish row by row through one spec per distinct reference set
    parts = []
    for i in range(len(bal)):
        row = bal.iloc[[i]]
        parts.append(pub.table(TableSpec("case_mix", row, pub.by, group_col=None,
                                         stats={"value_a": [_fix(r, pub.by) for r in stats_a[i]],
                                                "value_b": [_fix(r, pub.by) for r in stats_b[i]],
                                                "smd": [_fix(r, pub.by) for r in stats_a[i] + stats_b[i]]},
                                         plain=("variable", "level", "kind", "imbalanced"))))
    if not parts:
        return pub.table(TableSpec("case_mix", bal, pub.by, group_col=None,
                                   stats={"value_a": [], "value_b": [], "smd": []},
                                   plain=("variable", "level", "kind", "imbalanced")))
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    status = pd.concat([p.status for p in parts], ignore_index=True)
    return type(parts[0])("case_mix", frame, status, parts[0].kinds, pub.min_cell)


def _fix(r, by):
    """A reference to a named group of the grouping column (the table itself has no group column)."""
    return type(r)(r.measure, r.quals, r.group, by)


def _term_hidden(rows: pd.DataFrame, event_col: str, term: str, by: str, min_cell: int) -> bool:
    """A categorical term rests on the people and relapses of its level (and of the rest)."""
    if "[" not in term or not term.endswith("]"):
        return False
    var, level = term[:-1].split("[", 1)
    if var == by or var not in rows.columns:
        return False
    col = rows[var].astype(object).map(lambda v: None if v is None or v != v else str(v))
    inside = (col == level).to_numpy()
    relapse = (rows[event_col] == 1).to_numpy()
    for n in (inside.sum(), (~inside).sum(), (inside & relapse).sum(), (~inside & relapse).sum()):
        if 1 <= n < min_cell:
            return True
    return False


def comparison(pub: Publication, a, b, origin: str, covariates: Sequence[str]) -> Comparison:
    """Everything the comparison page shows for groups ``a`` (compared) and ``b`` (reference), published."""
    visible = comparable_groups(pub, origin)
    for g in (a, b):
        if g not in visible:
            raise ValueError(f"The group {g!r} is hidden (fewer than {pub.min_cell} people, or protecting a "
                             "small count); choose another.")
    by = pub.by
    rows = _followed_rows(pub, a, b, origin, covariates)
    balance = _balance(pub, a, b, origin, covariates, rows)
    km = pub.km(origin)
    km = km[km["group"].isin([a, b])].copy()
    km["group"] = km["group"].cat.remove_unused_categories()
    at = pub.at_risk_table(origin, (0, 90, 180, 365))
    at = at.rows(at.frame["group"].isin([a, b]).to_numpy())
    # naive table: episodes, completion, relapse by 365 days
    comp = pub.raw.completion.get(by)
    rel = pub.raw.relapse[(by, origin)]
    r365 = rel[rel["horizon_days"] == 365].set_index(rel[rel["horizon_days"] == 365]["group"].astype(object))
    frame = pd.DataFrame({"group": [a, b]})
    frame["n"] = [pub.ledger.value(cell_id("followed", by, g, origin=origin)) for g in (a, b)]
    if comp is not None:
        cc = comp.set_index(comp["group"].astype(object))
        frame["completion"] = [cc.loc[g, "completion_rate"] for g in (a, b)]
    frame["relapse"] = [r365["km_relapse"].get(g, np.nan) for g in (a, b)]
    hide = km_hidden(pub, by, origin, [a, b], [365, 365])
    naive = pub.table(TableSpec("naive_comparison", frame, by, counts={"n": ("followed", {"origin": origin})},
                                stats={"completion": [ref("reason", reason="completed"), ref("basis")],
                                       "relapse": km_refs(origin, 365)}, hide={"relapse": hide}))
    _, pairs, _ = logrank_visible(pub, origin)
    pr = pairs[((pairs["group_a"] == a) & (pairs["group_b"] == b)) | ((pairs["group_a"] == b) & (pairs["group_b"] == a))]
    p = float(pr["p"].iloc[0]) if len(pr) else None
    # Cox on the two groups
    time_col, event_col = survival_columns(origin)
    res = fit_cox(rows, time_col=time_col, event_col=event_col, group_col=by, reference=b,
                  covariates=list(covariates), groups=[b, a])
    terms = res.terms.copy()
    term_hide = np.array([_term_hidden(rows, event_col, t, by, pub.min_cell) for t in terms["term"]])
    cols = [c for c in ("coef", "se", "hr", "lower", "upper", "z", "p") if c in terms.columns]
    both = [ref("followed", origin=origin, group=a, by=by), ref("followed", origin=origin, group=b, by=by)]
    cox_terms = pub.table(TableSpec("cox_terms", terms, by, group_col=None, stats={c: both for c in cols},
                                    hide={c: term_hide for c in cols}, plain=("term",)))
    ph = res.ph_test.copy()
    ph_hide = np.array([any(_term_hidden(rows, event_col, t, by, pub.min_cell) for t in terms["term"]
                            if t.split("[")[0] == term) for term in ph["term"]])
    ph_table = pub.table(TableSpec("ph_test", ph, by, group_col=None,
                                   stats={c: both for c in ("chisq", "df", "p") if c in ph.columns},
                                   hide={c: ph_hide for c in ("chisq", "df", "p")}, plain=("term",)))
    n_shown = all(pub.shown(cell_id("followed", by, g, origin=origin)) for g in (a, b))
    ev = [cell_id("relapses_total", by, g, origin=origin) for g in (a, b)]
    ev_shown = all(pub.shown(c) for c in ev)
    main = cox_terms.frame[cox_terms.frame["term"] == f"{by}[{a}]"]
    main_hr = None
    if len(main) and not np.isnan(main["hr"].iloc[0]):
        main_hr = {k: float(main[k].iloc[0]) for k in ("hr", "lower", "upper", "p")}
    return Comparison(a, b, balance, km, at, naive, p, cox_terms, ph_table,
                      PublishedCount(float(res.n) if n_shown else None, "shown" if n_shown else "protect"),
                      PublishedCount(float(res.n_events) if ev_shown else None, "shown" if ev_shown else "protect"),
                      res, main_hr)
