"""``python -m analysis check FILE``: print the validation report; exit 0 / 1 / 2."""
from __future__ import annotations

import argparse

from analysis.cli import add_file_arguments, mapping_from_args
from analysis.loading import load_episodes

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("check", help="validate an episode file and print the report",
                              description="Validate an episode file. Exit 0: every row valid; 1: some rows "
                                          "excluded, the rest can be analysed; 2: file rejected.")
    add_file_arguments(p, by_default=None)
    p.add_argument("--as-of", default=None, help="data extraction date (default: latest date in the file)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    mapping = mapping_from_args(args)
    if mapping is None:
        return 2
    result = load_episodes(args.file, mapping=mapping, by=args.by, as_of=args.as_of)
    print(f"File: {result.source_name}" + (f"  (sha256 {result.content_hash})" if result.content_hash else ""))
    if result.mapping:
        mapped = ", ".join(f"{k}<-{v}" if k != v else k for k, v in result.mapping.items())
        print(f"Columns mapped: {mapped}")
    if result.extra_columns:
        print(f"Other columns kept: {', '.join(result.extra_columns)}")
    print(result.report.summary_text())
    return result.report.exit_code
