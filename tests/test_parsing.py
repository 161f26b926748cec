"""Number, flag and label reading: separators are never silent; numbers from typed files read as in CSV."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.loading import load_frame
from analysis.parsing import as_text, parse_booleans, parse_numbers


def test_thousands_separator_is_read_and_flagged():
    got = parse_numbers(pd.Series(["1,234", "12", "1,234,567.5", None], dtype=object))
    np.testing.assert_array_equal(got.values.to_numpy(), [1234.0, 12.0, 1234567.5, np.nan])
    assert got.grouped.tolist() == [True, False, True, False]
    assert not got.bad.any()


def test_decimal_comma_and_european_numbers_are_not_read():
    got = parse_numbers(pd.Series(["12,5", "1.234,5", "1,234", "7"], dtype=object))
    # a decimal comma in the column makes every comma ambiguous, "1,234" included
    assert got.bad.tolist() == [True, True, True, False]
    assert got.ambiguous.tolist() == [True, True, True, False]
    assert "point for decimals" in got.message(pd.RangeIndex(4))[0]


def test_ambiguous_numbers_are_listed_with_their_rows():
    raw = pd.DataFrame({"time": ["12,5", "30", "40"], "event": ["1", "0", "1"], "SCORE": ["1,234", "2", "3"],
                        "BMI": ["21,5", "30", "22"], "ARM": ["a", "b", "a"]})
    result = load_frame(raw, mapping={"days_to_relapse": "time"}, column_types={"BMI": "numeric"}, by="ARM")
    p = result.report.problems
    assert p.query("column == 'days_to_relapse'")[["row", "rule", "severity"]].values.tolist() == [
        [2, "non_numeric_duration", "error"]]
    assert "point for decimals" in p.query("column == 'days_to_relapse'")["message"].iloc[0]
    assert p.query("rule == 'thousands_separator'")[["row", "column", "value"]].values.tolist() == [
        [2, "SCORE", "1,234"]]
    assert result.episodes.loc[1, "SCORE"] == 2.0 and 0 not in result.episodes.index
    bmi = p.query("column == 'BMI'")
    assert bmi[["row", "severity"]].values.tolist() == [[2, "warning"]]


def test_a_guess_that_would_reject_most_rows_is_not_made():
    raw = pd.DataFrame({"time": ["12,5", "30,1", "40"], "event": ["1", "0", "1"]})
    result = load_frame(raw)
    assert "days_to_relapse" not in result.mapping
    assert any("named like days_to_relapse" in n and "--map days_to_relapse=time" in n for n in result.report.notes)


def test_labels_from_typed_columns_match_csv_text():
    assert as_text(pd.Series([123.0, np.nan, 7.5])).tolist() == ["123", None, "7.5"]
    assert as_text(pd.Series([" a ", "", "  "], dtype=object)).tolist() == ["a", None, None]


def test_event_value_flip():
    flags, bad = parse_booleans(pd.Series(["1", "0", "1", None], dtype=object), event_value="0")
    assert flags.tolist() == [False, True, False, pd.NA] and not bad.any()
    flags, bad = parse_booleans(pd.Series([1, 2, 3]), event_value=2)
    assert flags.tolist()[1] is True and bad.tolist() == [True, False, True]
