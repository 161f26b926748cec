"""The outcomes report: one object that the command line, the JSON export and a notebook share.

:func:`outcomes_report` runs every headline analysis for one grouping column and time origin
(Kaplan-Meier with log-log intervals at the horizons, medians, RMST, log-rank global and pairwise,
completion, relapse by horizon with reach and bounds, Cox model) and returns an
:class:`OutcomesReport`. :meth:`OutcomesReport.to_dict` publishes it through :mod:`analysis.disclosure`
(``analysis.views.outcomes``) in the JSON shape documented in the README; :meth:`OutcomesReport.to_text`
a readable summary of the same published numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.cohort import choose_origin, recorded_outcomes, survival_columns
from analysis.columns import covariate_warnings
from analysis.counts import COUNT, as_counts, survival_rows
from analysis.cox import CoxResult, fit_cox
from analysis.relapse import relapse_rates, relapse_survival_data
from analysis.retention import completion_rates, group_values
from analysis.suppression import DEFAULT_MIN_CELL
from analysis.survival import (
    LogRankResult,
    km_by_group,
    logrank,
    median_survival,
    pairwise_logrank,
    rmst_by_group,
    survival_at,
)
from analysis.validation import TIME_UNITS

__all__ = ["OutcomesReport", "outcomes_report", "default_reference", "benchmark_estimates",
           "program_benchmarks", "describe_estimate"]


@dataclass(frozen=True, eq=False)
class OutcomesReport:
    """Every headline outcome for one grouping and time origin (raw counts; suppression on output)."""

    by: str
    origin: str
    horizons: tuple[int, ...]
    tau: float
    n_episodes: int
    n_used: int
    km: pd.DataFrame
    survival: pd.DataFrame
    medians: pd.DataFrame
    rmst: pd.DataFrame
    logrank: LogRankResult | None
    pairwise: pd.DataFrame
    completion: pd.DataFrame
    relapse: pd.DataFrame
    cox: CoxResult | None
    cox_error: str | None = None
    notes: tuple[str, ...] = field(default=())
    benchmarks: pd.DataFrame | None = None
    time_unit: str = "days"
    origin_reason: str = ""
    recorded: dict = field(default_factory=lambda: {"completion": True, "discharge_reasons": True,
                                                    "length_of_stay": True})
    labels: dict = field(default_factory=dict)
    adjust: tuple[str, ...] = ()
    cohort: pd.DataFrame | None = field(default=None, repr=False)  # the publication is built from it
    cox_fit: CoxResult | None = field(default=None, repr=False)  # the fit before renaming (reused when publishing)

    @property
    def days_per_unit(self) -> float:
        """Days in one unit of :attr:`time_unit` (times are held in days)."""
        return TIME_UNITS[self.time_unit]

    def _in_unit(self, days) -> float | None:
        x = _num(days)
        return None if x is None else _whole(x / self.days_per_unit)

    def groups(self) -> list:
        """Groups in display order."""
        return list(self.km["group"].cat.categories)

    def to_dict(self, min_cell: int = DEFAULT_MIN_CELL) -> dict:
        """JSON-ready dict, published through :mod:`analysis.disclosure` (``analysis.views.outcomes``):
        counts below ``min_cell``, counts that would give one away, and estimates resting on them are
        ``None``; tests and the Cox model use the groups whose size is shown."""
        from analysis.views.outcomes import outcomes_payload

        if self.cohort is None:
            raise ValueError("This report was built without its cohort, so it cannot be published.")
        return outcomes_payload(self, self.cohort, min_cell)

    def to_text(self, min_cell: int = DEFAULT_MIN_CELL) -> str:
        """A readable plain-text summary (the same suppressed numbers as :meth:`to_dict`)."""
        d = self.to_dict(min_cell)
        unit = self.time_unit
        lines = [f"Outcomes by {d['by']}, time to relapse from {d['origin']} "
                 f"({_c(d['n_used'])} of {_c(d['n_episodes'])} episodes used; cells < {min_cell} suppressed); "
                 f"times in {unit}",
                 f"Origin: {self.origin_reason}." if self.origin_reason else "", ""]
        tau = f"{self._in_unit(self.tau):g}"
        head = f"{'group':<14}{'n':>8}{'events':>12}{'median (95% CI), ' + unit:>28}{'RMST ' + tau + ' ' + unit:>16}"
        head += f"{'completion (95% CI)':>26}"
        lines.append(head)
        for g in d["groups"]:
            spec = "{:.0f}" if unit == "days" else "{:.1f}"
            med = "not reached" if g["median"] is None and not g["suppressed"] else _fmt_ci(
                g["median"], g["median_ci"], spec)
            comp = g["completion_rate"]
            comp_text = "not recorded" if comp is None else _fmt_ci(comp["estimate"], [comp["lower"], comp["upper"]],
                                                                   "{:.1%}")
            lines.append(f"{g['group']:<14}{_c(g['n'], g.get('n_status'), min_cell):>8}{_c(g['events']):>12}{med:>28}"
                         f"{_fmt(g['rmst']['estimate'], '{:.1f}'):>16}{comp_text:>26}")
        lines += ["", "Cumulative relapse (1 - Kaplan-Meier, 95% log-log CI) and reach:"]
        for g in d["groups"]:
            cells = []
            for r in g["relapse"]:
                cells.append(f"{r['horizon']:g} {unit[0] if unit != 'months' else 'mo'}: {_fmt_ci(r['km_relapse'], [r['km_lower'], r['km_upper']], '{:.0%}')}"
                             f" reached {_fmt(r['reach'], '{:.0%}')}")
            lines.append(f"  {g['group']:<12} " + "; ".join(cells))
        if d["logrank"]:
            lr = d["logrank"]
            lines += ["", f"Log-rank test: chi-square {lr['statistic']:.2f} on {lr['df']} df, p {_p(lr['p'])}"]
        if d["cox"]:
            ref = ", ".join(f"{k} = {v}" for k, v in d["cox"]["reference"].items())
            fitted_on = f"{_c(d['cox']['n'])} episodes, {_c(d['cox']['events'])} relapses"
            lines += ["", f"Cox model (Efron ties), reference {ref}; {fitted_on}; "
                          f"concordance {d['cox']['concordance']:.3f}:"]
            for t in d["cox"]["terms"]:
                lines.append(f"  {t['term']:<36} HR {_fmt_ci(t['hr'], [t['lower'], t['upper']], '{:.2f}')}"
                             f"  p {_p(t['p'])}")
            lines.append(f"  {d['cox']['ph_note']}")
            lines += [f"  Note: {n}" for n in d["cox"].get("notes", [])]
        relapse_bench = [b for b in d["benchmarks"] if b["metric"] == "relapse"]
        if relapse_bench:
            lines += ["", "One-year relapse after discharge against 40-60% (McLellan et al., JAMA 2000):"]
            lines += [f"  {b['group']:<12} {_fmt_ci(b['estimate'], [b['lower'], b['upper']], '{:.0%}'):<18} "
                      f"{b['placement']}" for b in relapse_bench]
        for note in d["notes"]:
            lines += ["", f"Note: {note}"]
        return "\n".join(lines)


_NOT_RECORDED = {
    "completion": "not recorded: the file has no discharge reason, so completion cannot be measured",
    "discharge_reasons": "not recorded: the file has no discharge reason",
    "length_of_stay": "not recorded: the file has no discharge date or length of stay",
}

#: Default horizons and RMST horizon per time unit (stated in that unit).
DEFAULT_HORIZONS_BY_UNIT = {"days": (30, 90, 180, 365), "weeks": (4, 13, 26, 52), "months": (1, 3, 6, 12),
                            "years": (1, 2, 3, 5)}
DEFAULT_TAU_BY_UNIT = {"days": 365, "weeks": 52, "months": 12, "years": 1}


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def _p(p: float | None) -> str:
    """``= 0.0223``; a p-value below what a double holds (it underflows to 0) as ``< 1e-300``, never ``= 0``."""
    if p is None:
        return "= -"
    return "< 1e-300" if p < 1e-300 else f"= {p:.3g}"


def _whole(x: float | None):
    """A time that is a whole number as an int (30, not 30.0) in the JSON."""
    return int(x) if x is not None and float(x).is_integer() else x


def _c(n, status: str | None = None, min_cell: int = DEFAULT_MIN_CELL) -> str:
    if n is None:
        return f"<{min_cell}" if status == "small" else "suppressed"
    return f"{n:,}"


def _fmt(x, spec: str) -> str:
    return "-" if x is None else spec.format(x)


def _fmt_ci(x, ci, spec: str) -> str:
    if x is None:
        return "-"
    lo, hi = ci if ci else (None, None)
    return f"{spec.format(x)} ({_fmt(lo, spec)}-{'NR' if hi is None else spec.format(hi)})"


def default_reference(by: str, groups: Sequence) -> object:
    """Reference group for comparisons: residential for level of care when present, else the first group."""
    if by == "level_of_care" and "residential" in list(groups):
        return "residential"
    return list(groups)[0]


def outcomes_report(cohort: pd.DataFrame, *, by: str = "level_of_care", origin: str | None = None,
                    horizons: Sequence[float] | None = None, tau: float | None = None,
                    adjust: Sequence[str] = (), reference: object = None, groups: Sequence | None = None,
                    conf_level: float = 0.95, time_unit: str | None = None, labels: dict | None = None,
                    min_cell: int = DEFAULT_MIN_CELL) -> OutcomesReport:
    """Run the headline analyses on a cohort (see the module docstring).

    Parameters
    ----------
    origin : {"admission", "discharge"}, optional
        Default: discharge when the file records discharge, else admission
        (:func:`analysis.cohort.choose_origin`); the report says which and why.
    horizons, tau : optional
        Horizons of relapse and survival and the RMST horizon, **in** ``time_unit`` (default
        30/90/180/365 days, 4/13/26/52 weeks, 1/3/6/12 months or 1/2/3/5 years; tau 365 days,
        52 weeks, 12 months or 1 year).
    time_unit : {"days", "weeks", "months", "years"}, optional
        Unit of every time in the outputs; default the unit the file was read in
        (``cohort.attrs["time_unit"]``), else days. Times are held in days internally.
    labels : dict, optional
        ``{column: name the user knows}`` (:attr:`analysis.loading.LoadResult.display_names`); model
        terms and the grouping are labelled with these names.
    min_cell : int
        Threshold of the covariate warnings (levels with fewer people); suppression is applied later.
    """
    unit = time_unit or cohort.attrs.get("time_unit") or "days"
    if unit not in TIME_UNITS:
        raise ValueError(f"Time unit must be one of {', '.join(TIME_UNITS)}, not {unit!r}.")
    factor = TIME_UNITS[unit]
    labels = dict(labels or {})
    horizons = tuple(DEFAULT_HORIZONS_BY_UNIT[unit] if horizons is None else horizons)
    tau = float(DEFAULT_TAU_BY_UNIT[unit] if tau is None else tau)
    if not horizons or min(horizons) <= 0 or tau <= 0:
        raise ValueError("Horizons and the RMST horizon must be positive.")
    horizons_days = tuple(_days(h, factor) for h in horizons)
    tau_days = tau * factor
    counts = as_counts(cohort)
    probe = counts.probe()
    origin, origin_reason = choose_origin(probe, origin)
    missing = [c for c in adjust if c not in counts.columns]
    if missing:
        raise ValueError(f"Cannot adjust for {', '.join(missing)}: no such column.")
    frame = survival_rows(counts, by, origin, list(adjust), groups=groups)
    data = frame[["group", "time", "event", COUNT]]
    if data.empty:
        raise ValueError(f"No episodes with follow-up from {origin} match the selection.")
    km = km_by_group(data, time_col="time", event_col="event", group_col="group", conf_level=conf_level,
                     weight_col=COUNT)
    present = [g for g in km["group"].cat.categories]
    notes = []
    lr = pw = None
    if len(present) > 1:
        lr = logrank(data, time_col="time", event_col="event", group_col="group", weight_col=COUNT)
        pw = pairwise_logrank(data, time_col="time", event_col="event", group_col="group", weight_col=COUNT)
    else:
        notes.append("Only one group: no log-rank test or hazard ratios.")
    recorded = recorded_outcomes(probe)
    missing = [f"{key.replace('_', ' ')} ({_NOT_RECORDED[key].split(': ', 1)[1]})"
               for key in _NOT_RECORDED if not recorded[key]]
    if missing:
        notes.append("Not recorded in this file, so shown as not recorded rather than 0%: " + "; ".join(missing) + ".")
    base = counts.collapse([by, "in_treatment", "transferred", "completed"])
    comp = completion_rates(base, by=by, groups=present, count_col=COUNT)
    rows = counts.collapse([by, *survival_columns(origin)], due=(origin, horizons_days))
    rel = relapse_rates(rows, by=by, origin=origin, horizons=horizons_days, groups=present, conf_level=conf_level,
                        count_col=COUNT, due_days_col="due" if "due" in rows.columns else None)
    cox = cox_fit = None
    cox_error = None
    if len(present) > 1:
        ref = reference if reference is not None else default_reference(by, present)
        notes += covariate_warnings(frame, adjust, min_cell=min_cell, labels=labels, count_col=COUNT)
        binary = {c: False for c in adjust if pd.api.types.is_bool_dtype(frame[c])}
        try:
            cox = fit_cox(frame, time_col="time", event_col="event", group_col="group", reference=ref,
                          covariates=list(adjust), reference_levels=binary, conf_level=conf_level, count_col=COUNT)
            cox_fit = cox
            cox = _rename_group_terms(cox, by, labels)
        except ValueError as exc:
            cox_error = f"Cox model not fitted: {exc}"
    n_used = int(data[COUNT].sum())
    return OutcomesReport(
        by=by, origin=origin, horizons=horizons_days, tau=float(tau_days), n_episodes=int(counts.n_episodes),
        n_used=n_used, km=km, survival=survival_at(km, horizons_days), medians=median_survival(km),
        rmst=rmst_by_group(km, tau=tau_days),
        logrank=lr, pairwise=pw if pw is not None else pd.DataFrame(
            columns=["group_a", "group_b", "statistic", "p", "p_adjusted"]),
        completion=comp, relapse=rel, cox=cox, cox_error=cox_error, notes=tuple(notes),
        benchmarks=_benchmarks_or_none(counts, by, groups, conf_level),
        time_unit=unit, origin_reason=origin_reason, recorded=recorded, labels=labels, adjust=tuple(adjust),
        cohort=counts, cox_fit=cox_fit if conf_level == 0.95 else None)


def _days(h: float, factor: float) -> float:
    """A horizon in days: whole days stay integers (the day labels of the outputs)."""
    days = float(h) * factor
    return int(days) if days.is_integer() else days


def _benchmarks_or_none(counts, by, groups, conf_level):
    """Benchmark placements (discharge-origin figures), or None when the data cannot give them."""
    if "discharge_reason" not in counts.columns:
        return None
    return program_benchmarks(counts, by=by, conf_level=conf_level, groups=groups)


def _rename_group_terms(cox: CoxResult, by: str, labels: dict | None = None) -> CoxResult:
    """Terms fitted on the internal 'group' column are named after the grouping column, and every
    term, test row and reference after the name the user knows (``labels``)."""
    import dataclasses

    labels = {**dict(labels or {}), "group": dict(labels or {}).get(by, by)}

    def name(term: str) -> str:
        head, bracket, rest = term.partition("[")
        return labels.get(head, head) + bracket + rest

    terms = cox.terms.copy()
    terms["term"] = terms["term"].map(name)
    ph = cox.ph_test.copy()
    ph["term"] = ph["term"].map(name)
    reference = {labels.get(k, k): v for k, v in cox.reference.items()}
    changes = {"terms": terms, "ph_test": ph, "reference": reference}
    if hasattr(cox, "group_col"):
        changes["group_col"] = labels["group"]
    return dataclasses.replace(cox, **changes)


def benchmark_estimates(cohort, *, by: str = "level_of_care", conf_level: float = 0.95,
                        groups: Sequence | None = None) -> pd.DataFrame:
    """The program's own figures in the units of the benchmark registry, per group and for all episodes.

    Rows (``group`` = a group of ``by`` or ``"all"``): one-year relapse from discharge (1 - KM, log-log
    CI; McLellan band), share of one-year relapses that happened by day 90 (Hunt 1971; point estimate
    ``(1 - S(90)) / (1 - S(365))``, no interval), discharge-reason shares (Wilson; TEDS-D 2019 and TEDS
    2004 completion by service), shares of discharged stays over 30/90/180/365 days (Wilson; TEDS-D
    2019). Pass the result to :func:`analysis.benchmarks.place_against_benchmarks`. ``level_of_care`` is
    filled only when grouping by level of care, so level-specific benchmarks match only then.
    ``cohort``: a pandas cohort or :class:`analysis.counts.CohortCounts`; ``groups``: only these groups of
    ``by`` (and "all" over them).

    Returns
    -------
    pd.DataFrame
        group, level_of_care, metric, horizon_days, origin, unit, estimate, lower, upper, n.
    """
    from analysis.proportions import wilson_interval
    from analysis.retention import discharge_reason_mix

    counts = as_counts(cohort)

    def rows_of(columns):
        frame = counts.collapse([by, *columns])
        if groups is not None:
            frame = frame[group_values(frame, by, groups).notna().to_numpy()]
        return frame

    def everyone(frame):
        out = frame.assign(_all=pd.Categorical(np.full(len(frame), "all"), categories=["all"]))
        out.attrs = dict(frame.attrs)
        return out

    surv = rows_of(("time_discharge_days", "event_discharge"))
    mix_rows = rows_of(("in_treatment", "discharge_reason"))
    stay = rows_of(("in_treatment", "los_days"))
    rows: list[dict] = []
    for col, pooled in ((by, False), ("_all", True)):
        data = relapse_survival_data(everyone(surv) if pooled else surv, by=col, origin="discharge", count_col=COUNT)
        if not data.empty:
            km = km_by_group(data, time_col="time", event_col="event", group_col="group", conf_level=conf_level,
                             weight_col=COUNT)
            at = survival_at(km, [90, 365])
            for g, part in at.groupby("group", observed=True):
                s90, s365 = part["survival"].to_numpy()
                lo, hi = part["ci_lower"].to_numpy()[1], part["ci_upper"].to_numpy()[1]
                n = int(data.loc[(data["group"] == g).to_numpy(), COUNT].sum())
                rows.append(dict(group=g, metric="relapse", horizon_days=365, origin="discharge", unit="person",
                                 estimate=1 - s365, lower=1 - hi, upper=1 - lo, n=n))
                if pooled:  # the chronic-illness context rows are stated without horizon or origin
                    rows.append(dict(group=g, metric="relapse", horizon_days=None, origin=None, unit="person",
                                     estimate=1 - s365, lower=1 - hi, upper=1 - lo, n=n))
                share = (1 - s90) / (1 - s365) if s365 < 1 else float("nan")
                rows.append(dict(group=g, metric="share_of_year_relapses_by_day_90", horizon_days=90,
                                 origin="discharge", unit="person", estimate=share, lower=float("nan"),
                                 upper=float("nan"), n=n))
        mix = discharge_reason_mix(everyone(mix_rows) if pooled else mix_rows, by=col, conf_level=conf_level,
                                   count_col=COUNT)
        if not pooled:  # per group only completion (TEDS 2004 by service); the pooled mix is for "all"
            mix = mix[mix["reason"] == "completed"]
        for r in mix.itertuples():
            rows.append(dict(group=r.group, metric=f"discharge_reason_{r.reason}", horizon_days=None, origin=None,
                             unit="discharge", estimate=r.share, lower=r.ci_lower, upper=r.ci_upper,
                             n=int(r.n_discharged)))
        if not pooled:  # TEDS-D lengths of stay pool all services: compare the whole program only
            continue
        frame = everyone(stay)
        discharged = frame[~frame["in_treatment"].to_numpy(dtype=bool)]
        g = group_values(discharged, col)
        w = discharged[COUNT].to_numpy(dtype="float64")
        los = discharged["los_days"].to_numpy(dtype="float64")
        for days in (30, 90, 180, 365):
            over = pd.DataFrame({"sum": w * (los > days), "count": w}).groupby(g.to_numpy(), observed=True).sum()
            lo, hi = wilson_interval(over["sum"].to_numpy(), over["count"].to_numpy(), conf_level)
            for (grp, r), lo_, hi_ in zip(over.iterrows(), lo, hi, strict=True):
                rows.append(dict(group=grp, metric=f"los_over_{days}_days", horizon_days=None, origin=None,
                                 unit="discharge", estimate=r["sum"] / r["count"], lower=lo_, upper=hi_,
                                 n=int(r["count"])))
    out = pd.DataFrame(rows)
    out["group"] = out["group"].astype(str)
    is_level = by == "level_of_care"
    out["level_of_care"] = out["group"].where((out["group"] != "all") & is_level, None)
    return out[["group", "level_of_care", "metric", "horizon_days", "origin", "unit", "estimate", "lower",
                "upper", "n"]]


#: Metrics whose benchmark, stated for all services pooled, is also a fair yardstick for one level.
_ANY_LEVEL_METRICS = ("relapse", "share_of_year_relapses_by_day_90")


def program_benchmarks(cohort, *, by: str = "level_of_care", extra_benchmarks=None,
                       conf_level: float = 0.95, groups: Sequence | None = None) -> pd.DataFrame:
    """The program's figures placed against the benchmark registry (below / inside / overlapping / above).

    Uses :func:`benchmark_estimates` and :func:`analysis.benchmarks.place_against_benchmarks`. A
    benchmark pooled over all services (TEDS-D discharge reasons and lengths of stay) is compared
    with the whole program only, not with each level (a detox stay is not expected to last 30
    days); level-specific benchmarks (TEDS 2004 completion by service) with their level; the
    one-year relapse band and the relapse-timing band with every group and the whole program.
    """
    from analysis.benchmarks import load_benchmarks, place_against_benchmarks

    bench = load_benchmarks(extra_benchmarks)
    placed = place_against_benchmarks(benchmark_estimates(cohort, by=by, conf_level=conf_level, groups=groups), bench)
    pooled = placed["benchmark_level_of_care"].isna() | (placed["benchmark_level_of_care"].astype(str) == "")
    keep = (placed["group"] == "all") | ~pooled | placed["metric"].isin(_ANY_LEVEL_METRICS)
    return placed[keep].reset_index(drop=True)


_METRIC_TEXT = {"relapse": "Relapse within a year after discharge",
                "share_of_year_relapses_by_day_90": "Share of the year's relapses that came by day 90"}


def describe_estimate(metric: str, group: str, population: str = "") -> str:
    """A readable name for a benchmark comparison row, e.g. "Discharge reason: dropped out (IOP)"."""
    from analysis.schema import LEVEL_LABELS

    if metric in _METRIC_TEXT:
        text = _METRIC_TEXT[metric]
    elif metric.startswith("discharge_reason_"):
        text = "Discharge reason: " + metric.removeprefix("discharge_reason_").replace("_", " ")
    elif metric.startswith("los_over_"):
        text = "Stays longer than " + metric.removeprefix("los_over_").replace("_", " ")
    else:
        text = metric.replace("_", " ")
    who = "whole program" if group == "all" else LEVEL_LABELS.get(group, str(group))
    if population and population.split(":")[0] in ("Type 1 diabetes", "Hypertension", "Asthma"):
        text += f" vs {population.split(':')[0].lower()} (context)"
    return f"{text} ({who})"
