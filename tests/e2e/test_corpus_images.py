"""Products whose sheets name the corpus's awkward and hostile images, uploaded through S3: every
product ends published or sent back with located media errors; nothing is dead-lettered."""

import random

import pytest

from shangjia.localcloud.demo import make_image
from shangjia.pipeline import views
from shangjia.pipeline.merchants import put_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.corpus, pytest.mark.xdist_group("localcloud")]


def test_products_with_corpus_images_end_published_or_located(cloud, deps, corpus_dir, tmp_path):
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, "img1", name="Images", annual_sales_cny=9_000_000, channels=["own_shop"])
    corpus = sorted(p for p in (corpus_dir / "images").iterdir() if p.is_file())
    rng = random.Random(4)
    good = {}

    def names(spu, kind, i):
        # three corpus files per product (main and two gallery images), the rest clean photos:
        # 20 products cover the 60 corpus images
        n = int(spu[-6:])
        if kind == "main" or (kind == "gallery" and i <= 2):
            slot = 0 if kind == "main" else i
            return f"corpus/{corpus[(3 * n + slot) % len(corpus)].name}"
        name = f"ok/{spu}_{kind}_{i}.jpg"
        good[name] = make_image(name, rng, size=900)
        return name

    sheet = tmp_path / "corpus-images.xlsx"
    write_sample_workbook(sheet, (len(corpus) + 2) // 3, seed=44, image_names=names)
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    for p in corpus:
        s3.put_object(Bucket=drop, Key=f"img1/corpus/{p.name}", Body=p.read_bytes())
    for name, data in good.items():
        s3.put_object(Bucket=drop, Key=f"img1/{name}", Body=data)
    s3.upload_file(str(sheet), drop, "img1/corpus-images.xlsx")

    def summary():
        b = next((b for b in views.merchant_batches(deps, "img1") if b["key"] == "img1/corpus-images.xlsx"), None)
        return views.batch_summary(deps, b, with_products=True) if b else None

    assert cloud.wait_until(lambda: (summary() or {}).get("settled"), timeout_s=300, interval_s=1), summary()
    s = summary()
    assert set(s["by_status"]) <= {"published", "needs_fix"}, s["by_status"]
    assert s["products_seen"] == 20
    for p in s["products"]:
        if p["status"] == "needs_fix":       # sent back with located, bilingual errors (validation or media)
            assert p["errors"] and all(e["message_zh"] and e["message_en"] and (e.get("field") or e.get("column"))
                                       for e in p["errors"]), p
    codes = {e["code"] for p in s["products"] for e in p["errors"]}
    assert len({c for c in codes if c.startswith("MEDIA_")}) >= 4, codes   # specific reasons, not a catch-all
    assert not any(cloud.queue_depths(dlq=True).values()), cloud.queue_depths(dlq=True)
