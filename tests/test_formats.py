"""The same data as CSV, Parquet and Excel: identical validation reports and outcomes; typed columns used
as they are; blank strings missing in every reader; a Parquet index kept."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import derive_cohort
from analysis.io import read_table
from analysis.loading import load_episodes
from analysis.report import outcomes_report

TODAY = "2026-11-25"


def _episodes(n=200, seed=7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    adm = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    los = rng.integers(5, 120, n)
    dis = adm + pd.to_timedelta(los, unit="D")
    rel = dis + pd.to_timedelta(rng.integers(1, 400, n), unit="D")
    has_rel = rng.random(n) < 0.5
    contact = dis + pd.to_timedelta(rng.integers(1, 500, n), unit="D")
    return pd.DataFrame({
        "episode_id": [f"E{i}" for i in range(n)], "client_id": rng.integers(1000, 1100, n),
        "level_of_care": rng.choice(["IOP", "Residential", "Outpatient"], n),
        "admission_date": adm, "discharge_date": dis,
        "discharge_reason": rng.choice(["Completed", "AMA", "Transferred"], n),
        "relapse_date": pd.Series(rel).where(has_rel), "last_contact_date": contact,
        "age": rng.integers(18, 70, n).astype(float), "BECK": rng.normal(20, 8, n).round(1),
        "ARM": rng.choice(["A", "B"], n)})


def _as_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, date_format="%Y-%m-%d").encode()


def _as_parquet(frame: pd.DataFrame, **kwargs) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, **kwargs)
    return buf.getvalue()


def _as_xlsx(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    return buf.getvalue()


@pytest.fixture(scope="module")
def loaded():
    frame = _episodes()
    frame.loc[3, "age"] = np.nan
    files = {"csv": _as_csv(frame), "parquet": _as_parquet(frame, index=False), "xlsx": _as_xlsx(frame)}
    return {fmt: load_episodes(data, name=f"e.{fmt}", today=TODAY) for fmt, data in files.items()}


def test_same_validation_report_in_every_format(loaded):
    reports = {fmt: r.report for fmt, r in loaded.items()}
    base = reports["csv"]
    assert base.n_rows_accepted == 200
    for fmt, rep in reports.items():
        assert (rep.n_rows_read, rep.n_rows_accepted, rep.n_rows_excluded) == (200, 200, 0), fmt
        pd.testing.assert_frame_equal(rep.problems, base.problems)
        assert rep.notes == base.notes
    infos = {fmt: [(i.source, i.role, i.type) for i in r.columns] for fmt, r in loaded.items()}
    assert infos["parquet"] == infos["csv"] == infos["xlsx"]


def test_same_episode_table_and_outcomes_in_every_format(loaded):
    tables = {fmt: r.episodes for fmt, r in loaded.items()}
    for fmt, table in tables.items():
        pd.testing.assert_frame_equal(table, tables["csv"], check_dtype=True, obj=fmt)
    dicts = {fmt: outcomes_report(derive_cohort(r.episodes), adjust=["age", "BECK"]).to_dict()
             for fmt, r in loaded.items()}
    assert dicts["parquet"] == dicts["csv"] == dicts["xlsx"]


def test_blank_strings_are_missing_in_parquet_as_in_csv():
    """A valid Parquet file whose missing dates are empty strings (common in exports) loses no row."""
    frame = _episodes()
    text = frame.astype({"relapse_date": object})
    text["relapse_date"] = frame["relapse_date"].dt.strftime("%Y-%m-%d").fillna("")
    text["discharge_reason"] = text["discharge_reason"].where(np.arange(200) % 7 != 0, "  ")
    pq = load_episodes(_as_parquet(text, index=False), name="e.parquet", today=TODAY)
    csv = load_episodes(_as_csv(text), name="e.csv", today=TODAY)
    assert pq.report.n_rows_accepted == csv.report.n_rows_accepted == 200
    assert pq.episodes["relapse_date"].isna().sum() == frame["relapse_date"].isna().sum()
    pd.testing.assert_frame_equal(pq.report.problems, csv.report.problems)


def test_typed_parquet_columns_are_used_as_they_are():
    frame = _episodes()
    raw = read_table(_as_parquet(frame, index=False), name="e.parquet")
    assert pd.api.types.is_datetime64_any_dtype(raw["admission_date"])
    assert raw["age"].dtype == "float64"


def test_parquet_index_is_read_not_lost():
    frame = _episodes().set_index("episode_id")
    raw = read_table(_as_parquet(frame), name="e.parquet")
    assert raw.columns[0] == "episode_id" and raw["episode_id"].iloc[5] == "E5"
    result = load_episodes(_as_parquet(frame), name="e.parquet", today=TODAY)
    assert result.mapping["episode_id"] == "episode_id"
