"""Time analysis.survival on synthetic cohorts of 100,000 and 1,000,000 episodes.

Run: ``python benchmarks/bench_survival.py`` from the repository root. Six levels of care, integer
days up to 730, about half relapses, a few percent deaths (competing event), the rest censored.
Prints the seconds each public function takes (best of three).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import survival as sv  # noqa: E402

LEVELS = ["detox", "inpatient", "residential", "php", "iop", "op"]
COLS = {"time_col": "time_discharge_days", "event_col": "event_discharge", "group_col": "level_of_care"}


def synthetic(n: int, seed: int = 1, integer_days: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, len(LEVELS), n)
    relapse = rng.exponential(420 + 40 * group)
    death = rng.exponential(6000, n)
    censor = rng.uniform(0, 900, n)
    end = np.minimum.reduce([relapse, death, censor, np.full(n, 730.0)])
    event = np.where(end == relapse, 1, np.where(end == death, 2, 0))
    return pd.DataFrame({
        "level_of_care": pd.Categorical.from_codes(group, LEVELS),
        "time_discharge_days": np.floor(end) if integer_days else end,
        "event_discharge": event.astype("int8"),
    })


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


DAYS = [30, 90, 180, 365]


def main() -> None:
    cases = [(100_000, True), (1_000_000, True), (1_000_000, False)]
    for n, integer_days in cases:
        df = synthetic(n, integer_days=integer_days)
        km = sv.km_by_group(df, **COLS)
        rows = {
            "km_by_group": lambda df=df: sv.km_by_group(df, **COLS),
            "survival_at": lambda km=km: sv.survival_at(km, DAYS),
            "median_survival": lambda km=km: sv.median_survival(km),
            "logrank": lambda df=df: sv.logrank(df, **COLS),
            "pairwise_logrank": lambda df=df: sv.pairwise_logrank(df, **COLS),
            "rmst_by_group": lambda km=km: sv.rmst_by_group(km, tau=365.0),
            "cumulative_incidence": lambda df=df: sv.cumulative_incidence(df, **COLS),
        }
        timings = {name: best_of(fn) for name, fn in rows.items()}
        share = df["event_discharge"].value_counts(normalize=True).sort_index().round(3).to_dict()
        kind = "integer days" if integer_days else "continuous times (worst case: all distinct)"
        print(f"n = {n:,} episodes, 6 groups, {kind}, event shares {share}")
        for name, sec in timings.items():
            print(f"  {name:<22s} {sec:8.3f} s")
        core = timings["km_by_group"] + timings["logrank"] + timings["rmst_by_group"]
        print(f"  {'KM + log-rank + RMST':<22s} {core:8.3f} s")


if __name__ == "__main__":
    main()
