"""``python -m betag_engine``: one entry point; each command group lives in betag_engine/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from betag_engine.errors import BetagError

COMMAND_MODULES = (
    "betag_engine.commands.catalog",
    "betag_engine.commands.jobs",
    "betag_engine.commands.evaluate",
    "betag_engine.commands.tagging",
    "betag_engine.commands.bench",
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
    if args.database_url:
        import os

        from betag_engine.settings import get_settings

        os.environ["BETAG_DATABASE_URL"] = args.database_url
        get_settings.cache_clear()
    try:
        return int(args.func(args) or 0)
    except BetagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is saved; rerun the same command to continue", file=sys.stderr)
        return 130
