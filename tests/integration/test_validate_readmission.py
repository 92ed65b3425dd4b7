"""A new upload of a product re-admits it only through the status table (status.py: every status
write goes through ``can_transition``), both in validate's first look and in the store condition
that guards the write against a concurrent upload."""

import json

import pytest

from tests.support.events import validate_message_body
from shangjia.pipeline import keys
from shangjia.pipeline.products import get_product
from shangjia.pipeline.validate import validate_message
from shangjia.status import TRANSITIONS, ProductStatus as S

MERCHANT = "m-vip-001"
SETTLED = {S.PUBLISHED, S.CHECKED, S.HELD, S.NEEDS_FIX, S.REJECTED, S.FAILED}    # written out, not derived


@pytest.fixture
def msg(deps):
    return validate_message_body(deps.store, MERCHANT)


def _earlier(deps, spu, status, batch="an-earlier-batch"):
    pk, sk = keys.product(MERCHANT, spu)
    item = {"pk": pk, "sk": sk, "merchant_id": MERCHANT, "spu_code": spu, "batch_id": batch,
            "status": status.value, "history": [{"status": status.value, "batch_id": batch}]}
    deps.store.put(item)
    return item


def _product(deps, spu):
    return get_product(deps, MERCHANT, spu)


@pytest.mark.parametrize("status", list(S))
def test_a_new_upload_replaces_a_settled_product_and_is_refused_while_one_is_in_flight(deps, msg, status):
    _earlier(deps, msg["spu_code"], status)
    outcome = validate_message(deps, msg)
    now = _product(deps, msg["spu_code"])
    if status in SETTLED:
        assert outcome in ("media", "review", "needs_fix"), outcome
        assert now["batch_id"] == msg["batch_id"] and now["status"] != status.value
    else:
        assert outcome == "busy"
        assert now["batch_id"] == "an-earlier-batch" and now["status"] == status.value, "in-flight work untouched"


def test_readmission_asks_the_transition_table(deps, msg, monkeypatch):
    """With the table changed so a published product may not be uploaded again, validate refuses it."""
    monkeypatch.setitem(TRANSITIONS, S.PUBLISHED, frozenset())
    _earlier(deps, msg["spu_code"], S.PUBLISHED)
    assert validate_message(deps, msg) == "busy"
    assert _product(deps, msg["spu_code"])["status"] == "published"


class StaleFirstRead:
    """The store, but the first read of the product returns what it was before a concurrent write."""

    def __init__(self, inner, key, stale):
        self.inner, self.key, self.stale, self.served = inner, key, stale, False

    def get(self, pk, sk, **kw):
        if (pk, sk) == self.key and not self.served:
            self.served = True
            return self.stale
        return self.inner.get(pk, sk, **kw)

    def get_many(self, keys_, **kw):
        keys_ = list(keys_)
        if self.key in keys_ and not self.served:     # the product read with its payload
            self.served = True
            rest = self.inner.get_many([k for k in keys_ if k != self.key], **kw)
            return rest + ([self.stale] if self.stale else [])
        return self.inner.get_many(keys_, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_store_condition_comes_from_the_table_too(deps, msg, monkeypatch):
    """A concurrent upload wins between validate's read (nothing there) and its write: the
    conditional write itself refuses a status the table does not let become uploaded."""
    monkeypatch.setitem(TRANSITIONS, S.PUBLISHED, frozenset())
    key = keys.product(MERCHANT, msg["spu_code"])
    _earlier(deps, msg["spu_code"], S.PUBLISHED)
    deps.store = StaleFirstRead(deps.store, key, None)
    assert validate_message(deps, msg) == "busy"
    assert _product(deps, msg["spu_code"])["status"] == "published"


def test_a_concurrent_upload_in_flight_is_not_overwritten(deps, msg):
    key = keys.product(MERCHANT, msg["spu_code"])
    stale = _earlier(deps, msg["spu_code"], S.NEEDS_FIX)
    _earlier(deps, msg["spu_code"], S.IN_REVIEW, batch="a-concurrent-batch")
    deps.store = StaleFirstRead(deps.store, key, stale)
    assert validate_message(deps, msg) == "busy"
    now = _product(deps, msg["spu_code"])
    assert now["status"] == "in_review" and now["batch_id"] == "a-concurrent-batch"


def test_a_duplicate_delivery_never_drags_its_own_revision_back_to_validating(deps, msg):
    """Two deliveries of one message: the second read the product while the first was still
    validating it, and writes after the first moved it on. The table has no way back to
    validating, so the second is a duplicate and the product stays where the first left it."""
    key = keys.product(MERCHANT, msg["spu_code"])
    first = validate_message(deps, msg)
    assert first in ("media", "review")
    moved_on = _product(deps, msg["spu_code"])
    stale = {**moved_on, "status": "validating"}
    deps.store = StaleFirstRead(deps.store, key, stale)
    assert validate_message(deps, msg) == "duplicate"
    now = _product(deps, msg["spu_code"])
    assert now["status"] == moved_on["status"] and now["product"] == moved_on["product"]


def test_a_validated_product_keeps_its_revision_but_not_its_admission_base(deps, msg):
    """The base a redelivery merges over (``cells_before``) lives only while the product is being
    admitted: every later status move would pay for it. The revision itself (``cells``) stays, so
    the next upload merges over it, and a redelivery is still answered as a duplicate."""
    assert validate_message(deps, msg) in ("media", "review")
    first = _product(deps, msg["spu_code"])
    deps.store.update(first["pk"], first["sk"], "SET #s = :p", names={"#s": "status"}, values={":p": "published"})
    raw = json.loads(json.dumps(msg["raw"]))
    raw["rows"][0]["cells"]["title"] = raw["rows"][0]["cells"]["title"] + " 新款"
    again = {**msg, "batch_id": "a-later-batch", "raw": raw}  # the next upload merges over the first
    assert validate_message(deps, again) in ("media", "review")
    item = _product(deps, msg["spu_code"])
    assert item["batch_id"] == "a-later-batch" and item["product"]["title"].endswith("新款")
    assert "cells_before" not in item and item["product"]["spu_code"] == msg["spu_code"]
    assert validate_message(deps, again) == "duplicate"


def test_a_new_revision_starts_a_new_history_and_the_earlier_one_is_kept_apart(deps, msg):
    """The product item carries its current revision's moves only (every move pays for its size);
    the replaced revision's history is its own item, and ``product_history`` reads all of it, also
    when the admission is delivered twice."""
    from shangjia.pipeline.products import history_of, product_history

    spu = msg["spu_code"]
    earlier = _earlier(deps, spu, S.PUBLISHED)
    deps.store.update(earlier["pk"], earlier["sk"], "SET revision = :r, history = :h",
                      values={":r": 3, ":h": ["validating 2026-11-01T00:00:00.000000Z an-earlier-batch",
                                              "media 2026-11-01T00:00:01.000000Z",
                                              "published 2026-11-01T00:09:00.000000Z"]})
    assert validate_message(deps, msg) in ("media", "review", "needs_fix")
    now = _product(deps, spu)
    assert now["revision"] == 4 and {h["batch_id"] for h in history_of(now)} == {msg["batch_id"]}
    assert history_of(now)[0]["status"] == "validating"
    archived = deps.store.get(*keys.product_history(MERCHANT, spu, 3))
    assert archived["history"][0].endswith("an-earlier-batch") and len(archived["history"]) == 3
    everything = product_history(deps, MERCHANT, spu)
    assert [(h["status"], h["batch_id"]) for h in everything[:3]] == [
        ("validating", "an-earlier-batch"), ("media", "an-earlier-batch"), ("published", "an-earlier-batch")]
    assert everything[3:] == history_of(now)
    # the same admission again (at-least-once): nothing archived twice, no move repeated
    assert validate_message(deps, msg) in ("duplicate", "media", "review", "needs_fix", "unchanged")
    assert product_history(deps, MERCHANT, spu)[:3] == everything[:3]
    assert len(deps.store.query(keys.product_pk(MERCHANT, spu), sk_prefix="HISTORY#")) == 1
    # a product's first upload archives nothing
    assert product_history(deps, MERCHANT, "NO-SUCH-SPU") == []
