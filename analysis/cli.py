"""Command line: ``python -m analysis check FILE ...`` and ``python -m analysis outcomes FILE ...``.

Exit codes of ``check``: 0 every row valid, 1 some rows excluded but the rest analysable,
2 file rejected. No input, however broken, produces a traceback.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser", "add_file_arguments", "mapping_from_args"]


def add_file_arguments(parser: argparse.ArgumentParser, *, by_default: str | None) -> None:
    """The input arguments shared by ``check`` and ``outcomes``: FILE, ``--map`` and ``--by``."""
    parser.add_argument("file", help="CSV, Excel (.xlsx) or Parquet file")
    parser.add_argument("--map", action="append", default=[], metavar="CANONICAL=SOURCE",
                        help="map a source column onto a canonical field (repeatable)")
    parser.add_argument("--by", default=by_default, help="grouping column (default level_of_care)")


def mapping_from_args(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--map`` pairs as a mapping, or None after printing the error (the caller exits 2)."""
    from analysis.mapping import parse_map_args

    try:
        return parse_map_args(args.map)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Continuum: outcomes of addiction treatment by level of care.")
    sub = parser.add_subparsers(dest="command", required=True)
    from analysis import cli_check, cli_outcomes, synthetic_cli

    cli_check.add_parser(sub)
    cli_outcomes.add_parser(sub)
    synthetic_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints its own message
        return 2 if exc.code not in (0, None) else 0
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last line of defence: a sentence, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
