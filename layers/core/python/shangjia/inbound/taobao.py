"""Taobao item data (``taobao.item.get`` / ``taobao.item.seller.get``) -> our raw product.

Shape (../shared/CHANNEL-APIS.md 3.3): ``num_iid`` (Long), ``cid`` (leaf category), ``props``
``pid:vid;...``, ``props_name`` ``pid:vid:pname:vname;...`` with ``:`` escaped ``#cln#`` and ``;``
``#scln#`` inside names, ``property_alias`` ``pid:vid:alias;...``, ``price`` and each SKU's
``price`` as yuan strings, ``num``, ``outer_id``, ``pic_url``, ``item_imgs.item_img[{url,
position}]``, ``desc`` (HTML), ``skus.sku[{sku_id, properties, properties_name, price,
quantity, outer_id, status}]``. A response wrapper (``item_seller_get_response.item``) is
unwrapped. Our fields the item does not carry (shipping template, return policy, weights...)
come from the call's ``defaults`` or the item's ``shangjia`` object.
"""

from __future__ import annotations

from typing import Any

from shangjia.inbound.model import (MappedProduct, MappedRow, html_images, html_text, int_text, join_images,
                                    kv_join, set_category, set_properties, sid, spec_name, yuan)

PLATFORM = "taobao"
WRAPPERS = ("item_seller_get_response", "item_get_response")


def unwrap(item: Any) -> Any:
    if isinstance(item, dict):
        for w in WRAPPERS:
            if isinstance(item.get(w), dict) and isinstance(item[w].get("item"), dict):
                return item[w]["item"]
    return item


def looks_like(item: Any) -> bool:
    item = unwrap(item)
    return isinstance(item, dict) and "num_iid" in item and ("cid" in item or "title" in item)


def unescape(name: str) -> str:
    """``#cln#`` -> ``:`` and ``#scln#`` -> ``;`` (names in props_name / properties_name)."""
    return name.replace("#scln#", ";").replace("#cln#", ":")


def parse_props_name(s: str | None) -> list[tuple[str, str, str, str]]:
    """``pid:vid:pname:vname;...`` -> [(pid, vid, pname, vname)], names unescaped. The escaping
    keeps ``:`` and ``;`` out of names, so splitting on them is exact."""
    out = []
    for part in (s or "").split(";"):
        bits = part.split(":")
        if len(bits) >= 4 and bits[0].strip():
            out.append((bits[0].strip(), bits[1].strip(), unescape(bits[2]).strip(), unescape(":".join(bits[3:])).strip()))
    return out


def parse_alias(s: str | None) -> dict[tuple[str, str], str]:
    out = {}
    for part in (s or "").split(";"):
        bits = part.split(":")
        if len(bits) >= 3 and bits[0].strip():
            out[(bits[0].strip(), bits[1].strip())] = unescape(":".join(bits[2:])).strip()
    return out


def _list(v: Any, key: str) -> list:
    """``{"sku": [...]}`` (TOP's JSON) or a bare list."""
    if isinstance(v, dict):
        v = v.get(key)
    return v if isinstance(v, list) else []


def map_item(item: dict[str, Any], *, defaults: dict[str, Any] | None = None) -> MappedProduct:
    from shangjia.inbound.model import apply_overrides

    item = unwrap(item)
    num_iid = sid(item.get("num_iid"))
    spu = sid(item.get("outer_id")) or num_iid
    props = parse_props_name(item.get("props_name"))
    alias = parse_alias(item.get("property_alias"))
    first: dict[str, str] = {"spu_code": spu, "title": str(item.get("title") or "").strip()}
    mp = MappedProduct(PLATFORM, num_iid, spu, [MappedRow(first)])

    set_category(mp, first, "淘宝 Taobao", sid(item.get("cid")), "cid")
    set_properties(first, [(pname, alias.get((pid, vid), vname)) for pid, vid, pname, vname in props])

    imgs = sorted(_list(item.get("item_imgs"), "item_img"), key=lambda i: int(i.get("position") or 0)
                  if isinstance(i, dict) and str(i.get("position") or "0").isdigit() else 0)
    urls = [str(i.get("url") or "") for i in imgs if isinstance(i, dict)]
    if item.get("pic_url"):
        urls = [str(item["pic_url"])] + urls
    urls = join_images(urls).split("|") if urls else []
    if urls and urls[0]:
        first["main_image"] = urls[0]
        if urls[1:]:
            first["gallery_images"] = "|".join(urls[1:])
    desc = str(item.get("desc") or "")
    if desc:
        first["description"] = html_text(desc)
        detail = join_images(html_images(desc))
        if detail:
            first["detail_images"] = detail

    skus = [s for s in _list(item.get("skus"), "sku") if isinstance(s, dict) and s.get("status") != "delete"]
    sku_levels: list[dict | None] = []
    if not skus:                              # a single-SKU item: the item is its own SKU
        skus_src = [{"price": item.get("price"), "quantity": item.get("num"), "outer_id": item.get("outer_id")
                     or num_iid, "_single": True}]
    else:
        skus_src = skus
    for i, s in enumerate(skus_src):
        row = first if i == 0 else {}
        if i:
            mp.rows.append(MappedRow(row))
        code = sid(s.get("outer_id")) or (f"{num_iid}-{sid(s.get('sku_id'))}" if s.get("sku_id") else "")
        if code:
            row["sku_code"] = code
        if not s.get("_single"):
            pairs = []
            for pid, vid, pname, vname in parse_props_name(s.get("properties_name")):
                pairs.append((spec_name(pname), alias.get((pid, vid), vname)))
            if pairs:
                row["spec_values"] = kv_join(pairs)
        price, why = yuan(s.get("price"))
        if price:
            row["price"] = price
        else:
            mp.issue("INBOUND_PRICE_INVALID", "price", i, value=s.get("price"), unit="元 yuan", reason=why)
        qty = int_text(s.get("quantity"))
        if qty is not None:
            row["stock"] = qty
        elif s.get("quantity") not in (None, ""):
            mp.issue("INBOUND_FIELD_INVALID", "stock", i, value=s.get("quantity"), reason="not an integer")
        sku_levels.append(s.get("shangjia") if isinstance(s.get("shangjia"), dict) else None)
    apply_overrides(mp, item.get("shangjia") if isinstance(item.get("shangjia"), dict) else None, defaults,
                    sku_levels)
    return mp
