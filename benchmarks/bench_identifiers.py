"""Cost of the cell-by-cell identifier guard on 100,000 and 1,000,000 episodes, with anchors.

Run: ``python benchmarks/bench_identifiers.py [--sizes 100000,1000000]``. For each size the synthetic
cohort is written as CSV and read back as the app reads it (every column text); then, in the same
process, CPU seconds (median of 3) of:

* ``guard``: :func:`analysis.identifiers.find_identifier_columns`, every cell of every column;
* ``read``: :func:`analysis.io.read_table` of the same file (what the guard is added to);
* ``duckdb``: DuckDB scanning the same pandas frame with one regular expression per column
  (``count(*) FILTER (WHERE regexp_matches(col, '@|[0-9]{3}-[0-9]{2}-[0-9]{4}'))``), a vectorised anchor;
* ``sampled``: the previous guard (2,000 sampled values a column, whole-cell patterns), if ``--old``
  points at its module.

Prints seconds and the ratios guard/read and guard/duckdb.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--old", default=None, help="path of the previous analysis/identifiers.py, for a ratio")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import duckdb

    from analysis.identifiers import find_identifier_columns
    from analysis.io import read_table
    from analysis.synthetic import generate_episodes

    old = None
    if args.old:
        spec = importlib.util.spec_from_file_location("old_identifiers", args.old)
        old = importlib.util.module_from_spec(spec)
        sys.modules["old_identifiers"] = old
        spec.loader.exec_module(old)
    print(f"{'episodes':>10} {'cells':>11} {'guard s':>8} {'read s':>7} {'duckdb s':>9} {'sampled s':>10} "
          f"{'guard/read':>11} {'guard/duckdb':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            frame = generate_episodes(n, seed=1)
            frame.attrs = {}
            path = Path(tmp) / f"e{n}.csv"
            frame.to_csv(path, index=False, date_format="%Y-%m-%d")
            raw = read_table(path)
            assert find_identifier_columns(raw) == []
            guard = _cpu(lambda raw=raw: find_identifier_columns(raw))
            read = _cpu(lambda path=path: read_table(path), repeat=1)
            con = duckdb.connect()
            con.register("raw", raw)
            sql = "SELECT " + ", ".join(
                f"count(*) FILTER (WHERE regexp_matches(\"{c}\", '@|[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}'))"
                for c in raw.columns) + " FROM raw"
            duck = _cpu(lambda con=con, sql=sql: con.execute(sql).fetchall())
            sampled = _cpu(lambda raw=raw: old.find_identifier_columns(raw)) if old else float("nan")
            print(f"{n:>10,} {raw.size:>11,} {guard:>8.2f} {read:>7.2f} {duck:>9.2f} {sampled:>10.2f} "
                  f"{guard / read:>11.2f} {guard / duck:>13.2f}", flush=True)


if __name__ == "__main__":
    main()
