"""Pinduoduo goods data -> our raw product.

Two read APIs, two price units (../shared/CHANNEL-APIS.md 4.3), told apart by their field
names, never by the size of a number:
- ``pdd.goods.detail.get`` (``goods_detail_get_response``): ``goods_id``, ``goods_name``,
  ``cat_id``, ``goods_desc``, ``outer_goods_id``, ``carousel_gallery_list``,
  ``detail_gallery_list``, ``market_price`` (fen), ``sku_list[{sku_id, price, multi_price``
  (fen)``, quantity, out_sku_sn, spec[{parent_name, spec_name}], is_onsale}]``. ``pdd.goods.add``
  bodies (``carousel_gallery``, ``detail_gallery``) read the same.
- ``pdd.goods.information.get`` (``goods_info_get_response.goods_info``, no longer maintained):
  ``sku_list[{sku_id, spec, sku_quantity, outer_id, outer_goods_id, single_price, group_price}]``
  with prices as YUAN strings, ``image_url``.
Our price is the single-buy price (``price`` / ``single_price``); the group price is not ours.
"""

from __future__ import annotations

from typing import Any

from shangjia.inbound.model import (MappedProduct, MappedRow, apply_overrides, fen_to_yuan, html_images,
                                    html_text, int_text, join_images, kv_join, set_category, set_properties, sid,
                                    spec_name, yuan)

PLATFORM = "pinduoduo"


def unwrap(item: Any) -> Any:
    if isinstance(item, dict):
        if isinstance(item.get("goods_detail_get_response"), dict):
            return item["goods_detail_get_response"]
        info = item.get("goods_info_get_response")
        if isinstance(info, dict) and isinstance(info.get("goods_info"), dict):
            return info["goods_info"]
    return item


def looks_like(item: Any) -> bool:
    item = unwrap(item)
    return isinstance(item, dict) and ("goods_id" in item or "cat_id" in item) and isinstance(item.get("sku_list"), list)


def _spec_pairs(spec: Any) -> list[tuple[str, str]]:
    if isinstance(spec, list):                  # detail.get: [{parent_name, spec_name}]
        return [(spec_name(str(s.get("parent_name") or s.get("spec_key") or "规格")),
                 str(s.get("spec_name") or s.get("spec_value") or "")) for s in spec if isinstance(s, dict)]
    if isinstance(spec, str) and spec.strip():  # information.get: one text ("红色 M", "颜色:红色;尺码:M")
        if ":" in spec or "：" in spec:
            out = []
            for part in spec.replace("；", ";").split(";"):
                k, _, v = part.replace("：", ":").partition(":")
                if k.strip() and v.strip():
                    out.append((spec_name(k), v.strip()))
            return out
        return [("规格", spec.strip())]
    return []


def map_goods(goods: dict[str, Any], *, defaults: dict[str, Any] | None = None) -> MappedProduct:
    g = unwrap(goods)
    gid = sid(g.get("goods_id"))
    skus_all = [s for s in g.get("sku_list") or [] if isinstance(s, dict)]
    spu = sid(g.get("outer_goods_id") or g.get("out_goods_id") or g.get("goods_sn")) or \
        next((sid(s.get("outer_goods_id")) for s in skus_all if s.get("outer_goods_id")), "") or gid
    first: dict[str, str] = {"spu_code": spu, "title": str(g.get("goods_name") or "").strip()}
    mp = MappedProduct(PLATFORM, gid, spu, [MappedRow(first)])
    set_category(mp, first, "拼多多 Pinduoduo", sid(g.get("cat_id")), "cat_id")
    carousel = [str(u) for u in (g.get("carousel_gallery_list") or g.get("carousel_gallery") or []) if u]
    if not carousel and g.get("image_url"):
        carousel = [str(g["image_url"])]
    urls = join_images(carousel).split("|") if carousel else []
    if urls and urls[0]:
        first["main_image"] = urls[0]
        if urls[1:]:
            first["gallery_images"] = "|".join(urls[1:])
    detail = [str(u) for u in (g.get("detail_gallery_list") or g.get("detail_gallery") or []) if u]
    desc = str(g.get("goods_desc") or "")
    if desc:
        first["description"] = html_text(desc)
        detail += html_images(desc)
    if detail:
        first["detail_images"] = join_images(detail)
    props = [(str(p.get("name") or p.get("template_pid") or ""), str(p.get("value") or ""))
             for p in g.get("goods_properties") or [] if isinstance(p, dict) and p.get("name")]
    set_properties(first, props)
    market = None
    if g.get("market_price") not in (None, ""):
        market, why = fen_to_yuan(g.get("market_price"))
        if market is None:
            mp.issue("INBOUND_PRICE_INVALID", "market_price", value=g.get("market_price"), unit="分 fen", reason=why)

    skus = [s for s in skus_all if str(s.get("is_onsale", s.get("is_sku_onsale", 1))) != "0"]
    if not skus:
        mp.issue("INBOUND_NO_SKU", "sku_code", source_id=gid or spu)
    levels: list[dict | None] = []
    for i, s in enumerate(skus):
        row = first if i == 0 else {}
        if i:
            mp.rows.append(MappedRow(row))
        code = sid(s.get("out_sku_sn") or s.get("outer_id")) or (f"{gid}-{sid(s.get('sku_id'))}" if s.get("sku_id") else "")
        if code:
            row["sku_code"] = code
        pairs = _spec_pairs(s.get("spec"))
        if pairs and len(skus) > 1 or (pairs and pairs[0][0] != "规格"):
            row["spec_values"] = kv_join(pairs)
        if "single_price" in s or "group_price" in s:          # information.get: yuan strings
            price, why = yuan(s.get("single_price"))
            unit = "元 yuan (single_price)"
        else:                                                  # detail.get / goods.add: fen
            price, why = fen_to_yuan(s.get("price"))
            unit = "分 fen (price)"
        if price:
            row["price"] = price
        else:
            mp.issue("INBOUND_PRICE_INVALID", "price", i, value=s.get("single_price", s.get("price")), unit=unit,
                     reason=why)
        if market:
            row["market_price"] = market
        qty = int_text(s.get("quantity", s.get("sku_quantity")))
        if qty is not None:
            row["stock"] = qty
        levels.append(s.get("shangjia") if isinstance(s.get("shangjia"), dict) else None)
    apply_overrides(mp, g.get("shangjia") if isinstance(g.get("shangjia"), dict) else None, defaults, levels)
    return mp
