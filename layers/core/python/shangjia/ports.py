"""The small interfaces the pipeline core talks to. One AWS implementation lives in
``shangjia.adapters.aws``; the core never imports boto3."""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO, Iterable, Protocol


class ConditionFailed(Exception):
    """A conditional write lost: the item was not in the state the write required."""


class TransactionCanceled(Exception):
    """A transaction wrote nothing: ``reasons[i]`` is why action ``i`` failed (``None``: it did not),
    e.g. ``"ConditionalCheckFailed"``."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(f"transaction canceled: {reasons}")
        self.reasons = reasons


class Transient(Exception):
    """A failure worth retrying (throttling, time-out, a source not there yet)."""


class ExecutionExists(Exception):
    """A workflow execution with that name already exists (a duplicate start)."""


class TaskGone(Exception):
    """A task token that already completed or timed out."""


MAX_TRANSACTION = 100     # DynamoDB's TransactWriteItems limit


class Store(Protocol):
    def get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None: ...
    def put(self, item: dict[str, Any], *, condition: str | None = None,
            names: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> None: ...
    def update(self, pk: str, sk: str, expression: str, *, condition: str | None = None,
               names: dict[str, str] | None = None, values: dict[str, Any] | None = None,
               return_new: bool = False) -> dict[str, Any] | None: ...
    def query(self, pk: str, *, sk_prefix: str | None = None, sk_lte: str | None = None,
              sk_gt: str | None = None, index: str | None = None, limit: int | None = None,
              forward: bool = True) -> list[dict[str, Any]]:
        """Items under ``pk`` in sort-key order; at most one of ``sk_prefix``, ``sk_lte``, ``sk_gt``
        (after that sort key: where a walk stopped)."""
        ...
    def get_many(self, keys: Iterable[tuple[str, str]], *,
                 consistent: bool = False) -> list[dict[str, Any]]:
        """The items at ``keys`` (pk, sk), in the order asked, missing ones left out. For index
        readers: an index that projects keys only lists what to fetch here (a read costs a fifth
        of the write an ALL projection would have cost on every change)."""
        ...
    def delete(self, pk: str, sk: str, *, condition: str | None = None,
               names: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> None: ...
    def put_many(self, items: Iterable[dict[str, Any]]) -> None:
        """Unconditional puts, batched (BatchWriteItem: 25 a request); not atomic, idempotent."""
        ...
    def transact(self, actions: list[dict[str, Any]]) -> None:
        """All or nothing (at most ``MAX_TRANSACTION`` actions): each action is ``{"put": item}``,
        ``{"delete": (pk, sk)}`` or ``{"update": (pk, sk), "expression": "SET ..."}``, with optional
        ``condition``/``names``/``values``. Raises
        ``TransactionCanceled`` (nothing written) when any condition fails."""
        ...


class Queues(Protocol):
    def send_batch(self, queue_key: str, bodies: Iterable[dict[str, Any]], *, delay_s: int = 0) -> None:
        """``delay_s`` (0..900, SQS DelaySeconds): the messages become visible that much later
        (publishing's backoff and quota waits re-send a message delayed instead of failing it)."""
        ...


class Blobs(Protocol):
    def get(self, bucket_key: str, key: str, *, max_bytes: int | None = None) -> bytes: ...
    def get_with_meta(self, bucket_key: str, key: str, *,
                      max_bytes: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The object and its user metadata (``x-amz-meta-*`` names without the prefix, lower case)."""
        ...
    def get_with_etag(self, bucket_key: str, key: str, *, max_bytes: int | None = None) -> tuple[bytes, str]:
        """The object and its ETag (the same GET: what a later ``etag`` compares with)."""
        ...
    def etag(self, bucket_key: str, key: str) -> str | None:
        """The object's ETag (a HEAD: no body), None when it is absent."""
        ...
    def put(self, bucket_key: str, key: str, data: bytes, *, content_type: str) -> None: ...
    def put_new(self, bucket_key: str, key: str, data: bytes, *, content_type: str) -> bool:
        """Create-only put (content-addressed objects): False when the key was there already."""
        ...
    def exists(self, bucket_key: str, key: str) -> bool: ...
    def size(self, bucket_key: str, key: str) -> int | None: ...
    def open(self, bucket_key: str, key: str, *, max_bytes: int | None = None) -> BinaryIO:
        """The object as a read-only, seekable binary file that reads it in ranged GETs of
        bounded blocks (``shangjia.adapters.ranged.RangedFile``: ``size``, ``metadata`` as in
        ``get_with_meta``, ``gets``), never the whole object at once. Large sheets are read
        through it; ``FileNotFoundError`` when the object is absent."""
        ...


class Workflows(Protocol):
    def start(self, machine_key: str, name: str, payload: dict[str, Any]) -> str: ...
    def task_success(self, token: str, output: dict[str, Any]) -> None: ...
    def task_failure(self, token: str, error: str, cause: str) -> None: ...
    def heartbeat(self, token: str) -> None: ...


class Notifier(Protocol):
    """Messages to a topic (SNS): the merchants' batch notices. ``attributes`` become message
    attributes, so a subscriber (an e-mail, a merchant's webhook) can filter on them."""
    def publish(self, topic_key: str, subject: str, message: dict[str, Any], *,
                attributes: dict[str, str] | None = None) -> str:
        """The message id."""
        ...


class SecretNotFound(KeyError):
    """No secret by that name."""


class Secrets(Protocol):
    """Named secrets (AWS Secrets Manager): a channel shop's app secret and push token."""
    def get(self, name: str) -> str:
        """The secret's string value; raises ``SecretNotFound``."""
        ...
    def put(self, name: str, value: str, *, description: str = "") -> None:
        """Create the secret, or store ``value`` as its new current version."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
