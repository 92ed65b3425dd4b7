"""Batch policy and the merchant's report, on moto: ingest and validate as the handlers run them."""

import io
import json
import threading

import boto3
import pytest

from shangjia.pipeline.products import get_product
from shangjia.errors import FindingError
from tests.support.events import load_event
from shangjia.pipeline import batches, counting, keys
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.validate import validate_message


class RecordingBlobs:
    """The real S3 adapter, recording every report written."""

    def __init__(self, inner):
        self.inner, self.puts = inner, []

    def put(self, bucket_key, key, data, *, content_type):
        self.puts.append((bucket_key, key))
        return self.inner.put(bucket_key, key, data, content_type=content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def m1(deps):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    deps.blobs = RecordingBlobs(deps.blobs)
    return deps


def _sheet(tmp_path, n, *, seed, invalid_ratio=0.0):
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / f"s{seed}.xlsx"
    write_sample_workbook(path, n, seed=seed, invalid_ratio=invalid_ratio)
    return path.read_bytes()


def _upload(deps, aws, key, data, meta=None):
    s3 = boto3.client("s3", region_name="us-east-1")
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=data, Metadata=meta or {}).get("VersionId")
    up = Upload(aws.buckets["drop"], key, len(data), v)
    return up, ingest_upload(deps, up)


def _drain(aws, queues=("validate", "validate_priority")):
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    for q in queues:
        while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out


def _batch(deps, batch_id):
    return deps.store.get(*keys.batch(batch_id))


def _status(deps, spu):
    return get_product(deps, "m1", spu)["status"]


def _report(deps, aws, batch):
    s3 = boto3.client("s3", region_name="us-east-1")
    return json.loads(s3.get_object(Bucket=aws.buckets["reports"], Key=batch["report_json_key"])["Body"].read())


def _report_puts(deps):
    return [k for b, k in deps.blobs.puts if b == "reports" and k.endswith("report.xlsx")]


def test_policy_from_metadata_folder_and_merchant_default():
    p = batches.policy_for_upload
    assert p("m1/a.xlsx", {}, None).mode == "skip_invalid"
    assert p("m1/check/a.xlsx", {"shangjia-mode": "skip_invalid"}, None).mode == "check_only"   # folder wins
    assert p("m1/CHECK/sub/a.csv", {}, None).mode == "check_only"
    got = p("m1/a.xlsx", {"Shangjia-Mode": "stop-on-error-rate", "shangjia-max-error-rate": "10%"}, None)
    assert (got.mode, got.max_error_rate) == ("stop_on_error_rate", 0.10)
    assert p("m1/a.xlsx", {"shangjia-max-error-rate": "0.02"}, None).mode == "stop_on_error_rate"
    profile = {"batch_policy": {"mode": "stop_on_error_rate", "max_error_rate": 0.2}}
    assert p("m1/a.xlsx", {}, profile).max_error_rate == 0.2
    assert p("m1/a.xlsx", {"shangjia-mode": "check_only"}, profile).mode == "check_only"
    with pytest.raises(FindingError) as e:
        p("m1/a.xlsx", {"shangjia-mode": "publish-please"}, None)
    assert e.value.finding.code == "FIELD_ENUM" and e.value.finding.field == "x-amz-meta-shangjia-mode"
    with pytest.raises(FindingError) as e:
        p("m1/a.xlsx", {"shangjia-max-error-rate": "1.5"}, None)
    assert e.value.finding.code == "FIELD_RANGE"


def test_ingest_puts_the_uploads_policy_in_every_message(m1, aws, tmp_path):
    data = _sheet(tmp_path, 3, seed=1)
    _upload(m1, aws, "m1/a.xlsx", data, {"shangjia-mode": "stop_on_error_rate", "shangjia-max-error-rate": "0.1"})
    msgs = _drain(aws)
    assert {m["options"]["policy"]["mode"] for m in msgs} == {"stop_on_error_rate"}
    assert {m["options"]["policy"]["max_error_rate"] for m in msgs} == {0.1}
    assert sorted(m["options"]["seq"] for m in msgs) == [0, 1, 2]
    _upload(m1, aws, "m1/check/a.xlsx", data)
    assert {m["options"]["policy"]["mode"] for m in _drain(aws)} == {"check_only"}


def test_bad_metadata_refuses_the_batch_with_a_report(m1, aws, tmp_path):
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 2, seed=1), {"shangjia-mode": "yolo"})
    assert out.action == "rejected" and _drain(aws) == []
    rep = _report(m1, aws, _batch(m1, out.batch_id))
    assert rep["refused"] and rep["batch_findings"][0]["field"] == "x-amz-meta-shangjia-mode"


def test_check_only_ends_checked_or_needs_fix_and_nothing_reaches_media(m1, aws, tmp_path):
    _, out = _upload(m1, aws, "m1/check/new.xlsx", _sheet(tmp_path, 8, seed=4, invalid_ratio=0.5))
    msgs = _drain(aws)
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in msgs}
    assert set(outcomes.values()) == {"checked", "needs_fix"}
    for spu, o in outcomes.items():       # kept with the batch, not over the catalog's product
        assert m1.store.get(*keys.checked_product(out.batch_id, "m1", spu))["status"] == o
        assert get_product(m1, "m1", spu) is None
    assert _drain(aws, ("media",)) == []
    assert not any(m1.store.get(*keys.sku_claim("m1", s["sku_code"]))
                   for m in msgs for r in m["raw"]["rows"] for s in [{"sku_code": r["cells"].get("sku_code") or "-"}])
    rep = _report(m1, aws, _batch(m1, out.batch_id))
    assert rep["stage"] == "validation" and rep["products"] == 8
    by = {r["spu_code"]: r for r in rep["product_results"]}
    assert all(by[s]["valid"] == (o == "checked") for s, o in outcomes.items())
    bad = next(r for r in rep["product_results"] if not r["valid"])
    assert bad["errors"] and {"row", "column", "code", "zh", "en", "hint_zh"} <= set(bad["errors"][0])


def test_error_rate_stop_with_out_of_order_and_duplicate_deliveries(m1, aws, tmp_path):
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 30, seed=7, invalid_ratio=0.4),
                     {"shangjia-mode": "stop_on_error_rate", "shangjia-max-error-rate": "0.05"})
    msgs = _drain(aws)
    assert len(msgs) == 30
    order = list(reversed(msgs)) + msgs[:5]          # reversed, and the first five delivered again
    outcomes = []
    stopped_seen_before = []
    for m in order:
        stopped_seen_before.append(bool(_batch(m1, out.batch_id).get("stopped")))
        outcomes.append(validate_message(m1, m))
    batch = _batch(m1, out.batch_id)
    stop = batch["stopped"]
    assert stop["code"] == "BATCH_ERROR_RATE" and stop["file"] == "m1/a.xlsx" and stop["row"]
    # Nothing processed after the stop was forwarded; valid products after it are held.
    assert not any(o in ("media", "review") for o, s in zip(outcomes, stopped_seen_before) if s)
    assert "held" in outcomes
    forwarded = {m["spu_code"] for m in _drain(aws, ("media",))}
    held = {m["spu_code"] for m, o in zip(order, outcomes) if o == "held"}
    assert held and not forwarded & held
    assert all(_status(m1, s) == "held" for s in held)
    # The stop is recorded once (the duplicates changed nothing) and reported once.
    assert _batch(m1, out.batch_id)["stopped_at"] == batch["stopped_at"]
    rep = _report(m1, aws, batch)
    assert rep["stopped"] and [f["code"] for f in rep["batch_findings"]].count("BATCH_ERROR_RATE") == 1
    assert len(_report_puts(m1)) == 1


def test_report_written_once_when_ingest_end_and_last_validate_race(m1, aws, tmp_path, monkeypatch):
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 6, seed=3, invalid_ratio=0.5))
    msgs = _drain(aws)
    real = batches.maybe_finalise
    monkeypatch.setattr(batches, "maybe_finalise", lambda deps, batch_id, claimant, **kw: False)
    for m in msgs:
        validate_message(m1, m)
    monkeypatch.setattr(batches, "maybe_finalise", real)
    assert not _batch(m1, out.batch_id).get("report_at")
    up = Upload(aws.buckets["drop"], "m1/a.xlsx", 0, _batch(m1, out.batch_id)["version"])
    barrier = threading.Barrier(4)
    errors = []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    jobs = [lambda: real(m1, out.batch_id, "test"), lambda: validate_message(m1, msgs[-1]),
            lambda: validate_message(m1, msgs[-1]), lambda: ingest_upload(m1, up)]
    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [], "a loser leaves the report to the winner and succeeds"
    for _ in range(2):                                          # the retries / redeliveries
        validate_message(m1, msgs[0])
        ingest_upload(m1, up)
    assert len(_report_puts(m1)) == 1
    batch = _batch(m1, out.batch_id)
    assert batch["report_key"] == f"m1/{out.batch_id}/report.xlsx"
    assert _report(m1, aws, batch)["products"] == 6


class SyncQueues:
    """Deliver validate messages at once: every product is validated before ingest ends."""

    def __init__(self, deps, inner):
        self.deps, self.inner = deps, inner

    def send_batch(self, q, bodies, **kw):      # the Queues port (delay_s: the stock sync's debounce)
        bodies = list(bodies)
        if q.startswith("validate"):
            for b in bodies:
                assert validate_message(self.deps, b) in ("needs_fix", "media", "review")
        else:
            self.inner.send_batch(q, bodies, **kw)


def test_ingest_end_finalises_when_validation_finished_first(m1, aws, tmp_path):
    m1.queues = SyncQueues(m1, m1.queues)
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 4, seed=5, invalid_ratio=0.5))
    batch = _batch(m1, out.batch_id)
    assert batch["report_at"] and len(_report_puts(m1)) == 1
    xlsx = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=aws.buckets["reports"], Key=batch["report_key"])["Body"].read()
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert "错误明细 Errors" in wb.sheetnames


def test_refused_file_gets_a_report(m1, aws):
    _, out = _upload(m1, aws, "m1/broken.xlsx", b"PK\x03\x04 not a workbook at all")
    assert out.action == "rejected"
    batch = _batch(m1, out.batch_id)
    rep = _report(m1, aws, batch)
    assert rep["refused"] and rep["stage"] == "validation"
    assert rep["batch_findings"][0]["code"] == batch["rejection"]["code"] and rep["batch_findings"][0]["zh"]
    assert batch["report_key"].endswith("report.xlsx")
    ingest_upload(m1, Upload(aws.buckets["drop"], "m1/broken.xlsx", 0, batch["version"]))   # a duplicate event
    assert len([k for b, k in m1.blobs.puts if k.endswith("report.json")]) == 1


def test_products_refused_as_busy_are_in_the_report(m1, aws, tmp_path):
    data = _sheet(tmp_path, 3, seed=2)
    _upload(m1, aws, "m1/first.xlsx", data)
    for m in _drain(aws):
        assert validate_message(m1, m) in ("media", "review")      # in flight
    _drain(aws, ("media",))
    _, out = _upload(m1, aws, "m1/second.xlsx", data)
    for m in _drain(aws):
        m["raw"]["rows"][0]["cells"]["stock"] = "4321"      # changed (identical content is "unchanged")
        assert validate_message(m1, m) == "busy"
    rep = _report(m1, aws, _batch(m1, out.batch_id))
    assert rep["refused_products"] == 3 and rep["products"] == 3
    assert {r["status"] for r in rep["product_results"]} == {"refused"}
    assert rep["product_results"][0]["errors"][0]["code"] == "PIPE_PRODUCT_BUSY"


def test_a_check_only_upload_never_touches_the_published_catalog_product(deps, handler, aws):
    """Checking a sheet of products already on sale must not change what is on sale."""
    from shangjia.pipeline import keys as k

    put_merchant(deps.store, "m-vip-001", name="V", annual_sales_cny=9_000_000)
    ev = load_event("validate/product.json")
    body = json.loads(ev["Records"][0]["body"])
    pk, sk = k.product("m-vip-001", body["spu_code"])
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m-vip-001", "spu_code": body["spu_code"],
                    "batch_id": "an-earlier-batch", "status": "published"})
    body["options"] = {"policy": {"mode": "check_only"}, "seq": 1}
    ev["Records"][0]["body"] = json.dumps(body, ensure_ascii=False)
    assert handler("validate")(ev) == {"batchItemFailures": []}
    catalog = deps.store.get(pk, sk)
    assert catalog["status"] == "published" and catalog["batch_id"] == "an-earlier-batch"
    checked = deps.store.get(*k.checked_product(body["batch_id"], "m-vip-001", body["spu_code"]))
    assert checked["status"] in ("checked", "needs_fix")


def test_a_claimant_that_died_writing_retakes_on_redelivery_and_others_just_succeed(m1, aws, tmp_path, monkeypatch):
    """Regression: a second message used to fail (Transient) while another wrote the report, and on
    the local cloud's short visibility timeout it was dead-lettered though its product was done."""
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 3, seed=5))
    for m in _drain(aws):
        validate_message(m1, m)
    pk, sk = keys.batch(out.batch_id)
    m1.store.update(pk, sk, "REMOVE report_at, report_key, report_json_key SET report_claimed_by = :c, "
                    "report_claimed_at = :t", values={":c": "product:P-died", ":t": "2026-11-25T02:30:00.000000Z"})
    assert batches.maybe_finalise(m1, out.batch_id, "product:other") is False      # no error, no report
    assert not _batch(m1, out.batch_id).get("report_at")
    assert batches.maybe_finalise(m1, out.batch_id, "product:P-died") is False     # a duplicate, at once
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T02:31:00+00:00")               # its redelivery, later
    assert batches.maybe_finalise(m1, out.batch_id, "product:P-died") is True
    assert _batch(m1, out.batch_id)["report_at"]


def test_a_big_batchs_report_is_written_by_the_report_function_once(m1, aws, tmp_path, monkeypatch):
    """Over INLINE_REPORT_MAX products the last validate hands the report to the reports queue;
    the report function writes it once, however many finishers sent it and however often
    it is delivered."""
    from tests.support.events import load_event

    monkeypatch.setattr(batches, "INLINE_REPORT_MAX", 3)
    _, out = _upload(m1, aws, "m1/big.xlsx", _sheet(tmp_path, 6, seed=7, invalid_ratio=0.5))
    msgs = _drain(aws)
    for m in msgs + msgs[:2]:                                  # duplicates finish it again
        validate_message(m1, m)
    assert not _batch(m1, out.batch_id).get("report_at") and not _report_puts(m1)
    due = _drain(aws, ("reports",))
    assert due and all(b == {"batch_id": out.batch_id} for b in due)

    from functions.report.handler import lambda_handler
    event = load_event("report/batch.json")
    record = event["Records"][0]
    event["Records"] = [dict(record, messageId=f"m{i}", body=json.dumps(b)) for i, b in enumerate(due + due)]
    resp = lambda_handler(event, type("Ctx", (), {"function_name": "report", "memory_limit_in_mb": 1769,
                                                  "invoked_function_arn": "arn", "aws_request_id": "r"})())
    assert resp == {"batchItemFailures": []}
    batch = _batch(m1, out.batch_id)
    assert batch["report_at"] and _report(m1, aws, batch)["products"] == 6
    xlsx = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=aws.buckets["reports"], Key=batch["report_key"])["Body"].read()
    assert xlsx[:2] == b"PK"
    # later deliveries find it written and write nothing
    assert [batches.report_message(m1, b, "late") for b in due] == ["done"] * len(due)
    assert not _report_puts(m1)


class BatchReads:
    def __init__(self, inner):
        self.inner, self.reads = inner, []

    def get(self, pk, sk, **kw):
        if pk.startswith("BATCH#"):
            self.reads.append(sk)
        return self.inner.get(pk, sk, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_products_short_of_the_total_read_no_batch_item_and_the_last_one_reports(m1, aws, tmp_path):
    """The first tally item knows the batch's product count once ingest has sent them all: a
    product counted short of it learns from its own count that it does not finish the batch."""
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 4, seed=5))
    msgs = _drain(aws)
    m1.store = BatchReads(m1.store)
    for m in msgs[:-1]:
        validate_message(m1, m)
    assert "META" not in m1.store.reads and not _batch(m1, out.batch_id).get("report_at")
    validate_message(m1, msgs[-1])
    assert _batch(m1, out.batch_id)["report_at"] and len(_report_puts(m1)) == 1


def test_a_batch_begun_before_its_tally_knew_the_total_still_reports(m1, aws, tmp_path):
    """A batch ingest created without marking its first tally item (the version before) is
    finalised as before: from the batch's own items."""
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 3, seed=6))
    pk, sk = counting._tally_key(out.batch_id, 0)
    m1.store.update(pk, sk, "REMOVE total_follows, products_total")
    m1.store.update(*keys.batch(out.batch_id), "REMOVE counter_shard")
    for m in _legacy(_drain(aws)):
        validate_message(m1, m)
    assert _batch(m1, out.batch_id)["report_at"] and len(_report_puts(m1)) == 1


def _legacy(msgs):
    """Product messages as ingest sent them before count items were sized per batch."""
    return [{**m, "options": {k: v for k, v in m["options"].items() if k != "counter_shard"}} for m in msgs]


def test_a_batch_begun_before_its_count_items_were_sized_counts_in_one_item(m1, aws, tmp_path):
    """A batch (and its products' messages) from before ``counter_shard`` counts in 20,000-product
    items as it did, and reports once."""
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 5, seed=7))
    m1.store.update(*keys.batch(out.batch_id), "REMOVE counter_shard")
    for m in _legacy(_drain(aws)):
        validate_message(m1, m)
    tally = m1.store.get(*counting._tally_key(out.batch_id, 0))
    assert tally["validated"] == 5 and sorted(tally["members"]) == [0, 1, 2, 3, 4]
    assert _batch(m1, out.batch_id)["report_at"] and len(_report_puts(m1)) == 1


def test_count_items_hold_a_fixed_number_of_products_and_the_batch_reports_once(m1, aws, tmp_path, monkeypatch):
    """Each count item holds COUNTER_SHARD products (here 2, so 7 products fill 4 items), every
    product is counted once whatever the order and duplicates, and the report is written once,
    after the last."""
    import random

    monkeypatch.setattr(counting, "COUNTER_SHARD", 2)
    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 7, seed=8, invalid_ratio=0.3))
    assert _batch(m1, out.batch_id)["counter_shard"] == 2
    msgs = _drain(aws)
    assert len(msgs) == 7 and {m["options"]["counter_shard"] for m in msgs} == {2}
    order = msgs + random.Random(3).sample(msgs, 3)           # three duplicates, delivered late
    random.Random(4).shuffle(order)
    for m in order:
        validate_message(m1, m)
    pk = keys.batch(out.batch_id)[0]
    items = [m1.store.get(pk, f"TALLY#{i:05d}") for i in range(4)]
    assert [i["validated"] for i in items] == [2, 2, 2, 1]
    assert [sorted(i["members"]) for i in items] == [[0, 1], [2, 3], [4, 5], [6]]
    assert m1.store.get(pk, "TALLY#00004") is None
    assert _batch(m1, out.batch_id)["report_at"] and len(_report_puts(m1)) == 1
    assert batches.batch_counts(m1, out.batch_id, 7, 2).validated == 7


def test_a_count_item_stays_under_one_write_unit_to_a_million_products(m1):
    """DynamoDB bills a write by the item's size: an item of COUNTER_SHARD ordinals near a million,
    with every outcome's counter, is under 1 KB, so each count costs 1 WRU at any batch size; the
    old 20,000-product item costs ~6 KB (6 WRU) at 2,000 products."""
    from boto3.dynamodb.types import TypeSerializer

    from shangjia.limits import item_size

    size = batches.COUNTER_SHARD
    first = (1_000_000 // size - 1) * size                   # the last whole item below a million
    outcomes = batches.OUTCOMES
    batches.record_total(m1, "big", first + size, size)
    for i, n in enumerate(range(first, first + size)):
        batches.tally_product(m1, "big", n, f"P{n}", valid=i % 3 > 0, refused=i % 7 == 0, shard_size=size)
        batches.settle_product(m1, "big", n, f"P{n}", outcomes[i % len(outcomes)], shard_size=size)
    ts = TypeSerializer()
    shard = first // size
    for sk in (f"TALLY#{shard:05d}", f"SETTLE#{shard:05d}"):
        item = m1.store.get("BATCH#big", sk)
        assert len(item["members"]) == size
        assert item_size({k: ts.serialize(v) for k, v in item.items()}) < 1024, sk


def test_a_delivery_that_died_between_its_move_and_its_count_is_counted_by_the_redelivery(m1, aws, tmp_path,
                                                                                          monkeypatch):
    """A product is counted after its status move carries its result (one write fewer than a
    separate result write): a delivery that dies in between leaves it moved and uncounted; the
    redelivery, a duplicate, counts it, and the batch's report answers with every product."""
    from shangjia.pipeline import validate as V

    _, out = _upload(m1, aws, "m1/a.xlsx", _sheet(tmp_path, 3, seed=11, invalid_ratio=0.34))
    msgs = _drain(aws)
    real = V._count

    def dies(*a, **k):
        raise RuntimeError("the container died after the move")

    monkeypatch.setattr(V, "_count", dies)
    with pytest.raises(RuntimeError):
        validate_message(m1, msgs[0])
    moved = get_product(m1, "m1", msgs[0]["spu_code"])
    assert moved["status"] != "validating" and moved["valid"] is not None and "first_row" in moved
    monkeypatch.setattr(V, "_count", real)
    for m in msgs[1:]:
        validate_message(m1, m)
    assert not _batch(m1, out.batch_id).get("report_at"), "two of three counted: no report yet"
    assert validate_message(m1, msgs[0]) == "duplicate"
    batch = _batch(m1, out.batch_id)
    assert batch.get("report_at"), "the redelivery counted it: the batch answered"
    rep = _report(m1, aws, batch)
    assert rep["products"] == 3 and len(rep["product_results"]) == 3
    assert {r["spu_code"]: r["valid"] for r in rep["product_results"]}[msgs[0]["spu_code"]] == moved["valid"]
