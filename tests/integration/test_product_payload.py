"""A product is two items: the small one whose status moves (``META``) and its revision's payload
(``DATA``: the parsed product, cells, findings, media, readiness). DynamoDB bills a write by the
larger of the item before and after, so every status move must rewrite the small item only; every
reader still sees one product (``products.get_product``, ``views.batch_products``)."""


import pytest

from tests.support.events import validate_message_body
from shangjia.limits import native_item_size
from shangjia.pipeline import keys, packing, views
from shangjia.pipeline.products import get_product, move_status, reset_product, set_status
from shangjia.pipeline.validate import validate_message
from shangjia.status import ProductStatus as S

MERCHANT = "m-vip-001"


@pytest.fixture
def msg(deps):
    return validate_message_body(deps.store, MERCHANT)


def _items(deps, spu):
    pk, sk = keys.product(MERCHANT, spu)
    return deps.store.get(pk, sk), deps.store.get(*keys.payload(pk))


def test_validation_keeps_the_payload_off_the_item_whose_status_moves(deps, msg):
    assert validate_message(deps, msg) in ("media", "review")
    meta, data = _items(deps, msg["spu_code"])
    assert data["batch_id"] == meta["batch_id"] == msg["batch_id"]
    assert not {"product", "cells", "findings"} & set(meta)
    assert native_item_size(meta) < 2048, "a status move pays for ~1-2 KB, not the payload"
    product = get_product(deps, MERCHANT, msg["spu_code"])          # readers see one product
    assert product["status"] == meta["status"] and product["product"] == packing.unpack(data["packed"])["product"]
    assert product["product"]["spu_code"] == msg["spu_code"] and product["cells"]
    # the payload is stored packed, in one value (written and read whole): fewer write units than
    # its maps, and none of it on the item whose status moves
    plain = {k: v for k, v in data.items() if k != "packed"}
    plain.update({k: product[k] for k in ("product", "cells", "findings", "readiness")})
    assert set(data) == {"pk", "sk", "batch_id", "packed"} and packing.is_packed(data["packed"])
    assert native_item_size(data) * 2 < native_item_size(plain) and native_item_size(plain) > 2048
    assert views.batch_products(deps, msg["batch_id"])[0]["product"]["spu_code"] == msg["spu_code"]


def test_a_move_that_adds_findings_writes_them_to_the_payload_and_returns_the_whole_product(deps, msg):
    validate_message(deps, msg)
    spu, batch = msg["spu_code"], msg["batch_id"]
    before = get_product(deps, MERCHANT, spu)
    moved = move_status(deps, MERCHANT, spu, S.FAILED, batch_id=batch,
                        extra={"findings": before["findings"] + [{"code": "X", "severity": "error"}], "valid": False})
    meta, data = _items(deps, spu)
    assert meta["status"] == "failed" and meta["valid"] is False and "findings" not in meta
    assert packing.unpack(data["findings"])[-1]["code"] == "X"
    assert get_product(deps, MERCHANT, spu)["findings"][-1]["code"] == "X", "an added value wins over validation's"
    assert moved["findings"][-1]["code"] == "X" and moved["product"] == before["product"]


def test_a_new_upload_shows_no_payload_of_the_revision_it_replaces(deps, msg):
    validate_message(deps, msg)
    spu = msg["spu_code"]
    pk, sk = keys.product(MERCHANT, spu)
    deps.store.update(pk, sk, "SET #s = :p", names={"#s": "status"}, values={":p": "published"})
    # the next upload admitted (validating) but its result not written yet
    deps.store.update(pk, sk, "SET batch_id = :b, #s = :v", names={"#s": "status"},
                      values={":b": "the-next-batch", ":v": "validating"})
    now = get_product(deps, MERCHANT, spu)
    assert now["batch_id"] == "the-next-batch" and "product" not in now and "findings" not in now
    # a late writer of the old revision adds nothing to the new one
    assert not set_status(deps, MERCHANT, spu, S.FAILED, batch_id=msg["batch_id"],
                          extra={"findings": [{"code": "LATE", "severity": "error"}]})
    assert "findings" not in get_product(deps, MERCHANT, spu)


def test_a_product_stored_before_the_split_keeps_its_payload_in_place(deps):
    """A table written before the split holds the payload on the product item and has no DATA
    item: moves still carry their findings, and readers still see them."""
    pk, sk = keys.product(MERCHANT, "OLD-1")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": MERCHANT, "spu_code": "OLD-1", "batch_id": "b-old",
                    "status": "publishing", "product": {"spu_code": "OLD-1", "skus": []},
                    "findings": [{"code": "W", "severity": "warning"}]})
    assert set_status(deps, MERCHANT, "OLD-1", S.NEEDS_FIX, batch_id="b-old",
                      extra={"findings": [{"code": "W", "severity": "warning"}, {"code": "E", "severity": "error"}]})
    item = get_product(deps, MERCHANT, "OLD-1")
    assert item["status"] == "needs_fix" and [f["code"] for f in item["findings"]] == ["W", "E"]
    assert item["product"]["spu_code"] == "OLD-1" and deps.store.get(*keys.payload(pk)) is None


def test_a_reset_files_the_failure_with_the_findings_from_the_payload(deps, msg):
    validate_message(deps, msg)
    spu = msg["spu_code"]
    out = reset_product(deps, MERCHANT, spu, actor="ops-1", reason="stuck", force=True)
    assert out["to"] == "failed"
    item = get_product(deps, MERCHANT, spu)
    assert item["findings"][-1]["code"] == "PIPE_PRODUCT_RESET" and item["product"]["spu_code"] == spu
    failure = deps.store.get(keys.batch(msg["batch_id"])[0], f"FAILURE#{spu}")
    assert failure["codes"][-1] == "PIPE_PRODUCT_RESET" and failure["category"] == item["product"]["category"]


def test_history_names_its_batch_where_it_changes_and_reads_whole(deps, msg):
    """A move's history entry is one short string and names no batch (a map of the same fields
    would add ~14 bytes, its batch ~30, to every status move of the small item); the admission
    entry names its batch, and ``history_of`` gives every entry its batch, across revisions and
    with the maps older items hold."""
    from shangjia.pipeline.products import history_of

    validate_message(deps, msg)
    spu, batch = msg["spu_code"], msg["batch_id"]
    pk, sk = keys.product(MERCHANT, spu)
    stored = deps.store.get(pk, sk)["history"]
    at = stored[0].split(" ")[1]
    assert stored[0] == f"validating {at} {batch}" and at.endswith("Z")
    assert len(stored) >= 2 and all(isinstance(h, str) and len(h.split(" ")) == 2 for h in stored[1:]), stored
    older = [{"status": "published", "at": "2026-11-01T00:00:00.000000Z", "batch_id": "b-0"}]
    deps.store.update(pk, sk, "SET history = list_append(:o, history)", values={":o": older})
    got = history_of(deps.store.get(pk, sk))
    assert [h["batch_id"] for h in got] == ["b-0"] + [batch] * len(stored)
    assert [h["status"] for h in got][1:] == [h.split(" ")[0] for h in stored]
    assert got[1]["at"] == at and got[0]["at"] == "2026-11-01T00:00:00.000000Z"
    assert history_of(None) == [] and history_of({"history": ["notanentry", 7, None]}) == []
