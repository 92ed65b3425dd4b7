import json

import pytest

from tests.support.events import load_event
from shangjia.pipeline.products import get_product
from shangjia.pipeline import keys, review, views
from shangjia.pipeline.merchants import put_merchant


@pytest.fixture(autouse=True)
def product_in_review(deps):
    """The product the sample task token belongs to, complete enough to pass pre-review checks."""
    pk, sk = keys.product("m-std-002", "SPU-0001")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m-std-002", "spu_code": "SPU-0001",
                    "batch_id": "4b1d0c6e2f8a9b3c5d7e", "status": "in_review",
                    "product": {"spu_code": "SPU-0001", "title": "真丝连衣裙 夏季新款", "category": "服饰鞋包/女装/连衣裙",
                                "brand": "无品牌", "skus": [{"sku_code": "S1", "price_fen": 29900, "stock": 3}]}})


def _sqs(bodies):
    doc = load_event("review_tasks/task_token.json")
    rec = doc["Records"][0]
    return {"Records": [{**rec, "messageId": f"m{i}", "body": json.dumps(b)} for i, b in enumerate(bodies)]}


def test_review_task_recorded_once_under_duplicate_delivery(deps, handler):
    fn = handler("review_tasks")
    body = json.loads(load_event("review_tasks/task_token.json")["Records"][0]["body"])
    out = fn(_sqs([body, body]))
    assert out == {"batchItemFailures": []}
    fn(_sqs([body]))
    tasks = review.list_tasks(deps, "pre")
    assert len(tasks) == 1 and tasks[0]["spu_code"] == "SPU-0001" and tasks[0]["sla_deadline"] > tasks[0]["created_at"]


def test_an_auto_rejected_task_delivered_again_releases_its_workflow_again_and_records_nothing_new(deps):
    """record_task writes the task create-only with no read first: a duplicate delivery finds it
    by the refused write and, for a task the checks rejected, tells the workflow again (the first
    delivery may have died before it did)."""
    body = json.loads(load_event("review_tasks/task_token.json")["Records"][0]["body"])
    body["stage"] = "final"
    pk, sk = keys.product(body["merchant_id"], body["spu_code"])
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": body["merchant_id"], "spu_code": body["spu_code"],
                    "batch_id": body["batch_id"], "status": "in_review", "media": {},       # no main image
                    "product": {"spu_code": body["spu_code"], "title": "纯棉圆领T恤", "category": "服饰鞋包/男装/T恤",
                                "skus": [{"sku_code": "S-1", "spec": {}, "price_fen": 100, "stock": 1}]}})
    deps.workflows = RecordingWorkflows()
    assert review.record_task(deps, body) == "auto_rejected"
    assert review.record_task(deps, body) == "duplicate"
    assert len(deps.workflows.released) == 2 and deps.workflows.released[0] == deps.workflows.released[1]
    assert deps.workflows.released[0][1] == review.REJECTED
    assert len(review.list_tasks(deps, "final", "auto_rejected")) == 1


def test_poison_record_is_reported_alone(deps, handler):
    fn = handler("review_tasks")
    good = json.loads(load_event("review_tasks/task_token.json")["Records"][0]["body"])
    out = fn(_sqs([good, {"nonsense": True}]))
    assert out == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_ingest_ignores_the_s3_test_event(deps, handler):
    assert handler("ingest")(load_event("ingest/s3_test_event.json")) == {"batchItemFailures": []}


def test_unknown_merchant_rejects_the_batch_with_a_reason(deps, handler, aws):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    key = "m-vip-001/上新 第1批.xlsx"           # the sample's URL-encoded key, decoded
    put = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=b"PK\x03\x04 not really")
    event = load_event("ingest/s3_object_created.json")
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = aws.buckets["drop"]
    body["Records"][0]["s3"]["object"]["versionId"] = put.get("VersionId")
    event["Records"][0]["body"] = json.dumps(body)
    assert handler("ingest")(event) == {"batchItemFailures": []}
    batches = views.merchant_batches(deps, "m-vip-001")
    assert len(batches) == 1 and batches[0]["key"] == key
    assert batches[0]["status"] == "rejected" and batches[0]["rejection"]["code"] == "PIPE_UNKNOWN_MERCHANT"
    handler("ingest")(event)                                    # a duplicate event
    assert len(views.merchant_batches(deps, "m-vip-001")) == 1


def _task(deps):
    body = json.loads(load_event("review_tasks/task_token.json")["Records"][0]["body"])
    review.record_task(deps, body)
    return review.list_tasks(deps, "pre")[0]


class RecordingWorkflows:
    def __init__(self):
        self.released = []

    def task_success(self, token, output):
        self.released.append((token, output))

    def task_failure(self, token, error, cause):
        self.released.append((token, error, json.loads(cause)))


def test_decision_is_applied_exactly_once_and_refused_after(deps):
    task = _task(deps)
    deps.workflows = RecordingWorkflows()
    alice, bob = {"id": "alice", "role": "reviewer"}, {"id": "bob", "role": "reviewer"}
    review.claim(deps, task["task_id"], alice)
    with pytest.raises(review.DecisionRefused, match="claimed"):
        review.claim(deps, task["task_id"], bob)
    first = review.decide(deps, task["task_id"], alice, "approve")
    again = review.decide(deps, task["task_id"], alice, "approve")        # a retried request
    assert first["applied"] and not again["applied"]
    with pytest.raises(review.DecisionRefused, match="already decided"):
        review.decide(deps, task["task_id"], bob, "reject", reasons=["X"])
    audit = deps.store.query(keys.task(task["task_id"])[0], sk_prefix="AUDIT#")
    assert len(audit) == 1 and audit[0]["actor"] == "alice"


def test_only_reviewers_decide_and_rejections_need_a_reason(deps):
    task = _task(deps)
    with pytest.raises(review.DecisionRefused, match="role"):
        review.decide(deps, task["task_id"], {"id": "e", "role": "editor"}, "approve")
    with pytest.raises(review.DecisionRefused, match="reason"):
        review.decide(deps, task["task_id"], {"id": "r", "role": "reviewer"}, "reject")


def _api(handler, event):
    r = handler("api")(event)
    return r["statusCode"], json.loads(r["body"]) if r.get("body") else None


def test_merchant_sees_only_its_own_batches(deps, handler):
    for b, m in (("4b1d0c6e2f8a9b3c5d7e", "m-std-002"), ("ownbatch0000000000000", "m-vip-001")):
        pk, sk = keys.batch(b)
        deps.store.put({"pk": pk, "sk": sk, "batch_id": b, "merchant_id": m, "status": "processing",
                        "key": f"{m}/x.xlsx", "products_total": 0})
    event = load_event("api/get_batch_as_merchant.json")      # merchant m-vip-001 asks for m-std-002's batch
    status, body = _api(handler, event)
    assert status == 404
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/batches/ownbatch0000000000000"
    status, body = _api(handler, event)
    assert status == 200 and body["merchant_id"] == "m-vip-001"


def test_api_decision_conflict_is_a_clean_409(deps, handler, monkeypatch):
    task = _task(deps)
    from shangjia import lambda_kit

    event = load_event("api/decide_task.json")
    path = f"/api/review/tasks/{task['task_id']}/decision"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    fn = handler("api")
    monkeypatch.setattr(lambda_kit.deps(), "workflows", RecordingWorkflows())
    from shangjia.adapters.aws import DynamoStore

    reads, real = [], DynamoStore.get
    monkeypatch.setattr(DynamoStore, "get", lambda self, pk, sk, **kw: (reads.append(pk), real(self, pk, sk, **kw))[1])
    r = fn(event)
    assert r["statusCode"] == 200 and json.loads(r["body"])["applied"]
    assert reads.count(f"TASK#{task['task_id']}") == 1, "the API's read of the task is the decision's (no second)"
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "someone-else"
    r = fn(event)
    assert r["statusCode"] == 409 and "already decided" in json.loads(r["body"])["error"]


def test_publish_records_one_listing_per_channel_under_duplicates(deps, handler):
    put_merchant(deps.store, "m-vip-001", name="V", annual_sales_cny=9_000_000, channels=["own_shop"])
    pk, sk = keys.product("m-vip-001", "SPU-0001")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m-vip-001", "spu_code": "SPU-0001",
                    "batch_id": "4b1d0c6e2f8a9b3c5d7e", "status": "publishing", "channels_requested": ["own_shop"],
                    "product": {"spu_code": "SPU-0001", "title": "t", "skus": [], "images": {"main": ["main.jpg"]}},
                    # the own shop shows a main image (its adapter refuses a product without one)
                    "media": {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/main.webp"}]}}})
    body = {"merchant_id": "m-vip-001", "spu_code": "SPU-0001", "batch_id": "4b1d0c6e2f8a9b3c5d7e",
            "channel": "own_shop"}
    ev = load_event("publish/wechat.json")
    rec = ev["Records"][0]
    out = handler("publish")({"Records": [{**rec, "messageId": "a", "body": json.dumps(body)},
                                          {**rec, "messageId": "b", "body": json.dumps(body)}]})
    assert out == {"batchItemFailures": []}
    assert deps.store.get(pk, sk)["status"] == "published"
    assert len(views.channel_listings(deps, "own_shop")) == 1


def _validate_event(batch_id="4b1d0c6e2f8a9b3c5d7e", spu=None):
    ev = load_event("validate/product.json")
    body = json.loads(ev["Records"][0]["body"])
    body["batch_id"] = batch_id
    if spu:
        body["spu_code"] = body["raw"]["spu_code"] = spu
    ev["Records"][0]["body"] = json.dumps(body, ensure_ascii=False)
    return ev, body


def _queue_bodies(url):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        out += [json.loads(m["Body"]) for m in msgs]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(msgs)])


def test_valid_product_claims_its_skus_and_fans_out_its_images_once(deps, handler, aws):
    put_merchant(deps.store, "m-vip-001", name="V", annual_sales_cny=9_000_000)
    ev, body = _validate_event()
    fn = handler("validate")
    assert fn(ev) == {"batchItemFailures": []}
    assert fn(ev) == {"batchItemFailures": []}          # a duplicate delivery
    p = get_product(deps, "m-vip-001", body["spu_code"])
    assert p["status"] == "media" and p["valid"]
    images = _queue_bodies(aws.queues["media"])
    refs = p["product"]["images"]
    pending = deps.store.get(*keys.pending_media("m-vip-001", body["spu_code"], body["batch_id"]))
    assert len(images) == sum(len(v) for v in refs.values()) == len(pending["pending"]) == pending["total"]
    assert {m["files"] for m in images} == {len(images)}         # where each file's result goes
    assert ("ids" in pending) == (len(images) > 6)
    for s in p["product"]["skus"]:
        assert deps.store.get(*keys.sku_claim("m-vip-001", s["sku_code"]))["owner"] == body["spu_code"]


def test_a_sku_code_taken_by_another_product_sends_this_one_back(deps, handler, aws):
    put_merchant(deps.store, "m-vip-001", name="V", annual_sales_cny=9_000_000)
    fn = handler("validate")
    ev1, b1 = _validate_event("batch-one-000000000000")
    ev2, b2 = _validate_event("batch-two-000000000000", spu="OTHER-SPU")     # same SKU codes, other product
    fn(ev1)
    fn(ev2)
    loser = get_product(deps, "m-vip-001", "OTHER-SPU")
    assert loser["status"] == "needs_fix"
    codes = {f["code"] for f in loser["findings"]}
    assert codes == {"PIPE_SKU_CODE_TAKEN"}
    f = loser["findings"][0]
    assert f["row"] and b1["spu_code"] in f["message_en"]


def test_a_claim_is_a_lease_kept_by_heartbeats_and_lapses_without_them(deps, monkeypatch):
    task = _task(deps)
    alice, bob = {"id": "alice", "role": "reviewer"}, {"id": "bob", "role": "reviewer"}
    review.claim(deps, task["task_id"], alice)
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T02:55:00+00:00")          # 25 minutes later
    lease = review.heartbeat(deps, task["task_id"], alice)["lease_until"]
    assert lease.startswith("2026-11-25T03:25")
    with pytest.raises(review.DecisionRefused, match="claimed by alice"):
        review.claim(deps, task["task_id"], bob)
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T03:26:00+00:00")          # no heartbeat since
    assert review.claim(deps, task["task_id"], bob)["assignee"] == "bob"
    with pytest.raises(review.DecisionRefused, match="not claimed by alice"):
        review.heartbeat(deps, task["task_id"], alice)
    with pytest.raises(review.DecisionRefused):
        review.decide(deps, task["task_id"], alice, "approve")


def test_a_reviewer_lists_the_tasks_they_claimed(deps, handler):
    task = _task(deps)
    review.claim(deps, task["task_id"], {"id": "reviewer-7", "role": "reviewer"})
    event = load_event("api/decide_task.json")
    event["requestContext"]["http"]["method"] = "GET"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/review/tasks"
    event["rawQueryString"], event["queryStringParameters"], event["body"] = "assignee=me", {"assignee": "me"}, None
    status, body = _api(handler, event)
    assert status == 200 and [t["task_id"] for t in body["tasks"]] == [task["task_id"]]
    assert "token" not in body["tasks"][0], "a task token is never shown: it alone can approve a product"


def test_a_validate_batch_reads_its_merchant_once(deps, handler, aws, monkeypatch):
    """A merchant's profile is read once per invocation (pipeline/merchants.invocation_memo), not
    once per product of the batch; a warm container keeps it for ``profile_ttl_s`` (30 s), then
    reads it again (a change is seen)."""
    from shangjia.adapters.aws import DynamoStore
    from shangjia.pipeline import merchants

    put_merchant(deps.store, "m-vip-001", name="V", annual_sales_cny=9_000_000)
    reads = []
    real = DynamoStore.get
    monkeypatch.setattr(DynamoStore, "get", lambda self, pk, sk, **kw: (reads.append(pk), real(self, pk, sk, **kw))[1])
    records = []
    for i in range(3):
        ev, _ = _validate_event(f"batch-memo-{i:015d}", spu=f"MEMO-{i}")
        records.append({**ev["Records"][0], "messageId": f"m{i}"})
    fn = handler("validate")
    assert fn({"Records": records}) == {"batchItemFailures": []}
    assert reads.count("MERCHANT#m-vip-001") == 1
    ev, _ = _validate_event("batch-memo-again-0000", spu="MEMO-9")
    fn(ev)
    assert reads.count("MERCHANT#m-vip-001") == 1, "the next invocation in a warm container: no read"
    # another process changes the profile; 31 s later this container reads it again
    deps.store.put({**real(deps.store, "MERCHANT#m-vip-001", "PROFILE"), "shipping_templates": ["只此一个"]})
    later = merchants.time.monotonic() + 31
    monkeypatch.setattr(merchants.time, "monotonic", lambda: later)
    ev, _ = _validate_event("batch-memo-later-0000", spu="MEMO-10")
    fn(ev)
    assert reads.count("MERCHANT#m-vip-001") == 2
    assert merchants.get_merchant(deps.store, "m-vip-001")["shipping_templates"] == ["只此一个"]
