"""A merchant's import defaults (shangjia.inbound.defaults): they fill only what the import left
empty, a value in the file wins, every product filled says so (a located warning), and without
them the batch is told why every product will fail (pure: no AWS)."""

import json

import pytest

from shangjia.inbound import samples
from shangjia.inbound.defaults import attach_import_defaults, check_import_defaults
from shangjia.sheets import open_sheet
from shangjia.validation import ValidationContext, validate_product

TEMPLATES = ["全国包邮", "偏远地区不包邮"]
FULL = {"shipping_template": "全国包邮", "return_policy": "7天无理由", "dispatch_days": 3, "origin": "中国",
        "fragile": False, "material": "棉", "keywords": "女装|连衣裙", "weight_kg": "0.5",
        "package_size_cm": "30x20x5", "ship_from": "广东广州", "cost_ratio": "0.6",
        "market_price_from_price": True, "model_from_spu_code": True}


def _open(defaults, n=3, data=None, name="出售中的宝贝.csv"):
    r = open_sheet(data or samples.taobao_export_csv(n), name)
    attach_import_defaults(r, {"merchant_id": "m1", "import_defaults": check_import_defaults(defaults)})
    return r, list(r.products())


def _cells(raw):
    return [r.cells for r in raw.rows]


def test_defaults_fill_only_the_empty_cells_and_the_file_wins():
    _, plain = _open({})
    _, filled = _open(FULL)
    for before, after in zip(plain, filled):
        b, a = _cells(before), _cells(after)
        assert a[0]["shipping_template"] == "全国包邮" and a[0]["return_policy"] == "7天无理由退换"
        assert a[0]["dispatch_days"] == "3" and a[0]["fragile"] == "否" and a[0]["model"] == after.spu_code
        # the export carries 发货地 (浙江杭州) and 物流重量 (0.4): its values stay
        assert b[0]["ship_from"] == a[0]["ship_from"] == "浙江杭州"
        assert all(row["weight_kg"] == "0.4" for row in a)
        for row in a:                                  # per SKU, from the SKU's own price
            assert row["market_price"] == row["price"]
            assert row["cost_price"] == f"{float(row['price']) * 0.6:.2f}"
            assert row["package_size_cm"] == "30x20x5"
        # nothing the file gave was changed
        for rb, ra in zip(b, a):
            assert {k: v for k, v in ra.items() if k in rb} == rb


def test_each_filled_product_carries_a_located_warning_naming_what_was_filled():
    reader, products = _open({"shipping_template": "全国包邮", "ship_from": "广东广州", "cost_ratio": "0.5"})
    assert not [f for f in reader.findings if f.code == "INBOUND_IMPORT_DEFAULTS_MISSING" and "Shipping" in f.message_en]
    for raw in products:
        [f] = [f for f in raw.findings if f.code == "INBOUND_DEFAULT_APPLIED"]
        assert f.severity == "warning" and f.row == raw.first_row
        assert f.value == "shipping_template,cost_price"          # ship_from: the file had it
        assert "运费模板 全国包邮" in f.message_zh and "进货价 = 售价 × 0.5" in f.message_zh
        assert "filled from your import defaults" in f.message_en and "Cost price = price × 0.5" in f.message_en
        assert f"of {len(raw.rows)} SKUs" in f.message_en or len(raw.rows) == 1
        result = validate_product(raw, ValidationContext("m1", shipping_templates=frozenset(TEMPLATES)))
        assert not [g for g in result.findings if g.severity == "error" and g.code == "FIELD_REQUIRED"
                    and ("Shipping" in g.field or "Cost" in g.field)]
        assert any(g.code == "INBOUND_DEFAULT_APPLIED" and g.severity == "warning" for g in result.findings)


def test_without_defaults_the_batch_is_told_and_the_fields_stay_required():
    reader, products = _open({})
    [note] = [f for f in reader.findings if f.code == "INBOUND_IMPORT_DEFAULTS_MISSING"]
    assert note.severity == "warning"
    assert "运费模板" in note.message_zh and "Cost price" in note.message_en
    assert "shangjia merchants defaults set" in note.hint_en
    for raw in products:
        assert not [f for f in raw.findings if f.code == "INBOUND_DEFAULT_APPLIED"]
        errors = {(f.code, f.field) for f in validate_product(raw, ValidationContext("m1")).findings
                  if f.severity == "error"}
        assert ("FIELD_REQUIRED", "运费模板(Shipping template)") in errors
        assert ("FIELD_REQUIRED", "进货价(Cost price)") in errors


def test_cost_price_has_no_default_without_a_ratio():
    reader, products = _open({k: v for k, v in FULL.items() if k != "cost_ratio"})
    [note] = [f for f in reader.findings if f.code == "INBOUND_IMPORT_DEFAULTS_MISSING"]
    assert note.value == "cost_price"
    assert all("cost_price" not in r.cells for raw in products for r in raw.rows)


def test_shopify_and_erp_feeds_take_them_too_and_a_feed_s_own_defaults_win():
    shop = "Handle,Title,Body (HTML),Vendor,Type,Variant SKU,Variant Price\nmug,Blue mug,<p>A mug</p>,Acme,Mugs,MUG-1,12.5\n"
    r, products = _open({"return_policy": "不支持"}, data=shop.encode(), name="products_export.csv")
    assert r.info.layout == "export:shopify"
    [raw] = products
    assert raw.rows[0].cells["return_policy"] == "不支持无理由退换"
    assert "INBOUND_DEFAULT_APPLIED" in {f.code for f in raw.findings}
    items = [item for platform, item, _ in samples.generate(4, broken_every=0) if platform == "taobao"]
    feed = {"merchant_id": "m1", "platform": "taobao", "items": items,
            "defaults": {"shipping_template": "偏远地区不包邮", "return_policy": "15天无理由退换"}}
    data = json.dumps(feed, ensure_ascii=False).encode()
    reader, products = _open(FULL, data=data, name="feed.json")
    assert reader.info.layout == "erp:taobao"
    for raw in products:
        first = raw.rows[0].cells
        assert first["shipping_template"] == "偏远地区不包邮" and first["return_policy"] == "15天无理由退换"
        assert first["dispatch_days"] == "3"
        [f] = [f for f in raw.findings if f.code == "INBOUND_DEFAULT_APPLIED"]
        assert "shipping_template" not in f.value.split(",") and "dispatch_days" in f.value.split(",")
        assert f.row == raw.first_row and f.column               # a feed's layout has a column per field
    # the feed's own defaults cover two of the fields no import carries: the notice names the rest
    r2 = open_sheet(data, "feed.json")
    attach_import_defaults(r2, {"import_defaults": {}})
    [note] = [f for f in r2.findings if f.code == "INBOUND_IMPORT_DEFAULTS_MISSING"]
    assert note.value == "dispatch_days,fragile,cost_price"


def test_our_own_sheet_is_left_alone(tmp_path):
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / "ours.xlsx"
    write_sample_workbook(path, 2, seed=3)
    r = open_sheet(path.read_bytes(), "ours.xlsx")
    attach_import_defaults(r, {"import_defaults": {}})
    assert not hasattr(r, "import_defaults") and not [f for f in r.findings if f.code.startswith("INBOUND_")]


@pytest.mark.parametrize("given, problem", [
    ({"shipping_template": "顺丰包邮"}, "not one of the merchant's templates"),
    ({"dispatch_days": 20}, "outside 1–15"),
    ({"return_policy": "30天"}, "not one of"),
    ({"cost_ratio": "1.5"}, "≤ 1"),
    ({"cost_ratio": "abc"}, "not a number"),
    ({"price": "9.90"}, "not a field that takes an import default"),
    ({"package_size_cm": "big"}, "package_size_cm"),
])
def test_bad_defaults_are_refused_naming_the_problem(given, problem):
    with pytest.raises(ValueError, match=problem):
        check_import_defaults(given, shipping_templates=TEMPLATES)


def test_good_defaults_are_stored_as_a_merchant_types_them():
    assert check_import_defaults({"return_policy": "7 days", "dispatch_days": "3.0", "fragile": "yes",
                                  "keywords": "女装，连衣裙", "cost_ratio": "0.60", "model_from_spu_code": "是"},
                                 shipping_templates=TEMPLATES) == {
        "return_policy": "7天无理由退换", "dispatch_days": "3", "fragile": "是", "keywords": "女装|连衣裙",
        "cost_ratio": "0.60", "model_from_spu_code": True}
