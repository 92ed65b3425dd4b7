"""Values stored packed: compact JSON, zlib'd, as a DynamoDB binary attribute.

DynamoDB bills a write by the size of the whole item, so a large value written once and read
whole (a revision's product and cells, its media results) costs less stored packed: JSON of
product data compresses to about a third. Packed values are opaque to DynamoDB expressions, so only
values that are always written and read whole are packed (``products.PACKED_ATTRS``, media's file
results). Reading accepts both forms: an item written before packing keeps its map."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):               # a number read back from DynamoDB
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)                            # a date or the like: as its text, as json would say it


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain).encode(), 6)


def is_packed(value: Any) -> bool:
    return isinstance(getattr(value, "value", value), (bytes, bytearray))


def unpack(value: Any) -> Any:
    """A stored value: packed (bytes, or boto3's Binary around them) is unpacked; anything else is
    returned as it is (a value stored before packing)."""
    raw = getattr(value, "value", value)
    if isinstance(raw, (bytes, bytearray)):
        return json.loads(zlib.decompress(bytes(raw)))
    return value
