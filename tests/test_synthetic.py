"""Synthetic generator: structure, consistency and calibration against the published bands.

Calibration figures are computed the way the app computes them: canonical dtypes ->
analysis.cohort.derive_cohort -> lifelines KaplanMeierFitter (relapse = event_discharge == 1,
death and loss to follow-up censored) for the one-year cumulative relapse after discharge.
Each band is checked on the default sample (n=5000, wider bands for sampling error) and on a
large sample (n=200,000) where the band is the target itself. Targets: shared/domain.md §1, §3.
"""
import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from analysis import synthetic_cli
from analysis.cohort import analysis_rows, derive_cohort
from analysis.schema import DISCHARGE_REASONS, LEVELS_OF_CARE
from analysis.synthetic import DEFAULT_SEED, SITES, SUBSTANCES, WEEKLY_HOURS, generate_episodes

AS_OF = pd.Timestamp("2026-06-30")
DATE_COLUMNS = ["admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date"]
COLUMNS = ["episode_id", "client_id", "level_of_care", "admission_date", "discharge_date",
           "discharge_reason", "relapse_date", "last_contact_date", "death_date", "age", "sex",
           "race_ethnicity", "primary_substance", "co_occurring", "prior_treatments", "payer", "site",
           "hours_attended", "hours_scheduled"]
LARGE_N = 200_000


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Generator output -> canonical dtypes of docs/architecture.md (what validation produces)."""
    ep = frame.copy()
    ep["level_of_care"] = pd.Categorical(ep["level_of_care"], categories=LEVELS_OF_CARE, ordered=True)
    ep["discharge_reason"] = pd.Categorical(ep["discharge_reason"], categories=DISCHARGE_REASONS)
    ep["prior_treatments"] = ep["prior_treatments"].astype("Int64")
    ep["co_occurring"] = ep["co_occurring"].map({"yes": True, "no": False}).astype("boolean")
    for col in ("age", "hours_attended", "hours_scheduled", "los_days", "days_to_relapse"):
        if col in ep.columns:
            ep[col] = ep[col].astype("float64")
    if "relapsed" in ep.columns:
        ep["relapsed"] = ep["relapsed"].astype("boolean")
    ep.attrs = {"shape": frame.attrs["shape"], "as_of": AS_OF}
    return ep


def one_year_relapse(cohort: pd.DataFrame) -> tuple[float, float]:
    """(1-KM at 365 days from discharge, share of those one-year relapses reached by day 90)."""
    rows = analysis_rows(cohort, "discharge")
    km = KaplanMeierFitter().fit(rows["time_discharge_days"], rows["event_discharge"] == 1)
    s = km.survival_function_at_times([90, 365]).to_numpy()
    return 1 - s[1], (1 - s[0]) / (1 - s[1])


@pytest.fixture(scope="module")
def sample():
    return generate_episodes()


@pytest.fixture(scope="module")
def large():
    return generate_episodes(LARGE_N, seed=7)


@pytest.fixture(scope="module")
def cohorts(sample, large):
    return {"sample": derive_cohort(canonical(sample)), "large": derive_cohort(canonical(large))}


# ----------------------------------------------------------------- structure and reproducibility

def test_columns_types_and_identifiers(sample):
    assert list(sample.columns) == COLUMNS and len(sample) == 5000
    assert sample.attrs["shape"] == "dates" and sample.attrs["as_of"] == AS_OF
    for col in DATE_COLUMNS:
        assert sample[col].dtype == "datetime64[ns]"
    assert sample["episode_id"].is_unique
    assert sample["episode_id"].iloc[0] == "E000001" and sample["episode_id"].iloc[-1] == "E005000"
    assert sample["episode_id"].str.fullmatch(r"E\d{6}").all()
    assert sample["client_id"].str.fullmatch(r"C\d{5}").all() and sample["client_id"].iloc[0] == "C00001"
    assert set(sample["level_of_care"]) == set(LEVELS_OF_CARE)
    assert set(sample["discharge_reason"].dropna()) == set(DISCHARGE_REASONS)
    assert set(sample["sex"]) == {"female", "male"}
    assert set(sample["co_occurring"]) == {"yes", "no"}
    assert set(sample["primary_substance"]) == set(SUBSTANCES)
    assert set(sample["payer"]) == {"medicaid", "private", "medicare", "self_pay", "other"}
    assert set(sample["site"]) == set(SITES)
    assert sample["age"].between(18, 75).all() and sample["age"].dtype == "int64"
    assert (sample["prior_treatments"] >= 0).all()
    # no direct identifiers
    assert not any(re.search(r"name|address|phone|mail|ssn|mrn|birth", c) for c in sample.columns)


def test_same_seed_same_frame_other_seed_differs(sample):
    pd.testing.assert_frame_equal(generate_episodes(), sample)
    other = generate_episodes(seed=DEFAULT_SEED + 1)
    assert not other["admission_date"].equals(sample["admission_date"])


@pytest.mark.parametrize("n", [1, 7, 123])
def test_small_n_is_exact(n):
    assert len(generate_episodes(n, seed=3)) == n


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "positive"), ({"n": 2.5}, "positive"), ({"shape": "wide"}, "shape"),
    ({"start": "2025-01-01", "end": "2024-01-01"}, "start before"),
    ({"as_of": "2025-01-01"}, "extraction date"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_episodes(**kwargs)


def test_dates_are_consistent(sample, large):
    for df in (sample, large):
        adm, dis = df["admission_date"], df["discharge_date"]
        assert adm.min() >= pd.Timestamp("2022-01-01") and adm.max() <= AS_OF
        assert (dis.dropna() >= adm[dis.notna()]).all() and dis.max() <= AS_OF
        # no reason while in treatment, a reason once discharged
        assert (dis.isna() == df["discharge_reason"].isna()).all()
        rel = df["relapse_date"]
        assert (rel.dropna() >= adm[rel.notna()]).all() and rel.max() <= AS_OF
        assert (df["last_contact_date"] >= adm).all() and (df["last_contact_date"] <= AS_OF).all()
        discharged = dis.notna()
        assert (df.loc[discharged, "last_contact_date"] >= dis[discharged]).all()
        death = df["death_date"]
        assert (death.dropna() >= adm[death.notna()]).all() and death.max() <= AS_OF
        assert (rel[death.notna() & rel.notna()] <= death[death.notna() & rel.notna()]).all()
        assert (df.loc[death.notna(), "last_contact_date"] <= death[death.notna()]).all()
        died = df["discharge_reason"] == "died"
        assert (df.loc[died, "death_date"] == dis[died]).all()


def test_admission_window_first_episodes_2022_2025(sample, large):
    for df in (sample, large):
        first = df.drop_duplicates("client_id")
        assert first["admission_date"].between("2022-01-01", "2025-12-31").all()
        # step-downs and readmissions may continue into 2026: a small share
        assert df["admission_date"].between("2022-01-01", "2025-12-31").mean() > 0.95
        years = df["admission_date"].dt.year.value_counts()
        assert all(years[y] > 0.15 * len(df) for y in (2022, 2023, 2024, 2025))


def test_episodes_of_a_client_do_not_overlap(large):
    df = large.sort_values(["client_id", "admission_date"])
    same = df["client_id"].eq(df["client_id"].shift())
    prev_dis = df["discharge_date"].shift()
    assert (df.loc[same, "admission_date"] >= prev_dis[same]).all()


# ----------------------------------------------------------------- levels, step-downs, severity

@pytest.mark.parametrize("which, tol", [("sample", 0.03), ("large", 0.012)])
def test_level_mix(sample, large, which, tol):
    df = {"sample": sample, "large": large}[which]
    share = df["level_of_care"].value_counts(normalize=True)
    target = {"detox": 0.12, "inpatient": 0.05, "residential": 0.20, "php": 0.10, "iop": 0.28, "op": 0.25}
    for level, p in target.items():
        assert abs(share[level] - p) <= tol, (level, share[level])


def test_step_downs(sample, large):
    order = {code: i for i, code in enumerate(LEVELS_OF_CARE)}
    for df in (sample, large):
        df = df.sort_values(["client_id", "admission_date"])
        nxt = df.groupby("client_id").shift(-1)
        gap = (nxt["admission_date"] - df["discharge_date"]).dt.days
        step = gap.between(0, 14) & (nxt["level_of_care"].map(order) > df["level_of_care"].map(order))
        assert (df["client_id"].value_counts() > 1).mean() > 0.2  # several episodes for some clients
        for level in ("residential", "inpatient", "php", "detox"):
            done = (df["level_of_care"] == level) & (df["discharge_reason"] == "completed")
            assert 0.3 < step[done].mean() < 0.75, level
        res = df["level_of_care"] == "residential"
        assert set(nxt.loc[res & step, "level_of_care"]) == {"php", "iop"}
        assert set(nxt.loc[(df["level_of_care"] == "iop") & step, "level_of_care"]) == {"op"}
        assert set(nxt.loc[(df["level_of_care"] == "detox") & step, "level_of_care"]) <= {
            "residential", "iop", "op"}
        # a step-down never follows an unfinished stay
        assert df.loc[step, "discharge_reason"].isin(["completed", "transferred"]).all()


@pytest.mark.parametrize("which", ["sample", "large"])
def test_severity_confounding(sample, large, which):
    df = {"sample": sample, "large": large}[which]
    res, iop = df[df["level_of_care"] == "residential"], df[df["level_of_care"] == "iop"]
    assert res["prior_treatments"].mean() > iop["prior_treatments"].mean() + 0.3
    assert (res["co_occurring"] == "yes").mean() > (iop["co_occurring"] == "yes").mean() + 0.15
    hard = ["opioids", "methamphetamine"]
    assert res["primary_substance"].isin(hard).mean() > iop["primary_substance"].isin(hard).mean() + 0.08


# ----------------------------------------------------------------- retention

@pytest.mark.parametrize("which, tol", [("sample", 0.08), ("large", 0.03)])
def test_completion_by_level_as_teds_2004(cohorts, which, tol):
    c = cohorts[which]
    rate = c[~c["in_treatment"]].groupby("level_of_care", observed=True)["completed"].mean()
    target = {"detox": 0.62, "inpatient": 0.69, "residential": 0.52, "php": 0.50, "iop": 0.40, "op": 0.36}
    for level, p in target.items():
        assert abs(rate[level] - p) <= tol, (level, rate[level])
    assert 0.45 <= rate["residential"] <= 0.60 or which == "sample"


@pytest.mark.parametrize("which", ["sample", "large"])
def test_discharge_reason_mix(cohorts, which):
    reasons = cohorts[which]["discharge_reason"].value_counts(normalize=True)
    assert 0.40 < reasons["completed"] < 0.52
    assert 0.20 < reasons["dropped_out"] < 0.35
    assert 0.08 < reasons["transferred"] < 0.20 and 0.04 < reasons["terminated"] < 0.10
    assert 0.005 < reasons["incarcerated"] < 0.03 and 0.0005 < reasons["died"] < 0.01


@pytest.mark.parametrize("which", ["sample", "large"])
def test_lengths_of_stay(cohorts, which):
    c = cohorts[which]
    done = c[~c["in_treatment"]]
    comp = done[done["completed"]]
    los = comp.groupby("level_of_care", observed=True)["los_days"]
    assert los.min()["detox"] >= 3 and los.max()["detox"] <= 7
    assert los.min()["inpatient"] >= 5 and los.max()["inpatient"] <= 21
    assert 25 <= los.median()["residential"] <= 35 and los.max()["residential"] >= 180
    assert los.min()["php"] >= 14 and los.max()["php"] <= 42
    assert 60 <= los.median()["iop"] <= 90
    assert 90 <= los.median()["op"] <= 180
    assert 18 <= done[done["level_of_care"] == "residential"]["los_days"].median() <= 35
    non = done[~done["completed"]].groupby("level_of_care", observed=True)["los_days"].median()
    assert (non < los.median()).all()  # non-completers leave earlier at every level


def test_length_of_stay_tail_like_teds(cohorts):
    los = cohorts["large"].query("~in_treatment")["los_days"]
    # TEDS-D 2019 pooled: 45.7% > 30 days, 26.2% > 90, 12.9% > 180, 5.4% > 365 (program mix differs)
    assert 0.40 < (los > 30).mean() < 0.55
    assert 0.12 < (los > 90).mean() < 0.30
    assert 0.04 < (los > 180).mean() < 0.15
    assert 0.01 < (los > 365).mean() < 0.06


@pytest.mark.parametrize("which", ["sample", "large"])
def test_hours_follow_asam_intensity(cohorts, which):
    c = cohorts[which]
    long_enough = c["los_days"] >= 7
    weekly = c["hours_scheduled"] / (c["los_days"] / 7)
    for level, (lo, hi) in WEEKLY_HOURS.items():
        w = weekly[long_enough & (c["level_of_care"] == level)].dropna()
        assert w.min() >= lo and w.max() <= hi + 0.5, level
    assert WEEKLY_HOURS["iop"][0] >= 9 and WEEKLY_HOURS["php"][0] >= 20 and WEEKLY_HOURS["op"][1] < 9
    both = c["hours_attended"].notna() & c["hours_scheduled"].notna()
    ratio = c.loc[both, "hours_attended"] / c.loc[both, "hours_scheduled"]
    assert ratio.between(0.45, 1.0).all()
    dropout = c.loc[both, "discharge_reason"] == "dropped_out"
    assert ratio[dropout].mean() < ratio[c.loc[both, "completed"]].mean() - 0.1
    assert 0.02 < c["hours_scheduled"].isna().mean() < 0.08
    assert c["hours_attended"].isna().mean() > c["hours_scheduled"].isna().mean()


@pytest.mark.parametrize("which", ["sample", "large"])
def test_still_in_treatment_at_as_of(cohorts, which):
    c = cohorts[which]
    share = c["in_treatment"].mean()
    assert 0.025 <= share <= 0.05, share
    recent = c.loc[c["in_treatment"], "admission_date"]
    assert (recent >= pd.Timestamp("2023-06-30")).all() and recent.median() >= pd.Timestamp("2025-06-01")


# ----------------------------------------------------------------- relapse, follow-up, deaths

@pytest.mark.parametrize("which, band, early_band", [
    ("sample", (0.44, 0.56), (0.58, 0.72)), ("large", (0.47, 0.53), (0.60, 0.70))])
def test_one_year_relapse_after_discharge(cohorts, which, band, early_band):
    # McLellan et al. JAMA 2000: 40-60% within a year; Hunt et al. 1971: 60-70% of them by 3 months
    risk, early = one_year_relapse(cohorts[which])
    assert band[0] <= risk <= band[1], risk
    assert early_band[0] <= early <= early_band[1], early


def test_km_matches_a_hand_computed_product_limit(cohorts):
    # independent check of the KM figure: product over event days of (1 - d/n)
    rows = analysis_rows(cohorts["sample"], "discharge")
    t = rows["time_discharge_days"].to_numpy()
    e = (rows["event_discharge"] == 1).to_numpy()
    days = np.unique(t[e & (t <= 365)])
    at_risk = np.array([(t >= d).sum() for d in days])
    events = np.array([(e & (t == d)).sum() for d in days])
    by_hand = 1 - np.prod(1 - events / at_risk)
    assert one_year_relapse(cohorts["sample"])[0] == pytest.approx(by_hand, abs=1e-12)


@pytest.mark.parametrize("which", ["sample", "large"])
def test_relapse_in_treatment_more_in_outpatient(cohorts, which):
    c = cohorts[which]
    c = c[~c["in_treatment"]]
    share = c.groupby("level_of_care", observed=True)["relapse_in_treatment"].mean()
    assert 0.02 < share.mean() < 0.15
    assert share["op"] > share["residential"] + 0.04 and share["iop"] > share["residential"] + 0.03
    assert share["residential"] > 0  # some relapses even in 24-hour care


@pytest.mark.parametrize("which", ["sample", "large"])
def test_loss_to_follow_up(sample, large, which):
    df = {"sample": sample, "large": large}[which]
    # people discharged at least a year before extraction, so a full year could be observed
    eligible = df[df["discharge_date"] <= AS_OF - pd.Timedelta(days=365)]
    follow = (eligible["last_contact_date"] - eligible["discharge_date"]).dt.days
    lost = (follow < 300) & eligible["death_date"].isna()
    assert 0.20 <= lost.mean() <= 0.30, lost.mean()
    followed = follow[~lost & eligible["death_date"].isna()]
    assert followed.between(365, 540).all()


@pytest.mark.parametrize("which", ["sample", "large"])
def test_deaths(cohorts, which):
    c = cohorts[which]
    died = c["death_date"].notna()
    assert 0.01 <= died.mean() <= 0.02, died.mean()
    after_relapse = died & c["relapse_date"].notna() & (c["relapse_date"] <= c["death_date"])
    assert after_relapse.sum() > 0.4 * died.sum()  # overdose after a return to use
    assert (c["event_discharge"] == 2).sum() > 0.2 * died.sum()  # competing: no relapse before death
    overdose_gap = (c.loc[after_relapse, "death_date"] - c.loc[after_relapse, "relapse_date"]).dt.days
    assert overdose_gap.median() <= 14


def test_naive_relapse_comparison_is_confounded(cohorts):
    c = cohorts["large"]
    c = c[~c["in_treatment"]]
    res = c[c["level_of_care"] == "residential"]
    iop = c[c["level_of_care"] == "iop"]
    # residential clients are more severe, so their naive post-discharge relapse is not lower
    assert one_year_relapse(res)[0] >= one_year_relapse(iop)[0]


# ----------------------------------------------------------------- durations shape

def test_durations_shape_agrees_with_dates(sample):
    dur = generate_episodes(shape="durations")
    assert dur.attrs["shape"] == "durations"
    assert {"los_days", "days_to_relapse", "relapsed"} <= set(dur.columns)
    assert not set(DATE_COLUMNS) & set(dur.columns)
    assert (dur["episode_id"] == sample["episode_id"]).all()
    from_dates = derive_cohort(canonical(sample))
    from_durations = derive_cohort(canonical(dur))
    np.testing.assert_array_equal(from_durations["los_days"], from_dates["los_days"].where(
        ~from_dates["in_treatment"]))
    np.testing.assert_array_equal(dur["relapsed"] == 1, from_dates["event_admission"] == 1)
    alive = from_dates["event_admission"] != 2
    np.testing.assert_array_equal(dur.loc[alive, "days_to_relapse"],
                                  from_dates.loc[alive, "time_admission_days"])
    assert from_durations["in_treatment"].sum() == from_dates["in_treatment"].sum()
    assert one_year_relapse(from_durations)[0] == pytest.approx(one_year_relapse(from_dates)[0], abs=0.02)


# ----------------------------------------------------------------- speed

@pytest.mark.slow
def test_one_million_episodes():
    # speed is measured by benchmarks/bench_load.py, not asserted here
    df = generate_episodes(1_000_000)
    assert len(df) == 1_000_000 and df["episode_id"].is_unique
    assert df["episode_id"].iloc[-1] == "E1000000"


# ----------------------------------------------------------------- command line

def _args(tmp_path, name, **kw):
    return argparse.Namespace(out=tmp_path / name, n=kw.get("n", 300), seed=kw.get("seed", 11),
                              format=kw.get("format"), run=synthetic_cli.run)


def test_cli_writes_csv_that_reads_back(tmp_path, capsys):
    assert synthetic_cli.run(_args(tmp_path, "ep.csv")) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("wrote 300 synthetic episodes") and "seed 11" in out and len(out.splitlines()) == 1
    text = (tmp_path / "ep.csv").read_text()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    back = pd.read_csv(tmp_path / "ep.csv", dtype=str, keep_default_na=False)
    expected = generate_episodes(300, seed=11)
    assert (back["admission_date"] == expected["admission_date"].dt.strftime("%Y-%m-%d")).all()
    assert (back["discharge_date"] == expected["discharge_date"].dt.strftime("%Y-%m-%d").fillna("")).all()
    assert back["admission_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert (back["discharge_reason"] == expected["discharge_reason"].fillna("")).all()


def test_cli_writes_parquet(tmp_path):
    assert synthetic_cli.run(_args(tmp_path, "ep.parquet", n=50, format="parquet")) == 0
    back = pd.read_parquet(tmp_path / "ep.parquet")
    pd.testing.assert_frame_equal(back, generate_episodes(50, seed=11), check_like=False, check_exact=True,
                                  check_dtype=False)


def test_cli_parser_registration():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    synthetic_cli.add_parser(sub)
    args = parser.parse_args(["sample", "--out", "x.csv"])
    assert args.n == 5000 and args.seed == DEFAULT_SEED and args.run is synthetic_cli.run
    args = parser.parse_args(["sample", "--out", "x.pq", "--n", "10", "--seed", "3", "--format", "parquet"])
    assert (args.n, args.seed, args.format) == (10, 3, "parquet")
    with pytest.raises(SystemExit):
        parser.parse_args(["sample", "--out", "x", "--format", "xlsx"])


def test_cli_rejects_bad_n(tmp_path):
    with pytest.raises(ValueError, match="--n"):
        synthetic_cli.run(_args(tmp_path, "x.csv", n=0))


# ----------------------------------------------------------------- committed sample

def test_committed_sample_matches_a_fresh_run(tmp_path):
    committed = Path(__file__).resolve().parents[1] / "sample_data" / "episodes.csv"
    args = argparse.Namespace(out=tmp_path / "episodes.csv", n=5000, seed=DEFAULT_SEED, format=None)
    assert synthetic_cli.run(args) == 0
    assert (tmp_path / "episodes.csv").read_bytes() == committed.read_bytes()


def test_committed_sample_readme_figures(sample, cohorts):
    # the headline numbers quoted in sample_data/README.md
    risk, early = one_year_relapse(cohorts["sample"])
    assert round(risk * 100, 1) == 50.7 and round(early * 100, 1) == 64.3
    assert int(cohorts["sample"]["in_treatment"].sum()) == 154
    assert sample["client_id"].nunique() == 3157 and int(sample["death_date"].notna().sum()) == 90
