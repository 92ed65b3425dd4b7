from shangjia.spec import load_categories, load_spec


def test_the_specification_has_28_required_fields_with_both_header_languages():
    spec = load_spec()
    req = spec.required_fields
    assert len(req) == 28
    assert all(f.zh and f.en and f.level in ("spu", "sku") for f in spec.fields)
    assert {"price", "sku_code", "stock", "spec_values", "main_image"} <= {f.name for f in req}


def test_header_aliases_in_chinese_and_english_map_to_fields():
    spec = load_spec()
    assert spec.match_header("售价(元)") == "price"
    assert spec.match_header("  *商品标题 ") == "title"
    assert spec.match_header("商品标题\nTitle") == "title"
    assert spec.match_header("SKU Code") == "sku_code"
    assert spec.match_header("宝贝名称") == "title"           # Taobao data package
    assert spec.match_header("ＳＫＵ编码") == "sku_code"        # full-width
    assert spec.match_header("颜色") is None


def test_category_tree_has_three_levels_priority_groups_and_enough_leaves():
    t = load_categories()
    assert len(t) >= 60
    assert all(c.path.count("/") == 2 for c in t.leaves.values())
    groups = {c.group for c in t.leaves.values() if c.priority}
    assert groups == {"apparel_shoes_bags", "home_goods", "digital_accessories"}
    leaf = t.resolve("服饰鞋包 > 女装 > 连衣裙")
    assert leaf is not None and leaf.price_cap_fen and "颜色" in leaf.required_attributes
    assert t.resolve(leaf.id) == leaf
    assert t.resolve("服饰鞋包/女装") is None and t.is_inner("服饰鞋包/女装")


def test_halfwidth_translates_exactly_as_the_table_says_runs_or_not():
    import random

    from shangjia.spec import _HALF, to_halfwidth
    rng = random.Random(1)
    alphabet = [chr(c) for c in _HALF] + list("abc中文 ") + ["\u200b", "\ufeff"]
    for _ in range(5000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        assert to_halfwidth(s) == s.translate(_HALF)
    assert to_halfwidth("ＳＫＵ－００１，红色　Ｍ") == "SKU-001,红色 M"
