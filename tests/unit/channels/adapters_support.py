"""What the adapter tests share: a state table on moto (in process), an in-memory secrets port,
a product as validate + media leave it, and a tiny scripted HTTP server for the cases the
simulators do not stage (a gateway that always refuses the token, a 503, a body that is not JSON)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from shangjia.ports import SecretNotFound


class Clock:
    """An injected clock (epoch seconds) a test moves by hand."""

    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


class MemorySecrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SecretNotFound(name)
        return self.values[name]

    def put(self, name: str, value: str, *, description: str = "") -> None:
        self.values[name] = value


@pytest.fixture(name="deps")
def deps_fixture(monkeypatch):
    """Deps on a bare state table (moto) and in-memory secrets."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for k, v in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SHANGJIA_MEDIA_BASE_URL", "https://media.example.test")
    with mock_aws():
        import boto3

        from shangjia.adapters.aws import DynamoStore, reset_clients
        from shangjia.channels.credentials import forget_shops
        from shangjia.pipeline.deps import Deps
        from shangjia.topology import env_name

        reset_clients()
        forget_shops()
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="t-state", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        monkeypatch.setenv(env_name("table", "state"), "t-state")
        yield Deps(store=DynamoStore(), secrets=MemorySecrets())
        reset_clients()
        forget_shops()


def product(spu: str = "SPU-TEE-001", *, gallery: int = 2, price_fen: int = 9900) -> dict:
    """``channels.channel_product(item)`` of a T-shirt (our leaf 010102), two sizes."""
    images = {"main": ["tee-main.jpg"], "gallery": [f"tee-g{i}.jpg" for i in range(gallery)],
              "detail": ["tee-detail.jpg"]}
    media = {}
    for slot, refs in images.items():
        for i, ref in enumerate(refs):
            sha = hashlib.sha256(f"{spu}|{ref}".encode()).hexdigest()
            media[f"{slot}#{i:02d}"] = {"ok": True, "renditions": [
                {"name": slot, "key": f"r/{sha}/p1/{slot}.webp", "width": 800, "height": 800},
                {"name": "thumb", "key": f"r/{sha}/p2/thumb.webp", "width": 240, "height": 240}]}
    return {
        "spu_code": spu, "title": "纯棉圆领短袖T恤 夏季新款", "category": "服饰鞋包/女装/T恤", "category_id": "010102",
        "brand": "无品牌", "material": "棉", "origin": "中国大陆", "description": "舒适透气的纯棉T恤",
        "return_policy": "支持7天无理由退货",
        "skus": [{"sku_code": f"{spu}-W-M", "price_fen": price_fen, "market_price_fen": 12900, "stock": 10,
                  "spec": {"颜色": "白色", "尺码": "M"}},
                 {"sku_code": f"{spu}-W-L", "price_fen": price_fen, "market_price_fen": 12900, "stock": 7,
                  "spec": {"颜色": "白色", "尺码": "L"}}],
        "images": images, "media": media,
    }


class Scripted:
    """A loopback server answering from ``answer(path, query, body) -> (status, body bytes | dict)``;
    every request is kept in ``seen`` as (path, query, raw body)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str], bytes, dict[str, str]]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                parts = urlsplit(self.path)
                q = dict(parse_qsl(parts.query, keep_blank_values=True))
                outer.seen.append((parts.path, q, body, {k.lower(): v for k, v in self.headers.items()}))
                status, doc = outer.answer(parts.path, q, body)
                raw = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self) -> list[str]:
        return [p for p, *_ in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DictStore:
    """Just enough of the store port for a token cache in one thread (the scripted-server test)."""

    def __init__(self):
        self.items = {}

    def get(self, pk, sk, *, consistent=True):
        return dict(self.items[(pk, sk)]) if (pk, sk) in self.items else None

    def update(self, pk, sk, expression, *, condition=None, names=None, values=None, return_new=False):
        item = self.items.setdefault((pk, sk), {"pk": pk, "sk": sk})
        names, values = names or {}, values or {}
        sets, _, removes = expression.partition(" REMOVE ")
        if sets.startswith("REMOVE "):
            sets, removes = "", sets[len("REMOVE "):]
        for part in sets[len("SET "):].split(",") if sets else []:
            k, v = (x.strip() for x in part.split("="))
            item[names.get(k, k)] = values[v] if v in values else item.get("rev", 0) + 1
        for k in removes.split(",") if removes else []:
            item.pop(k.strip(), None)

    def put(self, item, **kw):
        self.items[(item["pk"], item["sk"])] = dict(item)


class AtomicStore:
    """The store with every call serialised: DynamoDB applies a conditional write to an item
    atomically; moto (in process, threads) checks and writes without a lock, so a race test on it
    would test moto. Wraps ``deps.store`` for the tests that race threads."""

    def __init__(self, store) -> None:
        self._store = store
        self._lock = threading.Lock()

    def __getattr__(self, name):
        fn = getattr(self._store, name)

        def call(*a, **kw):
            with self._lock:
                return fn(*a, **kw)
        return call
