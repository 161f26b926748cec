"""Small-cell suppression: exact behaviours, including complementary suppression."""

import numpy as np
import pandas as pd
import pytest

from analysis.suppression import (
    DEFAULT_MIN_CELL,
    SUPPRESSED_TEXT,
    format_count,
    format_rate,
    suppress_complementary,
    suppress_counts,
    truncate_curve,
)


def test_default_threshold_is_cms_11():
    assert DEFAULT_MIN_CELL == 11


def test_primary_suppression_hides_1_to_10_keeps_zero_and_11():
    df = pd.DataFrame({"level": list("abcdef"), "n": [0, 1, 10, 11, 250, np.nan]})
    out = suppress_counts(df, ["n"])
    assert out["n_suppressed"].tolist() == [False, True, True, False, False, False]
    assert out["suppressed"].tolist() == [False, True, True, False, False, False]
    assert out["n"].tolist()[0] == 0 and out["n"].tolist()[3:5] == [11, 250]
    assert out["n"].isna().tolist() == [False, True, True, False, False, True]
    assert df["n"].tolist()[1] == 1  # input untouched


def test_threshold_is_a_setting():
    out = suppress_counts(pd.DataFrame({"n": [4, 5, 6]}), "n", min_cell=6)
    assert out["n_suppressed"].tolist() == [True, True, False]
    with pytest.raises(ValueError, match="whole number"):
        suppress_counts(pd.DataFrame({"n": [1]}), "n", min_cell=0)


def test_rates_hidden_with_small_basis_or_hidden_numerator():
    df = pd.DataFrame({
        "n": [8, 40, 40, 40],             # people (basis)
        "completed": [8, 5, 0, 30],       # numerator
        "relapsed": [2, 20, 20, 20],
        "completion_rate": [1.0, 0.125, 0.0, 0.75],
        "relapse_rate": [0.25, 0.5, 0.5, 0.5],
    })
    out = suppress_counts(df, ["n", "completed", "relapsed"], basis_col="n",
                          rate_cols={"completion_rate": "completed", "relapse_rate": "relapsed"})
    # row 0: basis 8 < 11 hides every rate; row 1: completed 5 hidden -> its rate hidden only
    assert out["completion_rate_suppressed"].tolist() == [True, True, False, False]
    assert out["relapse_rate_suppressed"].tolist() == [True, False, False, False]
    assert out["completion_rate"].isna().tolist() == [True, True, False, False]
    assert out.loc[2, "completion_rate"] == 0.0 and out.loc[3, "relapse_rate"] == 0.5
    # plain sequence: a rate is hidden when any count of its row is hidden
    out2 = suppress_counts(df, ["completed", "relapsed"], rate_cols=["relapse_rate"])
    assert out2["relapse_rate_suppressed"].tolist() == [True, True, False, False]


def test_bad_columns_raise_readable_errors():
    df = pd.DataFrame({"n": [1], "rate": [0.1]})
    with pytest.raises(ValueError, match="no count column 'x'"):
        suppress_counts(df, ["x"])
    with pytest.raises(ValueError, match="not one of the count columns"):
        suppress_counts(df, ["n"], rate_cols={"rate": "other"})


@pytest.fixture()
def reason_mix():
    # discharge-reason mix: counts per reason within level, with the level total shown
    df = pd.DataFrame({
        "level": ["residential"] * 4 + ["iop"] * 4 + ["op"] * 3,
        "reason": ["completed", "dropped_out", "died", "other"] * 2 + ["completed", "dropped_out", "other"],
        "n": [50, 5, 0, 30,   3, 4, 40, 0,   60, 25, 15],
    })
    df["total"] = df.groupby("level")["n"].transform("sum")
    df["share"] = df["n"] / df["total"]
    return df


def test_complementary_suppression_long_table(reason_mix):
    out = suppress_complementary(reason_mix, ["n"], total_col="total", group_cols=["level"],
                                 rate_cols={"share": "n"})
    # residential {50, 5, 0, 30}: 5 primary; next smallest non-zero (30) hidden too; 0 shown
    # iop {3, 4, 40, 0}: 3 and 4 primary but sum 7 < 11 could be worked out -> 40 hidden too
    # op {60, 25, 15}: nothing small, nothing hidden
    assert out["n_suppressed"].tolist() == [False, True, False, True,
                                            True, True, True, False,
                                            False, False, False]
    assert out["n_complementary"].tolist() == [False, False, False, True,
                                               False, False, True, False,
                                               False, False, False]
    assert out["share_suppressed"].tolist() == out["n_suppressed"].tolist()
    assert out.loc[0, "n"] == 50 and out.loc[2, "n"] == 0 and out.loc[7, "n"] == 0
    assert not out["total_suppressed"].any()
    # nothing hidden can be worked out: each group hides >= 2 cells adding up to >= 11
    hidden = reason_mix["n"].where(out["n_suppressed"], 0).groupby(reason_mix["level"]).agg(["sum", "size"])
    hidden_cells = out["n_suppressed"].groupby(reason_mix["level"]).sum()
    assert (hidden.loc[hidden_cells > 0, "sum"] >= 11).all() and (hidden_cells[hidden_cells > 0] >= 2).all()


def test_complementary_hides_small_total():
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "n": [4, 0, 200, 20]})
    df["total"] = df.groupby("g")["n"].transform("sum")
    out = suppress_complementary(df, "n", "total", ["g"])
    assert out["total_suppressed"].tolist() == [True, True, False, False]
    assert out["n_suppressed"].tolist() == [True, False, False, False]


def test_complementary_wide_table_each_row_is_a_set():
    wide = pd.DataFrame({"completed": [5, 20, 3, 0], "dropped_out": [30, 25, 4, 12],
                         "other": [0, 7, 100, 0]})
    out = suppress_complementary(wide, ["completed", "dropped_out", "other"])
    # row 0 {5, 30, 0}: 5 + complement 30; row 1 {20, 25, 7}: 7 + smallest other (20);
    # row 2 {3, 4, 100}: 3 + 4 = 7 < 11 -> 100 too; row 3: nothing small
    assert out["completed_suppressed"].tolist() == [True, True, True, False]
    assert out["dropped_out_suppressed"].tolist() == [True, False, True, False]
    assert out["other_suppressed"].tolist() == [False, True, True, False]
    assert out["completed_complementary"].tolist() == [False, True, False, False]
    assert out["dropped_out_complementary"].tolist() == [True, False, False, False]
    assert out.loc[3, ["completed", "dropped_out", "other"]].tolist() == [0, 12, 0]


def test_format_count():
    assert format_count(1234567) == "1,234,567"
    assert format_count(0) == "0"
    assert format_count(5) == "<11"  # safety net even without a flag
    assert format_count(np.nan, True) == "<11"
    assert format_count(np.nan) == ""
    assert format_count(40, complementary=True) == SUPPRESSED_TEXT
    assert format_count(7, min_cell=5) == "7"
    s = pd.Series([0, 3, 12, 1500, None], index=list("vwxyz"), dtype="Int64")
    out = format_count(s)
    assert out.tolist() == ["0", "<11", "12", "1,500", ""] and list(out.index) == list("vwxyz")


def test_format_rate():
    assert format_rate(0.4213) == "42.1%"
    assert format_rate(0.4213, percent=False) == "0.421"
    assert format_rate(0.5, decimals=0) == "50%"
    assert format_rate(pd.Series([0.5, np.nan, 0.1]), [False, False, True]).tolist() == [
        "50.0%", "", SUPPRESSED_TEXT]


def test_format_suppressed_table_end_to_end(reason_mix):
    out = suppress_complementary(reason_mix, ["n"], "total", ["level"], rate_cols={"share": "n"})
    shown = format_count(out["n"], out["n_suppressed"], complementary=out["n_complementary"])
    assert shown.tolist()[:8] == ["50", "<11", "0", SUPPRESSED_TEXT, "<11", "<11", SUPPRESSED_TEXT, "0"]
    assert format_rate(out["share"], out["share_suppressed"]).tolist()[:2] == ["58.8%", SUPPRESSED_TEXT]


def test_truncate_curve_per_group():
    km = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 3, "time": [0, 10, 20, 30, 0, 5, 9],
                       "n_at_risk": [40, 20, 10, 12, 30, 8, 20], "survival": np.linspace(1, 0.4, 7)})
    out = truncate_curve(km)
    # a stops at t=20 (10 < 11; the later 12 is dropped too), b stops at t=5
    assert out.index.tolist() == [0, 1, 4]
    assert truncate_curve(km, min_at_risk=5).index.tolist() == list(range(7))
    single = truncate_curve(km.drop(columns="group").iloc[:4])
    assert single["time"].tolist() == [0, 10]


def test_truncate_curve_unsorted_input():
    km = pd.DataFrame({"group": ["a", "b", "a", "a"], "time": [20, 0, 0, 10], "n_at_risk": [5, 50, 30, 12]})
    assert truncate_curve(km).index.tolist() == [1, 2, 3]


def test_complementary_on_many_groups():
    rng = np.random.default_rng(0)
    n = 200_000
    df = pd.DataFrame({"g": rng.integers(0, 20_000, n), "n": rng.integers(0, 40, n)})
    out = suppress_complementary(df, ["n"], group_cols=["g"])
    # every group with a hidden cell hides >= 2 cells (or all of its non-zero cells)
    hidden = out["n_suppressed"].groupby(df["g"]).sum()
    nonzero = (df["n"] > 0).groupby(df["g"]).sum()
    assert ((hidden == 0) | (hidden >= 2) | (hidden == nonzero)).all()
