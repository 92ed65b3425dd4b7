"""An ERP product feed (JSON) read like a sheet: the same ``SheetReader`` face ingest streams.

A feed is ``{"merchant_id", "platform": "taobao"|"pinduoduo", "items": [...], "defaults": {...}}``
— what ``POST /erp/v1/products`` takes and what a big feed uploaded to the drop bucket holds.
Each item is mapped (``taobao.map_item`` / ``pinduoduo.map_goods``) to our raw product; the
reader lays the mapped products out as rows of a sheet whose header is our field names (row 1),
one row per SKU from row 2, so every finding is located at a row and column of that layout
(which the batch's report writes back) and carries the platform id in its product.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from shangjia.errors import FindingError, finding
from shangjia.inbound.defaults import apply_import_defaults
from shangjia.inbound.model import to_raw
from shangjia.sheets import Limits, SheetInfo, SheetReader, duplicate_sku_finding, split_product_finding

PLATFORMS = ("taobao", "pinduoduo")
MAX_FEED_ITEMS = 20_000


@dataclass
class Feed:
    merchant_id: str
    platform: str
    items: list[Any]
    defaults: dict[str, Any]


def shape_error(reason: str) -> FindingError:
    return FindingError(finding("INBOUND_UNKNOWN_SHAPE", reason=reason))


def parse_feed(doc: Any, *, max_items: int = MAX_FEED_ITEMS) -> Feed:
    """The feed in ``doc`` (parsed JSON); ``FindingError`` (INBOUND_UNKNOWN_SHAPE, ...) if it is not one."""
    from shangjia.inbound import pinduoduo, taobao

    if not isinstance(doc, dict):
        raise shape_error(f"the body is a JSON {type(doc).__name__}, not an object")
    merchant = doc.get("merchant_id")
    if not isinstance(merchant, str) or not merchant.strip() or "/" in merchant or "#" in merchant:
        raise shape_error("merchant_id (a string) is missing")
    platform = doc.get("platform")
    if platform not in PLATFORMS:
        raise shape_error(f"platform must be one of {', '.join(PLATFORMS)} (got {str(platform)[:40]!r})")
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        raise shape_error("items must be a non-empty list")
    if len(items) > max_items:
        raise FindingError(finding("INBOUND_TOO_MANY_ITEMS", count=len(items), what="products", limit=max_items))
    looks = taobao.looks_like if platform == "taobao" else pinduoduo.looks_like
    for i, it in enumerate(items):
        if not looks(it):
            need = "num_iid and cid" if platform == "taobao" else "goods_id or cat_id, and sku_list"
            raise shape_error(f"items[{i}] is not {platform} item data (needs {need})")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise shape_error("defaults must be an object of our field names")
    return Feed(merchant.strip(), platform, items, defaults)


def map_feed(feed: Feed):
    """Every item as a ``MappedProduct``, in order."""
    from shangjia.inbound import pinduoduo, taobao

    fn = taobao.map_item if feed.platform == "taobao" else pinduoduo.map_goods
    return [fn(it, defaults=feed.defaults) for it in feed.items]


def feed_reader(data: bytes, filename: str, limits=None):
    """A ``SheetReader`` over a JSON feed file; ``FindingError`` when it is not one."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise FindingError(finding("INBOUND_BODY_NOT_UTF8", file=filename, offset=e.start)) from None
    except json.JSONDecodeError as e:
        raise FindingError(finding("INBOUND_BODY_NOT_JSON", file=filename, reason=f"line {e.lineno} column {e.colno}: {e.msg}")) from None
    try:
        feed = parse_feed(doc)
    except FindingError as e:
        from dataclasses import replace
        raise FindingError(replace(e.finding, file=filename)) from None
    return FeedReader(feed, map_feed(feed), filename, limits)


def _field_letters():
    from shangjia.sheets.xlsx import col_letters
    from shangjia.spec import load_spec

    return {f.name: col_letters(i) for i, f in enumerate(load_spec().fields)}


class FeedReader(SheetReader):
    def __init__(self, feed: Feed, mapped: list, filename: str, limits=None) -> None:
        letters = _field_letters()
        row = 2
        for mp in mapped:
            for r in mp.rows:
                r.row = row
                r.where = {k: letters[k] for k in letters}
                row += 1
        self.feed, self.mapped = feed, mapped
        self.import_defaults: dict = {}     # the merchant's (inbound.defaults), set by ingest
        header = {L: name for name, L in letters.items()}
        rows = [(1, header)] + [(r.row, {letters[k]: v for k, v in r.cells.items() if k in letters and v != ""})
                                for mp in mapped for r in mp.rows]
        info = SheetInfo(layout=f"erp:{feed.platform}", sheet_name=filename, header_row=1, columns=letters,
                         format="json", total_rows=row - 1, header_labels=header, data_start_row=2)
        super().__init__(info, lambda: iter(rows), [], limits or Limits(), filename)

    def platform_shown(self) -> str:
        return "ERP " + {"taobao": "淘宝 Taobao", "pinduoduo": "拼多多 Pinduoduo"}.get(self.feed.platform, self.feed.platform)

    def products(self, start_after_row: int = 0, sku_log: list | None = None) -> Iterator:
        seen_spu: dict[str, int] = {}
        seen_sku: dict[str, int] = {}
        col = self.info.columns
        limit = self.limits.max_rows
        for n, mp in enumerate(self.mapped, 1):
            if n > limit:
                raise FindingError(finding("SHEET_TOO_MANY_ROWS", file=self.filename, limit=limit))
            apply_import_defaults(mp, self.import_defaults)     # after the item's and the feed's own values
            raw = to_raw(mp)
            if raw.spu_code in seen_spu:
                raw.findings.append(split_product_finding(raw.first_row, col["spu_code"], raw.spu_code,
                                                          seen_spu[raw.spu_code]))
            else:
                seen_spu[raw.spu_code] = raw.first_row
            for r in raw.rows:
                sku = r.cells.get("sku_code")
                if not sku:
                    continue
                if sku_log is not None:
                    sku_log.append((r.row, sku, len(raw.findings)))
                if sku in seen_sku:
                    raw.findings.append(duplicate_sku_finding(r.row, col["sku_code"], sku, seen_sku[sku]))
                else:
                    seen_sku[sku] = r.row
            self.rows_read = raw.last_row
            if raw.last_row > start_after_row:
                yield raw

