"""moto's server on loopback, in this process, behind a WSGI middleware that counts every
request (``Meter``) and serializes state-changing requests so conditional writes are atomic
as they are on AWS (moto's backends are not thread-safe). Lambda and Step Functions requests
are not serialized: they re-enter the server from handlers and the interpreter."""

from __future__ import annotations

import io
import json
import math
import posixpath
import re
import threading
from typing import Callable
from urllib.parse import unquote

from shangjia.localcloud.meter import (DDB_READ_OPS, DDB_WRITE_OPS, Meter, index_write_units, item_size,
                                       read_units, request_item_kinds, write_units)
from shangjia.sheets import SHEET_SUFFIXES

_CRED = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/")
_DDB_OPS = DDB_WRITE_OPS | DDB_READ_OPS
_UNLOCKED = {"lambda", "states", "moto"}


def classify(environ: dict) -> tuple[str, str]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return "moto", path
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _CRED.search(auth)
    service = m.group(1) if m else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    method = environ.get("REQUEST_METHOD", "GET")
    if service == "lambda":
        return service, "Invoke" if path.endswith("/invocations") else f"{method} {path.split('/')[2] if path.count('/') > 1 else ''}"
    if service == "s3":
        qs = environ.get("QUERY_STRING", "")
        parts = [p for p in path.split("/") if p]
        if len(parts) <= 1:
            return service, "ListObjects" if method == "GET" else f"{method}Bucket"
        return service, {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
                         "POST": "PostObject"}.get(method, method) + ("" if not qs or "versionId" in qs else "")
    if service == "sqs":   # query protocol fallback
        return service, "Query"
    return service, method


class DynamoCapacity:
    """Capacity units of one DynamoDB request from the sizes of the items it touches, read from
    moto's backend in this process. ``before`` runs just before the request and ``after`` just
    after it, both under the middleware's lock. Either raises on anything unexpected; the
    caller then falls back to the meter's estimate."""

    def __init__(self) -> None:
        self._accounts: dict[str, str] = {}

    def backend(self, authorization: str):
        from moto.dynamodb.models import dynamodb_backends

        m = _SCOPE.search(authorization)
        access_key, region = m.group(1), m.group(2)
        if access_key not in self._accounts:
            from moto.iam.models import get_account_id_from

            self._accounts[access_key] = get_account_id_from(access_key)
        return dynamodb_backends[self._accounts[access_key]][region]

    @staticmethod
    def _key(table, item: dict) -> dict:
        key = {table.hash_key_attr: item[table.hash_key_attr]}
        if table.range_key_attr:
            key[table.range_key_attr] = item[table.range_key_attr]
        return key

    @staticmethod
    def _image(backend, table_name: str, key: dict) -> dict | None:
        found = backend.get_item(table_name, key)
        if found is None:
            return None
        # moto updates items in place; its to_json copies nested values but shares a top-level
        # set's list, so copy those (cheaper than a deep copy on every write)
        return {name: {t: list(v) if isinstance(v, list) else v for t, v in value.items()}
                for name, value in found.to_json()["Attributes"].items()}

    def before(self, backend, op: str, req: dict) -> dict:
        """What the request will touch: (table, key, kind, transactional) targets and their
        images before the request."""
        targets = []   # (table name, key, kind "write"|"read"|"check", transactional, consistent)
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            name = req["TableName"]
            key = self._key(backend.get_table(name), req["Item"]) if op == "PutItem" else req["Key"]
            targets.append((name, key, "write", False, True))
        elif op == "BatchWriteItem":
            for name, reqs in req["RequestItems"].items():
                table = backend.get_table(name)
                for r in reqs:
                    key = self._key(table, r["PutRequest"]["Item"]) if "PutRequest" in r else r["DeleteRequest"]["Key"]
                    targets.append((name, key, "write", False, True))
        elif op == "TransactWriteItems":
            for t in req["TransactItems"]:
                (kind, spec), = t.items()
                key = self._key(backend.get_table(spec["TableName"]), spec["Item"]) if kind == "Put" else spec["Key"]
                targets.append((spec["TableName"], key, "check" if kind == "ConditionCheck" else "write", True, True))
        elif op == "GetItem":
            targets.append((req["TableName"], req["Key"], "read", False, bool(req.get("ConsistentRead"))))
        elif op == "BatchGetItem":
            for name, spec in req["RequestItems"].items():
                for key in spec["Keys"]:
                    targets.append((name, key, "read", False, bool(spec.get("ConsistentRead"))))
        elif op == "TransactGetItems":
            for t in req["TransactItems"]:
                targets.append((t["Get"]["TableName"], t["Get"]["Key"], "read", True, True))
        befores = [self._image(backend, name, key) if kind != "read" else None
                   for name, key, kind, _, _ in targets]
        return {"op": op, "req": req, "targets": targets, "befores": befores}

    def after(self, backend, plan: dict, resp: bytes) -> tuple[tuple[float, float, bool], list[tuple[str, float]]]:
        """((WRU, RRU, exact), [(partition key, WRU)]) once the request has run."""
        op, req = plan["op"], plan["req"]
        if op in ("Query", "Scan"):
            return (0, *self._page(backend, req, json.loads(resp))), []
        wru, rru = 0.0, 0.0
        partitions: list[tuple[str, float]] = []     # (partition key, WRU) — the hot-key figures
        for (name, key, kind, tx, consistent), before in zip(plan["targets"], plan["befores"]):
            now = self._image(backend, name, key)
            if kind == "read":
                rru += read_units(item_size(now), consistent, tx)
                continue
            table = backend.get_table(name)
            pk = _scalar(key.get(table.hash_key_attr))
            if kind == "check":   # a condition check costs a write of the item's size
                units = write_units(item_size(now), 0, True)
                wru += units
                partitions.append((pk, units))
                continue
            units = write_units(item_size(before), item_size(now), tx)
            wru += units
            partitions.append((pk, units))
            for index in table.global_indexes:
                b, a = self._project(index, table, before), self._project(index, table, now)
                iu = index_write_units(b, a, tuple(index.schema_key_attrs))
                if iu:
                    wru += iu
                    hk = index.schema_key_attrs[0]
                    ipk = _scalar((a if a and hk in a else b or {}).get(hk))    # the image in the index
                    partitions.append((f"{index.name}:{ipk}", iu))
        return (wru, rru, True), partitions

    @staticmethod
    def _project(index, table, image: dict | None) -> dict | None:
        projection = (index.projection or {}).get("ProjectionType", "ALL")
        if image is None or projection == "ALL":
            return image
        keep = {table.hash_key_attr, table.range_key_attr, *index.schema_key_attrs}
        if projection == "INCLUDE":
            keep.update(index.projection.get("NonKeyAttributes", []))
        return {k: v for k, v in image.items() if k in keep}

    def _page(self, backend, req: dict, resp: dict) -> tuple[float, bool]:
        """A Query or Scan page: 1 RRU per started 4 KB of the items READ (before any filter),
        summed over the page. A returned item's full size comes from the backend (a projection
        does not lower the cost); items a filter dropped are not in the response, so they are
        taken at the page's average size and the request counts as estimated."""
        name = req["TableName"]
        table = backend.get_table(name)
        items = resp.get("Items", [])
        total = 0
        for it in items:
            full = None
            if table.hash_key_attr in it and (not table.range_key_attr or table.range_key_attr in it):
                found = backend.get_item(name, self._key(table, it))
                full = found.to_json()["Attributes"] if found is not None else None
            total += item_size(full if full is not None else it)
        if req.get("IndexName"):
            index = next((i for i in table.global_indexes if i.name == req["IndexName"]), None)
            consistent = False if index is not None else bool(req.get("ConsistentRead"))
        else:
            consistent = bool(req.get("ConsistentRead"))
        dropped = int(resp.get("ScannedCount", len(items))) - len(items)
        exact = dropped <= 0
        if not exact:
            total += dropped * (total / len(items) if items else 1024)
        return read_units(math.ceil(total), consistent), exact


def _scalar(v) -> str:
    """A DynamoDB JSON key value ({"S": "BATCH#1"}) as text."""
    if isinstance(v, dict) and v:
        return str(next(iter(v.values())))
    return str(v)


class CountingMiddleware:
    def __init__(self, app: Callable, meter: Meter, media_bucket: Callable[[], str | None]) -> None:
        self.app = app
        self.meter = meter
        self.media_bucket = media_bucket
        self.lock = threading.Lock()
        self.capacity = DynamoCapacity()
        # (service, op) -> hook(request body) run before the request reaches moto, outside the
        # lock: the emulator's own reactions to a request (a simulated shop opening on first use)
        self.hooks: dict[tuple[str, str], Callable[[bytes, dict], None]] = {}

    def __call__(self, environ, start_response):
        service, op = classify(environ)
        req_bytes = int(environ.get("CONTENT_LENGTH") or 0)
        ddb_units = None
        partitions: list[tuple[str, float]] = []
        if service == "sqs" and op in ("SendMessage", "SendMessageBatch", "Query"):
            raw = environ["wsgi.input"].read(req_bytes) if req_bytes else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            refused = sqs_size_error(op, raw)
            if refused is not None:
                self.meter.request(service, op, req_bytes, 0, caller=environ.get("HTTP_X_SHANGJIA_CALLER") or "observer")
                return _sqs_error(start_response, *refused)
        hook = self.hooks.get((service, op))
        if hook is not None:
            raw = environ["wsgi.input"].read(req_bytes) if req_bytes else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                hook(raw, environ)
            except Exception:  # noqa: BLE001 - the request itself answers (e.g. not found)
                pass
        kinds = None
        if service in _UNLOCKED:
            body = b"".join(self.app(environ, start_response))
        elif service == "dynamodb" and op in _DDB_OPS:
            raw = environ["wsgi.input"].read(req_bytes) if req_bytes else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            try:
                kinds = request_item_kinds(op, json.loads(raw))
            except Exception:   # noqa: BLE001 - only the census reads it
                pass
            with self.lock:
                plan = backend = None
                try:
                    backend = self.capacity.backend(environ.get("HTTP_AUTHORIZATION", ""))
                    plan = self.capacity.before(backend, op, json.loads(raw))
                except Exception:   # noqa: BLE001 - unmeasurable: the meter estimates it
                    pass
                body = b"".join(self.app(environ, start_response))
                if plan is not None:
                    try:
                        ddb_units, partitions = self.capacity.after(backend, plan, body)
                    except Exception:   # noqa: BLE001
                        ddb_units = None
        else:
            with self.lock:
                body = b"".join(self.app(environ, start_response))
        if service == "sqs" and op == "ReceiveMessage" and b"Messages" not in body:
            op = "ReceiveMessage(empty)"   # an idle poll: Lambda's pollers cost the same at any volume
        who = environ.get("HTTP_X_SHANGJIA_CALLER")
        if not who:
            # The Step Functions interpreter's own clients sign with the key "ak"; anything else
            # untagged is an observer (the demo's progress display, tests, the CLI).
            who = "states" if "Credential=ak/" in environ.get("HTTP_AUTHORIZATION", "") else "observer"
        if service != "moto" and who != "emulator":   # the emulator's own upkeep costs nothing on AWS
            s3_media = False
            if service == "s3":
                path = unquote(environ.get("PATH_INFO", ""))
                parts = [p for p in path.split("/") if p]
                s3_media = bool(parts) and (parts[0] == self.media_bucket() or
                                            (len(parts) > 1 and posixpath.splitext(path.lower())[1] not in SHEET_SUFFIXES))
            self.meter.request(service, op, req_bytes, len(body), s3_media=s3_media, caller=who,
                               ddb_units=ddb_units, ddb_partitions=partitions, ddb_kinds=kinds)
        return [body]


def sqs_size_error(op: str, raw: bytes) -> tuple[str, str] | None:
    """AWS's SQS size limits (``shangjia.limits``), in UTF-8 bytes as SQS counts them; moto counts
    characters, so without this the local cloud would take three times what AWS does of Chinese
    text. Returns (error code, message) for a request AWS would refuse, else None. Both the JSON
    protocol (boto3) and the query protocol (form-encoded) are read."""
    from urllib.parse import parse_qs

    from shangjia.limits import SQS_BATCH_MAX_BYTES, SQS_MESSAGE_MAX_BYTES, utf8_len

    try:
        if op == "Query":
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            op = (form.get("Action") or [""])[0]
            if op == "SendMessage":
                bodies = form.get("MessageBody") or []
            else:
                bodies = [v[0] for k, v in form.items() if re.fullmatch(r"SendMessageBatchRequestEntry\.\d+\.MessageBody", k)]
        else:
            req = json.loads(raw or b"{}")
            bodies = [req.get("MessageBody") or ""] if op == "SendMessage" else \
                [e.get("MessageBody") or "" for e in req.get("Entries") or []]
    except (ValueError, UnicodeDecodeError):
        return None                           # not ours to judge: moto answers it
    sizes = [utf8_len(b) for b in bodies]
    if op == "SendMessage" and sizes and sizes[0] > SQS_MESSAGE_MAX_BYTES:
        return ("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter "
                                         f"than {SQS_MESSAGE_MAX_BYTES} bytes.")
    if op == "SendMessageBatch" and sum(sizes) > SQS_BATCH_MAX_BYTES:
        return ("BatchRequestTooLong", f"Batch requests cannot be longer than {SQS_BATCH_MAX_BYTES} bytes. "
                                       f"You have sent {sum(sizes)} bytes.")
    return None


def _sqs_error(start_response, code: str, message: str):
    body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode()
    start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                       ("x-amzn-query-error", f"{code};Sender"),
                                       ("Content-Length", str(len(body)))])
    return [body]


class MotoServer:
    """A ThreadedMotoServer whose app is wrapped by the counting middleware."""

    def __init__(self, meter: Meter, host: str = "127.0.0.1", port: int = 0) -> None:
        self.meter = meter
        self.host, self.port = host, port
        self._server = None
        self.app: CountingMiddleware | None = None
        self._thread: threading.Thread | None = None
        self.media_bucket_name: str | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from shangjia.localcloud import motofast

        motofast.install()     # moto's queries by partition, its reads through json.dumps: same answers
        try:
            from moto.moto_server.threaded_moto_server import MotoRequestHandler
        except ImportError:  # pragma: no cover
            MotoRequestHandler = None
        app = self.app = CountingMiddleware(DomainDispatcherApplication(create_backend_app), self.meter,
                                            lambda: self.media_bucket_name)
        from werkzeug.serving import WSGIRequestHandler

        class Quiet(MotoRequestHandler or WSGIRequestHandler):
            def log_request(self, *a, **k):  # the meter counts requests; no access log
                pass

        kw = {"request_handler": Quiet}
        self._server = make_server(self.host, self.port, app, threaded=True, **kw)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
