"""Stock reconciliation on moto, in slices: each scheduled run checks the next levels after where
the last one stopped, a cycle covers every SKU once, a run short of time stops at a product
boundary and the next resumes there, and an overlapping run does not move the cursor."""

from dataclasses import replace

import pytest

from shangjia.channels import Shop
from shangjia.channels.credentials import forget_shops, save_shop
from shangjia.pipeline import keys
from shangjia.stock import StockLedger, rules
from shangjia.stock.sync import reconcile


class Douyin:
    """A Douyin shop's product API as reconciliation reads and writes it (``product.detail``,
    ``sku/syncStock``): what the platform shows per SKU code, per product id."""

    def __init__(self):
        self.stock: dict[str, dict[str, int]] = {}
        self.reads: list[str] = []
        self.writes: list[tuple[str, dict[str, int]]] = []

    def api(self, shop, method, params):
        assert method == "product.detail"
        pid = params["product_id"]
        self.reads.append(pid)
        return {"data": {"spec_prices": [{"code": c, "stock_num": n} for c, n in self.stock[pid].items()]}}

    def update_stock(self, shop, pid, stock):
        self.writes.append((pid, dict(stock)))
        self.stock[pid].update(stock)


@pytest.fixture
def catalog(deps):
    """Two merchants, 5 products of 2 SKUs each (20 units a SKU), every one live on Douyin, whose
    shop shows 7 of each SKU: every SKU has drifted."""
    forget_shops()
    platform = Douyin()
    ledger = StockLedger(deps.store, deps.clock)
    products = []
    for m in ("m-a", "m-b"):
        save_shop(deps, Shop(m, "douyin", shop_id=f"shop-{m}", app_id="k", app_secret="s"), at="2026-11-25T02:30:00Z")
    for m, count in (("m-a", 3), ("m-b", 2)):
        for p in range(count):
            spu = f"{m}-P{p}"
            codes = [f"{spu}-S{i}" for i in range(2)]
            for i, c in enumerate(codes):
                deps.store.put({"pk": keys.sku_claim(m, c)[0], "sk": keys.sku_claim(m, c)[1], "owner": spu,
                                "merchant_id": m})
                ledger.set_level(m, c, 20, source="erp:test", event_id=f"e-{c}", seq=1)
            pk, _ = keys.product(m, spu)
            pid = f"pid-{spu}"
            deps.store.put({"pk": pk, "sk": "LISTING#douyin", "state": "live", "platform_product_id": pid})
            platform.stock[pid] = {c: 7 for c in codes}
            products.append((m, spu, codes))
    return platform, products


def run(deps, platform, **kw):
    return reconcile(deps, port_for=lambda ch: platform, **kw)


def test_slices_cover_every_sku_once_per_cycle_and_wrap(deps, catalog):
    platform, products = catalog
    all_codes = {c for _, _, codes in products for c in codes}
    seen_cursors, repaired = [], set()
    for _ in range(3):                                   # 10 levels, 4 a run: 4 + 4 + 2
        out = run(deps, platform, max_levels=4)
        assert out["levels"] <= 4 and not out["overlap"] and out["errors"] == []
        seen_cursors.append(out["cursor"])
        repaired |= {c for r in out["repaired"] for c in r["now"]}
    assert [c["cycle_done"] for c in seen_cursors] == [False, False, True]
    assert seen_cursors[0]["from"] == "" and seen_cursors[1]["from"] == seen_cursors[0]["to"]
    assert seen_cursors[2]["to"] == ""                   # the next run starts from the first level again
    assert repaired == all_codes                         # every drifted SKU set once in the cycle
    assert all(n == 20 for stock in platform.stock.values() for n in stock.values())
    assert len(platform.reads) == len(products)          # one platform read per listing (no product split)
    again = run(deps, platform, max_levels=4)            # the next cycle begins: nothing left to repair
    assert again["cursor"]["from"] == "" and again["repaired"] == [] and again["checked"] == 4


def test_a_run_short_of_time_stops_at_a_product_and_the_next_resumes_there(deps, catalog):
    platform, products = catalog
    budget = iter([100, 100, 5])                         # two products, then under the margin
    first = run(deps, platform, max_levels=10, seconds_left=lambda: next(budget, 5))
    assert first["products"] == 2 and first["cursor"]["stopped"] and not first["cursor"]["cycle_done"]
    assert first["cursor"]["to"] == f"m-a#{products[1][2][1]}"     # the last level of the 2nd product
    second = run(deps, platform, max_levels=10)
    assert second["cursor"]["from"] == first["cursor"]["to"] and second["cursor"]["cycle_done"]
    checked = [r["spu_code"] for r in first["repaired"] + second["repaired"]]
    assert sorted(checked) == sorted(spu for _, spu, _ in products)   # each product once, none skipped
    stopped_at_once = run(deps, platform, max_levels=10, seconds_left=lambda: 0)
    assert stopped_at_once["products"] == 0 and stopped_at_once["cursor"]["to"] == ""   # not moved


def test_an_overlapping_run_leaves_the_cursor_to_the_run_that_moved_it(deps, catalog):
    platform, _ = catalog
    real = deps.store
    other: dict = {}

    class AnotherRunMovesItMeanwhile:
        def __getattr__(self, name):
            return getattr(real, name)

        def get(self, pk, sk, **kw):
            got = real.get(pk, sk, **kw)
            if (pk, sk) == rules.RECONCILE_CURSOR and not other:
                other.update(run(deps, platform, max_levels=4))
            return got

    late = run(replace(deps, store=AnotherRunMovesItMeanwhile()), platform, max_levels=4)
    assert not other["overlap"] and late["overlap"] and late["cursor"]["from"] == ""
    assert real.get(*rules.RECONCILE_CURSOR)["after"] == other["cursor"]["to"] != ""


def test_without_a_slice_the_whole_catalog_is_checked_and_no_cursor_kept(deps, catalog):
    platform, products = catalog
    out = run(deps, platform)
    assert out["levels"] == 10 and out["products"] == len(products) and "cursor" not in out
    assert deps.store.get(*rules.RECONCILE_CURSOR) is None


def test_the_scheduled_function_runs_one_slice_of_its_configured_size(deps, catalog, handler, monkeypatch):
    import shangjia.channels

    platform, _ = catalog
    monkeypatch.setattr(shangjia.channels, "channel_port", lambda deps, channel: platform)
    monkeypatch.setenv("SHANGJIA_RECONCILE_LEVELS", "6")
    out = handler("stock_reconcile")({"source": "aws.events"})
    assert out["levels"] == 6 and out["repaired"] == 3 and out["cursor"]["to"] != ""
    assert deps.store.get(*rules.RECONCILE_CURSOR)["after"] == out["cursor"]["to"]
    assert handler("stock_reconcile")({"source": "aws.events"})["cursor"]["cycle_done"]


def test_a_run_killed_by_its_time_out_keeps_what_it_checked_up_to_its_last_checkpoint(deps, catalog, monkeypatch):
    """A platform hangs past the margin and the time-out kills the run: the cursor saved every
    CHECKPOINT_PRODUCTS products keeps the next run from starting the slice over."""
    import shangjia.stock.sync as sync

    platform, products = catalog
    monkeypatch.setattr(sync, "CHECKPOINT_PRODUCTS", 2)
    real_api, reads = platform.api, []

    def hangs_on_the_fourth(shop, method, params):
        reads.append(params["product_id"])
        if len(reads) == 4:
            raise TimeoutError("Task timed out after 300.00 seconds")
        return real_api(shop, method, params)

    monkeypatch.setattr(platform, "api", hangs_on_the_fourth)
    with pytest.raises(TimeoutError):
        run(deps, platform, max_levels=10)
    saved = deps.store.get(*rules.RECONCILE_CURSOR)["after"]
    assert saved == f"m-a#{products[1][2][1]}", "saved before the third product: the first two are done"
    monkeypatch.setattr(platform, "api", real_api)
    nxt = run(deps, platform, max_levels=10)
    assert nxt["cursor"]["from"] == saved and nxt["products"] == 3 and nxt["cursor"]["cycle_done"]
