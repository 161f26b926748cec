"""IOP vs residential (any two groups): case mix, naive comparison, Cox-adjusted hazard ratio, PH check."""
import re

import streamlit as st

from analysis import figures
from analysis.casemix import DEFAULT_COVARIATES
from analysis.disclosure import fmt_ci, fmt_p
from analysis.views.comparison import comparable_groups
from ui import compute
from ui.state import context
from ui.text import md
from ui.widgets import BY_LABELS, Col, chart, label, page_guard, require_data, table

VAR_LABELS = {"age": "Age (years)", "sex": "Sex", "primary_substance": "Primary substance",
              "co_occurring": "Co-occurring disorder", "prior_treatments": "Prior treatments", "payer": "Payer",
              "race_ethnicity": "Race/ethnicity", "site": "Site"}


def pretty_term(term: str) -> str:
    """"level_of_care[iop]" -> "Level of care: IOP"; "age" -> "Age (years)"."""
    text = str(term)
    if "[" in text and text.endswith("]"):
        col, level = text[:-1].split("[", 1)
        level = {"True": "yes", "False": "no"}.get(level, level)
        return f"{VAR_LABELS.get(col, BY_LABELS.get(col, col.replace('_', ' ')))}: {label(level)}"
    return VAR_LABELS.get(text, BY_LABELS.get(text, text.replace("_", " ")))


def pretty_sentence(text: str) -> str:
    for raw in sorted({*VAR_LABELS, *BY_LABELS}, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(raw)}\b", pretty_term(raw).lower(), text)
    return text


st.title("IOP vs residential")
ctx = context()
st.caption("For the quality team: two groups side by side, first as they are (naive), then adjusted for the "
           "case mix you choose. Observational data: adjustment removes only the differences that were measured.")

if require_data(ctx):
    c, by, origin = ctx.cohort, ctx.by, ctx.origin
    by_label = BY_LABELS.get(by, by)
    with page_guard("The comparison"):
        groups = comparable_groups(compute.publication(ctx), origin)
        if len(groups) < 2:
            st.info(f"Fewer than two {md(by_label.lower())} groups can be shown from {origin} with these filters "
                    "(too few people, or a number hidden to protect a small count): there is nothing to compare.")
            st.stop()
        cols = st.columns(3)
        a_default = "iop" if "iop" in groups else groups[0]
        b_default = "residential" if "residential" in groups and a_default != "residential" else \
            next(g for g in groups if g != a_default)
        a = cols[0].selectbox("Compare", groups, index=groups.index(a_default), key="cmp_a", format_func=label)
        b_opts = [g for g in groups if g != a]
        b = cols[1].selectbox("With (reference)", b_opts, index=b_opts.index(b_default) if b_default in b_opts else 0,
                              key="cmp_b", format_func=label)
        cov_options = [v for v in (*DEFAULT_COVARIATES, "race_ethnicity", "site") if v in c.columns and v != by]
        covs = cols[2].multiselect("Adjust for", cov_options,
                                   default=[v for v in DEFAULT_COVARIATES if v in cov_options], key="cmp_covs",
                                   format_func=lambda v: v.replace("_", " "))
        view = compute.comparison_of(ctx, a, b, covs)
        la, lb = md(label(a)), md(label(b))

        st.subheader("1. Who is in each group (case mix)")
        bal = view.balance
        if len(bal):
            shown = bal.frame.assign(variable=bal.frame["variable"].map(lambda v: VAR_LABELS.get(v, v.replace("_", " "))),
                                     level=bal.frame["level"].replace({"True": "yes", "False": "no"}))
            chart(figures.balance_figure(shown[shown["smd"].notna()], title=f"Case mix: {label(a)} vs {label(b)}"),
                  name="case_mix", ctx=ctx)
            n_imb = int((shown["imbalanced"] & shown["smd"].notna()).sum())
            st.markdown(f"**{n_imb}** of {int(shown['smd'].notna().sum())} characteristics differ by more than 0.1 "
                        "standardised difference (a common threshold for imbalance). Shares are proportions (0-1) "
                        f"among the episodes followed from {origin}; age and prior treatments are means.")
            table(bal, {"variable": Col("Characteristic"), "level": Col("Level"),
                        "value_a": Col(f"{label(a)} (mean or share)", "number"),
                        "value_b": Col(f"{label(b)} (mean or share)", "number"),
                        "smd": Col("Standardised difference", "number")}, name="case_mix", ctx=ctx, height=320)
        else:
            st.info("No covariates chosen or available.")

        st.subheader(f"2. Naive comparison (from {origin})")
        at = view.at_risk.frame.rename(columns={"at_risk": "n_at_risk", "relapsed": "n_event_cum"})
        at = at[at["n_at_risk"].notna() & at["n_event_cum"].notna()]  # rows with a hidden count: table only
        chart(figures.km_figure(view.km, at_risk=at, origin=origin, min_cell=ctx.min_cell, horizon_days=365,
                                show_censor_marks=False,
                                title=f"Time to relapse: {label(a)} vs {label(b)} (from {origin}, unadjusted)"),
              name="naive_km", ctx=ctx, origin=origin)
        table(view.naive, {"group": Col(by_label, "group"), "n": Col(f"People followed from {origin}", "count"),
                           "completion": Col("Completion", "rate"), "relapse": Col("Relapse by 365 d (KM)", "rate")},
              name="naive_comparison", ctx=ctx, origin=origin)
        if view.logrank_p is not None:
            st.markdown(f"Log-rank test {la} vs {lb}: p {fmt_p(view.logrank_p)} (unadjusted).")

        st.subheader("3. Adjusted hazard ratio (Cox model)")
        hr = view.main_hr
        if hr is not None:
            st.metric(f"Hazard ratio of relapse, {la} vs {lb}, adjusted",
                      fmt_ci(hr["hr"], hr["lower"], hr["upper"], percent=False), border=True,
                      help="Efron ties; 95% Wald interval. Below 1: lower hazard of relapse than the reference.")
        terms = view.cox_terms
        chart(figures.forest_figure(terms.frame[terms.frame["hr"].notna()],
                                    title=f"Adjusted hazard ratios (reference: {label(b)}, from {origin})"),
              name="cox_forest", ctx=ctx, origin=origin)
        table(terms.with_column("label", terms.frame["term"].map(pretty_term), "term"),
              {"label": Col("Term"), "hr": Col("Hazard ratio", "ratio"), "lower": Col("95% CI lower", "ratio"),
               "upper": Col("95% CI upper", "ratio"), "p": Col("p", "p")}, name="cox_terms", ctx=ctx, origin=origin,
              height=320)
        n_text = f"{view.cox_n.value:,.0f} episodes" if view.cox_n.shown else "episodes: suppressed"
        ev_text = f"{view.cox_events.value:,.0f} relapses" if view.cox_events.shown else "relapses: suppressed"
        st.caption(f"{n_text}, {ev_text}; concordance {view.cox.concordance:.2f}. " + md(" ".join(view.cox.notes)))
        st.markdown("**Proportional-hazards check**")
        st.text(pretty_sentence(view.cox.summary_sentence()))
        ph = view.ph_test
        table(ph.with_column("label", ph.frame["term"].map(lambda t: t if t == "GLOBAL" else pretty_term(t)), "term"),
              {"label": Col("Term"), "chisq": Col("Chi-square", "number"), "df": Col("df", "int"), "p": Col("p", "p")},
              name="ph_test", ctx=ctx, origin=origin, height=250)

        st.subheader("4. What this comparison can and cannot say")
        verdict = ""
        if hr is not None:
            ci = f"HR {hr['hr']:.2f}, 95% CI {hr['lower']:.2f}-{hr['upper']:.2f}"
            if hr["upper"] < 1:
                verdict = f"After adjustment, {la} episodes had a lower hazard of relapse than {lb} episodes ({ci})."
            elif hr["lower"] > 1:
                verdict = f"After adjustment, {la} episodes had a higher hazard of relapse than {lb} episodes ({ci})."
            else:
                verdict = (f"After adjustment, the data do not show a clear difference in the hazard of relapse "
                           f"between {la} and {lb} ({ci}).")
        st.markdown(
            f"- {verdict}\n"
            "- These are **observational** data: people were not assigned to a level of care at random. "
            "Residential clients are usually more severe (opioid or methamphetamine use, withdrawal, co-occurring "
            "disorders), so a naive comparison is confounded by severity.\n"
            f"- The model adjusts only for what is listed ({md(', '.join(pretty_term(v).lower() for v in covs)) or 'nothing'}); "
            "unmeasured severity, motivation and housing can still differ.\n"
            f"- Time is measured from **{origin}**: "
            + ("relapses during treatment count at day 0, so the comparison is about durability after discharge."
               if origin == "discharge" else
               "a residential stay protects by design while it lasts, which favours residential early on.")
            + "\n- Published evidence rates outcomes of IOP and residential/inpatient care as comparable for most "
              "people (McCarty et al., Psychiatric Services 2014).")
