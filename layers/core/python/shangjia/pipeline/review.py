"""Review: starting executions, the state machine's task steps, review tasks and decisions.

The state machine (``infra/statemachines/review.asl.json``) calls ``run_step`` through the
review_step function; manual stages park a task token on the review_tasks queue, which
``record_task`` turns into a review task; ``claim`` and ``decide`` are the one decision path
used by the API, the CLI and the demo's simulated reviewer.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from typing import Any

from shangjia.clock import SHANGHAI, iso
from shangjia.errors import finding
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.merchants import get_merchant, is_vip
from shangjia.pipeline.products import set_status
from shangjia.ports import ConditionFailed, ExecutionExists, TaskGone
from shangjia.status import ProductStatus as PS
from shangjia.topology import CHANNELS

STAGES = ("pre", "final")
REVIEWER_ROLES = frozenset({"reviewer", "ops"})
WINDOW = (time(10, 0), time(12, 0))       # Asia/Shanghai: new products convert 37% better
VIP_SAMPLE_RATE_DEFAULT = 0.0             # share of VIP products still sent to manual audit
SLA_HOURS = {"pre": 4, "final": 8}


class DecisionRefused(Exception):
    """A decision that cannot be applied: wrong role, task ended, someone else's claim."""


def start_review(deps: Deps, merchant_id: str, spu: str, batch_id: str) -> str:
    """Start the product's review execution exactly once (a deterministic name makes a duplicate a no-op)."""
    product = deps.store.get(*keys.product(merchant_id, spu)) or {}
    merchant = get_merchant(deps.store, merchant_id) or {}
    name = keys.execution_name(merchant_id, spu, batch_id)
    payload = {"merchant_id": merchant_id, "spu_code": spu, "batch_id": batch_id,
               "vip": is_vip(merchant), "key_product": bool((product.get("product") or {}).get("key_product"))}
    try:
        arn = deps.workflows.start("review", name, payload)
    except ExecutionExists:
        arn = None
    set_status(deps, merchant_id, spu, PS.IN_REVIEW, batch_id=batch_id,
               extra={"review_execution": name, "review_stage": "pre"})
    return arn or name


# --- the state machine's steps ------------------------------------------------------------

def run_step(deps: Deps, event: dict[str, Any]) -> dict[str, Any]:
    action = event["action"]
    fn = _STEPS.get(action)
    if fn is None:
        raise ValueError(f"unknown review step {action!r}")
    return fn(deps, event)


def _product(deps: Deps, event) -> dict[str, Any]:
    item = deps.store.get(*keys.product(event["merchant_id"], event["spu_code"]))
    if not item:
        raise LookupError(f"product {event['spu_code']} of {event['merchant_id']} not found")
    return item


def _checks(deps: Deps, event: dict[str, Any], stage: str) -> dict[str, Any]:
    item = _product(deps, event)
    product = item.get("product") or {}
    findings = []
    if stage == "pre":
        for fld in ("title", "category", "brand"):
            if not product.get(fld):
                findings.append(finding("FIELD_REQUIRED", field=fld))
        if not product.get("skus"):
            findings.append(finding("FIELD_REQUIRED", field="sku_code"))
    else:
        media = item.get("media") or {}
        if not any(k.startswith("main") and v.get("ok") for k, v in media.items()):
            findings.append(finding("PIPE_IMAGE_MISSING", field="main_image", value="main"))
        _store_preview(deps, item)
    if any(f.is_error for f in findings):
        outcome = "reject"
    elif not event.get("vip"):
        outcome = "manual"
    else:
        rate = float((get_merchant(deps.store, event["merchant_id"]) or {}).get("vip_sample_rate",
                                                                                 VIP_SAMPLE_RATE_DEFAULT))
        outcome = "manual" if rate and random.random() < rate else "pass"
    deps.store.update(item["pk"], item["sk"], "SET review_stage = :s", values={":s": stage})
    return {"outcome": outcome, "findings": [f.to_dict() for f in findings]}


def _store_preview(deps: Deps, item: dict[str, Any]) -> None:
    """The detail page as the buyer will see it (mobile and PC), kept beside the renditions."""
    from html import escape

    p = item.get("product") or {}
    media = item.get("media") or {}
    imgs = "".join(f'<img src="/{escape(r["key"])}" width="{r["width"]}">'
                   for k, v in sorted(media.items()) for r in (v.get("renditions") or [])
                   if r.get("name") in ("main", "gallery", "detail"))
    skus = "".join(f"<li>{escape(' '.join(f'{a}:{b}' for a, b in s.get('spec', {}).items()))} "
                   f"¥{s['price_fen'] / 100:.2f}</li>" for s in p.get("skus", []))
    for layout, width in (("mobile", 375), ("pc", 1200)):
        html = (f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width={width}">'
                f'<title>{escape(p.get("title", ""))}</title><body style="max-width:{width}px">'
                f'<h1>{escape(p.get("title", ""))}</h1>{imgs}<ul>{skus}</ul>'
                f'<p>{escape(p.get("description", ""))}</p></body>')
        key = f"previews/{item['merchant_id']}/{item['spu_code']}/{item['batch_id']}/{layout}.html"
        deps.blobs.put("media", key, html.encode(), content_type="text/html; charset=utf-8")


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
    item = _product(deps, event)
    merchant = get_merchant(deps.store, event["merchant_id"]) or {}
    product = item.get("product") or {}
    windowed = bool(product.get("key_product")) or (
        bool(merchant.get("priority_window_for_categories")) and bool(product.get("priority")))
    now = deps.clock.now()
    publish_at = next_window_start(now) if windowed else now
    set_status(deps, event["merchant_id"], event["spu_code"], PS.APPROVED, batch_id=event["batch_id"])
    set_status(deps, event["merchant_id"], event["spu_code"], PS.SCHEDULED, batch_id=event["batch_id"],
               extra={"publish_at": iso(publish_at)})
    # Step Functions waits on real time; the clock may be pinned, so wait the difference.
    wait_s = max(0, int((publish_at - now).total_seconds()))
    return {"publish_at": iso(publish_at), "wait_seconds": wait_s, "windowed": windowed}


def _reject(deps: Deps, event) -> dict[str, Any]:
    stage = event.get("stage", "pre")
    state = event.get("state") or {}
    decision = state.get("decision") or {}
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


def _publish(deps: Deps, event) -> dict[str, Any]:
    merchant = get_merchant(deps.store, event["merchant_id"]) or {}
    channels = [c for c in merchant.get("channels", CHANNELS) if c in CHANNELS]
    deps.store.update(*keys.product(event["merchant_id"], event["spu_code"]), "REMOVE channels_done")
    set_status(deps, event["merchant_id"], event["spu_code"], PS.PUBLISHING, batch_id=event["batch_id"],
               extra={"channels_requested": channels})
    for c in channels:
        deps.queues.send_batch(f"publish_{c}", [{"merchant_id": event["merchant_id"], "spu_code": event["spu_code"],
                                                 "batch_id": event["batch_id"], "channel": c}])
    return {"channels": channels}


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
    "publish": _publish,
    "fail": _fail,
}


# --- review tasks ---------------------------------------------------------------------------

def record_task(deps: Deps, msg: dict[str, Any]) -> str:
    """A manual stage parked its task token on the queue: make it a review task (once)."""
    stage = msg["stage"]
    escalated = bool(msg.get("escalated"))
    task_id = keys.task_id_for(msg["execution"], stage + ("#esc" if escalated else ""))
    pk, sk = keys.task(task_id)
    now = deps.clock.now()
    state = "open"
    item = {
        "pk": pk, "sk": sk, "task_id": task_id, "stage": stage, "escalated": escalated,
        "merchant_id": msg["merchant_id"], "spu_code": msg["spu_code"], "batch_id": msg["batch_id"],
        "execution": msg["execution"], "token": msg["task_token"], "state": state,
        "created_at": iso(now), "sla_deadline": iso(now + timedelta(hours=SLA_HOURS.get(stage, 8))),
        "queue": "ops" if escalated else "reviewer",
        "gsi1pk": f"TASKS#{stage}#{state}", "gsi1sk": iso(now),
    }
    try:
        deps.store.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return "duplicate"
    deps.store.update(*keys.product(msg["merchant_id"], msg["spu_code"]),
                      "SET review_task = :t, review_stage = :s", values={":t": task_id, ":s": stage})
    return "recorded"


def list_tasks(deps: Deps, stage: str, state: str = "open") -> list[dict[str, Any]]:
    return deps.store.query(f"TASKS#{stage}#{state}", index="gsi1")


def tasks_of(deps: Deps, assignee: str) -> list[dict[str, Any]]:
    return deps.store.query(f"ASSIGNEE#{assignee}", index="gsi2")


def _check_actor(actor: dict[str, Any], task: dict[str, Any]) -> None:
    role = actor.get("role")
    if role not in REVIEWER_ROLES:
        raise DecisionRefused(f"role {role!r} may not decide review tasks")
    if task.get("escalated") and role != "ops":
        raise DecisionRefused("escalated tasks are decided by ops")


def _task_for(deps: Deps, task_id: str, actor: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The task's keys and record, once the actor is allowed to act on it."""
    pk, sk = keys.task(task_id)
    task = deps.store.get(pk, sk)
    if not task:
        raise DecisionRefused(f"no task {task_id}")
    _check_actor(actor, task)
    return pk, sk, task


def claim(deps: Deps, task_id: str, actor: dict[str, Any]) -> dict[str, Any]:
    pk, sk, task = _task_for(deps, task_id, actor)
    now = iso(deps.clock.now())
    try:
        return deps.store.update(
            pk, sk, "SET #s = :c, assignee = :a, claimed_at = :n, gsi1pk = :g, gsi2pk = :ga, gsi2sk = :n",
            condition="#s = :o OR (#s = :c AND assignee = :a)", names={"#s": "state"},
            values={":c": "claimed", ":o": "open", ":a": actor["id"], ":n": now,
                    ":g": f"TASKS#{task['stage']}#claimed", ":ga": f"ASSIGNEE#{actor['id']}"}, return_new=True)
    except ConditionFailed:
        raise DecisionRefused(f"task {task_id} is {task['state']}"
                              + (f" by {task.get('assignee')}" if task.get("assignee") else "")) from None


def decide(deps: Deps, task_id: str, actor: dict[str, Any], decision: str, *, reasons: list[str] | None = None,
           note: str = "") -> dict[str, Any]:
    """Apply a reviewer's decision exactly once, then release the waiting execution."""
    if decision not in ("approve", "reject"):
        raise DecisionRefused(f"decision must be approve or reject, not {decision!r}")
    if decision == "reject" and not (reasons or note):
        raise DecisionRefused("a rejection needs at least one reason code or a note")
    pk, sk, task = _task_for(deps, task_id, actor)
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
            _release(deps, current, prior)       # a retry of the same decision: make sure it was delivered
            return {"task_id": task_id, "applied": False, "decision": prior}
        raise DecisionRefused(f"task {task_id} already {current.get('state')}"
                              + (f" ({prior.get('decision')} by {current.get('decided_by')})" if prior else "")
                              + ("" if current.get("state") != "claimed" else f" by {current.get('assignee')}")) from None
    deps.store.put({"pk": pk, "sk": f"AUDIT#{now}#{actor['id']}", "task_id": task_id, "actor": actor["id"],
                    "role": actor.get("role"), "decision": decision, "reasons": list(reasons or []), "note": note,
                    "at": now, "merchant_id": task["merchant_id"], "spu_code": task["spu_code"],
                    "stage": task["stage"]})
    _release(deps, task, outcome)
    return {"task_id": task_id, "applied": True, "decision": outcome}


def _release(deps: Deps, task: dict[str, Any], outcome: dict[str, Any]) -> None:
    try:
        deps.workflows.task_success(task["token"], outcome)
    except TaskGone:
        deps.store.update(*keys.task(task["task_id"]), "SET expired = :t", values={":t": True})
