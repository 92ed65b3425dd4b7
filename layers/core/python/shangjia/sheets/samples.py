"""Sample merchant workbooks for the demo, the integrator's tests and the benchmark.

Written with XlsxWriter the way Excel writes (shared strings, UTF-8), with the template's
header row; prices, stock and barcodes are numeric cells as a merchant's Excel would hold
them, codes are text. ``invalid_ratio`` of the products get exactly one realistic mistake.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator

from shangjia.spec import load_categories, load_spec
from shangjia.validation.values import ean13_check_digit

ImageNamer = Callable[[str, str, int], str]   # (spu_code, "main"|"gallery"|"detail", index) -> name

COLOURS = ["红色", "黑色", "白色", "蓝色", "灰色", "粉色", "绿色", "卡其色"]
SIZES = ["S", "M", "L", "XL", "XXL"]
SHOE_SIZES = ["36", "37", "38", "39", "40", "41", "42"]
ADJ = ["简约", "时尚", "经典", "轻便", "加厚", "透气", "百搭", "复古", "北欧风", "家用", "便携", "大容量"]
PROVINCES = ["浙江杭州", "广东广州", "江苏苏州", "福建泉州", "上海", "山东青岛"]
BRANDS = ["无品牌", "山野", "木子", "优品", "悦家", "极客派", "小熊猫"]
MATERIALS = ["棉", "涤纶", "不锈钢", "陶瓷", "ABS塑料", "真皮", "实木", "硅胶"]
SHIPPING_TEMPLATES = ("默认运费模板", "全国包邮", "偏远地区不包邮")
MISTAKES = ("price_order", "banned_term", "missing_title", "bad_barcode", "duplicate_sku",
            "short_title", "negative_stock", "bad_category")


def default_image_names(spu: str, kind: str, i: int) -> str:
    return f"{spu}_{kind}_{i}.jpg"


def _ean13(rng: random.Random) -> str:
    body = "69" + "".join(str(rng.randrange(10)) for _ in range(10))
    return body + str(ean13_check_digit(body))


def _attr_value(attr: str, rng: random.Random) -> str:
    table = {"袖长": "短袖", "裤长": "九分", "充绒量": "200g", "材质": rng.choice(MATERIALS), "适用炉灶": "燃气灶/电磁炉",
             "容量": f"{rng.choice([1, 2, 5, 10])}L", "填充物": "纤维", "香型": "木质调", "适用机型": "iPhone 15",
             "功率": "20W", "接口": "USB-C", "长度": "1m", "连接方式": "蓝牙", "规格": "50ml", "适用肤质": "通用",
             "色号": "#01", "净含量": "500g", "保质期": "12个月", "产区": "云南", "适用年龄": "3-6岁", "厚度": "6mm",
             "重量": "5kg", "适用人数": "2人", "ISBN": "9787000000000", "尺寸": "中号"}
    return table.get(attr, "标准")


def sample_rows(products: int, *, seed: int, invalid_ratio: float = 0.0,
                image_names: ImageNamer | None = None, merchant: str = "M") -> Iterator[tuple[list[dict], set[str]]]:
    """Yield (rows of one product as {field: value}, image names) for ``products`` products."""
    rng = random.Random(seed)
    names = image_names or default_image_names
    tree = load_categories()
    leaves = [c for c in tree.leaves.values() if "video" not in c.required_fields]
    prio = [c for c in leaves if c.priority]
    for p in range(products):
        cat = rng.choice(prio) if rng.random() < 0.75 else rng.choice(leaves)
        spu = f"{merchant}{seed % 1000:03d}P{p:06d}"
        noun = cat.name
        title = f"{rng.choice(BRANDS[1:])}{rng.choice(ADJ)}{rng.choice(ADJ)}{noun} {rng.choice(['新款', '热卖', '2026款'])}"
        desc = (f"这款{noun}采用{rng.choice(MATERIALS)}材质，做工细致，{rng.choice(ADJ)}设计，适合日常使用。"
                f"商品编号{spu}，支持全国发货，收到后如有问题请联系客服。")
        if "颜色" in cat.required_attributes or "尺码" in cat.required_attributes or rng.random() < 0.5:
            axes: list[tuple[str, list[str]]] = [("颜色", rng.sample(COLOURS, rng.randint(1, 3)))]
            if "尺码" in cat.required_attributes:
                axes.append(("尺码", rng.sample(SIZES, rng.randint(1, 4))))
            elif "鞋码" in cat.required_attributes:
                axes.append(("鞋码", rng.sample(SHOE_SIZES, rng.randint(1, 4))))
        else:
            axes = []
        combos: list[dict[str, str]] = [{}]
        for k, vals in axes:
            combos = [{**c, k: v} for c in combos for v in vals]
        combos = combos[:12]
        spec_names = {k for k, _ in axes}
        attrs = {a: _attr_value(a, rng) for a in cat.required_attributes if a not in spec_names}
        attrs.setdefault("风格", rng.choice(["简约", "通勤", "休闲"]))
        imgs = {"main": [names(spu, "main", 1)],
                "gallery": [names(spu, "gallery", i) for i in range(1, 4)],
                "detail": [names(spu, "detail", 1)]}
        cap = cat.price_cap_fen or 10**8
        base = rng.randint(20, max(21, min(cap // 100, 800))) * 100 - rng.choice([0, 1, 10])
        fragile = cat.fragile_default
        spu_vals = {
            "spu_code": spu, "title": title[:60], "category": cat.path, "brand": rng.choice(BRANDS),
            "model": f"X{rng.randint(100, 999)}", "material": rng.choice(MATERIALS), "origin": "中国",
            "selling_points": ";".join(rng.sample(["品质保证", "顺丰发货", "七天无理由", "爆款热卖", "舒适耐用", "设计师款"], 3)),
            "description": desc + ("易碎品，加固包装，破损包赔。" if fragile else ""),
            "keywords": ";".join([noun, rng.choice(ADJ), rng.choice(ADJ)]),
            "attribute_tags": ";".join(f"{k}:{v}" for k, v in attrs.items()),
            "main_image": imgs["main"][0], "gallery_images": ";".join(imgs["gallery"]),
            "detail_images": ";".join(imgs["detail"]),
            "shipping_template": rng.choice(SHIPPING_TEMPLATES),
            "return_policy": "7天无理由退换" if not fragile else "15天无理由退换",
            "fragile": "是" if fragile else "否", "ship_from": rng.choice(PROVINCES),
            "dispatch_days": rng.randint(1, 7), "key_product": "是" if rng.random() < 0.3 else "否",
        }
        rows: list[dict] = []
        for i, combo in enumerate(combos):
            price = base + i * 100
            row = dict(spu_vals) if i == 0 else {"spu_code": spu}
            row.update({
                "sku_code": f"{spu}-{i + 1:02d}",
                "spec_values": ";".join(f"{k}:{v}" for k, v in combo.items()),
                "price": price / 100, "market_price": (price + price // 5) / 100,
                "cost_price": (price * 6 // 10) / 100, "stock": rng.randint(0, 500),
                "weight_kg": rng.choice([0.2, 0.5, 1, 1.5, 3]), "package_size_cm": f"{rng.randint(10, 60)}x{rng.randint(10, 40)}x{rng.randint(2, 30)}",
                "barcode": int(_ean13(rng)),
            })
            if rng.random() < 0.3:
                row["promo_price"] = (price * 9 // 10) / 100
            rows.append(row)
        if invalid_ratio and rng.random() < invalid_ratio:
            _inject_mistake(rows, rng)
        yield rows, {n for v in imgs.values() for n in v}


def _inject_mistake(rows: list[dict], rng: random.Random) -> None:
    m = rng.choice(MISTAKES)
    r = rng.choice(rows)
    if m == "price_order":
        r["market_price"] = r["price"] / 2
    elif m == "banned_term":
        rows[0]["title"] = ("全网第一 " + rows[0]["title"])[:60]
    elif m == "missing_title":
        rows[0]["title"] = ""
    elif m == "bad_barcode":
        r["barcode"] = int(str(r["barcode"])[:12] + str((int(str(r["barcode"])[12]) + 1) % 10))
    elif m == "duplicate_sku" and len(rows) > 1:
        rows[-1]["sku_code"] = rows[0]["sku_code"]
    elif m == "short_title":
        rows[0]["title"] = "短"
    elif m == "negative_stock":
        r["stock"] = -3
    else:
        rows[0]["category"] = "服饰鞋包/女装"


def write_sample_workbook(path, products: int, *, seed: int, invalid_ratio: float = 0.0,
                          image_names: ImageNamer | None = None) -> list[str]:
    """Write a product workbook with ``products`` products; return the image file names it
    references, sorted (upload files of those names beside it for a complete batch)."""
    import xlsxwriter

    spec = load_spec()
    fields = [f for f in spec.fields]
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    ws = wb.add_worksheet("商品")
    head = wb.add_format({"bold": True, "text_wrap": True, "bg_color": "#FDE9D9"})
    for c, f in enumerate(fields):
        ws.write_string(0, c, f.header, head)
    images: set[str] = set()
    r = 1
    for rows, imgs in sample_rows(products, seed=seed, invalid_ratio=invalid_ratio, image_names=image_names):
        images |= imgs
        for row in rows:
            for c, f in enumerate(fields):
                v = row.get(f.name)
                if v is None or v == "":
                    continue
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
            r += 1
    wb.close()
    return sorted(images)
