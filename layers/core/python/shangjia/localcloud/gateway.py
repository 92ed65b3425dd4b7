"""A loopback HTTP server in front of the local cloud's functions, as API Gateway's HTTP API
(payload format 2.0) is in front of them on AWS: each request becomes the event a Lambda
proxy integration receives and the function's answer becomes the HTTP response.

    gw = Gateway(cloud.runtime, {("POST", "/callbacks/wechat"): "channel_callbacks",
                                 ("ANY", "/api"): "api"}, meter=cloud.meter)
    gw.start(); gw.url  ->  http://127.0.0.1:PORT

Routes: either ``Route``s as the topology declares them (``Gateway.from_topology``: every
function's ``http_routes`` with its ``http_auth``), matched as API Gateway matches them — literal
segments, ``{name}`` one segment, ``{name+}`` the greedy rest; the most specific route wins — or
the older ``(method, path prefix) -> function key`` dict, where the longest prefix that matches on
a segment boundary wins, an exact match has route key ``"POST /callbacks/wechat"`` and a longer
path ``"ANY /api/{proxy+}"`` with ``pathParameters.proxy`` = the rest. ``method`` may be ``ANY``.

A ``jwt`` route runs the ``authorizer`` first (``localcloud/authorizer.py``: what API Gateway's
JWT authorizer checks); a missing or invalid token is 401 ``{"message":"Unauthorized"}`` and the
function is not invoked; a valid one puts its claims in ``requestContext.authorizer.jwt``.
No route: a ``GET``/``HEAD`` is served from ``web_root`` when there is one (the file, else
``index.html``: a single-page app), else 404 ``{"message":"Not Found"}``; the function raised: 500
``{"message":"Internal Server Error"}``; it ran past ``integration_timeout_s`` (API Gateway's
30 s): 503 ``{"message":"Service Unavailable"}``.

Event: ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``, ``cookies``, ``headers``
(lower-cased, repeated headers joined with ``,``), ``queryStringParameters`` (repeated values
joined with ``,``), ``pathParameters``, ``requestContext`` (``accountId``, ``apiId``,
``domainName``, ``domainPrefix``, ``http{method, path, protocol, sourceIp, userAgent}``,
``requestId``, ``routeKey``, ``stage``, ``time``, ``timeEpoch``), ``body`` (text as is; anything
else base64 with ``isBase64Encoded: true``). Answer: a dict with ``statusCode`` (``headers``,
``cookies``, ``body``, ``isBase64Encoded``), or anything else, which API Gateway sends as a 200
JSON body. The gateway prints nothing.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

ACCOUNT = "123456789012"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


class Invoker(Protocol):
    def invoke(self, key: str, event: dict[str, Any]) -> Any: ...


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return any(t in ct for t in _TEXT_TYPES)


_JSON = [("Content-Type", "application/json")]
UNAUTHORIZED = (401, [*_JSON, ("www-authenticate", "Bearer")], b'{"message":"Unauthorized"}')
NOT_FOUND = (404, _JSON, b'{"message":"Not Found"}')
# Types the browser must get right (mimetypes' table depends on the machine's /etc/mime.types)
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
                  ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".ico": "image/x-icon",
                  ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8", ".map": "application/json",
                  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Route:
    """One route as the topology declares it: ``"POST /auth/login"`` of function ``key``."""
    method: str
    path: str               # a template: "/api/{proxy+}", "/erp/v1/products", "/orders/{channel}"
    key: str
    auth: str = "none"      # "jwt" | "signature" | "none" (topology.HTTP_AUTH)

    @classmethod
    def parse(cls, route_key: str, key: str, auth: str = "none") -> "Route":
        method, _, path = route_key.partition(" ")
        if not path.startswith("/"):
            raise ValueError(f"route {route_key!r} must be '<METHOD> /path'")
        return cls(method.upper(), path, key, auth)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` matches ({} for a literal route), else None."""
        want = [s for s in self.path.split("/") if s]
        got = [s for s in path.split("/") if s]
        params: dict[str, str] = {}
        for i, seg in enumerate(want):
            if seg.startswith("{") and seg.endswith("+}"):
                if len(got) <= i:
                    return None            # a greedy variable takes at least one segment
                params[seg[1:-2]] = "/".join(got[i:])
                return params
            if i >= len(got):
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = got[i]
            elif seg != got[i]:
                return None
        return params if len(got) == len(want) else None

    @property
    def rank(self) -> tuple:
        """API Gateway's order: literal routes before variables, more literal segments first,
        a greedy variable last; a route of the request's own method before ANY."""
        segs = [s for s in self.path.split("/") if s]
        literal = sum(1 for s in segs if not s.startswith("{"))
        return (literal == len(segs), literal, not any(s.endswith("+}") for s in segs), self.method != "ANY")


class Gateway:
    def __init__(self, runtime: Invoker, routes: dict[tuple[str, str], str] | Iterable[Route], *, port: int = 0,
                 api_id: str = "local", stage: str = "$default", meter: Any = None,
                 integration_timeout_s: float = 30.0,
                 authorizer: Callable[[str | None], dict[str, str]] | None = None,
                 web_root: Path | str | None = None) -> None:
        self.runtime = runtime
        if isinstance(routes, dict):
            self.routes = {(m.upper(), "/" + p.strip("/")): k for (m, p), k in routes.items()}
            self.table: list[Route] = []
        else:
            self.routes, self.table = {}, list(routes)
        # jwt routes: claims of a verified token, or raises (localcloud.authorizer.Unauthorized).
        # Without an authorizer a jwt route answers 401 to everyone: never open by default.
        self.authorizer = authorizer
        self.web_root = Path(web_root).resolve() if web_root else None
        self.port = port
        self.api_id = api_id
        self.stage = stage
        self.meter = meter
        self.integration_timeout_s = integration_timeout_s
        self.requests = 0
        self.events: list[dict[str, Any]] = []        # the last events built (tests), at most 100
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def add_route(self, method: str, prefix: str, key: str) -> None:
        with self._lock:
            self.routes[(method.upper(), "/" + prefix.strip("/"))] = key

    @classmethod
    def from_topology(cls, runtime: Invoker, topology, **kw) -> "Gateway":
        """Every function's ``http_routes``, each guarded by the function's ``http_auth``."""
        return cls(runtime, [Route.parse(r, fn.key, fn.http_auth) for fn in topology.functions
                             for r in fn.http_routes], **kw)

    # --- routing ---------------------------------------------------------------------------------
    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The topology route a request takes, and its path parameters."""
        best = None
        with self._lock:
            table = list(self.table)
        for r in table:
            if r.method not in (method.upper(), "ANY"):
                continue
            params = r.match(path)
            if params is not None and (best is None or r.rank > best[0].rank):
                best = (r, params)
        return best

    def match(self, method: str, path: str) -> tuple[str, str, str | None] | None:
        """(function key, route key, proxy rest or None) for the longest matching prefix."""
        best = None
        with self._lock:
            routes = list(self.routes.items())
        for (m, prefix), key in routes:
            if m not in (method.upper(), "ANY"):
                continue
            if prefix == "/":
                rest = path.lstrip("/")
            elif path == prefix or path == prefix + "/":
                rest = None
            elif path.startswith(prefix + "/"):
                rest = path[len(prefix) + 1:]
            else:
                continue
            rank = (len(prefix), m != "ANY")
            if best is None or rank > best[0]:
                best = (rank, key, m, prefix, rest or None)
        if best is None:
            return None
        _, key, m, prefix, rest = best
        route_key = f"{m} {prefix}" if rest is None else f"{m} {prefix.rstrip('/')}/{{proxy+}}"
        return key, route_key, rest

    # --- events --------------------------------------------------------------------------------------
    def event(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
              route_key: str, rest: str | None | dict[str, str], source_ip: str = "127.0.0.1") -> dict[str, Any]:
        parts = urlsplit(target)
        hdrs: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in headers:
            n = name.lower()
            if n == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            hdrs[n] = f"{hdrs[n]},{value}" if n in hdrs else value
        query: dict[str, str] = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v
        now = time.time()
        domain = (hdrs.get("host") or "localhost").split(":")[0]
        ev: dict[str, Any] = {
            "version": "2.0", "routeKey": route_key, "rawPath": parts.path, "rawQueryString": parts.query,
            "headers": hdrs,
            "requestContext": {
                "accountId": ACCOUNT, "apiId": self.api_id, "domainName": domain,
                "domainPrefix": domain.split(".")[0],
                "http": {"method": method.upper(), "path": parts.path, "protocol": "HTTP/1.1",
                         "sourceIp": source_ip, "userAgent": hdrs.get("user-agent", "")},
                "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": self.stage,
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000)},
            "isBase64Encoded": False,
        }
        if cookies:
            ev["cookies"] = cookies
        if query:
            ev["queryStringParameters"] = query
        if isinstance(rest, dict):
            if rest:
                ev["pathParameters"] = rest
        elif rest is not None:
            ev["pathParameters"] = {"proxy": rest}
        if body:
            text = None
            if _is_text(hdrs.get("content-type", "")):
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            if text is None:
                ev["body"], ev["isBase64Encoded"] = base64.b64encode(body).decode(), True
            else:
                ev["body"] = text
        return ev

    @staticmethod
    def response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        """The HTTP response API Gateway makes of a payload-2.0 function's answer."""
        if isinstance(result, dict) and "statusCode" in result:
            headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
            for k, vs in (result.get("multiValueHeaders") or {}).items():
                headers.extend((k, str(v)) for v in vs)
            headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
            body = result.get("body")
            if body is None:
                data = b""
            elif result.get("isBase64Encoded"):
                data = base64.b64decode(body)
            else:
                data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode()
            return int(result["statusCode"]), headers, data
        data = b"" if result is None else json.dumps(result, ensure_ascii=False).encode()
        return 200, [("Content-Type", "application/json")], data

    def dispatch(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                 source_ip: str = "127.0.0.1") -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.requests += 1
        path = urlsplit(target).path
        found = self.resolve(method, path)
        claims = None
        if found is not None:
            route, params = found
            key, route_key, rest = route.key, route.route_key, params
            if route.auth == "jwt":
                claims = self._authorize(headers)
                if claims is None:
                    return UNAUTHORIZED     # not billed by API Gateway: not metered
        else:
            m = self.match(method, path)
            if m is None:
                if method.upper() in ("GET", "HEAD") and self.web_root is not None:
                    return self.static(path)
                return NOT_FOUND
            key, route_key, rest = m
        ev = self.event(method, target, headers, body, route_key, rest, source_ip)
        if claims is not None:
            ev["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        with self._lock:
            self.events.append(ev)
            del self.events[:-100]
        box: dict[str, Any] = {}

        def run():
            try:
                box["result"] = self.runtime.invoke(key, ev)
            except Exception as e:  # noqa: BLE001 — any function error is a 500 to the caller
                box["error"] = e

        t = threading.Thread(target=run, name=f"gateway-{key}", daemon=True)
        t.start()
        t.join(self.integration_timeout_s)
        if t.is_alive():
            status, hdrs, data = 503, [("Content-Type", "application/json")], b'{"message":"Service Unavailable"}'
        elif "error" in box:
            status, hdrs, data = 500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
        else:
            status, hdrs, data = self.response(box.get("result"))
        if self.meter is not None:
            self.meter.request("apigateway", route_key, len(body), len(data), caller=key)
        return status, hdrs, data

    def _authorize(self, headers: list[tuple[str, str]]) -> dict[str, str] | None:
        from shangjia.localcloud.authorizer import Unauthorized

        if self.authorizer is None:
            return None
        values = [v for k, v in headers if k.lower() == "authorization"]
        if len(values) > 1:
            return None
        try:
            return self.authorizer(values[0] if values else None)
        except Unauthorized:
            return None

    # --- the web app ------------------------------------------------------------------------------
    def static(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """A file of ``web_root`` (the file, else ``index.html``), never anything outside it."""
        root = self.web_root
        rel = unquote(path)
        if "\x00" in rel or "\\" in rel or any(seg in ("..", ".") for seg in rel.split("/")):
            return NOT_FOUND          # dot segments (also %2e%2e once decoded), backslashes, NUL
        target = (root / rel.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            return NOT_FOUND          # a symlink or an absolute path out of the web root
        if not target.is_file():
            target = root / "index.html"
            if not target.is_file():
                return NOT_FOUND
        ctype = _CONTENT_TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0] \
            or "application/octet-stream"
        return 200, [("Content-Type", ctype), ("Cache-Control", "no-cache"),
                     ("X-Content-Type-Options", "nosniff")], target.read_bytes()

    # --- server -----------------------------------------------------------------------------------------
    def start(self) -> str:
        gw = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = gw.dispatch(self.command, self.path, list(self.headers.items()), body,
                                                    self.client_address[0])
                try:
                    self.send_response(status)
                    names = {k.lower() for k, _ in headers}
                    for k, v in headers:
                        if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                            self.send_header(k, v)
                    if "content-type" not in names and data:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="gateway", daemon=True).start()
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Gateway":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
