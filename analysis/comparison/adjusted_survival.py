"""Weighted Kaplan-Meier curves per group with infinitesimal-jackknife (robust) variance, and the
adjusted absolute contrasts built on them: survival and relapse differences at horizons, RMST difference.

Each group's curve is the Kaplan-Meier estimate with case weights ``w`` (the propensity weights):
``S(t) = prod_{t_j <= t} (1 - d_j / n_j)`` with weighted deaths ``d_j`` and weighted numbers at risk
``n_j``. Its variance is R survival's robust one for weighted curves, ``survfit(..., weights = w,
robust = TRUE, id = cluster)``, the default there for non-integer weights: the infinitesimal jackknife
``Var S(t) = sum_c (sum_{i in c} w_i U_i(t))^2`` over clusters ``c`` (each episode its own cluster
unless a cluster column, e.g. ``client_id``, groups them), with ``U_i(t) = dS(t) / dw_i =
-S(t) sum_{t_j <= t} (dN_i(t_j) - Y_i(t_j) d_j / n_j) / (n_j - d_j)``. Intervals are log-log
(``conf.type = "log-log"``, the project's convention) on that standard error.

Contrasts (A minus B) use the same influence values: ``D = sum_c (sum_{i in c, A} w_i U_i -
sum_{i in c, B} w_i U_i)``, so a person with episodes in both groups is counted once; normal intervals and
two-sided p. For the RMST to ``tau`` the influence of a row is ``integral_0^tau U_i(t) dt``. The weights
are treated as known: the uncertainty of the propensity model itself is not propagated (usually
conservative for the ATE; Austin 2016).

References
----------
Cole SR, Hernan MA. Adjusted survival curves with inverse probability weights. Comput Methods Programs
Biomed 2004;75:45-9. Austin PC. Variance estimation when using inverse probability of treatment
weighting with survival analysis. Stat Med 2016;35:5642-55. Therneau TM. survival: ``survfitKM``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.cox import design
from analysis.survival import _loglog_ci

__all__ = ["WeightedKM", "weighted_km"]

@dataclass(frozen=True)
class _Group:
    """One group's weighted Kaplan-Meier with the pieces of its influence values."""

    times: np.ndarray  # distinct times
    surv: np.ndarray
    n_w: np.ndarray  # weighted at risk
    d_w: np.ndarray  # weighted relapses
    n_raw: np.ndarray  # people at risk
    d_raw: np.ndarray  # relapses (people)
    c_raw: np.ndarray  # censored (people; deaths included)
    k: np.ndarray  # per row: index of its time
    event: np.ndarray  # per row: relapse (bool)
    w: np.ndarray  # per row weight
    cinv: np.ndarray  # 1 / (n - d), 0 where n == d
    B: np.ndarray  # cumulative sum of (d / n) / (n - d)

    def index(self, t: np.ndarray) -> np.ndarray:
        """Index of the last time <= t (-1 before the first)."""
        return np.searchsorted(self.times, t, side="right") - 1

    def surv_at(self, j: np.ndarray) -> np.ndarray:
        return np.where(j >= 0, self.surv[np.maximum(j, 0)], 1.0)

    def log_influence(self, j: np.ndarray) -> np.ndarray:
        """``d log S(t_j) / d w_i`` per row (rows x len(j)); 0 for j = -1."""
        jj = np.maximum(j, 0)[None, :]
        k = self.k[:, None]
        val = self.B[np.minimum(jj, k)] - np.where(self.event[:, None] & (k <= jj), self.cinv[self.k][:, None], 0.0)
        return np.where(j[None, :] >= 0, val, 0.0)

    def rmst(self, tau: float) -> tuple[float, np.ndarray]:
        """RMST to tau and each row's (unweighted) influence on it."""
        t = self.times
        nxt = np.append(t[1:], np.inf)
        width = np.clip(np.minimum(nxt, tau) - t, 0.0, None)
        area = width * self.surv
        est = min(t[0], tau) + area.sum() if len(t) else tau
        tail = np.cumsum(area[::-1])[::-1]  # area from t_k to tau
        P = np.concatenate([[0.0], np.cumsum(area * self.B)])  # P[k] = sum_{j < k}
        k = self.k
        infl = P[k] + (self.B[k] - np.where(self.event, self.cinv[k], 0.0)) * tail[k]
        return float(est), infl


def _group(time: np.ndarray, event: np.ndarray, w: np.ndarray) -> _Group:
    times, k = np.unique(time, return_inverse=True)
    k = k.ravel()
    m = len(times)
    nw = np.cumsum(np.bincount(k, weights=w, minlength=m)[::-1])[::-1]
    dw = np.bincount(k, weights=np.where(event, w, 0.0), minlength=m)
    nr = np.cumsum(np.bincount(k, minlength=m)[::-1])[::-1].astype("float64")
    dr = np.bincount(k[event], minlength=m).astype("float64")
    cr = np.bincount(k[~event], minlength=m).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - dw / nw)
        gap = nw - dw
        open_ = gap > 1e-12 * nw
        cinv = np.where(open_, 1 / np.where(open_, gap, 1.0), 0.0)
    B = np.cumsum(dw / nw * cinv)
    return _Group(times, surv, nw, dw, nr, dr, cr, k, event, w, cinv, B)


@dataclass(frozen=True)
class WeightedKM:
    """Weighted Kaplan-Meier curves of groups A and B with their influence values (:func:`weighted_km`)."""

    a: _Group
    b: _Group
    rows_a: np.ndarray  # positions of A's rows in the population
    rows_b: np.ndarray
    cluster: np.ndarray | None  # cluster code per population row
    z: float

    def _var_from(self, infl: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``sum_c (sum_{i in c} infl_i)^2`` (infl already weighted), per column."""
        if self.cluster is None:
            return (infl * infl).sum(axis=0)
        codes = self.cluster[rows]
        out = np.zeros(infl.shape[1])
        for j in range(infl.shape[1]):
            s = np.bincount(codes, weights=infl[:, j])
            out[j] = s @ s
        return out

    def curves(self) -> pd.DataFrame:
        """Both curves at every distinct time (with a time-0 row), robust standard errors, log-log 95% CIs.

        Columns: ``group`` ("a"/"b"), ``time``, ``survival``, ``std_err`` (of S), ``ci_lower``, ``ci_upper``,
        ``n_at_risk`` and ``n_event`` and ``n_censor`` (people; counts of people), ``n_at_risk_weighted``,
        ``n_event_weighted``.
        """
        parts = []
        for label, g, rows in (("a", self.a, self.rows_a), ("b", self.b, self.rows_b)):
            var = self._curve_variance(g, rows)
            se = np.sqrt(var)
            with np.errstate(divide="ignore", invalid="ignore"):
                se_log = np.where(g.surv > 0, se / g.surv, np.nan)
            lo, hi = _loglog_ci(g.surv, se_log, self.z)
            body = pd.DataFrame({"group": label, "time": g.times, "survival": g.surv, "std_err": se,
                                 "ci_lower": lo, "ci_upper": hi, "n_at_risk": g.n_raw, "n_event": g.d_raw,
                                 "n_censor": g.c_raw, "n_at_risk_weighted": g.n_w, "n_event_weighted": g.d_w})
            if g.times[0] != 0:
                start = body.iloc[:1].assign(time=0.0, survival=1.0, std_err=0.0, ci_lower=1.0, ci_upper=1.0,
                                             n_event=0.0, n_censor=0.0, n_event_weighted=0.0)
                body = pd.concat([start, body], ignore_index=True)
            parts.append(body)
        out = pd.concat(parts, ignore_index=True)
        out.attrs["count_columns"] = ["n_at_risk", "n_event", "n_censor", "n_at_risk_weighted", "n_event_weighted"]
        return out

    def _curve_variance(self, g: _Group, rows: np.ndarray) -> np.ndarray:
        """IJ variance of S at every distinct time, summed by cluster, in one sorted pass.

        A cluster's weighted influence on log S(t_j) is ``B_j R_c(j) + Q_c(j)`` with ``R_c(j)`` the weight of
        its rows still at risk after t_j and ``Q_c(j)`` the sum of ``w (B_k - e / (n_k - d_k))`` over its
        rows that ended by t_j. So ``sum_c (...)^2 = B_j^2 sum R^2 + 2 B_j sum RQ + sum Q^2``, and each of the
        three sums changes only where a row ends: accumulated as differences at the rows' time indices.
        """
        m = len(g.times)
        lk = g.w * (g.B[g.k] - np.where(g.event, g.cinv[g.k], 0.0))
        codes = self.cluster[rows] if self.cluster is not None else np.arange(len(rows))
        order = np.lexsort((g.k, codes))
        c, k, w, q = codes[order], g.k[order], g.w[order], lk[order]
        first = np.concatenate([[True], c[1:] != c[:-1]])
        starts = np.nonzero(first)[0]
        group_id = np.cumsum(first) - 1
        csum_w = np.cumsum(w)
        csum_q = np.cumsum(q)
        base_w = np.concatenate([[0.0], csum_w])[starts][group_id]
        base_q = np.concatenate([[0.0], csum_q])[starts][group_id]
        total_w = np.add.reduceat(w, starts)[group_id]
        r_after = total_w - (csum_w - base_w)
        q_after = csum_q - base_q
        r_before = r_after + w
        q_before = q_after - q
        r2 = np.bincount(k, weights=r_after ** 2 - r_before ** 2, minlength=m)
        rq = np.bincount(k, weights=r_after * q_after - r_before * q_before, minlength=m)
        q2 = np.bincount(k, weights=q_after ** 2 - q_before ** 2, minlength=m)
        sum_r2 = (np.add.reduceat(w, starts) ** 2).sum() + np.cumsum(r2)
        var_log = g.B ** 2 * sum_r2 + 2 * g.B * np.cumsum(rq) + np.cumsum(q2)
        return g.surv * g.surv * np.maximum(var_log, 0.0)

    def at(self, horizons: Sequence[float]) -> pd.DataFrame:
        """Each curve at the horizons (value at the last time <= h), robust se and log-log CI, and the
        numbers at risk at h (T >= h; people and weighted). ``count_columns`` in ``attrs``."""
        h = np.asarray(horizons, dtype="float64")
        parts = []
        for label, g, rows in (("a", self.a, self.rows_a), ("b", self.b, self.rows_b)):
            j = g.index(h)
            s = g.surv_at(j)
            infl = g.w[:, None] * g.log_influence(j) * s[None, :]
            se = np.sqrt(self._var_from(infl, rows))
            with np.errstate(divide="ignore", invalid="ignore"):
                lo, hi = _loglog_ci(s, np.where(s > 0, se / s, np.nan), self.z)
            lo, hi = np.where(j < 0, 1.0, lo), np.where(j < 0, 1.0, hi)
            nxt = np.searchsorted(g.times, h, side="left")
            parts.append(pd.DataFrame({
                "group": label, "time": h, "survival": s, "std_err": se, "ci_lower": lo, "ci_upper": hi,
                "n_at_risk": np.append(g.n_raw, 0.0)[nxt], "n_at_risk_weighted": np.append(g.n_w, 0.0)[nxt]}))
        out = pd.concat(parts, ignore_index=True)
        out.attrs["count_columns"] = ["n_at_risk", "n_at_risk_weighted"]
        return out

    def _contrast(self, est_a, est_b, infl_a, infl_b) -> tuple[np.ndarray, np.ndarray]:
        diff = np.asarray(est_a) - np.asarray(est_b)
        if self.cluster is None:
            var = (infl_a * infl_a).sum(axis=0) + (infl_b * infl_b).sum(axis=0)
        else:
            codes = np.concatenate([self.cluster[self.rows_a], self.cluster[self.rows_b]])
            both = np.vstack([infl_a, -infl_b])
            var = np.array([np.sum(np.bincount(codes, weights=both[:, j]) ** 2) for j in range(both.shape[1])])
        return diff, np.sqrt(var)

    def differences(self, horizons: Sequence[float]) -> pd.DataFrame:
        """Survival and relapse differences A minus B at the horizons, robust se, normal CI, two-sided p.

        Columns: ``time``, ``survival_a``, ``survival_b``, ``survival_difference``, ``relapse_difference``
        (``(1 - S_A) - (1 - S_B)``, proportion), ``se``, ``relapse_lower``, ``relapse_upper``, ``p``.
        """
        h = np.asarray(horizons, dtype="float64")
        est, infl = [], []
        for g in (self.a, self.b):
            j = g.index(h)
            s = g.surv_at(j)
            est.append(s)
            infl.append(g.w[:, None] * g.log_influence(j) * s[None, :])
        diff, se = self._contrast(est[0], est[1], infl[0], infl[1])
        return pd.DataFrame({"time": h, "survival_a": est[0], "survival_b": est[1], "survival_difference": diff,
                             "relapse_difference": -diff, "se": se, "relapse_lower": -diff - self.z * se,
                             "relapse_upper": -diff + self.z * se, "p": _p(diff, se)})

    def rmst_difference(self, tau: float) -> dict:
        """Adjusted restricted mean time free of relapse to ``tau`` per group and A minus B, with robust se."""
        ra, ia = self.a.rmst(tau)
        rb, ib = self.b.rmst(tau)
        ia, ib = (self.a.w * ia)[:, None], (self.b.w * ib)[:, None]
        diff, se = self._contrast([ra], [rb], ia, ib)
        se_a, se_b = np.sqrt(self._var_from(ia, self.rows_a)[0]), np.sqrt(self._var_from(ib, self.rows_b)[0])
        d, s = float(diff[0]), float(se[0])
        return {"tau": float(tau), "rmst_a": ra, "rmst_b": rb, "se_a": float(se_a), "se_b": float(se_b),
                "estimate": d, "se": s, "lower": d - self.z * s, "upper": d + self.z * s, "p": float(_p(d, s))}


def _p(diff, se):
    diff, se = np.asarray(diff, dtype="float64"), np.asarray(se, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, 2 * stats.norm.sf(np.abs(diff) / np.where(se > 0, se, 1.0)),
                        np.where(diff == 0, 1.0, 0.0))


def weighted_km(time: np.ndarray, relapse: np.ndarray, weights: np.ndarray, in_a: np.ndarray, *,
                cluster: np.ndarray | None = None, conf_level: float = 0.95) -> WeightedKM:
    """Weighted Kaplan-Meier of groups A and B (see the module notes); ``relapse`` is the event (bool),
    deaths and censorings are both censored; ``cluster`` an optional id per row (e.g. client)."""
    time = np.asarray(time, dtype="float64")
    relapse = np.asarray(relapse, dtype=bool)
    w = np.asarray(weights, dtype="float64")
    in_a = np.asarray(in_a, dtype=bool)
    codes = pd.factorize(design.value_codes(cluster))[0] if cluster is not None else None
    rows_a, rows_b = np.nonzero(in_a)[0], np.nonzero(~in_a)[0]
    z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    return WeightedKM(_group(time[rows_a], relapse[rows_a], w[rows_a]), _group(time[rows_b], relapse[rows_b], w[rows_b]),
                      rows_a, rows_b, codes, z)
