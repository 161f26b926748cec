"""Benchmarks: every published figure in the registry, and where this program stands against each."""
import numpy as np
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.suppression import suppress_counts
from ui import compute
from ui.state import context
from ui.widgets import Col, chart, label, page_guard, require_data, table

st.title("Benchmarks")
ctx = context()
st.caption("A benchmark is a band, not a verdict: the program's estimate and its 95% interval sit below, inside, "
           "overlapping or above it, for the horizon, time origin and unit the band was stated for. Relapse "
           "benchmarks are stated from discharge, so they are compared with estimates from discharge whatever "
           "the sidebar's origin.")

if require_data(ctx):
    c, by, key, mc = ctx.cohort, ctx.by, ctx.key, ctx.min_cell
    with page_guard("The benchmark comparison"):
        allc = compute.overall(c)
        parts = []
        # relapse within a year from discharge: program and each level of care
        rel_all = compute.sup_relapse(compute.relapse_rates(key + "|all", allc, "program", "discharge"), mc)
        rel_lvl = compute.sup_relapse(compute.relapse_rates(key, c, "level_of_care", "discharge"), mc) \
            if "level_of_care" in c.columns else rel_all.iloc[0:0]
        for frame, level in ((rel_all, None), (rel_lvl, "level")):
            r = frame[frame["horizon_days"] == 365]
            parts.append(pd.DataFrame({
                "metric": "relapse", "horizon_days": 365.0, "origin": "discharge", "unit": "person",
                "level_of_care": r["group"].astype(str) if level else "",
                "estimate": r["km_relapse"], "lower": r["km_lower"], "upper": r["km_upper"],
                "what": [f"Relapse by 365 days from discharge, {label(g) if level else 'all levels'}"
                         for g in r["group"]]}))
            if level is None:  # chronic-illness context: same estimate, no stated horizon/origin
                parts.append(parts[-1].assign(horizon_days=np.nan, origin="",
                                              what="Relapse within a year (context: chronic illnesses)"))
        mix = compute.sup_mix(compute.reason_mix(key + "|all", allc, "program"), mc)
        parts.append(pd.DataFrame({"metric": "discharge_reason_" + mix["reason"].astype(str), "unit": "discharge",
                                   "level_of_care": "", "estimate": mix["share"], "lower": mix["ci_lower"],
                                   "upper": mix["ci_upper"],
                                   "what": "Discharge reason: " + mix["reason"].astype(str).str.replace("_", " ")}))
        if "level_of_care" in c.columns:
            comp = compute.sup_completion(compute.completion(key, c, "level_of_care"), mc)
            parts.append(pd.DataFrame({"metric": "discharge_reason_completed", "unit": "discharge",
                                       "level_of_care": comp["group"].astype(str),
                                       "estimate": comp["completion_rate_all"], "lower": comp["all_ci_lower"],
                                       "upper": comp["all_ci_upper"],
                                       "what": [f"Completion (all discharges), {label(g)}" for g in comp["group"]]}))
        los = compute.los(key + "|all", allc, "program")
        los = suppress_counts(los, ["n_discharged"], min_cell=mc,
                              rate_cols={"share_over_30_days": "n_discharged", "share_over_90_days": "n_discharged"})
        for d in (30, 90):
            parts.append(pd.DataFrame({"metric": f"los_over_{d}_days", "unit": "discharge", "level_of_care": "",
                                       "estimate": los[f"share_over_{d}_days"], "lower": np.nan, "upper": np.nan,
                                       "what": f"Stays longer than {d} days"}))
        est = pd.concat(parts, ignore_index=True)
        est = est[est["estimate"].notna()]
        placed = compute.placements(est)
        # a program-wide estimate should not be placed against a level-specific band
        placed = placed[(placed["benchmark_level_of_care"].astype(str) == "")
                        | (placed["level_of_care"].astype(str) != "")]
        placed = placed[(placed["benchmark_level_of_care"].astype(str) != "")
                        | (placed["level_of_care"].astype(str) == "")]
        st.subheader("Where the program stands")
        ctx_rows = (placed["benchmark_direction"].astype(str) == "context") & (placed["metric"] == "relapse")
        for_fig = placed.assign(metric=placed["metric"].where(
            ~ctx_rows, "relapse (context: " + placed["benchmark_population"].astype(str).str.split(":").str[0]
            .str.lower() + ")"))
        chart(figures.benchmark_figure(for_fig), name="benchmarks", ctx=ctx, origin="discharge")
        shown = placed.assign(band=[f"{lo:.1%}" if lo == hi else f"{lo:.0%}-{hi:.0%}"
                                    for lo, hi in zip(placed["benchmark_low"], placed["benchmark_high"], strict=True)],
                              year=placed["benchmark_year"].astype(str))
        table(shown, {"what": Col("Program estimate"), "estimate": Col("Estimate", "rate"),
                      "lower": Col("95% CI lower", "rate"), "upper": Col("95% CI upper", "rate"),
                      "band": Col("Benchmark"), "placement": Col("Placement"),
                      "benchmark_population": Col("Benchmark population"),
                      "benchmark_source": Col("Source"), "year": Col("Year")},
              name="benchmark_placements", ctx=ctx, origin="discharge", height=420,
              caption="Not computed from these data: NIATx no-show and continuation targets (need appointment "
                      "data), the share of a year's relapses by 3 months (Hunt 1971), stays over 180/365 days.")

    with page_guard("The registry"):
        st.subheader("Every benchmark in the registry")
        reg = compute.benchmarks_table()
        table(reg.assign(level=reg["level_of_care"].map(lambda v: label(v) if v else "all")),
              {"id": Col("Id"), "metric": Col("Metric"), "horizon_days": Col("Horizon (days)"),
               "origin": Col("Origin"), "unit": Col("Unit"), "level": Col("Level of care"),
               "low": Col("Low"), "high": Col("High"), "direction": Col("Direction"),
               "population": Col("Population"), "source": Col("Source"), "year": Col("Year"), "note": Col("Note")},
              name="benchmark_registry", ctx=ctx, height=400)
        st.markdown("**Chronic illnesses, for context.** McLellan et al. (JAMA 2000) set the 40-60% relapse "
                    "figure for drug dependence beside symptom recurrence in type 1 diabetes (30-50%), "
                    "hypertension (50-70%) and asthma (50-70%). For those illnesses 'relapse' mostly means not "
                    "following the treatment: the comparison is about chronicity, not the same measure.")
