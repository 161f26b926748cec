"""Write the real public cohorts used by tests/test_real_cohorts.py, in their own column names and units.

Run from the repository root:  python tests/r/real_cohorts_export.py   (then Rscript tests/r/real_cohorts_reference.R)

* ``rossi.csv``: Rossi et al. (1980) recidivism study, 432 released prisoners followed for 52 weeks,
  as shipped by lifelines (``lifelines.datasets.load_rossi``): week, arrest, fin, age, race, wexp,
  mar, paro, prio. Time in **weeks**.
* ``uis.csv``: UMASS Aids Research Unit Impact Study (Hosmer, Lemeshow & May, *Applied Survival
  Analysis*), 628 people in residential drug-treatment programmes, as shipped by SurvSet
  (``SurvLoader().load_dataset("uis")``), with the original column names restored (SurvSet prefixes
  them with ``fac_``/``num_`` and renames TIME/CENSOR to time/event; HERCO is its ``heroic``):
  ID, AGE, BECK, HERCO, IVHX, NDRUGTX, RACE, TREAT, SITE, TIME (days to return to drug use), CENSOR
  (1 = returned to drug use). Missing values empty.
* ``aids.csv`` and ``aids.parquet``: AIDS Clinical Trials Group 320 (Hammer et al. 1997), 1,151
  people, as shipped by scikit-survival (``sksurv.datasets.load_aids``): time (days), censor
  (True = AIDS diagnosis or death), tx, txgrp, strat2, sex, raceth, ivdrug, hemophil, karnof, cd4,
  priorzdv, age. The Parquet file keeps scikit-survival's types (categories, booleans, floats).
* ``whas500.xlsx``: Worcester Heart Attack Study, 500 patients, as shipped by scikit-survival
  (``load_whas500``): lenfol (days from hospital admission to death or last follow-up), fstat (True =
  died), los (days in hospital), age, gender, bmi, hr, sysbp, diasbp, chf, afb, ... As an Excel
  workbook, so that the typed Excel reader is checked against R too (R reads the same rows from
  ``whas500.csv``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "data" / "real_cohorts"


def rossi() -> pd.DataFrame:
    from lifelines.datasets import load_rossi

    return load_rossi()


def uis() -> pd.DataFrame:
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("uis")["df"]
    out = pd.DataFrame({
        "ID": df["pid"] + 1, "AGE": df["num_age"], "BECK": df["num_beck"],
        "HERCO": df["fac_heroic"].astype(str), "IVHX": df["fac_ivhx"].astype(str),
        "NDRUGTX": df["num_ndrugtx"], "RACE": df["fac_race"].astype(str), "TREAT": df["fac_treat"].astype(int),
        "SITE": df["fac_site"].astype(int), "TIME": df["time"], "CENSOR": df["event"]})
    return out.replace("missing", None)


def aids() -> pd.DataFrame:
    from sksurv.datasets import load_aids

    x, y = load_aids()
    return pd.concat([pd.DataFrame({"time": y["time"], "censor": y["censor"]}), x.reset_index(drop=True)], axis=1)


def whas500() -> pd.DataFrame:
    from sksurv.datasets import load_whas500

    x, y = load_whas500()
    frame = pd.concat([pd.DataFrame({"lenfol": y["lenfol"], "fstat": y["fstat"]}), x.reset_index(drop=True)], axis=1)
    return frame.astype({c: int for c in x.columns if str(x[c].dtype) == "category"})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rossi().to_csv(OUT / "rossi.csv", index=False)
    uis().to_csv(OUT / "uis.csv", index=False)
    frame = aids()
    frame.to_csv(OUT / "aids.csv", index=False)
    frame.to_parquet(OUT / "aids.parquet", index=False)
    frame = whas500()
    frame.to_csv(OUT / "whas500.csv", index=False)
    frame.to_excel(OUT / "whas500.xlsx", index=False)


if __name__ == "__main__":
    main()
