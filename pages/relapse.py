"""Relapse: cumulative relapse by horizon per group, three views, and comparisons with a reference group."""
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.suppression import suppress_counts
from ui import compute
from ui.state import context
from ui.widgets import BY_LABELS, Col, chart, label, page_guard, require_data, table

st.title("Relapse")
ctx = context()
st.caption(f"Share relapsed by 30, 90, 180 and 365 days from {ctx.origin}. The headline is Kaplan-Meier "
           "(people lost to follow-up are censored at last contact); beside it the naive share among those "
           "reached and the conservative 'lost counts as relapsed' share. Change the origin in the sidebar.")

if require_data(ctx):
    c, by, origin, key, mc = ctx.cohort, ctx.by, ctx.origin, ctx.key, ctx.min_cell
    by_label = BY_LABELS.get(by, by)
    with page_guard("Relapse by horizon"):
        rates = compute.sup_relapse(compute.relapse_rates(key, c, by, origin), mc)
        band = (0.40, 0.60, "40-60% within a year (McLellan et al., JAMA 2000)") if origin == "discharge" else None
        chart(figures.relapse_horizons_figure(rates, benchmark_band=band), name="relapse_by_horizon", ctx=ctx,
              origin=origin)
        if origin == "admission":
            st.caption("The 40-60% benchmark is stated from discharge; it is not drawn for the admission origin.")
        st.subheader("Estimates by horizon")
        table(rates, {"group": Col(by_label, "group"), "horizon_days": Col("Horizon (days)"),
                      "n": Col("People", "count", "n_suppressed"),
                      "km_relapse": Col("Relapse (KM)", "rate", "km_relapse_suppressed",
                                        "1 - Kaplan-Meier, censored at last contact"),
                      "km_lower": Col("KM 95% CI lower", "rate", "km_lower_suppressed"),
                      "km_upper": Col("KM 95% CI upper", "rate", "km_upper_suppressed"),
                      "n_eligible": Col("Horizon passed", "count", "n_eligible_suppressed"),
                      "n_reached": Col("Reached", "count", "n_reached_suppressed"),
                      "reach": Col("Reach", "rate", "reach_suppressed"),
                      "naive_rate": Col("Naive (among reached)", "rate", "naive_rate_suppressed"),
                      "bound_all_relapsed": Col("Lost counts as relapsed", "rate",
                                                "bound_all_relapsed_suppressed"),
                      "bound_none_relapsed": Col("None of the lost relapsed", "rate",
                                                 "bound_none_relapsed_suppressed")},
              name="relapse_by_horizon", ctx=ctx, origin=origin, height=360,
              caption="Reach: share of people whose horizon has passed whose status at the horizon is known. "
                      "The two bounds bracket every assumption about the people not reached.")

    with page_guard("The comparison"):
        st.subheader("Against a reference group")
        groups = [g for g in rates["group"].cat.categories]
        if len(groups) < 2:
            st.info("Choose a grouping with at least two groups to compare.")
        else:
            default_ref = "residential" if "residential" in groups else groups[0]
            cols = st.columns(2)
            ref = cols[0].selectbox("Reference group", groups, index=groups.index(default_ref), key="rel_ref",
                                    format_func=label)
            horizon = cols[1].selectbox("Horizon (days)", list(compute.HORIZONS), index=3, key="rel_h")
            cmp_ = compute.relapse_vs(key, c, by, origin, ref, horizon)
            at = rates[rates["horizon_days"] == horizon].set_index(rates[rates["horizon_days"] == horizon]["group"]
                                                                   .astype(object))
            cmp_ = cmp_.assign(n_group=cmp_["group"].map(at["n"]), n_ref=at["n"].get(ref),
                               x_group=cmp_["group"].map(at["n_relapsed"]), x_ref=at["n_relapsed"].get(ref))
            hide = suppress_counts(cmp_, ["n_group", "n_ref", "x_group", "x_ref"], min_cell=mc)
            blocked = hide[["n_group_suppressed", "n_ref_suppressed", "x_group_suppressed",
                            "x_ref_suppressed"]].any(axis=1).to_numpy() | hide["n_group"].isna().to_numpy()
            num = [c_ for c_ in cmp_.columns if c_.startswith(("km_", "difference", "ratio", "risk_", "p"))
                   and pd.api.types.is_numeric_dtype(cmp_[c_])]
            for c_ in num:
                cmp_.loc[blocked, c_] = float("nan")
            cmp_["blocked"] = blocked
            flags = {c_: cmp_["blocked"] for c_ in num}
            cmp_ = cmp_.assign(**{f"{k}_suppressed": v for k, v in flags.items()})
            show = {"group": Col(by_label, "group"),
                    "km_relapse": Col(f"Relapse by {horizon} d (KM)", "rate", "km_relapse_suppressed"),
                    "km_reference": Col(f"Reference ({label(ref)})", "rate", "km_reference_suppressed"),
                    "km_difference": Col("Difference", "rate", "km_difference_suppressed"),
                    "km_difference_lower": Col("Diff. 95% CI lower", "rate", "km_difference_lower_suppressed"),
                    "km_difference_upper": Col("Diff. 95% CI upper", "rate", "km_difference_upper_suppressed"),
                    "km_ratio": Col("Ratio", "ratio", "km_ratio_suppressed"),
                    "km_ratio_lower": Col("Ratio 95% CI lower", "ratio", "km_ratio_lower_suppressed"),
                    "km_ratio_upper": Col("Ratio 95% CI upper", "ratio", "km_ratio_upper_suppressed"),
                    "km_difference_p": Col("p (difference)", "p")}
            table(cmp_, show, name="relapse_comparison", ctx=ctx, origin=origin,
                  caption="Kaplan-Meier risks, independent groups: difference with Greenwood errors, ratio by the "
                          "delta method on the log scale. Observational: differences in case mix are not "
                          "adjusted here (see IOP vs residential).")
            extra = [c_ for c_ in ("proportion", "reference_proportion", "difference", "difference_lower",
                                   "difference_upper", "ratio", "ratio_lower", "ratio_upper", "p_value")
                     if c_ in cmp_.columns]
            if extra:
                with st.expander("Among people reached at the horizon (Newcombe difference, Katz ratio)"):
                    table(cmp_, {"group": Col(by_label, "group"),
                                 **{c_: Col(c_.replace("_", " ").capitalize(),
                                            "p" if c_ == "p_value" else ("ratio" if "ratio" in c_ else "rate"),
                                            f"{c_}_suppressed" if c_ in num else None) for c_ in extra}},
                          name="relapse_comparison_reached", ctx=ctx, origin=origin)
