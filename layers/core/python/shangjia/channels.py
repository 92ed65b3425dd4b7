"""Sales-channel clients. The own shop is this platform's catalog (the listing record is the
publication); WeChat and Douyin are HTTP APIs reached at ``SHANGJIA_CHANNEL_<NAME>_URL``
(on the local cloud: simulated endpoints on loopback). Calls are idempotent on the merchant's
product code, time out, and raise ``Transient`` for what should be retried."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from shangjia.ports import Transient


class ChannelError(Exception):
    """The channel refused the listing for a reason a retry will not fix."""


class ChannelClient:
    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    def publish(self, channel: str, merchant_id: str, product: dict[str, Any]) -> dict[str, Any]:
        if channel == "own_shop":
            return {"item_id": f"own-{merchant_id}-{product['spu_code']}"}
        base = os.environ.get(f"SHANGJIA_CHANNEL_{channel.upper()}_URL")
        if not base:
            raise ChannelError(f"channel {channel} has no endpoint configured (SHANGJIA_CHANNEL_{channel.upper()}_URL)")
        body = json.dumps({"out_product_id": product["spu_code"], "merchant_id": merchant_id,
                           "title": product.get("title"), "category": product.get("category"),
                           "skus": [{"out_sku_id": s["sku_code"], "sale_price": s["price_fen"],
                                     "stock_num": s["stock"], "spec": s.get("spec")} for s in product.get("skus", [])]},
                          ensure_ascii=False).encode()
        req = urllib.request.Request(f"{base.rstrip('/')}/{channel}/product/add", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Idempotency-Key": f"{merchant_id}:{product['spu_code']}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:   # noqa: S310 — configured https endpoint
                data = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                raise Transient(f"{channel} answered {e.code}") from e
            raise ChannelError(f"{channel} refused the listing: HTTP {e.code} {e.read()[:200]!r}") from e
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise Transient(f"{channel} unreachable: {e}") from e
        if "item_id" not in data:
            raise ChannelError(f"{channel} answered without an item id: {data}")
        return data
