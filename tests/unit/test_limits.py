"""AWS's size limits in one place (shangjia/limits.py): SQS byte budgets, DynamoDB key and item sizes."""

import json

import pytest

from shangjia import limits
from shangjia.limits import (DDB_SORT_KEY_MAX_BYTES, SQS_BATCH_MAX_BYTES, SQS_MESSAGE_MAX_BYTES, MessageTooLarge,
                             item_size, key_breaches, message_body, native_item_size, safe_key_part, sqs_batches)


def test_the_limits_are_the_current_aws_ones():
    assert SQS_MESSAGE_MAX_BYTES == SQS_BATCH_MAX_BYTES == 1_048_576      # since 2025 (was 256 KiB)
    assert limits.SQS_BATCH_MAX_ENTRIES == 10
    assert limits.DDB_PARTITION_KEY_MAX_BYTES == 2048 and DDB_SORT_KEY_MAX_BYTES == 1024
    assert limits.DDB_ITEM_MAX_BYTES == 409_600


def test_batches_are_budgeted_by_utf8_bytes_not_characters():
    # 150,000 Chinese characters: 150 KB of characters, 450 KB of UTF-8. Ten of them are 1.5 M
    # characters but 4.5 MB: two fit a request, never three.
    texts = [message_body({"n": i, "t": "商" * 150_000}) for i in range(10)]
    out = list(sqs_batches(texts))
    assert [len(b) for b in out] == [2, 2, 2, 2, 2]
    assert all(sum(len(t.encode()) for t in b) <= SQS_BATCH_MAX_BYTES for b in out)
    assert [t for b in out for t in b] == texts                        # every body, once, in order


def test_small_bodies_fill_ten_entries_and_a_body_exactly_at_the_limit_goes_alone():
    assert [len(b) for b in sqs_batches(["{}"] * 23)] == [10, 10, 3]
    exact = "x" * SQS_MESSAGE_MAX_BYTES
    assert [len(b) for b in sqs_batches(["{}", exact, "{}"])] == [1, 1, 1]


def test_a_single_body_over_the_limit_is_refused_before_it_is_sent():
    gen = sqs_batches(["{}", "é" * (SQS_MESSAGE_MAX_BYTES // 2 + 1)])   # fewer characters than the limit
    with pytest.raises(MessageTooLarge):
        list(gen)


ITEMS = [
    {"pk": "PRODUCT#m1#P1", "sk": "META", "n": 12.5, "i": -120, "z": 0, "b": True, "none": None},
    {"pk": "商品", "nested": {"标题": "纯棉T恤", "list": [1, "a", {"x": [True, None]}], "empty": {}},
     "ss": {"a", "乙"}, "ns": {1, 2, 30}, "bin": b"\x00\x01\x02"},
    {"pk": "x", "findings": [{"code": "FIELD_LENGTH", "row": 3, "message_zh": "太长" * 50}] * 20},
]


@pytest.mark.parametrize("item", ITEMS, ids=range(len(ITEMS)))
def test_native_item_size_is_the_meters_size_of_what_the_adapter_writes(item):
    """One copy of DynamoDB's size rule, fed the way the DynamoDB adapter serializes items."""
    from boto3.dynamodb.types import TypeSerializer

    from shangjia.adapters.aws import _to_ddb

    ser = TypeSerializer()
    wire = {k: ser.serialize(_to_ddb(v)) for k, v in item.items() if v is not None}
    assert native_item_size(item) == item_size(wire)


def test_the_meter_prices_with_the_same_function():
    from shangjia.localcloud import meter

    assert meter.item_size is limits.item_size
    assert not hasattr(meter, "_value_size")


def test_item_size_counts_names_and_utf8():
    assert native_item_size({"名": "商品"}) == 3 + 6
    assert native_item_size({"a": [1]}) == 1 + 3 + 1 + 2


def test_key_breaches_see_the_index_keys_too():
    ok = {"pk": "PRODUCT#m1#" + "A" * 1000, "sk": "META", "gsi1pk": "BATCH#b", "gsi1sk": "PRODUCT#" + "A" * 1016}
    assert key_breaches(ok) == []
    # 1,017 bytes of code: the table key fits (pk < 2,048) but the index's sort key does not
    bad = {**ok, "gsi1sk": "PRODUCT#" + "A" * 1017}
    assert key_breaches(bad) == [("gsi1sk", 1025, 1024)]
    huge = {"pk": "PRODUCT#m1#" + "码" * 700, "sk": "META"}
    assert [b[0] for b in key_breaches(huge)] == ["pk"]


def test_safe_key_part_fits_and_keeps_distinct_codes_distinct():
    a, b = "码" * 1000 + "A", "码" * 1000 + "B"
    assert safe_key_part("P1") == "P1"
    sa, sb = safe_key_part(a), safe_key_part(b)
    assert sa != sb and len(sa.encode()) <= 512 and len(sb.encode()) <= 512


def test_the_local_cloud_enforces_sqs_limits_in_bytes():
    from shangjia.localcloud.server import sqs_size_error

    chinese = "商" * 400_000                       # 400 k characters (moto would take it), 1.2 MB
    one = json.dumps({"QueueUrl": "q", "MessageBody": chinese}).encode()
    assert sqs_size_error("SendMessage", one)[0] == "InvalidParameterValue"
    two = json.dumps({"QueueUrl": "q", "Entries": [{"Id": str(i), "MessageBody": "商" * 200_000}
                                                   for i in range(2)]}).encode()
    assert sqs_size_error("SendMessageBatch", two)[0] == "BatchRequestTooLong"
    fits = json.dumps({"QueueUrl": "q", "Entries": [{"Id": "0", "MessageBody": "商" * 349_000}]}).encode()
    assert sqs_size_error("SendMessageBatch", fits) is None
    from urllib.parse import urlencode

    form = urlencode({"Action": "SendMessage", "MessageBody": chinese}).encode()
    assert sqs_size_error("Query", form)[0] == "InvalidParameterValue"
