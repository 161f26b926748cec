"""Retention: completion, discharge reasons, length of stay, retention in treatment, hours, step-downs."""
import streamlit as st

from analysis import figures
from analysis.retention import ASAM_MIN_HOURS_PER_WEEK
from ui import compute
from ui.state import context
from ui.still import still_charts
from ui.text import md
from ui.widgets import BY_LABELS, Col, chart, label, narrow, page_guard, require_data, table

st.title("Retention")
ctx = context()
st.caption("Do people stay and finish? Completion excludes transfers (care continued elsewhere); "
           "retention curves count episodes still enrolled as censored. Small cells are suppressed.")

with still_charts(ctx):  # charts of shared data as images (ui/still.py)
    if require_data(ctx):
        by, mc = ctx.by, ctx.min_cell
        by_label = BY_LABELS.get(by, by)
        view = compute.retention_of(ctx)

        with page_guard("Completion"):
            st.subheader("Completion")
            if view.completion is None:
                st.info("This file has no discharge reasons.")
            else:
                basis = st.segmented_control(
                    "Denominator", ["excluding_transfers", "all_discharges"], default="excluding_transfers",
                    key="completion_basis", format_func={"excluding_transfers": "Transfers left out",
                                                         "all_discharges": "All discharges (as TEDS)"}.get,
                    help="TEDS 2004 states completion over all discharges (a transfer counts as not completed): its "
                         "bands are drawn beside our rate only on that basis.") or "excluding_transfers"
                chart(figures.completion_figure(view.completion.frame, placements=view.placements, basis=basis,
                                                compact=narrow()), name="completion", ctx=ctx)
                table(view.completion, {
                    "group": Col(by_label, "group"), "n_episodes": Col("Episodes", "count"),
                    "n_in_treatment": Col("Still in treatment", "count"), "n_discharged": Col("Discharged", "count"),
                    "n_transferred": Col("Transferred", "count"), "n_completed": Col("Completed", "count"),
                    "completion_rate": Col("Completion rate", "rate", "Completed / (discharged - transferred)"),
                    "ci_lower": Col("95% CI lower", "rate"), "ci_upper": Col("95% CI upper", "rate"),
                    "completion_rate_all": Col("Completion, all discharges (TEDS)", "rate")},
                    name="completion", ctx=ctx, caption="Wilson score 95% intervals. Benchmark bands: TEDS 2004 "
                                                        "completion by type of service (all discharges).")

        with page_guard("The discharge-reason mix"):
            st.subheader("Why episodes ended")
            if view.reasons is not None:
                chart(figures.reason_mix_figure(view.reasons.frame, compact=narrow()), name="discharge_reasons", ctx=ctx)
                table(view.reasons, {
                    "group": Col(by_label, "group"), "reason": Col("Discharge reason"), "n": Col("Episodes", "count"),
                    "n_discharged": Col("Discharged in group", "count"), "share": Col("Share", "rate"),
                    "ci_lower": Col("95% CI lower", "rate"), "ci_upper": Col("95% CI upper", "rate")},
                    name="discharge_reasons", ctx=ctx, height=300)

        with page_guard("Length of stay"):
            st.subheader("Length of stay")
            if view.los is None:
                st.info("No length of stay is recorded for these episodes (the file has no discharge dates or lengths of "
                        "stay, or none of these episodes has been discharged).")
            elif view.los_groups:
                chart(figures.los_figure(compute.figure_rows(ctx, "stay"), by=by,
                                         groups=view.los_groups, min_cell=mc, compact=narrow(), count_col="n"),
                      name="length_of_stay", ctx=ctx)
            if view.los is not None:
                table(view.los, {
                    "group": Col(by_label, "group"), "n_discharged": Col("Discharged", "count"),
                    "median_days": Col("Median (days)", "days"), "q1_days": Col("Q1 (days)", "days"),
                    "q3_days": Col("Q3 (days)", "days"), "share_over_30_days": Col("> 30 days", "rate"),
                    "share_over_90_days": Col("> 90 days", "rate")}, name="length_of_stay", ctx=ctx)

        with page_guard("Retention in treatment"):
            st.subheader("Still in treatment by day since admission")
            if view.retention_days is None:
                st.info("Time in treatment is not recorded in this file (no discharge dates or lengths of stay).")
            else:
                chart(figures.retention_figure(view.retention_curve, min_cell=mc, compact=narrow()), name="retention_curve", ctx=ctx)
                if view.retention_not_drawn:
                    st.caption("Not drawn: " + ", ".join(md(label(g)) for g in view.retention_not_drawn)
                               + ". Their number of episodes is hidden (it would let a small count be worked out "
                               "by subtraction), and a curve starts from it.")
                table(view.retention_days, {
                    "group": Col(by_label, "group"), "day": Col("Day", "int"),
                    "retained": Col("Still in treatment", "rate"), "ci_lower": Col("95% CI lower", "rate"),
                    "ci_upper": Col("95% CI upper", "rate"), "enrolled": Col("Still enrolled after the day", "count")},
                    name="retention_days", ctx=ctx, height=300,
                    caption="Kaplan-Meier, discharge is the event; log-log 95% intervals.")

        with page_guard("Hours attended"):
            st.subheader("Hours per week against ASAM minimums")
            if view.hours is None:
                st.info("This file has no hours_attended / hours_scheduled columns.")
            else:
                if view.hours_groups:
                    chart(figures.hours_figure(compute.figure_rows(ctx, "hours_scheduled"), by=by,
                                               attended=compute.figure_rows(ctx, "hours_attended"),
                                               groups=view.hours_groups, min_cell=mc, compact=narrow(), count_col="n"),
                          name="hours_per_week", ctx=ctx)
                table(view.hours, {
                    "group": Col(by_label, "group"), "n_with_hours": Col("Episodes with hours", "count"),
                    "scheduled_per_week_median": Col("Scheduled h/week (median)", "number"),
                    "attended_per_week_median": Col("Attended h/week (median)", "number"),
                    "attendance_rate": Col("Attended / scheduled", "rate"),
                    "share_meeting_minimum": Col("Scheduled at ASAM minimum", "rate")}, name="hours", ctx=ctx,
                    caption=f"ASAM minimum scheduled hours: IOP {ASAM_MIN_HOURS_PER_WEEK['iop']:.0f} h/week, "
                            f"PHP {ASAM_MIN_HOURS_PER_WEEK['php']:.0f} h/week (ASAM Criteria, 3rd ed.).")

        with page_guard("Step-downs"):
            st.subheader("Step-down between levels of care")
            if view.step_downs is None:
                st.info("Step-downs need client ids, admission/discharge dates and levels of care; this file has none.")
            else:
                chart(figures.sankey_figure(view.flows, min_cell=mc, compact=narrow()), name="step_down_flows", ctx=ctx)
                table(view.step_downs, {
                    "group": Col("Discharged from", "group"), "n_discharged": Col("Discharges", "count"),
                    "n_step_down": Col("Stepped down within 30 days", "count"),
                    "step_down_rate": Col("Step-down rate", "rate"), "ci_lower": Col("95% CI lower", "rate"),
                    "ci_upper": Col("95% CI upper", "rate")}, name="step_down", ctx=ctx,
                    caption="Next admission of the same client at a less intensive level within 30 days of discharge.")
