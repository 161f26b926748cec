"""Readers: CSV encodings and delimiters, quoted newlines, Excel, Parquet, format and size checks."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from analysis.io import DataFileError, detect_format, read_table

ROWS = [("E1", "Intensive Outpatient", "2024-01-05", "Café Nord"),
        ("E2", "Résidentiel", "2024-02-10", "Süd")]


def _csv(delimiter: str = ",", encoding: str = "utf-8", bom: bool = False) -> bytes:
    text = delimiter.join(["episode_id", "level_of_care", "admission_date", "site"]) + "\r\n"
    text += "\r\n".join(delimiter.join(r) for r in ROWS) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("cp1252", False), ("latin-1", False)])
def test_csv_encodings_read_the_same_text(encoding, bom):
    frame = read_table(_csv(encoding=encoding, bom=bom), name="x.csv")
    assert list(frame.columns) == ["episode_id", "level_of_care", "admission_date", "site"]
    assert frame["site"].tolist() == ["Café Nord", "Süd"]
    assert frame["level_of_care"].tolist() == ["Intensive Outpatient", "Résidentiel"]


def test_cp1252_specific_characters():
    data = "id,note\nE1,\u201cquoted\u201d \u2013 dash\n".encode("cp1252")
    frame = read_table(data, name="x.csv")
    assert frame.loc[0, "note"] == "\u201cquoted\u201d \u2013 dash"
    assert frame.attrs["encoding"] == "cp1252"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_detected(delimiter):
    frame = read_table(_csv(delimiter=delimiter), name="x.csv")
    assert frame.shape == (2, 4)
    assert frame.attrs["delimiter"] == delimiter


def test_quoted_fields_with_newlines_and_missing_markers():
    data = b'id,note,age\n1,"line one\nline two",NA\n2,"a, b",  \n3,plain,41\n'
    frame = read_table(data, name="x.csv")
    assert frame["note"].tolist() == ["line one\nline two", "a, b", "plain"]
    assert frame["age"].isna().tolist() == [True, True, False]
    assert frame.loc[2, "age"] == "41"


def test_values_stay_text_no_type_guessing():
    frame = read_table(b"id,zip\n007,02139\n", name="x.csv")
    assert frame.loc[0, "id"] == "007" and frame.loc[0, "zip"] == "02139"


def test_xlsx_roundtrip():
    buf = io.BytesIO()
    pd.DataFrame({"episode_id": ["E1", "E2"], "admission_date": pd.to_datetime(["2024-01-05", "2024-02-10"]),
                  "age": [30, 41]}).to_excel(buf, index=False)
    frame = read_table(buf.getvalue(), name="episodes.xlsx")
    assert frame.attrs["format"] == "xlsx"
    assert frame["episode_id"].tolist() == ["E1", "E2"]
    assert pd.to_datetime(frame["admission_date"]).dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-02-10"]


def test_parquet_roundtrip_keeps_types():
    buf = io.BytesIO()
    pd.DataFrame({"episode_id": ["E1"], "los_days": [12.0]}).to_parquet(buf)
    frame = read_table(buf.getvalue(), name="episodes.parquet")
    assert frame.attrs["format"] == "parquet"
    assert frame.loc[0, "los_days"] == 12.0


def test_content_wins_over_extension_when_readable():
    buf = io.BytesIO()
    pd.DataFrame({"a": [1]}).to_parquet(buf)
    assert read_table(buf.getvalue(), name="misnamed.csv").loc[0, "a"] == 1


@pytest.mark.parametrize("data,name,fragment", [
    (b"", "x.csv", "empty"),
    (b"   \n\n", "x.csv", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "97-2003"),
    (b"a,b\n1,2\n", "x.xlsx", "not one"),
    (b"a,b\n1,2\n", "x.parquet", "not one"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.csv", "binary"),
    (b"PK\x03\x04garbage-not-a-workbook", "x.xlsx", "could not be opened"),
    (b"PAR1garbage", "x.parquet", "could not be read as Parquet"),
    ("a,b\n1,2\n".encode("utf-16"), "x.csv", "UTF-16"),
    (b"a,a\n1,2\n", "x.csv", "more than one column named 'a'"),
])
def test_bad_files_rejected_with_a_sentence(data, name, fragment):
    with pytest.raises(DataFileError, match=fragment):
        read_table(data, name=name)


def test_ragged_rows_rejected():
    with pytest.raises(DataFileError, match="same number of fields"):
        read_table(b"a,b\n1,2\n3,4,5\n", name="x.csv")


def test_size_limit():
    with pytest.raises(DataFileError, match="limit is"):
        read_table(b"a,b\n" + b"1,2\n" * 100, name="x.csv", max_bytes=100)


def test_missing_path():
    with pytest.raises(DataFileError, match="no file"):
        read_table("/nonexistent/file.csv")


def test_detect_format():
    assert detect_format(b"PAR1xxxx") == "parquet"
    assert detect_format(b"PK\x03\x04") == "xlsx"
    assert detect_format(b"a,b\n") == "csv"


# ---------------------------------------------------------------- what is above, between and in the header
def _lines_of(data: bytes) -> dict[str, int]:
    """{first field: its physical line number}, counted independently of the reader (no quoted newlines)."""
    out = {}
    for number, line in enumerate(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"), start=1):
        first = line.split(b",")[0].decode()
        if first.startswith("E"):
            out[first] = number
    return out


def _episodes(n: int = 30) -> list[bytes]:
    return [f"E{i},iop,2024-01-{1 + i % 28:02d}".encode() for i in range(n)]


def test_blank_and_comment_lines_between_rows_keep_the_file_row_numbers():
    from analysis.io import spreadsheet_rows

    body = _episodes()
    lines = [b"episode_id,level_of_care,admission_date"]
    for i, line in enumerate(body):
        lines.append(line)
        if i in (3, 4):
            lines.append(b"")
        if i == 10:
            lines.append(b"# checked by the registry")
        if i == 20:
            lines += [b",,", b"   "]
    data = b"\n".join(lines) + b"\n\n"
    frame = read_table(data, name="x.csv")
    expected = _lines_of(data)
    assert len(frame) == 30
    assert spreadsheet_rows(frame).tolist() == [expected[e] for e in frame["episode_id"]]
    assert expected["E29"] == 36  # 1 header + 30 rows + 5 skipped lines
    note = frame.attrs["read_notes"][0]
    assert "4 empty rows (rows 6, 8 and 26-27)" in note and "1 comment line (row 15)" in note


def test_problems_are_reported_at_the_file_rows():
    from analysis.loading import load_episodes

    rows = _episodes(12)
    rows[9] = b"E9,iop,2024-02-30"
    data = b"\n".join([b"# export", b"episode_id,level_of_care,admission_date", *rows[:5], b"", *rows[5:]]) + b"\n"
    result = load_episodes(data, name="x.csv", today="2025-01-01")
    expected = _lines_of(data)["E9"]
    assert expected == 13
    problems = result.report.problems
    assert problems.loc[problems["rule"] == "unparseable_date", "row"].tolist() == [expected]
    assert result.problem_rows()["row"].tolist() == [expected]
    assert result.report.header_row == 2
    assert "header = row 2" in result.report.summary_text()
    assert any("1 comment line (row 1)" in n for n in result.report.notes)
    assert any("1 empty row (row 8)" in n for n in result.report.notes)


def test_duplicate_id_message_names_the_file_row_of_the_first():
    from analysis.loading import load_episodes

    rows = _episodes(6)
    rows[5] = b"E1,iop,2024-01-09"
    data = b"\n".join([b"episode_id,level_of_care,admission_date", rows[0], b"", b"", *rows[1:]]) + b"\n"
    problems = load_episodes(data, name="x.csv", today="2025-01-01").report.problems
    dup = problems[problems["rule"] == "duplicate_episode_id"]
    assert dup["row"].tolist() == [data.count(b"\n")]  # the second E1 is the last line
    assert dup["message"].iloc[0] == "Episode id already used on row 5 (the first is kept)."


@pytest.mark.parametrize("first", [b"sep=,", b"SEP=,", b'"sep=,"'])
def test_excel_sep_line_gives_the_delimiter_and_is_not_a_row(first):
    from analysis.io import spreadsheet_rows

    data = first + b"\r\nepisode_id,level_of_care\r\nE1,iop\r\nE2,op\r\n"
    frame = read_table(data, name="x.csv")
    assert list(frame.columns) == ["episode_id", "level_of_care"] and frame["episode_id"].tolist() == ["E1", "E2"]
    assert spreadsheet_rows(frame).tolist() == [2, 3]  # Excel hides the sep= line: the header is row 1
    assert "sep=," in frame.attrs["read_notes"][0]


def test_sep_line_overrides_the_sniffed_delimiter():
    frame = read_table(b"sep=;\nid;note\nE1;a,b\nE2;c,d\n", name="x.csv")
    assert frame["note"].tolist() == ["a,b", "c,d"] and frame.attrs["delimiter"] == ";"


def test_comment_lines_and_blank_lines_above_the_header():
    from analysis.io import spreadsheet_rows

    data = b"\n# exported 2024-06-01\n#   by the EHR\nid,age\nE1,30\nE2,41\n"
    frame = read_table(data, name="x.csv")
    assert frame["id"].tolist() == ["E1", "E2"] and frame.attrs["header_row"] == 4
    assert spreadsheet_rows(frame).tolist() == [5, 6]
    assert frame.attrs["read_notes"] == ("The header of 'x.csv' is row 4; skipped above it: 1 blank line (row 1) "
                                         "and 2 comment lines (rows 2-3).",)


def test_a_header_starting_with_hash_is_the_header_not_a_comment():
    frame = read_table(b"#,episode_id\n1,E1\n2,E2\n", name="x.csv")
    assert list(frame.columns) == ["#", "episode_id"] and frame["episode_id"].tolist() == ["E1", "E2"]
    assert "read_notes" not in frame.attrs


def test_a_title_row_above_the_header():
    frame = read_table(b"Episode export,,\nepisode_id,level_of_care,age\nE1,iop,30\n", name="x.csv")
    assert list(frame.columns) == ["episode_id", "level_of_care", "age"] and frame.attrs["header_row"] == 2
    assert "1 title row holding one cell (row 1)" in frame.attrs["read_notes"][0]


def test_a_one_column_file_has_no_title_row():
    frame = read_table(b"episode_id\nE1\nE2\n", name="x.csv")
    assert list(frame.columns) == ["episode_id"] and frame["episode_id"].tolist() == ["E1", "E2"]


def test_only_comments_is_refused():
    with pytest.raises(DataFileError, match="only blank or comment lines"):
        read_table(b"# nothing here\n\n# really\n", name="x.csv")


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n"])
def test_line_endings_cr_only_too(ending):
    data = ending.join([b"id,note", b'E1,"two' + ending + b'lines"', b"E2,plain", b""])
    frame = read_table(data, name="x.csv")
    assert frame["id"].tolist() == ["E1", "E2"]
    assert frame["note"].tolist() == ["two" + ending.decode() + "lines", "plain"]


def test_header_cells_longer_than_the_csv_module_limit():
    big = "level_of_care" + " " * 131_072
    frame = read_table(f"id,{big},{'h' * 200_000}\nE1,iop,x\n".encode(), name="x.csv")
    assert list(frame.columns) == ["id", "level_of_care", "h" * 200_000]
    assert frame.loc[0, "level_of_care"] == "iop"


def test_quoted_newline_and_quotes_in_the_header():
    frame = read_table(b'id,"si\nte","say ""hi"""\nE1,North,x\n', name="x.csv")
    assert list(frame.columns) == ["id", "si\nte", 'say "hi"'] and frame.loc[0, "si\nte"] == "North"


def test_ragged_row_message_names_the_row():
    data = b"# note\na,b\n1,2\n\n3,4,5\n"
    with pytest.raises(DataFileError, match="row 5 has 3 fields where the header has 2"):
        read_table(data, name="x.csv")


def test_duplicate_columns_among_many():
    names = [f"x{i}" for i in range(10_000)] + ["x17"]
    with pytest.raises(DataFileError, match="more than one column named 'x17'"):
        read_table((",".join(names) + "\n" + ",".join("1" * len(names)) + "\n").encode(), name="x.csv")


def test_xlsx_empty_rows_keep_the_sheet_row_numbers():
    from analysis.io import spreadsheet_rows
    from tests.hostile_files import sheet_xml, workbook

    rows = [["episode_id", "age"], ["E1", 30], [None, None], ["E2", 41], ["", " "], ["E3", 52]]
    frame = read_table(workbook(sheet_xml(rows)), name="x.xlsx")
    assert frame["episode_id"].tolist() == ["E1", "E2", "E3"]
    assert spreadsheet_rows(frame).tolist() == [2, 4, 6]
    assert "2 empty rows (rows 3 and 5)" in frame.attrs["read_notes"][0]


def test_engine_header_helper_reads_the_first_record():
    from analysis.io import _header

    assert _header("a,b\rc,d\r", ",") == ["a", "b"]
    assert _header('"x\ny",' + "z" * 200_000 + "\n1,2\n", ",") == ["x\ny", "z" * 200_000]
    assert _header("", ",") == []
