"""A Lambda time-out mid-sheet resumes from the checkpoint: no product lost, none sent twice."""

import json

import boto3
import pytest

from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant


def test_timeout_mid_sheet_resumes_after_the_checkpoint(deps, aws, tmp_path):
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    path = tmp_path / "big.xlsx"
    write_sample_workbook(path, 35, seed=9)
    s3 = boto3.client("s3", region_name="us-east-1")
    key = "m1/big.xlsx"
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=path.read_bytes()).get("VersionId")
    up = Upload(aws.buckets["drop"], key, path.stat().st_size, v)

    calls = {"n": 0}

    def time_left():                 # plenty for the first chunk, then the deadline is near
        calls["n"] += 1
        return 60_000 if calls["n"] == 1 else 1_000

    with pytest.raises(TimeoutError, match="checkpointed"):
        ingest_upload(deps, up, time_left_ms=time_left)
    out = ingest_upload(deps, up)                        # the retry
    assert out.action == "resumed"
    sqs = boto3.client("sqs", region_name="us-east-1")
    spus = []
    for q in ("validate", "validate_priority"):
        while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
            spus += [json.loads(m["Body"])["spu_code"] for m in msgs]
            sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    assert len(spus) == 35 and len(set(spus)) == 35
    assert ingest_upload(deps, up).action == "duplicate"
