"""The engine against its floor and against the pandas path, side by side in one run.

Run: ``python benchmarks/bench_engine.py [--sizes 1000000,10000000] [--formats csv,parquet]
[--pandas-max 1000000] [--postgres URL] [--data-dir DIR]``.

For each size and format, in a fresh process each (so peak memory, ``ru_maxrss``, is the step's own):

* **scan floor**: DuckDB's ``SELECT level_of_care, count(*) ... GROUP BY 1`` of the same file;
* **engine**: ``Engine.open`` (read, check every rule, derive the cohort) then the collapsed queries
  and statistics of an outcomes run by six levels: Kaplan-Meier, log-rank (global and pairwise), RMST,
  relapse by horizon with reach, completion, length of stay, retention at 30/60/90; and the rerun
  after a filter change (the same analyses on ``FilterSpec(levels=iop, residential)``);
* **pandas**: ``load_episodes`` + ``derive_cohort`` + the same statistics on the rows (only up to
  ``--pandas-max`` episodes: at 10M it takes about 12 GB and 200 s);
* with ``--postgres URL``: the 1M table copied into PostgreSQL once, then the engine's outcomes there.

Synthetic files are generated once into ``--data-dir`` (default /tmp/continuum-bench; never commit
them), in chunks of 1M episodes (seeds 1, 2, ...; ids prefixed by chunk) to bound memory.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COMMON = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
path, kind = {path!r}, {kind!r}
t0 = time.perf_counter()
out = {{}}
"""

_FLOOR = _COMMON + r"""
import duckdb
con = duckdb.connect()
reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
con.execute(f"SELECT level_of_care, count(*) FROM {{reader}}('{{path}}') GROUP BY 1").fetchall()
out["total_s"] = time.perf_counter() - t0
"""

_STATS = r"""
from analysis.relapse import relapse_rates
from analysis.retention import completion_rates, length_of_stay, retention_at
from analysis.survival import km_by_group, logrank, pairwise_logrank, rmst_by_group

def outcomes(get, count_col):
    w = None if count_col is None else "n"
    surv = get("survival")
    surv = surv[surv["time_discharge_days"].notna()]
    args = dict(time_col="time_discharge_days", event_col="event_discharge", group_col="level_of_care")
    km = km_by_group(surv, **args, weight_col=w)
    rmst_by_group(km)
    logrank(surv, **args, weight_col=w)
    pairwise_logrank(surv, **args, weight_col=w)
    kw = {{}} if count_col is None else dict(count_col="n", due_days_col="due")
    relapse_rates(get("relapse"), origin="discharge", **kw)
    kw = {{}} if count_col is None else dict(count_col="n")
    completion_rates(get("completion"), **kw)
    length_of_stay(get("stay"), **kw)
    retention_at(get("stay"), **kw)
"""

_ENGINE = _COMMON + _STATS + r"""
from analysis.engine.engine import Engine
from analysis.filters import FilterSpec
source = path if kind != "postgres" else {url!r}
engine = Engine.open(source, table={table!r}, today="2026-12-01")
out["open_s"] = time.perf_counter() - t0
cols = dict(survival=["level_of_care", "time_discharge_days", "event_discharge"],
            completion=["level_of_care", "in_treatment", "transferred", "completed"],
            stay=["level_of_care", "los_days", "in_treatment"])
def run(spec):
    def get(name):
        if name == "relapse":
            return engine.relapse_counts("level_of_care", "discharge", (30, 90, 180, 365), spec)
        return engine.collapse(cols[name], spec)
    outcomes(get, "n")
t1 = time.perf_counter()
run(None)
out["outcomes_s"] = time.perf_counter() - t1
t2 = time.perf_counter()
run(FilterSpec(levels=("iop", "residential")))
out["filter_rerun_s"] = time.perf_counter() - t2
out["total_s"] = time.perf_counter() - t0
out["rows"] = engine.count()
"""

_PANDAS = _COMMON + _STATS + r"""
from analysis.cohort import derive_cohort
from analysis.loading import load_episodes
result = load_episodes(path, max_bytes=50_000_000_000, today="2026-12-01")
cohort = derive_cohort(result.episodes)
out["open_s"] = time.perf_counter() - t0
t1 = time.perf_counter()
outcomes(lambda name: cohort, None)
out["outcomes_s"] = time.perf_counter() - t1
out["total_s"] = time.perf_counter() - t0
out["rows"] = len(cohort)
"""


def _child(code: str) -> dict:
    code = code + "\nout['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_files(n: int, data_dir: Path) -> dict[str, Path]:
    """Synthetic episodes as CSV and Parquet, written in chunks of 1M (generated once, then reused)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from analysis.synthetic import generate_episodes

    paths = {"csv": data_dir / f"episodes_{n}.csv", "parquet": data_dir / f"episodes_{n}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    data_dir.mkdir(parents=True, exist_ok=True)
    chunk = 1_000_000
    writer = None
    t0 = time.perf_counter()
    with open(paths["csv"], "w", newline="") as csv_out:
        for k, start in enumerate(range(0, n, chunk)):
            frame = generate_episodes(min(chunk, n - start), seed=k + 1)
            frame.attrs = {}
            if n > chunk:
                frame["episode_id"] = f"E{k:02d}" + frame["episode_id"].str[1:]
                frame["client_id"] = f"C{k:02d}" + frame["client_id"].str[1:]
            frame.to_csv(csv_out, index=False, header=(k == 0), date_format="%Y-%m-%d")
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(paths["parquet"], table.schema)
            writer.write_table(table)
            print(f"  generated {start + len(frame):,} of {n:,} episodes ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    writer.close()
    return paths


def _copy_to_postgres(url: str, parquet: Path, table: str) -> float:
    import psycopg
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    frame = pq.read_table(parquet).to_pandas()
    types = {c: "DATE" for c in frame.columns if c.endswith("_date")}
    types.update({"age": "INTEGER", "prior_treatments": "INTEGER", "hours_attended": "DOUBLE PRECISION",
                  "hours_scheduled": "DOUBLE PRECISION"})
    cols = ", ".join(f'"{c}" {types.get(c, "TEXT")}' for c in frame.columns)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')
        con.execute(f'CREATE TABLE "{table}" ({cols})')
        with con.cursor().copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(frame.to_csv(index=False, header=False, date_format="%Y-%m-%d"))
        con.execute(f'ANALYZE "{table}"')
    return time.perf_counter() - t0


def _fmt(r: dict, key: str) -> str:
    return f"{r[key]:.2f}" if key in r else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--pandas-max", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL for the warehouse timings at 1M")
    parser.add_argument("--data-dir", default="/tmp/continuum-bench")
    parser.add_argument("--generate", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        make_files(args.generate, Path(args.data_dir))
        return
    print(f"{'episodes':>11} {'format':>8} {'path':>9} {'open s':>8} {'outcomes s':>11} {'rerun s':>8} "
          f"{'total s':>8} {'peak MB':>8} {'x floor':>8} {'x engine':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        # generated in a child process: Linux keeps a parent's peak memory in its children's ru_maxrss
        subprocess.run([sys.executable, __file__, "--generate", str(n), "--data-dir", args.data_dir], check=True)
        files = make_files(n, Path(args.data_dir))
        for fmt in args.formats.split(","):
            path = str(files[fmt])
            base = dict(root=str(ROOT), path=path, kind=fmt, url=None, table=None)
            rows = {"floor": _child(_FLOOR.format(**base)), "engine": _child(_ENGINE.format(**base))}
            if n <= args.pandas_max:
                rows["pandas"] = _child(_PANDAS.format(**base))
            if args.postgres and fmt == "parquet" and n <= 1_000_000:
                table = f"bench_episodes_{n}"
                copy_s = _copy_to_postgres(args.postgres, files["parquet"], table)
                pg = _child(_ENGINE.format(**{**base, "kind": "postgres", "url": args.postgres, "table": table}))
                pg["copy_s"] = copy_s
                rows["postgres"] = pg
            floor = rows["floor"].get("total_s")
            engine = rows["engine"].get("total_s")
            for label, r in rows.items():
                if "error" in r:
                    print(f"{n:>11,} {fmt:>8} {label:>9}  error: {r['error']}")
                    continue
                ratio = f"{r['total_s'] / floor:.1f}" if floor else "-"
                vs = f"{r['total_s'] / engine:.1f}" if engine and label != "engine" else "-"
                print(f"{n:>11,} {fmt:>8} {label:>9} {_fmt(r, 'open_s'):>8} {_fmt(r, 'outcomes_s'):>11} "
                      f"{_fmt(r, 'filter_rerun_s'):>8} {r['total_s']:>8.2f} {r['peak_mb']:>8.0f} {ratio:>8} "
                      f"{vs:>9}" + (f"  (copy into PostgreSQL {r['copy_s']:.1f} s)" if "copy_s" in r else ""),
                      flush=True)


if __name__ == "__main__":
    main()
