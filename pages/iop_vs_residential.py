"""IOP vs residential (any two groups of the sidebar's grouping): a fair comparison for comparable people.

Propensity weighting, adjusted curves, absolute differences (relapse at 90/180/365 days, RMST), balance,
overlap, hazard ratios, the PH verdict, the E-value and a plain-language summary. Statistics come from
``analysis.views.comparison.fair_comparison`` (published); this script lays them out.
"""
import streamlit as st

from analysis import figures
from analysis import labels as vocab
from analysis.views.comparison import TAU_CHOICES, comparable_groups
from ui import compute
from ui.state import context
from ui.still import still_charts
from ui.text import md
from ui.widgets import BY_LABELS, Col, chart, details, label, narrow, page_guard, require_data, table

st.title("IOP vs residential")
ctx = context()
st.caption("For the quality team: does one level of care do as well as another **for comparable people**? "
           "The two groups are weighted by their propensity scores so that their case mix matches, then compared on "
           "relapse. Observational data: weighting removes only the differences that were measured.")

TRIMS = {"none": None, "1st-99th percentile": (1.0, 99.0), "5th-95th percentile": (5.0, 95.0)}


def _pp(x) -> str:
    return vocab.fmt_pp(x) if x is not None and x == x else "not shown"


if require_data(ctx):
    by, origin = ctx.by, ctx.origin
    by_label = BY_LABELS.get(by, vocab.column_label(by))
    with page_guard("The comparison"), still_charts(ctx) as charts:  # the diagnostics as images (ui/still.py)
        groups = comparable_groups(compute.publication(ctx), origin)
        if len(groups) < 2:
            st.info(f"Fewer than two {md(by_label.lower())} groups can be shown from {origin} with these filters "
                    "(too few people, or a number hidden to protect a small count): there is nothing to compare.")
            st.stop()
        top = st.columns(3)
        a_default, b_default, cov_defaults = compute.default_comparison(ctx, groups)
        a = top[0].selectbox("Group A", groups, index=groups.index(a_default), key="cmp_a", format_func=label,
                             help="Differences are A minus B; hazard ratios A vs B.")
        b_opts = [g for g in groups if g != a]
        b = top[1].selectbox("Group B (comparison)", b_opts,
                             index=b_opts.index(b_default) if b_default in b_opts else 0, key="cmp_b",
                             format_func=label)
        covs = top[2].multiselect("Adjust for", compute.comparison_covariates(ctx), default=cov_defaults,
                                  key="cmp_covs", format_func=vocab.column_label)
        st.caption(f"Groups of **{md(by_label.lower())}** (another grouping column: *Group by* in the sidebar), "
                   f"followed from **{origin}**.")
        opts = st.columns(3)
        estimand = opts[0].radio("Weights", ["ate", "att"], key="cmp_estimand", horizontal=True,
                                 format_func=lambda e: {"ate": "ATE (both to everyone)",
                                                        "att": f"ATT ({label(b)} to {label(a)})"}[e],
                                 help="ATE: both groups weighted to the case mix of everyone compared (stabilised). "
                                      "ATT: the comparison group weighted to the case mix of group A.")
        trim_name = opts[1].selectbox("Trim weights at", list(TRIMS), key="cmp_trim",
                                      help="Winsorise each group's weights at these percentiles (nobody is dropped).")
        compact = narrow() or st.toggle("Narrow screen: compact charts", key="cmp_compact",
                                        help="Chart labels above their rows and shorter notes, for a phone (on by "
                                             "itself when the window is narrow).")
        tau = opts[2].selectbox("Relapse-free days counted up to", list(TAU_CHOICES), index=TAU_CHOICES.index(365),
                                key="cmp_tau", format_func=lambda d: f"{d} days",
                                help="Horizon of the restricted mean (RMST): average relapse-free days in the first "
                                     "tau days.")
        la, lb = label(a), label(b)
        view = compute.fair_comparison_of(ctx, a, b, covs, estimand=estimand, trim=TRIMS[trim_name], tau=tau,
                                          names={"a": la, "b": lb})
        ma, mb = md(la), md(lb)
        if not view.shown:
            st.warning(md(view.summary) + " People with a missing covariate are left out of the comparison, and "
                       f"fewer than {ctx.min_cell} of them would be given away: choose other covariates.")
            st.stop()

        # ---------------------------------------------------------------- headline
        if not view.ph_holds and view.ph["p"] is not None:
            st.warning(f"The hazards of relapse are **not proportional** (p {md(vocab.fmt_p(view.ph['p']))}): {ma} "
                       f"and {mb} differ in different ways at different times, so read the relapse-free days and the "
                       "curves below, not a single hazard ratio.")
        r = view.rmst
        diffs = view.differences.frame
        st.markdown(f"**Adjusted differences, {ma} minus {mb}** (weighted to the same case mix)")
        cols = st.columns(4)
        rmst_text = (f"{r['estimate']:+.1f} days" if r["estimate"] is not None else "not shown")
        cols[0].metric(f"Relapse-free days, first {r['tau']:g}", rmst_text, border=True,
                       help="Adjusted difference in restricted mean relapse-free time (RMST), robust 95% interval."
                            + (f" 95% CI {r['lower']:+.1f} to {r['upper']:+.1f}, p {vocab.fmt_p(r['p'])}."
                               if r["estimate"] is not None else ""))
        if r["estimate"] is not None:
            cols[0].caption(f"95% CI {r['lower']:+.1f} to {r['upper']:+.1f} days, p {md(vocab.fmt_p(r['p']))}")
        for col, day in zip(cols[1:], (90, 180, 365), strict=True):
            row = diffs[diffs["time"] == day]
            est = row["relapse_difference"].iloc[0] if len(row) else None
            col.metric(f"Relapsed by day {day}", _pp(est), border=True,
                       help="Adjusted difference in the share relapsed (weighted Kaplan-Meier), percentage points.")
            if len(row) and est == est:
                col.caption(f"95% CI {md(vocab.fmt_pp(row['relapse_lower'].iloc[0]))} to "
                            f"{md(vocab.fmt_pp(row['relapse_upper'].iloc[0]))}")

        # ---------------------------------------------------------------- 1. adjusted curves
        st.subheader(f"1. Relapse after weighting (from {origin})")
        at = view.at_risk[view.at_risk["time"].isin([0, 90, 180, 365])]
        chart(figures.adjusted_km_figure(view.curves, at, labels=view.labels, origin=origin, time_unit="days",
                                         estimand=view.result.estimand, tau=r["tau"], min_cell=ctx.min_cell,
                                         title="Relapse after weighting", compact=compact),
              name="adjusted_km", ctx=ctx, origin=origin)
        st.caption("Weighted Kaplan-Meier curves with robust (infinitesimal-jackknife) 95% intervals, drawn at the "
                   f"steps of the published curves (at least {ctx.min_cell} relapses apart). Under the chart: people "
                   "still at risk after the day, and their weights' sum.")
        with details("Numbers at risk (table and CSV)", "adjusted_at_risk") as opened:
            if opened:
                art = view.at_risk_table
                table(art.with_column("name", art.frame["group"].map({"a": la, "b": lb}), "group"),
                      {"name": Col("Group", "text"), "time": Col("Day", "int"),
                       "n_at_risk": Col("At risk after the day", "count"),
                       "n_at_risk_weighted": Col("Weighted number at risk", "number")},
                      name="cmp_at_risk", ctx=ctx, origin=origin,
                      caption="People still followed and relapse-free after the day, and the sum of their weights.")

        # ---------------------------------------------------------------- 2. absolute differences
        st.subheader("2. Absolute differences (adjusted)")
        charts.show(charts.prepare(figures.contrasts_figure(
            diffs, None if r["estimate"] is None else r, labels=view.labels, time_unit="days",
            title="Adjusted differences, A minus B" if compact else None, compact=compact), name="contrasts", origin=origin))
        table(view.differences, {"time": Col("Day", "int"), "relapse_difference": Col(f"Relapsed, {la} minus {lb} (points)", "rate"),
                                 "relapse_lower": Col("95% CI lower", "rate"), "relapse_upper": Col("95% CI upper", "rate"),
                                 "p": Col("p", "p")}, name="cmp_differences", ctx=ctx, origin=origin,
              caption="Differences in the share relapsed by the day (percentage points), A minus B, from the weighted "
                      "curves; intervals from the same influence values (weights treated as known).")

        # ---------------------------------------------------------------- 3. balance
        st.subheader("3. Balance: are the weighted groups comparable?")
        bal = view.balance
        if len(bal):
            charts.show(charts.prepare(figures.love_plot_figure(bal.frame, labels=view.labels, compact=compact),
                                       name="love_plot", origin=origin))
            shown_rows = bal.frame[bal.frame["smd_after"].notna()]
            worst = shown_rows["smd_after"].abs().max() if len(shown_rows) else None
            n_bad = int((shown_rows["smd_after"].abs() > 0.1).sum())
            st.markdown(f"Before weighting **{int((shown_rows['smd_before'].abs() > 0.1).sum())}** of {len(shown_rows)} "
                        f"items differed by more than 0.1 standardised difference; after weighting **{n_bad}**"
                        + (f" (largest {worst:.2f})." if worst is not None else "."))
            tb = bal.with_column("item", [f"{vocab.column_label(v)}" + ("" if lv is None else f": {vocab.value_label(lv, v)}")
                                          for v, lv in zip(bal.frame["covariate"], bal.frame["level"], strict=True)],
                                 "smd_after")
            table(tb, {"item": Col("Characteristic"), "mean_a": Col(f"{la} (mean or share)", "number"),
                       "mean_b": Col(f"{lb} (mean or share)", "number"),
                       "smd_before": Col("Standardised difference before", "number"),
                       "smd_after": Col("after weighting", "number")}, name="cmp_balance", ctx=ctx, origin=origin,
                  height=320, caption="A minus B; the denominator is the unweighted pooled SD before and after.")
        else:
            st.info("No covariates chosen: this is a crude comparison, not a fair one.")

        # ---------------------------------------------------------------- 4. overlap
        st.subheader("4. Overlap of the propensity scores")
        ps = view.result.propensity
        charts.show(charts.prepare(figures.overlap_figure(
            view.histogram.frame, labels=view.labels, support=ps.support,
            outside_support={k: v.value for k, v in view.outside.items()}, min_cell=ctx.min_cell,
            title="Overlap of propensity scores" if compact else None, compact=compact), name="overlap", origin=origin))
        out = view.outside_total
        out_text = ("no one" if out.value == 0 else f"{out.value:,.0f} people" if out.shown else
                    f"fewer than {ctx.min_cell} people" if out.status == "small" else "a number not shown")
        ess = view.ess
        st.markdown(f"c-statistic **{view.c_statistic:.2f}** (0.5: the covariates do not tell the groups apart). "
                    f"Outside the common support: **{out_text}**. Effective sample size after weighting: {ma} "
                    f"**{ess['a']:,.0f}**, {mb} **{ess['b']:,.0f}**." if view.c_statistic is not None else
                    "The propensity model's figures are not shown.")

        # ---------------------------------------------------------------- 5. hazard ratios
        st.subheader("5. Hazard ratios")
        charts.show(charts.prepare(figures.window_hr_figure(
            view.window_hr.frame, weighted=view.weighted_cox, adjusted=view.adjusted_cox, labels=view.labels,
            time_unit="days", ph_p=view.ph["p"], title="Hazard ratios of relapse, A vs B" if compact else None,
            compact=compact), name="window_hr", origin=origin))
        table(view.window_hr, {"from_time": Col("From day", "int"), "to_time": Col("To day", "int"),
                               "hr": Col("Hazard ratio", "ratio"), "lower": Col("95% CI lower", "ratio"),
                               "upper": Col("95% CI upper", "ratio"), "p": Col("p", "p"),
                               "events_a": Col(f"Relapses, {la}", "count"), "events_b": Col(f"Relapses, {lb}", "count"),
                               "at_risk_a": Col(f"At risk at the start, {la}", "count"),
                               "at_risk_b": Col(f"At risk at the start, {lb}", "count")},
              name="cmp_windows", ctx=ctx, origin=origin,
              caption="Follow-up split at the window limits (as R survSplit), one Cox model with a group effect per "
                      "window and the covariates; empty where a group has no relapse in the window.")
        w, adj = view.weighted_cox, view.adjusted_cox
        hr_cols = st.columns(2)
        hr_cols[0].metric(f"Weighted hazard ratio, {la} vs {lb}",
                          vocab.fmt_ci(w["hr"], w["lower"], w["upper"], kind="ratio") if w else "not shown",
                          border=True, help="coxph(weights = w, robust = TRUE): a marginal ratio, sandwich interval.")
        hr_cols[1].metric(f"Covariate-adjusted hazard ratio, {la} vs {lb}",
                          vocab.fmt_ci(adj["hr"], adj["lower"], adj["upper"], kind="ratio") if adj else "not shown",
                          border=True, help="coxph(group + covariates): a conditional ratio, model-based interval.")
        with details("Terms of the covariate-adjusted Cox model and of the propensity model", "model_terms") as opened:
            if opened:
                ct = view.cox_terms
                table(ct.with_column("label", ct.frame["term"].map(vocab.term_label), "term"),
                      {"label": Col("Term"), "hr": Col("Hazard ratio", "ratio"), "lower": Col("95% CI lower", "ratio"),
                       "upper": Col("95% CI upper", "ratio"), "p": Col("p", "p")}, name="cox_terms_adjusted", ctx=ctx,
                      origin=origin, height=320)
                pt = view.propensity_terms
                table(pt.with_column("label", pt.frame["term"].map(vocab.term_label), "term"),
                      {"label": Col("Term"), "odds_ratio": Col("Odds ratio (A vs B)", "ratio"),
                       "lower": Col("95% CI lower", "ratio"), "upper": Col("95% CI upper", "ratio"), "p": Col("p", "p")},
                      name="propensity_terms", ctx=ctx, origin=origin, height=320,
                      caption="Logistic regression of being in group A rather than B (R glm, binomial).")

        # ---------------------------------------------------------------- 6. PH verdict, 7. E-value
        st.subheader("6. Proportional hazards")
        tests = "; ".join(f"{t['model']} model p {vocab.fmt_p(t['p'])}" for t in view.ph["tests"] if t["p"] is not None)
        if view.ph_holds:
            st.markdown(f"The proportional-hazards test does not reject ({md(tests)}): one hazard ratio is a fair "
                        "summary of the whole follow-up.")
        else:
            st.markdown(f"**Proportional hazards do not hold** ({md(tests)}). The hazard ratio over all follow-up "
                        "averages hazards that change over time; the windows above show where the groups differ, and "
                        "the relapse-free days (RMST) are the headline.")
        st.subheader("7. Sensitivity to unmeasured confounding (E-value)")
        e = view.e_value
        if e is None:
            st.markdown("Not shown: it rests on the hazard ratio, which is not shown.")
        else:
            st.metric("E-value of the weighted hazard ratio", f"{e['estimate']:.2f}", border=True,
                      help="VanderWeele & Ding 2017. " + e["method"] + ".")
            st.markdown(f"An unmeasured confounder associated with both the group and relapse by a risk ratio of "
                        f"**{e['estimate']:.2f}** each, beyond the measured covariates, could explain the hazard ratio "
                        "away; " + ("its interval already includes no difference (E-value of the limit 1)."
                                    if e["limit"] == 1 else f"**{e['limit']:.2f}** would move its interval to 1."))

        # ---------------------------------------------------------------- 8. summary
        st.subheader("8. In plain words")
        st.markdown(md(view.summary))
        st.markdown("**What this comparison can and cannot say**")
        st.markdown(
            "- It compares people **as if** they had the same measured characteristics: "
            + (md(", ".join(vocab.column_label(v).lower() for v in covs)) or "nothing (a crude comparison)") + ". "
            "It cannot account for what was not recorded (severity, motivation, housing, support at home); the "
            "E-value says how strong such a factor would have to be.\n"
            "- It only speaks for people who **could have been in either group** (positivity): people whose "
            "propensity scores lie outside the other group's range have no comparable counterpart.\n"
            f"- Time counts from **{origin}**: "
            + ("relapses during treatment count at day 0, so it is about durability after discharge."
               if origin == "discharge" else
               "a residential stay protects by design while it lasts, which favours residential early on.")
            + "\n- Observational data: it shows association after adjustment, not the effect a random assignment "
              "would measure. Published evidence rates IOP and residential care as comparable for most people "
              "(McCarty et al., Psychiatric Services 2014).")
        with st.expander("Conventions and notes"):
            conv = view.result.conventions()
            st.markdown("\n".join(f"- **{md(k.replace('_', ' '))}**: {md(v)}" for k, v in conv.items()))
            for note in view.notes:
                st.caption(md(note))
