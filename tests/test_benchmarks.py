"""Benchmarks: the packaged table's figures, validation of an organisation's file, placement."""
import numpy as np
import pandas as pd
import pytest

from analysis.benchmarks import (
    COLUMNS,
    BenchmarkBand,
    benchmark_band,
    compare_to_benchmark,
    load_benchmarks,
    organisation_targets,
    place_against_benchmarks,
    target_status,
)


@pytest.fixture(scope="module")
def table():
    return load_benchmarks()


def _row(table, id_):
    return table.set_index("id").loc[id_]


def test_packaged_table_columns_and_sources(table):
    assert list(table.columns) == [*COLUMNS, "provided_by"]
    assert table["id"].is_unique and (table["source"] != "").all()
    assert (table["provided_by"] == "Continuum").all()
    # every proportion in 0-1; hours/week rows say so in the unit column
    prop = table["unit"] != "hours/week"
    assert table.loc[prop, ["low", "high"]].stack().between(0, 1).all()


def test_packaged_figures_from_domain_brief(table):
    r = _row(table, "mclellan2000_relapse_365")
    assert (r.metric, r.horizon_days, r.origin, r.unit, r.low, r.high, r.year) == (
        "relapse", 365, "discharge", "person", 0.40, 0.60, 2000)
    assert "JAMA 2000;284(13):1689-95" in r.source
    ctx = table[table["id"].str.startswith("mclellan2000_context")]
    assert sorted(zip(ctx["low"], ctx["high"], strict=True)) == [(0.3, 0.5), (0.5, 0.7), (0.5, 0.7)]
    # symptom recurrence in other illnesses is another measure: shown for context, never placed
    assert (ctx["direction"] == "other_measure").all()
    assert _row(table, "hunt1971_relapse_timing")[["low", "high", "year"]].tolist() == [0.6, 0.7, 1971]
    mix = table[table["metric"].str.startswith("discharge_reason_") & (table["year"] == 2019)]
    assert mix["low"].sum() == pytest.approx(0.999)  # TEDS-D 2019 shares, rounded
    assert _row(table, "tedsd2019_discharge_reason_completed").low == 0.421
    los = table[table["metric"].str.startswith("los_over_")].set_index("metric")["low"]
    assert los.to_dict() == {"los_over_30_days": 0.457, "los_over_90_days": 0.262,
                             "los_over_180_days": 0.129, "los_over_365_days": 0.054}
    by_service = table[table["year"] == 2004].sort_values("low")
    assert by_service["level_of_care"].tolist() == ["op", "iop", "residential", "detox", "residential",
                                                    "inpatient"]
    assert by_service["low"].tolist() == [0.36, 0.38, 0.43, 0.62, 0.62, 0.69]
    niatx = table[table["id"].str.startswith("niatx")]
    assert niatx["year"].isna().all() and niatx["note"].str.contains("Year not known").all()
    hours = table[table["metric"] == "hours_per_week_min"].set_index("level_of_care")["low"]
    assert hours.to_dict() == {"iop": 9, "php": 20}


def test_organisation_file_appended_from_bytes_path_and_frame(tmp_path):
    csv = (b"id,metric,horizon_days,origin,unit,level_of_care,low,high,direction,source\n"
           b"our_relapse_90,relapse,90,discharge,person,Intensive Outpatient,0.2,0.3,lower_is_better,Board target\n")
    out = load_benchmarks(csv)
    own = out[out["provided_by"] == "organisation"].iloc[0]
    assert own["id"] == "our_relapse_90" and own["level_of_care"] == "iop" and own["horizon_days"] == 90
    assert own["note"] == "" and pd.isna(own["year"])
    path = tmp_path / "ours.csv"
    path.write_bytes(csv)
    assert len(load_benchmarks(path)) == len(out) == len(load_benchmarks(str(path)))
    frame = pd.read_csv(path)
    assert load_benchmarks(frame).iloc[-1]["id"] == "our_relapse_90"


@pytest.mark.parametrize(("change", "message"), [
    ({"drop": "low"}, "no column 'low'"),
    ({"low": 40, "high": 60}, "proportion outside 0-1"),
    ({"low": 0.5, "high": 0.4}, "low above high"),
    ({"low": "forty"}, "'low' that is not a number"),
    ({"direction": "best"}, "direction must be one of"),
    ({"unit": "clients"}, "unit must be one of"),
    ({"origin": "intake"}, "origin must be admission, discharge or blank"),
    ({"level_of_care": "moon base"}, "level of care 'moon base'"),
    ({"horizon_days": 30.5}, "'horizon_days' that is not a whole number"),
    ({"id": "mclellan2000_relapse_365"}, "reuses the packaged id"),
    ({"id": ""}, "empty 'id'"),
])
def test_invalid_organisation_file(change, message):
    row = {"id": "x1", "metric": "relapse", "horizon_days": 90, "origin": "discharge", "unit": "person",
           "level_of_care": "", "low": 0.2, "high": 0.3, "direction": "lower_is_better", "source": "ours"}
    if "drop" in change:
        del row[change["drop"]]
    else:
        row.update(change)
    with pytest.raises(ValueError, match=message):
        load_benchmarks(pd.DataFrame([row]))


def test_duplicate_ids_in_organisation_file():
    row = {"id": "x", "metric": "m", "unit": "person", "low": 0.1, "high": 0.2,
           "direction": "context", "source": "s"}
    with pytest.raises(ValueError, match="repeats the id 'x'"):
        load_benchmarks(pd.DataFrame([row, row]))


@pytest.mark.parametrize(("lower", "upper", "expected"), [
    (0.20, 0.35, "below"),        # entirely below 0.40-0.60
    (0.45, 0.55, "inside"),
    (0.40, 0.60, "inside"),       # ends included
    (0.35, 0.45, "overlapping"),
    (0.30, 0.70, "overlapping"),  # covers the band
    (0.35, 0.40, "overlapping"),  # touches the low end
    (0.61, 0.80, "above"),
])
def test_compare_to_benchmark_hand_examples(lower, upper, expected):
    assert compare_to_benchmark((lower + upper) / 2, lower, upper, 0.40, 0.60) == expected


def test_compare_to_benchmark_vectorised_point_band_and_missing():
    out = compare_to_benchmark([0.4, 0.5, 0.5, np.nan], [0.35, np.nan, 0.45, np.nan],
                               [0.45, np.nan, 0.55, np.nan], 0.421, 0.421)
    # point band 0.421: 0.35-0.45 across it -> overlapping; no interval -> point 0.5 above;
    # 0.45-0.55 entirely above 0.421 -> above; nothing known -> unknown
    assert out.tolist() == ["overlapping", "above", "above", "unknown"]


def test_place_against_benchmarks_joins_metric_horizon_origin_level(table):
    est = pd.DataFrame({
        "metric": ["relapse", "relapse", "discharge_reason_completed", "discharge_reason_completed"],
        "horizon_days": [365, 365, np.nan, np.nan],
        "origin": ["discharge", "admission", None, None],
        "level_of_care": ["iop", "iop", "residential", "all"],
        "estimate": [0.35, 0.30, 0.50, 0.45], "lower": [0.30, 0.25, 0.45, 0.40],
        "upper": [0.41, 0.36, 0.55, 0.50]})
    out = place_against_benchmarks(est, table)
    got = list(zip(out["metric"], out["level_of_care"], out["benchmark_id"], out["placement"], strict=True))
    assert got == [
        ("relapse", "iop", "mclellan2000_relapse_365", "overlapping"),   # 0.30-0.41 vs 0.40-0.60
        # admission-origin relapse has no benchmark: not matched
        ("discharge_reason_completed", "residential", "tedsd2019_discharge_reason_completed", "above"),
        ("discharge_reason_completed", "residential", "teds2004_completion_short_term_residential", "below"),
        ("discharge_reason_completed", "residential", "teds2004_completion_long_term_residential", "above"),
        ("discharge_reason_completed", "all", "tedsd2019_discharge_reason_completed", "overlapping"),
    ]
    assert {"benchmark_source", "benchmark_year", "benchmark_direction"} <= set(out.columns)


def test_place_against_benchmarks_matches_unit_when_given(table):
    est = pd.DataFrame({"metric": ["relapse"], "horizon_days": [365], "origin": ["discharge"],
                        "unit": ["episode"], "estimate": [0.5]})
    assert place_against_benchmarks(est, table).empty
    est["unit"] = "person"
    assert place_against_benchmarks(est, table)["placement"].tolist() == ["inside"]


def test_no_placement_for_a_suppressed_estimate_or_another_measure():
    # the estimate 0.30-0.41 would overlap 0.40-0.60; suppressed, it is not placed at all
    assert compare_to_benchmark(0.35, 0.30, 0.41, 0.40, 0.60, suppressed=True) == "suppressed"
    out = compare_to_benchmark([0.35, 0.35, 0.50], [0.30, 0.30, 0.45], [0.41, 0.41, 0.55], 0.40, 0.60,
                               suppressed=[False, True, np.nan], comparable=[True, True, False])
    assert out.tolist() == ["overlapping", "suppressed", "not_comparable"]


def test_place_against_benchmarks_suppressed_column_and_context_bands(table):
    est = pd.DataFrame({"metric": ["relapse", "relapse", "relapse"], "horizon_days": [365, 365, None],
                        "origin": ["discharge", "discharge", None], "level_of_care": ["iop", "op", ""],
                        "estimate": [0.5, 0.5, 0.5], "lower": [0.45, 0.45, 0.45], "upper": [0.55, 0.55, 0.55],
                        "suppressed": [False, True, False]})
    out = place_against_benchmarks(est, table)
    got = dict(zip(out["level_of_care"] + ":" + out["benchmark_id"], out["placement"], strict=True))
    assert got["iop:mclellan2000_relapse_365"] == "inside"
    assert got["op:mclellan2000_relapse_365"] == "suppressed"
    # the chronic-illness rows (no horizon, no origin) match the unstated-horizon estimate, unplaced
    ctx = {k: v for k, v in got.items() if "context" in k}
    assert len(ctx) == 3 and set(ctx.values()) == {"not_comparable"}


@pytest.mark.parametrize(("est", "lower", "upper", "direction", "expected"), [
    # target: completion at least 50% (band 0.5-1.0)
    (0.60, 0.55, 0.65, "higher_is_better", "met"),          # whole interval at or above 0.5
    (0.55, 0.50, 0.60, "higher_is_better", "met"),          # lower limit exactly on the target
    (0.52, 0.45, 0.59, "higher_is_better", "cannot_tell"),  # interval across 0.5
    (0.40, 0.35, 0.49, "higher_is_better", "not_met"),      # whole interval below
    (0.60, np.nan, np.nan, "higher_is_better", "met"),      # no interval: the point decides
    (np.nan, np.nan, np.nan, "higher_is_better", "no_estimate"),
    (0.60, 0.55, 0.65, "context", "not_a_target"),
])
def test_target_status_higher_is_better(est, lower, upper, direction, expected):
    assert target_status(est, lower, upper, 0.5, 1.0, direction) == expected


def test_target_status_lower_is_better_vectorised_and_suppressed():
    # target: 90-day relapse at most 25% (band 0-0.25)
    out = target_status([0.20, 0.24, 0.30, 0.20], [0.15, 0.20, 0.26, 0.15], [0.25, 0.28, 0.34, 0.25], 0.0, 0.25,
                        "lower_is_better", suppressed=[False, False, False, True])
    assert out.tolist() == ["met", "cannot_tell", "not_met", "suppressed"]


def test_organisation_targets_and_days_unit():
    csv = (b"id,metric,horizon_days,origin,unit,level_of_care,low,high,direction,source\n"
           b"board_completion,completion_rate,,,discharge,IOP,0.5,1,higher_is_better,Board 2025\n"
           b"board_median_stay,median_los_days,,,days,residential,28,365,higher_is_better,Board 2025\n")
    targets = organisation_targets(load_benchmarks(csv))
    assert targets["id"].tolist() == ["board_completion", "board_median_stay"]
    assert targets["level_of_care"].tolist() == ["iop", "residential"]
    assert targets.loc[1, ["unit", "low", "high"]].tolist() == ["days", 28.0, 365.0]


def test_benchmark_band_carries_its_definition(table):
    band = benchmark_band("mclellan2000_relapse_365", table)
    assert band == BenchmarkBand(low=0.4, high=0.6, horizon_days=365.0, origin="discharge", unit="person",
                                 source="McLellan et al. 2000", what="relapse within a year after treatment")
    assert band.label == ("McLellan et al. 2000: 40-60% relapse within a year after treatment "
                          "(365 days from discharge)")
    assert band.applies_to(origin="discharge", unit="person")
    assert not band.applies_to(origin="admission")
    assert not band.applies_to(unit="discharge")
    with pytest.raises(ValueError, match="No benchmark with the id 'nope'"):
        benchmark_band("nope", table)
