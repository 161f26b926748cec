"""Continuum: outcomes of addiction treatment by level of care.

Run with ``streamlit run app.py``. This file is the frame: page config, the session's dataset
(the bundled sample by default), the shared sidebar and the navigation; each page under
``pages/`` reads the context and lays out what ``analysis`` computes.
"""
import os

import streamlit as st

from server.privacy import keep_uploads_in_memory, start_memory_release
from ui.data_source import warm_server_source
from ui.sidebar import render_sidebar
from ui.state import begin_run, current_dataset, end_run, set_context

# Uploads stay in memory (no temp-file spool), freed memory goes back to the OS, and one upload's parse
# may use at most this much memory (analysis.safety); run `streamlit run serve.py` for the headers too.
keep_uploads_in_memory()
start_memory_release()
os.environ.setdefault("CONTINUUM_PARSE_MEMORY_MB", "3072")

# An emoji favicon is drawn in the browser; a ":material/...:" one is fetched from fonts.gstatic.com.
st.set_page_config(page_title="Continuum: treatment outcomes", page_icon="\U0001F4C8", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    st.Page("pages/retention.py", title="Retention", icon=":material/event_available:"),
    st.Page("pages/relapse.py", title="Relapse", icon=":material/trending_up:"),
    st.Page("pages/time_to_relapse.py", title="Time to relapse", icon=":material/timeline:"),
    st.Page("pages/iop_vs_residential.py", title="IOP vs residential", icon=":material/compare_arrows:"),
    st.Page("pages/benchmarks.py", title="Benchmarks", icon=":material/flag:"),
    st.Page("pages/methods.py", title="Methods", icon=":material/menu_book:"),
]

warm_server_source()  # a --data source is opened and its whole cohort computed in the background, once
pg = st.navigation(PAGES)
begin_run()  # background work (ui.compute.prewarm_sample) waits while any session's run is under way
try:
    # Data and Methods show no results: they do not build the view's publication just for the sidebar's total
    set_context(render_sidebar(current_dataset(), light=pg.url_path in ("data", "methods")))
    pg.run()
finally:
    end_run()
