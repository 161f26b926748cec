"""Time and peak memory to read, validate and derive the cohort of 100,000 and 1,000,000 episodes,
from CSV, Parquet and Excel (.xlsx), with DuckDB's scan of the same file as the anchor.

Run: ``python benchmarks/bench_load.py [--sizes 100000,1000000] [--formats csv,parquet,xlsx]``. Each
measurement runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its own.
Prints a table: ``read s`` is :func:`analysis.io.read_table` alone, ``load s`` reading + mapping +
typing + validation, ``derive s`` the cohort table, ``anchor s`` DuckDB reading the file into pandas
(``read_csv_auto`` / ``read_parquet``; for xlsx pandas' calamine reader alone) and ``x anchor`` our
read time over it. Target (issue 2): 1,000,000 episodes from CSV in under 10 s and 2 GB on a 2-core
machine; issue 8: Parquet faster than CSV.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from analysis.io import read_table
from analysis.loading import load_episodes
from analysis.cohort import derive_cohort
path = {path!r}
t0 = time.perf_counter()
raw = read_table(path, max_bytes=2_000_000_000)
t1 = time.perf_counter()
del raw
result = load_episodes(path, max_bytes=2_000_000_000)
t2 = time.perf_counter()
cohort = derive_cohort(result.episodes)
t3 = time.perf_counter()
print(json.dumps({{"read_s": t1 - t0, "load_s": t2 - t1, "derive_s": t3 - t2,
                   "accepted": result.report.n_rows_accepted, "excluded": result.report.n_rows_excluded,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_ANCHOR = r"""
import json, sys, time
path, fmt = {path!r}, {fmt!r}
t0 = time.perf_counter()
if fmt == "xlsx":
    import pandas as pd
    pd.read_excel(path, engine="calamine")
else:
    import duckdb
    (duckdb.read_csv(path, all_varchar=True) if fmt == "csv" else duckdb.read_parquet(path)).df()
print(json.dumps({{"anchor_s": time.perf_counter() - t0}}))
"""


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _write(frame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        import pandas as pd

        with pd.ExcelWriter(path, engine="xlsxwriter") as xl:
            frame.to_excel(xl, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default="csv,parquet,xlsx")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from analysis.synthetic import generate_episodes

    print(f"{'episodes':>10} {'format':>8} {'file MB':>8} {'read s':>7} {'load s':>7} {'derive s':>9} "
          f"{'peak RSS MB':>12} {'anchor s':>9} {'x anchor':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            frame = generate_episodes(n, seed=1)
            frame.attrs = {}  # attrs hold Timestamps, which the Parquet writer cannot store
            for fmt in args.formats.split(","):
                path = Path(tmp) / f"episodes_{n}.{fmt}"
                _write(frame, path, fmt)
                r = _run(_CHILD.format(root=str(ROOT), path=str(path)))
                a = _run(_ANCHOR.format(path=str(path), fmt=fmt))
                print(f"{n:>10,} {fmt:>8} {path.stat().st_size / 1e6:>8.1f} {r['read_s']:>7.2f} {r['load_s']:>7.2f} "
                      f"{r['derive_s']:>9.2f} {r['peak_rss_mb']:>12.0f} {a['anchor_s']:>9.2f} "
                      f"{r['read_s'] / a['anchor_s']:>9.2f}", flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
