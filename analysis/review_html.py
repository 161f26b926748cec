"""The review as one self-contained HTML file (and a PDF printed from it by the system Chromium).

Self-contained: no external URL is fetched. The interactive file inlines plotly.js once (from the
plotly package, about 4.7 MB) and each figure as JSON in two layouts, wide and compact, drawn for
the screen's width (a phone gets legends below and wrapped labels); ``static=True`` embeds each figure as an SVG
image (``data:`` URI, drawn by :func:`analysis.figures.static_image`) and needs no script at all,
which is what the PDF is printed from. Every piece of text (file name, labels, column names,
notes) is HTML-escaped, and figure JSON carries no ``<``, ``>`` or ``&`` (JSON escapes), so it
cannot close its ``<script>``.
"""
from __future__ import annotations

import base64
import html
import json
import subprocess
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from analysis import figures
from analysis.review import Review, ReviewFigure, ReviewSection, ReviewTable

__all__ = ["review_html", "write_review", "print_pdf"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0 auto;max-width:1120px;
padding:16px;line-height:1.45}
h1{font-size:1.7em;margin:0.2em 0}h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:0.9em}.intro{color:#333}.note{color:#555;font-size:0.88em}
table{border-collapse:collapse;margin:0.6em 0 0.2em;font-size:0.9em;width:100%}
caption{text-align:left;font-weight:600;padding:0.3em 0}
th,td{border-bottom:1px solid #e5e5e5;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6}.tablewrap{overflow-x:auto}
figure{margin:0.8em 0;break-inside:avoid}figure img{max-width:100%;height:auto}
.plot{width:100%}nav a{margin-right:0.8em}
@media print{nav{display:none}h2{break-before:auto}}
"""
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _script_json(fig: go.Figure) -> str:
    """Figure JSON safe inside ``<script>``: ``<``, ``>`` and ``&`` written as JSON escapes (``\\u003c``),
    so no text in it (a group called ``</script>``) can end the element or start markup."""
    text = pio.to_json(fig, validate=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _figure(fig: ReviewFigure, n: int, static: bool) -> str:
    """A chart: an SVG image (static), or both layouts as JSON, drawn by :data:`_DRAW` for the screen's width."""
    title = fig.wide.layout.title.text if fig.wide.layout.title and fig.wide.layout.title.text else f"Figure {n}"
    alt = _e(html.unescape(str(title).replace("<br>", " ")))
    if static:
        svg = figures.static_image(fig.wide, "svg")
        data = base64.b64encode(svg).decode("ascii")
        return f'<figure><img alt="{alt}" src="data:image/svg+xml;base64,{data}"></figure>'
    return (f'<figure><div class="plot" id="fig{n}" role="img" aria-label="{alt}"></div>'
            f'<script>(function(){{var f={_script_json(fig.wide)};var c={_script_json(fig.compact)};'
            f'draw("fig{n}",f,c);}})();</script></figure>')


_DRAW = """
var NARROW = window.matchMedia("(max-width: 640px)");
var PLOTS = [];
function draw(id, wide, compact) {
  PLOTS.push([id, wide, compact]);
  var f = NARROW.matches ? compact : wide, el = document.getElementById(id);
  el.style.height = (f.layout.height || 450) + "px";
  Plotly.react(el, f.data, f.layout, CONFIG);
}
NARROW.addEventListener("change", function () {
  var all = PLOTS; PLOTS = []; all.forEach(function (p) { draw(p[0], p[1], p[2]); });
});
"""


def _table(t: ReviewTable) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in t.frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                   for row in t.frame.astype(str).itertuples(index=False))
    note = f'<p class="note">{_e(t.note)}</p>' if t.note else ""
    return (f'<div class="tablewrap"><table><caption>{_e(t.caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>{note}")


def _section(s: ReviewSection, start: int, static: bool) -> tuple[str, int]:
    parts = [f'<section id="{_e(s.key)}"><h2>{_e(s.title)}</h2><p class="intro">{_e(s.intro)}</p>']
    n = start
    for fig in s.figures:
        n += 1
        parts.append(_figure(fig, n, static))
    for t in s.tables:
        parts.append(_table(t))
    parts += [f'<p class="note">{_e(x)}</p>' for x in s.notes]
    parts.append("</section>")
    return "".join(parts), n


def review_html(review: Review, *, static: bool = False) -> str:
    """The review as one HTML document (see the module docstring)."""
    p = review.provenance
    body, n = [], 0
    for s in review.sections:
        text, n = _section(s, n, static)
        body.append(text)
    nav = "".join(f'<a href="#{_e(s.key)}">{_e(s.title)}</a>' for s in review.sections)
    methods = "".join(f"<li>{_e(m)}</li>" for m in review.methods)
    provenance = "".join(f"<li>{_e(line)}</li>" for line in review.provenance_lines)
    script = "" if static else (f"<script>{_plotly_js()}</script>"
                                f"<script>var CONFIG={json.dumps(_CONFIG)};{_DRAW}</script>")
    meta = (f"{_e(p.source)} (sha256 {_e(p.short_hash)}); data as of {_e(review.as_of or 'not stated')}; "
            f"relapse measured from {_e(review.origin)}; counts below {review.min_cell} suppressed; "
            f"Continuum {_e(p.version)}, {_e(p.created)}.")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(review.title)}: {_e(p.source)}</title><style>{_CSS}</style>{script}</head><body>"
            f'<header><h1>{_e(review.title)}</h1><p class="meta">{meta}</p><nav>{nav}</nav></header>'
            + "".join(body)
            + f'<section id="methods"><h2>Methods</h2><ul>{methods}</ul></section>'
            + f'<section id="provenance"><h2>Provenance</h2><ul>{provenance}</ul></section></body></html>\n')


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def write_review(review: Review, path: str | Path, *, static: bool = False) -> Path:
    """Write :func:`review_html` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(review_html(review, static=static), encoding="utf-8")
    return path


def print_pdf(review: Review, pdf_path: str | Path, *, timeout: float = 180) -> Path:
    """Print the static review to PDF with the system Chromium (``--headless --print-to-pdf``).

    The static HTML is written to a temporary directory that is removed afterwards (it holds only
    the published review). Raises ``ValueError`` with a sentence when no Chromium is found or it fails.
    """
    chromium = figures.find_chromium()
    if chromium is None:
        raise ValueError("A PDF needs Chromium (or Chrome) on this machine, and none was found; the HTML "
                         "review can be printed to PDF from any browser.")
    pdf_path = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="continuum-review-") as tmp:
        page = write_review(review, Path(tmp) / "review.html", static=True)
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={pdf_path}", page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise ValueError(f"Chromium could not print the PDF ({type(err).__name__}).") from err
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise ValueError(f"Chromium could not print the PDF (exit code {done.returncode}).")
    return pdf_path
