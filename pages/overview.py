"""Overview: the cohort in one screen for a program manager."""
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.disclosure import fmt_ci
from ui import compute
from ui.state import context
from ui.text import md
from ui.widgets import BY_LABELS, Col, chart, label, legend, page_guard, require_data, table

st.title("Overview")
ctx = context()
ds = ctx.dataset
st.caption(f"Data: {md(ds.label)}, sha256 {ds.content_hash[:12]}. Filters: {md(ctx.spec.describe())}. "
           f"Grouped by {md(BY_LABELS.get(ctx.by, ctx.by).lower())}; relapse measured from {ctx.origin}.")

if require_data(ctx):
    with page_guard("The overview"):
        view = compute.overview_of(ctx)
        head, hidden = view.headline.frame.iloc[0], view.headline.status.iloc[0]

        def ci(est, lo, hi):
            return f"95% CI {lo * 100:.1f}-{hi * 100:.1f}%" if pd.notna(lo) and pd.notna(hi) else None

        m = st.columns(4)
        m[0].metric("Episodes", f"{view.episodes.value:,.0f}" if view.episodes.shown else "suppressed", border=True)
        m[1].metric("Completion rate", fmt_ci(head["completion_rate"], None, None) or "suppressed",
                    delta=ci(*head[["completion_rate", "ci_lower", "ci_upper"]]), delta_color="off",
                    delta_arrow="off", border=True, help="Completed / (discharged - transferred), Wilson 95% interval.")
        m[2].metric("Median length of stay", f"{head['median_days']:.0f} days" if pd.notna(head["median_days"])
                    else "suppressed", border=True, help="Discharged episodes only.")
        m[3].metric(f"Relapse by 365 days from {ctx.origin}", fmt_ci(head["relapse"], None, None) or "suppressed",
                    delta=ci(*head[["relapse", "relapse_lower", "relapse_upper"]]), delta_color="off",
                    delta_arrow="off", border=True,
                    help="1 - Kaplan-Meier, censored at last contact; benchmark 40-60% from discharge "
                         "(McLellan et al., JAMA 2000).")
        if (hidden != "shown").any():
            st.caption(legend(ctx.min_cell))

        st.subheader(f"Key figures by {md(BY_LABELS.get(ctx.by, ctx.by).lower())}")
        table(view.key_figures, {
            "group": Col(BY_LABELS.get(ctx.by, ctx.by), "group"), "n_episodes": Col("Episodes", "count"),
            "completion": Col("Completion (95% CI)", help="Completed / (discharged - transferred)"),
            "completion_benchmark": Col("TEDS 2004 band",
                                        help="Completion by type of service, all discharges in the denominator"),
            "median_days": Col("Median stay, days", "days"), "relapse_90": Col("Relapse 90 d (95% CI)"),
            "relapse_365": Col("Relapse 365 d (95% CI)"),
            "relapse_benchmark": Col("vs 40-60%", help="1-year relapse against the McLellan et al. 2000 band")},
            name="overview_key_figures", ctx=ctx, origin=ctx.origin,
            caption=f"Relapse: 1 - Kaplan-Meier from {ctx.origin}, censored at last contact. The completion "
                    "benchmark is stated over all discharges (transfers included).")

        rep = ds.result.report
        as_of = ctx.cohort.attrs.get("as_of")
        info = st.columns(3)
        info[0].markdown("**What is loaded**")
        excluded = rep.n_rows_excluded
        excluded = f"fewer than {ctx.min_cell}" if 1 <= excluded < ctx.min_cell else f"{excluded:,}"
        info[0].text(f"{ds.label}\naccepted {rep.n_rows_accepted:,} episodes, excluded {excluded}\n"
                     f"data as of {pd.Timestamp(as_of).date() if as_of else 'n/a'}")
        info[1].markdown("**Active filters**")
        info[1].text(ctx.spec.describe())
        info[2].markdown("**Episodes after filters**")
        info[2].text(f"{view.episodes.value:,.0f}" if view.episodes.shown else "suppressed")
        info[2].text(f"{len(view.groups)} groups: " + ", ".join(label(g) for g in view.groups))
        fig = figures.km_figure(view.km, origin=ctx.origin, min_cell=ctx.min_cell, show_censor_marks=False,
                                benchmark_band=(0.40, 0.60, "40-60% relapse within a year (McLellan et al., "
                                                "JAMA 2000)") if ctx.origin == "discharge" else None,
                                horizon_days=365, title=f"Time to relapse (from {ctx.origin})")
        fig.update_layout(height=440)
        chart(fig, name="overview_time_to_relapse", ctx=ctx, origin=ctx.origin)
        st.caption("Curves are drawn at steps of at least "
                   f"{ctx.min_cell} relapses, so no step shows how many relapsed on one day.")
