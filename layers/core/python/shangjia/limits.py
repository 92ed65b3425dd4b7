"""The AWS limits records must fit, in one place, and how records are measured against them.

- SQS (standard queues, since the 2025 raise from 256 KiB): a message is at most 1 MiB
  (1,048,576 bytes) and a ``SendMessageBatch`` at most 10 entries and 1 MiB in total. SQS
  counts **UTF-8 bytes** (a Chinese character is three); message attributes would count too
  (we send none). ``sqs_batches`` packs bodies into requests under both limits; the adapter sends
  with it, and the local cloud enforces exactly these numbers, in bytes, in front of moto (which
  counts characters).
- DynamoDB: a partition key value is at most 2,048 bytes, a sort key value 1,024 bytes (the
  same for an index's key attributes: a write whose ``gsi1sk`` is too long fails), and an item
  400 KB including its attribute names. ``item_size`` computes an item's size as DynamoDB does
  (the local cloud's meter uses the same function to price writes and reads).

The pipeline checks these before it writes (``pipeline/ingest.py``, ``pipeline/validate.py``):
a product that cannot fit becomes a located error in its batch's report, never a message that
fails on every retry (docs/merchant-answers.md, "Records too big for the stores they go to").
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from decimal import Decimal
from typing import Any, Iterable, Iterator

# --- the limits ----------------------------------------------------------------------------------

SQS_MESSAGE_MAX_BYTES = 1_048_576        # one message body (plus attributes), UTF-8 bytes
SQS_BATCH_MAX_BYTES = 1_048_576          # the sum of a SendMessageBatch's bodies
SQS_BATCH_MAX_ENTRIES = 10

DDB_PARTITION_KEY_MAX_BYTES = 2_048      # table and index partition keys
DDB_SORT_KEY_MAX_BYTES = 1_024           # table and index sort keys
DDB_ITEM_MAX_BYTES = 400 * 1_024         # names and values, UTF-8

# A product item must leave room for what later stages add to it (history entries, media and
# review results, the channels it is listed on): validation keeps it under this.
PRODUCT_ITEM_HEADROOM = 48 * 1_024
PRODUCT_ITEM_MAX_BYTES = DDB_ITEM_MAX_BYTES - PRODUCT_ITEM_HEADROOM


class MessageTooLarge(ValueError):
    """One message over ``SQS_MESSAGE_MAX_BYTES``: no retry will ever send it (a bug upstream,
    which should have measured it with ``message_bytes`` first)."""


# --- SQS -----------------------------------------------------------------------------------------

def message_body(body: dict[str, Any]) -> str:
    """The one JSON form of a message body (what the adapter sends and what is measured)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def message_bytes(body: dict[str, Any]) -> int:
    return utf8_len(message_body(body))


def sqs_batches(texts: Iterable[str], *, max_entries: int = SQS_BATCH_MAX_ENTRIES,
                max_bytes: int = SQS_BATCH_MAX_BYTES,
                max_message_bytes: int = SQS_MESSAGE_MAX_BYTES) -> Iterator[list[str]]:
    """Pack message bodies, in order, into ``SendMessageBatch`` requests of at most ``max_entries``
    bodies and ``max_bytes`` UTF-8 bytes in total. A body over ``max_message_bytes`` raises
    ``MessageTooLarge`` before anything of it is sent (the batches before it are yielded)."""
    chunk: list[str] = []
    size = 0
    for text in texts:
        n = utf8_len(text)
        if n > max_message_bytes:
            raise MessageTooLarge(f"a message of {n} bytes is over SQS's {max_message_bytes}")
        if chunk and (len(chunk) >= max_entries or size + n > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(text)
        size += n
    if chunk:
        yield chunk


# --- DynamoDB keys -------------------------------------------------------------------------------

def key_breaches(item: dict[str, Any], table_key: str = "state") -> list[tuple[str, int, int]]:
    """The key attributes of ``item`` (the table's and every index's, from topology) whose value is
    over DynamoDB's limit: ``[(attribute, bytes, limit)]``; empty when the item's keys fit."""
    from shangjia.topology import TOPOLOGY

    table = next(t for t in TOPOLOGY.tables if t.key == table_key)
    pairs = [(table.partition_key, table.sort_key)] + [(g.partition_key, g.sort_key) for g in table.indexes]
    out = []
    for hash_attr, range_attr in pairs:
        for attr, limit in ((hash_attr, DDB_PARTITION_KEY_MAX_BYTES), (range_attr, DDB_SORT_KEY_MAX_BYTES)):
            value = item.get(attr) if attr else None
            if isinstance(value, str) and utf8_len(value) > limit:
                out.append((attr, utf8_len(value), limit))
    return out


def safe_key_part(text: str, budget: int = 512) -> str:
    """``text`` when its UTF-8 form fits ``budget`` bytes, else a prefix of it and a digest of the
    whole (distinct texts stay distinct; the result fits ``budget``)."""
    if utf8_len(text) <= budget:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
    prefix = text.encode("utf-8")[:budget - len(digest) - 1].decode("utf-8", "ignore")
    return f"{prefix}~{digest}"


# --- DynamoDB item size ----------------------------------------------------------------------------

def _number_size(text: str) -> int:
    """1 byte per two significant digits (leading and trailing zeroes trimmed) + 1 byte; a
    negative number takes one byte more. AWS calls this approximate; so is this."""
    t = text.strip()
    negative = t.startswith("-")
    mantissa = re.split(r"[eE]", t.lstrip("+-"), maxsplit=1)[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1 + (1 if negative else 0)


def _raw_bytes(v) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    import base64   # over the wire (and in moto's backend) binary is base64 text

    return base64.b64decode(v)


def attribute_size(value: dict) -> int:
    """Size of one AttributeValue in DynamoDB JSON ({"S": ...}, {"N": ...}, {"L": [...]} ...)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return len(_raw_bytes(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode("utf-8")) for x in v)
    if kind == "NS":
        return sum(_number_size(x) for x in v)
    if kind == "BS":
        return sum(len(_raw_bytes(x)) for x in v)
    if kind == "L":
        return 3 + sum(1 + attribute_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(x) for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: dict | None) -> int:
    """An item's size in bytes as DynamoDB counts it ("Item sizes and formats" in the DynamoDB
    developer guide): per attribute, the UTF-8 length of its name plus its value: strings their
    UTF-8 bytes, numbers ~1 byte per two significant digits + 1, binary its raw bytes, null and
    booleans 1 byte, lists and maps 3 bytes + 1 byte per element + the elements (a map element's
    name counts), sets the sum of their elements. ``item`` is the attribute map in DynamoDB JSON;
    None (no item) is 0. For an item as the pipeline writes it (Python values), see
    ``native_item_size``."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def to_attribute_value(v: Any) -> dict:
    """A Python value as DynamoDB JSON, the way the adapter's serializer types it (floats become
    decimal numbers; a set of strings SS, of numbers NS)."""
    if v is None:
        return {"NULL": True}
    if isinstance(v, bool):
        return {"BOOL": v}
    if isinstance(v, (int, Decimal)):
        return {"N": str(v)}
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"DynamoDB cannot store {v}")
        return {"N": str(Decimal(str(v)))}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, (bytes, bytearray)):
        return {"B": bytes(v)}
    if isinstance(v, (set, frozenset)):
        items = list(v)
        if items and all(isinstance(x, str) for x in items):
            return {"SS": items}
        if items and all(isinstance(x, (bytes, bytearray)) for x in items):
            return {"BS": [bytes(x) for x in items]}
        return {"NS": [to_attribute_value(x)["N"] for x in items]}
    if isinstance(v, dict):
        return {"M": {str(k): to_attribute_value(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return {"L": [to_attribute_value(x) for x in v]}
    raise TypeError(f"no DynamoDB type for {type(v).__name__}")


def native_item_size(item: dict[str, Any] | None) -> int:
    """``item_size`` of an item given as Python values (top-level None attributes are not written
    by the adapter, so they do not count)."""
    if not item:
        return 0
    return item_size({k: to_attribute_value(v) for k, v in item.items() if v is not None})
