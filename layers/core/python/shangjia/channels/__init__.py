"""Sales channels: the port every channel adapter implements, its data shapes and error kinds.

The adapters (``wechat``, ``douyin``, ``own_shop``) speak the platforms' real request formats
(see ``docs/channels.md`` and ``../shared/CHANNEL-APIS.md``); they reach AWS only through the
ports in ``Deps`` (tokens and the image re-hosting cache in the state table, shop credentials in
Secrets Manager). ``channel_port(deps, channel)`` gives the adapter for a channel.

Every platform id is a ``str`` end to end (19-digit ids do not survive floats).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import quote

from shangjia.ports import Transient

CHANNELS = ("own_shop", "wechat", "douyin")
# The platforms that audit a submission and push their verdict naming only their own product id
# (and WeChat's shop scan, which places products by it): their listings keep a platform id ->
# listing item (``credentials.platform_ref_key``). The own shop is our catalog: live at once, no push.
AUDITED = frozenset({"wechat", "douyin"})

# --- errors ------------------------------------------------------------------------------------

KINDS = ("transient", "token", "quota", "permanent")
# ChannelError.code for each kind (platform_code carries the platform's own code)
KIND_CODES = {"transient": "CHANNEL_UNAVAILABLE", "token": "CHANNEL_TOKEN",
              "quota": "CHANNEL_QUOTA", "permanent": "CHANNEL_REFUSED"}


class ChannelError(Exception):
    """A channel call failed. ``kind``:

    - ``transient``: worth retrying as is (system busy, 5xx, time-out, unreachable). Such an error
      is also a ``shangjia.ports.Transient`` (what SQS retries), so code that only knows the
      ports retries it too.
    - ``token``: the access token was refused even after the one refresh-and-retry the adapter
      makes (credentials wrong or revoked): fix the shop's secret.
    - ``quota``: the platform's rate or audit quota is spent; ``retry_after_s`` says when it
      is worth trying again (when known).
    - ``permanent``: the platform refused the request (the product, a parameter): retrying
      the same request will not help. ``platform_code`` is the platform's code.
    """

    def __new__(cls, kind: str, *args: Any, **kwargs: Any):
        if cls is ChannelError and kind == "transient":
            cls = TransientChannelError
        return super().__new__(cls)

    def __init__(self, kind: str, code: str | None = None, message_zh: str = "", message_en: str = "",
                 platform_code: str | int | None = None, *, retry_after_s: float | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown channel error kind {kind!r}")
        self.kind = kind
        self.code = code or KIND_CODES[kind]
        self.message_zh = message_zh
        self.message_en = message_en or message_zh
        self.platform_code = None if platform_code is None else str(platform_code)
        self.retry_after_s = retry_after_s
        super().__init__(kind, self.code, message_zh, message_en, self.platform_code)

    def __reduce__(self):
        return (_rebuild_error, (self.kind, self.code, self.message_zh, self.message_en,
                                 self.platform_code, self.retry_after_s))

    def __str__(self) -> str:
        pc = f" [{self.platform_code}]" if self.platform_code else ""
        return f"{self.kind} {self.code}{pc}: {self.message_en}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "message_zh": self.message_zh,
                "message_en": self.message_en, "platform_code": self.platform_code,
                "retry_after_s": self.retry_after_s}


class TransientChannelError(ChannelError, Transient):
    """``ChannelError(kind="transient")`` is built as this class: a ``Transient`` too."""


def _rebuild_error(kind, code, zh, en, platform_code, retry_after_s):
    return ChannelError(kind, code, zh, en, platform_code, retry_after_s=retry_after_s)


# --- shapes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shop:
    """One merchant's shop on one channel; credentials from Secrets Manager (``credentials``)."""
    merchant_id: str
    channel: str
    shop_id: str
    app_id: str                   # WeChat appid; Douyin app_key
    app_secret: str
    callback_token: str = ""      # WeChat push token (signature check); Douyin signs with app_secret
    base_url: str = ""            # the platform's gateway (the simulator's on the local cloud)

    def __repr__(self) -> str:    # never print a secret into a log
        return f"Shop({self.merchant_id!r}, {self.channel!r}, shop_id={self.shop_id!r}, app_id={self.app_id!r})"


@dataclass(frozen=True)
class Submitted:
    platform_product_id: str      # always a str
    state: str                    # "in_audit" | "live" (own shop: live at once)
    log_id: str = ""              # Douyin's log_id, kept on the listing for support


@dataclass(frozen=True)
class AuditVerdict:
    channel: str
    msg_id: str
    platform_product_id: str
    verdict: str                  # "approved" | "rejected" | "withdrawn"
    reason: str = ""
    reason_class: str = ""        # image | title | category | qualification | price | other


ShopLookup = Callable[[str], "Shop | None"]


class ChannelPort(Protocol):
    channel: str

    def submit(self, shop: Shop, product: dict, *, listing: dict | None) -> Submitted: ...
    def lookup(self, shop: Shop, spu_code: str, platform_product_id: str | None) -> dict | None: ...
    def update_stock(self, shop: Shop, platform_product_id: str, stock: dict[str, int]) -> None: ...
    def delist_skus(self, shop: Shop, platform_product_id: str, sku_codes: list[str]) -> None: ...
    def parse_callback(self, shop_lookup: ShopLookup, headers: dict, query: dict,
                       raw_body: bytes) -> list[AuditVerdict]: ...


def channel_port(deps, channel: str) -> ChannelPort:
    """The adapter for ``channel`` ("own_shop" | "wechat" | "douyin") over ``deps``."""
    # the adapters' HTTP time-out (default theirs: 10 s WeChat, 12 s Douyin); the fault run shortens it
    timeout = os.environ.get("SHANGJIA_CHANNEL_TIMEOUT_S")
    kw = {"timeout_s": float(timeout)} if timeout else {}
    if channel == "wechat":
        from shangjia.channels.wechat import WechatChannel
        return WechatChannel(deps, **kw)
    if channel == "douyin":
        from shangjia.channels.douyin import DouyinChannel
        return DouyinChannel(deps, **kw)
    if channel == "own_shop":
        from shangjia.channels.own_shop import OwnShopChannel
        return OwnShopChannel(deps)
    raise ValueError(f"unknown channel {channel!r}")


# --- helpers the adapters share ---------------------------------------------------------------------

def channel_product(item: dict[str, Any]) -> dict[str, Any]:
    """What ``submit`` takes: the stored product (``item["product"]``) with the item's media
    results (``item["media"]``: rendition keys per image slot) beside it."""
    return {**(item.get("product") or {}), "media": item.get("media") or {}}


def image_keys(product: dict[str, Any]) -> dict[str, str]:
    """Our image reference (as the sheet named it, ``product["images"][slot]``) → the media key of
    its rendition (main image: ``main``, gallery: ``gallery``, detail: ``detail``), for the images
    media processed successfully. ``product["media"]`` is ``{"<slot>#<index:02d>": {"ok",
    "renditions": [{"name", "key", ...}]}}`` (``channel_product``)."""
    media = product.get("media") or {}
    out: dict[str, str] = {}
    for slot in ("main", "gallery", "detail"):
        for i, ref in enumerate((product.get("images") or {}).get(slot) or []):
            result = media.get(f"{slot}#{i:02d}") or {}
            if ref in out or not result.get("ok"):
                continue
            key = next((r.get("key") for r in result.get("renditions") or [] if r.get("name") == slot), None)
            if key:
                out[ref] = key
    return out


def payload_error(channel: str, e: Exception) -> ChannelError:
    """A product the channel's shape cannot take (category unmapped, too few images...) as a
    permanent ``ChannelError``: the merchant must change the product, a retry will not help."""
    f = getattr(e, "finding", None)
    if f is not None:
        return ChannelError("permanent", f.code, f.message_zh, f.message_en)
    return ChannelError("permanent", "CHANNEL_PAYLOAD", f"商品不符合{channel}的格式要求：{e}",
                        f"the product does not fit {channel}'s format: {e}")


def media_url(key: str) -> str:
    """The URL a platform (or a buyer) fetches a rendition at: ``SHANGJIA_MEDIA_BASE_URL`` + key
    (a CDN in front of the media bucket on AWS); else the media bucket on the emulator
    (``AWS_ENDPOINT_URL``, path style) or S3's virtual-hosted URL."""
    from shangjia.topology import env_name

    path = quote(key, safe="/")
    base = os.environ.get("SHANGJIA_MEDIA_BASE_URL")
    if base:
        return f"{base.rstrip('/')}/{path}"
    bucket = os.environ.get(env_name("bucket", "media"), "shangjia-media")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{path}"
    return f"https://{bucket}.s3.amazonaws.com/{path}"


@lru_cache(maxsize=1)
def _reason_table() -> tuple[tuple[str, tuple[str, ...]], ...]:
    doc = json.loads((Path(__file__).parent / "data" / "audit_reasons.json").read_text("utf-8"))
    return tuple((c["class"], tuple(k.lower() for k in c["keywords"])) for c in doc["classes"])


REASON_CLASSES = ("image", "title", "category", "qualification", "price", "other")


def classify_reason(reason: str) -> str:
    """An audit rejection's class from its text (``data/audit_reasons.json``; none matching: other)."""
    text = (reason or "").lower()
    for cls, words in _reason_table():
        if any(w in text for w in words):
            return cls
    return "other"
