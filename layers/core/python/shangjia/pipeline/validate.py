"""Validate: one product's rows -> the spec's findings, SKU codes claimed, images fanned out."""

from __future__ import annotations

from typing import Any

from shangjia.clock import iso
from shangjia.errors import finding, has_errors
from shangjia.pipeline import batches, keys, review
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant
from shangjia.pipeline.products import set_status
from shangjia.ports import ConditionFailed
from shangjia.status import ProductStatus as PS, can_transition, sources_of

SLOTS = ("main", "gallery", "detail")


def image_refs(product: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Every media file the product names, in order: images per slot, then its video."""
    images = product.get("images") or {}
    refs = [(slot, i, ref) for slot in SLOTS for i, ref in enumerate(images.get(slot) or [])]
    if product.get("video"):
        refs.append(("video", 0, product["video"]))
    return refs


def validate_message(deps: Deps, msg: dict[str, Any]) -> str:
    """Validate one product and apply its batch's policy (``msg["options"]["policy"]``).

    Order matters for exactly-once counting: the result is stored on the product (still
    ``validating``), then counted in the batch tally (once per product ordinal), then the product
    moves on; a crash in between is redone by the redelivery, which finds it still validating."""
    from shangjia.sheets import RawProduct
    from shangjia.validation import ValidationContext, validate_product
    from shangjia.validation.policy import decide_product

    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    options = msg.get("options") or {}
    policy = batches.options_policy(options)
    seq = options.get("seq")
    check_only = policy.mode == "check_only"
    # A check-only upload never touches the catalog's product: its result lives with its batch.
    pk, sk = keys.checked_product(batch_id, merchant_id, spu) if check_only else keys.product(merchant_id, spu)
    now = iso(deps.clock.now())
    existing = deps.store.get(pk, sk)
    if existing and existing.get("batch_id") == batch_id and existing["status"] not in (PS.UPLOADED, PS.VALIDATING):
        batches.maybe_finalise(deps, batch_id, f"product:{spu}")        # the first delivery may have died before it
        return "duplicate"
    if existing and existing.get("batch_id") != batch_id and not can_transition(existing["status"], PS.UPLOADED):
        return _busy(deps, msg, seq, existing["status"])

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
        condition, values = _admission_condition(batch_id)
        deps.store.put(record, condition=condition, names={"#s": "status"}, values=values)
    except ConditionFailed:
        holder = deps.store.get(pk, sk) or {}
        if holder.get("batch_id") == batch_id:          # a duplicate delivery moved it on in between
            batches.maybe_finalise(deps, batch_id, f"product:{spu}")
            return "duplicate"
        # Another upload of this product took it in between: refused as busy, like above.
        return _busy(deps, msg, seq, holder.get("status", "?"))

    raw = RawProduct.from_dict(msg["raw"])
    merchant = get_merchant(deps.store, merchant_id) or {}
    ctx = ValidationContext(merchant_id=merchant_id,
                            shipping_templates=frozenset(merchant.get("shipping_templates") or []) or None)
    result = validate_product(raw, ctx)
    findings = list(result.findings)          # already includes the rows' parse-level findings
    product = result.product
    if not has_errors(findings):
        # A check-only upload goes no further, so it claims nothing; it still sees taken codes.
        findings += _taken_sku_codes(deps, merchant_id, spu, product) if check_only else \
            _claim_sku_codes(deps, merchant_id, spu, product)
    valid = not has_errors(findings)
    product["key_product"] = bool(product.get("key_product"))
    first_row = min((r.row for r in raw.rows), default=None)
    extra = {"product": product, "findings": [f.to_dict() for f in findings], "valid": valid}
    try:                                      # the result first: the report reads it
        deps.store.update(pk, sk, "SET #p = :p, findings = :f, #v = :v, first_row = :r",
                          condition="#s = :s AND batch_id = :b", names={"#p": "product", "#v": "valid", "#s": "status"},
                          values={":p": product, ":f": extra["findings"], ":v": valid, ":r": first_row,
                                  ":s": PS.VALIDATING.value, ":b": batch_id})
    except ConditionFailed:
        batches.maybe_finalise(deps, batch_id, f"product:{spu}")   # a duplicate delivery already moved it on
        return "duplicate"
    batches.tally_product(deps, batch_id, seq, spu, valid=valid)

    stop = None
    if policy.mode == "stop_on_error_rate":
        batch = deps.store.get(*keys.batch(batch_id)) or {"batch_id": batch_id}
        sent = max(int(batch.get("products_sent") or 0), (seq + 1) if isinstance(seq, int) else 0)
        stop = batches.judge(deps, batch, batches.batch_counts(deps, batch_id, sent), final=False,
                             where=finding("BATCH_ERROR_RATE", row=first_row, value=spu))
    action = decide_product(policy, valid)
    if action == "needs_fix" or (action == "hold" and not valid):
        outcome = "needs_fix" if set_status(deps, merchant_id, spu, PS.NEEDS_FIX, batch_id=batch_id, key=(pk, sk),
                                            extra=extra) else "duplicate"
    elif action == "hold":
        outcome = "checked" if set_status(deps, merchant_id, spu, PS.CHECKED, batch_id=batch_id, key=(pk, sk),
                                          extra=extra) else "duplicate"
    elif stop is not None:
        outcome = "held" if set_status(deps, merchant_id, spu, PS.HELD, batch_id=batch_id, key=(pk, sk),
                                       extra={**extra, "held_by": stop.to_dict()}) else "duplicate"
    else:
        outcome = _forward(deps, merchant_id, spu, batch_id, product, extra)
    batches.maybe_finalise(deps, batch_id, f"product:{spu}")
    return outcome


def _admission_condition(batch_id: str) -> tuple[str, dict[str, Any]]:
    """The store condition for writing this revision as ``validating``, from the transition table
    (status.py: every status write goes through ``can_transition``). A new upload moves the product
    ``current -> uploaded -> validating`` in one write: allowed when there is no record yet or its
    status may become ``uploaded`` (a settled one). A redelivery of this batch's message may write
    it again only while it is still being admitted (``uploaded``/``validating``)."""
    if not can_transition(PS.UPLOADED, PS.VALIDATING):
        raise AssertionError("the transition table no longer lets an upload be validated")
    values: dict[str, Any] = {":b": batch_id}
    admitting = [PS.UPLOADED, PS.VALIDATING]
    for i, s in enumerate(admitting):
        values[f":a{i}"] = s.value
    parts = [f"(batch_id = :b AND #s IN ({', '.join(f':a{i}' for i in range(len(admitting)))}))"]
    if can_transition(None, PS.UPLOADED):
        parts.append("attribute_not_exists(pk)")
    replaceable = sorted(s.value for s in sources_of(PS.UPLOADED))
    if replaceable:
        for i, s in enumerate(replaceable):
            values[f":r{i}"] = s
        parts.append(f"#s IN ({', '.join(f':r{i}' for i in range(len(replaceable)))})")
    return " OR ".join(parts), values


def _forward(deps: Deps, merchant_id: str, spu: str, batch_id: str, product: dict[str, Any],
             extra: dict[str, Any]) -> str:
    """A valid product goes on: to media (one message per file), or straight to review."""
    pk, _ = keys.product(merchant_id, spu)
    refs = image_refs(product)
    for s in product.get("skus", []):
        deps.store.put({"pk": pk, "sk": f"SKU#{s['sku_code']}", "merchant_id": merchant_id, "spu_code": spu,
                        "batch_id": batch_id, **s})
    if not refs:
        if not set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra):
            return "duplicate"
        review.start_review(deps, merchant_id, spu, batch_id)
        return "review"
    ppk, psk = keys.pending_media(merchant_id, spu, batch_id)
    try:   # create-only: a concurrent duplicate must not refill a set the media stage is emptying
        deps.store.put({"pk": ppk, "sk": psk, "pending": {f"{slot}:{i}" for slot, i, _ in refs},
                        "total": len(refs)}, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        pass
    extra = {**extra, "images_total": len(refs)}
    if not set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra):
        return "duplicate"                    # a concurrent duplicate delivery forwarded it
    deps.queues.send_batch("media", (
        {"merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id, "slot": slot, "index": i, "ref": ref}
        for slot, i, ref in refs))
    return "media"


def _busy(deps: Deps, msg: dict[str, Any], seq: Any, status: str) -> str:
    """An earlier upload of the product is in flight: this revision is refused, recorded under
    the batch (so the report lists it) and counted, so the batch still completes."""
    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    _store_findings(deps, merchant_id, spu, batch_id, msg,
                    [finding("PIPE_PRODUCT_BUSY", value=spu, status=status)], superseded=False)
    batches.tally_product(deps, batch_id, seq, spu, valid=False, refused=True)
    batches.maybe_finalise(deps, batch_id, f"product:{spu}")
    return "busy"


def _taken_sku_codes(deps: Deps, merchant_id: str, spu: str, product: dict[str, Any]) -> list:
    """Read-only twin of ``_claim_sku_codes`` for check-only uploads."""
    out = []
    for s in product.get("skus", []):
        holder = deps.store.get(*keys.sku_claim(merchant_id, s["sku_code"])) or {}
        if holder.get("owner") not in (None, spu):
            out.append(finding("PIPE_SKU_CODE_TAKEN", row=s.get("row"), field="sku_code", value=s["sku_code"],
                               owner=holder["owner"]))
    return out


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
