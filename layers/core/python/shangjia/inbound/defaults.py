"""A merchant's import defaults: the values an imported product takes for the fields its source
does not carry.

Taobao's and Pinduoduo's export sheets, Shopify/WooCommerce CSVs and ERP feeds carry no
shipping template, return policy, dispatch days or cost price (and often no origin, package size,
keywords...): without help every imported product fails with FIELD_REQUIRED. The merchant states
these once (``shangjia merchants defaults set``; kept in the merchant profile as
``import_defaults``, ``pipeline.merchants``), and the inbound mapping fills them in:

- only into cells the source left empty: a value in the file (or in the ERP item, or in the
  feed's own ``defaults``) always wins;
- every filled cell is marked: an ``INBOUND_DEFAULT_APPLIED`` warning located at the product's
  row naming each field filled and its value (a finding's ``value``: the field names), so the
  merchant's report says "filled from your import defaults";
- only for imports (platform exports, ERP feeds); our own template sheet has the columns, and an
  empty one there is the merchant's to fill.

Which fields take a default: the ones that are a merchant-wide choice or fact (shipping template,
return policy, dispatch days, ships-from, origin, fragile, brand, material, keywords) and the
physical ones a merchant may state for a whole catalog of alike goods (weight, package size).
Never the product's identity or content (codes, title, category, description, images, specs,
price, stock, barcode). Three derived values, each only by an explicit rule:

- ``cost_ratio`` (0 < r ≤ 1): cost price = the SKU's price × r, rounded to the fen. Cost price has
  no honest default value (it is per SKU and drives the promo-below-cost check), so without this
  rule it stays required; with it the merchant has said how their costs relate to their prices,
  and each filled cost says so, ratio included.
- ``market_price_from_price``: market price (划线价) = the price, i.e. no strike-through discount
  claimed (the one value that claims nothing).
- ``model_from_spu_code``: model (型号) = the product code, as merchants whose 货号 is their
  商家编码 do.
Without defaults, ``missing_notice`` tells the batch (a file-level warning) which fields the
import lacks and how to set them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# field -> level, for the fields a default value may fill (the spec says the level; kept here too
# so a spec change that moves one is caught by the tests, not by a merchant)
VALUE_FIELDS = ("shipping_template", "return_policy", "dispatch_days", "ship_from", "origin", "fragile",
                "brand", "material", "keywords", "weight_kg", "package_size_cm")
RULES = ("cost_ratio", "market_price_from_price", "model_from_spu_code")
# what no platform export or ERP item carries: without a default, every imported product fails on these
NEVER_CARRIED = ("shipping_template", "return_policy", "dispatch_days", "fragile", "cost_price")


def _spec():
    from shangjia.spec import load_spec

    return {f.name: f for f in load_spec().fields}


def _label(name: str) -> tuple[str, str]:
    f = _spec().get(name)
    return (f.zh, f.en) if f else (name, name)


def _check_value(name: str, value: Any, shipping_templates: list[str] | None) -> str:
    """The value as a merchant types it in our sheet (a string), or ValueError saying why not."""
    from shangjia.validation import values as V

    f = _spec()[name]
    if isinstance(value, bool):
        value = "是" if value else "否"
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError(f"{name}: empty (use clear to remove a default)")
    if f.max_len and len(text) > f.max_len:
        raise ValueError(f"{name}: longer than {f.max_len} characters")
    if name == "shipping_template":
        if shipping_templates and text not in shipping_templates:
            raise ValueError(f"shipping_template: {text!r} is not one of the merchant's templates "
                             f"({', '.join(shipping_templates)})")
        return text
    if f.type == "enum":
        choice = text if text in f.choices else f.choice_aliases.get(text)
        if choice is None:
            raise ValueError(f"{name}: {text!r} is not one of {', '.join(f.choices)}")
        return choice
    if f.type == "int":
        n = V.to_int(text)
        if (f.min_value is not None and n < int(f.min_value)) or (f.max_value is not None and n > int(f.max_value)):
            raise ValueError(f"{name}: {n} is outside {f.min_value}–{f.max_value}")
        return str(n)
    if f.type == "bool":
        return "是" if V.to_bool(text) else "否"
    if f.type == "decimal":
        d = V.to_decimal(text, "kg")
        if d <= 0 or (f.max_value is not None and d > Decimal(str(f.max_value))):
            raise ValueError(f"{name}: {text!r} must be > 0 and ≤ {f.max_value}")
        return str(d)
    if f.type == "dims":
        V.to_dims(text)
        return text
    if f.type == "list":
        items = V.split_list(text, "|,，;；、")
        if not items or (f.max_items and len(items) > f.max_items):
            raise ValueError(f"{name}: give 1–{f.max_items} terms")
        return "|".join(items)
    return text


def check_import_defaults(d: dict[str, Any] | None, *, shipping_templates: list[str] | None = None) -> dict[str, Any]:
    """The defaults, each value checked against the product spec (and the merchant's shipping
    templates), as stored; ``ValueError`` naming every problem."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for k, v in (d or {}).items():
        try:
            if k in VALUE_FIELDS:
                out[k] = _check_value(k, v, shipping_templates)
            elif k == "cost_ratio":
                try:
                    r = Decimal(str(v).strip())
                except InvalidOperation:
                    raise ValueError(f"cost_ratio: {v!r} is not a number") from None
                if not r.is_finite() or not (0 < r <= 1):
                    raise ValueError(f"cost_ratio: {v!r} must be > 0 and ≤ 1 (cost = price × ratio)")
                out[k] = str(r)
            elif k in ("market_price_from_price", "model_from_spu_code"):
                if not isinstance(v, bool):
                    from shangjia.validation.values import to_bool
                    v = to_bool(str(v))
                if v:
                    out[k] = True
            else:
                raise ValueError(f"{k}: not a field that takes an import default "
                                 f"(fields: {', '.join(VALUE_FIELDS)}; rules: {', '.join(RULES)})")
        except ValueError as e:
            problems.append(str(e) if str(e).startswith(k) else f"{k}: {e}")
    if problems:
        raise ValueError("; ".join(problems))
    return out


def apply_import_defaults(mp, defaults: dict[str, Any] | None) -> list[str]:
    """Fill ``mp``'s (a ``model.MappedProduct``) empty cells from ``defaults``, and mark them: one
    INBOUND_DEFAULT_APPLIED warning at the product's first row naming every field filled, its value
    (or rule) and on how many of the product's SKUs (one finding a product, not one a cell: a
    100-SKU product would otherwise carry hundreds). The fields filled, in order."""
    if not defaults or not mp.rows:
        return []
    spec = _spec()
    filled: dict[str, list] = {}          # field -> [(shown zh, shown en), rows filled]

    def fill(idx: int, name: str, value: str, rule: tuple[str, str] | None = None) -> None:
        row = mp.rows[idx]
        if row.cells.get(name):
            return                            # the source's value wins
        row.cells[name] = value
        filled.setdefault(name, [rule or (value, value), 0])[1] += 1

    for name in VALUE_FIELDS:
        v = defaults.get(name)
        if v in (None, ""):
            continue
        for i in ([0] if spec[name].level == "spu" else range(len(mp.rows))):
            fill(i, name, str(v))
    if defaults.get("model_from_spu_code") and mp.spu_code:
        fill(0, "model", mp.spu_code, ("= 商品编码", "= product code"))
    ratio = defaults.get("cost_ratio")
    for i, row in enumerate(mp.rows):
        try:
            p = Decimal(row.cells.get("price") or "")
        except InvalidOperation:
            continue                          # no readable price (an error of its own): nothing to derive
        if defaults.get("market_price_from_price"):
            fill(i, "market_price", f"{p:.2f}", ("= 售价", "= price"))
        if ratio:
            cost = (p * Decimal(str(ratio))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            fill(i, "cost_price", f"{cost:.2f}", (f"= 售价 × {ratio}", f"= price × {ratio}"))
    if filled:
        skus = len(mp.rows)
        zh, en = [], []
        for name, ((shown_zh, shown_en), n) in filled.items():
            lzh, len_ = _label(name)
            many = spec[name].level == "sku" and skus > 1
            zh.append(f"{lzh} {shown_zh}" + (f"（{n}/{skus} 个 SKU）" if many else ""))
            en.append(f"{len_} {shown_en}" + (f" ({n} of {skus} SKUs)" if many else ""))
        first = next(iter(filled))
        mp.issue("INBOUND_DEFAULT_APPLIED", first, 0, value=",".join(filled),
                 filled_zh="；".join(zh), filled_en="; ".join(en))
    return list(filled)


def covers(defaults: dict[str, Any] | None) -> set[str]:
    """The fields ``defaults`` can fill."""
    d = defaults or {}
    out = {k for k in VALUE_FIELDS if d.get(k) not in (None, "")}
    if d.get("cost_ratio"):
        out.add("cost_price")
    if d.get("market_price_from_price"):
        out.add("market_price")
    if d.get("model_from_spu_code"):
        out.add("model")
    return out


def missing_notice(platform: str, defaults: dict[str, Any] | None, also_given: set[str] | frozenset = frozenset()):
    """A file-level INBOUND_IMPORT_DEFAULTS_MISSING warning naming the fields no import carries and
    neither the merchant's defaults nor ``also_given`` (a feed's own defaults) fill; None if none."""
    from shangjia.errors import finding

    lacking = [n for n in NEVER_CARRIED if n not in covers(defaults) and n not in also_given]
    if not lacking:
        return None
    return finding("INBOUND_IMPORT_DEFAULTS_MISSING", platform=platform,
                   fields_zh="、".join(_label(n)[0] for n in lacking),
                   fields_en=", ".join(_label(n)[1] for n in lacking),
                   value=",".join(lacking))


def attach_import_defaults(reader, merchant: dict[str, Any] | None) -> None:
    """Give an import's reader (``exports.ExportReader``, ``feed.FeedReader``) the merchant's
    import defaults, and add the notice when they leave required fields unfilled; any other
    reader (our own sheet) is left alone. Called by ingest right after opening the upload."""
    if not hasattr(reader, "import_defaults"):
        return
    defaults = import_defaults_of(merchant)
    reader.import_defaults = defaults
    given = set(getattr(getattr(reader, "feed", None), "defaults", None) or {})
    note = missing_notice(reader.platform_shown(), defaults, given)
    if note is not None:
        reader.findings.append(note)


def import_defaults_of(merchant: dict[str, Any] | None) -> dict[str, Any]:
    return dict((merchant or {}).get("import_defaults") or {})
