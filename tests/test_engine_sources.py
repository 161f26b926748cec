"""The engine cleans text cells as the pandas path does (trimmed, missing markers NULL) whichever way a column
is tested for needing it (on its distinct values, on its cells) and whichever reader read it."""
from __future__ import annotations

import csv as csv_module

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analysis.engine.backends import DuckDBBackend
from analysis.engine.sources import _PROBE, open_source
from analysis.io import _clean_text

DIRTY = [" a", "b ", "\tc", "d\u3000", "\u00a0e", "NA", " NA ", "\u00e9t\u00e9", "x\u0085", "n/a", "  ", "f\r",
         "g\u2028", "\u202fh", "i\x0b", "ok", "Caf\u00e9 \u2013 Nord", "#N/A", "None ", "\u3000", "!", "~", "\x1cj\x1f"]


def _frame() -> pd.DataFrame:
    n = _PROBE + 5_000
    ids = [f"E{k:07d}" for k in range(n)]  # many distinct values: tested on its cells
    ids[_PROBE + 100] = " E_padded\t"  # past the rows the distinct count is judged on
    ids[_PROBE + 200] = "NULL"
    few = [["op", "iop"][k % 2] for k in range(n)]  # few distinct values: tested on them
    for k, v in enumerate(DIRTY):
        few[_PROBE + 10 + k] = v
    markers_only = [["x", "y"][k % 2] for k in range(n)]
    markers_only[-1] = "nan"
    clean = [f"v{k % 7}" for k in range(n)]
    return pd.DataFrame({"episode_id": ids, "level_of_care": few, "site": markers_only, "payer": clean})


def _expected(frame: pd.DataFrame) -> dict[str, list]:
    return {c: _clean_text(pa.chunked_array([pa.array(frame[c].tolist(), type=pa.string())])).to_pylist()
            for c in frame.columns}


def _read(source, defer_clean: bool = False) -> dict[str, list]:
    from analysis.engine.sources import finish_cleaning

    backend = DuckDBBackend()
    try:
        info = open_source(backend, source, defer_clean=defer_clean)
        assert info.has_row_numbers
        if defer_clean:  # (cleaned in a thread: a Parquet file's view, a CSV path's table)
            assert finish_cleaning(backend)
        cursor = backend.con.execute("SELECT * FROM source_rows ORDER BY _row")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        return {c: [r[k] for r in rows] for k, c in enumerate(names) if c != "_row"}
    finally:
        backend.close()


def test_cleaning_equals_the_pandas_path_on_every_reader(tmp_path):
    frame = _frame()
    want = _expected(frame)
    assert want["level_of_care"][_PROBE + 10:_PROBE + 10 + len(DIRTY)][:7] == ["a", "b", "c", "d", "e", None, None]
    assert want["episode_id"][_PROBE + 100] == "E_padded" and want["episode_id"][_PROBE + 200] is None
    csv = tmp_path / "dirty.csv"
    frame.to_csv(csv, index=False, quoting=csv_module.QUOTE_ALL)
    parquet = tmp_path / "dirty.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet)
    # the CSV as written and read back by pandas' own reader (quoting kept the whitespace)
    back = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert back.equals(frame)
    for source in (csv, parquet, parquet.read_bytes()):
        got = _read(source)
        for col in frame.columns:
            assert got[col] == want[col], (source if not isinstance(source, bytes) else "bytes", col)
    for source in (csv, parquet):  # the cleaning decided in a thread while the caller reads a sample
        got = _read(source, defer_clean=True)
        for col in frame.columns:
            assert got[col] == want[col], (source, "deferred", col)


def test_clean_columns_are_passed_as_stored(tmp_path):
    frame = pd.DataFrame({"episode_id": ["E1", "E2"], "site": ["North", "South"]})
    path = tmp_path / "clean.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    backend = DuckDBBackend()
    try:
        open_source(backend, path)
        sql = backend.con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'source_rows'").fetchone()[0]
        assert "regexp_replace" not in sql and "CASE" not in sql
    finally:
        backend.close()
    assert pc.utf8_trim_whitespace(pa.array(["\u3000x\u0085"])).to_pylist() == ["x"]  # what WHITESPACE mimics
