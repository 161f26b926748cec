"""Command line: ``python -m analysis check FILE ...`` and ``python -m analysis outcomes FILE ...``.

Exit codes of ``check``: 0 every row valid, 1 some rows excluded but the rest analysable,
2 file rejected. No input, however broken, produces a traceback.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


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
