"""The product specification as data: fields, header aliases, the category tree.

Everything that reads, validates or writes a merchant sheet reads the field list from here;
the data lives in ``shangjia/data/product_spec.json`` and ``categories.json`` (one place,
versioned). Both are loaded once per process and cached.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "FieldSpec", "ProductSpec", "Category", "CategoryTree", "load_spec", "load_categories",
    "normalize_header", "to_halfwidth",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# Full-width ASCII (U+FF01..U+FF5E) -> ASCII, ideographic space -> space, plus the
# punctuation Chinese input methods produce where a separator is meant.
_HALF = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_HALF.update({0x3000: 0x20, 0x00A0: 0x20, 0x3001: ord(","), 0x3002: ord("."), 0x00D7: ord("x"),
              0xFFE5: ord("¥"), 0x2236: ord(":")})
_HALF.update(dict.fromkeys([0x200B, 0x200C, 0x200D, 0xFEFF, 0x2060]))   # zero-width: dropped
_HW_CACHE: dict[str, str] = {}
# Runs of characters the table changes. Chinese text is full of them (，is U+FF0C), but
# translating only the runs is ~5x faster than a dict lookup per character of the whole text.
_HALF_RUN = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_HALF)) + "]+")


# The ones Chinese text is full of, replaced directly (the same mapping, taken from the table).
_HALF_COMMON = [(chr(c), chr(_HALF[c])) for c in (0xFF0C, 0x3002, 0xFF1A, 0xFF1B, 0xFF08, 0xFF09, 0xFF01,
                                                   0xFF1F, 0x3000, 0x3001)]


def _half_run(m: re.Match) -> str:
    return m.group().translate(_HALF)


def to_halfwidth(s: str) -> str:
    """Full-width digits, letters and punctuation to ASCII; zero-width characters dropped.
    Short values are cached: sheets repeat the same ones (categories, 是/否, templates) endlessly."""
    if s.isascii():
        return s
    r = _HW_CACHE.get(s)
    if r is None:
        r = s
        for a, b in _HALF_COMMON:                # one C-level pass each, only when present
            if a in r:
                r = r.replace(a, b)
        if _HALF_RUN.search(r):
            r = _HALF_RUN.sub(_half_run, r)
        if len(s) <= 64:
            if len(_HW_CACHE) > 20000:
                _HW_CACHE.clear()
            _HW_CACHE[s] = r
    return r


_HEADER_NOISE = re.compile(r"[\s*＊_\-:：]+")


def normalize_header(s: Any) -> str:
    """A header cell as compared with the aliases: half-width, lower case, no spaces, no '*'."""
    if s is None:
        return ""
    t = to_halfwidth(unicodedata.normalize("NFC", str(s))).lower()
    t = t.replace("（", "(").replace("）", ")")
    return _HEADER_NOISE.sub("", t)


def _strip_parens(s: str) -> str:
    return re.sub(r"\([^)]*\)", "", s)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    zh: str
    en: str
    level: str              # "spu" | "sku"
    type: str               # code text int money decimal bool list images kv spec dims category enum
    required: Any           # True | False | "category" | "multi_sku"
    aliases: tuple[str, ...] = ()
    min_len: int | None = None
    max_len: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    item_max_len: int | None = None
    min_value: Any = None
    max_value: Any = None
    choices: tuple[str, ...] = ()
    choice_aliases: dict[str, str] = dc_field(default_factory=dict)
    banned_scan: bool = False
    check: str | None = None

    @property
    def header(self) -> str:
        """The header the template writes: Chinese, then English in brackets."""
        return f"{self.zh}\n{self.en}"



@dataclass(frozen=True)
class ProductSpec:
    version: str
    fields: tuple[FieldSpec, ...]
    list_separators: str
    image_separators: str

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        alias: dict[str, str] = {}
        for f in self.fields:
            for a in (f.name, f.zh, f.en, f.header, *f.aliases):
                k = normalize_header(a)
                if k and k not in alias:
                    alias[k] = f.name
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_alias", alias)

    def __getitem__(self, name: str) -> FieldSpec:
        return self._by_name[name]  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[FieldSpec]:
        return iter(self.fields)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name  # type: ignore[attr-defined]

    @property
    def required_fields(self) -> list[FieldSpec]:
        """The 28 fields of the specification (required always, per category, or per multi-SKU)."""
        return [f for f in self.fields if f.required]

    @property
    def spu_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.level == "spu"]

    def match_header(self, cell: Any) -> str | None:
        """The spec field a header cell names, or None. Template headers are "中文\\nEnglish"."""
        if cell is None:
            return None
        text = str(cell)
        k = normalize_header(text)
        if not k:
            return None
        hit = self._alias.get(k)  # type: ignore[attr-defined]
        if hit:
            return hit
        for part in re.split(r"[\n/|]", text):  # "商品标题\nTitle", "售价 / Price"
            hit = self._alias.get(normalize_header(part))  # type: ignore[attr-defined]
            if hit:
                return hit
        bare = _strip_parens(k)            # "售价(元)" -> "售价"
        if bare != k:
            return self._alias.get(bare)  # type: ignore[attr-defined]
        return None


@lru_cache(maxsize=1)
def load_spec() -> ProductSpec:
    raw = json.loads((DATA_DIR / "product_spec.json").read_text("utf-8"))
    fields = []
    for d in raw["fields"]:
        d = dict(d)
        d["aliases"] = tuple(d.get("aliases", ()))
        d["choices"] = tuple(d.get("choices", ()))
        d.pop("min_exclusive", None)
        fields.append(FieldSpec(**d))
    return ProductSpec(raw["version"], tuple(fields), raw["list_separators"], raw["image_separators"])


@dataclass(frozen=True)
class Category:
    id: str
    path: str                      # "服饰鞋包/女装/连衣裙"
    group: str                     # top-level group key, e.g. "apparel_shoes_bags"
    priority: bool
    required_attributes: tuple[str, ...]
    price_cap_fen: int | None
    required_fields: tuple[str, ...] = ()
    fragile_default: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class CategoryTree:
    """Leaves by id and by path; lookups accept an id, a full path (any of / > ›  separators),
    or a leaf name when that name is unique in the tree."""

    def __init__(self, doc: dict) -> None:
        self.version = doc.get("version", "")
        self.tree = doc["tree"]
        self._resolved: dict[str, Category | None] = {}      # the tree is immutable: resolutions are kept
        self.leaves: dict[str, Category] = {}
        self.by_path: dict[str, Category] = {}
        self.inner_paths: set[str] = set()
        names: dict[str, list[Category]] = {}
        for top in self.tree:
            self._walk(top, [], top.get("group", top["id"]), bool(top.get("priority")), names)
        self.by_unique_name = {n: cs[0] for n, cs in names.items() if len(cs) == 1}

    def _walk(self, node: dict, parents: list[str], group: str, prio: bool, names) -> None:
        path = parents + [node["name"]]
        kids = node.get("children")
        if kids:
            self.inner_paths.add("/".join(path))
            for k in kids:
                self._walk(k, path, group, prio, names)
            return
        cap = node.get("price_cap_fen")
        c = Category(node["id"], "/".join(path), group, prio, tuple(node.get("required_attributes", ())),
                     int(cap) if cap is not None else None, tuple(node.get("required_fields", ())),
                     bool(node.get("fragile_default", False)))
        self.leaves[c.id] = c
        self.by_path[c.path] = c
        names.setdefault(c.name, []).append(c)

    @staticmethod
    def _norm_path(s: str) -> str:
        s = to_halfwidth(s).strip()
        s = re.sub(r"\s*(?:/|>|›|»|\\)\s*", "/", s)
        return s.strip("/")

    def resolve(self, value: str) -> Category | None:
        found = self._resolved.get(value, False)
        if found is False:
            v = self._norm_path(str(value))
            found = (self.leaves.get(v) or self.by_path.get(v) or self.by_unique_name.get(v)) if v else None
            if len(self._resolved) < 10_000:         # a sheet names a few hundred categories at most
                self._resolved[value] = found
        return found

    def is_inner(self, value: str) -> bool:
        return self._norm_path(str(value)) in self.inner_paths

    def leaf_paths(self) -> list[str]:
        return list(self.by_path)

    def __len__(self) -> int:
        return len(self.leaves)


@lru_cache(maxsize=1)
def load_categories() -> CategoryTree:
    return CategoryTree(json.loads((DATA_DIR / "categories.json").read_text("utf-8")))
