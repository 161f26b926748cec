"""Load the warehouse test tables into PostgreSQL (run by .ci/run; usable by hand with any URL).

Tables: ``episodes_sample`` (sample_data/episodes.csv with warehouse types: DATE, INTEGER, DOUBLE,
TEXT), ``episodes_sample_text`` (the same, every column TEXT, as a staging table would be) and
``episodes_synthetic`` (100,000 synthetic episodes, seed 11, typed).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.synthetic import generate_episodes  # noqa: E402

DATES = ("admission_date", "discharge_date", "relapse_date", "last_contact_date", "death_date")
TYPES = {**{c: "DATE" for c in DATES}, "age": "INTEGER", "prior_treatments": "INTEGER",
         "hours_attended": "DOUBLE PRECISION", "hours_scheduled": "DOUBLE PRECISION"}


def load(con: psycopg.Connection, table: str, frame: pd.DataFrame, typed: bool) -> None:
    cols = ", ".join(f'"{c}" {TYPES.get(c, "TEXT") if typed else "TEXT"}' for c in frame.columns)
    with con.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{table}"')
        cur.execute(f'CREATE TABLE "{table}" ({cols})')
        text = frame.to_csv(index=False, header=False, date_format="%Y-%m-%d")
        with cur.copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(text)
        cur.execute(f'ANALYZE "{table}"')


def main(url: str) -> None:
    t0 = time.perf_counter()
    sample = pd.read_csv(ROOT / "sample_data" / "episodes.csv", dtype=str, keep_default_na=False)
    synthetic = generate_episodes(100_000, seed=11)
    synthetic.attrs = {}
    with psycopg.connect(url, autocommit=True) as con:
        load(con, "episodes_sample", sample, typed=True)
        load(con, "episodes_sample_text", sample, typed=False)
        load(con, "episodes_synthetic", synthetic, typed=True)
    print(f"PostgreSQL: loaded episodes_sample, episodes_sample_text (5,000) and episodes_synthetic "
          f"(100,000) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1])
