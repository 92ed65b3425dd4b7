"""What both platform simulators share: a loopback HTTP server, the per-run knobs, deterministic
fault injection, the listing store keyed by (shop, merchant's out id), asynchronous audits and
the verdict pushes (lost, duplicated, reordered on demand).

Determinism: every random decision is drawn from ``Random(f"{seed}|{kind}|{key}|{n}")`` where
``key`` names what is decided (the request's path and body, the product and its n-th audit
submission), so a run's outcomes do not depend on how threads interleave; a retry of the same
request is the next ``n`` and draws again.
"""

from __future__ import annotations


import copy
import hashlib
import json
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

REJECT_REASONS = ("image", "title", "category", "qualification", "price", "other")


@dataclass
class Knobs:
    """Per-run behaviour of a simulated platform. Mutable while it runs (tests flip them)."""

    latency_s: float = 0.0             # added to every request
    error_5xx_rate: float = 0.0        # HTTP 502/503 from the platform's gateway; nothing is written
    rate_429_rate: float = 0.0         # HTTP 429 with the platform's rate-limit envelope; nothing is written
    busy_rate: float = 0.0             # HTTP 200 "system busy" (WeChat errcode -1, Douyin code 20000); nothing written
    timeout_rate: float = 0.0          # the write IS applied, then the answer comes after ``timeout_sleep_s``
    fail_next: int = 0                 # the next n requests answer HTTP 503, whatever the draws (an outage's start)
    timeout_sleep_s: float = 15.0      # longer than the adapters' timeout (Douyin's SDK default is 12 s)
    audit_delay_s: float = 0.05        # submission → verdict
    audit_reject_rate: float = 0.0
    reject_reasons: dict[str, float] = field(default_factory=lambda: {r: 1.0 for r in REJECT_REASONS})
    callback_loss_rate: float = 0.0    # verdict never pushed (still visible through product/get, product/detail)
    callback_dup_rate: float = 0.0     # verdict pushed twice
    callback_reorder_rate: float = 0.0  # verdict pushed ``reorder_delay_s`` late (a later verdict overtakes it)
    reorder_delay_s: float = 0.5
    callback_timeout_s: float = 5.0
    # A push not answered 2xx within the timeout (a time-out, a 5xx, the receiver down) is sent
    # again, as both platforms re-deliver unanswered messages (WeChat: three retries after its 5 s
    # wait); ``callback_loss_rate`` models a verdict that is never pushed at all.
    push_retries: int = 3
    push_retry_delay_s: float = 1.0    # doubles with each retry
    # WeChat: audit submissions per shop (add/update with listing=1, product/listing), errcode 1002001
    audit_quota_hour: int = 200
    audit_quota_day: int = 1000
    # WeChat: business calls per shop per API per minute, errcode 45011 (None: no limit)
    minute_limit: int | None = None
    # Douyin: product/addV2 pics must come from material/uploadImageSync
    douyin_require_material_urls: bool = True
    # Douyin: reject a ``timestamp`` further than this from the simulator's clock (None: no check)
    douyin_max_skew_s: float | None = None
    seed: int = 7


CHINA = timezone(timedelta(hours=8))


def cst_time(t: float) -> str:
    """Epoch seconds as the platforms print times: ``YYYY-MM-DD HH:MM:SS`` in China time."""
    return datetime.fromtimestamp(t, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def is_int(v: Any) -> bool:
    """A JSON integer (not a bool, not a float): what the platforms want for prices and counts."""
    return isinstance(v, int) and not isinstance(v, bool)


def reason_text(reason: str) -> str:
    return {"image": "商品图片不符合规范 (image)", "title": "商品标题不符合规范 (title)",
            "category": "类目选择错误 (category)", "qualification": "缺少资质 (qualification)",
            "price": "价格异常 (price)", "other": "其他原因 (other)"}.get(reason, reason)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]          # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else {}


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def of(cls, doc: Any, status: int = 200) -> "Reply":
        return cls(status, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass
class Push:
    """One delivery attempt of a verdict to a registered callback URL."""

    shop: str
    product_id: int
    url: str
    body: bytes
    headers: dict[str, str]
    verdict: str                     # approved | rejected
    copy: int = 1                    # 2 for the duplicate
    attempt: int = 1                 # 2.. for the platform's re-deliveries of an unanswered push
    status: int | None = None        # the receiver's HTTP status (None: unreachable)
    answer: bytes = b""
    at: float = 0.0


class SimServer:
    """Base of the WeChat and Douyin simulators."""

    name = "sim"
    # the audit's fields and codes on a product record (each platform names them its own way)
    audit_field = "audit_status"
    reason_field = "audit_reason"
    AUDITING, APPROVED, REJECTED = "auditing", "approved", "rejected"
    LISTED = "listed"                                    # ``status`` once approved

    def __init__(self, knobs: Knobs | None = None, *, clock: Callable[[], float] | None = None) -> None:
        self.knobs = knobs or Knobs()
        self.clock = clock or time.time
        self.lock = threading.RLock()
        self.calls = 0                                   # every HTTP request received
        self.requests: list[tuple[str, str]] = []        # (path, outcome) in arrival order
        self.products: dict[int, dict[str, Any]] = {}    # product_id -> record
        self.by_out: dict[tuple[str, str], list[int]] = {}  # (shop, out id) -> product ids, creation order
        self.pushes: list[Push] = []                     # deliveries attempted
        self.lost: list[dict[str, Any]] = []             # verdicts never pushed
        self.audits: list[dict[str, Any]] = []           # verdicts decided
        self.orders: dict[str, dict[str, Any]] = {}       # order id (str) -> buyer's order (place_order)
        self.tokens: dict[str, dict[str, Any]] = {}       # access token -> {..., "expires": epoch s}
        self._counters: dict[tuple, int] = {}
        self._timers: set[threading.Timer] = set()
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()
        self.url = ""

    # --- deterministic draws ----------------------------------------------------------------
    def draw(self, kind: str, key: Any) -> random.Random:
        with self.lock:
            k = (kind, repr(key))
            n = self._counters.get(k, 0)
            self._counters[k] = n + 1
        return random.Random(f"{self.knobs.seed}|{self.name}|{kind}|{key!r}|{n}")

    def new_id(self, kind: str, key: Any) -> int:
        """A 19-digit platform id (above 2**53: JSON number that a float would round)."""
        while True:
            i = self.draw(kind, key).randrange(10**18, 9 * 10**18)
            with self.lock:
                if i not in self.products:
                    return i

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                reply, sleep_after = sim.serve(req)
                if sleep_after:
                    if sim._stopped.wait(sleep_after):
                        return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:          # the client gave up (time-out): the write stands
                    pass

            do_POST = do_GET = _serve   # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"sim-{self.name}", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._stopped.set()
        with self.lock:
            timers, self._timers = list(self._timers), set()
        for t in timers:
            t.cancel()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- request path -------------------------------------------------------------------------
    def serve(self, req: Request) -> tuple[Reply, float]:
        """(reply, seconds to wait before sending it). Faults first, then the platform."""
        with self.lock:
            self.calls += 1
            forced = self.knobs.fail_next > 0
            if forced:
                self.knobs = replace(self.knobs, fail_next=self.knobs.fail_next - 1)
        k = self.knobs
        if k.latency_s:
            time.sleep(k.latency_s)
        u = self.draw("fault", (req.path, hashlib.sha256(req.body).hexdigest()[:16],
                                tuple(sorted((a, b) for a, b in req.query.items()
                                             if a not in ("sign", "timestamp"))))).random()
        edges = (("5xx", k.error_5xx_rate), ("429", k.rate_429_rate), ("busy", k.busy_rate),
                 ("timeout", k.timeout_rate))
        fault, acc = ("5xx" if forced else None), 0.0
        for name, rate in edges if not forced else ():
            acc += rate
            if u < acc:
                fault = name
                break
        if fault == "5xx":
            self._log(req, "5xx")
            return Reply(503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                         "text/html"), 0.0
        if fault == "429":
            self._log(req, "429")
            r = self.rate_limited_reply()
            return Reply(429, r.body), 0.0
        if fault == "busy":
            self._log(req, "busy")
            return self.busy_reply(), 0.0
        try:
            reply = self.handle(req)
        except Exception as e:  # noqa: BLE001 — a simulator bug answers like a platform error
            self._log(req, f"error {type(e).__name__}: {e}")
            return Reply(500, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode()), 0.0
        self._log(req, "timeout" if fault == "timeout" else "ok")
        return reply, (k.timeout_sleep_s if fault == "timeout" else 0.0)

    def _log(self, req: Request, outcome: str) -> None:
        with self.lock:
            self.requests.append((req.path, outcome))

    # subclasses
    def handle(self, req: Request) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def rate_limited_reply(self) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def busy_reply(self) -> Reply:  # pragma: no cover
        raise NotImplementedError

    # --- listings ---------------------------------------------------------------------------------
    def add_product(self, shop: str, out_id: str, record: dict[str, Any]) -> int:
        pid = self.new_id("product_id", (shop, out_id))
        with self.lock:
            record.update(product_id=pid, shop=shop, out_id=out_id, submissions=0,
                          created_at=self.clock(), updated_at=self.clock())
            self.products[pid] = record
            self.by_out.setdefault((shop, out_id), []).append(pid)
        return pid

    @property
    def listings(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """(shop, out id) -> the products created for it (more than one: a duplicate listing)."""
        with self.lock:
            return {k: [self.products[p] for p in v] for k, v in self.by_out.items()}

    def duplicates(self) -> dict[tuple[str, str], int]:
        with self.lock:
            return {k: len(v) for k, v in self.by_out.items() if len(v) > 1}

    # --- audits -------------------------------------------------------------------------------
    def submit_audit(self, pid: int) -> int:
        """The product's draft enters audit; a timer decides. Returns the submission number."""
        with self.lock:
            rec = self.products[pid]
            rec["submissions"] += 1
            n = rec["submissions"]
            rec["submit_time"] = self.clock()
        self.on_submitted(rec)
        self._later(self.knobs.audit_delay_s, self._audit, pid, n)
        return n

    def _later(self, delay: float, fn, *args) -> None:
        if self._stopped.is_set():
            return

        def run():
            try:
                if not self._stopped.is_set():
                    fn(*args)
            finally:
                with self.lock:
                    self._timers.discard(t)

        t = threading.Timer(max(0.0, delay), run)
        t.daemon = True
        with self.lock:
            self._timers.add(t)
        t.start()

    def _audit(self, pid: int, n: int) -> None:
        k = self.knobs
        with self.lock:
            rec = self.products[pid]
            if rec["submissions"] != n:          # re-submitted since: that submission decides
                return
            rng = self.draw("audit", (rec["shop"], rec["out_id"], pid, n))
            rejected = rng.random() < k.audit_reject_rate
            reason = None
            if rejected:
                reasons = [(r, w) for r, w in (k.reject_reasons or {}).items() if w > 0] or [("other", 1.0)]
                reason = rng.choices([r for r, _ in reasons], weights=[w for _, w in reasons])[0]
            verdict = "rejected" if rejected else "approved"
            self.apply_verdict(rec, verdict, reason)
            rec["audit_time"] = self.clock()
            self.audits.append({"shop": rec["shop"], "out_id": rec["out_id"], "product_id": pid,
                                "submission": n, "verdict": verdict, "reason": reason})
        self._push_verdict(rec, verdict, reason, n)

    def _push_verdict(self, rec: dict[str, Any], verdict: str, reason: str | None, n: int) -> None:
        k = self.knobs
        rng = self.draw("callback", (rec["shop"], rec["product_id"], n))
        lose, dup, late = rng.random(), rng.random(), rng.random()
        target = self.callback_for(rec["shop"])
        info = {"shop": rec["shop"], "product_id": rec["product_id"], "verdict": verdict, "submission": n}
        if target is None:
            with self.lock:
                self.lost.append({**info, "why": "no callback registered"})
            return
        if lose < k.callback_loss_rate:
            with self.lock:
                self.lost.append({**info, "why": "lost"})
            return
        url, body, headers = self.build_push(rec, verdict, reason)
        delay = k.reorder_delay_s if late < k.callback_reorder_rate else 0.0
        copies = 2 if dup < k.callback_dup_rate else 1
        for c in range(copies):
            push = Push(rec["shop"], rec["product_id"], url, body, headers, verdict, copy=c + 1)
            self._later(delay + c * 0.01, self._deliver, push)

    def _deliver(self, push: Push) -> None:
        req = urllib.request.Request(push.url, data=push.body, method="POST",
                                     headers={"Content-Type": "application/json", **push.headers})
        push.at = self.clock()
        try:
            with urllib.request.urlopen(req, timeout=self.knobs.callback_timeout_s) as r:  # noqa: S310 — loopback
                push.status, push.answer = r.status, r.read()
        except urllib.error.HTTPError as e:
            push.status, push.answer = e.code, e.read()
        except (urllib.error.URLError, OSError):
            push.status = None
        with self.lock:
            self.pushes.append(push)
        if (push.status is None or push.status >= 500) and push.attempt <= self.knobs.push_retries:
            again = replace(push, attempt=push.attempt + 1, status=None, answer=b"", at=0.0)
            self._later(self.knobs.push_retry_delay_s * 2 ** (push.attempt - 1), self._deliver, again)

    def callback_for(self, shop: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def build_push(self, rec: dict[str, Any], verdict: str, reason: str | None
                   ) -> tuple[str, bytes, dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    def on_submitted(self, rec: dict[str, Any]) -> None:
        rec[self.audit_field] = self.AUDITING
        rec[self.reason_field] = ""

    def apply_verdict(self, rec: dict[str, Any], verdict: str, reason: str | None) -> None:
        """Approved: the draft goes online (listed); rejected: the reason, in the platform's words."""
        if verdict == "approved":
            rec[self.audit_field] = self.APPROVED
            rec["online"] = copy.deepcopy(rec["draft"])
            rec["status"] = self.LISTED
            rec[self.reason_field] = ""
        else:
            rec[self.audit_field] = self.REJECTED
            rec[self.reason_field] = reason_text(reason or "other")
            rec["reject_code"] = reason

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now (tests)."""
        with self.lock:
            for rec in self.tokens.values():
                rec["expires"] = min(rec["expires"], self.clock())

    # --- orders: a buyer orders on the platform, which pushes the order events -------------------
    def place_order(self, shop: str, lines: list[tuple[Any, str, int]], *, push: bool = True,
                    order_id: str | None = None) -> str:
        """A buyer's order in ``shop``: ``lines`` are (platform product id, our SKU code, qty).
        The platform's own stock copy drops (never below 0: the simulator stands for a platform
        whose copy lags ours, so it does not refuse). With ``push``, the order-created event is
        pushed to the callback at once (``push_order``). Returns the platform's order id (str)."""
        with self.lock:
            n = len(self.orders)
        oid = order_id or str(self.draw("order_id", (shop, n)).randrange(10**18, 9 * 10**18))
        resolved = []
        with self.lock:
            for pid, code, qty in lines:
                rec = self.products.get(int(pid))
                if rec is None or str(rec["shop"]) != str(shop):
                    raise KeyError(f"no product {pid} in shop {shop}")
                sid = self.sku_id_of(rec, code)
                if sid is None:
                    raise KeyError(f"product {pid} has no SKU {code}")
                rec["stock"][sid] = max(0, rec["stock"].get(sid, 0) - int(qty))
                resolved.append({"product_id": rec["product_id"], "out_product_id": rec["out_id"],
                                 "sku_id": sid, "code": str(code), "qty": int(qty)})
            self.orders[oid] = {"order_id": oid, "shop": str(shop), "lines": resolved, "status": "created",
                                "created_at": self.clock(), "events": []}
        if push:
            self.push_order(oid, "created")
        return oid

    def order_push(self, order_id: str, event: str) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, headers) of the platform's push for ``event`` ("created" | "paid" |
        "cancelled" | "refunded") of the order, signed as the platform signs; the order's status
        moves. The same push can be delivered again (a platform retry) byte for byte."""
        with self.lock:
            order = self.orders[order_id]
            order["status"] = event
            order["events"].append(event)
        target = self.callback_for(order["shop"])
        if target is None:
            raise KeyError(f"shop {order['shop']} has no callback URL")
        return self.build_order_push(order, event)

    def push_order(self, order_id: str, event: str) -> Push:
        """Build the push and deliver it now (synchronously); the delivery is recorded."""
        url, body, headers = self.order_push(order_id, event)
        push = Push(self.orders[order_id]["shop"], 0, url, body, headers, f"order:{event}")
        self._deliver(push)
        return push

    def order_detail(self, order_id: str) -> dict[str, Any] | None:
        with self.lock:
            o = self.orders.get(str(order_id))
            return None if o is None else {**o, "lines": [dict(x) for x in o["lines"]]}

    def sku_id_of(self, rec: dict[str, Any], code: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def build_order_push(self, order: dict[str, Any], event: str
                         ) -> tuple[str, bytes, dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Until every pending audit and push has run (tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if not self._timers:
                    return True
            time.sleep(0.01)
        return False
