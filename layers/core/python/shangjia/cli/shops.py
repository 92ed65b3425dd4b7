"""``shangjia shops add|show``: a merchant's shop on WeChat or Douyin (credentials into Secrets
Manager as ``shangjia/shops/<merchant>/<channel>``; see ``shangjia.channels.credentials``)."""

from __future__ import annotations

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    p = sub.add_parser("shops", help="merchants' shops on the sales channels (credentials)")
    ssub = p.add_subparsers(dest="shops_command", metavar="ACTION")
    add = ssub.add_parser("add", help="add or replace a merchant's shop on a channel (writes the secret)")
    _endpoint_arg(add)
    add.add_argument("merchant")
    add.add_argument("channel", choices=("wechat", "douyin"))
    add.add_argument("--shop-id", required=True, help="the platform's shop id")
    add.add_argument("--app-id", required=True, help="WeChat appid / Douyin app_key")
    add.add_argument("--app-secret", required=True, help="WeChat AppSecret / Douyin app_secret")
    add.add_argument("--callback-token", default="", help="WeChat: the push token set in the console")
    add.add_argument("--base-url", default="", help="the platform's gateway (default: the production one)")
    add.set_defaults(func=_add)
    show = ssub.add_parser("show", help="a merchant's shops (ids only, never secrets)")
    _endpoint_arg(show)
    show.add_argument("merchant")
    show.set_defaults(func=_show)


def _deps():
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()


def _add(args) -> int:
    _use_endpoint(args)
    from shangjia.channels import Shop
    from shangjia.channels.credentials import save_shop
    from shangjia.clock import SystemClock, iso
    from shangjia.pipeline import keys

    deps = _deps()
    if deps.store.get(*keys.merchant(args.merchant)) is None:
        print(f"refused: unknown merchant {args.merchant} (shangjia merchant add first)", file=sys.stderr)
        return 2
    shop = Shop(args.merchant, args.channel, shop_id=args.shop_id, app_id=args.app_id,
                app_secret=args.app_secret, callback_token=args.callback_token, base_url=args.base_url)
    try:
        save_shop(deps, shop, at=iso(SystemClock().now()))
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"merchant_id": shop.merchant_id, "channel": shop.channel, "shop_id": shop.shop_id,
                      "app_id": shop.app_id, "secret": f"shangjia/shops/{shop.merchant_id}/{shop.channel}"},
                     ensure_ascii=False))
    return 0


def _show(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline import keys

    deps = _deps()
    pk, _ = keys.merchant(args.merchant)
    for item in deps.store.query(pk, sk_prefix="SHOP#"):
        print(json.dumps({k: item.get(k) for k in ("merchant_id", "channel", "shop_id", "app_id", "base_url",
                                                     "has_callback_token", "updated_at")}, ensure_ascii=False))
    return 0
