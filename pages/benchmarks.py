"""Benchmarks: every published figure in the registry, and where this program stands against each."""
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.report import describe_estimate
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
    own = st.file_uploader("Add your organisation's own targets (CSV with the registry's columns: id, metric, "
                           "unit, low, high, direction, source ...)", type=["csv"], key="own_benchmarks")
    own_bytes = own.getvalue() if own is not None else None
    with page_guard("The benchmark comparison"):
        try:
            placed = compute.program_benchmarks(key, c, by, own_bytes)
        except ValueError as exc:  # the organisation's file: say what is wrong with it, then carry on without
            st.error(str(exc))
            placed = compute.program_benchmarks(key, c, by, None)
        small = placed["n"] < mc
        placed = placed.assign(
            estimate=placed["estimate"].mask(small), lower=placed["lower"].mask(small),
            upper=placed["upper"].mask(small), placement=placed["placement"].mask(small, f"suppressed (<{mc})"),
            what=[describe_estimate(m, g, str(pop)) for m, g, pop in
                  zip(placed["metric"], placed["group"], placed["benchmark_population"], strict=True)])
        st.subheader("Where the program stands")
        ctx_rows = (placed["benchmark_direction"].astype(str) == "context") & (placed["metric"] == "relapse")
        for_fig = placed[placed["estimate"].notna()]
        for_fig = for_fig.assign(
            level_of_care=for_fig["group"].where(for_fig["group"] != "all", ""),
            metric=for_fig["metric"].where(~ctx_rows[for_fig.index], "relapse (context: " + for_fig[
                "benchmark_population"].astype(str).str.split(":").str[0].str.lower() + ")"))
        chart(figures.benchmark_figure(for_fig), name="benchmarks", ctx=ctx, origin="discharge")
        shown = placed.assign(band=[f"{lo:.1%}" if lo == hi else f"{lo:.0%}-{hi:.0%}"
                                    for lo, hi in zip(placed["benchmark_low"], placed["benchmark_high"], strict=True)],
                              year=placed["benchmark_year"].map(lambda y: "" if pd.isna(y) else str(int(y))))
        table(shown, {"what": Col("Program estimate"), "estimate": Col("Estimate", "rate"),
                      "lower": Col("95% CI lower", "rate"), "upper": Col("95% CI upper", "rate"),
                      "band": Col("Benchmark"), "placement": Col("Placement"),
                      "benchmark_population": Col("Benchmark population"),
                      "benchmark_source": Col("Source"), "year": Col("Year")},
              name="benchmark_placements", ctx=ctx, origin="discharge", height=420,
              caption="Relapse figures are 1 - Kaplan-Meier from discharge with log-log 95% intervals; shares have "
                      "Wilson intervals. Benchmarks pooled over all services (TEDS-D 2019) are compared with the "
                      "whole program only; completion by type of service (TEDS 2004) with its level. Not computed "
                      "from these data: the NIATx no-show and continuation targets (they need appointment data).")

    with page_guard("The registry"):
        st.subheader("Every benchmark in the registry")
        reg = compute.benchmarks_table()
        if own_bytes is not None:
            try:
                reg = compute.benchmarks_table(own_bytes)
            except ValueError:
                pass  # already reported above
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
