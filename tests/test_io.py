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
