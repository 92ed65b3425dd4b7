"""Re-uploads on moto: blank keeps / [清空] clears, dropped SKUs released and delisted, SKU code
claims all or nothing (one transaction), and a diff re-upload that reprocesses only what changed."""

import copy
import json

import boto3
import pytest

from shangjia.pipeline.products import get_product
from shangjia.pipeline import keys, views
from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.publish import publish_message
from shangjia.pipeline.validate import validate_message

M = "m1"


@pytest.fixture
def m1(deps):
    put_merchant(deps.store, M, name="M", annual_sales_cny=9_000_000, channels=["own_shop", "wechat"])
    return deps


def _sheet(tmp_path, n, *, seed):
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / f"s{seed}.xlsx"
    write_sample_workbook(path, n, seed=seed)
    return path.read_bytes()


def _upload(deps, aws, key, data):
    s3 = boto3.client("s3", region_name="us-east-1")
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    return ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))


def _drain(aws, queues=("validate", "validate_priority")):
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    for q in queues:
        while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out


def _product(deps, spu):
    return get_product(deps, M, spu)


def _publish(deps, spu, channels=("own_shop", "wechat")):
    """The product as the publish stage leaves it: published, listed on its channels."""
    item = _product(deps, spu)
    deps.store.update(*keys.product(M, spu), "SET #s = :s", names={"#s": "status"}, values={":s": "published"})
    for c in channels:
        deps.store.put({"pk": keys.product_pk(M, spu), "sk": f"LISTING#{c}", "channel": c, "merchant_id": M,
                        "spu_code": spu, "batch_id": item["batch_id"], "state": "live",
                        "platform_product_id": f"{c}-1"})


def _multi_sku(msgs):
    return next(m for m in msgs if len(m["raw"]["rows"]) >= 2)


def _claim_owner(deps, code):
    return (deps.store.get(*keys.sku_claim(M, code)) or {}).get("owner")


def _report(aws, batch):
    s3 = boto3.client("s3", region_name="us-east-1")
    return json.loads(s3.get_object(Bucket=aws.buckets["reports"], Key=batch["report_json_key"])["Body"].read())


def _again(msg, batch_id="batch-2"):
    m = copy.deepcopy(msg)
    m["batch_id"] = batch_id
    return m


class FakePort:
    """A channel port (shangjia.channels.ChannelPort) that records the delists it is asked for."""

    def __init__(self, channel, calls):
        self.channel, self.calls = channel, calls

    def delist_skus(self, shop, platform_product_id, sku_codes):
        self.calls.append(("delist", self.channel, platform_product_id, tuple(sku_codes)))


def FakeChannels(deps):
    from shangjia.channels import Shop
    from shangjia.pipeline.publish import Publisher

    calls = []
    pub = Publisher(deps, ports={c: FakePort(c, calls) for c in ("own_shop", "wechat", "douyin")},
                    shop_for=lambda m, c: Shop(m, c, shop_id=f"{c}-shop", app_id="", app_secret=""))
    pub.calls = calls
    return pub


# --- blank keeps, [清空] clears --------------------------------------------------------------------

def test_a_blank_cell_keeps_the_published_value_and_the_marker_clears_it(m1, aws, tmp_path):
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msg = _multi_sku(_drain(aws))
    rows = msg["raw"]["rows"]
    rows[0]["cells"]["promo_price"] = str(round(float(rows[0]["cells"]["price"]) * 0.9, 2))
    rows[1]["cells"]["promo_price"] = str(round(float(rows[1]["cells"]["price"]) * 0.9, 2))
    assert validate_message(m1, msg) in ("media", "review")
    spu = msg["spu_code"]
    before = {s["sku_code"]: s for s in _product(m1, spu)["product"]["skus"]}
    _publish(m1, spu)

    again = _again(msg)
    r0, r1 = again["raw"]["rows"][0]["cells"], again["raw"]["rows"][1]["cells"]
    r0.pop("promo_price"); r0["barcode"] = ""                  # blank: keep
    r1["promo_price"] = "[清空]"; r1["barcode"] = "[clear]"      # marker: clear
    assert validate_message(m1, again) in ("media", "review")
    item = _product(m1, spu)
    after = {s["sku_code"]: s for s in item["product"]["skus"]}
    c0, c1 = r0["sku_code"], r1["sku_code"]
    assert after[c0].get("promo_price_fen") == before[c0]["promo_price_fen"]
    assert after[c0].get("barcode") == before[c0]["barcode"]
    assert not after[c1].get("promo_price_fen") and not after[c1].get("barcode")
    assert {(c["sku_code"], c["field"], c.get("new")) for c in item["changes"]} == \
        {(c1, "promo_price", None), (c1, "barcode", None)}


# --- SKU codes: all or nothing, released when dropped ------------------------------------------------

def test_a_products_claims_are_all_or_nothing(m1, aws, tmp_path):
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msgs = _drain(aws)
    msg = _multi_sku(msgs)
    codes = [r["cells"]["sku_code"] for r in msg["raw"]["rows"]]
    m1.store.put({"pk": keys.sku_claim(M, codes[-1])[0], "sk": "CLAIM", "owner": "OTHER", "merchant_id": M})
    assert validate_message(m1, msg) == "needs_fix"
    item = _product(m1, msg["spu_code"])
    assert [f["code"] for f in item["findings"] if f["severity"] == "error"] == ["PIPE_SKU_CODE_TAKEN"]
    assert [_claim_owner(m1, c) for c in codes[:-1]] == [None] * (len(codes) - 1), "none claimed, not half"


def test_a_code_taken_in_between_cancels_the_transaction(m1, aws, tmp_path, monkeypatch):
    """A racing batch takes one code after the claims were read: the transaction writes nothing."""
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msg = _multi_sku(_drain(aws))
    codes = [r["cells"]["sku_code"] for r in msg["raw"]["rows"]]
    store = m1.store
    real = store.get_many

    def get_many(keys_, *, consistent=False):
        out = real(keys_, consistent=consistent)
        store.put({"pk": keys.sku_claim(M, codes[0])[0], "sk": "CLAIM", "owner": "RACER", "merchant_id": M})
        return out

    monkeypatch.setattr(store, "get_many", get_many)
    assert validate_message(m1, msg) == "needs_fix"
    item = _product(m1, msg["spu_code"])
    taken = [f for f in item["findings"] if f["code"] == "PIPE_SKU_CODE_TAKEN"]
    assert [f["value"] for f in taken] == [codes[0]] and "RACER" in taken[0]["message_en"]
    assert [_claim_owner(m1, c) for c in codes[1:]] == [None] * (len(codes) - 1)


def test_a_concurrent_duplicate_delivery_claiming_first_is_no_conflict(m1, aws, tmp_path, monkeypatch):
    """The local cloud's 1-2 s visibility timeout redelivers a product while it is being validated:
    the duplicate's claims are this product's own, not taken codes."""
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msg = _multi_sku(_drain(aws))
    spu = msg["spu_code"]
    codes = [r["cells"]["sku_code"] for r in msg["raw"]["rows"]]
    store = m1.store
    real = store.get_many

    def get_many(keys_, *, consistent=False):
        out = real(keys_, consistent=consistent)
        for c in codes:
            store.put({"pk": keys.sku_claim(M, c)[0], "sk": "CLAIM", "owner": spu, "merchant_id": M})
        return out

    monkeypatch.setattr(store, "get_many", get_many)
    assert validate_message(m1, msg) in ("media", "review")
    assert [_claim_owner(m1, c) for c in codes] == [spu] * len(codes)


def test_more_claims_than_one_transaction_are_undone_together(m1, aws, tmp_path, monkeypatch):
    from shangjia.pipeline import validate

    monkeypatch.setattr(validate, "MAX_TRANSACTION", 1)       # every claim its own transaction
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msg = _multi_sku(_drain(aws))
    codes = [r["cells"]["sku_code"] for r in msg["raw"]["rows"]]
    store = m1.store
    real = store.get_many

    def get_many(keys_, *, consistent=False):
        out = real(keys_, consistent=consistent)
        store.put({"pk": keys.sku_claim(M, codes[-1])[0], "sk": "CLAIM", "owner": "RACER", "merchant_id": M})
        return out

    monkeypatch.setattr(store, "get_many", get_many)
    assert validate_message(m1, msg) == "needs_fix"
    assert [_claim_owner(m1, c) for c in codes[:-1]] == [None] * (len(codes) - 1), "the earlier ones undone"


def test_dropped_skus_release_their_codes_and_are_delisted_on_every_channel(m1, aws, tmp_path):
    _upload(m1, aws, f"{M}/a.xlsx", _sheet(tmp_path, 8, seed=5))
    msgs = _drain(aws)
    msg = _multi_sku(msgs)
    spu = msg["spu_code"]
    assert validate_message(m1, msg) in ("media", "review")
    _drain(aws, ("media",))
    dropped = msg["raw"]["rows"][-1]["cells"]["sku_code"]
    assert _claim_owner(m1, dropped) == spu and dropped in [s["sku_code"] for s in _product(m1, spu)["product"]["skus"]]
    _publish(m1, spu)

    again = _again(msg)
    again["raw"]["rows"].pop()
    assert validate_message(m1, again) in ("media", "review")
    item = _product(m1, spu)
    assert item["dropped_skus"] == [dropped]
    assert {"field": "sku_code", "sku_code": dropped, "old": dropped} in item["changes"]
    assert _claim_owner(m1, dropped) is None, "released"
    assert dropped not in [s["sku_code"] for s in item["product"]["skus"]]
    kept = [r["cells"]["sku_code"] for r in again["raw"]["rows"]]
    assert all(_claim_owner(m1, c) == spu for c in kept)

    delists = _drain(aws, ("publish_own_shop", "publish_wechat"))
    assert sorted(d["channel"] for d in delists) == ["own_shop", "wechat"]
    assert all(d["action"] == "delist" and d["sku_codes"] == [dropped] for d in delists)
    from shangjia.messages import PublishMessage

    channels = FakeChannels(m1)
    for d in delists:
        PublishMessage.model_validate(d)
        assert publish_message(m1, d, channels) == "delisted"
    # each channel's platform product (the listing's id) loses the dropped SKU
    assert sorted(channels.calls) == [("delist", "own_shop", "own_shop-1", (dropped,)),
                                      ("delist", "wechat", "wechat-1", (dropped,))]
    listing = m1.store.get(*keys.listing(M, spu, "wechat"))
    assert listing["delisted_skus"] == {dropped}

    # another product may now use the released code
    other = next(m for m in msgs if m["spu_code"] != spu)
    other["raw"]["rows"][0]["cells"]["sku_code"] = dropped
    assert validate_message(m1, other) in ("media", "review")
    assert _claim_owner(m1, dropped) == other["spu_code"]
    # a late delist of a code claimed again since is not sent to the channel
    channels.calls.clear()
    late = dict(delists[0], spu_code=other["spu_code"], sku_codes=[dropped])
    assert publish_message(m1, late, channels) == "nothing_to_delist" and channels.calls == []


# --- the diff re-upload --------------------------------------------------------------------------------

def _edit_sheet(src, dst, edits):
    """The workbook ``src`` with ``edits`` ({(spu, header text): value}, every row of that product)."""
    import openpyxl

    wb = openpyxl.load_workbook(src)
    ws = wb.worksheets[0]
    header = next(r for r in range(1, 10) if any("商品标题" in str(c.value or "") for c in ws[r]))
    cols = {str(c.value or ""): c.column for c in ws[header]}
    spu_col = next(c for h, c in cols.items() if "SPU" in h or "商品编码" in h)
    current = None
    for r in range(header + 1, ws.max_row + 1):
        current = ws.cell(r, spu_col).value or current
        for (spu, text), value in edits.items():
            if current == spu:
                ws.cell(r, next(c for h, c in cols.items() if text in h)).value = value
    wb.save(dst)
    return dst.read_bytes()


def _published_catalog(deps, aws, tmp_path, n=4):
    """A sheet of ``n`` products (the workbook ``s9.xlsx``) uploaded, validated, through media and
    published: (its upload, its products' messages)."""
    first = _upload(deps, aws, f"{M}/catalog.xlsx", _sheet(tmp_path, n, seed=9))
    msgs = _drain(aws)
    for m in msgs:
        assert validate_message(deps, m) in ("media", "review")
    _drain(aws, ("media",))
    for m in msgs:
        _publish(deps, m["spu_code"])
    return first, msgs



def test_a_corrected_sheet_reprocesses_only_the_changed_products(m1, aws, tmp_path):
    import openpyxl

    first, msgs = _published_catalog(m1, aws, tmp_path, n=6)
    # the merchant fixes one product's title in the same workbook and uploads it again
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "edited.xlsx",
                         {(msgs[0]["spu_code"], "商品标题"): "山野简约经典收纳盒 修改后的标题"})
    second = _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    assert second.batch_id != first.batch_id
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in _drain(aws)}
    changed = [s for s, o in outcomes.items() if o != "unchanged"]
    assert len(changed) == 1 and len(outcomes) == 6, outcomes
    media = _drain(aws, ("media",))
    assert {m["spu_code"] for m in media} == set(changed), "only the changed product goes on"
    for s in outcomes:
        item = _product(m1, s)
        if s in changed:
            assert item["batch_id"] == second.batch_id and item["status"] == "media"
            assert [c["field"] for c in item["changes"]] == ["title"]
        else:
            assert item["batch_id"] == first.batch_id and item["status"] == "published", "kept as it was"
    batch = m1.store.get(*keys.batch(second.batch_id))
    rep = _report(aws, batch)
    assert rep["unchanged_products"] == 5 and rep["reprocessed_products"] == 1 and rep["products"] == 6
    (row,) = [r for r in rep["product_results"] if not r["unchanged"]]
    assert row["changes"][0]["field"] == "title" and row["changes"][0]["new"] == "山野简约经典收纳盒 修改后的标题"
    assert sum(r["unchanged"] and r["status"] == "published" for r in rep["product_results"]) == 5
    summary = views.batch_summary(m1, batch)
    assert summary["unchanged"] == 5 and summary["reprocessed"] == 1

    # the report workbook lists the changed value on its Changes sheet
    import io

    s3 = boto3.client("s3", region_name="us-east-1")
    xl = openpyxl.load_workbook(io.BytesIO(s3.get_object(Bucket=aws.buckets["reports"], Key=batch["report_key"])["Body"].read()))
    rows = list(xl["变更 Changes"].iter_rows(values_only=True))
    assert rows[1][0] == changed[0] and rows[1][2] == "title" and rows[1][4] == "山野简约经典收纳盒 修改后的标题"


def test_the_same_bytes_under_another_key_change_nothing(m1, aws, tmp_path):
    data = _sheet(tmp_path, 4, seed=9)
    first = _upload(m1, aws, f"{M}/a.xlsx", data)
    msgs = _drain(aws)
    for m in msgs:
        validate_message(m1, m)
    _drain(aws, ("media",))                                  # in flight (media): not published yet
    copy_ = _upload(m1, aws, f"{M}/copy of a.xlsx", data)
    retry = _upload(m1, aws, f"{M}/a.xlsx", data)             # a retried PutObject: a new version
    assert len({first.batch_id, copy_.batch_id, retry.batch_id}) == 3
    again = _drain(aws)
    assert len(again) == 8 and {validate_message(m1, m) for m in again} == {"unchanged"}
    assert _drain(aws, ("media",)) == []
    assert all(_product(m1, m["spu_code"])["batch_id"] == first.batch_id for m in msgs)


# --- a re-upload that changes only stock -----------------------------------------------------------

def test_a_stock_only_reupload_seeds_and_syncs_the_stock_and_keeps_the_product_as_it_is(m1, aws, tmp_path):
    import io

    import openpyxl

    from shangjia.stock import StockLedger, rules

    _, msgs = _published_catalog(m1, aws, tmp_path)
    target = _multi_sku(msgs)
    spu = target["spu_code"]
    before = _product(m1, spu)
    codes = [s["sku_code"] for s in before["product"]["skus"]]
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "stock.xlsx", {(spu, "库存"): 777})
    second = _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in _drain(aws)}
    assert set(outcomes.values()) == {"unchanged"}, outcomes
    assert _drain(aws, ("media",)) == [], "no image is processed again"
    after = _product(m1, spu)
    assert (after["status"], after["batch_id"], after["revision"]) == ("published", before["batch_id"], before["revision"])
    assert after["history"] == before["history"], "no review, no status move"
    assert {s["sku_code"]: s["stock"] for s in after["product"]["skus"]} == {c: 777 for c in codes}
    assert after["content_hash"] != before["content_hash"]
    ledger = StockLedger(m1.store, m1.clock)
    assert {c: ledger.levels(M, c).on_hand for c in codes} == {c: 777 for c in codes}
    assert m1.store.get(*rules.sync_marker_key(M, spu)), "a stock sync of its live listings is on its way"
    for other in (m["spu_code"] for m in msgs if m["spu_code"] != spu):
        assert m1.store.get(*rules.sync_marker_key(M, other)) is None
    # the report: every product unchanged, the stock changes listed (JSON and the Changes sheet)
    batch = m1.store.get(*keys.batch(second.batch_id))
    rep = _report(aws, batch)
    assert rep["unchanged_products"] == 4 and rep["reprocessed_products"] == 0
    (row,) = [r for r in rep["product_results"] if r["changes"]]
    assert row["spu_code"] == spu and {(c["field"], c["sku_code"], c["new"]) for c in row["changes"]} == \
        {("stock", c, "777") for c in codes}
    s3 = boto3.client("s3", region_name="us-east-1")
    xl = openpyxl.load_workbook(io.BytesIO(s3.get_object(Bucket=aws.buckets["reports"], Key=batch["report_key"])["Body"].read()))
    sheet = list(xl["变更 Changes"].iter_rows(values_only=True))[1:]
    assert {(r[0], r[1], r[2], r[4]) for r in sheet} == {(spu, c, "stock", "777") for c in codes}
    # the same sheet once more: nothing changes, nothing is seeded or listed as changed
    m1.store.delete(*rules.sync_marker_key(M, spu))
    third = _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    assert {validate_message(m1, m) for m in _drain(aws)} == {"unchanged"}
    assert m1.store.get(*rules.sync_marker_key(M, spu)) is None
    assert not [r for r in _report(aws, m1.store.get(*keys.batch(third.batch_id)))["product_results"] if r["changes"]]


def test_stock_with_any_other_change_or_a_bad_stock_cell_goes_the_whole_way(m1, aws, tmp_path):
    _, msgs = _published_catalog(m1, aws, tmp_path)
    a, b = msgs[0]["spu_code"], msgs[1]["spu_code"]
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "mixed.xlsx",
                         {(a, "库存"): 5, (a, "商品标题"): "山野简约经典收纳盒 新标题", (b, "库存"): -3})
    _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in _drain(aws)}
    assert outcomes[a] in ("media", "review") and outcomes[b] == "needs_fix"
    assert {c["field"] for c in _product(m1, a)["changes"]} == {"title", "stock"}
    bad = _product(m1, b)
    assert bad["status"] == "needs_fix" and bad["batch_id"] != msgs[1]["batch_id"]
    assert [(f["code"], f["value"]) for f in bad["findings"] if f["severity"] == "error"] == [("STOCK_INVALID", "-3")]
    assert all(f["row"] and f["column"] for f in bad["findings"])


def test_stock_only_changes_to_a_product_not_yet_published_are_not_taken_apart(m1, aws, tmp_path):
    _upload(m1, aws, f"{M}/catalog.xlsx", _sheet(tmp_path, 2, seed=9))
    msgs = _drain(aws)
    for m in msgs:
        validate_message(m1, m)                              # in media: its listings are not live
    spu = msgs[0]["spu_code"]
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "early.xlsx", {(spu, "库存"): 9})
    _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in _drain(aws)}
    assert outcomes[spu] == "busy" and _product(m1, spu)["status"] == "media"


def _stock_only_message(m1, aws, tmp_path, stock=777):
    """A published catalog and the message of its first multi-SKU product re-uploaded with new stock."""
    _, msgs = _published_catalog(m1, aws, tmp_path)
    spu = _multi_sku(msgs)["spu_code"]
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "stock.xlsx", {(spu, "库存"): stock})
    second = _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    msg = next(m for m in _drain(aws) if m["spu_code"] == spu)
    return spu, msg, second


def _levels(deps, spu, codes=None):
    from shangjia.stock import StockLedger

    ledger = StockLedger(deps.store, deps.clock)
    codes = codes or [s["sku_code"] for s in _product(deps, spu)["product"]["skus"]]
    return {c: ledger.levels(M, c).on_hand for c in codes}


def test_a_stock_only_upload_refused_on_the_way_changes_no_stock(m1, aws, tmp_path, monkeypatch):
    """Another upload takes the product between this one's read and its commit: this one is
    refused as busy, and its stock is neither seeded nor synced."""
    from shangjia.stock import rules

    spu, msg, _ = _stock_only_message(m1, aws, tmp_path)
    before = _levels(m1, spu)
    transact = m1.store.transact

    def another_upload_first(actions):
        m1.store.update(*keys.product(M, spu), "SET #s = :v, batch_id = :b", names={"#s": "status"},
                        values={":v": "validating", ":b": "batch-other"})
        return transact(actions)

    monkeypatch.setattr(m1.store, "transact", another_upload_first)
    assert validate_message(m1, msg) == "busy"
    assert _levels(m1, spu, list(before)) == before and m1.store.get(*rules.sync_marker_key(M, spu)) is None


def test_a_duplicate_delivery_that_committed_first_is_this_ones_success(m1, aws, tmp_path, monkeypatch):
    """SQS delivers the message twice at once: the copy that commits second finds its own batch's
    commit and is unchanged too, instead of taking the product the whole way."""
    spu, msg, _ = _stock_only_message(m1, aws, tmp_path)
    transact, seen = m1.store.transact, []

    def the_other_copy_first(actions):
        if not seen:
            seen.append("running")
            seen[0] = validate_message(m1, copy.deepcopy(msg))
        return transact(actions)

    monkeypatch.setattr(m1.store, "transact", the_other_copy_first)
    assert validate_message(m1, msg) == "unchanged" and seen == ["unchanged"]
    assert _product(m1, spu)["status"] == "published" and _drain(aws, ("media",)) == []
    assert set(_levels(m1, spu).values()) == {777}


def test_a_delivery_that_dies_after_its_commit_is_seeded_by_the_redelivery(m1, aws, tmp_path, monkeypatch):
    from shangjia.pipeline import stock_reupload

    spu, msg, second = _stock_only_message(m1, aws, tmp_path)
    before = _levels(m1, spu)
    real_seed = stock_reupload.seed

    def crash(*a, **kw):
        raise RuntimeError("the function timed out")

    monkeypatch.setattr(stock_reupload, "seed", crash)
    with pytest.raises(RuntimeError):
        validate_message(m1, msg)
    assert _levels(m1, spu) == before                       # committed, not yet seeded
    monkeypatch.setattr(stock_reupload, "seed", real_seed)
    assert validate_message(m1, msg) == "unchanged"         # SQS delivers it again
    assert set(_levels(m1, spu).values()) == {777}
    record = m1.store.get(f"BATCH#{second.batch_id}", f"UNCHANGED#{spu}")
    assert {c["field"] for c in record["changes"]} == {"stock"}, "the report still lists the stock changes"


def test_a_changed_products_files_carry_the_image_summaries_of_the_revision_before(m1, aws, tmp_path):
    """Media takes an unchanged image's result from its summary (``media._reuse``): validate hands
    each file the summary of the same slot and place, when that summary names its source."""
    from shangjia.pipeline.products import write_payload

    first, msgs = _published_catalog(m1, aws, tmp_path, n=3)
    spu = msgs[0]["spu_code"]
    item = _product(m1, spu)
    summaries = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/ab/cd/main.webp"}],
                             "source": "11111111.22222222.333333333333"},
                 "gallery#00": {"ok": True, "renditions": [{"name": "gallery", "key": "r/ef/cd/gallery.webp"}]}}
    write_payload(m1, keys.product_pk(M, spu), item["batch_id"], {"media": summaries})
    edited = _edit_sheet(tmp_path / "s9.xlsx", tmp_path / "edited.xlsx", {(spu, "商品标题"): "山野简约经典收纳盒 新标题"})
    _upload(m1, aws, f"{M}/catalog.xlsx", edited)
    outcomes = {m["spu_code"]: validate_message(m1, m) for m in _drain(aws)}
    assert outcomes[spu] == "media"
    files = {(m["slot"], m["index"]): m for m in _drain(aws, ("media",))}
    assert files[("main", 0)]["prior"] == summaries["main#00"]
    assert all("prior" not in m for k, m in files.items() if k != ("main", 0)), "no source named: rendered"
