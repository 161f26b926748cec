"""Display vocabulary: one label per code, one format per kind of number."""
import numpy as np
import pandas as pd
import pytest

from analysis import labels as L
from analysis.benchmarks import load_benchmarks


@pytest.mark.parametrize(("value", "column", "expected"), [
    ("iop", None, "IOP"), ("detox", "level_of_care", "Detox"), ("php", "group", "PHP"),
    ("dropped_out", "discharge_reason", "Dropped out / left against advice"),
    ("self_pay", "payer", "Self-pay"), ("medicaid", "payer", "Medicaid"),
    (True, "co_occurring", "yes"), (np.bool_(False), "co_occurring", "no"), ("True", None, "yes"),
    (1, "co_occurring", "yes"), ("0", "relapsed", "no"),
    (None, "payer", "not recorded"), (np.nan, "site", "not recorded"), (pd.NA, "sex", "not recorded"),
    ("North Clinic", "site", "North Clinic"),   # the user's own label, as written
    ("iop", "site", "iop"),                     # a site called "iop" is not a level of care
    ("op", "primary_substance", "op"), (3, None, "3"),
])
def test_value_label(value, column, expected):
    assert L.value_label(value, column) == expected


def test_group_label_and_term_label():
    assert [L.group_label(g) for g in ("iop", "op", "residential", "North Clinic")] == \
        ["IOP", "OP", "Residential", "North Clinic"]
    assert L.group_label("self_pay", "payer") == "Self-pay"
    assert L.term_label("level_of_care[iop]") == "Level of care: IOP"
    assert L.term_label("co_occurring[True]") == "Co-occurring disorder: yes"
    assert L.term_label("payer[T.self_pay]") == "Payer: Self-pay"
    assert L.term_label("age") == "Age (per year)"
    assert L.term_label("Admit weight") == "Admit weight"  # a user's own column, kept


def test_readable_codes_in_a_sentence():
    text = "doubtful for level_of_care (p < 0.001), co_occurring and payer (p = 0.049)"
    assert L.readable_codes(text) == ("doubtful for level of care (p < 0.001), co-occurring disorder and payer "
                                      "(p = 0.049)")


def test_column_label():
    assert L.column_label("n_at_risk") == "At risk"
    assert L.column_label("los_days", unit=True) == "Length of stay (days)"
    assert L.column_label("km_relapse", unit=True) == "Cumulative relapse (%)"
    assert L.column_label("time_discharge_days") == "Time discharge days"
    assert L.column_label("Admit Dt") == "Admit Dt"
    assert L.column_label("<b>x</b>") == "<b>x</b>"  # escaping is the renderer's job


def test_number_formats():
    assert L.fmt_percent(0.4213) == "42.1%" and L.fmt_percent(np.nan) == "" and L.fmt_percent(-0.00001) == "0.0%"
    assert L.fmt_ci(0.421, 0.380, 0.463) == "42.1% (38.0-46.3%)"
    assert L.fmt_ci(0.421, np.nan, 0.463) == "42.1%"
    assert L.fmt_ci(0.81, 0.70, 0.93, kind="ratio") == "0.81 (0.70-0.93)"
    # a difference of proportions is in percentage points, with a sign, and "to" between limits
    assert L.fmt_pp(-0.052) == "-5.2 pp"
    assert L.fmt_pp(0.03, -0.01, 0.071) == "+3.0 pp (95% CI -1.0 to +7.1)"
    assert L.fmt_pp(-0.00001) == "+0.0 pp"
    assert L.fmt_days(4.0) == "4 days" and L.fmt_days(1) == "1 day" and L.fmt_days(12.5) == "12.5 days"
    assert L.fmt_days(1234.4) == "1,234 days"
    assert L.fmt_median_days(np.nan) == "not reached"
    assert L.fmt_median_days(np.nan, suppressed=True) == "suppressed"
    assert L.fmt_median_days(154, 120, 190) == "154 days (120-190)"
    assert L.fmt_median_days(154, 120, np.nan) == "154 days (120 to not reached)"
    assert L.fmt_p(0.0004) == "<0.001" and L.fmt_p(0.03449) == "0.034" and L.fmt_p(None) == ""
    assert L.fmt_count(7) == "<11" and L.fmt_count(1234) == "1,234" and L.fmt_count(0) == "0"
    with pytest.raises(ValueError, match="Unknown number kind"):
        L.fmt_ci(1, 0, 2, kind="furlongs")


def test_source_labels_of_every_packaged_benchmark():
    b = load_benchmarks()
    got = dict(zip(b["id"], [L.source_label(s, y) for s, y in zip(b["source"], b["year"], strict=True)],
                   strict=True))
    assert got["mclellan2000_relapse_365"] == "McLellan et al. 2000"
    assert got["hunt1971_relapse_timing"] == "Hunt et al. 1971"
    assert got["tedsd2019_discharge_reason_completed"] == "SAMHSA TEDS-D 2019"
    assert got["teds2004_completion_iop"] == "SAMHSA TEDS 2004"
    assert got["asam3_iop_hours_per_week_min"] == "ASAM Criteria 2013"
    assert got["niatx_no_show_rate"] == "NIATx process-improvement targets"  # no year known
    assert L.source_label("Smith J. A study", 2020) == "Smith 2020"
    assert L.source_label("", None) == "benchmark"


def test_csv_frame_numbers_as_numbers_labels_for_codes():
    from analysis.suppression import suppress_counts
    df = pd.DataFrame({"group": ["iop", "self_pay"], "n": [120, 7], "estimate": [0.4213, 0.5],
                       "lower": [0.38, 0.2], "upper": [0.46, 0.8], "p": [0.00004, 0.5], "complete": [True, False],
                       "los_days": [30.5, 12.0]})
    sup = suppress_counts(df, ["n"], rate_cols={"estimate": "n", "lower": "n", "upper": "n"})
    out = L.csv_frame(sup, ["group", "n", "estimate", "lower", "upper", "p", "complete", "los_days"])
    assert list(out.columns) == ["Group", "People", "People suppressed", "Estimate", "Estimate suppressed",
                                 "95% CI lower", "95% CI lower suppressed", "95% CI upper",
                                 "95% CI upper suppressed", "p", "Complete", "Length of stay (days)"]
    assert out["Group"].tolist() == ["IOP", "self_pay"]  # a group code of levels; payers need by="payer"
    assert L.csv_frame(sup, ["group"], by="payer")["Group"].tolist() == ["iop", "Self-pay"]
    assert out["Estimate"].dtype == "float64" and out.loc[0, "Estimate"] == 0.4213  # not "42.1%"
    assert out.loc[0, "p"] == 0.00004  # not "<0.001"
    assert np.isnan(out.loc[1, "People"]) and out.loc[1, "People suppressed"] == "yes"
    assert np.isnan(out.loc[1, "Estimate"]) and out["Complete"].tolist() == ["yes", "no"]
