"""Re-uploads on the local cloud: a corrected sheet reprocesses only the product that changed, and
the same bytes again (a copy under another key, a retried PutObject) cause no review or channel call.
S3 notifications carry the object's versionId, as AWS sends them from a versioned bucket."""

import io
import json
import random
import time

import pytest

from shangjia.pipeline.products import get_product, product_history
from shangjia.localcloud.demo import make_image
from shangjia.pipeline import keys, views

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

M = "rv1"
N = 10
NEW_TITLE = "山野简约经典收纳盒 修改后的新标题"


def _batch_for(deps, key, not_in=()):
    for b in views.merchant_batches(deps, M):
        if b["key"] == key and b["batch_id"] not in not_in:
            return b
    return None


def _settled_batch(cloud, deps, key, *, not_in=(), timeout_s=300):
    """Wait until the upload's batch is settled and its report written; return (batch, summary, seconds)."""
    t0 = time.monotonic()
    found = {}

    def done():
        b = _batch_for(deps, key, not_in)
        if not b:
            return False
        s = views.batch_summary(deps, b)
        b = deps.store.get(*keys.batch(b["batch_id"]))
        if s["settled"] and b.get("report_json_key"):
            found.update(batch=b, summary=s)
            return True
        return False

    if not cloud.wait_until(done, timeout_s=timeout_s):
        b = _batch_for(deps, key, not_in)
        s = views.batch_summary(deps, b, with_products=True) if b else None
        stuck = [(p.get("spu_code"), p.get("status"), p.get("listings") or p.get("reason"))
                 for p in (s or {}).get("products", []) if p.get("status") not in ("published", "rejected", "needs_fix")]
        pytest.fail(f"{key} did not settle: batch {b}\nsummary {s and s.get('by_status')}\nnot settled {stuck}\n"
                    f"handler errors {cloud.runtime.errors[-3:]}")
    return found["batch"], found["summary"], time.monotonic() - t0


def _reviews_and_calls(cloud, deps, spus):
    """Reviews started (in_review entries in the products' histories) and channel HTTP calls so far."""
    reviews = 0
    for s in spus:
        reviews += sum(1 for h in product_history(deps, M, s) if h.get("status") == "in_review")
    return reviews, cloud.channels.calls


@pytest.mark.timeout(720)     # two uploads through review and three channels each, on a loaded 2-core run
def test_a_corrected_sheet_reprocesses_one_product_and_the_same_bytes_none(cloud, deps, tmp_path):
    import openpyxl

    from shangjia.pipeline.merchants import put_merchant
    from shangjia.sheets.samples import write_sample_workbook

    put_merchant(deps.store, M, name="Re-uploader", annual_sales_cny=9_000_000)     # VIP: automatic review
    path = tmp_path / "catalog.xlsx"
    # seed 23 draws no book: books are refused on Douyin by the category data (no publication
    # licence on the simulated shop), which tests/e2e/test_channels.py and the unit tests cover
    images = write_sample_workbook(path, N, seed=23)
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    rng = random.Random(21)
    for img in images:
        s3.put_object(Bucket=drop, Key=f"{M}/{img}", Body=make_image(img, rng, size=900))
    key = f"{M}/catalog.xlsx"

    # 1. the first upload: every product through validation, media, review and the channels
    v1 = s3.put_object(Bucket=drop, Key=key, Body=path.read_bytes())["VersionId"]
    b1, s1, t_first = _settled_batch(cloud, deps, key)
    assert b1["version"] == v1, "the notification carries the object's versionId, as on AWS"
    assert s1["by_status"] == {"published": N}, [(p["spu_code"], p["errors"]) for p in views.batch_summary(
        deps, b1, with_products=True)["products"] if p["errors"]]
    spus = [p["spu_code"] for p in views.batch_products(deps, b1["batch_id"])]
    reviews1, calls1 = _reviews_and_calls(cloud, deps, spus)
    assert reviews1 == N

    # 2. the merchant corrects one product's title and uploads the sheet again (same key)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    header = next(r for r in range(1, 10) if any("商品标题" in str(c.value or "") for c in ws[r]))
    col = next(c.column for c in ws[header] if "商品标题" in str(c.value or ""))
    row = next(r for r in range(header + 1, ws.max_row + 1) if ws.cell(r, col).value)
    ws.cell(row, col).value = NEW_TITLE
    buf = io.BytesIO()
    wb.save(buf)
    edited = buf.getvalue()
    s3.put_object(Bucket=drop, Key=key, Body=edited)
    b2, s2, t_second = _settled_batch(cloud, deps, key, not_in={b1["batch_id"]})
    changed = [p for p in views.batch_products(deps, b2["batch_id"]) if p.get("batch_id") == b2["batch_id"]]
    assert len(changed) == 1 and s2["unchanged"] == N - 1 and s2["reprocessed"] == 1, s2
    assert cloud.wait_until(lambda: (get_product(deps, M, changed[0]["spu_code"]) or {}).get("status")
                            == "published", timeout_s=60)
    reviews2, calls2 = _reviews_and_calls(cloud, deps, spus)
    assert reviews2 == reviews1 + 1, "one new review: the changed product's"
    # its pictures did not change: media took each one's result (a HEAD), no GET, render or PUT
    from shangjia.pipeline.media import file_result

    spu2 = changed[0]["spu_code"]
    slots = list(get_product(deps, M, spu2)["media"])
    taken = [file_result(deps, M, spu2, b2["batch_id"], k.split("#")[0], int(k.split("#")[1])) for k in slots]
    assert slots and all(r and r.get("reused") for r in taken), taken
    # the changed product's listings are updated, not added: WeChat product/update + product/listing
    # (back to audit), Douyin product/editV2; tokens and re-hosted images are cached
    assert calls2 - calls1 == 3, "an update on WeChat and on Douyin, for the changed product only"
    reports = cloud.resources.buckets["reports"]
    doc = json.loads(s3.get_object(Bucket=reports, Key=b2["report_json_key"])["Body"].read())
    assert doc["unchanged_products"] == N - 1 and doc["reprocessed_products"] == 1
    (row_doc,) = [r for r in doc["product_results"] if not r["unchanged"]]
    assert row_doc["changes"] == [{"field": "title", "old": row_doc["changes"][0]["old"], "new": NEW_TITLE,
                                   "row": row, "column": row_doc["changes"][0]["column"]}]

    # 3. the same bytes under another key, and 4. a retried PutObject of them: nothing reprocessed
    s3.copy_object(Bucket=drop, Key=f"{M}/catalog copy.xlsx", CopySource={"Bucket": drop, "Key": key})
    b3, s3_, t_copy = _settled_batch(cloud, deps, f"{M}/catalog copy.xlsx")
    s3.put_object(Bucket=drop, Key=key, Body=edited)
    b4, s4, t_retry = _settled_batch(cloud, deps, key, not_in={b1["batch_id"], b2["batch_id"]})
    for s in (s3_, s4):
        assert s["unchanged"] == N and s["reprocessed"] == 0, s
    assert cloud.wait_until(cloud.idle, timeout_s=60), "nothing left in flight or queued"
    reviews3, calls3 = _reviews_and_calls(cloud, deps, spus)
    assert (reviews3, calls3) == (reviews2, calls2), "no second review, no channel call"
    assert all((get_product(deps, M, s) or {}).get("status") == "published" for s in spus)
    # 5. a promotion's stock: one product's stock cells are all the sheet changes. No review, no
    # product update: the ledger is seeded and the stock sync sends it through the stock APIs
    from shangjia.spec import load_spec
    from shangjia.stock import StockLedger

    heads = {f.name: f.header for f in load_spec().fields}
    wb = openpyxl.load_workbook(io.BytesIO(edited))
    ws = wb.worksheets[0]
    cols = {str(c.value or ""): c.column for c in ws[header]}
    spu_col, stock_col = cols[heads["spu_code"]], cols[heads["stock"]]
    target, current = spus[0], None
    for r in range(header + 1, ws.max_row + 1):
        current = ws.cell(r, spu_col).value or current
        if current == target:
            ws.cell(r, stock_col).value = 4321
    buf = io.BytesIO()
    wb.save(buf)
    wechat, douyin = cloud.channels.wechat, cloud.channels.douyin
    seen = (len(wechat.requests), len(douyin.requests))
    s3.put_object(Bucket=drop, Key=key, Body=buf.getvalue())
    b5, s5, t_stock = _settled_batch(cloud, deps, key, not_in={b1["batch_id"], b2["batch_id"], b4["batch_id"]})
    assert s5["unchanged"] == N and s5["reprocessed"] == 0, s5
    codes = [sk["sku_code"] for sk in get_product(deps, M, target)["product"]["skus"]]
    ledger = StockLedger(deps.store, deps.clock)
    assert all(ledger.levels(M, c).on_hand == 4321 for c in codes)
    assert cloud.wait_until(lambda: cloud.idle() and any(p == "/channels/ec/product/stock/update"
                                                         for p, _ in wechat.requests[seen[0]:])
                            and any(p == "/sku/syncStock" for p, _ in douyin.requests[seen[1]:]), timeout_s=60)
    sent = {p for p, _ in wechat.requests[seen[0]:]} | {p for p, _ in douyin.requests[seen[1]:]}
    assert not sent & {"/channels/ec/product/update", "/channels/ec/product/listing", "/product/editV2",
                       "/product/addV2"}, f"stock only, no product update: {sent}"
    reviews5, _ = _reviews_and_calls(cloud, deps, spus)
    assert reviews5 == reviews3 and (get_product(deps, M, target) or {}).get("status") == "published"
    doc5 = json.loads(s3.get_object(Bucket=reports, Key=b5["report_json_key"])["Body"].read())
    assert {(c["field"], c["new"]) for r in doc5["product_results"] for c in r["changes"]} == {("stock", "4321")}
    print(f"\nre-upload figures: {N} products; first upload {t_first:.1f} s ({N} reprocessed); "
          f"corrected sheet {t_second:.1f} s ({s2['reprocessed']} reprocessed, {s2['unchanged']} unchanged); "
          f"copy under another key {t_copy:.1f} s and retried PutObject {t_retry:.1f} s (0 reprocessed); "
          f"one product's stock {t_stock:.1f} s (0 reprocessed, stock APIs only); "
          f"channel calls {calls1} / +{calls2 - calls1} / +{calls3 - calls2}")
