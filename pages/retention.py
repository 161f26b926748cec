"""Retention: completion, discharge reasons, length of stay, retention in treatment, hours, step-downs."""
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.retention import ASAM_MIN_HOURS_PER_WEEK
from analysis.suppression import suppress_counts
from ui import compute
from ui.state import context
from ui.widgets import BY_LABELS, Col, chart, page_guard, require_data, table

st.title("Retention")
ctx = context()
st.caption("Do people stay and finish? Completion excludes transfers (care continued elsewhere); "
           "retention curves count episodes still enrolled as censored. Small cells are suppressed.")

if require_data(ctx):
    c, by, key, mc = ctx.cohort, ctx.by, ctx.key, ctx.min_cell
    by_label = BY_LABELS.get(by, by)

    with page_guard("Completion"):
        st.subheader("Completion")
        comp = compute.sup_completion(compute.completion(key, c, by), mc)
        placements = None
        pl = compute.completion_placements(comp, by)
        if len(pl):
            placements = pd.DataFrame({"group": pl["group"], "benchmark_low": pl["benchmark_low"],
                                       "benchmark_high": pl["benchmark_high"],
                                       "benchmark_label": "TEDS 2004 completion, " + pl["benchmark_id"].str.split(
                                           "_completion_").str[-1].str.replace("_", " ")})
        chart(figures.completion_figure(comp, placements=placements), name="completion", ctx=ctx)
        table(comp, {"group": Col(by_label, "group"), "n_episodes": Col("Episodes", "count", "n_episodes_suppressed"),
                     "n_in_treatment": Col("Still in treatment", "count", "n_in_treatment_suppressed"),
                     "n_discharged": Col("Discharged", "count", "n_discharged_suppressed"),
                     "n_transferred": Col("Transferred", "count", "n_transferred_suppressed"),
                     "n_completed": Col("Completed", "count", "n_completed_suppressed"),
                     "completion_rate": Col("Completion rate", "rate", "completion_rate_suppressed",
                                            "Completed / (discharged - transferred)"),
                     "ci_lower": Col("95% CI lower", "rate", "ci_lower_suppressed"),
                     "ci_upper": Col("95% CI upper", "rate", "ci_upper_suppressed"),
                     "completion_rate_all": Col("Completion, all discharges (TEDS)", "rate",
                                                "completion_rate_all_suppressed")},
              name="completion", ctx=ctx, caption="Wilson score 95% intervals. Benchmark bands: TEDS 2004 "
                                                  "completion by type of service (all discharges).")

    with page_guard("The discharge-reason mix"):
        st.subheader("Why episodes ended")
        mix = compute.sup_mix(compute.reason_mix(key, c, by), mc)
        chart(figures.reason_mix_figure(mix), name="discharge_reasons", ctx=ctx)
        table(mix, {"group": Col(by_label, "group"), "reason": Col("Discharge reason"),
                    "n": Col("Episodes", "count", "n_suppressed"),
                    "n_discharged": Col("Discharged in group", "count", "n_discharged_suppressed"),
                    "share": Col("Share", "rate", "share_suppressed"),
                    "ci_lower": Col("95% CI lower", "rate", "ci_lower_suppressed"),
                    "ci_upper": Col("95% CI upper", "rate", "ci_upper_suppressed")},
              name="discharge_reasons", ctx=ctx, height=300,
              caption="Counts below the threshold and the next-smallest count of the same group are hidden, "
                      "so a hidden count cannot be worked out from the total.")

    with page_guard("Length of stay"):
        st.subheader("Length of stay")
        left, right = st.container(), st.container()
        with left:
            chart(figures.los_figure(c, by=by, min_cell=mc), name="length_of_stay", ctx=ctx)
        with right:
            los = compute.los(key, c, by)
            los = suppress_counts(los, ["n_discharged", "n_in_treatment"], min_cell=mc,
                                  rate_cols={k: "n_discharged" for k in ("median_days", "q1_days", "q3_days",
                                                                         "mean_days", "share_over_30_days",
                                                                         "share_over_90_days")})
            table(los, {"group": Col(by_label, "group"),
                        "n_discharged": Col("Discharged", "count", "n_discharged_suppressed"),
                        "median_days": Col("Median (days)", "days", "median_days_suppressed"),
                        "q1_days": Col("Q1 (days)", "days", "q1_days_suppressed"),
                        "q3_days": Col("Q3 (days)", "days", "q3_days_suppressed"),
                        "share_over_30_days": Col("> 30 days", "rate", "share_over_30_days_suppressed"),
                        "share_over_90_days": Col("> 90 days", "rate", "share_over_90_days_suppressed")},
                  name="length_of_stay", ctx=ctx)

    with page_guard("Retention in treatment"):
        st.subheader("Still in treatment by day since admission")
        left, right = st.container(), st.container()
        with left:
            chart(figures.retention_figure(compute.retention_km(key, c, by), min_cell=mc), name="retention_curve",
                  ctx=ctx)
        with right:
            pts = compute.retention_points(key, c, by)
            pts = suppress_counts(pts, ["n_at_risk"], min_cell=mc,
                                  rate_cols={"retained": "n_at_risk", "ci_lower": "n_at_risk",
                                             "ci_upper": "n_at_risk"})
            table(pts, {"group": Col(by_label, "group"), "day": Col("Day", "int"),
                        "retained": Col("Still in treatment", "rate", "retained_suppressed"),
                        "ci_lower": Col("95% CI lower", "rate", "ci_lower_suppressed"),
                        "ci_upper": Col("95% CI upper", "rate", "ci_upper_suppressed"),
                        "n_at_risk": Col("Still enrolled", "count", "n_at_risk_suppressed")},
                  name="retention_days", ctx=ctx, height=300,
                  caption="Kaplan-Meier, discharge is the event; log-log 95% intervals.")

    with page_guard("Hours attended"):
        st.subheader("Hours per week against ASAM minimums")
        if {"hours_attended", "hours_scheduled"} <= set(c.columns):
            chart(figures.hours_figure(c, by=by, min_cell=mc), name="hours_per_week", ctx=ctx)
            eng = compute.engagement(key, c, by)
            eng = suppress_counts(eng, ["n_with_hours", "n_meeting_minimum"], min_cell=mc,
                                  rate_cols={"scheduled_per_week_median": "n_with_hours",
                                             "attended_per_week_median": "n_with_hours",
                                             "attendance_rate": "n_with_hours",
                                             "share_meeting_minimum": "n_meeting_minimum"},
                                  basis_col="n_with_hours")
            table(eng, {"group": Col(by_label, "group"),
                        "n_with_hours": Col("Episodes with hours", "count", "n_with_hours_suppressed"),
                        "scheduled_per_week_median": Col("Scheduled h/week (median)", "number",
                                                         "scheduled_per_week_median_suppressed"),
                        "attended_per_week_median": Col("Attended h/week (median)", "number",
                                                        "attended_per_week_median_suppressed"),
                        "attendance_rate": Col("Attended / scheduled", "rate", "attendance_rate_suppressed"),
                        "share_meeting_minimum": Col("Scheduled at ASAM minimum", "rate",
                                                     "share_meeting_minimum_suppressed")},
                  name="hours", ctx=ctx,
                  caption=f"ASAM minimum scheduled hours: IOP {ASAM_MIN_HOURS_PER_WEEK['iop']:.0f} h/week, "
                          f"PHP {ASAM_MIN_HOURS_PER_WEEK['php']:.0f} h/week (ASAM Criteria, 3rd ed.).")
        else:
            st.info("This file has no hours_attended / hours_scheduled columns.")

    with page_guard("Step-downs"):
        st.subheader("Step-down between levels of care")
        if "client_id" in c.columns and "admission_date" in c.columns:
            chart(figures.sankey_figure(compute.step_flows(key, c), min_cell=mc), name="step_down_flows", ctx=ctx)
            sr = compute.step_rates(key, c)
            sr = suppress_counts(sr, ["n_discharged", "n_step_down"], min_cell=mc,
                                 rate_cols={"step_down_rate": "n_step_down", "ci_lower": "n_step_down",
                                            "ci_upper": "n_step_down"}, basis_col="n_discharged")
            table(sr, {"group": Col("Discharged from", "group"),
                       "n_discharged": Col("Discharges", "count", "n_discharged_suppressed"),
                       "n_step_down": Col("Stepped down within 30 days", "count", "n_step_down_suppressed"),
                       "step_down_rate": Col("Step-down rate", "rate", "step_down_rate_suppressed"),
                       "ci_lower": Col("95% CI lower", "rate", "ci_lower_suppressed"),
                       "ci_upper": Col("95% CI upper", "rate", "ci_upper_suppressed")},
                  name="step_down", ctx=ctx,
                  caption="Next admission of the same client at a less intensive level within 30 days of discharge.")
        else:
            st.info("Step-downs need client ids and admission/discharge dates; this file has none.")
