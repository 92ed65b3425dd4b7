"""The ops API answers a body it cannot use with 400 and a code, never an unhandled 500.

Through the real handler with API Gateway HTTP API v2 events (``events/api/*.json``): malformed
JSON, JSON that is not an object, a body that is not UTF-8 (HTTP APIs base64-encode a binary
body), and a decision whose fields are wrong. Every route that takes a body (the POST routes)
is held to the same answer.
"""

from __future__ import annotations

import base64
import json

import pytest

from shangjia.pipeline import review
from tests.support.events import load_event


def _event(path: str, body, *, b64: bool = False) -> dict:
    event = load_event("api/decide_task.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"proxy": path.removeprefix("/api/")}
    if b64:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
        event["isBase64Encoded"] = False
    return event


def _call(handler, event) -> tuple[int, dict]:
    r = handler("api")(event)
    return r["statusCode"], (json.loads(r["body"]) if r.get("body") else {})


def _task(deps) -> dict:
    """The sample task token's product (complete enough to pass pre-review checks) and its task."""
    from shangjia.pipeline import keys

    pk, sk = keys.product("m-std-002", "SPU-0001")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m-std-002", "spu_code": "SPU-0001",
                    "batch_id": "4b1d0c6e2f8a9b3c5d7e", "status": "in_review",
                    "product": {"spu_code": "SPU-0001", "title": "真丝连衣裙 夏季新款", "category": "服饰鞋包/女装/连衣裙",
                                "brand": "无品牌", "skus": [{"sku_code": "S1", "price_fen": 29900, "stock": 3}]}})
    body = json.loads(load_event("review_tasks/task_token.json")["Records"][0]["body"])
    review.record_task(deps, body)
    return review.list_tasks(deps, "pre")[0]


DECISION = "/api/review/tasks/2093499d641f41e509221c28/decision"
POST_ROUTES = [DECISION, "/api/review/tasks/2093499d641f41e509221c28/claim",
               "/api/review/tasks/2093499d641f41e509221c28/heartbeat"]

MALFORMED = {
    "truncated": ('{"decision": "approve"', False, "API_BODY_NOT_JSON"),
    "not json": ("decision=approve", False, "API_BODY_NOT_JSON"),
    "trailing garbage": ('{"decision": "approve"} x', False, "API_BODY_NOT_JSON"),
    "NaN": ('{"decision": NaN}', False, "API_BODY_NOT_JSON"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, False, "API_BODY_NOT_JSON"),
    "array": ('["approve"]', False, "API_BODY_NOT_OBJECT"),
    "string": ('"approve"', False, "API_BODY_NOT_OBJECT"),
    "null": ("null", False, "API_BODY_NOT_OBJECT"),
    "number": ("42", False, "API_BODY_NOT_OBJECT"),
    "latin-1 bytes": ('{"note": "caf\xe9"}'.encode("latin-1"), True, "API_BODY_NOT_UTF8"),
    "gbk bytes": ('{"note": "标题"}'.encode("gbk"), True, "API_BODY_NOT_UTF8"),
    "binary": (b"\xff\xfe\x00\x01", True, "API_BODY_NOT_UTF8"),
    "lone surrogate": ('{"note": "\udc80"}', False, "API_BODY_NOT_UTF8"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_decision_body_is_a_400_with_a_code(aws, handler, case):
    body, b64, code = MALFORMED[case]
    status, doc = _call(handler, _event(DECISION, body, b64=b64))
    assert status == 400, doc
    assert doc["code"] == code
    assert doc["message"] and doc["message_zh"]


@pytest.mark.parametrize("path", POST_ROUTES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_route_that_takes_a_body_refuses_a_malformed_one(aws, handler, path):
    for body, b64, code in (('{"decision":', False, "API_BODY_NOT_JSON"), ("[1, 2]", False, "API_BODY_NOT_OBJECT"),
                            (b"\xc3\x28", True, "API_BODY_NOT_UTF8")):
        status, doc = _call(handler, _event(path, body, b64=b64))
        assert (status, doc.get("code")) == (400, code), (path, body, doc)


@pytest.mark.parametrize("body,field", [
    ('{"decision": "maybe"}', "decision"),
    ("{}", "decision"),
    ('{"decision": "reject", "reasons": "BANNED_TERM"}', "reasons"),
    ('{"decision": "reject", "reasons": [1, 2]}', "reasons"),
    ('{"decision": "approve", "note": {"a": 1}}', "note"),
], ids=["unknown decision", "no decision", "reasons not a list", "reasons not strings", "note not text"])
def test_a_decision_with_wrong_fields_is_a_400_naming_the_field(aws, handler, body, field):
    status, doc = _call(handler, _event(DECISION, body))
    assert status == 400, doc
    assert doc["code"] == "API_BODY_FIELD" and field in doc["message"]


def test_an_empty_decision_body_is_a_400_not_a_500(aws, handler):
    for body in (None, ""):
        status, doc = _call(handler, _event(DECISION, body))
        assert status == 400 and doc["code"] == "API_BODY_FIELD", doc


def test_a_good_body_still_works_plain_or_base64(deps, handler, monkeypatch):
    """The sample event (a rejection with a Chinese note) is applied; so is the same body base64-encoded."""
    from shangjia import lambda_kit

    class Released:
        def task_success(self, token, output):
            pass

        def task_failure(self, token, error, cause):
            pass

    task = _task(deps)
    path = f"/api/review/tasks/{task['task_id']}/decision"
    fn = handler("api")
    monkeypatch.setattr(lambda_kit.deps(), "workflows", Released())
    sample = load_event("api/decide_task.json")["body"]
    event = _event(path, sample.encode("utf-8"), b64=True)
    r = fn(event)
    doc = json.loads(r["body"])
    assert r["statusCode"] == 200 and doc["applied"], doc
    assert doc["decision"]["note"] == json.loads(sample)["note"]
    r = fn(_event(path, sample))                 # the same decision again: accepted, not re-applied
    assert r["statusCode"] == 200 and json.loads(r["body"])["applied"] is False


def test_a_claim_without_a_body_still_works(deps, handler):
    task = _task(deps)
    event = _event(f"/api/review/tasks/{task['task_id']}/claim", None)
    status, doc = _call(handler, event)
    assert status == 200 and doc["state"] == "claimed", doc
