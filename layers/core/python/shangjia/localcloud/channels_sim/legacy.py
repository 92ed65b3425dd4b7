"""(Legacy, moved here from localcloud/channels_sim.py.) Simulated sales-channel endpoints on loopback (WeChat channels shop, Douyin shop), with knobs
for latency, error rate and rate limiting, so publishing's retries are exercised for real."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChannelSimulator:
    def __init__(self, *, latency_s: float = 0.0, error_rate: float = 0.0, seed: int = 7) -> None:
        self.latency_s, self.error_rate = latency_s, error_rate
        self.rng = random.Random(seed)
        self.listings: dict[tuple[str, str], dict] = {}
        self.delisted: dict[tuple[str, str], set[str]] = {}    # (channel, merchant:spu) -> SKU codes
        self.calls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1 << 20))
                parts = self.path.strip("/").split("/")
                with sim._lock:
                    sim.calls += 1
                    fail = sim.rng.random() < sim.error_rate
                if sim.latency_s:
                    time.sleep(sim.latency_s)
                if len(parts) != 3 or parts[1:] not in (["product", "add"], ["sku", "delist"]):
                    return self._reply(404, {"errcode": 404, "errmsg": "no such api"})
                if fail:
                    return self._reply(503, {"errcode": 503, "errmsg": "system busy"})
                try:
                    doc = json.loads(body)
                except ValueError:
                    return self._reply(400, {"errcode": 400, "errmsg": "bad json"})
                if parts[1:] == ["sku", "delist"]:
                    who = f"{doc.get('merchant_id')}:{doc.get('out_product_id')}"
                    with sim._lock:
                        sim.delisted.setdefault((parts[0], who), set()).update(doc.get("out_sku_ids") or [])
                    return self._reply(200, {"errcode": 0})
                key = self.headers.get("Idempotency-Key") or doc.get("out_product_id", "")
                item_id = f"{parts[0]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
                with sim._lock:
                    sim.listings[(parts[0], key)] = doc
                return self._reply(200, {"errcode": 0, "item_id": item_id})

            def _reply(self, code, doc):
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="channels", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
