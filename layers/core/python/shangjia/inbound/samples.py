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


# --- the platforms' export sheets (淘宝助理 CSV, 拼多多 商品导出) ------------------------------------

EXPORT_BREAKS = ("unmapped_category", "bad_price", "local_picture", "unnamed_value")
PDD_BREAKS = ("unmapped_category", "bad_price", "all_off_sale")
# colour and size value ids as a 淘宝助理 export carries them: standard values (named by
# data/taobao_props.json), seller aliases (销售属性别名) and custom values (自定义属性值, negative ids)
TB_COLOURS = [("28320", "白色", None), ("28326", "红色", None), ("-1001", "藏青", "custom"), ("28341", "黑色", "alias")]
TB_SIZES = [("28314", "S", "alias"), ("28315", "M", None), ("28316", "L", "alias")]


def _which_break(i: int, every: int, breaks: tuple[str, ...]) -> str | None:
    if every and i % every == every - 1:
        return breaks[(i // every) % len(breaks)]
    return None


def taobao_export_rows(n: int, *, seed: int = 11, broken_every: int = 0) -> tuple[list[list[str]], list]:
    """The rows of a 淘宝助理 出售中的宝贝 export: title row, English field names, Chinese
    headers, one row per item; and [(row number, spu, expected break or None)]."""
    from shangjia.inbound.exports_cn import TAOBAO_COLUMNS

    rnd = random.Random(seed)
    en = [e for e, _ in TAOBAO_COLUMNS]
    out = [["version 1.00"], en, [z for _, z in TAOBAO_COLUMNS]]
    expected = []
    for i in range(n):
        cid, _pdd, _leaf, stem, attrs, (lo, hi) = KINDS[rnd.randrange(len(KINDS))]
        broken = _which_break(i, broken_every, EXPORT_BREAKS)
        colours = TB_COLOURS[: rnd.randint(1, len(TB_COLOURS))]
        sizes = TB_SIZES[: rnd.randint(1, len(TB_SIZES))]
        price = rnd.randint(lo, hi)
        spu = f"TBX-{seed}-{i:05d}"
        alias = [f"1627207:{v}:{name}" for v, name, how in colours if how == "alias"]
        alias += [f"20509:{v}:{name}" for v, name, how in sizes if how == "alias"]
        custom = [f"1627207:{v}:{name}" for v, name, how in colours if how == "custom"]
        sku_props = []
        for c, (cv, _cn, _) in enumerate(colours):
            for s, (sv, _sn, _) in enumerate(sizes):
                p = f"{price}.00" if not (broken == "bad_price" and c == s == 0) else f"{price}.0O"
                cv_ = "99999999" if broken == "unnamed_value" and c == 0 else cv
                sku_props.append(f"{p}:{10 + c + s}:{spu}-{c}{s}:1627207:{cv_};20509:{sv};")
        host = "img.alicdn.com"
        pics = [f"{rnd.getrandbits(64):016x}{i:016x}:1:{k}:|https://{host}/bao/uploaded/i{k + 1}/{spu}-{k}.jpg;"
                for k in range(4)]
        if broken == "local_picture":
            pics[1] = f"{rnd.getrandbits(64):016x}{i:016x}:1:1:|;"
        pics.append(f"{rnd.getrandbits(64):016x}{i:016x}:2:0:1627207:{colours[0][0]}|https://{host}/prop/{spu}.jpg;")
        desc = (f"<p>{stem}，精选面料，做工细致，版型修身，日常通勤与休闲皆宜。编号 {i}。</p>"
                f"<p><img src=\"https://{host}/imgextra/{spu}/detail1.jpg\" /></p>")
        row = {"title": f"{stem} {colours[0][1]}款 {i:04d}",
               "cid": "50099999" if broken == "unmapped_category" else cid,
               "location_state": "浙江", "location_city": "杭州", "item_type": "1", "price": f"{price}.00",
               "num": str(sum(10 + c + s for c in range(len(colours)) for s in range(len(sizes)))),
               "approve_status": "0", "description": desc, "cateProps": "20021:105255;",
               "picture_status": "1;1;1;1;", "picture": "".join(pics), "skuProps": "".join(sku_props),
               "inputPids": "20000", "inputValues": "示例品牌", "outer_id": spu, "propAlias": ";".join(alias),
               "num_id": str(600100000000 + i), "item_weight": "0.4", "subtitle": "舒适透气 百搭",
               "input_custom_cpv": ";".join(custom),
               "modified": "2026/11/20 10:00:00"}
        out.append([row.get(e, "") for e in en])
        expected.append((len(out), spu, broken))
    return out, expected


def taobao_export_csv(n: int, *, seed: int = 11, broken_every: int = 0, encoding: str = "utf-16") -> bytes:
    """A 淘宝助理 export as the tool writes it: tab-separated, UTF-16LE with a BOM (``encoding``
    "gbk" for the older tool's files)."""
    import csv
    import io

    rows, _ = taobao_export_rows(n, seed=seed, broken_every=broken_every)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\r\n")
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


PDD_HEADER = ["商品ID", "商品名称", "商品分类", "商家编码", "商品状态", "SKUID", "SKU编码", "SKU属性", "SKU库存", "拼单价",
              "单买价", "商品参考价", "SKU状态", "商品轮播图1", "商品轮播图2", "商品轮播图3", "商品轮播图4", "商品详情图",
              "品牌", "商品属性", "创建时间"]
PDD_PATHS = {"010101": "女装>连衣裙", "010102": "女装>T恤", "010103": "女装>衬衫", "010104": "女装>半身裙"}


def pinduoduo_export_rows(n: int, *, seed: int = 11, broken_every: int = 0) -> tuple[list[list], list]:
    """The rows of a Pinduoduo 商品导出 sheet (header, then one row per SKU, the product's columns
    repeated); prices and stock as numbers. And [(first row, spu, expected break or None)]."""
    rnd = random.Random(seed)
    out: list[list] = [list(PDD_HEADER)]
    expected = []
    for i in range(n):
        _tb, _cat, leaf, stem, attrs, (lo, hi) = KINDS[rnd.randrange(len(KINDS))]
        broken = _which_break(i, broken_every, PDD_BREAKS)
        gid = 880100000 + i
        spu = f"PDDX-{seed}-{i:05d}"
        price = rnd.randint(lo, hi)
        host = "img.pddpic.com"
        first = len(out) + 1
        expected.append((first, spu, broken))
        colours, sizes = COLORS[: rnd.randint(1, 3)], SIZES[: rnd.randint(1, 2)]
        for c, colour in enumerate(colours):
            for s, size in enumerate(sizes):
                single: Any = float(price)
                if broken == "bad_price" and c == s == 0:
                    single = f"¥{price}.00"
                out.append([gid, f"{stem} {colours[0]}款 {i:04d}",
                            "女装>旗袍" if broken == "unmapped_category" else PDD_PATHS[leaf], spu, "上架",
                            7100000000 + i * 100 + c * 10 + s, f"{spu}-{c}{s}", f"颜色:{colour};尺码:{size}",
                            20 + c, float(price - 5), single, float(price * 2),
                            "下架" if broken == "all_off_sale" else "上架"]
                           + [f"https://{host}/goods/{spu}/c{k}.jpg" for k in range(1, 5)]
                           + [f"https://{host}/goods/{spu}/d1.jpg,https://{host}/goods/{spu}/d2.jpg", "示例品牌",
                              ";".join(f"{k}:{v}" for k, v in attrs.items()), "2026-11-20 10:00:00"])
    return out, expected


def pinduoduo_export_xlsx(n: int, *, seed: int = 11, broken_every: int = 0) -> bytes:
    import io

    import xlsxwriter

    rows, _ = pinduoduo_export_rows(n, seed=seed, broken_every=broken_every)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("商品列表")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    wb.close()
    return buf.getvalue()
