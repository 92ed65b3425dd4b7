"""Item keys of the one state table: the only place that spells them."""

from __future__ import annotations

import hashlib
import re
from typing import Any


def merchant(merchant_id: str) -> tuple[str, str]:
    return f"MERCHANT#{merchant_id}", "PROFILE"


def batch(batch_id: str) -> tuple[str, str]:
    return f"BATCH#{batch_id}", "META"


def product(merchant_id: str, spu: str) -> tuple[str, str]:
    return f"PRODUCT#{merchant_id}#{spu}", "META"


def checked_product(batch_id: str, merchant_id: str, spu: str) -> tuple[str, str]:
    """A check-only upload's result: kept with its batch, never over the catalog's product."""
    return f"CHECK#{batch_id}#{merchant_id}#{spu}", "META"


PAYLOAD_SK = "DATA"


def payload(pk: str) -> tuple[str, str]:
    """A product's write-once payload (its parsed product, cells, findings, media, readiness), kept
    apart from the small item whose status moves: a status move then rewrites ~1 KB, not ~6 KB
    (DynamoDB bills a write by the larger of the item before and after). ``pk`` is the product's
    (or a check-only result's) partition."""
    return pk, PAYLOAD_SK


def product_pk(merchant_id: str, spu: str) -> str:
    return product(merchant_id, spu)[0]


def sku_claim(merchant_id: str, sku_code: str) -> tuple[str, str]:
    return f"SKUCODE#{merchant_id}#{sku_code}", "CLAIM"


def image(merchant_id: str, spu: str, batch_id: str, slot: str, index: int) -> tuple[str, str]:
    return product_pk(merchant_id, spu), f"IMAGE#{batch_id}#{slot}#{index:02d}"


def pending_media(merchant_id: str, spu: str, batch_id: str) -> tuple[str, str]:
    """The product's files still being processed, on a small item of their own: each image done is
    one write of ~100 bytes instead of a rewrite of the (indexed, several-KB) product item."""
    return product_pk(merchant_id, spu), f"PENDING#{batch_id}"


def channels_done(merchant_id: str, spu: str, batch_id: str) -> tuple[str, str]:
    """Which channels have listed this upload of the product: a small item, so each channel's
    confirmation does not rewrite the product item."""
    return product_pk(merchant_id, spu), f"CHANNELS#{batch_id}"


def listing(merchant_id: str, spu: str, channel: str) -> tuple[str, str]:
    return product_pk(merchant_id, spu), f"LISTING#{channel}"


def config(name: str) -> tuple[str, str]:
    """Settings ops change without a deploy (``shangjia settings``, ``shangjia banned``)."""
    return "CONFIG", name.upper()


def task(task_id: str) -> tuple[str, str]:
    return f"TASK#{task_id}", "META"


def batch_id_for(bucket: str, key: str, version: str | None) -> str:
    """One upload (bucket, key, version or etag) is one batch, however often its event arrives."""
    return hashlib.sha256(f"{bucket}\x00{key}\x00{version or ''}".encode()).hexdigest()[:20]


def execution_name(merchant_id: str, spu: str, batch_id: str) -> str:
    """Step Functions names: 1-80 chars of [A-Za-z0-9-_]; deterministic so a duplicate start is a no-op."""
    h = hashlib.sha256(f"{merchant_id}\x00{spu}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_-]", "", spu)[:30]
    return f"{safe}-{h}-{batch_id}"[:80]


def product_history(merchant_id: str, spu: str, revision: int) -> tuple[str, str]:
    """The status history of one of the product's earlier revisions (``products.archive_history``)."""
    return product(merchant_id, spu)[0], f"HISTORY#{int(revision):06d}"


def review_execution_of(item: dict[str, Any]) -> str:
    """The name of the product's current review execution: derived from its merchant, SPU and
    batch (``execution_name``), so the product item does not carry it (58 bytes off every status
    move); an item stored before keeps the name it was given."""
    return str(item.get("review_execution") or execution_name(str(item.get("merchant_id") or ""),
                                                               str(item.get("spu_code") or ""),
                                                               str(item.get("batch_id") or "")))


def task_id_for(execution: str, stage: str, *, escalated: bool = False) -> str:
    """A review task's id: one per execution, stage and escalation (``review.record_task`` names
    tasks so; the board finds a product's task by it)."""
    stage = stage + ("#esc" if escalated else "")
    return hashlib.sha256(f"{execution}\x00{stage}".encode()).hexdigest()[:24]
