"""The engine: episode tables in DuckDB (every file) or PostgreSQL (a warehouse), aggregates out.

See :mod:`analysis.engine.backends` (where SQL runs, privacy settings, SQLGlot),
:mod:`analysis.engine.sources` (readers), :mod:`analysis.engine.cohort_sql` (cohort derivation as
SQL) and :mod:`analysis.engine.engine` (the :class:`Engine` and its collapse queries).
"""
