"""Partial refunds on the ledger (moto, in process): exactly the refunded units come back, once
per refund id; a refund beyond what the order holds is refused with a code and changes nothing."""

import pytest

from shangjia.clock import SystemClock
from shangjia.stock import StockLedger


@pytest.fixture
def ledger(deps):
    led = StockLedger(deps.store, SystemClock())
    led.set_level("m1", "A", 10, source="erp:c1", event_id="e1", seq=1)
    led.set_level("m1", "B", 5, source="erp:c1", event_id="e2", seq=1)
    return led


def lv(ledger, sku):
    x = ledger.levels("m1", sku)
    return x.on_hand, x.reserved, x.available()


def test_a_partial_refund_of_a_paid_order_restocks_exactly_that_part_once(ledger):
    ledger.reserve("m1", [("A", 4), ("B", 2)], channel="wechat", order_id="o1")
    ledger.commit("m1", channel="wechat", order_id="o1")
    assert lv(ledger, "A") == (6, 0, 6)
    r = ledger.refund("m1", [("A", 1)], channel="wechat", order_id="o1", refund_id="as-1")
    assert (r.outcome, r.state) == ("refunded", "committed") and lv(ledger, "A") == (7, 0, 7)
    assert ledger.refund("m1", [("A", 1)], channel="wechat", order_id="o1", refund_id="as-1").outcome == "replay"
    assert lv(ledger, "A") == (7, 0, 7)
    # 3 of A are left to refund: 4 is refused, with the code and the numbers, and nothing moves
    r = ledger.refund("m1", [("A", 4)], channel="wechat", order_id="o1", refund_id="as-2")
    assert (r.outcome, r.reason, r.detail["refundable"]) == ("refused", "STOCK_REFUND_EXCEEDS", {"A": 3})
    assert "as-2" in r.detail["message_en"] and lv(ledger, "A") == (7, 0, 7)
    # a SKU the order does not hold
    r = ledger.refund("m1", [("Z", 1)], channel="wechat", order_id="o1", refund_id="as-3")
    assert (r.outcome, r.reason) == ("refused", "STOCK_REFUND_EXCEEDS")
    # a full refund afterwards gives back only what the partial refund left
    assert ledger.release("m1", channel="wechat", order_id="o1", reason="refunded").outcome == "restocked"
    assert lv(ledger, "A") == (10, 0, 10) and lv(ledger, "B") == (5, 0, 5)
    refunds = [m for m in ledger.movements("m1", "A") if m["kind"] == "refund"]
    assert [(m["delta"], m["refund_id"], m["order_id"]) for m in refunds] == [(1, "as-1", "o1")]


def test_a_partial_refund_before_payment_releases_the_reservation_part(ledger):
    ledger.reserve("m1", [("A", 3)], channel="douyin", order_id="o2")
    r = ledger.refund("m1", [("A", 2)], channel="douyin", order_id="o2", refund_id="r1")
    assert r.outcome == "refunded" and lv(ledger, "A") == (10, 1, 9)
    ledger.commit("m1", channel="douyin", order_id="o2")          # the rest is paid: 1 unit leaves
    assert lv(ledger, "A") == (9, 0, 9)


def test_refunding_every_unit_closes_the_order(ledger):
    ledger.reserve("m1", [("A", 2)], channel="wechat", order_id="o3")
    ledger.commit("m1", channel="wechat", order_id="o3")
    ledger.refund("m1", [("A", 1)], channel="wechat", order_id="o3", refund_id="x1")
    r = ledger.refund("m1", [("A", 1)], channel="wechat", order_id="o3", refund_id="x2")
    assert (r.outcome, r.state) == ("refunded", "restocked") and lv(ledger, "A") == (10, 0, 10)
    assert ledger.release("m1", channel="wechat", order_id="o3").outcome == "replay"
    r = ledger.refund("m1", [("A", 1)], channel="wechat", order_id="o3", refund_id="x3")
    assert (r.outcome, r.reason, r.detail["refundable"]) == ("refused", "STOCK_REFUND_EXCEEDS", {"A": 0})
    assert lv(ledger, "A") == (10, 0, 10)


def test_a_refund_of_an_order_never_seen_is_a_noop(ledger):
    r = ledger.refund("m1", [("A", 1)], channel="wechat", order_id="nope", refund_id="r")
    assert (r.outcome, r.reason) == ("noop", "STOCK_ORDER_UNKNOWN") and lv(ledger, "A") == (10, 0, 10)
