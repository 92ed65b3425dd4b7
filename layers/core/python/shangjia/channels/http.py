"""The one small HTTP client the channel adapters share: JSON over urllib, a time-out on every
call, and the one place where HTTP and transport failures become ``ChannelError`` kinds.

- no answer (refused, reset, DNS, time-out), a 5xx, a 200 whose body is not JSON: ``transient``
- 429: ``quota`` (``retry_after_s`` from ``Retry-After`` when given, else 60 s)
- another 4xx: ``permanent`` (platform_code ``HTTP_<status>``)

The platform's own envelope (WeChat ``errcode``, Douyin ``code``) is the adapter's to read.
JSON is parsed with ``json.loads``: integers stay exact ``int`` (a 19-digit id is never a float);
``platform_id`` turns one into the ``str`` every platform id is kept as.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from shangjia.channels import ChannelError

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
