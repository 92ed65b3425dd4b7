"""The role rules, route by route, through the real handler with API Gateway v2 events carrying
claims as API Gateway passes them (strings; groups as "[ops reviewer]").

One table: every route of ``shangjia.api.routes.ROUTES`` x {no claims, merchant A, merchant B,
editor assigned to A, editor not assigned, reviewer, ops} -> the status each must get. The objects
asked for are merchant A's, so B and the unassigned editor get the 404 a missing object gets
(compared body for body), a role that may not gets 403 AUTH_FORBIDDEN, no claims 401.
"""

from __future__ import annotations

import pytest

from shangjia.api.routes import ROUTES
from shangjia.pipeline import keys
from tests.integration.api_world import Released, build, call

WHO = ("none", "merchant_a", "merchant_b", "editor_a", "editor_x", "reviewer", "ops")
# the review task api_world parks on m-a's SPU-2 (named as review.record_task names it)
T = keys.task_id_for(keys.execution_name("m-a", "SPU-2", "batch-m-a"), "pre")

# expected statuses, in WHO's order
SCOPED = (401, 200, 404, 200, 404, 403, 200)      # merchant A's objects
ALL = (401, 200, 200, 200, 200, 200, 200)
STAFF = (401, 403, 403, 200, 200, 200, 200)
REVIEW = (401, 403, 403, 403, 403, 200, 200)
OPS = (401, 403, 403, 403, 403, 403, 200)

# (method, path as the route table spells it, concrete path, body, query, expected)
TABLE = [
    ("GET", "/api/me", "/api/me", None, None, ALL),
    ("GET", "/api/openapi.json", "/api/openapi.json", None, None, ALL),
    ("POST", "/api/uploads", "/api/uploads", {"filename": "上新.xlsx", "merchant_id": "m-a"}, None, SCOPED),
    ("GET", "/api/batches", "/api/batches", None, {"merchant_id": "m-a"}, SCOPED),
    ("GET", "/api/batches/<batch_id>", "/api/batches/batch-m-a", None, None, SCOPED),
    ("GET", "/api/batches/<batch_id>/products", "/api/batches/batch-m-a/products", None, None, SCOPED),
    ("GET", "/api/batches/<batch_id>/report", "/api/batches/batch-m-a/report", None, None, SCOPED),
    ("GET", "/api/template", "/api/template", None, None, ALL),
    ("GET", "/api/products/<merchant_id>/<spu>", "/api/products/m-a/SPU-1", None, None, SCOPED),
    ("POST", "/api/products/<merchant_id>/<spu>/resubmit", "/api/products/m-a/SPU-1/resubmit", None, None, SCOPED),
    ("GET", "/api/listings", "/api/listings", None, {"merchant_id": "m-a"}, SCOPED),
    ("GET", "/api/stock/<merchant_id>/<sku>", "/api/stock/m-a/SPU-1-1", None, None, SCOPED),
    ("GET", "/api/notices", "/api/notices", None, {"merchant_id": "m-a"}, SCOPED),
    ("GET", "/api/board", "/api/board", None, None, STAFF),
    ("GET", "/api/review/tasks", "/api/review/tasks", None, None, REVIEW),
    ("GET", "/api/review/tasks/<task_id>/preview", f"/api/review/tasks/{T}/preview", None, None, REVIEW),
    # the reviewer claims first: ops then meets the reviewer's claim (allowed, but taken: 409)
    ("POST", "/api/review/tasks/<task_id>/claim", f"/api/review/tasks/{T}/claim", None, None,
     (401, 403, 403, 403, 403, 200, 409)),
    ("POST", "/api/review/tasks/<task_id>/heartbeat", f"/api/review/tasks/{T}/heartbeat", None, None,
     (401, 403, 403, 403, 403, 200, 409)),
    ("POST", "/api/review/tasks/<task_id>/decision", f"/api/review/tasks/{T}/decision", {"decision": "approve"}, None,
     (401, 403, 403, 403, 403, 200, 409)),
    ("GET", "/api/failures/weekly", "/api/failures/weekly", None, None, STAFF),
    ("GET", "/api/failures/weeks", "/api/failures/weeks", None, None, STAFF),
    ("GET", "/api/ops/dlq", "/api/ops/dlq", None, None, OPS),
    ("POST", "/api/ops/dlq/<queue>/redrive", "/api/ops/dlq/intake/redrive", None, None, OPS),
    ("GET", "/api/settings", "/api/settings", None, None, OPS),
    ("PUT", "/api/settings/<name>", "/api/settings/audit_sample_rate", {"value": 0.1}, None, OPS),
    ("PUT", "/api/editors/<username>/merchants", "/api/editors/ed-y/merchants", {"merchants": ["m-b"]}, None, OPS),
]

# the same routes on an object that does not exist (or a merchant nobody has): the 404 must match
MISSING = {
    "/api/batches/batch-m-a": "/api/batches/no-such-batch",
    "/api/batches/batch-m-a/products": "/api/batches/no-such-batch/products",
    "/api/batches/batch-m-a/report": "/api/batches/no-such-batch/report",
    "/api/products/m-a/SPU-1": "/api/products/m-a/NO-SUCH-SPU",
    "/api/products/m-a/SPU-1/resubmit": "/api/products/m-a/NO-SUCH-SPU/resubmit",
    "/api/stock/m-a/SPU-1-1": "/api/stock/m-a/NO-SUCH-SKU",
}


def test_the_table_covers_every_route():
    assert sorted((m, p) for m, p, *_ in TABLE) == sorted((m, p) for m, p, *_ in ROUTES)


def test_every_route_answers_each_role_as_the_rules_say(deps, handler, monkeypatch):
    from shangjia import lambda_kit

    build(deps)
    fn = handler("api")
    monkeypatch.setattr(lambda_kit.deps(), "workflows", Released())
    wrong = []
    for method, _route, path, body, query, expected in TABLE:
        for who, want in zip(WHO, expected):
            a = call(fn, method, path, who, body=body, query=query)
            if a.status != want:
                wrong.append(f"{method} {path} as {who}: {a.status} (want {want}) {a.body}")
            elif want == 403:
                if a.body.get("code") != "AUTH_FORBIDDEN":
                    wrong.append(f"{method} {path} as {who}: 403 without AUTH_FORBIDDEN: {a.body}")
            elif want == 401 and a.body.get("code") != "API_UNAUTHENTICATED":
                wrong.append(f"{method} {path} as {who}: 401 body {a.body}")
    assert wrong == []


def test_a_foreign_object_and_a_missing_one_get_the_same_404(deps, handler):
    build(deps)
    fn = handler("api")
    for method, _route, path, body, query, expected in TABLE:
        if path not in MISSING:
            continue
        for outsider in ("merchant_b", "editor_x"):
            foreign = call(fn, method, path, outsider, body=body, query=query)
            missing = call(fn, method, MISSING[path], outsider, body=body, query=query)
            own_missing = call(fn, method, MISSING[path], "merchant_a", body=body, query=query)
            assert foreign.status == missing.status == own_missing.status == 404, (path, foreign, missing)
            assert foreign.body == missing.body == own_missing.body, path
            assert foreign.body["code"] == "API_NOT_FOUND" and foreign.body["message_zh"]
    # a list for a merchant outside the scope: the same answer as an unknown merchant's
    for path in ("/api/batches", "/api/listings", "/api/notices"):
        a = call(fn, "GET", path, "merchant_b", query={"merchant_id": "m-a"})
        b = call(fn, "GET", path, "editor_x", query={"merchant_id": "m-nobody"})
        assert a.status == b.status == 404 and a.body == b.body


def test_cost_price_only_for_ops_and_the_owner(deps, handler):
    build(deps)
    fn = handler("api")
    seen = {}
    for who in ("merchant_a", "editor_a", "ops"):
        a = call(fn, "GET", "/api/products/m-a/SPU-1", who)
        assert a.status == 200, a.body
        seen[who] = ([s["cost_price_fen"] for s in a.body["skus"]], a.body["cost_visible"])
        assert "cells" not in a.body and "cost_price" not in str(a.body.get("title"))
    assert seen == {"merchant_a": ([5000], True), "editor_a": ([None], False), "ops": ([5000], True)}


def test_me_names_the_role_and_an_editors_merchants(deps, handler):
    build(deps)
    fn = handler("api")
    me = {w: call(fn, "GET", "/api/me", w).body for w in ("merchant_a", "editor_a", "ops", "reviewer")}
    assert (me["merchant_a"]["role"], me["merchant_a"]["merchant_id"], me["merchant_a"]["merchants"]) == \
        ("merchant", "m-a", ["m-a"])
    assert (me["editor_a"]["role"], me["editor_a"]["merchants"]) == ("editor", ["m-a"])
    assert me["ops"]["role"] == "ops"                  # "[ops reviewer]": the strongest group
    assert me["reviewer"]["role"] == "reviewer"


def test_an_editor_assigned_by_ops_sees_the_merchant_from_then_on(deps, handler):
    build(deps)
    fn = handler("api")
    assert call(fn, "GET", "/api/batches/batch-m-b", "editor_x").status == 404
    a = call(fn, "PUT", "/api/editors/ed-x/merchants", "ops", body={"merchants": ["m-b"]})
    assert a.status == 200 and a.body == {"username": "ed-x", "merchants": ["m-b"]}
    assert call(fn, "GET", "/api/batches/batch-m-b", "editor_x").status == 200
    assert call(fn, "GET", "/api/batches/batch-m-a", "editor_a").status == 200      # others untouched
    board = call(fn, "GET", "/api/board", "editor_x").body["columns"]
    assert {c["merchant_id"] for col in board.values() for c in col} == {"m-b"}


@pytest.mark.parametrize("claims", [
    {"sub": "", "custom:merchant_id": "m-a"},                     # no subject
    {"sub": "u-1", "cognito:groups": ""},                         # no group, no merchant
    {"sub": "u-1", "cognito:groups": "[admins]"},                 # a group that is no role
], ids=["no sub", "no role", "unknown group"])
def test_claims_that_name_nobody_are_a_401(deps, handler, claims):
    fn = handler("api")
    a = call(fn, "GET", "/api/me", claims)
    assert a.status == 401 and a.body["code"] == "API_UNAUTHENTICATED"


def test_every_sample_event_reaches_a_route_and_is_answered_without_a_500(deps, handler, monkeypatch):
    from shangjia import lambda_kit
    from tests.support.events import all_events, load_event

    build(deps)
    fn = handler("api")
    monkeypatch.setattr(lambda_kit.deps(), "workflows", Released())
    for name in all_events():
        if not name.startswith("api/"):
            continue
        r = fn(load_event(name))
        assert r["statusCode"] in (200, 400, 401, 403, 404, 409), (name, r)
        if r["statusCode"] != 200:
            import json

            assert json.loads(r["body"])["code"], (name, r["body"])


def test_shangjia_editors_assign_sets_what_the_api_reads(deps, handler, capsys):
    from shangjia.cli import main

    build(deps)
    assert main(["editors", "assign", "ed-x", "--merchants", "m-b,m-a", "--as", "ops1"]) == 0
    assert capsys.readouterr().out.strip() == '{"username": "ed-x", "merchants": ["m-b", "m-a"]}'
    me = call(handler("api"), "GET", "/api/me", "editor_x").body
    assert me["merchants"] == ["m-a", "m-b"]
    assert main(["editors", "assign", "ed-x", "--merchants", "m/../x"]) == 2
