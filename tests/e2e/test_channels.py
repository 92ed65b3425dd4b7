"""Publishing on the local cloud through the real adapters, the simulated WeChat and Douyin and
the callback gateway: audit verdicts by signed push (and by the poller when a push is lost), a
platform's rejection located on the product, transient faults retried without a second listing."""

import dataclasses
import random

import pytest

from shangjia.pipeline.products import get_product
from shangjia.localcloud.demo import make_image
from shangjia.pipeline import keys, views
from shangjia.status import read_history

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def _upload(cloud, tmp_path, merchant, n, *, seed, name):
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / f"{merchant}-{seed}.xlsx"
    images = write_sample_workbook(path, n, seed=seed)
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    rng = random.Random(seed)
    for img in images:
        s3.put_object(Bucket=drop, Key=f"{merchant}/{img}", Body=make_image(img, rng, size=900))
    key = f"{merchant}/{name}"
    s3.upload_file(str(path), drop, key)
    return key


def _products(deps, merchant, key):
    for b in views.merchant_batches(deps, merchant):
        if b["key"] == key:
            s = views.batch_summary(deps, b, with_products=True)
            return s if s["settled"] else None
    return None


def _wait_settled(cloud, deps, merchant, key, timeout_s):
    """The settled summary, or a failure that names each unsettled product's listings (state,
    reason, last history entries), the queues' depths and the handlers' last errors."""
    if cloud.wait_until(lambda: _products(deps, merchant, key), timeout_s=timeout_s):
        return _products(deps, merchant, key)
    stuck = []
    for b in views.merchant_batches(deps, merchant):
        if b["key"] != key:
            continue
        s = views.batch_summary(deps, b, with_products=True)
        for p in s["products"]:
            if p["status"] in ("published", "rejected", "needs_fix"):
                continue
            ls = {c: x and (x.get("state"), x.get("reason"), [h.get("state") for h in read_history(x.get("history"), "state")][-4:])
                  for c, x in _listings(deps, merchant, p["spu_code"]).items()}
            stuck.append((p["spu_code"], p["status"], ls))
    pytest.fail(f"{key} did not settle in {timeout_s} s\nnot settled {stuck}\nqueues {cloud.queue_depths()}"
                f" dlq {cloud.queue_depths(dlq=True)}\nhandler errors {cloud.runtime.errors[-3:]}")


def _listings(deps, merchant, spu):
    return {c: deps.store.get(*keys.listing(merchant, spu, c)) for c in ("own_shop", "wechat", "douyin")}


def test_rejections_are_located_and_lost_pushes_are_polled(cloud, deps, tmp_path, monkeypatch):
    from shangjia.pipeline.merchants import put_merchant

    # WeChat rejects every submission for its images; Douyin approves but its pushes are all lost
    cloud.channels.wechat.knobs = dataclasses.replace(cloud.channels.wechat.knobs, audit_reject_rate=1.0,
                                                      reject_reasons={"image": 1.0})
    cloud.channels.douyin.knobs = dataclasses.replace(cloud.channels.douyin.knobs, callback_loss_rate=1.0)
    monkeypatch.setenv("SHANGJIA_AUDIT_POLL_AFTER_S", "0")      # the poller asks at once (every tick here)
    put_merchant(deps.store, "ch-vip", name="Channels VIP", annual_sales_cny=9_000_000)
    key = _upload(cloud, tmp_path, "ch-vip", 2, seed=21, name="channels.xlsx")
    s = _wait_settled(cloud, deps, "ch-vip", key, 180)
    assert s["by_status"] == {"needs_fix": 2}, s
    for p in s["products"]:
        item = get_product(deps, "ch-vip", p["spu_code"])
        ls = _listings(deps, "ch-vip", p["spu_code"])
        assert ls["own_shop"]["state"] == "live"
        assert ls["douyin"]["state"] == "live" and ls["douyin"]["verdict_source"] == "poll"
        assert ls["wechat"]["state"] == "rejected" and ls["wechat"]["reason_class"] == "image"
        # the signed push through the gateway, or the poller when it asked first (it asks at once here)
        assert ls["wechat"]["verdict_source"] in ("callback", "poll")
        (f,) = [f for f in item["findings"] if f["code"] == "PIPE_CHANNEL_REJECTED"]
        assert f["params"]["channel"] == "wechat" and f["field"] == "images" and f["message_zh"] and f["message_en"]
        assert item["channels"]["wechat"]["state"] == "rejected"
    assert cloud.channels.duplicates() == {}
    assert cloud.gateway.requests >= 1, "WeChat's pushes reached the callback function through the gateway"


def test_transient_faults_are_retried_and_never_list_a_product_twice(cloud, deps, tmp_path):
    """5xx and "system busy" answers on both platforms, duplicated pushes: every listing still
    settles (retried with backoff, the circuit breaker pausing a channel that keeps failing),
    and no product is created twice on a platform."""
    from shangjia.pipeline.merchants import put_merchant

    for name in ("wechat", "douyin"):
        sim = cloud.channels.sim(name)
        sim.knobs = dataclasses.replace(sim.knobs, audit_reject_rate=0.0, callback_loss_rate=0.0,
                                        callback_dup_rate=0.5, error_5xx_rate=0.08, busy_rate=0.04,
                                        fail_next=2)   # whatever the draws, the first calls meet a fault
    put_merchant(deps.store, "ch-flaky", name="Flaky", annual_sales_cny=9_000_000)
    key = _upload(cloud, tmp_path, "ch-flaky", 3, seed=22, name="flaky.xlsx")
    s = _wait_settled(cloud, deps, "ch-flaky", key, 240)
    retried = 0
    for p in s["products"]:
        ls = _listings(deps, "ch-flaky", p["spu_code"])
        for c, x in ls.items():
            # live, or refused for good for a reason of the product's own (never a transient one)
            assert x["state"] == "live" or (x["state"] == "failed" and x["reason"]["kind"] == "permanent"), (c, x)
        retried += sum(any(h["state"] in ("retrying", "waiting_channel") for h in read_history(x["history"], "state")) for x in ls.values())
        want = "published" if all(x["state"] == "live" for x in ls.values()) else "needs_fix"
        assert p["status"] == want
    assert retried >= 1, "the faults were met and retried"
    assert cloud.channels.duplicates() == {}
    assert not any(cloud.queue_depths(dlq=True).values())
