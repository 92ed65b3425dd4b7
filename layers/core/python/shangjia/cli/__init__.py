"""The ``shangjia`` command line.

Each area registers its subcommands from its own module (``register(subparsers)``), so the
areas stay out of each other's files. The list below is the only place that names them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# (module, what it adds). A module missing from a partial install is skipped, never faked.
SUBCOMMAND_MODULES = (
    "shangjia.cli.sheets",    # template, validate
    "shangjia.cli.media",     # media
    "shangjia.cli.cloud",     # cloud up, demo, status, redrive
    "shangjia.cli.review",    # review tasks, claim, approve, reject
    "shangjia.cli.codes",     # codes
    "shangjia.cli.ops",       # product reset
    "shangjia.cli.settings",  # settings show|set, banned show|set
    "shangjia.cli.channels",  # channels sign
    "shangjia.cli.shops",     # shops add|show (channel credentials)
    "shangjia.cli.api",       # api openapi, editors assign|show
    "shangjia.cli.erp",       # erp client add, erp send, erp sync-run
    "shangjia.cli.users",     # users add|list (the people who sign in: Cognito)
    "shangjia.cli.capacity",  # capacity (the promotion peak on paper, from a measured run)
    "shangjia.cli.failures",  # failures report (the weekly failure report, now)
    "shangjia.cli.stock",     # stock show|orders|set|buffer|reconcile|order-run (the ledger)
    "shangjia.cli.merchants", # merchants defaults show|set|clear (import defaults)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shangjia",
        description="Shangjia (上架): bulk product listing — sheets, validation, media, review, publishing.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
