"""Other platforms' product export sheets, mapped row by row onto our raw product.

``sheets.detect_foreign_layout`` names the platform from the header row; for the layouts here
``export_info`` describes the sheet and ``ExportReader`` streams its products, each finding at
the row and column of THEIR file (the batch report writes it back there).
- Shopify product CSV (Handle, Title, Body (HTML), Vendor, Type, Tags, Option1 Name/Value...,
  Variant SKU, Variant Grams, Variant Inventory Qty, Variant Price, Variant Compare At Price,
  Variant Barcode, Image Src, Image Position): one row per variant, blank product columns on
  variant rows, extra rows holding only an image.
- WooCommerce product CSV (ID, Type, SKU, Name, Description, Regular price, Sale price,
  Categories, Tags, Images, Parent, Stock, Weight (kg|lbs), Length/Width/Height (cm|in),
  Attribute N name / value(s)): variable products with their variation rows (Parent
  ``id:44`` or the parent's SKU).
Prices carry no currency in either: read as CNY yuan, with a warning saying so.
- Taobao's 淘宝助理 / 千牛 出售中的宝贝 export and Pinduoduo's 商品导出 sheet: mapped in
  ``exports_cn`` (their header rows, encoded cells and the same tables as their API payloads).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Iterator

from shangjia.errors import FindingError, finding
from shangjia.inbound.defaults import apply_import_defaults
from shangjia.inbound.model import (MappedProduct, MappedRow, html_images, html_text, int_text, join_images,
                                    join_list, kv_join, map_category, to_raw, yuan)
from shangjia.sheets import SheetInfo, SheetReader, duplicate_sku_finding

LAYOUTS = {"Shopify": "shopify", "WooCommerce": "woocommerce", "Taobao": "taobao", "Pinduoduo": "pinduoduo"}


def export_info(layout: str, buf: list, i: int, sheet_name: str, extra: dict) -> SheetInfo | None:
    name = LAYOUTS.get(layout)
    if name is None:
        return None
    rownum, cells = buf[i]
    labels = {L: str(v).strip() for L, v in cells.items() if v is not None and str(v).strip()}
    start = rownum + 1
    if name == "taobao" and i + 1 < len(buf) and buf[i + 1][0] == rownum + 1:
        from shangjia.inbound.exports_cn import is_taobao_header
        below = {L: str(v).strip() for L, v in buf[i + 1][1].items() if v is not None and str(v).strip()}
        if is_taobao_header(set(below.values())):     # 淘宝助理: English field names, then Chinese headers
            labels = {**labels, **below}              # the merchant's words, for the report
            start = rownum + 2
    return SheetInfo(layout=f"export:{name}", sheet_name=sheet_name, header_row=start - 1, columns={},
                     header_labels=labels, data_start_row=start, **extra)


class _Rows:
    """One source row by header label (case-insensitive): value and column letter."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.by_label = {v.lower(): L for L, v in labels.items()}

    def letter(self, label: str) -> str | None:
        return self.by_label.get(label.lower())

    def get(self, cells: dict, label: str) -> str:
        L = self.by_label.get(label.lower())
        v = cells.get(L) if L else None
        return "" if v is None else str(v).strip()


class ExportReader(SheetReader):
    def __init__(self, base: SheetReader) -> None:
        super().__init__(base.info, base._rows, base.findings, base.limits, base.filename, base._closer)
        self.xlsx = base.xlsx
        self.platform = base.info.layout.split(":", 1)[1]
        self.cols = _Rows(base.info.header_labels)
        self.import_defaults: dict = {}     # the merchant's (inbound.defaults), set by ingest

    def platform_shown(self) -> str:
        return {"taobao": "淘宝 Taobao", "pinduoduo": "拼多多 Pinduoduo", "shopify": "Shopify",
                "woocommerce": "WooCommerce"}.get(self.platform, self.platform)

    def _data_rows(self) -> Iterator[tuple[int, dict]]:
        n = 0
        for rownum, cells in self._rows():
            if rownum < self.info.data_start_row or not any(str(v).strip() for v in cells.values() if v is not None):
                continue
            n += 1
            if n > self.limits.max_rows:
                raise FindingError(finding("SHEET_TOO_MANY_ROWS", file=self.filename, limit=self.limits.max_rows))
            yield rownum, cells

    def _mapped(self) -> Iterator[MappedProduct]:
        if self.platform in ("taobao", "pinduoduo"):
            from shangjia.inbound import exports_cn as cn
            if self.platform == "taobao":       # its labels: the Chinese headers, else the English names
                return cn.map_taobao_rows(cn.taobao_columns([self.info.header_labels]), self._data_rows())
            return cn.map_pinduoduo_rows(cn.pinduoduo_columns(self.info.header_labels), self._data_rows())
        return (_shopify if self.platform == "shopify" else _woocommerce)(self.cols, self._data_rows())

    def products(self, start_after_row: int = 0, sku_log: list | None = None) -> Iterator:
        seen_sku: dict[str, int] = {}
        for mp in self._mapped():
            apply_import_defaults(mp, self.import_defaults)     # only the cells the export left empty
            raw = to_raw(mp)
            if self.platform in ("shopify", "woocommerce"):   # Taobao and Pinduoduo sell in CNY
                raw.findings.append(finding("INBOUND_CURRENCY_ASSUMED", row=raw.first_row,
                                            platform="Shopify" if self.platform == "shopify" else "WooCommerce"))
            for r in raw.rows:
                sku = r.cells.get("sku_code")
                if sku:
                    if sku_log is not None:
                        sku_log.append((r.row, sku, len(raw.findings)))
                    if sku in seen_sku:
                        raw.findings.append(duplicate_sku_finding(r.row, r.columns.get("sku_code"), sku, seen_sku[sku]))
                    else:
                        seen_sku[sku] = r.row
            self.rows_read = raw.last_row
            if raw.last_row > start_after_row:
                yield raw


def _cat(mp: MappedProduct, platform: str, shown: str, text: str, field_where: str | None, row: MappedRow,
         own: str) -> None:
    """Our category: the sheet's own category column if it has one, else the platform's text mapped."""
    if own:
        row.cells["category"] = own
        return
    ours = map_category(platform, text) if text else None
    if ours:
        row.cells["category"] = ours
    else:
        if field_where:
            row.where["category"] = field_where
        mp.issue("INBOUND_CATEGORY_UNMAPPED", "category", value=text or "(empty)", platform=shown,
                 source_category=f"“{text}”" if text else "(none given)")


def _price(mp: MappedProduct, row: MappedRow, idx: int, field_name: str, text: str) -> None:
    if not text:
        return
    v, why = yuan(text)
    if v:
        row.cells[field_name] = v
    else:
        mp.issue("INBOUND_PRICE_INVALID", field_name, idx, value=text, unit="元 yuan", reason=why)


# --- Shopify ---------------------------------------------------------------------------------------

def _shopify(c: _Rows, rows: Iterator[tuple[int, dict]]) -> Iterator[MappedProduct]:
    cur: MappedProduct | None = None
    images: list[tuple[int, str]] = []
    option_names: list[str] = []
    where = {f: c.letter(lbl) for f, lbl in (
        ("spu_code", "Handle"), ("title", "Title"), ("description", "Body (HTML)"), ("brand", "Vendor"),
        ("keywords", "Tags"), ("sku_code", "Variant SKU"), ("price", "Variant Price"),
        ("market_price", "Variant Compare At Price"), ("stock", "Variant Inventory Qty"),
        ("weight_kg", "Variant Grams"), ("barcode", "Variant Barcode"), ("main_image", "Image Src"),
        ("gallery_images", "Image Src"), ("spec_values", "Option1 Value"), ("category", "Category"))
        if c.letter(lbl)}

    def close() -> MappedProduct | None:
        if cur is None:
            return None
        urls = [u for _, u in sorted(images, key=lambda t: t[0])]
        if urls:
            cur.rows[0].cells["main_image"] = urls[0]
            if urls[1:]:
                cur.rows[0].cells["gallery_images"] = join_images(urls[1:])
        return cur

    for rownum, cells in rows:
        g = lambda lbl: c.get(cells, lbl)   # noqa: E731
        handle = g("Handle")
        if cur is None or (handle and handle != cur.spu_code):
            done = close()
            if done:
                yield done
            images, option_names = [], [g(f"Option{k} Name") for k in (1, 2, 3)]
            row = MappedRow({"spu_code": handle}, rownum, dict(where))
            cur = MappedProduct("shopify", handle, handle, [row])
            cells_ = row.cells
            cells_["title"] = g("Title")
            body = g("Body (HTML)")
            if body:
                cells_["description"] = html_text(body)
                if html_images(body):
                    cells_["detail_images"] = join_images(html_images(body))
            if g("Vendor"):
                cells_["brand"] = g("Vendor")
            if g("Tags"):
                cells_["keywords"] = join_list([t for t in g("Tags").split(",")])
            typ = g("Type") or g("Product Category") or g("Google Shopping / Google Product Category")
            _cat(cur, "shopify", "Shopify", typ, c.letter("Type") or c.letter("Product Category"),
                 row, g("Category") or g("类目"))
            sku_row = row
        else:
            sku_row = None
        if g("Image Src"):
            pos = int_text(g("Image Position"))
            images.append((int(pos) if pos else 10_000 + len(images), g("Image Src")))
        is_variant = any(g(lbl) for lbl in ("Variant SKU", "Variant Price", "Option1 Value"))
        if not is_variant:
            continue
        if sku_row is None:
            sku_row = MappedRow({}, rownum, dict(where))
            cur.rows.append(sku_row)
        idx = len(cur.rows) - 1
        if g("Variant SKU"):
            sku_row.cells["sku_code"] = g("Variant SKU")
        pairs = [(option_names[k - 1] or f"Option{k}", g(f"Option{k} Value")) for k in (1, 2, 3) if g(f"Option{k} Value")]
        if pairs and not (len(pairs) == 1 and pairs[0] == ("Title", "Default Title")):
            sku_row.cells["spec_values"] = kv_join(pairs)
        _price(cur, sku_row, idx, "price", g("Variant Price"))
        _price(cur, sku_row, idx, "market_price", g("Variant Compare At Price"))
        qty = int_text(g("Variant Inventory Qty"))
        if qty is not None:
            sku_row.cells["stock"] = qty
        grams = int_text(g("Variant Grams"))
        if grams and int(grams) > 0:
            sku_row.cells["weight_kg"] = str(Decimal(grams) / 1000)
        if g("Variant Barcode"):
            sku_row.cells["barcode"] = g("Variant Barcode").lstrip("'")
    done = close()
    if done:
        yield done


# --- WooCommerce -----------------------------------------------------------------------------------

_LBS = Decimal("0.45359237")
_IN = Decimal("2.54")


def _num(s: str) -> Decimal | None:
    try:
        d = Decimal(s)
        return d if d.is_finite() else None
    except Exception:   # noqa: BLE001 — any unreadable number is "none"
        return None


def _unit(c: _Rows, base: str) -> tuple[str | None, str]:
    for label in c.by_label:
        m = re.match(rf"^{base} \((\w+)\)$", label)
        if m:
            return label, m.group(1)
    return None, ""


def _woocommerce(c: _Rows, rows: Iterator[tuple[int, dict]]) -> Iterator[MappedProduct]:
    parents: list[tuple[int, dict]] = []
    variations: dict[str, list[tuple[int, dict]]] = {}
    orphans: list[tuple[int, dict]] = []
    for rownum, cells in rows:
        typ = c.get(cells, "Type").lower()
        if "variation" in typ:
            variations.setdefault(c.get(cells, "Parent"), []).append((rownum, cells))
        else:
            parents.append((rownum, cells))
    wl, wunit = _unit(c, "weight")
    dims = [_unit(c, d) for d in ("length", "width", "height")]
    claimed: set[str] = set()
    attr_n = sorted({int(m.group(1)) for lbl in c.by_label for m in [re.match(r"^attribute (\d+) name$", lbl)] if m})
    for rownum, cells in parents:
        g = lambda lbl, cells=cells: c.get(cells, lbl)   # noqa: E731
        wid, sku = g("ID"), g("SKU")
        keys = [k for k in (f"id:{wid}" if wid else "", sku) if k]
        kids = [v for k in keys for v in variations.get(k, [])]
        claimed.update(keys)
        spu = sku or (f"woo-{wid}" if wid else f"row{rownum}")
        where = {f: c.letter(lbl) for f, lbl in (
            ("spu_code", "SKU"), ("title", "Name"), ("description", "Description"), ("keywords", "Tags"),
            ("main_image", "Images"), ("gallery_images", "Images"), ("price", "Sale price"),
            ("market_price", "Regular price"), ("stock", "Stock"), ("sku_code", "SKU"),
            ("selling_points", "Short description")) if c.letter(lbl)}
        if wl:
            where["weight_kg"] = c.letter(wl)
        row = MappedRow({"spu_code": spu, "title": g("Name")}, rownum, dict(where))
        mp = MappedProduct("woocommerce", wid or spu, spu, [row])
        if g("Description"):
            row.cells["description"] = html_text(g("Description"))
            if html_images(g("Description")):
                row.cells["detail_images"] = join_images(html_images(g("Description")))
        if g("Short description"):
            row.cells["selling_points"] = join_list([html_text(g("Short description"))[:30]])
        if g("Tags"):
            row.cells["keywords"] = join_list(g("Tags").split(","))
        cat = g("Categories").split(",")[0].strip()
        _cat(mp, "woocommerce", "WooCommerce", cat, c.letter("Categories"), row, g("Category") or g("类目"))
        imgs = [u.strip() for u in g("Images").split(",") if u.strip()]
        if imgs:
            row.cells["main_image"] = imgs[0]
            if imgs[1:]:
                row.cells["gallery_images"] = join_images(imgs[1:])
        if "grouped" in g("Type").lower():
            mp.issue("INBOUND_FIELD_INVALID", "sku_code", value="Type: grouped",
                     reason="a grouped product only lists other products: list those instead")
        sku_rows = kids or [(rownum, cells)]
        attrs = []
        for k, (vrow, vcells) in enumerate(sku_rows):
            vg = lambda lbl, vc=vcells: c.get(vc, lbl)   # noqa: E731
            r = row if k == 0 else MappedRow({}, vrow, dict(where))
            if k:
                mp.rows.append(r)
            if kids and k == 0:
                r.row = vrow
            if vg("SKU") and (kids or not r.cells.get("sku_code")):
                r.cells["sku_code"] = vg("SKU")
            sale, regular = vg("Sale price") or g("Sale price"), vg("Regular price") or g("Regular price")
            _price(mp, r, k, "price", sale or regular)
            if sale and regular:
                _price(mp, r, k, "market_price", regular)
            qty = int_text(vg("Stock"))
            if qty is not None:
                r.cells["stock"] = qty
            w = _num(vg(wl) or g(wl)) if wl else None
            if w is not None and w > 0:
                r.cells["weight_kg"] = str((w * _LBS).quantize(Decimal("0.001")) if wunit == "lbs" else w)
            d = [_num(vg(lbl) or g(lbl)) if lbl else None for lbl, _ in dims]
            if all(x is not None and x > 0 for x in d):
                f = _IN if dims[0][1] == "in" else Decimal(1)
                r.cells["package_size_cm"] = "x".join(str((x * f).quantize(Decimal("0.1"))) for x in d)
            pairs = [(vg(f"Attribute {n} name") or g(f"Attribute {n} name"), vg(f"Attribute {n} value(s)"))
                     for n in attr_n if vg(f"Attribute {n} value(s)")]
            if kids:
                if pairs:
                    r.cells["spec_values"] = kv_join(pairs)
            else:
                attrs = pairs
        if attrs:
            row.cells["attribute_tags"] = kv_join(attrs)
        yield mp
    for parent, kids in variations.items():
        if parent not in claimed:
            orphans.extend(kids)
    for rownum, cells in orphans:
        sku = c.get(cells, "SKU") or f"row{rownum}"
        row = MappedRow({"spu_code": sku, "sku_code": sku}, rownum, {"spu_code": c.letter("Parent") or ""})
        mp = MappedProduct("woocommerce", c.get(cells, "ID") or sku, sku, [row])
        mp.issue("INBOUND_ROW_ORPHAN", "spu_code", value=c.get(cells, "Parent"), parent=c.get(cells, "Parent"))
        yield mp
