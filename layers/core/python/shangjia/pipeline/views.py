"""Read models: what a merchant, the CLI and the board see of a batch."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shangjia.channels.readiness import readiness_counts
from shangjia.pipeline.deps import Deps
from shangjia.status import TERMINAL_FOR_BATCH


def listed(deps: Deps, pk: str, *, index: str = "gsi1", sk_prefix: str | None = None) -> list[dict[str, Any]]:
    """The full items an index lists under ``pk``: gsi1 projects keys only (its entries are not
    rewritten when an item changes), so the items are fetched by key."""
    entries = deps.store.query(pk, index=index, sk_prefix=sk_prefix)
    return deps.store.get_many([(e["pk"], e["sk"]) for e in entries]) if entries else []


def merchant_batches(deps: Deps, merchant_id: str) -> list[dict[str, Any]]:
    """A merchant's batches (their META items), oldest first."""
    return listed(deps, f"BATCHES#{merchant_id}")


def channel_listings(deps: Deps, channel: str) -> list[dict[str, Any]]:
    """The listings recorded on a channel (their items)."""
    return listed(deps, f"LISTINGS#{channel}")


def batch_products(deps: Deps, batch_id: str) -> list[dict[str, Any]]:
    """The batch's products with their payloads (``products.with_payload``)."""
    from shangjia.pipeline.products import with_payload

    return with_payload(deps, listed(deps, f"BATCH#{batch_id}", sk_prefix="PRODUCT#"))


def batch_refusals(deps: Deps, batch_id: str) -> list[dict[str, Any]]:
    return listed(deps, f"BATCH#{batch_id}", sk_prefix="REFUSED#")


def batch_unchanged(deps: Deps, batch_id: str) -> list[dict[str, Any]]:
    """Products of the batch whose content was their current revision's: kept as they were."""
    return listed(deps, f"BATCH#{batch_id}", sk_prefix="UNCHANGED#")


def _settled_count(deps: Deps, batch: dict[str, Any], seen: int) -> int:
    from shangjia.pipeline.batches import settle_counts, shard_size_of

    if batch.get("products_total") is None:
        return seen
    return settle_counts(deps, batch["batch_id"], int(batch.get("products_sent") or 0),
                         shard_size_of(batch))["settled"]


def batch_summary(deps: Deps, batch: dict[str, Any], *, with_products: bool = False) -> dict[str, Any]:
    """``batch`` may be the META item or an index entry of it (keys only): then it is fetched."""
    if "merchant_id" not in batch or "status" not in batch:
        batch = deps.store.get(batch["pk"], batch["sk"], consistent=False) or batch
    products = [p for p in batch_products(deps, batch["batch_id"]) if p.get("batch_id") == batch["batch_id"]]
    refused = batch_refusals(deps, batch["batch_id"])
    unchanged = batch_unchanged(deps, batch["batch_id"])
    by_status = Counter(p["status"] for p in products)
    total = batch.get("products_total")
    settled = sum(n for s, n in by_status.items() if s in TERMINAL_FOR_BATCH) + len(refused) + len(unchanged)
    out = {
        "batch_id": batch["batch_id"], "merchant_id": batch["merchant_id"], "key": batch.get("key"),
        "status": batch["status"], "layout": batch.get("layout"), "products_total": total,
        "products_sent": batch.get("products_sent", 0),
        "products_seen": len(products) + len(refused) + len(unchanged),
        "by_status": dict(sorted(by_status.items())), "refused": len(refused),
        "unchanged": len(unchanged), "reprocessed": len(products),
        "skus": sum(len((p.get("product") or {}).get("skus", [])) for p in products),
        # a product counts settled in the batch it settled in, even once a re-upload superseded it
        # there (pipeline/batches.py ``settle_product``); a settled batch keeps its outcome counts
        "settled": batch["status"] == "settled" or (total is not None and settled >= total),
        "products_settled": _settled_count(deps, batch, settled),   # counted once each, superseded or not
        "outcome": batch.get("outcome"), "settled_at": batch.get("settled_at"),
        "rejection": batch.get("rejection"), "created_at": batch.get("created_at"),
        "kind": batch.get("kind", "sheet"),
        # per channel: how many of the batch's products are ready for it (channels/readiness.py)
        "readiness": readiness_counts(p.get("readiness") for p in products),
    }
    if out["kind"] == "bundle":      # a zip of images: what it unpacked, not products
        out.update({k: batch.get(k, 0) for k in ("files_count", "files_written", "files_unchanged", "refused_count")})
    if with_products:
        out["products"] = [{"spu_code": p["spu_code"], "status": p["status"],
                            "errors": [f for f in p.get("findings", []) if f.get("severity") == "error"],
                            "readiness": p.get("readiness") or {}}
                           for p in products]
        out["refused_products"] = [{"spu_code": r["spu_code"], "errors": r.get("findings", [])} for r in refused]
    return out
