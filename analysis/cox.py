"""Cox proportional-hazards regression (Efron ties) and the proportional-hazards test, as R's survival.

One public function, :func:`fit_cox`, fits the cause-specific hazard of relapse (event code 1; codes 0
and 2 -- censored and death, the competing event -- are both treated as censored) by level of care
(or any grouping column), adjusted for covariates, and returns a frozen :class:`CoxResult` with the
hazard ratios, Harrell's concordance and R 3.x's ``cox.zph`` score test of proportional hazards.

The estimator is a vectorised Newton-Raphson written in numpy rather than lifelines' ``CoxPHFitter``,
because R's Efron approximation with case weights divides a tied set into as many terms as there are
tied *rows* (``ndead``) and averages their weights (``wtave = deadwt / ndead``); a weighted lifelines
fit on aggregated rows is not the same estimator. Here identical rows (same time, event, design row and
weight) are collapsed into one row with a frequency count, and every sum keeps the raw-row structure
(``ndead`` counts raw rows), so a fit on the aggregated rows equals R's ``coxph`` on the raw rows to
rounding; that is what makes a million episodes fit in about a second.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["CoxResult", "fit_cox"]

_MAX_ITER = 30
_EPS = 1e-9
_PH_ALPHA = 0.05
_DENSE_CONCORDANCE_CELLS = 5_000_000


@dataclass(frozen=True)
class CoxResult:
    """Result of :func:`fit_cox`.

    Attributes
    ----------
    terms : DataFrame
        One row per model coefficient: ``term`` (``group[level]``, ``covariate[level]`` or the numeric
        column name), ``coef`` (log hazard ratio), ``se`` (model-based, inverse information), ``hr``
        (``exp(coef)``), ``lower``/``upper`` (Wald interval ``exp(coef -/+ z * se)``), ``z`` and ``p``
        (two-sided Wald).
    concordance : float
        Harrell's C as R's ``concordance(fit)``.
    n, n_events : int
        Rows (episodes) used and relapses among them.
    n_dropped_missing : int
        Rows dropped because time, event, group, a covariate or the weight was missing.
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
    notes : tuple of str
        Plain-language remarks (levels without relapses, constant covariates left out, ...).
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
    group_col: str
    conf_level: float = 0.95
    converged: bool = True
    notes: tuple[str, ...] = field(default=())

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


# ---------------------------------------------------------------------------------------------
# design
# ---------------------------------------------------------------------------------------------
def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(s.dtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or pd.api.types.is_string_dtype(s.dtype)
    )


def _ordered_levels(s: pd.Series) -> list:
    """Observed levels: category order for a Categorical, else sorted (R's factor default)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.unique().tolist())
        return [c for c in s.cat.categories if c in present]
    uniq = pd.unique(s)
    try:
        return sorted(uniq.tolist())
    except TypeError:
        return sorted(uniq.tolist(), key=str)


def _find_level(levels: Sequence, wanted, col: str):
    for lev in levels:
        if lev == wanted or str(lev) == str(wanted):
            return lev
    shown = ", ".join(map(str, levels))
    raise ValueError(f"Reference level {wanted!r} of {col!r} does not occur in the data (levels: {shown}).")


@dataclass(frozen=True)
class _Var:
    name: str
    categorical: bool
    levels: tuple = ()
    ref: object = None
    codes: np.ndarray | None = None  # per row: index into levels
    values: np.ndarray | None = None  # numeric values


def _codes(s: pd.Series, levels: Sequence) -> np.ndarray:
    lookup = {lev: i for i, lev in enumerate(levels)}
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat_map = np.array([lookup.get(c, -1) for c in s.cat.categories], dtype=np.int64)
        return cat_map[s.cat.codes.to_numpy()]
    codes, uniq = pd.factorize(s, sort=False)
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[codes]


def _categorical_var(s: pd.Series, name: str, ref, *, first_is_default: bool = False) -> _Var:
    levels = _ordered_levels(s)
    codes = _codes(s, levels)
    if ref is None and first_is_default:
        ref_level = levels[0]
    elif ref is None:
        counts = np.bincount(codes, minlength=len(levels))
        ref_level = levels[int(np.argmax(counts))]  # most frequent, ties -> first level
    else:
        ref_level = _find_level(levels, ref, name)
    return _Var(name, True, tuple(levels), ref_level, codes=codes)


# ---------------------------------------------------------------------------------------------
# Efron partial likelihood on (possibly aggregated) rows
# ---------------------------------------------------------------------------------------------
class _Efron:
    """Efron partial likelihood, score and information, R ``coxfit6``/``zph1`` arithmetic.

    Rows carry a frequency ``count`` (raw rows collapsed into one) and a case weight ``w``. At a
    death time with tied raw deaths ``d`` (sum of counts), deaths' weighted risk ``D``, deaths' weight
    ``deadwt`` and risk of the others still at risk ``R0``, the log-likelihood term is
    ``sum(w * eta over deaths) - (deadwt / d) * sum_{k=1..d} log(R0 + (k / d) * D)``.
    """

    def __init__(self, time, dead, X, w, count):
        self.X, self.dead = X, dead
        self.cw = w * count
        self.dtimes = np.unique(time[dead])
        m = self.m = len(self.dtimes)
        pos_lt = np.searchsorted(self.dtimes, time, "left")
        pos_le = np.searchsorted(self.dtimes, time, "right")
        # a row is in the "others at risk" set of death time t iff t < pos
        self.pos = np.where(dead, pos_lt, pos_le)
        self.pos_le = pos_le  # at risk (time >= t) at death time t iff t < pos_le
        self.tdead = pos_lt[dead]  # death-time index of each death row
        d = np.bincount(self.tdead, weights=count[dead], minlength=m)
        self.d_int = np.rint(d).astype(np.int64)
        self.d = d
        self.deadwt = np.bincount(self.tdead, weights=self.cw[dead], minlength=m)
        self.wtave = self.deadwt / d
        self.rep_t = np.repeat(np.arange(m), self.d_int)
        starts = np.cumsum(self.d_int) - self.d_int
        k = np.arange(self.rep_t.size) - np.repeat(starts, self.d_int) + 1
        self.f = k / self.d_int[self.rep_t]
        self.Xd = X[dead]
        self.cwd = self.cw[dead]

    def _binsum(self, idx, vals, size):
        if vals.ndim == 1:
            return np.bincount(idx, weights=vals, minlength=size)
        return np.column_stack([np.bincount(idx, weights=vals[:, j], minlength=size) for j in range(vals.shape[1])])

    def evaluate(self, beta):
        """Log-likelihood and the per-time pieces needed for the score and information."""
        eta = self.X @ beta
        r = self.cw * np.exp(eta)
        m = self.m
        z = np.bincount(self.pos, weights=r, minlength=m + 1)
        base = np.cumsum(z[::-1])[::-1][1:]  # sum over pos > t
        rd = r[self.dead]
        D = np.bincount(self.tdead, weights=rd, minlength=m)
        rt, f = self.rep_t, self.f
        den = base[rt] + f * D[rt]
        loglik = float(self.cwd @ eta[self.dead] - self.wtave[rt] @ np.log(den))
        inv = 1.0 / den
        inv2 = inv * inv
        s0 = np.bincount(rt, weights=inv, minlength=m)
        s1 = np.bincount(rt, weights=f * inv, minlength=m)
        t0 = np.bincount(rt, weights=inv2, minlength=m)
        t1 = np.bincount(rt, weights=f * inv2, minlength=m)
        t2 = np.bincount(rt, weights=f * f * inv2, minlength=m)
        za = self._binsum(self.pos, r[:, None] * self.X, m + 1)
        abase = np.cumsum(za[::-1], axis=0)[::-1][1:]
        bsum = self._binsum(self.tdead, rd[:, None] * self.Xd, m)
        return loglik, dict(r=r, s0=s0, s1=s1, t0=t0, t1=t1, t2=t2, abase=abase, b=bsum)

    def score_info(self, pc, tw=None):
        """Score vector and information matrix, each death time weighted by ``tw`` (default 1)."""
        tw = np.ones(self.m) if tw is None else tw
        wt = self.wtave * tw
        h0 = wt * pc["s0"]
        h1 = wt * pc["s1"]
        hc = np.concatenate([[0.0], np.cumsum(h0)])
        v = pc["r"] * hc[self.pos]
        v[self.dead] += pc["r"][self.dead] * h1[self.tdead]
        U = self.Xd.T @ (self.cwd * tw[self.tdead]) - self.X.T @ v
        a, b = pc["abase"], pc["b"]
        g0, g1, g2 = wt * pc["t0"], wt * pc["t1"], wt * pc["t2"]
        ab = a.T @ (g1[:, None] * b)
        info = (self.X.T @ (v[:, None] * self.X)) - (a.T @ (g0[:, None] * a) + ab + ab.T + b.T @ (g2[:, None] * b))
        return U, info


def _newton(ef: _Efron, p: int):
    """Newton-Raphson from 0 with step-halving; stops as R's ``coxfit6`` (relative log-lik change)."""
    beta = np.zeros(p)
    ll, pc = ef.evaluate(beta)
    ll_null = ll
    U, info = ef.score_info(pc)
    converged = False
    for _ in range(_MAX_ITER):
        try:
            step = np.linalg.solve(info, U)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "The Cox model cannot be estimated: its covariates are collinear (some level or "
                "combination carries no separate information). Remove or merge covariates."
            ) from exc
        new = beta + step
        ll_new, pc_new = ef.evaluate(new)
        halvings = 0
        while not (ll_new >= ll - 1e-12 * abs(ll)) and halvings < 30:  # step-halving, as R's coxfit6
            step = step / 2
            new = beta + step
            ll_new, pc_new = ef.evaluate(new)
            halvings += 1
        beta, pc, old = new, pc_new, ll
        ll = ll_new
        U, info = ef.score_info(pc)
        if halvings == 0 and abs(1 - old / ll) <= _EPS:  # R coxph.control(eps = 1e-9)
            converged = True
            break
    return beta, ll, ll_null, pc, info, converged


# ---------------------------------------------------------------------------------------------
# concordance (R concordance(fit): Harrell's C, predictor ties 1/2, tied death times not comparable)
# ---------------------------------------------------------------------------------------------
def _concordance(ef: _Efron, eta: np.ndarray) -> float:
    m = ef.m
    uniq, rank = np.unique(eta, return_inverse=True)
    M = len(uniq)
    rank = rank.ravel()
    rd = rank[ef.dead]
    cw = ef.cw
    if m * M <= _DENSE_CONCORDANCE_CELLS:
        h = np.bincount(ef.pos * M + rank, weights=cw, minlength=(m + 1) * M).reshape(m + 1, M)
        atrisk = np.cumsum(h[::-1], axis=0)[::-1][1:]  # rows with pos > t, by predictor rank
        below = np.cumsum(atrisk, axis=1) - atrisk
        less = below[ef.tdead, rd]
        eq = atrisk[ef.tdead, rd]
        total = atrisk.sum(axis=1)[ef.tdead]
    else:
        less, eq, total = _concordance_bit(ef, rank, rd, M)
    more = total - less - eq
    wd = ef.cwd
    conc = wd @ less  # death has the higher risk score and the shorter time
    disc = wd @ more
    tied = wd @ eq
    denom = conc + disc + tied
    return float((conc + tied / 2) / denom) if denom > 0 else float("nan")


def _concordance_bit(ef: _Efron, rank, rd, M):
    """Same counts with a Fenwick tree, one vectorised pass per death time (large predictor sets)."""
    tree = np.zeros(M + 1)
    order = np.argsort(ef.pos, kind="stable")
    bounds = np.searchsorted(ef.pos[order], np.arange(ef.m + 2))
    dorder = np.argsort(ef.tdead, kind="stable")
    dbounds = np.searchsorted(ef.tdead[dorder], np.arange(ef.m + 1))
    less = np.zeros(len(rd))
    leq = np.zeros(len(rd))
    total = np.zeros(len(rd))
    running = 0.0

    def query(idx):
        s = np.zeros(len(idx))
        idx = idx.copy()
        while np.any(idx > 0):
            ok = idx > 0
            s[ok] += tree[idx[ok]]
            idx[ok] -= idx[ok] & -idx[ok]
        return s

    for t in range(ef.m - 1, -1, -1):
        rows = order[bounds[t + 1]:bounds[t + 2]]
        if len(rows):
            idx = rank[rows] + 1
            val = ef.cw[rows]
            running += val.sum()
            while len(idx):
                np.add.at(tree, idx, val)
                idx = idx + (idx & -idx)
                keep = idx <= M
                idx, val = idx[keep], val[keep]
        deaths = dorder[dbounds[t]:dbounds[t + 1]]
        less[deaths] = query(rd[deaths])
        leq[deaths] = query(rd[deaths] + 1)
        total[deaths] = running
    return less, leq - less, total


# ---------------------------------------------------------------------------------------------
# proportional-hazards test (R >= 3.0 cox.zph, transform = "km", terms = TRUE)
# ---------------------------------------------------------------------------------------------
def _zph(ef: _Efron, count, pc, info, term_cols: list[list[int]], term_names: list[str]) -> pd.DataFrame:
    # Kaplan-Meier on the raw (unweighted) rows: g(t) = 1 - S(t-), centred on its mean over deaths
    n_at = np.cumsum(np.bincount(ef.pos_le, weights=count, minlength=ef.m + 1)[::-1])[::-1][1:]
    surv = np.cumprod(1 - ef.d / n_at)
    s_minus = np.concatenate([[1.0], surv[:-1]])
    tt = 1 - s_minus
    gt = tt - (ef.d @ tt) / ef.d.sum()
    u2, i12 = ef.score_info(pc, gt)
    _, i22 = ef.score_info(pc, gt * gt)
    p = info.shape[0]
    full = np.block([[info, i12], [i12.T, i22]])
    rows = []
    for name, jj in zip([*term_names, "GLOBAL"], [*term_cols, list(range(p))], strict=True):
        kk = list(range(p)) + [p + j for j in jj]
        u = np.concatenate([np.zeros(p), u2[jj]])
        try:
            chisq = float(u @ np.linalg.solve(full[np.ix_(kk, kk)], u))
        except np.linalg.LinAlgError:
            chisq = float("nan")
        rows.append((name, chisq, len(jj), float(stats.chi2.sf(chisq, len(jj)))))
    return pd.DataFrame(rows, columns=["term", "chisq", "df", "p"])


# ---------------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------------
def fit_cox(
    data: pd.DataFrame,
    *,
    time_col: str,
    event_col: str,
    group_col: str,
    reference=None,
    covariates: Iterable[str] = (),
    reference_levels: Mapping[str, object] | None = None,
    groups: Sequence | None = None,
    weight_col: str | None = None,
    conf_level: float = 0.95,
) -> CoxResult:
    """Cox proportional-hazards model of time to relapse by group, Efron ties, as R ``coxph``.

    Fits ``coxph(Surv(time, event == 1) ~ group + covariates, ties = "efron", weights = w)``: the
    cause-specific hazard of relapse (event 1); events 0 (censored) and 2 (death, the competing event)
    are censored. The Efron partial likelihood is maximised by Newton-Raphson with step-halving; the
    standard errors are the model-based ``sqrt(diag(I^-1))``, intervals ``exp(coef -/+ z_{1-a/2} se)``,
    p-values two-sided Wald. Identical rows are collapsed into counts first, which is exactly
    equivalent to the row-level fit (see the module notes).

    Parameters
    ----------
    data : DataFrame
        One row per episode (the cohort table).
    time_col, event_col : str
        Follow-up time in days (>= 0) and event code (1 relapse; 0, 2 censored).
    group_col : str
        Categorical grouping column (e.g. ``level_of_care``); one treatment dummy per non-reference
        level, named ``f"{group_col}[{level}]"``.
    reference : optional
        Reference group; default the first observed level (category order, else sorted).
    covariates : iterable of str
        Adjustment columns. Categorical (object, category, bool) columns become treatment dummies
        (``f"{col}[{level}]"``) against ``reference_levels[col]`` or the most frequent level; numeric
        columns enter linearly under their own name.
    reference_levels : mapping, optional
        Reference level per categorical covariate.
    groups : sequence, optional
        Keep only these groups (rows of other groups are left out of the model, not counted as missing).
    weight_col : str, optional
        Positive case weights (R ``weights=``).
    conf_level : float
        Confidence level of the hazard-ratio intervals.

    Returns
    -------
    CoxResult
        Hazard ratios, concordance (R ``concordance(fit)``: Harrell's C with ties in the predictor
        counted 1/2 and pairs tied on the event time not comparable; a censoring at time t is taken to
        outlast a relapse at t), and the proportional-hazards score test of R >= 3.0 ``cox.zph``
        (``transform = "km"``: time is replaced by 1 - KM(t-), centred; per variable and global,
        Grambsch & Therneau's test computed as a one-step score test).

    Raises
    ------
    ValueError
        Missing columns, negative times, non-positive weights, fewer than two groups, no relapses,
        or collinear covariates.

    References
    ----------
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;72:557-65.
    Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted residuals.
    Biometrika 1994;81:515-26. Therneau TM. survival: R package, ``coxph``, ``cox.zph``, ``concordance``.
    """
    if not 0 < conf_level < 1:
        raise ValueError(f"The confidence level must be between 0 and 1, not {conf_level}.")
    covariates = list(covariates)
    reference_levels = dict(reference_levels or {})
    if group_col in covariates:
        raise ValueError(f"{group_col!r} is the grouping column; do not list it as a covariate too.")
    cols = [time_col, event_col, group_col, *covariates] + ([weight_col] if weight_col else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"Column(s) not found in the data: {', '.join(missing)}.")
    df = data[list(dict.fromkeys(cols))]
    ok = df.notna().all(axis=1).to_numpy()
    n_dropped = int((~ok).sum())
    df = df[ok]
    if groups is not None:
        keep = df[group_col].isin(list(groups)) | df[group_col].astype(str).isin([str(g) for g in groups])
        df = df[keep.to_numpy()]
        if isinstance(df[group_col].dtype, pd.CategoricalDtype):
            order = [c for g in groups for c in df[group_col].cat.categories if c == g or str(c) == str(g)]
            df = df.assign(**{group_col: pd.Categorical(df[group_col], categories=list(dict.fromkeys(order)))})
        else:
            order = list(dict.fromkeys(groups))
            df = df.assign(**{group_col: pd.Categorical(df[group_col].astype(str), categories=[str(g) for g in order])})
    if len(df) == 0:
        raise ValueError("No rows are left to fit a Cox model once missing values are dropped.")
    time = df[time_col].to_numpy(dtype="float64")
    if np.any(time < 0):
        raise ValueError(f"{time_col!r} has negative times; follow-up time must be zero or more days.")
    dead = df[event_col].to_numpy(dtype="float64") == 1
    if not dead.any():
        raise ValueError("There are no relapses (event 1) in the data, so no hazard ratio can be estimated.")
    if weight_col:
        w = df[weight_col].to_numpy(dtype="float64")
        if np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"Weights in {weight_col!r} must be positive numbers.")
    else:
        w = np.ones(len(df))

    notes: list[str] = []
    gvar = _categorical_var(df[group_col], group_col, reference, first_is_default=True)
    if len(gvar.levels) < 2:
        raise ValueError(f"A Cox model by {group_col!r} needs at least two groups with data.")
    variables = [gvar]
    for c in covariates:
        s = df[c]
        if _is_categorical(s):
            v = _categorical_var(s, c, reference_levels.get(c))
            if len(v.levels) < 2:
                notes.append(f"{c} has a single value ({v.levels[0]}) in the data and was left out.")
                continue
        else:
            vals = s.to_numpy(dtype="float64")
            if np.all(vals == vals[0]):
                notes.append(f"{c} is constant in the data and was left out.")
                continue
            v = _Var(c, False, values=vals)
        variables.append(v)

    # ---- aggregate identical (time, event, design row, weight) rows into counts -----------------
    key_parts = [pd.factorize(time)[0], dead.astype(np.int64)]
    for v in variables:
        key_parts.append(v.codes if v.categorical else pd.factorize(v.values)[0])
    if weight_col:
        key_parts.append(pd.factorize(w)[0])
    key = np.zeros(len(df), dtype=np.int64)
    radix = 1
    for part in key_parts:
        card = int(part.max()) + 1
        if radix * card >= 2**62:  # too many combinations for one integer key
            key = _multi_key(key_parts)
            break
        key = key * card + part
        radix *= card
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    count = count.astype("float64")

    names: list[str] = []
    columns: list[np.ndarray] = []
    term_cols: list[list[int]] = []
    reference_out: dict = {}
    for v in variables:
        idx = []
        if v.categorical:
            reference_out[v.name] = v.ref
            codes = v.codes[first]
            ref_code = v.levels.index(v.ref)
            for j, lev in enumerate(v.levels):
                if j == ref_code:
                    continue
                idx.append(len(names))
                names.append(f"{v.name}[{lev}]")
                columns.append((codes == j).astype("float64"))
        else:
            idx.append(len(names))
            names.append(v.name)
            columns.append(v.values[first])
        term_cols.append(idx)
    X = np.column_stack(columns)
    X = X - (count @ X) / count.sum()  # centring, as R does; estimates do not depend on it
    ta, da, wa = time[first], dead[first], w[first]

    ef = _Efron(ta, da, X, wa, count)
    beta, ll, ll_null, pc, info, converged = _newton(ef, X.shape[1])
    if not converged:
        notes.append("The fit did not fully converge; some hazard ratio may be infinite (a level without relapses).")
    for v in variables:
        if v.categorical:
            ev = np.bincount(v.codes[dead], minlength=len(v.levels))
            for j, lev in enumerate(v.levels):
                if ev[j] == 0:
                    notes.append(f"No relapses in {v.name} = {lev}: its hazard ratio cannot be estimated (tends to 0).")

    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise ValueError("The Cox model's information matrix is singular; covariates are collinear.") from exc
    se = np.sqrt(np.diag(cov))
    zc = stats.norm.ppf(1 - (1 - conf_level) / 2)
    z = beta / se
    with np.errstate(over="ignore"):  # a level without relapses: se huge, upper limit inf (R prints Inf)
        terms = pd.DataFrame({
            "term": names, "coef": beta, "se": se, "hr": np.exp(beta),
            "lower": np.exp(beta - zc * se), "upper": np.exp(beta + zc * se),
            "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
        })
    eta = (X * beta).sum(axis=1)
    concordance = _concordance(ef, eta)
    ph = _zph(ef, count, pc, info, term_cols, [v.name for v in variables])
    return CoxResult(
        terms=terms, concordance=concordance, n=len(df), n_events=int(dead.sum()),
        n_dropped_missing=n_dropped, log_likelihood=ll, log_likelihood_null=ll_null,
        reference=reference_out, ph_test=ph, ph_violated=bool((ph["p"] < _PH_ALPHA).any()),
        group_col=group_col, conf_level=conf_level, converged=converged, notes=tuple(notes),
    )


def _multi_key(parts: list[np.ndarray]) -> np.ndarray:
    return pd.MultiIndex.from_arrays(parts).factorize()[0].astype(np.int64)
