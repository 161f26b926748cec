"""Continuum behind its security headers: ``streamlit run serve.py`` (the way to run it for people).

Streamlit runs ``app.py`` exactly as ``streamlit run app.py`` would, inside an ASGI app (``st.App``)
that adds the response headers of :mod:`server.privacy` (Content-Security-Policy with
``frame-ancestors 'none'``, X-Frame-Options, no referrer), keeps uploads in memory from the first
request, and has the page fetch the first screen's JavaScript at once (:mod:`server.preload`).
It listens on localhost only (``.streamlit/config.toml``); see the README to expose it.
"""
import os

import streamlit as st
from starlette.middleware import Middleware

from server.preload import PreloadModules
from server.privacy import SecurityHeaders, keep_uploads_in_memory

keep_uploads_in_memory()
middleware = [Middleware(SecurityHeaders)]
# CONTINUUM_PRELOAD: 0 for the page as Streamlit serves it (to measure the gain), or element names (comma-separated)
preload = os.environ.get("CONTINUUM_PRELOAD", "1")
if preload != "0":
    middleware.append(Middleware(PreloadModules, elements=None if preload == "1" else tuple(preload.split(","))))
app = st.App("app.py", middleware=middleware)

if __name__ == "__main__":
    app.run()
