"""The media stage on moto: images rendered once, videos probed, review started exactly once."""

import io

import boto3
import pytest
from PIL import Image

from shangjia.pipeline.products import get_product
from shangjia.pipeline import keys
from shangjia.pipeline.media import file_result, process_media_message
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
    return [{"merchant_id": "m1", "spu_code": "P1", "batch_id": "b1", "slot": s, "index": i, "ref": r,
             "source_key": "m1/sheet.xlsx"} for s, i, r in refs]


def test_too_long_video_sends_the_product_back_and_no_review_starts(deps, product):
    for msg in product + product:                       # every message delivered twice
        process_media_message(deps, msg)
    p = get_product(deps, "m1", "P1")
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
    # only what a channel or page fetches is stored: the main rendition, no thumbnail (docs/media.md)
    assert [r["name"] for r in main] == ["main"] and all(r["key"].startswith("r/") for r in main)
    media_objects = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=__import__("os").environ["SHANGJIA_BUCKET_MEDIA"])["Contents"]
    # 5 images, one stored rendition each (g3.jpg as gallery and as detail image: two renditions);
    # duplicate deliveries stored nothing twice
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in media_objects) == \
        ["detail.webp", "gallery.webp", "gallery.webp", "gallery.webp", "main.webp"]


def test_a_crash_before_the_review_starts_is_recovered_by_the_redelivery(deps, product):
    """The last image moved the product to review, then the workflow start failed (a crash, a
    throttled StartExecution): the redelivered message must start it, not call it complete."""
    product = [m for m in product if m["slot"] != "video"]
    ppk, psk = keys.pending_media("m1", "P1", "b1")
    deps.store.update(ppk, psk, "DELETE pending :v", values={":v": {"video:0"}})
    for msg in product[:-1]:
        process_media_message(deps, msg)
    real_start = deps.workflows.start

    def crash(machine, name, payload):
        raise RuntimeError("StartExecution: ThrottlingException")

    deps.workflows.start = crash
    with pytest.raises(RuntimeError):
        process_media_message(deps, product[-1])
    p = get_product(deps, "m1", "P1")
    assert p["status"] == "in_review" and not p["review_started"]
    deps.workflows.start = real_start
    process_media_message(deps, product[-1])                      # SQS delivers it again
    assert len(deps.workflows.started) == 1
    assert get_product(deps, "m1", "P1")["review_started"] is True
    process_media_message(deps, product[-1])                      # and once more: nothing new
    assert len(deps.workflows.started) == 1


def test_a_late_duplicate_of_validate_never_refills_the_pending_set(deps, product):
    """A duplicate validate delivery that reaches its fan-out after images were done must not put
    them back as pending (the product would wait for them forever)."""
    from shangjia.pipeline import validate

    process_media_message(deps, product[0])                       # main image done
    item = get_product(deps, "m1", "P1")
    refs = {"main": ["main.jpg"], "gallery": ["g1.jpg", "g2.jpg", "g3.jpg"]}
    validate._forward(deps, "m1", "P1", "b1", {"images": refs, "video": "clip.mp4", "skus": []},
                      {"product": item["product"]}, "m1/sheet.xlsx")
    pending = deps.store.get(*keys.pending_media("m1", "P1", "b1"))["pending"]
    assert "main:0" not in pending and len(pending) == 4


def _missing_image_product(deps, aws):
    put_merchant(deps.store, "m2", name="M", annual_sales_cny=9_000_000)
    pk, sk = keys.product("m2", "P9")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m2", "spu_code": "P9", "batch_id": "b9", "status": "media",
                    "source_key": "m2/上新/sheet.xlsx", "product": {"spu_code": "P9", "title": "t", "skus": []}})
    ppk, psk = keys.pending_media("m2", "P9", "b9")
    deps.store.put({"pk": ppk, "sk": psk, "pending": {"main:0"}, "total": 1})
    return {"merchant_id": "m2", "spu_code": "P9", "batch_id": "b9", "slot": "main", "index": 0, "ref": "主图.jpg",
            "source_key": "m2/上新/sheet.xlsx"}


def _deliver_until_done(aws, handler, *, before_each=None) -> list[tuple[int, bool]]:
    """The media queue on moto (visibility 0: a failed record is visible again at once) feeding the
    media handler as Lambda's event source mapping does. (receive count, failed?) per delivery."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    sqs = boto3.client("sqs", region_name="us-east-1")
    url, fn, deliveries = aws.queues["media"], handler("media"), []
    for _ in range(8):                                 # the queue's maxReceiveCount is 5: this is a bound
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MaxNumberOfMessages=1).get("Messages", [])
        if not got:
            break
        m = got[0]
        if before_each:
            before_each(len(deliveries) + 1)
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                              "eventSource": "aws:sqs", "eventSourceARN": aws.queue_arns["media"],
                              "awsRegion": "us-east-1"}]}
        try:
            failed = bool(fn(event)["batchItemFailures"])
        except BatchProcessingError:     # every record failed: the invocation fails, Lambda returns them all
            failed = True
        deliveries.append((int(m["Attributes"]["ApproximateReceiveCount"]), failed))
        if not failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return deliveries


def test_a_missing_image_is_tried_three_times_then_reported_missing(deps, aws, handler):
    """docs/bundles.md: the sheet may arrive before its zip. The first two receives fail (the
    message returns), the third records PIPE_IMAGE_MISSING and sends the product back."""
    import json

    msg = _missing_image_product(deps, aws)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=aws.queues["media"], MessageBody=json.dumps(msg, ensure_ascii=False))
    assert _deliver_until_done(aws, handler) == [(1, True), (2, True), (3, False)]
    p = get_product(deps, "m2", "P9")
    assert p["status"] == "needs_fix"
    # the image's own finding (product-level checks follow from it: no usable main image, ...)
    [f] = [f for f in p["findings"] if f["code"] == "PIPE_IMAGE_MISSING"]
    assert (f["code"], f["field"], f["value"]) == ("PIPE_IMAGE_MISSING", "main", "主图.jpg")
    assert f["message_zh"] and f["message_en"]
    dlq = sqs.get_queue_attributes(QueueUrl=aws.queues["media_dlq"], AttributeNames=["ApproximateNumberOfMessages"])
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_an_image_uploaded_between_tries_is_rendered(deps, aws, handler):
    import json

    msg = _missing_image_product(deps, aws)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=aws.queues["media"], MessageBody=json.dumps(msg, ensure_ascii=False))

    def upload_before_the_third(n):
        if n == 3:
            boto3.client("s3", region_name="us-east-1").put_object(
                Bucket=aws.buckets["drop"], Key="m2/上新/主图.jpg", Body=_jpeg("red"))
    assert _deliver_until_done(aws, handler, before_each=upload_before_the_third) == [(1, True), (2, True), (3, False)]
    image = file_result(deps, "m2", "P9", "b9", "main", 0)
    assert image["ok"] and not [f for f in image["findings"] if f["code"] == "PIPE_IMAGE_MISSING"]


class ReadCountingStore:
    def __init__(self, inner):
        self.inner, self.gets = inner, []

    def get(self, pk, sk, **kw):
        self.gets.append((pk, sk))
        return self.inner.get(pk, sk, **kw)

    def get_many(self, keys_, **kw):
        self.gets.extend(keys_)
        return self.inner.get_many(keys_, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_files_are_rendered_without_reading_the_product_once_per_file(deps, product):
    """validate sends the sheet's key with each file: the product item is read by the delivery
    that finishes the product, not by every file's (one GetItem per image less)."""
    deps.store = ReadCountingStore(deps.store)
    for msg in product[:-1]:
        assert process_media_message(deps, msg) == "image_done"
    assert keys.product("m1", "P1") not in deps.store.gets
    assert process_media_message(deps, product[-1]) == "needs_fix"      # the 45 s video
    assert keys.product("m1", "P1") in deps.store.gets                 # read by the delivery that finished it


def test_a_file_queued_before_the_sheet_key_travelled_reads_the_product(deps, product):
    """Messages already queued when this version deployed carry no ``source_key``: the product
    item gives it, and a product another upload has taken since is left alone."""
    legacy = {k: v for k, v in product[0].items() if k != "source_key"}
    assert process_media_message(deps, legacy) == "image_done"
    img = file_result(deps, "m1", "P1", "b1", "main", 0)
    assert img["ok"] and img["renditions"]
    deps.store.update(*keys.product("m1", "P1"), "SET batch_id = :b", values={":b": "b2"})
    legacy = {k: v for k, v in product[1].items() if k != "source_key"}
    assert process_media_message(deps, legacy) == "stale"
    assert file_result(deps, "m1", "P1", "b1", "gallery", 0) is None


def test_a_rendition_already_stored_is_not_written_again(deps, aws):
    """Content-addressed renditions are created with S3's conditional write (If-None-Match: *):
    one request, and the object first stored stays."""
    assert deps.blobs.put_new("media", "r/ab/cd/main.webp", b"first", content_type="image/webp") is True
    assert deps.blobs.put_new("media", "r/ab/cd/main.webp", b"second", content_type="image/webp") is False
    assert deps.blobs.get("media", "r/ab/cd/main.webp") == b"first"


def test_a_first_delivery_renders_without_asking_and_a_redelivery_asks_first(deps, product, monkeypatch):
    from shangjia.pipeline import media

    renders = []
    real = media._render
    monkeypatch.setattr(media, "_render", lambda *a, **kw: renders.append(a[4]) or real(*a, **kw))
    deps.store = ReadCountingStore(deps.store)
    pending = keys.pending_media("m1", "P1", "b1")
    assert process_media_message(deps, product[0]) == "image_done"
    assert deps.store.gets == [] and renders == [0]
    assert process_media_message(deps, product[0], receive_count=2) == "image_done"    # the redelivery
    assert deps.store.gets == [pending] and renders == [0], "done already: not rendered again"
    assert process_media_message(deps, product[1], receive_count=2) == "image_done"    # not done yet
    assert renders == [0, 0] and file_result(deps, "m1", "P1", "b1", "gallery", 0)["ok"]


def test_a_file_done_before_results_moved_onto_the_pending_item_still_counts(deps, product):
    """A product in media while this version deployed: its first files' results are items of
    their own (``IMAGE#...``); the product's checks still see them."""
    from shangjia.pipeline import media

    ipk, isk = keys.image("m1", "P1", "b1", "main", 0)
    process_media_message(deps, product[0])
    done = media.file_result(deps, "m1", "P1", "b1", "main", 0)
    ppk, psk = keys.pending_media("m1", "P1", "b1")
    deps.store.update(ppk, psk, "REMOVE #r", names={"#r": "result:main:0"})     # as the old version left it
    deps.store.put({"pk": ipk, "sk": isk, **{k: v for k, v in done.items() if k != "sk"}})
    for msg in product[1:]:
        process_media_message(deps, msg)
    p = get_product(deps, "m1", "P1")
    assert p["status"] == "needs_fix" and set(p["media"]) == {"main#00", "gallery#00", "gallery#01", "gallery#02",
                                                               "video#00"}


def _item_size(deps, pk, sk):
    """The item's size as DynamoDB bills its writes (``limits.item_size``)."""
    from shangjia.limits import item_size

    raw = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=deps.store.table, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return item_size(raw)


def test_a_files_result_rides_on_the_pending_item_packed(deps, product):
    """Each write of the pending item is billed by its size after it: results are kept as zlib'd
    JSON (~0.4 KB, where the map was ~0.7 KB) and read back as they were rendered."""
    from shangjia.pipeline import media

    for msg in product[:4]:
        assert process_media_message(deps, msg) == "image_done"
    ppk, psk = keys.pending_media("m1", "P1", "b1")
    item = deps.store.get(ppk, psk)
    packed = item["result:gallery:1"]
    assert isinstance(getattr(packed, "value", packed), bytes)
    r = media.unpack_result(packed)
    assert r["ok"] and r["width"] == 900 and r["renditions"][0]["key"].endswith(".webp") and r["ref"] == "g2.jpg"
    assert _item_size(deps, ppk, psk) < 4 * 520          # four results and the set: ~2 KB, not ~3 KB
    assert process_media_message(deps, product[4]) == "needs_fix"          # the 45 s video is too long
    p = get_product(deps, "m1", "P1")
    assert p["media"]["gallery#01"]["ok"] and p["media"]["gallery#01"]["renditions"] == r["renditions"]


def test_a_product_with_many_files_keeps_each_result_apart_and_reads_them_back_by_key(deps, aws):
    """Past INLINE_FILES a growing pending item would cost more than a small item per file: each
    result is an item of its own, the finisher reads them by key (consistent), the product's
    checks and its media map see every one."""
    from shangjia.pipeline import media

    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    s3 = boto3.client("s3", region_name="us-east-1")
    refs = [("main", 0, "main.jpg")] + [("gallery", i, f"g{i}.jpg") for i in range(8)]
    colors = ["red", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "gray"]
    for (slot, i, ref), color in zip(refs, colors):
        s3.put_object(Bucket=aws.buckets["drop"], Key=f"m1/{ref}", Body=_jpeg(color))
    pk, sk = keys.product("m1", "P9")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m1", "spu_code": "P9", "batch_id": "b1", "status": "media",
                    "source_key": "m1/sheet.xlsx", "product": {"spu_code": "P9", "title": "t", "skus": []}})
    ppk, psk = keys.pending_media("m1", "P9", "b1")
    ids = [f"{s}:{i}" for s, i, _ in refs]
    deps.store.put({"pk": ppk, "sk": psk, "pending": set(ids), "total": len(refs), "ids": ids})
    deps.workflows = CountingWorkflows()
    msgs = [{"merchant_id": "m1", "spu_code": "P9", "batch_id": "b1", "slot": s, "index": i, "ref": r,
             "source_key": "m1/sheet.xlsx", "files": len(refs)} for s, i, r in refs]
    assert len(refs) > media.INLINE_FILES
    outs = [process_media_message(deps, m) for m in msgs]
    assert outs[:-1] == ["image_done"] * (len(refs) - 1) and outs[-1] == "review"
    assert not [k for k in deps.store.get(ppk, psk) if k.startswith(media.RESULT_PREFIX)]
    assert _item_size(deps, ppk, psk) < 1024                       # every write of it: 1 WRU
    assert deps.store.get(*keys.image("m1", "P9", "b1", "gallery", 7))["ok"]
    p = get_product(deps, "m1", "P9")
    assert p["status"] == "in_review" and len(p["media"]) == len(refs)
    assert all(v["ok"] for v in p["media"].values())
    assert media.file_result(deps, "m1", "P9", "b1", "gallery", 3)["ref"] == "g3.jpg"
    # a redelivery of a file already done renders nothing and finishes nothing twice
    assert process_media_message(deps, msgs[2], receive_count=2) == "already_complete"
    assert deps.workflows.started == [keys.execution_name("m1", "P9", "b1")]


def _batch_event(aws, bodies, *, receive_counts=None):
    import json

    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": json.dumps(b),
                         "attributes": {"ApproximateReceiveCount": str((receive_counts or {}).get(i, 1))},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": aws.queue_arns["media"], "awsRegion": "us-east-1"}
                        for i, b in enumerate(bodies)]}


def _pending_writes(monkeypatch):
    from shangjia.adapters.aws import DynamoStore

    writes, real = [], DynamoStore.update
    monkeypatch.setattr(DynamoStore, "update", lambda self, pk, sk, *a, **k: (
        writes.append((pk, sk)), real(self, pk, sk, *a, **k))[1])
    return lambda: [w for w in writes if w[1].startswith("PENDING#")]


def test_a_batch_records_a_products_files_in_one_write(deps, aws, handler, product, monkeypatch):
    """validate sends a product's files together, so an SQS batch holds several of one product:
    each is rendered on its own, and their results leave the pending set in one write (one
    UpdateItem where there was one per file). An SQS duplicate copy in the same batch changes nothing."""
    pending = _pending_writes(monkeypatch)
    four = [m for m in product if m["slot"] != "video"]
    out = handler("media")(_batch_event(aws, four + [four[1]]))
    assert out == {"batchItemFailures": []}
    assert len(pending()) == 1, pending()
    item = deps.store.get(*keys.pending_media("m1", "P1", "b1"))
    assert item["pending"] == {"video:0"} and {f"result:{m['slot']}:{m['index']}" for m in four} <= set(item)
    # the last file alone: the product moves on (the 45 s video sends it back to the merchant)
    assert handler("media")(_batch_event(aws, [product[-1]])) == {"batchItemFailures": []}
    p = get_product(deps, "m1", "P1")
    assert p["status"] == "needs_fix" and p["media"]["gallery#01"]["ok"] and len(p["media"]) == 5


@pytest.mark.parametrize("asks", [True, False])
def test_a_batch_with_a_file_done_before(deps, aws, handler, product, monkeypatch, asks):
    """A file recorded by an earlier delivery comes again in a batch. Redelivered (receive count
    2), it asks first and is not rendered again: the other four leave in one write. As SQS's rare
    duplicate copy (receive count 1) it is rendered, the one write is refused (a file no longer
    pending), and each file is recorded on its own, the done one refused again. Either way the
    product moves on once."""
    from shangjia.pipeline import media

    assert process_media_message(deps, product[0]) == "image_done"
    rendered, real_render = [], media._render
    monkeypatch.setattr(media, "_render", lambda d, m, k, slot, index, *a, **kw: (
        rendered.append(f"{slot}:{index}"), real_render(d, m, k, slot, index, *a, **kw))[1])
    pending = _pending_writes(monkeypatch)
    out = handler("media")(_batch_event(aws, product, receive_counts={0: 2} if asks else {}))
    assert out == {"batchItemFailures": []}
    if asks:
        assert "main:0" not in rendered and len(rendered) == 4 and len(pending()) == 1
    else:
        assert "main:0" in rendered and len(pending()) == 1 + 5, "the refused write, then one per file"
    p = get_product(deps, "m1", "P1")
    assert p["status"] == "needs_fix" and len(p["media"]) == 5


def test_a_file_that_fails_in_a_batch_fails_alone(deps, aws, handler, product, monkeypatch):
    """One file's failure (its source is gone and it is tried again) is its message's alone: the
    batch's other files are recorded, and only that message comes back."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.delete_object(Bucket=aws.buckets["drop"], Key="m1/g2.jpg")
    out = handler("media")(_batch_event(aws, product))
    assert out == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    item = deps.store.get(*keys.pending_media("m1", "P1", "b1"))
    assert item["pending"] == {"gallery:1"}
    assert get_product(deps, "m1", "P1")["status"] == "media"


class RecordingBlobs:
    """The blobs port, recording GETs, HEADs and PUTs by key."""

    def __init__(self, inner):
        self.inner, self.gets, self.heads, self.puts = inner, [], [], []

    def get_with_etag(self, bucket_key, key, **kw):
        self.gets.append(key)
        return self.inner.get_with_etag(bucket_key, key, **kw)

    def etag(self, bucket_key, key):
        self.heads.append(key)
        return self.inner.etag(bucket_key, key)

    def put_new(self, bucket_key, key, data, **kw):
        self.puts.append(key)
        return self.inner.put_new(bucket_key, key, data, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _images_only(deps, product, batch="b1"):
    ppk, psk = keys.pending_media("m1", "P1", batch)
    deps.store.update(ppk, psk, "DELETE pending :v", values={":v": {"video:0"}})
    return product[:-1]


def _revision(deps, product, prior_media, batch="b2"):
    """The same product's next revision at the media stage, its files carrying the summaries
    validate hands over (``validate._forward``)."""
    from shangjia.pipeline.products import write_payload

    pk, sk = keys.product("m1", "P1")
    deps.store.update(pk, sk, "SET batch_id = :b, #s = :s", names={"#s": "status"},
                      values={":b": batch, ":s": "media"})
    write_payload(deps, pk, batch, {"product": {"spu_code": "P1", "title": "t", "skus": []}, "findings": []},
                  replace=True)        # validation's payload of the new revision
    ppk, psk = keys.pending_media("m1", "P1", batch)
    deps.store.put({"pk": ppk, "sk": psk, "pending": {f"{m['slot']}:{m['index']}" for m in product},
                    "total": len(product)})
    return [{**m, "batch_id": batch, "prior": prior_media[f"{m['slot']}#{m['index']:02d}"]} for m in product]


def test_a_revisions_unchanged_images_take_their_results_without_a_get_a_render_or_a_put(deps, aws, product):
    files = _images_only(deps, product)
    for msg in files:
        process_media_message(deps, msg)
    first = get_product(deps, "m1", "P1")
    assert first["status"] == "in_review" and all(m.get("source") for m in first["media"].values()), [(file_result(deps, "m1", "P1", "b1", m["slot"], m["index"]) or {}).get("findings") for m in files]
    # the merchant replaces one picture under the same name; the others stay as they were
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=aws.buckets["drop"], Key="m1/g2.jpg", Body=_jpeg("black"))
    again = _revision(deps, files, first["media"])
    deps.blobs = rec = RecordingBlobs(deps.blobs)
    for msg in again:
        process_media_message(deps, msg)
    assert sorted(rec.heads) == ["m1/g1.jpg", "m1/g2.jpg", "m1/g3.jpg", "m1/main.jpg"]
    assert rec.gets == ["m1/g2.jpg"], "only the replaced picture is fetched"
    assert rec.puts and all(k.startswith("r/") for k in rec.puts) and len(rec.puts) == 1
    second = get_product(deps, "m1", "P1")
    assert second["status"] == "in_review" and second["batch_id"] == "b2"
    for k in ("main#00", "gallery#00", "gallery#02"):
        assert second["media"][k]["renditions"] == first["media"][k]["renditions"]
        assert file_result(deps, "m1", "P1", "b2", *k.split("#")[0:1], int(k[-2:]))["reused"] is True
    assert second["media"]["gallery#01"]["renditions"] != first["media"]["gallery#01"]["renditions"]
    assert second["media"]["gallery#01"]["source"] != first["media"]["gallery#01"]["source"]
    blurry = [f for f in second["findings"] if f["code"] == "MEDIA_BLURRY"]
    assert [f["file"] for f in blurry] == ["g3.jpg"], "a taken result keeps its warnings"


def test_a_prior_result_from_another_object_or_renderer_is_not_taken(deps, aws, product, monkeypatch):
    from shangjia.pipeline import media

    files = _images_only(deps, product)
    for msg in files:
        process_media_message(deps, msg)
    first = get_product(deps, "m1", "P1")
    # the next sheet sits in another folder: the same names are other objects
    s3 = boto3.client("s3", region_name="us-east-1")
    for m in files:
        s3.copy_object(Bucket=aws.buckets["drop"], Key=f"m1/new/{m['ref']}",
                       CopySource={"Bucket": aws.buckets["drop"], "Key": f"m1/{m['ref']}"})
    again = [{**m, "source_key": "m1/new/sheet.xlsx"} for m in _revision(deps, files, first["media"])]
    deps.blobs = rec = RecordingBlobs(deps.blobs)
    for msg in again[:2]:
        process_media_message(deps, msg)
    assert rec.heads == [] and len(rec.gets) == 2
    # and a renderer whose settings changed renders again though the object is the same
    monkeypatch.setattr(media, "render_signature", lambda: "00000000")
    for msg in _revision(deps, files, first["media"], batch="b3")[:2]:
        process_media_message(deps, msg)
    assert rec.heads == [] and len(rec.gets) == 4
