"""Streamlit glue for Continuum: session state, the shared sidebar, cached calls into ``analysis``
and the widgets every page uses (tables with CSV download, charts with provenance).

Only this package, ``app.py`` and ``pages/`` import Streamlit; no statistics live here.
"""
