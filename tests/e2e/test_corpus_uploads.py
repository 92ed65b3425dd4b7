"""Every third-party sheet and commerce export in the corpus, dropped into the bucket as a merchant
would: each ends as a batch rejected with a located, bilingual reason, or processed; nothing is
dead-lettered, nothing crashes the pipeline."""

import pytest

from shangjia.pipeline import views
from shangjia.pipeline.merchants import put_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.corpus, pytest.mark.xdist_group("localcloud")]


def test_every_corpus_sheet_ends_as_a_reasoned_batch(cloud, deps, corpus_dir):
    put_merchant(deps.store, "corpus1", name="Corpus", annual_sales_cny=9_000_000, channels=["own_shop"])
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    files = sorted(p for d in ("sheets", "commerce") for p in (corpus_dir / d).iterdir() if p.is_file())
    assert len(files) >= 50
    keys = {}
    for p in files:
        key = f"corpus1/{p.parent.name}/{p.name}"
        s3.put_object(Bucket=drop, Key=key, Body=p.read_bytes())
        keys[key] = p.name

    def batches():
        return {b["key"]: b for b in views.merchant_batches(deps, "corpus1")}

    from shangjia.sheets import SHEET_SUFFIXES
    from shangjia.pipeline.ingest import is_bundle

    expected = {k for k in keys if any(k.lower().endswith(s) for s in SHEET_SUFFIXES) or is_bundle(k)}

    def settled():
        bs = batches()
        return expected <= set(bs) and all(
            bs[k]["status"] in ("rejected", "unpacked") or views.batch_summary(deps, bs[k])["settled"]
            for k in expected)

    assert cloud.wait_until(settled, timeout_s=240, interval_s=1), \
        sorted((k, (batches().get(k) or {}).get("status")) for k in expected)
    bs = batches()
    for k in expected:
        b = bs[k]
        if b["status"] == "rejected":
            r = b["rejection"]
            assert r["code"] and r["message_zh"] and r["message_en"], (k, r)
    assert not any(cloud.queue_depths(dlq=True).values()), cloud.queue_depths(dlq=True)
    assert expected == set(keys), "every sheet-like upload (.xls and .ods included) gets an answer"
    codes = {bs[k]["rejection"]["code"] for k in expected if bs[k]["status"] == "rejected"}
    assert len(codes) >= 4, codes          # specific reasons, not one catch-all
