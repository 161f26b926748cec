"""One day/month order for a whole file, and ISO date-times with a time zone, in both paths.

The app path (:func:`analysis.loading.load_episodes`) and the command line (engine) read the same
files the same way: a DD/MM file whose death dates all have a day of 12 or less is read day first in
every column (as its other columns show), a file where nothing tells the order says which order was
used, and ``2022-01-01T23:30:00-05:00`` is the date written (2022-01-01), not converted to UTC.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import analysis.cli as cli
from analysis.engine.load import open_engine
from analysis.loading import load_episodes
from analysis.parsing import decide_date_order, parse_dates

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv"
DATES = ["admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date"]


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    for col in DATES:
        frame[col] = pd.to_datetime(frame[col].replace("", None), format="%Y-%m-%d")
    return frame


def _write(frame: pd.DataFrame, path: Path, fmt: str | dict[str, str]) -> Path:
    out = frame.copy()
    for col in DATES:
        f = fmt[col] if isinstance(fmt, dict) else fmt
        out[col] = out[col].map(lambda d, f=f: "" if pd.isna(d) else d.strftime(f))
    out.to_csv(path, index=False)
    return path


def _cli(path: Path, *extra: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["outcomes", str(path), "--json", "--min-cell", "1", *extra])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def _app(path: Path, **kwargs):
    result = load_episodes(path.read_bytes(), name=path.name, today="2030-01-01", **kwargs)
    assert result.report.fatal is None, result.report.fatal
    return result


def _same_dates(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a[DATES].reset_index(drop=True), b[DATES].reset_index(drop=True))


@pytest.fixture(scope="module")
def sparse_death(sample, tmp_path_factory) -> tuple[Path, Path]:
    """300 rows (every death with a day of 12 or less) written DD/MM/YYYY, keeping only the death dates whose day is 12 or less (and the ISO twin)."""
    dead = sample["death_date"].notna() & (sample["death_date"].dt.day <= 12)
    rows = pd.concat([sample[dead], sample[~dead].iloc[:300 - int(dead.sum())]]).sort_index()
    rows.loc[rows["death_date"].dt.day > 12, "death_date"] = pd.NaT
    deaths = rows["death_date"].dropna()
    assert len(deaths) >= 3 and (deaths.dt.day != deaths.dt.month).any()  # month first would read them wrong
    assert (rows["admission_date"].dt.day > 12).any()
    folder = tmp_path_factory.mktemp("sparse")
    return _write(rows, folder / "dmy.csv", "%d/%m/%Y"), _write(rows, folder / "iso.csv", "%Y-%m-%d")


def test_sparse_death_column_read_day_first_in_app(sparse_death):
    dmy, iso = (_app(p) for p in sparse_death)
    assert len(dmy.episodes) == len(iso.episodes)
    assert dmy.report.n_rows_excluded == iso.report.n_rows_excluded
    _same_dates(dmy.episodes, iso.episodes)
    note = [n for n in dmy.report.notes if n.startswith("Dates read day first (DD/MM/YYYY)")]
    assert note and "admission_date" in note[0]
    assert not any("day first" in n or "month first" in n for n in iso.report.notes)


def test_sparse_death_column_read_day_first_in_cli(sparse_death):
    dmy, iso = (_cli(p) for p in sparse_death)
    assert (dmy["n_episodes"], dmy["n_used"]) == (iso["n_episodes"], iso["n_used"])
    assert dmy["groups"] == iso["groups"]
    assert dmy["logrank"] == iso["logrank"]
    assert any(n.startswith("Dates read day first (DD/MM/YYYY)") for n in dmy["load_notes"])


def test_both_paths_give_the_same_notes_and_rows(sparse_death):
    app = _app(sparse_death[0])
    with open_engine(str(sparse_death[0]), today="2030-01-01") as engine:
        assert engine.report.fatal is None
        assert engine.report.notes == app.report.notes
        assert engine.report.n_rows_excluded == app.report.n_rows_excluded


@pytest.fixture(scope="module")
def low_days(sample, tmp_path_factory) -> tuple[Path, Path]:
    """The rows whose dates all have a day of 12 or less, written DD/MM/YYYY (and ISO)."""
    keep = pd.Series(True, index=sample.index)
    for col in DATES:
        keep &= sample[col].isna() | (sample[col].dt.day <= 12)
    rows = sample[keep]
    assert len(rows) >= 20
    folder = tmp_path_factory.mktemp("low")
    return _write(rows, folder / "dmy.csv", "%d/%m/%Y"), _write(rows, folder / "iso.csv", "%Y-%m-%d")


def test_undecidable_order_is_said(low_days):
    app = _app(low_days[0])
    said = [n for n in app.report.notes if "could not be told from the values" in n]
    assert said and "month first (MM/DD/YYYY)" in said[0] and "--date-order dmy" in said[0]
    cli_notes = _cli(low_days[0])["load_notes"]
    assert any("could not be told from the values" in n and "month first (MM/DD/YYYY)" in n for n in cli_notes)


def test_stated_order_reads_the_file_right(low_days):
    dmy, iso = _app(low_days[0], date_order="dmy"), _app(low_days[1])
    assert len(dmy.episodes) == len(iso.episodes)
    _same_dates(dmy.episodes, iso.episodes)
    assert any("day first (DD/MM/YYYY), as stated" in n for n in dmy.report.notes)
    with open_engine(str(low_days[0]), today="2030-01-01", date_order="dmy") as engine:
        assert engine.report.n_rows_excluded == iso.report.n_rows_excluded
        assert engine.report.notes == dmy.report.notes
    assert load_episodes(low_days[0].read_bytes(), name="x.csv", date_order="ymd").report.fatal
    # the command line states it too (--date-order), and then equals the ISO file's numbers
    stated, clean = _cli(low_days[0], "--date-order", "dmy"), _cli(low_days[1])
    assert stated["groups"] == clean["groups"] and stated["logrank"] == clean["logrank"]


@pytest.mark.parametrize("suffix", ["-05:00", "Z", "+0530", ".250Z"])
def test_iso_datetimes_with_a_zone_are_the_dates_written(sample, tmp_path, suffix):
    rows = sample.iloc[:300]
    stamp = "%Y-%m-%dT23:30:00" + suffix
    zoned = _write(rows, tmp_path / "zoned.csv", {c: stamp if c in ("admission_date", "discharge_date")
                                                  else "%Y-%m-%d" for c in DATES})
    plain = _write(rows, tmp_path / "plain.csv", "%Y-%m-%d")
    a, b = _app(zoned), _app(plain)
    assert len(a.episodes) == len(b.episodes)
    _same_dates(a.episodes, b.episodes)
    x, y = _cli(zoned), _cli(plain)
    assert (x["n_used"], x["groups"], x["logrank"]) == (y["n_used"], y["groups"], y["logrank"])


def test_parse_and_decide_directly():
    parsed, bad = parse_dates(pd.Series(["2022-01-01T23:30:00-05:00", "2022-01-02T00:10:00Z", "03/04/2022"]),
                              order="dmy")
    assert list(parsed.dt.strftime("%Y-%m-%d")) == ["2022-01-01", "2022-01-02", "2022-04-03"]
    assert not bad.any()
    assert decide_date_order({"a": pd.Series(["14/03/2023"]), "b": pd.Series(["03/04/2023"])}).order == "dmy"
    assert decide_date_order({"a": pd.Series(["03/14/2023"])}).order == "mdy"
    split = decide_date_order({"a": pd.Series(["14/03/2023"]), "b": pd.Series(["03/14/2023"])})
    assert split.order is None and "disagree" in split.note
    assert decide_date_order({"a": pd.Series(["2023-03-04"])}).note is None
