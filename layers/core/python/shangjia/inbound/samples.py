"""Generated Taobao- and Pinduoduo-shaped products for the sync proof (``shangjia erp sync-run``).

Varied on purpose: both platforms and both Pinduoduo read APIs (fen and yuan prices), 1 to 6
SKUs on a full colour x size grid, several categories with their required attributes given as
the platforms give them (``props_name``, ``goods_properties``), escaped names (``#cln#``).
One product in ``broken_every`` is broken on purpose, in turn: an unmapped category, a bad
price, no images. ``expected_failure`` says which and why, so the run can check its answers.
"""

from __future__ import annotations

import random
from typing import Any

# (taobao cid, pinduoduo cat_id, our leaf, title stem, required attributes as props, price range yuan)
KINDS = [
    ("50010850", "9813", "010101", "碎花雪纺连衣裙", {"袖长": "短袖", "材质": "雪纺"}, (79, 399)),
    ("50000671", "9814", "010102", "纯棉宽松短袖T恤", {"材质": "棉"}, (29, 159)),
    ("162104", "9815", "010103", "通勤百搭长袖衬衫", {"材质": "涤纶"}, (59, 299)),
    ("1623", "9816", "010104", "高腰显瘦半身裙", {"材质": "聚酯纤维"}, (49, 259)),
]
COLORS = ["白色", "黑色", "藏青", "杏色"]
SIZES = ["S", "M", "L", "XL"]
BREAKS = ("unmapped_category", "bad_price", "no_images")

DEFAULTS = {"brand": "示例品牌", "model": "ERP-2026", "origin": "中国", "selling_points": "舒适透气|百搭",
            "keywords": "女装|新款", "shipping_template": "默认运费模板", "return_policy": "7天无理由退换",
            "fragile": "否", "weight_kg": "0.4", "package_size_cm": "30x25x5", "ship_from": "浙江杭州",
            "dispatch_days": "2"}


def _img(host: str, n: int, slot: str, k: int) -> str:
    return f"https://{host}/erp-sample/{n:05d}/{slot}{k}.jpg"


def generate(n: int, *, broken_every: int = 20, seed: int = 11) -> list[tuple[str, dict[str, Any], str | None]]:
    """[(platform, item, expected failure or None)], alternating platforms."""
    rnd = random.Random(seed)
    out = []
    breaks = 0
    for i in range(n):
        platform = "taobao" if i % 2 == 0 else "pinduoduo"
        tb_cid, pdd_cat, _leaf, stem, attrs, (lo, hi) = KINDS[rnd.randrange(len(KINDS))]
        colors = COLORS[: rnd.randint(1, 3)]
        sizes = SIZES[: rnd.randint(1, 2)]
        price = rnd.randint(lo, hi)
        broken = None
        # the last product of each block of ``broken_every``, one before it every other block:
        # both platforms get their share of the breaks
        if broken_every and i % broken_every == broken_every - 1 - (i // broken_every) % 2:
            broken = BREAKS[breaks % len(BREAKS)]
            breaks += 1
        spu = f"{'TB' if platform == 'taobao' else 'PDD'}-{seed}-{i:05d}"
        title = f"{stem} {colors[0]}款 {i:04d}"
        desc = f"{stem}，精选面料，做工细致，版型修身，日常通勤与休闲皆宜。编号 {i}。"
        if platform == "taobao":
            item = _taobao(i, spu, title, desc, tb_cid, attrs, colors, sizes, price, broken)
        else:
            item = _pdd(i, spu, title, desc, pdd_cat, attrs, colors, sizes, price, broken, old_api=(i % 4 == 3))
        out.append((platform, item, broken))
    return out


def _taobao(i, spu, title, desc, cid, attrs, colors, sizes, price, broken):
    host = "img.alicdn.com"
    props = ";".join(f"{20000 + k}:{30000 + k}:{name}:{value}" for k, (name, value) in enumerate(attrs.items()))
    props += ";20999:31999:适用场景#cln#季节:春#scln#夏"          # an escaped name and value
    skus = []
    for c, color in enumerate(colors):
        for s, size in enumerate(sizes):
            skus.append({"sku_id": int(f"9{i:05d}{c}{s}"), "properties": f"1627207:{28320 + c};20509:{28314 + s}",
                         "properties_name": f"1627207:{28320 + c}:颜色分类:{color};20509:{28314 + s}:尺码:{size}",
                         "price": f"{price}.00", "quantity": 10 + c + s, "outer_id": f"{spu}-{c}{s}", "status": "normal",
                         "shangjia": {"market_price": f"{price * 2}.00", "cost_price": f"{price // 3}.00"}})
    if broken == "bad_price":
        skus[0]["price"] = f"{price}.0O"
    item = {"num_iid": 600000000000 + i, "title": title, "cid": int(cid) if broken != "unmapped_category" else 50099999,
            "price": f"{price}.00", "num": sum(s["quantity"] for s in skus), "outer_id": spu, "props_name": props,
            "desc": f"<p>{desc}</p><img src=\"https://{host}/erp-sample/{i:05d}/detail1.jpg\">",
            "skus": {"sku": skus}}
    if broken != "no_images":
        item["item_imgs"] = {"item_img": [{"id": k, "url": _img(host, i, "main" if k == 0 else "g", k), "position": k}
                                          for k in range(4)]}
    return {"item_seller_get_response": {"item": item}}


def _pdd(i, spu, title, desc, cat, attrs, colors, sizes, price, broken, *, old_api: bool):
    host = "img.pddpic.com"
    skus = []
    for c, color in enumerate(colors):
        for s, size in enumerate(sizes):
            sku: dict[str, Any] = {"sku_id": str(7000000000 + i * 100 + c * 10 + s), "is_onsale": 1,
                                   "shangjia": {"market_price": f"{price * 2}.00", "cost_price": f"{price // 3}.00"}}
            if old_api:       # pdd.goods.information.get: yuan strings, spec as text
                sku.update({"spec": f"颜色:{color};尺码:{size}", "sku_quantity": 20, "outer_id": f"{spu}-{c}{s}",
                            "single_price": f"{price}.00", "group_price": f"{price - 5}.00"})
            else:             # pdd.goods.detail.get: fen
                sku.update({"spec": [{"parent_name": "颜色", "spec_name": color}, {"parent_name": "尺码", "spec_name": size}],
                            "quantity": 20, "out_sku_sn": f"{spu}-{c}{s}", "price": price * 100,
                            "multi_price": (price - 5) * 100})
            skus.append(sku)
    if broken == "bad_price":
        if old_api:
            skus[0]["single_price"] = "¥" + skus[0]["single_price"]
        else:
            skus[0]["price"] = -100
    goods = {"goods_id": str(880000000 + i), "goods_name": title, "cat_id": int(cat) if broken != "unmapped_category"
             else 99999, "outer_goods_id": spu, "goods_desc": desc, "sku_list": skus,
             "goods_properties": [{"name": k, "value": v} for k, v in attrs.items()]}
    if broken != "no_images":
        goods["carousel_gallery_list"] = [_img(host, i, "c", k) for k in range(4)]
        goods["detail_gallery_list"] = [_img(host, i, "d", 1)]
    return {"goods_detail_get_response": goods}
