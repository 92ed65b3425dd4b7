"""The listing state machine: one listing per (product, channel), pure rules (no I/O).

A listing carries one revision of the product (its ``batch_id``) to one channel:

    (none) ─► submitted ─► in_audit ─► live
                  │            └─────► rejected   (reason classified: image, title, category,
                  │                                 qualification, price, other)
                  ├──► live                         (own shop: live on submit)
                  └──► failed                       (a permanent error: the channel's code and message)

and, before a send, the waits that keep a listing from ever sitting without a reason and a next
step: ``waiting_quota`` (the (channel, shop) token bucket or the platform's quota: a slot time),
``retrying`` (a transient error: the next attempt's time, exponential backoff with jitter),
``waiting_channel`` (the channel's circuit breaker is open: when it is probed again).

``submitted`` is written *before* the platform is called: a listing found ``submitted`` by a later
delivery is an attempt whose answer never arrived (a time-out after send), resolved by looking the
listing up by our product code before anything is sent again.

Within a revision ``live``, ``rejected`` and ``failed`` are settled. A new revision (a re-upload
of the product: another batch) starts again from any state, and keeps the platform's product id:
the existing listing is updated, never a second one created.
"""

from __future__ import annotations

from typing import Any, Iterable

SUBMITTED = "submitted"
IN_AUDIT = "in_audit"
LIVE = "live"
REJECTED = "rejected"
FAILED = "failed"
WAITING_QUOTA = "waiting_quota"
RETRYING = "retrying"
WAITING_CHANNEL = "waiting_channel"
QUEUED = "queued"               # shown only: requested, its message not handled yet (no listing)

STATES = (SUBMITTED, IN_AUDIT, LIVE, REJECTED, FAILED, WAITING_QUOTA, RETRYING, WAITING_CHANNEL)
SETTLED = frozenset({LIVE, REJECTED, FAILED})
WAITS = frozenset({WAITING_QUOTA, RETRYING, WAITING_CHANNEL})
# what a revision may begin with (and what a new revision may restart from any state)
STARTS = frozenset({SUBMITTED, *WAITS, FAILED})

REASON_CLASSES = ("image", "title", "category", "qualification", "price", "other")

# Within one revision: current -> allowed next states. ``None``: no listing yet.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: STARTS,
    WAITING_QUOTA: STARTS,
    RETRYING: STARTS,
    WAITING_CHANNEL: STARTS,
    # the answer to a send (or the lookup that resolves an uncertain one), or another wait
    SUBMITTED: frozenset({SUBMITTED, IN_AUDIT, LIVE, REJECTED, FAILED, *WAITS}),
    # the audit verdict (callback or the poller's lookup)
    IN_AUDIT: frozenset({LIVE, REJECTED}),
    LIVE: frozenset(),
    REJECTED: frozenset(),
    FAILED: frozenset(),
}

# The next step shown for each state (with ``next_at`` where there is an expected time).
NEXT_STEP = {
    SUBMITTED: {"zh": "等待渠道应答；超时则按商品编码查询后再发送", "en": "waiting for the channel's answer; "
                "on a time-out the listing is looked up by product code before sending again"},
    IN_AUDIT: {"zh": "等待平台审核结果（回调，超时则轮询）", "en": "waiting for the platform's audit verdict "
               "(callback; polled if it does not arrive)"},
    LIVE: {"zh": "已上架", "en": "live"},
    REJECTED: {"zh": "按驳回原因修改后重新上传", "en": "fix what the platform named and upload again"},
    FAILED: {"zh": "按错误信息修改后重新上传", "en": "fix what the error names and upload again"},
    WAITING_QUOTA: {"zh": "等待店铺发布配额，预计时间见 next_at", "en": "waiting for the shop's publishing "
                    "quota; expected at next_at"},
    RETRYING: {"zh": "渠道暂时不可用，将于 next_at 自动重试", "en": "the channel failed transiently; "
               "retried automatically at next_at"},
    WAITING_CHANNEL: {"zh": "渠道故障（熔断中），将于 next_at 再试", "en": "the channel is down (circuit open); "
                      "tried again at next_at"},
    QUEUED: {"zh": "排队等待发布", "en": "queued for publishing"},
}


def can_move(current: str | None, target: str, *, new_revision: bool = False) -> bool:
    """``current -> target`` for a listing. A new revision (another batch) may start over from
    any state; within a revision the table applies."""
    if target not in STATES:
        raise ValueError(f"unknown listing state {target!r}")
    if current is not None and current not in STATES:
        raise ValueError(f"unknown listing state {current!r}")
    if new_revision:
        return target in STARTS
    return target in TRANSITIONS[current]


def sources_of(target: str, *, new_revision: bool = False) -> frozenset[str | None]:
    """Every state a listing may move to ``target`` from (to build store conditions)."""
    return frozenset(s for s in (None, *STATES) if can_move(s, target, new_revision=new_revision))


def state_after_submit(submitted_state: str) -> str:
    """A platform's answer to a send (``Submitted.state``) as the listing's state."""
    if submitted_state not in (IN_AUDIT, LIVE):
        raise ValueError(f"a submission is in_audit or live, not {submitted_state!r}")
    return submitted_state


def state_of_verdict(verdict: str) -> str:
    """An audit verdict (``AuditVerdict.verdict``) as the listing's state. A withdrawal (the
    platform took the submission back) is a rejection: the merchant must act."""
    if verdict == "approved":
        return LIVE
    if verdict in ("rejected", "withdrawn"):
        return REJECTED
    raise ValueError(f"unknown verdict {verdict!r}")


def state_of_lookup(found: dict[str, Any] | None) -> str | None:
    """A lookup's answer (``ChannelPort.lookup``) as a state; None: the platform has no listing."""
    if not found:
        return None
    state = found.get("state")
    if state not in (IN_AUDIT, LIVE, REJECTED):
        raise ValueError(f"a looked-up listing is in_audit, live or rejected, not {state!r}")
    return state


def reason_class(value: str | None) -> str:
    return value if value in REASON_CLASSES else "other"


# Which product field a rejection's class points the merchant at (the finding's location).
REASON_FIELD = {"image": "images", "title": "title", "category": "category", "qualification": "qualification",
                "price": "price", "other": "spu_code"}


def backoff_s(attempt: int, *, base_s: float, cap_s: float, rand: float) -> int:
    """Exponential backoff with full jitter: attempt 1 waits up to ``base``, then 2x, 4x ... at
    most ``cap`` (SQS's DelaySeconds stops at 900). ``rand`` in [0, 1) (injected: pure). At least 1."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return max(1, int(round(ceiling / 2 + rand * ceiling / 2)))


def channel_view(listing: dict[str, Any] | None, batch_id: str) -> dict[str, Any]:
    """What a merchant sees of one channel for this revision: its state, why, and what happens next."""
    if not listing or listing.get("batch_id") != batch_id or listing.get("state") not in STATES:
        return {"state": QUEUED, "next_step": NEXT_STEP[QUEUED]}
    state = listing["state"]
    out: dict[str, Any] = {"state": state, "next_step": NEXT_STEP[state]}
    for k in ("reason", "next_at", "platform_product_id", "reason_class", "platform_code"):
        if listing.get(k) not in (None, ""):
            out[k] = listing[k]
    return out


def outcome(requested: Iterable[str], listings: dict[str, dict[str, Any] | None], batch_id: str) -> str | None:
    """The product's outcome from its listings of this revision: ``"published"`` when every
    requested channel is live, ``"needs_fix"`` when every one is settled and any is rejected or
    failed, None while any is still on its way (the product stays ``publishing``)."""
    states = [channel_view(listings.get(c), batch_id)["state"] for c in requested]
    if not states:
        return None
    if any(s not in SETTLED for s in states):
        return None
    return "published" if all(s == LIVE for s in states) else "needs_fix"


def waiting(requested: Iterable[str], listings: dict[str, dict[str, Any] | None], batch_id: str
            ) -> dict[str, dict[str, Any]]:
    """The channels of a partially published product that are not live yet, each with its state,
    reason and next step."""
    out = {}
    for c in requested:
        view = channel_view(listings.get(c), batch_id)
        if view["state"] != LIVE:
            out[c] = view
    return out
