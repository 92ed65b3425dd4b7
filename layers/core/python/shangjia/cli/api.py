"""``shangjia api openapi`` (the API's OpenAPI document, as ``GET /api/openapi.json`` serves it;
``make docs`` writes it to docs/openapi.json) and ``shangjia editors assign`` (ops gives an editor
the merchants they work on; the same item ``PUT /api/editors/{username}/merchants`` sets)."""

from __future__ import annotations

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    p = sub.add_parser("api", help="the HTTP API")
    psub = p.add_subparsers(dest="api_command", metavar="ACTION")
    o = psub.add_parser("openapi", help="print the OpenAPI document generated from the API's models")
    o.set_defaults(func=_openapi)

    e = sub.add_parser("editors", help="editors' merchant assignments")
    esub = e.add_subparsers(dest="editors_command", metavar="ACTION")
    a = esub.add_parser("assign", help="set the merchants an editor works on (replaces their list)")
    _endpoint_arg(a)
    a.add_argument("username")
    a.add_argument("--merchants", required=True, metavar="M1,M2", help="merchant ids, comma-separated ('' clears)")
    a.add_argument("--as", dest="actor", default="cli", help="your ops username (recorded)")
    a.set_defaults(func=_assign)
    s = esub.add_parser("show", help="every editor's merchants")
    _endpoint_arg(s)
    s.set_defaults(func=_show)


def openapi_text() -> str:
    from shangjia.api.routes import openapi_document

    return json.dumps(openapi_document(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def _openapi(_args) -> int:
    sys.stdout.write(openapi_text())
    return 0


def _assign(args) -> int:
    _use_endpoint(args)
    from shangjia.auth.policy import set_assignment
    from shangjia.clock import SystemClock, iso
    from shangjia.pipeline.deps import aws_deps

    try:
        ms = set_assignment(aws_deps().store, args.username, [m for m in args.merchants.split(",") if m.strip()],
                            by=args.actor, at=iso(SystemClock().now()))
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"username": args.username, "merchants": ms}, ensure_ascii=False))
    return 0


def _show(args) -> int:
    _use_endpoint(args)
    from shangjia.auth.policy import all_assignments
    from shangjia.pipeline.deps import aws_deps

    print(json.dumps(all_assignments(aws_deps().store), ensure_ascii=False, indent=1, sort_keys=True))
    return 0
