"""The Cox model's public function :func:`fit_cox` and its result :class:`CoxResult`."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.cox import design
from analysis.cox._concordance import concordance as _concordance
from analysis.cox._efron import _MAX_ITER, build_strata, infinite_coefficients, newton
from analysis.cox._zph import zph_table

__all__ = ["CoxResult", "fit_cox"]

_PH_ALPHA = 0.05


@dataclass(frozen=True)
class CoxResult:
    """Result of :func:`fit_cox`.

    Attributes
    ----------
    terms : DataFrame
        One row per model coefficient: ``term`` (``group[level]``, ``covariate[level]`` or the numeric
        column name), ``coef`` (log hazard ratio), ``se`` (the standard error the interval uses: robust
        when ``variance`` says so, else model-based), ``hr`` (``exp(coef)``), ``lower``/``upper`` (Wald
        interval ``exp(coef -/+ z * se)``), ``z`` and ``p`` (two-sided Wald), ``se_model`` (model-based,
        inverse information; equal to ``se`` unless robust).
    concordance : float
        Harrell's C as R's ``concordance(fit)``.
    n, n_events : int
        Episodes used (raw rows: counts summed) and relapses among them.
    n_dropped_missing : int
        Episodes dropped because time, event, group, a covariate, the weight, cluster or stratum was missing.
    log_likelihood, log_likelihood_null : float
        Efron partial log-likelihood at the estimate and at ``coef = 0`` (R ``fit$loglik``).
    reference : dict
        Reference level of the group column and of every categorical covariate.
    ph_test : DataFrame
        R ``cox.zph(fit)$table``: ``term`` (group column, each covariate, then ``"GLOBAL"``),
        ``chisq``, ``df``, ``p``.
    ph_violated : bool
        Any ``ph_test`` p-value below 0.05.
    group_col : str
    conf_level : float
    converged : bool
        Newton-Raphson met R's criterion (relative log-likelihood change <= 1e-9) within 20 iterations.
    notes : tuple of str
        Plain-language remarks, the warnings included (levels without relapses, constant covariates left
        out, many or small levels, ...).
    warnings : tuple of str
        The notes that make some estimate unusable: no convergence, a coefficient running to infinity.
    infinite_terms : tuple of str
        Terms whose coefficient may be infinite (R: "Loglik converged before variable ...").
    variance : str
        ``"model-based"``, ``"robust"`` (sandwich, one cluster per episode) or
        ``"robust, clustered on <column>"``.
    n_clusters : int or None
        Clusters of the robust variance (episodes when not clustered); None when model-based.
    iterations : int
        Newton-Raphson iterations (R ``fit$iter``).
    """

    terms: pd.DataFrame
    concordance: float
    n: int
    n_events: int
    n_dropped_missing: int
    log_likelihood: float
    log_likelihood_null: float
    reference: dict
    ph_test: pd.DataFrame
    ph_violated: bool
    group_col: str | None
    conf_level: float = 0.95
    converged: bool = True
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    infinite_terms: tuple[str, ...] = field(default=())
    variance: str = "model-based"
    n_clusters: int | None = None
    iterations: int = 0

    def summary_sentence(self) -> str:
        """Plain-language verdict of the proportional-hazards test (``cox.zph``, alpha = 0.05)."""
        rows = self.ph_test[self.ph_test["term"] != "GLOBAL"]
        bad = rows[rows["p"] < _PH_ALPHA].sort_values("p")
        glob = self.ph_test.loc[self.ph_test["term"] == "GLOBAL", "p"]
        gp = float(glob.iloc[0]) if len(glob) else float("nan")
        if len(bad):
            parts = [f"{t} ({_fmt_p(p)})" for t, p in zip(bad["term"], bad["p"], strict=True)]
            return (
                "The proportional-hazards assumption looks doubtful for " + _join(parts)
                + ": the hazard ratio may change over time; read it as an average."
            )
        if gp < _PH_ALPHA:
            return (
                f"The proportional-hazards assumption looks doubtful overall (global test, {_fmt_p(gp)}), "
                "though no single variable stands out: read the hazard ratios as averages over time."
            )
        if np.isnan(gp):
            return "The proportional-hazards test could not be computed for this model."
        return (
            f"No departure from proportional hazards was detected (global test, {_fmt_p(gp)}): "
            "the hazard ratios can be read as roughly constant over follow-up."
        )


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _row_counts(df: pd.DataFrame, count_col: str | None) -> np.ndarray:
    if count_col is None:
        return np.ones(len(df))
    c = pd.to_numeric(df[count_col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if np.any(~np.isfinite(c)) or np.any(c < 0) or np.any(c != np.round(c)):
        raise ValueError(f"Counts in {count_col!r} must be whole numbers of episodes (0 or more).")
    return c


def _select_groups(df: pd.DataFrame, group_col: str, groups: Sequence) -> pd.DataFrame:
    keep = df[group_col].isin(list(groups)) | df[group_col].astype(str).isin([str(g) for g in groups])
    df = df[keep.to_numpy()]
    if isinstance(df[group_col].dtype, pd.CategoricalDtype):
        order = [c for g in groups for c in df[group_col].cat.categories if c == g or str(c) == str(g)]
        return df.assign(**{group_col: pd.Categorical(df[group_col], categories=list(dict.fromkeys(order)))})
    order = list(dict.fromkeys(groups))
    return df.assign(**{group_col: pd.Categorical(df[group_col].astype(str), categories=[str(g) for g in order])})


def fit_cox(
    data: pd.DataFrame,
    *,
    time_col: str,
    event_col: str,
    group_col: str | None,
    reference=None,
    covariates: Iterable[str] = (),
    reference_levels: Mapping[str, object] | None = None,
    groups: Sequence | None = None,
    weight_col: str | None = None,
    count_col: str | None = None,
    robust: bool = False,
    cluster_col: str | None = None,
    strata_col: str | None = None,
    conf_level: float = 0.95,
    min_cell: int = 11,
    with_concordance: bool = True,
    with_ph_test: bool = True,
    init: Mapping[str, float] | None = None,
) -> CoxResult:
    """Cox proportional-hazards model of time to relapse by group, Efron ties, as R ``coxph``.

    Fits ``coxph(Surv(time, event == 1) ~ group + covariates + strata(s), ties = "efron", weights = w,
    robust = robust, cluster = id)``: the cause-specific hazard of relapse (event 1); events 0 (censored)
    and 2 (death, the competing event) are censored. The Efron partial likelihood is maximised by
    Newton-Raphson with step-halving; standard errors are the model-based ``sqrt(diag(I^-1))`` or, with
    ``robust``, the sandwich ``V = I^-1 (sum_c D_c D_c') I^-1`` over clusters ``c`` of the weighted
    score residuals ``D_c = sum_{i in c} w_i U_i`` (R ``residuals(fit, "dfbeta", weighted = TRUE)``
    summed by cluster; without a cluster column every episode is its own cluster). Intervals are
    ``exp(coef -/+ z_{1-a/2} se)``, p-values two-sided Wald. Identical rows are collapsed into counts
    first, which is exactly equivalent to the row-level fit (see the package notes).

    Parameters
    ----------
    data : DataFrame
        One row per episode (the cohort table), or per set of identical episodes with ``count_col``.
    time_col, event_col : str
        Follow-up time (>= 0, any unit) and event code (1 relapse; 0, 2 censored).
    group_col : str or None
        Categorical grouping column (e.g. ``level_of_care``); one treatment dummy per non-reference
        level, named ``f"{group_col}[{level}]"``. None: covariates only (e.g. time-window indicators).
    reference : optional
        Reference group; default the first observed level (category order, else sorted).
    covariates : iterable of str
        Adjustment columns, read by dtype (:mod:`analysis.cox.design`): numeric columns enter linearly
        under their own name; boolean as one term ``col[True]``; object/Categorical columns as treatment
        dummies ``col[level]`` against ``reference_levels[col]`` or the most frequent level.
    reference_levels : mapping, optional
        Reference level per categorical covariate.
    groups : sequence, optional
        Keep only these groups (rows of other groups are left out of the model, not counted as missing).
    weight_col : str, optional
        Positive case weights (R ``weights=``), e.g. inverse-probability weights.
    count_col : str, optional
        Frequency counts: a row with count k stands for k identical raw episodes (whole numbers; rows
        with count 0 stand for no episode). Efron's tie structure is that of the raw rows, so the fit,
        its variance (also robust: every raw row is its own cluster unless ``cluster_col`` says
        otherwise), concordance and PH test equal R's on the expanded rows.
    robust : bool
        Robust (sandwich / infinitesimal-jackknife) variance, as R ``robust = TRUE``. Implied by
        ``cluster_col``.
    cluster_col : str, optional
        Cluster id of the robust variance (e.g. ``client_id``: episodes of one person), R ``cluster=``.
    strata_col : str, optional
        Stratify the baseline hazard (R ``strata()``): risk sets, concordance pairs and the PH test
        work within strata.
    conf_level : float
        Confidence level of the hazard-ratio intervals.
    min_cell : int
        Categorical levels with fewer people than this get a note.
    with_concordance, with_ph_test : bool
        Compute the concordance and the ``cox.zph`` test (default); turned off by callers that only need
        the coefficients (the concordance is then NaN and the PH table empty).
    init : mapping, optional
        Starting values by term name (R ``init=``; terms not named start at 0, names not in the model are
        ignored). The maximum is the same; a good start saves iterations.

    Returns
    -------
    CoxResult
        Hazard ratios, concordance (R ``concordance(fit)``), and the proportional-hazards score test of
        R >= 3.0 ``cox.zph`` (``transform = "km"``: time is replaced by 1 - KM(t-), centred; per
        variable and global, Grambsch & Therneau's test computed as a one-step score test). A fit that
        does not converge, or whose log-likelihood converges while a coefficient runs to infinity (R:
        "Loglik converged before variable ...; coefficient may be infinite"), says so in ``warnings``.

    Raises
    ------
    ValueError
        Missing columns, negative times, non-positive weights, counts that are not whole numbers, fewer
        than two groups, no relapses, or collinear covariates.

    References
    ----------
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;72:557-65.
    Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted residuals.
    Biometrika 1994;81:515-26. Lin DY, Wei LJ. The robust inference for the Cox proportional hazards
    model. JASA 1989;84:1074-8. Therneau TM. survival: R package, ``coxph``, ``cox.zph``, ``concordance``.
    """
    if not 0 < conf_level < 1:
        raise ValueError(f"The confidence level must be between 0 and 1, not {conf_level}.")
    covariates = list(covariates)
    reference_levels = dict(reference_levels or {})
    if group_col is not None and group_col in covariates:
        raise ValueError(f"{group_col!r} is the grouping column; do not list it as a covariate too.")
    extras = [c for c in (weight_col, count_col, cluster_col, strata_col) if c]
    cols = [time_col, event_col, *([group_col] if group_col else []), *covariates, *extras]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"Column(s) not found in the data: {', '.join(missing)}.")
    df = data[list(dict.fromkeys(cols))]
    counts_all = _row_counts(df, count_col)
    ok = df.notna().all(axis=1).to_numpy()
    n_dropped = int(counts_all[~ok].sum())
    if not ok.all():  # (millions of rows: no copy when nothing is missing)
        df = df[ok]
    if groups is not None and group_col is not None:
        df = _select_groups(df, group_col, groups)
    counts = _row_counts(df, count_col)
    if count_col is not None and np.any(counts == 0):
        df, counts = df[counts > 0], counts[counts > 0]
    if len(df) == 0:
        raise ValueError("No rows are left to fit a Cox model once missing values are dropped.")
    time = df[time_col].to_numpy(dtype="float64")
    if np.any(time < 0):
        raise ValueError(f"{time_col!r} has negative times; follow-up time must be zero or more.")
    dead = df[event_col].to_numpy(dtype="float64") == 1
    if not dead.any():
        raise ValueError("There are no relapses (event 1) in the data, so no hazard ratio can be estimated.")
    if weight_col:
        w = df[weight_col].to_numpy(dtype="float64")
        if np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"Weights in {weight_col!r} must be positive numbers.")
    else:
        w = np.ones(len(df))
    robust = robust or cluster_col is not None

    notes: list[str] = []
    variables = []
    if group_col is not None:
        gvar = design.categorical_variable(df[group_col], group_col, reference, first_is_default=True)
        if len(gvar.levels) < 2:
            raise ValueError(f"A Cox model by {group_col!r} needs at least two groups with data.")
        variables.append(gvar)
    for c in covariates:
        v = design.variable(df[c], c, reference_levels.get(c), counts=counts)
        if v.constant:
            shown = f" ({v.levels[0]})" if v.categorical else ""
            notes.append(f"{c} has a single value{shown} in the data and was left out.")
            continue
        notes.extend(design.variable_notes(v, counts, min_cell))
        variables.append(v)
    if not variables:
        raise ValueError("The Cox model has no term to estimate (no group column and no varying covariate).")

    # ---- collapse identical (time, event, design row, weight, cluster, stratum) rows into counts -------
    extra_codes = {c: design.value_codes(df[c]) for c in (weight_col, cluster_col, strata_col) if c}
    key_parts = [design.value_codes(time), dead.astype(np.int64)]
    key_parts += [v.codes if v.categorical else design.value_codes(v.values) for v in variables]
    key_parts += list(extra_codes.values())
    first, _, count = design.collapse(design.pattern_key(key_parts), counts)

    terms_, X, term_cols = design.design_columns(variables, first)
    names = [t.name for t in terms_]
    X = X - (count @ X) / count.sum()  # centring, as R does; estimates do not depend on it
    ta, da, wa = time[first], dead[first], w[first]
    sa = extra_codes[strata_col][first] if strata_col else None
    design_key = design.pattern_key([v.codes[first] if v.categorical else design.value_codes(v.values[first])
                                     for v in variables])
    model = build_strata(ta, da, X, wa, count, sa, pattern=pd.factorize(design_key)[0])
    start = None
    if init:
        start = np.array([float(init.get(n, 0.0)) for n in names])
    fit = newton(model, X.shape[1], start)
    beta = fit.beta
    for v in variables:
        if v.categorical:
            ev = np.bincount(v.codes[dead], weights=counts[dead], minlength=len(v.levels))
            for j, lev in enumerate(v.levels):
                if ev[j] == 0:
                    notes.append(f"No relapses in {v.name} = {lev}: its hazard ratio cannot be estimated (tends to 0).")

    try:
        cov = np.linalg.inv(fit.info)
    except np.linalg.LinAlgError as exc:
        raise ValueError("The Cox model's information matrix is singular; covariates are collinear.") from exc
    warnings_: list[str] = []
    infinite: tuple[str, ...] = ()
    if not fit.converged:
        warnings_.append(f"The Cox fit did not converge in {_MAX_ITER} iterations (R: \"Ran out of iterations "
                         "and did not converge\"): its estimates are not reliable.")
    else:
        infinite = tuple(n for n, bad in zip(names, infinite_coefficients(fit, cov), strict=True) if bad)
        if infinite:
            warnings_.append(
                f"The log-likelihood converged before the coefficient of {_join(list(infinite))} did: it may be "
                "infinite (monotone likelihood; R warns \"Loglik converged before variable ...; coefficient "
                "may be infinite\"), usually because a level has no relapses, or only relapses. Its hazard "
                "ratio and interval are not usable; merge or drop that level.")
    se_model = np.sqrt(np.diag(cov))
    variance, n_clusters, var = "model-based", None, cov
    if robust:
        resid = model.score_residuals(fit.pcs, len(count), X.shape[1])
        dfbeta = (wa[:, None] * resid) @ cov
        if cluster_col:
            cl = pd.factorize(extra_codes[cluster_col][first])[0]
            n_clusters = int(cl.max()) + 1
            sums = np.column_stack([np.bincount(cl, weights=count * dfbeta[:, j], minlength=n_clusters)
                                    for j in range(dfbeta.shape[1])])
            var = sums.T @ sums
            variance = f"robust, clustered on {cluster_col}"
        else:
            var = dfbeta.T @ (count[:, None] * dfbeta)
            n_clusters = int(count.sum())
            variance = "robust"
    se = np.sqrt(np.diag(var))
    zc = stats.norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # infinite coefficient: R prints Inf
        z = beta / se
        terms = pd.DataFrame({
            "term": names, "coef": beta, "se": se, "hr": np.exp(beta),
            "lower": np.exp(beta - zc * se), "upper": np.exp(beta + zc * se),
            "z": z, "p": 2 * stats.norm.sf(np.abs(z)), "se_model": se_model,
        })
    eta = (X * beta).sum(axis=1)  # not X @ beta: BLAS may round identical rows differently (ties matter)
    conc = _concordance(model, eta) if with_concordance else float("nan")
    ph = (zph_table(model, ta, da, count, fit.pcs, fit.info, term_cols, [v.name for v in variables])
          if with_ph_test else pd.DataFrame({"term": pd.Series(dtype=object), "chisq": pd.Series(dtype=float),
                                             "df": pd.Series(dtype=int), "p": pd.Series(dtype=float)}))
    reference_out = {v.name: v.ref for v in variables if v.categorical}
    return CoxResult(
        terms=terms, concordance=conc, n=int(counts.sum()), n_events=int(counts[dead].sum()),
        n_dropped_missing=n_dropped, log_likelihood=fit.loglik, log_likelihood_null=fit.loglik_null,
        reference=reference_out, ph_test=ph, ph_violated=bool((ph["p"] < _PH_ALPHA).any()),
        group_col=group_col, conf_level=conf_level, converged=fit.converged, notes=tuple(notes + warnings_),
        warnings=tuple(warnings_), infinite_terms=infinite, variance=variance, n_clusters=n_clusters,
        iterations=fit.iterations,
    )
