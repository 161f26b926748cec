"""The fuzz corpus of issue 12 (item 6), generated from seeds: a few hundred hostile or odd episode files.

:func:`corpus` returns :class:`FuzzFile` objects (kind, name, bytes) built in memory from a 120-row
slice of the sample cohort; nothing is stored in the repository. Kinds follow the issue's list.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.hostile_files import far_cell_workbook, sheet_xml, workbook, zip_bomb_xlsx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "episodes.csv"


@dataclass(frozen=True)
class FuzzFile:
    kind: str
    name: str
    data: bytes

    @property
    def case(self) -> str:
        return f"{self.kind}/{self.name}"


@lru_cache(maxsize=1)
def _base() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).iloc[:120].reset_index(drop=True)


def _durations() -> pd.DataFrame:
    b = _base()
    rng = np.random.default_rng(7)
    return pd.DataFrame({"episode_id": b["episode_id"], "level_of_care": b["level_of_care"],
                         "los_days": rng.integers(1, 200, len(b)).astype(str),
                         "days_to_relapse": rng.integers(1, 500, len(b)).astype(str),
                         "relapsed": rng.integers(0, 2, len(b)).astype(str), "discharge_reason": b["discharge_reason"]})


def _csv(frame: pd.DataFrame, **kw) -> bytes:
    return frame.to_csv(index=False, **kw).encode("utf-8")


def _parquet(table: pa.Table | pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    if isinstance(table, pd.DataFrame):
        table.to_parquet(buf)
    else:
        pq.write_table(table, buf)
    return buf.getvalue()


def _with(frame: pd.DataFrame, column: str, values, rows=slice(0, 10)) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[rows], column] = values
    return out


def random_bytes(rng) -> list[tuple[str, bytes]]:
    out = []
    for i, n in enumerate([1, 7, 100, 1000, 4096, 65536, 300_000]):
        out.append((f"random_{i}.csv", rng.integers(0, 256, n, dtype=np.uint8).tobytes()))
    for i, magic in enumerate([b"PK\x03\x04", b"PAR1", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf"]):
        for j, suffix in enumerate([".csv", ".xlsx", ".parquet"]):
            out.append((f"magic_{i}_{j}{suffix}", magic + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()))
    out.append(("random_text.csv", bytes(rng.integers(32, 127, 50_000, dtype=np.uint8))))
    return out


def truncated(rng) -> list[tuple[str, bytes]]:
    data = _csv(_base())
    cuts = sorted({int(c) for c in rng.integers(1, len(data), 14)} | {len(data) // 2, 10})
    out = [(f"cut_{c}.csv", data[:c]) for c in cuts]
    quoted = _csv(_with(_base(), "site", '"quoted, with comma"'))
    out.append(("cut_in_quote.csv", quoted[: quoted.find(b'"quoted') + 5]))
    return out


def huge_fields(rng) -> list[tuple[str, bytes]]:
    b = _base()
    return [("cell_1mb.csv", _csv(_with(b, "site", "x" * 1_000_000, slice(0, 1)))),
            ("cell_8mb.csv", _csv(_with(b, "payer", "y" * 8_000_000, slice(3, 4)))),
            ("newlines_in_quotes.csv", _csv(_with(b, "site", "line\n" * 20_000, slice(0, 2)))),
            ("many_rows_long_id.csv", _csv(_with(b, "episode_id", ["E" + "9" * 5000 + str(i) for i in range(120)],
                                                 slice(None)))),
            ("level_100kb.csv", _csv(_with(b, "level_of_care", "iop " * 25_000, slice(0, 1)))),
            ("unicode_blob.csv", _csv(_with(b, "sex", "\u00e9\u4e2d\U0001F600" * 50_000, slice(0, 1))))]


def wide(rng) -> list[tuple[str, bytes]]:
    b = _base()
    extra = pd.DataFrame(rng.integers(0, 9, (100, 10_000)).astype(str), columns=[f"x{i}" for i in range(10_000)])
    wide_frame = pd.concat([b.iloc[:100].reset_index(drop=True), extra], axis=1)
    header_only = ",".join([*b.columns, *(f"x{i}" for i in range(10_000))]).encode() + b"\n"
    return [("cols_10000_rows_100.csv", _csv(wide_frame)), ("cols_10000_header_only.csv", header_only),
            ("cols_2000.csv", _csv(pd.concat([b, extra.iloc[:, :2000].reindex(range(120))], axis=1)))]


def empty_columns(rng) -> list[tuple[str, bytes]]:
    b = _base()
    out = [("five_empty_columns.csv", _csv(b.assign(**{f"empty{i}": "" for i in range(5)})))]
    for col in ("level_of_care", "admission_date", "discharge_date", "last_contact_date", "episode_id"):
        out.append((f"empty_{col}.csv", _csv(b.assign(**{col: ""}))))
    out.append(("all_empty.csv", _csv(b.map(lambda _: ""))))
    return out


def bad_dates(rng) -> list[tuple[str, bytes]]:
    b = _base()
    values = {"feb30": "2024-02-30", "month13": "2024-13-01", "year1": "0001-01-01", "year9999": "9999-12-31",
              "year1900": "1900-01-01", "dmy": "31/12/2023", "words": "yesterday", "tz": "2024-01-05T10:00:00+05:00",
              "number": "20240105", "year3000": "3000-01-01", "negative": "-2024-01-01"}
    out = [(f"admission_{k}.csv", _csv(_with(b, "admission_date", v))) for k, v in values.items()]
    out.append(("discharge_before_admission.csv", _csv(_with(b, "discharge_date", "1990-01-01"))))
    out.append(("relapse_far_future.csv", _csv(_with(b, "relapse_date", "2999-01-01"))))
    return out


def excel_serial(rng) -> list[tuple[str, bytes]]:
    b = _base()
    serial = (pd.to_datetime(b["admission_date"]) - pd.Timestamp("1899-12-30")).dt.days.astype(str)
    out = [("serial_admission.csv", _csv(b.assign(admission_date=serial))),
           ("serial_float.csv", _csv(b.assign(admission_date=serial + ".0"))),
           ("serial_mixed.csv", _csv(_with(b, "admission_date", serial.iloc[:10].tolist())))]
    rows = [list(b.columns)] + [[int(s) if c == "admission_date" else v for c, v in zip(b.columns, r, strict=True)]
                                for r, s in zip(b.itertuples(index=False), serial, strict=True)]
    out.append(("serial_numbers.xlsx", workbook(sheet_xml(rows))))
    return out


def thousands(rng) -> list[tuple[str, bytes]]:
    d = _durations()
    return [("los_comma_thousands.csv", _csv(_with(d, "los_days", "1,234"))),
            ("los_decimal_comma.csv", _with(d, "los_days", "12,5").to_csv(index=False, sep=";").encode()),
            ("los_european.csv", _with(d, "los_days", "1.234,5").to_csv(index=False, sep=";").encode()),
            ("los_spaces.csv", _csv(_with(d, "los_days", "1 234"))),
            ("hours_thousands.csv", _csv(_with(_base(), "hours_attended", "1,250.5")))]


def nan_inf(rng) -> list[tuple[str, bytes]]:
    d = _durations()
    out = [(f"los_{k}.csv", _csv(_with(d, "los_days", v))) for k, v in
           {"inf": "inf", "neg_inf": "-inf", "nan": "nan", "overflow": "1e309", "Infinity": "Infinity"}.items()]
    out.append(("relapse_days_inf.csv", _csv(_with(d, "days_to_relapse", "inf"))))
    out.append(("all_inf.csv", _csv(d.assign(days_to_relapse="inf"))))
    return out


def lookalikes(rng) -> list[tuple[str, bytes]]:
    b = _base()
    labels = {"dotted_I": "\u0130OP", "cyrillic": "\u0406\u041e\u0420", "one_cyrillic": "I\u041eP",
              "zero_width": "I\u200bOP", "full_width": "\uff29\uff2f\uff30", "rtl_mark": "\u202eIOP",
              "emoji": "IOP \U0001F600", "not_iop": "Not IOP", "step_down": "OP step-down from IOP"}
    return [(f"level_{k}.csv", _csv(_with(b, "level_of_care", v))) for k, v in labels.items()]


def parquet_files(rng) -> list[tuple[str, bytes]]:
    b = _base()
    t = pa.Table.from_pandas(b, preserve_index=False)
    level = t.schema.get_field_index("level_of_care")
    structs = pa.array([{"code": v} for v in b["level_of_care"]])
    lists = pa.array([[v] for v in b["level_of_care"]])
    typed = b.assign(admission_date=pd.to_datetime(b["admission_date"]), age=pd.to_numeric(b["age"]))
    codes = b.assign(level_of_care=b["level_of_care"].map({"detox": 1, "inpatient": 2, "residential": 3, "php": 4,
                                                           "iop": 5, "op": 6}).astype("int64"))
    return [("plain.parquet", _parquet(t)),
            ("struct_level.parquet", _parquet(t.set_column(level, "level_of_care", structs))),
            ("list_level.parquet", _parquet(t.set_column(level, "level_of_care", lists))),
            ("typed.parquet", _parquet(typed)),
            ("int_levels.parquet", _parquet(codes)),
            ("dates_as_int.parquet", _parquet(b.assign(admission_date=np.arange(len(b), dtype="int64")))),
            ("dates_as_bool.parquet", _parquet(b.assign(admission_date=True))),
            ("index_episode_id.parquet", _parquet(b.set_index("episode_id"))),
            ("duplicate_index_ids.parquet", _parquet(b.assign(episode_id="E1").set_index("episode_id"))),
            ("dictionary.parquet", _parquet(pa.Table.from_pandas(b.astype({"site": "category"}),
                                                                 preserve_index=False))),
            ("year_3000.parquet", _parquet(pa.table({**{c: b[c] for c in b.columns if c != "admission_date"},
                                                     "admission_date": pa.array([pd.Timestamp("2024-01-05")
                                                                                 .to_pydatetime()] * 119 +
                                                                                [__import__("datetime").datetime(
                                                                                    3000, 1, 1)],
                                                                                type=pa.timestamp("us"))}))),
            ("year_1.parquet", _parquet(pa.table({**{c: b[c] for c in b.columns if c != "discharge_date"},
                                                  "discharge_date": pa.array(
                                                      [__import__("datetime").date(1, 1, 1)] * 120,
                                                      type=pa.date32())}))),
            ("zero_rows.parquet", _parquet(t.slice(0, 0)))]


def workbooks(rng) -> list[tuple[str, bytes]]:
    b = _base()
    rows = [list(b.columns)] + [list(r) for r in b.itertuples(index=False)]
    return [("zip_bomb.xlsx", zip_bomb_xlsx(40)), ("far_cell.xlsx", far_cell_workbook()),
            ("declared_huge.xlsx", workbook(sheet_xml(rows, dimension="A1:XFD1048576"))),
            ("plain.xlsx", workbook(sheet_xml(rows))), ("header_only.xlsx", workbook(sheet_xml(rows[:1]))),
            ("empty_sheet.xlsx", workbook(sheet_xml([]))), ("truncated.xlsx", workbook(sheet_xml(rows))[:3000]),
            ("csv_named.xlsx", _csv(b))]


def line_endings(rng) -> list[tuple[str, bytes]]:
    data = _csv(_base())
    return [("cr_only.csv", data.replace(b"\n", b"\r")), ("crlf.csv", data.replace(b"\n", b"\r\n")),
            ("mixed_endings.csv", b"".join(line + (b"\r" if i % 2 else b"\r\n")
                                           for i, line in enumerate(data.split(b"\n"))))]


def header_cells(rng) -> list[tuple[str, bytes]]:
    b = _base()
    big = "h" * (128 * 1024)
    return [("header_128kb.csv", _csv(b.rename(columns={"site": big}))),
            ("header_128kb_level.csv", _csv(b.rename(columns={"level_of_care": "level_of_care" + " " * 131072}))),
            ("header_newline.csv", _csv(b.rename(columns={"site": "si\nte"})))]


def preambles(rng) -> list[tuple[str, bytes]]:
    data = _csv(_base())
    semi = _base().to_csv(index=False, sep=";").encode()
    return [("comment_line.csv", b"# exported 2024-06-01 by EHR\n" + data), ("sep_comma.csv", b"sep=,\n" + data),
            ("sep_semicolon.csv", b"sep=;\n" + semi), ("two_comment_lines.csv", b"# a\n# b\n" + data),
            ("title_row.csv", b"Episode export,,,\n" + data)]


def blank_lines(rng) -> list[tuple[str, bytes]]:
    lines = _csv(_base()).split(b"\n")
    return [("blank_between.csv", b"\n".join(sum(([x, b""] if i % 10 == 5 else [x] for i, x in enumerate(lines)),
                                                  []))),
            ("blank_top.csv", b"\n\n\n" + b"\n".join(lines)), ("blank_end.csv", b"\n".join(lines) + b"\n\n\n\n"),
            ("comma_lines.csv", b"\n".join(lines[:50] + [b"," * 18] * 5 + lines[50:])),
            ("whitespace_lines.csv", b"\n".join(lines[:30] + [b"   "] + lines[30:]))]


def prior_treatments(rng) -> list[tuple[str, bytes]]:
    b = _base()
    return [(f"prior_{k}.csv", _csv(_with(b, "prior_treatments", v))) for k, v in
            {"1e30": "1e30", "neg": "-1", "1e308": "1e308", "2p63": str(2**63), "nan": "NaN", "frac": "2.5",
             "age_1e30": None}.items() if v is not None] + [("age_1e30.csv", _csv(_with(b, "age", "1e30")))]


def encodings(rng) -> list[tuple[str, bytes]]:
    text = _base().assign(site="Caf\u00e9 Nord").to_csv(index=False)
    return [("utf16le.csv", b"\xff\xfe" + text.encode("utf-16-le")), ("utf16be.csv", b"\xfe\xff" + text.encode(
        "utf-16-be")), ("latin1.csv", text.encode("latin-1")), ("cp1252.csv", text.replace("\u00e9", "\u2019")
                                                                  .encode("cp1252")),
            ("nul_bytes.csv", text.encode().replace(b"North", b"No\x00rth")),
            ("invalid_utf8.csv", text.encode().replace(b"Clinic", b"Cl\xc3\x28nic"))]


def structure(rng) -> list[tuple[str, bytes]]:
    b = _base()
    data = _csv(b)
    head, *rows = data.split(b"\n")
    return [("empty.csv", b""), ("whitespace.csv", b"   \n \n"), ("header_only.csv", head + b"\n"),
            ("duplicate_columns.csv", _csv(b).replace(b"site", b"payer", 1)), ("no_header.csv", b"\n".join(rows)),
            ("one_column.csv", b"episode_id\nE1\nE2\n"), ("ragged_more.csv", head + b"\n" + rows[0] + b",extra,extra\n"
                                                          + b"\n".join(rows[1:])),
            ("ragged_fewer.csv", head + b"\n" + b",".join(rows[0].split(b",")[:5]) + b"\n" + b"\n".join(rows[1:])),
            ("unbalanced_quote.csv", head + b'\n"E1,iop\n' + b"\n".join(rows[1:])), ("one_row.csv", head + b"\n" +
                                                                                      rows[0] + b"\n"),
            ("duplicate_ids.csv", _csv(b.assign(episode_id="E1"))),
            ("tab_delimited.csv", b.to_csv(index=False, sep="\t").encode()),
            ("pipe_delimited.txt", b.to_csv(index=False, sep="|").encode())]


def mutations(rng, n: int = 110) -> list[tuple[str, bytes]]:
    """Random damage to a valid CSV: byte flips, dropped or shuffled lines, dropped columns, swapped cells."""
    data = _csv(_base())
    lines = data.split(b"\n")
    out = []
    for i in range(n):
        op = i % 5
        if op == 0:
            arr = np.frombuffer(data, dtype=np.uint8).copy()
            idx = rng.integers(0, len(arr), int(rng.integers(1, 60)))
            arr[idx] = rng.integers(0, 256, len(idx), dtype=np.uint8)
            blob = arr.tobytes()
        elif op == 1:
            keep = rng.random(len(lines)) > 0.3
            keep[0] = bool(rng.random() > 0.2)
            blob = b"\n".join(line for line, k in zip(lines, keep, strict=True) if k)
        elif op == 2:
            body = lines[1:]
            order = rng.permutation(len(body))
            blob = b"\n".join([lines[0], *(body[j] for j in order)])
        elif op == 3:
            frame = _base()
            drop = rng.choice(frame.columns, int(rng.integers(1, 8)), replace=False)
            blob = _csv(frame.drop(columns=drop))
        else:
            frame = _base().copy()
            for _ in range(int(rng.integers(1, 30))):
                r, c1, c2 = int(rng.integers(0, len(frame))), *rng.choice(frame.columns, 2, replace=False)
                frame.loc[r, c1], frame.loc[r, c2] = frame.loc[r, c2], frame.loc[r, c1]
            blob = _csv(frame)
        out.append((f"mutation_{i:03d}.csv", blob))
    return out


KINDS = {"random_bytes": random_bytes, "truncated_csv": truncated, "huge_fields": huge_fields,
         "wide_columns": wide, "empty_columns": empty_columns, "bad_dates": bad_dates, "excel_serial": excel_serial,
         "thousands": thousands, "nan_inf": nan_inf, "lookalike_labels": lookalikes, "parquet": parquet_files,
         "workbooks": workbooks, "line_endings": line_endings, "header_cells": header_cells, "preambles": preambles,
         "blank_lines": blank_lines, "prior_treatments": prior_treatments, "encodings": encodings,
         "structure": structure, "mutations": mutations}


@lru_cache(maxsize=2)
def corpus(seed: int = 12) -> tuple[FuzzFile, ...]:
    """Every fuzz file, deterministic for a seed (built once per process)."""
    out = []
    for i, (kind, make) in enumerate(KINDS.items()):
        rng = np.random.default_rng([seed, i])
        out.extend(FuzzFile(kind, name, data) for name, data in make(rng))
    return tuple(out)
