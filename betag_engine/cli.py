"""``python -m betag_engine``: one entry point; each command group lives in betag_engine/commands/.

The settings are read here, once (environment, then ``--database-url``), and handed to the command:
each ``register(subparsers)`` sets ``func(args, settings)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from betag_engine.errors import BetagError
from betag_engine.settings import get_settings

COMMAND_MODULES = (
    "betag_engine.commands.catalog",
    "betag_engine.commands.jobs",
    "betag_engine.commands.evaluate",
    "betag_engine.commands.tagging",
    "betag_engine.commands.bench",
    "betag_engine.commands.params",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m betag_engine", description="BETag Studio engine")
    parser.add_argument("--database-url", help="Override BETAG_DATABASE_URL for this command.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings().with_overrides(database_url=args.database_url)
    try:
        return int(args.func(args, settings) or 0)
    except BetagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is saved; rerun the same command to continue", file=sys.stderr)
        return 130
