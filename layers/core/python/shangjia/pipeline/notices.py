"""The merchant's notice when a batch is answered: settled (every product settled) or its file refused.

Exactly one notice per batch. The batch's final write (``batches.maybe_settle``, or the refusal
report) records *when* (``settled_at``/``report_at``, written once), so the notice's key is known
before it is sent::

    pk NOTICES#<merchant_id>   sk <settled_at>#<batch_id>

Whoever creates that item (create-only) publishes it to the deployment's ``notices`` topic (SNS,
message attributes ``merchant_id`` and ``kind`` for subscription filters), then marks the item and
the batch sent. A sender that died after the claim is replaced after ``NOTICE_LEASE`` by the next
caller that finds the batch answered; only then can SNS see the message twice. The items are what
``GET /api/notices`` and the web app show; on the local cloud they are the captured notices.

A presigned link expires within minutes, so the message carries the report's keys in the reports
bucket and the API path that hands out fresh links: ``GET /api/batches/{batch_id}/report``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from shangjia.clock import iso
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed

TOPIC = "notices"
NOTICE_LEASE = timedelta(minutes=2)
KINDS = ("batch_settled", "batch_rejected")


def notices_pk(merchant_id: str) -> str:
    return f"NOTICES#{merchant_id}"


def report_path(batch_id: str) -> str:
    return f"/api/batches/{batch_id}/report"


def _when(batch: Mapping[str, Any]) -> tuple[str, str] | None:
    from shangjia.status import BatchStatus

    if batch.get("status") == BatchStatus.SETTLED and batch.get("settled_at"):
        return "batch_settled", str(batch["settled_at"])
    if batch.get("status") == BatchStatus.REJECTED and batch.get("report_at"):
        return "batch_rejected", str(batch["report_at"])
    return None


_LABELS = {  # outcome -> (en, zh), in the order a merchant reads them
    "published": ("published", "已上架"), "needs_fix": ("need fixes", "需修改"), "rejected": ("rejected in review", "审核驳回"),
    "failed": ("failed", "处理失败"), "refused": ("refused (busy or too large)", "未受理"),
    "held": ("held (batch stopped)", "已暂停"), "checked": ("checked only", "仅校验"),
    "unchanged": ("unchanged", "内容未变"), "superseded": ("superseded by a newer upload", "已被新上传取代"),
}


def message(batch: Mapping[str, Any]) -> dict[str, Any]:
    """What the merchant is told (the SNS message body and the notice item's ``message``)."""
    from shangjia.pipeline.batches import report_keys

    kind, at = _when(batch) or ("batch_settled", "")
    batch_id = batch["batch_id"]
    xlsx_key, json_key = report_keys(batch.get("merchant_id"), batch_id)
    outcome = {k: int(v) for k, v in (batch.get("outcome") or {}).items() if int(v)}
    file = str(batch.get("key") or "").rsplit("/", 1)[-1] or batch_id
    total = int(batch.get("products_total") or 0)
    if kind == "batch_settled":
        en = f"{file}: all {total} products settled — " + (", ".join(
            f"{outcome[k]} {_LABELS[k][0]}" for k in _LABELS if k in outcome) or "nothing to list")
        zh = f"{file}：{total} 个商品已全部处理完毕 —— " + ("，".join(
            f"{_LABELS[k][1]} {outcome[k]}" for k in _LABELS if k in outcome) or "无商品")
    else:
        reason = (batch.get("rejection") or {})
        en = f"{file}: the file was refused — {reason.get('message_en') or 'see the report'}"
        zh = f"{file}：文件未被受理 —— {reason.get('message_zh') or '请查看报告'}"
    path = report_path(batch_id)
    return {
        "kind": kind, "batch_id": batch_id, "merchant_id": batch.get("merchant_id"), "file": batch.get("key"),
        "status": batch.get("status"), "at": at, "products_total": total, "outcome": outcome,
        "report": {"bucket": "reports", "xlsx_key": batch.get("report_key") or xlsx_key,
                   "json_key": batch.get("report_json_key") or json_key, "api_path": path},
        "text_en": f"{en}. Report: GET {path}", "text_zh": f"{zh}。报告：GET {path}",
    }


def _subject(msg: Mapping[str, Any]) -> str:
    word = "settled" if msg["kind"] == "batch_settled" else "refused"
    return f"Shangjia: batch {msg['batch_id']} {word}"


def ensure_batch_notice(deps: Deps, batch: Mapping[str, Any]) -> bool:
    """Send the batch's notice unless it is sent or being sent. Returns True when this call sent it."""
    if batch.get("notice_sent_at"):
        return False
    when = _when(batch)
    if when is None:
        return False
    kind, at = when
    merchant_id = str(batch.get("merchant_id") or "-")
    pk, sk = notices_pk(merchant_id), f"{at}#{batch['batch_id']}"
    msg = message(batch)
    now = deps.clock.now()
    item = {"pk": pk, "sk": sk, "merchant_id": merchant_id, "batch_id": batch["batch_id"], "kind": kind, "at": at,
            "subject": _subject(msg), "message": msg, "text_en": msg["text_en"], "text_zh": msg["text_zh"],
            "claimed_at": iso(now)}
    try:
        deps.store.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        held = deps.store.get(pk, sk) or {}
        if held.get("sent_at"):
            _mark_batch(deps, batch["batch_id"], sk, held["sent_at"])
            return False
        claimed = str(held.get("claimed_at") or "")
        stale = iso(now - NOTICE_LEASE)
        if claimed >= stale:
            return False                       # its sender is at work
        try:
            deps.store.update(pk, sk, "SET claimed_at = :n", condition="claimed_at = :c AND attribute_not_exists(sent_at)",
                              values={":n": iso(now), ":c": claimed})
        except ConditionFailed:
            return False
    delivery, message_id = "recorded", None
    if deps.notifier is not None:
        message_id = deps.notifier.publish(TOPIC, item["subject"], msg,
                                           attributes={"merchant_id": merchant_id, "kind": kind})
        delivery = "sns"
    sent = iso(deps.clock.now())
    deps.store.update(pk, sk, "SET sent_at = :s, delivery = :d, message_id = :m",
                      values={":s": sent, ":d": delivery, ":m": message_id or "-"})
    _mark_batch(deps, batch["batch_id"], sk, sent)
    from shangjia import metrics

    metrics.notice_sent(kind)
    return True


def _mark_batch(deps: Deps, batch_id: str, notice_sk: str, sent: str) -> None:
    try:
        deps.store.update(*keys.batch(batch_id), "SET notice_sent_at = :s, notice_sk = :k",
                          condition="attribute_not_exists(notice_sent_at)", values={":s": sent, ":k": notice_sk})
    except ConditionFailed:
        pass


def merchant_notices(deps: Deps, merchant_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """A merchant's notices, newest first (what ``GET /api/notices`` shows)."""
    items = deps.store.query(notices_pk(merchant_id), forward=False, limit=limit)
    return [{k: v for k, v in i.items() if k not in ("pk", "sk", "claimed_at")} for i in items]

