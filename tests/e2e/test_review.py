"""Two-stage review on moto's Step Functions interpreter, with the real definition files.

Every wait here has a deadline and fails with what it was waiting for; "nothing happens before X"
is asserted on state with the injectable clock (``SHANGJIA_CLOCK``), never by sleeping. Each row of
docs/review.md's "Transitions and cost" table is asserted by the test of that path."""

import pytest

from shangjia.pipeline.products import archive_history, get_product, history_of, product_history
from shangjia.pipeline import keys, review
from shangjia.pipeline.merchants import put_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]
# Signed in through the gateway's POST /auth/login as real users of the local pool: every decision
# below carries a moto-issued ID token that the gateway's JWT check verifies.
REVIEWER, OTHER_REVIEWER, OPS = "rev1", "rev2", "ops1"
SIGNED_IN: dict[str, dict] = {}     # username -> the sign-in answer (id_token, ...)


@pytest.fixture(scope="module", autouse=True)
def people(cloud):
    for name, role in ((REVIEWER, "reviewer"), (OTHER_REVIEWER, "reviewer"), (OPS, "ops")):
        SIGNED_IN[name] = cloud.sign_in(name, cloud.add_user(name, role))
    yield
    SIGNED_IN.clear()


def sub_of(username):
    """The user's id as the API records it (the ID token's ``sub``)."""
    import base64
    import json

    payload = SIGNED_IN[username]["id_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


@pytest.fixture(scope="module")
def merchants(deps):
    put_merchant(deps.store, "rv-std", name="Ordinary", annual_sales_cny=100_000, channels=["own_shop"])
    put_merchant(deps.store, "rv-vip", name="VIP", annual_sales_cny=9_000_000, channels=["own_shop"])


def product_ready_for_review(deps, merchant, spu, batch, *, key_product=False, title="纯棉圆领T恤 男款 夏季"):
    """A product that passed validation and media, as the media stage leaves it."""
    pk, sk = keys.product(merchant, spu)
    deps.store.put({
        "pk": pk, "sk": sk, "merchant_id": merchant, "spu_code": spu, "batch_id": batch, "status": "media",
        "gsi1pk": f"BATCH#{batch}", "gsi1sk": f"PRODUCT#{spu}",
        "history": [{"status": "media", "batch_id": batch}],
        "product": {"spu_code": spu, "title": title, "category": "服饰鞋包/男装/T恤", "brand": "无品牌",
                    "key_product": key_product, "images": {"main": ["main.jpg"]},
                    "skus": [{"sku_code": f"{spu}-1", "spec": {"颜色": "白色"}, "price_fen": 5900, "stock": 10}]},
        "media": {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/x/main.webp", "width": 800}]}},
    })


def status(deps, merchant, spu):
    return (get_product(deps, merchant, spu) or {}).get("status")


def wait_for_status(cloud, deps, merchant, spu, want, *, timeout_s=30):
    """Poll until the product is ``want``; past the deadline, fail saying where it is instead."""
    if not cloud.wait_until(lambda: status(deps, merchant, spu) == want, timeout_s=timeout_s):
        item = get_product(deps, merchant, spu) or {}
        pytest.fail(f"{merchant}/{spu} is {item.get('status')!r} after {timeout_s} s, expected {want!r} "
                    f"(history {[h.get('status') for h in history_of(item)]}, "
                    f"failure {item.get('failure')}, handler errors {cloud.runtime.errors[-1:]})")


def open_task(cloud, deps, merchant, spu, stage, state="open", *, escalated=None, timeout_s=30):
    """The product's review task at ``stage`` in ``state`` (and, when given, escalated or not)."""
    found = []

    def look():
        found[:] = [t for t in review.list_tasks(deps, stage, state) if t["spu_code"] == spu
                    and t["merchant_id"] == merchant and (escalated is None or bool(t.get("escalated")) == escalated)]
        return bool(found)

    if not cloud.wait_until(look, timeout_s=timeout_s):
        kind = {None: "", True: "escalated ", False: "reviewer's "}[escalated]
        pytest.fail(f"no {state} {kind}{stage} task for {merchant}/{spu} after {timeout_s} s "
                    f"(product {status(deps, merchant, spu)!r})")
    return found[0]


def decide(cloud, task, body, who=REVIEWER):
    status_code, out = cloud.api("POST", f"/api/review/tasks/{task['task_id']}/decision",
                                 token=SIGNED_IN[who]["id_token"], body=body)
    return status_code, out


def transitions(cloud, merchant, spu, batch):
    """Billed Standard state transitions of the product's review_manual execution (0: none ran)."""
    return cloud.count_state_transitions().get(f"review_manual:{keys.execution_name(merchant, spu, batch)}", 0)


def express_executions(cloud, merchant, spu, batch):
    """How many review_auto (Express) executions the product's review started."""
    sfn = cloud.client("stepfunctions")
    name = keys.execution_name(merchant, spu, batch)
    arn = cloud.resources.state_machines["review_auto"]
    return sum(1 for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
               for ex in page["executions"] if ex["name"] == name)


def review_cost(cloud, merchant, spu, batch):
    """One row of docs/review.md's table: (Standard transitions, Express executions)."""
    return transitions(cloud, merchant, spu, batch), express_executions(cloud, merchant, spu, batch)


def test_manual_path_takes_two_transitions_and_a_duplicate_decision_is_refused(cloud, deps, merchants):
    """docs/review.md: ordinary, approved -> 2 Standard transitions, no Express execution."""
    product_ready_for_review(deps, "rv-std", "M1", "b-m1")
    assert review.start_review(deps, "rv-std", "M1", "b-m1")
    assert review.start_review(deps, "rv-std", "M1", "b-m1") is None, "a duplicate start is a no-op"
    pre = open_task(cloud, deps, "rv-std", "M1", "pre")
    assert status(deps, "rv-std", "M1") == "in_review"
    assert decide(cloud, pre, {"decision": "approve"})[0] == 200
    code, out = decide(cloud, pre, {"decision": "reject", "reasons": ["X"]}, who=OTHER_REVIEWER)
    assert code == 409 and "already decided" in out["error"]
    final = open_task(cloud, deps, "rv-std", "M1", "final")
    previews = cloud.client("s3").list_objects_v2(Bucket=cloud.resources.buckets["media"],
                                                  Prefix="previews/rv-std/M1/")["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in previews} == {"mobile.html", "pc.html"}
    assert decide(cloud, final, {"decision": "approve"})[0] == 200
    wait_for_status(cloud, deps, "rv-std", "M1", "published")
    assert review_cost(cloud, "rv-std", "M1", "b-m1") == (2, 0)


def test_reject_then_fixed_upload_gets_a_fresh_review_and_history_keeps_both(cloud, deps, merchants):
    """docs/review.md: ordinary, rejected at pre-review -> 2 Standard transitions."""
    product_ready_for_review(deps, "rv-std", "R1", "b-r1")
    review.start_review(deps, "rv-std", "R1", "b-r1")
    pre = open_task(cloud, deps, "rv-std", "R1", "pre")
    assert decide(cloud, pre, {"decision": "reject", "reasons": ["TITLE_MISLEADING"], "note": "标题夸大"})[0] == 200
    wait_for_status(cloud, deps, "rv-std", "R1", "needs_fix")
    item = get_product(deps, "rv-std", "R1")
    assert item["rejection"]["reasons"] == ["TITLE_MISLEADING"] and item["rejection"]["stage"] == "pre"
    assert any(f["code"] == "PIPE_REVIEW_REJECTED" and "TITLE_MISLEADING" in f["message_en"] for f in item["findings"])
    assert review_cost(cloud, "rv-std", "R1", "b-r1") == (2, 0)
    # The merchant's fixed upload is a new batch: a fresh review, the old one kept (as validate's
    # admission of a new revision leaves it: the earlier history archived)
    archive_history(deps, item)
    product_ready_for_review(deps, "rv-std", "R1", "b-r1-fixed", title="纯棉圆领T恤 男款 夏季 修正")
    review.start_review(deps, "rv-std", "R1", "b-r1-fixed")
    pre2 = open_task(cloud, deps, "rv-std", "R1", "pre")
    assert pre2["task_id"] != pre["task_id"] and pre2["batch_id"] == "b-r1-fixed"
    decide(cloud, pre2, {"decision": "approve"})
    decide(cloud, open_task(cloud, deps, "rv-std", "R1", "final"), {"decision": "approve"})
    wait_for_status(cloud, deps, "rv-std", "R1", "published")
    history = product_history(deps, "rv-std", "R1")      # each entry with its batch
    assert [h["status"] for h in history if h.get("batch_id") == "b-r1"][-1] == "needs_fix"
    assert [h["status"] for h in history if h.get("batch_id") == "b-r1-fixed"][-1] == "published"
    assert deps.store.get(*keys.task(pre["task_id"]))["decision"]["reasons"] == ["TITLE_MISLEADING"]


def test_a_rejection_at_final_review_sends_the_product_back_naming_the_final_stage(cloud, deps, merchants):
    """docs/review.md: ordinary, rejected at final review -> 3 Standard transitions."""
    product_ready_for_review(deps, "rv-std", "RF1", "b-rf1")
    review.start_review(deps, "rv-std", "RF1", "b-rf1")
    assert decide(cloud, open_task(cloud, deps, "rv-std", "RF1", "pre"), {"decision": "approve"})[0] == 200
    final = open_task(cloud, deps, "rv-std", "RF1", "final")
    code, _ = decide(cloud, final, {"decision": "reject", "reasons": ["DETAIL_PAGE_MISMATCH"], "note": "详情与标题不符"})
    assert code == 200
    wait_for_status(cloud, deps, "rv-std", "RF1", "needs_fix")
    item = get_product(deps, "rv-std", "RF1")
    assert item["rejection"]["stage"] == "final" and item["rejection"]["reasons"] == ["DETAIL_PAGE_MISMATCH"]
    assert item["rejection"]["reviewer"] == sub_of(REVIEWER)
    [f] = [f for f in item["findings"] if f["code"] == "PIPE_REVIEW_REJECTED"]
    assert "final" in f["message_en"] and "DETAIL_PAGE_MISMATCH" in f["message_en"]
    assert "approved" not in [h["status"] for h in history_of(item) if h.get("batch_id") == "b-rf1"]
    assert review_cost(cloud, "rv-std", "RF1", "b-rf1") == (3, 0)


def test_an_undecided_task_escalates_to_ops_on_time_out(cloud, deps, merchants, monkeypatch):
    """docs/review.md: time-out escalation -> +1 Standard transition (3 for an approved product)."""
    monkeypatch.setenv("SHANGJIA_REVIEW_SLA_PRE_S", "2")      # hours on AWS; seconds here
    product_ready_for_review(deps, "rv-std", "T1", "b-t1")
    review.start_review(deps, "rv-std", "T1", "b-t1")
    first = open_task(cloud, deps, "rv-std", "T1", "pre", escalated=False)
    esc = open_task(cloud, deps, "rv-std", "T1", "pre", escalated=True, timeout_s=30)
    assert esc["queue"] == "ops" and esc["task_id"] != first["task_id"]
    code, out = decide(cloud, esc, {"decision": "approve"})                # a reviewer may not
    assert code == 409 and "ops" in out["error"]
    code, out = decide(cloud, first, {"decision": "approve"})              # too late: it lapsed
    assert code == 409 and "lapsed" in out["error"]
    assert decide(cloud, esc, {"decision": "approve"}, who=OPS)[0] == 200
    decide(cloud, open_task(cloud, deps, "rv-std", "T1", "final"), {"decision": "approve"})
    wait_for_status(cloud, deps, "rv-std", "T1", "published")
    assert review_cost(cloud, "rv-std", "T1", "b-t1") == (2 + 1, 0)


def test_key_product_waits_for_the_publishing_window(cloud, deps, merchants, monkeypatch):
    """docs/review.md: VIP, approved -> no Standard transitions, one Express execution."""
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T00:00:00+00:00")     # 08:00 Asia/Shanghai
    product_ready_for_review(deps, "rv-vip", "W1", "b-w1", key_product=True)
    review.start_review(deps, "rv-vip", "W1", "b-w1")                    # VIP: the Express workflow
    wait_for_status(cloud, deps, "rv-vip", "W1", "scheduled")
    item = get_product(deps, "rv-vip", "W1")
    assert item["publish_at"].startswith("2026-11-26T02:00:00")           # 10:00 Asia/Shanghai
    # The scheduler runs at 09:59:59: the product is not due yet and stays scheduled.
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T01:59:59+00:00")
    cloud.runtime.invoke("publish_scheduler", {"source": "aws.events", "detail-type": "Scheduled Event",
                                               "detail": {}})
    item = get_product(deps, "rv-vip", "W1")
    assert item["status"] == "scheduled" and "channels_requested" not in item, \
        "nothing publishes before the window opens"
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T02:00:01+00:00")
    wait_for_status(cloud, deps, "rv-vip", "W1", "published")
    assert review_cost(cloud, "rv-vip", "W1", "b-w1") == (0, 1), "the VIP path bills no Standard transitions"


def test_vip_audit_sample_goes_to_reviewers(cloud, deps, merchants):
    """docs/review.md: VIP audit sample, approved -> 2 Standard transitions and the Express execution."""
    deps.store.update(*keys.merchant("rv-vip"), "SET vip_sample_rate = :r", values={":r": 1.0})
    try:
        product_ready_for_review(deps, "rv-vip", "S1", "b-s1")
        review.start_review(deps, "rv-vip", "S1", "b-s1")
        pre = open_task(cloud, deps, "rv-vip", "S1", "pre")
        assert get_product(deps, "rv-vip", "S1")["audit_sample"]
        decide(cloud, pre, {"decision": "approve"})
        decide(cloud, open_task(cloud, deps, "rv-vip", "S1", "final"), {"decision": "approve"})
        wait_for_status(cloud, deps, "rv-vip", "S1", "published")
        assert review_cost(cloud, "rv-vip", "S1", "b-s1") == (2, 1)
    finally:
        deps.store.update(*keys.merchant("rv-vip"), "SET vip_sample_rate = :r", values={":r": 0})


def test_a_failing_step_ends_failed_with_its_cause_not_running_forever(cloud, deps, merchants):
    """A corrupt product record makes the pre-review check raise (not ``Transient``: no retry); the
    state machine catches it into RecordFailure, which records the error and its cause."""
    product_ready_for_review(deps, "rv-vip", "F1", "b-f1")
    deps.store.update(*keys.product("rv-vip", "F1"), "SET #p = :p", names={"#p": "product"},
                      values={":p": "<corrupt record>"})              # not a product: checks raise
    review.start_review(deps, "rv-vip", "F1", "b-f1")
    wait_for_status(cloud, deps, "rv-vip", "F1", "failed")
    item = get_product(deps, "rv-vip", "F1")
    assert item["failure"]["error"] == "AttributeError"
    assert "'str' object has no attribute 'get'" in item["failure"]["cause"]
    assert [h["status"] for h in history_of(item)][-2:] == ["in_review", "failed"]
    sfn = cloud.client("stepfunctions")
    name = keys.execution_name("rv-vip", "F1", "b-f1")
    [ex] = [e for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=cloud.resources.state_machines["review_auto"]) for e in page["executions"] if e["name"] == name]
    assert cloud.wait_until(lambda: sfn.describe_execution(executionArn=ex["executionArn"])["status"] != "RUNNING",
                            timeout_s=30), "the execution is still RUNNING"
    assert sfn.describe_execution(executionArn=ex["executionArn"])["status"] == "FAILED"
