"""The message contracts between stages (SQS bodies and state-machine task inputs).

Handlers read bodies as dicts for speed; these models are the documented contract, and the
samples in ``events/`` are validated against them by ``tests/unit/test_events.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValidateMessage(_Msg):
    batch_id: str
    merchant_id: str
    spu_code: str
    source_key: str
    options: dict[str, Any] = {}
    raw: dict[str, Any]          # shangjia.sheets.RawProduct.to_dict()


class MediaMessage(_Msg):
    merchant_id: str
    spu_code: str
    batch_id: str
    slot: Literal["main", "gallery", "detail", "video"]
    index: int
    ref: str


class ReviewTaskMessage(_Msg):
    stage: Literal["pre", "final"]
    escalated: bool = False
    task_token: str
    execution: str
    merchant_id: str
    spu_code: str
    batch_id: str


class PublishMessage(_Msg):
    merchant_id: str
    spu_code: str
    batch_id: str
    channel: Literal["own_shop", "wechat", "douyin"]
    action: Literal["publish", "delist"] = "publish"   # delist: SKUs a re-upload dropped
    sku_codes: list[str] = []                          # with delist
    # set by publish itself when it re-sends the message delayed (pipeline/publish.py):
    attempt: int = 0                                   # transient failures so far (backoff with jitter)
    slot_at: float | None = None                       # a reserved quota slot (epoch s): send then, no new token


class ReviewStepEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    action: Literal["pre_check", "final_check", "approve", "reject", "handoff", "fail"]
    merchant_id: str
    spu_code: str
    batch_id: str
    vip: bool = False


class ReportMessage(_Msg):
    batch_id: str                 # a batch every product of which has been validated


class StockSyncMessage(_Msg):
    """A product whose stock levels changed (stock/sync.py: one per burst, coalesced)."""
    merchant_id: str
    spu_code: str


BODY_MODELS = {"validate": ValidateMessage, "media": MediaMessage, "review_tasks": ReviewTaskMessage,
               "publish": PublishMessage, "report": ReportMessage, "stock_sync": StockSyncMessage}
