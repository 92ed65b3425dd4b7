"""fetch_url: download a merchant's image URL without becoming an SSRF proxy.

- https only (http only when the caller allows it); no credentials in the URL;
- the host is resolved once, every address it resolves to must be public (not private, loopback,
  link-local, multicast, reserved, shared/CGNAT, or an IPv4 address wrapped in IPv6), and the
  connection goes to that checked address (TLS still verifies the host name), so a second DNS
  answer cannot swap in an internal address (DNS rebinding);
- redirects are followed by hand, at most ``max_redirects``, each hop checked again;
- one deadline for the whole download, a byte cap (Content-Length and the bytes actually read),
  and the Content-Type must be an image.
Every refusal is a ``FindingError`` with a ``MEDIA_URL_*`` code. The deadline is read from
``clock`` (``time.monotonic`` by default; tests inject a fake one).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from typing import Callable, Sequence
from urllib.parse import urljoin, urlsplit

from shangjia.errors import FindingError, finding

Resolver = Callable[[str], Sequence[str]]
Clock = Callable[[], float]
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
USER_AGENT = "shangjia-media/1 (+product image fetcher)"


def default_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_allowed(addr: str, allowed_networks: Sequence[str] = ()) -> bool:
    """True for a public unicast address (or one inside an explicitly allowed network)."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    for net in allowed_networks:
        if ip in ipaddress.ip_network(net, strict=False):
            return True
    if ip.version == 6:
        inner = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None) or (ip.teredo[1] if ip.teredo else None)
        if inner is not None and not address_allowed(str(inner)):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local
                                 or ip.is_reserved or ip.is_unspecified)


def fetch_url(url: str, *, max_bytes: int, timeout_s: float, max_redirects: int = 3,
              resolver: Resolver | None = None, accept: Sequence[str] = ("image/",),
              allow_http: bool = False, allowed_networks: Sequence[str] = (),
              clock: Clock = time.monotonic) -> bytes:
    resolver = resolver or default_resolver
    deadline = clock() + timeout_s
    for _hop in range(max_redirects + 1):
        scheme, host, port, target = _check_url(url, allow_http)
        addr = _resolve(host, resolver, allowed_networks, deadline, timeout_s, clock)
        status, location, body = _get(scheme, host, port, target, addr, deadline, timeout_s, max_bytes, accept,
                                      clock)
        if status in _REDIRECTS:
            if not location:
                raise FindingError(finding("MEDIA_URL_HTTP_STATUS", value=url, status=status))
            url = urljoin(url, location)
            continue
        return body
    raise FindingError(finding("MEDIA_URL_REDIRECTS", value=url, limit=max_redirects))


def _check_url(url: str, allow_http: bool) -> tuple[str, str, int, str]:
    def bad(reason: str) -> FindingError:
        return FindingError(finding("MEDIA_URL_INVALID", value=url, reason=reason))

    if not isinstance(url, str) or len(url) > 4096 or any(c in url for c in "\r\n\t\x00 "):
        raise bad("malformed / 格式错误")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise bad("malformed / 格式错误") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or (scheme == "http" and not allow_http):
        raise bad(f"scheme {scheme or '?'} not allowed, use https / 只支持 https")
    if parts.username or parts.password:
        raise bad("credentials in URL / 链接中不能包含账号密码")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise bad("no host / 缺少域名")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), target


def _resolve(host: str, resolver: Resolver, allowed_networks: Sequence[str], deadline: float,
             timeout_s: float, clock: Clock = time.monotonic) -> str:
    try:
        ipaddress.ip_address(host)
        addrs = [host]
    except ValueError:
        try:
            addrs = _within(deadline, resolver, host, clock)
        except TimeoutError:
            raise FindingError(finding("MEDIA_URL_TIMEOUT", value=host, timeout_s=timeout_s)) from None
        except (OSError, UnicodeError) as e:
            raise FindingError(finding("MEDIA_URL_UNREACHABLE", value=host, reason=f"DNS: {e}"[:120])) from None
    if not addrs:
        raise FindingError(finding("MEDIA_URL_UNREACHABLE", value=host, reason="DNS: no address"))
    for a in addrs:                      # every answer must be public, not just the first
        if not address_allowed(a, allowed_networks):
            raise FindingError(finding("MEDIA_URL_FORBIDDEN", value=host, address=a))
    return addrs[0]


def _within(deadline: float, fn: Resolver, host: str, clock: Clock = time.monotonic) -> list[str]:
    """Run a (blocking) resolver within the download's deadline: getaddrinfo has no timeout."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["ok"] = list(fn(host))
        except BaseException as e:  # noqa: BLE001 - handed back to the caller's thread
            box["err"] = e

    t = threading.Thread(target=run, name="resolve", daemon=True)
    t.start()
    t.join(max(0.0, deadline - clock()))
    if t.is_alive():
        raise TimeoutError(host)
    if "err" in box:
        raise box["err"]  # type: ignore[misc]
    return box["ok"]  # type: ignore[return-value]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addr: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addr = addr

    def connect(self) -> None:
        self.sock = socket.create_connection((self._addr, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addr: str, timeout: float) -> None:
        self._ctx = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._ctx)
        self._addr = addr

    def connect(self) -> None:
        sock = socket.create_connection((self._addr, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def _get(scheme: str, host: str, port: int, target: str, addr: str, deadline: float, timeout_s: float,
         max_bytes: int, accept: Sequence[str], clock: Clock = time.monotonic) -> tuple[int, str | None, bytes]:
    remaining = deadline - clock()
    if remaining <= 0:
        raise FindingError(finding("MEDIA_URL_TIMEOUT", value=host, timeout_s=timeout_s))
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    conn = cls(host, port, addr, timeout=remaining)
    try:
        conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "image/*",
                                             "Accept-Encoding": "identity"})
        resp = conn.getresponse()
        if resp.status in _REDIRECTS:
            return resp.status, resp.getheader("Location"), b""
        if resp.status != 200:
            raise FindingError(finding("MEDIA_URL_HTTP_STATUS", value=host, status=resp.status))
        ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if not any(ctype.startswith(a) for a in accept) or "svg" in ctype:
            raise FindingError(finding("MEDIA_URL_CONTENT_TYPE", value=host, content_type=ctype or "none"))
        length = resp.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > max_bytes:
            raise FindingError(finding("MEDIA_URL_TOO_LARGE", value=host, limit_mb=round(max_bytes / 2**20, 1)))
        chunks: list[bytes] = []
        got = 0
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                raise FindingError(finding("MEDIA_URL_TIMEOUT", value=host, timeout_s=timeout_s))
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            chunk = resp.read1(_CHUNK) if hasattr(resp, "read1") else resp.read(_CHUNK)
            if not chunk:
                break
            got += len(chunk)
            if got > max_bytes:
                raise FindingError(finding("MEDIA_URL_TOO_LARGE", value=host, limit_mb=round(max_bytes / 2**20, 1)))
            chunks.append(chunk)
        return 200, None, b"".join(chunks)
    except FindingError:
        raise
    except (socket.timeout, TimeoutError):
        raise FindingError(finding("MEDIA_URL_TIMEOUT", value=host, timeout_s=timeout_s)) from None
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        raise FindingError(finding("MEDIA_URL_UNREACHABLE", value=host, reason=f"{type(e).__name__}: {e}"[:120])) from None
    finally:
        conn.close()
