"""A loopback HTTP server in front of the local cloud's functions, as API Gateway's HTTP API
(payload format 2.0) is in front of them on AWS: each request becomes the event a Lambda
proxy integration receives and the function's answer becomes the HTTP response.

    gw = Gateway(cloud.runtime, {("POST", "/callbacks/wechat"): "channel_callbacks",
                                 ("ANY", "/api"): "api"}, meter=cloud.meter)
    gw.start(); gw.url  ->  http://127.0.0.1:PORT

Routes: ``(method, path prefix) -> function key``; ``method`` may be ``ANY``. The longest prefix
that matches on a segment boundary wins. An exact match has route key ``"POST /callbacks/wechat"``;
a longer path ``"ANY /api/{proxy+}"`` with ``pathParameters.proxy`` = the rest (as a greedy
proxy route). No route: 404 ``{"message":"Not Found"}``; the function raised: 500
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
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

ACCOUNT = "123456789012"
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


class Invoker(Protocol):
    def invoke(self, key: str, event: dict[str, Any]) -> Any: ...


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return any(t in ct for t in _TEXT_TYPES)


class Gateway:
    def __init__(self, runtime: Invoker, routes: dict[tuple[str, str], str], *, port: int = 0,
                 api_id: str = "local", stage: str = "$default", meter: Any = None,
                 integration_timeout_s: float = 30.0) -> None:
        self.runtime = runtime
        self.routes = {(m.upper(), "/" + p.strip("/")): k for (m, p), k in routes.items()}
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

    # --- routing ---------------------------------------------------------------------------------
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
              route_key: str, rest: str | None, source_ip: str = "127.0.0.1") -> dict[str, Any]:
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
        if rest is not None:
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
        m = self.match(method, path)
        if m is None:
            return 404, [("Content-Type", "application/json")], b'{"message":"Not Found"}'
        key, route_key, rest = m
        ev = self.event(method, target, headers, body, route_key, rest, source_ip)
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
