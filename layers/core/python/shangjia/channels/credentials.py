"""A shop's credentials and the state the adapters keep per shop in the state table.

- ``shop_for(deps, merchant_id, channel)``: the ``Shop`` from the secret
  ``shangjia/shops/<merchant_id>/<channel>`` (JSON: shop_id, app_id, app_secret, callback_token,
  base_url) through the secrets port. ``save_shop`` writes it (``shangjia shops add``) and
  records which merchant an app id belongs to, so a platform's push finds its shop
  (``shop_by_app``).
- ``TokenCache``: one shop's access token in one item, refreshed by ONE owner at a time: a
  conditional-write lease on the item (``lease_owner``/``lease_until``) and a revision number, so
  two concurrent fetchers never both call the platform (WeChat's "not latest" 40001, a Douyin
  refresh token spent twice); the loser waits for the winner's token and reads it.
- ``ImageCache``: a product's re-hosted images on one shop (our content key -> the platform's URL)
  in one item: one read, and one write when something was uploaded. Kept per product, not per
  image: an image a shop already has for another product is uploaded again (a second URL on the
  platform's CDN, both valid), so a product's images cost one write unit instead of one each, and
  the writes spread over a key per product instead of one per shop (``docs/capacity.md``).
- ``AttemptLog``: what the adapter last sent for a product (its platform id once known, the hash
  of the body, the step reached), written before and after each platform write, so an attempt
  whose answer was lost is resolved before anything is sent again.

The item keys below are the adapters' own (``CHANNEL*#...``); nothing else reads them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any, Callable

from shangjia.channels import CHANNELS, ChannelError, Shop
from shangjia.ports import ConditionFailed

SECRET_PREFIX = "shangjia/shops"
SHOP_FIELDS = ("shop_id", "app_id", "app_secret", "callback_token", "base_url")


def secret_name(merchant_id: str, channel: str) -> str:
    return f"{SECRET_PREFIX}/{merchant_id}/{channel}"


# --- item keys -----------------------------------------------------------------------------------

def token_key(channel: str, shop_id: str) -> tuple[str, str]:
    return f"CHANNELTOKEN#{channel}#{shop_id}", "TOKEN"


def image_key(channel: str, shop_id: str, spu_code: str) -> tuple[str, str]:
    """A product's re-hosted images on one shop."""
    return f"CHANNELIMG#{channel}#{shop_id}#{spu_code}", "IMAGES"


def attempt_key(channel: str, shop_id: str, spu_code: str) -> tuple[str, str]:
    return f"CHANNELATTEMPT#{channel}#{shop_id}", f"SPU#{spu_code}"


def platform_ref_key(channel: str, platform_product_id: str) -> tuple[str, str]:
    """A platform's product id -> our listing (``merchant_id``, ``spu_code``): written by publish
    when a listing gets its id, read by audit pushes that name only the platform's product, and
    by a WeChat shop scan (a product we can place is not read)."""
    return f"PLATFORM#{channel}#{platform_product_id}", "LISTING"


def app_key(channel: str, app_id: str) -> tuple[str, str]:
    return f"CHANNELAPP#{channel}#{app_id}", "SHOP"


def shop_record_key(merchant_id: str, channel: str) -> tuple[str, str]:
    return f"MERCHANT#{merchant_id}", f"SHOP#{channel}"


# --- shops -----------------------------------------------------------------------------------------

_SHOPS: dict[tuple[str, str], tuple[float, Shop]] = {}
_APPS: dict[tuple[str, str], tuple[float, str]] = {}          # (channel, app id) -> (when read, merchant)
_SHOPS_LOCK = threading.Lock()
SHOP_TTL_S = 300.0


def shop_for(deps, merchant_id: str, channel: str) -> Shop:
    """The merchant's shop on ``channel`` (own shop: no secret needed). Raises a permanent
    ``ChannelError`` (CHANNEL_NOT_CONFIGURED) when the merchant has no shop registered there."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if channel == "own_shop":
        return Shop(merchant_id, channel, shop_id=merchant_id, app_id="", app_secret="")
    with _SHOPS_LOCK:
        hit = _SHOPS.get((merchant_id, channel))
    if hit and time.monotonic() - hit[0] < SHOP_TTL_S:
        return hit[1]
    from shangjia.ports import SecretNotFound

    if deps.secrets is None:
        raise RuntimeError("Deps.secrets is not set: shop credentials come from the secrets port")
    try:
        doc = json.loads(deps.secrets.get(secret_name(merchant_id, channel)))
    except SecretNotFound:
        raise ChannelError("permanent", "CHANNEL_NOT_CONFIGURED",
                           f"商家 {merchant_id} 尚未配置 {channel} 店铺",
                           f"merchant {merchant_id} has no {channel} shop configured "
                           f"(shangjia shops add {merchant_id} {channel} ...)") from None
    shop = Shop(merchant_id, channel, **{k: str(doc.get(k) or "") for k in SHOP_FIELDS})
    with _SHOPS_LOCK:
        _SHOPS[(merchant_id, channel)] = (time.monotonic(), shop)
    return shop


def forget_shops() -> None:
    """Drop the in-process shop cache (tests; a rotated secret is otherwise seen within 5 min)."""
    with _SHOPS_LOCK:
        _SHOPS.clear()
        _APPS.clear()


def save_shop(deps, shop: Shop, *, at: str) -> None:
    """Write the shop's secret and the non-secret records: the merchant's shop (ids only) and
    the app id → merchant index pushes are routed by."""
    if shop.channel not in ("wechat", "douyin"):
        raise ValueError(f"channel {shop.channel!r} takes no credentials")
    for f in ("shop_id", "app_id", "app_secret"):
        if not getattr(shop, f):
            raise ValueError(f"{f} is required")
    doc = {k: getattr(shop, k) for k in SHOP_FIELDS}
    deps.secrets.put(secret_name(shop.merchant_id, shop.channel), json.dumps(doc, ensure_ascii=False),
                     description=f"Shangjia {shop.channel} shop {shop.shop_id} of merchant {shop.merchant_id}")
    pk, sk = shop_record_key(shop.merchant_id, shop.channel)
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": shop.merchant_id, "channel": shop.channel,
                    "shop_id": shop.shop_id, "app_id": shop.app_id, "base_url": shop.base_url,
                    "has_callback_token": bool(shop.callback_token), "updated_at": at})
    apk, ask = app_key(shop.channel, shop.app_id)
    deps.store.put({"pk": apk, "sk": ask, "merchant_id": shop.merchant_id, "channel": shop.channel,
                    "shop_id": shop.shop_id, "updated_at": at})
    with _SHOPS_LOCK:
        _SHOPS.pop((shop.merchant_id, shop.channel), None)
        _APPS.pop((shop.channel, shop.app_id), None)


def shop_by_app(deps, channel: str, app_id: str) -> Shop | None:
    """The shop a platform's push names by its app id (Douyin ``app-id``; WeChat ``appid``)."""
    if not app_id:
        return None
    with _SHOPS_LOCK:
        hit = _APPS.get((channel, app_id))
    if hit and time.monotonic() - hit[0] < SHOP_TTL_S:
        merchant_id = hit[1]                  # kept as long as the shop's credentials are
    else:
        rec = deps.store.get(*app_key(channel, app_id), consistent=False)
        if not rec:
            return None
        merchant_id = rec["merchant_id"]
        with _SHOPS_LOCK:
            _APPS[(channel, app_id)] = (time.monotonic(), merchant_id)
    try:
        return shop_for(deps, merchant_id, channel)
    except ChannelError:
        return None


def shop_lookup_for(deps, channel: str, merchant_id: str | None = None) -> Callable[[str], Shop | None]:
    """A ``shop_lookup`` for ``ChannelPort.parse_callback``: by the merchant when the callback's
    route names it, else by the app id the push carries."""
    def lookup(app_id: str) -> Shop | None:
        if merchant_id:
            try:
                shop = shop_for(deps, merchant_id, channel)
            except ChannelError:
                return None
            return shop if not app_id or not shop.app_id or shop.app_id == app_id else None
        return shop_by_app(deps, channel, app_id)
    return lookup


# --- the token cache -------------------------------------------------------------------------------

class TokenCache:
    """One shop's token item: ``token``, ``expires_at`` (epoch s) and whatever else ``fetch``
    returns (Douyin: refresh token and its expiry), all written in one conditional update."""

    def __init__(self, store, channel: str, shop_id: str, *, now: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, lease_s: float = 30.0, wait_s: float = 25.0,
                 poll_s: float = 0.1) -> None:
        self.store, self.channel, self.shop_id = store, channel, shop_id
        self.pk, self.sk = token_key(channel, shop_id)
        self.now, self.sleep = now, sleep
        self.lease_s, self.wait_s, self.poll_s = lease_s, wait_s, poll_s
        self.fetches = 0                  # how many times this cache called the platform

    def read(self) -> dict[str, Any] | None:
        return self.store.get(self.pk, self.sk)

    def get(self, fresh: Callable[[dict[str, Any]], bool],
            fetch: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """A fresh token item: the cached one, or one fetched under the lease. ``fetch(old)``
        gets the previous item (None at first) and returns the new fields."""
        deadline = self.now() + self.wait_s
        pause = self.poll_s
        while True:
            item = self.read()
            if item and item.get("token") and fresh(item):
                return item
            t = self.now()
            if not item or float(item.get("lease_until") or 0) < t:
                me = uuid.uuid4().hex
                if self._take_lease(item, me, t) and (self.read() or {}).get("lease_owner") == me:
                    # (the read back costs one read per refresh; it keeps an emulator whose
                    # conditional writes are not atomic under threads from letting two owners in)
                    return self._refresh(item, me, fetch)
                continue                  # another fetcher took it first: read again at once
            if t >= deadline:
                raise ChannelError("transient", None, f"{self.channel} 店铺 {self.shop_id} 的令牌正在由其他进程刷新",
                                   f"the {self.channel} token of shop {self.shop_id} is being refreshed elsewhere "
                                   f"and no fresh token appeared in {self.wait_s:.0f} s", "TOKEN_LEASE")
            self.sleep(pause)
            pause = min(pause * 1.5, 1.0)

    def _take_lease(self, item: dict[str, Any] | None, me: str, t: float) -> bool:
        values: dict[str, Any] = {":me": me, ":until": t + self.lease_s, ":t": t}
        if item is None:
            cond = "attribute_not_exists(pk)"
        else:
            cond = "(attribute_not_exists(lease_until) OR lease_until < :t) AND "
            if "rev" in item:
                cond += "rev = :rev"
                values[":rev"] = item["rev"]
            else:
                cond += "attribute_not_exists(rev)"
        if item is None:
            values.pop(":t")
        try:
            self.store.update(self.pk, self.sk, "SET lease_owner = :me, lease_until = :until",
                              condition=cond, values=values)
        except ConditionFailed:
            return False
        return True

    def _refresh(self, item, me: str, fetch) -> dict[str, Any]:
        try:
            self.fetches += 1
            fields = fetch(item)
        except BaseException:
            self._release(me)
            raise
        rev = int((item or {}).get("rev") or 0) + 1
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":f{i}": v for i, v in enumerate(fields.values())}
        try:
            self.store.update(self.pk, self.sk, f"SET {sets}, rev = :rev REMOVE lease_owner, lease_until",
                              condition="lease_owner = :me", names=names,
                              values={**values, ":rev": rev, ":me": me})
        except ConditionFailed:
            pass      # our lease ran out and another owner took over: our token is still valid to use
        return {**(item or {}), **fields, "rev": rev}

    def _release(self, me: str) -> None:
        try:
            self.store.update(self.pk, self.sk, "REMOVE lease_owner, lease_until",
                              condition="lease_owner = :me", values={":me": me})
        except ConditionFailed:
            pass

    def expire(self, token: str) -> None:
        """The platform refused ``token``: mark it expired, unless it was replaced meanwhile."""
        try:
            self.store.update(self.pk, self.sk, "SET expires_at = :zero",
                              condition="#t = :tok", names={"#t": "token"}, values={":zero": 0, ":tok": token})
        except ConditionFailed:
            pass


# --- re-hosted images ------------------------------------------------------------------------------

class ImageCache:
    """One product's re-hosted images on one shop: our rendition's content key -> the platform's URL."""

    # entries an item keeps: the product's current images first, then earlier revisions' (a revision
    # that brings an image back finds it); far above a listing's 50 images, far below 400 KB
    KEPT = 120

    def __init__(self, store, channel: str, shop_id: str, spu_code: str) -> None:
        self.store = store
        self.pk, self.sk = image_key(channel, shop_id, spu_code)

    def urls(self, content_keys: list[str], upload: Callable[[str], str], *, at: str = "",
             known: dict[str, str] | None = None) -> dict[str, str]:
        """The platform URL of each content key (a rendition's media key: content addressed):
        one read of the product's map, ``upload(key)`` for each it does not hold yet, one write when
        any was uploaded. What was uploaded before a failing upload is recorded all the same, so a
        retry uploads only the rest. Two sends of the product at once may both upload an image
        (both URLs stay valid on the platform); the last write names the one kept. ``known``: the
        map as the caller read it (the publish stage reads it with the product): not read again.
        The map is keyed by a short hash of each content key (``_entry``)."""
        wanted = list(dict.fromkeys(content_keys))
        if not wanted:
            return {}
        if known is None:
            known = dict((self.store.get(self.pk, self.sk) or {}).get("urls") or {})
        got = {k: known[_entry(k)] for k in wanted if known.get(_entry(k))}
        new: dict[str, str] = {}
        try:
            for k in wanted:
                if k not in got:
                    new[k] = upload(k)
        finally:
            if new:
                mine = {_entry(k): v for k, v in {**new, **got}.items()}
                kept = {**mine, **{e: v for e, v in known.items() if e not in mine}}
                self.store.put({"pk": self.pk, "sk": self.sk, "uploaded_at": at,
                                "urls": dict(list(kept.items())[:self.KEPT])})
        return {**got, **new}


def _entry(content_key: str) -> str:
    """A content key's name in a product's image map: 16 hex digits of its hash (a rendition's key
    is ~80 characters; the map of a product's images stays under one write unit)."""
    return hashlib.sha256(content_key.encode()).hexdigest()[:16]


# --- attempts --------------------------------------------------------------------------------------

class AttemptLog:
    """The adapter's own record of its writes for one product on one shop."""

    def __init__(self, store, channel: str, shop_id: str, spu_code: str) -> None:
        self.store = store
        self.pk, self.sk = attempt_key(channel, shop_id, spu_code)

    def read(self) -> dict[str, Any]:
        return self.store.get(self.pk, self.sk) or {}

    def record(self, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        self.store.update(self.pk, self.sk, f"SET {sets}",
                          names={f"#f{i}": k for i, k in enumerate(fields)},
                          values={f":f{i}": v for i, v in enumerate(fields.values())})
