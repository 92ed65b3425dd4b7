"""The one small HTTP client the channel adapters share: JSON over urllib, a time-out on every
call, and the one place where HTTP and transport failures become ``ChannelError`` kinds.

- no answer (refused, reset, DNS, time-out), a 5xx, a 200 whose body is not JSON: ``transient``
- 429: ``quota`` (``retry_after_s`` from ``Retry-After`` when given, else 60 s)
- another 4xx: ``permanent`` (platform_code ``HTTP_<status>``)

The platform's own envelope (WeChat ``errcode``, Douyin ``code``) is the adapter's to read.
JSON is parsed with ``json.loads``: integers stay exact ``int`` (a 19-digit id is never a float);
``platform_id`` turns one into the ``str`` every platform id is kept as.

``PlatformAdapter`` is what the WeChat and Douyin adapters do the same way: the gateway per shop,
the shop's token cached in the table and refreshed by one owner, a call retried ONCE with a new
token after a token error (WxJava's rule, CHANNEL-APIS §2.5), images re-hosted once per shop and
content, and an earlier send whose answer was lost resolved by lookup before anything is sent
again. What each platform does its own way stays in its module: signing, envelopes, error codes,
the token grant, the lookup.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from shangjia.channels import ChannelError, Shop
from shangjia.channels.credentials import AttemptLog, ImageCache, TokenCache, image_key

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 12.0        # the official Douyin SDK's default


@dataclass
class Response:
    status: int
    data: Any                       # the parsed JSON body
    raw: bytes
    headers: dict[str, str] = field(default_factory=dict)   # lower-cased names


def platform_id(value: Any) -> str:
    """A platform id as ``str``. A float means the id was already rounded somewhere: refuse it."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"platform id {value!r} is not an integer or a string (precision lost)")
    return str(value)


def call(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout_s: float = DEFAULT_TIMEOUT_S, channel: str = "") -> Response:
    """One request; returns the parsed JSON answer of a 2xx, raises ``ChannelError`` otherwise."""
    hdrs = {"Accept": "application/json", **(headers or {})}
    if body is not None and not any(k.lower() == "content-type" for k in hdrs):
        hdrs["Content-Type"] = "application/json;charset=UTF-8"
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    name = channel or "channel"
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:   # noqa: S310 — the shop's configured gateway
            raw = r.read()
            status = r.status
            resp_headers = {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        detail = _safe_read(e)
        retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
        if e.code == 429:
            raise ChannelError("quota", None, f"{name} 接口调用频率超限（HTTP 429）",
                               f"{name} rate limit (HTTP 429)", "HTTP_429",
                               retry_after_s=retry_after if retry_after is not None else 60.0) from None
        if e.code >= 500:
            raise ChannelError("transient", None, f"{name} 暂时不可用（HTTP {e.code}）",
                               f"{name} unavailable (HTTP {e.code})", f"HTTP_{e.code}",
                               retry_after_s=retry_after) from None
        raise ChannelError("permanent", None, f"{name} 拒绝了请求（HTTP {e.code}）",
                           f"{name} refused the request (HTTP {e.code}): {detail[:200]!r}",
                           f"HTTP_{e.code}") from None
    except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError,
            http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ChannelError("transient", None, f"{name} 无法访问或超时", f"{name} unreachable or timed out: {reason}",
                           "NETWORK") from None
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        raise ChannelError("transient", None, f"{name} 返回了无法解析的内容",
                           f"{name} answered HTTP {status} with a body that is not JSON: {raw[:120]!r}",
                           "BAD_BODY") from None
    return Response(status, data, raw, resp_headers)


def _safe_read(e: urllib.error.HTTPError) -> bytes:
    try:
        return e.read() or b""
    except Exception:  # noqa: BLE001 — only for the message
        return b""


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def as_int(v: Any) -> int:
    """A platform's number field as an ``int`` (0 when absent or not a number)."""
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def digest(doc: Any) -> str:
    """What a send is (its body and revision), for the attempt log: a canonical JSON hash."""
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


class PlatformAdapter:
    """Base of the WeChat and Douyin adapters (see the module's docstring)."""

    channel = ""
    default_base = ""
    refresh_before_s = 300.0             # a cached token with less left than this is refreshed

    def __init__(self, deps, *, timeout_s: float = DEFAULT_TIMEOUT_S, now: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.deps = deps
        self.timeout_s = timeout_s
        self.now, self.sleep = now, sleep
        self.token_fetches = 0
        # shop id -> the token item this adapter last read or fetched: a container's calls reuse it
        # while it is fresh instead of reading the table before every call (a token error drops it)
        self._token_memo: dict[str, dict[str, Any]] = {}

    def base(self, shop: Shop) -> str:
        """The shop's gateway (the simulator's on the local cloud), else the platform's."""
        return (shop.base_url or self.default_base).rstrip("/")

    def tokens(self, shop: Shop) -> TokenCache:
        return TokenCache(self.deps.store, self.channel, shop.shop_id, now=self.now, sleep=self.sleep)

    def cached_token(self, shop: Shop, fetch: Callable[[dict[str, Any] | None], dict[str, Any]]) -> str:
        """The shop's access token from the table; ``fetch(old item)`` (the platform's grant) runs
        under the refresh lease when less than ``refresh_before_s`` is left."""
        def fresh(item: dict[str, Any]) -> bool:
            return float(item.get("expires_at") or 0) - self.now() > self.refresh_before_s

        def counted(old: dict[str, Any] | None) -> dict[str, Any]:
            self.token_fetches += 1
            return fetch(old)

        memo = self._token_memo.get(shop.shop_id)
        if memo and memo.get("token") and fresh(memo):
            return memo["token"]
        item = self.tokens(shop).get(fresh, counted)
        self._token_memo[shop.shop_id] = item
        return item["token"]

    def access_token(self, shop: Shop) -> str:  # pragma: no cover — each platform's grant
        raise NotImplementedError

    def with_token(self, shop: Shop, send: Callable[[str], T]) -> T:
        """``send(token)``; a ``token`` ChannelError expires the cached token and the call is sent
        once more with a new one (a second token error is raised: no loop)."""
        for retried in (False, True):
            token = self.access_token(shop)
            try:
                return send(token)
            except ChannelError as e:
                if e.kind != "token":
                    raise
                self._token_memo.pop(shop.shop_id, None)
                self.tokens(shop).expire(token)
                if retried:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def images_key(self, shop: Shop, spu_code: str) -> tuple[str, str]:
        """The item of a product's re-hosted images on ``shop``: the publish stage reads it with the
        product and hands its map over as ``product["hosted_images"]`` (one read fewer)."""
        return image_key(self.channel, shop.shop_id, spu_code)

    def hosted_images(self, shop: Shop, product: dict[str, Any], content_keys: list[str]) -> dict[str, str]:
        """The platform's URL of each of a product's renditions (content keys): uploaded once per
        shop, product and content (``ImageCache.urls``) through the platform's ``upload_image``.
        ``product["hosted_images"]``, when there, is the map as the caller just read it."""
        return ImageCache(self.deps.store, self.channel, shop.shop_id, str(product["spu_code"])).urls(
            content_keys, lambda key: self.upload_image(shop, key), at=self.at(),
            known=product.get("hosted_images"))

    def upload_image(self, shop: Shop, content_key: str) -> str:  # pragma: no cover — each platform's API
        raise NotImplementedError

    def resume(self, shop: Shop, spu_code: str, listing: dict | None,
               find: Callable[[], str | None]) -> tuple[AttemptLog, dict[str, Any], str]:
        """(attempt log, what it holds, the platform product id or ""). An add whose answer was
        lost (the log says ``adding`` without an id, or the listing is ``submitted`` without one)
        is looked up first (``find()``: the platform's id of our product, or None), so a retry
        never creates a second listing."""
        log = AttemptLog(self.deps.store, self.channel, shop.shop_id, spu_code)
        # No listing yet: this is the product's first send to this shop (publish writes the
        # listing before it calls the adapter, so any earlier attempt left one): nothing to read.
        att = log.read() if listing else {}
        pid = platform_id((listing or {}).get("platform_product_id")) or att.get("platform_product_id") or ""
        if not pid and self.add_may_have_landed(att, listing):
            found = find()
            if found:
                pid = found
                log.record(platform_product_id=pid, step="saved", body_hash="")
                att = log.read()
        return log, att, pid

    @staticmethod
    def add_may_have_landed(att: dict[str, Any], listing: dict | None = None) -> bool:
        """Whether an add was sent whose answer we do not have: the attempt log says ``adding``
        (it is written just before the add is sent, and kept). A listing ``submitted`` whose log
        never got there (a failure while its images were uploaded) sent no add: there is nothing
        to look for, and on WeChat looking means scanning the shop."""
        return att.get("step") == "adding"

    def reading(self, call: Callable[[], T], *, tries: int = 3, delay_s: float = 0.2) -> T:
        """An idempotent read (a lookup, a product's detail, a list page), tried again at once on
        a transient answer (5xx, time-out, "system busy"), as the platforms' SDKs do, before the
        attempt fails as a whole: a lookup that scans a shop makes many reads, and one failed read
        would otherwise fail them all. Writes are never repeated here (an add's answer may be
        lost: the attempt log decides), nor quota answers (those wait)."""
        for n in range(tries):
            try:
                return call()
            except ChannelError as e:
                if e.kind != "transient" or n == tries - 1:
                    raise
                self.sleep(delay_s * (2 ** n))
        raise AssertionError("unreachable")  # pragma: no cover

    def at(self) -> str:
        """The business clock's now (ISO), for the attempt log."""
        from shangjia.clock import iso

        return iso(self.deps.clock.now())


def lookup_answer(pid: str, state: str | None, reason: str = "") -> dict[str, Any] | None:
    """A port ``lookup`` answer: ``{"platform_product_id", "state", "reason"}`` (with
    ``reason_class`` for a rejection), or None when the product was never submitted."""
    if state is None:
        return None
    if state != "rejected":
        return {"platform_product_id": pid, "state": state, "reason": ""}
    from shangjia.channels import classify_reason

    return {"platform_product_id": pid, "state": state, "reason": reason, "reason_class": classify_reason(reason)}
