"""Taobao's and Pinduoduo's seller-tool product exports, mapped row by row onto our raw product
through the same helpers as their API payloads (``inbound.model``: the category table, yuan,
properties -> attribute tags and the spec grid, images by URL). Read by ``exports.ExportReader``;
every finding at the row and column of THEIR file.

Taobao: the 出售中的宝贝 export of 淘宝助理 / 千牛 (a ``.csv``, in practice UTF-16LE or GBK,
tab-separated): a title row (``version 1.00``), a row of English field names (``title``,
``cid``, ``cateProps``, ``skuProps``, ``picture``...) and a row of Chinese headers (宝贝名称,
宝贝类目, 宝贝属性, 销售属性组合, 新图片...), then one row per item. Columns as listed for
淘宝助理 5.5/5.6 in public code that writes these files (the ``TBAssitantVer`` header strings
of a Taobao tool's ``WirelessItemAssistant.java``); the encoded cells as public writers and
readers of the format build and parse them:

- 宝贝类目 ``cid``: the leaf category id (our category through ``data/categories.json``).
- 宝贝属性 ``cateProps``: ``pid:vid;pid:vid;`` (ids only); 用户输入ID串 / 用户输入名-值对
  (``inputPids`` / ``inputValues``): comma-separated pids and the values typed for them.
- 销售属性组合 ``skuProps``: per SKU ``price:quantity:outer_id:pid:vid;pid:vid;`` (the SKU's
  price in yuan, its stock, its 商家编码, then its sale properties).
- 销售属性别名 ``propAlias``: ``pid:vid:alias;`` and 自定义属性值 ``input_custom_cpv``
  ``pid:-1001:name;``: the names the seller gave values. A standard value's name is not in the
  file at all: ``data/taobao_props.json`` names the ones we know; any other is a located error
  naming its ``pid:vid`` (never a guess).
- 新图片 ``picture``: ``hash:1:position:|url;`` main images (``hash:2:0:pid:vid|url;``
  property images). A picture with no URL after ``|`` exists only in 淘宝助理's local picture
  folder: a located error.

Pinduoduo: the 商品导出 sheet (``.xlsx`` or ``.csv``) of the merchant backend, one row per SKU,
the product's columns repeated: 商品ID, 商品名称, 商品分类, 商家编码, SKUID, SKU编码, SKU属性
(or 颜色 / 尺码), 单买价 / 拼单价 / 商品参考价 (yuan), SKU库存, SKU状态 / 商品状态 (上架 / 下架),
商品轮播图1..10, 商品详情图 (comma-separated), 品牌, 商品属性. No real export was available:
these are the headers a public merchant tool reads such files by (third-party evidence,
unverified against the platform). Our price is the single-buy price (单买价), as for the API;
the group price (拼单价) is Pinduoduo's own mechanism.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Iterator

from shangjia.inbound.model import (MappedProduct, MappedRow, html_images, html_text, int_text, join_images,
                                    join_list, kv_join, map_category, set_properties, spec_name, table, yuan)
from shangjia.inbound.taobao import parse_alias

# --- Taobao (淘宝助理) --------------------------------------------------------------------------

# English field name -> Chinese header, in the order of 淘宝助理 5.6's export (then later columns)
TAOBAO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("title", "宝贝名称"), ("cid", "宝贝类目"), ("seller_cids", "店铺类目"), ("stuff_status", "新旧程度"),
    ("location_state", "省"), ("location_city", "城市"), ("item_type", "出售方式"), ("price", "宝贝价格"),
    ("auction_increment", "加价幅度"), ("num", "宝贝数量"), ("valid_thru", "有效期"), ("freight_payer", "运费承担"),
    ("post_fee", "平邮"), ("ems_fee", "EMS"), ("express_fee", "快递"), ("has_invoice", "发票"),
    ("has_warranty", "保修"), ("approve_status", "放入仓库"), ("has_showcase", "橱窗推荐"), ("list_time", "开始时间"),
    ("description", "宝贝描述"), ("cateProps", "宝贝属性"), ("postage_id", "邮费模版ID"), ("has_discount", "会员打折"),
    ("modified", "修改时间"), ("upload_fail_msg", "上传状态"), ("picture_status", "图片状态"),
    ("auction_point", "返点比例"), ("picture", "新图片"), ("video", "视频"), ("skuProps", "销售属性组合"),
    ("inputPids", "用户输入ID串"), ("inputValues", "用户输入名-值对"), ("outer_id", "商家编码"),
    ("propAlias", "销售属性别名"), ("auto_fill", "代充类型"), ("num_id", "数字ID"), ("local_cid", "本地ID"),
    ("navigation_type", "宝贝分类"), ("user_name", "用户名称"), ("syncStatus", "宝贝状态"),
    ("is_lighting_consigment", "闪电发货"), ("is_xinpin", "新品"), ("foodparame", "食品专项"), ("features", "尺码库"),
    ("buyareatype", "采购地"), ("global_stock_type", "库存类型"), ("global_stock_country", "国家地区"),
    ("sub_stock_type", "库存计数"), ("item_size", "物流体积"), ("item_weight", "物流重量"),
    ("sell_promise", "退换货承诺"), ("custom_design_flag", "定制工具"), ("wireless_desc", "无线详情"),
    ("barcode", "商品条形码"), ("sku_barcode", "sku 条形码"), ("newprepay", "7天退货"), ("subtitle", "宝贝卖点"),
    ("cpv_memo", "属性值备注"), ("input_custom_cpv", "自定义属性值"),
)


def _norm(label: str) -> str:
    return re.sub(r"\s+", "", str(label)).lower()


_TB_KEY = {_norm(e): e for e, _ in TAOBAO_COLUMNS} | {_norm(z): e for e, z in TAOBAO_COLUMNS}
# what tells a 淘宝助理 export apart from a sheet using Taobao's data-package words as headers
_TB_EN_MARKS = {"cateprops", "skuprops", "picture", "inputpids", "inputvalues", "propalias", "num_id",
                "picture_status", "seller_cids"}
_TB_ZH_MARKS = {_norm(z) for z in ("宝贝属性", "销售属性组合", "新图片", "用户输入ID串", "销售属性别名", "数字ID",
                                   "图片状态", "店铺类目")}


def is_taobao_header(keys: set[str]) -> bool:
    """A row of 淘宝助理's English field names or of its Chinese headers (lower-cased, trimmed)."""
    k = {_norm(x) for x in keys}
    return ("cid" in k and "title" in k and len(k & _TB_EN_MARKS) >= 2) or \
        (_norm("宝贝名称") in k and len(k & _TB_ZH_MARKS) >= 2)


def taobao_columns(rows: list[dict]) -> dict[str, str]:
    """English field name -> column letter, from the export's header row(s)."""
    out: dict[str, str] = {}
    for cells in rows:
        for letter, v in cells.items():
            key = _TB_KEY.get(_norm(v)) if v is not None else None
            if key and key not in out:
                out[key] = letter
    return out


@lru_cache(maxsize=None)
def _props() -> dict:
    return table("taobao_props")


def _pairs(s: str) -> list[tuple[str, str]]:
    """``pid:vid;pid:vid;`` -> [(pid, vid)] (parts that are not two ids are returned as (part, ""))."""
    out = []
    for part in (s or "").split(";"):
        part = part.strip()
        if not part:
            continue
        bits = part.split(":")
        out.append((bits[0].strip(), bits[1].strip()) if len(bits) == 2 else (part, ""))
    return out


def parse_sku_props(s: str) -> tuple[list[dict], list[str]]:
    """销售属性组合 -> ([{price, quantity, outer_id, props: [(pid, vid)]}], unreadable parts)."""
    skus: list[dict] = []
    bad: list[str] = []
    for part in (s or "").split(";"):
        part = part.strip()
        if not part:
            continue
        bits = part.split(":")
        if len(bits) >= 5:                       # price:quantity:outer_id:pid:vid starts a SKU
            pid, vid = bits[-2].strip(), bits[-1].strip()
            skus.append({"price": bits[0].strip(), "quantity": bits[1].strip(),
                         "outer_id": ":".join(bits[2:-2]).strip(), "props": [(pid, vid)]})
        elif len(bits) == 2 and skus and bits[0].strip().isdigit():
            skus[-1]["props"].append((bits[0].strip(), bits[1].strip()))
        else:
            bad.append(part)
    return skus, bad


def parse_pictures(s: str) -> tuple[list[str], list[str]]:
    """新图片 -> (main image URLs in position order, the names of pictures that have no URL)."""
    main: list[tuple[int, str]] = []
    local: list[str] = []
    for part in (s or "").split(";"):
        part = part.strip()
        if not part:
            continue
        head, _, url = part.partition("|")
        bits = head.split(":")
        if len(bits) < 3 or bits[1].strip() != "1":      # 2: a property (colour) picture
            continue
        url = url.strip()
        if not url:
            local.append(bits[0].strip() or head)
            continue
        pos = int(bits[2]) if bits[2].strip().isdigit() else 10_000 + len(main)
        main.append((pos, url))
    return [u for _, u in sorted(main, key=lambda t: t[0])], local


def _custom_cpv(s: str) -> dict[tuple[str, str], str]:
    out = {}
    for part in (s or "").split(";"):
        bits = part.split(":")
        if len(bits) >= 3 and bits[0].strip():
            out[(bits[0].strip(), bits[1].strip())] = ":".join(bits[2:]).strip()
    return out


def map_taobao_rows(col: dict[str, str], rows: Iterator[tuple[int, dict]]) -> Iterator[MappedProduct]:
    """One product per data row of a 淘宝助理 export (``col``: field name -> column letter)."""
    where_of = {"spu_code": "outer_id", "title": "title", "category": "cid", "description": "description",
                "attribute_tags": "cateProps", "main_image": "picture", "gallery_images": "picture",
                "detail_images": "description", "sku_code": "skuProps", "spec_values": "skuProps",
                "price": "price", "stock": "num", "ship_from": "location_state", "selling_points": "subtitle",
                "weight_kg": "item_weight", "barcode": "barcode", "brand": "cateProps", "model": "cateProps",
                "material": "cateProps", "origin": "cateProps"}
    base_where = {f: col[c] for f, c in where_of.items() if c in col}
    names = _props()
    for rownum, cells in rows:
        def g(key: str, cells=cells) -> str:
            L = col.get(key)
            v = cells.get(L) if L else None
            return "" if v is None else str(v).strip()

        num_id, outer = g("num_id"), g("outer_id")
        spu = outer or num_id
        first = MappedRow({"spu_code": spu, "title": g("title")}, rownum, dict(base_where))
        mp = MappedProduct("taobao", num_id or spu, spu, [first])
        cells_ = first.cells
        if not spu:
            mp.issue("INBOUND_FIELD_INVALID", "spu_code", value="(empty)",
                     reason="neither 商家编码 (outer_id) nor 数字ID (num_id) is given")
        cid = g("cid")
        ours = map_category("taobao", cid) if cid else None
        if ours:
            cells_["category"] = ours
        elif cid:
            mp.issue("INBOUND_CATEGORY_UNMAPPED", "category", value=cid, platform="淘宝 Taobao",
                     source_category=f"cid {cid}")
        desc = g("description")
        if desc:
            cells_["description"] = html_text(desc)
            if html_images(desc):
                cells_["detail_images"] = join_images(html_images(desc))
        state, city = g("location_state"), g("location_city")
        if state or city:
            cells_["ship_from"] = state + city if state != city else state
        if g("subtitle"):
            cells_["selling_points"] = join_list([g("subtitle")])
        w = _dec(g("item_weight"))
        if w is not None and w > 0:
            cells_["weight_kg"] = str(w)

        alias = parse_alias(g("propAlias"))
        alias.update({k: v for k, v in _custom_cpv(g("input_custom_cpv")).items() if k not in alias})

        def value_name(pid: str, vid: str) -> str | None:
            return alias.get((pid, vid)) or names["values"].get(f"{pid}:{vid}")

        # 宝贝属性 (ids) and the values typed for 用户输入ID串: attribute tags and brand/model/...
        props: list[tuple[str, str]] = []
        unnamed: list[str] = []
        for pid, vid in _pairs(g("cateProps")):
            pname, vname = names["pids"].get(pid), value_name(pid, vid) if vid else None
            if pname and vname:
                props.append((pname, vname))
            elif not (vid.startswith("-") and (pid, vid) not in alias):   # -1: typed in 用户输入名-值对
                unnamed.append(f"{pid}:{vid}" if vid else pid)
        ipids = [p.strip() for p in g("inputPids").split(",") if p.strip()]
        ivals = [v.strip() for v in g("inputValues").split(",")] if g("inputValues") else []
        if ipids and len(ipids) != len(ivals):
            mp.issue("INBOUND_FIELD_INVALID", "attribute_tags", value=g("inputValues"),
                     reason=f"{len(ipids)} ids in 用户输入ID串 but {len(ivals)} values in 用户输入名-值对",
                     _column=col.get("inputValues"))
        else:
            for pid, v in zip(ipids, ivals):
                pname = names["pids"].get(pid)
                if pname and v:
                    props.append((pname, v))
                elif v:
                    unnamed.append(f"{pid}={v}")
        set_properties(cells_, props)
        if unnamed:
            mp.issue("INBOUND_PROPS_SKIPPED", "attribute_tags", value="; ".join(unnamed[:10]),
                     platform="淘宝 Taobao", count=len(unnamed))

        urls, local = parse_pictures(g("picture"))
        if urls:
            joined = join_images(urls).split("|")
            cells_["main_image"] = joined[0]
            if joined[1:]:
                cells_["gallery_images"] = "|".join(joined[1:])
        for name in local[:5]:
            mp.issue("INBOUND_IMAGE_NOT_IN_FILE", "main_image", value=name)

        skus, bad = parse_sku_props(g("skuProps"))
        for part in bad[:5]:
            mp.issue("INBOUND_FIELD_INVALID", "spec_values", value=part,
                     reason="not price:quantity:商家编码:pid:vid or pid:vid")
        if not skus and not bad:                       # no sale properties: the item is its one SKU
            skus = [{"price": g("price"), "quantity": g("num"), "outer_id": outer or num_id, "props": [],
                     "_single": True}]
            first.where["sku_code"] = col.get("outer_id", "")
        reported: set[str] = set()
        for i, s in enumerate(skus):
            row = first if i == 0 else MappedRow({}, rownum, dict(first.where))
            if i:
                mp.rows.append(row)
                if first.cells.get("weight_kg"):       # 物流重量 is the item's: every SKU weighs it
                    row.cells["weight_kg"] = first.cells["weight_kg"]
            if not s.get("_single"):
                row.where.update({"price": col.get("skuProps", ""), "stock": col.get("skuProps", "")})
            pairs, unresolved = [], []
            for pid, vid in s["props"]:
                pname, vname = names["pids"].get(pid), value_name(pid, vid)
                if pname and vname:
                    pairs.append((spec_name(pname), vname))
                else:
                    unresolved.append(f"{pid}:{vid}")
            code = s["outer_id"] or (f"{spu}-" + "-".join(v.lstrip("-") for _, v in s["props"]) if s["props"] else spu)
            if code:
                row.cells["sku_code"] = code
            if pairs and not unresolved:           # a partial spec would be another variant
                row.cells["spec_values"] = kv_join(pairs)
            for u in unresolved:
                if u not in reported:              # once per value, at its first SKU
                    reported.add(u)
                    mp.issue("INBOUND_PROPERTY_UNRESOLVED", "spec_values", i, value=u, platform="淘宝 Taobao")
            price, why = yuan(s["price"])
            if price:
                row.cells["price"] = price
            else:
                mp.issue("INBOUND_PRICE_INVALID", "price", i, value=s["price"] or "(empty)", unit="元 yuan", reason=why)
            qty = int_text(s["quantity"])
            if qty is not None:
                row.cells["stock"] = qty
            elif s["quantity"]:
                mp.issue("INBOUND_FIELD_INVALID", "stock", i, value=s["quantity"], reason="not an integer")
            if s.get("_single") and g("barcode"):
                row.cells["barcode"] = g("barcode").lstrip("'")
        yield mp


def _dec(s: str) -> Decimal | None:
    try:
        d = Decimal(s)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


# --- Pinduoduo (商品导出) ---------------------------------------------------------------------------

PDD_COLUMNS = ("商品ID", "商品名称", "商品分类", "商家编码", "SKUID", "SKU编码", "SKU属性", "颜色", "尺码", "单买价", "拼单价",
               "商品参考价", "SKU库存", "SKU状态", "商品状态", "商品详情图", "品牌", "商品属性", "规格预览图链接")
_OFF = {"下架", "已下架", "off", "0", "否"}


def is_pinduoduo_header(keys: set[str]) -> bool:
    k = {_norm(x) for x in keys}
    return _norm("商品ID") in k and bool(k & {_norm("单买价"), _norm("拼单价")}) and \
        bool(k & {_norm("SKUID"), _norm("SKU编码"), _norm("SKU库存"), _norm("SKU属性")})


def pinduoduo_columns(labels: dict[str, str]) -> dict[str, str]:
    """Header -> column letter (the carousel columns 商品轮播图N as ``carousel:N``)."""
    by = {_norm(v): L for L, v in labels.items()}
    out = {h: by[_norm(h)] for h in PDD_COLUMNS if _norm(h) in by}
    for L, v in labels.items():
        m = re.match(r"^商品轮播图\s*(\d+)$", str(v).strip())
        if m:
            out[f"carousel:{int(m.group(1))}"] = L
    return out


def _pdd_spec(text: str, colour: str, size: str) -> list[tuple[str, str]]:
    if text and re.search(r"[:：]", text):
        out = []
        for part in re.split(r"[;；]", text):
            k, _, v = part.replace("：", ":").partition(":")
            if k.strip() and v.strip():
                out.append((spec_name(k), v.strip()))
        return out
    pairs = [(n, v) for n, v in (("颜色", colour), ("尺码", size)) if v]
    if pairs:
        return pairs
    return [("规格", text)] if text else []


def map_pinduoduo_rows(col: dict[str, str], rows: Iterator[tuple[int, dict]]) -> Iterator[MappedProduct]:
    """Consecutive rows of one 商品ID are one product; off-sale SKU rows are left out."""
    where_of = {"spu_code": "商家编码", "title": "商品名称", "category": "商品分类", "brand": "品牌",
                "attribute_tags": "商品属性", "detail_images": "商品详情图", "sku_code": "SKU编码",
                "spec_values": "SKU属性", "price": "单买价", "market_price": "商品参考价", "stock": "SKU库存"}
    base_where = {f: col[c] for f, c in where_of.items() if c in col}
    if "spec_values" not in base_where and ("颜色" in col or "尺码" in col):
        base_where["spec_values"] = col.get("颜色") or col["尺码"]
    if "spu_code" not in base_where and "商品ID" in col:
        base_where["spu_code"] = col["商品ID"]
    carousel = sorted((int(k.split(":")[1]), L) for k, L in col.items() if k.startswith("carousel:"))
    if carousel:
        base_where["main_image"] = base_where["gallery_images"] = carousel[0][1]
    cur: MappedProduct | None = None
    cur_id = ""
    off_rows: list[int] = []

    used = False

    def done(mp: MappedProduct) -> MappedProduct:
        if not used:
            mp.issue("INBOUND_NO_SKU", "sku_code", source_id=mp.source_id)
        return mp

    for rownum, cells in rows:
        def g(key: str, cells=cells) -> str:
            L = col.get(key)
            v = cells.get(L) if L else None
            return "" if v is None else str(v).strip()

        gid = g("商品ID")
        if cur is None or gid != cur_id:
            if cur is not None:
                yield done(cur)
            cur_id, off_rows = gid, []
            spu = g("商家编码") or gid
            first = MappedRow({"spu_code": spu, "title": g("商品名称")}, rownum, dict(base_where))
            cur = MappedProduct("pinduoduo", gid or spu, spu, [first])
            c = first.cells
            cat = g("商品分类")
            key = re.sub(r"\s*[>/›]\s*", ">", cat)
            ours = map_category("pinduoduo", key) if cat else None
            if ours:
                c["category"] = ours
            elif cat:
                cur.issue("INBOUND_CATEGORY_UNMAPPED", "category", value=cat, platform="拼多多 Pinduoduo",
                          source_category=f"“{cat}”" if not cat.isdigit() else f"cat_id {cat}")
            if g("品牌"):
                c["brand"] = g("品牌")
            attrs = []
            for part in re.split(r"[;；\n]", g("商品属性")):
                k, sep, v = part.replace("：", ":").partition(":")
                if sep and k.strip() and v.strip():
                    attrs.append((k.strip(), v.strip()))
                elif part.strip():
                    cur.issue("INBOUND_FIELD_INVALID", "attribute_tags", value=part.strip(),
                              reason="not 属性名:属性值")
            set_properties(c, attrs)
            urls = [u for u in (cells.get(L) for _, L in carousel) if u and str(u).strip()]
            if urls:
                joined = join_images([str(u).strip() for u in urls]).split("|")
                c["main_image"] = joined[0]
                if joined[1:]:
                    c["gallery_images"] = "|".join(joined[1:])
            detail = [u.strip() for u in re.split(r"[,，\n]", g("商品详情图")) if u.strip()]
            if detail:
                c["detail_images"] = join_images(detail)
            used = False
        if g("SKU状态") in _OFF or (not col.get("SKU状态") and g("商品状态") in _OFF):
            off_rows.append(rownum)
            continue
        if not used:                    # the product's first on-sale SKU goes on its first row
            row, used = cur.rows[0], True
            row.row = rownum
        else:
            row = MappedRow({}, rownum, dict(base_where))
            cur.rows.append(row)
        idx = len(cur.rows) - 1
        sku_id = g("SKUID")
        code = g("SKU编码") or (f"{cur.source_id}-{sku_id}" if sku_id else "")
        if code:
            row.cells["sku_code"] = code
        pairs = _pdd_spec(g("SKU属性"), g("颜色"), g("尺码"))
        if pairs:
            row.cells["spec_values"] = kv_join(pairs)
        single = g("单买价")
        price, why = yuan(single)
        if price:
            row.cells["price"] = price
        elif single:
            cur.issue("INBOUND_PRICE_INVALID", "price", idx, value=single, unit="元 yuan (单买价)", reason=why)
        ref = g("商品参考价")
        if ref:
            market, why = yuan(ref)
            if market:
                row.cells["market_price"] = market
            else:
                cur.issue("INBOUND_PRICE_INVALID", "market_price", idx, value=ref, unit="元 yuan (商品参考价)", reason=why)
        stock = g("SKU库存")
        qty = int_text(stock)
        if qty is not None:
            row.cells["stock"] = qty
        elif stock:
            cur.issue("INBOUND_FIELD_INVALID", "stock", idx, value=stock, reason="not an integer")
    if cur is not None:
        yield done(cur)
