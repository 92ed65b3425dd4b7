"""Publish: one (product, channel) listing, recorded once; the product is published when every
requested channel has it."""

from __future__ import annotations

from typing import Any

from shangjia.clock import iso
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.products import set_status
from shangjia.ports import ConditionFailed
from shangjia.status import ProductStatus as PS


def publish_message(deps: Deps, msg: dict[str, Any], channel_client) -> str:
    merchant_id, spu, batch_id, channel = msg["merchant_id"], msg["spu_code"], msg["batch_id"], msg["channel"]
    pk, sk = keys.product(merchant_id, spu)
    item = deps.store.get(pk, sk)
    if not item or item.get("batch_id") != batch_id:
        return "stale"
    lpk, lsk = keys.listing(merchant_id, spu, channel)
    listing = deps.store.get(lpk, lsk)
    if not listing or listing.get("batch_id") != batch_id:
        result = channel_client.publish(channel, merchant_id, item["product"])   # idempotent on (merchant, spu)
        try:
            deps.store.put({"pk": lpk, "sk": lsk, "channel": channel, "merchant_id": merchant_id, "spu_code": spu,
                            "batch_id": batch_id, "channel_item_id": result["item_id"],
                            "published_at": iso(deps.clock.now()), "gsi1pk": f"LISTINGS#{channel}",
                            "gsi1sk": iso(deps.clock.now())},
                           condition="attribute_not_exists(pk) OR batch_id <> :b", values={":b": batch_id})
        except ConditionFailed:
            pass   # a duplicate delivery recorded it first
    done = deps.store.update(*keys.channels_done(merchant_id, spu, batch_id), "ADD done :c",
                             values={":c": {channel}}, return_new=True)
    if set(item.get("channels_requested") or []) <= set(done.get("done") or set()):
        set_status(deps, merchant_id, spu, PS.PUBLISHED, batch_id=batch_id)
        return "published"
    return "listed"
