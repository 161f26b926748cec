"""Time to relapse: Kaplan-Meier per group with numbers at risk, medians, log-rank, RMST, competing risks."""
import numpy as np
import streamlit as st

from analysis import figures
from analysis.suppression import suppress_counts
from analysis.survival import rmst_difference
from ui import compute
from ui.state import context
from ui.widgets import BY_LABELS, Col, chart, fmt_p, label, page_guard, require_data, table

st.title("Time to relapse")
ctx = context()
origin = ctx.origin
st.caption(f"Clock starts at **{origin}** (switch in the sidebar). "
           + ("From discharge: durability after treatment; relapses during treatment count at day 0."
              if origin == "discharge" else
              "From admission: intention to treat; a residential stay protects by design while it lasts."))

if require_data(ctx):
    c, by, key, mc = ctx.cohort, ctx.by, ctx.key, ctx.min_cell
    by_label = BY_LABELS.get(by, by)
    with page_guard("The Kaplan-Meier curves"):
        km = compute.km(key, c, by, origin)
        t_max = float(np.nanmax(km["time"])) if len(km) else 0.0
        days = tuple(d for d in (0, 90, 180, 365, 545, 730, 1095) if d <= max(t_max, 0))
        at_risk = compute.at_risk(key, c, by, origin, days)
        band = (0.40, 0.60, "40-60% relapse within a year (McLellan et al., JAMA 2000)") \
            if origin == "discharge" else None
        fig = figures.km_figure(km, at_risk=at_risk, origin=origin, min_cell=mc, benchmark_band=band,
                                horizon_days=365)
        chart(fig, name=f"km_from_{origin}", ctx=ctx, origin=origin)
        if band is None:
            st.caption("The 40-60% one-year benchmark is stated from discharge, so it is not drawn here.")
        ar = suppress_counts(at_risk, ["n_at_risk", "n_event_cum", "n_censor_cum"], min_cell=mc)
        with st.expander("Numbers at risk, relapses and censored (table and CSV)"):
            table(ar, {"group": Col(by_label, "group"), "day": Col("Day", "int"),
                       "n_at_risk": Col("At risk", "count", "n_at_risk_suppressed"),
                       "n_event_cum": Col("Relapses so far", "count", "n_event_cum_suppressed"),
                       "n_censor_cum": Col("Censored so far", "count", "n_censor_cum_suppressed")},
                  name=f"at_risk_from_{origin}", ctx=ctx, origin=origin, height=300,
                  caption="At risk: still followed and relapse-free at the day (T >= day), as R summary(survfit).")

    left, right = st.columns(2)
    with left, page_guard("Median time to relapse"):
        st.subheader("Median time to relapse")
        med = compute.medians(key, c, by, origin)
        n_by = km.groupby("group", observed=True)["n_at_risk"].first()
        med = med.assign(n=med["group"].map(n_by).astype(float))
        med = suppress_counts(med, ["n"], min_cell=mc, rate_cols={k: "n" for k in ("median_days", "ci_lower",
                                                                                     "ci_upper")})
        table(med, {"group": Col(by_label, "group"), "n": Col("People", "count", "n_suppressed"),
                    "median_days": Col("Median (days)", "days", "median_days_suppressed"),
                    "ci_lower": Col("95% CI lower", "days", "ci_lower_suppressed"),
                    "ci_upper": Col("95% CI upper", "days", "ci_upper_suppressed")},
              name=f"median_from_{origin}", ctx=ctx, origin=origin,
              caption="Empty: the curve (or its limit) does not reach 50% relapse in the follow-up.")
    with right, page_guard("The log-rank tests"):
        st.subheader("Log-rank tests")
        glob, pairs = compute.logrank_tests(key, c, by, origin)
        if glob is None:
            st.info("Only one group: nothing to compare.")
        else:
            st.markdown(f"Global log-rank test: chi-square **{glob.statistic:.1f}** on {glob.df} df, "
                        f"p **{fmt_p(glob.p)}**.")
            table(pairs, {"group_a": Col("Group A", "group"), "group_b": Col("Group B", "group"),
                          "statistic": Col("Chi-square", "number"), "p": Col("p", "p"),
                          "p_adjusted": Col("p (Holm)", "p")},
                  name=f"pairwise_logrank_from_{origin}", ctx=ctx, origin=origin, height=250)

    with page_guard("The restricted mean"):
        st.subheader("Restricted mean time free of relapse")
        cols = st.columns([1, 1, 2])
        tau = cols[0].selectbox("Up to (days)", [90, 180, 365, 730], index=2, key="rmst_tau")
        groups = list(km["group"].cat.categories)
        ref = cols[1].selectbox("Reference group", groups, key="rmst_ref", format_func=label,
                                index=groups.index("residential") if "residential" in groups else 0)
        rm = compute.rmst(key, c, by, origin, float(tau))
        rm = rm.assign(n=rm["group"].map(n_by).astype(float))
        rm = suppress_counts(rm, ["n"], min_cell=mc, rate_cols={k: "n" for k in ("rmst_days", "ci_lower",
                                                                                  "ci_upper")})
        diff = rmst_difference(compute.rmst(key, c, by, origin, float(tau)), ref) if len(groups) > 1 else None
        table(rm, {"group": Col(by_label, "group"), "n": Col("People", "count", "n_suppressed"),
                   "rmst_days": Col(f"RMST to {tau} d (days)", "days", "rmst_days_suppressed"),
                   "ci_lower": Col("95% CI lower", "days", "ci_lower_suppressed"),
                   "ci_upper": Col("95% CI upper", "days", "ci_upper_suppressed")},
              name=f"rmst_from_{origin}", ctx=ctx, origin=origin,
              caption=f"Average relapse-free days within the first {tau} days (area under the KM curve).")
        if diff is not None and len(diff):
            hidden = diff["group"].map(rm.set_index(rm["group"].astype(object))["n_suppressed"]).fillna(True)
            if bool(rm.loc[rm["group"] == ref, "n_suppressed"].any()):
                hidden[:] = True
            for col in ("difference_days", "ci_lower", "ci_upper", "p"):
                diff.loc[hidden.to_numpy(dtype=bool), col] = np.nan
            table(diff, {"group": Col(by_label, "group"), "reference": Col("Reference", "group"),
                         "difference_days": Col("Difference (days)", "days"),
                         "ci_lower": Col("95% CI lower", "days"), "ci_upper": Col("95% CI upper", "days"),
                         "p": Col("p", "p")},
                  name=f"rmst_difference_from_{origin}", ctx=ctx, origin=origin)

    with page_guard("The competing-risks view"):
        data_deaths = int((c[f"event_{origin}"] == 2).sum()) if f"event_{origin}" in c.columns else 0
        st.subheader("Relapse with death as a competing event")
        if data_deaths == 0:
            st.info("No deaths are recorded in these episodes, so Kaplan-Meier above is the cumulative incidence.")
        else:
            chart(figures.cumulative_incidence_figure(compute.cif(key, c, by, origin), origin=origin, min_cell=mc),
                  name=f"cumulative_incidence_from_{origin}", ctx=ctx, origin=origin)
            st.caption("Aalen-Johansen: a death ends follow-up for relapse; 1 - KM would overstate relapse by "
                       "treating the dead as if they could still relapse.")
