"""A plain-language summary of a comparison, true to its numbers.

The summary leads with the restricted mean (relapse-free time) and the relapse difference. When the
proportional-hazards test fails it says so first, does not quote a single hazard ratio as the verdict,
and points at the window hazard ratios and the curves instead.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.comparison.result import Comparison

__all__ = ["summary_text"]


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2f}" if p >= 0.01 else f"p = {p:.3f}"


def _people(n: int, min_cell: int | None) -> str:
    if min_cell is not None and 0 < n < min_cell:
        return f"fewer than {min_cell} people"
    return "1 person" if n == 1 else f"{n:,} people"


def _single(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


_RAW = object()


def _ok(*xs) -> bool:
    return all(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in xs)


def summary_text(c: Comparison, min_cell: int | None = None, labels: Mapping[str, str] | None = None, *,
                 outside_support=_RAW) -> str:
    """The summary sentences of :class:`~analysis.comparison.result.Comparison` (see the module notes);
    ``labels`` gives the names to call columns by.

    A statistic that is NaN (hidden by the publication, :func:`analysis.views.comparison.fair_comparison`)
    is left out of the sentences, and the sentence says it is not shown. ``outside_support``: the published
    number of people outside the common support (None: hidden); default the comparison's own count.
    """
    labels = dict(labels or {})
    covs = [labels.get(v, v) for v in c.covariates]
    A, B, unit = str(c.a), str(c.b), c.time_unit
    out: list[str] = []
    ph_fails = not c.ph["holds"]
    if ph_fails and not math.isnan(c.ph["p"]):
        out.append(f"The hazards of relapse are not proportional (test of proportional hazards, {_p(c.ph['p'])}): "
                   f"{A} and {B} differ in different ways at different times, so a single hazard ratio would average "
                   "opposite effects; read the relapse-free time and the adjusted curves instead.")
    how = ("weighted so that both groups have the case mix of the two together" if c.estimand == "ate"
           else f"with {B} weighted to the case mix of {A}")
    lead = (f"Compared fairly (adjusted for {', '.join(covs)}, {how})" if covs
            else "Without covariates to adjust for (a crude comparison, not a fair one)")
    r = c.rmst
    tau = f"{r['tau']:g} {unit}"
    ci = f"95% CI {r['lower']:+.1f} to {r['upper']:+.1f}, {_p(r['p'])}" if _ok(r["estimate"], r["p"]) else ""
    if not ci:
        out.append(f"{lead}, the difference in relapse-free time over the first {tau} is not shown (it would "
                   "rest on a curve drawn where few people remain).")
    elif r["lower"] > 0 or r["upper"] < 0:
        more = "more" if r["estimate"] > 0 else "fewer"
        out.append(f"{lead}, {A} clients were free of relapse for {abs(r['estimate']):.1f} "
                   f"{more} {unit} on average than {B} clients over the first {tau} ({ci}).")
    else:
        out.append(f"{lead}, there is no clear difference in relapse-free time over the "
                   f"first {tau}: {A} minus {B} = {r['estimate']:+.1f} {unit} ({ci}).")
    shown_d = c.differences[c.differences["relapse_difference"].notna()] if len(c.differences) else c.differences
    if len(shown_d):
        d = shown_d.iloc[-1]
        h = f"{_single(unit)} {d['time']:g}"
        pa, pb = 1 - d["survival_a"], 1 - d["survival_b"]
        out.append(f"By {h}, an estimated {pa:.0%} of {A} and {pb:.0%} of {B} clients had relapsed (difference "
                   f"{100 * d['relapse_difference']:+.1f} percentage points, 95% CI {100 * d['relapse_lower']:+.1f} to "
                   f"{100 * d['relapse_upper']:+.1f}).")
    w = c.weighted_cox
    if ph_fails:
        wins = c.window_hazards.table
        parts = [f"{row.hr:.2f} ({row.lower:.2f}-{row.upper:.2f}) in {_single(unit)}s {row.from_time:g}-{row.to_time:g}"
                 for row in wins.itertuples() if _ok(row.hr, row.lower, row.upper)]
        if parts:
            out.append(f"The hazard ratio of {A} vs {B} by window of follow-up: " + "; ".join(parts) + ".")
        if _ok(w.hr):
            out.append(f"The weighted hazard ratio over all follow-up, {w.hr:.2f} ({w.lower:.2f}-{w.upper:.2f}), is "
                       "such an average and is not a verdict.")
    elif not _ok(w.hr):
        out.append("The hazard ratios are not shown: they would give back a count of fewer people than the "
                   "threshold.")
    else:
        adj = c.adjusted_cox
        also = (f"; adjusted for the covariates in the model it is {adj.hr:.2f} ({adj.lower:.2f}-{adj.upper:.2f})"
                if c.covariates and _ok(adj.hr) else "")
        out.append(f"The weighted hazard ratio of {A} vs {B} is {w.hr:.2f} (95% CI {w.lower:.2f}-{w.upper:.2f}, "
                   f"{_p(w.p)}){also}.")
    if len(c.balance) and c.balance["smd_after"].notna().any():
        worst = c.balance["smd_after"].abs().max()
        bad = c.balance[c.balance["imbalanced_after"]]
        if len(bad):
            names = ", ".join(dict.fromkeys(labels.get(v, v) for v in bad["covariate"]))
            out.append(f"After weighting, {names} remain imbalanced (standardised difference above 0.1): the "
                       "adjustment is incomplete.")
        else:
            out.append(f"After weighting the groups are balanced on every covariate (largest standardised "
                       f"difference {worst:.2f}).")
    n_out = (c.propensity.outside_support["a"] + c.propensity.outside_support["b"] if outside_support is _RAW
             else outside_support)
    if n_out is None:
        out.append("Some people may have propensity scores outside the range of the other group (their number is "
                   "not shown: it would give back a small count).")
    elif n_out:
        out.append(f"{_people(n_out, min_cell).capitalize()} have propensity scores outside the range of the other "
                   "group: nobody comparable to them is in the other group.")
    e = c.e_value
    if not _ok(e["estimate"]):
        pass
    elif e["limit"] == 1:
        out.append(f"The E-value is {e['estimate']:.2f}, and the interval of the hazard ratio already includes no "
                   "difference.")
    else:
        out.append(f"To explain the weighted hazard ratio away, an unmeasured confounder would need a risk ratio of "
                   f"at least {e['estimate']:.2f} with both the group and relapse ({e['limit']:.2f} to move the "
                   f"interval to 1), beyond the measured covariates{' (for an average hazard ratio)' if ph_fails else ''}.")
    origin = f" Follow-up is counted from {c.origin}." if c.origin else ""
    out.append("Only measured covariates are accounted for: differences in what was not recorded (severity, "
               f"motivation, support at home) can still explain part of the result.{origin}")
    return " ".join(out)
