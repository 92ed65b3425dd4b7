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
  anyway), or, when the index's hash-key condition is known, only the items carrying that value;
- the items it matched are not deep-copied before moto projects, filters and answers them (all
  three build new values; nothing changes a stored item).

``TransactWriteItems`` no longer deep-copies every table it touches to be able to roll back
(moto's backup: the whole table, once per action, on every transaction): the items the
transaction names are copied instead, and put back if it is cancelled.

``UpdateItem`` no longer deep-copies the item twice (a product item is ~6 KB of nested values):
moto's response takes the old image through ``Item.to_json`` (which builds new values anyway) right
before the update, and its backend's copy feeds only a table's stream, which ours do not have
(a table with a stream keeps moto's path).

And the answers of the item operations (reads: ``Query``, ``Scan``, ``GetItem``, ``BatchGetItem``,
``TransactGetItems``; writes: ``PutItem``, ``UpdateItem``, ``DeleteItem``, ``BatchWriteItem``,
``TransactWriteItems``) leave through ``json.dumps`` instead of moto's generic, shape-walking
serializer (a quarter of the emulator's time in the same profile): an item's attribute values are
already DynamoDB's wire format; binary values are base64-encoded as the serializer does, and a
result carrying anything the operation's output shape does not declare takes moto's path.

A nested value's JSON (``DynamoType.to_regular_json``, what ``Item.to_json`` gives every map and
list attribute) no longer deep-copies the value at each level before converting it (copies of
copies: quadratic in the depth); it builds the same new values level by level.

moto's SQS no longer computes every attribute of a queue for each message it hands out: to check a
message's retention it asked ``get_queue_attributes``, which builds ``Queue.attributes`` (counting
the visible, in-flight and delayed messages: a walk of the whole queue) three times, so a receive
cost grew with the queue's depth times the messages received. It reads the retention period.

moto's server no longer lists its own package directory on every request (``os.listdir`` and an
``isdir`` per entry of ~150, to recognise a host named after a service): the list is read once.

The answers are the same as moto's own (tests/integration/test_motofast.py compares them on the
same data); the emulator installs it where its moto server runs. Nothing here reaches AWS.
"""

from __future__ import annotations

import base64
import copy
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


_ITEM_OPS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "TransactGetItems",
                       "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_JSON_1_0 = "application/x-amz-json-1.0"


def _bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _fast_result(result, context):
    op = context.operation_model
    if op.name not in _ITEM_OPS or not isinstance(result, dict):
        return None
    if not set(result) <= set(op.output_shape.members):
        return None
    try:
        return json.dumps(result, default=_bytes)
    except (TypeError, ValueError):
        return None


class _TableBackupsOff:
    """Stands for the ``copy`` module inside moto's DynamoDB backend while our transaction wrapper
    runs: a table's "deep copy" is the table itself (the wrapper keeps the items to restore).
    And while our ``update_item`` wrapper runs on a table without a stream, the item's copy moto
    takes before an update is the item itself: moto reads that copy only to record the stream's
    "old image" (``table.stream_shard.add(orig_item, item)``)."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table) and getattr(_local, "transacting", False):
            return value
        if isinstance(value, Item) and getattr(_local, "no_stream_update", False):
            return value
        return copy.deepcopy(value, memo)


class _QueryCopyOff:
    """Stands for the ``copy`` module inside moto's ``Table`` while our ``query`` wrapper runs: the
    items a query matched are no longer deep-copied before moto projects, filters and answers them
    (an index's projection builds new items; a filter reads; the answer is built from new values by
    ``dynamo_to_dict``): nothing changes the stored items. Elsewhere (scans, backups) moto copies."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, list) and getattr(_local, "querying", False):
            return list(value)
        return copy.deepcopy(value, memo)


class _ItemSnapshotOff:
    """Stands for the ``copy`` module inside moto's DynamoDB responses, whose only use of it is
    ``UpdateItem`` taking ``copy.deepcopy(item).to_json()`` before the update (the old image for
    ``ReturnValues``). ``Item.to_json`` builds new lists and dicts (nested values through
    ``to_regular_json``, which copies), and it is read at once, before the update runs: the deep
    copy of the whole item (~6 KB of nested values for a product) adds nothing to it."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        from moto.dynamodb.models.dynamo_type import Item

        if isinstance(value, Item):
            return value
        return copy.deepcopy(value, memo)


def _transaction_backup(backend, transact_items):
    """[(table, hash key, range key, copy of the item or None)] for every item the transaction names."""
    out = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.get_table(op["TableName"])
        if "Item" in op:
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        h, r = backend.get_keys_value(table, key)
        current = table.get_item(h, r)
        out.append((table, h, r, copy.deepcopy(current) if current is not None else None))
    return out


def _restore(backup) -> None:
    for table, h, r, item in reversed(backup):
        if item is None:
            table.delete_item(h, r)
        elif r is not None:
            table.items.setdefault(h, {})[r] = item
        else:
            table.items[h] = item


def install() -> None:
    """Patch moto's ``Table`` in this process (idempotent)."""
    import moto.dynamodb.models as backend_module
    import moto.dynamodb.models.table as table_module
    import moto.dynamodb.responses as responses_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    if _originals:
        return
    original_all_items = _originals["all_items"] = Table.all_items
    original_query = _originals["query"] = Table.query
    original_execute = _originals["execute_result"] = DynamoResult.execute_result
    original_transact = _originals["transact_write_items"] = DynamoDBBackend.transact_write_items
    original_update = _originals["update_item"] = DynamoDBBackend.update_item
    _originals["copy_module"] = backend_module.copy
    backend_module.copy = _TableBackupsOff()
    _originals["table_copy_module"] = table_module.copy
    table_module.copy = _QueryCopyOff()
    _originals["responses_copy_module"] = responses_module.copy
    responses_module.copy = _ItemSnapshotOff()

    def update_item(self, table_name, *args, **kwargs):
        table = self.tables.get(table_name)
        if table is None or table.stream_shard is not None:
            return original_update(self, table_name, *args, **kwargs)
        outer = getattr(_local, "no_stream_update", False)
        _local.no_stream_update = True
        try:
            return original_update(self, table_name, *args, **kwargs)
        finally:
            _local.no_stream_update = outer

    def transact_write_items(self, transact_items):
        try:
            backup = _transaction_backup(self, transact_items)
        except Exception:   # noqa: BLE001 - a malformed request: moto's own path answers it
            return original_transact(self, transact_items)
        _local.transacting = True
        try:
            return original_transact(self, transact_items)
        except Exception:
            _restore(backup)
            raise
        finally:
            _local.transacting = False

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
        _local.querying = True
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _local.override = None
            _local.querying = False

    from moto.dynamodb.models.dynamo_type import DynamoType

    original_regular_json = _originals["to_regular_json"] = DynamoType.to_regular_json

    def to_regular_json(self):
        value = self.value
        if isinstance(value, dict):
            value = {k: v.to_regular_json() if isinstance(v, DynamoType) else copy.deepcopy(v)
                     for k, v in value.items()}
        elif isinstance(value, list):
            value = [v.to_regular_json() if isinstance(v, DynamoType) else copy.deepcopy(v) for v in value]
        elif not isinstance(value, (str, bytes, int, float, bool, type(None))):
            return original_regular_json(self)      # anything else: moto's own
        if self.is_binary() and isinstance(value, str):
            value = base64.b64decode(value)
        return {self.type: value}

    DynamoType.to_regular_json = to_regular_json

    from moto.sqs.models import SQSBackend

    original_retention = _originals["sqs_retention"] = SQSBackend.is_message_valid_based_on_retention_period

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        try:
            period = int(self.get_queue(queue_name).message_retention_period)
        except Exception:   # noqa: BLE001 - anything unexpected: moto's own path
            return original_retention(self, queue_name, message)
        return period + message.sent_timestamp / 1000 > unix_time()

    from moto.core.utils import unix_time

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    import moto.backends as backends_module

    original_modules = _originals["list_of_moto_modules"] = backends_module.list_of_moto_modules
    modules = tuple(original_modules())

    def list_of_moto_modules():
        return iter(modules)

    backends_module.list_of_moto_modules = list_of_moto_modules

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    _originals["sfn_executions"] = StepFunctionsParserBackend._get_executions
    StepFunctionsParserBackend._get_executions = _callback_executions

    Table.all_items = all_items
    Table.query = query
    DynamoResult.execute_result = execute_result
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoDBBackend.update_item = update_item


def _callback_executions(self, execution_status=None):
    """moto's ``_get_executions`` for the task-token calls (``SendTaskSuccess``/``Failure``/
    ``Heartbeat``): without the executions whose interpreter has no environment (one just started,
    or one tearing down). moto reads ``exec_worker.env.callback_pool_manager`` on every running
    execution while it looks for the token's owner, so one such execution answered every
    reviewer's decision with a 500 (``'NoneType' object has no attribute 'callback_pool_manager'``)
    while it lasted; none of them can be waiting on a token."""
    return [e for e in _originals["sfn_executions"](self, execution_status)
            if getattr(getattr(e, "exec_worker", None), "env", None) is not None]


def uninstall() -> None:
    """moto's own query again (the tests compare both)."""
    import moto.dynamodb.models as backend_module
    import moto.dynamodb.models.table as table_module
    import moto.dynamodb.responses as responses_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    if _originals:
        import moto.backends as backends_module

        backends_module.list_of_moto_modules = _originals.pop("list_of_moto_modules")
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        StepFunctionsParserBackend._get_executions = _originals.pop("sfn_executions")
        from moto.sqs.models import SQSBackend

        SQSBackend.is_message_valid_based_on_retention_period = _originals.pop("sqs_retention")
        from moto.dynamodb.models.dynamo_type import DynamoType

        DynamoType.to_regular_json = _originals.pop("to_regular_json")
        DynamoDBBackend.transact_write_items = _originals.pop("transact_write_items")
        DynamoDBBackend.update_item = _originals.pop("update_item")
        backend_module.copy = _originals.pop("copy_module")
        responses_module.copy = _originals.pop("responses_copy_module")
        table_module.copy = _originals.pop("table_copy_module")
        Table.all_items = _originals.pop("all_items")
        Table.query = _originals.pop("query")
        DynamoResult.execute_result = _originals.pop("execute_result")
