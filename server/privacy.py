"""Uploads never touch the disk; responses say who may frame and what may load; memory goes back after sessions.

**Uploads in memory.** Streamlit 1.67 serves on Starlette/uvicorn. Its upload route parses the
multipart body with Starlette's ``MultiPartParser``, which writes each file part to a
``tempfile.SpooledTemporaryFile(max_size=1 MB)``: past 1 MB the part rolls over to an unnamed,
already-deleted file in the system temp directory, on the real disk. Streamlit caps the body at
``server.maxUploadSize`` + 1 MB while streaming it, so raising the spool threshold above that cap
keeps every accepted upload in memory (:func:`keep_uploads_in_memory`). ``tests/test_privacy_server.py``
uploads a file of several MB through a real browser while watching the server's open files.

**Headers.** :class:`SecurityHeaders` (ASGI middleware, installed by ``serve.py``) adds a
Content-Security-Policy that allows only this origin (``frame-ancestors 'none'``: no other site may
frame the app), ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, ``nosniff`` and a
``Permissions-Policy`` that turns off camera, microphone, geolocation and the like.

**Memory.** :func:`start_memory_release` starts one daemon thread per process that, every
``interval`` seconds, shuts down sessions whose tab closed more than ``server.disconnectedSessionTTL``
ago (:func:`reap_disconnected_sessions`: Streamlit itself only does so when another session connects)
and returns freed heap to the operating system (``malloc_trim``, Arrow's memory pool), so a server's
resident memory falls back after sessions end instead of staying at its peak.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeaders", "keep_uploads_in_memory",
           "spool_threshold", "start_memory_release", "release_memory", "reap_disconnected_sessions"]

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",  # Streamlit's bundle and Plotly evaluate code; a
    # custom component's JavaScript (ui.widgets.watch_viewport) is imported from a blob: URL the page itself made
    "style-src 'self' 'unsafe-inline'",                  # Streamlit injects its styles at run time
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' ws: wss:",                       # the app's own websocket (same host)
    "worker-src 'self' blob:",
    "frame-src 'self' blob: data:",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response (not to websocket frames)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message.get("type") == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def spool_threshold() -> int:
    """Bytes above which an upload part would go to disk: the body cap Streamlit enforces, plus one."""
    from streamlit import config
    from streamlit.web.server.starlette import starlette_routes

    overhead = getattr(starlette_routes, "_MAX_UPLOAD_MULTIPART_OVERHEAD_BYTES", 1024 * 1024)
    return int(config.get_option("server.maxUploadSize")) * 1024 * 1024 + overhead + 1


def keep_uploads_in_memory() -> int:
    """Raise Starlette's multipart spool threshold above Streamlit's upload cap; returns the threshold.

    Idempotent; safe to call on every script run. Raises ``RuntimeError`` if Starlette's parser no
    longer has the ``spool_max_size`` attribute (a new version): then uploads could reach the disk.
    """
    from starlette import formparsers

    if not hasattr(formparsers.MultiPartParser, "spool_max_size"):
        raise RuntimeError("starlette.formparsers.MultiPartParser has no spool_max_size: uploads may be "
                           "spooled to disk; check the Starlette version")
    threshold = max(spool_threshold(), formparsers.MultiPartParser.spool_max_size)
    formparsers.MultiPartParser.spool_max_size = threshold
    return threshold


_LIBC = None
_RELEASER: threading.Thread | None = None
_LOCK = threading.Lock()


def reap_disconnected_sessions() -> int:
    """Shut down sessions whose tab closed more than ``server.disconnectedSessionTTL`` seconds ago.

    Streamlit (1.67) keeps a disconnected session, with its session state and its uploaded bytes, in
    a TTL cache that is only purged when another session connects; an expired entry is then dropped
    without ``AppSession.shutdown()``, which is what releases the uploaded file. This purges the
    cache now and shuts each expired session down. It reaches into Streamlit's session manager
    (private attributes, checked); it does nothing if they are not there. Returns the sessions closed.
    """
    try:
        from streamlit import runtime

        if not runtime.exists():
            return 0
        manager = runtime.get_instance()._session_mgr
        cache = manager._session_storage._cache
        lock = getattr(manager, "_storage_lock", None) or threading.Lock()
        with lock:
            expired = cache.expire()
    except (AttributeError, RuntimeError, TypeError):
        return 0
    for _, info in expired:
        with contextlib.suppress(Exception):  # a session that fails to shut down is still dropped
            info.session.shutdown()
    return len(expired)


def release_memory() -> None:
    """Close expired sessions, collect garbage, hand freed memory back to the OS (``malloc_trim``, Arrow)."""
    global _LIBC
    reap_disconnected_sessions()
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pyarrow missing or a pool without release: nothing to return
        pass
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        _LIBC = ctypes.CDLL(name) if name else False
    if _LIBC and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def start_memory_release(interval: float = 30.0) -> threading.Thread:
    """Start (once per process) a daemon thread calling :func:`release_memory` every ``interval`` seconds."""
    global _RELEASER
    with _LOCK:
        if _RELEASER is None or not _RELEASER.is_alive():
            stop = threading.Event()

            def loop() -> None:
                while not stop.wait(interval):
                    release_memory()

            _RELEASER = threading.Thread(target=loop, name="continuum-memory-release", daemon=True)
            _RELEASER.start()
    return _RELEASER
