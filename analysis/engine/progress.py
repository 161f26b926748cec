"""Progress of long steps (rows read, rules checked), for a terminal and for the app.

A progress hook is any callable taking a :class:`ProgressEvent`. :class:`TerminalProgress` draws one
updating line on a terminal (nothing when the stream is not a terminal, so pipes and JSON output stay
clean); the app passes a hook that moves a ``st.progress`` bar. Hooks never change results, and a hook
that raises is dropped rather than stopping the analysis.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

__all__ = ["ProgressEvent", "ProgressHook", "TerminalProgress", "report", "poll_duckdb"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step forward.

    ``stage``: "read", "validate", "derive" or "query"; ``done`` of ``total`` ``unit`` ("rows",
    "rules" or "percent"; ``total`` None when unknown); ``message`` a short sentence for people.
    """

    stage: str
    done: float
    total: float | None
    unit: str
    message: str

    @property
    def fraction(self) -> float | None:
        """Share done (0-1), or None when the total is unknown."""
        if not self.total:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)


ProgressHook = Callable[[ProgressEvent], None]


def report(hook: ProgressHook | None, stage: str, done: float, total: float | None, unit: str, message: str) -> None:
    """Send an event to ``hook`` (if any); a failing hook is ignored."""
    if hook is None:
        return
    try:
        hook(ProgressEvent(stage, done, total, unit, message))
    except Exception:  # a progress display must never stop an analysis
        pass


class TerminalProgress:
    """Draws ``message  done/total unit`` on one line of a terminal, at most every ``interval`` seconds."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self._last = 0.0
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        finished = event.total is not None and event.done >= event.total
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        if event.unit == "percent":
            amount = f"{event.done:.0f}%"
        elif event.total:
            amount = f"{event.done:,.0f} of {event.total:,.0f} {event.unit}"
        else:
            amount = f"{event.done:,.0f} {event.unit}"
        self.stream.write(f"\r\x1b[2K{event.message} {amount}")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def poll_duckdb(con, run: Callable[[], object], hook: ProgressHook | None, stage: str, message: str,
                interval: float = 0.25):
    """Run ``run()`` (a DuckDB statement on ``con``) in a thread, reporting DuckDB's query progress."""
    if hook is None:
        return run()
    import threading

    box: dict = {}

    def target() -> None:
        try:
            box["value"] = run()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(interval)
        try:
            pct = float(con.query_progress())
        except Exception:
            pct = -1.0
        if pct >= 0:
            report(hook, stage, pct, 100.0, "percent", message)
    if "error" in box:
        raise box["error"]
    report(hook, stage, 100.0, 100.0, "percent", message)
    return box.get("value")
