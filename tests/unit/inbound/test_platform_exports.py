"""Taobao's 淘宝助理 export and Pinduoduo's 商品导出 sheet read through the sheet intake and mapped
like the platforms' API payloads; every finding at the row and column of THEIR file (pure)."""

import csv
import io

import pytest

from shangjia.inbound import samples
from shangjia.inbound.exports_cn import TAOBAO_COLUMNS, parse_pictures, parse_sku_props
from shangjia.sheets import open_sheet
from shangjia.sheets.layouts import detect_foreign_layout
from shangjia.sheets.xlsx import col_letters

TB_COL = {e: col_letters(i) for i, (e, _) in enumerate(TAOBAO_COLUMNS)}


def _products(data: bytes, name: str):
    r = open_sheet(data, name)
    return r, list(r.products())


def _codes(p):
    return sorted((f.code, f.row, f.column) for f in p.findings)


def _taobao_csv(rows: list[dict], encoding="utf-16") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\r\n")
    w.writerow(["version 1.00"])
    w.writerow([e for e, _ in TAOBAO_COLUMNS])
    w.writerow([z for _, z in TAOBAO_COLUMNS])
    for r in rows:
        w.writerow([r.get(e, "") for e, _ in TAOBAO_COLUMNS])
    return buf.getvalue().encode(encoding)


ITEM = {"title": "碎花雪纺连衣裙 白色款", "cid": "50010850", "price": "99.00", "num": "21", "outer_id": "SPU-1",
        "num_id": "600100000001", "description": "<p>雪纺面料</p><img src=\"//img.alicdn.com/d1.jpg\">",
        "picture": "aa:1:1:|https://img.alicdn.com/g1.jpg;bb:1:0:|https://img.alicdn.com/main.jpg;"
                   "cc:2:0:1627207:28320|https://img.alicdn.com/white.jpg;",
        "skuProps": "99.00:10:SPU-1-W-M:1627207:28320;20509:28315;109.50:11::1627207:-1001;20509:28316;",
        "propAlias": "20509:28316:大码L", "input_custom_cpv": "1627207:-1001:藏青",
        "inputPids": "20000", "inputValues": "示例品牌", "location_state": "浙江", "location_city": "杭州"}


@pytest.mark.parametrize("header, layout", [
    ([e for e, _ in TAOBAO_COLUMNS], "Taobao"),
    ([z for _, z in TAOBAO_COLUMNS], "Taobao"),
    (["商品ID", "商品名称", "SKU编码", "单买价", "拼单价", "SKU库存"], "Pinduoduo"),
    (["宝贝名称", "宝贝价格", "宝贝数量", "商家编码", "宝贝描述", "SPU编码"], None),   # our aliases: not an export
])
def test_the_exports_are_recognised_by_their_own_columns_only(header, layout):
    assert detect_foreign_layout(header) == layout


def test_encoded_cells_are_parsed_exactly():
    skus, bad = parse_sku_props("5.00:3:A-1:1627207:28320;20509:28315;6:0::1627207:28341;20509:28316;junk;")
    assert [(s["price"], s["quantity"], s["outer_id"], s["props"]) for s in skus] == [
        ("5.00", "3", "A-1", [("1627207", "28320"), ("20509", "28315")]),
        ("6", "0", "", [("1627207", "28341"), ("20509", "28316")])]
    assert bad == ["junk"]
    urls, local = parse_pictures("x:1:2:|https://a/3.jpg;y:1:0:|https://a/1.jpg;z:1:1:|;p:2:0:1627207:1|https://a/p.jpg")
    assert urls == ["https://a/1.jpg", "https://a/3.jpg"] and local == ["z"]


@pytest.mark.parametrize("encoding", ["utf-16", "gbk"])
def test_a_taobao_assistant_export_maps_like_the_item_api(encoding):
    reader, [p] = _products(_taobao_csv([ITEM], encoding), "出售中的宝贝.csv")
    assert reader.info.layout == "export:taobao" and reader.info.data_start_row == 4
    first, second = p.rows
    assert p.spu_code == "SPU-1" and first.row == second.row == 4
    assert first.cells["category"] == "010101" and first.cells["brand"] == "示例品牌"
    assert first.cells["main_image"] == "https://img.alicdn.com/main.jpg"           # position 0 first
    assert first.cells["gallery_images"] == "https://img.alicdn.com/g1.jpg"         # property picture left out
    assert first.cells["detail_images"] == "https://img.alicdn.com/d1.jpg" and first.cells["description"] == "雪纺面料"
    assert first.cells["ship_from"] == "浙江杭州"
    assert (first.cells["sku_code"], first.cells["spec_values"], first.cells["price"], first.cells["stock"]) == \
        ("SPU-1-W-M", "颜色:白色;尺码:M", "99.00", "10")
    # no 商家编码 on the SKU: a code from the product and the value ids; names from the file's aliases
    assert (second.cells["sku_code"], second.cells["spec_values"], second.cells["price"]) == \
        ("SPU-1-1001-28316", "颜色:藏青;尺码:大码L", "109.50")
    assert p.findings == []


def test_a_taobao_item_without_sale_properties_is_its_own_sku():
    item = {**ITEM, "skuProps": "", "propAlias": "", "input_custom_cpv": "", "barcode": "6901234567892"}
    _, [p] = _products(_taobao_csv([item]), "tb.csv")
    assert [(r.cells["sku_code"], r.cells["price"], r.cells["stock"], r.cells["barcode"]) for r in p.rows] == \
        [("SPU-1", "99.00", "21", "6901234567892")]
    assert p.rows[0].columns["price"] == TB_COL["price"] and "spec_values" not in p.rows[0].cells


def test_every_taobao_mapping_error_is_located_at_their_row_and_column():
    bad = {**ITEM, "cid": "50099999", "skuProps": "99.0O:10:S-1:1627207:28320;20509:28315;"
                                                  "99.00:x:S-2:1627207:77777;20509:28315;bogus;",
           "picture": "aa:1:0:|;bb:1:1:|https://img.alicdn.com/g1.jpg;", "cateProps": "20021:105255;",
           "inputPids": "20000,20021", "inputValues": "示例品牌"}
    _, [ok, p] = _products(_taobao_csv([ITEM, bad]), "tb.csv")
    assert ok.findings == []
    assert _codes(p) == sorted([
        ("INBOUND_CATEGORY_UNMAPPED", 5, TB_COL["cid"]),
        ("INBOUND_FIELD_INVALID", 5, TB_COL["inputValues"]),        # 2 ids, 1 value
        ("INBOUND_PROPS_SKIPPED", 5, TB_COL["cateProps"]),          # 20021:105255 has no name in the file
        ("INBOUND_IMAGE_NOT_IN_FILE", 5, TB_COL["picture"]),
        ("INBOUND_FIELD_INVALID", 5, TB_COL["skuProps"]),           # "bogus"
        ("INBOUND_PRICE_INVALID", 5, TB_COL["skuProps"]),
        ("INBOUND_FIELD_INVALID", 5, TB_COL["skuProps"]),           # quantity "x"
        ("INBOUND_PROPERTY_UNRESOLVED", 5, TB_COL["skuProps"]),     # 1627207:77777: never guessed
    ])
    by = {f.code: f for f in p.findings}
    assert "cid 50099999" in by["INBOUND_CATEGORY_UNMAPPED"].message_en
    assert "1627207:77777" in by["INBOUND_PROPERTY_UNRESOLVED"].message_zh
    assert "aa" in by["INBOUND_IMAGE_NOT_IN_FILE"].message_en
    assert "category" not in p.rows[0].cells and "price" not in p.rows[0].cells
    assert "spec_values" not in p.rows[1].cells and p.rows[0].cells["main_image"].endswith("g1.jpg")


def test_the_sample_taobao_export_breaks_only_what_it_says():
    rows, expected = samples.taobao_export_rows(8, broken_every=2)
    _, products = _products(samples.taobao_export_csv(8, broken_every=2), "tb.csv")
    want = {"unmapped_category": "INBOUND_CATEGORY_UNMAPPED", "bad_price": "INBOUND_PRICE_INVALID",
            "local_picture": "INBOUND_IMAGE_NOT_IN_FILE", "unnamed_value": "INBOUND_PROPERTY_UNRESOLVED"}
    for (row, spu, broken), p in zip(expected, products):
        errors = {f.code for f in p.findings if f.severity == "error"}
        assert (p.spu_code, p.first_row) == (spu, row)
        assert errors == ({want[broken]} if broken else set()), (spu, errors)


def test_a_pinduoduo_export_groups_sku_rows_and_reads_single_buy_prices_in_yuan():
    reader, products = _products(samples.pinduoduo_export_xlsx(3), "商品导出.xlsx")
    assert reader.info.layout == "export:pinduoduo"
    rows, _ = samples.pinduoduo_export_rows(3)
    p = products[0]
    src = [r for r in rows[1:] if r[3] == p.spu_code]
    assert [r.row for r in p.rows] == list(range(2, 2 + len(src)))
    first = p.rows[0].cells
    assert first["category"] in ("010101", "010102", "010103", "010104") and first["brand"] == "示例品牌"
    assert first["price"] == f"{src[0][10]:.2f}" and first["market_price"] == f"{src[0][11]:.2f}"   # 单买价, not 拼单价
    assert first["main_image"].endswith("/c1.jpg") and len(first["gallery_images"].split("|")) == 3
    assert first["detail_images"].endswith("/d2.jpg") and first["spec_values"].startswith("颜色:")
    assert all(not x.findings for x in products)


def test_every_pinduoduo_mapping_error_is_located():
    header = samples.PDD_HEADER
    col = {h: col_letters(i) for i, h in enumerate(header)}
    rows, expected = samples.pinduoduo_export_rows(6, broken_every=2)
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    _, products = _products(buf.getvalue().encode("utf-8-sig"), "拼多多商品.csv")
    got = {p.spu_code: _codes(p) for p in products}
    for row, spu, broken in expected:
        if broken == "unmapped_category":
            assert got[spu] == [("INBOUND_CATEGORY_UNMAPPED", row, col["商品分类"])]
        elif broken == "bad_price":
            assert got[spu] == [("INBOUND_PRICE_INVALID", row, col["单买价"])]
        elif broken == "all_off_sale":
            assert got[spu] == [("INBOUND_NO_SKU", row, col["SKU编码"])]
        else:
            assert got[spu] == []
    assert {b for _, _, b in expected} >= {"unmapped_category", "bad_price", "all_off_sale"}
