"""The own shop: this platform's storefront. Publishing writes the storefront record — the
product as a buyer sees it (title, images as rendition URLs, SKUs with price and stock) — to the
state table, live at once (no platform, no audit, no callbacks).

``platform_product_id`` is our own stable id for the record (``storefront_id``: derived from
merchant and product code, the same for every revision). ``storefront_product(deps, merchant_id,
spu)`` reads the record (the storefront's read endpoint serves it).
"""

from __future__ import annotations

import hashlib
from typing import Any

from shangjia.channels import AuditVerdict, ChannelError, Shop, Submitted, image_keys, media_url
from shangjia.ports import ConditionFailed

CHANNEL = "own_shop"


def storefront_key(merchant_id: str, spu: str) -> tuple[str, str]:
    return f"STOREFRONT#{merchant_id}", f"SPU#{spu}"


def storefront_id_key(sid: str) -> tuple[str, str]:
    """Which record a storefront id names (written once, with the first publication)."""
    return f"STOREFRONTID#{sid}", "REF"


def storefront_id(merchant_id: str, spu: str) -> str:
    """Our stable id of a product's storefront record."""
    return "sf-" + hashlib.sha256(f"{merchant_id}\x00{spu}".encode("utf-8")).hexdigest()[:24]


def storefront_product(deps, merchant_id: str, spu: str) -> dict[str, Any] | None:
    """The product as the storefront shows it, or None when it is not published there."""
    item = deps.store.get(*storefront_key(merchant_id, spu), consistent=False)
    if not item:
        return None
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "version")}


def storefront_record(merchant_id: str, product: dict[str, Any]) -> dict[str, Any]:
    """The buyer's view of ``product`` (``channels.channel_product``): rendition URLs in order
    (main image, gallery; detail images apart), SKUs with price (fen) and stock."""
    from shangjia.channels.payloads import head_image_refs

    keys = image_keys(product)
    spu = str(product["spu_code"])
    skus = []
    for s in product.get("skus") or []:
        sku = {"sku_code": str(s["sku_code"]), "spec": dict(s.get("spec") or {}),
               "price_fen": int(s["price_fen"]), "stock": int(s.get("stock") or 0)}
        if s.get("market_price_fen") is not None and int(s["market_price_fen"]) > sku["price_fen"]:
            sku["market_price_fen"] = int(s["market_price_fen"])
        skus.append(sku)
    return {
        "storefront_id": storefront_id(merchant_id, spu),
        "merchant_id": merchant_id, "spu_code": spu,
        "title": str(product.get("title") or ""),
        "description": str(product.get("description") or ""),
        "category": product.get("category"),
        "images": [media_url(keys[r]) for r in head_image_refs(product) if r in keys],
        "detail_images": [media_url(keys[r]) for r in (product.get("images") or {}).get("detail") or [] if r in keys],
        "skus": skus,
    }


class OwnShopChannel:
    channel = CHANNEL

    def __init__(self, deps) -> None:
        self.deps = deps

    def _now(self) -> str:
        from shangjia.clock import iso

        return iso(self.deps.clock.now())

    def submit(self, shop: Shop, product: dict, *, listing: dict | None) -> Submitted:
        rec = storefront_record(shop.merchant_id, product)
        if not rec["images"]:
            raise ChannelError("permanent", "CHANNEL_PAYLOAD", "商品没有可展示的主图",
                               "the product has no image to show on the storefront")
        pk, sk = storefront_key(shop.merchant_id, rec["spu_code"])
        # The id names the same record every time (it derives from merchant and product): put
        # without asking whether it exists, then the record in one update that counts its version
        # and keeps its first publication (no read of the record first).
        self.deps.store.put({"pk": storefront_id_key(rec["storefront_id"])[0], "sk": "REF",
                             "merchant_id": shop.merchant_id, "spu_code": rec["spu_code"]})
        now = self._now()
        fields = {**rec, "state": "live", "revision": str((listing or {}).get("batch_id") or ""), "published_at": now}
        # what the record had and this revision has not (a category left blank) goes: a put did that
        blank = [k for k, v in fields.items() if v is None]
        fields = {k: v for k, v in fields.items() if v is not None}
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":f{i}": v for i, v in enumerate(fields.values())}
        names.update({f"#x{i}": k for i, k in enumerate(blank)})
        names.update({"#v": "version", "#fp": "first_published_at"})
        values.update({":z": 0, ":one": 1, ":now": now})
        self.deps.store.update(pk, sk, "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
                               + ", #v = if_not_exists(#v, :z) + :one, #fp = if_not_exists(#fp, :now)"
                               + (" REMOVE " + ", ".join(f"#x{i}" for i in range(len(blank))) if blank else ""),
                               names=names, values=values)
        return Submitted(rec["storefront_id"], "live")

    def lookup(self, shop: Shop, spu_code: str, platform_product_id: str | None) -> dict | None:
        item = self.deps.store.get(*storefront_key(shop.merchant_id, spu_code))
        if not item:
            return None
        return {"platform_product_id": item["storefront_id"], "state": "live", "reason": ""}

    def _rewrite_skus(self, shop: Shop, platform_product_id: str, change) -> None:
        """Read, change the SKU list, write back only if nobody wrote in between (retried)."""
        for _ in range(5):
            item = self._find(shop, platform_product_id)
            skus = change([dict(s) for s in item.get("skus") or []])
            try:
                self.deps.store.update(item["pk"], item["sk"], "SET skus = :s, version = :v, updated_at = :u",
                                       condition="version = :old",
                                       values={":s": skus, ":v": int(item.get("version") or 0) + 1,
                                               ":old": item.get("version") or 0, ":u": self._now()})
                return
            except ConditionFailed:
                continue
        raise ChannelError("transient", None, "店铺商品正被同时修改", "the storefront record kept changing; try again")

    def _find(self, shop: Shop, platform_product_id: str) -> dict[str, Any]:
        ref = self.deps.store.get(*storefront_id_key(platform_product_id)) or {}
        item = self.deps.store.get(*storefront_key(shop.merchant_id, ref["spu_code"])) \
            if ref.get("merchant_id") == shop.merchant_id else None
        if item:
            return item
        raise ChannelError("permanent", "CHANNEL_PRODUCT_UNKNOWN", f"店铺中没有商品 {platform_product_id}",
                           f"the storefront has no product {platform_product_id}")

    def update_stock(self, shop: Shop, platform_product_id: str, stock: dict[str, int]) -> None:
        def change(skus):
            for s in skus:
                if s["sku_code"] in stock:
                    s["stock"] = int(stock[s["sku_code"]])
            return skus
        self._rewrite_skus(shop, platform_product_id, change)

    def delist_skus(self, shop: Shop, platform_product_id: str, sku_codes: list[str]) -> None:
        drop = set(sku_codes)
        self._rewrite_skus(shop, platform_product_id, lambda skus: [s for s in skus if s["sku_code"] not in drop])

    def parse_callback(self, shop_lookup, headers: dict, query: dict, raw_body: bytes) -> list[AuditVerdict]:
        return []        # the own shop has no audit and pushes nothing
