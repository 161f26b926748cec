"""``python -m analysis check FILE``: print the validation report; exit 0 / 1 / 2."""
from __future__ import annotations

import argparse
from pathlib import Path

from analysis.cli import add_file_arguments, load_from_args
from analysis.columns import columns_frame
from analysis.mapping import spec_to_json

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("check", help="validate an episode file and print the report",
                              description="Validate an episode file. Exit 0: every row valid; 1: some rows "
                                          "excluded, the rest can be analysed; 2: file rejected. Prints how "
                                          "each column was read (role, type and why) and every mapping guess "
                                          "with its reason; unmap a wrong guess with --map FIELD=.")
    add_file_arguments(p, by_default=None)
    p.add_argument("--as-of", default=None, help="data extraction date (default: latest date in the file)")
    p.add_argument("--save-mapping", default=None, metavar="JSON",
                   help="write the mapping, types, time unit and relapse value used to this file (reuse with "
                        "--mapping)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = load_from_args(args, as_of=args.as_of)
    if result is None:
        return 2
    print(f"File: {result.source_name}" + (f"  (sha256 {result.content_hash})" if result.content_hash else ""))
    if result.mapping:
        mapped = ", ".join(f"{k}<-{v}" if k != v else k for k, v in result.mapping.items())
        print(f"Columns mapped: {mapped}")
    made = [g for g in result.guesses if g.made and g.field in result.mapping
            and result.mapping[g.field] == g.column]
    if made:
        print("Guesses (unmap one with --map FIELD=):")
        for g in made:
            print(f"  {g.field} <- {g.column}: {g.reason}")
    if result.columns:
        print(f"Times in: {result.time_unit}")
        print("Columns (role, type, why):")
        table = columns_frame(result.columns)
        for r in table.itertuples():
            used = "" if r.used_as == r.column else f" -> {r.used_as}"
            print(f"  {r.column:<22}{used:<22} {r.role:<10} {r.type:<12} {r.why}")
    print(result.report.summary_text())
    if args.save_mapping and result.columns:
        Path(args.save_mapping).write_text(spec_to_json(result.spec()), encoding="utf-8")
        print(f"Mapping saved to {args.save_mapping}")
    return result.report.exit_code
