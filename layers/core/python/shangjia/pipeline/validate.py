"""Validate: one product's rows -> the spec's findings, SKU codes claimed, images fanned out."""

from __future__ import annotations

from typing import Any

from shangjia.clock import iso
from shangjia.errors import finding, has_errors
from shangjia.pipeline import keys, review
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant
from shangjia.pipeline.products import set_status
from shangjia.ports import ConditionFailed
from shangjia.status import RESUBMITTABLE, ProductStatus as PS

SLOTS = ("main", "gallery", "detail")


def image_refs(product: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Every media file the product names, in order: images per slot, then its video."""
    images = product.get("images") or {}
    refs = [(slot, i, ref) for slot in SLOTS for i, ref in enumerate(images.get(slot) or [])]
    if product.get("video"):
        refs.append(("video", 0, product["video"]))
    return refs


def validate_message(deps: Deps, msg: dict[str, Any]) -> str:
    from shangjia.sheets import RawProduct
    from shangjia.validation import ValidationContext, validate_product

    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    pk, sk = keys.product(merchant_id, spu)
    now = iso(deps.clock.now())
    existing = deps.store.get(pk, sk)
    if existing and existing.get("batch_id") == batch_id and existing["status"] not in (PS.UPLOADED, PS.VALIDATING):
        return "duplicate"
    if existing and existing.get("batch_id") != batch_id and existing["status"] not in RESUBMITTABLE:
        # Another upload of this product is still in flight; this revision waits for it.
        raise_busy = existing["status"]
        _store_findings(deps, merchant_id, spu, batch_id, msg,
                        [finding("PIPE_PRODUCT_BUSY", value=spu, status=raise_busy)], superseded=False)
        return "busy"

    record = {
        "pk": pk, "sk": sk, "merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id,
        "status": PS.VALIDATING.value, "created_at": (existing or {}).get("created_at", now), "updated_at": now,
        "source_key": msg.get("source_key"), "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"PRODUCT#{spu}",
        "gsi2pk": f"STATUS#{PS.VALIDATING.value}", "gsi2sk": now,
        "history": (existing or {}).get("history", []) + [{"status": PS.VALIDATING.value, "at": now,
                                                             "batch_id": batch_id}],
        "revision": int((existing or {}).get("revision", 0)) + (0 if existing and existing.get("batch_id") == batch_id else 1),
    }
    try:
        resub = sorted(RESUBMITTABLE)
        deps.store.put(record, condition="attribute_not_exists(pk) OR batch_id = :b OR #s IN ("
                       + ", ".join(f":r{i}" for i in range(len(resub))) + ")",
                       names={"#s": "status"},
                       values={":b": batch_id, **{f":r{i}": s.value for i, s in enumerate(resub)}})
    except ConditionFailed:
        return "raced"

    raw = RawProduct.from_dict(msg["raw"])
    merchant = get_merchant(deps.store, merchant_id) or {}
    ctx = ValidationContext(merchant_id=merchant_id,
                            shipping_templates=frozenset(merchant.get("shipping_templates") or []) or None)
    result = validate_product(raw, ctx)
    findings = list(result.findings)          # already includes the rows' parse-level findings
    product = result.product
    if not has_errors(findings):
        findings += _claim_sku_codes(deps, merchant_id, spu, product)
    valid = not has_errors(findings)
    product["key_product"] = bool(product.get("key_product"))
    extra = {"product": product, "findings": [f.to_dict() for f in findings], "valid": valid}
    if not valid:
        set_status(deps, merchant_id, spu, PS.NEEDS_FIX, batch_id=batch_id, extra=extra)
        return "needs_fix"

    refs = image_refs(product)
    for s in product.get("skus", []):
        deps.store.put({"pk": pk, "sk": f"SKU#{s['sku_code']}", "merchant_id": merchant_id, "spu_code": spu,
                        "batch_id": batch_id, **s})
    if not refs:
        set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra)
        review.start_review(deps, merchant_id, spu, batch_id)
        return "review"
    extra["pending_images"] = {f"{slot}:{i}" for slot, i, _ in refs}
    extra["images_total"] = len(refs)
    set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra)
    deps.queues.send_batch("media", (
        {"merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id, "slot": slot, "index": i, "ref": ref}
        for slot, i, ref in refs))
    return "media"


def _claim_sku_codes(deps: Deps, merchant_id: str, spu: str, product: dict[str, Any]) -> list:
    """Atomically claim each SKU code for this product across the merchant's catalog.

    A conditional put wins only if nobody owns the code or this product already does, so two
    batches racing for one code cannot both win."""
    out = []
    for s in product.get("skus", []):
        code = s["sku_code"]
        pk, sk = keys.sku_claim(merchant_id, code)
        try:
            deps.store.put({"pk": pk, "sk": sk, "owner": spu, "merchant_id": merchant_id},
                           condition="attribute_not_exists(pk) OR #o = :o", names={"#o": "owner"},
                           values={":o": spu})
        except ConditionFailed:
            holder = deps.store.get(pk, sk) or {}
            out.append(finding("PIPE_SKU_CODE_TAKEN", row=s.get("row"), field="sku_code", value=code,
                               owner=holder.get("owner", "?")))
    return out


def _store_findings(deps, merchant_id, spu, batch_id, msg, findings, superseded) -> None:
    """Record a product revision we could not take, under the batch, so nothing is silently dropped."""
    deps.store.put({"pk": f"BATCH#{batch_id}", "sk": f"REFUSED#{spu}", "merchant_id": merchant_id,
                    "spu_code": spu, "findings": [f.to_dict() for f in findings],
                    "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"REFUSED#{spu}"})
