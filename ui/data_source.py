"""Server-side data sources: a large file or a database table opened through the engine, not uploaded.

Two ways in, besides the bundled sample and a browser upload (capped at 200 MB):

* **On the server's command line**: ``streamlit run serve.py -- --data PATH_OR_URL [--table T]
  [--mapping JSON]`` (or ``app.py``; or the environment variables ``CONTINUUM_DATA`` /
  ``CONTINUUM_TABLE`` / ``CONTINUUM_MAPPING``). PATH_OR_URL is anything the command line takes: a CSV,
  Parquet or Excel file, a folder or glob of Parquet files, a ``.duckdb`` file, a ``postgresql://``
  URL. That source becomes the app's default dataset for every session.
* **A "Database" source** configured in ``.streamlit/secrets.toml`` (see
  ``.streamlit/secrets.toml.example``) and opened with ``st.connection(name, type=EngineConnection)``:
  ``[connections.warehouse]`` with ``url`` (or ``host``/``port``/``database``/``username``/``password``)
  and ``table``. Without a secrets file the app simply offers no database.

Either way the source is read, checked and derived in the engine (DuckDB in memory, or inside
PostgreSQL), with a progress bar (rows read, rules checked), once per process, shared read-only like the
sample. The engine stays open: every publication (the view and its wider settings after a filter change)
is aggregate queries in it (:mod:`ui.compute`), shared by every session. The derived cohort of the
columns the pages read (:data:`PAGE_COLUMNS`) is kept as well, for the sidebar's choices and the few rows a
page reads itself (a report's cohort); docs/engine.md has the measurements.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.connections import BaseConnection

from analysis.engine.load import EngineLoad, open_engine
from analysis.engine.progress import ProgressEvent
from analysis.mapping import spec_from_json, spec_to_json

__all__ = ["ServerSource", "server_source", "database_sources", "source_labels", "EngineConnection",
           "load_source", "default_dataset", "PAGE_COLUMNS", "render_source", "warm_server_source"]

#: Cohort columns kept as rows in the app (the sidebar's choices and filters, the grouping candidates, the few
#: figures drawn from rows: length of stay and hours per week); every publication is queries in the engine, and
#: ids, outcome dates and times stay there (10M episodes: 10.7 GB peak with every column the pages once read).
PAGE_COLUMNS: tuple[str, ...] = (
    "level_of_care", "admission_date", "discharge_date", "in_treatment", "los_days", "hours_attended",
    "hours_scheduled", "admission_year", "admission_quarter", "age", "age_band", "sex", "race_ethnicity",
    "primary_substance", "co_occurring", "prior_treatments", "payer", "site")

SERVER_LABEL = "Server data"
DATABASE_LABEL = "Database"


@dataclass(frozen=True)
class ServerSource:
    """A source the server opens: ``location`` (path or URL), ``table``, a saved mapping, a label."""

    location: str
    table: str | None = None
    mapping_json: str | None = None
    label: str = ""

    @property
    def key(self) -> str:
        stamp = ""
        path = Path(self.location)
        if path.exists():
            stamp = str(path.stat().st_mtime)
        return f"{self.location}|{self.table}|{self.mapping_json}|{stamp}"


def _argv_options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default=None)
    parser.add_argument("--table", default=None)
    parser.add_argument("--mapping", default=None)
    known, _ = parser.parse_known_args(argv)
    return known


def server_source(argv: list[str] | None = None) -> ServerSource | None:
    """The source named on the command line after ``--`` (or by ``CONTINUUM_DATA``), or None."""
    opts = _argv_options(list(sys.argv[1:] if argv is None else argv))
    location = opts.data or os.environ.get("CONTINUUM_DATA")
    if not location:
        return None
    table = opts.table or os.environ.get("CONTINUUM_TABLE")
    mapping = opts.mapping or os.environ.get("CONTINUUM_MAPPING")
    mapping_json = Path(mapping).read_text(encoding="utf-8") if mapping else None
    return ServerSource(location, table, mapping_json, _display(location, table))


def _display(location: str, table: str | None) -> str:
    from analysis.engine.load import _redacted
    from analysis.engine.sources import is_database_url

    if is_database_url(location):
        return f"{table or 'table'} in {_redacted(location)}"
    return Path(location).name + (f":{table}" if table else "")


class EngineConnection(BaseConnection[ServerSource]):
    """``st.connection(name, type=EngineConnection)``: a table the engine analyses where it lives.

    Secrets (``[connections.<name>]``): ``url`` (``postgresql://...``, or a path to a ``.duckdb`` or
    Parquet file on the server), or ``dialect = "postgresql"`` with ``host``, ``port``, ``database``,
    ``username``, ``password``; and ``table``. Nothing is read until a session asks for the data.
    """

    def _connect(self, **kwargs) -> ServerSource:
        try:
            secrets = dict(st.secrets["connections"][self._connection_name])
        except Exception:  # no secrets file, or no such section
            secrets = {}
        conf = {**secrets, **kwargs}
        url = conf.get("url")
        if not url:
            from urllib.parse import quote

            user = conf.get("username") or conf.get("user") or ""
            password = conf.get("password")
            auth = quote(str(user)) + (f":{quote(str(password))}" if password else "") + ("@" if user else "")
            port = f":{conf['port']}" if conf.get("port") else ""
            url = f"postgresql://{auth}{conf.get('host', 'localhost')}{port}/{conf.get('database', '')}"
        return ServerSource(str(url), conf.get("table"), conf.get("mapping_json"),
                            conf.get("label") or _display(str(url), conf.get("table")))

    @property
    def source(self) -> ServerSource:
        return self._instance


def database_sources() -> dict[str, str]:
    """``{label: connection name}`` of the databases in ``.streamlit/secrets.toml`` (empty without one)."""
    try:
        conns = st.secrets.get("connections", {})
        names = list(conns.keys())
    except Exception:  # no secrets file (FileNotFoundError / StreamlitSecretNotFoundError): no database
        return {}
    out = {}
    for name in names:
        conf = conns[name]
        label = conf.get("label") if hasattr(conf, "get") else None
        out[f"{DATABASE_LABEL}: {label or name}"] = name
    return out


def source_labels() -> list[str]:
    """The extra choices of the Data page's dataset selector (none on a plain start)."""
    labels = [SERVER_LABEL] if server_source() is not None else []
    return labels + list(database_sources())


# ------------------------------------------------------------------------------------------ loading
_LOCK = threading.Lock()
_LOADED: dict[str, object] = {}  # source key -> Dataset (once per process, like the sample)


def _dataset(result: EngineLoad, label: str):
    from ui.state import Dataset

    cohort = None
    if result.ok:
        cols = [c for c in result.engine.columns if c in PAGE_COLUMNS or c not in _DERIVED_OR_CANONICAL]
        if result.by:
            by = result.resolve_column(result.by)
            cols = list(dict.fromkeys([*cols, by]))
        cohort = _page_rows(result.engine, [c for c in result.engine.columns if c in set(cols)])
    mapping_json = spec_to_json(result.spec()) if result.mapping else "{}"
    key = f"server|{label}|{result.content_hash}|{mapping_json}"
    if not result.ok:
        result.close()
        return Dataset(key, label, False, result, None, mapping_json)
    # the engine stays open: every publication (each filter change) is aggregate queries in it (ui.compute);
    # the cohort of the pages' columns is kept for the sidebar's choices and the rows a page reads itself
    return Dataset(key, label, False, result, cohort, mapping_json, engine=result.engine)


def _page_rows(engine, columns: list[str]):
    """The cohort's ``columns`` as rows, text columns fetched one at a time and held as categories (each text
    column of 10M episodes is 10M Python strings for a moment: all at once they took the peak from 1.5 to 6.2 GB)."""
    types = engine.sql_types()
    text = [c for c in columns if str(types.get(c, "")).startswith("VARCHAR")]
    frame = engine.frame([c for c in columns if c not in text])
    for col in text:
        frame[col] = _as_categories(engine.frame([col]))[col].array
    return frame[columns]


def _as_categories(frame, max_values: int = 1000):
    """Text columns of few values as pandas categories in sorted order (the order the pandas path's filters and
    groups sort them in, so every choice and group reads the same); 10M episodes: 8 bytes a row less per column."""
    import pandas as pd

    for col in frame.columns:
        s = frame[col]
        if s.dtype == object:
            values = pd.unique(s.dropna())
            if len(values) <= max_values:
                frame[col] = pd.Categorical(s, categories=sorted(values.tolist(), key=str))
    return frame


def _canonical_names() -> set[str]:
    from analysis.engine.cohort_sql import DERIVED_COLUMNS
    from analysis.schema import FIELDS

    return {f.name for f in FIELDS} | set(DERIVED_COLUMNS)


_DERIVED_OR_CANONICAL = _canonical_names()


def load_source(source: ServerSource, progress=None):
    """The :class:`ui.state.Dataset` of a server-side source (opened once per process; ``progress``: a
    callable taking (fraction 0-1, text) while it is read and checked)."""
    with _LOCK:
        if source.key in _LOADED:
            return _LOADED[source.key]

        def hook(event: ProgressEvent) -> None:
            if progress is None:
                return
            frac = event.fraction
            stage = {"read": 0.0, "validate": 0.5}.get(event.stage, 0.9)
            share = 0.5 if event.stage in ("read", "validate") else 0.1
            progress(min(stage + share * (frac if frac is not None else 0.5), 1.0),
                     f"{event.message} {event.done:,.0f}{'%' if event.unit == 'percent' else ' ' + event.unit}")

        kwargs = {}
        if source.mapping_json:
            spec = spec_from_json(source.mapping_json)
            kwargs = dict(mapping=spec.columns, by=spec.by, column_types=spec.types or None,
                          time_unit=spec.time_unit, event_value=spec.event_value, date_order=spec.date_order)
        result = open_engine(source.location, table=source.table, progress=hook, **kwargs)
        if progress is not None:
            progress(0.95, "Handing the cohort to the pages ...")
        ds = _dataset(result, source.label or source.location)
        if result.ok:  # a rejected source is tried again next time (the file may have been fixed)
            _LOADED[source.key] = ds
        return ds


_WARM = {"started": False}


def warm_server_source() -> None:
    """Once per process, in the background: open the ``--data`` source and compute its whole cohort's results
    (:func:`ui.compute.warm_engine`), so the first session finds them ready instead of waiting for them (10M
    episodes: about a minute). Called when the server starts (``serve.py``) and on the first run of ``app.py``;
    ``CONTINUUM_PREWARM=0`` turns it off."""
    source = server_source()
    if source is None or _WARM["started"] or os.environ.get("CONTINUUM_PREWARM", "1") == "0":
        return
    _WARM["started"] = True
    import logging

    def run() -> None:
        try:
            ds = load_source(source)
            from ui.compute import stopping

            if ds.engine is not None and not stopping():
                from ui.compute import warm_engine

                warm_engine(ds)
        except Exception:  # noqa: BLE001 - a source that fails is opened (and its error said) when a session asks
            logging.getLogger("continuum.app").debug("warming %s", source.label, exc_info=True)

    from ui.compute import background

    background(run, "continuum-open-source")


def _with_progress(source: ServerSource):
    bar = st.progress(0.0, text=f"Opening {source.label} ...")
    try:
        return load_source(source, lambda f, text: bar.progress(f, text=text))
    finally:
        bar.empty()


def default_dataset():
    """The dataset named on the server's command line (``--data``), or None: every session starts on it."""
    source = server_source()
    if source is None:
        return None
    return _with_progress(source)


def render_source(choice: str):
    """The Data page's section for a server-side choice; returns the Dataset it opened (or None)."""
    if choice == SERVER_LABEL:
        source = server_source()
        st.caption(f"Opened on the server: **{source.label}** (read and checked by the engine, never uploaded).")
        return _with_progress(source)
    name = database_sources().get(choice)
    if name is None:
        return None
    try:
        source = st.connection(name, type=EngineConnection).source
    except Exception as exc:  # a broken secrets entry: a sentence, not a traceback
        st.error(f"The database connection '{name}' is not configured correctly ({type(exc).__name__}).")
        return None
    st.caption(f"Analysed inside the database: **{source.label}**; only the derived cohort's columns the pages "
               "read come back.")
    return _with_progress(source)
