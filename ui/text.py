"""The one place untrusted text (file names, column names, group labels, filter values, messages that
quote them) is made safe for Streamlit's Markdown: ``md(value)``.

Streamlit renders Markdown in ``st.markdown``, ``st.caption``, ``st.info``/``error``/``warning``,
``st.metric`` and widget labels, including links, images (an image URL is fetched by the browser),
``:color[...]`` directives, icons and LaTeX. ``md`` turns every line break and control character into
a space and puts a backslash before every ASCII punctuation mark, which CommonMark defines as a
literal character; so a label reads as itself and never as markup. GitHub-flavoured autolinks
(``www.x.org``, ``http://x``, ``a@b.org``) are found even through escapes, so a zero-width space goes
after ``www``, ``:`` of a scheme and ``@`` (invisible; the text still reads the same). Tables
(``st.dataframe``) and ``st.text`` show plain text and need nothing.
"""
from __future__ import annotations

import re

__all__ = ["md"]

_PUNCT = frozenset(r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_AUTOLINK = re.compile(r"(?i)(www)(?=\.)|(?<=[a-z])(:)(?=//)|(@)")
_ZWSP = "\u200b"


def md(value: object) -> str:
    """``value`` as literal Markdown text (see the module docstring)."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    text = _AUTOLINK.sub(lambda m: m.group(0) + _ZWSP, text)
    return "".join("\\" + ch if ch in _PUNCT else ch for ch in text)
