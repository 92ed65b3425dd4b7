"""``shangjia product reset``: ops moves a product stuck in flight (validating, media, in review,
publishing... past its time) to ``failed`` with a reason, so its batch can finish and the
merchant's next upload of it is taken (README runbook: "A product is stuck").
``shangjia product history``: every status move the product made, across its uploads."""

from __future__ import annotations

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    p = sub.add_parser("product", help="ops actions on one product")
    psub = p.add_subparsers(dest="product_command", metavar="ACTION")
    r = psub.add_parser("reset", help="move a product stuck in flight to failed, with a reason")
    _endpoint_arg(r)
    r.add_argument("merchant_id")
    r.add_argument("spu_code")
    r.add_argument("--as", dest="actor", required=True, help="your ops id (recorded on the product)")
    r.add_argument("--reason", required=True, help="why (shown to the merchant in the finding)")
    r.add_argument("--force", action="store_true",
                   help="reset even if it has not been in its status longer than its retries could take")
    r.set_defaults(func=_reset)
    h = psub.add_parser("history", help="every status move of a product, oldest first, across its uploads")
    _endpoint_arg(h)
    h.add_argument("merchant_id")
    h.add_argument("spu_code")
    h.add_argument("--json", action="store_true", help="one JSON list instead of the table")
    h.set_defaults(func=_history)


def _history(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.products import product_history

    moves = product_history(aws_deps(), args.merchant_id, args.spu_code)
    if not moves:
        print(f"no product {args.spu_code} of {args.merchant_id}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(moves, ensure_ascii=False))
        return 0
    for m in moves:
        print(f"{m.get('at') or '-':<28} {m.get('status'):<12} {m.get('batch_id') or '-'}")
    return 0


def _reset(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.products import ResetRefused, reset_product

    try:
        out = reset_product(aws_deps(), args.merchant_id, args.spu_code, actor=args.actor, reason=args.reason,
                            force=args.force)
    except ResetRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 3
    print(json.dumps(out, ensure_ascii=False))
    return 0
