"""A batch reaches its final state, once, and the merchant is told, once (handlers' core on moto).

What a merchant sees: the batch's status and outcome counts, one notice item under
NOTICES#<merchant>, one SNS message with the counts and the report's API path; the week's failure
index; the weekly report built from it."""

import json

import boto3
import pytest
from shangjia.pipeline import batches, keys, notices, views
from shangjia.pipeline.failures import week_failures, week_of, write_weekly
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.products import set_status
from shangjia.pipeline.validate import validate_message
from shangjia.status import ProductStatus as PS

from tests.integration.validate_queue import drain_validate

M = "m1"


@pytest.fixture
def m1(deps):
    put_merchant(deps.store, M, name="M", annual_sales_cny=9_000_000, channels=["own_shop", "wechat"])
    return deps


@pytest.fixture
def inbox(aws):
    """An SQS queue subscribed to the notices topic: what an e-mail or webhook subscriber gets."""
    sqs, sns = boto3.client("sqs", region_name="us-east-1"), boto3.client("sns", region_name="us-east-1")
    url = sqs.create_queue(QueueName="notice-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws.topics["notices"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})

    def read():
        out = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(msgs)])
        return out
    return read


def _upload(deps, aws, tmp_path, key, n, *, seed=1, invalid_ratio=0.0):
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / f"s{seed}.xlsx"
    write_sample_workbook(path, n, seed=seed, invalid_ratio=invalid_ratio)
    data = path.read_bytes()
    v = boto3.client("s3", region_name="us-east-1").put_object(Bucket=aws.buckets["drop"], Key=key,
                                                              Body=data).get("VersionId")
    return ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v)).batch_id


def _drain(aws):
    return sorted(drain_validate(aws), key=lambda m: m["options"]["seq"])


def _batch(deps, batch_id):
    return deps.store.get(*keys.batch(batch_id))


def _notices(deps):
    return deps.store.query(notices.notices_pk(M))


def _publish_all(deps, batch_id, spus):
    """What review and publishing do to a valid product, through the same status writes."""
    for spu in spus:
        for target in (PS.IN_REVIEW, PS.APPROVED, PS.PUBLISHING, PS.PUBLISHED):
            set_status(deps, M, spu, target, batch_id=batch_id)


def test_a_check_only_batch_settles_once_and_the_merchant_is_told_once(m1, aws, tmp_path, inbox):
    batch_id = _upload(m1, aws, tmp_path, f"{M}/check/goods.xlsx", 4, invalid_ratio=0.5)
    msgs = _drain(aws)
    for msg in msgs:
        validate_message(m1, msg)
    b = _batch(m1, batch_id)
    assert b["status"] == "settled"
    out = b["outcome"]
    assert out["checked"] + out["needs_fix"] == 4 and out["needs_fix"] >= 1
    # duplicate deliveries of every message, and late callers, change nothing
    for msg in msgs:
        validate_message(m1, msg)
    assert batches.maybe_settle(m1, batch_id) is False
    again = _batch(m1, batch_id)
    assert again["settled_at"] == b["settled_at"] and again["outcome"] == out
    items = _notices(m1)
    assert len(items) == 1 and items[0]["sent_at"] and items[0]["delivery"] == "sns"
    got = inbox()
    assert len(got) == 1
    msg = got[0]
    assert msg["kind"] == "batch_settled" and msg["batch_id"] == batch_id and msg["merchant_id"] == M
    assert msg["outcome"] == {k: v for k, v in out.items() if v}
    assert msg["report"]["api_path"] == f"/api/batches/{batch_id}/report"
    assert msg["report"]["xlsx_key"] == f"{M}/{batch_id}/report.xlsx"
    assert f"GET /api/batches/{batch_id}/report" in msg["text_en"] and "需修改" in msg["text_zh"]
    assert views.batch_summary(m1, b)["products_settled"] == 4


def test_a_batch_stays_processing_until_its_last_product_settles(m1, aws, tmp_path, inbox):
    batch_id = _upload(m1, aws, tmp_path, f"{M}/goods.xlsx", 3)
    for msg in _drain(aws):
        validate_message(m1, msg)
    spus = [p["spu_code"] for p in views.batch_products(m1, batch_id)]
    assert len(spus) == 3 and _batch(m1, batch_id)["status"] == "processing"
    _publish_all(m1, batch_id, spus[:2])
    assert _batch(m1, batch_id)["status"] == "processing" and not inbox()
    # the last one fails in the workflow: the batch settles with its counts
    for target in (PS.IN_REVIEW,):
        set_status(m1, M, spus[2], target, batch_id=batch_id)
    set_status(m1, M, spus[2], PS.FAILED, batch_id=batch_id, extra={"failure": {"error": "States.Timeout"}})
    b = _batch(m1, batch_id)
    assert b["status"] == "settled"
    assert b["outcome"]["published"] == 2 and b["outcome"]["failed"] == 1
    # a duplicate of the last move (a retried step) is a no-op
    assert set_status(m1, M, spus[2], PS.FAILED, batch_id=batch_id) is False
    assert len(inbox()) == 1 and len(_notices(m1)) == 1
    # the failure is in the week's index, with its cause
    week = week_of(m1.clock.now())
    failed = [f for f in week_failures(m1, week) if f["batch_id"] == batch_id]
    assert [f["outcome"] for f in failed] == ["failed"] and failed[0]["codes"] == ["FAILURE_STAGE_FAILED"]


def test_a_reupload_supersedes_products_and_both_batches_settle(m1, aws, tmp_path, inbox):
    first = _upload(m1, aws, tmp_path, f"{M}/goods.xlsx", 3, invalid_ratio=1.0)
    for msg in _drain(aws):
        validate_message(m1, msg)
    assert _batch(m1, first)["outcome"]["needs_fix"] == 3
    # the same products again, now valid: they move to the new batch
    second = _upload(m1, aws, tmp_path, f"{M}/goods-fixed.xlsx", 3, invalid_ratio=0.0)
    for msg in _drain(aws):
        validate_message(m1, msg)
    moved = [p for p in views.batch_products(m1, second) if p.get("batch_id") == second]
    assert len(moved) == 3
    _publish_all(m1, second, [p["spu_code"] for p in moved])
    b1, b2 = _batch(m1, first), _batch(m1, second)
    assert b1["status"] == b2["status"] == "settled"
    assert b2["outcome"]["published"] == 3
    s1 = views.batch_summary(m1, b1)
    assert s1["settled"] and s1["products_settled"] == 3 and s1["products_total"] == 3   # not 0/3
    assert {n["batch_id"] for n in _notices(m1)} == {first, second} and len(inbox()) == 2


def test_a_batch_left_processing_by_older_code_settles_when_a_reupload_supersedes_it(m1, aws, tmp_path):
    first = _upload(m1, aws, tmp_path, f"{M}/goods.xlsx", 3, invalid_ratio=1.0)
    for msg in _drain(aws):
        validate_message(m1, msg)
    # as it was before batches settled: no settle counts, still processing, no notice
    pk, _ = keys.batch(first)
    m1.store.delete(pk, "SETTLE#00000")
    m1.store.update(pk, "META", "SET #s = :p REMOVE settled_at, outcome, notice_sent_at, counter_shard",
                    names={"#s": "status"}, values={":p": "processing"})
    for p in views.batch_products(m1, first):       # nor did its products know their count items' size
        m1.store.update(*keys.product(M, p["spu_code"]), "REMOVE counter_shard")
    assert views.batch_summary(m1, _batch(m1, first))["products_settled"] == 0
    _upload(m1, aws, tmp_path, f"{M}/goods-fixed.xlsx", 3, invalid_ratio=0.0)
    for msg in _drain(aws):
        validate_message(m1, msg)
    b1 = _batch(m1, first)
    assert b1["status"] == "settled" and b1["outcome"]["superseded"] == 3


def test_weekly_report_groups_the_weeks_failures_and_rewrites_the_same_keys(m1, aws, tmp_path):
    batch_id = _upload(m1, aws, tmp_path, f"{M}/check/goods.xlsx", 6, invalid_ratio=0.5)
    for msg in _drain(aws):
        validate_message(m1, msg)
    week = week_of(m1.clock.now())
    out = write_weekly(m1, week)
    s3 = boto3.client("s3", region_name="us-east-1")
    doc = json.loads(s3.get_object(Bucket=aws.buckets["reports"], Key=f"weekly/{week}.json")["Body"].read())
    needs_fix = _batch(m1, batch_id)["outcome"]["needs_fix"]
    assert doc["week"] == week and doc["totals"]["failures"] == needs_fix >= 1
    assert doc["by_merchant"] == [{"merchant_id": M, "count": needs_fix, "previous": 0, "change": needs_fix}]
    top = doc["by_code"][0]
    assert top["count"] >= 1 and top["examples"] and top["examples"][0]["merchant_id"] == M
    assert top["examples"][0]["row"] and top["message_zh"]
    xlsx = s3.get_object(Bucket=aws.buckets["reports"], Key=f"weekly/{week}.xlsx")["Body"].read()
    assert xlsx[:2] == b"PK"
    again = write_weekly(m1, week)
    assert again["json_key"] == out["json_key"] == f"weekly/{week}.json"
    listed = s3.list_objects_v2(Bucket=aws.buckets["reports"], Prefix="weekly/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"weekly/{week}.json", f"weekly/{week}.xlsx"]


def test_the_scheduled_function_and_the_cli_write_the_report(m1, aws, handler, capsys):
    from shangjia.cli import main

    out = handler("failure_report")({"version": "0", "id": "1", "detail-type": "Scheduled Event",
                                     "source": "aws.events", "account": "123456789012",
                                     "time": "2026-11-23T01:00:00Z", "region": "us-east-1", "resources": [],
                                     "detail": {}})
    assert out["week"] == "2026-W47" and out["json_key"] == "weekly/2026-W47.json"   # the clock: Wed of W48
    assert main(["failures", "report", "--week", "2026-W48"]) == 0
    printed = capsys.readouterr().out
    assert "week 2026-W48: 0 failures" in printed and "weekly/2026-W48.xlsx" in printed
    assert main(["failures", "report", "--week", "2026-48"]) == 2
    assert "FAILURE_WEEK_INVALID" in capsys.readouterr().err


def test_products_settling_short_of_the_total_read_no_batch_item(m1, aws, tmp_path, inbox):
    """The first settle item knows the batch's product count: a product settled short of it does
    not read the batch to learn that the batch is not settled; the last one settles it."""
    batch_id = _upload(m1, aws, tmp_path, f"{M}/goods.xlsx", 3, seed=4)
    for msg in _drain(aws):
        validate_message(m1, msg)
    spus = [p["spu_code"] for p in views.batch_products(m1, batch_id)]
    reads = []
    store = m1.store
    real = store.get
    m1.store.get = lambda pk, sk, **kw: (reads.append((pk, sk)), real(pk, sk, **kw))[1]
    try:
        _publish_all(m1, batch_id, spus[:2])
        assert keys.batch(batch_id) not in reads
        _publish_all(m1, batch_id, spus[2:])
    finally:
        del m1.store.get
    assert keys.batch(batch_id) in reads
    assert _batch(m1, batch_id)["status"] == "settled" and len(inbox()) == 1
