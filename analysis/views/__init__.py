"""What each page (and the report) shows, computed in ``analysis`` and published through the disclosure step.

One function per page takes a :class:`analysis.disclosure.Publication` (and the page's settings)
and returns a frozen dataclass of published tables, published curves and sentences. Pages lay them
out; the HTML report can assemble the same objects. Statistics that compare groups are computed
here on the groups the publication leaves visible, saying which were left out.
"""
