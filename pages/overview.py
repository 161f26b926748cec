"""Overview: the cohort in one screen for a program manager."""
import numpy as np
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.suppression import format_count, suppress_counts
from ui import compute
from ui.state import context
from ui.widgets import BY_LABELS, Col, chart, fmt_ci, label, page_guard, require_data, table

st.title("Overview")
ctx = context()
ds = ctx.dataset
st.caption(f"Data: {ds.label}, sha256 {ds.content_hash[:12]}. Filters: {ctx.spec.describe()}. "
           f"Grouped by {BY_LABELS.get(ctx.by, ctx.by).lower()}; relapse measured from {ctx.origin}.")

if require_data(ctx):
    c, by, origin, key, mc = ctx.cohort, ctx.by, ctx.origin, ctx.key, ctx.min_cell
    with page_guard("The overview"):
        comp = compute.completion(key, c, by)
        los = compute.los(key, c, by)
        rel = compute.relapse_rates(key, c, by, origin)
        allc = compute.overall(c)
        comp_all = compute.completion(key + "|all", allc, "program")
        rel_all = compute.relapse_rates(key + "|all", allc, "program", origin)
        los_all = compute.los(key + "|all", allc, "program").iloc[0]

        # ---------------------------------------------------------------- headline metrics
        r365 = rel_all[rel_all["horizon_days"] == 365].iloc[0]
        ca = comp_all.iloc[0]
        m = st.columns(4)

        def ci_delta(lo, hi):
            return f"95% CI {lo * 100:.1f}-{hi * 100:.1f}%" if np.isfinite(lo) and np.isfinite(hi) else None

        m[0].metric("Episodes", format_count(len(c), min_cell=mc), border=True)
        ok_comp = ca["n_discharged"] - ca["n_transferred"] >= mc and ca["n_completed"] >= mc
        m[1].metric("Completion rate", f"{ca['completion_rate'] * 100:.1f}%" if ok_comp else "suppressed",
                    delta=ci_delta(ca["ci_lower"], ca["ci_upper"]) if ok_comp else None, delta_color="off",
                    delta_arrow="off", border=True,
                    help="Completed / (discharged - transferred), Wilson 95% interval.")
        m[2].metric("Median length of stay", f"{los_all['median_days']:.0f} days"
                    if los_all["n_discharged"] >= mc else "suppressed", border=True,
                    help="Discharged episodes only.")
        ok_rel = r365["n"] >= mc and r365["n_relapsed"] >= mc
        m[3].metric(f"Relapse by 365 days from {origin}", f"{r365['km_relapse'] * 100:.1f}%" if ok_rel
                    else "suppressed", delta=ci_delta(r365["km_lower"], r365["km_upper"]) if ok_rel else None,
                    delta_color="off", delta_arrow="off", border=True,
                    help="1 - Kaplan-Meier, censored at last contact; benchmark 40-60% from discharge "
                         "(McLellan et al., JAMA 2000).")

        # ---------------------------------------------------------------- key figures per group
        st.subheader(f"Key figures by {BY_LABELS.get(by, by).lower()}")
        r90 = rel[rel["horizon_days"] == 90].set_index("group", drop=False)
        r365g = rel[rel["horizon_days"] == 365].set_index("group", drop=False)
        kf = pd.DataFrame({"group": comp["group"].astype(object), "n_episodes": comp["n_episodes"],
                           "basis": comp["n_discharged"] - comp["n_transferred"],
                           "n_completed": comp["n_completed"]})
        kf = kf.merge(los[["group", "n_discharged", "median_days"]].assign(group=lambda d: d["group"].astype(object)),
                      on="group", how="left")
        kf["n_rel"] = kf["group"].map(r365g["n"].rename(index=lambda g: g)).astype(float)
        sup = suppress_counts(kf, ["n_episodes", "basis", "n_completed", "n_discharged", "n_rel"], min_cell=mc)
        comp_text = [fmt_ci(r, lo, hi) for r, lo, hi in comp[["completion_rate", "ci_lower", "ci_upper"]].to_numpy()]
        kf["completion"] = np.where(sup["basis_suppressed"] | sup["n_completed_suppressed"], "suppressed", comp_text)
        kf["median_los"] = np.where(sup["n_discharged_suppressed"], "suppressed",
                                    kf["median_days"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"))

        def rel_text(frame, g):
            if g not in frame.index or frame.loc[g, "n"] < mc:
                return "suppressed"
            row = frame.loc[g]
            return fmt_ci(row["km_relapse"], row["km_lower"], row["km_upper"])

        kf["relapse_90"] = [rel_text(r90, g) for g in kf["group"]]
        kf["relapse_365"] = [rel_text(r365g, g) for g in kf["group"]]
        # benchmark beside each figure
        spec_pl = compute.completion_placements(comp, by)

        def _bench_name(bid: str) -> str:
            tail = bid.split("_completion_", 1)[-1].replace("_", " ")
            tail = {"short term residential": "short-term", "long term residential": "long-term",
                    "hospital residential": "hospital"}.get(tail, tail)
            return "" if tail in ("iop", "op", "detox") else tail

        def band_text(g):
            rows = spec_pl[spec_pl["group"] == g]
            if rows.empty:
                return ""
            parts = []
            for r in rows.itertuples():
                name = _bench_name(r.benchmark_id)
                parts.append(f"{r.benchmark_low:.0%} {name}: {r.placement}" if name
                             else f"{r.benchmark_low:.0%}: {r.placement}")
            return "; ".join(parts)

        kf["completion_benchmark"] = [band_text(g) for g in kf["group"]]
        placed365 = compute.placements(pd.DataFrame({
            "metric": "relapse", "horizon_days": 365, "origin": origin, "unit": "person",
            "estimate": r365g["km_relapse"].to_numpy(), "lower": r365g["km_lower"].to_numpy(),
            "upper": r365g["km_upper"].to_numpy(), "group": r365g["group"].astype(object).to_numpy()}))
        pl365 = dict(zip(placed365["group"], placed365["placement"], strict=False))
        kf["relapse_benchmark"] = [pl365[g] if g in pl365 and r365g.loc[g, "n"] >= mc
                                   else ("band is from discharge" if origin == "admission" else "")
                                   for g in kf["group"]]
        sup = sup.assign(**{k: kf[k] for k in ("completion", "median_los", "relapse_90", "relapse_365",
                                               "completion_benchmark", "relapse_benchmark")})
        table(sup, {"group": Col(BY_LABELS.get(by, by), "group"),
                    "n_episodes": Col("Episodes", "count", "n_episodes_suppressed"),
                    "completion": Col("Completion (95% CI)", help="Completed / (discharged - transferred)"),
                    "completion_benchmark": Col("TEDS 2004 band", help="Completion by type of service, all discharges in the denominator"),
                    "median_los": Col("Median stay, days"),
                    "relapse_90": Col("Relapse 90 d (95% CI)"),
                    "relapse_365": Col("Relapse 365 d (95% CI)"),
                    "relapse_benchmark": Col("vs 40-60%", help="1-year relapse against the McLellan et al. 2000 band")},
              name="overview_key_figures", ctx=ctx, origin=origin,
              caption=f"Relapse: 1 - Kaplan-Meier from {origin}, censored at last contact. "
                      "The completion benchmark is stated over all discharges (transfers included).")

        # ---------------------------------------------------------------- what is loaded, then a small KM chart
        rep = ds.result.report
        as_of = c.attrs.get("as_of")
        info = st.columns(3)
        info[0].markdown("**What is loaded**")
        info[0].text(f"{ds.label}\nrows read {rep.n_rows_read:,}, accepted {rep.n_rows_accepted:,}, "
                     f"excluded {rep.n_rows_excluded:,}\ndata as of {pd.Timestamp(as_of).date() if as_of else 'n/a'}")
        info[1].markdown("**Active filters**")
        info[1].text(ctx.spec.describe())
        info[2].markdown("**Episodes after filters**")
        info[2].text(f"{format_count(len(c), min_cell=mc)} in {len(comp)} groups: "
                     + ", ".join(label(g) for g in comp["group"]))
        km = compute.km(key, c, by, origin)
        fig = figures.km_figure(km, origin=origin, min_cell=mc, show_censor_marks=False,
                                benchmark_band=(0.40, 0.60, "40-60% relapse within a year (McLellan et al., "
                                                "JAMA 2000)") if origin == "discharge" else None,
                                horizon_days=365, title=f"Time to relapse (from {origin})")
        fig.update_layout(height=440)
        chart(fig, name="overview_time_to_relapse", ctx=ctx, origin=origin)
