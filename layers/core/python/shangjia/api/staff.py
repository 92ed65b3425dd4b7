"""What staff use: the board, the review queue (preview, claim, heartbeat, decision), the weekly
failure report, and ops' tools (DLQ depth and redrive, settings, editor assignments)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from shangjia.api import models as M
from shangjia.api.context import BadRequest, NotFound, allowed, api
from shangjia.api.merchant import LINK_TTL_S, located, product_detail
from shangjia.auth import policy
from shangjia.clock import iso
from shangjia.pipeline import keys, review
from shangjia.pipeline.products import get_product

WEEK = r"^\d{4}-W\d{2}$"
WEEKLY_PREFIX = "weekly/"
MAX_PREVIEW_IMAGES = 20


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "token" and not k.startswith(("pk", "sk", "gsi"))}


# --- the board ---------------------------------------------------------------------------------------

def board(merchant_id: Annotated[str | None, Query()] = None, category: Annotated[str | None, Query()] = None,
          channel: Annotated[str | None, Query()] = None, owner: Annotated[str | None, Query()] = None) -> M.Board:
    p = allowed("board")
    from shangjia.api.board import build_board

    a = api()
    scope = policy.visible_merchants(a.store, p) if p.role == "editor" else None
    cols = build_board(a.deps, merchants=scope, now=a.deps.clock.now(), merchant=merchant_id, category=category,
                       channel=channel, owner=owner)
    return M.Board(columns=cols)


# --- review ------------------------------------------------------------------------------------------

def list_tasks(stage: Annotated[str, Query(pattern="^(pre|final)$")] = "pre",
               state: Annotated[str, Query(pattern="^(open|claimed|decided|lapsed|auto_rejected)$")] = "open",
               assignee: Annotated[str | None, Query(pattern="^me$")] = None) -> M.TaskList:
    p = allowed("review")
    a = api()
    if assignee == "me":                        # the tasks I have claimed
        tasks = review.tasks_of(a.deps, p.id)
    else:
        tasks = review.list_tasks(a.deps, stage, state)
    return M.TaskList(tasks=[_clean(t) for t in tasks])


def _task(task_id: str) -> dict[str, Any]:
    t = api().store.get(*keys.task(task_id))
    if not t:
        raise NotFound(task_id)
    return t


def preview(task_id: str) -> M.Preview:
    """The detail page as a buyer will see it (mobile and PC renderings, written by the review's
    final-stage checks) and the product's images, through short-lived links."""
    allowed("review")
    t = _task(task_id)
    a = api()
    item = get_product(a.deps, t["merchant_id"], t["spu_code"])
    if not item:
        raise NotFound(task_id)
    urls: dict[str, str | None] = {}
    for layout in ("mobile", "pc"):
        key = f"previews/{t['merchant_id']}/{t['spu_code']}/{t['batch_id']}/{layout}.html"
        urls[layout] = a.links.presign_get("media", key, expires_s=LINK_TTL_S) if a.links.exists("media", key) else None
    images = [a.links.presign_get("media", r["key"], expires_s=LINK_TTL_S)
              for _k, v in sorted((item.get("media") or {}).items()) for r in (v.get("renditions") or [])
              if r.get("name") in ("main", "gallery", "detail") and r.get("key")][:MAX_PREVIEW_IMAGES]
    return M.Preview(task_id=task_id, product=M.ProductDetail(**product_detail(a.store, item, cost=False)),
                     findings=[located(f) for f in t.get("findings") or []], images=images,
                     mobile_url=urls["mobile"], pc_url=urls["pc"], expires_in=LINK_TTL_S)


def claim(task_id: str) -> M.Claimed:
    p = allowed("review")
    t = review.claim(api().deps, task_id, p.as_actor(), task=_task(task_id))
    return M.Claimed(task_id=task_id, state=t["state"], assignee=t["assignee"])


def heartbeat(task_id: str) -> M.Heartbeat:
    p = allowed("review")
    t = review.heartbeat(api().deps, task_id, p.as_actor(), task=_task(task_id))
    return M.Heartbeat(task_id=task_id, lease_until=t["lease_until"])


def decide(task_id: str, body: M.DecisionRequest) -> M.Decided:
    p = allowed("review")
    out = review.decide(api().deps, task_id, p.as_actor(), body.decision, reasons=body.reasons,
                        note=(body.note or "")[:2000], task=_task(task_id))
    return M.Decided(**out)


# --- the weekly failure report ------------------------------------------------------------------

def _weeks() -> list[str]:
    keys_ = api().links.list_keys("reports", WEEKLY_PREFIX)
    weeks = {k[len(WEEKLY_PREFIX):-5] for k in keys_ if k.endswith(".json")}
    return sorted(weeks, reverse=True)


def failure_weeks() -> M.WeekList:
    allowed("failures")
    return M.WeekList(items=_weeks())


def failure_report(week: Annotated[str | None, Query(pattern=WEEK)] = None) -> dict[str, Any]:
    """The weekly failure report (docs/failures.md), the latest when no week is named, with a
    short-lived link to its workbook."""
    allowed("failures")
    a = api()
    if week is None:
        weeks = _weeks()
        if not weeks:
            raise NotFound("no report yet")
        week = weeks[0]
    try:
        doc = json.loads(a.deps.blobs.get("reports", f"{WEEKLY_PREFIX}{week}.json"))
    except FileNotFoundError:
        raise NotFound(week) from None
    xlsx = f"{WEEKLY_PREFIX}{week}.xlsx"
    doc["xlsx_url"] = a.links.presign_get("reports", xlsx, expires_s=LINK_TTL_S, filename=f"failures-{week}.xlsx") \
        if a.links.exists("reports", xlsx) else None
    doc.setdefault("week", week)
    return doc


# --- ops -------------------------------------------------------------------------------------------

def dlq_depths() -> M.DlqDepths:
    allowed("dlq")
    return M.DlqDepths(depths=api().dead_letters.depths())


def redrive(queue: str, max: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> M.Redriven:  # noqa: A002
    allowed("dlq")
    from shangjia.topology import TOPOLOGY

    if queue not in {q.key for q in TOPOLOGY.queues}:
        raise NotFound(queue)
    return M.Redriven(queue=queue, moved=api().dead_letters.redrive(queue, max))


def _banned_meta(store) -> dict[str, Any]:
    from shangjia.pipeline.config import banned_terms_item
    from shangjia.validation.banned import default_path

    item = banned_terms_item(store)
    if item is None:
        d = json.loads(default_path().read_text("utf-8"))
        meta: dict[str, Any] = {"source": "packaged default", "updated_at": None}
    else:
        d = json.loads(item["doc"])
        meta = {"source": "state table", "updated_at": item.get("updated_at"), "sha256": item.get("sha256")}
    return meta | {"version": d.get("version", ""), "groups": len(d["groups"]),
                   "terms": sum(len(g.get("terms", ())) for g in d["groups"])}


def get_settings() -> M.Settings:
    allowed("settings")
    from shangjia.pipeline.config import SETTINGS, read_settings

    store = api().store
    values = read_settings(store)
    return M.Settings(settings={n: M.SettingValue(value=values[n], default=s.default, about=s.doc)
                                for n, s in SETTINGS.items()},
                      banned_terms=_banned_meta(store))


def put_setting(name: str, body: M.SettingRequest) -> M.Settings:
    p = allowed("settings")
    from shangjia.pipeline.config import SETTINGS, put_banned_terms, set_setting

    a = api()
    at = iso(a.deps.clock.now())
    try:
        if name == "banned_terms":
            if not isinstance(body.value, dict):
                raise ValueError("the list document (an object with groups)")
            put_banned_terms(a.store, json.dumps(body.value, ensure_ascii=False), at=at)
        elif name in SETTINGS:
            set_setting(a.store, name, body.value, at=at)
        else:
            raise NotFound(name)
    except ValueError as e:
        raise BadRequest("API_BODY_FIELD", field="value", reason=str(e)[:200]) from None
    from shangjia.observability import logger

    logger.info("setting changed", extra={"setting": name, "by": p.username})
    return get_settings()


def assign_editor(username: str, body: M.AssignmentRequest) -> M.Assignment:
    p = allowed("assign")
    a = api()
    try:
        ms = policy.set_assignment(a.store, username, body.merchants, by=p.username, at=iso(a.deps.clock.now()))
    except ValueError as e:
        raise BadRequest("API_BODY_FIELD", field="merchants", reason=str(e)) from None
    return M.Assignment(username=username, merchants=ms)
