"""Time to relapse: Kaplan-Meier per group with numbers at risk, medians, log-rank, RMST, competing risks."""
import streamlit as st

from analysis import figures
from analysis import labels as L
from analysis.disclosure import fmt_p
from ui import compute
from ui.state import context
from ui.still import still_charts
from ui.text import md
from ui.widgets import BY_LABELS, Col, chart, details, label, narrow, page_guard, require_data, table

st.title("Time to relapse")
ctx = context()
origin = ctx.origin
st.caption(f"Clock starts at **{origin}** (switch in the sidebar). "
           + ("From discharge: durability after treatment; relapses during treatment count at day 0."
              if origin == "discharge" else
              "From admission: intention to treat; a residential stay protects by design while it lasts."))

with still_charts(ctx):  # charts of shared data as images (ui/still.py)
    if require_data(ctx):
        by_label = BY_LABELS.get(ctx.by, ctx.by)
        with page_guard("The Kaplan-Meier curves"):
            view = compute.time_to_relapse_of(ctx)
            with st.container(horizontal=True, gap="medium", vertical_alignment="center", key="km_options"):
                show_ci = st.toggle("95% bands", value=True, key="km_ci")
                show_medians = st.toggle("Median lines", value=False, key="km_medians",
                                         help="Dotted lines from 50% down to each group's median time to relapse.")
                show_p = st.toggle("Log-rank p", value=True, key="km_p", help="The global log-rank test over the "
                                   "groups shown, written on the chart.")
                style = st.segmented_control("Under the chart", ["at_risk", "kmunicate"], default="at_risk",
                                             key="km_table", format_func={
                                                 "at_risk": "At risk (relapses)",
                                                 "kmunicate": "At risk, relapses, censored"}.get,
                                             help="KMunicate style (Morris et al., BMJ Open 2019): three rows per "
                                                  "group.") or "at_risk"
            at = view.at_risk.frame.rename(columns={"at_risk": "n_at_risk", "relapsed": "n_event_cum",
                                                    "censored": "n_censor_cum"})
            need = ["n_at_risk", "n_event_cum"] + (["n_censor_cum"] if style == "kmunicate" else [])
            at = at[at[need].notna().all(axis=1)]  # rows with a hidden count: table only
            band = (0.40, 0.60, "40-60% relapse within a year (McLellan et al., JAMA 2000)") \
                if origin == "discharge" else None
            fig = figures.km_figure(view.km, at_risk=at, origin=origin, min_cell=ctx.min_cell, benchmark_band=band,
                                    horizon_days=365, show_censor_marks=False, show_ci=show_ci,
                                    medians=view.medians.frame if show_medians else None,
                                    logrank_p=view.logrank.p if show_p and view.logrank is not None else None,
                                    risk_table=style, compact=narrow())
            chart(fig, name=f"km_from_{origin}", ctx=ctx, origin=origin)
            st.caption(f"Curves are drawn at steps of at least {ctx.min_cell} relapses, so no step shows a count of a "
                       "few people; the numbers under the chart are those still at risk after the day (relapses so "
                       "far)." + ("" if band else " The 40-60% one-year benchmark is stated from discharge, so it is not drawn."))
            with details("Numbers at risk, relapses and censored (table and CSV)", "at_risk") as opened:
                if opened:
                    table(view.at_risk, {"group": Col(by_label, "group"), "day": Col("Day", "int"),
                                         "at_risk": Col("At risk after the day", "count"),
                                         "relapsed": Col("Relapsed by the day", "count"),
                                         "censored": Col("Censored by the day", "count")},
                          name=f"at_risk_from_{origin}", ctx=ctx, origin=origin, height=300,
                          caption="The three add up to the people followed: at risk after the day (time > day), "
                                  "relapsed and censored by it (deaths count as censored).")

        left, right = st.columns(2)
        with left, page_guard("Median time to relapse"):
            st.subheader("Median time to relapse")
            med = view.medians
            mf = med.frame

            def reached(v):  # days as in the CSV (a half day kept), or "not reached"
                if v != v:
                    return L.NOT_REACHED
                return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"

            med = (med.with_column("median_text", [reached(v) for v in mf["median_days"]], "median_days")
                   .with_column("lower_text", [reached(v) for v in mf["ci_lower"]], "ci_lower")
                   .with_column("upper_text", [reached(v) for v in mf["ci_upper"]], "ci_upper"))
            table(med, {"group": Col(by_label, "group"), "n": Col("People", "count"),
                        "median_text": Col("Median (days)"), "lower_text": Col("95% CI lower"),
                        "upper_text": Col("95% CI upper")},
                  name=f"median_from_{origin}", ctx=ctx, origin=origin,
                  csv_cols={"group": Col(by_label, "group"), "n": Col("People", "count"),
                            "median_days": Col("Median (days)", "days"), "ci_lower": Col("95% CI lower", "days"),
                            "ci_upper": Col("95% CI upper", "days")},
                  caption="Not reached: the curve (or its limit) does not reach 50% relapse in the follow-up (the CSV "
                          "leaves those cells empty).")
        with right, page_guard("The log-rank tests"):
            st.subheader("Log-rank tests")
            if view.logrank is None:
                st.info("Fewer than two groups whose size can be shown: nothing to compare.")
            else:
                st.markdown(f"Global log-rank test: chi-square **{view.logrank.statistic:.1f}** on {view.logrank.df} "
                            f"df, p **{fmt_p(view.logrank.p)}**.")
                table(view.pairwise, {"group_a": Col("Group A", "group"), "group_b": Col("Group B", "group"),
                                      "statistic": Col("Chi-square", "number"), "p": Col("p", "p"),
                                      "p_adjusted": Col("p (Holm)", "p")},
                      name=f"pairwise_logrank_from_{origin}", ctx=ctx, origin=origin, height=250)
            if view.test_note:
                st.caption(md(view.test_note))

        with page_guard("The restricted mean"):
            st.subheader("Restricted mean time free of relapse")
            groups = view.groups
            cols = st.columns([1, 1, 2])
            tau = cols[0].selectbox("Up to (days)", [90, 180, 365, 730], index=2, key="rmst_tau")
            if groups:
                ref = cols[1].selectbox("Reference group", groups, key="rmst_ref", format_func=label,
                                        index=groups.index("residential") if "residential" in groups else 0)
                rm, diff = compute.rmst_of(ctx, float(tau), ref)
                table(rm, {"group": Col(by_label, "group"), "n": Col("People", "count"),
                           "rmst_days": Col(f"RMST to {tau} d (days)", "days"), "ci_lower": Col("95% CI lower", "days"),
                           "ci_upper": Col("95% CI upper", "days")}, name=f"rmst_from_{origin}", ctx=ctx, origin=origin,
                      caption=f"Average relapse-free days within the first {tau} days (area under the KM curve).")
                if diff is not None and len(diff):
                    table(diff, {"group": Col(by_label, "group"), "reference": Col("Reference", "group"),
                                 "difference_days": Col("Difference (days)", "days"),
                                 "ci_lower": Col("95% CI lower", "days"), "ci_upper": Col("95% CI upper", "days"),
                                 "p": Col("p", "p")}, name=f"rmst_difference_from_{origin}", ctx=ctx, origin=origin)

        with page_guard("The competing-risks view"):
            st.subheader("Relapse with death as a competing event")
            if not view.deaths_recorded:
                st.info("No deaths are recorded in these episodes, so Kaplan-Meier above is the cumulative incidence.")
            elif view.cif is None or view.cif.empty:
                st.info(f"Too few deaths to draw the competing-risks curves in steps of at least {ctx.min_cell} deaths "
                        "without long flat stretches (a smaller step would show how many died); Kaplan-Meier above "
                        "censors deaths.")
            else:
                chart(figures.cumulative_incidence_figure(view.cif, origin=origin, min_cell=ctx.min_cell, compact=narrow()),
                      name=f"cumulative_incidence_from_{origin}", ctx=ctx, origin=origin)
                st.caption("Aalen-Johansen: a death ends follow-up for relapse; 1 - KM would overstate relapse by "
                           "treating the dead as if they could still relapse. Drawn at steps where deaths, too, come "
                           f"in steps of 0 or at least {ctx.min_cell}.")
