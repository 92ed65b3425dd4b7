"""moto's DynamoDB query without its whole-table sort.

moto answers every ``Query`` by listing *all* the table's items, sorting them by key (Python-level
comparisons of its ``DynamoType``), and only then keeping the ones whose partition key matches.
A query's cost therefore grows with the table, not with its answer: at a few thousand products
the local cloud spent most of its time there (docs/capacity.md, the py-spy profile). On AWS a
query reads one partition.

``install()`` gives moto's ``Table.query`` the candidates it would have kept, and nothing it
would not, before moto's own code runs unchanged on them (its key conditions, sort, paging,
filters and projections stay moto's):

- a query of the table itself gets the items of its one partition (``Table.items[hash_key]``);
- a query of an index gets every item unsorted (moto sorts what matches by the index's keys
  anyway), or, when the index's hash-key condition is known, only the items carrying that value.

And the answers of the read operations (``Query``, ``Scan``, ``GetItem``, ``BatchGetItem``,
``TransactGetItems``) leave through ``json.dumps`` instead of moto's generic, shape-walking
serializer (a quarter of the emulator's time in the same profile): an item's attribute values are
already DynamoDB's wire format; binary values are base64-encoded as the serializer does, and a
result carrying anything the operation's output shape does not declare takes moto's path.

The answers are the same as moto's own (tests/integration/test_motofast.py compares them on the
same data); the emulator installs it where its moto server runs. Nothing here reaches AWS.
"""

from __future__ import annotations

import base64
import json
import threading

_local = threading.local()
_originals: dict = {}


def _candidates(table, hash_key, index_name, hash_key_conditions):
    if not index_name:
        part = table.items.get(hash_key) if hash_key is not None else None
        if part is None:
            return []
        return list(part.values()) if table.range_key_attr else [part]
    conds = list(hash_key_conditions or ())
    out = []
    for part in table.items.values():
        for item in (part.values() if table.range_key_attr else (part,)):
            attrs = item.attrs
            if all((v := attrs.get(name)) is not None and v == value for name, value in conds):
                out.append(item)
    return out


_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "TransactGetItems"})
_JSON_1_0 = "application/x-amz-json-1.0"


def _bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _fast_result(result, context):
    op = context.operation_model
    if op.name not in _READS or not isinstance(result, dict):
        return None
    if not set(result) <= set(op.output_shape.members):
        return None
    try:
        return json.dumps(result, default=_bytes)
    except (TypeError, ValueError):
        return None


def install() -> None:
    """Patch moto's ``Table`` in this process (idempotent)."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    if _originals:
        return
    original_all_items = _originals["all_items"] = Table.all_items
    original_query = _originals["query"] = Table.query
    original_execute = _originals["execute_result"] = DynamoResult.execute_result

    def execute_result(self, context):
        body = _fast_result(self.result, context)
        if body is None:
            return original_execute(self, context)
        return 200, {"Content-Type": _JSON_1_0}, body

    def all_items(self):
        override = getattr(_local, "override", None)
        if override is not None and override[0] is self:
            return override[1]
        return original_all_items(self)

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        try:
            candidates = _candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
        except Exception:   # noqa: BLE001 - anything unexpected: moto's own path, unchanged
            return original_query(self, hash_key, *args, **kwargs)
        _local.override = (self, candidates)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _local.override = None

    Table.all_items = all_items
    Table.query = query
    DynamoResult.execute_result = execute_result


def uninstall() -> None:
    """moto's own query again (the tests compare both)."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    if _originals:
        Table.all_items = _originals.pop("all_items")
        Table.query = _originals.pop("query")
        DynamoResult.execute_result = _originals.pop("execute_result")
