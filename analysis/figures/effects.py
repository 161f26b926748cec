"""A fair comparison's effect measures drawn: the absolute differences and the hazard ratios.

* :func:`contrasts_figure`: the headline numbers, relapse differences A minus B at the horizons and
  the difference in restricted mean relapse-free time, each row written out with its interval;
* :func:`window_hr_figure`: hazard ratios per window of follow-up beside the whole-period weighted and
  covariate-adjusted ones; a window without a ratio reads "no estimate" and has no point.

Inputs are :class:`analysis.comparison.Comparison`'s frames and dicts as published (a hidden value is
NaN or None); ``labels`` (:attr:`Comparison.labels`) names A and B.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures._compare import as_float, fitted_note, p_text, pair_names, place_row_labels
from analysis.figures._layout import _NOTE_COLOR, _esc, _f32, _layout, _num
from analysis.labels import fmt_p, fmt_pp

__all__ = ["contrasts_figure", "window_hr_figure"]


def _fmt_time(t: float) -> str:
    return f"{t:g}"


# ---------------------------------------------------------------------------------------------
# the headline: relapse differences and the RMST difference
# ---------------------------------------------------------------------------------------------
def _dot_row(fig: go.Figure, cats: list[str], est: np.ndarray, lo: np.ndarray, hi: np.ndarray, p: np.ndarray, *,
             name: str, symbol: str, hover_fmt: str, unit_text: str, row: int) -> None:
    """One dot-and-whisker series on horizontal rows (NaN estimates left out)."""
    ok = np.isfinite(est)
    lo_c, hi_c = np.where(np.isfinite(lo), lo, est), np.where(np.isfinite(hi), hi, est)
    custom = np.column_stack([lo, hi, [p_text(v) for v in p]]).astype(object)
    fig.add_trace(go.Scatter(
        x=_f32(est[ok]), y=np.array(cats, dtype=object)[ok], mode="markers", name=name, showlegend=False,
        marker={"color": "#000000", "size": 11, "symbol": symbol},
        error_x={"type": "data", "symmetric": False, "array": _f32((hi_c - est)[ok]),
                 "arrayminus": _f32((est - lo_c)[ok]), "color": "#333333", "thickness": 1.5, "width": 5},
        customdata=custom[ok],
        hovertemplate=f"%{{x:{hover_fmt}}}{unit_text} (95% CI %{{customdata[0]:{hover_fmt}}} to "
                      f"%{{customdata[1]:{hover_fmt}}}), %{{customdata[2]}}<extra>%{{y}}</extra>"), row=row, col=1)


def _symmetric_range(est, lo, hi, floor: float) -> list[float]:
    vals = np.concatenate([np.abs(v[np.isfinite(v)]) for v in (est, lo, hi)] + [np.array([floor])])
    edge = float(vals.max()) * 1.15
    return [-edge, edge]


def contrasts_figure(differences: pd.DataFrame, rmst: Mapping | None = None, *,
                     labels: Mapping[str, object] | None = None, time_unit: str = "days",
                     horizons: Sequence[float] | None = None, title: str | None = None,
                     compact: bool = False) -> go.Figure:
    """The headline: adjusted absolute differences, A minus B, each row written out with its interval.

    Top: the difference in the share relapsed by each horizon (weighted Kaplan-Meier,
    ``(1 - S_A) - (1 - S_B)``; proportions 0-1 on the axis, shown in percentage points) with its 95%
    interval. Bottom: the difference in restricted mean relapse-free time to ``tau`` (in ``time_unit``).
    Each row's label says the number in words ("By 90 days: +3.3 pp (95% CI -0.8 to +7.5)"); zero is
    drawn, and the axes are centred on it, so the side a dot is on reads at once. A hidden (NaN)
    estimate has no dot and is named in a note.

    Parameters
    ----------
    differences : DataFrame
        :attr:`Comparison.differences`: ``time``, ``relapse_difference``, ``relapse_lower``,
        ``relapse_upper``, ``p``.
    rmst : mapping, optional
        :attr:`Comparison.rmst`: ``tau``, ``estimate``, ``lower``, ``upper``, ``p`` (and ``rmst_a``, ``rmst_b``).
    horizons : sequence of float, optional
        Horizons to draw (default every one in ``differences``).
    """
    a_name, b_name = pair_names(labels)
    title = title or f"Adjusted differences, {a_name} minus {b_name}"
    d = differences.copy()
    if horizons is not None:
        d = d[d["time"].astype(float).isin([float(h) for h in horizons])]
    d = d.sort_values("time").reset_index(drop=True)
    est, lo, hi, p = (_num(d, c) for c in ("relapse_difference", "relapse_lower", "relapse_upper", "p"))
    cats = [_esc(f"Relapsed by {t:g} {time_unit}: " + (fmt_pp(e, a, b) if np.isfinite(e) else "not shown"))
            for t, e, a, b in zip(d["time"].to_numpy(dtype="float64"), est, lo, hi, strict=True)]
    r = {k: as_float((rmst or {}).get(k)) for k in ("tau", "estimate", "lower", "upper", "p", "rmst_a", "rmst_b")}
    has_rmst = rmst is not None
    rows = 2 if has_rmst else 1
    row_px = 46 if compact else 34
    panel = [len(cats) * row_px + 40, row_px + 40] if has_rmst else [len(cats) * row_px + 40]
    gap = 110
    total = sum(panel) + gap * (rows - 1)
    fig = make_subplots(rows=rows, cols=1, row_heights=[h / total for h in panel],
                        vertical_spacing=gap / total if rows > 1 else 0.0)
    _dot_row(fig, cats, est, lo, hi, p, name="Relapse difference (95% CI)", symbol="circle", hover_fmt="+.1%",
             unit_text="", row=1)
    fig.add_vline(x=0, line_color="#444444", line_width=1, row=1, col=1)
    fig.update_xaxes(tickformat="+.0%", range=_symmetric_range(est, lo, hi, 0.02), row=1, col=1,
                     title_text=(f"Relapsed, {_esc(a_name)} minus {_esc(b_name)} (percentage points)" if not compact
                                 else "Relapsed, A minus B (percentage points)"))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=cats, autorange="reversed", row=1, col=1)
    rcat = []
    if has_rmst:
        word = time_unit[:-1] if time_unit.endswith("s") else time_unit
        text = (f"{r['estimate']:+.1f} {time_unit} (95% CI {r['lower']:+.1f} to {r['upper']:+.1f})"
                if np.isfinite(r["estimate"]) else "not shown")
        rcat = [_esc(f"Relapse-free {time_unit} of the first {r['tau']:g}: {text}")]
        _dot_row(fig, rcat, np.array([r["estimate"]]), np.array([r["lower"]]), np.array([r["upper"]]),
                 np.array([r["p"]]), name=f"Restricted mean difference, {word}s (95% CI)", symbol="diamond",
                 hover_fmt="+.1f", unit_text=f" {time_unit}", row=2)
        fig.add_vline(x=0, line_color="#444444", line_width=1, row=2, col=1)
        fig.update_xaxes(range=_symmetric_range(np.array([r["estimate"]]), np.array([r["lower"]]),
                                                np.array([r["upper"]]), 1.0), row=2, col=1,
                         title_text=(f"Relapse-free {time_unit}, {_esc(a_name)} minus {_esc(b_name)}" if not compact
                                     else f"Relapse-free {time_unit}, A minus B"))
        fig.update_yaxes(type="category", categoryarray=rcat, row=2, col=1)
    _layout(fig, title, height=total + (150 if compact else 130), compact=compact)
    fig.update_layout(showlegend=False)
    left = place_row_labels(fig, cats + rcat, compact=compact) if not compact else 14
    place_row_labels(fig, cats, compact=compact, left=left)
    if rcat:
        place_row_labels(fig, rcat, compact=compact, yaxis="y2", left=left)
    notes = []
    if has_rmst and np.isfinite(r["rmst_a"]) and np.isfinite(r["rmst_b"]):
        notes.append(f"Mean relapse-free {time_unit} of the first {r['tau']:g}: {a_name} {r['rmst_a']:.1f}, "
                     f"{b_name} {r['rmst_b']:.1f}")
    if compact:
        notes.append(f"A = {a_name}, B = {b_name}")
    notes.append(f"right of zero: more of {a_name} relapsed (top)" + (
        f", {a_name} relapse-free longer (bottom)" if has_rmst else ""))
    notes.append("weighted Kaplan-Meier, 95% intervals from its robust influence values")
    fitted_note(fig, "; ".join(notes) + ".", compact=compact, left=left)
    return fig


# ---------------------------------------------------------------------------------------------
# hazard ratios: windows beside the whole period
# ---------------------------------------------------------------------------------------------
def _hr_dict(h) -> dict | None:
    if h is None:
        return None
    d = h.to_dict() if hasattr(h, "to_dict") else dict(h)
    return {k: as_float(d.get(k)) for k in ("hr", "lower", "upper", "p")}


def window_hr_figure(window_hr: pd.DataFrame, *, weighted=None, adjusted=None,
                     labels: Mapping[str, object] | None = None, time_unit: str = "days",
                     ph_p: float | None = None, title: str | None = None, compact: bool = False) -> go.Figure:
    """Hazard ratios of relapse, A vs B: per window of follow-up, and over the whole period.

    Rows top to bottom: each window (``from_time``-``to_time``, covariate-adjusted, follow-up split at the
    limits as R ``survSplit``), then the whole-period weighted ratio (robust interval) and the
    covariate-adjusted one. Log axis, line at one. A window or model without a ratio (NaN: no relapse in a
    group, or hidden) is written "no estimate" at the line, with no point. ``ph_p`` (the
    proportional-hazards test) adds a note: when it is below 0.05 the whole-period ratio averages hazards
    that change over time, and the windows show where.

    Parameters
    ----------
    window_hr : DataFrame
        :attr:`WindowHazards.table`: ``from_time``, ``to_time``, ``hr``, ``lower``, ``upper``, ``p``.
    weighted, adjusted : HazardRatio or mapping, optional
        ``hr``, ``lower``, ``upper``, ``p`` (:attr:`Comparison.weighted_cox` / ``adjusted_cox`` or their dicts).
    """
    a_name, b_name = pair_names(labels)
    title = title or f"Hazard ratios of relapse, {a_name} vs {b_name}"
    unit = time_unit[:1].upper() + time_unit[1:]
    rows = []
    for r in window_hr.itertuples():
        rows.append({"label": f"{unit} {_fmt_time(r.from_time)}-{_fmt_time(r.to_time)}", "kind": "window",
                     "hr": as_float(r.hr), "lower": as_float(r.lower), "upper": as_float(r.upper), "p": as_float(r.p)})
    for name, h in (("Whole period, weighted", weighted), ("Whole period, covariate-adjusted", adjusted)):
        d = _hr_dict(h)
        if d is not None:
            rows.append({"label": name, "kind": "overall", **d})
    t = pd.DataFrame(rows, columns=["label", "kind", "hr", "lower", "upper", "p"])
    hr, lo, hi, p = (t[c].to_numpy(dtype="float64") for c in ("hr", "lower", "upper", "p"))
    ok = np.isfinite(hr) & (hr > 0)
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (hr, lo, hi)] + [np.array([1.0])])
    x_min, x_max = min(finite.min() / 1.3, 0.8), max(finite.max() * 1.3, 1.25)
    lo_c = np.where(np.isfinite(lo) & (lo > 0), lo, x_min)
    hi_c = np.where(np.isfinite(hi), hi, x_max)
    cats = t["label"].tolist()
    fig = go.Figure()
    for kind, symbol, name in (("window", "square", "Window (covariate-adjusted)"),
                               ("overall", "diamond", "Whole period")):
        m = ok & (t["kind"] == kind).to_numpy()
        if not m.any():
            continue
        fig.add_trace(go.Scatter(
            x=_f32(hr[m]), y=np.array(cats, dtype=object)[m], mode="markers", name=f"{name} (95% CI)",
            marker={"color": "#000000", "size": 10 if kind == "window" else 12, "symbol": symbol},
            error_x={"type": "data", "symmetric": False, "array": _f32((hi_c - hr)[m]),
                     "arrayminus": _f32((hr - lo_c)[m]), "color": "#333333", "thickness": 1.5, "width": 4},
            customdata=np.column_stack([lo[m], hi[m], [p_text(v) for v in p[m]]]).astype(object),
            hovertemplate="HR %{x:.2f} (95% CI %{customdata[0]:.2f} to %{customdata[1]:.2f}), %{customdata[2]}"
                          "<extra>%{y}</extra>"))
    for i in np.flatnonzero(~ok):
        fig.add_annotation(x=0, y=cats[i], text="no estimate", showarrow=False, xanchor="center",
                           font={"size": 11, "color": _NOTE_COLOR}, bgcolor="rgba(255,255,255,0.9)", name="no estimate")
    if (~ok).any():  # the category must exist on the axis even with no point on it
        fig.add_trace(go.Scatter(x=[None] * int((~ok).sum()), y=np.array(cats, dtype=object)[~ok], mode="markers",
                                 showlegend=False, hoverinfo="skip", name="no estimate"))
    fig.add_vline(x=1, line_dash="dash", line_color="#444444", line_width=1)
    n_win = int((t["kind"] == "window").sum())
    if 0 < n_win < len(t) and not compact:  # a rule between the windows and the whole period
        fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y", y0=n_win - 0.5, y1=n_win - 0.5,
                      line={"color": "#BBBBBB", "width": 1}, name="separator")
    ticks = [v for v in (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10) if x_min <= v <= x_max]
    fig.update_xaxes(type="log", title_text="Hazard ratio (log scale)", range=[np.log10(x_min), np.log10(x_max)],
                     tickvals=ticks, ticktext=[f"{v:g}" for v in ticks], minor={"showgrid": False})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=cats, autorange="reversed",
                     title_text="" if compact else "Follow-up")
    _layout(fig, title, height=max(320, 150 + (46 if compact else 36) * len(t)), compact=compact)
    left = place_row_labels(fig, cats, compact=compact)
    notes = [f"Above one: {a_name} relapses sooner than {b_name}"]
    if ph_p is not None and np.isfinite(ph_p):
        if ph_p < 0.05:
            notes.append(f"proportional hazards rejected (p {'< 0.001' if ph_p < 0.001 else '= ' + fmt_p(ph_p)}):"
                         " the whole-period ratio averages hazards that change over follow-up, read the windows")
        else:
            notes.append(f"no evidence against proportional hazards (p = {fmt_p(ph_p)})")
    if (~ok).any():
        notes.append("no estimate: no relapse in a group in that window, or hidden")
    if ok.any() and (~np.isfinite(hi[ok]) | ~(lo[ok] > 0)).any():
        notes.append("open-ended intervals clipped at the axis")
    fitted_note(fig, "; ".join(notes) + ".", compact=compact, left=left)
    return fig
