"""A sheet dropped into the bucket through the S3 API ends as published listings."""

import random
from pathlib import Path

import pytest

from shangjia.localcloud.demo import SimulatedReviewer, make_image
from shangjia.pipeline import views

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


@pytest.fixture(scope="module")
def merchants(deps):
    from shangjia.pipeline.merchants import put_merchant

    put_merchant(deps.store, "vip1", name="VIP", annual_sales_cny=9_000_000)
    put_merchant(deps.store, "std1", name="Ordinary", annual_sales_cny=200_000, channels=["own_shop", "wechat"])
    return ("vip1", "std1")


def _upload(cloud, tmp_path: Path, merchant: str, n: int, *, seed: int, invalid_ratio: float = 0.0,
            name: str = "my sheet.xlsx") -> str:
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / f"{merchant}-{seed}.xlsx"
    images = write_sample_workbook(path, n, seed=seed, invalid_ratio=invalid_ratio)
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    rng = random.Random(seed)
    for img in images:
        s3.put_object(Bucket=drop, Key=f"{merchant}/{img}", Body=make_image(img, rng, size=900))
    key = f"{merchant}/{name}"
    s3.upload_file(str(path), drop, key)
    return key


def _batch_for(deps, merchant, key):
    for b in views.merchant_batches(deps, merchant):
        if b["key"] == key:
            return b
    return None


def _settled(deps, merchant, key):
    from shangjia.pipeline import views

    b = _batch_for(deps, merchant, key)
    return b is not None and views.batch_summary(deps, b)["settled"]


def test_vip_sheet_publishes_on_every_channel_without_a_reviewer(cloud, deps, merchants, tmp_path):
    from shangjia.pipeline import views

    key = _upload(cloud, tmp_path, "vip1", 4, seed=1)
    assert cloud.wait_until(lambda: _settled(deps, "vip1", key), timeout_s=120)
    s = views.batch_summary(deps, _batch_for(deps, "vip1", key), with_products=True)
    assert s["by_status"] == {"published": 4}, s
    for c in ("own_shop", "wechat", "douyin"):
        listed = [x for x in views.channel_listings(deps, c) if x["merchant_id"] == "vip1"]
        assert len(listed) == 4
    assert cloud.channels.listings, "the simulated WeChat/Douyin endpoints received the products"


def test_ordinary_sheet_waits_for_a_reviewer_and_bad_rows_come_back_located(cloud, deps, merchants, tmp_path):
    import threading

    from shangjia.pipeline import views

    from shangjia.pipeline import review

    key = _upload(cloud, tmp_path, "std1", 6, seed=2, invalid_ratio=0.34, name="第二批 上新.xlsx")
    # Nothing is published before a human decides: wait (bounded) until the pipeline has done all
    # it can without one (every product sent back or in review with an open pre-review task, the
    # queues drained), then look. Statuses past review count as "done" so a premature publish is
    # seen at once rather than waited out.
    past_review = {"approved", "scheduled", "publishing", "published"}

    def waiting_for_a_reviewer() -> bool:
        b = _batch_for(deps, "std1", key)
        if not b or b.get("products_total") is None:
            return False
        s = views.batch_summary(deps, b, with_products=True)
        if s["products_seen"] < s["products_total"]:
            return False
        if not all(p["status"] in {"needs_fix", "in_review", *past_review} for p in s["products"]):
            return False
        in_review = {p["spu_code"] for p in s["products"] if p["status"] == "in_review"}
        open_pre = {t["spu_code"] for t in review.list_tasks(deps, "pre") if t.get("batch_id") == b["batch_id"]}
        return in_review <= open_pre and cloud.idle()

    assert cloud.wait_until(waiting_for_a_reviewer, timeout_s=90)
    s = views.batch_summary(deps, _batch_for(deps, "std1", key))
    assert s["by_status"].get("in_review", 0) >= 1, s
    assert not past_review & set(s["by_status"]), s
    assert not [x for c in ("own_shop", "wechat") for x in views.channel_listings(deps, c)
                if x["merchant_id"] == "std1"], "nothing listed before a reviewer decided"
    stop = threading.Event()
    reviewer = SimulatedReviewer(cloud, stop, reject_rate=0.0, poll_s=0.3)
    reviewer.token = "eyJ.expired.token"        # as an hour into a long run: it signs in again
    reviewer.start()
    try:
        assert cloud.wait_until(lambda: _settled(deps, "std1", key), timeout_s=120)
    finally:
        stop.set()
    s = views.batch_summary(deps, _batch_for(deps, "std1", key), with_products=True)
    assert s["by_status"].get("needs_fix", 0) >= 1 and s["by_status"].get("published", 0) >= 1, s
    for p in s["products"]:
        if p["status"] == "needs_fix":
            assert p["errors"], "a product sent back to the merchant says why"
            e = p["errors"][0]
            assert e["code"] and e["message_zh"] and e["message_en"] and e.get("row"), e
    assert reviewer.decisions["pre:approve"] >= 1 and reviewer.decisions["final:approve"] >= 1
    listed = {x["channel"] for x in views.channel_listings(deps, "wechat") if x["merchant_id"] == "std1"}
    assert listed == {"wechat"}
    assert not [x for x in views.channel_listings(deps, "douyin") if x["merchant_id"] == "std1"], \
        "a channel the merchant did not choose gets nothing"


def test_duplicate_s3_event_creates_no_second_batch(cloud, deps, merchants, tmp_path):
    import json

    key = _upload(cloud, tmp_path, "vip1", 2, seed=5, name="dup.xlsx")
    assert cloud.wait_until(lambda: _settled(deps, "vip1", key), timeout_s=120)
    batch = _batch_for(deps, "vip1", key)
    products_before = {p["spu_code"]: p["updated_at"] for p in views.batch_products(deps, batch["batch_id"])}
    # Deliver the same ObjectCreated event again, as S3's at-least-once delivery may.
    s3 = cloud.client("s3")
    head = s3.head_object(Bucket=cloud.resources.buckets["drop"], Key=key)
    from urllib.parse import quote_plus

    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                          "eventName": "ObjectCreated:Put", "s3": {
                              "bucket": {"name": cloud.resources.buckets["drop"]},
                              # the fields the emulator's own notification carries (see moto/s3/notifications.py)
                              # as AWS sends it for a versioned bucket (and the local cloud does too)
                              "object": {"key": quote_plus(key), "size": head["ContentLength"],
                                         "eTag": head["ETag"].strip('"'), "versionId": head["VersionId"],
                                         "sequencer": "0055AED6DCD90281E5"}}}]}
    sqs = cloud.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=cloud.resources.queues["intake"], MessageBody=json.dumps(event))
    assert cloud.wait_until(lambda: cloud.idle(), timeout_s=30)
    batches = [b for b in views.merchant_batches(deps, "vip1") if b["key"] == key]
    assert len(batches) == 1
    after = {p["spu_code"]: p["updated_at"] for p in views.batch_products(deps, batch["batch_id"])}
    assert after == products_before, "a duplicate event touched no product"


def test_unreadable_upload_rejects_the_batch_with_a_reason(cloud, deps, merchants):
    s3 = cloud.client("s3")
    key = "vip1/not really.xlsx"
    s3.put_object(Bucket=cloud.resources.buckets["drop"], Key=key, Body=b"this is not a spreadsheet at all")
    assert cloud.wait_until(lambda: (_batch_for(deps, "vip1", key) or {}).get("status") == "rejected", timeout_s=30)
    b = _batch_for(deps, "vip1", key)
    assert b["rejection"]["code"].startswith("SHEET_") and b["rejection"]["message_zh"]
