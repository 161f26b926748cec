"""Time and peak memory to read, validate and derive the cohort of 100,000 and 1,000,000 episodes.

Run: ``python benchmarks/bench_load.py [--sizes 100000,1000000]``. Each size runs in a fresh
subprocess so that its peak resident memory (``ru_maxrss``) is its own. Prints a table.
Target (issue 2): 1,000,000 episodes from CSV in under 10 s and 2 GB on a 2-core machine.
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
from analysis.loading import load_episodes
from analysis.cohort import derive_cohort
path = {path!r}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
result = load_episodes(path, max_bytes=2_000_000_000)
t1 = time.perf_counter()
cohort = derive_cohort(result.episodes)
t2 = time.perf_counter()
print(json.dumps({{"read_validate_s": t1 - t0, "derive_s": t2 - t1, "total_s": t2 - t0,
                   "accepted": result.report.n_rows_accepted, "excluded": result.report.n_rows_excluded,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "baseline_rss_mb": base / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from analysis.synthetic import generate_episodes

    print(f"{'episodes':>10} {'format':>8} {'file MB':>8} {'read+validate s':>16} {'derive s':>9} "
          f"{'total s':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            frame = generate_episodes(n, seed=1)
            frame.attrs = {}  # attrs hold Timestamps, which the Parquet writer cannot store
            for fmt in ("csv", "parquet"):
                path = Path(tmp) / f"episodes_{n}.{fmt}"
                if fmt == "csv":
                    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
                else:
                    frame.to_parquet(path, index=False)
                code = _CHILD.format(root=str(ROOT), path=str(path))
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{n:>10,} {fmt:>8} {path.stat().st_size / 1e6:>8.1f} {r['read_validate_s']:>16.2f} "
                      f"{r['derive_s']:>9.2f} {r['total_s']:>8.2f} {r['peak_rss_mb']:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
