"""Hazard ratios of A vs B: propensity-weighted (robust interval), covariate-adjusted, and per time window.

* Weighted: ``coxph(Surv(t, relapse) ~ group, weights = w, robust = TRUE, cluster = id)`` with the
  comparison's weights (stabilised for the ATE): a marginal hazard ratio with a sandwich interval.
* Adjusted: ``coxph(Surv(t, relapse) ~ group + covariates)`` (model-based interval): a conditional ratio.
* The proportional-hazards verdict: R ``cox.zph`` on both fits, the group's term; it holds when neither
  p-value is below 0.05.
* Windows: follow-up split at the window limits as R ``survSplit(cut = ...)`` (an episode contributes
  ``(lo, min(t, hi)]`` to every window it reaches, with its relapse in the window that holds it; follow-up
  after the last limit is censored there), and one model with a separate group effect per window and
  common covariate effects, ``Surv(tstart, tstop, relapse) ~ group:window + covariates``. Every row at
  risk at a time belongs to that time's window, so the fit is a right-censored Cox model stratified by
  window (the baseline hazard is free in each window anyway). A window in which one group has no relapse
  has no finite hazard ratio: it is reported as null, and the rows of that group in that window are left
  out of the model (the limit of the fit as its coefficient runs to infinity), so the other windows'
  ratios are unaffected.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.counts import COUNT
from analysis.cox import CoxResult, design, fit_cox

__all__ = ["HazardRatio", "WindowHazards", "weighted_cox", "adjusted_cox", "collapsed_population",
           "window_hazard_ratios", "ph_verdict"]

_PH_ALPHA = 0.05


@dataclass(frozen=True)
class HazardRatio:
    """Hazard ratio of A vs B from one Cox fit; ``ph_p`` is that fit's ``cox.zph`` p-value for the group."""

    hr: float
    lower: float
    upper: float
    p: float
    ph_p: float
    variance: str
    model: str
    fit: CoxResult

    def to_dict(self) -> dict:
        return {"hr": self.hr, "lower": self.lower, "upper": self.upper, "p": self.p, "ph_p": self.ph_p,
                "variance": self.variance, "model": self.model, "n": self.fit.n, "events": self.fit.n_events,
                "warnings": list(self.fit.warnings)}


def _frame(pop: pd.DataFrame, time_col: str, event_col: str, weights=None) -> pd.DataFrame:
    out = pop.drop(columns=[time_col, event_col]).assign(
        _time=pop[time_col].to_numpy(dtype="float64"), _event=(pop[event_col].to_numpy() == 1).astype("float64"),
        _group=pd.Categorical(np.where(pop["in_a"], "a", "b"), categories=["b", "a"]))
    if weights is not None:
        out["_w"] = weights
    return out


def _ratio(fit: CoxResult, model: str) -> HazardRatio:
    row = fit.terms.set_index("term").loc["_group[a]"]
    ph = fit.ph_test.set_index("term")["p"]
    return HazardRatio(float(row["hr"]), float(row["lower"]), float(row["upper"]), float(row["p"]),
                       float(ph.get("_group", np.nan)), fit.variance, model, fit)


def weighted_cox(pop: pd.DataFrame, *, time_col: str, event_col: str, weights: np.ndarray,
                 cluster_col: str | None = None, conf_level: float = 0.95) -> HazardRatio:
    """Propensity-weighted Cox hazard ratio of A vs B with a robust (sandwich) interval."""
    fit = fit_cox(_frame(pop, time_col, event_col, weights), time_col="_time", event_col="_event",
                  group_col="_group", weight_col="_w", robust=True, cluster_col=cluster_col, conf_level=conf_level,
                  with_concordance=False)
    return _ratio(fit, "weighted")


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes of a column without missing values (a Categorical's own codes)."""
    return s.cat.codes.to_numpy().astype(np.int64) if isinstance(s.dtype, pd.CategoricalDtype) else design.value_codes(s)


def collapsed_population(pop: pd.DataFrame, *, time_col: str, event_col: str, covariates: Sequence[str]) -> pd.DataFrame:
    """One row per distinct (time, event, group, covariates) of the population with :data:`COUNT` episodes: the
    input of the model-based fits (the same likelihood; :func:`fit_cox` collapses so itself, and this saves it and
    the window split from handling millions of rows). Rows in order of first appearance."""
    cols = list(dict.fromkeys([time_col, event_col, "in_a", *covariates]))
    first, _, count = design.collapse(design.pattern_key([_codes(pop[c]) for c in cols]))
    out = pop.iloc[first][cols].reset_index(drop=True)
    out[COUNT] = count.astype(np.int64)
    return out


def adjusted_cox(pop: pd.DataFrame, *, time_col: str, event_col: str, covariates: Sequence[str],
                 reference_levels=None, conf_level: float = 0.95, count_col: str | None = None) -> HazardRatio:
    """Covariate-adjusted (unweighted) Cox hazard ratio of A vs B, model-based interval (``count_col``: rows of
    :func:`collapsed_population`)."""
    fit = fit_cox(_frame(pop, time_col, event_col), time_col="_time", event_col="_event", group_col="_group",
                  covariates=list(covariates), reference_levels=reference_levels, conf_level=conf_level,
                  count_col=count_col, with_concordance=False)
    return _ratio(fit, "covariate-adjusted")


def ph_verdict(*ratios: HazardRatio) -> dict:
    """``{"p": smallest group-term p, "holds": bool, "tests": [...]}`` over the given fits' ``cox.zph``."""
    ps = [r.ph_p for r in ratios if not np.isnan(r.ph_p)]
    p = min(ps) if ps else float("nan")
    return {"p": p, "holds": bool(ps) and p >= _PH_ALPHA,
            "tests": [{"model": r.model, "p": r.ph_p} for r in ratios]}


@dataclass(frozen=True)
class WindowHazards:
    """Per-window hazard ratios: ``table`` has ``from_time``, ``to_time``, ``hr``, ``lower``, ``upper``, ``p``
    (NaN where a group has no relapse in the window), ``events_a``, ``events_b``, ``at_risk_a``,
    ``at_risk_b`` (people entering the window; counts of people); ``fit`` the split model (or None)."""

    table: pd.DataFrame
    fit: CoxResult | None
    notes: tuple[str, ...]


def window_hazard_ratios(pop: pd.DataFrame, *, time_col: str, event_col: str, cuts: Sequence[float],
                         covariates: Sequence[str], reference_levels=None, conf_level: float = 0.95,
                         start: HazardRatio | None = None, count_col: str | None = None) -> WindowHazards:
    """Hazard ratio of A vs B in each window ``(cuts[k], cuts[k+1]]`` (the first window includes time 0).

    ``start``: the covariate-adjusted fit, whose coefficients start the Newton-Raphson iterations (the
    same maximum, fewer iterations). ``count_col``: rows of :func:`collapsed_population` (episodes per row)."""
    cuts = [float(c) for c in cuts]
    if len(cuts) < 2 or cuts[0] != 0 or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise ValueError("Window limits must start at 0 and increase, e.g. 0,30,90,365.")
    t = pop[time_col].to_numpy(dtype="float64")
    rel = pop[event_col].to_numpy() == 1
    in_a = pop["in_a"].to_numpy()
    n = pop[count_col].to_numpy(dtype="float64") if count_col else np.ones(len(pop))
    codes = [_codes(pop[c]) for c in covariates]
    pieces, rows, notes = [], [], []
    for k, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        enter = t >= lo if k == 0 else t > lo
        ev = enter & rel & (t <= hi)
        counts = {g: (int(n[enter & m].sum()), int(n[ev & m].sum())) for g, m in (("a", in_a), ("b", ~in_a))}
        rows.append({"from_time": lo, "to_time": hi, "at_risk_a": counts["a"][0], "at_risk_b": counts["b"][0],
                     "events_a": counts["a"][1], "events_b": counts["b"][1]})
        has_a, has_b = counts["a"][1] > 0, counts["b"][1] > 0
        keep = enter
        if not (has_a and has_b):
            notes.append(f"No hazard ratio for {lo:g}-{hi:g}: "
                         f"{'neither group has' if not (has_a or has_b) else 'one group has no'} relapse in that window.")
            if not (has_a or has_b):
                continue  # the window adds nothing to the likelihood
            keep = enter & (in_a if has_a else ~in_a)  # the limit as the window's coefficient runs to infinity
        # the window's rows collapsed to distinct (time in the window, event, group, covariates): everyone followed
        # past the window is censored at its end, so the pieces are far fewer rows than episodes
        at = np.flatnonzero(keep)
        t_k, e_k = np.minimum(t[at], hi), ev[at]
        first, inverse, _ = design.collapse(design.pattern_key(
            [design.value_codes(t_k), e_k.astype(np.int64), in_a[at].astype(np.int64), *(c[at] for c in codes)]))
        rows_k = at[first]
        piece = pop.iloc[rows_k][list(covariates)].reset_index(drop=True).assign(
            _time=t_k[first], _event=e_k[first].astype("float64"), _window=k,
            _n=np.bincount(inverse, weights=n[at], minlength=len(first)))
        for j in range(len(cuts) - 1):
            piece[f"_w{j}"] = ((j == k) & in_a[rows_k]).astype("float64")
        pieces.append(piece)
    table = pd.DataFrame(rows)
    estimable = [k for k, r in enumerate(rows) if r["events_a"] and r["events_b"]]
    table[["hr", "lower", "upper", "p"]] = np.nan
    fit = None
    if estimable:
        split = pd.concat(pieces, ignore_index=True)
        init = None
        if start is not None:
            coef = start.fit.terms.set_index("term")["coef"]
            init = {f"_w{k}": float(coef["_group[a]"]) for k in estimable}
            init.update({t: float(v) for t, v in coef.items() if t != "_group[a]"})
        try:
            fit = fit_cox(split, time_col="_time", event_col="_event", group_col=None,
                          covariates=[*[f"_w{k}" for k in estimable], *covariates], reference_levels=reference_levels,
                          strata_col="_window", conf_level=conf_level, with_concordance=False, with_ph_test=False,
                          init=init, count_col="_n")
        except ValueError as exc:  # e.g. too few people per window for the covariates
            notes.append(f"No window hazard ratios: {exc}")
            fit = None
        if fit is not None:
            terms = fit.terms.set_index("term")
            for k in estimable:
                if f"_w{k}" not in fit.infinite_terms:  # a ratio running to infinity stays null
                    table.loc[k, ["hr", "lower", "upper", "p"]] = terms.loc[f"_w{k}", ["hr", "lower", "upper",
                                                                                       "p"]].to_numpy()
            notes.extend(fit.warnings)
    table = table[["from_time", "to_time", "hr", "lower", "upper", "p", "events_a", "events_b", "at_risk_a", "at_risk_b"]]
    table.attrs["count_columns"] = ["events_a", "events_b", "at_risk_a", "at_risk_b"]
    return WindowHazards(table, fit, tuple(notes))
