"""Command line: ``python -m analysis check FILE ...`` and ``python -m analysis outcomes FILE ...``.

Exit codes of ``check``: 0 every row valid, 1 some rows excluded but the rest analysable,
2 file rejected. No input, however broken, produces a traceback.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser", "add_file_arguments", "mapping_from_args", "load_from_args"]

_TYPES = "numeric, binary, categorical, date, id or text"


def add_file_arguments(parser: argparse.ArgumentParser, *, by_default: str | None) -> None:
    """The input arguments shared by ``check`` and ``outcomes``: FILE, mapping, types, unit, grouping, drop/keep."""
    parser.add_argument("file", metavar="SOURCE",
                        help="CSV, Excel (.xlsx) or Parquet file, a folder or glob of Parquet files, a DuckDB "
                             "database file (.duckdb, with --table) or a postgresql://USER@HOST/DB URL (with --table)")
    parser.add_argument("--table", default=None,
                        help="the table to analyse in a .duckdb file or a PostgreSQL database")
    parser.add_argument("--map", action="append", default=[], metavar="CANONICAL=SOURCE",
                        help="map a column of the file onto a canonical field (repeatable); "
                             "CANONICAL= with nothing after '=' unmaps a wrongly guessed field, "
                             "e.g. --map discharge_date=")
    parser.add_argument("--mapping", default=None, metavar="JSON",
                        help="a mapping saved by the app or by 'check --save-mapping' (columns, types, unit, "
                             "relapse value); --map, --type, --time-unit and --event-value override it")
    parser.add_argument("--type", action="append", default=[], metavar="COLUMN=TYPE", dest="types",
                        help=f"read a column as {_TYPES} instead of the type its content suggests "
                             "(repeatable; the file's own column name)")
    parser.add_argument("--time-unit", choices=("days", "weeks", "months", "years"), default=None,
                        help="unit of the durations (time to relapse, length of stay) in the file; outputs "
                             "use it too (default: the unit the time column is named in, else days)")
    parser.add_argument("--event-value", default=None, metavar="VALUE",
                        help="the value of the relapse column that means a relapse, when it is not 1/yes/true "
                             "(e.g. 0 when 1 means censored, 2 for a status coded 1/2)")
    parser.add_argument("--date-order", choices=("dmy", "mdy"), default=None,
                        help="day/month order of dates written with slashes, dots or dashes (03/04/2023): dmy or "
                             "mdy for the whole file (default: told from the values, e.g. 14/03/2023 is dmy; the "
                             "report says which was used)")
    parser.add_argument("--by", default=by_default,
                        help="grouping column, the file's own name or a canonical one (default level_of_care)")
    parser.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                        help="leave a column out before the identifier check, e.g. one it refused (repeatable)")
    parser.add_argument("--keep", action="append", default=[], metavar="COLUMN",
                        help="keep an unmapped free-text column, left out by default (repeatable)")


def mapping_from_args(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--map`` pairs as a mapping, or None after printing the error (the caller exits 2)."""
    from analysis.mapping import parse_map_args

    try:
        return parse_map_args(args.map)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def load_from_args(args: argparse.Namespace, **kwargs):
    """Open SOURCE in the engine with the mapping, types, unit and relapse value of the command line (and
    ``--mapping``); progress (rows read, rules checked) on stderr when it is a terminal.

    Returns the :class:`analysis.engine.load.EngineLoad` (a :class:`analysis.loading.LoadResult` whose
    cohort is in ``.engine``; close it when done), or None after printing the error (exit 2).
    """
    from pathlib import Path

    from analysis.columns import parse_type_args
    from analysis.engine.load import open_engine
    from analysis.engine.progress import TerminalProgress
    from analysis.mapping import MappingSpec, parse_map_args, spec_from_json

    try:
        spec = MappingSpec({})
        if getattr(args, "mapping", None):
            spec = spec_from_json(Path(args.mapping).read_bytes())
        mapping = {**spec.columns, **parse_map_args(args.map)}
        types = {**spec.types, **parse_type_args(args.types)}
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    by = args.by if args.by is not None else spec.by
    result = open_engine(args.file, table=getattr(args, "table", None), mapping=mapping, by=by, column_types=types,
                         time_unit=args.time_unit or spec.time_unit, event_value=args.event_value or spec.event_value,
                         drop_columns=getattr(args, "drop", ()), keep_columns=getattr(args, "keep", ()),
                         progress=TerminalProgress(sys.stderr), date_order=getattr(args, "date_order", None) or spec.date_order,
                         **kwargs)
    args.opened = result  # closed by main() when the command is done
    return result


#: command -> (module, one-line help): a command's module (and what it imports) is loaded only when it runs
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("analysis.cli_check", "validate an episode file and print the report"),
    "outcomes": ("analysis.cli_outcomes", "compute outcomes by group (text or JSON)"),
    "compare": ("analysis.cli_compare", "compare two groups fairly (propensity weighting, adjusted curves, RMST, "
                                        "E-value)"),
    "report": ("analysis.cli_report", "write the review as a self-contained HTML file (and PDF)"),
    "sample": ("analysis.synthetic_cli", "write a synthetic sample cohort"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only`` (a command name) the other commands are listed but not imported."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Continuum: outcomes of addiction treatment by level of care.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(args_in[0] if args_in and args_in[0] in COMMANDS else None)
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # argparse prints its own message
        return 2 if exc.code not in (0, None) else 0
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last line of defence: a sentence, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        opened = getattr(args, "opened", None)
        if opened is not None and hasattr(opened, "close"):
            opened.close()
