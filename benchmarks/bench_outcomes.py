"""Time every outcome analysis on 100,000 and 1,000,000 synthetic episodes (six levels of care).

Run: ``python benchmarks/bench_outcomes.py [--sizes 100000,1000000]``. Prints seconds per step.
Targets (issue 3), on 1,000,000 episodes: retention, relapse, Kaplan-Meier, log-rank and RMST
together under 3 s; the Cox model with 4 categorical covariates under 5 s.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.cohort import derive_cohort  # noqa: E402
from analysis.cox import fit_cox  # noqa: E402
from analysis.engagement import engagement  # noqa: E402
from analysis.loading import load_frame  # noqa: E402
from analysis.relapse import relapse_rates, relapse_survival_data  # noqa: E402
from analysis.retention import (  # noqa: E402
    completion_rates,
    discharge_reason_mix,
    length_of_stay,
    retention_at,
    step_down_rates,
)
from analysis.survival import km_by_group, logrank, median_survival, pairwise_logrank, rmst_by_group  # noqa: E402
from analysis.synthetic import generate_episodes  # noqa: E402


def _timed(label: str, fn, results: dict):
    t0 = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - t0
    return value


def run(n: int) -> dict:
    raw = generate_episodes(n, seed=3)
    loaded = load_frame(raw, today="2100-01-01")
    cohort = derive_cohort(loaded.episodes)
    r: dict = {}
    _timed("completion", lambda: completion_rates(cohort), r)
    _timed("discharge reasons", lambda: discharge_reason_mix(cohort), r)
    _timed("length of stay", lambda: length_of_stay(cohort), r)
    _timed("retention day 30/60/90", lambda: retention_at(cohort), r)
    _timed("engagement hours", lambda: engagement(cohort), r)
    _timed("step-downs", lambda: step_down_rates(cohort), r)
    _timed("relapse 30/90/180/365", lambda: relapse_rates(cohort, origin="discharge"), r)
    data = _timed("survival rows", lambda: relapse_survival_data(cohort, origin="discharge"), r)
    km = _timed("Kaplan-Meier", lambda: km_by_group(data, time_col="time", event_col="event", group_col="group"), r)
    _timed("median + CI", lambda: median_survival(km), r)
    _timed("log-rank global", lambda: logrank(data, time_col="time", event_col="event", group_col="group"), r)
    _timed("log-rank pairwise", lambda: pairwise_logrank(data, time_col="time", event_col="event",
                                                         group_col="group"), r)
    _timed("RMST 365", lambda: rmst_by_group(km, tau=365), r)
    r["= core total (target < 3 s at 1M)"] = sum(r.values())
    frame = data.join(cohort.loc[data.index, ["sex", "primary_substance", "co_occurring", "payer"]])
    _timed("Cox, 4 categorical covariates (target < 5 s at 1M)",
           lambda: fit_cox(frame, time_col="time", event_col="event", group_col="group", reference="residential",
                           covariates=["sex", "primary_substance", "co_occurring", "payer"]), r)
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    results = {n: run(n) for n in sizes}
    print(f"{'step':<52}" + "".join(f"{n:>14,}" for n in sizes))
    for label in results[sizes[0]]:
        print(f"{label:<52}" + "".join(f"{results[n][label]:>13.3f}s" for n in sizes))


if __name__ == "__main__":
    main()
