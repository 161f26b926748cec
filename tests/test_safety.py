"""Input safety (analysis.safety): workbooks and Parquet files that would blow a reader up are refused
before they are read, with a sentence; the parse memory budget refuses what would not fit."""
from __future__ import annotations

import io
import resource
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.io import DataFileError, read_table
from analysis.loading import load_episodes
from analysis.safety import estimate_parse_bytes, parquet_problem, read_upload, workbook_problem
from tests.hostile_files import far_cell_workbook, sheet_xml, workbook, zip_bomb_xlsx

HEADER = ["episode_id", "level_of_care", "admission_date"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("budget_mb", [None, "3072"])
def test_far_cell_workbook_is_refused_before_reading_in_bounded_time_and_memory(budget_mb, monkeypatch):
    if budget_mb:  # as in the app: the workbook's own sentence, not the budget's
        monkeypatch.setenv("CONTINUUM_PARSE_MEMORY_MB", budget_mb)
    else:
        monkeypatch.delenv("CONTINUUM_PARSE_MEMORY_MB", raising=False)
    data = far_cell_workbook()
    assert len(data) < 2000
    before, start = _peak_mb(), time.perf_counter()
    result = load_episodes(data, name="tiny.xlsx")
    assert time.perf_counter() - start < 5 and _peak_mb() - before < 100
    assert result.report.exit_code == 2
    assert result.report.fatal.startswith("'tiny.xlsx' spans 1,048,576 rows x 16,384 columns")


def test_zip_bomb_named_xlsx_is_refused_without_decompressing_it():
    data = zip_bomb_xlsx(40)
    before = _peak_mb()
    with pytest.raises(DataFileError, match=r"'bomb.xlsx' looks like a zip bomb: 'xl/worksheets/sheet1.xml' expands"):
        read_table(data, name="bomb.xlsx")
    assert _peak_mb() - before < 30


def test_declared_dimension_beyond_the_limit_is_refused():
    data = workbook(sheet_xml([HEADER, ["E1", "iop", "2024-01-05"]], dimension="A1:XFD1048576"))
    assert "spans 1,048,576 rows x 16,384 columns" in workbook_problem(data, "'x.xlsx'")


def test_total_decompressed_size_is_limited():
    data = workbook(sheet_xml([HEADER, ["E1", "iop", "2024-01-05"]]), extra_members={"xl/media/pad.bin": b"0" * 5000})
    assert "would decompress to" in workbook_problem(data, "'x.xlsx'", max_uncompressed=4000)
    assert workbook_problem(data, "'x.xlsx'") is None


@pytest.mark.parametrize("rows,cols,limit,refused", [(300_000, 5, 10_000_000, False), (300_000, 5, 1_000_000, True),
                                                     (10, 800, 10_000, False), (10, 800, 7_000, True)])
def test_span_is_rows_times_widest_column(rows, cols, limit, refused):
    # two real rows: row 1 and the last one, so the file stays small while the span is large
    xml = sheet_xml([[f"c{j}" for j in range(cols)]]).replace("</sheetData>", "") + \
        sheet_xml([[f"v{j}" for j in range(cols)]], start_row=rows).split("<sheetData>", 1)[1]
    problem = workbook_problem(workbook(xml), "'x.xlsx'", max_cells=limit)
    assert (problem is not None) == refused
    if refused:
        assert f"spans {rows:,} rows x {cols:,} columns" in problem


def test_a_normal_workbook_passes_and_reads():
    data = workbook(sheet_xml([HEADER, ["E1", "iop", "2024-01-05"], ["E2", "op", "2024-02-01"]]))
    assert workbook_problem(data) is None
    assert read_table(data, name="ok.xlsx")["level_of_care"].tolist() == ["iop", "op"]


def test_not_a_zip_is_left_to_the_reader():
    assert workbook_problem(b"PK\x03\x04 garbage") is None
    with pytest.raises(DataFileError, match="could not be opened as an Excel workbook"):
        read_table(b"PK\x03\x04 garbage", name="x.xlsx")


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.mark.parametrize("column", [pa.array([{"code": "IOP"}, {"code": "OP"}]), pa.array([["IOP"], ["OP"]]),
                                    pa.array([[("a", 1)], [("b", 2)]], type=pa.map_(pa.string(), pa.int64()))])
def test_nested_parquet_columns_are_refused_by_name(column):
    data = _parquet(pa.table({"episode_id": ["E1", "E2"], "level_of_care": column}))
    assert "nested values (lists, structs or maps) in column(s) 'level_of_care'" in parquet_problem(data, "'x.parquet'")
    result = load_episodes(data, name="x.parquet")
    assert result.report.exit_code == 2 and "'level_of_care'" in result.report.fatal


def test_plain_parquet_passes():
    assert parquet_problem(_parquet(pa.table({"episode_id": ["E1"], "level_of_care": ["iop"]}))) is None


def test_memory_budget_refuses_what_would_not_fit(monkeypatch):
    csv = ("episode_id,level_of_care,admission_date\n" + "E1,iop,2024-01-05\n" * 20_000).encode()
    need = estimate_parse_bytes(csv, "csv")
    assert 64 * 1024**2 + 3 * 20_001 * 60 <= need < 70 * 1024**2
    with pytest.raises(DataFileError, match=r"'big.csv' would need about 68 MB to read \(this server allows 50 MB"):
        read_upload(csv, name="big.csv", budget=50 * 1024**2)
    monkeypatch.setenv("CONTINUUM_PARSE_MEMORY_MB", "50")
    assert load_episodes(csv, name="big.csv").report.exit_code == 2
    monkeypatch.delenv("CONTINUUM_PARSE_MEMORY_MB")
    assert len(read_upload(csv, name="big.csv")) == 20_000  # no budget: the command line, a notebook


def test_estimate_is_an_upper_bound_of_what_the_frame_holds():
    frame = pd.DataFrame({"episode_id": [f"E{i:06d}" for i in range(50_000)], "level_of_care": ["iop"] * 50_000,
                          "admission_date": ["2024-01-05"] * 50_000})
    for fmt, data in (("csv", frame.to_csv(index=False).encode()), ("parquet", frame.to_parquet(index=False))):
        read = read_table(data, name=f"x.{fmt}")
        assert estimate_parse_bytes(data, fmt) > read.memory_usage(deep=True).sum()
