"""A page rerun after a filter change, inside the engine, against the same rerun on pandas rows.

Run: ``nice -n 10 python benchmarks/bench_engine_rerun.py [--sizes 1000000,10000000] [--pandas-up-to 1000000]``.

For each size (synthetic Parquet from ``benchmarks/bench_engine.py``'s generator, in /tmp/continuum-bench):
the file is opened and checked once (``open_engine``), then for one filter change (IOP, residential and OP
chosen; six wider settings as neighbours) it prints, in one process:

* **floor**: the engine's one aggregate query for the filter (level, time, event counts);
* **engine rerun, each cohort alone** (``Engine.share = False``, what the engine did before issue 10):
  ``Publication.build(engine.counts(spec), neighbours=engine_wider_settings(...))`` - every table of every page
  and the differencing check, with only aggregates leaving the engine, each cohort its own queries;
* **engine rerun, cold**: the same with ``share`` on (collapses and step-downs read off the whole cohort's,
  :mod:`analysis.engine.narrow`), nothing held before;
* **unfiltered page**, the **warm-up** of level filters (the next-admissions window query every level filter's
  step-downs read off, :func:`analysis.engine.narrow.pairs_sql`), then **engine rerun after them**: the app's order
  for a server-side source (``ui.compute.warm_engine`` does both in the background before the first session; the
  rerun reads the whole cohort's collapses and those next admissions);
* **next filter change (memo)**: a value added (detox), through ``ui.raw_memo`` (the neighbours' added episodes
  seen in the previous rerun are not computed again);
* **pandas rerun** (sizes up to ``--pandas-up-to``): the same on the cohort's rows held in memory
  (``apply_filters`` + ``wider_settings`` + ``Publication.build``), the anchor;

with the resident memory after each step. The machine is shared: the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _count_queries(engine) -> list[int]:
    """A counter of the engine's queries (every one goes through ``backend.query``)."""
    count = [0]
    real = engine.backend.query

    def query(sql):
        count[0] += 1
        return real(sql)
    engine.backend.query = query
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--pandas-up-to", type=int, default=1_000_000)
    parser.add_argument("--data-dir", default="/tmp/continuum-bench")
    args = parser.parse_args()
    from analysis.disclosure import Publication
    from analysis.disclosure.neighbours import engine_wider_settings, wider_settings
    from analysis.engine.load import open_engine
    from analysis.filters import FilterSpec, apply_filters
    from ui.raw_memo import RawStore, sharing

    spec = FilterSpec(levels=("iop", "residential", "op"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cores: {os.cpu_count()})")
    print(f"{'episodes':>11} {'step':>48} {'seconds':>8} {'peak MB':>8}")
    for n in [int(s) for s in args.sizes.split(",")]:
        path = Path(args.data_dir) / f"episodes_{n}.parquet"
        if not path.exists():
            import subprocess
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--sizes", str(n),
                            "--formats", "parquet", "--steps", "floor", "--data-dir", args.data_dir], check=True)

        def show(label: str, seconds: float, n: int = n) -> None:
            print(f"{n:>11,} {label:>48} {seconds:>8.2f} {_rss_mb():>8,}", flush=True)

        t = time.perf_counter()
        result = open_engine(str(path))
        show("open and check", time.perf_counter() - t)
        engine = result.engine
        t = time.perf_counter()
        engine.collapse(["level_of_care", "time_discharge_days", "event_discharge"], spec)
        show("floor: one aggregate query", time.perf_counter() - t)
        queries = _count_queries(engine)

        def rerun(label: str, spec: FilterSpec = spec, memo=None, engine=engine, queries=queries) -> None:
            queries[0] = 0
            t = time.perf_counter()
            pub = Publication.build(engine.counts(spec), by="level_of_care",
                                    neighbours=engine_wider_settings(engine, spec), memo=memo)
            show(f"{label} ({len(pub.neighbour_labels)} nb, {queries[0]} q)", time.perf_counter() - t)

        engine.share = False
        rerun("engine rerun, each cohort alone")
        engine.share = True
        engine._whole = None  # nothing held from the step before
        rerun("engine rerun, cold")
        engine._whole = None
        queries[0] = 0
        t = time.perf_counter()
        Publication.build(engine.counts(), by="level_of_care")
        show(f"unfiltered page ({queries[0]} q)", time.perf_counter() - t)
        store = RawStore(max_entries=16)
        memo = sharing(store, str(path))
        t = time.perf_counter()  # what ui.compute.warm_engine does next, in the background before the first session
        engine.counts(FilterSpec(levels=("detox",))).step_downs()
        show("warm-up: next admissions for level filters", time.perf_counter() - t)
        rerun("engine rerun after them", memo=memo)
        rerun("next filter change (memo)", FilterSpec(levels=("iop", "residential", "op", "detox")), memo)
        if n <= args.pandas_up_to:
            cohort = engine.frame()
            show("(rows fetched for the pandas rerun)", 0.0)
            t = time.perf_counter()
            Publication.build(apply_filters(cohort, spec), by="level_of_care", neighbours=wider_settings(cohort, spec))
            show("pandas rerun", time.perf_counter() - t)
        result.close()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
