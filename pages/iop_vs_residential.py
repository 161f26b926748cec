"""IOP vs residential (any two groups): case mix, naive comparison, Cox-adjusted hazard ratio, PH check."""
import re

import numpy as np
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.casemix import DEFAULT_COVARIATES
from analysis.retention import group_values
from analysis.suppression import suppress_counts
from ui import compute
from ui.state import context
from ui.widgets import BY_LABELS, Col, chart, fmt_ci, fmt_p, label, page_guard, require_data, table

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
    c, by, origin, key, mc = ctx.cohort, ctx.by, ctx.origin, ctx.key, ctx.min_cell
    by_label = BY_LABELS.get(by, by)
    groups = list(group_values(c, by).cat.categories)
    if len(groups) < 2:
        st.info(f"Only one {by_label.lower()} matches these filters: there is nothing to compare.")
        st.stop()
    cols = st.columns(3)
    a_default = "iop" if "iop" in groups else groups[0]
    b_default = "residential" if "residential" in groups and a_default != "residential" else \
        next(g for g in groups if g != a_default)
    a = cols[0].selectbox("Compare", groups, index=groups.index(a_default), key="cmp_a", format_func=label)
    b_opts = [g for g in groups if g != a]
    b = cols[1].selectbox("With (reference)", b_opts,
                          index=b_opts.index(b_default) if b_default in b_opts else 0, key="cmp_b", format_func=label)
    cov_options = [v for v in (*DEFAULT_COVARIATES, "race_ethnicity", "site") if v in c.columns and v != by]
    covs = cols[2].multiselect("Adjust for", cov_options, default=[v for v in DEFAULT_COVARIATES if v in cov_options],
                               key="cmp_covs", format_func=lambda v: v.replace("_", " "))
    pair = (str(b), str(a))  # reference first
    sizes = group_values(c, by, [a, b]).value_counts()
    if sizes.min() < mc:
        st.info(f"One of the two groups has fewer than {mc} episodes; choose other groups or widen the filters.")
        st.stop()

    with page_guard("The case mix"):
        st.subheader("1. Who is in each group (case mix)")
        bal = compute.balance(key, c, by, (a, b), tuple(covs))
        if len(bal):
            # readable labels; shares that would reveal a count from 1 to min_cell - 1 are hidden
            share = (bal["kind"] == "share").to_numpy()
            bal = bal.assign(count_a=np.where(share, (bal["value_a"] * bal["n_a"]).round(), np.nan),
                             count_b=np.where(share, (bal["value_b"] * bal["n_b"]).round(), np.nan),
                             variable=bal["variable"].map(lambda v: VAR_LABELS.get(v, v.replace("_", " "))),
                             level=bal["level"].astype(str).replace({"True": "yes", "False": "no"}))
            bal = suppress_counts(bal, ["count_a", "count_b"], min_cell=mc,
                                  rate_cols={"value_a": "count_a", "value_b": "count_b", "smd": "count_a"})
            hidden = bal["count_b_suppressed"].to_numpy()
            bal.loc[hidden, ["value_b", "smd"]] = np.nan
            bal["smd_suppressed"] = bal["smd_suppressed"] | hidden
            shown = bal[bal["smd"].notna()]
            chart(figures.balance_figure(shown, title=f"Case mix: {label(a)} vs {label(b)}"), name="case_mix",
                  ctx=ctx)
            n_imb = int(shown["imbalanced"].sum())
            st.markdown(f"**{n_imb}** of {len(shown)} characteristics differ by more than 0.1 standardised "
                        "difference (a common threshold for imbalance). Shares are proportions (0-1); age and "
                        "prior treatments are means.")
            table(bal, {"variable": Col("Characteristic"), "level": Col("Level"),
                        "value_a": Col(f"{label(a)} (mean or share)", "number", "value_a_suppressed"),
                        "value_b": Col(f"{label(b)} (mean or share)", "number", "value_b_suppressed"),
                        "smd": Col("Standardised difference", "number", "smd_suppressed")},
                  name="case_mix", ctx=ctx, height=320)
        else:
            st.info("No covariates chosen or available.")

    with page_guard("The naive comparison"):
        st.subheader(f"2. Naive comparison (from {origin})")
        km = compute.km(key, c, by, origin)
        km2 = km[km["group"].isin([a, b])].copy()
        km2["group"] = km2["group"].cat.remove_unused_categories()
        at = compute.at_risk(key, c, by, origin, (0, 90, 180, 365))
        at = at[at["group"].isin([a, b])].copy()
        at["group"] = at["group"].cat.remove_unused_categories()
        left, right = st.container(), st.container()
        with left:
            chart(figures.km_figure(km2, at_risk=at, origin=origin, min_cell=mc, horizon_days=365,
                                    title=f"Time to relapse: {label(a)} vs {label(b)} (from {origin}, unadjusted)"),
                  name="naive_km", ctx=ctx, origin=origin)
        with right:
            rates = compute.sup_relapse(compute.relapse_rates(key, c, by, origin), mc)
            r = rates[(rates["horizon_days"] == 365) & rates["group"].isin([a, b])]
            comp = compute.sup_completion(compute.completion(key, c, by), mc)
            comp = comp[comp["group"].isin([a, b])]
            naive = pd.DataFrame({
                "group": [a, b],
                "completion": [comp.loc[comp["group"] == g, "completion_rate"].iloc[0] for g in (a, b)],
                "completion_suppressed": [bool(comp.loc[comp["group"] == g, "completion_rate_suppressed"].iloc[0])
                                          for g in (a, b)],
                "relapse": [r.loc[r["group"] == g, "km_relapse"].iloc[0] for g in (a, b)],
                "relapse_suppressed": [bool(r.loc[r["group"] == g, "km_relapse_suppressed"].iloc[0])
                                       for g in (a, b)],
                "n": [float(sizes.get(g)) for g in (a, b)]})
            naive = suppress_counts(naive, ["n"], min_cell=mc)
            table(naive, {"group": Col(by_label, "group"), "n": Col("Episodes", "count", "n_suppressed"),
                          "completion": Col("Completion", "rate", "completion_suppressed"),
                          "relapse": Col("Relapse by 365 d (KM)", "rate", "relapse_suppressed")},
                  name="naive_comparison", ctx=ctx, origin=origin)
            _, pairs = compute.logrank_tests(key, c, by, origin)
            pr = pairs[((pairs["group_a"] == a) & (pairs["group_b"] == b)) |
                       ((pairs["group_a"] == b) & (pairs["group_b"] == a))]
            if len(pr):
                st.markdown(f"Log-rank test {label(a)} vs {label(b)}: p {fmt_p(float(pr['p'].iloc[0]))} "
                            "(unadjusted).")

    with page_guard("The adjusted comparison"):
        st.subheader("3. Adjusted hazard ratio (Cox model)")
        res = compute.cox(key, c, by, origin, pair, tuple(covs))
        terms = res.terms
        main = terms[terms["term"] == f"{by}[{a}]"]
        if len(main):
            hr = main.iloc[0]
            st.metric(f"Hazard ratio of relapse, {label(a)} vs {label(b)}, adjusted",
                      fmt_ci(hr["hr"], hr["lower"], hr["upper"], percent=False), border=True,
                      help="Efron ties; 95% Wald interval. Below 1: lower hazard of relapse than the reference.")
        left, right = st.container(), st.container()
        with left:
            chart(figures.forest_figure(terms, title=f"Adjusted hazard ratios (reference: {label(b)}, from {origin})"),
                  name="cox_forest", ctx=ctx, origin=origin)
        with right:
            table(terms.assign(term=terms["term"].map(pretty_term)), {"term": Col("Term"), "hr": Col("Hazard ratio", "ratio"),
                          "lower": Col("95% CI lower", "ratio"), "upper": Col("95% CI upper", "ratio"),
                          "p": Col("p", "p")}, name="cox_terms", ctx=ctx, origin=origin, height=320)
            st.caption(f"{res.n:,} episodes, {res.n_events:,} relapses; concordance {res.concordance:.2f}. "
                       + " ".join(res.notes))
        st.markdown("**Proportional-hazards check**")
        st.text(pretty_sentence(res.summary_sentence()))
        ph = res.ph_test.assign(term=res.ph_test["term"].map(lambda t: t if t == "GLOBAL" else pretty_term(t)))
        table(ph, {"term": Col("Term"), "chisq": Col("Chi-square", "number"), "df": Col("df"),
                            "p": Col("p", "p")}, name="ph_test", ctx=ctx, origin=origin, height=250)

        st.subheader("4. What this comparison can and cannot say")
        verdict = ""
        if len(main):
            hr = main.iloc[0]
            if hr["upper"] < 1:
                verdict = (f"After adjustment, {label(a)} episodes had a lower hazard of relapse than {label(b)} "
                           f"episodes (HR {hr['hr']:.2f}, 95% CI {hr['lower']:.2f}-{hr['upper']:.2f}).")
            elif hr["lower"] > 1:
                verdict = (f"After adjustment, {label(a)} episodes had a higher hazard of relapse than {label(b)} "
                           f"episodes (HR {hr['hr']:.2f}, 95% CI {hr['lower']:.2f}-{hr['upper']:.2f}).")
            else:
                verdict = (f"After adjustment, the data do not show a clear difference in the hazard of relapse "
                           f"between {label(a)} and {label(b)} (HR {hr['hr']:.2f}, 95% CI "
                           f"{hr['lower']:.2f}-{hr['upper']:.2f}).")
        st.markdown(
            f"- {verdict}\n"
            "- These are **observational** data: people were not assigned to a level of care at random. "
            "Residential clients are usually more severe (opioid or methamphetamine use, withdrawal, co-occurring "
            "disorders), so a naive comparison is confounded by severity.\n"
            f"- The model adjusts only for what is listed ({', '.join(pretty_term(v).lower() for v in covs) or 'nothing'}); "
            "unmeasured "
            "severity, motivation and housing can still differ.\n"
            f"- Time is measured from **{origin}**: "
            + ("relapses during treatment count at day 0, so the comparison is about durability after discharge."
               if origin == "discharge" else
               "a residential stay protects by design while it lasts, which favours residential early on.")
            + "\n- Published evidence rates outcomes of IOP and residential/inpatient care as comparable for most "
              "people (McCarty et al., Psychiatric Services 2014).")
