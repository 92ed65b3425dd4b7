"""The local cloud's meter bills DynamoDB the way AWS does on-demand: by the size of the item a
request touches (not by the size of the request), with the GSI writes on top."""

import pytest

from shangjia.localcloud.meter import item_size

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

CALLER = "test-meter-accuracy"


@pytest.fixture
def ddb(cloud):
    client = cloud.client("dynamodb")

    def tag(request, **_):
        request.headers["x-shangjia-caller"] = CALLER   # priced as a caller, not as an observer

    client.meta.events.register("before-sign.dynamodb.*", tag)
    return client


def units(cloud):
    by = cloud.meter.ddb_by_caller
    return by[(CALLER, "wru")], by[(CALLER, "rru")]


def measure(cloud, call):
    """(WRU, RRU) our caller spent on one call; other handlers may be busy in the same cloud."""
    w0, r0 = units(cloud)
    call()
    w1, r1 = units(cloud)
    return w1 - w0, r1 - r0


def five_kb_item(pk: str, **extra) -> dict:
    item = {"pk": {"S": pk}, "sk": {"S": "meter"}, "body": {"S": "货" * 1500}, "n": {"N": "1"}, **extra}
    assert 4 * 1024 < item_size(item) <= 5 * 1024        # 4,500 bytes of UTF-8 and the names: 5 KB started
    return item


def test_one_small_attribute_updated_on_a_5_kb_item_costs_5_wru(cloud, ddb):
    table = cloud.resources.tables["state"]
    item = five_kb_item("meter#plain")
    assert measure(cloud, lambda: ddb.put_item(TableName=table, Item=item)) == (5, 0)
    update = dict(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                  UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}})
    assert measure(cloud, lambda: ddb.update_item(**update)) == (5, 0)   # the request is ~200 bytes

    # a conditional write that fails still consumes the item's size
    failed = dict(update, ConditionExpression="n = :zero", ExpressionAttributeValues={":n": {"N": "3"},
                                                                                      ":zero": {"N": "0"}})

    def conditional():
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.update_item(**failed)

    assert measure(cloud, conditional) == (5, 0)

    # reads: 1 RRU per started 4 KB, half that eventually consistent, however little is projected
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert measure(cloud, lambda: ddb.get_item(TableName=table, Key=key, ConsistentRead=True)) == (0, 2)
    assert measure(cloud, lambda: ddb.get_item(TableName=table, Key=key, ProjectionExpression="n")) == (0, 1)
    assert measure(cloud, lambda: ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": item["pk"]},
        ConsistentRead=True)) == (0, 2)

    assert measure(cloud, lambda: ddb.delete_item(TableName=table, Key=key)) == (5, 0)
    assert measure(cloud, lambda: ddb.delete_item(TableName=table, Key=key)) == (1, 0)   # nothing to delete


def test_a_write_to_an_item_in_a_keys_only_gsi_pays_the_index_only_when_its_keys_move(cloud, ddb):
    """gsi1 projects keys only (topology): its entry is about 100 bytes whatever the item's size,
    and a change to a non-key attribute does not touch it."""
    table = cloud.resources.tables["state"]
    item = five_kb_item("meter#gsi", gsi1pk={"S": "meter-index#a"}, gsi1sk={"S": "1"})
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert measure(cloud, lambda: ddb.put_item(TableName=table, Item=item)) == (5 + 1, 0)
    # a non-key attribute: nothing the index projects changed, the index is not written
    assert measure(cloud, lambda: ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}})) == (5, 0)
    # the index key changes: a delete and a put in the index, each of the small entry
    assert measure(cloud, lambda: ddb.update_item(
        TableName=table, Key=key, UpdateExpression="SET gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "meter-index#b"}})) == (5 + 1 + 1, 0)
    # the item leaves the index: a delete there
    assert measure(cloud, lambda: ddb.update_item(
        TableName=table, Key=key, UpdateExpression="REMOVE gsi1pk")) == (5 + 1, 0)
    # a GSI query is eventually consistent: half a unit per started 4 KB of the full items
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET gsi1pk = :g",
                    ExpressionAttributeValues={":g": {"S": "meter-index#c"}})
    assert measure(cloud, lambda: ddb.query(
        TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "meter-index#c"}})) == (0, 1)
    ddb.delete_item(TableName=table, Key=key)


def test_an_include_gsi_is_rewritten_only_when_an_included_attribute_changes(cloud, ddb):
    table = cloud.resources.tables["state"]
    item = five_kb_item("meter#gsi2", gsi2pk={"S": "meter-status#a"}, gsi2sk={"S": "1"},
                        status={"S": "validating"})
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert measure(cloud, lambda: ddb.put_item(TableName=table, Item=item)) == (5 + 1, 0)
    assert measure(cloud, lambda: ddb.update_item(       # not projected: the index is not written
        TableName=table, Key=key, UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}})) == (5, 0)
    assert measure(cloud, lambda: ddb.update_item(       # projected (status): the entry is rewritten
        TableName=table, Key=key, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "media"}})) == (5 + 1, 0)
    ddb.delete_item(TableName=table, Key=key)


def test_requests_are_measured_not_estimated(cloud, ddb):
    table = cloud.resources.tables["state"]
    by = cloud.meter.ddb_by_caller
    measured0 = by[(CALLER, "measured")]
    ddb.put_item(TableName=table, Item=five_kb_item("meter#count"))
    ddb.get_item(TableName=table, Key={"pk": {"S": "meter#count"}, "sk": {"S": "meter"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "meter#count"}, "sk": {"S": "meter"}})
    assert by[(CALLER, "measured")] == measured0 + 3
    assert by[(CALLER, "estimated")] == 0


def test_adding_to_a_set_of_an_indexed_item_rewrites_the_index_entry(cloud, ddb):
    """moto grows a set in place: the image taken before the request must not grow with it."""
    table = cloud.resources.tables["state"]
    # gsi2 carries ``status`` (INCLUDE): a set there makes the index entry grow with the item
    item = {"pk": {"S": "meter#set"}, "sk": {"S": "meter"}, "gsi2pk": {"S": "meter-set"}, "gsi2sk": {"S": "1"},
            "status": {"SS": ["t" * 900]}}
    key = {"pk": item["pk"], "sk": item["sk"]}
    assert measure(cloud, lambda: ddb.put_item(TableName=table, Item=item)) == (1 + 1, 0)
    assert measure(cloud, lambda: ddb.update_item(
        TableName=table, Key=key, UpdateExpression="ADD #s :t", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":t": {"SS": ["u" * 200]}})) == (2 + 2, 0)   # now over 1 KB
    ddb.delete_item(TableName=table, Key=key)
