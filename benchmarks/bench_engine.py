"""The command line through the engine against its floors, side by side in one run.

Run (the machine is shared: nice it): ``nice -n 10 python benchmarks/bench_engine.py [--sizes 1000000,10000000]
[--formats csv,parquet,parquet2] [--steps floor,pyarrow,check,outcomes] [--postgres URL] [--rerun] [--data-dir DIR]
[--no-cox] [--code CHECKOUT]``. ``parquet2``: a folder of two Parquet parts of the size each (``--sizes 10000000``: 20M episodes).

For each size and format, every step in a fresh process (so peak memory, ``ru_maxrss``, is the step's own):

* **floor**: DuckDB's ``SELECT level_of_care, count(*) ... GROUP BY 1`` of the same file (the scan floor);
* **pyarrow** (CSV only): ``pyarrow.csv.read_csv`` of the file, every column as text (the parse floor);
* **check**: ``python -m analysis check FILE`` (read, identifier guard and guesses on a spread sample,
  every rule checked on every row, the report);
* **outcomes**: ``python -m analysis outcomes FILE --json --adjust sex,primary_substance,payer,race_ethnicity``
  (six levels of care, Cox model with four categorical covariates, the publication);
* with ``--rerun``: the page rerun after a filter change on the cohort's rows in pandas (``apply_filters`` +
  ``wider_settings`` + ``Publication.build``, what ``ui/compute.py`` did for a server-side source before it
  queried the engine; ``benchmarks/bench_engine_rerun.py`` measures the engine's rerun),
  and the engine's one aggregate query for the same filter (``Engine.collapse``) beside it;
* with ``--postgres URL``: the 1M table copied into PostgreSQL once, then ``check`` and ``outcomes`` there.

Ratios: check / pyarrow (target <= 4 at 1M CSV), outcomes / floor (target <= 20 at 10M Parquet), of wall-clock
seconds and, in brackets, of CPU seconds (user + system, every thread: steadier when the machine is shared). The
load average is printed before and after: on a shared machine the seconds are wall-clock and noisy.
``--code DIR`` runs the steps on another checkout's code (a baseline: ``git archive COMMIT | tar -x -C DIR``).
Synthetic files are generated once into ``--data-dir`` (default /tmp/continuum-bench; never commit them),
in chunks of 1M episodes (seeds 1, 2, ...; ids prefixed by chunk) to bound memory.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT  # the checkout whose code the steps run (--code: a baseline to compare with)
ADJUST = "sex,primary_substance,payer,race_ethnicity"

_COMMON = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
path = {path!r}
t0 = time.perf_counter()
out = {{}}
"""

_FLOOR = _COMMON + r"""
import duckdb
con = duckdb.connect()
import os
reader = "read_parquet" if path.endswith(".parquet") or os.path.isdir(path) else "read_csv"
files = os.path.join(path, "*.parquet") if os.path.isdir(path) else path
con.execute(f"SELECT level_of_care, count(*) FROM {{reader}}('{{files}}') GROUP BY 1").fetchall()
out["total_s"] = time.perf_counter() - t0
"""

_PYARROW = _COMMON + r"""
import pyarrow as pa, pyarrow.csv as pacsv
names = open(path).readline().strip().split(",")
pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={{n: pa.string() for n in names}}))
out["total_s"] = time.perf_counter() - t0
"""

_CLI = _COMMON + r"""
import contextlib, io
from analysis.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    out["code"] = main({argv!r})
out["total_s"] = time.perf_counter() - t0
"""

_RERUN = _COMMON + r"""
from analysis.engine.load import open_engine
from analysis.filters import FilterSpec, apply_filters
from analysis.disclosure import Publication
from analysis.disclosure.neighbours import wider_settings
result = open_engine(path)
cohort = result.engine.frame()  # the pandas rerun (the app's before it queried the engine) reads every column
out["open_s"] = time.perf_counter() - t0
spec = FilterSpec(levels=("iop", "residential", "op"))
t1 = time.perf_counter()
result.engine.collapse(["level_of_care", "time_discharge_days", "event_discharge"], spec)
out["query_s"] = time.perf_counter() - t1
t1 = time.perf_counter()
view = apply_filters(cohort, spec)
Publication.build(view, by="level_of_care", min_cell=11, neighbours=wider_settings(cohort, spec))
out["rerun_s"] = time.perf_counter() - t1
out["total_s"] = time.perf_counter() - t0
"""


def _child(code: str, **fields) -> dict:
    code = code.format(root=str(CODE), **fields)
    code += ("\nuse = resource.getrusage(resource.RUSAGE_SELF)\nout['peak_mb'] = use.ru_maxrss / 1024"
             "\nout['cpu_s'] = use.ru_utime + use.ru_stime\nprint(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(CODE))
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
    tmp = {k: p.with_suffix(p.suffix + ".part") for k, p in paths.items()}
    with open(tmp["csv"], "w", newline="") as csv_out:
        for k, start in enumerate(range(0, n, chunk)):
            frame = generate_episodes(min(chunk, n - start), seed=k + 1)
            frame.attrs = {}
            if n > chunk:
                frame["episode_id"] = f"E{k:02d}" + frame["episode_id"].str[1:]
                frame["client_id"] = f"C{k:02d}" + frame["client_id"].str[1:]
            frame.to_csv(csv_out, index=False, header=(k == 0), date_format="%Y-%m-%d")
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp["parquet"], table.schema)
            writer.write_table(table)
            print(f"  generated {start + len(frame):,} of {n:,} episodes ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    writer.close()
    for k, p in paths.items():
        tmp[k].rename(p)
    return paths


def make_parts(n: int, data_dir: Path, parts: int = 2) -> Path:
    """A folder of ``parts`` Parquet files of ``n`` episodes each (``parts * n`` in all): the first is the
    ``n``-episode file (linked), each other a copy of it with its ids prefixed ``P<k>`` (other episodes and
    clients). Made once with DuckDB, then reused."""
    import duckdb

    folder = data_dir / f"episodes_{n * parts}_parts"
    source = make_files(n, data_dir)["parquet"]
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "part_0.parquet"
    if not first.exists():
        first.symlink_to(source)
    for k in range(1, parts):
        target = folder / f"part_{k}.parquet"
        if target.exists():
            continue
        tmp = target.with_suffix(".parquet.part")
        con = duckdb.connect()
        con.execute(f"COPY (SELECT * REPLACE ('P{k}' || episode_id AS episode_id, 'P{k}' || client_id AS client_id) "
                    f"FROM read_parquet('{source}')) TO '{tmp}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
        con.close()
        tmp.rename(target)
    return folder


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


def _s(r: dict, key: str = "total_s") -> str:
    return f"{r[key]:.2f}" if key in r else "-"


def _ratio(a: dict, b: dict) -> str:
    """Wall-clock ratio, and the ratio of CPU seconds (steadier on a shared machine) in brackets."""
    if "total_s" in a and b.get("total_s"):
        cpu = f" ({a['cpu_s'] / b['cpu_s']:.1f} cpu)" if a.get("cpu_s") and b.get("cpu_s") else ""
        return f"{a['total_s'] / b['total_s']:.1f}{cpu}"
    return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL for the warehouse timings at 1M")
    parser.add_argument("--rerun", action="store_true", help="also the page rerun after a filter change")
    parser.add_argument("--steps", default="floor,pyarrow,check,outcomes", help="which steps to run")
    parser.add_argument("--no-cox", action="store_true", help="outcomes without covariates")
    parser.add_argument("--data-dir", default="/tmp/continuum-bench")
    parser.add_argument("--generate", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--code", default=None, help="run the steps on the code of another checkout")
    args = parser.parse_args()
    if args.code:
        global CODE
        CODE = Path(args.code).resolve()
    if args.generate and args.parts:
        make_parts(args.generate, Path(args.data_dir), args.parts)
        return
    if args.generate:
        make_files(args.generate, Path(args.data_dir))
        return
    steps = args.steps.split(",")
    adjust = [] if args.no_cox else ["--adjust", ADJUST]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cores: {os.cpu_count()})")
    print(f"{'episodes':>11} {'format':>8} {'step':>9} {'seconds':>9} {'cpu s':>8} {'peak MB':>8}  ratio")
    for n in (int(s) for s in args.sizes.split(",")):
        # generated in a child process: Linux keeps a parent's peak memory in its children's ru_maxrss
        subprocess.run([sys.executable, __file__, "--generate", str(n), "--data-dir", args.data_dir], check=True)
        files = dict(make_files(n, Path(args.data_dir)))
        if "parquet2" in args.formats.split(","):  # a folder of two Parquet parts of n episodes: 2n in all
            subprocess.run([sys.executable, __file__, "--generate", str(n), "--parts", "2", "--data-dir",
                            args.data_dir], check=True)
            files["parquet2"] = make_parts(n, Path(args.data_dir), 2)
        for fmt in args.formats.split(","):
            path = str(files[fmt])
            rows: dict[str, dict] = {}

            def show(label: str, r: dict, ratio: str = "", n: int = n * (2 if fmt == "parquet2" else 1),
                     fmt: str = fmt) -> None:
                if "error" in r:
                    print(f"{n:>11,} {fmt:>8} {label:>9}  error: {r['error']}", flush=True)
                    return
                extra = "".join(f"  {k} {r[k]:.2f}" for k in ("open_s", "query_s", "rerun_s", "copy_s") if k in r)
                print(f"{n:>11,} {fmt:>8} {label:>9} {_s(r):>9} {_s(r, 'cpu_s'):>8} {r['peak_mb']:>8.0f}  {ratio}{extra}",
                      flush=True)

            if "floor" in steps:
                rows["floor"] = _child(_FLOOR, path=path)
                show("floor", rows["floor"])
            if fmt == "csv" and "pyarrow" in steps:
                rows["pyarrow"] = _child(_PYARROW, path=path)
                show("pyarrow", rows["pyarrow"])
            if "check" in steps:
                rows["check"] = _child(_CLI, path=path, argv=["check", path])
                base = rows.get("pyarrow") if fmt == "csv" else rows.get("floor")
                show("check", rows["check"], f"{_ratio(rows['check'], base or {})} x {'pyarrow' if fmt == 'csv' else 'floor'}")
            if "outcomes" in steps:
                rows["outcomes"] = _child(_CLI, path=path, argv=["outcomes", path, "--json", *adjust])
                show("outcomes", rows["outcomes"], f"{_ratio(rows['outcomes'], rows.get('floor', {}))} x floor")
            if args.rerun:
                show("rerun", _child(_RERUN, path=path))
            if args.postgres and fmt == "parquet" and n <= 1_000_000:
                table = f"bench_episodes_{n}"
                copy_s = _copy_to_postgres(args.postgres, files["parquet"], table)
                print(f"{n:>11,} {'postgres':>8} {'copy':>9} {copy_s:>9.2f}", flush=True)
                for step, argv in (("check", ["check", args.postgres, "--table", table]),
                                   ("outcomes", ["outcomes", args.postgres, "--table", table, "--json", *adjust])):
                    r = _child(_CLI, path=path, argv=argv)
                    if "error" in r:
                        print(f"{n:>11,} {'postgres':>8} {step:>9}  error: {r['error']}", flush=True)
                    else:
                        print(f"{n:>11,} {'postgres':>8} {step:>9} {_s(r):>9} {r['peak_mb']:>8.0f}  "
                              f"{_ratio(r, rows.get('floor', {}))} x parquet floor", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
