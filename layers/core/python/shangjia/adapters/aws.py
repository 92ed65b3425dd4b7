"""boto3 implementations of ``shangjia.ports``.

Resource names come from ``SHANGJIA_<KIND>_<KEY>`` environment variables (see
``shangjia.topology.env_name``), set by CDK on AWS and by the local cloud on loopback.
Clients are built lazily and cached per thread; ``AWS_ENDPOINT_URL`` points them at the emulator.
"""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal
from typing import Any, Iterable

from boto3.dynamodb.types import Binary

from shangjia.ports import ConditionFailed, ExecutionExists, TaskGone, TransactionCanceled, Transient
from shangjia.topology import env_name

_local = threading.local()
_SESSION = None
_SESSION_LOCK = threading.Lock()
# Which function a request is made for: the local cloud's runtime sets it per invocation, and a
# header carries it to the emulator's meter (on AWS the header is harmless and unused).
CALLER_HEADER = "x-shangjia-caller"
caller = threading.local()


def _tag_caller(request, **_kw) -> None:
    name = getattr(caller, "name", None)
    if name:
        request.headers[CALLER_HEADER] = name
_TRANSIENT_CODES = {
    "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "TransactionConflictException",
}


def client(service: str):
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    if service not in cache:
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        # one botocore session per process (its loaded service models are cached: a new session
        # costs ~0.7 s per client, paid by every new thread, e.g. one per local gateway request);
        # clients stay per thread, made one at a time (a session is not thread-safe)
        global _SESSION
        with _SESSION_LOCK:
            if _SESSION is None:
                _SESSION = boto3.session.Session()
            c = _SESSION.client(service, config=cfg)
        c.meta.events.register("before-sign", _tag_caller)
        cache[service] = c
    return cache[service]


def reset_clients() -> None:
    """Forget cached clients (tests start a new emulator)."""
    global _SESSION
    _local.clients = {}
    with _SESSION_LOCK:
        _SESSION = None


def resource_name(kind: str, key: str) -> str:
    var = env_name(kind, key)
    value = os.environ.get(var)
    if not value:
        raise RuntimeError(f"missing setting {var}: this function has no grant for {kind}:{key}")
    return value


def _code(err: Exception) -> str:
    return getattr(err, "response", {}).get("Error", {}).get("Code", "")


def _raise_mapped(err: Exception) -> None:
    code = _code(err)
    if code == "ConditionalCheckFailedException":
        raise ConditionFailed(str(err)) from err
    if code in _TRANSIENT_CODES:
        raise Transient(str(err)) from err
    raise err


# --- DynamoDB ---------------------------------------------------------------------------

def _to_ddb(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):                # the core sees bytes, not boto3's wrapper
        return bytes(value.value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    if isinstance(value, set):
        return {_from_ddb(v) for v in value}
    return value


class DynamoStore:
    def __init__(self, table_key: str = "state") -> None:
        self.table_key = table_key
        self._ser = self._de = None

    @property
    def table(self) -> str:
        return resource_name("table", self.table_key)

    def _codec(self):
        if self._ser is None:
            from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

            self._ser, self._de = TypeSerializer(), TypeDeserializer()
        return self._ser, self._de

    def _enc(self, item: dict[str, Any]) -> dict[str, Any]:
        ser, _ = self._codec()
        return {k: ser.serialize(_to_ddb(v)) for k, v in item.items() if v is not None}

    def _dec(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        if item is None:
            return None
        _, de = self._codec()
        return {k: _from_ddb(de.deserialize(v)) for k, v in item.items()}

    def _kw(self, condition, names, values) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if condition:
            kw["ConditionExpression"] = condition
        if names:
            kw["ExpressionAttributeNames"] = names
        if values:
            kw["ExpressionAttributeValues"] = self._enc(values)
        return kw

    def get(self, pk: str, sk: str, *, consistent: bool = True):
        try:
            r = client("dynamodb").get_item(TableName=self.table, Key=self._enc({"pk": pk, "sk": sk}),
                                            ConsistentRead=consistent)
        except Exception as e:  # noqa: BLE001 — mapped below
            _raise_mapped(e)
        return self._dec(r.get("Item"))

    def get_many(self, keys, *, consistent=False):
        """BatchGetItem, 100 keys a request; UnprocessedKeys are asked again with a growing pause
        (throttling), and still unprocessed after that is a Transient failure."""
        import time

        wanted: list[tuple[str, str]] = list(dict.fromkeys(map(tuple, keys)))     # once each, in order
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request = {self.table: {"Keys": [self._enc({"pk": pk, "sk": sk}) for pk, sk in wanted[start:start + 100]],
                                    "ConsistentRead": consistent}}
            for attempt in range(8):
                try:
                    r = client("dynamodb").batch_get_item(RequestItems=request)
                except Exception as e:  # noqa: BLE001
                    _raise_mapped(e)
                for raw in r.get("Responses", {}).get(self.table, []):
                    item = self._dec(raw)
                    found[(item["pk"], item["sk"])] = item
                request = r.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            else:
                raise Transient(f"DynamoDB left {len(request[self.table]['Keys'])} keys unprocessed")
        return [found[k] for k in wanted if k in found]

    def put(self, item, *, condition=None, names=None, values=None) -> None:
        try:
            client("dynamodb").put_item(TableName=self.table, Item=self._enc(item),
                                        **self._kw(condition, names, values))
        except Exception as e:  # noqa: BLE001
            _raise_mapped(e)

    def put_many(self, items) -> None:
        """Unconditional puts in BatchWriteItem requests of 25 (one request instead of one per item;
        the same write units). UnprocessedItems are sent again with a growing pause (throttling);
        still unprocessed after that is a Transient failure (the puts are idempotent: redo them)."""
        import time

        requests = [{"PutRequest": {"Item": self._enc(i)}} for i in items]
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start:start + 25]}
            for attempt in range(8):
                try:
                    r = client("dynamodb").batch_write_item(RequestItems=pending)
                except Exception as e:  # noqa: BLE001
                    _raise_mapped(e)
                pending = r.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
            else:
                raise Transient(f"DynamoDB left {len(pending[self.table])} items unwritten")

    def update(self, pk, sk, expression, *, condition=None, names=None, values=None, return_new=False):
        try:
            r = client("dynamodb").update_item(
                TableName=self.table, Key=self._enc({"pk": pk, "sk": sk}), UpdateExpression=expression,
                ReturnValues="ALL_NEW" if return_new else "NONE", **self._kw(condition, names, values))
        except Exception as e:  # noqa: BLE001
            _raise_mapped(e)
        return self._dec(r.get("Attributes")) if return_new else None

    def delete(self, pk, sk, *, condition=None, names=None, values=None) -> None:
        try:
            client("dynamodb").delete_item(TableName=self.table, Key=self._enc({"pk": pk, "sk": sk}),
                                           **self._kw(condition, names, values))
        except Exception as e:  # noqa: BLE001
            _raise_mapped(e)

    def transact(self, actions) -> None:
        """TransactWriteItems: every action or none (``ports.Store.transact``)."""
        items = []
        for a in actions:
            kw = {"TableName": self.table, **self._kw(a.get("condition"), a.get("names"), a.get("values"))}
            if "put" in a:
                items.append({"Put": {"Item": self._enc(a["put"]), **kw}})
            elif "update" in a:
                pk, sk = a["update"]
                items.append({"Update": {"Key": self._enc({"pk": pk, "sk": sk}),
                                         "UpdateExpression": a["expression"], **kw}})
            else:
                pk, sk = a["delete"]
                items.append({"Delete": {"Key": self._enc({"pk": pk, "sk": sk}), **kw}})
        if not items:
            return
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
        except Exception as e:  # noqa: BLE001
            if _code(e) == "TransactionCanceledException":
                reasons = [r.get("Code") for r in getattr(e, "response", {}).get("CancellationReasons") or []]
                reasons = [None if r in (None, "None") else r for r in reasons]
                if any(r in _TRANSIENT_CODES or r == "TransactionConflict" for r in reasons):
                    raise Transient(str(e)) from e
                raise TransactionCanceled(reasons) from e
            _raise_mapped(e)

    def query(self, pk, *, sk_prefix=None, sk_lte=None, sk_gt=None, index=None, limit=None, forward=True):
        pk_attr, sk_attr = ("pk", "sk") if index is None else (f"{index}pk", f"{index}sk")
        expr = "#p = :p"
        names = {"#p": pk_attr}
        values: dict[str, Any] = {":p": pk}
        if sk_prefix:
            expr += " AND begins_with(#s, :s)"
            names["#s"] = sk_attr
            values[":s"] = sk_prefix
        elif sk_lte:
            expr += " AND #s <= :s"
            names["#s"] = sk_attr
            values[":s"] = sk_lte
        elif sk_gt:
            expr += " AND #s > :s"
            names["#s"] = sk_attr
            values[":s"] = sk_gt
        kw: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": expr,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": self._enc(values),
                              "ScanIndexForward": forward}
        if index:
            kw["IndexName"] = index
        out: list[dict[str, Any]] = []
        while True:
            if limit:
                kw["Limit"] = limit - len(out)
            try:
                r = client("dynamodb").query(**kw)
            except Exception as e:  # noqa: BLE001
                _raise_mapped(e)
            out.extend(self._dec(i) for i in r.get("Items", []))
            if "LastEvaluatedKey" not in r or (limit and len(out) >= limit):
                return out
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


# --- SQS ----------------------------------------------------------------------------------

class SqsQueues:
    def url(self, queue_key: str) -> str:
        return resource_name("queue", queue_key)

    def send_batch(self, queue_key: str, bodies: Iterable[dict[str, Any]], *, delay_s: int = 0) -> None:
        """Send in requests of at most 10 messages and SQS's byte budget (``shangjia.limits``:
        UTF-8 bytes, 1 MiB a message and a request); retry only the entries SQS failed; raise if
        any still fail. A single message over the limit raises ``limits.MessageTooLarge``."""
        from shangjia.limits import message_body, sqs_batches

        url = self.url(queue_key)
        delay = max(0, min(900, int(delay_s)))          # SQS DelaySeconds: 0..900
        for chunk in sqs_batches(message_body(b) for b in bodies):
            self._send(url, chunk, delay)

    def _send(self, url: str, chunk: list[str], delay_s: int = 0) -> None:
        entries = [{"Id": str(i), "MessageBody": text, **({"DelaySeconds": delay_s} if delay_s else {})}
                   for i, text in enumerate(chunk)]
        for _attempt in range(3):
            try:
                r = client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
            except Exception as e:  # noqa: BLE001
                _raise_mapped(e)
            failed = {f["Id"] for f in r.get("Failed", [])}
            if not failed:
                return
            entries = [e for e in entries if e["Id"] in failed]
        raise Transient(f"SQS refused {len(entries)} messages to {url}")


# --- SNS ----------------------------------------------------------------------------------

class SnsNotifier:
    """The topology's topics; ``SHANGJIA_TOPIC_<KEY>`` carries a topic's ARN."""

    def arn(self, topic_key: str) -> str:
        return resource_name("topic", topic_key)

    def publish(self, topic_key: str, subject: str, message: dict[str, Any], *,
                attributes: dict[str, str] | None = None) -> str:
        attrs = {k: {"DataType": "String", "StringValue": str(v)} for k, v in (attributes or {}).items() if v}
        try:
            r = client("sns").publish(TopicArn=self.arn(topic_key), Subject=subject[:99],
                                      Message=json.dumps(message, ensure_ascii=False), MessageAttributes=attrs)
        except Exception as e:  # noqa: BLE001
            _raise_mapped(e)
        return r["MessageId"]


# --- S3 -----------------------------------------------------------------------------------

class S3Blobs:
    def bucket(self, bucket_key: str) -> str:
        return resource_name("bucket", bucket_key)

    def get(self, bucket_key: str, key: str, *, max_bytes: int | None = None) -> bytes:
        return self.get_with_meta(bucket_key, key, max_bytes=max_bytes)[0]

    def get_with_meta(self, bucket_key: str, key: str, *,
                      max_bytes: int | None = None) -> tuple[bytes, dict[str, str]]:
        data, r = self._get(bucket_key, key, max_bytes)
        return data, {k.lower(): v for k, v in (r.get("Metadata") or {}).items()}

    def get_with_etag(self, bucket_key: str, key: str, *, max_bytes: int | None = None) -> tuple[bytes, str]:
        data, r = self._get(bucket_key, key, max_bytes)
        return data, str(r.get("ETag") or "")

    def _get(self, bucket_key: str, key: str, max_bytes: int | None) -> tuple[bytes, dict[str, Any]]:
        s3 = client("s3")
        try:
            r = s3.get_object(Bucket=self.bucket(bucket_key), Key=key)
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from e
            _raise_mapped(e)
        if max_bytes is not None and r["ContentLength"] > max_bytes:
            r["Body"].close()
            raise ValueError(f"object {key} is {r['ContentLength']} bytes, over the {max_bytes} limit")
        return r["Body"].read(), r

    def open(self, bucket_key: str, key: str, *, max_bytes: int | None = None, **block_kw):
        """The object as a read-only, seekable file read by ranged GETs in blocks
        (``shangjia.adapters.ranged.RangedFile``): one HEAD (size, metadata, version), then GETs
        as it is read. Each GET names the version (or, unversioned, ``If-Match`` the ETag), so a
        file replaced while it is read fails instead of mixing two uploads."""
        from shangjia.adapters.ranged import RangedFile

        s3 = client("s3")
        bucket = self.bucket(bucket_key)
        try:
            h = s3.head_object(Bucket=bucket, Key=key)
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from e
            _raise_mapped(e)
        size = int(h["ContentLength"])
        if max_bytes is not None and size > max_bytes:
            raise ValueError(f"object {key} is {size} bytes, over the {max_bytes} limit")
        pin = ({"VersionId": h["VersionId"]} if h.get("VersionId") not in (None, "null")
               else {"IfMatch": h["ETag"]} if h.get("ETag") else {})

        def fetch(start: int, end: int) -> bytes:
            try:
                r = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}", **pin)
                return r["Body"].read()
            except Exception as e:  # noqa: BLE001
                _raise_mapped(e)

        meta = {k.lower(): v for k, v in (h.get("Metadata") or {}).items()}
        return RangedFile(fetch, size, name=key, metadata=meta, **block_kw)

    def put(self, bucket_key: str, key: str, data: bytes, *, content_type: str) -> None:
        try:
            client("s3").put_object(Bucket=self.bucket(bucket_key), Key=key, Body=data, ContentType=content_type)
        except Exception as e:  # noqa: BLE001
            _raise_mapped(e)

    def put_new(self, bucket_key: str, key: str, data: bytes, *, content_type: str) -> bool:
        """Create the object unless it exists (S3's conditional write, ``If-None-Match: *``): one
        request where a HEAD then a PUT took two. False when it was there already."""
        try:
            client("s3").put_object(Bucket=self.bucket(bucket_key), Key=key, Body=data, ContentType=content_type,
                                    IfNoneMatch="*")
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("PreconditionFailed", "412"):
                return False
            _raise_mapped(e)
        return True

    def size(self, bucket_key: str, key: str) -> int | None:
        r = self._head(bucket_key, key)
        return None if r is None else int(r["ContentLength"])

    def etag(self, bucket_key: str, key: str) -> str | None:
        r = self._head(bucket_key, key)
        return None if r is None else str(r.get("ETag") or "")

    def _head(self, bucket_key: str, key: str) -> dict[str, Any] | None:
        try:
            return client("s3").head_object(Bucket=self.bucket(bucket_key), Key=key)
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("NoSuchKey", "404", "NotFound"):
                return None
            _raise_mapped(e)
        return None  # pragma: no cover — _raise_mapped raises

    def exists(self, bucket_key: str, key: str) -> bool:
        return self.size(bucket_key, key) is not None


# --- Step Functions -------------------------------------------------------------------------

class StepFunctions:
    def start(self, machine_key: str, name: str, payload: dict[str, Any]) -> str:
        arn = resource_name("statemachine", machine_key)
        try:
            r = client("stepfunctions").start_execution(stateMachineArn=arn, name=name,
                                                        input=json.dumps(payload, ensure_ascii=False))
        except Exception as e:  # noqa: BLE001
            if _code(e) == "ExecutionAlreadyExists":
                raise ExecutionExists(name) from e
            _raise_mapped(e)
        return r["executionArn"]

    def task_success(self, token: str, output: dict[str, Any]) -> None:
        self._call("send_task_success", taskToken=token, output=json.dumps(output, ensure_ascii=False))

    def task_failure(self, token: str, error: str, cause: str) -> None:
        self._call("send_task_failure", taskToken=token, error=error[:256], cause=cause[:32768])

    def heartbeat(self, token: str) -> None:
        self._call("send_task_heartbeat", taskToken=token)

    def _call(self, op: str, **kw) -> None:
        try:
            getattr(client("stepfunctions"), op)(**kw)
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist"):
                raise TaskGone(_code(e)) from e
            _raise_mapped(e)


# --- Secrets Manager --------------------------------------------------------------------------

class SecretsManagerSecrets:
    """``ports.Secrets`` on AWS Secrets Manager. Values are cached per container for ``ttl_s``
    (a rotated secret is seen within that time; each read would otherwise cost a call)."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        import time

        from shangjia.ports import SecretNotFound

        with self._lock:
            hit = self._cache.get(name)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        try:
            r = client("secretsmanager").get_secret_value(SecretId=name)
        except Exception as e:  # noqa: BLE001
            if _code(e) == "ResourceNotFoundException":
                raise SecretNotFound(name) from e
            _raise_mapped(e)
        value = r.get("SecretString")
        if value is None:
            value = r["SecretBinary"].decode()
        with self._lock:
            self._cache[name] = (time.monotonic(), value)
        return value

    def put(self, name: str, value: str, *, description: str = "") -> None:
        sm = client("secretsmanager")
        try:
            sm.put_secret_value(SecretId=name, SecretString=value)
        except Exception as e:  # noqa: BLE001
            if _code(e) != "ResourceNotFoundException":
                _raise_mapped(e)
            try:
                sm.create_secret(Name=name, SecretString=value, Description=description)
            except Exception as e2:  # noqa: BLE001
                if _code(e2) != "ResourceExistsException":     # created meanwhile: store as its new version
                    _raise_mapped(e2)
                sm.put_secret_value(SecretId=name, SecretString=value)
        with self._lock:
            self._cache.pop(name, None)
