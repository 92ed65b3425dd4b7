"""The category map as data: every leaf of our tree accounted for per channel, ids as strings,
an unmapped leaf a located error named per channel, never a guess."""

from __future__ import annotations

import copy
import json

import pytest

from shangjia.channels import categories as C
from shangjia.errors import FindingError
from shangjia.spec import DATA_DIR, load_categories

DOC = json.loads((DATA_DIR / "channel_categories.json").read_text("utf-8"))
TREE = load_categories()


def test_every_leaf_of_the_tree_is_accounted_for_on_both_channels():
    data = C.load_channel_categories()
    assert set(DOC["leaves"]) == set(TREE.leaves)
    assert DOC["category_tree_version"] == TREE.version
    for leaf_id, e in DOC["leaves"].items():
        assert e["path"] == TREE.leaves[leaf_id].path
        for ch in ("wechat", "douyin"):
            assert data.get(ch, leaf_id) is not None or data.unmapped_reason(ch, leaf_id), (leaf_id, ch)


def test_the_data_says_its_ids_are_illustrative():
    assert "ILLUSTRATIVE" in DOC["notes"] and "no live API" in DOC["notes"]


def test_wechat_cats_v2_are_three_id_strings_and_douyin_leaf_ids_strings():
    data = C.load_channel_categories()
    for leaf_id in TREE.leaves:
        w = data.wechat(leaf_id)
        assert w is not None and len(w.cats_v2) == 3
        assert all(isinstance(c, str) and c.isdigit() for c in w.cats_v2)
        d = data.douyin(leaf_id)
        if d is not None:
            assert isinstance(d.category_leaf_id, str) and d.category_leaf_id.isdigit()
            assert all(isinstance(p.property_id, str) and p.property_id.isdigit() for p in d.properties)
            assert d.properties[0].name == "品牌" and d.properties[0].required       # the defaults come first


def test_books_are_deliberately_unmapped_for_douyin_and_refused_with_a_located_error():
    product = {"spu_code": "B1", "category": "图书文具/图书/童书", "category_id": "080201"}
    data = C.load_channel_categories()
    assert "080201" not in data.mapped_leaves("douyin") and data.unmapped_reason("douyin", "080201")
    assert C.mapping(product, "wechat") is not None          # the same leaf is fine on WeChat
    with pytest.raises(FindingError) as e:
        C.require_mapping(product, "douyin")
    f = e.value.finding
    assert f.code == "CHANNEL_CATEGORY_UNMAPPED" and f.severity == "error"
    assert f.value == "图书文具/图书/童书" and f.params["channel"] == "douyin"
    assert "抖店" in f.message_zh and "出版物经营许可证" in f.message_zh
    assert "Douyin" in f.message_en and "licence" in f.message_en


def test_a_leaf_missing_from_the_data_is_unmapped_not_guessed():
    doc = copy.deepcopy(DOC)
    del doc["leaves"]["010102"]                       # 女装/T恤: its siblings stay mapped
    data = C.ChannelCategories(doc, set(TREE.leaves))
    product = {"category": "服饰鞋包/女装/T恤", "category_id": "010102"}
    assert C.mapping(product, "wechat", data) is None and C.mapping(product, "douyin", data) is None
    with pytest.raises(FindingError) as e:
        C.require_mapping(product, "wechat", data)
    f = e.value.finding
    assert f.code == "CHANNEL_CATEGORY_UNMAPPED" and "微信小店" in f.message_zh and "WeChat" in f.message_en
    assert data.wechat("010101") is not None          # a sibling is not borrowed


def test_the_leaf_is_found_from_the_path_when_the_id_is_absent():
    assert C.leaf_id_of({"category": "服饰鞋包/女装/T恤"}) == "010102"
    assert C.leaf_id_of({"category": "不存在的类目"}) is None
    assert C.mapping({"category": "不存在的类目"}, "wechat") is None


@pytest.mark.parametrize("breakage", [
    lambda d: d["leaves"]["010102"]["wechat"].__setitem__("cats_v2", ["1", "2"]),
    lambda d: d["leaves"]["010102"]["wechat"].__setitem__("cats_v2", [1001, 1002, 1003]),
    lambda d: d["leaves"]["010102"]["douyin"].__setitem__("category_leaf_id", 20013),
    lambda d: d["leaves"].__setitem__("999999", {"path": "x", "wechat": {"cats_v2": ["1", "2", "3"]}}),
    lambda d: d["leaves"]["010102"]["douyin"]["properties"].append(
        {"property_id": "9", "name": "x", "from": "colour_of_the_sky", "required": True}),
    lambda d: d["leaves"]["010101"]["douyin"]["properties"][-1]["options"].__setitem__("短袖", "210101"),
    lambda d: d["leaves"]["010101"]["douyin"]["properties"][-1]["options"].__setitem__("短袖", 2**63),
], ids=["two-levels", "int-cat-ids", "int-leaf-id", "unknown-leaf", "unknown-source", "string-option", "huge-option"])
def test_bad_data_is_refused_when_loaded(breakage):
    doc = copy.deepcopy(DOC)
    breakage(doc)
    with pytest.raises((ValueError, KeyError)):
        C.ChannelCategories(doc, set(TREE.leaves))


# --- values from the product ----------------------------------------------------------------------

def dress(**over):
    p = {"spu_code": "D1", "category": "服饰鞋包/女装/连衣裙", "category_id": "010101", "brand": "无品牌",
         "material": "棉", "origin": "中国", "model": "X1", "attribute_tags": {"袖长": "短袖", "风格": "通勤"},
         "skus": [{"sku_code": f"D1-{i}", "spec": {"颜色": c, "尺码": z}, "price_fen": 9900, "stock": 1, "row": 2 + i}
                  for i, (c, z) in enumerate([("红色", "M"), ("红色", "L"), ("黑色", "M"), ("黑色", "L")])]}
    p.update(over)
    return p


def test_douyin_format_sends_option_ids_custom_text_and_skips_sale_specs():
    fmt, problems = C.douyin_format(dress())
    assert problems == []
    assert fmt["1687"] == [{"value": 0, "name": "无品牌", "diy_type": 0}]          # brand: an option
    assert fmt["1088"] == [{"value": 0, "name": "棉", "diy_type": 1}]              # material: custom text
    assert fmt["2101"] == [{"value": 210101, "name": "短袖", "diy_type": 0}]       # 袖长: an option id
    assert fmt["1701"] == [{"value": 0, "name": "中国", "diy_type": 1}]
    assert "1795" not in fmt and "1796" not in fmt      # 颜色/尺码 have several values: they are the specs


def test_douyin_format_takes_a_single_valued_spec_as_the_property():
    p = dress()
    p["skus"] = [dict(p["skus"][0], spec={"颜色": "红色", "尺码": "M"})]
    fmt, problems = C.douyin_format(p)
    assert problems == [] and fmt["1795"] == [{"value": 0, "name": "红色", "diy_type": 1}]


def test_douyin_format_reports_a_value_outside_a_closed_option_list():
    fmt, problems = C.douyin_format(dress(attribute_tags={"袖长": "超长袖"}))
    assert "2101" not in fmt
    [p] = problems
    assert (p.kind, p.name, p.value) == ("value", "袖长", "超长袖") and "短袖" in p.choices


def test_douyin_format_reports_a_required_property_left_blank():
    fmt, problems = C.douyin_format(dress(attribute_tags={}, material=""))
    assert {(p.kind, p.name) for p in problems} == {("missing", "袖长"), ("missing", "材质")}


def test_wechat_attrs_rename_our_fields_and_add_the_other_tags():
    attrs, problems = C.wechat_attrs(dress())
    assert problems == []
    assert attrs == [{"attr_key": "商品产地", "attr_value": "中国"}, {"attr_key": "材质", "attr_value": "棉"},
                     {"attr_key": "袖长", "attr_value": "短袖"}, {"attr_key": "风格", "attr_value": "通勤"}]


def test_wechat_attrs_report_a_required_parameter_left_blank():
    _, problems = C.wechat_attrs(dress(origin=""))
    assert [(p.kind, p.name, p.source) for p in problems] == [("missing", "商品产地", "origin")]
