"""The result of a comparison: one frozen object that the page, the CLI and a notebook lay out."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.comparison.hazards import HazardRatio, WindowHazards
from analysis.comparison.population import Population
from analysis.comparison.propensity import PropensityModel
from analysis.comparison.summary import summary_text
from analysis.comparison.weights import WeightSet

__all__ = ["Comparison", "COUNT_PATHS"]

# JSON paths of to_dict() that hold counts of people ("[]" = every item of a list); the disclosure step
# suppresses these (and what can be derived from them)
COUNT_PATHS: tuple[str, ...] = (
    "n.*", "excluded[].n", "propensity.outside_support", "propensity.outside_support_by_group.*",
    "propensity.n_trimmed.*", "propensity.histogram[].n", "weighted_survival[].at_risk",
    "weighted_survival[].at_risk_weighted", "window_hr[].events.*", "window_hr[].at_risk.*",
    "weighted_cox.n", "weighted_cox.events", "adjusted_cox.n", "adjusted_cox.events",
)


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _namer(labels: Mapping[str, str] | None):
    """Rename a column, or the column part of a term ``col[level]``, by ``labels``."""
    labels = dict(labels or {})

    def name(x: str) -> str:
        if x in labels:
            return labels[x]
        head, sep, rest = x.partition("[")
        return labels.get(head, head) + sep + rest if sep else x
    return name


def _time(x) -> float | int | None:
    """A time for JSON: whole numbers without a trailing .0."""
    x = _num(x)
    return int(x) if x is not None and x.is_integer() else x


def _level(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    return str(x)


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`analysis.comparison.compare_groups` found (times in ``time_unit``).

    Attributes
    ----------
    group_col, a, b : the grouping column and the two groups (differences A minus B, ratios A vs B)
    estimand : "ate" or "att"
    origin : time origin label (admission / discharge) or None
    time_unit : unit of every time (days, weeks, months, years)
    tau, horizons, windows : restricted-mean horizon, horizons used, window limits
    covariates : adjustment covariates
    cluster_col, n_clusters : cluster of the robust variances (None: each episode its own)
    population : rows used (:class:`Population`, with exclusions by reason)
    propensity : :class:`PropensityModel` (scores, c-statistic, support, overlap)
    weights : :class:`WeightSet` (weights, effective sample sizes, trimming)
    balance : standardised differences before/after (:func:`balance_table`)
    curves : weighted Kaplan-Meier curves of both groups (``group`` "a"/"b"), robust log-log CIs
    survival : the curves at the horizons with numbers at risk
    differences : survival and relapse differences A - B at the horizons
    rmst : restricted mean to tau per group and the difference A - B (dict)
    weighted_cox, adjusted_cox : :class:`HazardRatio`
    ph : proportional-hazards verdict (``p``, ``holds``, ``tests``)
    window_hazards : :class:`WindowHazards`
    e_value : E-values of the weighted hazard ratio (dict, with the method in words)
    relapse_share : share relapsed by the end of follow-up (weighted KM, the larger group's), which decides
        the E-value conversion
    notes : plain-language remarks
    bootstrap : percentile-bootstrap intervals that repeat the propensity fit (dict), or None when not asked
    origin_reason : why this time origin (the default one the file supports, or as chosen)
    Frames carry ``attrs["count_columns"]``: the columns that are counts of people.
    """

    group_col: str
    a: object
    b: object
    estimand: str
    origin: str | None
    time_unit: str
    tau: float
    horizons: tuple[float, ...]
    windows: tuple[float, ...]
    covariates: tuple[str, ...]
    cluster_col: str | None
    n_clusters: int | None
    conf_level: float
    population: Population
    propensity: PropensityModel
    weights: WeightSet
    balance: pd.DataFrame
    curves: pd.DataFrame
    survival: pd.DataFrame
    differences: pd.DataFrame
    rmst: dict
    weighted_cox: HazardRatio
    adjusted_cox: HazardRatio
    ph: dict
    window_hazards: WindowHazards
    e_value: dict
    relapse_share: float
    notes: tuple[str, ...] = ()
    bootstrap: dict | None = None
    origin_reason: str | None = None

    @property
    def labels(self) -> dict:
        """``{"a": str(a), "b": str(b)}``: the group keys of every frame mapped to the groups' names."""
        return {"a": str(self.a), "b": str(self.b)}

    def at_risk(self, times) -> pd.DataFrame:
        """Numbers at risk (T >= t) under the chart at the given times, people and weighted, per group.

        Columns ``group`` ("a"/"b"), ``time``, ``n_at_risk`` (a count of people), ``n_at_risk_weighted``.
        """
        t = np.atleast_1d(np.asarray(times, dtype="float64"))
        parts = []
        for g in ("a", "b"):
            c = self.curves[self.curves["group"] == g]
            c = c[c["n_event"] + c["n_censor"] > 0] if len(c) > 1 else c  # the time-0 row adds no one
            nxt = np.searchsorted(c["time"].to_numpy(), t, side="left")
            parts.append(pd.DataFrame({"group": g, "time": t,
                                       "n_at_risk": np.append(c["n_at_risk"].to_numpy(), 0.0)[nxt],
                                       "n_at_risk_weighted": np.append(c["n_at_risk_weighted"].to_numpy(), 0.0)[nxt]}))
        out = pd.concat(parts, ignore_index=True)
        out.attrs["count_columns"] = ["n_at_risk", "n_at_risk_weighted"]
        out.attrs["time_unit"] = self.time_unit
        return out

    def summary(self, min_cell: int | None = None, labels: Mapping[str, str] | None = None) -> str:
        """Plain-language summary (counts of people below ``min_cell`` said as "fewer than ..."; columns named
        by ``labels``, e.g. the file's own names)."""
        return summary_text(self, min_cell, labels)

    def conventions(self) -> dict:
        w = ("ATE, stabilised: A P(A)/ps, B P(B)/(1-ps)" if self.estimand == "ate" else
             "ATT, unstabilised: A 1, B ps/(1-ps)")
        trim = (f"winsorised within each group at percentiles {self.weights.trim[0]:g} and {self.weights.trim[1]:g}"
                if self.weights.trim else "none")
        clus = f"clustered on {self.cluster_col}" if self.cluster_col else "each episode its own cluster"
        return {
            "differences": "A minus B; survival is free of relapse; relapse = 1 - survival (proportions 0-1)",
            "hazard_ratios": "A vs B; relapse is the event, death and loss to follow-up are censored",
            "weights": w, "trimming": trim,
            "cox_weights": "the weighted Cox model uses these weights" + (
                " (stabilised; stabilising changes a weighted Cox fit slightly)" if self.estimand == "ate" else ""),
            "propensity_model": "logistic regression (statsmodels Logit = R glm binomial): numeric covariates "
                                "linear, booleans one term, categorical covariates dummies against a reference level",
            "common_support": "scores between the larger of the groups' minima and the smaller of their maxima; "
                              "people outside are counted, not dropped",
            "balance": "standardised differences with the unweighted pooled SD as denominator before and after "
                       "weighting (numeric variances n-1, levels p(1-p)); every level its own row; |SMD| > 0.1 "
                       "imbalanced",
            "intervals": f"weighted Kaplan-Meier with robust infinitesimal-jackknife variance ({clus}), as R "
                         "survfit(weights = w, robust = TRUE, id = cluster), log-log 95% intervals; relapse and RMST "
                         "differences from the same influence values with normal intervals; propensity weights "
                         "treated as known" + (f"; beside them a seeded percentile bootstrap ({self.bootstrap['used']} "
                                               "replicates) that repeats the propensity fit"
                                               if self.bootstrap else " (no bootstrap)"),
            "weighted_cox": f"coxph(weights = w, robust = TRUE, cluster = {self.cluster_col or 'episode'}), Efron ties, "
                            "sandwich interval",
            "adjusted_cox": "coxph(group + covariates), Efron ties, model-based interval",
            "ph_test": "cox.zph (km transform) p-value of the group term in both Cox models; holds when both >= 0.05",
            "window_hr": "follow-up split at the window limits (survSplit), one Cox model with a group effect per "
                         "window and common covariate effects; null when a group has no relapse in the window; "
                         "follow-up after the last limit censored",
            "e_value": self.e_value["method"],
            "time_unit": self.time_unit,
        }

    def to_dict(self, min_cell: int | None = None, *, include_curves: bool = False,
                labels: Mapping[str, str] | None = None) -> dict:
        """JSON-ready dict (shape of issue #9). Counts of people are raw unless ``min_cell`` is given, then
        counts from 1 to ``min_cell - 1`` are null, as are curve values with fewer than ``min_cell`` at risk.
        ``counts_of_people`` lists the paths that hold counts of people. ``labels`` renames columns (the
        grouping column, covariates and their terms) to the names the user knows."""
        lab = self.labels
        name = _namer(labels)
        unit = self.time_unit[:-1] if self.time_unit.endswith("s") else self.time_unit

        def cnt(n):
            n = int(round(float(n)))
            return None if (min_cell is not None and 0 < n < min_cell) else n

        def wcnt(x):  # weighted counts: hidden when the people behind them are few
            return None if x is None else _num(x)

        surv = []
        for r in self.survival.itertuples():
            hide = min_cell is not None and r.n_at_risk < min_cell
            surv.append({"group": lab[r.group], unit: _time(r.time), "estimate": None if hide else _num(r.survival),
                         "lower": None if hide else _num(r.ci_lower), "upper": None if hide else _num(r.ci_upper),
                         "std_err": None if hide else _num(r.std_err), "at_risk": cnt(r.n_at_risk),
                         "at_risk_weighted": None if hide else wcnt(r.n_at_risk_weighted)})
        diffs = [{unit: _time(r.time), "estimate": _num(r.relapse_difference), "lower": _num(r.relapse_lower),
                  "upper": _num(r.relapse_upper), "p": _num(r.p), "se": _num(r.se),
                  "relapse": {lab["a"]: _num(1 - r.survival_a), lab["b"]: _num(1 - r.survival_b)}}
                 for r in self.differences.itertuples()]
        r = self.rmst
        ps = self.propensity
        out = {
            "by": name(self.group_col), "a": lab["a"], "b": lab["b"], "estimand": self.estimand,
            "origin": self.origin, "origin_reason": self.origin_reason, "time_unit": self.time_unit, "covariates": [name(c) for c in self.covariates],
            "n": {lab["a"]: cnt(self.population.n_a), lab["b"]: cnt(self.population.n_b)},
            "excluded": [{"reason": e.reason, "n": cnt(e.n)} for e in self.population.exclusions.itertuples() if e.n],
            "propensity": {
                "c_statistic": _num(ps.c_statistic),
                "outside_support": cnt(ps.outside_support["a"] + ps.outside_support["b"]),
                "outside_support_by_group": {lab[k]: cnt(v) for k, v in ps.outside_support.items()},
                "support": [_num(ps.support[0]), _num(ps.support[1])],
                "ess": {lab[k]: _num(v) for k, v in self.weights.ess.items()},
                "max_weight": {lab[k]: _num(v) for k, v in self.weights.max_weight.items()},
                "n_trimmed": {lab[k]: cnt(v) for k, v in self.weights.n_trimmed.items()},
                "reference": {name(k): _level(v) for k, v in ps.reference.items()},
                "terms": [{"term": name(t.term), "coef": _num(t.coef), "se": _num(t.se), "odds_ratio": _num(t.odds_ratio),
                           "lower": _num(t.lower), "upper": _num(t.upper), "p": _num(t.p)} for t in ps.terms.itertuples()],
                "distribution": [{"group": lab[d.group], "quantile": d.quantile, "score": _num(d.score)}
                                 for d in ps.distribution.itertuples()],
                "histogram": [{"group": lab[h.group], "bin_lower": _num(h.bin_lower), "bin_upper": _num(h.bin_upper),
                               "n": cnt(h.n)} for h in ps.histogram.itertuples()],
            },
            "balance": [{"covariate": name(b.covariate), "level": _level(b.level), "kind": b.kind,
                         "mean_a": _num(b.mean_a), "mean_b": _num(b.mean_b),
                         "mean_a_weighted": _num(b.mean_a_weighted), "mean_b_weighted": _num(b.mean_b_weighted),
                         "smd_before": _num(b.smd_before), "smd_after": _num(b.smd_after)}
                        for b in self.balance.itertuples()],
            "weighted_survival": surv,
            "relapse_difference": diffs,
            "rmst_difference": {"tau": _time(r["tau"]), "estimate": _num(r["estimate"]), "lower": _num(r["lower"]),
                                "upper": _num(r["upper"]), "p": _num(r["p"]), "se": _num(r["se"]),
                                "rmst": {lab["a"]: _num(r["rmst_a"]), lab["b"]: _num(r["rmst_b"])}},
            "weighted_cox": self._hr(self.weighted_cox, cnt),
            "adjusted_cox": self._hr(self.adjusted_cox, cnt),
            "ph_test": {"p": _num(self.ph["p"]), "holds": self.ph["holds"],
                        "tests": [{"model": t["model"], "p": _num(t["p"])} for t in self.ph["tests"]]},
            "window_hr": [{f"from_{unit}": _time(w.from_time), f"to_{unit}": _time(w.to_time), "hr": _num(w.hr),
                           "lower": _num(w.lower), "upper": _num(w.upper), "p": _num(w.p),
                           "events": {lab["a"]: cnt(w.events_a), lab["b"]: cnt(w.events_b)},
                           "at_risk": {lab["a"]: cnt(w.at_risk_a), lab["b"]: cnt(w.at_risk_b)}}
                          for w in self.window_hazards.table.itertuples()],
            "e_value": {"estimate": _num(self.e_value["estimate"]), "limit": _num(self.e_value["limit"]),
                        "rr": _num(self.e_value["rr"]), "common_outcome": self.e_value["common_outcome"],
                        "relapse_share": _num(self.relapse_share), "method": self.e_value["method"]},
            "cluster": {"column": self.cluster_col, "n_clusters": self.n_clusters},
            "summary": self.summary(min_cell, labels),
            "notes": list(self.notes),
            "conventions": self.conventions(),
            "counts_of_people": list(COUNT_PATHS),
            "suppressed_below": min_cell,
        }
        if self.bootstrap is not None:
            bs = self.bootstrap
            out["bootstrap"] = {
                "replicates": bs["replicates"], "used": bs["used"], "failed": bs["failed"], "seed": bs["seed"],
                "resampled": bs["unit"], "method": "percentile bootstrap repeating the propensity fit",
                "relapse_difference": [{unit: _time(r["time"]), "se": _num(r["se"]), "lower": _num(r["lower"]),
                                        "upper": _num(r["upper"])} for r in bs["relapse_difference"]],
                "rmst_difference": {k: _num(v) for k, v in bs["rmst_difference"].items()}}
        if include_curves:
            out["curves"] = [{"group": lab[c.group], unit: _time(c.time), "estimate": _num(c.survival),
                              "lower": _num(c.ci_lower), "upper": _num(c.ci_upper), "at_risk": cnt(c.n_at_risk)}
                             for c in self.curves.itertuples()
                             if min_cell is None or c.n_at_risk >= min_cell]
        return out

    @staticmethod
    def _hr(h: HazardRatio, cnt) -> dict:
        d = h.to_dict()
        return {**{k: _num(d[k]) for k in ("hr", "lower", "upper", "p", "ph_p")}, "variance": d["variance"],
                "model": d["model"], "n": cnt(d["n"]), "events": cnt(d["events"]), "warnings": d["warnings"]}
