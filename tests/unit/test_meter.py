from shangjia.localcloud.meter import PRICES, Meter


def test_costs_split_into_orchestration_and_media():
    m = Meter()
    m.request("sqs", "SendMessageBatch", 70_000, 100)          # two 64 KB chunks
    m.request("sqs", "ReceiveMessage(empty)", 0, 10)           # idle polls are not billed
    m.request("dynamodb", "PutItem", 1500, 10)                 # 2 WRU
    m.request("s3", "PutObject", 30_000, 0, s3_media=True)
    m.invocation("media", 1.0, 0.5, 1024, False)
    m.invocation("validate", 0.2, 0.2, 512, False)
    m.state_transitions = 8
    c = m.cost()
    assert c["orchestration"]["sqs"] == 2 * PRICES["sqs_request"]
    assert c["orchestration"]["dynamodb"] == 2 * PRICES["ddb_wru"]
    assert c["orchestration"]["step_functions"] == 8 * PRICES["sfn_transition"]
    assert c["media"]["s3_requests"] == PRICES["s3_put"]
    assert c["media"]["lambda_gb_s"] > 0 and c["orchestration"]["lambda_gb_s"] > 0
    assert m.snapshot()["requests"] == {"sqs": 2, "dynamodb": 1, "s3": 1}


# --- DynamoDB capacity from item sizes ("Item sizes and formats", DynamoDB developer guide) ---
import base64  # noqa: E402

import pytest  # noqa: E402

from shangjia.localcloud.meter import index_write_units, item_size, read_units, write_units  # noqa: E402


@pytest.mark.parametrize("item, size", [
    # strings: name + UTF-8 bytes (a CJK character is 3 bytes)
    ({"shirt-color": {"S": "R"}, "shirt-size": {"S": "M"}}, 11 + 1 + 10 + 1),
    ({"title": {"S": "上架"}}, 5 + 6),
    # numbers: 1 byte per two significant digits + 1; leading and trailing zeroes trimmed
    ({"n": {"N": "101"}}, 1 + 2 + 1),
    ({"n": {"N": "500"}}, 1 + 1 + 1),
    ({"n": {"N": "0.00120"}}, 1 + 1 + 1),
    ({"n": {"N": "-12"}}, 1 + 1 + 1 + 1),
    # binary: the raw bytes, not the base64 text
    ({"b": {"B": base64.b64encode(b"12345").decode()}}, 1 + 5),
    # null and boolean: 1 byte
    ({"ok": {"BOOL": True}, "gone": {"NULL": True}}, 2 + 1 + 4 + 1),
    # list and map: 3 bytes + 1 per element + the elements (a map element's name counts)
    ({"l": {"L": []}}, 1 + 3),
    ({"m": {"M": {}}}, 1 + 3),
    ({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}, 1 + 3 + (1 + 2) + (1 + 2)),
    ({"m": {"M": {"k": {"S": "v"}}}}, 1 + 3 + (1 + 1 + 1)),
    # sets: their elements
    ({"tags": {"SS": ["a", "bc"]}}, 4 + 3),
    ({"ns": {"NS": ["1", "22"]}}, 2 + 2 + 2),
])
def test_item_size_follows_the_documented_rules(item, size):
    assert item_size(item) == size


def test_item_size_worked_examples():
    # third-party calculators' published examples, which follow the same rules
    book = {"Id": {"N": "101"}, "Title": {"S": "Book 101 Title"}, "ISBN": {"S": "111-1111111111"},
            "Authors": {"L": [{"S": "Author1"}]}, "Price": {"N": "2"}, "Dimensions": {"S": "8.5 x 11.0 x 0.5"},
            "PageCount": {"N": "500"}, "InPublication": {"BOOL": True}, "ProductCategory": {"S": "Book"}}
    assert item_size(book) == 137
    slot = {"itemType": {"S": "SLOT"}, "id": {"S": "abc1231"}, "hostName": {"S": "Harry Mason"},
            "timeSlot": {"S": "February 23, 1999"}, "slotStatus": {"S": "OPEN"},
            "createdAt": {"S": "February 1, 1999"}, "updatedAt": {"S": "February 1, 1999"},
            "expiresAt": {"N": "2099"}}
    assert item_size(slot) == 141
    assert item_size(None) == 0


def test_write_units_bill_the_larger_item_per_started_kb():
    assert write_units(0, 0) == 1                    # deleting nothing still costs 1
    assert write_units(0, 1024) == 1 and write_units(0, 1025) == 2
    assert write_units(5 * 1024, 5 * 1024 + 10) == 6
    assert write_units(5000, 120) == 5               # an update that shrinks a 5 KB item
    assert write_units(500, 500, transactional=True) == 2


def test_read_units_per_started_4kb_half_when_eventually_consistent():
    assert read_units(0) == 1 and read_units(4096) == 1 and read_units(4097) == 2
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(100, consistent=False) == 0.5
    assert read_units(100, transactional=True) == 2


def test_index_write_units():
    keys = ("gsi1pk", "gsi1sk")
    plain = {"pk": {"S": "p"}, "body": {"S": "x" * 2000}}
    indexed = {**plain, "gsi1pk": {"S": "a"}, "gsi1sk": {"S": "1"}}
    moved = {**indexed, "gsi1pk": {"S": "b"}}
    changed = {**indexed, "body": {"S": "y" * 2000}}
    assert index_write_units(None, plain, keys) == 0                       # not in the index
    assert index_write_units(None, indexed, keys) == 2                     # put into the index
    assert index_write_units(indexed, None, keys) == 2                     # delete from it
    assert index_write_units(indexed, plain, keys) == 2                    # leaves it
    assert index_write_units(indexed, moved, keys) == 4                    # key change: delete + put
    assert index_write_units(indexed, changed, keys) == 2                  # changed in place
    assert index_write_units(indexed, dict(indexed), keys) == 0            # unchanged (failed condition)


def test_measured_units_replace_the_estimate_and_estimates_are_counted():
    m = Meter()
    m.request("dynamodb", "UpdateItem", 200, 10, ddb_units=(5, 0, True))
    m.request("dynamodb", "Query", 300, 9000, ddb_units=(0, 1.5, False))
    m.request("dynamodb", "GetItem", 100, 5000)                            # unmeasured: estimated
    m.request("dynamodb", "PutItem", 100, 10, caller="observer", ddb_units=(9, 0, True))
    assert m.units["ddb_wru"] == 5
    assert m.units["ddb_rru"] == 1.5 + 2
    assert m.units["ddb_measured"] == 1 and m.units["ddb_estimated"] == 2
    assert m.cost()["orchestration"]["dynamodb"] == 5 * PRICES["ddb_wru"] + 3.5 * PRICES["ddb_rru"]


def test_a_profile_since_earlier_counts_holds_only_what_came_after():
    from shangjia.localcloud.meter import counts, profile

    m = Meter()
    m.request("dynamodb", "PutItem", 100, 10, caller="validate", ddb_units=(1, 0, True),
              ddb_partitions=[("PRODUCT#m#P1", 1)])
    m.invocation("validate", 0.1, 0.05, 512, False)
    first = counts(m)
    m.request("dynamodb", "UpdateItem", 100, 10, caller="stock_sync", ddb_units=(2, 0, True),
              ddb_partitions=[("PRODUCT#m#P1", 2)])
    m.invocation("stock_sync", 0.1, 0.04, 256, False)
    m.state_transitions = 7
    later = profile(m, skus=2, products=1, images=0, memory_mb={}, source="the second phase", since=first)
    assert set(later["functions"]) == {"stock_sync"} and later["functions"]["stock_sync"]["cpu_s"] == 0.04
    assert later["dynamodb"]["wru"] == 2 and later["requests"] == {"dynamodb": 1}
    assert later["partitions"]["PRODUCT#*#*"] == {"keys": 1, "wru": 2, "max_key_wru": 2}
    assert later["stepfunctions"]["transitions"] == 7
    whole = profile(m, skus=2, products=1, images=0, memory_mb={}, source="the run")
    assert whole["dynamodb"]["wru"] == 3 and set(whole["functions"]) == {"validate", "stock_sync"}
