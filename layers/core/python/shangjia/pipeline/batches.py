"""Batches: the merchant's policy for one upload, the batch tally, and the merchant's answer.

- ``policy_for_upload`` decides the batch policy from the object's S3 user metadata, the
  ``<merchant>/check/`` folder and the merchant profile's default.
- ``tally_product`` counts a validated product in its batch exactly once (an atomic ``ADD`` to a
  count item guarded by a number set of the product's ordinal in the sheet; ``counting.py``: the
  items' layout), so the error rate and "every product validated" are right with many validate
  Lambdas and duplicate deliveries.
- ``maybe_finalise`` is called by ingest when it has sent the last product and by every
  validate: whichever sees ``validated >= products_total`` claims the report with a conditional
  write and writes ``<merchant>/<batch_id>/report.xlsx`` and ``report.json`` to the reports bucket.
- ``write_refusal_report`` answers a batch refused outright (unreadable or hostile file).
- ``settle_product`` counts a product settled in its batch exactly once (its first settled status,
  or refused/unchanged/superseded), and ``maybe_settle`` moves the batch ``processing -> settled``
  (status.py's batch table) with its outcome counts, once, when its report is written and every
  product it sent has settled; the winner sends the merchant's notice (``pipeline/notices.py``).

The report is about validation (``stage: "validation"``): review rejections and media errors
come later and are seen in ``shangjia status``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import posixpath
from datetime import timedelta
from typing import Any, Mapping

from shangjia.clock import iso
from shangjia.errors import Finding, FindingError, finding
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed, Transient
from shangjia.validation.policy import MODES, BatchPolicy, decide_batch

# The count items (``counting``): a batch's face, so callers say ``batches.tally_product``.
from shangjia.pipeline.counting import (  # noqa: F401  (re-exported)
    COUNTER_SHARD, FAILURE_OUTCOMES, OUTCOMES, SHARD_SIZE, Counts, batch_counts, cannot_finish, count_settled,
    counter_shard_for, expect_total, record_total, settle_counts, settle_short_of_total, shard_size_of, tally_product)

META_MODE = "shangjia-mode"                      # x-amz-meta-shangjia-mode
META_MAX_ERROR_RATE = "shangjia-max-error-rate"  # x-amz-meta-shangjia-max-error-rate
CHECK_FOLDER = "check"                           # <merchant>/check/<file> = check_only
# Batches of up to this many products get their report from the validate call that finishes
# them (~1 s of CPU); bigger ones from the report function (topology: sized for 100k rows).
INLINE_REPORT_MAX = 2_000
REPORT_LEASE = timedelta(minutes=6)              # a claimed report not written by then may be taken over (> the report function's 5 min timeout)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- policy -------------------------------------------------------------------------------------

def policy_for_upload(key: str, meta: Mapping[str, str] | None, merchant: Mapping[str, Any] | None) -> BatchPolicy:
    """The upload's batch policy. A file under ``<merchant>/check/`` is always check-only (a tool
    that cannot set metadata must never publish by accident); otherwise the object's metadata, then
    the merchant profile's ``batch_policy``, then skip_invalid. Bad metadata raises a
    ``FindingError`` naming the metadata field: a typo must not publish a batch meant as a check."""
    meta = {k.lower(): v for k, v in (meta or {}).items()}
    base = BatchPolicy.from_dict((merchant or {}).get("batch_policy"))
    parts = key.split("/")
    if len(parts) >= 3 and parts[1].lower() == CHECK_FOLDER:
        return dataclasses.replace(base, mode="check_only")
    mode = base.mode
    rate = base.max_error_rate
    if meta.get(META_MODE):
        raw = meta[META_MODE].strip().lower().replace("-", "_")
        if raw not in MODES:
            raise FindingError(finding("FIELD_ENUM", field=f"x-amz-meta-{META_MODE}", value=meta[META_MODE],
                                       file=key, choices=", ".join(MODES)))
        mode = raw
    if meta.get(META_MAX_ERROR_RATE):
        raw = meta[META_MAX_ERROR_RATE].strip()
        try:
            rate = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(raw)
        except ValueError:
            raise FindingError(finding("FIELD_RANGE", field=f"x-amz-meta-{META_MAX_ERROR_RATE}", value=raw,
                                       file=key, min=0, max=1)) from None
        if not meta.get(META_MODE) and mode == "skip_invalid":
            mode = "stop_on_error_rate"          # giving a threshold means: stop above it
    return BatchPolicy(mode=mode, max_error_rate=rate, min_products=base.min_products)


def options_policy(options: Mapping[str, Any] | None) -> BatchPolicy:
    return BatchPolicy.from_dict((options or {}).get("policy"))


# --- tally --------------------------------------------------------------------------------------

def judge(deps: Deps, batch: Mapping[str, Any], counts: Counts, *, final: bool,
          where: Finding | None = None) -> Finding | None:
    """Apply the policy to the counts; record the stop once (a conditional write). Returns the
    batch's stop finding when the batch is (now or already) stopped."""
    if batch.get("stopped"):
        return Finding.from_dict(batch["stopped"])
    policy = BatchPolicy.from_dict(batch.get("policy"))
    total = batch.get("products_total")
    if total is not None:
        # A small batch is judged as soon as all of it could be seen, not never.
        policy = dataclasses.replace(policy, min_products=max(1, min(policy.min_products, int(total))))
    decision = decide_batch(policy, counts.tally(), final=final)
    if not decision.stop:
        return None
    f = dataclasses.replace(decision.finding, file=batch.get("key"),
                            row=where.row if where else None, value=where.value if where else None)
    pk, sk = keys.batch(batch["batch_id"])
    try:
        deps.store.update(pk, sk, "SET stopped = :f, stopped_at = :u", condition="attribute_not_exists(stopped)",
                          values={":f": f.to_dict(), ":u": iso(deps.clock.now())})
        return f
    except ConditionFailed:
        again = deps.store.get(pk, sk) or {}
        return Finding.from_dict(again["stopped"]) if again.get("stopped") else f


# --- the report ----------------------------------------------------------------------------------

def report_keys(merchant_id: str | None, batch_id: str) -> tuple[str, str]:
    base = f"{merchant_id or '-'}/{batch_id}"
    return f"{base}/report.xlsx", f"{base}/report.json"


# A redelivered claimant (it died writing) comes back after its queue's visibility timeout (3 min
# for validate on AWS); a concurrent duplicate of the same message comes at once and must not
# write a second report beside the first.
RETAKE_AFTER = timedelta(seconds=30)


def _claim_report(deps: Deps, batch_id: str, claimant: str) -> bool:
    """Exactly one finaliser wins, and the claim names it. A redelivery of the claimant's own
    message retakes its claim (it may have died writing); anybody else leaves the report to the
    claimant and succeeds (a product's work does not fail because another message is writing the
    batch's report). A claim whose writer died and was never redelivered is taken over after
    ``REPORT_LEASE``."""
    pk, sk = keys.batch(batch_id)
    now = deps.clock.now()
    try:
        deps.store.update(pk, sk, "SET report_claimed_at = :n, report_claimed_by = :me",
                          condition="attribute_not_exists(report_at) AND (attribute_not_exists(report_claimed_at) "
                                    "OR (report_claimed_by = :me AND report_claimed_at < :retake) "
                                    "OR report_claimed_at < :stale)",
                          values={":n": iso(now), ":me": claimant, ":stale": iso(now - REPORT_LEASE),
                                  ":retake": iso(now - RETAKE_AFTER)})
        return True
    except ConditionFailed:
        return False


def _release_claim(deps: Deps, batch_id: str) -> None:
    pk, sk = keys.batch(batch_id)
    try:
        deps.store.update(pk, sk, "REMOVE report_claimed_at", condition="attribute_not_exists(report_at)")
    except ConditionFailed:
        pass


def _f_json(f: Finding) -> dict[str, Any]:
    return {"row": f.row, "column": f.column, "field": f.field, "code": f.code, "severity": f.severity,
            "zh": f.message_zh, "en": f.message_en, "hint_zh": f.hint_zh, "hint_en": f.hint_en, "value": f.value}


def maybe_finalise(deps: Deps, batch_id: str, claimant: str, *, tally: Mapping[str, Any] | None = None,
                   shard_size: int = SHARD_SIZE) -> bool:
    """Write the batch's report if every product has been validated and nobody has yet.
    ``claimant`` names the message doing it (``ingest`` or ``product:<spu>``). Returns True when
    this call wrote it. ``tally``: the tally item as this product's count left it; when it shows
    the batch short of complete, nothing is read (``cannot_finish``; ``shard_size``: the batch's)."""
    if cannot_finish(batch_id, tally, shard_size):
        return False
    pk, sk = keys.batch(batch_id)
    batch = deps.store.get(pk, sk)
    if not batch or batch.get("report_at") or batch.get("products_total") is None:
        return False
    total = int(batch["products_total"])
    counts = batch_counts(deps, batch_id, int(batch.get("products_sent", total)), shard_size_of(batch))
    if counts.validated < total:
        return False
    judge(deps, batch, counts, final=True)
    if total > INLINE_REPORT_MAX:
        # Too big to write here: the report function writes it (duplicates of this message are
        # harmless, the claim below lets one writer through).
        deps.queues.send_batch("reports", [{"batch_id": batch_id}])
        return False
    return write_report(deps, batch_id, claimant)


def write_report(deps: Deps, batch_id: str, claimant: str) -> bool:
    """Write the batch's report unless it is written or another claimant is writing it.
    Returns True when this call wrote it."""
    if not _claim_report(deps, batch_id, claimant):
        return False
    pk, sk = keys.batch(batch_id)
    try:
        batch = deps.store.get(pk, sk)
        _write_report(deps, batch)
    except BaseException:
        _release_claim(deps, batch_id)
        raise
    return True


def report_message(deps: Deps, body: Mapping[str, Any], message_id: str) -> str:
    """The report function: one batch's report, once; a redelivery of this message retakes
    its own claim (it may have died writing)."""
    batch = deps.store.get(*keys.batch(str(body["batch_id"])))
    if not batch or batch.get("report_at"):
        return "done"
    return "written" if write_report(deps, batch["batch_id"], f"report:{message_id}") else "left"


def _products(deps: Deps, batch_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from shangjia.pipeline.views import batch_products, batch_refusals, batch_unchanged

    products = [p for p in batch_products(deps, batch_id) if p.get("batch_id") == batch_id]
    refused = batch_refusals(deps, batch_id)
    if any("valid" not in p for p in products):
        # A product counted but its result not yet visible (index lag): come back shortly.
        raise Transient(f"batch {batch_id}: a product's result is not visible yet")
    # Unchanged products (content identical to their current revision) are kept as they are:
    # listed with the status they keep, valid as they were judged when they were accepted.
    products += [{**u, "valid": True, "findings": [], "unchanged": True} for u in batch_unchanged(deps, batch_id)]
    return products, refused


def _write_report(deps: Deps, batch: dict[str, Any]) -> None:
    batch_id, key = batch["batch_id"], batch["key"]
    products, refused = _products(deps, batch_id)
    products.sort(key=lambda p: min((f.get("row") or 0 for f in p.get("findings", [])), default=0) or
                  int(p.get("first_row") or 0))
    batch_findings = [Finding.from_dict(d) for d in batch.get("file_findings") or []]
    if batch.get("truncated"):
        batch_findings.append(Finding.from_dict(batch["truncated"]))
    if batch.get("stopped"):
        batch_findings.append(Finding.from_dict(batch["stopped"]))
    all_f = list(batch_findings)
    rows = []
    for p in products:
        fs = [Finding.from_dict(d) for d in p.get("findings", [])]
        all_f += fs
        rows.append({"spu_code": p["spu_code"], "valid": bool(p.get("valid")), "status": p["status"],
                     "unchanged": bool(p.get("unchanged")), "first_row": p.get("first_row"),
                     "readiness": p.get("readiness") or {},
                     "changes": list(p.get("changes") or []), "dropped_skus": list(p.get("dropped_skus") or []),
                     "errors": [_f_json(f) for f in fs if f.is_error],
                     "warnings": [_f_json(f) for f in fs if not f.is_error]})
    for r in refused:
        fs = [Finding.from_dict(d) for d in r.get("findings", [])]
        all_f += fs
        # refused as busy; or "needs_fix": a revision too big to store (validate._unstorable)
        rows.append({"spu_code": r["spu_code"], "valid": False, "status": r.get("status") or "refused",
                     "errors": [_f_json(f) for f in fs if f.is_error],
                     "warnings": [_f_json(f) for f in fs if not f.is_error]})
    invalid = sum(1 for r in rows if not r["valid"])
    xlsx_key, json_key = report_keys(batch.get("merchant_id"), batch_id)
    from shangjia.reports import write_error_report

    buf = io.BytesIO()
    source = deps.blobs.get("drop", key)
    changes = [{"spu_code": r["spu_code"], **c} for r in rows for c in r.get("changes") or []]
    unchanged = sum(1 for r in rows if r.get("unchanged"))
    write_error_report(buf, source, posixpath.basename(key), all_f, products=len(rows), invalid_products=invalid,
                       changes=changes, unchanged_products=unchanged,
                       readiness=[r for r in rows if r.get("readiness")])
    doc = {
        "batch_id": batch_id, "merchant_id": batch.get("merchant_id"), "file": key, "stage": "validation",
        "policy": batch.get("policy"), "refused": False, "stopped": bool(batch.get("stopped")),
        "products": len(rows), "valid_products": len(rows) - invalid, "invalid_products": invalid,
        "refused_products": sum(1 for r in refused if not r.get("status")),
        # A re-upload: products whose content is identical keep their state (no review, no channel
        # call); the rest were processed again. ``changes`` per product: which values changed.
        "unchanged_products": unchanged, "reprocessed_products": len(rows) - len(refused) - unchanged,
        "batch_findings": [_f_json(f) for f in batch_findings],
        "product_results": rows,
        "note": "Validation only: review rejections and media errors come later (shangjia status BATCH).",
    }
    _publish(deps, batch, xlsx_key, buf.getvalue(), json_key, doc)


def _publish(deps: Deps, batch: Mapping[str, Any], xlsx_key: str | None, xlsx: bytes | None,
             json_key: str, doc: dict[str, Any]) -> None:
    if xlsx_key and xlsx is not None:
        deps.blobs.put("reports", xlsx_key, xlsx, content_type=XLSX_TYPE)
    deps.blobs.put("reports", json_key, json.dumps(doc, ensure_ascii=False, indent=1).encode(),
                   content_type="application/json; charset=utf-8")
    pk, sk = keys.batch(batch["batch_id"])
    values = {":u": iso(deps.clock.now()), ":j": json_key}
    expr = "SET report_at = :u, report_json_key = :j"
    if xlsx_key and xlsx is not None:
        expr += ", report_key = :x"
        values[":x"] = xlsx_key
    deps.store.update(pk, sk, expr, values=values)
    if not doc.get("refused"):
        maybe_settle(deps, batch["batch_id"])       # its products may all have settled already


# --- settling: a batch's final state ------------------------------------------------------------------

def unchanged_item(msg: Mapping[str, Any], existing: Mapping[str, Any],
                   changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The batch's record of a product its upload left as it was (``UNCHANGED#<spu>``: the
    report lists it with the status it keeps; ``changes``: the stock it changed, when only stock
    changed, ``pipeline/stock_reupload.py``)."""
    merchant_id, batch_id, spu = msg["merchant_id"], msg["batch_id"], msg["spu_code"]
    rows = (msg.get("raw") or {}).get("rows") or [{}]
    return {"pk": f"BATCH#{batch_id}", "sk": f"UNCHANGED#{spu}", "merchant_id": merchant_id,
            "spu_code": spu, "status": existing["status"], "current_batch_id": existing.get("batch_id"),
            "first_row": rows[0].get("row"), "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"UNCHANGED#{spu}",
            **({"changes": changes} if changes else {})}


def settle_product(deps: Deps, batch_id: str, seq: Any, spu: str, outcome: str,
                   item: Mapping[str, Any] | None = None, *, shard_size: int | None = None) -> bool:
    """Count one product of the batch as settled, once (an atomic ``ADD`` guarded by a number set of
    the product's ordinal, like the tally), then settle the batch if it was the last. A failure
    (``FAILURE_OUTCOMES``) is first recorded in the week's failure index (``pipeline/failures.py``,
    create-only), so a crash between the two loses nothing and the redelivery counts nothing twice.
    Returns True when this call counted it. ``shard_size``: the batch's; none, the product
    ``item``'s (``shard_size_of``)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if outcome in FAILURE_OUTCOMES and item is not None:
        from shangjia.pipeline import failures

        failures.record(deps, batch_id, spu, outcome, item)
    size = shard_size or shard_size_of(item)
    after = count_settled(deps, batch_id, seq, spu, outcome, size)
    if after is not None:
        from shangjia import metrics

        metrics.product_settled(outcome, item)
    if not settle_short_of_total(batch_id, after, size):
        maybe_settle(deps, batch_id)
    return after is not None


def maybe_settle(deps: Deps, batch_id: str) -> bool:
    """Move the batch to ``settled`` (status.py's batch table) when its report is written and every
    product it sent has settled: one conditional write, so of many concurrent or duplicate callers
    exactly one wins, and the winner sends the merchant's notice. A caller that finds the batch
    already settled makes sure the notice went (its sender may have died). Returns True when this
    call settled it."""
    from shangjia.pipeline import notices
    from shangjia.status import BatchStatus, batch_sources_of

    pk, sk = keys.batch(batch_id)
    batch = deps.store.get(pk, sk)
    if not batch:
        return False
    if batch.get("status") == BatchStatus.SETTLED:
        notices.ensure_batch_notice(deps, batch)
        return False
    if (batch.get("status") not in {s.value for s in batch_sources_of(BatchStatus.SETTLED)}
            or batch.get("products_total") is None or not batch.get("report_at")):
        return False
    total = int(batch["products_total"])
    counts = settle_counts(deps, batch_id, int(batch.get("products_sent", total)), shard_size_of(batch))
    if counts["settled"] < total:
        return False
    now = iso(deps.clock.now())
    outcome = {o: counts[o] for o in OUTCOMES}
    sources = sorted(s.value for s in batch_sources_of(BatchStatus.SETTLED))
    values: dict[str, Any] = {":t": BatchStatus.SETTLED.value, ":n": now, ":o": outcome,
                              **{f":s{i}": s for i, s in enumerate(sources)}}
    try:
        new = deps.store.update(pk, sk, "SET #s = :t, settled_at = :n, outcome = :o, updated_at = :n",
                                condition=f"#s IN ({', '.join(f':s{i}' for i in range(len(sources)))}) "
                                          "AND attribute_not_exists(settled_at)",
                                names={"#s": "status"}, values=values, return_new=True)
    except ConditionFailed:
        again = deps.store.get(pk, sk) or {}
        if again.get("status") == BatchStatus.SETTLED:
            notices.ensure_batch_notice(deps, again)
        return False
    notices.ensure_batch_notice(deps, new or {**batch, "status": BatchStatus.SETTLED.value, "settled_at": now,
                                              "outcome": outcome})
    return True


def write_refusal_report(deps: Deps, batch: Mapping[str, Any], f: Finding, data: bytes | None = None) -> bool:
    """The answer to a file refused outright: report.json with the file-level finding, and the
    workbook (errors and summary sheets) when the bytes were read. Written once."""
    batch_id = batch["batch_id"]
    if not _claim_report(deps, batch_id, "refusal"):
        return False
    try:
        xlsx_key, json_key = report_keys(batch.get("merchant_id"), batch_id)
        xlsx = None
        if data is not None:
            from shangjia.reports import write_error_report

            buf = io.BytesIO()
            write_error_report(buf, data, posixpath.basename(batch["key"]), [f])
            xlsx = buf.getvalue()
        doc = {"batch_id": batch_id, "merchant_id": batch.get("merchant_id"), "file": batch["key"],
               "stage": "validation", "policy": batch.get("policy"), "refused": True, "stopped": False,
               "products": 0, "valid_products": 0, "invalid_products": 0, "refused_products": 0,
               "batch_findings": [_f_json(f)], "product_results": []}
        _publish(deps, batch, xlsx_key if xlsx is not None else None, xlsx, json_key, doc)
    except BaseException:
        _release_claim(deps, batch_id)
        raise
    notify_refused(deps, batch_id)
    return True


def notify_refused(deps: Deps, batch_id: str) -> bool:
    """A refused file's batch is final too (``rejected``): the merchant is told, once."""
    from shangjia.pipeline import notices

    return notices.ensure_batch_notice(deps, deps.store.get(*keys.batch(batch_id)) or {})
