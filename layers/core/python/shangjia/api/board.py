"""The kanban board's read model: a column per stage, a card per product (and per batch still
being read or refused outright), each with its merchant, owner, age and blocker.

Products are listed by status from gsi2 (``STATUS#<status>``, newest first, ``PER_COLUMN`` per
status); a product in review is in the pre- or final-review column by the latest stage its workflow
parked a task for (task ids are derived from the execution and stage: ``review_task_ids``). The
owner is the reviewer who claimed its review task, else the editor assigned to its merchant. The
blocker is the product's first error, else what it waits for. Batches come from the merchants on
the board (gsi1 ``BATCHES#<merchant>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from shangjia.api.merchant import located
from shangjia.auth.policy import all_assignments, editors_of
from shangjia.errors import finding
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.pipeline.products import with_payload

COLUMNS = ("uploaded", "validating", "needs_fix", "pre_review", "final_review", "scheduled", "publishing",
           "published", "failed")
# product status -> column (in_review: by review stage). ``checked`` (a check-only result) is not on the board.
STATUS_COLUMN = {"uploaded": "uploaded", "validating": "validating", "media": "validating",
                 "needs_fix": "needs_fix", "held": "needs_fix", "rejected": "needs_fix", "in_review": None,
                 "approved": "scheduled", "scheduled": "scheduled", "publishing": "publishing",
                 "published": "published", "failed": "failed"}
BATCH_COLUMN = {"received": "uploaded", "ingesting": "uploaded", "rejected": "needs_fix"}
PER_COLUMN = 200
STAGE_ZH = {"pre": "初审", "final": "终审"}     # the review stages as the board's columns name them
MAX_MERCHANTS_FOR_BATCHES = 50


def _age_s(now: datetime, at: str | None) -> int:
    if not at:
        return 0
    try:
        t = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, int((now - t).total_seconds()))


def _blocker_of(f) -> dict[str, Any]:
    d = located(f if isinstance(f, dict) else f.to_dict())
    return {"code": d["code"], "message": d["message"], "message_zh": d["message_zh"]}


def review_task_ids(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(stage, task id) of each task the product's current review may have, latest stage first
    (``review.record_task``: an id per execution, stage and escalation)."""
    exe = keys.review_execution_of(item)
    return [(stage, keys.task_id_for(exe, stage, escalated=esc)) for stage in ("final", "pre") for esc in (True, False)]


def _current_task(item: dict[str, Any], ids: list[tuple[str, str]],
                  tasks: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """The stage a product in review is at and its task (None while the workflow has not parked
    one): the latest stage with a task; before any, the stage the move to review recorded."""
    for stage, task_id in ids:
        if task_id in tasks:
            return stage, tasks[task_id]
    return str(item.get("review_stage") or "pre"), None


def _product_blocker(item: dict[str, Any], task: dict[str, Any] | None, stage: str = "pre") -> dict[str, Any] | None:
    errors = [f for f in item.get("findings") or [] if f.get("severity", "error") == "error"]
    if errors and item.get("status") in ("needs_fix", "held", "rejected", "failed"):
        return _blocker_of(errors[0])
    status = item.get("status")
    if status == "failed" and item.get("failure"):
        return {"code": "FAILED", "message": str(item["failure"].get("error") or "failed"),
                "message_zh": str(item["failure"].get("error") or "失败")}
    if status == "in_review":
        who = f" ({task['assignee']})" if task and task.get("state") == "claimed" and task.get("assignee") else ""
        return _blocker_of(finding("BOARD_WAITING_REVIEW", stage=stage, stage_zh=STAGE_ZH.get(stage, stage), who=who))
    if status == "scheduled":
        return _blocker_of(finding("BOARD_WAITING_WINDOW", at=item.get("publish_at") or "?"))
    if status == "publishing":
        return _blocker_of(finding("BOARD_WAITING_CHANNEL", channels=", ".join(item.get("channels_requested") or [])))
    return None


def build_board(deps: Deps, *, merchants: frozenset[str] | None, now: datetime, merchant: str | None = None,
                category: str | None = None, channel: str | None = None, owner: str | None = None
                ) -> dict[str, list[dict[str, Any]]]:
    """``merchants``: the caller's scope (None: every merchant)."""
    store = deps.store
    assignments = all_assignments(store)
    columns: dict[str, list[dict[str, Any]]] = {c: [] for c in COLUMNS}
    wanted = merchants if merchant is None else (frozenset({merchant}) & merchants if merchants is not None
                                                 else frozenset({merchant}))
    seen_merchants: set[str] = set(wanted or ())
    entries: list[dict[str, Any]] = []
    for status in STATUS_COLUMN:
        for e in store.query(f"STATUS#{status}", index="gsi2", forward=False, limit=PER_COLUMN):
            if wanted is None or e.get("merchant_id") in wanted:
                entries.append(e)
    items = with_payload(deps, store.get_many([(e["pk"], e["sk"]) for e in entries])) if entries else []
    # a product in review: its stage's task, found by the ids its workflow gives them (one read for
    # the column; the review writes no task id or stage on the product)
    candidates = {i["pk"]: review_task_ids(i) for i in items if i.get("status") == "in_review"}
    wanted_ids = sorted({t for ids in candidates.values() for _stage, t in ids})
    tasks = {t["task_id"]: t for t in (store.get_many([keys.task(t) for t in wanted_ids]) if wanted_ids else [])}
    for item in items:
        status = item.get("status")
        if status not in STATUS_COLUMN or str(item.get("pk", "")).startswith("CHECK#"):
            continue
        m = item.get("merchant_id") or "-"
        seen_merchants.add(m)
        p = item.get("product") or {}
        stage, task = _current_task(item, candidates.get(item["pk"]) or [], tasks)
        reviewer = task.get("assignee") if task and task.get("state") == "claimed" else None
        editors = editors_of(assignments, m)
        card = {"kind": "product", "id": f"{m}/{item['spu_code']}", "merchant_id": m, "spu": item["spu_code"],
                "title": p.get("title"), "category": p.get("category"),
                "channels": list(item.get("channels_requested") or (item.get("readiness") or {}).keys()),
                "owner": reviewer or (editors[0] if editors else None),
                "age_s": _age_s(now, item.get("updated_at")), "blocker": _product_blocker(item, task, stage)}
        if not _keep(card, category, channel, owner):
            continue
        col = STATUS_COLUMN[status] or ("final_review" if stage == "final" else "pre_review")
        columns[col].append(card)
    if category is None and channel is None:
        for m in sorted(seen_merchants)[:MAX_MERCHANTS_FOR_BATCHES]:
            for card, col in _batch_cards(deps, m, now, editors_of(assignments, m)):
                if owner is None or card["owner"] == owner:
                    columns[col].append(card)
    for col in columns.values():
        col.sort(key=lambda c: -c["age_s"])
    return columns


def _keep(card: dict[str, Any], category: str | None, channel: str | None, owner: str | None) -> bool:
    if category and not str(card.get("category") or "").startswith(category):
        return False
    if channel and channel not in card["channels"]:
        return False
    return not owner or card["owner"] == owner


def _batch_cards(deps: Deps, merchant_id: str, now: datetime, editors: list[str]) -> Iterable[tuple[dict, str]]:
    from shangjia.pipeline.views import listed

    for b in listed(deps, f"BATCHES#{merchant_id}"):
        col = BATCH_COLUMN.get(b.get("status"))
        if not col:
            continue
        blocker = _blocker_of(b["rejection"]) if b.get("rejection") else \
            _blocker_of(finding("BOARD_WAITING_BATCH", status=b.get("status")))
        yield ({"kind": "batch", "id": b["batch_id"], "merchant_id": merchant_id, "spu": None,
                "title": str(b.get("key") or "").rsplit("/", 1)[-1] or None, "category": None, "channels": [],
                "owner": editors[0] if editors else None, "age_s": _age_s(now, b.get("updated_at") or b.get("created_at")),
                "blocker": blocker}, col)
