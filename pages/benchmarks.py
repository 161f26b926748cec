"""Benchmarks: every published figure in the registry, and where this program stands against each."""
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.export import to_csv_bytes
from ui import compute
from ui.state import context
from ui.still import still_charts
from ui.text import md
from ui.widgets import Col, chart, label, narrow, page_guard, require_data, table

st.title("Benchmarks")
ctx = context()
st.caption("A benchmark is a band, not a verdict: the program's estimate and its 95% interval sit below, inside, "
           "overlapping or above it, for the horizon, time origin and unit the band was stated for. Relapse "
           "benchmarks are stated from discharge, so they are compared with estimates from discharge whatever "
           "the sidebar's origin.")

with still_charts(ctx):  # charts of shared data as images (ui/still.py)
    if require_data(ctx):
        own = st.file_uploader("Add your organisation's own targets (CSV with the registry's columns: id, metric, "
                               "unit, low, high, direction, source ...)", type=["csv"], key="own_benchmarks")
        if own is not None:  # kept for the session: the Overview judges the same targets, and coming back keeps them
            st.session_state[compute.OWN_TARGETS] = own.getvalue()
        own_bytes = compute.own_targets()
        if own is None and own_bytes is not None:
            st.caption("Your organisation's targets added earlier in this session are in use (the Overview judges them "
                       "by quarter).")
            if st.button("Stop using these targets", key="forget_targets"):
                st.session_state[compute.OWN_TARGETS] = None
                st.rerun()
        with page_guard("The benchmark comparison"):
            try:
                view = compute.benchmarks_of(ctx, own_bytes)
            except ValueError as exc:  # the organisation's file: say what is wrong with it, then carry on without
                st.error(md(exc))
                own_bytes = None
                st.session_state[compute.OWN_TARGETS] = None
                view = compute.benchmarks_of(ctx, None)
            placed = view.placements
            f = placed.frame
            st.subheader("Where the program stands")
            ctx_rows = (f["benchmark_direction"].astype(str) == "context") & (f["metric"] == "relapse")
            for_fig = f[f["estimate"].notna()]
            for_fig = for_fig.assign(
                level_of_care=for_fig["group"].where(for_fig["group"] != "all", ""),
                metric=for_fig["metric"].where(~ctx_rows[for_fig.index], "relapse (context: " + for_fig[
                    "benchmark_population"].astype(str).str.split(":").str[0].str.lower() + ")"))
            chart(figures.benchmark_figure(for_fig, compact=narrow()), name="benchmarks", ctx=ctx, origin="discharge")
            bands = [f"{lo:.1%}" if lo == hi else f"{lo:.0%}-{hi:.0%}"
                     for lo, hi in zip(f["benchmark_low"], f["benchmark_high"], strict=True)]
            years = f["benchmark_year"].map(lambda y: "" if pd.isna(y) else str(int(y)))
            shown = placed.with_column("band", bands, "what").with_column("year", years, "what")
            table(shown, {"what": Col("Program estimate"), "estimate": Col("Estimate", "rate"),
                          "lower": Col("95% CI lower", "rate"), "upper": Col("95% CI upper", "rate"),
                          "band": Col("Benchmark"), "placement": Col("Placement"),
                          "benchmark_population": Col("Benchmark population"), "benchmark_source": Col("Source"),
                          "year": Col("Year")}, name="benchmark_placements", ctx=ctx, origin="discharge", height=420,
                  csv_cols={"what": Col("Program estimate"), "estimate": Col("Estimate", "rate"),
                            "lower": Col("95% CI lower", "rate"), "upper": Col("95% CI upper", "rate"),
                            "benchmark_low": Col("Benchmark low", "number"), "benchmark_high": Col("Benchmark high", "number"),
                            "placement": Col("Placement"), "benchmark_population": Col("Benchmark population"),
                            "benchmark_source": Col("Source"), "year": Col("Year")},
                  caption="Relapse figures are 1 - Kaplan-Meier from discharge with log-log 95% intervals; shares have "
                          "Wilson intervals. Benchmarks pooled over all services (TEDS-D 2019) are compared with the "
                          "whole program only; completion by type of service (TEDS 2004) with its level. Not computed "
                          "from these data: the NIATx no-show and continuation targets (they need appointment data).")

        with page_guard("The registry"):
            st.subheader("Every benchmark in the registry")
            reg = compute.benchmarks_table(own_bytes) if own_bytes is not None else compute.benchmarks_table()
            registry = reg.assign(level=reg["level_of_care"].map(lambda v: label(v) if v else "all")).rename(columns={
                "id": "Id", "metric": "Metric", "horizon_days": "Horizon (days)", "origin": "Origin", "unit": "Unit",
                "level": "Level of care", "low": "Low", "high": "High", "direction": "Direction",
                "population": "Population", "source": "Source", "year": "Year", "note": "Note"})[[
                    "Id", "Metric", "Horizon (days)", "Origin", "Unit", "Level of care", "Low", "High", "Direction",
                    "Population", "Source", "Year", "Note"]]
            st.dataframe(registry, hide_index=True, height=400, key="tbl_benchmark_registry")
            st.download_button("Download CSV", to_csv_bytes(registry, ctx.provenance()), file_name="continuum_benchmark_registry.csv",
                               mime="text/csv", key="dl_benchmark_registry", icon=":material/download:")
            st.markdown("**Chronic illnesses, for context.** McLellan et al. (JAMA 2000) set the 40-60% relapse "
                        "figure for drug dependence beside symptom recurrence in type 1 diabetes (30-50%), "
                        "hypertension (50-70%) and asthma (50-70%). For those illnesses 'relapse' mostly means not "
                        "following the treatment: the comparison is about chronicity, not the same measure.")
