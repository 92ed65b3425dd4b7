"""Fixtures for the sheets area: small merchant sheets built in memory, the way merchants save them."""

from __future__ import annotations

import csv
import io

from shangjia.spec import load_spec

SPEC = load_spec()
HEADERS = {f.name: f.zh for f in SPEC.fields}

GOOD_SPU = {
    "spu_code": "SPU001", "title": "简约纯棉短袖T恤 夏季新款", "category": "服饰鞋包/女装/T恤", "brand": "无品牌",
    "model": "T100", "material": "棉", "origin": "中国", "selling_points": "纯棉;透气;百搭",
    "description": "这款T恤采用精梳纯棉面料，柔软透气，版型宽松，适合日常通勤与休闲穿着。",
    "keywords": "T恤;纯棉;短袖", "attribute_tags": "风格:简约", "main_image": "a_main.jpg",
    "gallery_images": "a_1.jpg;a_2.jpg;a_3.jpg", "detail_images": "a_d1.jpg", "shipping_template": "全国包邮",
    "return_policy": "7天无理由退换", "fragile": "否", "ship_from": "浙江杭州", "dispatch_days": "3",
}


def sku(code: str, spec: str, price="99.00", market="129.00", cost="50.00", stock="10", **kw) -> dict:
    d = {"sku_code": code, "spec_values": spec, "price": price, "market_price": market, "cost_price": cost,
         "stock": stock, "weight_kg": "0.3", "package_size_cm": "30x20x5"}
    d.update(kw)
    return d


def product_rows(spu: str = "SPU001", grid=(("红色", "M"), ("红色", "L"), ("黑色", "M"), ("黑色", "L")),
                 **spu_over) -> list[dict]:
    rows = []
    for i, (c, s) in enumerate(grid):
        base = dict(GOOD_SPU, spu_code=spu, **spu_over) if i == 0 else {"spu_code": spu}
        base.update(sku(f"{spu}-{i + 1}", f"颜色:{c};尺码:{s}"))
        rows.append(base)
    return rows


def to_csv(rows: list[dict], *, encoding="utf-8", delimiter=",", title_rows=(), header=None) -> bytes:
    names = [f.name for f in SPEC.fields]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for t in title_rows:
        w.writerow([t])
    w.writerow([(header or HEADERS).get(n, n) for n in names])
    for r in rows:
        w.writerow([r.get(n, "") for n in names])
    return buf.getvalue().encode(encoding)


def to_xlsx(rows: list[dict], *, title_rows=(), numbers=(), header=None, hidden_first=False) -> bytes:
    """An .xlsx with shared strings (XlsxWriter, as Excel writes). ``numbers``: fields written
    as numeric cells (the way Excel keeps prices, stock and long codes)."""
    import xlsxwriter

    names = [f.name for f in SPEC.fields]
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    if hidden_first:
        hs = wb.add_worksheet("hidden")
        hs.write_string(0, 0, "nothing")
        hs.hide()
    ws = wb.add_worksheet("商品")
    r0 = 0
    for t in title_rows:
        ws.write_string(r0, 0, t)
        r0 += 1
    for c, n in enumerate(names):
        ws.write_string(r0, c, (header or HEADERS).get(n, n))
    for i, row in enumerate(rows, r0 + 1):
        for c, n in enumerate(names):
            v = row.get(n)
            if v is None or v == "":
                continue
            if n in numbers:
                ws.write_number(i, c, float(v))
            else:
                ws.write_string(i, c, str(v))
    if hidden_first:
        ws.activate()
    wb.close()
    return out.getvalue()
