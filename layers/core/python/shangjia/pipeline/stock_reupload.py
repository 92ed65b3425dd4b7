"""A re-upload that changes only stock: the stock goes out, the product stays as it is.

A merchant re-uploads a sheet of products on sale with new stock figures (a promotion's most
common upload). Stock is not content a reviewer or a platform's audit judges, and the channels
take it through their stock APIs (``stock.sync``: WeChat ``stock/update`` without audit, Douyin
``sku/syncStock``). So a product that is ``published`` and whose upload, merged over its current
revision (``revisions.merge_revision``), differs only in SKUs' ``stock`` cells, from the same
folder, keeps its state, review and listings: no media, no review, no channel update. Its new
figures seed the ledger (``stock.seed_from_sheet``: only levels no ERP or order owns), which syncs
them to its live listings; its revision records the new figures (payload and content hash, in one
transaction, so a later upload merges over them and an identical one is unchanged); the batch
lists it unchanged with its stock changes (the report's Changes sheet shows them).

Anything else goes the whole way, as before: a product not yet published (its listings are not
live to sync), a stock cell that does not validate (the product's findings say where), a change
of any other cell, a SKU added or dropped. The revision is written first (the commit point) and
the seed after it: an upload refused on the way changes no stock, and a delivery that dies in
between is seeded by its redelivery (``apply``).
"""

from __future__ import annotations

import posixpath
from typing import Any

from shangjia.clock import iso
from shangjia.errors import has_errors
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.products import get_product, payload_update
from shangjia.ports import TransactionCanceled
from shangjia.status import ProductStatus as PS

STOCK_FIELD = "stock"
STOCK_BATCH = "stock_batch"     # on the product: the upload whose stock-only change wrote its hash


def applies(existing: dict[str, Any], merged: Any, source_key: str | None) -> bool:
    """Whether the upload differs from the published revision in SKUs' stock cells alone."""
    return (existing.get("status") == PS.PUBLISHED and bool(merged.changes) and not merged.dropped_skus
            and all(c.field == STOCK_FIELD and c.sku_code for c in merged.changes)
            and isinstance(existing.get("product"), dict) and existing.get("content_hash")
            and posixpath.dirname(source_key or "") == posixpath.dirname(existing.get("source_key") or ""))


def apply(deps: Deps, msg: dict[str, Any], existing: dict[str, Any], merged: Any, digest: str,
          ctx: Any) -> list[dict[str, Any]] | None:
    """Record the new stock on the current revision, then seed it; the changes (for the batch's
    record), or None when the upload must go the whole way instead.

    The commit is one transaction: the payload's product and cells, the content hash with the
    batch that wrote it (``STOCK_BATCH``), and the batch's record of the product with its changes.
    The seed comes after it, so an upload refused on the way (another upload took the product in
    between) changes no stock; a delivery that dies between the two is seeded by its redelivery,
    which finds the hash its own batch wrote (``validate``: the unchanged branch calls ``seed``).
    A concurrent delivery of the same message that committed first is this one's success too."""
    from shangjia.pipeline.batches import unchanged_item
    from shangjia.validation import validate_product

    result = validate_product(merged.raw, ctx)
    if has_errors(result.findings) or not result.product:
        return None                      # the whole way: the product's findings say what is wrong
    new = {str(s.get("sku_code")): s.get("stock") for s in result.product.get("skus") or []}
    product = dict(existing["product"])
    skus = list(product.get("skus") or [])
    if set(new) != {str(s.get("sku_code")) for s in skus}:
        return None
    product["skus"] = [{**s, STOCK_FIELD: new[str(s.get("sku_code"))]} for s in skus]
    changes = [c.to_dict() for c in merged.changes]
    m, spu, b = msg["merchant_id"], msg["spu_code"], existing["batch_id"]
    pk, sk = keys.product(m, spu)
    try:
        deps.store.transact([
            payload_update(pk, b, {"product": product, "cells": merged.snapshot}),
            {"update": (pk, sk), "expression": "SET content_hash = :h, #sb = :nb, updated_at = :at",
             "condition": "batch_id = :b AND #s = :s AND content_hash = :was",
             "names": {"#s": "status", "#sb": STOCK_BATCH},
             "values": {":h": digest, ":nb": msg["batch_id"], ":at": iso(deps.clock.now()), ":b": b,
                        ":s": PS.PUBLISHED.value, ":was": existing["content_hash"]}},
            {"put": unchanged_item(msg, existing, changes)}])
    except TransactionCanceled:
        now = get_product(deps, m, spu) or {}
        if not (now.get("status") == PS.PUBLISHED and now.get("content_hash") == digest
                and now.get(STOCK_BATCH) == msg["batch_id"]):
            return None                  # moved meanwhile (another upload, an ops reset): the whole way
    seed(deps, msg, product)
    return changes


def seed(deps: Deps, msg: dict[str, Any], product: dict[str, Any]) -> int:
    """The revision's stock into the ledger (levels no ERP or order owns), which queues the stock
    sync of the product's live listings. Idempotent (a seed writes only what differs)."""
    from shangjia.stock import seed_from_sheet

    return seed_from_sheet(deps, msg["merchant_id"], product, msg["batch_id"], spu=msg["spu_code"], listed=True)
