"""A sheet that needs more than one Lambda lifetime continues itself: each invocation stops at its
checkpoint, queues the same upload to the intake queue and succeeds, so the queue's receive
count (3, then the DLQ) never runs out on a big file, and every product is sent exactly once."""

import json

import boto3

from tests.integration.conftest import Ctx
from shangjia.pipeline import keys
from shangjia.pipeline.merchants import put_merchant

PRODUCTS = 35            # ingest checks the time after every 10 products sent


def _drain(sqs, url):
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += msgs
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(msgs)])
    return out


def _record(body, n):
    return {"Records": [{"messageId": f"m{n}", "receiptHandle": f"r{n}", "body": body,
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:intake"}]}


def test_a_sheet_longer_than_a_lifetime_continues_through_the_intake_queue(deps, aws, handler, tmp_path,
                                                                           monkeypatch):
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    path = tmp_path / "big.xlsx"
    write_sample_workbook(path, PRODUCTS, seed=9)
    s3 = boto3.client("s3", region_name="us-east-1")
    key = "m1/上新 大表.xlsx"                       # a space and Chinese: the key travels URL-encoded
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=path.read_bytes()).get("VersionId")
    from urllib.parse import quote_plus

    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": aws.buckets["drop"]},
                                 "object": {"key": quote_plus(key, safe="/"), "size": path.stat().st_size,
                                            "versionId": v}}}]}
    monkeypatch.setattr(Ctx, "get_remaining_time_in_millis", lambda self: 1_000)    # always near the end
    fn = handler("ingest")
    sqs = boto3.client("sqs", region_name="us-east-1")
    _drain(sqs, aws.queues["intake"])              # the bucket's own notifications: this test sends its own
    body, lifetimes = json.dumps(event), 0
    while body is not None:
        lifetimes += 1
        assert fn(_record(body, lifetimes)) == {"batchItemFailures": []}, "a time-out is not a failure"
        queued = _drain(sqs, aws.queues["intake"])
        assert len(queued) <= 1 and all("shangjia_continuation" in json.loads(m["Body"]) for m in queued)
        body = queued[0]["Body"] if queued else None
        assert lifetimes < 10, "the continuation chain must end"
    assert lifetimes == 4                          # 10 + 10 + 10 + 5 products
    spus = [json.loads(m["Body"])["spu_code"] for q in ("validate", "validate_priority")
            for m in _drain(sqs, aws.queues[q])]
    assert len(spus) == PRODUCTS and len(set(spus)) == PRODUCTS, "every product once"
    batch_id = keys.batch_id_for(aws.buckets["drop"], key, v)
    batch = deps.store.get(*keys.batch(batch_id))
    assert batch["products_total"] == PRODUCTS and batch["status"] == "processing"
    # a late duplicate of the first event changes nothing
    assert fn(_record(json.dumps(event), 99)) == {"batchItemFailures": []}
    assert not _drain(sqs, aws.queues["intake"]) and not _drain(sqs, aws.queues["validate"])


def _s3_body(bucket, key, size, version):
    from urllib.parse import quote_plus

    return json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": bucket},
                                           "object": {"key": quote_plus(key, safe="/"), "size": size,
                                                      "versionId": version}}}]})


def test_a_batch_of_ten_answers_the_images_works_on_one_sheet_and_requeues_the_other(deps, aws, handler,
                                                                                   tmp_path):
    """The intake queue delivers ten records at a time. The images beside the sheets are answered
    without a request; the first sheet is ingested; a second sheet in the same batch is queued
    again to its own invocation (not kept waiting behind the first); nothing fails."""
    from shangjia.pipeline import views
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    s3 = boto3.client("s3", region_name="us-east-1")
    bodies = []
    for i in range(8):
        key = f"m1/图/{i}.JPG"
        v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=b"\xff\xd8 not read").get("VersionId")
        bodies.append(_s3_body(aws.buckets["drop"], key, 10, v))
    for n, name in enumerate(("a.xlsx", "b.XLSX")):
        path = tmp_path / f"s{n}.xlsx"
        write_sample_workbook(path, 3, seed=n)
        v = s3.put_object(Bucket=aws.buckets["drop"], Key=f"m1/{name}", Body=path.read_bytes()).get("VersionId")
        bodies.insert(3 + 4 * n, _s3_body(aws.buckets["drop"], f"m1/{name}", path.stat().st_size, v))
    sqs = boto3.client("sqs", region_name="us-east-1")
    _drain(sqs, aws.queues["intake"])              # the bucket's own notifications: this test sends its own
    event = {"Records": [_record(b, i)["Records"][0] for i, b in enumerate(bodies)]}
    event["Records"] = [{**r, "messageId": f"m{i}"} for i, r in enumerate(event["Records"])]
    fn = handler("ingest")
    assert fn(event) == {"batchItemFailures": []}
    assert [b["key"] for b in views.merchant_batches(deps, "m1")] == ["m1/a.xlsx"]
    (requeued,) = _drain(sqs, aws.queues["intake"])
    body = json.loads(requeued["Body"])
    assert body["shangjia_continuation"]["why"] == "requeued"
    assert fn(_record(requeued["Body"], 99)) == {"batchItemFailures": []}       # its own invocation
    assert sorted(b["key"] for b in views.merchant_batches(deps, "m1")) == ["m1/a.xlsx", "m1/b.XLSX"]
    assert _drain(sqs, aws.queues["intake"]) == []
