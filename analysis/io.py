"""Readers: CSV, Excel (.xlsx) and Parquet, from bytes or a path, into a raw DataFrame.

The reader trusts the *content*, not the file name: the format is recognised by its first bytes
(``PK`` zip container for .xlsx, ``PAR1`` for Parquet, ``D0 CF 11 E0`` for the old binary .xls,
otherwise text). A file whose content does not match its extension is read by its content when
that is one we understand, and rejected with a sentence naming the problem otherwise.

Parquet and Excel columns keep the types they were stored with (numbers, dates, booleans); text
cells are trimmed and empty, blank or missing-marker cells are missing in every reader, as in CSV.
A pandas index stored in a Parquet file (e.g. ``episode_id``) comes back as a column.

CSV specifics: encoding UTF-8 (with or without BOM), else Windows-1252, else Latin-1; delimiter
detected among ``, ; TAB |``, or given by Excel's ``sep=;`` first line; line ends LF, CRLF or CR;
quoted fields may contain newlines (in the header too, and header cells of any length). Every CSV
column is read as text (validation parses it and reports what it could not parse). Empty cells and
the usual missing markers (``NA``, ``N/A``, ``NULL``, ``NaN``, ``None``) become missing values.

What is not a data row is skipped and said (``attrs["read_notes"]``), never a reason to refuse the
file: blank lines, ``#`` comment lines and a one-cell title row above the header; empty rows
(blank, whitespace or only delimiters) and ``#`` comment lines between the rows. Rows keep the
numbers a spreadsheet shows for them (the header is row 1 unless lines stood above it; Excel hides
the ``sep=`` line): ``attrs["row_numbers"]`` (:class:`RowNumbers`) when they are not simply
position + 2, read with :func:`spreadsheet_rows`. Empty rows of a workbook are skipped the same way.
A row with another number of fields than the header refuses the file, naming that row.

Uploaded bytes are only ever held in memory; nothing here writes to disk.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["DataFileError", "MAX_BYTES", "MISSING_MARKERS", "read_table", "read_bytes", "detect_format",
           "content_hash", "clean_blanks", "RowNumbers", "spreadsheet_rows"]

MAX_BYTES: int = 200 * 1024 * 1024
MISSING_MARKERS: tuple[str, ...] = ("", "NA", "N/A", "n/a", "na", "NULL", "null", "NaN", "nan", "None", "#N/A",
                                    "-", "--", ".", "missing", "Missing", "MISSING")
"""Cells read as missing: the spreadsheets' and statistics packages' ways of writing it (SAS and Stata write
``.``, exports ``-``); a file that wrote "-" for a missing date had every such row excluded as unparseable."""
_DELIMITERS = (",", ";", "\t", "|")
_LINE_END = re.compile(r"[\r\n]")
_SEP_LINE = re.compile(r'^\s*"?sep=(.)"?\s*$', re.IGNORECASE)
_MAX_PREAMBLE = 100  # blank and comment lines looked at above the header
_MAX_HEADER_CHARS = 16 * 1024 * 1024


class DataFileError(ValueError):
    """The file cannot be read as an episode table; the message is one sentence for a person."""


class RowNumbers:
    """The spreadsheet row number of each row of a frame, when it is not simply position + 2.

    Kept in ``frame.attrs["row_numbers"]`` by the readers when rows of the file were not data (blank
    or comment lines, a title or ``sep=`` line before the header): problems are then reported at the
    rows a spreadsheet shows. Immutable, so pandas' copies of ``attrs`` share it.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows) -> None:
        arr = np.asarray(rows, dtype=np.int64).copy()
        arr.setflags(write=False)
        self._rows = arr

    @property
    def array(self) -> np.ndarray:
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowNumbers) and np.array_equal(self._rows, other._rows)

    def __hash__(self) -> int:
        return hash((len(self._rows), int(self._rows[0]) if len(self._rows) else 0))

    def __deepcopy__(self, memo) -> RowNumbers:
        return self

    def __repr__(self) -> str:
        return f"RowNumbers({len(self._rows)} rows, first {self._rows[:3].tolist()})"


def spreadsheet_rows(frame: pd.DataFrame, positions=None) -> np.ndarray:
    """Spreadsheet row numbers (the header is row 1 unless the file had lines before it) of rows of ``frame``.

    ``positions``: row positions (0-based); all rows when None. Uses ``attrs["row_numbers"]`` when a
    reader recorded them for a frame of this length, else position + 2.
    """
    n = len(frame)
    pos = np.arange(n) if positions is None else np.asarray(positions, dtype=np.int64)
    numbers = frame.attrs.get("row_numbers")
    if isinstance(numbers, RowNumbers) and len(numbers) == n:
        return numbers.array[pos]
    return pos + 2


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
    dupes = sorted(c for c, k in Counter(frame.columns).items() if k > 1)
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
    except Exception:  # noqa: BLE001 - csv.Error, or anything odd about the sample: fall back to counting
        pass
    header = _next_line(sample, 0)[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _header(text: str, delimiter: str) -> list[str]:
    """The fields of the first record of ``text`` (kept for analysis/engine/sources.py, which reads the
    header itself and skips one row; :func:`_layout` also steps over ``sep=``, comment and blank lines)."""
    if not text:
        return []
    found = _record(text, 0, delimiter)
    return found[0] if found is not None else []


def _next_line(text: str, start: int) -> tuple[str, int]:
    """The physical line at ``start`` (without its line end: LF, CRLF or CR) and where the next one starts."""
    m = _LINE_END.search(text, start)
    if m is None:
        return text[start:], len(text)
    end = m.start()
    return text[start:end], end + 2 if text.startswith("\r\n", end) else end + 1


def _record(text: str, start: int, delimiter: str, limit: int = _MAX_HEADER_CHARS) -> tuple[list[str], int] | None:
    """The fields of the CSV record at ``start`` (a quoted field may hold line ends and ``""``) and where the
    next record starts; None when the record is longer than ``limit`` characters. As Python's csv and
    Arrow read it: a quote opens a quoted field only at the start of a field; line ends LF, CRLF or CR.
    """
    token = re.compile('["\r\n' + re.escape(delimiter) + "]")
    end_limit = min(len(text), start + limit)
    fields: list[str] = []
    pos = field_at = start
    in_quote = False
    while True:
        m = token.search(text, pos, end_limit)
        if m is None:
            if end_limit < len(text):
                return None
            fields.append(_unquote(text[field_at:]))
            return fields, len(text)
        ch, at = m.group(), m.start()
        pos = at + 1
        if in_quote:
            if ch == '"':
                if text.startswith('"', at + 1):
                    pos = at + 2
                else:
                    in_quote = False
        elif ch == '"':
            in_quote = at == field_at
        elif ch == delimiter:
            fields.append(_unquote(text[field_at:at]))
            field_at = at + 1
        else:
            fields.append(_unquote(text[field_at:at]))
            return fields, at + 2 if text.startswith("\r\n", at) else at + 1


def _unquote(field: str) -> str:
    if not field.startswith('"'):
        return field
    parts, i = [], 1
    while True:
        k = field.find('"', i)
        if k < 0:
            parts.append(field[i:])
            return "".join(parts)
        parts.append(field[i:k])
        if field.startswith('"', k + 1):
            parts.append('"')
            i = k + 2
            continue
        return "".join(parts) + field[k + 1:]


@dataclass
class _Layout:
    """Where the table starts in a CSV text and what came before it (see :func:`_layout`)."""

    start: int  # character offset of the first data record
    names: list[str]
    delimiter: str
    header_row: int  # the spreadsheet row of the header (Excel hides a ``sep=`` line)
    sep_line: bool = False
    blank_before: list[int] = field(default_factory=list)  # spreadsheet rows
    comments_before: list[int] = field(default_factory=list)
    title_rows: list[int] = field(default_factory=list)


def _layout(text: str, label: str) -> _Layout:
    """Find the header: past Excel's ``sep=`` line, blank lines, ``#`` comment lines and a one-cell title row."""
    pos, row, sep = 0, 0, None
    first, nxt = _next_line(text, 0)
    m = _SEP_LINE.match(first)
    if m and m.group(1) not in '"\r\n':
        sep, pos = m.group(1), nxt
    blank, comments = [], []
    for _ in range(_MAX_PREAMBLE):
        if pos >= len(text):
            break
        line, nxt = _next_line(text, pos)
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        (comments if stripped else blank).append(row + 1)
        row, pos = row + 1, nxt
    if pos >= len(text):
        raise DataFileError(f"{label} holds no table: only blank or comment lines.")
    delimiter = sep or _sniff_delimiter(text[pos:pos + 65536])
    header = _record(text, pos, delimiter)
    if header is None:
        raise DataFileError(f"{label} has a header row longer than {_MAX_HEADER_CHARS // 1024**2} MB; "
                            "it is not a table Continuum can read.")
    names, start = header
    if comments and comments[-1] == row:  # a "#" line with as many fields as the next line is the header
        back = _line_start(text, pos)
        above = _record(text, back, delimiter)
        if above is not None and len(above[0]) >= 2 and len(above[0]) == len(names):
            names, start, row = above[0], pos, row - 1
            comments.pop()
    titles = []
    for _ in range(3):  # "Episode export,,," above the column names
        filled = [n for n in names if n.strip()]
        below = _record(text, start, delimiter) if start < len(text) else None
        if len(filled) > 1 or below is None:
            break
        below_filled = [n.strip() for n in below[0] if n.strip()]
        if len(below_filled) < 2 or len(set(below_filled)) != len(below_filled):
            break
        titles.append(row + 1)
        row += 1
        names, start = below
    return _Layout(start, [n.strip() for n in names], delimiter, row + 1, sep is not None, blank, comments, titles)


def _line_start(text: str, pos: int) -> int:
    """Start of the physical line that ends just before ``pos`` (``pos`` is a line start)."""
    end = pos - 1
    if end > 0 and text[end] == "\n" and text[end - 1] == "\r":
        end -= 1
    cut = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end))
    return cut + 1


def _rows_text(rows: list[int] | np.ndarray) -> str:
    """``[3, 4, 5, 9]`` -> ``"rows 3-5 and 9"`` (at most five runs, then "...")."""
    rows = [int(r) for r in rows]
    runs: list[list[int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    shown = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs[:5]]
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1] if shown else ""
    if len(runs) > 5:
        text = ", ".join(shown) + ", ..."
    return ("row " if len(rows) == 1 else "rows ") + text


def _listing(parts: list[tuple[list[int], str, str]]) -> str:
    """``[([1, 2], "comment line", "comment lines")]`` -> ``"2 comment lines (rows 1-2)"``, joined by "and"."""
    return " and ".join(f"{len(rows):,} {one if len(rows) == 1 else many} ({_rows_text(rows)})"
                        for rows, one, many in parts if len(rows))


def _read_csv(data: bytes, label: str) -> pd.DataFrame:
    text, encoding = _decode(data)
    layout = _layout(text, label)
    names, delimiter = layout.names, layout.delimiter
    if not names or names == [""] and layout.start >= len(text):
        raise DataFileError(f"{label} is empty.")
    _check_columns(pd.DataFrame(columns=names), label)
    if encoding == "utf-8-sig":
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        body = memoryview(data)[bom + len(text[:layout.start].encode("utf-8")):]
    else:
        body = memoryview(text[layout.start:].encode("utf-8"))
    skipped: list[tuple[int, str]] = []
    ragged: list[tuple[int, int, int]] = []

    def odd_row(row) -> str:  # blank or "#" lines between the rows are skipped (and counted), others refuse
        line = row.text.strip()
        if not line.strip(delimiter + " \t"):
            skipped.append((row.number, "blank"))
            return "skip"
        if line.startswith("#"):
            skipped.append((row.number, "comment"))
            return "skip"
        ragged.append((row.number, row.actual_columns, row.expected_columns))
        return "error"

    if not body.nbytes or not bytes(body[:65536]).strip(b"\r\n"):
        table = pa.table({n: pa.array([], type=pa.string()) for n in names})
    else:
        try:
            table = pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(body)),
                read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                  ignore_empty_lines=False, invalid_row_handler=odd_row),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, null_values=list(MISSING_MARKERS),
                    strings_can_be_null=True, quoted_strings_can_be_null=True),
            )
        except pa.ArrowInvalid as exc:
            if ragged and ragged[0][0] is not None:
                number, got, want = ragged[0]
                raise DataFileError(f"{label} could not be read as a table: row {layout.header_row + number} has "
                                    f"{got:,} field{'s' if got != 1 else ''} where the header has {want:,}. "
                                    "Check that every row has the same number of fields as the header.") from None
            detail = str(exc).split("\n")[0][:200]
            raise DataFileError(f"{label} could not be read as a table ({detail}). "
                                "Check that every row has the same number of fields as the header.") from None
    columns = [_clean_text(table.column(i)) for i in range(table.num_columns)]
    n = table.num_rows
    gaps = np.array(sorted(r for r, _ in skipped if r is not None), dtype=np.int64)
    records = np.setdiff1d(np.arange(1, n + len(gaps) + 1), gaps) if len(gaps) else np.arange(1, n + 1)
    rows = layout.header_row + records
    empty = np.zeros(n, dtype=bool)
    if n and columns:
        empty = np.ones(n, dtype=bool)
        for col in columns:
            if col.null_count:
                empty &= pc.is_null(col).to_numpy(zero_copy_only=False)
            else:
                empty[:] = False
                break
    if empty.any():
        keep = pa.array(~empty)
        columns = [c.filter(keep) for c in columns]
    frame = pa.table(columns, names=names).to_pandas() if columns else pd.DataFrame(columns=names)
    last = rows[~empty].max() if (~empty).any() else layout.header_row
    blank_rows = sorted([*rows[empty & (rows < last)].tolist(), *(layout.header_row + r for r, kind in skipped
                                                                  if kind == "blank" and r is not None
                                                                  and layout.header_row + r < last)])
    comment_rows = sorted(layout.header_row + r for r, kind in skipped if kind == "comment" and r is not None)
    rows = rows[~empty]
    _set_rows(frame, rows, layout.header_row)
    notes = []
    if layout.sep_line:
        notes.append(f"The first line of {label} is Excel's delimiter line ('sep={delimiter}'): it gave the "
                     "delimiter and is not a row.")
    before = _listing([(layout.blank_before, "blank line", "blank lines"),
                       (layout.comments_before, "comment line", "comment lines"),
                       (layout.title_rows, "title row holding one cell", "title rows holding one cell")])
    if before:
        notes.append(f"The header of {label} is row {layout.header_row}; skipped above it: {before}.")
    between = _listing([(blank_rows, "empty row", "empty rows"), (comment_rows, "comment line", "comment lines")])
    if between:
        notes.append(f"Skipped between the data rows of {label}: {between}; rows are numbered as in the file.")
    frame.attrs["text_clean"] = True
    frame.attrs["encoding"] = "utf-8" if encoding == "utf-8-sig" else encoding
    frame.attrs["delimiter"] = delimiter
    if notes:
        frame.attrs["read_notes"] = tuple(notes)
    return frame


def _set_rows(frame: pd.DataFrame, rows: np.ndarray, header_row: int = 1) -> None:
    """Record the spreadsheet rows of a frame's rows when they are not position + 2."""
    if header_row != 1:
        frame.attrs["header_row"] = int(header_row)
    if len(rows) != len(frame) or not np.array_equal(rows, np.arange(2, len(frame) + 2)):
        frame.attrs["row_numbers"] = RowNumbers(rows)


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
    """First sheet with the types Excel stored (numbers, dates), text cells cleaned as CSV cells are.

    The header is found as :func:`_layout` finds a CSV header: blank rows and title rows holding one cell above
    it are skipped (and said). A column without a header is left out when it is wholly empty, and kept under a
    made-up name (``column T``, its sheet letter) when it holds cells (a stray cell beside the table), said in a
    note either way."""
    from analysis.safety import workbook_problem  # zip bombs and sheets spanning billions of cells (h12a)

    if problem := workbook_problem(data, label):
        raise DataFileError(problem)
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, engine=_EXCEL_ENGINE)
        header_at, above = 0, ([], [])
        if any(_unnamed(c) for c in frame.columns):  # a title or blank row above the header, or header-less columns
            probe = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, nrows=_MAX_PREAMBLE + 5,
                                  engine=_EXCEL_ENGINE)
            header_at, above = _sheet_header(probe)
            if header_at:
                frame = pd.read_excel(io.BytesIO(data), sheet_name=0, header=header_at, engine=_EXCEL_ENGINE)
    except DataFileError:
        raise
    except Exception as exc:  # zip but not a workbook, corrupt, encrypted
        raise DataFileError(f"{label} could not be opened as an Excel workbook ({type(exc).__name__}).") from None
    try:
        frame = clean_blanks(frame)  # (pandas' names are unique here: "Unnamed: 19")
        frame, column_notes = _headerless_columns(frame, label)
    except DataFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a sheet laid out in a way not foreseen: a sentence, not a traceback
        raise DataFileError(f"{label} could not be read as a table: its first sheet is laid out in a way "
                            f"Continuum does not understand ({type(exc).__name__}).") from None
    header_row = header_at + 1
    notes = []
    before = _listing([(above[0], "blank row", "blank rows"),
                       (above[1], "title row holding one cell", "title rows holding one cell")])
    if header_at:
        notes.append(f"The header of {label} is row {header_row}; skipped above it: {before or 'nothing'}.")
    notes.extend(column_notes)
    empty = frame.isna().all(axis=1).to_numpy() if frame.shape[1] else np.zeros(len(frame), dtype=bool)
    rows = np.arange(header_row + 1, header_row + 1 + len(frame))  # the sheet's rows
    if empty.any():
        last = rows[~empty].max() if (~empty).any() else header_row
        frame = frame[~empty]
        between = rows[empty & (rows < last)]
        if len(between):
            notes.append(f"Skipped between the data rows of {label}: "
                         f"{_listing([(between, 'empty row', 'empty rows')])}; rows are numbered as in the sheet.")
    frame = frame.reset_index(drop=True)
    if notes:
        frame.attrs["read_notes"] = tuple(notes)
    _set_rows(frame, rows[~empty], header_row)
    return frame


def _unnamed(name: object) -> bool:
    """pandas' name for a column whose header cell is empty (``Unnamed: 19``)."""
    return str(name).startswith("Unnamed:")


def _filled(value: object) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def _sheet_header(probe: pd.DataFrame) -> tuple[int, tuple[list[int], list[int]]]:
    """The 0-based row of ``probe`` (a sheet's first rows, read without a header) holding the header, and the
    sheet rows skipped above it (blank rows, title rows holding one cell), as :func:`_layout` does for CSV: the
    first row with two or more distinct filled cells, past blank rows and up to three one-cell title rows."""
    blank: list[int] = []
    titles: list[int] = []
    rows = [[v.strip() if isinstance(v, str) else v for v in r if _filled(v)]
            for r in probe.itertuples(index=False, name=None)]
    for i, cells in enumerate(rows):
        if not cells:
            blank.append(i + 1)
            continue
        texts = [str(v) for v in cells]
        if len(cells) >= 2:
            if len(set(texts)) != len(texts) and i:  # (not a header: as CSV, keep the first row then)
                break
            return i, (blank, titles)
        if len(titles) >= 3 or not any(len(r) >= 2 for r in rows[i + 1:]):
            break
        titles.append(i + 1)
    return 0, ([], [])


def _column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _headerless_columns(frame: pd.DataFrame, label: str) -> tuple[pd.DataFrame, list[str]]:
    """Columns without a header (pandas' ``Unnamed: k``): left out when wholly empty, else kept as ``column T``."""
    unnamed = [k for k, c in enumerate(frame.columns) if _unnamed(c)]
    if not unnamed:
        return frame, []
    names = [str(c) for c in frame.columns]
    taken = {n.lower() for k, n in enumerate(names) if k not in set(unnamed)}
    drop, kept, notes = [], [], []
    for k in unnamed:
        filled = int(frame.iloc[:, k].notna().sum())
        if not filled:
            drop.append(k)
            continue
        base = f"column {_column_letter(k)}"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base} ({n})", n + 1
        taken.add(name.lower())
        names[k] = name
        kept.append((name, filled))
    out = frame.copy(deep=False)
    out.columns = names
    if drop:
        out = out.iloc[:, [k for k in range(len(names)) if k not in set(drop)]]
        notes.append(f"{len(drop):,} empty column{'s' if len(drop) != 1 else ''} without a header in {label} "
                     f"{'were' if len(drop) != 1 else 'was'} left out.")
    for name, filled in kept:
        notes.append(f"A column of {label} has no header but holds {filled:,} cell{'s' if filled != 1 else ''}: "
                     f"kept as '{name}' (not used unless you map it).")
    return out, notes


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
