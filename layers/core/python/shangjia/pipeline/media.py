"""Media stage (pipeline side): fetch one image, render it with ``shangjia.media``, store the
renditions content-addressed, record the result, and when the product's last image is done,
start its review exactly once."""

from __future__ import annotations

import functools
import hashlib
import posixpath
from dataclasses import dataclass, replace
from typing import Any

from shangjia.errors import FindingError, finding, has_errors
from shangjia.pipeline import keys, packing, review
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.products import get_product, set_status
from shangjia.ports import ConditionFailed, Transient
from shangjia.errors import Finding
from shangjia.status import ProductStatus as PS

MAX_IMAGE_BYTES = 30 * 1024 * 1024
MAX_VIDEO_BYTES = 200 * 1024 * 1024
MISSING_SOURCE_RETRIES = 3


def source_key(merchant_id: str, source_sheet_key: str | None, ref: str) -> str | None:
    """A sheet names images relative to its own folder; never outside the merchant's folder."""
    base = posixpath.dirname(source_sheet_key or f"{merchant_id}/x")
    joined = posixpath.normpath(posixpath.join(base, ref.strip().lstrip("/")))
    if not joined.startswith(f"{merchant_id}/") or ".." in joined.split("/"):
        return None
    return joined


@dataclass
class _File:
    """One message's file, ready to render: where it is and whose pending set it leaves."""
    msg: dict[str, Any]
    merchant_id: str
    spu: str
    batch_id: str
    image_id: str
    sheet_key: str | None
    product: dict[str, Any] | None
    receive_count: int

    @property
    def owner(self) -> tuple[str, str, str]:
        return self.merchant_id, self.spu, self.batch_id


def _prepare(deps: Deps, msg: dict[str, Any], receive_count: int) -> _File | str:
    """The file to render, or the outcome of a message that renders nothing."""
    merchant_id, spu, batch_id = msg["merchant_id"], msg["spu_code"], msg["batch_id"]
    slot, index = msg["slot"], int(msg["index"])
    product = None
    if "source_key" in msg:
        # validate sends the sheet's key with each file: no read of the product per file. The
        # product is read once, by the delivery that empties the pending set (``_mark_done``); a
        # file of a product another upload has taken since (an ops reset, then a new sheet) is
        # rendered for nothing and its pending set finishes nothing (``already_complete``).
        sheet_key = msg["source_key"]
    else:
        # A message queued before the sheet's key travelled with it: the product item tells.
        product = deps.store.get(*keys.product(merchant_id, spu))
        if not product or product.get("batch_id") != batch_id:
            return "stale"
        sheet_key = product.get("source_key")
    image_id = f"{slot}:{index}"
    # A first delivery renders without asking whether the file was done: only an earlier delivery
    # of this message could have done it, and then this one would be its redelivery (a receive
    # count over 1), which asks. (SQS's rare duplicate copy renders it again, and its write is
    # refused: the file is no longer pending.)
    if receive_count > 1:
        after = deps.store.get(*keys.pending_media(merchant_id, spu, batch_id))
        if after is None or image_id not in (after.get("pending") or ()):
            return _mark_done(deps, merchant_id, spu, batch_id, after, product)
    return _File(msg, merchant_id, spu, batch_id, image_id, sheet_key, product, receive_count)


def _render_file(deps: Deps, f: _File) -> dict[str, Any]:
    slot, index, ref = f.msg["slot"], int(f.msg["index"]), f.msg["ref"]
    return {"slot": slot, "index": index, "ref": ref,
            **_render(deps, f.merchant_id, f.sheet_key, slot, index, ref, f.receive_count,
                      prior=f.msg.get("prior"))}


# --- a re-upload's unchanged images ----------------------------------------------------------------
#
# A usable result (its warnings kept with it) names the source it was rendered from (``source``: a short
# hash of the object's key, of the renderer's signature — the pipeline version and its limits, which
# the rendition keys are derived from — and of the object's ETag), and the product's summary of each
# image (``finish_media``: ``media[<slot>#<nn>]``) keeps it. A revision's file whose source is the
# same object, unchanged (a HEAD: its ETag), for the same renderer, takes that result as it is: no
# GET, no render, no PUT (the renditions are content-addressed and stay where they are). A
# promotion's repriced products re-send their images this way.

@functools.lru_cache(maxsize=1)
def render_signature() -> str:
    from shangjia.media import PIPELINE_LIMITS, PIPELINE_VERSION

    return hashlib.sha256(repr((PIPELINE_VERSION, PIPELINE_LIMITS)).encode()).hexdigest()[:8]


def _object_and_renderer(key: str) -> str:
    return f"{hashlib.sha256(key.encode()).hexdigest()[:8]}.{render_signature()}"


def source_stamp(key: str, etag: str) -> str:
    """Which object, in which state, rendered by which renderer: ~30 characters."""
    return f"{_object_and_renderer(key)}.{hashlib.sha256(etag.encode()).hexdigest()[:12]}"


def reusable(result: dict[str, Any]) -> dict[str, Any]:
    """What a clean result's summary keeps so that a later revision can take it (empty if not clean)."""
    if not result.get("ok") or not result.get("source") or not result.get("renditions") \
            or result.get("slot") == "video":
        return {}
    return {"source": result["source"], "phash": result.get("phash"), "fmt": result.get("source_format"),
            **({"findings": result["findings"]} if result.get("findings") else {})}   # its warnings


def _reuse(deps: Deps, key: str, slot: str, ref: str, prior: Any) -> dict[str, Any] | None:
    """The prior result of this very object, unchanged, rendered the same way; None: render it."""
    if not isinstance(prior, dict) or not prior.get("source") or not prior.get("renditions"):
        return None
    if not str(prior["source"]).startswith(_object_and_renderer(key) + "."):
        return None                   # another object, or another renderer: no HEAD
    etag = deps.blobs.etag("drop", key)
    if etag is None or source_stamp(key, etag) != prior["source"]:
        return None                   # replaced (or gone: the GET path says which, with its retries)
    first = str(prior["renditions"][0].get("key") or "")
    parts = first.split("/")
    return {"name": ref, "slot": slot, "ok": True, "source_sha256": parts[1] if len(parts) > 2 else "",
            "source_format": prior.get("fmt"), "width": prior.get("width"), "height": prior.get("height"),
            "renditions": prior["renditions"], "findings": list(prior.get("findings") or []),
            "tags": prior.get("tags") or {},
            "phash": prior.get("phash"), "source": prior["source"], "reused": True}


def process_media_message(deps: Deps, msg: dict[str, Any], *, receive_count: int = 1) -> str:
    """One message: render its file, record it, finish the product when it was the last."""
    f = _prepare(deps, msg, receive_count)
    if isinstance(f, str):
        return f
    return _record_files(deps, [(f, _render_file(deps, f))])


def process_media_batch(deps: Deps, batch: list[tuple[str, dict[str, Any], int]]) -> dict[str, Any]:
    """An SQS batch of files (message id, body, receive count): each rendered on its own (its
    failure is its message's), then the files of one product recorded in one write (validate sends
    a product's files together, so a batch holds several of one product: one UpdateItem instead of
    one per file, and the pending item is rewritten fewer times as it grows). Returns each message's
    outcome, or the exception that failed it."""
    outcomes: dict[str, Any] = {}
    groups: dict[tuple[str, str, str], list[tuple[str, _File, dict[str, Any]]]] = {}
    for mid, msg, receive_count in batch:
        try:
            f = _prepare(deps, msg, receive_count)
            if isinstance(f, str):
                outcomes[mid] = f
                continue
            groups.setdefault(f.owner, []).append((mid, f, _render_file(deps, f)))
        except Exception as e:  # noqa: BLE001 - the message's failure: retried, then dead-lettered
            outcomes[mid] = e
    for group in groups.values():
        try:
            out = _record_files(deps, [(f, r) for _mid, f, r in group])
        except Exception as e:  # noqa: BLE001 - the group's write failed: its messages are retried
            out = e
        for mid, _f, _r in group:
            outcomes[mid] = out
    return outcomes


def _record_files(deps: Deps, files: list[tuple[_File, dict[str, Any]]]) -> str:
    """Record one product's rendered files (one conditional write where it can) and finish the
    product when they emptied its pending set."""
    first = files[0][0]
    merchant_id, spu, batch_id = first.owner
    product = next((f.product for f, _ in files if f.product is not None), None)
    unique = list({f.image_id: (f, r) for f, r in files}.values())     # an SQS duplicate in the batch
    after = None
    if len(unique) > 1 and int(first.msg.get("files") or 0) <= INLINE_FILES:
        after = _record_inline(deps, merchant_id, spu, batch_id, [(f.image_id, r) for f, r in unique])
    if after is None:
        for f, r in unique:
            after = _record(deps, merchant_id, spu, batch_id, f.image_id, r, files=int(f.msg.get("files") or 0))
            if after is not None and not after.get("pending"):
                break
    return _mark_done(deps, merchant_id, spu, batch_id, after, product)


# A file's result is kept on the product's pending item (``keys.pending_media``), as the attribute
# ``result:<slot>:<index>`` (its JSON, zlib-compressed: ~0.4 KB where the map was ~0.7 KB), written
# with the file's removal from the pending set: one request per file, and the delivery that empties
# the set gets every result back from that same write. DynamoDB bills each write by the item's
# size after it, so the item's growth costs 1+1+2+2+3+3 WRU for six files; past INLINE_FILES a
# product's results are items of their own (``IMAGE#<batch>#<slot>#<index>``: a put and the set's
# update, 2 WRU a file however many) and its finisher reads them by key (``ids``, consistent).
RESULT_PREFIX = "result:"
INLINE_FILES = 6


def pack_result(result: dict[str, Any]) -> bytes:
    return packing.pack(result)


def unpack_result(value: Any) -> dict[str, Any] | None:
    """A stored result: packed (bytes, or boto3's Binary around them) or a map (before packing)."""
    value = packing.unpack(value)
    return value if isinstance(value, dict) else None


def _record(deps: Deps, merchant_id: str, spu: str, batch_id: str, image_id: str,
            result: dict[str, Any], *, files: int = 0) -> dict[str, Any] | None:
    """Store the file's result and take it off the pending set, in one conditional update; the
    pending item after it. A file no longer pending (a duplicate) writes nothing: the item as it is.
    ``files``: the product's file count (its message says); past INLINE_FILES the result is its own
    item, put first (a crash before the set's update leaves the file pending: it is redone)."""
    ppk, psk = keys.pending_media(merchant_id, spu, batch_id)
    try:
        if files > INLINE_FILES:
            ipk, isk = keys.image(merchant_id, spu, batch_id, str(result["slot"]), int(result["index"]))
            deps.store.put({"pk": ipk, "sk": isk, "batch_id": batch_id, **result})
            return deps.store.update(ppk, psk, "DELETE pending :i", condition="contains(pending, :one)",
                                     values={":i": {image_id}, ":one": image_id}, return_new=True)
        return deps.store.update(ppk, psk, "SET #r = :r DELETE pending :i", condition="contains(pending, :one)",
                                 names={"#r": RESULT_PREFIX + image_id},
                                 values={":r": pack_result(result), ":i": {image_id}, ":one": image_id},
                                 return_new=True)
    except ConditionFailed:
        return deps.store.get(ppk, psk)


def _record_inline(deps: Deps, merchant_id: str, spu: str, batch_id: str,
                   results: list[tuple[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """Several files' results onto the pending item and off its set in one update, on condition
    that every one of them is still pending. None when one is not (a duplicate, a redelivery):
    the caller records them one by one, as ``_record`` refuses what is done."""
    ppk, psk = keys.pending_media(merchant_id, spu, batch_id)
    names = {f"#r{i}": RESULT_PREFIX + image_id for i, (image_id, _) in enumerate(results)}
    values: dict[str, Any] = {f":r{i}": pack_result(r) for i, (_, r) in enumerate(results)}
    values[":i"] = {image_id for image_id, _ in results}
    values.update({f":o{i}": image_id for i, (image_id, _) in enumerate(results)})
    try:
        return deps.store.update(ppk, psk, "SET " + ", ".join(f"#r{i} = :r{i}" for i in range(len(results)))
                                 + " DELETE pending :i",
                                 condition=" AND ".join(f"contains(pending, :o{i})" for i in range(len(results))),
                                 names=names, values=values, return_new=True)
    except ConditionFailed:
        return None


def _render(deps: Deps, merchant_id, sheet_key, slot, index, ref, receive_count, *,
            prior: Any = None) -> dict[str, Any]:
    from shangjia.media import PIPELINE_LIMITS, fetch_url, probe_video, process_image

    cap = MAX_VIDEO_BYTES if slot == "video" else MAX_IMAGE_BYTES
    source: dict[str, Any] = {}
    try:
        if ref.lower().startswith(("http://", "https://")):
            data = fetch_url(ref, max_bytes=cap, timeout_s=10,
                             **({"accept": ("video/",)} if slot == "video" else {}))
        else:
            key = source_key(merchant_id, sheet_key, ref)
            if key is None:
                raise FindingError(finding("PIPE_IMAGE_MISSING", field=slot, value=ref))
            if prior is not None and slot != "video":
                reused = _reuse(deps, key, slot, ref, prior)
                if reused is not None:
                    return reused
            try:
                data, etag = deps.blobs.get_with_etag("drop", key, max_bytes=cap)
                source = {"source": source_stamp(key, etag)}
            except FileNotFoundError:
                if receive_count < MISSING_SOURCE_RETRIES:
                    raise Transient(f"image {key} not uploaded yet") from None
                raise FindingError(finding("PIPE_IMAGE_MISSING", field=slot, value=ref)) from None
            except ValueError as e:
                raise FindingError(finding("MEDIA_UNREADABLE", field=slot, value=ref, reason=str(e))) from None
    except FindingError as e:
        return {"ok": False, "findings": [e.finding.to_dict()]}
    if slot == "video":
        video = probe_video(data, name=ref)
        return {**video.to_dict(), "findings": [{**f.to_dict(), "field": f.field or "video"} for f in video.findings]}
    res = process_image(data, name=ref, slot=slot, limits=PIPELINE_LIMITS)
    for r in res.renditions:        # content-addressed: created once, whoever renders it first
        deps.blobs.put_new("media", r.key, r.data, content_type=r.content_type)
    out = {**res.to_dict(), **source}
    out["findings"] = [{**f.to_dict(), "field": f.field or slot} for f in res.findings]
    return out


def _mark_done(deps: Deps, merchant_id: str, spu: str, batch_id: str, after: dict[str, Any] | None,
               product: dict[str, Any] | None = None) -> str:
    """The delivery whose write emptied the pending set (or a duplicate that finds it empty: a
    crash may have cut the first short) finishes the product. ``after``: the pending item after
    this file's write. ``product``: the item as this delivery read it (its validation result does
    not change while its images are processed; the status it had is checked again by the
    conditional move)."""
    if not after or after.get("pending"):
        return "image_done"
    if product is None or product.get("status") != PS.MEDIA:
        product = get_product(deps, merchant_id, spu) or {}
    if product.get("batch_id") == batch_id and product.get("status") == PS.IN_REVIEW \
            and not product.get("review_started"):
        # A crash between the move to review and the workflow's start: this redelivery starts it
        # (start_review is idempotent on the execution name), or the product would wait forever.
        review.start_review(deps, merchant_id, spu, batch_id)
        return "review"
    if product.get("batch_id") != batch_id or product.get("status") != PS.MEDIA:
        return "already_complete"
    return finish_media(deps, merchant_id, spu, batch_id, product=product, pending=after)


def _results(deps: Deps, merchant_id: str, spu: str, batch_id: str,
             pending: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every file's result, in key order (slot, then index), as the items they once were
    (``IMAGE#<batch>#<slot>#<index>``). Files done before results moved onto the pending item
    (a deploy while a product was in media) are still read from their own items."""
    pending = pending if pending is not None else deps.store.get(*keys.pending_media(merchant_id, spu, batch_id)) or {}
    out = {}
    for name, value in pending.items():
        r = unpack_result(value) if name.startswith(RESULT_PREFIX) else None
        if r is not None:
            sk = keys.image(merchant_id, spu, batch_id, str(r.get("slot")), int(r.get("index") or 0))[1]
            out[sk] = {**r, "sk": sk}
    if len(out) < int(pending.get("total") or 0):
        if pending.get("ids"):            # results of their own (more than INLINE_FILES): by key
            wanted = []
            for i in pending["ids"]:
                slot, _, index = str(i).rpartition(":")
                wanted.append(keys.image(merchant_id, spu, batch_id, slot, int(index)))
            found = deps.store.get_many(wanted, consistent=True)
        else:                             # files done before results moved onto the pending item
            found = deps.store.query(keys.product_pk(merchant_id, spu), sk_prefix=f"IMAGE#{batch_id}#")
        for item in found:
            out.setdefault(item["sk"], item)
    return [out[k] for k in sorted(out)]


def file_result(deps: Deps, merchant_id: str, spu: str, batch_id: str, slot: str, index: int) -> dict[str, Any] | None:
    """One file's stored result (ops tools, tests), or None while it is not done."""
    sk = keys.image(merchant_id, spu, batch_id, slot, index)[1]
    return next((r for r in _results(deps, merchant_id, spu, batch_id, None) if r["sk"] == sk), None)


def finish_media(deps: Deps, merchant_id: str, spu: str, batch_id: str, *,
                 product: dict[str, Any] | None = None, pending: dict[str, Any] | None = None) -> str:
    """The product's images are done: product checks across them, then one write records the
    result and moves the product on (to review, or back to the merchant)."""
    from shangjia.media import product_checks

    images = _results(deps, merchant_id, spu, batch_id, pending)
    findings = [Finding.from_dict(f) for img in images for f in img.get("findings", [])]
    # Checks across the product's images point at the sheet column they are about.
    findings += [f if f.field else replace(f, field="main_image" if f.code == "MEDIA_MAIN_MISSING" else "gallery_images")
                 for f in product_checks([_stored_result(i) for i in images if i.get("slot") != "video"])]
    if product is None or product.get("batch_id") != batch_id or "findings" not in product:
        product = get_product(deps, merchant_id, spu) or {}      # with its payload (validation's findings)
    all_findings = [Finding.from_dict(f) for f in product.get("findings", [])] + findings
    extra = {"findings": [f.to_dict() for f in all_findings],
             "media": {i["sk"].split("#", 2)[2]: {**{k: i.get(k) for k in ("ok", "renditions", "tags", "width", "height")},
                                                   **reusable(i)}
                       for i in images}}
    if has_errors(findings):
        set_status(deps, merchant_id, spu, PS.NEEDS_FIX, batch_id=batch_id, extra=extra)
        return "needs_fix"
    if product.get("readiness"):      # re-scored on the images media processed (channels/readiness.py)
        from shangjia.channels.readiness import readiness_by_channel

        extra["readiness"] = readiness_by_channel(product.get("product") or {}, list(product["readiness"]),
                                                  media=extra["media"])
    review.start_review(deps, merchant_id, spu, batch_id, extra=extra)
    return "review"


def _stored_result(item: dict[str, Any]):
    """An ``ImageResult`` rebuilt from its stored summary, so product checks see what they saw fresh."""
    from shangjia.media import ImageResult

    ph = item.get("phash")
    return ImageResult(ok=bool(item.get("ok")), source_sha256=item.get("source_sha256") or "",
                       source_format=item.get("source_format"), width=item.get("width"), height=item.get("height"),
                       renditions=[], findings=[Finding.from_dict(f) for f in item.get("findings", [])],
                       tags=item.get("tags") or {}, phash=int(ph, 16) if isinstance(ph, str) else ph,
                       name=item.get("ref") or item.get("name") or "", slot=item.get("slot") or "")
