"""``shangjia stock``: the ledger from the command line (levels, movements, orders, an ERP-style
level, reconciliation) and ``order-run``, the no-oversell proof on a fresh local cloud."""

from __future__ import annotations

import argparse

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    p = sub.add_parser("stock", help="the stock ledger: levels, movements, channel orders, the order proof")
    ssub = p.add_subparsers(dest="stock_command", metavar="ACTION")
    show = ssub.add_parser("show", help="a SKU's level and movements")
    _endpoint_arg(show)
    show.add_argument("merchant")
    show.add_argument("sku")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(func=_show)
    orders = ssub.add_parser("orders", help="a merchant's channel orders as the ledger saw them (refused: why)")
    _endpoint_arg(orders)
    orders.add_argument("merchant")
    orders.add_argument("--state", choices=("reserved", "committed", "released", "restocked", "refused"))
    orders.set_defaults(func=_orders)
    setl = ssub.add_parser("set", help="set an absolute level as the ERP does (ignored when --seq is not newer)")
    _endpoint_arg(setl)
    setl.add_argument("merchant")
    setl.add_argument("sku")
    setl.add_argument("on_hand", type=int)
    setl.add_argument("--seq", required=True, help="the ERP's sequence number or an ISO-8601 time")
    setl.add_argument("--event-id", required=True)
    setl.add_argument("--source", default="cli")
    setl.set_defaults(func=_set)
    buf = ssub.add_parser("buffer", help="units of a SKU kept back from one channel")
    _endpoint_arg(buf)
    buf.add_argument("merchant")
    buf.add_argument("sku")
    buf.add_argument("channel", choices=("own_shop", "wechat", "douyin"))
    buf.add_argument("units", type=int)
    buf.set_defaults(func=_buffer)
    rec = ssub.add_parser("reconcile", help="compare the channels' stock with the ledger and repair drift "
                                            "(the whole catalog, or one slice as the schedule runs it)")
    rec.add_argument("--levels", type=_positive, help="one slice: the next N levels after the scheduled "
                                                      "runs' cursor (moves it, as stock_reconcile does)")
    _endpoint_arg(rec)
    rec.set_defaults(func=_reconcile)
    run = ssub.add_parser("order-run", help="the proof: N concurrent signed order pushes for one SKU with "
                                            "stock S on a fresh local cloud; prints the figures")
    run.add_argument("--orders", type=int, default=1000)
    run.add_argument("--stock", type=int, default=100)
    run.add_argument("--threads", type=int, default=16)
    run.add_argument("--concurrency", type=int, default=8, help="Lambda concurrency of the local cloud")
    run.add_argument("--json", action="store_true", help="the whole run as JSON")
    run.set_defaults(func=_order_run)


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {n}")
    return n


def _ledger():
    from shangjia.pipeline.deps import aws_deps
    from shangjia.stock import ledger_for

    return ledger_for(aws_deps())


def _show(args) -> int:
    _use_endpoint(args)
    led = _ledger()
    lv = led.levels(args.merchant, args.sku)
    if lv is None:
        print(f"no stock level for {args.merchant}/{args.sku}", file=sys.stderr)
        return 1
    print(json.dumps({**lv.to_dict(), "movements": led.movements(args.merchant, args.sku, limit=args.limit)},
                     ensure_ascii=False, indent=2, default=str))
    return 0


def _orders(args) -> int:
    _use_endpoint(args)
    for o in _ledger().orders(args.merchant, state=args.state):
        print(json.dumps(o, ensure_ascii=False, default=str))
    return 0


def _set(args) -> int:
    _use_endpoint(args)
    r = _ledger().set_level(args.merchant, args.sku, args.on_hand, source=args.source, event_id=args.event_id,
                            seq=args.seq)
    print(json.dumps({"outcome": r.outcome, "level": r.level.to_dict() if r.level else None}, ensure_ascii=False))
    return 0


def _buffer(args) -> int:
    _use_endpoint(args)
    print(json.dumps(_ledger().set_buffer(args.merchant, args.sku, args.channel, args.units).to_dict()))
    return 0


def _reconcile(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.deps import aws_deps
    from shangjia.stock.sync import reconcile

    print(json.dumps(reconcile(aws_deps(), max_levels=args.levels), ensure_ascii=False, indent=2))
    return 0


def _order_run(args) -> int:
    import time

    from shangjia.localcloud import LocalCloud
    from shangjia.stock.proof import figures, order_run

    with LocalCloud(max_concurrency=args.concurrency) as cloud:
        t0 = time.monotonic()
        run = order_run(cloud, orders=args.orders, stock=args.stock, threads=args.threads)
        took = time.monotonic() - t0
    if args.json:
        print(json.dumps(run, ensure_ascii=False, indent=2, default=str))
        return 0
    for line in figures(run):
        print(line)
    print(f"took {took:.1f} s on the local cloud")
    p = run["after_paid"]
    ok = (p["orders"].get("committed", 0) == args.stock and p["on_hand"] == 0 and run["replay_changed_nothing"]
          and len(p["movement_ids"]) == len(set(p["movement_ids"])))
    return 0 if ok else 1
