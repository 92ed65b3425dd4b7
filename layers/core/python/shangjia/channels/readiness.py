"""Is a product ready for a channel? The channel's own rules, scored before anything is sent.

``readiness(product, channel)`` returns findings in the project's error model (``shangjia.errors``):
located like validation's (``row`` of the product's first SKU row or of the SKU concerned,
``field`` the spec column's label), each naming its channel in the message and in ``channel``
(a ``ChannelFinding`` field, also kept in ``params["channel"]`` so it survives
``Finding.from_dict``). ``[]`` when the product is ready; only errors block, a warning informs.

Rules, by channel (the platforms' error numbers where a rule mirrors one):

- own shop: a title; at least one image; at least one SKU.
- WeChat (微信小店): title present, ≥ 5 effective characters (Chinese, letters, digits), ≤ 60,
  not only letters/digits/symbols; main + gallery images (duplicates removed) ≥ 3 (≥ 4 for food
  and beverages), only the first 9 are sent; category mapped and its required parameters given;
  1–500 SKUs (10020013); every price > 0 (10020039); a market price below the price refused
  (10020040; equal means "none" and is not sent); spec names and values ≤ 40 characters; a SKU
  code over 20 characters is shortened (a warning: ``payloads.wechat_sku_code``).
- Douyin (抖店): title present, ≤ 60 counting a Chinese character as 2, no emoji; 1–5 carousel
  images (the first 5 are sent); category mapped and its required properties resolvable; ≤ 3
  spec dimensions; spec combinations = SKU count; no ``| , ^`` in spec texts; every price > 0.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from shangjia.channels.categories import (CHANNEL_NAMES, Problem, douyin_format, leaf_id_of, load_channel_categories,
                                          unmapped_finding, wechat_attrs)
from shangjia.channels.payloads import DOUYIN, WECHAT, head_image_refs, spec_axes, wechat_sku_code
from shangjia.errors import Finding, finding
from shangjia.spec import load_categories, load_spec
from shangjia.topology import CHANNELS

__all__ = ["ChannelFinding", "readiness", "is_ready", "effective_chars", "douyin_width", "readiness_by_channel",
           "readiness_counts", "finding_view"]


@dataclass(frozen=True, slots=True)
class ChannelFinding(Finding):
    """A finding about one channel: ``channel`` is own_shop | wechat | douyin."""

    channel: str | None = None


# --- text measures --------------------------------------------------------------------------------

def _is_cjk(ch: str) -> bool:
    """A Chinese character (CJK unified ideographs, their extensions and compatibility forms);
    full-width Latin letters and digits are not."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3134F


def effective_chars(text: str) -> int:
    """WeChat's "effective" characters: Chinese characters, letters and digits."""
    return sum(1 for ch in text if ch.isalnum())


def douyin_width(text: str) -> int:
    """Douyin's title length: a wide character (Chinese, full-width) counts 2, any other 1."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


_EMOJI = re.compile("[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F1E6-\U0001F1FF\uFE0F\u200D\u2B50\u2B55]")

# --- locating -------------------------------------------------------------------------------------

def _label(name: str) -> str:
    f = load_spec()[name]
    return f"{f.zh}({f.en})"


def _first_row(product: dict[str, Any]) -> int | None:
    rows = [s["row"] for s in product.get("skus") or [] if isinstance(s.get("row"), int)]
    return min(rows) if rows else None


def _source_label(source: str) -> tuple[str, str]:
    if source.startswith("attribute_tags."):
        f = load_spec()["attribute_tags"]
        key = source[len("attribute_tags."):]
        return f"{f.zh}（{key}:…）", f"{f.en} ({key}:…)"
    f = load_spec()[source]
    return f.zh, f.en


class _Out:
    def __init__(self, product: dict[str, Any], channel: str) -> None:
        self.product = product
        self.channel = channel
        self.zh, self.en = CHANNEL_NAMES[channel]
        self.row = _first_row(product)
        self.findings: list[ChannelFinding] = []

    def add(self, f: Finding) -> None:
        params = dict(f.params)
        params.setdefault("channel", self.channel)
        d = asdict(f)
        d["params"] = params
        self.findings.append(ChannelFinding(**d, channel=self.channel))

    def kw(self, **extra: Any) -> dict[str, Any]:
        return {"channel": self.channel, "channel_zh": self.zh, "channel_en": self.en, **extra}


def _fen(v: int) -> str:
    return f"¥{v // 100}.{v % 100:02d}"


# --- the rules ------------------------------------------------------------------------------------

def _title(o: _Out) -> str | None:
    title = str(o.product.get("title") or "").strip()
    if not title:
        o.add(finding("CHANNEL_TITLE_MISSING", row=o.row, field=_label("title"), **o.kw()))
        return None
    return title


def _images_at_least(o: _Out, n: int, minimum: int, why_zh: str = "", why_en: str = "") -> None:
    if n < minimum:
        o.add(finding("CHANNEL_IMAGES_TOO_FEW", row=o.row, field=_label("gallery_images"), value=n,
                      **o.kw(count=n, min=minimum, why_zh=why_zh, why_en=why_en)))


def _pc(code: str) -> dict[str, str]:
    """The platform's own error number, when a rule mirrors one."""
    return {"platform_code": code, "pc_zh": f"（平台错误码 {code}）" if code else "",
            "pc_en": f" (platform error {code})" if code else ""}


def _sku_count(o: _Out, lo: int, hi: int | None, platform_code: str = "") -> None:
    n = len(o.product.get("skus") or [])
    if n < lo or (hi is not None and n > hi):
        o.add(finding("CHANNEL_SKU_COUNT", row=o.row, field=_label("sku_code"), value=n,
                      **o.kw(count=n, min=lo, max="∞" if hi is None else hi, **_pc(platform_code))))


def _prices(o: _Out, *, zero_code: str = "", market_code: str = "", check_market: bool = False) -> None:
    for s in o.product.get("skus") or []:
        price = s.get("price_fen")
        if price is None:
            continue
        row = s.get("row") if isinstance(s.get("row"), int) else o.row
        if int(price) <= 0:
            o.add(finding("CHANNEL_PRICE_NOT_POSITIVE", row=row, field=_label("price"), value=s.get("sku_code"),
                          **o.kw(**_pc(zero_code))))
        market = s.get("market_price_fen")
        if check_market and market is not None and int(market) < int(price):
            o.add(finding("CHANNEL_MARKET_PRICE_NOT_ABOVE", row=row, field=_label("market_price"),
                          value=s.get("sku_code"), **o.kw(market=_fen(int(market)), price=_fen(int(price)),
                                                          **_pc(market_code))))


def _category(o: _Out, platform: str):
    data = load_channel_categories()
    m = data.get(platform, leaf_id_of(o.product))  # type: ignore[arg-type]
    if m is None:
        o.add(unmapped_finding(o.product, platform, data, row=o.row, field=_label("category")))  # type: ignore[arg-type]
    return m


def _problems(o: _Out, problems: list[Problem], category: str) -> None:
    for p in problems:
        src_zh, src_en = _source_label(p.source)
        field = _label("attribute_tags" if p.source.startswith("attribute_tags.") else p.source)
        if p.kind == "missing":
            o.add(finding("CHANNEL_PROPERTY_MISSING", row=o.row, field=field,
                          **o.kw(category=category, attribute=p.name, source_zh=src_zh, source_en=src_en)))
        else:
            o.add(finding("CHANNEL_PROPERTY_VALUE", row=o.row, field=field, value=p.value,
                          **o.kw(attribute=p.name, choices="、".join(p.choices))))


def _own_shop(o: _Out) -> None:
    _title(o)
    _images_at_least(o, len(head_image_refs(o.product)), 1)
    _sku_count(o, 1, None)


def _is_food(product: dict[str, Any]) -> bool:
    cat = load_categories().leaves.get(leaf_id_of(product) or "")
    return bool(cat and cat.group in WECHAT.FOOD_GROUPS)


def _wechat(o: _Out) -> None:
    p = o.product
    title = _title(o)
    if title is not None:
        n = effective_chars(title)
        if n < WECHAT.TITLE_MIN_EFFECTIVE:
            o.add(finding("CHANNEL_TITLE_TOO_SHORT", row=o.row, field=_label("title"), value=title,
                          **o.kw(count=n, min=WECHAT.TITLE_MIN_EFFECTIVE)))
        if len(title) > WECHAT.TITLE_MAX:
            o.add(finding("CHANNEL_TITLE_TOO_LONG", row=o.row, field=_label("title"), value=title,
                          **o.kw(length=len(title), limit=WECHAT.TITLE_MAX)))
        if n and not any(_is_cjk(ch) for ch in title):
            o.add(finding("CHANNEL_TITLE_ONLY_ALNUM", row=o.row, field=_label("title"), value=title, **o.kw()))
    food = _is_food(p)
    _images_at_least(o, len(head_image_refs(p)), WECHAT.HEAD_MIN_FOOD if food else WECHAT.HEAD_MIN,
                     "（食品饮料类目）" if food else "", " (food and beverages)" if food else "")
    cat = _category(o, "wechat")
    if cat is not None:
        _, problems = wechat_attrs(p, cat)
        _problems(o, problems, p.get("category") or cat.path)
    _sku_count(o, WECHAT.SKU_MIN, WECHAT.SKU_MAX, "10020013")
    _prices(o, zero_code="10020039", market_code="10020040", check_market=True)
    for name, values in spec_axes(p):
        for part, texts in (("name", [name]), ("value", values)):
            for t in texts:
                if len(t) > WECHAT.SKU_ATTR_MAX:
                    o.add(finding("CHANNEL_SKU_ATTR_TOO_LONG", row=o.row, field=_label("spec_values"), value=t,
                                  **o.kw(length=len(t), limit=WECHAT.SKU_ATTR_MAX,
                                         part_zh="名" if part == "name" else "值", part_en=part)))
    for s in p.get("skus") or []:
        code = str(s.get("sku_code") or "")
        if len(code) > WECHAT.SKU_CODE_MAX:
            o.add(finding("CHANNEL_SKU_CODE_SHORTENED", row=s.get("row") if isinstance(s.get("row"), int) else o.row,
                          field=_label("sku_code"), value=code,
                          **o.kw(limit=WECHAT.SKU_CODE_MAX, shown=wechat_sku_code(code))))


def _douyin(o: _Out) -> None:
    p = o.product
    title = _title(o)
    if title is not None:
        w = douyin_width(title)
        if w > DOUYIN.NAME_MAX_WIDTH:
            o.add(finding("CHANNEL_TITLE_TOO_WIDE", row=o.row, field=_label("title"), value=title,
                          **o.kw(length=w, limit=DOUYIN.NAME_MAX_WIDTH, limit_cjk=DOUYIN.NAME_MAX_WIDTH // 2)))
        emoji = _EMOJI.findall(title)
        if emoji:
            o.add(finding("CHANNEL_TITLE_EMOJI", row=o.row, field=_label("title"), value=title,
                          **o.kw(emoji="".join(dict.fromkeys(e for e in emoji if e not in "\ufe0f\u200d")))))
    _images_at_least(o, len(head_image_refs(p)), 1)
    cat = _category(o, "douyin")
    if cat is not None:
        _, problems = douyin_format(p, cat)
        _problems(o, problems, p.get("category") or cat.path)
    _prices(o)
    axes = spec_axes(p)
    skus = p.get("skus") or []
    if len(axes) > DOUYIN.SPEC_DIMENSIONS_MAX:
        o.add(finding("CHANNEL_SPEC_TOO_MANY_DIMENSIONS", row=o.row, field=_label("spec_values"),
                      value="/".join(n for n, _ in axes),
                      **o.kw(count=len(axes), names="、".join(n for n, _ in axes), limit=DOUYIN.SPEC_DIMENSIONS_MAX)))
    combos = 1
    for _, vs in axes:
        combos *= len(vs)
    names = [n for n, _ in axes]
    present = {tuple(str((s.get("spec") or {}).get(n, "")) for n in names) for s in skus}
    grid = set(itertools.product(*(vs for _, vs in axes))) if combos <= 100_000 else None
    if combos != len(skus) or (grid is not None and present != grid):
        o.add(finding("CHANNEL_SPEC_GRID_MISMATCH", row=o.row, field=_label("spec_values"), value=len(skus),
                      **o.kw(combinations=combos, count=len(skus))))
    bad = []
    for name, values in axes:
        for t in (name, *values):
            hit = "".join(c for c in DOUYIN.SEPARATORS if c in t)
            if hit and t not in bad:
                bad.append(t)
                o.add(finding("CHANNEL_SPEC_SEPARATOR", row=o.row, field=_label("spec_values"), value=t,
                              **o.kw(chars=" ".join(hit))))


_RULES = {"own_shop": _own_shop, "wechat": _wechat, "douyin": _douyin}


def readiness(product: dict[str, Any], channel: str) -> list[ChannelFinding]:
    """The channel's rules over the stored product; ``[]`` when it is ready."""
    if channel not in CHANNELS or channel not in _RULES:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    o = _Out(product, channel)
    _RULES[channel](o)
    return o.findings


def is_ready(findings: list[Finding]) -> bool:
    """Only errors block; a warning (a shortened SKU code) does not."""
    return not any(f.is_error for f in findings)


# --- per-channel readiness at upload (validate) and after media ----------------------------------

def finding_view(f: Finding) -> dict[str, Any]:
    """A readiness finding as the product item keeps it (and the API, status and report show it):
    ``code``, ``severity``, ``message`` (English), ``message_zh``, ``hint`` (English), ``hint_zh``,
    and where it points (``row``, ``field``, ``value``) when known."""
    out: dict[str, Any] = {"code": f.code, "severity": f.severity, "message": f.message_en,
                           "message_zh": f.message_zh, "hint": f.hint_en, "hint_zh": f.hint_zh}
    for k in ("row", "field", "value"):
        v = getattr(f, k)
        if v not in (None, ""):
            out[k] = v
    return out


def _processed_images(product: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
    """The product as a channel will receive it once media is done: only the images the media
    stage processed (``item["media"]``: ``"<slot>#<ii>" -> {"ok", ...}``) stay in its slots."""
    images = product.get("images") or {}
    kept = {slot: [ref for i, ref in enumerate(images.get(slot) or [])
                   if (media.get(f"{slot}#{i:02d}") or {}).get("ok")]
            for slot in ("main", "gallery", "detail")}
    return {**product, "images": kept}


def readiness_by_channel(product: dict[str, Any], channels, *, media: dict[str, Any] | None = None
                         ) -> dict[str, dict[str, Any]]:
    """Every requested channel's verdict on the product: ``{channel: {"ready", "findings"}}``
    (``findings``: ``finding_view`` dicts, errors first). Only errors make a channel not ready.

    At upload (``media=None``) the image rules count the image *references* the sheet gives (an
    image that later fails the media stage is not known yet); with ``media`` (the item's media
    results) they count only the images the media stage processed, as the channel will get them.
    Pixel sizes are the media stage's own checks (its findings), not repeated here."""
    subject = product if media is None else _processed_images(product, media)
    out: dict[str, dict[str, Any]] = {}
    for ch in channels:
        if ch not in _RULES:
            continue
        fs = sorted(readiness(subject, ch), key=lambda f: not f.is_error)
        out[ch] = {"ready": is_ready(fs), "findings": [finding_view(f) for f in fs]}
    return out


def readiness_counts(products) -> dict[str, dict[str, int]]:
    """Over products' ``readiness`` attributes: ``{channel: {"ready": n, "not_ready": n}}``."""
    out: dict[str, dict[str, int]] = {}
    for r in products:
        for ch, v in (r or {}).items():
            c = out.setdefault(ch, {"ready": 0, "not_ready": 0})
            c["ready" if v.get("ready") else "not_ready"] += 1
    return dict(sorted(out.items()))
