"""Size of every figure as sent to the browser (plotly JSON, as ``st.plotly_chart`` serialises it).

Run: ``python benchmarks/bench_figures.py [--sizes 5000,1000000] [--static]``. Prints, per figure, the
JSON size in kB and the seconds to build it; ``--static`` also times SVG and PDF export through
kaleido and the system Chromium (anchor: the first export, which starts the browser).
The 5,000 row run uses the bundled sample file; other sizes are synthetic cohorts.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plotly.io as pio  # noqa: E402

from analysis import figures  # noqa: E402
from analysis.casemix import standardized_differences  # noqa: E402
from analysis.cohort import derive_cohort  # noqa: E402
from analysis.cox import fit_cox  # noqa: E402
from analysis.loading import load_episodes, load_frame  # noqa: E402
from analysis.relapse import relapse_rates, relapse_survival_data  # noqa: E402
from analysis.report import program_benchmarks  # noqa: E402
from analysis.retention import (  # noqa: E402
    completion_rates,
    discharge_reason_mix,
    retention_curve,
    step_down_flows,
)
from analysis.survival import at_risk_table, cumulative_incidence, km_by_group  # noqa: E402
from analysis.synthetic import generate_episodes  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv"


def cohort_of(n: int):
    if n == 5000 and SAMPLE.exists():
        return derive_cohort(load_episodes(SAMPLE).episodes)
    return derive_cohort(load_frame(generate_episodes(n, seed=3), today="2100-01-01").episodes)


def builders(cohort) -> dict:
    """Every chart of the app, built as the pages build them (data first, then the figure)."""
    data = relapse_survival_data(cohort, origin="discharge")
    km = km_by_group(data, time_col="time", event_col="event", group_col="group")
    at = at_risk_table(km, [0, 90, 180, 365, 545])
    rates = relapse_rates(cohort, origin="discharge")
    two = relapse_survival_data(cohort, origin="discharge", groups=["iop", "residential"])
    cox = fit_cox(two, time_col="time", event_col="event", group_col="group", reference="residential")
    placed = program_benchmarks(cohort)
    band = (0.40, 0.60, "40-60% relapse within a year (McLellan et al., JAMA 2000)")
    return {
        "km (time to relapse)": lambda: figures.km_figure(km, at_risk=at, origin="discharge", benchmark_band=band,
                                                          horizon_days=365),
        "km overview (no marks)": lambda: figures.km_figure(km, origin="discharge", show_censor_marks=False),
        "cumulative incidence": lambda: figures.cumulative_incidence_figure(
            cumulative_incidence(data, time_col="time", event_col="event", group_col="group"), origin="discharge"),
        "retention curve": lambda: figures.retention_figure(retention_curve(cohort)),
        "completion": lambda: figures.completion_figure(completion_rates(cohort)),
        "discharge reasons": lambda: figures.reason_mix_figure(discharge_reason_mix(cohort)),
        "length of stay": lambda: figures.los_figure(cohort),
        "hours per week": lambda: figures.hours_figure(cohort),
        "step-down flows": lambda: figures.sankey_figure(step_down_flows(cohort)),
        "relapse by horizon": lambda: figures.relapse_horizons_figure(rates, benchmark_band=band),
        "forest (Cox)": lambda: figures.forest_figure(cox.terms),
        "case-mix balance": lambda: figures.balance_figure(
            standardized_differences(cohort, groups=["iop", "residential"])),
        "benchmarks": lambda: figures.benchmark_figure(placed[placed["estimate"].notna()]),
    }


def run(n: int, static: bool) -> None:
    t0 = time.perf_counter()
    cohort = cohort_of(n)
    print(f"\n{n:,} episodes (cohort in {time.perf_counter() - t0:.1f} s)")
    print(f"{'figure':<26}{'JSON kB':>10}{'build s':>10}" + (f"{'svg s':>8}{'pdf s':>8}" if static else ""))
    total = 0
    for name, build in builders(cohort).items():
        t = time.perf_counter()
        fig = build()
        built = time.perf_counter() - t
        size = len(pio.to_json(fig, validate=False))
        total += size
        line = f"{name:<26}{size / 1000:>10.1f}{built:>10.3f}"
        if static:
            from analysis.figures import static_image
            for fmt in ("svg", "pdf"):
                t = time.perf_counter()
                static_image(fig, fmt)
                line += f"{time.perf_counter() - t:>8.2f}"
        print(line)
    print(f"{'= all figures':<26}{total / 1000:>10.1f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="5000,1000000")
    p.add_argument("--static", action="store_true", help="also time SVG and PDF export (system Chromium)")
    args = p.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        run(n, args.static)


if __name__ == "__main__":
    main()
