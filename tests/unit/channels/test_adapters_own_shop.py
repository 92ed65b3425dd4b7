"""The own shop: publishing writes the storefront record, live at once, under our stable id."""

from __future__ import annotations

import pytest

from shangjia.channels import ChannelError, channel_port, channel_product
from shangjia.channels.credentials import shop_for
from shangjia.channels.own_shop import storefront_product

from .adapters_support import deps_fixture, product  # noqa: F401 — the deps fixture


def test_submit_writes_the_storefront_record_live(deps):
    port = channel_port(deps, "own_shop")
    shop = shop_for(deps, "m-1", "own_shop")                   # no secret needed
    got = port.submit(shop, product(), listing={"batch_id": "b1"})
    assert got.state == "live" and got.platform_product_id.startswith("sf-")
    rec = storefront_product(deps, "m-1", "SPU-TEE-001")
    assert rec["state"] == "live" and rec["storefront_id"] == got.platform_product_id
    assert rec["title"] == "纯棉圆领短袖T恤 夏季新款"
    assert len(rec["images"]) == 3 and all(u.startswith("https://media.example.test/r/") and u.endswith(
        ("/main.webp", "/gallery.webp")) for u in rec["images"])
    assert rec["images"][0].endswith("/main.webp")
    assert rec["detail_images"][0].endswith("/detail.webp")
    assert [(s["sku_code"], s["price_fen"], s["stock"], s["spec"]) for s in rec["skus"]] == [
        ("SPU-TEE-001-W-M", 9900, 10, {"颜色": "白色", "尺码": "M"}),
        ("SPU-TEE-001-W-L", 9900, 7, {"颜色": "白色", "尺码": "L"})]
    assert port.lookup(shop, "SPU-TEE-001", None) == {"platform_product_id": got.platform_product_id,
                                                      "state": "live", "reason": ""}
    assert port.lookup(shop, "OTHER", None) is None
    # a new revision: same id, new content
    again = port.submit(shop, product(price_fen=8800), listing={"batch_id": "b2"})
    assert again.platform_product_id == got.platform_product_id
    assert storefront_product(deps, "m-1", "SPU-TEE-001")["skus"][0]["price_fen"] == 8800
    assert storefront_product(deps, "m-2", "SPU-TEE-001") is None
    # written without a read: the version counts revisions, the first publication stays
    from shangjia.channels.own_shop import storefront_key

    after = deps.store.get(*storefront_key("m-1", "SPU-TEE-001"))
    assert after["version"] == 2 and after["revision"] == "b2" and rec["revision"] == "b1"
    assert after["first_published_at"] == rec["first_published_at"] and after["published_at"]
    # a revision without a category (blank in the sheet): the record no longer shows the old one
    blank = {**product(price_fen=7700), "category": None}
    port.submit(shop, blank, listing={"batch_id": "b3"})
    third = storefront_product(deps, "m-1", "SPU-TEE-001")
    assert "category" not in third and third["skus"][0]["price_fen"] == 7700 and third["revision"] == "b3"


def test_stock_and_delisting_change_the_record(deps):
    port = channel_port(deps, "own_shop")
    shop = shop_for(deps, "m-1", "own_shop")
    pid = port.submit(shop, product(), listing=None).platform_product_id
    port.update_stock(shop, pid, {"SPU-TEE-001-W-L": 0})
    port.delist_skus(shop, pid, ["SPU-TEE-001-W-M"])
    assert [(s["sku_code"], s["stock"]) for s in storefront_product(deps, "m-1", "SPU-TEE-001")["skus"]] == [
        ("SPU-TEE-001-W-L", 0)]
    with pytest.raises(ChannelError) as e:
        port.update_stock(shop_for(deps, "m-2", "own_shop"), pid, {"X": 1})     # not that merchant's
    assert e.value.kind == "permanent"
    assert port.parse_callback(lambda a: None, {}, {}, b"") == []


def test_channel_product_joins_product_and_media():
    item = {"product": {"spu_code": "S", "images": {"main": ["a.jpg"]}}, "media": {"main#00": {"ok": True}}}
    assert channel_product(item) == {"spu_code": "S", "images": {"main": ["a.jpg"]}, "media": {"main#00": {"ok": True}}}
