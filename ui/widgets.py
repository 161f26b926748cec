"""Display helpers shared by the pages: suppressed tables with CSV download, charts with provenance,
empty states and the page guard that turns errors into sentences.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analysis import figures
from analysis.export import to_csv_bytes
from analysis.suppression import format_count, format_rate
from ui.state import Context

__all__ = ["Col", "table", "chart", "page_guard", "require_data", "label", "fmt_ci", "fmt_p", "BY_LABELS"]

log = logging.getLogger("continuum.app")

BY_LABELS: dict[str, str] = {
    "level_of_care": "Level of care", "primary_substance": "Primary substance", "age_band": "Age band",
    "sex": "Sex", "site": "Site", "payer": "Payer", "race_ethnicity": "Race/ethnicity",
    "admission_year": "Admission year", "admission_quarter": "Admission quarter",
}


def label(g: object) -> str:
    """Display label of a group value ("iop" -> "IOP")."""
    return figures.group_label(g)


@dataclass(frozen=True)
class Col:
    """A table column: header label, kind and the suppression flag column (if any).

    kind: "group" (group labels), "text", "count", "rate" (0-1, shown as %), "days", "int", "number", "p",
    "ratio".
    """

    label: str
    kind: str = "text"
    flag: str | None = None
    help: str | None = None


def fmt_p(p: float) -> str:
    """p-value text: "<0.001" or three decimals."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(est: float, lo: float, hi: float, *, percent: bool = True, decimals: int = 1) -> str:
    """"42.1% (38.0-46.3%)" or "0.81 (0.70-0.93)"; "" when the estimate is missing."""
    if est is None or not np.isfinite(est):
        return ""
    if percent:
        core = f"{est * 100:.{decimals}f}%"
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            core += f" ({lo * 100:.{decimals}f}-{hi * 100:.{decimals}f}%)"
        return core
    core = f"{est:.2f}"
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        core += f" ({lo:.2f}-{hi:.2f})"
    return core


def _render(df: pd.DataFrame, cols: Mapping[str, Col], min_cell: int, *, for_csv: bool) -> pd.DataFrame:
    out = {}
    for name, col in cols.items():
        if name not in df.columns:
            continue
        s = df[name]
        flag = df[col.flag].to_numpy(dtype=bool) if col.flag and col.flag in df.columns else None
        if col.kind == "group":
            out[col.label] = s.astype(object).map(label)
        elif col.kind == "count":
            out[col.label] = format_count(s, flag, min_cell).str.replace(",", "" if for_csv else ",")
        elif col.kind == "rate":
            if for_csv:
                v = pd.to_numeric(s, errors="coerce").round(4).astype(object)
                v = v.where(pd.notna(v), "")
                out[col.label] = v.mask(flag, "suppressed") if flag is not None else v
            else:
                out[col.label] = format_rate(s, flag)
        elif col.kind == "int":
            out[col.label] = pd.to_numeric(s, errors="coerce").map(lambda x: "" if not np.isfinite(x) else f"{x:.0f}")
        elif col.kind in ("days", "number", "ratio"):
            v = pd.to_numeric(s, errors="coerce")
            dec = 1 if col.kind == "days" else 2
            text = v.map(lambda x, d=dec: "" if not np.isfinite(x) else f"{x:.{d}f}")
            out[col.label] = text.mask(flag, "suppressed") if flag is not None else text
        elif col.kind == "p":
            out[col.label] = pd.to_numeric(s, errors="coerce").map(fmt_p)
        else:
            out[col.label] = s.astype(object).where(s.notna(), "").map(str)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def table(df: pd.DataFrame, cols: Mapping[str, Col], *, name: str, ctx: Context, origin: str | None = None,
          caption: str | None = None, height: int | str = "auto") -> pd.DataFrame:
    """Show a (suppressed) table with readable labels and a CSV download carrying its provenance.

    ``df`` must already be suppressed (NaN + ``*_suppressed`` flags from :mod:`analysis.suppression`);
    counts show "<11", rates hidden to protect them "suppressed". Returns the displayed frame.
    """
    shown = _render(df, cols, ctx.min_cell, for_csv=False)
    csv = _render(df, cols, ctx.min_cell, for_csv=True)
    config = {c.label: st.column_config.TextColumn(c.label, help=c.help) for c in cols.values()
              if c.label in shown.columns}
    if isinstance(height, int) and 35 * (len(shown) + 1) + 3 <= height:
        height = "auto"  # a short table keeps its own height instead of trailing empty rows
    st.dataframe(shown, hide_index=True, column_config=config, height=height, key=f"tbl_{name}")
    prov = ctx.provenance(origin=origin)
    if caption:
        st.caption(caption)
    st.download_button("Download CSV", to_csv_bytes(csv, prov), file_name=f"continuum_{name}.csv",
                       mime="text/csv", key=f"dl_{name}", icon=":material/download:")
    return shown


def chart(fig, *, name: str, ctx: Context, origin: str | None = None) -> None:
    """Show a plotly figure with its provenance line and a PNG save button named after ``name``."""
    figures.add_provenance(fig, ctx.provenance(origin=origin).caption())
    st.plotly_chart(fig, config=figures.to_image_config(f"continuum_{name}"), key=f"fig_{name}")


def require_data(ctx: Context) -> bool:
    """Show the empty state and return False when there is nothing to analyse."""
    if ctx.error:
        st.error(ctx.error)
        return False
    if ctx.cohort is None:
        st.error(ctx.dataset.result.report.fatal or "The data could not be loaded.")
        st.page_link("pages/data.py", label="Go to Data to load another file", icon=":material/upload_file:")
        return False
    if ctx.n == 0:
        st.info("No episodes match these filters. Widen the filters in the sidebar.")
        return False
    return True


@contextmanager
def page_guard(what: str) -> Iterator[None]:
    """Turn errors inside a page body into a sentence (``ValueError`` texts come from ``analysis``).

    With ``CONTINUUM_STRICT=1`` (the tests) unexpected errors are re-raised so they are not hidden.
    """
    try:
        yield
    except ValueError as err:
        st.error(f"{what} could not be computed: {err}")
    except Exception as err:  # noqa: BLE001 - the page must not show a traceback to a user
        if os.environ.get("CONTINUUM_STRICT") == "1":
            raise
        log.exception("page error")
        st.error(f"Something went wrong while computing {what.lower()} ({type(err).__name__}). "
                 "Try other filters; if it persists, report it with the provenance line.")
