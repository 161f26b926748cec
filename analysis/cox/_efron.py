"""Efron partial likelihood on collapsed rows, with strata: log-likelihood, score, information, Newton-Raphson
and per-row score residuals (for the robust variance), with R ``coxfit6`` / ``coxscore2`` arithmetic."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_MAX_ITER = 20  # R coxph.control(iter.max = 20)
_EPS = 1e-9  # R coxph.control(eps = 1e-9)
_TOLER_INF = np.sqrt(_EPS)  # R coxph.control(toler.inf = sqrt(eps))


def _binsum(idx: np.ndarray, vals: np.ndarray, size: int) -> np.ndarray:
    if vals.ndim == 1:
        return np.bincount(idx, weights=vals, minlength=size)
    return np.column_stack([np.bincount(idx, weights=vals[:, j], minlength=size) for j in range(vals.shape[1])])


def _binsum_scaled(idx: np.ndarray, X: np.ndarray, scale: np.ndarray, size: int) -> np.ndarray:
    """``_binsum(idx, X * scale[:, None], size)`` a column at a time: the same products summed in the same order
    (the same bits), without the rows x terms temporary (10M episodes' 1.07M covariate patterns: 171 MB a call)."""
    return np.column_stack([np.bincount(idx, weights=X[:, j] * scale, minlength=size) for j in range(X.shape[1])])


class _Efron:
    """Efron partial likelihood, score and information of one stratum, R ``coxfit6``/``zph1`` arithmetic.

    Rows carry a frequency ``count`` (raw rows collapsed into one) and a case weight ``w``. At a
    death time with tied raw deaths ``d`` (sum of counts), deaths' weighted risk ``D``, deaths' weight
    ``deadwt`` and risk of the others still at risk ``R0``, the log-likelihood term is
    ``sum(w * eta over deaths) - (deadwt / d) * sum_{k=1..d} log(R0 + (k / d) * D)``.
    """

    def __init__(self, time, dead, X, w, count, pattern=None, Xu=None):
        X = np.asfortranarray(X)  # column sums (bincount per column) read contiguous memory
        self.X, self.dead = X, dead
        # rows of few distinct design rows (categorical covariates): sums over rows as sums over the patterns
        # (``pattern``: each row's design row in ``Xu``), the same numbers without rows x terms products
        self.pattern, self.Xu = (pattern, Xu) if pattern is not None and len(Xu) * 2 <= len(time) else (None, None)
        self.w = w
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
        self.Xd = np.asfortranarray(X[dead])
        self.cwd = self.cw[dead]
        if self.pattern is not None:
            self.pattern_d = self.pattern[dead]
            self.P = len(self.Xu)

    def _by_time(self, idx: np.ndarray, vals: np.ndarray, size: int, dead_rows: bool = False) -> np.ndarray:
        """``sum over rows (death rows) with idx == t of vals * x_row`` per t (size x terms): per (time, pattern)
        then times the patterns' design rows when that table is small, else a column at a time."""
        if self.pattern is not None and size * self.P <= 4_000_000:
            pat = self.pattern_d if dead_rows else self.pattern
            table = np.bincount(idx * self.P + pat, weights=vals, minlength=size * self.P).reshape(size, self.P)
            return table @ self.Xu
        return _binsum_scaled(idx, self.Xd if dead_rows else self.X, vals, size)

    def _xt(self, vals: np.ndarray, dead_rows: bool = False) -> np.ndarray:
        """``X' vals`` (or ``Xd' vals``)."""
        if self.pattern is None:
            return (self.Xd if dead_rows else self.X).T @ vals
        pat = self.pattern_d if dead_rows else self.pattern
        return self.Xu.T @ np.bincount(pat, weights=vals, minlength=self.P)

    def evaluate(self, beta):
        """Log-likelihood and the per-time pieces needed for the score and information."""
        eta = self.X @ beta if self.pattern is None else (self.Xu @ beta)[self.pattern]
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
        za = self._by_time(self.pos, r, m + 1)
        abase = np.cumsum(za[::-1], axis=0)[::-1][1:]
        bsum = self._by_time(self.tdead, rd, m, dead_rows=True)
        return loglik, dict(eta=eta, r=r, den=den, s0=s0, s1=s1, t0=t0, t1=t1, t2=t2, abase=abase, b=bsum)

    def score_info(self, pc, tw=None):
        """Score vector and information matrix, each death time weighted by ``tw`` (default 1)."""
        tw = np.ones(self.m) if tw is None else tw
        wt = self.wtave * tw
        h0 = wt * pc["s0"]
        h1 = wt * pc["s1"]
        hc = np.concatenate([[0.0], np.cumsum(h0)])
        v = pc["r"] * hc[self.pos]
        v[self.dead] += pc["r"][self.dead] * h1[self.tdead]
        U = self._xt(self.cwd * tw[self.tdead], dead_rows=True) - self._xt(v)
        a, b = pc["abase"], pc["b"]
        g0, g1, g2 = wt * pc["t0"], wt * pc["t1"], wt * pc["t2"]
        ab = a.T @ (g1[:, None] * b)
        if self.pattern is None:
            xvx = self.X.T @ (v[:, None] * self.X)
        else:
            xvx = self.Xu.T @ (np.bincount(self.pattern, weights=v, minlength=self.P)[:, None] * self.Xu)
        info = xvx - (a.T @ (g0[:, None] * a) + ab + ab.T + b.T @ (g2[:, None] * b))
        return U, info

    def score_residuals(self, pc) -> np.ndarray:
        """Unweighted score residual of one raw row of each collapsed row (n x p), as R ``coxscore2``.

        ``U_i = sum over death times t and Efron steps k of (dN_ik - Y_ik exp(eta_i) dL_k) (x_i - xbar_k)``:
        each of the ``d`` tied deaths counts ``1/d`` at every step and is at risk with weight ``k/d``;
        ``dL_k = wtave / den_k``, ``xbar_k`` the weighted mean of x over the step's risk set.
        """
        rt, f, den = self.rep_t, self.f, pc["den"]
        m, p = self.m, self.X.shape[1]
        dlam = self.wtave[rt] / den
        xbar = (pc["abase"][rt] + f[:, None] * pc["b"][rt]) / den[:, None]
        h0 = np.bincount(rt, weights=dlam, minlength=m)
        h1 = _binsum(rt, dlam[:, None] * xbar, m).reshape(m, p)
        hd0 = np.bincount(rt, weights=f * dlam, minlength=m)
        hd1 = _binsum(rt, (f * dlam)[:, None] * xbar, m).reshape(m, p)
        xmean = _binsum(rt, xbar, m).reshape(m, p) / self.d_int[:, None]
        c0 = np.concatenate([[0.0], np.cumsum(h0)])
        c1 = np.vstack([np.zeros((1, p)), np.cumsum(h1, axis=0)])
        risk = np.exp(pc["eta"])
        resid = -risk[:, None] * (self.X * c0[self.pos][:, None] - c1[self.pos])
        t, rd = self.tdead, risk[self.dead]
        resid[self.dead] += (self.Xd - xmean[t]) - rd[:, None] * (self.Xd * hd0[t][:, None] - hd1[t])
        return resid


@dataclass
class _Strata:
    """The strata of one model: sums of their log-likelihoods, scores and information matrices."""

    parts: Sequence[_Efron]
    rows: Sequence[np.ndarray]  # positions of each stratum's rows in the collapsed design

    def evaluate(self, beta):
        out = [ef.evaluate(beta) for ef in self.parts]
        return sum(ll for ll, _ in out), [pc for _, pc in out]

    def score_info(self, pcs, tws=None):
        tws = tws if tws is not None else [None] * len(self.parts)
        out = [ef.score_info(pc, tw) for ef, pc, tw in zip(self.parts, pcs, tws, strict=True)]
        return sum(u for u, _ in out), sum(i for _, i in out)

    def score_residuals(self, pcs, n_rows: int, p: int) -> np.ndarray:
        resid = np.zeros((n_rows, p))
        for ef, pc, rows in zip(self.parts, pcs, self.rows, strict=True):
            resid[rows] = ef.score_residuals(pc)
        return resid


def build_strata(time, dead, X, w, count, strata: np.ndarray | None, pattern: np.ndarray | None = None) -> _Strata:
    """One :class:`_Efron` per stratum with deaths (strata without deaths add nothing to the fit). ``pattern``:
    each row's distinct design row (codes 0..P-1, e.g. the combination of categorical covariates), optional."""
    Xu = None
    if pattern is not None:
        first = np.zeros(int(pattern.max()) + 1 if len(pattern) else 0, dtype=np.int64)
        first[pattern[::-1]] = np.arange(len(pattern))[::-1]  # a row of each pattern
        Xu = np.ascontiguousarray(X[first])
    if strata is None:
        return _Strata([_Efron(time, dead, X, w, count, pattern, Xu)], [np.arange(len(time))])
    parts, rows = [], []
    for s in np.unique(strata):
        idx = np.nonzero(strata == s)[0]
        if dead[idx].any():
            parts.append(_Efron(time[idx], dead[idx], X[idx], w[idx], count[idx],
                                None if pattern is None else pattern[idx], Xu))
            rows.append(idx)
    return _Strata(parts, rows)


@dataclass(frozen=True)
class NewtonFit:
    beta: np.ndarray
    loglik: float
    loglik_null: float
    pcs: list
    info: np.ndarray
    score: np.ndarray
    iterations: int
    converged: bool


def newton(model: _Strata, p: int, start: np.ndarray | None = None) -> NewtonFit:
    """Newton-Raphson from ``start`` (default 0) with step-halving; stops as R's ``coxfit6`` (relative
    log-likelihood change <= 1e-9). The null log-likelihood is always the one at 0."""
    beta = np.zeros(p) if start is None else np.asarray(start, dtype="float64").copy()
    ll, pcs = model.evaluate(beta)
    ll_null = ll if start is None else model.evaluate(np.zeros(p))[0]
    U, info = model.score_info(pcs)
    converged = False
    iterations = 0
    for _ in range(_MAX_ITER):
        iterations += 1
        try:
            step = np.linalg.solve(info, U)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "The Cox model cannot be estimated: its covariates are collinear (some level or "
                "combination carries no separate information). Remove or merge covariates."
            ) from exc
        new = beta + step
        ll_new, pcs_new = model.evaluate(new)
        halvings = 0
        while not (ll_new >= ll - 1e-12 * abs(ll)) and halvings < 30:  # step-halving, as R's coxfit6
            step = step / 2
            new = beta + step
            ll_new, pcs_new = model.evaluate(new)
            halvings += 1
        beta, pcs, old = new, pcs_new, ll
        ll = ll_new
        U, info = model.score_info(pcs)
        if halvings == 0 and abs(1 - old / ll) <= _EPS:
            converged = True
            break
    return NewtonFit(beta, ll, ll_null, pcs, info, U, iterations, converged)


def infinite_coefficients(fit: NewtonFit, var: np.ndarray) -> np.ndarray:
    """R ``coxph.fit``'s check after convergence: the next Newton step is still large relative to the
    coefficient (``|U V| > eps`` and ``> toler.inf |beta|``), i.e. the log-likelihood converged while the
    coefficient runs to infinity (monotone likelihood). Boolean per coefficient."""
    step = np.abs(fit.score @ var)
    return (step > _EPS) & (step > _TOLER_INF * np.abs(fit.beta))
