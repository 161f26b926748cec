"""Benchmark analysis.cox.fit_cox on synthetic cohorts (100k and 1M episodes).

Six levels of care + four categorical covariates, integer days, relapse ~50%, some deaths (event 2).
Run:  /work/venv/bin/python benchmarks/bench_cox.py  [n ...]
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from analysis.cox import fit_cox

LEVELS = ["detox", "inpatient", "residential", "php", "iop", "op"]


def synthetic(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    loc = rng.integers(0, 6, n)
    sex = rng.choice(np.array(["female", "male"], dtype=object), n, p=[0.4, 0.6])
    sub = rng.choice(np.array(["alcohol", "opioid", "stimulant", "cannabis"], dtype=object), n)
    coo = rng.choice(np.array(["no", "yes"], dtype=object), n)
    payer = rng.choice(np.array(["medicaid", "private", "self", "other"], dtype=object), n)
    lp = np.array([0.4, 0.2, 0.0, 0.1, 0.2, 0.3])[loc] + 0.5 * (sub == "opioid") + 0.25 * (coo == "yes")
    t_rel = rng.exponential(400 / np.exp(lp))
    t_death = rng.exponential(4000, n)
    t_cens = rng.uniform(20, 400, n)
    t = np.minimum(np.minimum(t_rel, t_death), t_cens)
    event = np.where(t == t_rel, 1, np.where(t == t_death, 2, 0))
    return pd.DataFrame({
        "time_discharge_days": np.floor(t), "event_discharge": event.astype("float64"),
        "level_of_care": pd.Categorical.from_codes(loc, LEVELS), "sex": sex, "primary_substance": sub,
        "co_occurring": coo, "payer": payer,
    })


def main(sizes: list[int]) -> None:
    for n in sizes:
        d = synthetic(n)
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            fit = fit_cox(d, time_col="time_discharge_days", event_col="event_discharge",
                          group_col="level_of_care", reference="residential",
                          covariates=["sex", "primary_substance", "co_occurring", "payer"])
            best = min(best, time.perf_counter() - t0)
        print(f"n={n:>9,d}  events={fit.n_events:,d}  terms={len(fit.terms)}  fit_cox {best:.2f} s (best of 2)  "
              f"C={fit.concordance:.4f}  PH global p={fit.ph_test['p'].iloc[-1]:.3g}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
