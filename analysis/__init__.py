"""Continuum's analysis package: loading, validation, cohort derivation, statistics, benchmarks
and figure builders for addiction-treatment outcomes. No Streamlit import anywhere in here.
"""
__version__ = "0.1.0"
