"""Product records and their status changes, guarded by the pure transition table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shangjia.clock import iso
from shangjia.pipeline import keys, packing
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed
from shangjia.status import TERMINAL_FOR_BATCH, ProductStatus, can_transition, history_entry, read_history, sources_of


# --- the payload: write-once attributes on an item of their own ---------------------------------
#
# A product is two items under its partition: ``META``, small, whose status moves (and whose gsi2
# entry moves with it), and ``DATA`` (``keys.payload``), the revision's payload, written when
# validation decides and touched again only by a stage that adds to it (media's renditions, a
# finding). DATA carries the batch whose revision it is: a product that a new upload has taken
# shows no payload until that upload's own is written, as it did when one item held both.

PAYLOAD_ATTRS = frozenset({"product", "cells", "findings", "changes", "readiness", "media", "dropped_skus"})
# Stored packed on DATA (``packing``: zlib'd JSON, binary), as DynamoDB bills a write by the item's
# size and every payload attribute is written and read whole, never by an expression: validation's
# payload as one value (``PACKED``: the product and its cells repeat the same text, so together they
# pack to about 40 % of their maps, apart to about 60 %), and an attribute a later stage adds or
# replaces (media's renditions, a finding) as a packed value of its own, which wins over the first.
PACKED = "packed"
# What a review works with while the product is in review (``review.start_review`` writes them with
# the move in): every move elsewhere drops them (free where absent), so the moves after a review
# (publishing, the channels' summary) do not pay for them.
REVIEW_WORKING_ATTRS = ("review_machine", "review_started", "review_stage")


def _packed(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: packing.pack(v) if isinstance(v, (dict, list)) and v else v for k, v in attrs.items()}


def merge_payload(meta: dict[str, Any] | None, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The product as one dict: its META item with the payload of the same revision (batch),
    unpacked (an item written before packing keeps its maps: read as they are)."""
    if not meta or not data or data.get("batch_id") != meta.get("batch_id"):
        return meta
    payload = dict(packing.unpack(data[PACKED])) if PACKED in data else {}
    payload.update({k: packing.unpack(v) for k, v in data.items() if k in PAYLOAD_ATTRS})
    return {**meta, **{k: v for k, v in payload.items() if k in PAYLOAD_ATTRS}}


def load(deps: Deps, pk: str, sk: str = "META", *, consistent: bool = True) -> dict[str, Any] | None:
    """A product item (or a check-only result) with its payload: both items in one BatchGetItem."""
    got = {it["sk"]: it for it in deps.store.get_many([(pk, sk), keys.payload(pk)], consistent=consistent)}
    return merge_payload(got.get(sk), got.get(keys.PAYLOAD_SK))


def load_with(deps: Deps, pk: str, others: list[tuple[str, str]], *,
              consistent: bool = True) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The product (with its payload) and other items of its partition (its listings), all in one
    BatchGetItem: ``(product, {sk: item found})``."""
    got = {it["sk"]: it for it in deps.store.get_many([(pk, "META"), keys.payload(pk), *others],
                                                       consistent=consistent)}
    product = merge_payload(got.pop("META", None), got.pop(keys.PAYLOAD_SK, None))
    return product, got


def with_payload(deps: Deps, items: list[dict[str, Any]], *, consistent: bool = False) -> list[dict[str, Any]]:
    """Product items (as an index or a batch read found them) with their payloads, fetched together
    (100 keys a BatchGetItem); other items are returned as they are."""
    wanted = [keys.payload(i["pk"]) for i in items if i.get("sk") == "META" and "status" in i]
    if not wanted:
        return items
    data = {d["pk"]: d for d in deps.store.get_many(wanted, consistent=consistent)}
    return [merge_payload(i, data.get(i["pk"])) if i.get("sk") == "META" else i for i in items]


def get_product(deps: Deps, merchant_id: str, spu: str) -> dict[str, Any] | None:
    return load(deps, *keys.product(merchant_id, spu))


def write_payload(deps: Deps, pk: str, batch_id: str | None, attrs: dict[str, Any], *,
                  replace: bool = False) -> dict[str, Any] | None:
    """Write payload attributes of ``batch_id``'s revision. ``replace``: the revision's whole payload
    (validation's result), over whatever revision was there. Otherwise the attributes are added to
    the revision's payload, only if it is that revision's: returns the payload as written, or None
    when it is another revision's (or none was written: a product stored before the split), and
    the caller keeps the attributes on the product item itself."""
    pk_, sk = keys.payload(pk)
    if replace:
        deps.store.put({"pk": pk_, "sk": sk, "batch_id": batch_id, PACKED: packing.pack(attrs)})
        return {"pk": pk_, "sk": sk, "batch_id": batch_id, **attrs}
    if not attrs or batch_id is None:
        return None
    a = payload_update(pk, batch_id, attrs)
    try:
        return deps.store.update(*a["update"], a["expression"], condition=a["condition"], names=a["names"],
                                 values=a["values"], return_new=True)
    except ConditionFailed:
        return None


def payload_update(pk: str, batch_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """``write_payload``'s added attributes as one ``Store.transact`` action (conditional on the
    payload being ``batch_id``'s revision), for a caller that writes them with other items."""
    names = {f"#a{i}": k for i, k in enumerate(attrs)}
    values: dict[str, Any] = {f":a{i}": v for i, v in enumerate(_packed(attrs).values())}
    values[":b"] = batch_id
    return {"update": keys.payload(pk), "expression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs))),
            "condition": "batch_id = :b", "names": names, "values": values}


def set_status(deps: Deps, merchant_id: str, spu: str, target: ProductStatus, *, batch_id: str | None = None,
               extra: dict[str, Any] | None = None, status_sort: str | None = None,
               key: tuple[str, str] | None = None, remove: tuple[str, ...] = ()) -> bool:
    """Move a product to ``target`` if the table allows it from its current status (and, when given,
    only for that batch's revision). Returns False when the move was not allowed (a duplicate or a
    late message): the caller treats that as already done."""
    return move_status(deps, merchant_id, spu, target, batch_id=batch_id, extra=extra, status_sort=status_sort,
                       key=key, remove=remove) is not None


def move_status(deps: Deps, merchant_id: str, spu: str, target: ProductStatus, *, batch_id: str | None = None,
                extra: dict[str, Any] | None = None, status_sort: str | None = None,
                key: tuple[str, str] | None = None, remove: tuple[str, ...] = (),
                via: tuple[ProductStatus, ...] = (), from_status: ProductStatus | None = None) -> dict[str, Any] | None:
    """``set_status`` returning the product as the move left it (None: the move was not allowed),
    so the caller needs no read after it. ``extra`` is written in the same (one) write as the move;
    ``remove``: attributes the move drops (what the stage it leaves no longer needs).
    ``via``: statuses the product passes through on the way, each a move the table allows and
    each in its history, in this one write (an automatic approval goes on to publishing: one
    write and one index move instead of two). ``from_status``: only from this status (one of
    those the table allows)."""
    path = (*via, target)
    for a, b in zip(path, path[1:]):
        if not can_transition(a, b):
            raise ValueError(f"{a} -> {b} is not a move the status table allows")
    allowed = sources_of(path[0])
    if from_status is not None:
        if from_status not in allowed:
            raise ValueError(f"{from_status} -> {path[0]} is not a move the status table allows")
        allowed = frozenset({from_status})
    pk, sk = key or keys.product(merchant_id, spu)
    extra = dict(extra or {})
    heavy = {k: extra.pop(k) for k in list(extra) if k in PAYLOAD_ATTRS}
    data = None
    if heavy:
        # The payload first, then the move: a crash in between leaves the move to the redelivery,
        # and a move that is refused (a duplicate) wrote the same payload its first delivery did.
        data = write_payload(deps, pk, batch_id or (deps.store.get(pk, sk) or {}).get("batch_id"), heavy)
        if data is None:
            extra.update(heavy)           # a product stored before the split keeps its payload in place
    sources = sorted(s.value for s in allowed)
    values: dict[str, Any] = {":t": target.value, ":u": iso(deps.clock.now()), ":g": f"STATUS#{target.value}",
                              ":gs": status_sort or iso(deps.clock.now())}
    cond_parts = []
    for i, s in enumerate(sources):
        values[f":s{i}"] = s
        cond_parts.append(f":s{i}")
    condition = f"#st IN ({', '.join(cond_parts)})"
    if batch_id:
        condition += " AND batch_id = :b"
        values[":b"] = batch_id
    # gsi2 lists products by status, sorted by ``status_sort`` (default: when they got there)
    sets = ["#st = :t", "updated_at = :u", "gsi2pk = :g", "gsi2sk = :gs"]
    names = {"#st": "status"}
    for i, (k, v) in enumerate((extra or {}).items()):
        names[f"#x{i}"] = k
        values[f":x{i}"] = v
        sets.append(f"#x{i} = :x{i}")
    # an entry names its batch only where the batch changes (admission): ``history`` reads it so
    values[":h"] = [history_entry(s.value, values[":u"]) for s in path]
    values[":empty"] = []
    sets.append("history = list_append(if_not_exists(history, :empty), :h)")
    expression = "SET " + ", ".join(sets)
    if target is not ProductStatus.IN_REVIEW:
        remove = (*remove, *(r for r in REVIEW_WORKING_ATTRS if r not in remove))
    dropped = [r for r in remove if r not in (extra or {})]
    if dropped:
        for i, r in enumerate(dropped):
            names[f"#r{i}"] = r
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(dropped)))
    try:
        item = deps.store.update(pk, sk, expression, condition=condition, names=names, values=values,
                                 return_new=True) or {}
    except ConditionFailed:
        if batch_id and target in TERMINAL_FOR_BATCH:
            # A duplicate or late message: the product may have settled while the sender of this one
            # died before counting it in its batch. Counting is idempotent: make sure it is counted.
            item = deps.store.get(pk, sk) or {}
            if item.get("batch_id") == batch_id and item.get("status") in TERMINAL_FOR_BATCH:
                _settled(deps, spu, item)
        return None
    item = merge_payload(item, data) if data is not None else item
    _left_stage(item, values[":u"], len(path))
    if target in TERMINAL_FOR_BATCH and item.get("batch_id"):
        _settled(deps, spu, item)
    return item


def history_of(item: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The product's status history, each entry a dict with its batch: stored (``status.history_entry``,
    one string a move), an entry names its batch
    only where the batch changes (the admission that starts a revision writes it; the moves after
    it are that batch's), which keeps 28 bytes of every move off the product item (each status
    move pays for the item's size: one WRU per started KB)."""
    return read_history((item or {}).get("history"))


def archive_history(deps: Deps, item: dict[str, Any]) -> None:
    """Keep the history of the product's revision that a new upload replaces in an item of its own
    (``keys.product_history``), so the product item carries only its current revision's moves:
    every move pays for the item's size, which would otherwise grow by ~230 bytes an upload (a
    product re-uploaded weekly would pay three WRU a move within a month). Written once per new
    revision, before the admission that replaces the history (a redelivery writes the same)."""
    merchant_id, spu = str(item["merchant_id"]), str(item["spu_code"])
    revision = int(item.get("revision") or 0)
    pk, sk = keys.product_history(merchant_id, spu, revision)
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": merchant_id, "spu_code": spu, "revision": revision,
                    "batch_id": item.get("batch_id"), "history": list(item.get("history") or [])})


def product_history(deps: Deps, merchant_id: str, spu: str) -> list[dict[str, Any]]:
    """Every status move the product made, oldest first, each with its batch: the archived
    revisions' (``archive_history``) and the current one's (``history_of``)."""
    pk, sk = keys.product(merchant_id, spu)
    out: list[dict[str, Any]] = []
    for h in deps.store.query(pk, sk_prefix="HISTORY#"):
        out += read_history(h.get("history"))
    return out + history_of(deps.store.get(pk, sk))


def _settled(deps: Deps, spu: str, item: dict[str, Any]) -> None:
    """The product settled: count it in its batch (``batches.settle_product``), which settles the
    batch and notifies the merchant when it was the last."""
    from shangjia.pipeline import batches

    history = [h for h in history_of(item) if h.get("batch_id") == item["batch_id"]]
    first = next((h["status"] for h in history if h.get("status") in TERMINAL_FOR_BATCH), item["status"])
    if (str(first) in batches.FAILURE_OUTCOMES and "product" not in item and "findings" not in item
            and item.get("sk") == "META"):
        item = with_payload(deps, [item], consistent=True)[0]     # a failure is filed with its findings
    batches.settle_product(deps, item["batch_id"], item.get("seq"), spu, str(first), item)


def _left_stage(item: dict[str, Any], now: str, entries: int = 1) -> None:
    """StageLatency: how long the product spent in the status it just left (from its history;
    ``entries``: how many the move appended)."""
    history = read_history(item.get("history"))
    if len(history) < entries + 1 or not history[-entries - 1].get("at"):
        return
    left = history[-entries - 1]
    from shangjia import metrics

    try:
        before = datetime.fromisoformat(str(left["at"]).replace("Z", "+00:00"))
        after = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        return
    metrics.stage_latency(str(left.get("status")), (after - before).total_seconds() * 1000)


# --- ops: a product stuck in flight -------------------------------------------------------------

# How long a product may stay in an in-flight status before ops may reset it without --force:
# longer than every retry its queue or workflow would still make (validate: 3 receives of a 3-minute
# visibility timeout; media: 5; publishing: 8; review: the SLA time-outs escalate to ops first).
STUCK_AFTER = {
    ProductStatus.UPLOADED: timedelta(minutes=15),
    ProductStatus.VALIDATING: timedelta(minutes=15),
    ProductStatus.MEDIA: timedelta(hours=1),
    ProductStatus.IN_REVIEW: timedelta(days=2),
    ProductStatus.APPROVED: timedelta(hours=1),
    ProductStatus.SCHEDULED: timedelta(days=2),
    ProductStatus.PUBLISHING: timedelta(hours=2),
}


class ResetRefused(Exception):
    """The product may not be reset (unknown, settled, not stuck yet, or it moved meanwhile)."""


def reset_product(deps: Deps, merchant_id: str, spu: str, *, actor: str, reason: str,
                  force: bool = False) -> dict[str, Any]:
    """Ops moves a product stuck in flight to ``failed`` (``status.can_transition``: every
    in-flight status may fail), with a located ``PIPE_PRODUCT_RESET`` finding naming who, from
    what and why. A product reset before it was counted in its batch (uploaded/validating) is
    counted now as invalid, so the batch can finish and write its report; a redelivery of its
    message later (a DLQ redrive) counts nothing twice and re-checks the report. ``failed`` is
    settled: the merchant's next upload of the product is taken, never refused as busy."""
    from shangjia.errors import finding
    from shangjia.pipeline import batches

    item = get_product(deps, merchant_id, spu)
    if not item:
        raise ResetRefused(f"no product {spu!r} for merchant {merchant_id!r}")
    status = ProductStatus(item["status"])
    if status not in STUCK_AFTER or not can_transition(status, ProductStatus.FAILED):
        raise ResetRefused(f"{spu} is {status.value}: settled, a new upload moves it")
    now = deps.clock.now()
    since = datetime.fromisoformat(str(item.get("updated_at")).replace("Z", "+00:00"))
    if now - since < STUCK_AFTER[status] and not force:
        raise ResetRefused(f"{spu} has been {status.value} for {now - since}, under {STUCK_AFTER[status]}: "
                           "its retries may still move it (use --force to reset anyway)")
    f = finding("PIPE_PRODUCT_RESET", row=item.get("first_row"), field="spu_code", value=spu,
                actor=actor, status=status.value, reason=reason)
    extra = {"findings": list(item.get("findings") or []) + [f.to_dict()], "valid": False,
             "reset": {"by": actor, "at": iso(now), "from": status.value, "reason": reason}}
    batch_id = item.get("batch_id")
    if not set_status(deps, merchant_id, spu, ProductStatus.FAILED, batch_id=batch_id, extra=extra):
        raise ResetRefused(f"{spu} moved on meanwhile: look again")
    counted = False
    if batch_id and status in (ProductStatus.UPLOADED, ProductStatus.VALIDATING) and item.get("seq") is not None:
        counted = batches.tally_product(deps, batch_id, item["seq"], spu, valid=False,
                                        shard_size=batches.shard_size_of(item)) is not None
        batches.maybe_finalise(deps, batch_id, f"reset:{spu}")
    return {"merchant_id": merchant_id, "spu_code": spu, "from": status.value, "to": ProductStatus.FAILED.value,
            "batch_id": batch_id, "counted_in_batch": counted, "finding": f.to_dict()}
