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

An index's KEYS_ONLY or INCLUDE projection of the items a query answers takes their attributes by
name instead of converting each whole item to JSON once per attribute (``_install_projection``).

``UpdateItem``'s expression validator: its patches are in ``motofast_updates``.

moto's SQS: its patches are in ``motofast_sqs`` (installed and removed with these).

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

from shangjia.localcloud import motofast_sqs, motofast_updates

_local = threading.local()
_originals: dict = {}


def _candidates(table, hash_key, index_name, hash_key_conditions):
    if not index_name:
        part = table.items.get(hash_key) if hash_key is not None else None
        if part is None:
            return []
        return list(part.values()) if table.range_key_attr else [part]
    conds = list(hash_key_conditions or ())
    if len(conds) == 1:
        return _indexed(table, *conds[0])
    out = []
    for part in table.items.values():
        for item in (part.values() if table.range_key_attr else (part,)):
            attrs = item.attrs
            if all((v := attrs.get(name)) is not None and v == value for name, value in conds):
                out.append(item)
    return out


# --- an index query reads the items carrying its hash value, not the whole table ---------------
#
# Per table, per attribute a query's index hashes on: value -> the keys of the items carrying it
# (insertion-ordered), and key -> value to undo. Built on the first query that names the attribute,
# then kept by every write path (``Table.put_item``, ``Table.delete_item``, the backend's in-place
# ``update_item``, a cancelled transaction's restore): a query's cost follows its answer, as on AWS,
# not the table (at 1,000 products its whole-table scan was a fifth of the emulator's time).
# Candidates are checked against the item's current value before moto's own filters run.

def _vk(value):
    return value.type, value.value if isinstance(value.value, (str, bytes, int, float)) else repr(value.value)


def _item_at(table, h, r):
    part = table.items.get(h)
    if part is None:
        return None
    return part.get(r) if table.range_key_attr else part


_generation = [0]       # install/uninstall: an index kept while the hooks were off is not trusted


def _table_index(table, create: bool = False):
    held = table.__dict__.get("_sj_index")
    if held is None or held[0] != _generation[0]:
        if not create:
            return None
        held = table.__dict__["_sj_index"] = (_generation[0], {})
    return held[1]


def _indexed(table, attr, value):
    idx = _table_index(table, create=True)
    entry = idx.get(attr)
    if entry is None:
        buckets: dict = {}
        back: dict = {}
        for h, part in table.items.items():
            for r, item in (part.items() if table.range_key_attr else ((None, part),)):
                v = item.attrs.get(attr)
                if v is not None:
                    vk = _vk(v)
                    buckets.setdefault(vk, {})[(h, r)] = None
                    back[(h, r)] = vk
        entry = idx[attr] = (buckets, back)
    out = []
    for h, r in entry[0].get(_vk(value), ()):
        item = _item_at(table, h, r)
        if item is not None and (v := item.attrs.get(attr)) is not None and v == value:
            out.append(item)
    return out


def _reindex(table, h, r) -> None:
    """The item at (h, r) was written or deleted: move its key to its attributes' current values."""
    idx = _table_index(table)
    if not idx:
        return
    item = _item_at(table, h, r if table.range_key_attr else None)
    key = (h, r if table.range_key_attr else None)
    for attr, (buckets, back) in idx.items():
        old = back.pop(key, None)
        if old is not None:
            bucket = buckets.get(old)
            if bucket is not None:
                bucket.pop(key, None)
        v = item.attrs.get(attr) if item is not None else None
        if v is not None:
            vk = _vk(v)
            buckets.setdefault(vk, {})[key] = None
            back[key] = vk


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
        _reindex(table, h, r)


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
    _generation[0] += 1
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
        if table is None:
            return original_update(self, table_name, *args, **kwargs)
        try:
            return update_in_place(self, table, table_name, *args, **kwargs)
        finally:       # the item changes in place (even partly, when moto raises midway)
            if _table_index(table):
                try:
                    h, r = self.get_keys_value(table, kwargs.get("key", args[0] if args else None))
                except Exception:   # noqa: BLE001 - a malformed key changed nothing
                    pass
                else:
                    _reindex(table, h, r)

    def update_in_place(self, table, table_name, *args, **kwargs):
        if table.stream_shard is not None:
            return original_update(self, table_name, *args, **kwargs)
        outer = getattr(_local, "no_stream_update", False), getattr(_local, "ast_copies", None)
        _local.no_stream_update = True
        try:
            h, r = self.get_keys_value(table, kwargs.get("key", args[0] if args else None))
            # moto validates the expression once (an item that exists) or twice (a new one): the
            # last validation may use the parsed expression itself (motofast_updates)
            _local.ast_copies = 0 if _item_at(table, h, r) is not None else 1
        except Exception:   # noqa: BLE001 - a malformed key: moto's own path says what is wrong
            _local.ast_copies = None
        try:
            return original_update(self, table_name, *args, **kwargs)
        finally:
            _local.no_stream_update, _local.ast_copies = outer

    original_table_put = _originals["table_put_item"] = Table.put_item
    original_table_delete = _originals["table_delete_item"] = Table.delete_item

    def table_put_item(self, *args, **kwargs):
        item = original_table_put(self, *args, **kwargs)
        if _table_index(self) and item is not None:
            _reindex(self, item.hash_key, item.range_key)
        return item

    def table_delete_item(self, hash_key, range_key=None, *args, **kwargs):
        try:
            return original_table_delete(self, hash_key, range_key, *args, **kwargs)
        finally:
            if _table_index(self):
                _reindex(self, hash_key, range_key)

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

    motofast_updates.install(_originals, _local)
    motofast_sqs.install(_originals, _local)

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
    _install_projection()
    Table.put_item = table_put_item
    Table.delete_item = table_delete_item
    DynamoResult.execute_result = execute_result
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoDBBackend.update_item = update_item


def _install_projection() -> None:
    """An index's projection of an item (each item an index query answers): moto's ``Item.project``
    converts the whole item to plain JSON once per projected attribute and serializes the result
    back (7 % of the emulator's time in the 2,000-product bench); for top-level attributes (every
    KEYS_ONLY and INCLUDE projection) that is the item's own values under those names, in the
    same order. The stored values are shared, not copied: the answer only reads them."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
    from moto.dynamodb.models.table import SecondaryIndex

    original = _originals["index_project"] = SecondaryIndex.project

    def project(self, item):
        kind = (self.projection or {}).get("ProjectionType")
        if kind not in ("KEYS_ONLY", "INCLUDE") or not isinstance(item, Item):
            return original(self, item)
        wanted = self.table_key_attrs + [k["AttributeName"] for k in self.schema]
        if kind == "INCLUDE":
            wanted = wanted + list(self.projection.get("NonKeyAttributes", []))
        out = Item.__new__(Item)
        out.hash_key, out.range_key = item.hash_key, item.range_key
        out.attrs = LimitedSizeDict({a: item.attrs[a] for a in wanted if a in item.attrs})
        return out

    SecondaryIndex.project = project


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
        _generation[0] += 1
        import moto.backends as backends_module

        backends_module.list_of_moto_modules = _originals.pop("list_of_moto_modules")
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend

        StepFunctionsParserBackend._get_executions = _originals.pop("sfn_executions")
        motofast_sqs.uninstall(_originals)
        motofast_updates.uninstall(_originals)
        from moto.dynamodb.models.dynamo_type import DynamoType

        DynamoType.to_regular_json = _originals.pop("to_regular_json")
        DynamoDBBackend.transact_write_items = _originals.pop("transact_write_items")
        DynamoDBBackend.update_item = _originals.pop("update_item")
        backend_module.copy = _originals.pop("copy_module")
        responses_module.copy = _originals.pop("responses_copy_module")
        table_module.copy = _originals.pop("table_copy_module")
        Table.all_items = _originals.pop("all_items")
        Table.put_item = _originals.pop("table_put_item")
        Table.delete_item = _originals.pop("table_delete_item")
        Table.query = _originals.pop("query")
        from moto.dynamodb.models.table import SecondaryIndex

        SecondaryIndex.project = _originals.pop("index_project")
        DynamoResult.execute_result = _originals.pop("execute_result")
