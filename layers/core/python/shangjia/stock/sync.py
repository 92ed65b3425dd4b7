"""Levels out to the channels: the stock sync (queue ``stock_sync``) and the scheduled
reconciliation (function ``stock_reconcile``).

Coalescing: a change of levels asks for a sync of the SKU's product (``request_sync``): a
create-only marker item per (merchant, product) in the state table; only the change that creates
it sends a message (delayed ``DEBOUNCE_S``), so a burst of changes (a hundred orders in a second)
is one message. The consumer (``sync_product``) deletes the marker *first*, then reads the
current levels of all the product's SKUs and sends one ``update_stock`` per live listing
(channel): a change landing after the delete makes a new marker and a new message, so the last
level always goes out. A marker whose message was lost goes stale after ``MARKER_STALE_S`` and
the next change replaces it; the reconciliation repairs whatever was missed in between.

Stock-only changes go through the channels' stock APIs (WeChat ``stock/update``: no audit, no
quota; Douyin ``sku/syncStock``; the own shop's storefront record), never a product update.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from shangjia.channels import ChannelError
from shangjia.clock import iso
from shangjia.pipeline import keys
from shangjia.pipeline.products import get_product
from shangjia.stock import rules
from shangjia.stock.rules import Level

DEBOUNCE_S = 1
MARKER_STALE_S = 120
SYNC_CHANNELS = ("own_shop", "wechat", "douyin")


def product_of(store, merchant_id: str, sku_code: str) -> str | None:
    """The catalog product a SKU code belongs to (its claim, pipeline/validate.py)."""
    return (store.get(*keys.sku_claim(merchant_id, sku_code)) or {}).get("owner")


def request_sync(deps, merchant_id: str, sku_codes: list[str], *, now: float | None = None) -> int:
    """Queue a sync of the products of ``sku_codes`` unless one is pending; returns messages sent.
    A SKU no catalog product owns (an ERP level for a SKU never uploaded) has nothing to sync."""

    if deps.queues is None:
        return 0
    return request_product_sync(deps, merchant_id, {s for s in (product_of(deps.store, merchant_id, c)
                                                                 for c in sku_codes) if s}, now=now)


def request_product_sync(deps, merchant_id: str, spus, *, now: float | None = None) -> int:
    """``request_sync`` for products already known (the caller owns their SKUs: no claim read)."""
    from shangjia.ports import ConditionFailed

    if deps.queues is None:
        return 0
    t = time.time() if now is None else now
    bodies = []
    for spu in sorted(spus):
        pk, sk = rules.sync_marker_key(merchant_id, spu)
        try:
            deps.store.put({"pk": pk, "sk": sk, "at_s": int(t), "ttl": int(t) + 3600},
                           condition="attribute_not_exists(pk) OR at_s < :stale", values={":stale": int(t) - MARKER_STALE_S})
        except ConditionFailed:
            continue                       # a sync of this product is already on its way
        bodies.append({"merchant_id": merchant_id, "spu_code": spu})
    if bodies:
        deps.queues.send_batch("stock_sync", bodies, delay_s=DEBOUNCE_S)
    return len(bodies)


def product_stock(deps, merchant_id: str, spu: str, *,
                  codes: list[str] | None = None) -> tuple[dict[str, Level], list[dict[str, Any]]]:
    """(levels of the product's SKUs that have one, its live listings with a platform id).
    ``codes``: the product's SKU codes when the caller knows them (the reconciliation, from their
    claims): the product is not read for them. The levels are read here, consistently, just
    before they are compared."""
    if codes is None:
        product = get_product(deps, merchant_id, spu) or {}
        codes = [str(s["sku_code"]) for s in (product.get("product") or {}).get("skus") or [] if s.get("sku_code")]
    items = deps.store.get_many([rules.level_key(merchant_id, c) for c in codes], consistent=True) if codes else []
    levels = {str(i["sku_code"]): Level.from_item(i) for i in items}
    listings = [i for i in deps.store.query(keys.product_pk(merchant_id, spu), sk_prefix="LISTING#")
                if i.get("state") == "live" and i.get("platform_product_id")
                and i["sk"].split("#", 1)[1] in SYNC_CHANNELS]
    return levels, listings


def sync_product(deps, merchant_id: str, spu: str, *, port_for=None) -> dict[str, Any]:
    """One coalesced sync: the marker goes, then each live listing gets the product's current
    levels (``Level.channel_stock``: after that channel's buffer, never below 0) in one call."""
    from shangjia.channels import channel_port
    from shangjia.channels.credentials import shop_for

    deps.store.delete(*rules.sync_marker_key(merchant_id, spu))
    levels, listings = product_stock(deps, merchant_id, spu)
    sent: dict[str, Any] = {}
    if not levels:
        return sent
    for listing in listings:
        channel = listing["sk"].split("#", 1)[1]
        stock = {c: lv.channel_stock(channel) for c, lv in levels.items()}
        port = (port_for or (lambda ch: channel_port(deps, ch)))(channel)
        port.update_stock(shop_for(deps, merchant_id, channel), str(listing["platform_product_id"]), stock)
        sent[channel] = stock
    return sent


# --- reconciliation ------------------------------------------------------------------------------

def channel_stock(port, shop, channel: str, platform_product_id: str) -> dict[str, int] | None:
    """What the platform shows per SKU code now (WeChat ``product/get``, Douyin
    ``product/detail``); None where the channel cannot be read (the own shop is our own record)."""
    if channel == "wechat":
        data = port.api(shop, "/channels/ec/product/get", {"product_id": platform_product_id, "data_type": 1})
        skus = (data.get("product") or {}).get("skus") or []
        return {str(s["out_sku_id"]): int(s.get("stock_num") or 0) for s in skus if s.get("out_sku_id")}
    if channel == "douyin":
        data = port.api(shop, "product.detail", {"product_id": platform_product_id})
        prices = (data.get("data") or {}).get("spec_prices") or []
        return {str(p["code"]): int(p.get("stock_num") or 0) for p in prices if p.get("code")}
    return None


def reconcile(deps, *, port_for=None, max_levels: int | None = None,
              seconds_left: Callable[[], float] | None = None) -> dict[str, Any]:
    """Levels against each live listing's stock on its platform; a SKU that differs is set again
    (one ``update_stock`` per drifted listing, with just its drifted SKUs). Idempotent: a second
    run finds nothing to repair.

    Without ``max_levels``: the whole catalog in one run (``shangjia stock reconcile``). With it
    (the scheduled function): a slice, the next ``max_levels`` levels after where the last run
    stopped (``rules.RECONCILE_CURSOR``, in the levels index's order), so a run's work and its
    platform reads stay bounded however large the catalog; after the last level the next run
    starts again from the first (a cycle checks every SKU at least once: a stopped run's next
    one may check again a few SKUs of products it had checked). ``seconds_left`` (the
    invocation's remaining time): the run stops before ``RECONCILE_MARGIN_S`` is left (a
    product's worst case: two platforms' read and update at their time-outs) and the cursor
    points at the first product it did not check; every ``CHECKPOINT_PRODUCTS`` products the
    cursor is saved, so even a run the time-out kills (a platform hanging past the margin) keeps
    what it checked. The cursor is moved only from the value this run last wrote or read: an
    overlapping run that moved it first wins, and this one stops and reports ``overlap``."""
    from shangjia.channels import channel_port
    from shangjia.channels.credentials import shop_for

    port_for = port_for or (lambda ch: channel_port(deps, ch))
    sliced = max_levels is not None
    after = ""
    if sliced:
        after = str((deps.store.get(*rules.RECONCILE_CURSOR) or {}).get("after") or "")
    index_entries = deps.store.query(rules.LEVELS_INDEX_PK, index="gsi1", sk_gt=after or None, limit=max_levels)
    levels_read = deps.store.get_many([(k["pk"], k["sk"]) for k in index_entries])
    # each SKU's product from its claim, read 100 to a request (a GetItem per level made the run's
    # reads grow one request per SKU of the catalog)
    claims = {(c["pk"], c["sk"]): c for c in deps.store.get_many(
        [keys.sku_claim(str(i["merchant_id"]), str(i["sku_code"])) for i in levels_read])}
    owner_at = {(i["pk"], i["sk"]): (claims.get(keys.sku_claim(str(i["merchant_id"]), str(i["sku_code"]))) or {}).get("owner")
                for i in levels_read}
    # products in the order of their first level in the index: every level before the first
    # product not checked belongs to a product checked already (where a stopped run resumes)
    products: dict[tuple[str, str], list[str]] = {}
    first_at: dict[tuple[str, str], int] = {}
    by_key = {(i["pk"], i["sk"]): i for i in levels_read}
    for n, e in enumerate(index_entries):
        item = by_key.get((e["pk"], e["sk"]))
        spu = owner_at.get((e["pk"], e["sk"])) if item else None
        if spu:
            key = (str(item["merchant_id"]), spu)
            first_at.setdefault(key, n)
            products.setdefault(key, []).append(str(item["sku_code"]))
    out: dict[str, Any] = {"levels": len(index_entries), "products": 0, "listings": 0, "checked": 0, "drifted": 0,
                           "repaired": [], "errors": []}
    def before(key) -> str:              # the cursor that resumes at this product's first level
        n = first_at[key]
        return str(index_entries[n - 1]["gsi1sk"]) if n else after

    stopped_at: int | None = None
    saved, out["overlap"] = after, False
    for k, ((merchant_id, spu), codes) in enumerate(products.items()):
        if seconds_left is not None and seconds_left() < RECONCILE_MARGIN_S:
            stopped_at = first_at[(merchant_id, spu)]
            break
        if sliced and k and k % CHECKPOINT_PRODUCTS == 0:
            if not _move_cursor(deps, saved, before((merchant_id, spu))):
                out["overlap"] = True
                break
            saved = before((merchant_id, spu))
        out["products"] += 1
        _reconcile_product(deps, port_for, shop_for, merchant_id, spu, codes, out)
    if sliced:
        if stopped_at is not None:
            to = str(index_entries[stopped_at - 1]["gsi1sk"]) if stopped_at else after
        else:
            to = str(index_entries[-1]["gsi1sk"]) if len(index_entries) >= max_levels and index_entries else ""
        out["cursor"] = {"from": after, "to": to, "stopped": stopped_at is not None,
                         "cycle_done": stopped_at is None and to == "" and not out["overlap"]}
        if not out["overlap"]:
            out["overlap"] = not _move_cursor(deps, saved, to)
    return out


RECONCILE_MARGIN_S = 60        # of the function's 300 s
CHECKPOINT_PRODUCTS = 100


def _move_cursor(deps, was: str, to: str) -> bool:
    """The cursor from ``was`` (what this run read) to ``to``; False when another run moved it."""
    from shangjia.ports import ConditionFailed

    pk, sk = rules.RECONCILE_CURSOR
    try:
        deps.store.update(pk, sk, "SET #a = :to, updated_at = :at",
                          condition="attribute_not_exists(#a) OR #a = :was",
                          names={"#a": "after"}, values={":to": to, ":was": was, ":at": iso(deps.clock.now())})
    except ConditionFailed:
        return False
    return True


def _reconcile_product(deps, port_for, shop_for, merchant_id: str, spu: str, codes: list[str],
                       out: dict[str, Any]) -> None:
    levels, listings = product_stock(deps, merchant_id, spu, codes=codes)
    for listing in listings:
        channel = listing["sk"].split("#", 1)[1]
        pid = str(listing["platform_product_id"])
        port = port_for(channel)
        out["listings"] += 1
        try:
            shop = shop_for(deps, merchant_id, channel)
            seen = channel_stock(port, shop, channel, pid)
            if seen is None:
                continue
            want = {c: lv.channel_stock(channel) for c, lv in levels.items() if c in seen}
            out["checked"] += len(want)
            drift = {c: n for c, n in want.items() if seen.get(c) != n}
            if drift:
                port.update_stock(shop, pid, drift)
                out["drifted"] += len(drift)
                out["repaired"].append({"merchant_id": merchant_id, "spu_code": spu, "channel": channel,
                                        "was": {c: seen[c] for c in drift}, "now": drift})
        except ChannelError as e:
            out["errors"].append({"merchant_id": merchant_id, "spu_code": spu, "channel": channel,
                                  "code": e.code, "kind": e.kind})
