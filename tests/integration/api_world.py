"""A small world for the API's integration tests (moto): two merchants, their batches, products,
listings, stock, a report, a review task, an editor assignment and a weekly failure report; the
principals as API Gateway passes their claims; and a caller that builds HTTP API v2 events."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from shangjia.pipeline import keys
from shangjia.pipeline.merchants import put_merchant
from tests.support.events import load_event

ISS = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"


def claims(sub: str, username: str, groups: str = "", merchant_id: str | None = None) -> dict[str, str]:
    """Claims as API Gateway hands them over: every value a string, groups as "[a b]"."""
    c = {"sub": sub, "cognito:username": username, "cognito:groups": groups, "iss": ISS, "token_use": "id",
         "aud": "client-1", "exp": "1795000000", "iat": "1794996400"}
    if merchant_id:
        c["custom:merchant_id"] = merchant_id
    return c


PRINCIPALS: dict[str, dict[str, str] | None] = {
    "none": None,
    "merchant_a": claims("u-ma", "ma", "", "m-a"),
    "merchant_b": claims("u-mb", "mb", "", "m-b"),
    "editor_a": claims("u-ea", "ed-a", "[editor]"),
    "editor_x": claims("u-ex", "ed-x", "[editor]"),
    "reviewer": claims("u-rv", "rev1", "[reviewer]"),
    "ops": claims("u-ops", "ops1", "[ops reviewer]"),
}

REPORT_XLSX = b"PK\x03\x04 the annotated workbook"


def event(method: str, path: str, who: dict[str, str] | None, *, body: Any = None,
          query: dict[str, str] | None = None) -> dict[str, Any]:
    e = copy.deepcopy(load_event("api/get_batch_as_merchant.json"))
    e["requestContext"]["http"]["method"] = method
    e["rawPath"] = e["requestContext"]["http"]["path"] = path
    e["pathParameters"] = {"proxy": path.removeprefix("/api/")}
    e["rawQueryString"] = urlencode(query or {})
    if query:
        e["queryStringParameters"] = dict(query)
    e["body"] = None if body is None else json.dumps(body, ensure_ascii=False)
    if who is None:
        del e["requestContext"]["authorizer"]
    else:
        e["requestContext"]["authorizer"]["jwt"]["claims"] = dict(who)
    return e


@dataclass
class Answer:
    status: int
    body: Any


def call(fn, method: str, path: str, who: str | dict | None, **kw) -> Answer:
    claims_ = PRINCIPALS[who] if isinstance(who, str) else who
    r = fn(event(method, path, claims_, **kw))
    return Answer(r["statusCode"], json.loads(r["body"]) if r.get("body") else None)


class Released:
    """Workflows that accept a decision's release (no state machine on moto here)."""

    def task_success(self, token, output):
        pass

    def task_failure(self, token, error, cause):
        pass


def _product(store, m: str, spu: str, batch_id: str, status: str, *, cost: int = 5000) -> None:
    pk, sk = keys.product(m, spu)
    store.put({
        "pk": pk, "sk": sk, "merchant_id": m, "spu_code": spu, "batch_id": batch_id, "status": status,
        "updated_at": "2026-11-25T01:30:00.000000Z", "source_key": f"{m}/上新.xlsx", "first_row": 2,
        "gsi1pk": f"BATCH#{batch_id}", "gsi1sk": f"PRODUCT#{spu}",
        "gsi2pk": f"STATUS#{status}", "gsi2sk": "2026-11-25T01:30:00.000000Z",
        "product": {"spu_code": spu, "title": f"{m} 真丝连衣裙", "category": "服饰鞋包/女装/连衣裙", "brand": "无品牌",
                    "skus": [{"sku_code": f"{spu}-1", "spec": {"颜色": "红"}, "price_fen": 29900,
                              "cost_price_fen": cost, "stock": 3, "row": 2}]},
        "cells": {"spu": {"spu_code": spu, "title": f"{m} 真丝连衣裙"},
                  "skus": [[f"{spu}-1", {"sku_code": f"{spu}-1", "price": "299", "cost_price": "50"}]]},
        "findings": [{"code": "FIELD_REQUIRED", "severity": "error", "message_zh": "必填项为空",
                      "message_en": "Required field is empty", "row": 2, "column": "E", "field": "brand"}]
        if status == "needs_fix" else [],
        "readiness": {"own_shop": {"ready": True, "findings": []}},
    })


def build(deps) -> dict[str, Any]:
    """Write the world; returns its names."""
    from shangjia.auth.policy import set_assignment
    from shangjia.stock import StockLedger

    store = deps.store
    for m in ("m-a", "m-b"):
        put_merchant(store, m, name=m.upper(), annual_sales_cny=1_000_000)
        batch_id = f"batch-{m}"
        pk, sk = keys.batch(batch_id)
        store.put({"pk": pk, "sk": sk, "batch_id": batch_id, "merchant_id": m, "status": "processing",
                   "key": f"{m}/上新.xlsx", "products_total": 1, "products_sent": 1,
                   "created_at": "2026-11-25T01:00:00.000000Z", "gsi1pk": f"BATCHES#{m}",
                   "gsi1sk": "2026-11-25T01:00:00.000000Z",
                   "report_key": f"{m}/{batch_id}/report.xlsx", "report_json_key": f"{m}/{batch_id}/report.json"})
        deps.blobs.put("reports", f"{m}/{batch_id}/report.xlsx", REPORT_XLSX, content_type="application/octet-stream")
        deps.blobs.put("reports", f"{m}/{batch_id}/report.json", b'{"products": 1}', content_type="application/json")
        _product(store, m, "SPU-1", batch_id, "needs_fix")
        _product(store, m, "SPU-2", batch_id, "in_review")
        lpk, lsk = keys.listing(m, "SPU-1", "own_shop")
        store.put({"pk": lpk, "sk": lsk, "merchant_id": m, "spu_code": "SPU-1", "channel": "own_shop",
                   "state": "live", "batch_id": batch_id, "platform_product_id": "P1",
                   "updated_at": "2026-11-25T02:00:00.000000Z", "gsi1pk": "LISTINGS#own_shop", "gsi1sk": "x"})
        StockLedger(store, deps.clock).seed(m, "SPU-1-1", 7, source="sheet")
    # a review task on m-a's SPU-2 (pre stage, open)
    execution = keys.execution_name("m-a", "SPU-2", "batch-m-a")
    task_id = keys.task_id_for(execution, "pre")       # as review.record_task names it
    pk, sk = keys.task(task_id)
    store.put({"pk": pk, "sk": sk, "task_id": task_id, "stage": "pre", "escalated": False, "merchant_id": "m-a",
               "spu_code": "SPU-2", "batch_id": "batch-m-a", "execution": execution, "token": "tok", "state": "open",
               "findings": [], "created_at": "2026-11-25T01:40:00.000000Z", "queue": "reviewer",
               "gsi1pk": "TASKS#pre#open", "gsi1sk": "2026-11-25T01:40:00.000000Z"})
    set_assignment(store, "ed-a", ["m-a"], by="ops1")
    report = {"week": "2026-W47", "previous_week": "2026-W46", "totals": {"failures": 2},
              "by_code": [{"code": "FIELD_REQUIRED", "count": 2}]}
    deps.blobs.put("reports", "weekly/2026-W46.json", json.dumps(report | {"week": "2026-W46"}).encode(),
                   content_type="application/json")
    deps.blobs.put("reports", "weekly/2026-W47.json", json.dumps(report).encode(), content_type="application/json")
    deps.blobs.put("reports", "weekly/2026-W47.xlsx", b"PK weekly", content_type="application/octet-stream")
    return {"task_id": task_id}
