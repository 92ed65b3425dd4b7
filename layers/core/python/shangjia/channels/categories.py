"""Our category tree -> each channel's category, as data (``shangjia/data/channel_categories.json``).

For every leaf of the spec's tree (``shangjia.spec.load_categories``) the data gives:

- WeChat (微信小店): ``cats_v2`` (three ``cat_id`` strings, the new category tree) and the
  product parameters (``attrs``) the category needs, each with where its value comes from;
- Douyin (抖店): ``category_leaf_id`` (a string) and the properties ``product_format_new`` needs
  (``property_id`` -> value id or custom text), each with where its value comes from.

A leaf the data does not map for a channel (absent, or ``{"unmapped": {...}}``) is refused for
that channel with ``CHANNEL_CATEGORY_UNMAPPED``: nothing is guessed from a neighbour. The ids
in the data are illustrative (see its ``notes``); the structure is the platforms'.

Values come from the stored product (``item["product"]`` as validate writes it). A source
``attribute_tags.<key>`` is also satisfied by a spec of that name: with one value across the
SKUs it is sent as the property; with several it is a sale spec (WeChat ``sku_attrs``, Douyin
``specs``) and not sent as a property at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from shangjia.errors import Finding, FindingError, finding
from shangjia.spec import DATA_DIR, load_categories

__all__ = [
    "AttrRule", "PropertyRule", "WechatCategory", "DouyinCategory", "ChannelCategories", "Problem",
    "load_channel_categories", "leaf_id_of", "mapping", "require_mapping", "unmapped_finding",
    "source_value", "wechat_attrs", "douyin_format", "CHANNEL_NAMES",
]

Platform = Literal["wechat", "douyin"]
PLATFORMS: tuple[Platform, ...] = ("wechat", "douyin")
# The names a merchant sees in every channel finding.
CHANNEL_NAMES = {"own_shop": ("自营商城", "own shop"), "wechat": ("微信小店", "WeChat Channels shop"),
                 "douyin": ("抖店", "Douyin shop")}
# Where a value may come from on our product (``attribute_tags.<key>`` besides these).
PRODUCT_SOURCES = ("brand", "material", "origin", "model")
# Douyin's product_format_new value is a JSON number; ids above 2**53 would not survive a double.
_MAX_SAFE = 2**53 - 1


@dataclass(frozen=True, slots=True)
class AttrRule:
    """A WeChat product parameter (``attrs[]``) the category needs."""

    attr_key: str
    source: str
    required: bool


@dataclass(frozen=True, slots=True)
class PropertyRule:
    """A Douyin category property (a key of ``product_format_new``)."""

    property_id: str
    name: str
    source: str
    required: bool
    diy: bool                              # any text is accepted as a custom value (diy_type 1)
    options: tuple[tuple[str, int], ...] = ()   # our value -> the platform's value id

    def option(self, text: str) -> int | None:
        for name, vid in self.options:
            if name == text:
                return vid
        return None


@dataclass(frozen=True, slots=True)
class WechatCategory:
    leaf_id: str
    path: str
    cats_v2: tuple[str, str, str]
    attrs: tuple[AttrRule, ...]


@dataclass(frozen=True, slots=True)
class DouyinCategory:
    leaf_id: str
    path: str
    category_leaf_id: str
    properties: tuple[PropertyRule, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """A category attribute a channel needs that the product cannot give (readiness reports it)."""

    kind: Literal["missing", "value"]
    name: str                     # the attribute as the channel names it
    source: str                   # where on our product it comes from
    value: str | None = None
    choices: tuple[str, ...] = ()


class ChannelCategories:
    """The mapping data, checked when loaded: every id a digit string, ``cats_v2`` three ids,
    every source one we can read, every leaf one of the tree's."""

    def __init__(self, doc: dict[str, Any], leaves: set[str] | None = None) -> None:
        self.version = str(doc.get("version", ""))
        self.tree_version = str(doc.get("category_tree_version", ""))
        defaults = doc.get("defaults") or {}
        w_default = tuple(_attr(a) for a in (defaults.get("wechat") or {}).get("attrs", ()))
        d_default = tuple(_prop(p) for p in (defaults.get("douyin") or {}).get("properties", ()))
        self._wechat: dict[str, WechatCategory] = {}
        self._douyin: dict[str, DouyinCategory] = {}
        self._unmapped: dict[tuple[str, str], tuple[str, str]] = {}
        for leaf_id, e in (doc.get("leaves") or {}).items():
            if leaves is not None and leaf_id not in leaves:
                raise ValueError(f"channel_categories: {leaf_id} is not a leaf of the category tree")
            path = str(e.get("path", ""))
            for ch in PLATFORMS:
                m = e.get(ch)
                if m is None:
                    continue
                if "unmapped" in m:
                    why = m["unmapped"] or {}
                    self._unmapped[(ch, leaf_id)] = (str(why.get("zh", "")), str(why.get("en", "")))
                elif ch == "wechat":
                    cats = tuple(_id(c, f"{leaf_id} wechat cats_v2") for c in m["cats_v2"])
                    if len(cats) != 3:
                        raise ValueError(f"channel_categories: {leaf_id} wechat cats_v2 needs 3 ids, has {len(cats)}")
                    own = tuple(_attr(a) for a in m.get("attrs", ()))
                    self._wechat[leaf_id] = WechatCategory(leaf_id, path, cats, _merge(w_default, own, "attr_key"))
                else:
                    own_p = tuple(_prop(p) for p in m.get("properties", ()))
                    self._douyin[leaf_id] = DouyinCategory(
                        leaf_id, path, _id(m["category_leaf_id"], f"{leaf_id} douyin category_leaf_id"),
                        _merge(d_default, own_p, "property_id"))

    def wechat(self, leaf_id: str | None) -> WechatCategory | None:
        return self._wechat.get(leaf_id or "")

    def douyin(self, leaf_id: str | None) -> DouyinCategory | None:
        return self._douyin.get(leaf_id or "")

    def get(self, channel: Platform, leaf_id: str | None) -> WechatCategory | DouyinCategory | None:
        return self.wechat(leaf_id) if channel == "wechat" else self.douyin(leaf_id)

    def unmapped_reason(self, channel: Platform, leaf_id: str | None) -> tuple[str, str] | None:
        """Why the data deliberately leaves the leaf unmapped (zh, en), or None."""
        return self._unmapped.get((channel, leaf_id or ""))

    def mapped_leaves(self, channel: Platform) -> set[str]:
        return set(self._wechat if channel == "wechat" else self._douyin)


def _id(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.isdigit():
        raise ValueError(f"channel_categories: {where} must be a string of digits, got {v!r}")
    return v


def _source(s: Any) -> str:
    s = str(s)
    if s in PRODUCT_SOURCES or (s.startswith("attribute_tags.") and len(s) > len("attribute_tags.")):
        return s
    raise ValueError(f"channel_categories: unknown value source {s!r}")


def _attr(a: dict[str, Any]) -> AttrRule:
    return AttrRule(str(a["attr_key"]), _source(a["from"]), bool(a.get("required", False)))


def _prop(p: dict[str, Any]) -> PropertyRule:
    opts = []
    for name, vid in (p.get("options") or {}).items():
        if not isinstance(vid, int) or isinstance(vid, bool) or not 0 <= vid <= _MAX_SAFE:
            raise ValueError(f"channel_categories: property {p.get('property_id')} option {name!r} "
                             f"needs a whole number value id, got {vid!r}")
        opts.append((str(name), vid))
    return PropertyRule(_id(p["property_id"], "property_id"), str(p["name"]), _source(p["from"]),
                        bool(p.get("required", False)), bool(p.get("diy", False)), tuple(opts))


def _merge(defaults: tuple, own: tuple, key: str) -> tuple:
    """Defaults first, a leaf's own rule replacing a default with the same key."""
    mine = {getattr(r, key) for r in own}
    return tuple(r for r in defaults if getattr(r, key) not in mine) + own


@lru_cache(maxsize=1)
def load_channel_categories() -> ChannelCategories:
    doc = json.loads((DATA_DIR / "channel_categories.json").read_text("utf-8"))
    return ChannelCategories(doc, set(load_categories().leaves))


# --- the product's side ---------------------------------------------------------------------------

def leaf_id_of(product: dict[str, Any]) -> str | None:
    """The product's leaf of our tree: the stored ``category_id``, else its path resolved."""
    cid = product.get("category_id")
    if cid:
        return str(cid)
    cat = load_categories().resolve(product.get("category") or "") if product.get("category") else None
    return cat.id if cat else None


def mapping(product: dict[str, Any], channel: Platform,
            data: ChannelCategories | None = None) -> WechatCategory | DouyinCategory | None:
    return (data or load_channel_categories()).get(channel, leaf_id_of(product))


def unmapped_finding(product: dict[str, Any], channel: Platform, data: ChannelCategories | None = None,
                     *, row: int | None = None, field: str | None = None) -> Finding:
    """``CHANNEL_CATEGORY_UNMAPPED`` for the product on ``channel`` (with the data's reason, if any)."""
    data = data or load_channel_categories()
    why = data.unmapped_reason(channel, leaf_id_of(product))
    zh, en = CHANNEL_NAMES[channel]
    return finding("CHANNEL_CATEGORY_UNMAPPED", row=row, field=field,
                   value=product.get("category") or product.get("category_id") or "",
                   channel=channel, channel_zh=zh, channel_en=en,
                   reason_zh=f"（{why[0]}）" if why and why[0] else "", reason_en=f" ({why[1]})" if why and why[1] else "")


def require_mapping(product: dict[str, Any], channel: Platform,
                    data: ChannelCategories | None = None) -> WechatCategory | DouyinCategory:
    """The product's category on ``channel``; raises ``FindingError(CHANNEL_CATEGORY_UNMAPPED)``."""
    m = mapping(product, channel, data)
    if m is None:
        raise FindingError(unmapped_finding(product, channel, data))
    return m


def _spec_values(product: dict[str, Any], key: str) -> list[str]:
    return list(dict.fromkeys(str(s["spec"][key]) for s in product.get("skus") or []
                              if isinstance(s.get("spec"), dict) and s["spec"].get(key) not in (None, "")))


def source_value(product: dict[str, Any], source: str) -> tuple[str | None, bool]:
    """``(value, is_sale_spec)``: the text at ``source`` on the product (None when blank). An
    ``attribute_tags.<key>`` missing from the tags falls back to a spec of that name: one value is
    the value; several make it a sale spec (``(None, True)``), carried by the SKUs instead."""
    if source.startswith("attribute_tags."):
        key = source[len("attribute_tags."):]
        v = (product.get("attribute_tags") or {}).get(key)
        if v not in (None, ""):
            return str(v).strip(), False
        vals = _spec_values(product, key)
        if len(vals) == 1:
            return vals[0], False
        return None, len(vals) > 1
    v = product.get(source)
    return (str(v).strip() or None) if v not in (None, "") else None, False


def wechat_attrs(product: dict[str, Any], cat: WechatCategory | None = None) -> tuple[list[dict[str, str]], list[Problem]]:
    """WeChat ``attrs`` ([{attr_key, attr_value}]): the category's parameters first (renamed as
    WeChat names them), then the product's other attribute tags not already sent and not sale
    specs. Problems: required parameters the product cannot give."""
    if cat is None:
        cat = mapping(product, "wechat")  # type: ignore[assignment]
    out: list[dict[str, str]] = []
    problems: list[Problem] = []
    used_tags: set[str] = set()
    sent: set[str] = set()
    for rule in (cat.attrs if cat else ()):
        v, sale = source_value(product, rule.source)
        if rule.source.startswith("attribute_tags."):
            used_tags.add(rule.source[len("attribute_tags."):])
        if v is None:
            if rule.required and not sale:
                problems.append(Problem("missing", rule.attr_key, rule.source))
            continue
        if rule.attr_key not in sent:
            out.append({"attr_key": rule.attr_key, "attr_value": v})
            sent.add(rule.attr_key)
    spec_keys = {k for s in product.get("skus") or [] for k in (s.get("spec") or {})}
    for k, v in (product.get("attribute_tags") or {}).items():
        if k in used_tags or k in sent or k in spec_keys or v in (None, ""):
            continue
        out.append({"attr_key": str(k), "attr_value": str(v)})
        sent.add(k)
    return out, problems


def douyin_format(product: dict[str, Any], cat: DouyinCategory | None = None) -> tuple[dict[str, list[dict[str, Any]]], list[Problem]]:
    """Douyin ``product_format_new`` as an object ({property_id: [{value, name, diy_type}]}, to be
    serialised by ``payloads.douyin_product``). A value among the property's options is sent as its
    id (diy_type 0); other text as a custom value (value 0, diy_type 1) where the property allows
    it, else it is a ``Problem``; so is a required property the product leaves blank."""
    if cat is None:
        cat = mapping(product, "douyin")  # type: ignore[assignment]
    out: dict[str, list[dict[str, Any]]] = {}
    problems: list[Problem] = []
    for rule in (cat.properties if cat else ()):
        v, sale = source_value(product, rule.source)
        if v is None:
            if rule.required and not sale:
                problems.append(Problem("missing", rule.name, rule.source))
            continue
        vid = rule.option(v)
        if vid is not None:
            out[rule.property_id] = [{"value": vid, "name": v, "diy_type": 0}]
        elif rule.diy:
            out[rule.property_id] = [{"value": 0, "name": v, "diy_type": 1}]
        else:
            problems.append(Problem("value", rule.name, rule.source, v, tuple(n for n, _ in rule.options)))
    return out, problems
