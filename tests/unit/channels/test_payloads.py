"""Payload builders: our stored product -> WeChat product/add and Douyin product/addV2 bodies,
asserted field by field against the shapes in ../shared/CHANNEL-APIS.md §1.4 and §2.2."""

from __future__ import annotations

import copy
import itertools
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from shangjia.channels import categories as C
from shangjia.channels.payloads import (DOUYIN, WECHAT, PayloadError, douyin_pic_refs, douyin_product, douyin_specs,
                                        parse_douyin_specs, wechat_head_refs, wechat_product, wechat_sku_code)
from shangjia.sheets import products_from_records
from shangjia.sheets.samples import sample_rows
from shangjia.validation import ValidationContext, validate_product

CTX = ValidationContext(merchant_id="M")


def validated(records: list[dict]) -> dict:
    [raw] = list(products_from_records(records))
    res = validate_product(raw, CTX)
    assert res.valid, [f.to_dict() for f in res.findings]
    return res.product


@pytest.fixture(scope="module")
def dress() -> dict:
    """A realistic product from the sample generator: a dress, 3 colours x 3 sizes."""
    for rows, _ in sample_rows(5, seed=11):
        if rows[0]["category"] == "服饰鞋包/女装/连衣裙":
            return validated(rows)
    raise AssertionError("the sample generator no longer yields the dress this test expects")


@pytest.fixture()
def product(dress) -> dict:
    return copy.deepcopy(dress)


def wx_urls(refs):
    return [f"https://mmecimage.cn/p/wx{i}/{r}" for i, r in enumerate(refs)]


def build_wechat(p: dict, **kw) -> dict:
    cat = C.require_mapping(p, "wechat")
    return wechat_product(p, head_imgs=wx_urls(wechat_head_refs(p)), desc_imgs=wx_urls(p["images"]["detail"]),
                          cats_v2=list(cat.cats_v2), **kw)


def build_douyin(p: dict, **kw) -> dict:
    cat = C.require_mapping(p, "douyin")
    fmt, problems = C.douyin_format(p, cat)
    assert not problems
    return douyin_product(p, pics=[f"https://p3.douyinpic.com/{r}" for r in douyin_pic_refs(p)],
                          description_pics=[f"https://p3.douyinpic.com/{r}" for r in p["images"]["detail"]],
                          category_leaf_id=cat.category_leaf_id, product_format_new=fmt, **kw)


# --- WeChat ---------------------------------------------------------------------------------------

def test_wechat_body_field_by_field(product):
    body = build_wechat(product)
    cat = C.require_mapping(product, "wechat")
    assert body["out_product_id"] == product["spu_code"] and isinstance(body["out_product_id"], str)
    assert body["title"] == product["title"]
    heads = wx_urls([*product["images"]["main"], *product["images"]["gallery"]])
    assert body["head_imgs"] == heads and WECHAT.HEAD_MIN <= len(heads) <= WECHAT.HEAD_MAX
    assert body["desc_info"]["imgs"] == wx_urls(product["images"]["detail"])
    assert body["desc_info"]["desc"] == product["description"]
    assert body["cats_v2"] == [{"cat_id": c} for c in cat.cats_v2] and len(body["cats_v2"]) == 3
    assert all(isinstance(c["cat_id"], str) and c["cat_id"].isdigit() for c in body["cats_v2"])
    # the category's parameters first (商品产地 from our origin), then the other attribute tags
    assert body["attrs"][0] == {"attr_key": "商品产地", "attr_value": product["origin"]}
    assert {"attr_key": "材质", "attr_value": product["material"]} in body["attrs"]
    assert {"attr_key": "袖长", "attr_value": product["attribute_tags"]["袖长"]} in body["attrs"]
    assert all(set(a) == {"attr_key", "attr_value"} and all(isinstance(v, str) for v in a.values())
               for a in body["attrs"])
    assert not {"颜色", "尺码"} & {a["attr_key"] for a in body["attrs"]}      # sale specs go in sku_attrs
    assert body["brand_id"] == WECHAT.NO_BRAND_ID and isinstance(body["brand_id"], str)
    assert body["deliver_method"] == 0 and body["extra_service"]["seven_day_return"] == 1
    assert "listing" not in body                # the adapter decides listing
    assert len(body["skus"]) == len(product["skus"])
    for ours, sku in zip(product["skus"], body["skus"]):
        assert sku["out_sku_id"] == ours["sku_code"] and sku["sku_code"] == ours["sku_code"]
        assert type(sku["sale_price"]) is int and sku["sale_price"] == ours["price_fen"]
        assert type(sku["market_price"]) is int and sku["market_price"] == ours["market_price_fen"] > sku["sale_price"]
        assert type(sku["stock_num"]) is int and sku["stock_num"] == ours["stock"]
        assert sku["sku_attrs"] == [{"attr_key": k, "attr_value": v} for k, v in ours["spec"].items()]
        assert sku["bar_code"] == ours["barcode"]
    json.dumps(body, allow_nan=False)          # plain JSON all the way down


def test_wechat_sale_price_is_in_fen_as_an_int(product):
    product["skus"][0]["price_fen"] = 1999         # ¥19.99
    product["skus"][0]["market_price_fen"] = 2999
    sku = build_wechat(product)["skus"][0]
    assert sku["sale_price"] == 1999 and sku["market_price"] == 2999 and type(sku["sale_price"]) is int


def test_wechat_market_price_equal_to_price_is_not_sent(product):
    s = product["skus"][0]
    s["market_price_fen"] = s["price_fen"]
    sku = build_wechat(product)["skus"][0]
    assert "market_price" not in sku and sku["sale_price"] == s["price_fen"]


def test_wechat_sku_code_keeps_short_codes_and_maps_long_ones_to_20_chars():
    assert wechat_sku_code("M011P000001-01") == "M011P000001-01"
    assert wechat_sku_code("A" * 20) == "A" * 20
    long = "SHOP-2026-WINTER-COAT-RED-XXL-0001"
    short = wechat_sku_code(long)
    assert len(short) == WECHAT.SKU_CODE_MAX and short.startswith(long[:11] + "-")
    assert short == wechat_sku_code(long)                                   # stable
    assert wechat_sku_code(long[:-1] + "2") != short                        # distinct codes stay distinct


def test_wechat_long_sku_code_goes_whole_into_out_sku_id(product):
    code = "M011P000001-RED-XXL-WINTER-EDITION-01"
    product["skus"][0]["sku_code"] = code
    sku = build_wechat(product)["skus"][0]
    assert sku["out_sku_id"] == code and sku["sku_code"] == wechat_sku_code(code) and len(sku["sku_code"]) == 20


@pytest.mark.parametrize("heads", [["a", "b"], [f"h{i}" for i in range(10)], ["a", "b", "a"]])
def test_wechat_head_imgs_must_be_3_to_9_distinct(product, heads):
    with pytest.raises(PayloadError):
        wechat_product(product, head_imgs=heads, desc_imgs=[], cats_v2=["1", "2", "3"])


def test_wechat_cats_v2_has_three_levels(product):
    with pytest.raises(PayloadError):
        wechat_product(product, head_imgs=["a", "b", "c"], desc_imgs=[], cats_v2=["1", "2"])


def test_wechat_head_refs_are_main_then_gallery_first_9_without_duplicates(product):
    product["images"] = {"main": ["m.jpg"], "gallery": ["m.jpg"] + [f"g{i}.jpg" for i in range(9)], "detail": []}
    assert wechat_head_refs(product) == ["m.jpg"] + [f"g{i}.jpg" for i in range(8)]


def test_wechat_express_info_when_a_template_is_given(product):
    body = build_wechat(product, express_template_id="47428464001")
    grams = int(max(float(s["weight_kg"]) for s in product["skus"]) * 1000)
    assert body["express_info"] == {"template_id": "47428464001", "weight": grams}
    assert "express_info" not in build_wechat(product)


# --- Douyin ---------------------------------------------------------------------------------------

def test_douyin_body_field_by_field(product):
    body = build_douyin(product, mobile="13800000000")
    cat = C.require_mapping(product, "douyin")
    assert body["outer_product_id"] == product["spu_code"]
    assert body["category_leaf_id"] == cat.category_leaf_id and isinstance(body["category_leaf_id"], str)
    assert body["name"] == product["title"]
    pics = body["pic"].split("|")
    assert pics[0].endswith(product["images"]["main"][0]) and 1 <= len(pics) <= DOUYIN.PIC_MAX
    assert body["description"] == "|".join(f"https://p3.douyinpic.com/{r}" for r in product["images"]["detail"])
    fmt = json.loads(body["product_format_new"])
    assert isinstance(body["product_format_new"], str)
    assert fmt["1687"] == [{"value": 0, "name": product["brand"], "diy_type": 1 if product["brand"] != "无品牌" else 0}]
    assert fmt["2101"] == [{"value": 210101, "name": "短袖", "diy_type": 0}]        # 袖长: an option id
    assert all(isinstance(k, str) and k.isdigit() for k in fmt)
    # specs: our spec names and values, in sheet order
    colours = list(dict.fromkeys(s["spec"]["颜色"] for s in product["skus"]))
    sizes = list(dict.fromkeys(s["spec"]["尺码"] for s in product["skus"]))
    assert body["specs"] == f"颜色|{','.join(colours)}^尺码|{','.join(sizes)}"
    prices = json.loads(body["spec_prices"])
    assert isinstance(body["spec_prices"], str)
    assert len(prices) == len(colours) * len(sizes) == len(product["skus"])
    by_code = {s["sku_code"]: s for s in product["skus"]}
    for (c, z), e in zip(itertools.product(colours, sizes), prices):
        ours = by_code[e["code"]]
        assert (e["spec_detail_name1"], e["spec_detail_name2"]) == (c, z) == (ours["spec"]["颜色"], ours["spec"]["尺码"])
        assert "spec_detail_name3" not in e
        assert type(e["price"]) is int and e["price"] == ours["price_fen"]
        assert type(e["stock_num"]) is int and e["stock_num"] == ours["stock"]
        assert e["outer_sku_id"] == e["code"] == ours["sku_code"]
    # documented defaults
    assert (body["pay_type"], body["reduce_type"], body["product_type"], body["commit"]) == (1, 1, 0, True)
    assert body["freight_id"] == "0" and body["standard_brand_id"] == "596120136"
    assert body["delivery_delay_day"] == product["dispatch_days"] and body["mobile"] == "13800000000"
    assert body["supply_7day_return"] == 1 and body["start_sale_type"] == 0
    assert body["weight_unit"] == 0 and body["weight"] == max(float(s["weight_kg"]) for s in product["skus"])


def test_douyin_pic_is_at_most_5_joined_by_bar(product):
    product["images"]["gallery"] = [f"g{i}.jpg" for i in range(8)]
    refs = douyin_pic_refs(product)
    assert refs == product["images"]["main"] + ["g0.jpg", "g1.jpg", "g2.jpg", "g3.jpg"]
    assert build_douyin(product)["pic"] == "|".join(f"https://p3.douyinpic.com/{r}" for r in refs)
    with pytest.raises(PayloadError):
        douyin_product(product, pics=[f"p{i}" for i in range(6)], description_pics=[], category_leaf_id="1",
                       product_format_new={})
    with pytest.raises(PayloadError):
        douyin_product(product, pics=[], description_pics=[], category_leaf_id="1", product_format_new={})


def test_douyin_options_are_documented_and_overridable(product):
    body = build_douyin(product, freight_id="7301234567890123456", standard_brand_id="123", commit=False)
    assert body["freight_id"] == "7301234567890123456" and body["standard_brand_id"] == "123"
    assert body["commit"] is False and "mobile" not in build_douyin(product)


def test_nineteen_digit_ids_stay_exact_strings(product):
    big = "3472490447010721067"                      # a real-shaped Douyin product id (19 digits)
    product["spu_code"] = "6901234567890123456"
    for i, s in enumerate(product["skus"]):
        s["sku_code"] = str(7000000000000000000 + i)
    cat = C.require_mapping(product, "douyin")
    fmt, _ = C.douyin_format(product, cat)
    body = douyin_product(product, pics=["https://x/a.jpg"], description_pics=[], category_leaf_id=big,
                          product_format_new=fmt)
    back = json.loads(json.dumps(body, ensure_ascii=False))
    assert back["category_leaf_id"] == big and back["outer_product_id"] == "6901234567890123456"
    codes = [e["code"] for e in json.loads(back["spec_prices"])]
    assert all(type(c) is str and len(c) == 19 for c in codes)
    assert sorted(codes) == sorted(s["sku_code"] for s in product["skus"])
    wx = build_wechat(product)
    assert wx["out_product_id"] == "6901234567890123456"
    assert all(type(s["out_sku_id"]) is str and len(s["out_sku_id"]) == 19 for s in wx["skus"])
    assert float(big) != int(big)            # why: a double cannot hold it


def test_single_sku_without_spec_is_one_default_spec(product):
    product["skus"] = [dict(product["skus"][0], spec={})]
    product["attribute_tags"].update(颜色="红色", 尺码="均码")      # the dress's required attributes, as tags now
    body = build_douyin(product)
    assert body["specs"] == "规格|默认"
    [e] = json.loads(body["spec_prices"])
    assert e["spec_detail_name1"] == "默认" and e["code"] == product["skus"][0]["sku_code"]
    assert build_wechat(product)["skus"][0]["sku_attrs"] == []


def test_douyin_refuses_a_grid_the_skus_do_not_fill(product):
    product["skus"] = product["skus"][:-1]
    with pytest.raises(PayloadError):
        build_douyin(product)


def test_douyin_refuses_separators_in_spec_text():
    with pytest.raises(PayloadError):
        douyin_specs([("颜色", ["红|黑"])])
    with pytest.raises(PayloadError):
        douyin_specs([("颜色,款式", ["红"])])


def test_douyin_json_strings_are_deterministic(product):
    a, b = build_douyin(product), build_douyin(copy.deepcopy(product))
    assert a["spec_prices"] == b["spec_prices"] and a["product_format_new"] == b["product_format_new"]
    assert "\\u" not in a["spec_prices"] and " " not in a["product_format_new"]


# --- property: any spec grid ----------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("红黑白蓝MLSX0123456789abc大小号款-_")), min_size=1, max_size=6)


@st.composite
def grids(draw):
    n = draw(st.integers(1, 3))
    names = draw(st.lists(_TEXT, min_size=n, max_size=n, unique=True))
    axes = [(name, draw(st.lists(_TEXT, min_size=1, max_size=4, unique=True))) for name in names]
    seed = draw(st.integers(0, 2**32 - 1))
    return axes, seed


@settings(max_examples=200, deadline=None)
@given(grids())
def test_douyin_spec_prices_has_one_entry_per_combination_and_specs_round_trip(grid):
    axes, seed = grid
    combos = list(itertools.product(*(vs for _, vs in axes)))
    rng = random.Random(seed)
    order = list(range(len(combos)))
    rng.shuffle(order)                       # any row order: axes keep first-seen value order
    skus = [{"sku_code": f"S{i}", "spec": dict(zip([n for n, _ in axes], combos[i])),
             "price_fen": 100 + i, "stock": i, "row": 2 + k} for k, i in enumerate(order)]
    product = {"spu_code": "P1", "title": "测试商品标题", "images": {"main": ["m"], "gallery": [], "detail": []},
               "skus": skus}
    body = douyin_product(product, pics=["https://x/m.jpg"], description_pics=[], category_leaf_id="20000",
                          product_format_new={})
    parsed = parse_douyin_specs(body["specs"])
    assert [n for n, _ in parsed] == [n for n, _ in axes]
    assert [sorted(vs) for _, vs in parsed] == [sorted(vs) for _, vs in axes]
    assert douyin_specs(parsed) == body["specs"]
    prices = json.loads(body["spec_prices"])
    assert len(prices) == len(combos) == len(skus)
    got = [tuple(e[f"spec_detail_name{d + 1}"] for d in range(len(axes))) for e in prices]
    assert sorted(got) == sorted(combos) and len(set(got)) == len(got)
    assert got == list(itertools.product(*(vs for _, vs in parsed)))     # the order specs enumerates
    assert all(type(e["price"]) is int and e["code"] == f"S{e['price'] - 100}" for e in prices)
