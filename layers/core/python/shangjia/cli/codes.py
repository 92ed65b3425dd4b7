"""``shangjia codes``: the one table of error codes, as Markdown or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict


def register(sub) -> None:
    p = sub.add_parser("codes", help="print every error code (Markdown table, or --json)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from shangjia.errors import CODES, markdown_table

    if args.json:
        print(json.dumps([asdict(c) for c in CODES.all()], ensure_ascii=False, indent=1))
    else:
        print(markdown_table(), end="")
    return 0
