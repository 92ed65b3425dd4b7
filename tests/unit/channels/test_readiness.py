"""Readiness per channel, rule by rule: each rule once failing and once passing, every finding
located and naming its channel."""

from __future__ import annotations

import copy

import pytest

from shangjia.channels.payloads import wechat_sku_code
from shangjia.channels.readiness import ChannelFinding, douyin_width, effective_chars, is_ready, readiness
from shangjia.errors import Finding
from shangjia.sheets import products_from_records
from shangjia.sheets.samples import sample_rows
from shangjia.validation import ValidationContext, validate_product

CHANNELS = ("own_shop", "wechat", "douyin")


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    ctx = ValidationContext(merchant_id="M")
    out = []
    for rows, _ in sample_rows(40, seed=7):
        [raw] = list(products_from_records(rows))
        res = validate_product(raw, ctx)
        assert res.valid
        out.append(res.product)
    return out


def dress(**over) -> dict:
    """A stored product as validate writes it: a dress, 2 colours x 2 sizes."""
    p = {"spu_code": "D1", "title": "简约纯棉短袖连衣裙 夏季新款", "category": "服饰鞋包/女装/连衣裙", "category_id": "010101",
         "brand": "无品牌", "material": "棉", "origin": "中国", "model": "X1", "description": "这款连衣裙采用纯棉面料。" * 3,
         "attribute_tags": {"袖长": "短袖"}, "return_policy": "7天无理由退换", "dispatch_days": 2,
         "images": {"main": ["m.jpg"], "gallery": ["g1.jpg", "g2.jpg", "g3.jpg"], "detail": ["d1.jpg"]},
         "skus": [{"sku_code": f"D1-{i}", "spec": {"颜色": c, "尺码": z}, "price_fen": 9900, "market_price_fen": 12900,
                   "stock": 10, "row": 2 + i}
                  for i, (c, z) in enumerate([("红色", "M"), ("红色", "L"), ("黑色", "M"), ("黑色", "L")])]}
    p.update(over)
    return p


def nuts(**over) -> dict:
    p = dress(spu_code="N1", title="山野原味坚果礼盒 每日坚果", category="食品饮料/休闲零食/坚果", category_id="050101",
              attribute_tags={"净含量": "500g", "保质期": "12个月"},
              skus=[{"sku_code": "N1-1", "spec": {}, "price_fen": 5900, "market_price_fen": 6900, "stock": 5, "row": 2}])
    p.update(over)
    return p


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


# --- ready products -------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
def test_a_ready_product_has_no_findings(channel):
    assert readiness(dress(), channel) == []
    assert readiness(nuts(), channel) == []


def test_sample_products_are_ready_everywhere(samples):
    for p in samples:
        for ch in CHANNELS:
            assert readiness(p, ch) == [], (p["category"], ch)


def test_an_unknown_channel_is_a_programming_error():
    with pytest.raises(ValueError):
        readiness(dress(), "taobao")


# --- every finding names its channel and is located -----------------------------------------------

@pytest.mark.parametrize("channel,zh,en", [("own_shop", "自营商城", "own shop"), ("wechat", "微信小店", "WeChat"),
                                           ("douyin", "抖店", "Douyin")])
def test_findings_name_the_channel_in_message_and_field(channel, zh, en):
    [f] = readiness(dress(title=""), channel)
    assert isinstance(f, ChannelFinding) and isinstance(f, Finding)
    assert f.code == "CHANNEL_TITLE_MISSING" and f.channel == channel and f.params["channel"] == channel
    assert zh in f.message_zh and en in f.message_en
    assert f.row == 2 and f.field == "商品标题(Title)"
    d = f.to_dict()
    assert d["channel"] == channel and Finding.from_dict(d).params["channel"] == channel


# --- own shop -------------------------------------------------------------------------------------

def test_own_shop_needs_a_title():
    assert codes(readiness(dress(title="  "), "own_shop")) == ["CHANNEL_TITLE_MISSING"]
    assert readiness(dress(title="短"), "own_shop") == []          # WeChat's minimum is not the own shop's


def test_own_shop_needs_at_least_one_image():
    f = readiness(dress(images={"main": [], "gallery": [], "detail": ["d.jpg"]}), "own_shop")
    assert codes(f) == ["CHANNEL_IMAGES_TOO_FEW"] and f[0].params["min"] == 1
    assert readiness(dress(images={"main": ["m.jpg"], "gallery": [], "detail": []}), "own_shop") == []


def test_own_shop_needs_a_sku():
    assert codes(readiness(dress(skus=[]), "own_shop")) == ["CHANNEL_SKU_COUNT"]


# --- WeChat: title --------------------------------------------------------------------------------

def test_wechat_title_needs_5_effective_characters():
    f = readiness(dress(title="T恤！！ ～～"), "wechat")
    assert codes(f) == ["CHANNEL_TITLE_TOO_SHORT"] and f[0].params["count"] == 2
    assert effective_chars("纯棉T恤衫") == 5 and readiness(dress(title="纯棉T恤衫"), "wechat") == []


def test_wechat_title_at_most_60_characters():
    assert codes(readiness(dress(title="连" * 61), "wechat")) == ["CHANNEL_TITLE_TOO_LONG"]
    assert readiness(dress(title="连" * 60), "wechat") == []


def test_wechat_title_not_only_letters_and_digits():
    assert codes(readiness(dress(title="Nintendo Switch 2026 OLED"), "wechat")) == ["CHANNEL_TITLE_ONLY_ALNUM"]
    assert codes(readiness(dress(title="ＯＬＥＤ　Ｓｗｉｔｃｈ２０２６"), "wechat")) == ["CHANNEL_TITLE_ONLY_ALNUM"]
    assert readiness(dress(title="Nintendo Switch 游戏机"), "wechat") == []


# --- WeChat: images -------------------------------------------------------------------------------

def test_wechat_needs_3_distinct_head_images():
    p = dress(images={"main": ["m.jpg"], "gallery": ["m.jpg", "g1.jpg"], "detail": []})   # a duplicate counts once
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_IMAGES_TOO_FEW"] and (f[0].params["count"], f[0].params["min"]) == (2, 3)
    assert f[0].field == "轮播图(Gallery images)"
    assert readiness(dress(images={"main": ["m.jpg"], "gallery": ["g1.jpg", "g2.jpg"], "detail": []}), "wechat") == []


def test_wechat_food_needs_4_head_images():
    p = nuts(images={"main": ["m.jpg"], "gallery": ["g1.jpg", "g2.jpg"], "detail": []})
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_IMAGES_TOO_FEW"] and f[0].params["min"] == 4 and "食品" in f[0].message_zh
    assert readiness(p, "douyin") == [] and readiness(nuts(), "wechat") == []


def test_wechat_more_than_9_images_is_not_a_finding_the_first_9_are_sent():
    p = dress(images={"main": ["m.jpg"], "gallery": [f"g{i}.jpg" for i in range(9)], "detail": []})
    assert readiness(p, "wechat") == []


# --- WeChat: category and parameters --------------------------------------------------------------

def test_wechat_category_must_be_mapped():
    f = readiness(dress(category="某个新类目", category_id="999999"), "wechat")
    assert codes(f) == ["CHANNEL_CATEGORY_UNMAPPED"] and f[0].field == "类目(Category)" and f[0].value == "某个新类目"
    assert readiness(dress(), "wechat") == []


def test_wechat_required_parameter_must_be_given():
    f = readiness(dress(attribute_tags={}), "wechat")
    assert codes(f) == ["CHANNEL_PROPERTY_MISSING"] and f[0].params["attribute"] == "袖长"
    assert "属性标签" in f[0].message_zh + f[0].hint_zh and f[0].field == "属性标签(Attribute tags)"


# --- WeChat: SKUs and prices ----------------------------------------------------------------------

def _skus(n: int) -> list[dict]:
    return [{"sku_code": f"S{i}", "spec": {"款式": f"款{i}"}, "price_fen": 100, "market_price_fen": 200, "stock": 1,
             "row": 2 + i} for i in range(n)]


def test_wechat_takes_1_to_500_skus():
    tags = {"袖长": "短袖", "颜色": "红色", "尺码": "均码"}
    f = readiness(dress(skus=_skus(501), attribute_tags=tags), "wechat")
    assert codes(f) == ["CHANNEL_SKU_COUNT"] and "10020013" in f[0].message_zh
    assert codes(readiness(dress(skus=[], attribute_tags=tags), "wechat")) == ["CHANNEL_SKU_COUNT"]
    assert readiness(dress(skus=_skus(500), attribute_tags=tags), "wechat") == []


def test_wechat_price_must_be_above_zero():
    p = dress()
    p["skus"][2]["price_fen"] = 0
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_PRICE_NOT_POSITIVE"] and f[0].row == 4 and f[0].value == "D1-2"
    assert "10020039" in f[0].message_en
    p["skus"][2]["price_fen"] = 1
    assert readiness(p, "wechat") == []


def test_wechat_market_price_must_not_be_below_the_price():
    p = dress()
    p["skus"][1]["market_price_fen"] = 9800
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_MARKET_PRICE_NOT_ABOVE"] and f[0].row == 3 and "10020040" in f[0].message_zh
    assert "¥98.00" in f[0].message_zh and f[0].field == "划线价(Market price)"
    p["skus"][1]["market_price_fen"] = 9900            # equal: no struck-out price is sent, no finding
    assert readiness(p, "wechat") == []
    p["skus"][1]["market_price_fen"] = None
    assert readiness(p, "wechat") == []


def test_wechat_spec_names_and_values_at_most_40_characters():
    p = dress(skus=[{"sku_code": "L1", "spec": {"款式": "款" * 41}, "price_fen": 100, "stock": 1, "row": 2}],
              attribute_tags={"袖长": "短袖", "颜色": "红", "尺码": "M"})
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_SKU_ATTR_TOO_LONG"] and f[0].params["part_en"] == "value"
    p["skus"][0]["spec"] = {"名" * 41: "红"}
    assert codes(readiness(p, "wechat")) == ["CHANNEL_SKU_ATTR_TOO_LONG"]
    p["skus"][0]["spec"] = {"名" * 40: "款" * 40}
    assert readiness(p, "wechat") == []


def test_wechat_long_sku_code_is_a_warning_that_shows_the_shortened_code():
    p = dress()
    long = "D1-RED-M-SUMMER-2026-EDITION"
    p["skus"][0]["sku_code"] = long
    f = readiness(p, "wechat")
    assert codes(f) == ["CHANNEL_SKU_CODE_SHORTENED"] and f[0].severity == "warning" and is_ready(f)
    assert wechat_sku_code(long) in f[0].message_zh and f[0].row == 2
    assert readiness(p, "douyin") == []          # Douyin's code holds it whole


# --- Douyin ---------------------------------------------------------------------------------------

def test_douyin_title_at_most_60_counting_chinese_as_2():
    assert douyin_width("连衣裙 A") == 8
    f = readiness(dress(title="连" * 31), "douyin")
    assert codes(f) == ["CHANNEL_TITLE_TOO_WIDE"] and f[0].params["length"] == 62
    assert readiness(dress(title="连" * 30), "douyin") == []
    assert readiness(dress(title="连衣裙" + "a" * 54), "douyin") == []           # 6 + 54 = 60
    assert codes(readiness(dress(title="连衣裙" + "a" * 55), "douyin")) == ["CHANNEL_TITLE_TOO_WIDE"]
    assert readiness(dress(title="连" * 31), "wechat") == []                   # WeChat counts characters


def test_douyin_title_without_emoji():
    assert codes(readiness(dress(title="夏日连衣裙🔥爆款"), "douyin")) == ["CHANNEL_TITLE_EMOJI"]
    assert readiness(dress(title="夏日连衣裙·爆款"), "douyin") == []


def test_douyin_needs_at_least_one_image_and_sends_at_most_5():
    assert codes(readiness(dress(images={"main": [], "gallery": [], "detail": []}), "douyin")) == ["CHANNEL_IMAGES_TOO_FEW"]
    assert readiness(dress(images={"main": ["m.jpg"], "gallery": [], "detail": []}), "douyin") == []
    many = dress(images={"main": ["m.jpg"], "gallery": [f"g{i}.jpg" for i in range(8)], "detail": []})
    assert readiness(many, "douyin") == []        # payloads.douyin_pic_refs sends the first 5


def test_douyin_category_must_be_mapped_books_are_not():
    book = dress(title="儿童绘本故事书 全套", category="图书文具/图书/童书", category_id="080201",
                 attribute_tags={"适用年龄": "3-6岁", "ISBN": "9787000000000"},
                 skus=[{"sku_code": "B1", "spec": {}, "price_fen": 3900, "market_price_fen": 4900, "stock": 3, "row": 7}])
    f = readiness(book, "douyin")
    assert codes(f) == ["CHANNEL_CATEGORY_UNMAPPED"] and f[0].row == 7 and f[0].channel == "douyin"
    assert "抖店" in f[0].message_zh and "图书文具/图书/童书" in f[0].message_zh
    assert readiness(book, "wechat") == []
    assert readiness(dress(), "douyin") == []


def test_douyin_property_must_be_one_of_its_options():
    f = readiness(dress(attribute_tags={"袖长": "超长袖"}), "douyin")
    assert codes(f) == ["CHANNEL_PROPERTY_VALUE"] and f[0].value == "超长袖" and "短袖" in f[0].message_zh
    assert readiness(dress(attribute_tags={"袖长": "长袖"}), "douyin") == []


def test_douyin_required_property_must_be_given():
    f = readiness(dress(material=""), "douyin")
    assert codes(f) == ["CHANNEL_PROPERTY_MISSING"] and f[0].field == "材质(Material)"


def test_douyin_at_most_3_spec_dimensions():
    spec4 = {"颜色": "红色", "尺码": "M", "款式": "A", "版型": "宽松"}
    p = dress(skus=[{"sku_code": "X1", "spec": spec4, "price_fen": 100, "stock": 1, "row": 2}])
    f = readiness(p, "douyin")
    assert codes(f) == ["CHANNEL_SPEC_TOO_MANY_DIMENSIONS"] and f[0].params["count"] == 4
    p["skus"][0]["spec"] = {"颜色": "红色", "尺码": "M", "款式": "A"}
    assert readiness(p, "douyin") == []


def test_douyin_spec_combinations_must_equal_the_skus():
    p = dress()
    p["skus"].pop()                                           # 2 x 2 grid, 3 SKUs
    f = readiness(p, "douyin")
    assert codes(f) == ["CHANNEL_SPEC_GRID_MISMATCH"]
    assert (f[0].params["combinations"], f[0].params["count"]) == (4, 3)
    q = dress()
    q["skus"][3]["spec"] = {"颜色": "红色", "尺码": "M"}        # 4 SKUs but one combination twice: still off
    q["skus"].append(dict(q["skus"][0], sku_code="D1-9", spec={"颜色": "黑色", "尺码": "S"}))
    assert "CHANNEL_SPEC_GRID_MISMATCH" in codes(readiness(q, "douyin"))
    assert readiness(dress(), "douyin") == []


def test_douyin_spec_text_without_separators():
    p = dress()
    for s in p["skus"]:
        if s["spec"]["颜色"] == "红色":
            s["spec"]["颜色"] = "红|白"
    f = readiness(p, "douyin")
    assert codes(f) == ["CHANNEL_SPEC_SEPARATOR"] and f[0].value == "红|白"
    assert readiness(p, "wechat") == []                      # WeChat's sku_attrs are a list: no separators


def test_readiness_does_not_change_the_product():
    p = dress(title="", attribute_tags={})
    before = copy.deepcopy(p)
    for ch in CHANNELS:
        readiness(p, ch)
    assert p == before
