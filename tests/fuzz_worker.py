"""Runs fuzz cases through the command line, one forked child per case (used by test_fuzz.py).

``python tests/fuzz_worker.py MANIFEST`` reads ``{"warmup": [argv, ...], "cases": [{"case", "command",
"argv"}, ...]}`` and prints one
JSON line per case: the exit code, the exception the command raised (its type, message and the
innermost frames: a traceback a person would have seen), seconds taken, and the child's peak
resident memory above the worker's. The command is run as ``python -m analysis`` runs it, but
without the CLI's last-resort ``except Exception`` so an unexpected exception is seen, not hidden.
Each child has an address-space limit (``--memory-mb`` above the worker's own) and is killed
after ``--timeout`` seconds.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import select
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _run(argv: list[str]) -> dict:
    from analysis.cli import build_parser

    out, err = io.StringIO(), io.StringIO()
    result: dict = {"exit": None, "exception": None}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = None
        try:
            args = build_parser().parse_args(argv)
            result["exit"] = int(args.run(args))
        except SystemExit as exc:
            result["exit"] = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001 - the point is to see it
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "/analysis/" in f.filename][-2:]  # where in Continuum it surfaced
            result["exception"] = {"type": type(exc).__name__, "message": str(exc)[:300],
                                   "where": [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in
                                             (*ours, frames[-1])]}
        finally:  # as analysis.cli.main does: a DuckDB left open (its threads) would be inherited by every fork
            opened = getattr(args, "opened", None)
            if opened is not None and hasattr(opened, "close"):
                opened.close()
    result["stdout_head"] = out.getvalue()[:400]
    result["stderr_head"] = err.getvalue()[:400]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--memory-mb", type=float, default=2048)
    opts = parser.parse_args()
    manifest = json.loads(Path(opts.manifest).read_text())
    cases = manifest["cases"]
    for argv in manifest.get("warmup", []):  # import what the commands use before forking: children start warm
        _run(argv)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limit = _vm_size() + int(opts.memory_mb * 1024**2)
    for case in cases:
        read_fd, write_fd = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                payload = json.dumps(_run(case["argv"])).encode()
            except BaseException as exc:  # noqa: BLE001
                payload = json.dumps({"exit": None, "exception": {"type": type(exc).__name__,
                                                                  "message": str(exc)[:300], "where": []}}).encode()
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(payload)
            os._exit(0)
        os.close(write_fd)
        chunks, timed_out = [], False
        deadline = start + opts.timeout
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.perf_counter()))
            if not ready:
                timed_out = True
                os.kill(pid, 9)
                break
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_fd)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        try:
            result = json.loads(b"".join(chunks)) if chunks else {"exit": None, "exception": None}
        except ValueError:
            result = {"exit": None, "exception": {"type": "BrokenOutput", "message": "", "where": []}}
        if timed_out:
            result["exception"] = {"type": "Timeout", "message": f"no answer within {opts.timeout:.0f} s",
                                   "where": []}
        elif not chunks:
            result["exception"] = {"type": "Died", "message": f"child ended with status {status}", "where": []}
        result.update(case=case["case"], command=case["command"], seconds=round(seconds, 3),
                      peak_mb=round(usage.ru_maxrss / 1024, 1),
                      peak_mb_above_worker=round(max(0, usage.ru_maxrss - base_rss) / 1024, 1))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
