"""Provenance: where a figure, table or download came from, so a number can be traced and reproduced.

A :class:`Provenance` names the data source (file name and a short content hash), the filters, the
time origin, the grouping, the rows used and excluded, the small-cell threshold and the analysis
version. :meth:`Provenance.text` gives the one-line caption drawn under charts;
:meth:`Provenance.lines` the lines written at the top of every CSV download.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analysis import __version__

__all__ = ["Provenance", "published_rows"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Provenance:
    """The facts needed to reproduce one output.

    Attributes
    ----------
    source : str
        Data source (``"sample cohort (episodes.csv)"`` or the uploaded file's name).
    content_hash : str
        SHA-256 hex digest of the file's bytes (shown shortened to 12 characters).
    filters : str
        :meth:`analysis.filters.FilterSpec.describe` text.
    origin : str or None
        Time origin ("admission" / "discharge") or None where no time-to-event measure is shown.
    by : str
        Grouping column.
    rows_used, rows_excluded : int
        Episodes in the analysis after filters, and rows the validation excluded from the file; a count
        from 1 to ``min_cell - 1`` is written ``"<11"`` (a download must not carry a small count either),
        ``rows_used=None`` (the publication hides the view's total) ``"suppressed"``.
    min_cell : int
        Small-cell threshold (counts below it are suppressed).
    version : str
        ``analysis.__version__``.
    created : str
        When the output was made (UTC, minute resolution).
    """

    source: str
    content_hash: str
    filters: str
    origin: str | None
    by: str
    rows_used: int | None
    rows_excluded: int
    min_cell: int
    version: str = __version__
    created: str = field(default_factory=_now)

    @property
    def short_hash(self) -> str:
        """First 12 hex characters of the content hash."""
        return self.content_hash[:12]

    def _count(self, n: int | None) -> str:
        if n is None:
            return "suppressed"
        return f"<{self.min_cell}" if 1 <= n < self.min_cell else f"{n:,}"

    def _items(self) -> list[tuple[str, str]]:
        items = [("source", f"{self.source} (sha256 {self.short_hash})" if self.short_hash else self.source),
                 ("filters", self.filters)]
        if self.origin:
            items.append(("time origin", self.origin))
        items += [("grouped by", self.by.replace("_", " ")),
                  ("rows", f"{self._count(self.rows_used)} used, {self._count(self.rows_excluded)} excluded by "
                           "validation"),
                  ("small cells", f"counts below {self.min_cell} suppressed"),
                  ("analysis version", f"Continuum {self.version}"),
                  ("created", self.created)]
        return items

    def text(self) -> str:
        """One line: ``"Source: x.csv (sha256 1a2b...) | Filters: ... | ... | Continuum 0.1.0"``."""
        return " | ".join(f"{k.capitalize()}: {v}" for k, v in self._items() if k != "created")

    def caption(self, max_chars: int = 160) -> str:
        """A compact one-line caption for charts (the filters shortened with "..." to fit ``max_chars``)."""
        origin = f" | from {self.origin}" if self.origin else ""
        src = f"{self.source} ({self.short_hash})" if self.short_hash else self.source
        tail = (f"{origin} | {self._count(self.rows_used)} used, {self._count(self.rows_excluded)} excluded"
                f" | <{self.min_cell} hidden"
                f" | Continuum {self.version}")
        room = max(max_chars - len(src) - len(tail) - 6, 12)
        filters = self.filters if len(self.filters) <= room else self.filters[:room - 3].rstrip() + "..."
        return f"{src} | {filters}{tail}"

    def lines(self) -> list[str]:
        """``"key: value"`` lines (for the comment header of a CSV download)."""
        return [f"{k}: {v}" for k, v in self._items()]


def published_rows(read: int, accepted: int, excluded: int, min_cell: int) -> dict[str, int | None]:
    """The file's rows read, accepted and excluded as an output may show them (``rows_read`` = accepted +
    excluded): a count from 1 to ``min_cell - 1`` is None, and so is one more of the three where the one hidden
    would follow by subtraction (rows read, else rows accepted): a file of 5,000 rows with 3 excluded shows 4,997
    accepted and neither 3 nor 5,000."""
    out: dict[str, int | None] = {"rows_read": int(read), "rows_accepted": int(accepted),
                                  "rows_excluded": int(excluded)}
    for key, n in list(out.items()):
        if n is not None and 1 <= n < min_cell:
            out[key] = None
    if sum(v is None for v in out.values()) == 1:
        out["rows_read" if out["rows_read"] is not None else "rows_accepted"] = None
    return out

