"""ERP feeds on the local cloud, over real HTTP: signed posts through the gateway, a presigned
upload into the drop bucket, and the products validated on the sheet rows' path."""

import json
import time

import pytest

from shangjia.pipeline.products import with_payload
from shangjia.cli.erp import post_signed
from tests.support.events import load_event

CLIENT, MERCHANT = "e2e-erp", "m-erp-e2e"


@pytest.fixture(scope="module")
def erp(cloud, deps):
    from shangjia.inbound.verify import add_client
    from shangjia.pipeline import keys
    from shangjia.pipeline.merchants import put_merchant

    put_merchant(deps.store, MERCHANT, name="ERP e2e", annual_sales_cny=9_000_000)
    # check-only: products stop once validated (their example image URLs are never fetched)
    deps.store.update(*keys.merchant(MERCHANT), "SET batch_policy = :p", values={":p": {"mode": "check_only"}})
    secret = add_client(deps, CLIENT, [MERCHANT])
    now = int(deps.clock.now().timestamp())

    def post(route, body, event_id):
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return post_signed(f"{cloud.gateway.url}/erp/v1/{route}", CLIENT, secret, raw, event_id=event_id, now=now)
    return post


def _feed(spu, **item_changes):
    doc = json.loads(load_event("erp/products_taobao.json")["body"])
    doc["merchant_id"] = MERCHANT
    item = doc["items"][0]["item_seller_get_response"]["item"]
    item["outer_id"] = spu
    for s in item["skus"]["sku"]:
        s["outer_id"] = s["outer_id"].replace("SPU-TB-001", spu)
    item.update(item_changes)
    return doc


def _validated(deps, spus, timeout_s=180):
    """spu -> its checked record once every one is validated (polled, never a fixed sleep)."""
    found = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(found) < len(spus):
        refs = deps.store.query(f"BATCHES#{MERCHANT}", index="gsi1")
        for b in deps.store.get_many([(r["pk"], r["sk"]) for r in refs]):
            prefs = deps.store.query(f"BATCH#{b['batch_id']}", index="gsi1")
            for p in with_payload(deps, deps.store.get_many([(r["pk"], r["sk"]) for r in prefs
                                                              if r["pk"].startswith("CHECK#")])):
                if p.get("spu_code") in spus and "valid" in p and "findings" in p:     # result and payload
                    found[p["spu_code"]] = (p, b)
        time.sleep(0.5)
    return found


def test_signed_feeds_and_a_presigned_upload_reach_validation(erp, deps):
    import urllib.request
    import uuid

    status, answer = erp("products", _feed("E2E-GOOD"), "e2e-1")
    assert status == 202 and answer["products"] == 1
    assert erp("products", _feed("E2E-GOOD"), "e2e-1") == (202, answer)                # a retry: the first answer
    status, bad = erp("products", '{"merchant_id":"m","t":"连衣裙"}'.encode("gbk"), "e2e-2")
    assert (status, bad["code"]) == (400, "INBOUND_BODY_NOT_UTF8")                   # through the gateway's base64

    status, up = erp("uploads", {"merchant_id": MERCHANT, "filename": "big-feed.json"}, "e2e-3")
    assert status == 201
    feed = json.dumps(_feed("E2E-UPLOADED", cid=50099999), ensure_ascii=False).encode()
    boundary = uuid.uuid4().hex
    parts = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                     for k, v in up["fields"].items())
    parts += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big-feed.json"\r\n'
              f"Content-Type: application/json\r\n\r\n").encode() + feed + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(up["url"], data=parts, method="POST",
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as r:        # noqa: S310 — the local cloud
        assert r.status in (200, 201, 204)

    got = _validated(deps, {"E2E-GOOD", "E2E-UPLOADED"})
    good, good_batch = got["E2E-GOOD"]
    uploaded, up_batch = got["E2E-UPLOADED"]
    assert good["valid"] is True and good["status"] == "checked"
    assert good_batch["source"] == "erp:e2e-erp" and good_batch["layout"] == "erp:taobao"
    assert up_batch["key"] == up["object_key"] and up_batch["source"] == "erp:e2e-erp"
    assert uploaded["valid"] is False
    assert any(f["code"] == "INBOUND_CATEGORY_UNMAPPED" and "cid 50099999" in f["message_en"]
               for f in uploaded["findings"])
