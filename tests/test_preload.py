"""server/preload.py: the first screen's modules named in the HTML page (unit), and served by serve.py (real server)."""
from __future__ import annotations

import asyncio
import re

from server.preload import ELEMENTS, PreloadModules, preload_modules, preload_tags, streamlit_static_dir


def _run(middleware, scope, start, body_parts):
    sent = []

    async def app(scope, receive, send):
        await send(start)
        for i, part in enumerate(body_parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(body_parts) - 1})

    async def send(message):
        sent.append(message)

    asyncio.run(middleware(app)(scope, None, send))
    return sent


def test_modules_are_the_elements_and_their_imports_not_already_on_the_page():
    static = streamlit_static_dir()
    names = preload_modules(static)
    index = (static / "index.html").read_text()
    assert names[0].startswith("PlotlyChart.") and any(n.startswith("DataFrame.") for n in names)
    assert len(names) == len(set(names)) and all((static / "static" / "js" / n).is_file() for n in names)
    assert not any(f"static/js/{n}" in index for n in names)  # nothing the page already loads
    # closed under imports: every module a preloaded one imports is preloaded or already on the page
    for n in names:
        for dep in re.findall(r'(?:from|import)\s*"\./([\w.\-]+\.js)"', (static / "static" / "js" / n).read_text()):
            assert dep in names or f"static/js/{dep}" in index, (n, dep)
    assert preload_modules(static, ("NoSuchElement",)) == []  # a name a new release dropped: nothing, no error
    assert set(preload_modules(static, ("Metric",))) < set(names) and len(ELEMENTS) == 11


def test_html_pages_get_the_tags_other_responses_pass_untouched():
    html = b"<html><head><title>x</title></head><body></body></html>"
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"53"),
                         (b"etag", b'"abc"')]}
    sent = _run(PreloadModules, {"type": "http", "method": "GET"}, start, [html[:20], html[20:]])
    tags = preload_tags(None, ELEMENTS)
    page = sent[1]["body"]
    assert page == html.replace(b"</head>", tags + b"</head>") and tags.count(b"modulepreload") > 30
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(page)).encode() and headers[b"etag"] == b'"abc-preload"'
    assert len(sent) == 2
    # JavaScript, a compressed page, a HEAD request and a websocket pass as they are
    js = {**start, "headers": [(b"content-type", b"text/javascript")]}
    assert _run(PreloadModules, {"type": "http", "method": "GET"}, js, [b"x"])[1]["body"] == b"x"
    gz = {**start, "headers": [*start["headers"], (b"content-encoding", b"gzip")]}
    assert _run(PreloadModules, {"type": "http", "method": "GET"}, gz, [b"zz"])[1]["body"] == b"zz"
    assert _run(PreloadModules, {"type": "http", "method": "HEAD"}, start, [b""])[0] is start
    assert _run(PreloadModules, {"type": "websocket"}, start, [html])[1]["body"] == html
