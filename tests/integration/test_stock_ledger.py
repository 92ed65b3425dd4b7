"""The stock ledger on moto (in process): conditional transactions, replays, stale ERP levels,
sheet seeds, refusals, and concurrent reservations that never go below zero."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shangjia.clock import SystemClock
from shangjia.stock import StockLedger, rules


class Serialized:
    """In-process moto's backends are not thread-safe; DynamoDB applies each request atomically.
    One request at a time here, as the local cloud's server does (its middleware's lock)."""

    def __init__(self, store):
        self.store, self.lock = store, threading.Lock()

    def __getattr__(self, name):
        fn = getattr(self.store, name)

        def call(*a, **kw):
            with self.lock:
                return fn(*a, **kw)
        return call


@pytest.fixture
def ledger(deps):
    seen = []
    led = StockLedger(Serialized(deps.store), SystemClock(), notify=lambda m, codes: seen.append((m, tuple(codes))))
    led.seen = seen
    return led


def moves(ledger, m, sku):
    return [(x["kind"], x.get("delta"), x.get("on_hand")) for x in ledger.movements(m, sku)]


def test_set_level_applies_newer_ignores_older_and_replays(ledger):
    r = ledger.set_level("m1", "S1", 10, source="erp:c1", event_id="e1", seq=5)
    assert (r.outcome, r.level.on_hand, r.level.available()) == ("applied", 10, 10)
    assert ledger.set_level("m1", "S1", 3, source="erp:c1", event_id="e0", seq=4).outcome == "stale"
    assert ledger.set_level("m1", "S1", 3, source="erp:c1", event_id="e1b", seq=5).outcome == "stale"
    assert ledger.set_level("m1", "S1", 10, source="erp:c1", event_id="e1", seq=5).outcome == "replay"
    r = ledger.set_level("m1", "S1", 7, source="erp:c1", event_id="e2", seq="2026-11-25T02:30:00Z")
    assert (r.outcome, r.level.on_hand) == ("applied", 7)       # a timestamp is newer than sequence 5
    assert ledger.set_level("m1", "S1", 1, source="erp:c1", event_id="e3",
                            seq="2026-11-25T02:29:59Z").outcome == "stale"
    assert ledger.levels("m1", "S1").on_hand == 7
    assert moves(ledger, "m1", "S1") == [("set", None, 10), ("set", None, 7)]
    assert ledger.seen == [("m1", ("S1",)), ("m1", ("S1",))]     # only applied changes are synced


def test_reserve_commit_release_and_replays(ledger):
    ledger.set_level("m1", "A", 5, source="erp:c1", event_id="e1", seq=1)
    ledger.set_level("m1", "B", 1, source="erp:c1", event_id="e2", seq=1)
    assert ledger.reserve("m1", [("A", 2), ("B", 1)], channel="douyin", order_id="o1").outcome == "reserved"
    assert ledger.reserve("m1", [("A", 2), ("B", 1)], channel="douyin", order_id="o1").outcome == "replay"
    a = ledger.levels("m1", "A")
    assert (a.on_hand, a.reserved, a.available()) == (5, 2, 3)
    # not enough B: nothing reserved (A untouched), the order recorded as refused with its reason
    r = ledger.reserve("m1", [("A", 1), ("B", 1)], channel="wechat", order_id="o2")
    assert (r.outcome, r.reason, r.detail["skus"]) == ("refused", "STOCK_INSUFFICIENT", ["B"])
    assert ledger.levels("m1", "A").reserved == 2
    assert ledger.order("m1", "wechat", "o2")["state"] == "refused"
    assert ledger.reserve("m1", [("A", 1), ("B", 1)], channel="wechat", order_id="o2").outcome == "replay"
    # paid: leaves the warehouse; twice changes nothing
    assert ledger.commit("m1", channel="douyin", order_id="o1").outcome == "committed"
    assert ledger.commit("m1", channel="douyin", order_id="o1").outcome == "replay"
    a = ledger.levels("m1", "A")
    assert (a.on_hand, a.reserved, a.available()) == (3, 0, 3)
    # refund after payment: back on hand, once
    assert ledger.release("m1", channel="douyin", order_id="o1", reason="refund").outcome == "restocked"
    assert ledger.release("m1", channel="douyin", order_id="o1", reason="refund").outcome == "replay"
    assert ledger.levels("m1", "A").on_hand == 5
    # cancel before payment releases the reservation
    ledger.reserve("m1", [("A", 4)], channel="wechat", order_id="o3")
    assert ledger.release("m1", channel="wechat", order_id="o3").outcome == "released"
    assert ledger.release("m1", channel="wechat", order_id="o3").outcome == "replay"
    assert ledger.commit("m1", channel="wechat", order_id="o3").outcome == "noop"     # cancelled stays cancelled
    a = ledger.levels("m1", "A")
    assert (a.on_hand, a.reserved) == (5, 0)
    assert [k for k, *_ in moves(ledger, "m1", "A")] == ["set", "reserve", "commit", "restock", "reserve", "release"]
    assert ledger.commit("m1", channel="wechat", order_id="nope").outcome == "noop"


def test_unknown_sku_is_refused(ledger):
    r = ledger.reserve("m1", [("NOPE", 1)], channel="douyin", order_id="o9")
    assert (r.outcome, r.reason) == ("refused", "STOCK_UNKNOWN_SKU")
    assert [o["order_id"] for o in ledger.orders("m1", state="refused")] == ["o9"]


def test_buffers_keep_units_back_per_channel(ledger):
    ledger.set_level("m1", "A", 5, source="erp:c1", event_id="e1", seq=1)
    ledger.set_buffer("m1", "A", "douyin", 3)
    assert ledger.levels("m1", "A").channel_stock("douyin") == 2
    assert ledger.reserve("m1", [("A", 3)], channel="douyin", order_id="d1").outcome == "refused"
    assert ledger.reserve("m1", [("A", 3)], channel="wechat", order_id="w1").outcome == "reserved"
    assert ledger.levels("m1", "A").channel_stock("douyin") == 0


def test_sheet_seeds_only_levels_nobody_else_owns(ledger):
    assert ledger.seed("m1", "A", 10, source="sheet:b1")
    assert ledger.seed("m1", "A", 12, source="sheet:b2")            # a re-upload: still the sheet's
    assert ledger.seed("m1", "A", 12, source="sheet:b2") is False    # the same batch again: nothing
    assert ledger.seed("m1", "A", 12, source="sheet:b9") is False    # another sheet, the same stock: nothing
    assert ledger.levels("m1", "A").on_hand == 12
    ledger.reserve("m1", [("A", 1)], channel="douyin", order_id="o1")
    assert ledger.seed("m1", "A", 50, source="sheet:b3") is False    # orders own it now
    ledger.set_level("m1", "B", 4, source="erp:c1", event_id="e1", seq=1)
    assert ledger.seed("m1", "B", 50, source="sheet:b3") is False    # the ERP owns it
    assert (ledger.levels("m1", "A").on_hand, ledger.levels("m1", "B").on_hand) == (12, 4)


def test_a_products_seeds_leave_out_the_levels_others_own_and_use_no_transaction(ledger, monkeypatch):
    """``seed_many`` is ``seed`` for all of a product's SKUs: the same rules, each level under its
    own condition and the movements of those written after them in one batch (a transaction
    would bill every write twice), the SKUs written reported once to the stock sync."""
    ledger.set_level("m1", "B", 4, source="erp:c1", event_id="e1", seq=1)        # the ERP owns B
    ledger.seed("m1", "C", 7, source="sheet:b0")                                  # C already 7
    calls = []
    real = ledger.store.transact
    monkeypatch.setattr(ledger.store, "transact", lambda actions: calls.append(len(actions)) or real(actions),
                        raising=False)
    ledger.seen.clear()
    got = ledger.seed_many("m1", [("A", 10), ("B", 50), ("C", 7), ("D", 0)], source="sheet:b1")
    assert got == ["A", "D"] and calls == []
    assert [ledger.levels("m1", c).on_hand for c in "ABCD"] == [10, 4, 7, 0]
    assert ledger.seen == [("m1", ("A", "D"))]
    assert [(m[0], m[2]) for m in moves(ledger, "m1", "A")] == [("seed", 10)]
    assert [m[0] for m in moves(ledger, "m1", "B")] == ["set"] and [m[0] for m in moves(ledger, "m1", "C")] == ["seed"]
    assert ledger.seed_many("m1", [("A", 10), ("D", 0)], source="sheet:b1") == []   # the redelivery
    assert [m[0] for m in moves(ledger, "m1", "A")].count("seed") == 1 and ledger.seen == [("m1", ("A", "D"))]
    big = [(f"S{i:03d}", i) for i in range(120)]
    assert ledger.seed_many("m1", big, source="sheet:b2") == [c for c, _ in big]
    assert ledger.levels("m1", "S119").on_hand == 119 and calls == []


def test_a_seed_cut_short_before_its_movement_gets_it_from_the_redelivery(ledger, monkeypatch):
    real = ledger.store.put_many

    def crash(items):
        raise RuntimeError("the function timed out")
    monkeypatch.setattr(ledger.store, "put_many", crash, raising=False)
    with pytest.raises(RuntimeError):
        ledger.seed_many("m1", [("A", 10), ("B", 3)], source="sheet:b1")
    assert ledger.levels("m1", "A").on_hand == 10 and moves(ledger, "m1", "A") == []
    monkeypatch.setattr(ledger.store, "put_many", real, raising=False)
    ledger.seen.clear()
    assert ledger.seed_many("m1", [("A", 10), ("B", 3)], source="sheet:b1") == []   # nothing changes again
    assert [(m[0], m[2]) for m in moves(ledger, "m1", "A")] == [("seed", 10)]
    assert [(m[0], m[2]) for m in moves(ledger, "m1", "B")] == [("seed", 3)]
    # another sheet with the same stock later writes nothing, and no movement of its own
    assert ledger.seed_many("m1", [("A", 10)], source="sheet:b7") == [] and len(moves(ledger, "m1", "A")) == 1


def test_concurrent_reservations_never_oversell(ledger):
    ledger.set_level("m1", "HOT", 20, source="erp:c1", event_id="e1", seq=1)
    orders = [f"o{i}" for i in range(120)] * 2          # every order delivered twice, concurrently

    def place(oid):
        return ledger.reserve("m1", [("HOT", 1)], channel="douyin", order_id=oid).outcome

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(place, orders))
    lv = ledger.levels("m1", "HOT")
    assert (lv.on_hand, lv.reserved, lv.available()) == (20, 20, 0)
    states = [o["state"] for o in ledger.orders("m1")]
    assert (states.count("reserved"), states.count("refused")) == (20, 100)
    assert outcomes.count("reserved") == 20 and outcomes.count("refused") == 100 and outcomes.count("replay") == 120
    assert [m["kind"] for m in ledger.movements("m1", "HOT", limit=0)].count("reserve") == 20
    assert rules.normalise_seq("7") == 7


class SentQueues:
    def __init__(self):
        self.sent = []

    def send_batch(self, queue, bodies, **kw):
        self.sent += [(queue, dict(b)) for b in bodies]


class ClaimReads:
    def __init__(self, store):
        self.store, self.claim_reads = store, 0

    def get(self, pk, sk, **kw):
        self.claim_reads += pk.startswith("SKUCODE#")
        return self.store.get(pk, sk, **kw)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_sheet_seeds_a_new_product_without_a_sync_and_a_reupload_with_one_sync_per_product(deps):
    """A product never stored before has no listing: its levels are seeded and no stock sync is
    queued (its first send carries the stock). A re-upload that changes the stock of several SKUs
    queues one sync for the product, without reading the SKUs' claims (validate owns them)."""
    from shangjia.stock import seed_from_sheet

    deps.queues, deps.store = SentQueues(), ClaimReads(deps.store)
    product = {"spu_code": "P1", "skus": [{"sku_code": f"P1-{i}", "stock": 5 + i} for i in range(4)]}
    assert seed_from_sheet(deps, "m1", product, "b1", spu="P1", listed=False) == 4
    assert deps.queues.sent == []
    assert StockLedger(deps.store, SystemClock()).levels("m1", "P1-2").on_hand == 7
    product["skus"] = [{**s, "stock": s["stock"] + 1} for s in product["skus"]]
    assert seed_from_sheet(deps, "m1", product, "b2", spu="P1") == 4
    assert deps.queues.sent == [("stock_sync", {"merchant_id": "m1", "spu_code": "P1"})]
    assert deps.store.claim_reads == 0
    assert seed_from_sheet(deps, "m1", product, "b3", spu="P1") == 0          # the same stock: nothing
    assert len(deps.queues.sent) == 1
