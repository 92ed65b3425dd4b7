"""Taobao, Pinduoduo, Shopify and WooCommerce data mapped onto our raw product (pure)."""

import json
from pathlib import Path

import pytest

from shangjia.errors import FindingError
from shangjia.inbound import pinduoduo, taobao
from shangjia.inbound.model import to_raw
from shangjia.sheets import open_sheet
from tests.support.events import load_event

CORPUS = Path("/work/shared/corpus/commerce")


def _sample(name):
    return json.loads(load_event(f"erp/{name}.json")["body"])


def test_props_name_escaping_is_undone_exactly():
    got = taobao.parse_props_name("20000:29534:品牌:A#cln#B;122216348:29445:适用#scln#场景:春#scln#夏#cln#秋")
    assert got == [("20000", "29534", "品牌", "A:B"), ("122216348", "29445", "适用;场景", "春;夏:秋")]


def test_a_taobao_item_maps_ids_as_strings_prices_in_yuan_and_images_by_url():
    doc = _sample("products_taobao")
    mp = taobao.map_item(doc["items"][0], defaults=doc["defaults"])
    raw = to_raw(mp)
    assert mp.source_id == "11223344" and raw.spu_code == "SPU-TB-001" and raw.findings == []
    first, second = raw.rows
    assert first.cells["category"] == "010101" and first.cells["brand"] == "示例品牌"
    assert first.cells["material"] == "雪纺" and "袖长:短袖" in first.cells["attribute_tags"]
    assert first.cells["main_image"] == "https://img.alicdn.com/imgextra/i1/main.jpg"
    assert first.cells["gallery_images"].split("|")[0].endswith("g1.jpg")
    assert first.cells["detail_images"].endswith("d1.jpg") and "<p>" not in first.cells["description"]
    assert (first.cells["sku_code"], first.cells["spec_values"], first.cells["price"], first.cells["stock"]) == \
        ("SKU-TB-001-W-M", "颜色:白色;尺码:M", "99.00", "10")
    assert second.cells == {"sku_code": "SKU-TB-001-W-L", "spec_values": "颜色:白色;尺码:L", "price": "99.00",
                            "stock": "8", "weight_kg": "0.3", "package_size_cm": "30x20x5", "market_price": "199.00",
                            "cost_price": "40.00"}


def test_an_unmapped_category_is_a_located_error_naming_it_never_a_guess():
    item = {"num_iid": 9007199254740993, "cid": 50099999, "title": "某个商品标题", "price": "10.00", "num": 1}
    raw = to_raw(taobao.map_item(item))
    assert "category" not in raw.rows[0].cells
    [f] = [f for f in raw.findings if f.code == "INBOUND_CATEGORY_UNMAPPED"]
    assert "cid 50099999" in f.message_en and f.field == "category"
    assert raw.spu_code == "9007199254740993"                       # 64-bit id kept exact, as a string


@pytest.mark.parametrize("price", ["12.5O", "1.234", "-3", "", None, True])
def test_a_bad_yuan_price_is_refused(price):
    item = {"num_iid": 1, "cid": 50010850, "title": "连衣裙测试标题", "price": price, "num": 1}
    raw = to_raw(taobao.map_item(item))
    assert [f.code for f in raw.findings] == ["INBOUND_PRICE_INVALID"] and "price" not in raw.rows[0].cells


def test_deleted_taobao_skus_are_left_out():
    doc = _sample("products_taobao")
    item = doc["items"][0]["item_seller_get_response"]["item"]
    item["skus"]["sku"][1]["status"] = "delete"
    assert [r.cells["sku_code"] for r in taobao.map_item(item).rows] == ["SKU-TB-001-W-M"]


def test_pinduoduo_detail_prices_are_fen_and_galleries_map_to_our_slots():
    doc = _sample("products_pinduoduo")
    raw = to_raw(pinduoduo.map_goods(doc["items"][0], defaults=doc["defaults"]))
    first = raw.rows[0].cells
    assert raw.findings == [] and first["category"] == "020103"
    assert first["price"] == "59.00" and first["market_price"] == "129.00" and raw.rows[1].cells["price"] == "79.00"
    assert first["main_image"].endswith("c1.jpg") and len(first["gallery_images"].split("|")) == 3
    assert first["detail_images"].endswith("d1.jpg") and first["spec_values"] == "尺寸:小号"


def test_pinduoduo_old_read_api_prices_are_yuan_strings():
    goods = {"goods_info_get_response": {"goods_info": {
        "goods_id": 77, "goods_name": "旧接口商品名称", "image_url": "https://img.pddpic.com/a.jpg",
        "sku_list": [{"sku_id": 1, "spec": "红色", "sku_quantity": 3, "outer_id": "S1", "outer_goods_id": "G1",
                      "single_price": "19.90", "group_price": "15.00"}]}}}
    mp = pinduoduo.map_goods(goods)
    assert mp.spu_code == "G1" and mp.rows[0].cells["price"] == "19.90" and mp.rows[0].cells["stock"] == "3"
    goods["goods_info_get_response"]["goods_info"]["sku_list"][0]["single_price"] = 1990    # not a yuan string
    assert [i.code for i in pinduoduo.map_goods(goods).issues] == []                       # 1990 yuan: valid number
    goods["goods_info_get_response"]["goods_info"]["sku_list"][0]["single_price"] = "19.9元"
    assert [i.code for i in pinduoduo.map_goods(goods).issues] == ["INBOUND_PRICE_INVALID"]


def test_a_json_feed_reads_like_a_sheet_with_located_findings():
    doc = _sample("products_taobao")
    doc["items"].append({"num_iid": 5, "cid": 1, "title": "未映射的商品标题", "price": "1.00", "outer_id": "X"})
    reader = open_sheet(json.dumps(doc, ensure_ascii=False).encode(), "feed.json")
    assert reader.info.layout == "erp:taobao"
    a, b = list(reader.products())
    assert [r.row for r in a.rows] == [2, 3] and b.first_row == 4
    [f] = b.findings
    assert (f.code, f.row, f.column) == ("INBOUND_CATEGORY_UNMAPPED", 4, reader.info.columns["category"])
    assert [p.spu_code for p in reader.products(start_after_row=3)] == ["X"]       # ingest's checkpoint


@pytest.mark.parametrize("doc, reason", [
    ({"merchant_id": "m1", "platform": "shopee", "items": [{}]}, "platform"),
    ({"merchant_id": "m1", "platform": "taobao", "items": []}, "items"),
    ({"platform": "taobao", "items": [{"num_iid": 1}]}, "merchant_id"),
    ({"merchant_id": "m1", "platform": "pinduoduo", "items": [{"num_iid": 1, "cid": 2}]}, "items[0]"),
])
def test_a_feed_of_unknown_shape_is_refused_whole(doc, reason):
    with pytest.raises(FindingError) as e:
        open_sheet(json.dumps(doc).encode(), "feed.json")
    assert e.value.finding.code == "INBOUND_UNKNOWN_SHAPE" and reason in e.value.finding.message_en


def _corpus(name):
    p = CORPUS / name
    if not p.exists():
        pytest.skip(f"corpus file {p} absent (see /work/shared/corpus/MANIFEST.md)")
    return p


def test_shopify_product_csv_maps_variants_images_and_located_category_errors():
    reader = open_sheet(_corpus("shopify_jewelery.csv"), "shopify_jewelery.csv")
    assert reader.info.layout == "export:shopify"
    products = list(reader.products())
    p = products[0]
    assert p.spu_code == "chain-bracelet" and [r.cells.get("spec_values") for r in p.rows] == ["Color:Blue", "Color:Black"]
    assert p.rows[0].cells["price"] == "42.99" and p.rows[0].cells["market_price"] == "44.99"
    assert p.rows[0].cells["main_image"].startswith("https://burst.shopifycdn.com/")
    cat = [f for f in p.findings if f.code == "INBOUND_CATEGORY_UNMAPPED"][0]
    assert cat.row == 2 and cat.column == "E" and "Bracelet" in cat.message_en      # column E: Type
    assert any(f.code == "INBOUND_CURRENCY_ASSUMED" and f.severity == "warning" for f in p.findings)


def test_woocommerce_csv_groups_variations_under_their_parent():
    reader = open_sheet(_corpus("woocommerce_sample_products.csv"), "woocommerce_sample_products.csv")
    assert reader.info.layout == "export:woocommerce"
    by = {p.spu_code: p for p in reader.products()}
    tee = by["woo-vneck-tee"]
    assert [r.cells["sku_code"] for r in tee.rows] == ["woo-vneck-tee-red", "woo-vneck-tee-green", "woo-vneck-tee-blue"]
    assert tee.rows[0].cells["category"] == "010201" and tee.rows[0].cells["weight_kg"] == "0.227"   # 0.5 lbs
    assert tee.rows[0].cells["package_size_cm"] == "61.0x2.5x5.1"                                    # 24x1x2 in


def test_woocommerce_bad_rows_are_located():
    reader = open_sheet(_corpus("woocommerce_sample_update_product.csv"), "u.csv")
    findings = [f for p in reader.products() for f in p.findings if f.is_error]
    assert findings and all(f.row for f in findings)
