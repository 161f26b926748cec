"""The shared sidebar: filters, grouping column, time origin and small-cell threshold.

Widget values live in ``st.session_state`` (the sidebar is drawn by ``app.py`` on every run, so
they survive page changes) and are mirrored to the URL's query parameters, so a link reproduces
the view. On a session's first run the URL is read back into the widgets (unknown values dropped).

Disclosure: admission dates are applied in whole months (a day's admissions would be the difference
between two views), the number of matching episodes reads "<11" when small, and a setting whose
difference from a wider one is 1 to ``min_cell - 1`` episodes is refused with a sentence
(:func:`analysis.disclosure.neighbours.wider_settings`).
"""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.cohort import ORIGINS, choose_origin
from analysis.disclosure.neighbours import month_end, month_start, wider_settings
from analysis.filters import FILTER_COLUMNS, FilterSpec, filter_options
from analysis.schema import LEVEL_LABELS
from analysis.suppression import DEFAULT_MIN_CELL
from ui.state import Context, Dataset, filtered_cohort
from ui.text import md
from ui.widgets import BY_LABELS, watch_viewport

__all__ = ["render_sidebar", "grouping_options", "MULTI_KEYS"]

#: FilterSpec field -> (widget key, label)
MULTI_KEYS: dict[str, tuple[str, str]] = {
    "levels": ("f_levels", "Level of care"), "substances": ("f_substances", "Primary substance"),
    "age_bands": ("f_age_bands", "Age band"), "sexes": ("f_sexes", "Sex"), "sites": ("f_sites", "Site"),
    "payers": ("f_payers", "Payer"),
}
_COOC = {"All": None, "With a co-occurring disorder": True, "Without a co-occurring disorder": False}
_FILTER_KEYS = ("f_from", "f_to", "f_cooc", *(k for k, _ in MULTI_KEYS.values()))
_MAX_GROUPS = 12


def grouping_options(cohort: pd.DataFrame, extra: tuple[str, ...] = ()) -> list[str]:
    """Columns one can group by: known categorical columns present, plus extra columns with 2-12 values."""
    known = [c for c in BY_LABELS if c in cohort.columns and cohort[c].notna().any()]
    more = [c for c in extra if c in cohort.columns and c not in known
            and 2 <= cohort[c].nunique(dropna=True) <= _MAX_GROUPS]
    return known + more


def _date_bounds(cohort: pd.DataFrame) -> tuple[dt.date, dt.date] | None:
    if "admission_date" not in cohort.columns or cohort["admission_date"].notna().sum() == 0:
        return None
    return cohort["admission_date"].min().date(), cohort["admission_date"].max().date()


def _from_url(ss, options: dict[str, list[str]], bounds, by_options: list[str]) -> None:
    qp = st.query_params
    query = {k: qp.get_all(k) for k in qp.keys()}
    try:
        spec = FilterSpec.from_query(query)
    except ValueError:
        spec = FilterSpec()
    for name, (key, _) in MULTI_KEYS.items():
        ss[key] = [v for v in getattr(spec, name) if v in options.get(name, [])]
    if bounds:
        ss["f_from"] = spec.admission_from if spec.admission_from and bounds[0] <= spec.admission_from <= bounds[1] \
            else None
        ss["f_to"] = spec.admission_to if spec.admission_to and bounds[0] <= spec.admission_to <= bounds[1] else None
    ss["f_cooc"] = next(k for k, v in _COOC.items() if v == spec.co_occurring)
    if qp.get("by") in by_options:
        ss["by"] = qp.get("by")
    if qp.get("origin") in ORIGINS:
        ss["origin"] = qp.get("origin")
    try:
        ss["min_cell"] = max(DEFAULT_MIN_CELL, int(qp.get("min_cell", DEFAULT_MIN_CELL)))
    except ValueError:
        ss["min_cell"] = DEFAULT_MIN_CELL


_KNOWN_KEYS = {"from", "to", "level", "substance", "age", "sex", "cooc", "site", "payer", "by", "origin",
               "min_cell", "embed", "embed_options"}


def url_problems(query: dict[str, list[str]], options: dict[str, list[str]], bounds, by_options: list[str]) -> list[str]:
    """What a link asked for that this file cannot give, one short phrase each (the values are left out)."""
    from analysis.filters import _QUERY_KEYS

    names = {v: k for k, v in _QUERY_KEYS.items()}
    out = []
    for key, values in query.items():
        if key not in _KNOWN_KEYS:
            out.append(f"unknown setting '{key}'")
            continue
        name = names.get(key)
        if name in MULTI_KEYS:
            bad = [v for v in values if v not in options.get(name, [])]
            if bad:
                out.append(f"{MULTI_KEYS[name][1].lower()} {', '.join(repr(v) for v in bad[:3])}"
                           + (" ..." if len(bad) > 3 else "") + " not in this file")
        elif key in ("from", "to"):
            v = values[-1] if values else ""
            try:
                day = dt.date.fromisoformat(v)
            except ValueError:
                out.append(f"'{key}' date {v!r} is not a date (YYYY-MM-DD)")
                continue
            if bounds and not bounds[0] <= day <= bounds[1]:
                out.append(f"'{key}' date {v} outside the admissions of this file ({bounds[0]} to {bounds[1]})")
        elif key == "cooc" and values and values[-1].strip().lower() not in ("yes", "no", "true", "false", "1", "0", ""):
            out.append(f"co-occurring {values[-1]!r} (use yes or no)")
        elif key == "by" and values and values[-1] not in by_options:
            out.append(f"grouping {values[-1]!r} not in this file")
        elif key == "origin" and values and values[-1] not in ORIGINS:
            out.append(f"origin {values[-1]!r} (use admission or discharge)")
        elif key == "min_cell" and values:
            try:
                if int(values[-1]) < DEFAULT_MIN_CELL:
                    out.append(f"threshold {values[-1]} below the minimum {DEFAULT_MIN_CELL}")
            except ValueError:
                out.append(f"threshold {values[-1]!r} is not a whole number")
    return out


def _dataset_by(ds: Dataset) -> str | None:
    """The grouping column the dataset was opened with (a saved mapping's ``by``, ``--by``), as a column name."""
    by = getattr(ds.result, "by", None)
    if not by:
        return None
    try:
        return ds.result.resolve_column(by)
    except (ValueError, AttributeError):
        return by


def _sanitize(ss, options, bounds, by_options, default_by: str | None = None) -> None:
    for name, (key, _) in MULTI_KEYS.items():
        ss[key] = [v for v in ss.get(key, []) if v in options.get(name, [])]
    for key in ("f_from", "f_to"):
        value = ss.get(key)
        if value is not None and (bounds is None or not bounds[0] <= value <= bounds[1]):
            ss[key] = None
        ss.setdefault(key, None)
    if ss.get("f_cooc") not in _COOC:
        ss["f_cooc"] = "All"
    if ss.get("_pending_by") in by_options:  # the grouping column chosen on the Data page for a new file
        ss["by"] = ss.pop("_pending_by")
    if ss.get("by") not in by_options:  # the dataset's own grouping (its saved mapping's), else level of care
        ss["by"] = default_by if default_by in by_options else (
            "level_of_care" if "level_of_care" in by_options else by_options[0])
    if ss.get("origin") not in ORIGINS:
        ss["origin"] = "discharge"
    if not isinstance(ss.get("min_cell"), int) or ss["min_cell"] < DEFAULT_MIN_CELL:
        ss["min_cell"] = DEFAULT_MIN_CELL
    # write every value back through the Session State API: a widget re-created under another id
    # (e.g. the sidebar drawn by a page instead of app.py) then takes the value instead of its default
    for key in (*_FILTER_KEYS, "by", "origin", "min_cell"):
        ss[key] = ss[key]


def _fmt_value(name: str):
    if name == "levels":
        return lambda v: LEVEL_LABELS.get(v, v)
    return str


def _sync_url(spec: FilterSpec, by: str, origin: str, min_cell: int) -> None:
    wanted: dict[str, list[str]] = {k: (v if isinstance(v, list) else [v]) for k, v in spec.to_query().items()}
    if by != "level_of_care":
        wanted["by"] = [by]
    if origin != "discharge":
        wanted["origin"] = [origin]
    if min_cell != DEFAULT_MIN_CELL:
        wanted["min_cell"] = [str(min_cell)]
    current = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    if current != wanted:
        st.query_params.from_dict(wanted)


def _dataset_options(ds: Dataset):
    """Filter choices, date bounds and grouping columns of a dataset (and its default origin), computed once per
    dataset and session (on a million episodes they take about half a second)."""
    memo = st.session_state.get("_options")
    if memo is None or memo[0] != ds.key:
        memo = _SHARED_OPTIONS.get(ds.key) if ds.shared else None
        if memo is None:
            memo = (ds.key, filter_options(ds.cohort), _date_bounds(ds.cohort),
                    grouping_options(ds.cohort, ds.result.extra_columns), choose_origin(ds.cohort)[0])
            if ds.shared:  # the same for every session (the sample, a server-side source)
                _SHARED_OPTIONS[ds.key] = memo
        st.session_state["_options"] = memo
    return memo[1], memo[2], memo[3]


def _default_origin(ds: Dataset) -> str:
    """:func:`analysis.cohort.choose_origin` of the dataset, once per dataset (10M kept rows: 50 ms a run)."""
    _dataset_options(ds)
    return st.session_state["_options"][4]


_SHARED_OPTIONS: dict[str, tuple] = {}


_PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
_PAGE_STEMS = frozenset(p.stem for p in _PAGES_DIR.glob("*.py"))  # listed once at import, not on every run


def unknown_page() -> str | None:
    """A sentence when the browser asked for a page path the app does not have (Streamlit shows the Overview)."""
    try:  # the browser's own address: st.context.url trims page names as suffixes ("relapse" off "time_to_relapse")
        from streamlit.runtime.context import _context_info_field

        url = _context_info_field("url")
    except Exception:  # noqa: BLE001 - no browser context (tests, bare mode), or another Streamlit
        try:
            url = st.context.url
        except Exception:  # noqa: BLE001
            return None
    if not url:
        return None
    from urllib.parse import unquote, urlparse

    path = unquote(urlparse(url).path).strip("/")
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    if base and path.startswith(base):
        path = path[len(base):].strip("/")
    if not path or path in _PAGE_STEMS:
        return None
    shown = path if len(path) <= 40 and path.replace("_", "").replace("-", "").isalnum() else "that address"
    return f"There is no page '{shown}' here; this is the Overview. The pages are listed in the sidebar."


def render_sidebar(ds: Dataset, *, light: bool = False) -> Context:
    """Draw the sidebar for ``ds`` and return this run's :class:`Context` (filtered cohort included).

    ``light``: a page that shows no results (Data, Methods) does not build the view's publication; the sidebar
    then says how many episodes match only when the publication is already at hand (else it names the filters).
    """
    ss = st.session_state
    with st.sidebar:
        watch_viewport(preload=not ds.shared)  # charts for a phone when the window is narrow
        st.caption(f"Data: {md(ds.label)}" + (f" ({_count(ds.result.report.n_rows_accepted, DEFAULT_MIN_CELL)} "
                                              "episodes)" if ds.cohort is not None else ""))
        if ds.cohort is None:
            st.error("The loaded file cannot be analysed; see the Data page.")
            return Context(ds, FilterSpec(), "level_of_care", "discharge", DEFAULT_MIN_CELL, None)
        cohort = ds.cohort
        options, bounds, by_options = _dataset_options(ds)
        if ss.pop("_reset_filters", False):
            for key in _FILTER_KEYS:
                ss.pop(key, None)
        if not ss.get("_url_read"):
            qp = st.query_params
            problems = url_problems({k: qp.get_all(k) for k in qp.keys()}, options, bounds, by_options)
            if problems:
                ss["_url_note"] = "The link asked for " + "; ".join(problems) + ": left out, the rest applied."
            _from_url(ss, options, bounds, by_options)
            ss["_url_read"] = True
        _sanitize(ss, options, bounds, by_options, _dataset_by(ds))
        if ss["origin"] == "discharge" and _default_origin(ds) == "admission":
            ss["origin"] = "admission"  # the file records no discharge: the origin it supports (#8)

        st.header("Filters", divider="gray")
        if bounds:
            c1, c2 = st.columns(2)
            c1.date_input("Admitted from", min_value=bounds[0], max_value=bounds[1], key="f_from",
                          format="YYYY-MM-DD", help="Leave empty for no lower bound. Applied from the first day "
                                                    "of the month.")
            c2.date_input("Admitted to", min_value=bounds[0], max_value=bounds[1], key="f_to",
                          format="YYYY-MM-DD", help="Leave empty for no upper bound. Applied to the last day "
                                                    "of the month.")
        for name, (key, title) in MULTI_KEYS.items():
            if name in options and FILTER_COLUMNS[name] in cohort.columns:
                st.multiselect(title, options[name], key=key, format_func=_fmt_value(name),
                               placeholder="All")
        if "co_occurring" in cohort.columns:
            st.selectbox("Co-occurring disorder", list(_COOC), key="f_cooc")

        st.header("Analysis", divider="gray")
        st.selectbox("Group by", by_options, key="by", format_func=lambda c: BY_LABELS.get(c, c),
                     help="The groups compared on every page.")
        st.radio("Time origin", sorted(ORIGINS, reverse=True), key="origin", horizontal=True,
                 format_func=lambda o: f"From {o}",
                 help="Relapse clock starts at admission (intention to treat) or at discharge "
                      "(durability after treatment).")
        st.number_input("Small-cell threshold", min_value=DEFAULT_MIN_CELL, max_value=1000, step=1, key="min_cell",
                        help="Counts from 1 to this number minus one are shown as '<N' and curves stop "
                             "where fewer remain at risk. The minimum is 11 (CMS cell-size rule).")
    note = ss.pop("_url_note", None)
    if note:
        st.warning(md(note), icon=":material/link_off:")
    page_note = unknown_page()
    if page_note:
        st.warning(page_note, icon=":material/link_off:")
    spec_kwargs = {name: tuple(ss.get(key, [])) for name, (key, _) in MULTI_KEYS.items()}
    error = None
    try:
        start, end = ss.get("f_from"), ss.get("f_to")
        spec = FilterSpec(admission_from=month_start(start) if start else None,
                          admission_to=month_end(end) if end else None,
                          co_occurring=_COOC[ss.get("f_cooc", "All")], **spec_kwargs)
        filtered, n = _view_rows(ds, spec)
    except ValueError as err:
        spec, filtered, error = FilterSpec(), ds.cohort, f"The filters cannot be applied: {err}"
        n = len(filtered)
    by, origin, min_cell = ss["by"], ss["origin"], int(ss["min_cell"])
    _sync_url(spec, by, origin, min_cell)
    if error is None:
        error = _refusal(ds, spec, min_cell)
    ctx = Context(ds, spec, by, origin, min_cell, filtered, error, n_rows=n)
    with st.sidebar:
        if error is not None or n == 0:
            st.caption(f"This selection cannot be shown. {md(spec.describe())}.")
            return ctx
        if n < min_cell:
            st.caption(f"Fewer than {min_cell} episodes match. {md(spec.describe())}.")
            return ctx
    from ui.compute import (  # the view's total is a published count like any other
        publication,
        publication_ready,
    )

    if light and not publication_ready(ctx):
        with st.sidebar:
            st.caption(f"{md(spec.describe())}.")
        return Context(ds, spec, by, origin, min_cell, filtered, None, rows_shown=False, n_rows=n)  # total hidden
    try:
        total = publication(ctx).count("episodes")
    except ValueError as err:
        return Context(ds, spec, by, origin, min_cell, filtered, str(err), n_rows=n)
    ctx = Context(ds, spec, by, origin, min_cell, filtered, None, rows_shown=total.shown, n_rows=n)
    if min_cell == DEFAULT_MIN_CELL and by == "level_of_care":
        from ui.compute import prewarm_sample

        prewarm_sample(ctx, list(options.get("levels", [])))
    with st.sidebar:
        st.caption((f"{n:,} episodes match. " if total.shown else
                    "Episodes match (their number is hidden to protect a small count). ") + f"{md(spec.describe())}.")
    return ctx


def _count(n: int, min_cell: int) -> str:
    return f"fewer than {min_cell}" if 1 <= n < min_cell else f"{n:,}"


def _view_rows(ds: Dataset, spec: FilterSpec):
    """The view's rows and their number. A server-side source counts them in its engine (memoised per view) and
    hands the rows over lazily: its publications are queries, so only a page drawing from rows takes them."""
    if ds.engine is None:
        filtered = filtered_cohort(ds, spec)
        return filtered, len(filtered)
    memo_key = f"{ds.key}|{spec.key()}"
    memo = st.session_state.get("_engine_count")
    if memo is None or memo[0] != memo_key:
        from ui.compute import engine_lock

        with engine_lock(ds):
            memo = (memo_key, ds.engine.count(spec))
        st.session_state["_engine_count"] = memo
    return functools.partial(filtered_cohort, ds, spec), memo[1]


def _refusal(ds: Dataset, spec: FilterSpec, min_cell: int) -> str | None:
    """A sentence when a wider setting one step away adds 1 to ``min_cell - 1`` episodes (memoised per view)."""
    memo_key = f"{ds.key}|{spec.key()}|{min_cell}"
    memo = st.session_state.get("_refusal")
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    text = None
    if ds.engine is not None:  # a server-side source: one count query per wider setting
        from analysis.disclosure.neighbours import engine_wider_settings
        from ui.compute import engine_lock

        with engine_lock(ds):
            sizes = [(nb.label, nb.added.n_episodes) for nb in engine_wider_settings(ds.engine, spec)]
    else:
        sizes = [(nb.label, len(nb.added)) for nb in wider_settings(ds.cohort, spec)]
    for label, size in sizes:
        if 0 < size < min_cell:
            text = (f"This selection leaves out fewer than {min_cell} episodes compared with {label}, so "
                    "comparing the two would show counts about those few people. Choose a wider or a narrower "
                    "selection.")
            break
    st.session_state["_refusal"] = (memo_key, text)
    return text
