import pytest

from shangjia.sheets import open_sheet
from shangjia.validation import (BannedTerms, BatchPolicy, BatchTally, ValidationContext, decide_batch,
                                 decide_product, validate_product)
from shangjia.validation.values import check_ean13, to_fen

from .kit import product_rows, to_csv, to_xlsx


def validate(rows, ctx, name="v.csv"):
    data = to_csv(rows) if name.endswith(".csv") else to_xlsx(rows)
    return [validate_product(p, ctx) for p in open_sheet(data, name).products()]


def codes(res):
    return sorted(f.code for f in res.findings)


def test_a_good_product_becomes_the_canonical_product(ctx):
    res = validate(product_rows("G1"), ctx)[0]
    assert res.valid, res.findings
    p = res.product
    assert p["category"] == "服饰鞋包/女装/T恤" and p["priority"] is True and p["category_id"]
    assert p["images"] == {"main": ["a_main.jpg"], "gallery": ["a_1.jpg", "a_2.jpg", "a_3.jpg"],
                           "detail": ["a_d1.jpg"]}
    assert p["selling_points"] == ["纯棉", "透气", "百搭"] and p["dispatch_days"] == 3
    assert p["skus"][0] == {"sku_code": "G1-1", "spec": {"颜色": "红色", "尺码": "M"}, "price_fen": 9900,
                            "market_price_fen": 12900, "cost_price_fen": 5000, "promo_price_fen": None,
                            "stock": 10, "barcode": None, "weight_kg": "0.3", "package_size_cm": [30, 20, 5],
                            "row": 2}


@pytest.mark.parametrize("text,fen", [("¥1,299.00", 129900), ("1.299,00", 129900), ("1299元", 129900),
                                      ("0.1", 10), ("19.99", 1999), ("1 299,5", 129950)])
def test_prices_parse_to_fen_without_float_error(text, fen):
    assert to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.299", "12.345", "abc", "-5", "1,2,3"])
def test_ambiguous_or_bad_prices_are_refused(text):
    with pytest.raises(ValueError):
        to_fen(text)


def test_price_order_and_category_cap(ctx):
    rows = product_rows("P1", grid=(("红色", "M"),))
    rows[0].update(price="99.00", market_price="80.00", cost_price="120.00")
    res = validate(rows, ctx)[0]
    f = [f for f in res.findings if f.code == "PRICE_ORDER"]
    assert len(f) == 2 and {x.column for x in f} == {"Z", "AA"} and all(x.row == 2 for x in f)
    rows[0].update(price="2500", market_price="2600", cost_price="100")     # T恤 cap 2000 yuan
    res = validate(rows, ctx)[0]
    assert codes(res) == ["PRICE_OVER_CAP"]


def test_promo_below_cost_is_a_warning_only(ctx):
    rows = product_rows("P1", grid=(("红色", "M"),))
    rows[0].update(promo_price="40")
    res = validate(rows, ctx)[0]
    assert codes(res) == ["PROMO_BELOW_COST"] and res.valid


def test_required_length_enum_stock_barcode(ctx):
    rows = product_rows("Q1", grid=(("红色", "M"), ("红色", "L")))
    rows[0].update(title="短", return_policy="随便退", shipping_template="火星包邮", brand="")
    rows[1].update(stock="-1", barcode="6901234567891")
    res = validate(rows, ctx)[0]
    assert not res.valid
    assert codes(res) == ["BARCODE_CHECK_DIGIT", "FIELD_ENUM", "FIELD_ENUM", "FIELD_LENGTH", "FIELD_REQUIRED",
                          "STOCK_INVALID"]
    bc = next(f for f in res.findings if f.code == "BARCODE_CHECK_DIGIT")
    assert bc.row == 3 and bc.value == "6901234567891" and "2" in bc.message_en and bc.hint_zh


def test_ean13_check_digit():
    assert check_ean13("6901234567892") is None
    assert check_ean13("4006381333931") is None
    assert check_ean13("4006381333932") == 1


def test_spec_grid_must_be_complete_and_unique(ctx):
    rows = product_rows("S1", grid=(("红色", "M"), ("红色", "L"), ("黑色", "M"), ("黑色", "M")))
    res = validate(rows, ctx)[0]
    assert "SPEC_DUPLICATE" in codes(res) and "SPEC_GRID_INCOMPLETE" in codes(res)
    grid = next(f for f in res.findings if f.code == "SPEC_GRID_INCOMPLETE")
    assert "黑色/L" in grid.message_zh


def test_category_must_be_a_leaf_and_its_attributes_present(ctx):
    res = validate(product_rows("C1", category="服饰鞋包/女装"), ctx)[0]
    assert "CATEGORY_NOT_LEAF" in codes(res)
    res = validate(product_rows("C2", category="服饰鞋包/女装/连衣裙"), ctx)[0]
    missing = [f for f in res.findings if f.code == "ATTRIBUTE_MISSING"]
    assert [f.params["attribute"] for f in missing] == ["袖长"]


def test_gallery_needs_three_to_nine_images_in_order(ctx):
    res = validate(product_rows("I1", gallery_images="x1.jpg|x2.png"), ctx)[0]
    f = next(f for f in res.findings if f.code == "FIELD_COUNT")
    assert f.params["count"] == 2 and f.column == "M"
    res = validate(product_rows("I2", gallery_images="z.jpg\ny.jpg\nhttps://cdn.example.com/x.webp?v=1"), ctx)[0]
    assert res.valid and res.product["images"]["gallery"] == ["z.jpg", "y.jpg", "https://cdn.example.com/x.webp?v=1"]
    res = validate(product_rows("I3", gallery_images="../etc/passwd.jpg;b.jpg;c.exe"), ctx)[0]
    assert codes(res).count("IMAGE_REF_INVALID") == 2


def test_banned_terms_found_with_allowed_contexts_and_fullwidth(ctx):
    rows = product_rows("B1", title="全网第一 纯棉T恤 最佳赏味期", description="第一代面料，" * 5 + "高仿大牌，ＮＯ．１品质")
    res = validate(rows, ctx)[0]
    hits = sorted((f.params["term"], f.column) for f in res.findings if f.code == "BANNED_TERM")
    assert hits == [("NO.1", "I"), ("全网第一", "B"), ("第一", "B"), ("高仿", "I")]


def test_banned_terms_replaceable_at_run_time(tmp_path, monkeypatch):
    from shangjia.validation.banned import load_banned_terms
    p = tmp_path / "terms.json"
    p.write_text('{"groups": [{"reason": "test", "terms": ["纯棉"], "zh": "测试", "en": "test"}]}', "utf-8")
    monkeypatch.setenv("SHANGJIA_BANNED_TERMS", str(p))
    ctx = ValidationContext("m1", banned_terms=load_banned_terms())
    res = validate(product_rows("B2"), ctx)[0]
    hits = [(f.params["term"], f.column) for f in res.findings if f.code == "BANNED_TERM"]
    assert hits == [("纯棉", "B"), ("纯棉", "I"), ("纯棉", "H"), ("纯棉", "J")]   # title, description, points, keywords
    bt = BannedTerms.from_terms(["abc"])
    assert [h.term for h in bt.scan("买ABC好物")] == ["abc"]
    # a Latin term is a word: inside other ASCII letters it is not the term ("top10" is not TOP1)
    assert bt.scan("xxABCxx") == []


def test_batch_policy():
    t = BatchTally()
    for i in range(30):
        t.add(valid=i % 5 != 0)
    stop = decide_batch(BatchPolicy("stop_on_error_rate", max_error_rate=0.1), t)
    assert stop.stop and stop.finding.code == "BATCH_ERROR_RATE" and "20.0" in stop.finding.message_en
    assert not decide_batch(BatchPolicy("skip_invalid"), t).stop
    assert decide_product(BatchPolicy("check_only"), True) == "hold"
    assert decide_product(BatchPolicy(), False) == "needs_fix"
    with pytest.raises(ValueError):
        BatchPolicy("yolo")


def test_missing_sku_cells_point_at_their_row_and_column(ctx):
    rows = product_rows("X", grid=(("红色", "M"), ("黑色", "M")))
    rows[1].update(price="", spec_values="")
    res = validate(rows, ctx)[0]
    got = sorted((f.code, f.row, f.column) for f in res.findings)
    assert got == [("FIELD_REQUIRED", 3, "Y"), ("SPEC_MISSING", 3, "X")]
    assert "3" in next(f for f in res.findings if f.code == "SPEC_MISSING").message_en


def test_single_sku_product_needs_no_spec_and_fragile_goods_need_a_note(ctx):
    rows = product_rows("S", grid=(("红色", "M"),))
    rows[0].update(spec_values="", fragile="是", attribute_tags="颜色:红色;尺码:M")   # T恤 requires both
    res = validate(rows, ctx)[0]
    assert [f.code for f in res.findings] == ["FRAGILE_NEEDS_NOTE"] and res.valid
    assert res.product["skus"][0]["spec"] == {} and res.product["fragile"] is True


def test_the_plain_media_cell_shortcut_agrees_with_checking_each_reference():
    import random

    from shangjia.validation import values as V
    rng = random.Random(3)
    parts = ["a.jpg", "B.JPG", "图.png", "x y.webp", "a.jpg", "../a.jpg", "a.exe", "https://x/a.jpg", "c.tif",
             " d.jpg", "e.jpeg", "f.mp4"]
    taken = 0
    for _ in range(5000):
        text = ";".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        fast = V.plain_refs(text, V.IMAGE_EXTS)
        if fast is None:
            continue
        taken += 1
        refs = V.split_list(text, ";,|\n，；")
        assert [V.check_ref(r, V.IMAGE_EXTS) for r in refs] == fast and len(set(fast)) == len(fast)
    assert taken > 500
    assert V.plain_refs("a.jpg;a.jpg", V.IMAGE_EXTS) is None            # repeats take the long way
    assert V.plain_refs("v.mp4", V.VIDEO_EXTS) == ["v.mp4"] and V.plain_refs("v.mp4", V.IMAGE_EXTS) is None
