"""``python -m analysis sample``: write the synthetic sample cohort to a CSV or Parquet file.

Example::

    python -m analysis sample --out sample_data/episodes.csv --n 5000 --seed 20261122
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from analysis.synthetic import DEFAULT_SEED, generate_episodes

__all__ = ["FORMATS", "add_parser", "run", "write_episodes"]

FORMATS: tuple[str, ...] = ("csv", "parquet")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``sample`` command on the subparsers of :func:`analysis.cli.build_parser`."""
    parser = subparsers.add_parser(
        "sample", help="write a synthetic, seeded sample cohort (no real people)",
        description="Write synthetic treatment episodes calibrated to published figures "
                    "(see sample_data/README.md). The same seed gives the same file.")
    parser.add_argument("--out", required=True, type=Path, help="output file (.csv or .parquet)")
    parser.add_argument("--n", type=int, default=5000, help="number of episodes (default 5000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format (default: from the file extension, else csv)")
    parser.set_defaults(run=run)
    return parser


def write_episodes(episodes: pd.DataFrame, path: Path, fmt: str = "csv") -> None:
    """Write episodes as a CSV (dates ``yyyy-mm-dd``, missing = empty) or a Parquet file."""
    if fmt not in FORMATS:
        raise ValueError(f"Format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        episodes.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n")
    else:
        frame = episodes.copy()
        frame.attrs = {}
        frame.to_parquet(path, index=False)


def run(args: argparse.Namespace) -> int:
    """Generate ``args.n`` episodes with ``args.seed``, write them to ``args.out``; print a summary."""
    if args.n is None or args.n < 1:
        raise ValueError(f"--n must be a positive number of episodes, not {args.n}.")
    fmt = getattr(args, "format", None) or ("parquet" if str(args.out).lower().endswith(".parquet") else "csv")
    episodes = generate_episodes(args.n, args.seed)
    write_episodes(episodes, Path(args.out), fmt)
    discharged = episodes["discharge_date"].notna()
    print(f"wrote {len(episodes)} synthetic episodes ({episodes['client_id'].nunique()} clients, "
          f"{int((~discharged).sum())} still in treatment, admitted "
          f"{episodes['admission_date'].min():%Y-%m-%d} to {episodes['admission_date'].max():%Y-%m-%d}, "
          f"seed {args.seed}) to {args.out} [{fmt}]")
    return 0
