"""Parse memory: analysis.safety's estimate against the measured peak, and what a capped subprocess would cost.

Run: ``python benchmarks/bench_parse_memory.py [--sizes 20000,100000,1000000]``. For each size and format
(CSV, Parquet; Excel up to 100,000 rows) a fresh Python process reads the file with
``analysis.io.read_table`` and reports the rise of its peak resident memory (VmHWM, reset just before
the parse, minus VmRSS); the table shows it beside
``analysis.safety.estimate_parse_bytes`` (the estimate must be the larger: it is what the budget
refuses on). Then, for CSV, the time of the same parse in a spawned child with ``RLIMIT_AS`` that
sends the frame back as Arrow IPC (the alternative to a size-based refusal) against the in-process
parse: the ratio is the price of a hard cap.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_MEASURE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from analysis.io import read_table
from analysis.safety import estimate_parse_bytes
from analysis.io import detect_format
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
data = open({path!r}, "rb").read()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS:")
t = time.perf_counter()
frame = read_table(data, name={path!r})
seconds = time.perf_counter() - t
peak = status("VmHWM:") - base
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "estimate_mb": estimate_parse_bytes(data, detect_format(data))
                  / 1024**2, "mb": len(data) / 1024**2}}))
"""

_CAPPED = r"""
import multiprocessing as mp, pickle, resource, sys, time
sys.path.insert(0, {root!r})

def child(conn, data, name):
    resource.setrlimit(resource.RLIMIT_AS, (8 * 1024**3, 8 * 1024**3))
    import pyarrow as pa
    from analysis.io import read_table
    frame = read_table(data, name=name)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    conn.send_bytes(sink.getvalue().to_pybytes())
    conn.close()

if __name__ == "__main__":
    import pyarrow as pa
    from analysis.io import read_table
    data = open({path!r}, "rb").read()
    t = time.perf_counter(); read_table(data, name={path!r}); inproc = time.perf_counter() - t
    t = time.perf_counter()
    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(b, data, {path!r})); p.start(); b.close()
    frame = pa.ipc.open_stream(a.recv_bytes()).read_all().to_pandas(); p.join()
    print(inproc, time.perf_counter() - t)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000,1000000")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from analysis.synthetic import generate_episodes

    print(f"{'episodes':>10} {'format':>8} {'file MB':>8} {'parse s':>8} {'peak MB':>8} {'estimate MB':>12} "
          f"{'estimate/peak':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            frame = generate_episodes(n, seed=1)
            frame.attrs = {}
            paths = {"csv": Path(tmp) / f"e{n}.csv", "parquet": Path(tmp) / f"e{n}.parquet"}
            frame.to_csv(paths["csv"], index=False, date_format="%Y-%m-%d")
            frame.to_parquet(paths["parquet"], index=False)
            if n <= 100_000:
                paths["xlsx"] = Path(tmp) / f"e{n}.xlsx"
                frame.to_excel(paths["xlsx"], index=False)
            for fmt, path in paths.items():
                out = subprocess.run([sys.executable, "-c", _MEASURE.format(root=str(ROOT), path=str(path))],
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{n:>10,} {fmt:>8} {r['mb']:>8.1f} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} "
                      f"{r['estimate_mb']:>12.0f} {r['estimate_mb'] / max(r['peak_mb'], 1):>14.2f}", flush=True)
            script = Path(tmp) / "capped.py"
            script.write_text(_CAPPED.format(root=str(ROOT), path=str(paths["csv"])))
            start = time.perf_counter()
            out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
            inproc, capped = map(float, out.stdout.split())
            print(f"{'':>10} {'capped':>8} CSV parse in process {inproc:.2f} s, in a spawned RLIMIT_AS child "
                  f"with Arrow IPC back {capped:.2f} s (x{capped / inproc:.1f}); wall {time.perf_counter() - start:.0f} s",
                  flush=True)


if __name__ == "__main__":
    main()
