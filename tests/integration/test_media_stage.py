"""The media stage on moto: images rendered once, videos probed, review started exactly once."""

import io

import boto3
import pytest
from PIL import Image

from shangjia.pipeline import keys
from shangjia.pipeline.media import process_media_message
from shangjia.pipeline.merchants import put_merchant
from tests.unit.media.test_video import mp4


def _jpeg(color, size=900):
    buf = io.BytesIO()
    img = Image.new("RGB", (size, size), "white")
    img.paste(Image.new("RGB", (size // 2, size // 2), color), (size // 4, size // 4))
    img.save(buf, "JPEG")
    return buf.getvalue()


class CountingWorkflows:
    def __init__(self):
        self.started = []

    def start(self, machine, name, payload):
        self.started.append(name)
        if self.started.count(name) > 1:
            from shangjia.ports import ExecutionExists
            raise ExecutionExists(name)
        return f"arn:{name}"


@pytest.fixture
def product(deps, aws):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    s3 = boto3.client("s3", region_name="us-east-1")
    files = {"main.jpg": _jpeg("red"), "g1.jpg": _jpeg("blue"), "g2.jpg": _jpeg("green"), "g3.jpg": _jpeg("yellow"),
             "clip.mp4": mp4(45.0)}
    for name, data in files.items():
        s3.put_object(Bucket=aws.buckets["drop"], Key=f"m1/{name}", Body=data)
    refs = [("main", 0, "main.jpg"), ("gallery", 0, "g1.jpg"), ("gallery", 1, "g2.jpg"), ("gallery", 2, "g3.jpg"),
            ("video", 0, "clip.mp4")]
    pk, sk = keys.product("m1", "P1")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m1", "spu_code": "P1", "batch_id": "b1", "status": "media",
                    "source_key": "m1/sheet.xlsx",
                    "product": {"spu_code": "P1", "title": "t", "skus": []}})
    ppk, psk = keys.pending_media("m1", "P1", "b1")
    deps.store.put({"pk": ppk, "sk": psk, "pending": {f"{s}:{i}" for s, i, _ in refs}, "total": len(refs)})
    deps.workflows = CountingWorkflows()
    return [{"merchant_id": "m1", "spu_code": "P1", "batch_id": "b1", "slot": s, "index": i, "ref": r}
            for s, i, r in refs]


def test_too_long_video_sends_the_product_back_and_no_review_starts(deps, product):
    for msg in product + product:                       # every message delivered twice
        process_media_message(deps, msg)
    p = deps.store.get(*keys.product("m1", "P1"))
    assert p["status"] == "needs_fix"
    errors = [f for f in p["findings"] if f["severity"] == "error"]
    assert [f["field"] for f in errors] == ["video"] and "30" in errors[0]["message_en"]
    assert deps.workflows.started == []


def test_last_image_starts_review_exactly_once_under_duplicates(deps, product):
    for msg in product[:-1]:
        process_media_message(deps, msg)
    product[-1]["slot"], product[-1]["ref"] = "detail", "g3.jpg"     # swap the video for a detail image
    pk, sk = keys.product("m1", "P1")
    ppk, psk = keys.pending_media("m1", "P1", "b1")
    deps.store.update(ppk, psk, "ADD pending :d", values={":d": {"detail:0"}})
    deps.store.update(ppk, psk, "DELETE pending :v", values={":v": {"video:0"}})
    for _ in range(3):
        process_media_message(deps, product[-1])
    assert len(set(deps.workflows.started)) == 1 and len(deps.workflows.started) == 1
    p = deps.store.get(pk, sk)
    assert p["status"] == "in_review"
    main = p["media"]["main#00"]["renditions"]
    assert {r["name"] for r in main} >= {"main", "thumb"} and all(r["key"].startswith("r/") for r in main)
    media_objects = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=__import__("os").environ["SHANGJIA_BUCKET_MEDIA"])["KeyCount"]
    # 5 images x 2 renditions = 10, but g3.jpg is both a gallery and the detail image: its thumbnail
    # is one content-addressed object. Duplicate deliveries stored nothing twice.
    assert media_objects == 9


def test_a_late_duplicate_of_validate_never_refills_the_pending_set(deps, product):
    """A duplicate validate delivery that reaches its fan-out after images were done must not put
    them back as pending (the product would wait for them forever)."""
    from shangjia.pipeline import validate

    process_media_message(deps, product[0])                       # main image done
    item = deps.store.get(*keys.product("m1", "P1"))
    refs = {"main": ["main.jpg"], "gallery": ["g1.jpg", "g2.jpg", "g3.jpg"]}
    validate._forward(deps, "m1", "P1", "b1", {"images": refs, "video": "clip.mp4", "skus": []},
                      {"product": item["product"]})
    pending = deps.store.get(*keys.pending_media("m1", "P1", "b1"))["pending"]
    assert "main:0" not in pending and len(pending) == 4
