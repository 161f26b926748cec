"""Wide files (issue 12, item 6): seconds to load 1,000 to 10,000 columns, to show the time grows linearly.

``python benchmarks/bench_wide_columns.py [--columns 1000,2000,5000,10000] [--rows 100]`` builds, in
memory, the first rows of the sample cohort with N extra columns of small integers (as the fuzz test's
``wide_columns/cols_10000_rows_100.csv``) and times :func:`analysis.loading.load_episodes` on the CSV
bytes: the reader, the identifier guard, the mapping guess, column typing and validation. Prints the
seconds and the seconds per 1,000 columns (flat when linear). Run it with ``nice -n 10`` on a shared
machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wide_csv(columns: int, rows: int) -> bytes:
    base = pd.read_csv(ROOT / "sample_data" / "episodes.csv", dtype=str, keep_default_na=False).iloc[:rows]
    rng = np.random.default_rng(7)
    extra = pd.DataFrame(rng.integers(0, 9, (rows, columns)).astype(str), columns=[f"x{i}" for i in range(columns)])
    return pd.concat([base.reset_index(drop=True), extra], axis=1).to_csv(index=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--columns", default="1000,2000,5000,10000")
    parser.add_argument("--rows", type=int, default=100)
    opts = parser.parse_args()
    from analysis.loading import load_episodes

    load_episodes(wide_csv(10, opts.rows), name="warm.csv")
    print(f"{'columns':>8} {'rows':>6} {'seconds':>8} {'s per 1,000 columns':>20}")
    for n in (int(c) for c in opts.columns.split(",")):
        data = wide_csv(n, opts.rows)
        start = time.perf_counter()
        result = load_episodes(data, name="wide.csv")
        seconds = time.perf_counter() - start
        assert result.report.fatal is None, result.report.fatal
        print(f"{n:>8,} {opts.rows:>6} {seconds:>8.1f} {seconds / n * 1000:>20.2f}", flush=True)


if __name__ == "__main__":
    main()
