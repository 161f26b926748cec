"""Figures leaving the app: SVG, PDF and PNG through plotly's static export, and their plotted numbers.

:func:`static_image` renders with kaleido (1.x), which drives a Chromium already on the machine (no
download): ``CONTINUUM_CHROMIUM`` or ``BROWSER_PATH`` if set, else ``/usr/bin/chromium`` and the
usual names on the ``PATH``. MathJax is switched off and plotly.js comes from the plotly package,
so an export needs no network. One browser is started on the first export and kept for the
process, on its own event loop thread, with :data:`TABS` tabs so that figures asked for at the same time are
drawn at the same time (measured here: about 3 s to start, then 0.2-0.4 s per figure; ``benchmarks/bench_figures.py
--static``).

:func:`figure_data` gives the numbers a figure draws as a tidy frame of floats (estimate, lower,
upper per point), for a CSV beside a chart.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures._layout import COMPACT_WIDTH

__all__ = ["STATIC_FORMATS", "find_chromium", "static_image", "close_static_export", "figure_data"]

STATIC_FORMATS: tuple[str, ...] = ("svg", "pdf", "png")
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
               "/usr/bin/google-chrome-stable")
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_lock = threading.Lock()
_started_with: str | None = None


def find_chromium() -> str | None:
    """Path of a Chromium to export with, or None (see the module docstring for the search order)."""
    for var in ("CONTINUUM_CHROMIUM", "BROWSER_PATH"):
        path = os.environ.get(var)
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    for path in _CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


#: Figures drawn at once (kaleido tabs): the Overview's two still charts in the time of one (0.28 s for a pair
#: against 0.5 s one after the other, measured here).
TABS = 2
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_kaleido = None


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    if not thread.is_alive():
        loop.close()


def _ensure_server() -> None:
    """Start (once, under ``_lock``) the event loop thread and the kaleido browser with :data:`TABS` tabs."""
    global _started_with, _loop, _kaleido, _thread
    import kaleido

    if _started_with is not None:
        return
    path = find_chromium()
    if path is None:
        raise ValueError("Exporting a chart as SVG or PDF needs Chromium (or Chrome) on this machine, and none "
                         "was found; install it (apt-get install chromium) or set CONTINUUM_CHROMIUM to its path.")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="continuum-kaleido", daemon=True)
    thread.start()
    k = kaleido.Kaleido(n=TABS, path=path, mathjax=False)
    try:
        asyncio.run_coroutine_threadsafe(k.open(), loop).result(timeout=120)
    except BaseException:
        _stop(loop, thread)
        raise
    _loop, _kaleido, _started_with, _thread = loop, k, path, thread
    atexit.register(close_static_export)  # the browser does not outlive the process


def close_static_export() -> None:
    """Stop the browser started for exports (it also stops when the process ends)."""
    global _started_with, _loop, _kaleido, _thread
    with _lock:
        if _started_with is not None and _loop is not None and _thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_kaleido.close(), _loop).result(timeout=30)
            _stop(_loop, _thread)
        _started_with, _loop, _kaleido, _thread = None, None, None, None


def static_image(fig: go.Figure, fmt: str = "svg", *, width: int | None = None, height: int | None = None,
                 scale: float = 1.0) -> bytes:
    """The figure as SVG, PDF or PNG bytes, drawn by plotly.js in the system Chromium.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    fmt : {"svg", "pdf", "png"}
    width, height : int, optional
        Size in layout pixels; default the figure's own height and width, else 1000 px wide
        (:data:`analysis.figures._layout.COMPACT_WIDTH` for a compact figure).
    scale : float
        Pixel density for PNG (2 for print); vector formats ignore it.

    Raises
    ------
    ValueError
        An unknown format, no Chromium, or a browser that failed to draw the figure (one sentence).
    """
    fmt = str(fmt).lower()
    if fmt not in STATIC_FORMATS:
        raise ValueError(f"Cannot export a chart as {fmt!r}: choose one of {', '.join(STATIC_FORMATS)}.")
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    compact = bool(meta.get("continuum", {}).get("compact"))
    opts = {"format": fmt, "width": int(width or fig.layout.width or (COMPACT_WIDTH if compact else 1000)),
            "height": int(height or fig.layout.height or 500), "scale": float(scale)}
    with _lock:  # started once; then up to TABS figures are drawn at the same time
        _ensure_server()
        loop, k = _loop, _kaleido
    try:
        return asyncio.run_coroutine_threadsafe(k.calc_fig(fig, opts=opts), loop).result(timeout=120)
    except Exception as err:  # the browser's own error text is technical: say what failed
        raise ValueError(f"The chart could not be exported as {fmt.upper()}: the browser reported "
                         f"{type(err).__name__}.") from err


def _trace_points(t) -> dict[str, np.ndarray] | None:
    x, y = getattr(t, "x", None), getattr(t, "y", None)
    if x is None or y is None or getattr(t, "mode", None) == "text":
        return None
    x = np.asarray(x, dtype=object)
    y = np.asarray(y, dtype=object)
    ex, ey = getattr(t, "error_x", None), getattr(t, "error_y", None)
    x_errors = ex is not None and ex.array is not None and (ey is None or ey.array is None)
    horizontal = getattr(t, "orientation", None) == "h" or x_errors
    est, cat = (x, y) if horizontal else (y, x)
    est = pd.to_numeric(pd.Series(est), errors="coerce").to_numpy(dtype="float64")
    if not np.isfinite(est).any():
        return None
    err = getattr(t, "error_x" if horizontal else "error_y", None)
    lo = hi = np.full(len(est), np.nan)
    if err is not None and err.array is not None:
        up = np.asarray(err.array, dtype="float64")
        down = np.asarray(err.arrayminus if err.arrayminus is not None else err.array, dtype="float64")
        lo, hi = est - down, est + up
    return {"x": cat, "estimate": est, "lower": lo, "upper": hi}


def figure_data(fig: go.Figure, *, decimals: int = 6) -> pd.DataFrame:
    """The numbers a figure draws, one row per point: series, x, estimate, lower, upper (floats).

    Lines and markers give their points; error bars give lower and upper; an interval band drawn as a
    pair of traces named ``"<series> lower"`` / ``"<series> upper"`` gives lower and upper of its
    series. Text traces (risk tables) and legend-only keys are left out. Values are rounded to
    ``decimals`` (figures carry float32, whose last digits are noise).
    """
    frames, bands = [], {}
    for t in fig.data:
        pts = _trace_points(t)
        if pts is None:
            continue
        name = str(t.name or "")
        for suffix in (" lower", " upper"):
            if name.endswith(suffix):
                bands[(name[: -len(suffix)], suffix.strip())] = pts["estimate"]
                break
        else:
            frames.append(pd.DataFrame({"series": name, **pts}))
    if not frames:
        return pd.DataFrame(columns=["series", "x", "estimate", "lower", "upper"])
    for f in frames:
        s = f["series"].iloc[0]
        if (s, "lower") in bands and len(bands[(s, "lower")]) == len(f):
            f["lower"], f["upper"] = bands[(s, "lower")], bands[(s, "upper")]
    out = pd.concat(frames, ignore_index=True)
    x = pd.to_numeric(out["x"], errors="coerce")
    out["x"] = x.round(decimals) if x.notna().all() else out["x"].astype(str)
    for c in ("estimate", "lower", "upper"):
        out[c] = out[c].astype("float64").round(decimals)
    return out
