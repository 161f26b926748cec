"""The Overview's two still charts (time to relapse, the measure by quarter), built in one place for the page and
for the background work that draws them ahead for the default view and each single level of care (a filter change
then finds its images drawn: drawing two figures took 0.5-1 s of a first filter change on a loaded machine)."""
from __future__ import annotations

from analysis import figures
from ui.state import Context

__all__ = ["TREND_TITLES", "km_chart", "trend_chart", "predraw_overview"]

TREND_TITLES = {"completion_all": "Completion", "relapse": "Relapse by {h} days", "median_stay": "Median stay"}
KM_HEIGHT, TREND_HEIGHT = 440, 380


def km_chart(ctx: Context, view, *, compact: bool):
    """Time to relapse of the view (``analysis.views.overview``'s), with the 40-60% band at one year from
    discharge."""
    return figures.km_figure(
        view.km, origin=ctx.origin, min_cell=ctx.min_cell, show_censor_marks=False,
        benchmark_band=(0.40, 0.60, "40-60% relapse within a year (McLellan et al., JAMA 2000)")
        if ctx.origin == "discharge" else None, horizon_days=365, title=f"Time to relapse (from {ctx.origin})",
        compact=compact)


def trend_title(tr, metric: str) -> str:
    return TREND_TITLES[metric].format(h=tr.horizon_days)


def trend_chart(ctx: Context, tr, metric: str, groups: list, *, compact: bool):
    """The quarterly ``metric`` of the trends ``tr`` for ``groups``, with the organisation's targets."""
    frame = tr.table.frame.assign(n_events=float("nan"))
    return figures.trend_figure(frame, metric, groups=groups, targets=tr.target_rows, min_cell=ctx.min_cell,
                                title=f"{trend_title(tr, metric)} by quarter of discharge", compact=compact)


def predraw_overview(ctx: Context) -> None:
    """Draw (and keep, :mod:`ui.still`) the Overview's charts of ``ctx`` as its first screen shows them in a wide
    window: time to relapse, completion by quarter for the whole program. For the background work; ``ctx`` must
    say whether its number of episodes is shown (:attr:`Context.rows_shown`), as the provenance line does."""
    from ui import compute
    from ui.still import predraw

    view = compute.overview_of(ctx)
    predraw(ctx, km_chart(ctx, view, compact=False), origin=ctx.origin, height=KM_HEIGHT)
    tr = compute.trends_of(ctx)
    if tr is not None and tr.latest.get("completion_all") is not None:
        predraw(ctx, trend_chart(ctx, tr, "completion_all", ["all"], compact=False), origin="discharge",
                where="column", height=TREND_HEIGHT)
