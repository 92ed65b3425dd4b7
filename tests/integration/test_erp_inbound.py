"""The ERP routes on moto: signed feeds in, one answer per event, every bad request refused cleanly."""

import json
import threading
from datetime import datetime

import pytest

from shangjia.pipeline.products import get_product
from shangjia.channels.signing import webhook_signature_header
from tests.support.events import load_event

NOW = int(datetime.fromisoformat("2026-11-25T02:30:00+00:00").timestamp())     # the fixture's clock
CLIENT = "acme-erp"


@pytest.fixture
def erp(deps, handler):
    from shangjia.inbound.verify import add_client
    from shangjia.pipeline.merchants import put_merchant

    put_merchant(deps.store, "m1", name="M1", annual_sales_cny=9_000_000)
    put_merchant(deps.store, "m2", name="M2", annual_sales_cny=1)
    secret = add_client(deps, CLIENT, ["m1"])
    fn = handler("erp")

    def call(route, body, *, event_id="evt-1", t=NOW, key=None, sig=None, client=CLIENT, headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        ev = load_event("erp/products_taobao.json")
        ev["rawPath"] = ev["requestContext"]["http"]["path"] = f"/erp/v1/{route}"
        h = {"content-type": "application/json", "x-shangjia-client": client, "x-shangjia-event-id": event_id,
             "x-shangjia-signature": sig if sig is not None else webhook_signature_header(key or secret, raw, t)}
        h.update(headers or {})
        ev["headers"] = {k: v for k, v in h.items() if v is not None}
        try:
            ev["body"], ev["isBase64Encoded"] = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            import base64
            ev["body"], ev["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        r = fn(ev)
        return r["statusCode"], json.loads(r["body"]), r["headers"]

    call.secret = secret
    return call


def _feed(**kw):
    doc = json.loads(load_event("erp/products_taobao.json")["body"])
    doc["merchant_id"] = "m1"
    doc.update(kw)
    return doc


def _drop_keys(aws, deps):
    from shangjia.adapters.aws import client
    out = client("s3").list_object_versions(Bucket=aws.buckets["drop"]).get("Versions", [])
    return [v["Key"] for v in out]


def _events(deps):
    from shangjia.adapters.aws import client, resource_name
    items = client("dynamodb").scan(TableName=resource_name("table", "state"))["Items"]
    return [i for i in items if i["pk"]["S"].startswith("ERPEVENT#")]


def test_a_taobao_feed_is_accepted_once_and_a_retry_gets_the_first_answer(erp, deps, aws):
    status, body, headers = erp("products", _feed())
    assert status == 202 and body["products"] == 1 and body["skus"] == 2 and body["platform"] == "taobao"
    assert body["object_key"] == "m1/erp/acme-erp/evt-1.json" and body["mapping_findings"] == []
    again = erp("products", _feed())                         # the ERP retries (signed again, same event)
    assert again[0] == 202 and again[1] == body and again[2].get("x-shangjia-replayed") == "true"
    assert _drop_keys(aws, deps) == ["m1/erp/acme-erp/evt-1.json"]          # one object, one version


def test_the_feed_takes_the_sheet_path_and_the_batch_records_its_source(erp, deps, aws):
    from shangjia.pipeline import keys
    from shangjia.pipeline.ingest import Upload, ingest_upload
    from shangjia.pipeline.validate import validate_message

    feed = _feed()
    feed["items"].append({"num_iid": 55, "cid": 99999999, "title": "未映射类目的商品标题", "price": "12.5O",
                          "outer_id": "SPU-BAD"})
    status, body, _ = erp("products", feed)
    assert status == 202
    codes = {(f["source_id"], f["code"]) for f in body["mapping_findings"]}
    assert codes == {("55", "INBOUND_CATEGORY_UNMAPPED"), ("55", "INBOUND_PRICE_INVALID")}
    sent = []
    deps.queues.send_batch = lambda q, bodies, **kw: sent.extend(b for b in bodies if q.startswith("validate"))
    out = ingest_upload(deps, Upload(aws.buckets["drop"], body["object_key"], 100, "v1"))
    assert out.action == "ingested" and out.products_sent == 2
    batch = deps.store.get(*keys.batch(out.batch_id))
    assert batch["source"] == "erp:acme-erp" and batch["layout"] == "erp:taobao"
    results = {m["spu_code"]: validate_message(deps, m) for m in list(sent)}
    good = get_product(deps, "m1", "SPU-TB-001")
    bad = get_product(deps, "m1", "SPU-BAD")
    assert good["valid"] is True, good["findings"]
    assert bad["valid"] is False and results
    unmapped = [f for f in bad["findings"] if f["code"] == "INBOUND_CATEGORY_UNMAPPED"]
    assert unmapped and "cid 99999999" in unmapped[0]["message_en"] and unmapped[0]["row"] == 4


def _bad_requests(erp):
    good = json.dumps(_feed(), ensure_ascii=False).encode()
    big = b'{"merchant_id":"m1","pad":"' + b"x" * (2 * 2**20) + b'"}'
    return [
        ("unsigned", erp("products", good, sig=""), 401, "INBOUND_UNSIGNED"),
        ("wrong signature", erp("products", good, key="not-the-secret"), 401, "INBOUND_SIGNATURE_MISMATCH"),
        ("malformed signature header", erp("products", good, sig="v1=abc"), 401, "INBOUND_SIGNATURE_MALFORMED"),
        ("stale timestamp (-301 s)", erp("products", good, t=NOW - 301), 401, "INBOUND_TIMESTAMP_OUT_OF_WINDOW"),
        ("future timestamp (+301 s)", erp("products", good, t=NOW + 301), 401, "INBOUND_TIMESTAMP_OUT_OF_WINDOW"),
        ("unknown client", erp("products", good, client="nobody"), 401, "INBOUND_UNKNOWN_CLIENT"),
        ("no event id", erp("products", good, event_id=None), 400, "INBOUND_EVENT_ID_MISSING"),
        ("malformed JSON", erp("products", b'{"merchant_id": "m1", "items": [', event_id="e-json"), 400,
         "INBOUND_BODY_NOT_JSON"),
        ("unknown shape", erp("products", {"merchant_id": "m1", "platform": "amazon", "items": [{}]},
                              event_id="e-shape"), 422, "INBOUND_UNKNOWN_SHAPE"),
        ("taobao platform, not taobao items", erp("products", {"merchant_id": "m1", "platform": "taobao",
                                                              "items": [{"goods_id": 1}]}, event_id="e-shape2"),
         422, "INBOUND_UNKNOWN_SHAPE"),
        ("oversized body", erp("products", big, event_id="e-big"), 413, "INBOUND_BODY_TOO_LARGE"),
        ("merchant not bound", erp("products", _feed(merchant_id="m2"), event_id="e-m2"), 403,
         "INBOUND_MERCHANT_NOT_BOUND"),
        ("not UTF-8 (GBK)", erp("products", '{"merchant_id":"m1","title":"连衣裙"}'.encode("gbk"), event_id="e-gbk"),
         400, "INBOUND_BODY_NOT_UTF8"),
        ("bad stock line", erp("stock", {"merchant_id": "m1", "updates": [{"sku_code": "A", "on_hand": -1}]},
                               event_id="e-stock"), 422, "INBOUND_STOCK_LINE"),
    ]


def test_every_bad_request_is_a_clear_4xx_that_changes_nothing_and_logs_no_secret(erp, deps, aws, capsys, caplog):
    capsys.readouterr()
    caplog.set_level("INFO")
    for name, (status, body, _), want_status, want_code in _bad_requests(erp):
        assert (name, status, body.get("code")) == (name, want_status, want_code)
        assert body["message_zh"] and body["message_en"] and body["hint_en"], name
    assert _drop_keys(aws, deps) == []
    assert all(e["state"]["S"] == "released" for e in _events(deps))       # claims given back, nothing kept
    logged = capsys.readouterr()
    text = logged.out + logged.err + "\n".join(json.dumps(r.__dict__, default=str, ensure_ascii=False)
                                               for r in caplog.records)
    assert erp.secret not in text and "连衣裙" not in text and "xxxxxxxxxx" not in text
    assert "INBOUND_SIGNATURE_MISMATCH" in text                            # refusals are logged, by code


def test_a_replayed_id_with_another_body_is_409_and_the_first_answer_stands(erp, deps, aws):
    assert erp("products", _feed())[0] == 202
    other = _feed()
    other["items"][0]["item_seller_get_response"]["item"]["title"] = "另一个标题的连衣裙"
    status, body, _ = erp("products", other)
    assert (status, body["code"]) == (409, "INBOUND_EVENT_REUSED")
    assert erp("products", _feed())[0] == 202
    assert _drop_keys(aws, deps) == ["m1/erp/acme-erp/evt-1.json"]


def test_a_refused_request_may_be_corrected_under_the_same_event_id(erp, deps, aws):
    assert erp("products", _feed(merchant_id="m2"), event_id="e-fix")[0] == 403
    assert erp("products", _feed(), event_id="e-fix")[0] == 202


def test_concurrent_duplicates_are_processed_once(erp, deps, aws):
    results = []
    barrier = threading.Barrier(6)

    def go():
        barrier.wait()
        results.append(erp("products", _feed(), event_id="e-race"))
    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    firsts = [r for r in results if r[0] == 202 and r[2].get("x-shangjia-replayed") != "true"]
    others = [r for r in results if r not in firsts]
    assert len(firsts) == 1
    assert all(r[0] == 409 and r[1]["code"] == "INBOUND_EVENT_IN_PROGRESS" or r[1] == firsts[0][1] for r in others)
    assert _drop_keys(aws, deps) == ["m1/erp/acme-erp/e-race.json"]


def test_a_rotated_secret_keeps_the_previous_one_valid(erp, deps):
    from shangjia.inbound.verify import add_client
    new = add_client(deps, CLIENT, ["m1"])
    assert erp("products", _feed(), event_id="e-old", key=erp.secret)[0] == 202
    assert erp("products", _feed(), event_id="e-new", key=new)[0] == 202


def test_stock_levels_go_to_the_ledger_once_per_event(erp, deps, monkeypatch):
    from shangjia.inbound import erp as core
    calls = []
    monkeypatch.setattr(core, "apply_stock_level",
                        lambda deps, m, sku, n, **kw: calls.append((m, sku, n, kw["event_id"], kw["seq"])) or "applied")
    body = {"merchant_id": "m1", "updates": [{"sku_code": "SKU-A", "on_hand": 7, "seq": 3},
                                             {"sku_code": "SKU-B", "on_hand": 0}]}
    status, answer, _ = erp("stock", body, event_id="s-1")
    assert status == 200 and [r["stock"] for r in answer["results"]] == ["applied", "applied"]
    assert erp("stock", body, event_id="s-1")[1] == answer                   # retried: the first answer
    # without a seq, the signed timestamp orders the updates
    assert calls == [("m1", "SKU-A", 7, "s-1#0", 3), ("m1", "SKU-B", 0, "s-1#1", "2026-11-25T02:30:00+00:00")]


def test_stock_levels_reach_the_real_ledger_and_an_older_seq_is_ignored(erp, deps):
    from shangjia.stock import ledger_for
    assert erp("stock", {"merchant_id": "m1", "updates": [{"sku_code": "SKU-L", "on_hand": 9, "seq": 5}]},
               event_id="l-1")[1]["results"] == [{"sku_code": "SKU-L", "stock": "applied"}]
    assert erp("stock", {"merchant_id": "m1", "updates": [{"sku_code": "SKU-L", "on_hand": 2, "seq": 4}]},
               event_id="l-2")[1]["results"] == [{"sku_code": "SKU-L", "stock": "stale"}]
    assert ledger_for(deps).levels("m1", "SKU-L").on_hand == 9


def test_a_price_change_is_a_revision_sheet_through_the_normal_path(erp, deps, aws, monkeypatch):
    from shangjia.inbound import erp as core
    monkeypatch.setattr(core, "apply_stock_level", lambda *a, **kw: "applied")
    deps.store.put({"pk": "SKUCODE#m1#SKU-A", "sk": "CLAIM", "owner": "SPU-1", "merchant_id": "m1"})
    deps.store.put({"pk": "PRODUCT#m1#SPU-1", "sk": "META", "cells": {"spu": {}, "skus": [["SKU-A", {}], ["SKU-B", {}]]}})
    status, answer, _ = erp("stock", {"merchant_id": "m1", "updates": [{"sku_code": "SKU-A", "price": "88.00"},
                                                                       {"sku_code": "NOPE", "price": "1.00"}]},
                            event_id="p-1")
    assert status == 200 and [r["price"] for r in answer["results"]] == ["revision", "unknown_sku"]
    from shangjia.sheets import open_sheet
    key = "m1/erp/acme-erp/p-1-prices.csv"
    reader = open_sheet(deps.blobs.get("drop", key), "p-1-prices.csv")
    [p] = list(reader.products())
    assert [(r.cells.get("sku_code"), r.cells.get("price")) for r in p.rows] == [("SKU-A", "88.00"), ("SKU-B", None)]


def test_uploads_hand_out_a_presigned_post_into_the_merchants_erp_folder(erp):
    status, body, _ = erp("uploads", {"merchant_id": "m1", "filename": "全量 feed.json"}, event_id="u-1")
    assert status == 201 and body["object_key"].startswith("m1/erp/acme-erp/u-1-") and body["object_key"].endswith(".json")
    assert body["fields"]["key"] == body["object_key"] and body["url"]
    status, body, _ = erp("uploads", {"merchant_id": "m1", "filename": "x.exe"}, event_id="u-2")
    assert (status, body["code"]) == (422, "INBOUND_UNKNOWN_SHAPE")


def test_cli_client_add_prints_the_secret_once_as_the_last_line(deps, capsys):
    from shangjia.cli import main
    from shangjia.inbound.verify import client_for, secret_name

    assert main(["erp", "client", "add", "cli-erp", "--merchants", "m1,m2"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    client = client_for(deps, "cli-erp")
    assert out[-1] == client.secrets[0] and client.merchants == ("m1", "m2")
    assert out[-1] not in "\n".join(out[:-1])
    assert json.loads(deps.secrets.get(secret_name("cli-erp")))["secrets"] == [out[-1]]
    assert main(["erp", "client", "add", "bad/name", "--merchants", "m1"]) == 2
