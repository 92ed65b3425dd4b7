"""``shangjia merchants defaults show|set|clear``: a merchant's import defaults, the values the
products of their platform exports and ERP feeds take for the fields those do not carry
(``shangjia.inbound.defaults``; docs/inbound.md, "Import defaults")."""

from __future__ import annotations

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint

# option -> the default it sets (see shangjia.inbound.defaults.VALUE_FIELDS and RULES)
_OPTIONS = (
    ("--shipping-template", "shipping_template", "one of the merchant's shipping templates"),
    ("--return-policy", "return_policy", "7天无理由退换 | 15天无理由退换 | 不支持无理由退换"),
    ("--dispatch-days", "dispatch_days", "days to dispatch after payment, 1-15"),
    ("--ship-from", "ship_from", "where the goods ship from (province/city)"),
    ("--origin", "origin", "产地"),
    ("--fragile", "fragile", "是/否 (yes/no)"),
    ("--brand", "brand", "品牌 (无品牌 allowed)"),
    ("--material", "material", "材质, for a catalog of one material"),
    ("--keywords", "keywords", "search terms, separated by |"),
    ("--weight-kg", "weight_kg", "every SKU's weight, for a catalog of alike goods"),
    ("--package-size-cm", "package_size_cm", "every SKU's package, LxWxH in cm"),
    ("--cost-ratio", "cost_ratio", "cost price = price x RATIO (0 < RATIO <= 1); without it cost price stays required"),
)
_FLAGS = (
    ("--market-price-from-price", "market_price_from_price", "market price (划线价) = price: no discount claimed"),
    ("--model-from-spu-code", "model_from_spu_code", "model (型号) = the product code"),
)


def register(sub) -> None:
    p = sub.add_parser("merchants", help="merchant settings: import defaults")
    msub = p.add_subparsers(dest="merchants_command", metavar="ACTION")
    d = msub.add_parser("defaults", help="the values imported products take for the fields their source lacks")
    dsub = d.add_subparsers(dest="defaults_command", metavar="ACTION")
    show = dsub.add_parser("show", help="a merchant's import defaults (JSON)")
    _endpoint_arg(show)
    show.add_argument("merchant")
    show.set_defaults(func=_show)
    st = dsub.add_parser("set", help="set import defaults (merged into the ones set before; checked first)")
    _endpoint_arg(st)
    st.add_argument("merchant")
    for opt, _name, about in _OPTIONS:
        st.add_argument(opt, help=about)
    for opt, _name, about in _FLAGS:
        st.add_argument(opt, action="store_true", help=about)
    st.set_defaults(func=_set)
    cl = dsub.add_parser("clear", help="remove some import defaults, or all of them")
    _endpoint_arg(cl)
    cl.add_argument("merchant")
    cl.add_argument("fields", nargs="*", help="the defaults to remove (e.g. cost_ratio); none: all")
    cl.set_defaults(func=_clear)


def _store():
    from shangjia.pipeline.deps import aws_deps

    return aws_deps().store


def _show(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.merchants import get_merchant, import_defaults

    profile = get_merchant(_store(), args.merchant)
    if profile is None:
        print(f"unknown merchant {args.merchant!r}", file=sys.stderr)
        return 2
    print(json.dumps({"merchant": args.merchant, "import_defaults": import_defaults(profile)}, ensure_ascii=False))
    return 0


def _save(args, change) -> int:
    from shangjia.pipeline.merchants import get_merchant, import_defaults, set_import_defaults

    store = _store()
    profile = get_merchant(store, args.merchant)
    if profile is None:
        print(f"unknown merchant {args.merchant!r}", file=sys.stderr)
        return 2
    try:
        saved = set_import_defaults(store, args.merchant, change(import_defaults(profile)))
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"merchant": args.merchant, "import_defaults": saved}, ensure_ascii=False))
    return 0


def _set(args) -> int:
    _use_endpoint(args)
    given = {name: getattr(args, opt[2:].replace("-", "_")) for opt, name, _ in _OPTIONS}
    given = {k: v for k, v in given.items() if v is not None}
    given.update({name: True for opt, name, _ in _FLAGS if getattr(args, opt[2:].replace("-", "_"))})
    if not given:
        print("nothing to set: name at least one default (see --help)", file=sys.stderr)
        return 2
    return _save(args, lambda old: {**old, **given})


def _clear(args) -> int:
    _use_endpoint(args)
    drop = set(args.fields)
    return _save(args, lambda old: {k: v for k, v in old.items() if drop and k not in drop})
