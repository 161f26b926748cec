"""Survival curves that can be published: the exact estimate, drawn only at safe times.

A Kaplan-Meier curve drawn at every event time gives away the number of relapses on each day
(the size of a step times the number at risk), almost always 1 to 10. So a published curve keeps the
exact estimate (equal to R's ``survfit``) but only at *corners* chosen so that between two consecutive
corners there are no relapses or at least ``min_cell``, and the number still at risk (shown after each
corner) drops by 0 or at least ``min_cell`` (censorings alone are not given exactly: the relapses
between corners are only approximately recoverable from the curve). The shown days of the at-risk table (anchors, decided by
the ledger, whose chains protect censorings between shown days) are corners; between them corners are
placed greedily, each as early as the condition allows. The curve starts at day 0 with everyone at
risk, and stops at the last corner where at least ``min_cell`` remain at risk.

The same idea with another event serves the retention curve (discharge is the event, still in
treatment is censoring); the cumulative incidence curves use a subset of the Kaplan-Meier corners
on which deaths also come in steps of 0 or at least ``min_cell`` (a step of the death curve gives the
deaths away as a KM step gives the relapses), and a group with too few such corners is not drawn.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["safe_corners", "publish_km", "publish_cif"]


def _ok(count: float, min_cell: int) -> bool:
    return count == 0 or count >= min_cell


def safe_corners(times: np.ndarray, events: np.ndarray, censored: np.ndarray, followed: float,
                 anchors: Sequence[float], min_cell: int, blocked: Iterable[float] = (),
                 extra: np.ndarray | None = None) -> list[float]:
    """Times (sorted) at which a curve can be drawn, anchors included (see the module docstring).

    Parameters
    ----------
    times, events, censored : arrays
        Distinct times and the events and censorings at each (``censored`` includes competing events
        unless they are passed as ``extra``).
    followed : float
        People at risk at the start.
    anchors : sequence of float
        Days that must be corners (their counts are published elsewhere); assumed safe between each
        other, as the ledger decided.
    blocked : iterable of float
        Times that must not be corners (a wider filter setting differs there by a small count).
    extra : array, optional
        A third count per time (deaths, for the competing-risks curves) with the same condition.
    """
    times = np.asarray(times, dtype="float64")
    cum_e = np.cumsum(events)
    cum_c = np.cumsum(censored)
    cum_x = np.cumsum(extra) if extra is not None else np.zeros_like(cum_e)
    after = followed - cum_e - cum_c - (cum_x if extra is not None else 0.0)
    blocked = set(float(b) for b in blocked)

    def at(t: float) -> tuple[float, float, float]:
        i = np.searchsorted(times, t, side="right") - 1
        if i < 0:
            return 0.0, 0.0, 0.0
        return float(cum_e[i]), float(cum_c[i]), float(cum_x[i])

    def safe_between(a: tuple, b: tuple) -> bool:
        # between two shown points: relapses, the extra count, and everyone who left (the drop of the number
        # at risk) are each 0 or >= min_cell; censorings alone are not a step of the curve
        exits = sum(y - x for x, y in zip(a, b, strict=True))
        return _ok(b[0] - a[0], min_cell) and _ok(b[2] - a[2], min_cell) and _ok(exits, min_cell)

    def open_risk(t: float) -> float:
        i = np.searchsorted(times, t, side="right") - 1
        return followed if i < 0 else float(after[i])

    anchors = sorted(float(a) for a in anchors if open_risk(a) >= min_cell)
    corners: list[float] = []
    last = (0.0, 0.0, 0.0)  # counts just before day 0
    bounds = [*anchors, None]
    j = 0
    for stop in bounds:
        end = at(stop) if stop is not None else None
        while j < len(times) and (stop is None or times[j] < stop):
            t = float(times[j])
            j += 1
            if events[j - 1] == 0 or t in blocked or after[j - 1] < min_cell:
                continue
            here = at(t)
            if here[0] - last[0] < min_cell or not safe_between(last, here):
                continue
            if end is not None and not safe_between(here, end):
                continue
            corners.append(t)
            last = here
        if stop is None:
            break
        corners.append(stop)
        last = end
        while j < len(times) and times[j] <= stop:
            j += 1
    return sorted(set(corners))


def publish_km(km: pd.DataFrame, *, followed: dict, anchors: dict, min_cell: int,
               blocked: dict | None = None, value_cols=("survival", "ci_lower", "ci_upper")) -> pd.DataFrame:
    """The published curves of a :func:`analysis.survival.km_by_group` frame (or the retention curve).

    Only the groups in ``followed`` (group -> people at risk at the start, all shown) are kept. Per
    group, one row at day 0 with everyone at risk and the curve at 1, then one row per corner
    (:func:`safe_corners`) with the exact estimate there and ``n_at_risk`` the number still at risk
    after it; ``n_event`` / ``n_censor`` are the counts since the previous corner (0 or at least
    ``min_cell``), so figure builders can draw from it unchanged.
    """
    blocked = blocked or {}
    parts = []
    for g, k in km.groupby("group", observed=True, sort=False):
        if g not in followed:
            continue
        k = k[(k["n_event"] > 0) | (k["n_censor"] > 0)]
        t = k["time"].to_numpy(dtype="float64")
        ev = k["n_event"].to_numpy(dtype="float64")
        ce = k["n_censor"].to_numpy(dtype="float64")
        f = float(followed[g])
        corners = safe_corners(t, ev, ce, f, anchors.get(g, ()), min_cell, blocked.get(g, ()))
        # an anchor before the first time (day 0 from admission, when nobody relapsed that day) is the start row
        # again: no row of its own (its index would be -1, the curve's last row)
        corners = [c for c in corners if len(t) and c >= t[0]]
        idx = np.searchsorted(t, corners, side="right") - 1
        cum_e, cum_c = np.cumsum(ev), np.cumsum(ce)
        after = f - cum_e[idx] - cum_c[idx] if len(idx) else np.array([])
        rows = {"group": g, "time": [0.0, *corners], "n_at_risk": [f, *after]}
        prev_e = np.concatenate([[0.0], cum_e[idx]])
        prev_c = np.concatenate([[0.0], cum_c[idx]])
        rows["n_event"] = np.diff(prev_e, prepend=0.0)
        rows["n_censor"] = np.diff(prev_c, prepend=0.0)
        for col in value_cols:
            vals = k[col].to_numpy(dtype="float64")
            rows[col] = [1.0 if col != "std_err" else 0.0, *vals[idx]]
        parts.append(pd.DataFrame(rows))
    cols = ["group", "time", "n_at_risk", "n_event", "n_censor", *value_cols]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    out["group"] = pd.Categorical(out["group"], categories=[g for g in km["group"].cat.categories
                                                            if g in followed])
    return out


def publish_cif(cif: pd.DataFrame, km_published: pd.DataFrame, deaths: dict, min_cell: int,
                max_step: float = 0.10) -> pd.DataFrame:
    """Cumulative incidence curves at a subset of the published Kaplan-Meier corners.

    Consecutive corners are merged until the deaths between them are 0 or at least ``min_cell``
    (``deaths``: group -> (times, deaths per time)). Values are read from ``cif`` (group, time,
    cif_relapse, ci_lower, ci_upper, cif_death) at each kept corner; ``n_at_risk`` is the published
    number at risk after the corner. A group whose kept corners leave a step of more than ``max_step``
    in either curve is left out: with rare deaths the safe corners are far apart, and a curve flat for
    months and then jumping would misrepresent the incidence between them.
    """
    parts = []
    for g, k in km_published.groupby("group", observed=True, sort=False):
        c = cif[cif["group"].astype(object) == g]
        if c.empty or g not in deaths:
            continue
        dt, dn = deaths[g]
        cum_d = np.concatenate([[0.0], np.cumsum(dn)])
        corners = k["time"].to_numpy(dtype="float64")
        keep, last = [0], 0.0
        for i, t in enumerate(corners[1:], start=1):
            d = cum_d[np.searchsorted(dt, t, side="right")]
            if _ok(d - last, min_cell):
                keep.append(i)
                last = d
        kk = k.iloc[keep]
        ct = c["time"].to_numpy(dtype="float64")
        pos = np.maximum(np.searchsorted(ct, kk["time"].to_numpy(), side="right") - 1, 0)
        vals = {col: c[col].to_numpy(dtype="float64")[pos] for col in ("cif_relapse", "ci_lower", "ci_upper",
                                                                        "cif_death")}
        first = kk["time"].to_numpy() == 0
        for col in vals:
            vals[col] = np.where(first, 0.0, vals[col])
        if len(kk) < 3 or max(np.diff(vals["cif_relapse"]).max(), np.diff(vals["cif_death"]).max()) > max_step:
            continue
        parts.append(pd.DataFrame({"group": g, "time": kk["time"].to_numpy(), "n_at_risk": kk["n_at_risk"].to_numpy(),
                                   **vals}))
    cols = ["group", "time", "n_at_risk", "cif_relapse", "ci_lower", "ci_upper", "cif_death"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    out["group"] = pd.Categorical(out["group"], categories=[g for g in km_published["group"].cat.categories
                                                            if g in set(out["group"])])
    return out
