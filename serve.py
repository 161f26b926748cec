"""Continuum behind its security headers: ``streamlit run serve.py`` (the way to run it for people).

Streamlit runs ``app.py`` exactly as ``streamlit run app.py`` would, inside an ASGI app (``st.App``)
that adds the response headers of :mod:`server.privacy` (Content-Security-Policy with
``frame-ancestors 'none'``, X-Frame-Options, no referrer) and keeps uploads in memory from the first
request. It listens on localhost only (``.streamlit/config.toml``); see the README to expose it.
"""
import streamlit as st
from starlette.middleware import Middleware

from server.privacy import SecurityHeaders, keep_uploads_in_memory
from ui.compute import warm_sample
from ui.data_source import warm_server_source

keep_uploads_in_memory()
warm_server_source()  # a --data source: opened and its whole cohort computed before the first session asks
warm_sample()  # else the bundled sample: its default view and single levels, before the first session asks
app = st.App("app.py", middleware=[Middleware(SecurityHeaders)])

if __name__ == "__main__":
    app.run()
