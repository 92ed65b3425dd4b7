"""Pure builders: our stored product -> a platform's request body. No I/O, no clock.

``product`` is ``item["product"]`` as validate writes it: ``spu_code``, ``title``, ``category``,
``skus[{sku_code, price_fen, market_price_fen?, stock, spec{name: value}, barcode?, weight_kg?}]``,
images by slot. Image URLs are the platform's own (the adapter re-hosts our renditions first and
passes them in); ``wechat_head_refs`` / ``douyin_pic_refs`` say which of our images go where.

Shapes follow ``../shared/CHANNEL-APIS.md`` §1.4 (Douyin ``product/addV2``) and §2.2 (WeChat
``product/add``). Every platform id is a ``str`` (19-digit ids do not survive floats); money is
integer fen. Structural mistakes a caller should never make (image counts, a spec grid that does
not match the SKUs) raise ``PayloadError``; what a merchant can fix is ``readiness``'s job.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from shangjia.channels.categories import wechat_attrs

__all__ = [
    "PayloadError", "WECHAT", "DOUYIN", "wechat_product", "douyin_product", "wechat_sku_code",
    "wechat_head_refs", "douyin_pic_refs", "spec_axes", "douyin_specs", "parse_douyin_specs",
    "douyin_spec_prices", "canonical_json", "head_image_refs",
]


class PayloadError(ValueError):
    """The caller passed what the platform's shape cannot hold (a bug upstream, not the merchant's)."""


# --- platform limits and documented defaults ------------------------------------------------------

class WECHAT:
    HEAD_MIN = 3
    HEAD_MIN_FOOD = 4            # food, beverage, fresh produce
    HEAD_MAX = 9
    DESC_IMGS_MAX = 50
    DESC_TEXT_MAX = 2000
    TITLE_MAX = 60
    TITLE_MIN_EFFECTIVE = 5
    SKU_MIN, SKU_MAX = 1, 500    # errcode 10020013
    SKU_CODE_MAX = 20
    SKU_ATTR_MAX = 40
    NO_BRAND_ID = "2100000000"   # brand_id for "no brand" (WxJava)
    DELIVER_EXPRESS = 0          # deliver_method 0: express delivery
    # groups of our tree WeChat counts as food, beverage or fresh produce (4 head images)
    FOOD_GROUPS = frozenset({"food"})


class DOUYIN:
    PIC_MAX = 5
    IMAGES_TOTAL_MAX = 50        # pic + description + spec_pic
    NAME_MAX_WIDTH = 60          # 60 characters, a Chinese character counting 2 (30 of them)
    SPEC_DIMENSIONS_MAX = 3      # spec_detail_name1..3
    SEPARATORS = "|,^"           # specs: "name|v1,v2^name2|..."
    NO_BRAND_ID = "596120136"    # standard_brand_id for "no brand"
    FREE_SHIPPING = "0"          # freight_id 0: free shipping
    PRODUCT_TYPE_NORMAL = 0
    PAY_ONLINE = 1               # pay_type 1: online payment
    REDUCE_ON_ORDER = 1          # reduce_type 1: stock deducted when ordered
    DEFAULT_SPEC = ("规格", "默认")  # a product without specs is one SKU of this one-value spec


# --- shared helpers -------------------------------------------------------------------------------

def _dedupe(xs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(x for x in xs if x))


def head_image_refs(product: dict[str, Any]) -> list[str]:
    """Our carousel in order: the main image, then the gallery; duplicates dropped."""
    images = product.get("images") or {}
    return _dedupe([*(images.get("main") or []), *(images.get("gallery") or [])])


def wechat_head_refs(product: dict[str, Any]) -> list[str]:
    """Which of our images become WeChat ``head_imgs``: the carousel, first 9."""
    return head_image_refs(product)[:WECHAT.HEAD_MAX]


def douyin_pic_refs(product: dict[str, Any]) -> list[str]:
    """Which of our images become Douyin ``pic``: the carousel, first 5 (the first is the main image)."""
    return head_image_refs(product)[:DOUYIN.PIC_MAX]


def canonical_json(v: Any) -> str:
    """JSON-in-a-string fields (Douyin ``spec_prices``, ``product_format_new``): keys sorted,
    compact, non-ASCII kept, so the same product always gives the same bytes."""
    return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def spec_axes(product: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The product's spec dimensions in sheet order (the first SKU's), each with its values in
    first-seen order. No spec at all: ``[]``."""
    axes: dict[str, list[str]] = {}
    for s in product.get("skus") or []:
        for k, v in (s.get("spec") or {}).items():
            vals = axes.setdefault(str(k), [])
            if str(v) not in vals:
                vals.append(str(v))
    return [(k, vs) for k, vs in axes.items()]


def _combo(sku: dict[str, Any], names: list[str]) -> tuple[str, ...]:
    spec = sku.get("spec") or {}
    return tuple(str(spec.get(n, "")) for n in names)


def _axes_or_default(product: dict[str, Any]) -> list[tuple[str, list[str]]]:
    axes = spec_axes(product)
    if axes:
        return axes
    name, value = DOUYIN.DEFAULT_SPEC
    return [(name, [value])]


# --- WeChat ---------------------------------------------------------------------------------------

def wechat_sku_code(code: str) -> str:
    """WeChat's ``sku_code`` holds at most 20 characters; ours up to 64. A code that fits is sent
    as it is. A longer one becomes its first 11 characters, "-" and 8 hex digits of its SHA-1:
    20 characters, stable, and distinct for distinct codes in practice. The full code always goes
    in ``out_sku_id``, which is what orders are matched on."""
    code = str(code)
    if len(code) <= WECHAT.SKU_CODE_MAX:
        return code
    return f"{code[:11]}-{hashlib.sha1(code.encode('utf-8')).hexdigest()[:8]}"


def _seven_day_return(product: dict[str, Any]) -> int:
    policy = str(product.get("return_policy") or "")
    return 0 if (not policy or policy.startswith("不支持")) else 1


def wechat_product(product: dict[str, Any], *, head_imgs: list[str], desc_imgs: list[str], cats_v2: list[str],
                   attrs: list[dict[str, str]] | None = None, express_template_id: str | None = None,
                   brand_id: str = WECHAT.NO_BRAND_ID) -> dict[str, Any]:
    """The body of ``POST /channels/ec/product/add``. ``head_imgs``/``desc_imgs`` are WeChat image
    URLs (``mmecimage.cn/p/...``) in order; ``cats_v2`` the three category ids
    (``categories.require_mapping(product, "wechat").cats_v2``). ``attrs`` defaults to
    ``categories.wechat_attrs(product)``; ``brand_id`` to "2100000000" (no brand: our brand names
    are not WeChat brand ids, the adapter passes one when the shop has it). ``listing`` is left to the adapter (add only writes the
    draft). ``market_price`` is sent only when above the price (WeChat refuses it otherwise,
    10020040; our spec allows it equal, which means "no struck-out price")."""
    heads = _dedupe(head_imgs)
    if len(heads) != len([h for h in head_imgs if h]):
        raise PayloadError("head_imgs holds duplicates")
    if not WECHAT.HEAD_MIN <= len(heads) <= WECHAT.HEAD_MAX:
        raise PayloadError(f"head_imgs needs {WECHAT.HEAD_MIN}-{WECHAT.HEAD_MAX} images, got {len(heads)}")
    if len(desc_imgs) > WECHAT.DESC_IMGS_MAX:
        raise PayloadError(f"desc_info.imgs holds at most {WECHAT.DESC_IMGS_MAX} images, got {len(desc_imgs)}")
    cats = [str(c) for c in cats_v2]
    if len(cats) != 3:
        raise PayloadError(f"cats_v2 needs 3 category ids, got {len(cats)}")
    if attrs is None:
        attrs, _ = wechat_attrs(product)
    names = [k for k, _ in spec_axes(product)]
    skus = []
    for s in product.get("skus") or []:
        price = int(s["price_fen"])
        sku: dict[str, Any] = {
            "out_sku_id": str(s["sku_code"]),
            "sku_code": wechat_sku_code(s["sku_code"]),
            "sale_price": price,
            "stock_num": int(s.get("stock") or 0),
            "sku_attrs": [{"attr_key": n, "attr_value": v} for n, v in zip(names, _combo(s, names)) if v != ""],
        }
        market = s.get("market_price_fen")
        if market is not None and int(market) > price:
            sku["market_price"] = int(market)
        if s.get("barcode"):
            sku["bar_code"] = str(s["barcode"])
        skus.append(sku)
    body: dict[str, Any] = {
        "out_product_id": str(product["spu_code"]),
        "title": str(product.get("title") or ""),
        "head_imgs": heads,
        "desc_info": {"imgs": list(desc_imgs), "desc": str(product.get("description") or "")[:WECHAT.DESC_TEXT_MAX]},
        "cats_v2": [{"cat_id": c} for c in cats],
        "attrs": [{"attr_key": str(a["attr_key"]), "attr_value": str(a["attr_value"])} for a in attrs],
        "deliver_method": WECHAT.DELIVER_EXPRESS,
        "brand_id": str(brand_id),
        "extra_service": {"seven_day_return": _seven_day_return(product), "freight_insurance": 0},
        "skus": skus,
    }
    if express_template_id is not None:
        body["express_info"] = {"template_id": str(express_template_id)}
        grams = _max_weight_g(product)
        if grams is not None:
            body["express_info"]["weight"] = grams
    return body


def _weights_kg(product: dict[str, Any]) -> list[Decimal]:
    out = []
    for s in product.get("skus") or []:
        try:
            w = Decimal(str(s.get("weight_kg")))
        except (InvalidOperation, ValueError):
            continue
        if w.is_finite() and w > 0:
            out.append(w)
    return out


def _max_weight_g(product: dict[str, Any]) -> int | None:
    ws = _weights_kg(product)
    return int((max(ws) * 1000).to_integral_value()) if ws else None


# --- Douyin ---------------------------------------------------------------------------------------

def douyin_specs(axes: list[tuple[str, list[str]]]) -> str:
    """``颜色|红,黑^尺码|M,L``. Raises when a name or value holds a separator (``| , ^``)."""
    for name, values in axes:
        for t in (name, *values):
            if not t or any(c in t for c in DOUYIN.SEPARATORS):
                raise PayloadError(f"spec text {t!r} is empty or holds one of {DOUYIN.SEPARATORS!r}")
    return "^".join(f"{name}|{','.join(values)}" for name, values in axes)


def parse_douyin_specs(specs: str) -> list[tuple[str, list[str]]]:
    """The inverse of ``douyin_specs``."""
    if not specs:
        return []
    out = []
    for group in specs.split("^"):
        name, _, values = group.partition("|")
        out.append((name, values.split(",")))
    return out


def douyin_spec_prices(product: dict[str, Any], axes: list[tuple[str, list[str]]] | None = None) -> list[dict[str, Any]]:
    """One entry per spec combination, in the order the combinations of ``specs`` enumerate
    (first dimension slowest), each the SKU of that combination: ``price`` (fen), ``stock_num``,
    ``code`` and ``outer_sku_id`` (our SKU code), ``spec_detail_name1..3``. Raises unless every
    combination has exactly one SKU and every SKU one combination."""
    skus = list(product.get("skus") or [])
    if axes is None:
        axes = _axes_or_default(product)
    if len(axes) > DOUYIN.SPEC_DIMENSIONS_MAX:
        raise PayloadError(f"Douyin takes at most {DOUYIN.SPEC_DIMENSIONS_MAX} spec dimensions, got {len(axes)}")
    names = [n for n, _ in axes]
    default = not spec_axes(product)
    by_combo: dict[tuple[str, ...], dict[str, Any]] = {}
    for s in skus:
        c = (DOUYIN.DEFAULT_SPEC[1],) if default else _combo(s, names)
        if c in by_combo:
            raise PayloadError(f"two SKUs share the spec combination {c}")
        by_combo[c] = s
    combos = list(itertools.product(*(vs for _, vs in axes)))
    if len(combos) != len(skus) or any(c not in by_combo for c in combos):
        raise PayloadError(f"{len(combos)} spec combinations but {len(skus)} SKUs (or a combination without its SKU)")
    out = []
    for c in combos:
        s = by_combo[c]
        e: dict[str, Any] = {"price": int(s["price_fen"]), "stock_num": int(s.get("stock") or 0),
                             "code": str(s["sku_code"]), "outer_sku_id": str(s["sku_code"])}
        for i, v in enumerate(c, 1):
            e[f"spec_detail_name{i}"] = v
        out.append(e)
    return out


def _name_text(product: dict[str, Any]) -> str:
    return re.sub(r"\s+", " ", str(product.get("title") or "")).strip()


def douyin_product(product: dict[str, Any], *, pics: list[str], description_pics: list[str],
                   category_leaf_id: str, product_format_new: dict,
                   freight_id: str = DOUYIN.FREE_SHIPPING, standard_brand_id: str = DOUYIN.NO_BRAND_ID,
                   mobile: str | None = None, commit: bool = True) -> dict[str, Any]:
    """The ``param_json`` object of ``product/addV2`` (signing serialises it). ``pics`` and
    ``description_pics`` are Douyin material-centre URLs in order (the first pic is the main
    image); ``category_leaf_id`` and ``product_format_new`` come from ``categories``
    (``require_mapping(product, "douyin").category_leaf_id``, ``douyin_format(product)[0]``).

    Documented defaults: ``product_type`` 0 (normal), ``pay_type`` 1 (online), ``reduce_type`` 1
    (stock deducted when ordered), ``freight_id`` "0" (free shipping; pass the merchant's template
    id), ``standard_brand_id`` "596120136" (no brand), ``commit`` true (save and submit for audit),
    ``start_sale_type`` 0 (on sale once approved), ``delivery_delay_day`` our dispatch days (2 when
    unknown, the platform's default), ``supply_7day_return`` 1 unless the return policy refuses."""
    pic_list = [p for p in pics if p]
    if not 1 <= len(pic_list) <= DOUYIN.PIC_MAX:
        raise PayloadError(f"pic needs 1-{DOUYIN.PIC_MAX} images, got {len(pic_list)}")
    desc_list = [p for p in description_pics if p]
    if len(pic_list) + len(desc_list) > DOUYIN.IMAGES_TOTAL_MAX:
        raise PayloadError(f"pic + description hold at most {DOUYIN.IMAGES_TOTAL_MAX} images")
    if any("|" in p for p in (*pic_list, *desc_list)):
        raise PayloadError("an image URL holds '|', the separator of pic and description")
    axes = _axes_or_default(product)
    body: dict[str, Any] = {
        "outer_product_id": str(product["spu_code"]),
        "product_type": DOUYIN.PRODUCT_TYPE_NORMAL,
        "category_leaf_id": str(category_leaf_id),
        "name": _name_text(product),
        "pic": "|".join(pic_list),
        "description": "|".join(desc_list),
        "product_format_new": canonical_json({str(k): v for k, v in (product_format_new or {}).items()}),
        "specs": douyin_specs(axes),
        "spec_prices": canonical_json(douyin_spec_prices(product, axes)),
        "pay_type": DOUYIN.PAY_ONLINE,
        "reduce_type": DOUYIN.REDUCE_ON_ORDER,
        "freight_id": str(freight_id),
        "standard_brand_id": str(standard_brand_id),
        "delivery_delay_day": int(product.get("dispatch_days") or 2),
        "supply_7day_return": _seven_day_return(product),
        "start_sale_type": 0,
        "commit": bool(commit),
    }
    ws = _weights_kg(product)
    if ws:
        body["weight"] = float(max(ws))
        body["weight_unit"] = 0          # kg
    if mobile:
        body["mobile"] = str(mobile)
    return body
