"""Publish: one listing per (product, channel), through the channel port (``shangjia.channels``).

Each message of a ``publish_<channel>`` queue moves one listing (``channels/listings.py`` holds
the states and their rules); the product is ``published`` when every requested channel's listing
is live, ``needs_fix`` (with the channel's located finding) when every one settled and any was
rejected or refused. SQS is the retry engine:

- transient (5xx, time-out, unreachable): the listing shows ``retrying`` and the message is sent
  again delayed (exponential backoff with full jitter, SQS DelaySeconds <= 900); after
  ``MAX_BACKOFFS`` the record fails back to SQS (visibility time-out, then its DLQ). Each counts
  toward the channel's circuit breaker.
- quota (our token bucket per (channel, shop), or the platform's own answer): ``waiting_quota``
  with the reserved slot's time; the message waits for it (re-sent delayed, hop by hop).
- circuit open: ``waiting_channel`` until the breaker's probe time; nothing is sent.
- token refused after the adapter's one refresh, or permanent: ``failed``, with the platform's
  code and message in Chinese and English.

Idempotent: ``submitted`` (with ``sent``) is written before the platform is called, and a listing
found so without a platform id is looked up by our product code before anything is sent again; a
listing with a platform id is updated (a re-upload), never created twice. A re-upload that only
changes stock goes through the stock API (no audit, no quota).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from shangjia.channels import AUDITED
from shangjia.channels import listings as L
from shangjia.channels.credentials import platform_ref_key
from shangjia.channels.throttle import Circuit, Throttle
from shangjia.clock import epoch_s, iso, real_seconds
from shangjia.observability import logger
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.products import get_product, load_with, set_status
from shangjia.topology import CHANNELS
from shangjia.ports import ConditionFailed, Transient
from shangjia.status import ProductStatus as PS, history_entry

MAX_BACKOFFS = 6                 # delayed re-sends for transient errors before SQS's own retries take over
MAX_DELAY_S = 900                # SQS DelaySeconds' ceiling
EARLY_RESENDS = 5                # a message that overtook fan_out's status move: re-sent 1 s later, this often
QUOTA_PENALTY_S = 600.0          # a platform's "quota spent" without a Retry-After: wait 10 minutes
CALLBACK_TTL_S = 30 * 24 * 3600  # how long a platform's message id is remembered (replays refused)
HISTORY_MAX = 50
# platform answers meaning the shop's listing (audit) quota is spent: the shared bucket is drained
SHOP_QUOTA_CODES = frozenset({"1002001", "45009"})


def backoff_base_s() -> float:
    return float(os.environ.get("SHANGJIA_PUBLISH_BACKOFF_S", "10"))


def lease_s() -> float:
    """How long a send holds its listing: another delivery of the same message (SQS's visibility
    time-out ran out, a duplicate) waits that long for its answer instead of sending too. Longer
    than the publish function's time-out, so only a crashed attempt's lease runs out."""
    return float(os.environ.get("SHANGJIA_PUBLISH_LEASE_S", "90"))


def audit_poll_after_s() -> float:
    """How long a listing may wait in audit for its verdict's callback before the poller asks."""
    return float(os.environ.get("SHANGJIA_AUDIT_POLL_AFTER_S", "1800"))


# --- the publisher: ports and guards -----------------------------------------------------------------

@dataclass
class Publisher:
    """What the publish stage talks to: the channel ports, the shops' credentials, the shared
    quota and outage guards. ``ports``/``shop_for`` are injectable (tests: fakes)."""
    deps: Deps
    ports: dict[str, Any] = field(default_factory=dict)
    shop_for: Callable[[str, str], Any] | None = None
    throttle: Throttle | None = None
    circuit: Circuit | None = None
    rand: Callable[[], float] = random.random
    now_s: Callable[[], float] = time.time
    # the quota clock (``clock.epoch_s``: sped up by SHANGJIA_TIME_SCALE for the quota run): the
    # token bucket and the slot times run on it; leases and the circuit breaker on ``now_s``
    # (an injected ``now_s`` drives both)
    quota_now_s: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        if self.quota_now_s is None:
            self.quota_now_s = epoch_s if self.now_s is time.time else self.now_s
        self.throttle = self.throttle or Throttle(self.deps.store, now=self.quota_now_s)
        # a container re-reads a healthy channel's circuit at most every 5 s (SHANGJIA_CIRCUIT_MEMO_S):
        # a send that fails meanwhile retries as any transient failure does
        self.circuit = self.circuit or Circuit(self.deps.store, now=self.now_s,
                                               memo_s=float(os.environ.get("SHANGJIA_CIRCUIT_MEMO_S", "5") or 0))
        self._lock = threading.Lock()

    def port(self, channel: str):
        with self._lock:
            if channel not in self.ports:
                from shangjia.channels import channel_port

                self.ports[channel] = channel_port(self.deps, channel)
            return self.ports[channel]

    def shop(self, merchant_id: str, channel: str):
        if self.shop_for is not None:
            return self.shop_for(merchant_id, channel)
        from shangjia.channels.credentials import shop_for

        return shop_for(self.deps, merchant_id, channel)


_DEFAULT: dict[int, Publisher] = {}


def default_publisher(deps: Deps) -> Publisher:
    """One publisher per deps bundle (per container): adapters keep their HTTP state."""
    pub = _DEFAULT.get(id(deps))
    if pub is None or pub.deps is not deps:
        pub = _DEFAULT[id(deps)] = Publisher(deps)
    return pub


# --- the message -------------------------------------------------------------------------------------

def publish_message(deps: Deps, msg: dict[str, Any], publisher: Publisher | None = None) -> str:
    pub = publisher or default_publisher(deps)
    if msg.get("action") == "delist":
        return delist_message(deps, msg, pub)
    return _publish(deps, msg, pub)


def content_hash(product: dict[str, Any], media: dict[str, Any] | None = None) -> str:
    """What a listing shows besides stock: a re-upload with the same hash changes stock only. Of the
    media summaries, what a listing shows: each image's renditions (not where its source came from,
    ``media.source_stamp``, nor its tags)."""
    p = dict(product)
    p["skus"] = [{k: v for k, v in s.items() if k != "stock"} for s in product.get("skus") or []]
    shown = {k: {"ok": v.get("ok"), "renditions": v.get("renditions")} if isinstance(v, dict) else v
             for k, v in (media or {}).items()}
    doc = json.dumps({"p": p, "m": shown}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def _stock(product: dict[str, Any]) -> dict[str, int]:
    return {s["sku_code"]: int(s.get("stock") or 0) for s in product.get("skus") or []}


def _publish(deps: Deps, msg: dict[str, Any], pub: Publisher) -> str:
    from shangjia.channels import ChannelError, channel_product

    m, spu, b, ch = msg["merchant_id"], msg["spu_code"], msg["batch_id"], msg["channel"]
    shop = shop_error = None
    try:
        shop = pub.shop(m, ch)                # (cached per container: no request, as a rule)
    except ChannelError as e:
        shop_error = e
    # the product, its listing and the product's images on this shop (a re-hosting adapter's own
    # map, ``credentials.ImageCache``): one read for all three
    images_at = getattr(pub.port(ch), "images_key", None) if ch in CHANNELS else None
    ikey = images_at(shop, spu) if shop is not None and images_at is not None else None
    item, got = load_with(deps, keys.product_pk(m, spu), [keys.listing(m, spu, ch), *([ikey] if ikey else [])])
    hosted = got.pop(ikey[1], {}) if ikey else None
    ls = _by_channel(got.values())
    if not item or item.get("batch_id") != b:
        return "stale"
    status = item.get("status")
    if status in (PS.APPROVED, PS.SCHEDULED, PS.IN_REVIEW):
        # fan_out sends before it moves the product to publishing (an automatic approval from
        # in_review, through approved): the move is a moment away.
        # Come back in a second (a delayed re-send), not after the queue's visibility timeout
        # (6x the function's: six minutes on AWS); after a few, retry as before (DLQ-bound).
        early = int(msg.get("early") or 0)
        if early < EARLY_RESENDS:
            _defer(deps, {**msg, "early": early + 1}, 1)
            return "early"
        raise Transient(f"{spu} is still {status}: its move to publishing has not landed yet")
    lkey = keys.listing(m, spu, ch)
    listing = ls.get(ch)
    same = bool(listing) and listing.get("batch_id") == b
    state = listing.get("state") if same else None
    if same and state in L.SETTLED:
        settle(deps, m, spu, b)               # a duplicate delivery: make sure the product moved
        return state
    if same and state == L.IN_AUDIT:
        return state                          # the verdict arrives by callback (or the poller)
    if status != PS.PUBLISHING:
        return f"product_{status}"            # settled or reset by ops meanwhile: nothing to send
    if same and float(listing.get("lease_until") or 0) > pub.now_s():
        return _defer(deps, msg, float(listing["lease_until"]) - pub.now_s())
    product = channel_product(item)
    if hosted is not None:
        product["hosted_images"] = dict(hosted.get("urls") or {})     # read above: the adapter reads no more
    chash = content_hash(item.get("product") or {}, item.get("media"))
    if shop_error is not None:
        return _failed(deps, msg, listing, shop_error)

    # A re-upload whose listing is live and whose content is unchanged: stock only (no audit, no quota).
    if listing and listing.get("state") == L.LIVE and listing.get("platform_product_id") \
            and listing.get("content_hash") == chash:
        return _stock_only(deps, msg, pub, shop, listing, item)

    now = pub.quota_now_s()
    slot = msg.get("slot_at")
    if slot is not None and now + 0.01 < float(slot):      # (slot times are kept to the millisecond)
        return _wait(deps, msg, listing, L.WAITING_QUOTA, float(slot) - now, reason=listing and listing.get("reason"))
    if slot is None:
        taken = pub.throttle.take_slot(ch, shop.shop_id)
        if taken.wait_s > 0:
            return _wait(deps, {**msg, "slot_at": round(now + taken.wait_s, 3)}, listing, L.WAITING_QUOTA,
                         taken.wait_s, reason=_quota_reason(pub, ch, taken))
    circuit = pub.circuit.check(ch)
    if circuit.wait_s > 0:
        return _wait(deps, msg, listing, L.WAITING_CHANNEL, circuit.wait_s,
                     reason={"code": "CIRCUIT_OPEN", "message_zh": f"{ch} 连续失败，暂停发送",
                             "message_en": f"{ch} keeps failing: sending paused"})

    port = pub.port(ch)
    try:
        # An earlier send whose answer never came (time-out, crash): look it up before sending again.
        if listing and listing.get("sent") and not listing.get("platform_product_id"):
            found = port.lookup(shop, spu, None)
            found_state = L.state_of_lookup(found)
            if found_state is not None:
                pub.circuit.success(ch, circuit)
                if listing.get("state") != L.SUBMITTED or listing.get("batch_id") != b:
                    _move(deps, lkey, msg, L.SUBMITTED, listing, sets={"resolved_by": "lookup"})
                return _record_answer(deps, msg, _fresh(deps, msg), found_state, str(found["platform_product_id"]),
                                      chash, _stock(item.get("product") or {}), reason=found.get("reason") or "",
                                      product_item=item)
        if not _move(deps, lkey, msg, L.SUBMITTED, listing,
                     sets={"sent": True, "submitted_at": iso(deps.clock.now()), "content_hash_sending": chash,
                           "lease_until": round(pub.now_s() + lease_s(), 3)},
                     add_attempt=True, unleased_at=pub.now_s()):
            return _defer(deps, msg, lease_s())     # another delivery is sending it right now
        adapter_listing = dict(listing or {})
        submitted = port.submit(shop, product, listing=adapter_listing or None)
    except ChannelError as e:
        return _channel_error(deps, msg, pub, shop, listing, e)
    except Transient as e:
        return _transient(deps, msg, pub, listing, {"code": "CHANNEL_UNAVAILABLE", "message_zh": str(e)[:300],
                                                    "message_en": str(e)[:300]})
    pub.circuit.success(ch, circuit)
    state = L.state_after_submit(submitted.state)
    return _record_answer(deps, msg, listing, state, submitted.platform_product_id, chash,
                          _stock(item.get("product") or {}), log_id=submitted.log_id, product_item=item)


# --- outcomes of one attempt ---------------------------------------------------------------------------

def _record_answer(deps: Deps, msg: dict[str, Any], listing: dict[str, Any] | None, state: str, ppid: str,
                   chash: str, stock: dict[str, int], *, log_id: str = "", reason: str = "",
                   product_item: dict[str, Any] | None = None) -> str:
    m, spu, b, ch = msg["merchant_id"], msg["spu_code"], msg["batch_id"], msg["channel"]
    now = deps.clock.now()
    sets: dict[str, Any] = {"platform_product_id": ppid, "content_hash": chash, "sent": False, "stock": stock}
    if log_id:
        sets["log_id"] = log_id
    remove = ["next_at", "reason", "reason_class", "platform_code"]
    if state == L.IN_AUDIT:
        sets.update({"audit_since": iso(now), "gsi2pk": f"AUDIT#{ch}",
                     "gsi2sk": iso(now + timedelta(seconds=audit_poll_after_s()))})
    else:
        remove += ["gsi2pk", "gsi2sk"]
    if state == L.LIVE:
        sets["live_at"] = iso(now)
    if state == L.REJECTED:
        from shangjia.channels import classify_reason

        sets.update({"reason": reason or "rejected", "reason_class": L.reason_class(classify_reason(reason))})
        remove = [r for r in remove if r not in ("reason", "reason_class")]
    # the platform id -> our listing, for audit pushes that name only the platform's product
    # (written once: a re-upload's listing keeps its platform id, and the mapping with it; none
    # for a channel that neither audits nor pushes). An update, not a put: a verdict pushed before
    # it (``apply_verdict``: the push knew no listing yet) waits on this item, and comes back here.
    early = None
    if ch in AUDITED and (not listing or str(listing.get("platform_product_id") or "") != str(ppid)):
        ref = deps.store.update(*platform_ref_key(ch, ppid), "SET merchant_id = :m, spu_code = :s, channel = :c "
                                "REMOVE #ttl", names={"#ttl": "ttl"}, values={":m": m, ":s": spu, ":c": ch},
                                return_new=True)
        early = (ref or {}).get(EARLY_ON_REF)
        if early:                            # applied below: not left on the ref for a later send
            deps.store.update(*platform_ref_key(ch, ppid), "REMOVE #e", names={"#e": EARLY_ON_REF})
    if state != L.IN_AUDIT:
        remove += EARLY_ON_LISTING_ATTRS     # a verdict kept for an audit this answer says is over
    moved = _move(deps, keys.listing(m, spu, ch), msg, state, listing, sets=sets, remove=remove,
                  return_new=state == L.IN_AUDIT)
    if state == L.IN_AUDIT and moved:
        # a verdict pushed before this answer was recorded (a quick audit) waits for it on the ref
        # or on the listing, whose move into audit returned it (no read): apply it now
        kept = moved if isinstance(moved, dict) else {}
        if not early and kept.get(EARLY_ON_LISTING) and kept.get(EARLY_BATCH) == msg["batch_id"]:
            early = kept[EARLY_ON_LISTING]   # (one kept while an earlier revision was sent is not this one's)
        if early:
            out = _apply(deps, m, spu, ch, ppid, early["verdict"], early.get("reason") or "",
                         early.get("reason_class") or "", source=early.get("source") or "callback",
                         msg_id=early.get("msg_id") or "")
            return out if out in (L.LIVE, L.REJECTED) else state
    if moved and state not in L.SETTLED:
        # this channel is still on its way (in audit, submitted): the product cannot settle on this
        # answer (``listings.outcome``); its verdict's callback or the poller settles it
        return state
    settle(deps, m, spu, b, item=product_item)
    return state


# A verdict pushed before our send's answer was recorded waits for it: on the platform-id item
# while the push finds no listing for the id (``EARLY_ON_REF``), on the listing while it is sent
# and not yet in audit (``EARLY_ON_LISTING``). Each is a conditional write on the item whose
# next write by publish returns it (the ref's update, the move into audit), so neither side reads
# the other's item to find it.
EARLY_ON_REF = "early"
EARLY_ON_LISTING = "early_verdict"
EARLY_BATCH = "early_verdict_batch"   # the revision the listing was sending when the verdict came
EARLY_ON_LISTING_ATTRS = [EARLY_ON_LISTING, EARLY_BATCH]


def _stock_only(deps: Deps, msg: dict[str, Any], pub: Publisher, shop, listing: dict[str, Any],
                item: dict[str, Any]) -> str:
    from shangjia.channels import ChannelError

    stock = _stock(item.get("product") or {})
    if stock != (listing.get("stock") or {}):
        try:
            pub.port(msg["channel"]).update_stock(shop, listing["platform_product_id"], stock)
        except ChannelError as e:
            if e.kind == "permanent":
                return _failed(deps, msg, listing, e)
            return _transient(deps, msg, pub, listing, e.to_dict())
        except Transient as e:
            return _transient(deps, msg, pub, listing, {"code": "CHANNEL_UNAVAILABLE", "message_zh": str(e)[:300],
                                                        "message_en": str(e)[:300]})
    _move(deps, keys.listing(msg["merchant_id"], msg["spu_code"], msg["channel"]), msg, L.LIVE, listing,
          sets={"stock": stock, "stock_updated_at": iso(deps.clock.now())}, new_revision_direct=True)
    settle(deps, msg["merchant_id"], msg["spu_code"], msg["batch_id"])
    return "stock_updated"


def _channel_error(deps: Deps, msg: dict[str, Any], pub: Publisher, shop, listing, e) -> str:
    reason = e.to_dict()
    if e.kind == "transient":
        return _transient(deps, msg, pub, listing, reason)
    if e.kind == "quota" and str(e.platform_code) not in SHOP_QUOTA_CODES:
        # a call-rate limit (HTTP 429, WeChat 45011, Douyin's access-limited): this message backs off
        # (its Retry-After, jittered) without draining the shop's listing bucket for every publisher
        # (the fault run: one 429 used to stall the whole shop for 60 s)
        wait = (e.retry_after_s or 60.0) * (0.5 + 0.5 * pub.rand())
        # (``sent`` is kept: a limit met after a write landed is resolved by lookup, never sent twice)
        return _wait(deps, msg, _fresh(deps, msg), L.WAITING_QUOTA, wait, reason=reason)
    if e.kind == "quota":
        pub.throttle.penalize(msg["channel"], shop.shop_id, e.retry_after_s or QUOTA_PENALTY_S)
        wait = pub.throttle.take(msg["channel"], shop.shop_id) or 1.0
        return _wait(deps, {**msg, "slot_at": round(pub.quota_now_s() + wait, 3)}, _fresh(deps, msg), L.WAITING_QUOTA,
                     wait, reason=reason, sets={"sent": False})
    # token (refused after the adapter's one refresh) and permanent: the listing fails, located
    return _failed(deps, msg, _fresh(deps, msg), e)


def _transient(deps: Deps, msg: dict[str, Any], pub: Publisher, listing, reason: dict[str, Any]) -> str:
    pub.circuit.failure(msg["channel"])
    attempt = int(msg.get("attempt") or 0) + 1
    delay = L.backoff_s(attempt, base_s=backoff_base_s(), cap_s=MAX_DELAY_S, rand=pub.rand())
    listing = _fresh(deps, msg)
    if attempt > MAX_BACKOFFS:
        _move(deps, keys.listing(msg["merchant_id"], msg["spu_code"], msg["channel"]), msg, L.RETRYING, listing,
              sets={"reason": reason, "next_step_note": "retried by the queue; then its DLQ (ops redrives)"},
              remove=["next_at"])
        raise Transient(f"{msg['channel']}: {reason.get('message_en')}")
    return _wait(deps, {**msg, "attempt": attempt}, listing, L.RETRYING, delay, reason=reason)


def _failed(deps: Deps, msg: dict[str, Any], listing, e) -> str:
    m, spu, b, ch = msg["merchant_id"], msg["spu_code"], msg["batch_id"], msg["channel"]
    _move(deps, keys.listing(m, spu, ch), msg, L.FAILED, listing,
          sets={"reason": e.to_dict(), "platform_code": e.platform_code or e.code, "sent": False},
          remove=["next_at", "gsi2pk", "gsi2sk"])
    settle(deps, m, spu, b)
    return L.FAILED



def _quota_reason(pub: Publisher, ch: str, taken) -> dict[str, Any]:
    """Why a listing waits for its slot: the shop's hourly pace, or the day's cap spent (then it
    says which day it goes, in China time, the platforms' day)."""
    if taken.limit == "day":
        from datetime import datetime, timedelta, timezone

        cap = pub.throttle.daily_cap(ch)
        at = datetime.fromtimestamp(taken.at, timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
        return {"code": "QUOTA_DAY", "params": {"cap": cap, "slot_at": at},
                "message_zh": f"今日 {cap} 次提审额度已用完，排队至 {at}（北京时间）发送",
                "message_en": f"today's {cap:,} audit submissions are used: queued for {at} (China time)"}
    return {"code": "QUOTA_BUCKET", "message_zh": "店铺发布配额已用完，按顺序排队",
            "message_en": "the shop's publishing quota is spent: queued for its turn"}

def _wait(deps: Deps, msg: dict[str, Any], listing, state: str, wait_s: float, *, reason=None,
          sets: dict[str, Any] | None = None) -> str:
    """Record the wait (with its expected time) and send the message again, delayed (<= 900 s a hop)."""
    next_at = deps.clock.now() + timedelta(seconds=wait_s)
    extra = {"next_at": iso(next_at), **(sets or {})}
    if reason:
        extra["reason"] = reason
    if not listing or listing.get("state") != state or listing.get("batch_id") != msg["batch_id"] \
            or listing.get("next_at") != extra["next_at"]:
        _move(deps, keys.listing(msg["merchant_id"], msg["spu_code"], msg["channel"]), msg, state, listing, sets=extra)
    body = _resend_body(msg)
    # a quota wait is measured on the quota clock (sped up in the quota run): its real delay is shorter
    real = real_seconds(wait_s) if state == L.WAITING_QUOTA else wait_s
    deps.queues.send_batch(f"publish_{msg['channel']}", [body], delay_s=min(MAX_DELAY_S, max(0, math.ceil(round(real, 3)))))
    return state


def _resend_body(msg: dict[str, Any]) -> dict[str, Any]:
    """The message as it is sent again: the listing's keys and what its retries count."""
    body = {k: msg[k] for k in ("merchant_id", "spu_code", "batch_id", "channel") if k in msg}
    return body | {k: msg[k] for k in ("attempt", "slot_at", "early") if msg.get(k) is not None}


def _defer(deps: Deps, msg: dict[str, Any], wait_s: float) -> str:
    """Another delivery holds the listing (mid-send): come back when its lease ends, moving nothing."""
    body = _resend_body(msg)
    deps.queues.send_batch(f"publish_{msg['channel']}", [body],
                           delay_s=min(MAX_DELAY_S, max(1, math.ceil(round(wait_s, 3)))))
    return "in_flight"


def _fresh(deps: Deps, msg: dict[str, Any]) -> dict[str, Any] | None:
    return deps.store.get(*keys.listing(msg["merchant_id"], msg["spu_code"], msg["channel"]))


def _move(deps: Deps, key: tuple[str, str], msg: dict[str, Any], target: str, listing: dict[str, Any] | None, *,
          sets: dict[str, Any] | None = None, remove: list[str] | None = None, add_attempt: bool = False,
          new_revision_direct: bool = False, unleased_at: float | None = None,
          return_new: bool = False, in_audit_as: str | None = None) -> bool | dict[str, Any]:
    """Write the listing's move to ``target`` for the message's revision, if the rules allow it
    from what is stored (a conditional write: a concurrent or late delivery never moves it back).
    ``new_revision_direct``: a stock-only re-upload keeps a live listing live for the new revision.
    ``return_new``: the listing as written (truthy) instead of True. ``in_audit_as``: a verdict's
    move, of whatever revision is in audit with that platform id (``msg`` names no batch; the
    history entry follows the move into audit, which names it)."""
    b = msg.get("batch_id")
    now = iso(deps.clock.now())
    fields: dict[str, Any] = {"state": target, "updated_at": now, "channel": msg["channel"],
                              "merchant_id": msg["merchant_id"], "spu_code": msg["spu_code"],
                              "gsi1pk": f"LISTINGS#{msg['channel']}", **({"batch_id": b} if b else {}), **(sets or {})}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    exprs = []
    for i, (k, v) in enumerate(fields.items()):
        names[f"#a{i}"], values[f":a{i}"] = k, v
        exprs.append(f"#a{i} = :a{i}")
    names.update({"#h": "history", "#g1s": "gsi1sk", "#st": "state"})
    # the entry names its batch where a revision may start (``read_history`` carries it to the rest)
    named = b if b and (target in L.STARTS or new_revision_direct) else None
    values.update({":h": [history_entry(target, now, named)], ":empty": [], ":now": now})
    exprs += ["#h = list_append(if_not_exists(#h, :empty), :h)", "#g1s = if_not_exists(#g1s, :now)"]
    if in_audit_as is not None:
        if target not in L.SETTLED or L.IN_AUDIT not in L.sources_of(target):
            raise ValueError(f"a verdict moves a listing from in_audit to a verdict's state, not to {target!r}")
        names["#pp"] = "platform_product_id"
        values.update({":ia": L.IN_AUDIT, ":pp": in_audit_as})
        condition = "#st = :ia AND #pp = :pp"
    else:
        names["#b"], values[":b"] = "batch_id", b
        parts = []
        if target in L.STARTS:           # no listing yet, or a new revision starts over
            parts.append("attribute_not_exists(pk) OR #b <> :b")
        if new_revision_direct:
            values[":live"] = L.LIVE
            parts.append("(#b <> :b AND #st = :live)")
        same = sorted(s for s in L.sources_of(target) if s is not None)
        if same:
            for i, s in enumerate(same):
                values[f":f{i}"] = s
            parts.append(f"(#b = :b AND #st IN ({', '.join(f':f{i}' for i in range(len(same)))}))")
        condition = " OR ".join(parts)
    if unleased_at is not None:         # nobody else is mid-send on this listing
        names["#lu"] = "lease_until"
        values[":nowl"] = round(unleased_at, 3)
        condition = f"({condition}) AND (attribute_not_exists(#lu) OR #lu < :nowl)"
    expr = "SET " + ", ".join(exprs)
    if add_attempt:
        values[":one"] = 1
        names["#n"] = "attempts"
        expr += " ADD #n :one"
    rm = [r for r in [*(remove or []), *([] if "lease_until" in fields else ["lease_until"])] if r not in fields]
    if rm:
        for i, r in enumerate(rm):
            names[f"#r{i}"] = r
        expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(rm)))
    try:
        got = deps.store.update(*key, expr, condition=condition, names=names, values=values, return_new=return_new)
        return (got or True) if return_new else True
    except ConditionFailed:
        logger.info("listing move refused", extra={"target": target, "channel": msg["channel"],
                                                   "from": (listing or {}).get("state")})
        return False


# --- the product's outcome --------------------------------------------------------------------------------

def channel_listings(deps: Deps, m: str, spu: str, channels) -> dict[str, dict[str, Any]]:
    got = deps.store.get_many([keys.listing(m, spu, c) for c in channels], consistent=True)
    return _by_channel(got)


def _by_channel(items) -> dict[str, dict[str, Any]]:
    return {g.get("channel") or g["sk"].split("#", 1)[1]: g for g in items}


def product_and_listings(deps: Deps, m: str, spu: str, channels) -> tuple[dict[str, Any] | None,
                                                                         dict[str, dict[str, Any]]]:
    """The product and its listings on ``channels``, strongly consistent, in one BatchGetItem
    (was two requests: the product, then the listings)."""
    item, others = load_with(deps, keys.product_pk(m, spu), [keys.listing(m, spu, c) for c in channels])
    return item, _by_channel(others.values())


def settle(deps: Deps, m: str, spu: str, b: str, *, item: dict[str, Any] | None = None) -> str | None:
    """Decide the product's outcome once every requested channel's listing of this revision has
    settled: all live -> published; any rejected/failed -> needs_fix, a finding per channel.
    Strongly consistent reads: of two channels settling at once, the later one sees both.
    ``item``: the product as this delivery read it, already ``publishing`` for this revision (its
    channels and findings do not change while it publishes; the status move is conditional)."""
    from shangjia.errors import finding

    ls = None
    if item is None or item.get("batch_id") != b or item.get("status") != PS.PUBLISHING:
        # the product and every channel's listing in one read (the channels it asked for are on it)
        item, ls = product_and_listings(deps, m, spu, CHANNELS)
    if not item or item.get("batch_id") != b or item.get("status") not in (PS.PUBLISHING, PS.APPROVED, PS.SCHEDULED):
        return None
    requested = list(item.get("channels_requested") or [])
    if ls is None or not set(requested) <= set(CHANNELS):
        ls = channel_listings(deps, m, spu, requested)
    out = L.outcome(requested, ls, b)
    if out is None or item.get("status") != PS.PUBLISHING:
        return None
    # kept on the product as each channel ended; ``next_step`` is said by the state
    # (``listings.NEXT_STEP``, shown by ``publishing_view``): not stored on every product
    summary = {c: {k: v for k, v in L.channel_view(ls.get(c), b).items() if k != "next_step"} for c in requested}
    if out == "published":
        set_status(deps, m, spu, PS.PUBLISHED, batch_id=b, extra={"channels": summary})
        return out
    findings = list(item.get("findings") or [])
    for c in requested:
        lst = ls[c]
        if lst["state"] == L.REJECTED:
            cls = L.reason_class(lst.get("reason_class"))
            f = finding("PIPE_CHANNEL_REJECTED", row=item.get("first_row"), field=L.REASON_FIELD[cls], value=spu,
                        channel=c, reason_class=cls, reason=_text(lst.get("reason")))
        elif lst["state"] == L.FAILED:
            r = lst.get("reason") if isinstance(lst.get("reason"), dict) else {}
            f = finding("PIPE_CHANNEL_FAILED", row=item.get("first_row"), field="spu_code", value=spu, channel=c,
                        platform_code=str(r.get("platform_code") or r.get("code") or ""),
                        message_zh=r.get("message_zh") or "", message_en=r.get("message_en") or "")
        else:
            continue
        findings.append(f.to_dict())
    set_status(deps, m, spu, PS.NEEDS_FIX, batch_id=b, extra={"channels": summary, "findings": findings})
    return out


def _text(reason: Any) -> str:
    if isinstance(reason, dict):
        return str(reason.get("message_zh") or reason.get("message_en") or reason.get("code") or "")
    return str(reason or "")


def publishing_view(deps: Deps, m: str, spu: str) -> dict[str, Any]:
    """A product's channels for its current revision: which are live, which wait and why."""
    item = get_product(deps, m, spu) or {}
    requested = list(item.get("channels_requested") or [])
    b = item.get("batch_id")
    ls = channel_listings(deps, m, spu, requested) if requested else {}
    return {"status": item.get("status"), "channels": {c: L.channel_view(ls.get(c), b) for c in requested},
            "waiting": L.waiting(requested, ls, b)}


# --- audit verdicts: callbacks and the poller ---------------------------------------------------------------

def apply_verdict(deps: Deps, verdict, *, source: str = "callback") -> str:
    """One audit verdict (``AuditVerdict``): idempotent on the platform's message id (its record,
    written once the verdict is applied; a replay finds it and is refused), applied only to a
    listing in audit with that platform id. Concurrent deliveries of one push may both apply it:
    the listing's move is conditional, so the second finds it no longer in audit. A crash before
    the record leaves the replay to apply it again, as the same conditional move."""
    ch, ppid = verdict.channel, str(verdict.platform_product_id)
    now = deps.clock.now()
    rk, mk = platform_ref_key(ch, ppid), (f"CALLBACK#{ch}#{verdict.msg_id}", "MSG")
    # the ref and the push's record in one read (both keys are known from the push)
    got = {(i["pk"], i["sk"]): i for i in deps.store.get_many([rk, mk] if verdict.msg_id else [rk], consistent=True)}
    if verdict.msg_id and (got.get(mk) or {}).get("applied"):
        return "duplicate"
    ref = got.get(rk) if (got.get(rk) or {}).get("merchant_id") else None   # (an early verdict's stub is no ref)
    early = {"verdict": verdict.verdict, "reason": verdict.reason, "reason_class": verdict.reason_class,
             "msg_id": verdict.msg_id, "source": source, "received_at": iso(now)}

    def apply(ref) -> str:
        return _apply(deps, ref["merchant_id"], ref["spu_code"], ch, ppid, verdict.verdict, verdict.reason,
                      verdict.reason_class, source=source, msg_id=verdict.msg_id)

    out = apply(ref) if ref else "unknown_listing"
    if out == "unknown_listing":
        # the verdict overtook the answer to our own send: it waits on the platform-id item for
        # publish to write the ref (whose update returns it), unless publish wrote it meanwhile
        if _keep_early(deps, platform_ref_key(ch, ppid), EARLY_ON_REF, early, "attribute_not_exists(merchant_id)",
                       {}, expires=True):
            out = "pending"
        else:
            ref = deps.store.get(*platform_ref_key(ch, ppid))
            out = apply(ref) if ref else "unknown_listing"
    if out == "not_yet_in_audit" and ref:
        # the listing is sent, its answer not recorded: the verdict waits on it for the move into
        # audit (which returns it), unless that move landed meanwhile: then it applies now
        waits = {f":w{i}": s for i, s in enumerate((L.SUBMITTED, *L.WAITS))}
        if _keep_early(deps, keys.listing(ref["merchant_id"], ref["spu_code"], ch), EARLY_ON_LISTING, early,
                       f"#st IN ({', '.join(waits)}) AND sent = :t", {**waits, ":t": True}, names={"#st": "state"},
                       stamp=EARLY_BATCH):
            out = "pending"
        else:
            out = apply(ref)
    if verdict.msg_id:
        deps.store.put({"pk": mk[0], "sk": mk[1], "channel": ch, "platform_product_id": ppid,
                        "verdict": verdict.verdict, "received_at": iso(now), "applied": True, "outcome": out,
                        "ttl": int(time.time()) + CALLBACK_TTL_S})
    return out


def _keep_early(deps: Deps, key: tuple[str, str], attr: str, early: dict[str, Any], condition: str,
                values: dict[str, Any], *, names: dict[str, str] | None = None, expires: bool = False,
                stamp: str | None = None) -> bool:
    """Keep an early verdict on ``key``'s item if ``condition`` still holds; False when it did not.
    ``expires``: the item exists only for it (a platform-id stub no send claims is gone in time;
    publish's ref write removes the expiry). ``stamp``: an attribute that gets the item's
    ``batch_id`` as it is at this write (the revision being sent)."""
    names, values = {"#e": attr, **(names or {})}, {":e": early, **values}
    expr = "SET #e = :e"
    if stamp:
        names["#eb"], names["#eb_from"] = stamp, "batch_id"
        expr += ", #eb = #eb_from"
    if expires:
        names["#ttl"], values[":ttl"] = "ttl", int(time.time()) + CALLBACK_TTL_S
        expr += ", #ttl = :ttl"
    try:
        deps.store.update(*key, expr, condition=condition, names=names, values=values)
        return True
    except ConditionFailed:
        return False


def _apply(deps: Deps, m: str, spu: str, ch: str, ppid: str, verdict: str, reason: str, reason_class: str, *,
           source: str, msg_id: str = "") -> str:
    """The verdict onto the listing in audit with that platform id: one conditional move, no read
    first (its returned item names the revision to settle). Refused, the listing is read to say
    why: sent and not yet in audit (``not_yet_in_audit``: the caller keeps the verdict for the
    answer), or not in audit with that id (``not_in_audit``)."""
    target = L.state_of_verdict(verdict)
    sets: dict[str, Any] = {"verdict_source": source, "verdict_at": iso(deps.clock.now())}
    if msg_id:
        sets["verdict_msg_id"] = msg_id
    remove = ["gsi2pk", "gsi2sk", "next_at", *EARLY_ON_LISTING_ATTRS]
    if target == L.LIVE:
        sets["live_at"] = iso(deps.clock.now())
    else:
        from shangjia.channels import classify_reason

        sets["reason"] = reason or verdict
        sets["reason_class"] = L.reason_class(reason_class or classify_reason(reason))
    key = keys.listing(m, spu, ch)
    msg = {"merchant_id": m, "spu_code": spu, "channel": ch}
    moved = _move(deps, key, msg, target, None, sets=sets, remove=remove, in_audit_as=ppid, return_new=True)
    if not moved:
        listing = deps.store.get(*key)
        if listing and listing.get("state") in (L.SUBMITTED, *L.WAITS) and listing.get("sent"):
            return "not_yet_in_audit"          # our send's answer is not recorded yet
        if not listing or listing.get("state") != L.IN_AUDIT or str(listing.get("platform_product_id")) != ppid:
            return "not_in_audit"
        # in audit with that id after all (an id stored as a number by an older version)
        moved = _move(deps, key, {**msg, "batch_id": listing["batch_id"]}, target, listing, sets=sets,
                      remove=remove, return_new=True)
        if not moved:
            return "not_in_audit"
    settle(deps, m, spu, moved["batch_id"])
    return target


def poll_audits(deps: Deps, publisher: Publisher | None = None, *, limit: int = 200) -> dict[str, int]:
    """The scheduled fallback: listings whose verdict has not arrived ``audit_poll_after_s`` after
    they went into audit are looked up; still in audit, they are asked again after as long.
    Products whose listings all settled but which are still ``publishing`` are settled."""
    pub = publisher or default_publisher(deps)
    from shangjia.channels import ChannelError

    now = deps.clock.now()
    counts = {"polled": 0, "live": 0, "rejected": 0, "still_in_audit": 0, "errors": 0, "settled": 0}
    for ch in CHANNELS:
        entries = deps.store.query(f"AUDIT#{ch}", index="gsi2", sk_lte=iso(now), limit=limit)
        for e in entries:
            listing = deps.store.get(e["pk"], e["sk"])
            if not listing or listing.get("state") != L.IN_AUDIT:
                continue
            counts["polled"] += 1
            try:
                shop = pub.shop(listing["merchant_id"], ch)
                found = pub.port(ch).lookup(shop, listing["spu_code"], listing.get("platform_product_id"))
                state = L.state_of_lookup(found)
            except (ChannelError, Transient, ValueError) as err:
                counts["errors"] += 1
                logger.warning("audit poll failed", extra={"channel": ch, "spu_code": listing.get("spu_code"),
                                                           "reason": str(err)[:300]})
                continue
            if state in (L.LIVE, L.REJECTED):
                out = _apply(deps, listing["merchant_id"], listing["spu_code"], ch,
                             str(listing.get("platform_product_id")),
                             "approved" if state == L.LIVE else "rejected", (found or {}).get("reason") or "",
                             "", source="poll")
                counts[state if out == state else "still_in_audit"] += 1
                continue
            counts["still_in_audit"] += 1
            try:
                deps.store.update(e["pk"], e["sk"], "SET gsi2sk = :n, polls = if_not_exists(polls, :z) + :one",
                                  condition="#st = :a", names={"#st": "state"},
                                  values={":n": iso(now + timedelta(seconds=max(60.0, audit_poll_after_s()))),
                                          ":z": 0, ":one": 1, ":a": L.IN_AUDIT})
            except ConditionFailed:
                pass
    # a safety net: a product still publishing whose listings all settled (a lost settle)
    stale_before = iso(now - timedelta(seconds=float(os.environ.get("SHANGJIA_SETTLE_AFTER_S", "900"))))
    for e in deps.store.query(f"STATUS#{PS.PUBLISHING.value}", index="gsi2", sk_lte=stale_before, limit=limit):
        if settle(deps, e["merchant_id"], e["spu_code"], e["batch_id"]):
            counts["settled"] += 1
    return counts


# --- delist: SKUs a re-upload dropped ----------------------------------------------------------------------

def delist_message(deps: Deps, msg: dict[str, Any], pub: Publisher) -> str:
    """SKUs a re-upload dropped come off the channel's listing (``sku_codes``). Not stale with its
    batch: a dropped SKU must come off whatever revision is current, except a code the product has
    claimed again since (a later upload brought it back). Idempotent at the channel; recorded on
    the listing (``delisted_skus``)."""
    from shangjia.channels import ChannelError

    merchant_id, spu, channel = msg["merchant_id"], msg["spu_code"], msg["channel"]
    codes = [c for c in msg.get("sku_codes") or []
             if (deps.store.get(*keys.sku_claim(merchant_id, c)) or {}).get("owner") != spu]
    if not codes:
        return "nothing_to_delist"
    listing = deps.store.get(*keys.listing(merchant_id, spu, channel)) or {}
    ppid = listing.get("platform_product_id") or listing.get("channel_item_id")
    if not ppid:
        return "nothing_to_delist"            # never reached the platform
    try:
        pub.port(channel).delist_skus(pub.shop(merchant_id, channel), str(ppid), codes)
    except ChannelError as e:
        if e.kind == "permanent" or e.kind == "token":
            deps.store.update(*keys.listing(merchant_id, spu, channel), "SET delist_error = :e",
                              values={":e": e.to_dict()})
            return "delist_failed"
        raise Transient(str(e)) from e
    deps.store.update(*keys.listing(merchant_id, spu, channel), "ADD delisted_skus :d SET delisted_at = :u",
                      values={":d": set(codes), ":u": iso(deps.clock.now())})
    return "delisted"
