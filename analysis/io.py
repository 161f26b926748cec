"""Readers: CSV, Excel (.xlsx) and Parquet, from bytes or a path, into a raw DataFrame.

The reader trusts the *content*, not the file name: the format is recognised by its first bytes
(``PK`` zip container for .xlsx, ``PAR1`` for Parquet, ``D0 CF 11 E0`` for the old binary .xls,
otherwise text). A file whose content does not match its extension is read by its content when
that is one we understand, and rejected with a sentence naming the problem otherwise.

Parquet and Excel columns keep the types they were stored with (numbers, dates, booleans); text
cells are trimmed and empty, blank or missing-marker cells are missing in every reader, as in CSV.
A pandas index stored in a Parquet file (e.g. ``episode_id``) comes back as a column.

CSV specifics: encoding UTF-8 (with or without BOM), else Windows-1252, else Latin-1; delimiter
detected among ``, ; TAB |``; quoted fields may contain newlines. Every CSV column is read as text
(validation parses it and reports what it could not parse). Empty cells and the usual missing
markers (``NA``, ``N/A``, ``NULL``, ``NaN``, ``None``) become missing values.

Uploaded bytes are only ever held in memory; nothing here writes to disk.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["DataFileError", "MAX_BYTES", "MISSING_MARKERS", "read_table", "read_bytes", "detect_format",
           "content_hash", "clean_blanks"]

MAX_BYTES: int = 200 * 1024 * 1024
MISSING_MARKERS: tuple[str, ...] = ("", "NA", "N/A", "n/a", "na", "NULL", "null", "NaN", "nan", "None", "#N/A")
_DELIMITERS = (",", ";", "\t", "|")


class DataFileError(ValueError):
    """The file cannot be read as an episode table; the message is one sentence for a person."""


def content_hash(data: bytes) -> str:
    """First 12 hex digits of the SHA-256 of the file's bytes (provenance, cache keys)."""
    return hashlib.sha256(data).hexdigest()[:12]


def read_bytes(source: bytes | bytearray | str | Path | BinaryIO, *, max_bytes: int = MAX_BYTES) -> bytes:
    """Return the bytes of ``source`` (bytes, a path or a binary file object), enforcing the size limit."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise DataFileError(f"There is no file at {path}.")
        if path.is_dir():
            raise DataFileError(f"{path} is a folder, not a data file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise DataFileError(_too_big(size, max_bytes))
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise DataFileError(f"Cannot read data from a {type(source).__name__}.")
    if len(data) > max_bytes:
        raise DataFileError(_too_big(len(data), max_bytes))
    return data


def _too_big(size: int, max_bytes: int) -> str:
    return (f"The file is {size / 1024**2:,.0f} MB; the limit is {max_bytes / 1024**2:,.0f} MB. "
            "Save it as Parquet, which is several times smaller, or split it.")


def detect_format(data: bytes) -> str:
    """Recognise the format from the content: ``"xlsx"``, ``"parquet"``, ``"xls"`` or ``"csv"``.

    Raises :class:`DataFileError` for empty or binary content that is none of these.
    """
    if not data or not data.strip():
        raise DataFileError("The file is empty.")
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFileError("The file is UTF-16 text; save it as UTF-8 CSV and upload it again.")
    if b"\x00" in head:
        raise DataFileError("The file is not a CSV, Excel (.xlsx) or Parquet file: it holds binary data.")
    return "csv"


_EXPECTED = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
             ".parquet": "parquet", ".pq": "parquet", ".xls": "xls"}


def read_table(source: bytes | str | Path | BinaryIO, *, name: str | None = None,
               max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Read a CSV, Excel or Parquet episode file into a DataFrame.

    Parameters
    ----------
    source : bytes, path or binary file object
        The file. Bytes stay in memory.
    name : str, optional
        The file's name, used only to check that the content matches the extension and in messages.
    max_bytes : int
        Size limit; larger files are rejected with a message.

    Returns
    -------
    pandas.DataFrame
        CSV: every column as text (``object``) with missing values as ``None``/NaN. Excel and
        Parquet: the stored types (numbers, dates, booleans), text trimmed, blanks missing.
        ``attrs["format"]`` names the format that was read.

    Raises
    ------
    DataFileError
        For anything that is not a readable table, with a sentence naming the problem.
    """
    if name is None and isinstance(source, (str, Path)):
        name = Path(source).name
    data = read_bytes(source, max_bytes=max_bytes)
    fmt = detect_format(data)
    suffix = Path(name).suffix.lower() if name else ""
    expected = _EXPECTED.get(suffix)
    label = f"'{name}'" if name else "The file"
    if fmt == "xls":
        raise DataFileError(f"{label} is an old Excel 97-2003 (.xls) workbook; "
                            "save it as .xlsx or CSV and upload it again.")
    if expected == "xlsx" and fmt == "csv":
        raise DataFileError(f"{label} is named like an Excel workbook but is not one (it holds plain text); "
                            "rename it to .csv or export it again from Excel.")
    if expected == "parquet" and fmt != "parquet":
        raise DataFileError(f"{label} is named like a Parquet file but is not one.")
    if fmt == "parquet":
        frame = _read_parquet(data, label)
    elif fmt == "xlsx":
        frame = _read_xlsx(data, label)
    else:
        frame = _read_csv(data, label)
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_columns(frame, label)
    frame.attrs["format"] = fmt
    return frame


def _check_columns(frame: pd.DataFrame, label: str) -> None:
    if frame.shape[1] == 0:
        raise DataFileError(f"{label} has no columns.")
    blank = [i + 1 for i, c in enumerate(frame.columns) if c == "" or c.lower().startswith("unnamed:")]
    if len(blank) == frame.shape[1]:
        raise DataFileError(f"{label} has no header row with column names.")
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise DataFileError(f"{label} has more than one column named {', '.join(repr(d) for d in dupes)}; "
                            "column names must be unique.")


def _decode(data: bytes) -> tuple[str, str]:
    """Decode text: UTF-8 (BOM stripped), else Windows-1252, else Latin-1 (which never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        pass
    header = sample.splitlines()[0] if sample else ""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text[:1_000_000]), delimiter=delimiter)
    try:
        return next(reader)
    except StopIteration:
        return []


def _read_csv(data: bytes, label: str) -> pd.DataFrame:
    text, encoding = _decode(data)
    delimiter = _sniff_delimiter(text)
    header = _header(text, delimiter)
    if not header:
        raise DataFileError(f"{label} is empty.")
    names = [h.strip() for h in header]
    _check_columns(pd.DataFrame(columns=names), label)
    utf8 = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if encoding != "utf-8-sig":
        utf8 = text.encode("utf-8")
    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              invalid_row_handler=None),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, null_values=list(MISSING_MARKERS),
                strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        detail = str(exc).split("\n")[0]
        raise DataFileError(f"{label} could not be read as a table ({detail}). "
                            "Check that every row has the same number of fields as the header.") from None
    table = pa.table({name: _clean_text(table.column(name)) for name in table.column_names})
    frame = table.to_pandas()
    frame.attrs["text_clean"] = True
    frame.attrs["encoding"] = "utf-8" if encoding == "utf-8-sig" else encoding
    frame.attrs["delimiter"] = delimiter
    return frame


def _clean_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trim whitespace and turn missing markers into nulls, in Arrow (fast on millions of cells)."""
    trimmed = pc.utf8_trim_whitespace(column)
    markers = pa.array(list(MISSING_MARKERS), type=pa.string())
    return pc.if_else(pc.is_in(trimmed, value_set=markers), pa.scalar(None, pa.string()), trimmed)


def clean_blanks(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells trimmed; empty, blank and missing-marker cells (:data:`MISSING_MARKERS`) made missing.

    Applied to every object column of a table read from Excel or handed over as a DataFrame, so that
    every reader treats ``""`` and ``"  "`` as missing exactly as the CSV reader does.
    """
    out = frame
    for col in frame.columns:
        values = frame[col]
        if values.dtype != object:
            continue
        is_text = values.map(lambda v: isinstance(v, str))
        if not is_text.any():
            continue
        stripped = values.where(~is_text, values[is_text].str.strip())
        stripped = stripped.where(~(is_text & stripped.isin(MISSING_MARKERS)), None)
        if out is frame:
            out = frame.copy()
        out[col] = stripped
    return out


def _read_xlsx(data: bytes, label: str) -> pd.DataFrame:
    """First sheet with the types Excel stored (numbers, dates), text cells cleaned as CSV cells are."""
    from analysis.safety import workbook_problem  # zip bombs and sheets spanning billions of cells (h12a)

    if problem := workbook_problem(data, label):
        raise DataFileError(problem)
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, engine=_EXCEL_ENGINE)
    except Exception as exc:  # zip but not a workbook, corrupt, encrypted
        raise DataFileError(f"{label} could not be opened as an Excel workbook ({type(exc).__name__}).") from None
    frame.columns = ["" if str(c).startswith("Unnamed:") else str(c) for c in frame.columns]
    frame = clean_blanks(frame).dropna(how="all")
    return frame.reset_index(drop=True)


def _excel_engine() -> str:
    try:
        import python_calamine  # noqa: F401  (a Rust reader, many times faster than openpyxl)
        return "calamine"
    except ImportError:
        return "openpyxl"


_EXCEL_ENGINE = _excel_engine()


def _read_parquet(data: bytes, label: str) -> pd.DataFrame:
    """The stored types as they are; text cleaned in Arrow; a stored pandas index kept as a column."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:
        raise DataFileError(f"{label} could not be read as Parquet ({type(exc).__name__}).") from None
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        columns[name] = _clean_text(column) if pa.types.is_string(column.type) else column
    clean = pa.table(columns).replace_schema_metadata(table.schema.metadata)
    try:
        frame = clean.to_pandas(date_as_object=False)
    except Exception as exc:
        raise DataFileError(f"{label} holds values that cannot be read ({type(exc).__name__}).") from None
    if not isinstance(frame.index, pd.RangeIndex):  # e.g. episode_id stored as the pandas index
        names = [n if n is not None else "index" for n in frame.index.names]
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
    frame.attrs["text_clean"] = all(frame[c].dtype != object or
                                    pd.api.types.infer_dtype(frame[c], skipna=True) in ("string", "empty")
                                    for c in frame.columns)
    return frame
