"""Input safety: refuse a file that would blow a reader up, before reading it, and bound what one parse may use.

* **Workbooks** (:func:`workbook_problem`, called by the .xlsx reader): a workbook is a zip of XML. It
  is refused when its members would decompress beyond :data:`MAX_XLSX_UNCOMPRESSED_BYTES` or at a
  ratio only a zip bomb has, or when the first sheet spans more than :data:`MAX_XLSX_CELLS` cells,
  judged from its declared ``<dimension>`` *and* from the cell references it actually holds (a
  1.5 KB workbook with one cell at XFD1048576 spans 17 billion cells: openpyxl then builds every
  empty row). Nothing is decompressed into memory beyond one 1 MB chunk at a time.
* **Parquet** (:func:`parquet_problem`): the footer says how many rows and columns there are, how
  large they are uncompressed and their types; nested columns (struct, list, map) are refused with a
  sentence naming them instead of being turned into text.
* **One parse at a time, within a memory budget** (:func:`read_upload`): before reading, the peak
  memory of the parse is estimated from the bytes and the cell count (64 MB plus, for CSV, 1.5 x bytes
  + 60 bytes a cell; Excel: 100 bytes a cell; Parquet: 2 x uncompressed + 60 bytes a cell; checked
  against the measured peak in ``benchmarks/bench_parse_memory.py``) and a file over the budget is refused with a sentence; parses
  are serialised by a lock, so N users uploading at once cost one parse's peak, not N.
  The budget is ``$CONTINUUM_PARSE_MEMORY_MB`` (the app sets 3072 when unset); unset means no budget
  (the command line, a notebook).

Every refusal is a :class:`analysis.io.DataFileError` with one sentence; nothing here writes to disk.
"""
from __future__ import annotations

import io
import os
import re
import threading
import zipfile
from pathlib import Path
from typing import BinaryIO

import pandas as pd

__all__ = ["MAX_XLSX_CELLS", "MAX_XLSX_UNCOMPRESSED_BYTES", "MAX_ZIP_RATIO", "MAX_PARQUET_CELLS",
           "MEMORY_BUDGET_ENV", "workbook_problem", "parquet_problem", "estimate_parse_bytes", "memory_budget",
           "read_upload"]

MAX_XLSX_CELLS = 10_000_000
"""Cells (rows x columns of the first sheet's span) above which a workbook is refused (about 80 s of openpyxl)."""
MAX_XLSX_UNCOMPRESSED_BYTES = 1 << 30
"""Total decompressed size of a workbook's members above which it is refused."""
MAX_ZIP_RATIO = 200
"""Compression ratio of a member larger than 16 MB above which the workbook is taken for a zip bomb."""
MAX_PARQUET_CELLS = 500_000_000
MEMORY_BUDGET_ENV = "CONTINUUM_PARSE_MEMORY_MB"

_CHUNK = 1 << 20
_WIDE3_REF = re.compile(rb'<c r="([A-Z]{3})[0-9]')
_WIDE_REF = re.compile(rb'<c r="([A-Z]{2})[0-9]')
_ROW_REF = re.compile(rb'<row r="([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]{1,3})?([0-9]{1,7})?:?([A-Z]{1,3})?([0-9]{1,7})?"')
_PARSE_LOCK = threading.Lock()


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _first_sheet(zf: zipfile.ZipFile) -> str | None:
    """Member name of the workbook's first sheet (pandas reads sheet 0)."""
    names = set(zf.namelist())
    try:
        workbook = zf.open("xl/workbook.xml").read(4 * _CHUNK)
        rels = zf.open("xl/_rels/workbook.xml.rels").read(4 * _CHUNK)
        rid = re.search(rb'<sheet\b[^>]*?\br:id="([^"]+)"', workbook) or re.search(rb'<sheet\b[^>]*?\bid="([^"]+)"',
                                                                                    workbook)
        if rid:
            target = re.search(rb'<Relationship\b[^>]*?Id="' + re.escape(rid.group(1)) + rb'"[^>]*?Target="([^"]+)"',
                               rels) or re.search(rb'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="'
                                                  + re.escape(rid.group(1)) + rb'"', rels)
            if target:
                path = target.group(1).decode("utf-8", "replace").lstrip("/")
                path = path if path.startswith("xl/") else f"xl/{path}"
                if path in names:
                    return path
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError):
        pass
    sheets = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    return sheets[0] if sheets else None


def _max_column(block: bytes) -> int:
    """The largest column referenced by a ``<c r="...">`` cell in a block of sheet XML (0 if none)."""
    wide = _WIDE3_REF.findall(block) or _WIDE_REF.findall(block)
    if wide:
        return max(_column_number(w) for w in set(wide))
    for letter in range(ord("Z"), ord("A") - 1, -1):
        key = b'<c r="' + bytes([letter])
        at = block.find(key)
        while at != -1:
            if block[at + 7:at + 8].isdigit():
                return letter - 64
            at = block.find(key, at + 1)
    return 0


def _sheet_span(zf: zipfile.ZipFile, member: str) -> tuple[int, int, int, int]:
    """(declared rows, declared columns, rows spanned, columns spanned) of a sheet, streamed in 1 MB chunks."""
    declared_rows = declared_cols = max_row = max_col = counted_rows = 0
    tail = b""
    with zf.open(member) as fh:
        first = True
        while chunk := fh.read(_CHUNK):
            block = tail + chunk
            if first:
                dim = _DIMENSION.search(block[:65536])
                if dim:
                    declared_cols = _column_number(dim.group(3) or dim.group(1) or b"A")
                    declared_rows = int(dim.group(4) or dim.group(2) or 1)
                first = False
            rows = _ROW_REF.findall(block)
            if rows:
                max_row = max(max_row, max(map(int, rows)))
            counted_rows += chunk.count(b"<row ") + chunk.count(b"<row>")
            max_col = max(max_col, _max_column(block))
            tail = block[-64:]
    return declared_rows, declared_cols, max(max_row, counted_rows), max_col


def workbook_problem(data: bytes, label: str = "The file", *, max_cells: int = MAX_XLSX_CELLS,
                     max_uncompressed: int = MAX_XLSX_UNCOMPRESSED_BYTES) -> str | None:
    """A sentence saying why an .xlsx workbook must not be read, or None when it is safe to read.

    Looks at the zip directory (declared sizes, which also bound what Python's zipfile will
    decompress) and streams the first sheet in 1 MB chunks for its span; never reads it whole.
    A workbook that is not a readable zip returns None: the reader then says it cannot open it.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None
    if len(members) > 10_000:
        return f"{label} is not a workbook Continuum can read safely: its zip holds {len(members):,} parts."
    total = sum(m.file_size for m in members)
    if total > max_uncompressed:
        return (f"{label} would decompress to {total / 1024**2:,.0f} MB (the limit is "
                f"{max_uncompressed / 1024**2:,.0f} MB); save it as CSV or Parquet and upload that instead.")
    for m in members:
        if m.file_size > 16 * _CHUNK and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            return (f"{label} looks like a zip bomb: '{m.filename}' expands {m.file_size / max(m.compress_size, 1):,.0f}"
                    " times; it was not opened.")
    sheet = _first_sheet(zf)
    if sheet is None:
        return None
    try:
        declared_rows, declared_cols, rows, cols = _sheet_span(zf, sheet)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
        return None  # corrupt or encrypted: the reader says so
    span_rows, span_cols = max(declared_rows, rows), max(declared_cols, cols)
    if span_rows * span_cols > max_cells:
        return (f"{label} spans {span_rows:,} rows x {span_cols:,} columns of its first sheet "
                f"({span_rows * span_cols:,} cells; the limit is {max_cells:,}). If the data is smaller, a stray "
                "cell far down or to the right extends the sheet: delete the empty rows and columns, or save the "
                "sheet as CSV or Parquet.")
    return None


def parquet_problem(data: bytes, label: str = "The file", *, max_cells: int = MAX_PARQUET_CELLS) -> str | None:
    """A sentence saying why a Parquet file must not be read (nested columns, too many cells), or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception:  # unreadable footer: the reader says so
        return None
    nested = [f"'{f.name}' ({f.type})" for f in schema if pa.types.is_nested(f.type)
              or (pa.types.is_dictionary(f.type) and pa.types.is_nested(f.type.value_type))]
    if nested:
        return (f"{label} has nested values (lists, structs or maps) in column(s) {', '.join(nested[:5])}: "
                "Continuum reads one plain value per cell. Save those columns as plain text or numbers.")
    cells = meta.num_rows * meta.num_columns
    if cells > max_cells:
        return f"{label} holds {cells:,} cells (the limit is {max_cells:,}); select the columns you need."
    return None


def _parquet_uncompressed(data: bytes) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    except Exception:
        return len(data), 0
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return size, meta.num_rows * meta.num_columns


_FIXED = 64 * 1024**2  # a parse's own overhead (Arrow's pool, pandas' blocks), measured at 20,000 rows


def estimate_parse_bytes(data: bytes, fmt: str) -> int:
    """An upper estimate of the memory a parse of ``data`` takes at its peak, in bytes.

    Calibrated in ``benchmarks/bench_parse_memory.py`` against the measured peak (VmHWM) of
    :func:`analysis.io.read_table` on the synthetic cohort at 20,000 to 1,000,000 rows.
    """
    return _FIXED + _variable_bytes(data, fmt)


def _variable_bytes(data: bytes, fmt: str) -> int:
    if fmt == "parquet":
        size, cells = _parquet_uncompressed(data)
        return 2 * size + 60 * cells
    if fmt == "xlsx":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            sheet = _first_sheet(zf)
            if sheet:
                rows, cols, r, c = _sheet_span(zf, sheet)
                return 100 * max(rows, r) * max(cols, c) + sum(m.file_size for m in zf.infolist())
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
            pass
        return 20 * len(data)
    lines = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n") + 1
    header = data[: data.find(b"\n") if b"\n" in data[:1_000_000] else 1_000_000]
    fields = 1 + max(header.count(sep) for sep in (b",", b";", b"\t", b"|"))
    return int(1.5 * len(data)) + 60 * lines * fields


def memory_budget() -> int | None:
    """The parse memory budget in bytes from ``$CONTINUUM_PARSE_MEMORY_MB``, or None (no budget)."""
    text = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    try:
        return int(float(text) * 1024**2) if text else None
    except ValueError:
        return None


def read_upload(source: bytes | str | Path | BinaryIO, *, name: str | None = None, max_bytes: int | None = None,
                budget: int | None = None) -> pd.DataFrame:
    """:func:`analysis.io.read_table` behind the guards: Parquet checks, the memory budget, one parse at a time.

    ``budget`` (bytes) defaults to :func:`memory_budget`. Raises :class:`analysis.io.DataFileError`.
    """
    from analysis.io import MAX_BYTES, DataFileError, detect_format, read_bytes, read_table

    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    if name is None and isinstance(source, (str, Path)):
        name = Path(source).name
    label = f"'{name}'" if name else "The file"
    data = read_bytes(source, max_bytes=max_bytes)
    fmt = detect_format(data)
    # the specific sentence first (a stray far cell, a zip bomb, nested columns), then the budget
    problem = {"parquet": parquet_problem, "xlsx": workbook_problem}.get(fmt, lambda *_: None)(data, label)
    if problem:
        raise DataFileError(problem)
    budget = memory_budget() if budget is None else budget
    if budget:
        need = estimate_parse_bytes(data, fmt)
        if need > budget:
            raise DataFileError(f"{label} would need about {need / 1024**2:,.0f} MB to read (this server allows "
                                f"{budget / 1024**2:,.0f} MB for one file); save it as Parquet with only the "
                                "columns you need, or split it.")
    with _PARSE_LOCK:
        return read_table(data, name=name, max_bytes=max_bytes)
