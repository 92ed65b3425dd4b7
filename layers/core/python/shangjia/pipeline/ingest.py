"""Ingest: one uploaded object -> one batch -> one validate message per product.

Idempotent on the upload (bucket, key, version): a duplicate S3 event finds the batch and
stops; a retry after a time-out resumes from the batch's checkpoint (the sheet row after the
last product sent), so products are neither lost nor sent twice in the common case, and the
validate stage is idempotent on (batch, product) for the rare overlap.

The upload chooses its batch policy (S3 metadata, the ``<merchant>/check/`` folder, the merchant's
default: see ``batches.policy_for_upload``); it goes to every validate message's ``options``
with the product's ordinal in the sheet (``seq``), which the batch tally counts once. When the
last product is sent, ingest sets ``products_total`` and tries to finalise the batch's report
(the last validate may have finished first). A file refused outright gets a report too.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Callable

from shangjia.clock import iso
from shangjia.errors import FindingError, finding
from shangjia.pipeline import batches, keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant
from shangjia.ports import ConditionFailed
from shangjia.status import BatchStatus

# The sheet is read from S3 in ranged blocks (``Blobs.open``), never whole, so this bounds the
# time a file takes, not memory: a 1,000,000-row sheet of the specification's columns is well
# within it as .xlsx or CSV (docs/sheets.md, "A million rows"). The same as ``Limits.max_bytes``.
MAX_SHEET_BYTES = 2 * 1024**3
SEND_CHUNK = 10
# The checkpoint is written every this many products sent, and always before a time-out stops
# ingest (so a retry after a time-out sends nothing twice); a crash without the time-out check
# (the sandbox killed) may send up to this many again, which validate takes once (idempotent on
# batch and product). One write per 10 products cost 38,000 DynamoDB writes for a 1M-row sheet.
CHECKPOINT_EVERY = 100


@dataclass(frozen=True)
class Upload:
    bucket: str
    key: str                 # decoded (S3 events carry it URL-encoded)
    size: int
    version: str | None      # version id, or the etag where versioning is off


@dataclass
class IngestOutcome:
    batch_id: str | None
    action: str              # "ingested" | "duplicate" | "ignored" | "rejected" | "resumed" | "continued" | "requeued"
    products_sent: int = 0
    reason: str | None = None
    source_gets: int = 0     # ranged GETs made reading the upload (each is a billed S3 request)


class Checkpointed(TimeoutError):
    """Stopped for time after progress a resumption keeps (the sheet's checkpoint row, the
    bundle's files written): the upload continues in a new invocation (``ingest_message``)."""

    def __init__(self, message: str, batch_id: str | None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


def ingest_message(deps: Deps, up: Upload, *, time_left_ms: Callable[[], int]) -> IngestOutcome:
    """One intake record. An upload that needs more than one Lambda lifetime (a 1,000,000-row
    sheet takes several of ingest's 300 s) stops at its checkpoint and queues its own
    continuation (the same upload, ``continuation_event``), and this record succeeds: the intake
    queue's receive count (3, then the DLQ) counts failures, not the lifetimes a big file needs.
    Each continuation starts after progress was checkpointed, so the chain ends."""
    try:
        return ingest_upload(deps, up, time_left_ms=time_left_ms)
    except Checkpointed as e:
        deps.queues.send_batch("intake", [continuation_event(up, e.batch_id)])
        return IngestOutcome(e.batch_id, "continued", reason=str(e))


def intake_record(deps: Deps, up: Upload, *, time_left_ms: Callable[[], int], busy: bool) -> IngestOutcome:
    """One record of an intake batch (up to 10: the drop bucket's notifications are mostly the
    images beside the sheets, and one invocation answers ten of them for one receive and one
    delete). A file that is neither a sheet nor a bundle is answered at once, without a request.
    One invocation works on one upload (``busy``: this invocation took one already); another
    sheet or bundle in the same batch is queued again at once, to its own invocation, instead of
    waiting behind the first for up to its whole lifetime."""
    if not (is_sheet(up.key) or is_bundle(up.key)):
        return IngestOutcome(None, "ignored", reason="not a sheet (media is fetched by the products that name it)")
    if busy:
        deps.queues.send_batch("intake", [continuation_event(up, None, why="requeued")])
        return IngestOutcome(None, "requeued", reason="another upload is being ingested in this invocation")
    return ingest_message(deps, up, time_left_ms=time_left_ms)


def continuation_event(up: Upload, batch_id: str | None, *, why: str = "continuation") -> dict[str, Any]:
    """The upload as the S3 ObjectCreated notification that brought it (the intake queue's one
    format, the key URL-encoded as S3 sends it), marked as ours for the logs (``why``: a
    continuation of a long sheet, or an upload re-queued to its own invocation)."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(up.key, safe="/"), "size": up.size}
    if up.version:
        obj["versionId"] = up.version
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": up.bucket, "arn": f"arn:aws:s3:::{up.bucket}"},
                                "object": obj}}],
            "shangjia_continuation": {"batch_id": batch_id, "why": why}}


def merchant_of(key: str) -> str | None:
    parts = key.split("/")
    return parts[0] if len(parts) >= 2 and parts[0] else None


def is_bundle(key: str) -> bool:
    """A zip of images/videos uploaded beside a sheet (unpacked by pipeline/bundles.py)."""
    return key.lower().endswith(".zip")


def is_sheet(key: str) -> bool:
    from shangjia.sheets import SHEET_SUFFIXES

    return posixpath.splitext(key.lower())[1] in SHEET_SUFFIXES


def _queue_for(product: dict[str, Any] | None) -> str:
    return "validate_priority" if product and product.get("priority") else "validate"


def ingest_upload(deps: Deps, up: Upload, *, time_left_ms: Callable[[], int] = lambda: 10**9,
                  options: dict[str, Any] | None = None) -> IngestOutcome:
    if is_bundle(up.key):
        from shangjia.pipeline.bundles import unpack_bundle

        return unpack_bundle(deps, up, time_left_ms=time_left_ms)
    if not is_sheet(up.key):
        return IngestOutcome(None, "ignored", reason="not a sheet (media is fetched by the products that name it)")
    merchant_id = merchant_of(up.key)
    batch_id = keys.batch_id_for(up.bucket, up.key, up.version)
    pk, sk = keys.batch(batch_id)
    now = iso(deps.clock.now())
    record = {
        "pk": pk, "sk": sk, "batch_id": batch_id, "merchant_id": merchant_id or "-", "bucket": up.bucket,
        "key": up.key, "size": up.size, "version": up.version, "status": BatchStatus.RECEIVED.value,
        "created_at": now, "updated_at": now, "checkpoint_row": 0, "products_sent": 0,
        "gsi1pk": f"BATCHES#{merchant_id or '-'}", "gsi1sk": now,
    }
    try:
        deps.store.put(record, condition="attribute_not_exists(pk)")
        batch = record
        batches.expect_total(deps, batch_id)
    except ConditionFailed:
        batch = deps.store.get(pk, sk) or record
        if batch["status"] in (BatchStatus.PROCESSING, BatchStatus.SETTLED, BatchStatus.REJECTED):
            # A redelivery may be the retry of a finaliser that failed: make sure the answer exists.
            if batch["status"] == BatchStatus.REJECTED and not batch.get("report_at") and batch.get("rejection"):
                from shangjia.errors import Finding

                batches.write_refusal_report(deps, batch, Finding.from_dict(batch["rejection"]))
            elif batch["status"] == BatchStatus.REJECTED:
                batches.notify_refused(deps, batch_id)
            else:
                batches.maybe_finalise(deps, batch_id, "ingest")
                batches.maybe_settle(deps, batch_id)
            return IngestOutcome(batch_id, "duplicate", int(batch.get("products_sent", 0)))
    resumed = int(batch.get("checkpoint_row", 0)) > 0

    merchant = get_merchant(deps.store, merchant_id) if merchant_id else None
    if merchant is None:
        f = finding("PIPE_UNKNOWN_MERCHANT", value=merchant_id or up.key, file=up.key)
        _reject(deps, batch, f)
        return IngestOutcome(batch_id, "rejected", reason=f.message_en)

    from shangjia.sheets import open_sheet

    data = None
    try:
        try:
            if up.size > MAX_SHEET_BYTES:
                raise FindingError(finding("SHEET_UNREADABLE", file=up.key,
                                           reason=f"file is {up.size} bytes, over {MAX_SHEET_BYTES}"))
            data, meta = _open_upload(deps, up)
            if options and options.get("policy"):
                policy = batches.options_policy(options)
            else:
                policy = batches.policy_for_upload(up.key, meta, merchant)
            batch["policy"] = policy.to_dict()
            batch["counter_shard"] = batches.counter_shard_for(batch, policy)
            deps.store.update(pk, sk, "SET #p = :p, counter_shard = :c", names={"#p": "policy"},
                              values={":p": policy.to_dict(), ":c": batch["counter_shard"]})
            reader = open_sheet(data, posixpath.basename(up.key))
            from shangjia.inbound.defaults import attach_import_defaults
            attach_import_defaults(reader, merchant)    # an import (export, ERP feed): the merchant's defaults
        except FindingError as e:
            _reject(deps, batch, e.finding, data)
            return IngestOutcome(batch_id, "rejected", reason=e.finding.message_en, source_gets=_gets(data))
        try:
            return _send_products(deps, up, batch, reader, data, policy, resumed, time_left_ms, options)
        finally:
            reader.close()          # a large shared-strings table's temporary file goes with it
    finally:
        if data is not None and hasattr(data, "close"):
            data.close()


def _open_upload(deps: Deps, up: Upload):
    """(the upload as a seekable file read in ranged GETs, its user metadata); a blob port
    without ``open`` (a test's fake) gives the bytes."""
    opener = getattr(deps.blobs, "open", None)
    if opener is None:
        return deps.blobs.get_with_meta("drop", up.key, max_bytes=MAX_SHEET_BYTES)
    src = opener("drop", up.key)
    if src.size > MAX_SHEET_BYTES:
        src.close()
        raise FindingError(finding("SHEET_UNREADABLE", file=up.key,
                                   reason=f"file is {src.size} bytes, over {MAX_SHEET_BYTES}"))
    return src, src.metadata


def _gets(data) -> int:
    return int(getattr(data, "gets", 0) or 0)


def _send_products(deps: Deps, up: Upload, batch: dict[str, Any], reader, data, policy, resumed: bool,
                   time_left_ms: Callable[[], int], options: dict[str, Any] | None) -> IngestOutcome:
    from shangjia.inbound import source_of

    batch_id = batch["batch_id"]
    pk, sk = keys.batch(batch_id)
    merchant_id = merchant_of(up.key)

    # source: a sheet, or an ERP client's feed (shangjia.inbound); layout: the platform's shape
    deps.store.update(pk, sk, "SET #s = :s, layout = :l, file_findings = :f, updated_at = :u, #src = :src",
                      names={"#s": "status", "#src": "source"},
                      values={":s": BatchStatus.INGESTING.value, ":l": reader.info.layout,
                              ":f": [f.to_dict() for f in reader.findings], ":u": iso(deps.clock.now()),
                              ":src": source_of(up.key)})
    sent = int(batch.get("products_sent", 0))
    checkpoint = int(batch.get("checkpoint_row", 0))
    chunk: list[tuple[str, dict[str, Any]]] = []
    common = {"batch_id": batch_id, "merchant_id": merchant_id, "source_key": up.key}
    opts = {**(options or {}), "policy": policy.to_dict()}
    if batch.get("counter_shard"):
        opts["counter_shard"] = int(batch["counter_shard"])     # each product counts in the batch's items

    saved = sent                       # products_sent as last written with the checkpoint

    def flush() -> None:
        nonlocal sent, checkpoint, chunk
        if not chunk:
            return
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for q, body in chunk:
            by_queue.setdefault(q, []).append(body)
        for q, bodies in by_queue.items():
            deps.queues.send_batch(q, bodies)
        sent += len(chunk)
        checkpoint = max(r["row"] for _, b in chunk for r in b["raw"]["rows"])
        chunk = []
        if sent - saved >= CHECKPOINT_EVERY:
            save()

    def save(extra: str = "", values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
        nonlocal saved
        deps.store.update(pk, sk, "SET checkpoint_row = :c, products_sent = :n, updated_at = :u" + extra,
                          names=names, values={":c": checkpoint, ":n": sent, ":u": iso(deps.clock.now()),
                                               **(values or {})})
        saved = sent

    try:
        for raw in reader.products(start_after_row=checkpoint):
            body = {**common, "spu_code": raw.spu_code, "raw": raw.to_dict(),
                    "options": {**opts, "seq": sent + len(chunk)}}
            body = _within_message_limit(body, raw)
            chunk.append((_queue_for(_peek_priority(raw)), body))
            if len(chunk) >= SEND_CHUNK:
                flush()
                if time_left_ms() < 15_000:
                    # Stop cleanly; the retry resumes after the checkpoint row.
                    if saved != sent:
                        save()
                    raise Checkpointed(f"batch {batch_id} checkpointed at row {checkpoint}; resuming", batch_id)
    except FindingError as e:
        # Found late (a corrupt part, the row limit): the products already sent go on; the
        # batch records why the rest of the file was refused.
        flush()
        save(", truncated = :f", values={":f": e.finding.to_dict()})
        if sent == 0:
            _reject(deps, batch, e.finding, data)
            return IngestOutcome(batch_id, "rejected", reason=e.finding.message_en, source_gets=_gets(data))
    flush()
    batches.record_total(deps, batch_id, sent, batches.shard_size_of(batch))
    save(", #s = :s, products_total = :n", values={":s": BatchStatus.PROCESSING.value}, names={"#s": "status"})
    # The last validate may already have run: whichever of us sees every product counted finalises.
    batches.maybe_finalise(deps, batch_id, "ingest")
    return IngestOutcome(batch_id, "resumed" if resumed else "ingested", sent, source_gets=_gets(data))


def _within_message_limit(body: dict[str, Any], raw) -> dict[str, Any]:
    """A product whose message would be over SQS's limit (``limits.SQS_MESSAGE_MAX_BYTES``, UTF-8
    bytes) is sent without its rows: its first row and the size, in ``options["oversize"]``, and
    validate answers it with a located ``PIPE_PRODUCT_TOO_LARGE`` (it could not be stored either:
    a DynamoDB item is at most 400 KB). Everything else in the file goes on."""
    from shangjia.limits import SQS_MESSAGE_MAX_BYTES, message_bytes

    size = message_bytes(body)
    if size <= SQS_MESSAGE_MAX_BYTES:
        return body
    # The first row locates the error; the last keeps ingest's checkpoint after the whole product.
    ends = [raw.rows[0], raw.rows[-1]] if len(raw.rows) > 1 else list(raw.rows)
    slim = {"spu_code": raw.spu_code, "rows": [{"row": r.row, "cells": {}, "columns": dict(r.columns)} for r in ends]}
    options = {**body["options"], "oversize": {"bytes": size, "rows": len(raw.rows)}}
    return {**body, "raw": slim, "options": options}


def _peek_priority(raw) -> dict[str, Any] | None:
    """Route by category group without a full validation (validation happens downstream)."""
    from shangjia.spec import load_categories

    tree = load_categories()
    for r in raw.rows:
        cat = r.cells.get("category")
        if cat:
            leaf = tree.resolve(str(cat))
            return {"priority": bool(leaf and leaf.priority)}
    return None


def _reject(deps: Deps, batch: dict[str, Any], f, data: bytes | None = None) -> None:
    pk, sk = keys.batch(batch["batch_id"])
    deps.store.update(pk, sk, "SET #s = :s, rejection = :r, updated_at = :u", names={"#s": "status"},
                      values={":s": BatchStatus.REJECTED.value, ":r": f.to_dict(), ":u": iso(deps.clock.now())})
    batches.write_refusal_report(deps, batch, f, data)
