"""Filters, CSV export and provenance: hand-worked examples."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis import __version__
from analysis.export import neutralize_formulas, to_csv_bytes
from analysis.filters import FilterSpec, apply_filters, filter_options
from analysis.provenance import Provenance


@pytest.fixture
def cohort():
    return pd.DataFrame({
        "admission_date": pd.to_datetime(["2023-01-01", "2023-06-30", "2024-01-01", "2024-12-31", "2025-01-01"]),
        "level_of_care": pd.Categorical(["iop", "residential", "iop", "op", "detox"],
                                        categories=["detox", "inpatient", "residential", "php", "iop", "op"],
                                        ordered=True),
        "primary_substance": ["alcohol", "opioids", None, "alcohol", "opioids"],
        "sex": ["female", "male", "male", "female", "male"],
        "co_occurring": pd.array([True, False, None, True, False], dtype="boolean"),
        "site": ["North", "South", "North", "North", "South"],
        "payer": ["medicaid", "private", "medicaid", "private", "medicaid"],
        "age_band": pd.Categorical(["<25", "25-34", "<25", "55+", "35-44"],
                                   categories=["<25", "25-34", "35-44", "45-54", "55+"]),
    })


def test_empty_spec_keeps_everything(cohort):
    assert apply_filters(cohort, FilterSpec()) is cohort
    assert FilterSpec().describe() == "All episodes (no filters)"


def test_date_range_is_inclusive(cohort):
    out = apply_filters(cohort, FilterSpec(admission_from="2023-06-30", admission_to=dt.date(2024, 12, 31)))
    assert out.index.tolist() == [1, 2, 3]


def test_categorical_filters_combine_with_and(cohort):
    spec = FilterSpec(levels=("iop", "op"), substances=("alcohol",))
    # iop/op rows: 0, 2, 3; alcohol rows: 0, 3 (row 2 has no substance, so it is dropped)
    assert apply_filters(cohort, spec).index.tolist() == [0, 3]
    assert apply_filters(cohort, FilterSpec(age_bands=("<25",))).index.tolist() == [0, 2]
    assert apply_filters(cohort, FilterSpec(sites=("South",), payers=("medicaid",))).index.tolist() == [4]


def test_co_occurring_filter_drops_missing(cohort):
    assert apply_filters(cohort, FilterSpec(co_occurring=True)).index.tolist() == [0, 3]
    assert apply_filters(cohort, FilterSpec(co_occurring=False)).index.tolist() == [1, 4]


def test_missing_column_is_a_sentence(cohort):
    with pytest.raises(ValueError, match="no admission dates"):
        apply_filters(cohort.drop(columns="admission_date"), FilterSpec(admission_from="2023-01-01"))
    with pytest.raises(ValueError, match="'site'"):
        apply_filters(cohort.drop(columns="site"), FilterSpec(sites=("North",)))


def test_backwards_range_rejected():
    with pytest.raises(ValueError, match="starts"):
        FilterSpec(admission_from="2024-01-02", admission_to="2024-01-01")


def test_describe_and_query_round_trip():
    spec = FilterSpec(admission_from="2023-01-01", admission_to="2024-12-31", levels=("iop", "residential"),
                      co_occurring=False, sites=("North, Suite 2",))
    assert spec.describe() == ("Admitted 2023-01-01 to 2024-12-31; levels IOP, Residential; "
                               "without a co-occurring disorder; sites North, Suite 2")
    q = spec.to_query()
    assert q == {"from": "2023-01-01", "to": "2024-12-31", "level": ["iop", "residential"], "cooc": "no",
                 "site": ["North, Suite 2"]}
    assert FilterSpec.from_query(q) == spec
    assert FilterSpec.from_query({"level": "iop", "other": "x"}) == FilterSpec(levels=("iop",))
    assert hash(spec) == hash(FilterSpec.from_query(q))


def test_filter_options_keep_level_order(cohort):
    opts = filter_options(cohort)
    assert opts["levels"] == ["detox", "residential", "iop", "op"]
    assert opts["substances"] == ["alcohol", "opioids"]
    assert opts["age_bands"] == ["<25", "25-34", "35-44", "55+"]


def test_filters_on_a_million_rows():
    n = 1_000_000
    rng = np.random.default_rng(1)
    big = pd.DataFrame({
        "admission_date": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1400, n), unit="D"),
        "level_of_care": pd.Categorical(rng.choice(["iop", "op", "residential"], n)),
        "site": rng.choice(["North", "South", "East"], n).astype(object),
        "co_occurring": pd.array(rng.random(n) < 0.4, dtype="boolean"),
    })
    spec = FilterSpec(admission_from="2023-01-01", levels=("iop",), sites=("North", "East"), co_occurring=True)
    out = apply_filters(big, spec)  # vectorised masks; speed is measured in benchmarks/, not asserted
    expected = ((big["admission_date"] >= "2023-01-01") & (big["level_of_care"] == "iop")
                & big["site"].isin(["North", "East"]) & big["co_occurring"].to_numpy(dtype=bool))
    assert len(out) == int(expected.sum())


def test_csv_neutralises_formulas_but_not_numbers():
    df = pd.DataFrame({"label": ["=HYPERLINK(\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "ok", "-12.5%",
                                 "-3"],
                       "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9]})
    out = neutralize_formulas(df)
    # a tab or carriage return at the start becomes a space (no control characters in a CSV cell): plain text
    assert out["label"].tolist() == ["'=HYPERLINK(\"x\")", "'+1+2", "'-2+3", "'@SUM(A1)", " cmd", " cmd", "ok",
                                     "-12.5%", "-3"]
    assert out["n"].tolist() == df["n"].tolist()
    assert neutralize_formulas(pd.DataFrame({"=cmd": [1]})).columns.tolist() == ["'=cmd"]


def test_csv_has_provenance_header_and_suppressed_text():
    prov = Provenance(source="episodes.csv", content_hash="abcdef0123456789", filters="All episodes (no filters)",
                      origin="discharge", by="level_of_care", rows_used=5000, rows_excluded=3, min_cell=11,
                      created="2026-01-01 00:00 UTC")
    data = to_csv_bytes(pd.DataFrame({"group": ["iop", "op"], "n": ["<11", "120"]}), prov).decode("utf-8")
    lines = data.splitlines()
    assert lines[0] == "# source: episodes.csv (sha256 abcdef012345)"
    assert "# time origin: discharge" in lines
    assert "# rows: 5,000 used, <11 excluded by validation" in lines  # 3 is a small count too
    assert f"# analysis version: Continuum {__version__}" in lines
    assert lines[-3:] == ["group,n", "iop,<11", "op,120"]
    assert prov.text().startswith("Source: episodes.csv (sha256 abcdef012345) | Filters: All episodes")
    assert "Time origin: discharge" in prov.text()
    no_origin = Provenance("x.csv", "", "All", None, "site", 1, 0, 11)
    assert "origin" not in no_origin.text() and no_origin.version == __version__
