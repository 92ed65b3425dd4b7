"""What every platform mapping produces: our raw product (the one a sheet row becomes).

A ``MappedProduct`` is one product in our fields, as strings the way a merchant types them in
our sheet (prices in yuan with at most 2 decimals, lists joined with ``|``, ``key:value;...``
attribute tags), with the problems the mapping found (``Issue``: a declared ``INBOUND_*`` code,
the field, which of its rows). ``to_raw`` turns it into the ``RawProduct`` the validate stage
takes, each issue a located finding. Nothing is guessed: a value the mapping cannot read is an
issue and its cell stays empty.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
LIST_SEP = "|"
# Our kv and spec cells split on these (validation/values.py): they may not occur in a name or value.
_KV_BREAK = re.compile(r"[;；\n|]+")
_KEY_BREAK = re.compile(r"[:：=]+")


@dataclass
class Issue:
    code: str
    field: str | None
    row_index: int = 0                 # which of the product's rows (0: the product's first)
    value: Any = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class MappedRow:
    cells: dict[str, str]
    row: int = 0                       # the row in the source file (a feed: assigned by the reader)
    where: dict[str, str] = field(default_factory=dict)   # field -> the source's column letter


@dataclass
class MappedProduct:
    platform: str
    source_id: str                     # the platform's id, always a string
    spu_code: str
    rows: list[MappedRow]
    issues: list[Issue] = field(default_factory=list)

    def issue(self, code: str, field_name: str | None, row_index: int = 0, value: Any = None, **params) -> None:
        self.issues.append(Issue(code, field_name, row_index, value, params))


def to_raw(mp: MappedProduct):
    """The ``RawProduct`` (sheets) for this product, issues as located findings."""
    from shangjia.errors import finding
    from shangjia.sheets import RawProduct, RawRow

    rows = [RawRow(r.row, {k: v for k, v in r.cells.items() if v != ""}, dict(r.where)) for r in mp.rows]
    findings = []
    for i in mp.issues:
        r = mp.rows[min(i.row_index, len(mp.rows) - 1)] if mp.rows else MappedRow({})
        params = dict(i.params)
        column = params.pop("_column", None) or r.where.get(i.field or "") or None   # _column: a cell of its own
        findings.append(finding(i.code, row=r.row or None, column=column, field=i.field, value=i.value, **params))
    return RawProduct(mp.spu_code, rows, findings)


# --- values ---------------------------------------------------------------------------------------

def sid(v: Any) -> str:
    """A platform id as a string (ids are 64-bit: never through float)."""
    if v is None or isinstance(v, bool):
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v).strip()


_YUAN = re.compile(r"^\d{1,9}(?:\.\d{1,2})?$")


def yuan(v: Any) -> tuple[str | None, str | None]:
    """A yuan amount as a platform sends it ("99.00", 99, 99.5) -> ("99.00", None) or (None, reason)."""
    if v is None or v == "":
        return None, "empty"
    if isinstance(v, bool):
        return None, "not a number"
    s = str(v).strip() if not isinstance(v, float) else repr(v)
    if not _YUAN.match(s):
        return None, "not a yuan amount with at most 2 decimals"
    return f"{Decimal(s):.2f}", None


def fen_to_yuan(v: Any) -> tuple[str | None, str | None]:
    """Fen (an int or a string of digits) -> "12.34"."""
    if v is None or v == "" or isinstance(v, bool):
        return None, "empty"
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        return None, "not a number of fen"
    if not d.is_finite() or d != d.to_integral_value() or d < 0:
        return None, "fen must be a non-negative integer"
    return f"{d / 100:.2f}", None


def int_text(v: Any) -> str | None:
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        return None
    return str(int(d)) if d.is_finite() and d == d.to_integral_value() else None


def kv_part(s: str) -> str:
    return _KV_BREAK.sub("/", str(s)).strip()


def kv_key(s: str) -> str:
    return _KEY_BREAK.sub(" ", kv_part(s)).strip()


def kv_join(pairs: list[tuple[str, str]]) -> str:
    return ";".join(f"{kv_key(k)}:{kv_part(v)}" for k, v in pairs if kv_key(k) and kv_part(v))


_TAG = re.compile(r"<[^>]+>")
_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)
_WS = re.compile(r"\s+")


def html_text(s: str) -> str:
    s = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", s or "")
    return _WS.sub(" ", html.unescape(_TAG.sub(" ", s))).strip()


def html_images(s: str) -> list[str]:
    return [html.unescape(u) for u in _IMG.findall(s or "") if u.lower().startswith(("https://", "http://", "//"))]


def https(url: str) -> str:
    url = (url or "").strip()
    return "https:" + url if url.startswith("//") else url


def join_list(items: list[str]) -> str:
    return LIST_SEP.join(x for x in (kv_part(i) for i in items) if x)


def join_images(urls: list[str]) -> str:
    seen: list[str] = []
    for u in (https(x) for x in urls):
        if u and u not in seen:
            seen.append(u)
    return LIST_SEP.join(seen)


# --- tables ---------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def table(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text("utf-8"))


def map_category(platform: str, source: str) -> str | None:
    """Our leaf id for the platform's category (an id, or a path/type text), or None: never a guess."""
    cats = table("categories")[platform]["map"]
    key = str(source).strip()
    return cats.get(key) or cats.get(key.lower())


def set_category(mp: MappedProduct, cells: dict[str, str], platform_shown: str, source: str, label: str) -> None:
    """Our category for the platform's ``source`` id in ``cells``, or a located error naming it."""
    ours = map_category(mp.platform, source) if source else None
    if ours:
        cells["category"] = ours
    elif source:
        mp.issue("INBOUND_CATEGORY_UNMAPPED", "category", value=source, platform=platform_shown,
                 source_category=f"{label} {source}")


def set_properties(cells: dict[str, str], pairs: list[tuple[str, str]]) -> None:
    """The platform's properties: all of them as attribute tags, and 品牌/型号/材质/产地 also as
    brand, model, material, origin (the first of each)."""
    for name, value in pairs:
        for ours_f, names in table("categories")["spu_props"].items():
            if name in names and not cells.get(ours_f):
                cells[ours_f] = value
                break
    if pairs:
        cells["attribute_tags"] = kv_join(pairs)


def spec_name(name: str) -> str:
    """A platform's sales-property name in ours (淘宝 颜色分类 -> 颜色), else as it is."""
    return table("categories")["property_names"].get(name.strip(), name.strip())


def apply_overrides(mp: MappedProduct, product_level: dict[str, Any] | None, defaults: dict[str, Any] | None,
                    sku_levels: list[dict[str, Any] | None] | None = None) -> None:
    """Our own fields given beside the platform's data: ``defaults`` (the call's) fill what the
    mapping left empty; ``product_level``/``sku_levels`` (the item's ``shangjia`` object) win."""
    from shangjia.spec import load_spec

    spec = load_spec()
    names = {f.name: f.level for f in spec.fields}

    def put(row: MappedRow, k: str, v: Any, force: bool) -> None:
        if k not in names or v is None or v == "" or k == "spu_code":
            return
        if force or not row.cells.get(k):
            row.cells[k] = v if isinstance(v, str) else (
                "true" if v is True else "false" if v is False else str(v))

    for src, force in ((defaults, False), (product_level, True)):
        for k, v in (src or {}).items():
            if names.get(k) == "spu":
                put(mp.rows[0], k, v, force)
            elif names.get(k) == "sku":
                for r in mp.rows:
                    put(r, k, v, force)
    if (product_level or {}).get("category"):   # the sender named our category: nothing to map
        mp.issues = [i for i in mp.issues if i.code != "INBOUND_CATEGORY_UNMAPPED"]
    for r, lvl in zip(mp.rows, sku_levels or []):
        for k, v in (lvl or {}).items():
            if names.get(k) == "sku":
                put(r, k, v, True)
