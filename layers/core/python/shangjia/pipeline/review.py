"""Review: two stages (basic-information pre-review, detail-page final review), two workflows.

- ``review_auto`` (Express) serves VIP merchants: automated checks at both stages, no human
  waits, so no per-transition billing. A configurable sample, and anything the checks route to a
  person, is handed to ``review_manual``.
- ``review_manual`` (Standard) parks a task token per stage on the review_tasks queue;
  ``record_task`` runs that stage's automated checks (rendering the detail previews for the final
  stage) and either rejects at once or records a review task for a reviewer. Two state
  transitions on the common path: one per stage (the final approval ends it).
- ``claim``/``heartbeat``/``decide`` are the one decision path used by the API, the CLI and the
  demo's simulated reviewer. Approval resumes the workflow; rejection fails the waiting task with
  the error ``Rejected`` and the reason codes in its cause.
- Approval publishes now, or schedules the product into the 10:00-12:00 Asia/Shanghai window;
  ``release_due`` (the publish_scheduler function, every minute) hands reviewer-approved and due
  products on.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, time, timedelta, timezone
from html import escape
from typing import Any

from shangjia.clock import SHANGHAI, iso
from shangjia.errors import finding
from shangjia.pipeline import config, keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant, is_vip
from shangjia.pipeline.products import get_product, move_status, set_status
from shangjia.ports import ConditionFailed, ExecutionExists, TaskGone
from shangjia.status import ProductStatus as PS
from shangjia.topology import CHANNELS

STAGES = ("pre", "final")
REVIEWER_ROLES = frozenset({"reviewer", "ops"})
WINDOW = (time(10, 0), time(12, 0))       # Asia/Shanghai: new products convert 37% better
REJECTED = "Rejected"                     # the task failure error a rejection sends
CLAIM_LEASE = timedelta(minutes=30)       # a claim lapses without a heartbeat


class DecisionRefused(Exception):
    """A decision that cannot be applied: wrong role, task ended, someone else's claim."""


def sla_seconds() -> dict[str, int]:
    """How long each manual stage may wait before it escalates to ops (settings, in seconds)."""
    env = os.environ.get
    return {"pre_s": int(env("SHANGJIA_REVIEW_SLA_PRE_S", 4 * 3600)),
            "final_s": int(env("SHANGJIA_REVIEW_SLA_FINAL_S", 8 * 3600)),
            "escalated_s": int(env("SHANGJIA_REVIEW_SLA_ESCALATED_S", 24 * 3600))}


def sampled(name: str, rate: float) -> bool:
    """Deterministic sampling: the same execution is always in or out of the manual audit sample."""
    if rate <= 0:
        return False
    if rate >= 1:          # the top hash value (0xFFFFFFFF / 0xFFFFFFFF == 1.0) is sampled too
        return True
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < rate


def start_review(deps: Deps, merchant_id: str, spu: str, batch_id: str, *, manual: bool | None = None,
                 extra: dict[str, Any] | None = None) -> str | None:
    """Start the product's review exactly once per upload.

    The status move to in_review claims the start; ``review_started`` records that the execution
    exists, so a retry after a crash between the two starts it (Standard names are idempotent at
    AWS; an Express duplicate would only repeat idempotent steps). ``extra``: the stage's result
    (media's), written with the move in one write."""
    merchant = get_merchant(deps.store, merchant_id) or {}
    vip = is_vip(merchant)
    machine = "review_manual" if (manual or not vip) else "review_auto"
    name = keys.execution_name(merchant_id, spu, batch_id)
    item = move_status(deps, merchant_id, spu, PS.IN_REVIEW, batch_id=batch_id,
                       extra={**(extra or {}), "review_machine": machine, "review_started": False})
    if item is None:                  # moved before (a retry): has its execution been started?
        item = get_product(deps, merchant_id, spu) or {}
    if item.get("status") != PS.IN_REVIEW or item.get("batch_id") != batch_id or item.get("review_started"):
        return None
    if item.get("review_machine") != machine and manual is None:
        machine = item["review_machine"]
    payload = {"merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id, "vip": vip, "sla": sla_seconds()}
    try:
        deps.workflows.start(machine, name, payload)
    except ExecutionExists:
        pass
    deps.store.update(*keys.product(merchant_id, spu), "SET review_started = :t", condition="batch_id = :b",
                      values={":t": True, ":b": batch_id})
    return name


# --- automated checks (shared by both workflows) -----------------------------------------------

def _product(deps: Deps, event) -> dict[str, Any]:
    item = get_product(deps, event["merchant_id"], event["spu_code"])
    if not item:
        raise LookupError(f"product {event['spu_code']} of {event['merchant_id']} not found")
    return item


def auto_checks(deps: Deps, item: dict[str, Any], stage: str, *, record_stage: bool = True,
                store_previews: bool = True) -> list:
    """Pre-review: the basic information is complete and the category is a leaf. Final review: the
    detail page renders for mobile and PC with its title, price and a usable main image.
    ``record_stage`` False: the caller records ``review_stage`` itself, in a write it makes anyway.
    ``store_previews`` False: the previews are rendered and checked but not stored (nobody opens
    them: the workflow's own check; a reviewer's task runs the checks again and stores them)."""
    product = item.get("product") or {}
    findings = []
    if stage == "pre":
        for fld in ("title", "category", "brand"):
            if not product.get(fld):
                findings.append(finding("FIELD_REQUIRED", field=fld))
        if not product.get("skus"):
            findings.append(finding("FIELD_REQUIRED", field="sku_code"))
        for s in product.get("skus", []):
            if int(s.get("price_fen") or 0) <= 0:
                findings.append(finding("FIELD_REQUIRED", field="price", row=s.get("row")))
    else:
        media = item.get("media") or {}
        if not any(k.startswith("main") and v.get("ok") for k, v in media.items()):
            findings.append(finding("PIPE_IMAGE_MISSING", field="main_image", value="main"))
        pages = render_previews(deps, item, store=store_previews)
        # The page holds the title as HTML (escaped, as render_previews writes it): compare like with
        # like, or a title with & ' " < > ("Men's 纯棉T恤") is never "shown".
        shown_title = escape(product.get("title") or "")
        for layout, html in pages.items():
            if shown_title not in html or "<img" not in html:
                findings.append(finding("PIPE_PREVIEW_INCOMPLETE", layout=layout))
    if record_stage:
        _record_stage(deps, item, stage)
    return findings


def _record_stage(deps: Deps, item: dict[str, Any], stage: str) -> None:
    if (item.get("review_stage") or "pre") != stage:      # a review starts at "pre": a write saved
        deps.store.update(item["pk"], item["sk"], "SET review_stage = :s", values={":s": stage})


def render_previews(deps: Deps, item: dict[str, Any], *, store: bool = True) -> dict[str, str]:
    """The detail page as the buyer will see it, on mobile (375 px) and PC (1200 px), stored beside
    the renditions for the final reviewer (``store``). Images by their public URL
    (``channels.media_url``: the CDN on AWS, the emulator's bucket locally), as the storefront
    serves them: a page opened from a short-lived link shows its pictures."""
    p = item.get("product") or {}
    media = item.get("media") or {}
    from shangjia.channels import media_url     # where a buyer's browser fetches a rendition (the CDN)

    imgs = "".join(f'<img src="{escape(media_url(r["key"]))}" width="{r["width"]}" alt="">'
                   for _k, v in sorted(media.items()) for r in (v.get("renditions") or [])
                   if r.get("name") in ("main", "gallery", "detail"))
    skus = "".join(f"<li>{escape(' '.join(f'{a}:{b}' for a, b in s.get('spec', {}).items()))} "
                   f"¥{int(s.get('price_fen') or 0) / 100:.2f}</li>" for s in p.get("skus", []))
    pages = {}
    for layout, width in (("mobile", 375), ("pc", 1200)):
        html = (f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width={width}">'
                f'<title>{escape(p.get("title", ""))}</title><body style="max-width:{width}px;margin:auto">'
                f'<h1>{escape(p.get("title", ""))}</h1>{imgs}<ul>{skus}</ul>'
                f'<p>{escape(p.get("description", ""))}</p></body>')
        key = f"previews/{item['merchant_id']}/{item['spu_code']}/{item['batch_id']}/{layout}.html"
        if store:
            deps.blobs.put("media", key, html.encode(), content_type="text/html; charset=utf-8")
        pages[layout] = html
    return pages


# --- the workflows' Lambda steps -------------------------------------------------------------------

def run_step(deps: Deps, event: dict[str, Any]) -> dict[str, Any]:
    fn = _STEPS.get(event["action"])
    if fn is None:
        raise ValueError(f"unknown review step {event['action']!r}")
    return fn(deps, event)


def _checks(deps: Deps, event: dict[str, Any], stage: str) -> dict[str, Any]:
    # The stage is not written here: what follows writes the product anyway (a reviewer's task
    # records its stage, a rejection or an approval moves the product on), and the board reads
    # ``review_stage`` only from a product waiting for a reviewer. One write per product saved.
    item = _product(deps, event)
    # the previews are checked here, stored only for a reviewer (record_task renders them again):
    # two S3 PUTs per product nobody opens saved
    findings = auto_checks(deps, item, stage, record_stage=False, store_previews=False)
    if any(f.is_error for f in findings):
        outcome = "reject"
    elif not event.get("vip"):
        outcome = "manual"
    else:
        rate = audit_sample_rate(deps, get_merchant(deps.store, event["merchant_id"]) or {})
        outcome = "manual" if stage == "pre" and sampled(keys.review_execution_of(item), rate) else "pass"
    return {"outcome": outcome, "findings": [f.to_dict() for f in findings]}


def audit_sample_rate(deps: Deps, merchant: dict[str, Any]) -> float:
    """The share of a VIP merchant's products also sent to reviewers: the merchant's own
    ``vip_sample_rate`` if set, else the ``audit_sample_rate`` setting ops set without a deploy
    (``shangjia settings set audit_sample_rate 0.05``; default 5 %)."""
    own = merchant.get("vip_sample_rate")
    if own is not None:
        try:
            return config.SETTINGS["audit_sample_rate"].parse(own)
        except (TypeError, ValueError):
            pass                          # a bad profile value: the deployment's setting applies
    return deps.config.setting(deps.store, "audit_sample_rate")


def _handoff(deps: Deps, event) -> dict[str, Any]:
    """A VIP product picked for manual audit: the same two stages, by reviewers."""
    name = keys.execution_name(event["merchant_id"], event["spu_code"], event["batch_id"])
    deps.store.update(*keys.product(event["merchant_id"], event["spu_code"]),
                      "SET review_machine = :m, audit_sample = :t", values={":m": "review_manual", ":t": True})
    payload = {k: event[k] for k in ("merchant_id", "spu_code", "batch_id", "vip")} | {"sla": sla_seconds()}
    try:
        deps.workflows.start("review_manual", name, payload)
    except ExecutionExists:
        pass
    return {"handed_off": name}


def next_window_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    start = datetime.combine(local.date(), WINDOW[0], SHANGHAI)
    end = datetime.combine(local.date(), WINDOW[1], SHANGHAI)
    if local < start:
        return start.astimezone(timezone.utc)
    if local < end:
        return now.astimezone(timezone.utc)
    return (start + timedelta(days=1)).astimezone(timezone.utc)


def _approve(deps: Deps, event) -> dict[str, Any]:
    """The Express workflow's last step: both automatic stages passed. The product goes through
    ``approved`` to publishing (or ``scheduled``) in one write (``publish_or_schedule(approve=)``)."""
    return publish_or_schedule(deps, event["merchant_id"], event["spu_code"], event["batch_id"], approve=True)


def publish_or_schedule(deps: Deps, m: str, spu: str, b: str, *, approve: bool = False) -> dict[str, Any]:
    """An approved product publishes now, or waits as ``scheduled`` for 10:00-12:00 Asia/Shanghai
    (key products; priority categories by merchant setting). Idempotent: only an ``approved``
    product of this batch moves. ``approve``: the automatic review passed it, so a product still
    ``in_review`` is approved in the same write that moves it on (its history shows both)."""
    item = get_product(deps, m, spu) or {}
    via: tuple[PS, ...] = ()
    source = PS.APPROVED
    if approve and item.get("status") == PS.IN_REVIEW and item.get("batch_id") == b:
        via, source = (PS.APPROVED,), PS.IN_REVIEW
    elif item.get("status") != PS.APPROVED or item.get("batch_id") != b:
        return {"skipped": item.get("status")}
    merchant = get_merchant(deps.store, m) or {}
    product = item.get("product") or {}
    windowed = bool(product.get("key_product")) or (
        bool(merchant.get("priority_window_for_categories")) and bool(product.get("priority")))
    now = deps.clock.now()
    publish_at = next_window_start(now) if windowed else now
    if publish_at > now:
        if move_status(deps, m, spu, PS.SCHEDULED, batch_id=b, extra={"publish_at": iso(publish_at)},
                       status_sort=iso(publish_at), via=via, from_status=source) is None:
            return {"skipped": "already handed on"}
        return {"publish_at": iso(publish_at), "scheduled": True}
    try:
        fan_out(deps, m, spu, b, from_status=source, merchant=merchant, via=via)
    except ConditionFailed:
        return {"skipped": "already handed on"}
    return {"publish_at": iso(publish_at), "scheduled": False}


def fan_out(deps: Deps, m: str, spu: str, b: str, *, from_status: PS,
            merchant: dict[str, Any] | None = None, via: tuple[PS, ...] = ()) -> list[str]:
    """Hand a product to its channels' queues: sends first (a retry may send twice, publishing is
    idempotent; a message that overtakes the move comes back a second later), then one write moves
    it from ``from_status`` (through ``via``) to publishing with the channels it asked for. Raises
    ConditionFailed when the product was no longer there (another run handed it on; what this
    one sent is a duplicate its consumers drop). ``merchant``: its profile, when the caller has
    just read it."""
    merchant = merchant if merchant is not None else get_merchant(deps.store, m) or {}
    channels = [c for c in merchant.get("channels", CHANNELS) if c in CHANNELS]
    for c in channels:
        deps.queues.send_batch(f"publish_{c}", [{"merchant_id": m, "spu_code": spu, "batch_id": b, "channel": c}])
    if move_status(deps, m, spu, PS.PUBLISHING, batch_id=b, extra={"channels_requested": channels},
                   via=via, from_status=from_status) is None:
        raise ConditionFailed(f"{spu} was no longer {from_status.value}")
    return channels


def release_due(deps: Deps, *, limit: int = 500) -> int:
    """The every-minute job: products a reviewer approved go on (published now, or scheduled), and
    scheduled products whose window has opened go to their channels."""
    released = 0
    at = deps.clock.now()
    now = iso(at)
    for item in deps.store.query(f"STATUS#{PS.APPROVED.value}", index="gsi2", sk_lte=now, limit=limit):
        if item.get("status") == PS.APPROVED:
            out = publish_or_schedule(deps, item["merchant_id"], item["spu_code"], item["batch_id"])
            released += int(out.get("scheduled") is False)
    opens = next_window_start(at)
    for item in deps.store.query(f"STATUS#{PS.SCHEDULED.value}", index="gsi2", sk_lte=now, limit=limit):
        if item.get("status") != PS.SCHEDULED:
            continue
        if opens > at:
            # Due, but the window has closed (a late run, an outage): it waits for the next one.
            _reschedule(deps, item, opens, due=item.get("gsi2sk"))
            continue
        try:
            fan_out(deps, item["merchant_id"], item["spu_code"], item["batch_id"], from_status=PS.SCHEDULED)
            released += 1
        except ConditionFailed:
            continue        # another run released it first
    return released


def _reschedule(deps: Deps, item: dict[str, Any], publish_at: datetime, *, due: str | None) -> bool:
    """Move a scheduled product that missed its window to the next one (still ``scheduled``).
    Conditional on the status and the due time read, so a concurrent release or move wins."""
    when = iso(publish_at)
    names = {"#s": "status"}
    values: dict[str, Any] = {":p": when, ":s": PS.SCHEDULED.value, ":b": item["batch_id"]}
    condition = "#s = :s AND batch_id = :b"
    if due:
        condition += " AND gsi2sk = :d"
        values[":d"] = due
    try:
        deps.store.update(*keys.product(item["merchant_id"], item["spu_code"]),
                          "SET publish_at = :p, gsi2sk = :p", condition=condition, names=names, values=values)
        return True
    except ConditionFailed:
        return False


def _reject(deps: Deps, event) -> dict[str, Any]:
    stage = event.get("stage", "pre")
    state = event.get("state") or {}
    decision: dict[str, Any] = {}
    if state.get("rejection"):                 # a reviewer's (or the recorded checks') task failure
        try:
            decision = json.loads(state["rejection"].get("Cause") or "{}")
        except ValueError:
            decision = {"note": state["rejection"].get("Cause")}
    checks = state.get(stage) or {}
    reasons = decision.get("reasons") or [f.get("code") for f in checks.get("findings", [])]
    reason = "; ".join(r for r in reasons if r) or decision.get("note") or "rejected"
    f = finding("PIPE_REVIEW_REJECTED", stage=stage, reason=reason)
    item = _product(deps, event)
    findings = list(item.get("findings") or []) + [f.to_dict()]
    set_status(deps, event["merchant_id"], event["spu_code"], PS.REJECTED, batch_id=event["batch_id"],
               extra={"findings": findings, "rejection": {"stage": stage, "reasons": reasons,
                                                          "note": decision.get("note"),
                                                          "reviewer": decision.get("reviewer")}})
    set_status(deps, event["merchant_id"], event["spu_code"], PS.NEEDS_FIX, batch_id=event["batch_id"])
    return {"rejected": True, "stage": stage}


def _fail(deps: Deps, event) -> dict[str, Any]:
    err = event.get("error") or {}
    set_status(deps, event["merchant_id"], event["spu_code"], PS.FAILED, batch_id=event["batch_id"],
               extra={"failure": {"error": str(err.get("Error", ""))[:200], "cause": str(err.get("Cause", ""))[:2000]}})
    return {"failed": True}


_STEPS = {
    "pre_check": lambda d, e: _checks(d, e, "pre"),
    "final_check": lambda d, e: _checks(d, e, "final"),
    "approve": _approve,
    "reject": _reject,
    "handoff": _handoff,
    "fail": _fail,
}


# --- review tasks ---------------------------------------------------------------------------

def record_task(deps: Deps, msg: dict[str, Any]) -> str:
    """A manual stage parked its task token: run the stage's automated checks, then reject at once
    (errors) or record a review task for a reviewer (warnings shown with it). Idempotent on
    (execution, stage, escalation)."""
    stage = msg["stage"]
    escalated = bool(msg.get("escalated"))
    task_id = keys.task_id_for(msg["execution"], stage, escalated=escalated)
    pk, sk = keys.task(task_id)
    # No read first: the create-only put below says whether the task exists (a duplicate delivery,
    # rare, runs the checks for nothing; every first delivery saves a read).
    item = get_product(deps, msg["merchant_id"], msg["spu_code"]) or {}
    # (the product is not written: the board finds the stage's task by its id; an auto-rejection
    # records the stage on the product, as it leaves review)
    findings = auto_checks(deps, item, stage, record_stage=False) if item else \
        [finding("PIPE_PRODUCT_GONE", value=msg["spu_code"])]
    now = deps.clock.now()
    errors = [f for f in findings if f.is_error]
    state = "auto_rejected" if errors else "open"
    task = {
        "pk": pk, "sk": sk, "task_id": task_id, "stage": stage, "escalated": escalated,
        "merchant_id": msg["merchant_id"], "spu_code": msg["spu_code"], "batch_id": msg["batch_id"],
        "execution": msg["execution"], "token": msg["task_token"], "state": state,
        "findings": [f.to_dict() for f in findings], "created_at": iso(now),
        "sla_deadline": iso(now + timedelta(seconds=sla_seconds()["escalated_s" if escalated else f"{stage}_s"])),
        "queue": "ops" if escalated else "reviewer",
        "gsi1pk": f"TASKS#{stage}#{state}", "gsi1sk": iso(now),
    }
    if errors:
        task["decision"] = {"decision": "reject", "reasons": sorted({f.code for f in errors}),
                            "note": "; ".join(f.message_zh for f in errors), "reviewer": "auto-checks"}
    try:
        deps.store.put(task, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        existing = deps.store.get(pk, sk) or {}
        if existing.get("state") == "auto_rejected":
            _release(deps, existing, existing["decision"])      # make sure the workflow heard it
        return "duplicate"
    from shangjia import metrics

    if errors:
        metrics.reviewed(stage, "auto_reject")
        if item:
            _record_stage(deps, item, stage)
        _release(deps, task, task["decision"])
        return "auto_rejected"
    if escalated:
        metrics.review_sla_breach(stage)
        # The reviewer's task ran out of time: it lapses, so a late decision on it is refused.
        lapsed = keys.task_id_for(msg["execution"], stage)
        try:
            deps.store.update(*keys.task(lapsed), "SET #s = :l, gsi1pk = :g, lapsed_at = :n",
                              condition="#s IN (:o, :c)", names={"#s": "state"},
                              values={":l": "lapsed", ":g": f"TASKS#{stage}#lapsed", ":n": iso(now),
                                      ":o": "open", ":c": "claimed"})
        except ConditionFailed:
            pass
    # (nothing written on the product: the board finds its task by the ids above, api/board.py)
    return "recorded"


def list_tasks(deps: Deps, stage: str, state: str = "open") -> list[dict[str, Any]]:
    from shangjia.pipeline.views import listed

    # an entry can lag its item (the index is eventually consistent): keep what is still in that state
    return [t for t in listed(deps, f"TASKS#{stage}#{state}") if t.get("gsi1pk") == f"TASKS#{stage}#{state}"]


def tasks_of(deps: Deps, assignee: str) -> list[dict[str, Any]]:
    from shangjia.pipeline.views import listed

    return [t for t in listed(deps, f"ASSIGNEE#{assignee}", index="gsi2")
            if t.get("gsi2pk") == f"ASSIGNEE#{assignee}"]


def _check_actor(actor: dict[str, Any], task: dict[str, Any]) -> None:
    role = actor.get("role")
    if role not in REVIEWER_ROLES:
        raise DecisionRefused(f"role {role!r} may not decide review tasks")
    if task.get("escalated") and role != "ops":
        raise DecisionRefused("escalated tasks are decided by ops")


def _task_for(deps: Deps, task_id: str, actor: dict[str, Any],
              task: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """The task's keys and record, once the actor is allowed to act on it. ``task``: the record as
    the caller just read it (the API reads it to answer 404): not read again. Every write below is
    conditional on the state it reads, so a record read a moment earlier decides nothing alone."""
    pk, sk = keys.task(task_id)
    task = task if task is not None and task.get("task_id") == task_id else deps.store.get(pk, sk)
    if not task:
        raise DecisionRefused(f"no task {task_id}")
    _check_actor(actor, task)
    return pk, sk, task


def claim(deps: Deps, task_id: str, actor: dict[str, Any], *, task: dict[str, Any] | None = None) -> dict[str, Any]:
    """Take a task; a claim lapses after ``CLAIM_LEASE`` without a heartbeat, and then anyone may take it."""
    pk, sk, task = _task_for(deps, task_id, actor, task)
    now = deps.clock.now()
    try:
        return deps.store.update(
            pk, sk, "SET #s = :c, assignee = :a, claimed_at = :n, lease_until = :l, gsi1pk = :g, "
                    "gsi2pk = :ga, gsi2sk = :n",
            condition="#s = :o OR (#s = :c AND (assignee = :a OR lease_until < :n))", names={"#s": "state"},
            values={":c": "claimed", ":o": "open", ":a": actor["id"], ":n": iso(now),
                    ":l": iso(now + CLAIM_LEASE), ":g": f"TASKS#{task['stage']}#claimed",
                    ":ga": f"ASSIGNEE#{actor['id']}"}, return_new=True)
    except ConditionFailed:
        raise DecisionRefused(f"task {task_id} is {task['state']}"
                              + (f" by {task.get('assignee')}" if task.get("assignee") else "")) from None


def heartbeat(deps: Deps, task_id: str, actor: dict[str, Any], *,
              task: dict[str, Any] | None = None) -> dict[str, Any]:
    """The reviewer is still on it: extend the claim."""
    pk, sk, _task = _task_for(deps, task_id, actor, task)
    now = deps.clock.now()
    try:
        return deps.store.update(pk, sk, "SET lease_until = :l", condition="#s = :c AND assignee = :a",
                                 names={"#s": "state"},
                                 values={":l": iso(now + CLAIM_LEASE), ":c": "claimed", ":a": actor["id"]},
                                 return_new=True)
    except ConditionFailed:
        raise DecisionRefused(f"task {task_id} is not claimed by {actor['id']}") from None


def decide(deps: Deps, task_id: str, actor: dict[str, Any], decision: str, *, reasons: list[str] | None = None,
           note: str = "", task: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply a reviewer's decision exactly once, then release the waiting workflow."""
    if decision not in ("approve", "reject"):
        raise DecisionRefused(f"decision must be approve or reject, not {decision!r}")
    if decision == "reject" and not (reasons or note):
        raise DecisionRefused("a rejection needs at least one reason code or a note")
    pk, sk, task = _task_for(deps, task_id, actor, task)
    now = iso(deps.clock.now())
    outcome = {"decision": decision, "reasons": list(reasons or []), "note": note, "reviewer": actor["id"]}
    try:
        deps.store.update(
            pk, sk, "SET #s = :d, decision = :o, decided_by = :a, decided_at = :n, gsi1pk = :g",
            condition="(#s = :open) OR (#s = :claimed AND assignee = :a)", names={"#s": "state"},
            values={":d": "decided", ":o": outcome, ":a": actor["id"], ":n": now, ":open": "open",
                    ":claimed": "claimed", ":g": f"TASKS#{task['stage']}#decided"})
    except ConditionFailed:
        current = deps.store.get(pk, sk) or {}
        prior = current.get("decision") or {}
        if current.get("state") == "decided" and prior.get("decision") == decision and \
                current.get("decided_by") == actor["id"]:
            if decision == "approve" and current["stage"] == "final":      # it may have died in between
                set_status(deps, current["merchant_id"], current["spu_code"], PS.APPROVED,
                           batch_id=current["batch_id"])
            _release(deps, current, prior)       # a retry of the same decision: make sure it was delivered
            return {"task_id": task_id, "applied": False, "decision": prior}
        who = prior.get("reviewer") or current.get("assignee")
        raise DecisionRefused(f"task {task_id} already {current.get('state')}"
                              + (f" ({prior.get('decision')})" if prior else "")
                              + (f" by {who}" if who else "")) from None
    from shangjia import metrics

    metrics.reviewed(task["stage"], decision)
    if decision == "approve" and task["stage"] == "final":
        # Both stages passed: the product is approved here, before the workflow is released (its
        # final task ends it); the publish scheduler publishes it or waits for its window.
        set_status(deps, task["merchant_id"], task["spu_code"], PS.APPROVED, batch_id=task["batch_id"])
    deps.store.put({"pk": pk, "sk": f"AUDIT#{now}#{actor['id']}", "task_id": task_id, "actor": actor["id"],
                    "role": actor.get("role"), "decision": decision, "reasons": list(reasons or []), "note": note,
                    "at": now, "merchant_id": task["merchant_id"], "spu_code": task["spu_code"],
                    "stage": task["stage"]})
    _release(deps, task, outcome)
    return {"task_id": task_id, "applied": True, "decision": outcome}


def _release(deps: Deps, task: dict[str, Any], outcome: dict[str, Any]) -> None:
    try:
        if outcome.get("decision") == "approve":
            deps.workflows.task_success(task["token"], outcome)
        else:
            deps.workflows.task_failure(task["token"], REJECTED, json.dumps(outcome, ensure_ascii=False))
    except TaskGone:
        deps.store.update(*keys.task(task["task_id"]), "SET expired = :t", values={":t": True})
