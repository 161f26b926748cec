"""The first screen's JavaScript fetched with the page, not after the script has run.

Streamlit's front end loads the code of each kind of element (Plotly chart, data frame, metric, the
sidebar's widgets) as a separate JavaScript module the first time an element of that kind arrives
from the server. On a cold visit of the Overview that is 70 modules (the Plotly module alone is
4.7 MB): they are requested only once the script's messages arrive, so the charts appear about two
seconds after the script has finished. :class:`PreloadModules` (ASGI middleware, installed by
``serve.py``) adds ``<link rel="modulepreload">`` tags for those modules to the HTML page, so the
browser fetches and compiles them while the websocket connects and the script runs.

The modules are found in the installed Streamlit's own files: the element modules named in
:data:`ELEMENTS` and every module they import, less those the page already preloads
(:func:`preload_modules`). Names carry content hashes that change with each Streamlit release; a
name that is not found is skipped, so a new release can only lose the speed-up, not break a page.
Measured in ``benchmarks/bench_browser.py`` (``--no-preload`` for the page without the tags).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from server.privacy import Message, Receive, Scope, Send

__all__ = ["ELEMENTS", "PreloadModules", "preload_modules", "preload_tags", "streamlit_static_dir"]

#: Element modules the pages show on their first screen (Streamlit's front-end chunk names).
ELEMENTS: tuple[str, ...] = (
    "PlotlyChart", "DataFrame", "Metric", "Multiselect", "Selectbox", "Radio", "DateInput", "NumberInput",
    "DownloadButton", "ButtonGroup", "Checkbox",
)

_IMPORT = re.compile(r'(?:from|import)\s*"\./([\w.\-]+\.js)"')
_PRELOADED = re.compile(r'(?:href|src)="\./static/js/([\w.\-]+\.js)"')


def streamlit_static_dir() -> Path:
    """The directory of the installed Streamlit's front end (``index.html`` and ``static/js``)."""
    import streamlit

    return Path(streamlit.__file__).parent / "static"


def preload_modules(static_dir: Path, elements: Iterable[str] = ELEMENTS) -> list[str]:
    """File names under ``static/js`` of ``elements``' modules and every module they import (depth first,
    in import order), less those ``index.html`` already loads or preloads. Unknown elements are skipped."""
    js = static_dir / "static" / "js"
    index = (static_dir / "index.html").read_text(encoding="utf-8")
    done = set(_PRELOADED.findall(index))
    order: list[str] = []
    todo = [p.name for e in reversed(tuple(elements)) for p in sorted(js.glob(f"{e}.*.js"))[:1]]
    while todo:
        name = todo.pop()
        if name in done or not (js / name).is_file():
            continue
        done.add(name)
        order.append(name)
        todo.extend(reversed(_IMPORT.findall((js / name).read_text(encoding="utf-8", errors="replace"))))
    return order


@functools.lru_cache(maxsize=4)
def preload_tags(static_dir: Path | None = None, elements: tuple[str, ...] = ELEMENTS) -> bytes:
    """The ``<link rel="modulepreload">`` tags (UTF-8) for :func:`preload_modules`."""
    names = preload_modules(static_dir or streamlit_static_dir(), elements)
    return "".join(f'<link rel="modulepreload" crossorigin href="./static/js/{n}">' for n in names).encode()


class PreloadModules:
    """ASGI middleware: every uncompressed HTML page gets :func:`preload_tags` before ``</head>`` (its
    length and ETag adjusted); every other response passes untouched."""

    def __init__(self, app, elements: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.tags = preload_tags(None, ELEMENTS if elements is None else tuple(elements))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET" or not self.tags:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def send_with_tags(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                html = headers.get(b"content-type", b"").startswith(b"text/html")
                if html and b"content-encoding" not in headers and message.get("status") == 200:
                    start = message  # held back until the body is complete
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(body).replace(b"</head>", self.tags + b"</head>", 1)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
                etag = dict((k.lower(), v) for k, v in start.get("headers", [])).get(b"etag")
                if etag:
                    headers.append((b"etag", etag.rstrip(b'"') + b'-preload"'))
                headers.append((b"content-length", str(len(page)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        await self.app(scope, receive, send_with_tags)
