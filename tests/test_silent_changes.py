"""Nothing changes silently (issue 12, item 6): each odd input is an error or a warning naming its row.

One file per case through :func:`analysis.loading.load_episodes`, as the app and ``check`` read it:
ambiguous decimal and thousands separators, labels that negate or qualify a level, look-alike and
invisible characters, nested Parquet columns, a Parquet index column.
"""
from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.loading import load_episodes

TODAY = "2026-11-25"


def _durations(column: str, value: str, sep: str = ",") -> bytes:
    rows = [["episode_id", "level_of_care", "los_days", "days_to_relapse", "relapsed"],
            ["E1", "iop", "10", "100", "1"], ["E2", "op", "20", "200", "0"], ["E3", "php", "30", "300", "1"]]
    at = rows[0].index(column)
    rows[3][at] = value
    return "\n".join(sep.join(r) for r in rows).encode() + b"\n"


def _problems(data: bytes, name: str = "x.csv", **kw) -> list[list]:
    report = load_episodes(data, name=name, today=TODAY, **kw).report
    return report.problems[["row", "column", "value", "rule", "severity"]].values.tolist()


@pytest.mark.parametrize("value,sep", [("12,5", ";"), ("1.234,5", ";"), ("1,234.5,6", ";")])
def test_ambiguous_decimal_separators_are_row_errors_not_a_other_number(value, sep):
    data = _durations("los_days", value, sep)
    assert _problems(data) == [[4, "los_days", value, "non_numeric_duration", "error"]]
    message = load_episodes(data, name="x.csv", today=TODAY).report.problems["message"].iloc[0]
    assert "Comma as decimal mark" in message


def test_thousands_separator_is_read_with_a_warning():
    data = _durations("days_to_relapse", '"1,234"')
    result = load_episodes(data, name="x.csv", today=TODAY)
    assert _problems(data) == [[4, "days_to_relapse", "1,234", "thousands_separator", "warning"]]
    assert result.episodes["days_to_relapse"].tolist() == [100.0, 200.0, 1234.0]


def _levels(label: str) -> bytes:
    return ("episode_id,level_of_care,admission_date\nE1,IOP,2024-01-05\nE2," + label + ",2024-01-06\n").encode()


@pytest.mark.parametrize("label,why", [
    ("Not IOP", "negates"), ("Residential (not IOP)", "negates"), ("OP step-down from IOP", "qualifies"),
    ("\u0130OP", "U+0130"), ("I\u041eP", "CYRILLIC"), ("IOP/OP", "")])
def test_labels_that_negate_qualify_or_look_alike_are_row_errors(label, why):
    result = load_episodes(_levels(label), name="x.csv", today=TODAY)
    problems = result.report.problems
    assert problems[["row", "rule"]].values.tolist() == [[3, "unknown_level_of_care"]]
    assert why in problems["message"].iloc[0]
    assert result.episodes["episode_id"].tolist() == ["E1"]


@pytest.mark.parametrize("label,named", [("I\u200bOP", "U+200B ZERO WIDTH SPACE"),
                                         ("Intensive\u00a0Outpatient", "U+00A0 NO-BREAK SPACE"),
                                         ("\uff29\uff2f\uff30", "U+FF29 FULLWIDTH LATIN CAPITAL LETTER I"),
                                         ("\u202eIOP", "U+202E RIGHT-TO-LEFT OVERRIDE"),
                                         ("IOP \U0001F600", "U+1F600 GRINNING FACE")])
def test_invisible_and_full_width_characters_are_read_with_a_warning(label, named):
    result = load_episodes(_levels(label), name="x.csv", today=TODAY)
    problems = result.report.problems
    assert problems[["row", "column", "rule", "severity"]].values.tolist() == [
        [3, "level_of_care", "unusual_characters", "warning"]]
    assert named in problems["message"].iloc[0] and "read as 'iop'" in problems["message"].iloc[0]
    assert result.episodes["level_of_care"].astype(str).tolist() == ["iop", "iop"]  # not "op" (I OP)


def test_accented_letters_are_ordinary():
    data = "episode_id,level_of_care,admission_date\nE1,Résidentiel,2024-01-05\n".encode()
    assert not any(p[3] == "unusual_characters" for p in _problems(data))


def test_invisible_characters_in_a_grouping_column_are_warned_about():
    data = ("episode_id,site,admission_date\nE1,North,2024-01-05\nE2,North\u200b,2024-01-06\n"
            "E3,South,2024-01-07\n").encode()
    problems = load_episodes(data, name="x.csv", today=TODAY, by="site").report.problems
    odd = problems[problems["rule"] == "unusual_characters"]
    assert odd[["row", "column"]].values.tolist() == [[3, "site"]]
    assert "a group apart" in odd["message"].iloc[0]


@pytest.mark.parametrize("values", [[{"code": "iop"}, {"code": "op"}], [["iop"], ["op"]]])
def test_nested_parquet_level_columns_are_refused_naming_the_column(values):
    buf = io.BytesIO()
    pq.write_table(pa.table({"episode_id": ["E1", "E2"], "level_of_care": values,
                             "admission_date": ["2024-01-05", "2024-01-06"]}), buf)
    result = load_episodes(buf.getvalue(), name="x.parquet", today=TODAY)
    assert not result.ok and "level_of_care" in result.report.fatal and "nested" in result.report.fatal


def test_parquet_index_column_is_read_and_its_duplicates_found():
    frame = pd.DataFrame({"episode_id": ["E1", "E2", "E1"], "level_of_care": ["iop", "op", "php"],
                          "admission_date": ["2024-01-05", "2024-01-06", "2024-01-07"]}).set_index("episode_id")
    buf = io.BytesIO()
    frame.to_parquet(buf)
    result = load_episodes(buf.getvalue(), name="x.parquet", today=TODAY)
    assert result.mapping["episode_id"] == "episode_id"
    assert _problems(buf.getvalue(), name="x.parquet") == [[4, "episode_id", "E1", "duplicate_episode_id", "error"]]
