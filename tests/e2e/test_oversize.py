"""Records too big for the stores they go to, on the local cloud: the emulator enforces SQS's
limits in UTF-8 bytes as AWS does (moto alone counts characters), and a sheet with one huge
product and one product code over DynamoDB's key limit ends as a batch with a report — the valid
products flow on, the two bad ones are located errors, and nothing is left in any DLQ."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from shangjia.pipeline import views
from tests.integration.test_oversize import normal, padded, write_products

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def test_the_local_cloud_refuses_what_aws_refuses_in_bytes(cloud):
    sqs = cloud.client("sqs")
    url = cloud.resources.queues["media_dlq"]            # a queue nothing consumes from
    with pytest.raises(ClientError) as e:               # 400 k characters, 1.2 MB
        sqs.send_message(QueueUrl=url, MessageBody="商" * 400_000)
    assert "InvalidParameterValue" in str(e.value)
    with pytest.raises(ClientError) as e:               # 2 x 600 KB in one request
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "商" * 200_000}
                                                      for i in range(2)])
    assert "BatchRequestTooLong" in str(e.value)
    sqs.send_message(QueueUrl=url, MessageBody="商" * 340_000)   # 1,020,000 bytes: fits
    sqs.purge_queue(QueueUrl=url)


def test_a_sheet_with_a_huge_product_and_an_overlong_code_gets_its_report(cloud, deps, tmp_path):
    from shangjia.pipeline.merchants import put_merchant

    put_merchant(deps.store, "big1", name="Big", annual_sales_cny=9_000_000)
    good = normal(3, seed=31)
    long_code = "码" * 700                               # 2,100 bytes: over the 2,048-byte key limit
    overlong = [dict(r, spu_code=long_code, sku_code=f"LONG-{i}") for i, r in enumerate(normal(1, seed=32)[0])]
    products = [good[0], padded("HUGE01", 40), good[1], overlong, good[2]]
    data = write_products(tmp_path / "big.xlsx", products)
    key = "big1/big.xlsx"
    cloud.client("s3").put_object(Bucket=cloud.resources.buckets["drop"], Key=key, Body=data)

    batch = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        batch = next((b for b in views.merchant_batches(deps, "big1") if b["key"] == key), None)
        if batch and batch.get("report_json_key"):
            break
        time.sleep(0.5)
    assert batch and batch.get("report_json_key"), f"no report: {batch}"
    doc = json.loads(cloud.client("s3").get_object(Bucket=cloud.resources.buckets["reports"],
                                                   Key=batch["report_json_key"])["Body"].read())
    assert doc["products"] == 5 and doc["invalid_products"] == 2
    rows = {r["spu_code"]: r for r in doc["product_results"]}
    first = [2]
    for p in products:
        first.append(first[-1] + len(p))
    (huge,) = rows["HUGE01"]["errors"]
    assert huge["code"] == "PIPE_PRODUCT_TOO_LARGE" and huge["row"] == first[1] and huge["column"] == "A"
    (long_row,) = [r for s, r in rows.items() if s.startswith("码")]
    (err,) = long_row["errors"]
    assert err["code"] == "PIPE_CODE_TOO_LONG" and err["row"] == first[3] and err["column"] == "A"
    assert err["zh"] and err["en"]
    for p in good:                                       # the valid products flow on
        assert rows[p[0]["spu_code"]]["valid"], rows[p[0]["spu_code"]]
    assert cloud.wait_until(lambda: all(
        (deps.store.get(f"PRODUCT#big1#{p[0]['spu_code']}", "META") or {}).get("status")
        not in (None, "uploaded", "validating") for p in good), timeout_s=60)
    time.sleep(1)
    assert not any(cloud.queue_depths(dlq=True).values()), cloud.queue_depths(dlq=True)
