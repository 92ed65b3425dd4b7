"""Two-stage review on moto's Step Functions interpreter, with the real definition files."""

import os
import time

import pytest

from shangjia.pipeline import keys, review
from shangjia.pipeline.merchants import put_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]
REVIEWER = {"sub": "rev-1", "cognito:groups": "[reviewer]"}
OPS = {"sub": "ops-1", "cognito:groups": "[ops]"}


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
                    "key_product": key_product,
                    "skus": [{"sku_code": f"{spu}-1", "spec": {"颜色": "白色"}, "price_fen": 5900, "stock": 10}]},
        "media": {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/x/main.webp", "width": 800}]}},
    })


def status(deps, merchant, spu):
    return (deps.store.get(*keys.product(merchant, spu)) or {}).get("status")


def open_task(cloud, deps, merchant, spu, stage, state="open", timeout_s=30):
    found = []

    def look():
        found[:] = [t for t in review.list_tasks(deps, stage, state) if t["spu_code"] == spu
                    and t["merchant_id"] == merchant]
        return bool(found)

    assert cloud.wait_until(look, timeout_s=timeout_s), f"no {state} {stage} task for {spu}"
    return found[0]


def decide(cloud, task, body, claims=REVIEWER):
    status_code, out = cloud.api("POST", f"/api/review/tasks/{task['task_id']}/decision", claims=claims, body=body)
    return status_code, out


def transitions(cloud, merchant, spu, batch):
    return cloud.count_state_transitions()[f"review_manual:{keys.execution_name(merchant, spu, batch)}"]


def test_manual_path_takes_two_transitions_and_a_duplicate_decision_is_refused(cloud, deps, merchants):
    product_ready_for_review(deps, "rv-std", "M1", "b-m1")
    assert review.start_review(deps, "rv-std", "M1", "b-m1")
    assert review.start_review(deps, "rv-std", "M1", "b-m1") is None, "a duplicate start is a no-op"
    pre = open_task(cloud, deps, "rv-std", "M1", "pre")
    assert status(deps, "rv-std", "M1") == "in_review"
    assert decide(cloud, pre, {"decision": "approve"})[0] == 200
    code, out = decide(cloud, pre, {"decision": "reject", "reasons": ["X"]}, claims={**REVIEWER, "sub": "rev-2"})
    assert code == 409 and "already decided" in out["error"]
    final = open_task(cloud, deps, "rv-std", "M1", "final")
    previews = cloud.client("s3").list_objects_v2(Bucket=cloud.resources.buckets["media"],
                                                  Prefix="previews/rv-std/M1/")["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in previews} == {"mobile.html", "pc.html"}
    assert decide(cloud, final, {"decision": "approve"})[0] == 200
    assert cloud.wait_until(lambda: status(deps, "rv-std", "M1") == "published", timeout_s=30)
    assert transitions(cloud, "rv-std", "M1", "b-m1") == 2


def test_reject_then_fixed_upload_gets_a_fresh_review_and_history_keeps_both(cloud, deps, merchants):
    product_ready_for_review(deps, "rv-std", "R1", "b-r1")
    review.start_review(deps, "rv-std", "R1", "b-r1")
    pre = open_task(cloud, deps, "rv-std", "R1", "pre")
    assert decide(cloud, pre, {"decision": "reject", "reasons": ["TITLE_MISLEADING"], "note": "标题夸大"})[0] == 200
    assert cloud.wait_until(lambda: status(deps, "rv-std", "R1") == "needs_fix", timeout_s=30)
    item = deps.store.get(*keys.product("rv-std", "R1"))
    assert item["rejection"]["reasons"] == ["TITLE_MISLEADING"] and item["rejection"]["stage"] == "pre"
    assert any(f["code"] == "PIPE_REVIEW_REJECTED" and "TITLE_MISLEADING" in f["message_en"] for f in item["findings"])
    # The merchant's fixed upload is a new batch: a fresh review, the old one kept.
    product_ready_for_review(deps, "rv-std", "R1", "b-r1-fixed", title="纯棉圆领T恤 男款 夏季 修正")
    deps.store.update(*keys.product("rv-std", "R1"), "SET history = :h", values={":h": item["history"] + [
        {"status": "media", "batch_id": "b-r1-fixed"}]})
    review.start_review(deps, "rv-std", "R1", "b-r1-fixed")
    pre2 = open_task(cloud, deps, "rv-std", "R1", "pre")
    assert pre2["task_id"] != pre["task_id"] and pre2["batch_id"] == "b-r1-fixed"
    decide(cloud, pre2, {"decision": "approve"})
    decide(cloud, open_task(cloud, deps, "rv-std", "R1", "final"), {"decision": "approve"})
    assert cloud.wait_until(lambda: status(deps, "rv-std", "R1") == "published", timeout_s=30)
    history = deps.store.get(*keys.product("rv-std", "R1"))["history"]
    assert [h["status"] for h in history if h.get("batch_id") == "b-r1"][-1] == "needs_fix"
    assert [h["status"] for h in history if h.get("batch_id") == "b-r1-fixed"][-1] == "published"
    assert deps.store.get(*keys.task(pre["task_id"]))["decision"]["reasons"] == ["TITLE_MISLEADING"]


def test_an_undecided_task_escalates_to_ops_on_time_out(cloud, deps, merchants, monkeypatch):
    monkeypatch.setenv("SHANGJIA_REVIEW_SLA_PRE_S", "2")      # hours on AWS; seconds here
    product_ready_for_review(deps, "rv-std", "T1", "b-t1")
    review.start_review(deps, "rv-std", "T1", "b-t1")
    first = open_task(cloud, deps, "rv-std", "T1", "pre")
    esc = open_task(cloud, deps, "rv-std", "T1", "pre", timeout_s=30)
    while not esc.get("escalated"):
        time.sleep(0.5)
        esc = next((t for t in review.list_tasks(deps, "pre") if t["spu_code"] == "T1" and t.get("escalated")), esc)
    assert esc["queue"] == "ops" and esc["task_id"] != first["task_id"]
    code, out = decide(cloud, esc, {"decision": "approve"})                # a reviewer may not
    assert code == 409 and "ops" in out["error"]
    code, out = decide(cloud, first, {"decision": "approve"})              # too late: it lapsed
    assert code == 409 and "lapsed" in out["error"]
    assert decide(cloud, esc, {"decision": "approve"}, claims=OPS)[0] == 200
    decide(cloud, open_task(cloud, deps, "rv-std", "T1", "final"), {"decision": "approve"})
    assert cloud.wait_until(lambda: status(deps, "rv-std", "T1") == "published", timeout_s=30)


def test_key_product_waits_for_the_publishing_window(cloud, deps, merchants, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T00:00:00+00:00")     # 08:00 Asia/Shanghai
    product_ready_for_review(deps, "rv-vip", "W1", "b-w1", key_product=True)
    review.start_review(deps, "rv-vip", "W1", "b-w1")                    # VIP: the Express workflow
    assert cloud.wait_until(lambda: status(deps, "rv-vip", "W1") == "scheduled", timeout_s=30)
    item = deps.store.get(*keys.product("rv-vip", "W1"))
    assert item["publish_at"].startswith("2026-11-26T02:00:00")           # 10:00 Asia/Shanghai
    time.sleep(2.5)                                                      # the scheduler ticks every second
    assert status(deps, "rv-vip", "W1") == "scheduled", "nothing publishes before the window opens"
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T02:00:01+00:00")
    assert cloud.wait_until(lambda: status(deps, "rv-vip", "W1") == "published", timeout_s=30)
    assert not [k for k in cloud.count_state_transitions() if k.endswith(keys.execution_name("rv-vip", "W1", "b-w1"))], \
        "the VIP path bills no Standard transitions"


def test_vip_audit_sample_goes_to_reviewers(cloud, deps, merchants):
    deps.store.update(*keys.merchant("rv-vip"), "SET vip_sample_rate = :r", values={":r": 1.0})
    try:
        product_ready_for_review(deps, "rv-vip", "S1", "b-s1")
        review.start_review(deps, "rv-vip", "S1", "b-s1")
        pre = open_task(cloud, deps, "rv-vip", "S1", "pre")
        assert deps.store.get(*keys.product("rv-vip", "S1"))["audit_sample"]
        decide(cloud, pre, {"decision": "approve"})
        decide(cloud, open_task(cloud, deps, "rv-vip", "S1", "final"), {"decision": "approve"})
        assert cloud.wait_until(lambda: status(deps, "rv-vip", "S1") == "published", timeout_s=30)
    finally:
        deps.store.update(*keys.merchant("rv-vip"), "SET vip_sample_rate = :r", values={":r": 0})


def test_a_failing_step_ends_failed_with_its_cause_not_running_forever(cloud, deps, merchants):
    product_ready_for_review(deps, "rv-vip", "F1", "b-f1")
    deps.store.update(*keys.product("rv-vip", "F1"), "REMOVE product")      # a broken record: checks raise
    review.start_review(deps, "rv-vip", "F1", "b-f1")
    assert cloud.wait_until(lambda: status(deps, "rv-vip", "F1") in ("failed", "needs_fix"), timeout_s=30)
    item = deps.store.get(*keys.product("rv-vip", "F1"))
    assert item["status"] == "needs_fix" or item["failure"]["cause"]
    assert os.environ.get("SHANGJIA_CLOCK")
