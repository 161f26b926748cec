"""Overview: the cohort in one screen for a program manager."""
import pandas as pd
import streamlit as st

from analysis import labels as L
from analysis.disclosure import fmt_ci
from analysis.views.overview import change_by_group, change_text, group_name
from ui import compute
from ui.overview_charts import KM_HEIGHT, TREND_HEIGHT, TREND_TITLES, km_chart, trend_chart, trend_title
from ui.state import context
from ui.still import StillCharts, still_charts
from ui.text import md
from ui.widgets import (
    BY_LABELS,
    Col,
    details,
    label,
    legend,
    narrow,
    page_guard,
    require_data,
    table,
)

st.title("Overview")
ctx = context()
ds = ctx.dataset
st.caption(f"Data: {md(ds.label)}, sha256 {ds.content_hash[:12]}. Filters: {md(ctx.spec.describe())}. "
           f"Grouped by {md(BY_LABELS.get(ctx.by, ctx.by).lower())}; relapse measured from {ctx.origin}.")



def last_quarter(ctx, charts: StillCharts) -> None:
    """How did we do last quarter? Key measures of the latest complete quarter against the one before, the
    trend by quarter and the organisation's targets."""
    tr = compute.trends_of(ctx, compute.own_targets())
    if tr is None:
        st.info("No trends by quarter: these data have no discharge dates (a file of durations has no calendar).")
        return
    q = tr.latest.get("completion_all")
    st.subheader(f"How did we do last quarter? ({q or 'no complete quarter yet'})")
    if q is None:
        st.info("No quarter is over yet at the data's date, so there is nothing to compare.")
        return
    tiles = st.columns(4)
    previous = {}
    for col, (metric, title, help_) in zip(tiles, (
            ("completion_all", "Completion", "Completed / all discharges of the quarter (transfers count as not "
             "completed, as in TEDS), Wilson 95% interval; change from the previous quarter in percentage points "
             "with the Newcombe 95% interval."),
            ("relapse", f"Relapse by {tr.horizon_days} days", f"1 - Kaplan-Meier at day {tr.horizon_days} after "
             f"discharge among the quarter's discharges, censored at last contact. The quarter shown is the latest "
             f"whose {tr.horizon_days} days of follow-up are over; change in percentage points with its 95% "
             "interval."),
            ("median_stay", "Median stay", "Median length of stay of the quarter's discharges (days); the change "
             "has no interval.")), strict=False):
        est, ch, when = change_text(tr, metric, "all")
        value = est.split(" (")[0] if est else "n/a"
        this, _, before = when.partition(" vs ")
        previous[metric] = before
        delta = ch.replace("95% CI ", "") if ch and ch[0] in "+-" else (ch or None)
        col.metric(f"{title}, {this}", value, delta=delta, delta_color="off", delta_arrow="off", border=True,
                   help=help_)
    if tr.targets is not None:
        st_ = tr.targets.frame["status"].astype(object)
        hidden = tr.targets.hidden("status")
        met = int(((st_ == "met") & ~hidden).sum())
        judged = int((st_.isin(["met", "not_met", "cannot_tell"]) & ~hidden).sum())
        tiles[3].metric("Targets met", f"{met} of {len(st_)}", delta=f"{judged} judged", delta_color="off",
                        delta_arrow="off", border=True, help="Your organisation's targets (added on the Benchmarks "
                        "page), judged on the latest complete quarter from the 95% interval: met, not met, or "
                        "cannot tell.")
    else:
        mask = ((tr.table.frame["metric"] == "completion_all") & (tr.table.frame["group"] == "all")
                & (tr.table.frame["period"] == q)).to_numpy()
        row = tr.table.rows(mask)
        shown = f"{row.frame['n'].iloc[0]:,.0f}" if len(row) and not row.hidden("n").any() \
            and pd.notna(row.frame["n"].iloc[0]) else "suppressed"
        tiles[3].metric(f"Discharges, {q}", shown, border=True,
                        help="Add your organisation's targets on the Benchmarks page to see them judged here.")
    st.caption(f"Under each figure: the change from the quarter before ({previous.get('completion_all')}; relapse "
               f"{previous.get('relapse')}), percentage points (pp) with the 95% interval in brackets.")
    names = {m: trend_title(tr, m) for m in TREND_TITLES}
    left, right = st.columns([4, 3])
    with left:
        metric = st.segmented_control("Measure by quarter", list(names), format_func=names.get,
                                      default="completion_all", key="trend_metric") or "completion_all"
        per_level = st.toggle(f"Each {BY_LABELS.get(ctx.by, ctx.by).lower()}", value=False, key="trend_levels")
        fig = trend_chart(ctx, tr, metric, tr.groups if per_level else ["all"], compact=narrow())
        charts.show(charts.prepare(fig, name=f"trend_{metric}", origin="discharge", where="column",
                                   height=TREND_HEIGHT))
    with right:
        by_label = BY_LABELS.get(ctx.by, ctx.by)
        rows = [(group_name(g), est, ch.replace("95% CI ", "")) for g in tr.groups
                for est, ch, _ in [change_text(tr, metric, g)]]
        when = change_text(tr, metric, "all")[2]
        st.markdown(f"**{names[metric]} by {md(by_label.lower())}, {when or 'latest quarter'}**")
        st.dataframe(pd.DataFrame(rows, columns=[by_label, "Estimate (95% CI)", "Change"]), hide_index=True,
                     key="tbl_trend_change", height="auto")
        st.caption("Change: this quarter minus the previous one" + ("" if metric == "median_stay" else
                   ", in percentage points with its 95% interval") + ". " + legend(ctx.min_cell))
    if tr.targets is not None:
        t = tr.targets
        f = t.frame
        est = []
        for r in f.itertuples():
            if r.metric == "median_los_days":
                est.append(L.fmt_ci(r.estimate, r.lower, r.upper, kind="days"))
            else:
                est.append(L.fmt_ci(r.estimate, r.lower, r.upper))
        goal = [(f"at least {L.fmt_days(lo) if m == 'median_los_days' else L.fmt_percent(lo, 0)}"
                 if d == "higher_is_better" else f"at most {L.fmt_days(hi) if m == 'median_los_days' else L.fmt_percent(hi, 0)}")
                for lo, hi, d, m in zip(f["target_low"], f["target_high"], f["direction"], f["metric"], strict=True)]
        shown = (t.with_column("estimate_text", est, "estimate")
                 .with_column("status_text", [L.VALUE_LABELS["status"].get(v, v) for v in f["status"]], "status")
                 .with_column("goal", goal, "target_id").with_column("who", [group_name(g) for g in f["group"]],
                                                                     "target_id"))
        table(shown, {"target_id": Col("Target"), "who": Col("For"), "period": Col("Quarter"),
                      "goal": Col("Target value"), "estimate_text": Col("Estimate (95% CI)"),
                      "status_text": Col("Status", help="met: the whole 95% interval is on the right side; not met: "
                                         "the whole interval is on the wrong side; cannot tell: it straddles"),
                      "source": Col("Source"), "note": Col("Note")},
              name="targets", ctx=ctx, origin="discharge",
              caption="Judged on the latest complete quarter of each measure.",
              csv_cols={"target_id": Col("Target"), "who": Col("For"), "period": Col("Quarter"),
                        "metric": Col("Measure"), "target_low": Col("Target low", "number"),
                        "target_high": Col("Target high", "number"), "direction": Col("Direction"),
                        "estimate": Col("Estimate", "number"), "lower": Col("95% CI lower", "number"),
                        "upper": Col("95% CI upper", "number"), "status": Col("Status"), "source": Col("Source"),
                        "note": Col("Note")})
    with details("Every measure by group, latest quarter and change", "change_by_group") as opened:
        if opened:
            st.dataframe(change_by_group(tr).rename(columns={"Group": BY_LABELS.get(ctx.by, ctx.by)}), hide_index=True,
                         key="tbl_trend_change_by_group", height="auto")
    with details("Every quarter (table and CSV)", "quarters") as opened:
        if opened:
            t = tr.table
            f = t.frame
            text = [L.fmt_ci(e, lo, hi, kind="days" if u == "days" else "percent")
                    for e, lo, hi, u in zip(f["estimate"], f["lower"], f["upper"], f["unit"], strict=True)]
            what = {"completion_all": "Completion (all discharges)", "relapse": f"Relapse by {tr.horizon_days} days",
                    "median_stay": "Median stay (days)"}
            shown = (t.with_column("estimate_text", text, "estimate")
                     .with_column("measure", [what.get(m, m) for m in f["metric"]], "metric")
                     .with_column("who", [group_name(g) for g in f["group"]], "metric")
                     .with_column("state", ["" if c else "incomplete" for c in f["complete"]], "metric"))
            by_label = BY_LABELS.get(ctx.by, ctx.by)
            table(shown, {"measure": Col("Measure"), "who": Col(by_label), "period": Col("Quarter"),
                          "n": Col("Discharges", "count"), "estimate_text": Col("Estimate (95% CI)"),
                          "state": Col("Quarter complete?"), "note": Col("Note")},
                  name="trends", ctx=ctx, origin="discharge", height=360, caption=tr.method,
                  csv_cols={"measure": Col("Measure"), "who": Col(by_label), "period": Col("Quarter"),
                            "n": Col("Discharges", "count"), "estimate": Col("Estimate", "number"),
                            "lower": Col("95% CI lower", "number"), "upper": Col("95% CI upper", "number"),
                            "unit": Col("Unit"), "complete": Col("Quarter complete"), "note": Col("Note")})



def review_button(ctx) -> None:
    """"Download review (HTML)": the review built on click from this view's publication (what the pages show)."""
    pub = compute.publication(ctx)
    targets = compute.own_targets()
    prov = ctx.provenance(origin=ctx.origin)

    def build() -> bytes:
        from analysis.review import build_review
        from analysis.review_html import review_html

        review = build_review(ctx.cohort, provenance=prov, by=ctx.by, origin=ctx.origin, min_cell=ctx.min_cell,
                              extra_benchmarks=targets, publication=pub)
        return review_html(review).encode("utf-8")

    st.download_button("Download review (HTML)", data=build, file_name="continuum_review.html", mime="text/html",
                       on_click="ignore", icon=":material/summarize:", key="dl_review",
                       help="One self-contained HTML file with the review (key figures, trends, retention, relapse, "
                            "time to relapse, IOP vs residential, benchmarks, methods and provenance), small cells "
                            "hidden as on these pages. Open it in a browser, print it to PDF, or send it.")


if require_data(ctx):
    with page_guard("The overview"), still_charts(ctx) as charts:
        review_button(ctx)
        view = compute.overview_of(ctx)
        km = charts.prepare(km_chart(ctx, view, compact=narrow()), name="overview_time_to_relapse",
                            origin=ctx.origin, height=KM_HEIGHT)  # drawn on the server while the page goes on
        head, hidden = view.headline.frame.iloc[0], view.headline.status.iloc[0]

        def ci(est, lo, hi):
            return f"95% CI {lo * 100:.1f}-{hi * 100:.1f}%" if pd.notna(lo) and pd.notna(hi) else None

        last_quarter(ctx, charts)

        st.subheader("The whole period")
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
        kf_csv = {"group": Col(BY_LABELS.get(ctx.by, ctx.by), "group"), "n_episodes": Col("Episodes", "count"),
                  "completion_rate": Col("Completion (transfers excluded)", "rate"),
                  "ci_lower": Col("Completion 95% CI lower", "rate"), "ci_upper": Col("Completion 95% CI upper", "rate"),
                  "median_days": Col("Median stay (days)", "days"),
                  "km_relapse_90": Col("Relapse by 90 days", "rate"), "km_lower_90": Col("Relapse 90 d 95% CI lower", "rate"),
                  "km_upper_90": Col("Relapse 90 d 95% CI upper", "rate"),
                  "km_relapse_365": Col("Relapse by 365 days", "rate"),
                  "km_lower_365": Col("Relapse 365 d 95% CI lower", "rate"),
                  "km_upper_365": Col("Relapse 365 d 95% CI upper", "rate"),
                  "completion_benchmark": Col("TEDS 2004 band"), "placement_text": Col("Against 40-60%")}
        kf = view.key_figures
        kf = kf.with_column("placement_text", [L.VALUE_LABELS["placement"].get(str(v), v) if v else ""
                                               for v in kf.frame["relapse_benchmark"]], "relapse_benchmark")
        table(kf, {
            "group": Col(BY_LABELS.get(ctx.by, ctx.by), "group"), "n_episodes": Col("Episodes", "count"),
            "completion": Col("Completion (95% CI)", help="Completed / (discharged - transferred)"),
            "completion_benchmark": Col("TEDS 2004 band",
                                        help="Completion by type of service, all discharges in the denominator"),
            "median_days": Col("Median stay, days", "days"), "relapse_90": Col("Relapse 90 d (95% CI)"),
            "relapse_365": Col("Relapse 365 d (95% CI)"),
            "placement_text": Col("vs 40-60%", help="1-year relapse against the McLellan et al. 2000 band")},
            name="overview_key_figures", ctx=ctx, origin=ctx.origin, csv_cols=kf_csv,
            caption=f"Relapse: 1 - Kaplan-Meier from {ctx.origin}, censored at last contact. The completion "
                    "benchmark is stated over all discharges (transfers included).")

        rep = ds.result.report
        as_of = ds.cohort.attrs.get("as_of")  # the dataset's (the view's rows are not needed)
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
        charts.show(km)
        st.caption("Curves are drawn at steps of at least "
                   f"{ctx.min_cell} relapses, so no step shows how many relapsed on one day.")
