"""Relapse: cumulative relapse by horizon per group, three views, and comparisons with a reference group."""
import streamlit as st

from analysis import figures
from ui import compute
from ui.state import context
from ui.still import still_charts
from ui.widgets import BY_LABELS, Col, chart, details, label, narrow, page_guard, require_data, table

st.title("Relapse")
ctx = context()
st.caption(f"Share relapsed by 30, 90, 180 and 365 days from {ctx.origin}. The headline is Kaplan-Meier "
           "(people lost to follow-up are censored at last contact); beside it the naive share among those "
           "reached and the conservative 'lost counts as relapsed' share. Change the origin in the sidebar.")

with still_charts(ctx):  # charts of shared data as images (ui/still.py)
    if require_data(ctx):
        by_label = BY_LABELS.get(ctx.by, ctx.by)
        with page_guard("Relapse by horizon"):
            view = compute.relapse_of(ctx)
            band = (0.40, 0.60, "40-60% within a year (McLellan et al., JAMA 2000)") if ctx.origin == "discharge" else None
            chart(figures.relapse_horizons_figure(view.rates.frame, benchmark_band=band, compact=narrow()), name="relapse_by_horizon",
                  ctx=ctx, origin=ctx.origin)
            if ctx.origin == "admission":
                st.caption("The 40-60% benchmark is stated from discharge; it is not drawn for the admission origin.")
            st.subheader("Estimates by horizon")
            table(view.rates, {
                "group": Col(by_label, "group"), "horizon_days": Col("Horizon (days)", "int"),
                "n": Col("People", "count"),
                "km_relapse": Col("Relapse (KM)", "rate", "1 - Kaplan-Meier, censored at last contact"),
                "km_lower": Col("KM 95% CI lower", "rate"), "km_upper": Col("KM 95% CI upper", "rate"),
                "n_eligible": Col("Horizon passed", "count"), "n_reached": Col("Reached", "count"),
                "reach": Col("Reach", "rate"), "naive_rate": Col("Naive (among reached)", "rate"),
                "bound_all_relapsed": Col("Lost counts as relapsed", "rate"),
                "bound_none_relapsed": Col("None of the lost relapsed", "rate")},
                name="relapse_by_horizon", ctx=ctx, origin=ctx.origin, height=360,
                caption="Reach: share of people whose horizon has passed whose status at the horizon is known. "
                        "The two bounds bracket every assumption about the people not reached.")

        with page_guard("The comparison"):
            st.subheader("Against a reference group")
            groups = view.groups
            if len(groups) < 2:
                st.info("Choose a grouping with at least two groups whose size can be shown to compare.")
            else:
                default_ref = "residential" if "residential" in groups else groups[0]
                cols = st.columns(2)
                ref = cols[0].selectbox("Reference group", groups, index=groups.index(default_ref), key="rel_ref",
                                        format_func=label)
                horizon = cols[1].selectbox("Horizon (days)", list(compute.HORIZONS), index=3, key="rel_h")
                cmp_ = compute.relapse_vs_of(ctx, ref, horizon)
                table(cmp_, {
                    "group": Col(by_label, "group"), "km_relapse": Col(f"Relapse by {horizon} d (KM)", "rate"),
                    "km_reference": Col(f"Reference ({label(ref)})", "rate"), "km_difference": Col("Difference (pp)", "pp", "Percentage points: this group minus the reference"),
                    "km_difference_lower": Col("Diff. 95% CI lower (pp)", "pp"),
                    "km_difference_upper": Col("Diff. 95% CI upper (pp)", "pp"), "km_ratio": Col("Ratio", "ratio"),
                    "km_ratio_lower": Col("Ratio 95% CI lower", "ratio"),
                    "km_ratio_upper": Col("Ratio 95% CI upper", "ratio"), "km_difference_p": Col("p (difference)", "p")},
                    name="relapse_comparison", ctx=ctx, origin=ctx.origin,
                    caption="Kaplan-Meier risks, independent groups: difference with Greenwood errors, ratio by the "
                            "delta method on the log scale. Observational: differences in case mix are not adjusted "
                            "here (see IOP vs residential).")
                extra = {c: Col(c.replace("_", " ").capitalize() + (" (pp)" if c.startswith("difference") else ""),
                                "p" if c == "p_value" else ("ratio" if "ratio" in c else
                                                            ("pp" if c.startswith("difference") else "rate")))
                         for c in ("proportion", "reference_proportion", "difference", "difference_lower",
                                   "difference_upper", "ratio", "ratio_lower", "ratio_upper", "p_value")
                         if c in cmp_.frame.columns}
                if extra:
                    with details("Among people reached at the horizon (Newcombe difference, Katz ratio)", "reached") as opened:
                        if opened:
                            table(cmp_, {"group": Col(by_label, "group"), **extra}, name="relapse_comparison_reached",
                                  ctx=ctx, origin=ctx.origin)
