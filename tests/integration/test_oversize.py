"""Records too big for the stores they go to, on moto: ingest budgets SQS requests by UTF-8 bytes,
an oversized product or an over-long product code is a located error in the batch's report (never a
message failing on every retry), and a product stuck in flight can be reset by ops."""

import json

import boto3
import pytest

SQS_MESSAGE_MAX_BYTES = SQS_BATCH_MAX_BYTES = 1_048_576      # AWS's (shangjia/limits.py), in UTF-8 bytes
from shangjia.pipeline.products import get_product
from shangjia.pipeline import keys
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.validate import validate_message


def write_products(path, products):
    """A workbook of our template's columns from ``products``: lists of rows ({field: value})."""
    import xlsxwriter

    from shangjia.spec import load_spec

    fields = list(load_spec().fields)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    ws = wb.add_worksheet("商品")
    for c, f in enumerate(fields):
        ws.write_string(0, c, f.header)
    r = 1
    for rows in products:
        for row in rows:
            for c, f in enumerate(fields):
                v = row.get(f.name)
                if v is None or v == "":
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
            r += 1
    wb.close()
    return path.read_bytes()


def normal(n, seed=5):
    from shangjia.sheets.samples import sample_rows

    return [rows for rows, _ in sample_rows(n, seed=seed, merchant="m1")]


def padded(spu, skus, chars=9_990):
    """A product whose SKU rows carry ``chars`` Chinese characters each (3 UTF-8 bytes apiece;
    random ones, or the sheet reader refuses the file as a zip bomb)."""
    import random

    rng = random.Random(spu)
    base = normal(1, seed=sum(spu.encode()) % 1000)[0][0]
    rows = []
    for i in range(skus):
        row = dict(base) if i == 0 else {"spu_code": spu}
        noise = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(chars))
        row.update({"spu_code": spu, "sku_code": f"{spu[:40]}-{i:03d}", "price": 99.0, "stock": 5,
                    "spec_values": f"颜色:{i}{noise}"})
        rows.append(row)
    return rows


@pytest.fixture
def m1(deps):
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    return deps


def _upload(deps, aws, key, data):
    s3 = boto3.client("s3", region_name="us-east-1")
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    return ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))


def _drain(aws, queues=("validate", "validate_priority")):
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    for q in queues:
        while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
            out += [m["Body"] for m in msgs]
            sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out


def _report(deps, aws, batch_id):
    batch = deps.store.get(*keys.batch(batch_id))
    assert batch.get("report_json_key"), f"no report for {batch_id}: {batch}"
    s3 = boto3.client("s3", region_name="us-east-1")
    return json.loads(s3.get_object(Bucket=aws.buckets["reports"], Key=batch["report_json_key"])["Body"].read())


def test_ingest_budgets_each_request_by_utf8_bytes(m1, aws, tmp_path, monkeypatch):
    """Ten products of ~750 KB each (250 k Chinese characters): ten to a request would be 7.5 MB.
    Every message is sent, no request is over SQS's limits, and the checkpoint is the last row."""
    from shangjia.adapters.aws import SqsQueues

    sent = []
    real = SqsQueues._send
    monkeypatch.setattr(SqsQueues, "_send", lambda self, url, chunk, *a: (sent.append(chunk), real(self, url, chunk, *a))[1])
    data = write_products(tmp_path / "medium.xlsx", [padded(f"MED{i:02d}", 25) for i in range(10)])
    out = _upload(m1, aws, "m1/medium.xlsx", data)
    assert out.action == "ingested" and out.products_sent == 10
    bodies = _drain(aws)
    assert sorted(json.loads(b)["spu_code"] for b in bodies) == [f"MED{i:02d}" for i in range(10)]
    assert all(len(b.encode()) <= SQS_MESSAGE_MAX_BYTES for b in bodies)
    assert sent and all(len(c) <= 10 and sum(len(t.encode()) for t in c) <= SQS_BATCH_MAX_BYTES for c in sent)
    assert len(sent) == 10                             # ~750 KB each: one to a request


def test_an_oversized_product_is_a_located_error_and_the_rest_of_the_file_goes_on(m1, aws, tmp_path):
    """One product of ~1.2 MB (over SQS's 1 MiB) between two ordinary ones: it is sent without its
    rows and answered as needs_fix at its first row; the others are validated; the batch reports."""
    products = normal(2)
    huge = padded("HUGE01", 40)
    data = write_products(tmp_path / "huge.xlsx", [products[0], huge, products[1]])
    out = _upload(m1, aws, "m1/huge.xlsx", data)
    assert out.action == "ingested" and out.products_sent == 3
    bodies = _drain(aws)
    assert all(len(b.encode()) <= SQS_MESSAGE_MAX_BYTES for b in bodies), [len(b.encode()) for b in bodies]
    outcomes = {json.loads(b)["spu_code"]: validate_message(m1, json.loads(b)) for b in bodies}
    assert outcomes["HUGE01"] == "needs_fix"
    assert {outcomes[p[0]["spu_code"]] for p in products} <= {"media", "review"}
    doc = _report(m1, aws, out.batch_id)
    rows = {r["spu_code"]: r for r in doc["product_results"]}
    assert doc["products"] == 3 and doc["invalid_products"] == 1
    (err,) = rows["HUGE01"]["errors"]
    first_row = 2 + len(products[0])                     # header, then the first product's rows
    assert err["code"] == "PIPE_PRODUCT_TOO_LARGE" and err["row"] == first_row and err["column"] == "A"
    assert rows["HUGE01"]["status"] == "needs_fix" and "1048576" in err["en"]
    assert all(rows[p[0]["spu_code"]]["valid"] for p in products)


def test_a_product_code_over_the_key_limit_is_a_located_error_not_a_retry_loop(m1, aws, tmp_path):
    """A 2,100-character product code cannot be a DynamoDB key (2,048 bytes): refused before
    anything is written under it, located at its cell, counted, and the batch reports."""
    long_code = "L" * 2_100
    rows = normal(2, seed=9)
    bad = [dict(r, spu_code=long_code, sku_code=f"LONG-{i}") for i, r in enumerate(rows[1])]
    data = write_products(tmp_path / "long.xlsx", [rows[0], bad])
    out = _upload(m1, aws, "m1/long.xlsx", data)
    bodies = [json.loads(b) for b in _drain(aws)]
    outcomes = [validate_message(m1, b) for b in bodies]     # raised ValidationException before
    assert "needs_fix" in outcomes
    assert get_product(m1, "m1", rows[0][0]["spu_code"])["status"] in ("media", "in_review")
    doc = _report(m1, aws, out.batch_id)
    (row,) = [r for r in doc["product_results"] if r["spu_code"].startswith("LLLL")]
    (err,) = row["errors"]
    assert err["code"] == "PIPE_CODE_TOO_LONG" and err["row"] == 2 + len(rows[0]) and err["column"] == "A"
    assert row["status"] == "needs_fix" and doc["invalid_products"] == 1 and doc["refused_products"] == 0


def test_a_product_whose_item_would_pass_400_kb_is_needs_fix_not_stuck_validating(m1, aws, tmp_path):
    """~600 KB of rows: the message fits SQS (1 MiB) but the product item cannot fit DynamoDB's
    400 KB. Before: the result write failed on every retry and the product stayed validating."""
    big = padded("BIG01", 20)
    data = write_products(tmp_path / "big.xlsx", [big] + normal(1, seed=3))
    out = _upload(m1, aws, "m1/big.xlsx", data)
    bodies = [json.loads(b) for b in _drain(aws)]
    assert any(b["spu_code"] == "BIG01" and "oversize" not in b["options"] for b in bodies)
    for b in bodies:
        validate_message(m1, b)
    item = get_product(m1, "m1", "BIG01")
    assert item["status"] == "needs_fix" and item["valid"] is False
    assert item["findings"][0]["code"] == "PIPE_PRODUCT_TOO_LARGE" and item["findings"][0]["row"] == 2
    doc = _report(m1, aws, out.batch_id)
    assert {r["spu_code"]: r["status"] for r in doc["product_results"]}["BIG01"] == "needs_fix"
    # the fixed product is taken on its next upload
    fixed = write_products(tmp_path / "fixed.xlsx", [padded("BIG01", 3, chars=100)])
    out2 = _upload(m1, aws, "m1/fixed.xlsx", fixed)
    for b in _drain(aws):
        assert validate_message(m1, json.loads(b)) != "busy"
    assert get_product(m1, "m1", "BIG01")["batch_id"] == out2.batch_id


def test_ops_reset_of_a_stuck_product_lets_its_batch_answer_and_a_redrive_recovers(m1, aws, tmp_path, monkeypatch,
                                                                                    capsys):
    """A product left ``validating`` by a failure that retried until its message went to the DLQ
    (the bug this fixes) refuses every re-upload as busy and its batch never reports. Ops resets
    it (``shangjia product reset``): it fails with a located reason, its batch is counted and
    reports; the DLQ's message redriven later counts nothing twice; the re-upload is taken."""
    from shangjia.cli import main

    products = normal(2, seed=21)
    stuck_spu = products[1][0]["spu_code"]
    out = _upload(m1, aws, "m1/first.xlsx", write_products(tmp_path / "first.xlsx", products))
    bodies = [json.loads(b) for b in _drain(aws)]
    stuck_msg = next(b for b in bodies if b["spu_code"] == stuck_spu)
    for b in bodies:
        if b is not stuck_msg:
            validate_message(m1, b)
    # The stuck state: admitted (validating) by the first delivery, its result never written, its
    # message in the DLQ after the last retry.
    real_put = m1.store.put

    def failing(item, **kw):                   # the result's payload item (products.write_payload)
        if (item["pk"], item["sk"]) == keys.payload(keys.product_pk("m1", stuck_spu)):
            raise RuntimeError("ValidationException: Item size has exceeded the maximum allowed size")
        return real_put(item, **kw)
    monkeypatch.setattr(m1.store, "put", failing)
    with pytest.raises(RuntimeError):
        validate_message(m1, stuck_msg)
    monkeypatch.setattr(m1.store, "put", real_put)
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=aws.queues["validate_dlq"], MessageBody=json.dumps(stuck_msg, ensure_ascii=False))
    assert get_product(m1, "m1", stuck_spu)["status"] == "validating"
    assert not m1.store.get(*keys.batch(out.batch_id)).get("report_at")

    # a fixed re-upload is refused as busy while it is stuck
    again = _upload(m1, aws, "m1/again.xlsx", write_products(tmp_path / "again.xlsx", [products[1]]))
    assert [validate_message(m1, json.loads(b)) for b in _drain(aws)] == ["busy"]
    assert _report(m1, aws, again.batch_id)["product_results"][0]["errors"][0]["code"] == "PIPE_PRODUCT_BUSY"

    # not stuck for long yet: refused without --force
    argv = ["product", "reset", "m1", stuck_spu, "--as", "ops-7", "--reason", "DLQ'd, see ticket 42"]
    assert main(argv) == 3
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T03:30:00+00:00")       # an hour later
    assert main(argv) == 0
    done = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert done["from"] == "validating" and done["to"] == "failed" and done["counted_in_batch"] is True
    item = get_product(m1, "m1", stuck_spu)
    assert item["status"] == "failed" and item["reset"]["by"] == "ops-7"
    # what ops sees of it afterwards: every move, with its batch (shangjia product history)
    assert main(["product", "history", "m1", stuck_spu, "--json"]) == 0
    moves = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [m["status"] for m in moves] == ["validating", "failed"] and moves[-1]["batch_id"] == out.batch_id
    assert main(["product", "history", "m1", stuck_spu]) == 0
    assert capsys.readouterr().out.split()[1::3] == ["validating", "failed"]
    assert main(["product", "history", "m1", "NO-SUCH-SPU"]) == 3
    doc = _report(m1, aws, out.batch_id)                       # the first batch answers at last
    row = {r["spu_code"]: r for r in doc["product_results"]}[stuck_spu]
    assert row["status"] == "failed" and row["errors"][-1]["code"] == "PIPE_PRODUCT_RESET"
    assert row["errors"][-1]["row"] == 2 + len(products[0])        # located at the product's first row
    assert main(argv) == 3                                     # failed is settled: nothing to reset

    # the runbook's redrive: the DLQ'd message comes back and changes nothing (counted once)
    assert main(["redrive", "validate"]) == 0
    (redriven,) = [json.loads(b) for b in _drain(aws, ("validate",))]
    assert validate_message(m1, redriven) == "duplicate"
    tally = m1.store.get(keys.batch(out.batch_id)[0], "TALLY#00000")
    assert int(tally["validated"]) == 2
    assert sqs.get_queue_attributes(QueueUrl=aws.queues["validate_dlq"], AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"

    # and the merchant's next upload of it is taken
    third = _upload(m1, aws, "m1/third.xlsx", write_products(tmp_path / "third.xlsx", [products[1]]))
    assert [validate_message(m1, json.loads(b)) for b in _drain(aws)] != ["busy"]
    assert get_product(m1, "m1", stuck_spu)["batch_id"] == third.batch_id
