"""``compare_groups``: the whole fair comparison of two groups, from the rows to one result object."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from analysis.comparison.adjusted_survival import weighted_km
from analysis.comparison.balance import balance_table
from analysis.comparison.bootstrap import DEFAULT_SEED, bootstrap_contrasts
from analysis.comparison.evalue import e_value_hr
from analysis.comparison.hazards import (
    adjusted_cox,
    collapsed_population,
    ph_verdict,
    weighted_cox,
    window_hazard_ratios,
)
from analysis.comparison.population import comparison_population
from analysis.comparison.propensity import fit_propensity
from analysis.comparison.result import Comparison
from analysis.comparison.weights import propensity_weights
from analysis.counts import COUNT

__all__ = ["TIME_UNITS", "compare_groups"]

# defaults per time unit: horizons, restricted-mean horizon tau, window limits
TIME_UNITS: dict[str, dict] = {
    "days": {"horizons": (30, 90, 180, 365), "tau": 365, "windows": (0, 30, 90, 365)},
    "weeks": {"horizons": (4, 13, 26, 52), "tau": 52, "windows": (0, 4, 13, 52)},
    "months": {"horizons": (1, 3, 6, 12), "tau": 12, "windows": (0, 1, 3, 12)},
    "years": {"horizons": (0.25, 0.5, 1, 2), "tau": 1, "windows": (0, 0.25, 1)},
}


def compare_groups(data: pd.DataFrame, *, group_col: str, a, b, time_col: str, event_col: str,
                   covariates: Sequence[str] = (), reference_levels: Mapping[str, object] | None = None,
                   estimand: str = "ate", trim: tuple[float, float] | None = None, tau: float | None = None,
                   horizons: Sequence[float] | None = None, windows: Sequence[float] | None = None,
                   cluster_col: str | None = None, time_unit: str = "days", origin: str | None = None,
                   bootstrap: int = 0, seed: int = DEFAULT_SEED, conf_level: float = 0.95) -> Comparison:
    """Compare group ``a`` with group ``b`` fairly: propensity weighting, adjusted curves and contrasts.

    Steps (each in its own module of :mod:`analysis.comparison`): the rows with follow-up and every
    covariate (others counted by reason); a logistic propensity model of A vs B; ATE (stabilised) or ATT
    weights, optionally trimmed; balance before and after; weighted Kaplan-Meier curves with robust
    (infinitesimal-jackknife) intervals; relapse differences at the horizons and the RMST difference to
    ``tau`` from the same influence values; the weighted Cox hazard ratio (robust) beside the
    covariate-adjusted one; the proportional-hazards verdict; hazard ratios per window; the E-value.

    Parameters
    ----------
    data : DataFrame
        One row per episode: group, follow-up time (in ``time_unit``), event (0 censored, 1 relapse,
        2 death: censored here), covariates, optional cluster id.
    group_col, a, b
        The grouping column and the two groups; differences are A minus B, hazard ratios A vs B.
    covariates : sequence of str
        Read by dtype (numeric linear, boolean one term, categorical with a reference level).
    reference_levels : mapping, optional
        Reference level per categorical covariate (default the most frequent).
    estimand : "ate" or "att"
    trim : (low, high), optional
        Percentiles (0-100) at which to winsorise each group's weights.
    tau, horizons, windows : optional
        Restricted-mean horizon, horizons of the relapse differences and window limits, in ``time_unit``
        (defaults by unit: days 365 / 30,90,180,365 / 0,30,90,365; weeks 52 / 4,13,26,52 / 0,4,13,52; ...).
        Horizons beyond either group's follow-up are left out and ``tau`` is shortened to it, with a note.
    cluster_col : str, optional
        Cluster of the robust variances (e.g. ``client_id`` when people have several episodes).
    time_unit : str
        Unit of the times (days, weeks, months, years); labels only, nothing is converted.
    origin : str, optional
        Time origin label carried into the result (admission or discharge).
    bootstrap, seed : int
        Replicates of a seeded bootstrap that repeats the propensity fit (default 0: none), giving
        percentile intervals of the relapse and RMST differences beside the influence-value ones.
    """
    if time_unit not in TIME_UNITS:
        raise ValueError(f"The time unit must be one of {', '.join(TIME_UNITS)}, not {time_unit!r}.")
    if not 0 < conf_level < 1:
        raise ValueError(f"The confidence level must be between 0 and 1, not {conf_level}.")
    defaults = TIME_UNITS[time_unit]
    covariates = list(dict.fromkeys(covariates))
    pop = comparison_population(data, group_col=group_col, a=a, b=b, time_col=time_col, event_col=event_col,
                                covariates=covariates, cluster_col=cluster_col)
    rows = pop.data
    in_a = rows["in_a"].to_numpy()
    notes: list[str] = []
    ps = fit_propensity(rows, in_a=in_a, covariates=covariates, reference_levels=reference_levels,
                        conf_level=conf_level)
    ws = propensity_weights(ps.scores, in_a, estimand=estimand, trim=trim)
    w = ws.weights
    bal = balance_table(rows, in_a=in_a, covariates=covariates, weights=w)

    t = rows[time_col].to_numpy(dtype="float64")
    relapse = rows[event_col].to_numpy() == 1
    cluster = rows[cluster_col] if cluster_col else None
    km = weighted_km(t, relapse, w, in_a, cluster=cluster, conf_level=conf_level)
    follow = min(t[in_a].max(), t[~in_a].max())
    hz = [float(h) for h in (horizons if horizons is not None else defaults["horizons"])]
    kept = [h for h in hz if h <= follow]
    if len(kept) < len(hz):
        notes.append(f"Horizons beyond the follow-up of both groups ({follow:g} {time_unit}) are left out: "
                     + ", ".join(f"{h:g}" for h in hz if h > follow) + ".")
    tau_ = float(tau if tau is not None else defaults["tau"])
    if not tau_ > 0:
        raise ValueError("tau must be a positive time.")
    if tau_ > follow:
        notes.append(f"The restricted mean is taken to {follow:g} {time_unit}, the end of follow-up of the group "
                     f"followed less long, instead of {tau_:g}.")
        tau_ = float(follow)
    win = list(windows if windows is not None else defaults["windows"])

    wcox = weighted_cox(rows, time_col=time_col, event_col=event_col, weights=w, cluster_col=cluster_col,
                        conf_level=conf_level)
    # the model-based fits need no row of its own (no weight, no cluster): one row per pattern with its count
    patterns = collapsed_population(rows, time_col=time_col, event_col=event_col, covariates=covariates)
    acox = adjusted_cox(patterns, time_col=time_col, event_col=event_col, covariates=covariates,
                        reference_levels=reference_levels, conf_level=conf_level, count_col=COUNT)
    windows_hr = window_hazard_ratios(patterns, time_col=time_col, event_col=event_col, cuts=win,
                                      covariates=covariates, reference_levels=reference_levels, conf_level=conf_level,
                                      start=acox, count_col=COUNT)
    # the hazard ratio is over all follow-up: is relapse common (> 15%) by its end, in either group?
    share = float(max(1 - km.a.surv[-1], 1 - km.b.surv[-1]))
    ev = e_value_hr(wcox.hr, wcox.lower, wcox.upper, outcome_share=share)
    notes += [*ps.notes, *wcox.fit.warnings, *acox.fit.notes, *windows_hr.notes]
    boot = None
    if bootstrap:
        boot = bootstrap_contrasts(rows, time_col=time_col, event_col=event_col, covariates=covariates,
                                   reference_levels=reference_levels, estimand=estimand, trim=trim, horizons=kept,
                                   tau=tau_, cluster_col=cluster_col, replicates=int(bootstrap), seed=seed,
                                   conf_level=conf_level)
    curves, at_h, diffs = km.curves(), km.at(kept), km.differences(kept)
    for frame in (curves, at_h, diffs, windows_hr.table):
        frame.attrs["time_unit"] = time_unit
    return Comparison(
        group_col=group_col, a=a, b=b, estimand=estimand, origin=origin, time_unit=time_unit, tau=tau_,
        horizons=tuple(kept), windows=tuple(float(x) for x in win), covariates=tuple(covariates),
        cluster_col=cluster_col, n_clusters=wcox.fit.n_clusters, conf_level=conf_level, population=pop,
        propensity=ps, weights=ws, balance=bal, curves=curves, survival=at_h, differences=diffs,
        rmst=km.rmst_difference(tau_), weighted_cox=wcox, adjusted_cox=acox,
        ph=ph_verdict(acox, wcox), window_hazards=windows_hr, e_value=ev, relapse_share=share,
        notes=tuple(dict.fromkeys(notes)), bootstrap=boot)
