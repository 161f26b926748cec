"""The web layer around the Streamlit app: uploads kept in memory, security headers, memory returned.

``serve.py`` (``streamlit run serve.py``) wires these into the server before it starts; ``app.py``
applies :func:`privacy.keep_uploads_in_memory` too, so ``streamlit run app.py`` never spools an
upload to disk either (it lacks only the response headers, which must be set before the first request).
"""
