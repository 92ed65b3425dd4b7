"""Validate: one product's rows -> the spec's findings, SKU codes claimed, images fanned out."""

from __future__ import annotations

import posixpath
from typing import Any

from shangjia.clock import iso
from shangjia.errors import finding, has_errors
from shangjia.limits import (PRODUCT_ITEM_MAX_BYTES, SQS_MESSAGE_MAX_BYTES, key_breaches, native_item_size,
                             safe_key_part)
from shangjia.pipeline import batches, keys, review, stock_reupload
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant
from shangjia.pipeline.products import archive_history, get_product, load, set_status, write_payload
from shangjia.ports import MAX_TRANSACTION, ConditionFailed, TransactionCanceled
from shangjia.status import ProductStatus as PS, can_transition, history_entry, sources_of

SLOTS = ("main", "gallery", "detail")
# A re-upload whose content is the product's current revision's keeps the product as it is (its
# state, review and listings: no new review or channel call) when that revision was accepted and
# is on sale or on its way there. Anything else (needs_fix, rejected, failed, held) goes through
# again: an image uploaded since, a new shipping template or a fresh review may change the answer.
KEEP_UNCHANGED = frozenset({PS.PUBLISHED, PS.SCHEDULED, PS.PUBLISHING, PS.APPROVED, PS.IN_REVIEW, PS.MEDIA})


def image_refs(product: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Every media file the product names, in order: images per slot, then its video."""
    images = product.get("images") or {}
    refs = [(slot, i, ref) for slot in SLOTS for i, ref in enumerate(images.get(slot) or [])]
    if product.get("video"):
        refs.append(("video", 0, product["video"]))
    return refs


# Kept on the product only while it is being admitted (a redelivery merges over the same base):
# the move out of ``validating`` drops it, so the later status moves do not pay for it.
ADMISSION_ONLY = ("cells_before",)


def validate_message(deps: Deps, msg: dict[str, Any]) -> str:
    """Validate one product and apply its batch's policy (``msg["options"]["policy"]``).

    Order matters for exactly-once counting: the result is stored on the product (still
    ``validating``), then counted in the batch tally (once per product ordinal), then the product
    moves on; a crash in between is redone by the redelivery, which finds it still validating."""
    from shangjia.revisions import content_hash, legacy_snapshot, merge_revision
    from shangjia.sheets import RawProduct
    from shangjia.validation import validate_product
    from shangjia.validation.policy import decide_product

    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    options = msg.get("options") or {}
    policy = batches.options_policy(options)
    seq = options.get("seq")
    shard = batches.shard_size_of(options)     # the batch's count items (ingest sends it)
    check_only = policy.mode == "check_only"
    # A check-only upload never touches the catalog's product: its result lives with its batch.
    pk, sk = keys.checked_product(batch_id, merchant_id, spu) if check_only else keys.product(merchant_id, spu)
    now = iso(deps.clock.now())
    # Keys over DynamoDB's limits fail every write and even the read: answered before either.
    too_long = key_breaches({"pk": pk, "sk": sk, "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"PRODUCT#{spu}",
                             "gsi2pk": f"STATUS#{PS.VALIDATING.value}", "gsi2sk": now})
    if too_long:
        return _unstorable(deps, msg, seq, [_code_too_long(msg, too_long)])
    if options.get("oversize"):               # ingest could not send its rows (over SQS's limit)
        return _unstorable(deps, msg, seq, [_too_large(msg, options["oversize"]["bytes"], SQS_MESSAGE_MAX_BYTES,
                                                       options["oversize"].get("rows"))])
    existing = load(deps, pk, sk)
    if existing and existing.get("batch_id") == batch_id and existing["status"] not in (PS.UPLOADED, PS.VALIDATING):
        if existing["status"] == PS.FAILED:
            # Ops reset it while it was stuck (products.reset_product): count it now (once, by its
            # ordinal) so its batch can finish and answer.
            batches.tally_product(deps, batch_id, seq, spu, valid=False, shard_size=shard)
        elif existing.get("valid") is not None:
            # moved on with its result: the delivery that moved it may have died before counting it
            # (counted after the move); counting is once by its ordinal
            batches.tally_product(deps, batch_id, seq, spu, valid=bool(existing["valid"]), shard_size=shard)
        batches.maybe_finalise(deps, batch_id, f"product:{spu}")        # the first delivery may have died before it
        return "duplicate"
    # The upload meets the product's current revision (revisions.py: a blank cell keeps the
    # current value, [清空]/[clear] clears it). A redelivery merges over the same revision it did
    # the first time (``cells_before``, kept at admission).
    same = bool(existing and existing.get("batch_id") == batch_id)
    current = existing if not check_only else get_product(deps, merchant_id, spu)
    if same and not check_only:
        base = existing.get("cells_before")
    else:
        base = (current.get("cells") or legacy_snapshot(current.get("product"))) if current else None
    merged = merge_revision(RawProduct.from_dict(msg["raw"]), base)
    digest = content_hash(merged.snapshot, context=posixpath.dirname(msg.get("source_key") or ""))
    if (not check_only and existing and not same and existing.get("content_hash") == digest
            and existing.get("status") in KEEP_UNCHANGED):
        if existing.get(stock_reupload.STOCK_BATCH) == batch_id:
            stock_reupload.seed(deps, msg, existing["product"])   # its commit landed; the seed may not have
        return _unchanged(deps, msg, seq, existing)
    if not check_only and existing and not same and stock_reupload.applies(existing, merged, msg.get("source_key")):
        changes = stock_reupload.apply(deps, msg, existing, merged, digest,
                                       _context(deps, merchant_id, get_merchant(deps.store, merchant_id) or {}))
        if changes is not None:      # (its record went with its commit)
            return _unchanged(deps, msg, seq, existing, recorded=True)
    if existing and existing.get("batch_id") != batch_id and not can_transition(existing["status"], PS.UPLOADED):
        return _busy(deps, msg, seq, existing["status"])

    starts = bool(existing and existing.get("batch_id") != batch_id and existing.get("history"))
    if starts and not check_only:
        archive_history(deps, existing)
    record = {
        "pk": pk, "sk": sk, "merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id,
        "status": PS.VALIDATING.value, "created_at": (existing or {}).get("created_at", now), "updated_at": now,
        "source_key": msg.get("source_key"), "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"PRODUCT#{spu}",
        "gsi2pk": f"STATUS#{PS.VALIDATING.value}", "gsi2sk": now,
        # a new revision starts a new history (the earlier ones are archived before the write below)
        "history": ([] if starts else (existing or {}).get("history", []))
        + [history_entry(PS.VALIDATING.value, now, batch_id)],
        "revision": int((existing or {}).get("revision", 0)) + (0 if existing and existing.get("batch_id") == batch_id else 1),
        "cells_before": base,
        "seq": seq,                           # its ordinal in the batch tally (an ops reset counts it)
        **({"counter_shard": shard} if options.get("counter_shard") else {}),
        "first_row": _first_cell(msg)[0],     # where an ops reset's finding points, before the result says
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
    if existing and existing.get("batch_id") and existing.get("batch_id") != batch_id:
        # This upload supersedes the product's earlier one: that batch counts it settled (a no-op
        # when it settled there already, which is the rule: only settled products are replaced).
        batches.settle_product(deps, existing["batch_id"], existing.get("seq"), spu, "superseded",
                               shard_size=batches.shard_size_of(existing))

    raw = merged.raw
    merchant = get_merchant(deps.store, merchant_id) or {}
    result = validate_product(raw, _context(deps, merchant_id, merchant))
    findings = list(result.findings)          # already includes the rows' parse-level findings
    product = result.product
    # Too big to store (limits.py: a DynamoDB item is at most 400 KB) or to send (ingest sent it
    # without its rows): a located error, decided before anything of the result is written.
    findings, product, snapshot, degraded = _fit_item(msg, record, merged, findings, product)
    if not has_errors(findings):
        # A check-only upload goes no further, so it claims nothing; it still sees taken codes.
        findings += _taken_sku_codes(deps, merchant_id, spu, product) if check_only else \
            _claim_sku_codes(deps, merchant_id, spu, product, release=merged.dropped_skus, fresh=base is None)
    valid = not has_errors(findings)
    if valid and not check_only and merged.dropped_skus:
        _retire_dropped(deps, merchant_id, spu, batch_id, merged.dropped_skus)
    product["key_product"] = bool(product.get("key_product"))
    first_row = min((r.row for r in raw.rows), default=None)
    changes = [] if degraded else [c.to_dict() for c in merged.changes]
    # The revision's payload is written once, on its own item (products.write_payload); the product
    # item keeps what is small. ``extra`` goes with the result and again with the status move: a
    # concurrent duplicate's admission write in between must not leave the product without it.
    payload = {"product": product, "findings": [f.to_dict() for f in findings], "cells": snapshot,
               "changes": changes, "dropped_skus": merged.dropped_skus if valid else [],
               # per-channel readiness at upload (a warning: the product still goes on to review)
               "readiness": _readiness(merchant, product) if valid else {}}
    extra = {"valid": valid, "content_hash": digest, "first_row": first_row}
    # The report reads each counted product's result. Counted after its status move, a product is
    # never seen counted and still ``validating`` (one write fewer: the move carries the result).
    # A batch that stops on its error rate judges its counts before the move decides where the
    # product goes: it is counted first, and its result written before it is counted.
    judged = policy.mode == "stop_on_error_rate"
    if judged:
        try:                                  # the result first: the report reads it
            deps.store.update(pk, sk, "SET #v = :v, first_row = :r, content_hash = :h",
                              condition="#s = :s AND batch_id = :b", names={"#v": "valid", "#s": "status"},
                              values={":v": valid, ":r": first_row, ":h": digest,
                                      ":s": PS.VALIDATING.value, ":b": batch_id})
        except ConditionFailed:
            batches.maybe_finalise(deps, batch_id, f"product:{spu}")   # a duplicate delivery already moved it on
            return "duplicate"
    write_payload(deps, pk, batch_id, payload, replace=True)
    tally = _count(deps, batch_id, seq, spu, valid, shard) if judged else None

    stop = None
    if judged:
        batch = deps.store.get(*keys.batch(batch_id)) or {"batch_id": batch_id}
        sent = max(int(batch.get("products_sent") or 0), (seq + 1) if isinstance(seq, int) else 0)
        stop = batches.judge(deps, batch, batches.batch_counts(deps, batch_id, sent, batches.shard_size_of(batch)),
                             final=False,
                             where=finding("BATCH_ERROR_RATE", row=first_row, value=spu))
    action = decide_product(policy, valid)
    if action == "needs_fix" or (action == "hold" and not valid):
        outcome = "needs_fix" if set_status(deps, merchant_id, spu, PS.NEEDS_FIX, batch_id=batch_id, key=(pk, sk),
                                            extra=extra, remove=ADMISSION_ONLY) else "duplicate"
    elif action == "hold":
        outcome = "checked" if set_status(deps, merchant_id, spu, PS.CHECKED, batch_id=batch_id, key=(pk, sk),
                                          extra=extra, remove=ADMISSION_ONLY) else "duplicate"
    elif stop is not None:
        outcome = "held" if set_status(deps, merchant_id, spu, PS.HELD, batch_id=batch_id, key=(pk, sk),
                                       extra={**extra, "held_by": stop.to_dict()}, remove=ADMISSION_ONLY) else "duplicate"
    else:
        # ``base``: the revision this one was merged over; none, and the product has no listing yet
        outcome = _forward(deps, merchant_id, spu, batch_id, product, extra, msg.get("source_key"),
                           listed=base is not None, prior_media=(existing or {}).get("media") if not check_only else None)
    if not judged:
        # counted once by its ordinal: a duplicate whose move was refused counts it too (the first
        # delivery may have died between its move and its count)
        tally = _count(deps, batch_id, seq, spu, valid, shard)
    batches.maybe_finalise(deps, batch_id, f"product:{spu}", tally=tally, shard_size=shard)
    return outcome


def _context(deps: Deps, merchant_id: str, merchant: dict[str, Any]):
    """What a product is validated against besides the spec: the merchant's templates and rules."""
    from shangjia.validation import ValidationContext

    return ValidationContext(merchant_id=merchant_id,
                             shipping_templates=frozenset(merchant.get("shipping_templates") or []) or None,
                             banned_terms=deps.config.banned_terms(deps.store),
                             promo_below_cost=merchant.get("promo_below_cost") or None)


def _count(deps: Deps, batch_id: str, seq: Any, spu: str, valid: bool, shard: int) -> dict[str, Any] | None:
    """Count the product in its batch's tally (once, by its ordinal); the tally item when this call
    counted it."""
    tally = batches.tally_product(deps, batch_id, seq, spu, valid=valid, shard_size=shard)
    if tally is not None:
        from shangjia import metrics

        metrics.product_validated(valid)
    return tally


def _readiness(merchant: dict[str, Any], product: dict[str, Any]) -> dict[str, Any]:
    """Every channel the merchant publishes to (``fan_out``'s list), scored on the product as
    uploaded (``channels/readiness.py``: image rules count the sheet's image references here)."""
    from shangjia.channels.readiness import readiness_by_channel
    from shangjia.topology import CHANNELS

    return readiness_by_channel(product, [c for c in merchant.get("channels", CHANNELS) if c in CHANNELS])


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
             extra: dict[str, Any], product_source: str | None, *, listed: bool = True,
             prior_media: dict[str, Any] | None = None) -> str:
    """A valid product goes on: to media (one message per file), or straight to review.
    ``prior_media``: the revision before's image summaries; a file in the same place carries its
    summary (``prior``), which media takes instead of rendering when the source object is the
    same and unchanged (``media._reuse``)."""
    pk, _ = keys.product(merchant_id, spu)
    refs = image_refs(product)
    # (no item per SKU: the payload holds the SKUs, the claims say which product owns a code)
    from shangjia.stock import seed_from_sheet

    # the stock column: only levels no ERP/order owns; a product never stored before has no listing to sync
    seed_from_sheet(deps, merchant_id, product, batch_id, spu=spu, listed=listed)
    if not refs:
        if not set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra, remove=ADMISSION_ONLY):
            return "duplicate"
        review.start_review(deps, merchant_id, spu, batch_id)
        return "review"
    from shangjia.pipeline.media import INLINE_FILES

    ppk, psk = keys.pending_media(merchant_id, spu, batch_id)
    ids = [f"{slot}:{i}" for slot, i, _ in refs]
    try:   # create-only: a concurrent duplicate must not refill a set the media stage is emptying
        deps.store.put({"pk": ppk, "sk": psk, "pending": set(ids), "total": len(refs),
                        # past INLINE_FILES the results are items of their own, read back by key
                        **({"ids": ids} if len(refs) > INLINE_FILES else {})},
                       condition="attribute_not_exists(pk)")
    except ConditionFailed:
        pass
    extra = {**extra, "images_total": len(refs)}
    if not set_status(deps, merchant_id, spu, PS.MEDIA, batch_id=batch_id, extra=extra, remove=ADMISSION_ONLY):
        return "duplicate"                    # a concurrent duplicate delivery forwarded it
    priors = {k: v for k, v in (prior_media or {}).items() if isinstance(v, dict) and v.get("source")}
    deps.queues.send_batch("media", (
        {"merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id, "slot": slot, "index": i, "ref": ref,
         "source_key": product_source,             # where its relative references start (media.source_key)
         "files": len(refs),                       # where its result goes (media.INLINE_FILES)
         **({"prior": priors[f"{slot}#{i:02d}"]} if f"{slot}#{i:02d}" in priors else {})}
        for slot, i, ref in refs))
    return "media"


def _unchanged(deps: Deps, msg: dict[str, Any], seq: Any, existing: dict[str, Any], *,
               recorded: bool = False) -> str:
    """The upload changes nothing the product's review or listings depend on: it keeps its state,
    review and listings. Recorded under the batch (the report lists it as unchanged, with its stock
    ``changes`` when only stock changed: ``stock_reupload``) and counted, so the batch completes."""
    batch_id, spu = msg["batch_id"], msg["spu_code"]
    if not recorded:   # a redelivery keeps the record as written (a stock-only one's, with its changes)
        try:
            deps.store.put(batches.unchanged_item(msg, existing), condition="attribute_not_exists(sk)")
        except ConditionFailed:
            pass
    shard = batches.shard_size_of(msg.get("options"))
    batches.tally_product(deps, batch_id, seq, spu, valid=True, unchanged=True, shard_size=shard)
    batches.settle_product(deps, batch_id, seq, spu, "unchanged", shard_size=shard)
    batches.maybe_finalise(deps, batch_id, f"product:{spu}")
    return "unchanged"


def _busy(deps: Deps, msg: dict[str, Any], seq: Any, status: str) -> str:
    """An earlier upload of the product is in flight: this revision is refused, recorded under
    the batch (so the report lists it) and counted, so the batch still completes."""
    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    _store_findings(deps, merchant_id, spu, batch_id, msg,
                    [finding("PIPE_PRODUCT_BUSY", value=spu, status=status)], superseded=False)
    shard = batches.shard_size_of(msg.get("options"))
    batches.tally_product(deps, batch_id, seq, spu, valid=False, refused=True, shard_size=shard)
    batches.settle_product(deps, batch_id, seq, spu, "refused",
                           {"merchant_id": merchant_id, "spu_code": spu, "first_row": _first_cell(msg)[0],
                            "findings": [finding("PIPE_PRODUCT_BUSY", row=_first_cell(msg)[0], value=spu,
                                                 status=status).to_dict()]}, shard_size=shard)
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


def _claim_sku_codes(deps: Deps, merchant_id: str, spu: str, product: dict[str, Any],
                     release: list[str] | tuple[str, ...] = (), *, fresh: bool = False) -> list:
    """Claim the product's SKU codes across the merchant's catalog, all or nothing, and release
    the codes of SKUs this revision dropped (``release``), in one DynamoDB transaction.

    Codes this product already owns need no write. A code another product owns is reported and
    nothing is claimed or released; a code taken by a racing batch in between cancels the
    transaction (each put is conditioned on the code being free), and nothing is written either.
    A product needing more than ``MAX_TRANSACTION`` writes (a first upload of over 100 SKUs) is
    claimed in transactions of 100, and the earlier ones are undone if a later one is canceled.
    ``fresh``: the product's first revision, which owns no code yet: the claims are written
    without reading them first (the conditions say the same; a taken code cancels the
    transaction and is read then)."""
    skus = product.get("skus", [])
    wanted = [keys.sku_claim(merchant_id, s["sku_code"]) for s in skus]
    freed = [keys.sku_claim(merchant_id, c) for c in release]
    held = {} if fresh and not freed else \
        {(h["pk"], h["sk"]): h for h in deps.store.get_many(wanted + freed, consistent=True)}
    out = []
    for s, key in zip(skus, wanted):
        owner = (held.get(key) or {}).get("owner")
        if owner not in (None, spu):
            out.append(finding("PIPE_SKU_CODE_TAKEN", row=s.get("row"), field="sku_code", value=s["sku_code"],
                               owner=owner))
    if out:
        return out
    mine = {"names": {"#o": "owner"}, "values": {":o": spu}}
    # (a concurrent duplicate delivery of this product may claim the same codes first: still ours)
    actions: list[dict[str, Any]] = [
        {"put": {"pk": pk, "sk": sk, "owner": spu, "merchant_id": merchant_id},
         "condition": "attribute_not_exists(pk) OR #o = :o", **mine}
        for pk, sk in wanted if (pk, sk) not in held]
    actions += [{"delete": key, "condition": "attribute_not_exists(pk) OR #o = :o", **mine}
                for key in freed if (held.get(key) or {}).get("owner") == spu]
    try:
        _transact_all(deps, actions, spu)
    except TransactionCanceled as e:
        by_key = {(a["put"]["pk"], a["put"]["sk"]): r for a, r in zip(actions, e.reasons) if "put" in a}
        for s, key in zip(skus, wanted):
            holder = deps.store.get(*key) or {} if by_key.get(key) else {}
            if holder.get("owner") not in (None, spu):
                out.append(finding("PIPE_SKU_CODE_TAKEN", row=s.get("row"), field="sku_code",
                                   value=s["sku_code"], owner=holder["owner"]))
        if not out:
            raise       # not a taken code: retried by the message's redelivery
    return out


def _transact_all(deps: Deps, actions: list[dict[str, Any]], spu: str) -> None:
    """One transaction; past ``MAX_TRANSACTION`` actions, several, the earlier undone if a later
    is canceled (puts come first: they are what can lose a race)."""
    done: list[dict[str, Any]] = []
    for start in range(0, len(actions), MAX_TRANSACTION):
        chunk = actions[start:start + MAX_TRANSACTION]
        try:
            deps.store.transact(chunk)
        except TransactionCanceled as e:
            for a in done:
                if "put" in a:
                    try:
                        deps.store.delete(a["put"]["pk"], a["put"]["sk"], condition="#o = :o",
                                          names={"#o": "owner"}, values={":o": spu})
                    except ConditionFailed:
                        pass
            raise TransactionCanceled([None] * start + list(e.reasons)) from e
        done += chunk


def _retire_dropped(deps: Deps, merchant_id: str, spu: str, batch_id: str, codes: list[str]) -> None:
    """SKUs the new revision dropped: every channel the product is listed on is told to delist them
    (through the publish queues, like every channel call). Their codes were released with this
    revision's claims."""
    pk = keys.product_pk(merchant_id, spu)
    for listing in deps.store.query(pk, sk_prefix="LISTING#"):
        channel = listing.get("channel") or listing["sk"].split("#", 1)[1]
        deps.queues.send_batch(f"publish_{channel}", [{"merchant_id": merchant_id, "spu_code": spu,
                                                       "batch_id": batch_id, "channel": channel,
                                                       "action": "delist", "sku_codes": list(codes)}])


def _first_cell(msg: dict[str, Any]) -> tuple[int | None, str | None]:
    """The product's first row and its product-code column, from the message's rows."""
    raw = msg.get("raw") or {}
    rows = raw.get("rows") or []
    if not rows:
        return None, None
    first = min(rows, key=lambda r: int(r["row"]))
    return int(first["row"]), (first.get("columns") or raw.get("columns") or {}).get("spu_code")


def _code_too_long(msg: dict[str, Any], breaches: list[tuple[str, int, int]]) -> Any:
    row, column = _first_cell(msg)
    spu = msg["spu_code"]
    # The key's limit less what the key adds around the code: the most the code itself may take.
    attr, size, limit = max(breaches, key=lambda b: b[1] - b[2])
    code_bytes = len(spu.encode("utf-8"))
    return finding("PIPE_CODE_TOO_LONG", row=row, column=column, field="spu_code", value=spu,
                   size=code_bytes, limit=max(0, limit - (size - code_bytes)))


def _too_large(msg: dict[str, Any], size: int, limit: int, rows: Any) -> Any:
    row, column = _first_cell(msg)
    return finding("PIPE_PRODUCT_TOO_LARGE", row=row, column=column, field="spu_code", value=msg["spu_code"],
                   size=int(size), limit=int(limit), rows=rows if rows is not None else len((msg.get("raw") or {}).get("rows") or []))


def _unstorable(deps: Deps, msg: dict[str, Any], seq: Any, findings: list) -> str:
    """A product revision that cannot be stored as a product (its code is over DynamoDB's key
    limits, or it was too large to send): recorded under its batch with a key that fits, as
    ``needs_fix`` (the merchant's to fix; any earlier revision of it stays as it is), counted as
    invalid, and the batch may finish. Nothing is written under the product's own keys."""
    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    sk = "REFUSED#" + safe_key_part(spu)
    row, _ = _first_cell(msg)
    deps.store.put({"pk": f"BATCH#{batch_id}", "sk": sk, "merchant_id": merchant_id,
                    "spu_code": spu if len(spu) <= 256 else spu[:256] + "…", "status": PS.NEEDS_FIX.value,
                    "first_row": row, "findings": [f.to_dict() for f in findings],
                    "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": sk})
    shard = batches.shard_size_of(msg.get("options"))
    batches.tally_product(deps, batch_id, seq, spu, valid=False, shard_size=shard)
    batches.settle_product(deps, batch_id, seq, spu, "needs_fix",
                           {"merchant_id": merchant_id, "spu_code": spu, "first_row": row,
                            "findings": [f.to_dict() for f in findings]}, shard_size=shard)
    batches.maybe_finalise(deps, batch_id, f"product:{safe_key_part(spu, 200)}")
    return "needs_fix"


def _fit_item(msg: dict[str, Any], record: dict[str, Any], merged: Any, findings: list,
              product: dict[str, Any]) -> tuple[list, dict[str, Any], Any, bool]:
    """The result as it will be stored, measured as DynamoDB does (``limits.native_item_size``).
    Under ``PRODUCT_ITEM_MAX_BYTES`` it is returned as it is. Over it, the product cannot be
    kept: it is answered with a located ``PIPE_PRODUCT_TOO_LARGE`` and as many of its own errors
    (then warnings) as fit, without its parsed values. Returns (findings, product, cells, degraded)."""
    dicts = [f.to_dict() for f in findings]
    stored = {**record, "product": product, "findings": dicts, "valid": True, "first_row": 0,
              "cells": merged.snapshot, "content_hash": "0" * 64, "changes": [c.to_dict() for c in merged.changes],
              "dropped_skus": list(merged.dropped_skus or [])}
    size = native_item_size(stored)
    if size <= PRODUCT_ITEM_MAX_BYTES:
        return findings, product, merged.snapshot, False
    too_large = _too_large(msg, size, PRODUCT_ITEM_MAX_BYTES, len(merged.raw.rows))
    kept = [too_large]
    budget = PRODUCT_ITEM_MAX_BYTES - native_item_size({**stored, "product": {}, "cells": {}, "changes": [],
                                                        "dropped_skus": [], "findings": [too_large.to_dict()]})
    for f in sorted(findings, key=lambda f: not f.is_error):
        n = native_item_size({"f": [f.to_dict()]}) - 4        # the finding as one more list element
        if n > budget:
            break
        kept.append(f)
        budget -= n
    return kept, {}, {}, True


def _store_findings(deps, merchant_id, spu, batch_id, msg, findings, superseded) -> None:
    """Record a product revision we could not take, under the batch, so nothing is silently dropped."""
    deps.store.put({"pk": f"BATCH#{batch_id}", "sk": f"REFUSED#{spu}", "merchant_id": merchant_id,
                    "spu_code": spu, "findings": [f.to_dict() for f in findings],
                    "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"REFUSED#{spu}"})
