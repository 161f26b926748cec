"""Builders of hostile and odd input files, in memory (used by test_safety.py and test_fuzz.py).

Workbooks are assembled from their XML parts with :mod:`zipfile`, so a test can write exactly the
cell references, declared dimension and compression it needs (openpyxl cannot write a bomb).
"""
from __future__ import annotations

import io
import zipfile
import zlib

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def column_letters(n: int) -> str:
    """1 -> A, 27 -> AA, 16384 -> XFD."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def sheet_xml(rows: list[list[object]], *, start_row: int = 1, dimension: str | None = None,
              extra_cells: tuple[tuple[str, str], ...] = ()) -> str:
    """Sheet XML with inline-string cells; ``extra_cells`` adds (reference, text) cells in their own rows."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">']
    if dimension:
        out.append(f'<dimension ref="{dimension}"/>')
    out.append("<sheetData>")
    for i, row in enumerate(rows):
        r = start_row + i
        cells = []
        for j, value in enumerate(row):
            ref = f"{column_letters(j + 1)}{r}"
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                text = str(value).replace("&", "&amp;").replace("<", "&lt;")
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    for ref, text in extra_cells:
        row = "".join(ch for ch in ref if ch.isdigit())
        out.append(f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c></row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def workbook(sheet: str | bytes, *, extra_members: dict[str, bytes] | None = None) -> bytes:
    """An .xlsx file holding one sheet (its XML given whole)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra_members or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def far_cell_workbook() -> bytes:
    """The 1.5 KB workbook of issue 12: a small table and one cell at XFD1048576."""
    rows = [["episode_id", "level_of_care", "admission_date"], ["E1", "iop", "2024-01-05"]]
    return workbook(sheet_xml(rows, extra_cells=(("XFD1048576", "x"),)))


def zip_bomb_xlsx(megabytes: int = 200) -> bytes:
    """A zip named .xlsx whose sheet decompresses ``megabytes`` MB of blanks (about 1000:1)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    head = sheet_xml([["a"]]).encode()[:-len("</sheetData></worksheet>")]
    body = [comp.compress(head)] + [comp.compress(chunk) for _ in range(megabytes)]
    body.append(comp.compress(b"</sheetData></worksheet>"))
    body.append(comp.flush())
    deflated = b"".join(body)
    size = len(head) + megabytes * len(chunk) + len(b"</sheetData></worksheet>")
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(b"</sheetData></worksheet>", crc)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size, info.compress_size, info.CRC = size, len(deflated), crc
        _write_raw(zf, info, deflated)
    return buf.getvalue()


def _write_raw(zf: zipfile.ZipFile, info: zipfile.ZipInfo, deflated: bytes) -> None:
    """Append an already-deflated member (zipfile has no public API for it)."""
    zf.fp.seek(zf.start_dir)
    info.header_offset = zf.fp.tell()
    info.flag_bits = 0
    info.create_version = info.extract_version = 20
    zf.fp.write(info.FileHeader(zip64=False))
    zf.fp.write(deflated)
    zf.start_dir = zf.fp.tell()
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    zf._didModify = True
