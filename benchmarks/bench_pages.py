"""Rerun time of every app page after a filter change (Streamlit AppTest), on synthetic cohorts.

Run: ``python benchmarks/bench_pages.py [--sizes 100000,1000000] [--repeats 2]``. For each size a
synthetic file (``analysis.synthetic.generate_episodes``) is written to a temporary directory and the
app is pointed at it with ``CONTINUUM_SAMPLE_PATH``. Per page: open it once (warm), then change the
admission-date filter (a new filter, so every cache misses) and time the rerun; the best of
``--repeats`` filter changes is reported, with the first one. Target (issue 4): about 1 s at 100,000.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ["overview", "data", "retention", "relapse", "time_to_relapse", "iop_vs_residential", "benchmarks",
         "methods"]


def bench(n: int, repeats: int) -> list[tuple[str, float, float]]:
    from streamlit.testing.v1 import AppTest

    from analysis.synthetic import generate_episodes

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synthetic_{n}.csv"
        generate_episodes(n, seed=7).to_csv(path, index=False)
        os.environ["CONTINUUM_SAMPLE_PATH"] = str(path)
        t0 = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900).run()
        print(f"  n={n:,}: first load {time.perf_counter() - t0:.1f} s", flush=True)
        if at.exception:
            raise SystemExit(f"app failed: {at.exception[0].value}")
        rows = []
        shift = 0
        for page in PAGES:
            at.switch_page(f"pages/{page}.py").run()
            times = []
            for _ in range(repeats):
                shift += 1
                at.session_state["f_from"] = dt.date(2022, 1, 1) + dt.timedelta(days=shift)
                t = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - t)
                if at.exception:
                    raise SystemExit(f"{page} failed: {at.exception[0].value}")
            rows.append((page, times[0], min(times)))
            print(f"    {page:<20} first {times[0]:.2f} s, best {min(times):.2f} s", flush=True)
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("CONTINUUM_STRICT", "1")
    results = {int(s): bench(int(s), args.repeats) for s in args.sizes.split(",")}
    sizes = list(results)
    print("\nPage rerun after a filter change (seconds; first / best of repeats)")
    print(f"{'page':<20}" + "".join(f"{f'n={s:,}':>22}" for s in sizes))
    for i, page in enumerate(PAGES):
        print(f"{page:<20}" + "".join(f"{results[s][i][1]:>12.2f} / {results[s][i][2]:<7.2f}" for s in sizes))


if __name__ == "__main__":
    main()
