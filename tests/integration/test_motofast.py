"""The local cloud's faster moto (localcloud/motofast.py) answers exactly what moto's own does:
queries (same items, order, pages, counts) on the table and on both indexes, with filters,
projections and limits; and every read operation's answer, binary and nested values included,
as a client parses it."""

import json
import random

import boto3
from moto import mock_aws

from shangjia.localcloud import motofast
from shangjia.topology import TOPOLOGY



def _table(ddb):
    (t,) = [t for t in TOPOLOGY.tables if t.key == "state"]
    attrs = {"pk", "sk"} | {a for g in t.indexes for a in (g.partition_key, g.sort_key)}
    gsis = []
    for g in t.indexes:
        proj = ({"ProjectionType": g.projection} if isinstance(g.projection, str)
                else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(g.projection)})
        gsis.append({"IndexName": g.name, "Projection": proj, "KeySchema": [
            {"AttributeName": g.partition_key, "KeyType": "HASH"}, {"AttributeName": g.sort_key, "KeyType": "RANGE"}]})
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", GlobalSecondaryIndexes=gsis,
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)])
    return t


def _queries(t):
    g1, g2 = t.indexes
    qs = []
    for p in ("P#1", "P#7", "P#none"):
        qs.append(dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": p}}))
        qs.append(dict(KeyConditionExpression="pk = :p AND begins_with(sk, :s)", ScanIndexForward=False,
                       ExpressionAttributeValues={":p": {"S": p}, ":s": {"S": "SKU#1"}}, Limit=3))
        qs.append(dict(KeyConditionExpression="pk = :p", FilterExpression="n > :n", ConsistentRead=True,
                       ExpressionAttributeValues={":p": {"S": p}, ":n": {"N": "40"}}, ProjectionExpression="sk, n"))
    for s in ("STATUS#published", "STATUS#scheduled", "STATUS#nothing"):
        qs.append(dict(IndexName=g2.name, KeyConditionExpression=f"{g2.partition_key} = :s",
                       ExpressionAttributeValues={":s": {"S": s}}, Limit=7))
        qs.append(dict(IndexName=g2.name, KeyConditionExpression=f"{g2.partition_key} = :s AND {g2.sort_key} <= :t",
                       ExpressionAttributeValues={":s": {"S": s}, ":t": {"S": "2026-11-25T05"}}))
    qs.append(dict(IndexName=g1.name, KeyConditionExpression=f"{g1.partition_key} = :b",
                   ExpressionAttributeValues={":b": {"S": "BATCH#2"}}, ScanIndexForward=False))
    return qs


def _reads(ddb):
    out = [ddb.get_item(TableName="t", Key={"pk": {"S": "P#3"}, "sk": {"S": "SKU#0003"}}),
           ddb.get_item(TableName="t", Key={"pk": {"S": "P#3"}, "sk": {"S": "SKU#0003"}}, ProjectionExpression="b, m.deep"),
           ddb.get_item(TableName="t", Key={"pk": {"S": "P#0"}, "sk": {"S": "missing"}}),
           ddb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "P#3"}, "sk": {"S": "SKU#0003"}},
                                                           {"pk": {"S": "P#4"}, "sk": {"S": "SKU#0004"}}]}}),
           ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": {"pk": {"S": "P#3"}, "sk": {"S": "SKU#0003"}}}}]),
           ddb.scan(TableName="t", FilterExpression="n < :n", ExpressionAttributeValues={":n": {"N": "5"}}, Limit=50),
           ddb.query(TableName="t", KeyConditionExpression="pk = :p", Select="COUNT",
                     ExpressionAttributeValues={":p": {"S": "P#3"}}, ReturnConsumedCapacity="TOTAL")]
    for r in out:
        r.pop("ResponseMetadata")
    return out


def _all_pages(ddb, q):
    pages, start = [], None
    while True:
        r = ddb.query(TableName="t", **q, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((r["Items"], r["Count"], r["ScannedCount"]))
        start = r.get("LastEvaluatedKey")
        if not start:
            return pages


def test_fast_query_answers_as_moto_does():
    rng = random.Random(5)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        t = _table(ddb)
        g1, g2 = t.indexes
        for i in range(400):
            item = {"pk": {"S": f"P#{i % 12}"}, "sk": {"S": f"SKU#{i:04d}"}, "n": {"N": str(rng.randrange(100))}}
            for a in list(g2.projection)[: i % 3]:         # what gsi2 INCLUDEs, on some items
                item[a] = {"S": f"{a}-{i}"}
            if rng.random() < 0.6:
                item[g2.partition_key] = {"S": rng.choice(["STATUS#published", "STATUS#scheduled"])}
                item[g2.sort_key] = {"S": f"2026-11-25T0{rng.randrange(10)}:{i:04d}"}
            if rng.random() < 0.5:
                item[g1.partition_key] = {"S": f"BATCH#{rng.randrange(4)}"}
                item[g1.sort_key] = {"S": f"{i:05d}"}
            if i % 4 == 3:
                item.update(b={"B": bytes(range(i % 256)) + b"\x00\xff"}, bs={"BS": [b"a", b"\x01\x02"]},
                            m={"M": {"deep": {"L": [{"N": "1.5"}, {"NULL": True}, {"BOOL": False}, {"SS": ["x", "y"]}]}}},
                            ns={"NS": ["1", "2"]}, s={"S": "中文 \"quoted\" \u2028"})
            ddb.put_item(TableName="t", Item=item)
        motofast.uninstall()
        want = [_all_pages(ddb, q) for q in _queries(t)], _reads(ddb)
        motofast.install()
        try:
            got = [_all_pages(ddb, q) for q in _queries(t)], _reads(ddb)
        finally:
            motofast.uninstall()
    assert [sum(len(p[0]) for p in w) for w in want[0]][:2] != [0, 0], "the data answers the queries"
    assert want[1][0]["Item"]["b"]["B"] and want[1][3]["Responses"]["t"], "binary values and batches are read"
    assert got[0] == want[0]
    assert got[1] == want[1]


def _transactions(ddb, name):
    """Three transactions on table ``name``: one that commits, two that are cancelled after some
    of their actions were applied; what a client sees of them and of the table afterwards."""
    def key(i):
        return {"pk": {"S": f"P#{i}"}, "sk": {"S": f"SKU#{i}"}}

    seen = []
    plans = [
        [{"Put": {"TableName": name, "Item": {**key(100), "n": {"N": "1"}}}},
         {"Update": {"TableName": name, "Key": key(3), "UpdateExpression": "SET n = :n",
                     "ExpressionAttributeValues": {":n": {"N": "1000"}}}},
         {"Delete": {"TableName": name, "Key": key(4)}}],
        [{"Put": {"TableName": name, "Item": {**key(101), "n": {"N": "2"}}}},
         {"Update": {"TableName": name, "Key": key(5), "UpdateExpression": "SET n = :n, m = :m",
                     "ExpressionAttributeValues": {":n": {"N": "7"}, ":m": {"M": {"a": {"B": b"\x00"}}}}}},
         {"Delete": {"TableName": name, "Key": key(8)}},
         {"ConditionCheck": {"TableName": name, "Key": key(6), "ConditionExpression": "n > :big",
                             "ExpressionAttributeValues": {":big": {"N": "1000000"}}}}],
        [{"Delete": {"TableName": name, "Key": key(7)}},
         {"Put": {"TableName": name, "Item": {**key(9), "n": {"N": "3"}},
                  "ConditionExpression": "attribute_not_exists(pk)"}}],
    ]
    for plan in plans:
        try:
            ddb.transact_write_items(TransactItems=plan)
            seen.append("committed")
        except ddb.exceptions.TransactionCanceledException as e:
            seen.append([r["Code"] for r in e.response["CancellationReasons"]])
    # single writes and what they answer
    answers = [
        ddb.update_item(TableName=name, Key=key(10), UpdateExpression="SET n = n + :one, b = :b",
                        ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"B": b"\x00\x01"}}, ReturnValues="ALL_NEW"),
        ddb.update_item(TableName=name, Key=key(10), UpdateExpression="REMOVE b", ReturnValues="UPDATED_OLD",
                        ReturnConsumedCapacity="TOTAL"),
        ddb.update_item(TableName=name, Key=key(11), UpdateExpression="SET m = :m",
                        ExpressionAttributeValues={":m": {"M": {"x": {"L": [{"S": "中"}]}}}}),
        # the old image of nested values, lists and sets, as the update changes them (UpdateItem's
        # old image is no longer a deep copy of the item: motofast)
        ddb.update_item(TableName=name, Key=key(11), ReturnValues="ALL_OLD",
                        UpdateExpression="SET m.x = list_append(m.x, :l), h = list_append(if_not_exists(h, :e), :l) "
                                         "ADD ss :s",
                        ExpressionAttributeValues={":l": {"L": [{"M": {"at": {"S": "t1"}}}]}, ":e": {"L": []},
                                                   ":s": {"SS": ["a", "b"]}}),
        ddb.update_item(TableName=name, Key=key(11), ReturnValues="ALL_OLD",
                        UpdateExpression="SET m.x[0] = :v, h = list_append(h, :l) ADD ss :s",
                        ExpressionAttributeValues={":v": {"S": "改"}, ":l": {"L": [{"M": {"at": {"S": "t2"}}}]},
                                                   ":s": {"SS": ["c"]}}),
        ddb.update_item(TableName=name, Key=key(11), ReturnValues="UPDATED_OLD",
                        UpdateExpression="SET m.y = :v DELETE ss :s",
                        ExpressionAttributeValues={":v": {"N": "1"}, ":s": {"SS": ["a"]}}),
        ddb.update_item(TableName=name, Key=key(11), ReturnValues="UPDATED_NEW",
                        UpdateExpression="SET h[0].#a = :v", ExpressionAttributeNames={"#a": "at"},
                        ExpressionAttributeValues={":v": {"S": "t0"}}),
        ddb.put_item(TableName=name, Item={**key(2), "n": {"N": "-2"}}, ReturnValues="ALL_OLD"),
        ddb.delete_item(TableName=name, Key=key(1), ReturnValues="ALL_OLD"),
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {**key(200), "n": {"N": "0"}}}},
                                                  {"DeleteRequest": {"Key": key(0)}}]}),
    ]
    for a in answers:
        a.pop("ResponseMetadata")
        cc = a.get("ConsumedCapacity")
        for c in [cc] if isinstance(cc, dict) else cc or []:
            c["TableName"] = "-"        # the two tables' names differ
        seen.append(a)
    try:
        ddb.update_item(TableName=name, Key=key(3), UpdateExpression="SET n = :n", ConditionExpression="n < :n",
                        ExpressionAttributeValues={":n": {"N": "0"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ddb.exceptions.ConditionalCheckFailedException as e:
        seen.append(("refused", e.response.get("Item")))
    items = ddb.scan(TableName=name)["Items"]
    return seen, sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_transactions_commit_and_roll_back_as_moto_does():
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("moto", "fast"):
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                             AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")])
            for i in range(12):
                ddb.put_item(TableName=name, Item={"pk": {"S": f"P#{i}"}, "sk": {"S": f"SKU#{i}"}, "n": {"N": str(i)}})
        motofast.uninstall()
        want = _transactions(ddb, "moto")
        motofast.install()
        try:
            got = _transactions(ddb, "fast")
        finally:
            motofast.uninstall()
    assert want[0][:3] == ["committed", ["None", "None", "None", "ConditionalCheckFailed"], ["None", "ConditionalCheckFailed"]]
    assert want[0][3]["Attributes"]["b"] == {"B": b"\x00\x01"} and want[0][10]["Attributes"]["n"] == {"N": "2"}
    assert want[0][7]["Attributes"]["m"]["M"]["x"]["L"] == [{"S": "中"}, {"M": {"at": {"S": "t1"}}}]
    assert sorted(want[0][7]["Attributes"]["ss"]["SS"]) == ["a", "b"]     # the image before the 2nd update
    assert want[0][-1][0] == "refused" and want[0][-1][1]["n"] == {"N": "1000"}
    by_pk = {i["pk"]["S"]: i for i in want[1]}
    assert "P#101" not in by_pk and by_pk["P#5"]["n"] == {"N": "5"} and "P#8" in by_pk and "P#7" in by_pk
    assert got == want


def test_the_server_lists_moto_s_services_once_and_the_same():
    import moto.backends as backends

    motofast.uninstall()
    want = list(backends.list_of_moto_modules())
    motofast.install()
    try:
        assert list(backends.list_of_moto_modules()) == want and "dynamodb" in want and "sqs" in want
        assert "sqs" in backends.list_of_moto_modules()       # how the server asks it, each time
        assert "sqs" in backends.list_of_moto_modules()
    finally:
        motofast.uninstall()
    assert list(backends.list_of_moto_modules()) == want


def test_nested_values_convert_as_moto_converts_them():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {"pk": {"S": "P#1"}, "sk": {"S": "META"}, "n": {"N": "1.5"}, "b": {"B": "AAE="}, "t": {"BOOL": True},
             "z": {"NULL": True}, "ss": {"SS": ["a", "中"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AAE="]},
             "history": {"L": [{"M": {"status": {"S": "media"}, "at": {"S": "t"}, "b": {"NULL": True}}},
                               {"M": {"deep": {"L": [{"L": [{"M": {"x": {"B": "AAI="}, "y": {"SS": ["q"]}}}]}]}}}]},
             "product": {"M": {"skus": {"L": [{"M": {"code": {"S": "S-1"}, "price": {"N": "9.9"}}}]},
                               "flags": {"M": {}}, "empty": {"L": []}}}}
    motofast.uninstall()
    item = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
    want = (item.to_json(), {k: DynamoType(v).to_regular_json() for k, v in attrs.items()})
    motofast.install()
    try:
        got = (item.to_json(), {k: DynamoType(v).to_regular_json() for k, v in attrs.items()})
        shared = item.to_json()["Attributes"]["history"]["L"][0]["M"]
        shared["status"]["S"] = "changed"        # an answer shares nothing with the item
        assert item.to_json() == got[0]
    finally:
        motofast.uninstall()
    assert got == want
    assert want[1]["b"] == {"B": b"\x00\x01"}


def _sqs_run(sqs, name):
    """Messages through a queue with a short retention: what receives hand out, before and after
    the oldest expire (moto stops handing out at an expired message)."""
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)])
    first = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3,
                                                          VisibilityTimeout=0)["Messages"])
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].get_queue(name)
    for m in queue._messages[3:]:
        m.sent_timestamp -= 61_000             # the last two: older than the retention period
    later = [sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                          VisibilityTimeout=0).get("Messages", []))
             for _ in range(3)]
    return first, later


def _moto_and_fast(run, service="sqs"):
    """``run(client, tag)`` on moto's own backend (SQS, or ``service``), then with motofast
    installed: (moto's, ours)."""
    with mock_aws():
        sqs = boto3.client(service, region_name="us-east-1")
        motofast.uninstall()
        want = run(sqs, "moto")
        motofast.install()
        try:
            return want, run(sqs, "fast")
        finally:
            motofast.uninstall()


def test_sqs_retention_is_checked_as_moto_checks_it():
    want, got = _moto_and_fast(_sqs_run)
    assert want == (["m0", "m1", "m2"], [["m0", "m1", "m2"]] * 3), "expired messages are not handed out"
    assert got == want


def test_a_task_token_call_skips_an_execution_without_an_interpreter_environment():
    """moto looks for a token's owner through every running execution's interpreter environment;
    an execution just starting (or ending) has none, and moto's loop broke on it with a 500 for
    every reviewer's decision. The patched lookup leaves such executions out, and only those."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    ready = SimpleNamespace(status="RUNNING", exec_worker=SimpleNamespace(env=object()))
    starting = SimpleNamespace(status="RUNNING", exec_worker=SimpleNamespace(env=None))
    unscheduled = SimpleNamespace(status="RUNNING", exec_worker=None)
    fake = SimpleNamespace(state_machines=[SimpleNamespace(executions=[ready, starting, unscheduled])])
    motofast.install()
    try:
        assert StepFunctionsParserBackend._get_executions(fake, "RUNNING") == [ready]
    finally:
        motofast.uninstall()
    assert StepFunctionsParserBackend._get_executions(fake, "RUNNING") == [ready, starting, unscheduled]


def test_an_index_query_keeps_up_with_every_write_path():
    """The index a query reads (the items carrying its hash value) is built once and then kept by
    every write: puts that add, change or drop the indexed attribute, updates in place (SET and
    REMOVE), deletes, batch writes, and transactions, committed or cancelled after some of their
    actions applied. After each round, every value's query answers exactly the items a Scan finds."""
    rng = random.Random(11)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        t = _table(ddb)
        g1, g2 = t.indexes
        values = {g1.partition_key: [f"BATCH#{i}" for i in range(4)],
                  g2.partition_key: ["STATUS#media", "STATUS#in_review", "STATUS#published"]}
        sort_of = {g1.partition_key: g1.sort_key, g2.partition_key: g2.sort_key}

        def key(i):
            return {"pk": {"S": f"P#{i % 9}"}, "sk": {"S": f"K#{i}"}}

        def index_attrs():
            out = {}
            for attr, vals in values.items():
                if rng.random() < 0.7:
                    out[attr] = {"S": rng.choice(vals)}
                    out[sort_of[attr]] = {"S": f"{rng.randrange(10**6):06d}"}
            return out

        def check():
            for attr, vals in values.items():
                index = g1 if attr == g1.partition_key else g2
                for v in vals:
                    got, start = set(), {}
                    while True:
                        page = ddb.query(TableName="t", IndexName=index.name, KeyConditionExpression="#a = :v",
                                         ExpressionAttributeNames={"#a": attr},
                                         ExpressionAttributeValues={":v": {"S": v}}, **start)
                        got |= {(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]}
                        if "LastEvaluatedKey" not in page:
                            break
                        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
                    want = {(i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(     # an index holds items with both keys
                        TableName="t", FilterExpression="#a = :v AND attribute_exists(#s)",
                        ExpressionAttributeNames={"#a": attr, "#s": sort_of[attr]},
                        ExpressionAttributeValues={":v": {"S": v}})["Items"]}
                    assert got == want, (attr, v)

        motofast.install()
        try:
            for i in range(60):
                ddb.put_item(TableName="t", Item={**key(i), **index_attrs()})
            check()                                         # the index is built here, then kept
            for _round in range(12):
                for _ in range(15):
                    i, op = rng.randrange(80), rng.random()
                    if op < 0.25:
                        ddb.put_item(TableName="t", Item={**key(i), **index_attrs()})
                    elif op < 0.45:
                        attr = rng.choice(list(values))
                        ddb.update_item(TableName="t", Key=key(i), UpdateExpression="SET #a = :v, #s = :s",
                                        ExpressionAttributeNames={"#a": attr, "#s": sort_of[attr]},
                                        ExpressionAttributeValues={":v": {"S": rng.choice(values[attr])},
                                                                   ":s": {"S": "000001"}})
                    elif op < 0.55:
                        attr = rng.choice(list(values))
                        ddb.update_item(TableName="t", Key=key(i), UpdateExpression="REMOVE #a",
                                        ExpressionAttributeNames={"#a": attr})
                    elif op < 0.7:
                        ddb.delete_item(TableName="t", Key=key(i))
                    elif op < 0.8:
                        ddb.batch_write_item(RequestItems={"t": [
                            {"PutRequest": {"Item": {**key(i), **index_attrs()}}},
                            {"DeleteRequest": {"Key": key(i + 1)}}]})
                    else:
                        cancel = rng.random() < 0.5
                        actions = [{"Put": {"TableName": "t", "Item": {**key(i), **index_attrs()}}},
                                   {"Update": {"TableName": "t", "Key": key(i + 2), "UpdateExpression": "SET #a = :v",
                                               "ExpressionAttributeNames": {"#a": g2.partition_key},
                                               "ExpressionAttributeValues": {":v": {"S": "STATUS#published"}}}},
                                   {"Delete": {"TableName": "t", "Key": key(i + 3)}}]
                        if cancel:
                            actions.append({"ConditionCheck": {"TableName": "t", "Key": key(i + 4),
                                                               "ConditionExpression": "attribute_exists(nope)"}})
                        try:
                            ddb.transact_write_items(TransactItems=actions)
                        except ddb.exceptions.TransactionCanceledException:
                            assert cancel
                check()
        finally:
            motofast.uninstall()


def _sqs_sends(sqs, tag):
    """Sends to a standard queue, a FIFO queue with content-based deduplication and one without:
    what a client sees (ids aside)."""
    seen = []
    std = sqs.create_queue(QueueName=f"std-{tag}")["QueueUrl"]
    dedup = sqs.create_queue(QueueName=f"dedup-{tag}.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    plain = sqs.create_queue(QueueName=f"plain-{tag}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=std, MessageBody=f"s{i % 3}")
        sqs.send_message(QueueUrl=dedup, MessageBody=f"d{i % 3}", MessageGroupId="g")     # repeats deduplicated
    r = sqs.send_message_batch(QueueUrl=dedup, Entries=[{"Id": "a", "MessageBody": "d0", "MessageGroupId": "g"},
                                                       {"Id": "b", "MessageBody": "d9", "MessageGroupId": "g"}])
    seen.append(sorted(e["Id"] for e in r.get("Successful", [])))
    try:                    # no deduplication id and no content-based deduplication: refused
        sqs.send_message(QueueUrl=plain, MessageBody="p", MessageGroupId="g")
        seen.append("accepted")
    except sqs.exceptions.ClientError as e:
        seen.append(e.response["Error"]["Code"])
    sqs.send_message(QueueUrl=plain, MessageBody="p", MessageGroupId="g", MessageDeduplicationId="x")
    for url in (std, dedup, plain):
        bodies = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in msgs]
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(msgs)])
        seen.append(sorted(bodies))
        seen.append(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ContentBasedDeduplication", "FifoQueue"])
                    .get("Attributes"))
    return seen


def test_sqs_sends_read_the_one_attribute_as_moto_computes_it():
    want, got = _moto_and_fast(_sqs_sends)
    assert want[2] == ["s0", "s0", "s1", "s1", "s2"] and want[4] == ["d0", "d1", "d2", "d9"], want
    assert got == want


def _sqs_receives(sqs, tag):
    """A queue with a dead-letter queue, delayed messages and messages in flight: what each receive
    hands out, what is moved to the DLQ, and the queue's counts after."""
    import time as _time

    dlq = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=f"q-{tag}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})})["QueueUrl"]
    for start in (0, 10, 20):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"}
                                                      for i in range(start, min(start + 10, 25))])
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"late{i}", DelaySeconds=60)   # not visible yet

    def receive(n=10, vis=30):
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=vis).get("Messages", [])

    seen, handles = [], {}
    for _ in range(3):
        got = receive()
        seen.append(sorted(m["Body"] for m in got))
        handles.update({m["Body"]: m["ReceiptHandle"] for m in got})
    for _ in range(2):              # four messages time out twice: their third receive sends them to the DLQ
        for body in ("m0", "m3", "m11", "m24"):
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[body], VisibilityTimeout=0)
        _time.sleep(0.01)
        got = receive()
        seen.append(sorted(m["Body"] for m in got))
        handles.update({m["Body"]: m["ReceiptHandle"] for m in got})
    dead = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []))
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return seen, dead, {k: counts[k] for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                               "ApproximateNumberOfMessagesDelayed")}


def test_sqs_receives_hand_out_what_moto_hands_out():
    want, got = _moto_and_fast(_sqs_receives)
    seen, dead, counts = want
    assert [len(s) for s in seen[:3]] == [10, 10, 5] and not any("late" in b for s in seen for b in s)
    assert seen[3] == ["m0", "m11", "m24", "m3"] and seen[4] == [] and dead == ["m0", "m11", "m24", "m3"]
    assert got == want


def _updates(ddb, name):
    """Updates of existing and new items, valid and refused by moto's expression validator: each
    answer or error, and the items after."""
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
                     GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    key = {"pk": {"S": "P"}, "sk": {"S": "META"}}
    new = {"pk": {"S": "N"}, "sk": {"S": "META"}}
    ddb.put_item(TableName=name, Item={**key, "n": {"N": "1"}, "s": {"S": "x"}, "l": {"L": [{"N": "1"}]}})
    one = {":one": {"N": "1"}}
    calls = [
        (key, "SET n = n + :one, h = list_append(if_not_exists(h, :e), :l)",
         {":one": {"N": "1"}, ":e": {"L": []}, ":l": {"L": [{"S": "a"}]}}, None),
        (new, "SET h = list_append(if_not_exists(h, :e), :l), c = if_not_exists(c, :one) ADD k :one",
         {":one": {"N": "1"}, ":e": {"L": []}, ":l": {"L": [{"S": "a"}]}}, None),     # a new item: validated twice
        (key, "SET n = n + :s", {":s": {"S": "x"}}, None),                                # type mismatch
        (key, "SET a.b.c = :one", one, None),                                            # no such document path
        (new, "SET a.b.c = :one", one, None),
        (key, "SET n = :one, n = :one", one, None),                                      # overlapping paths
        (key, "SET #k = :v", {":v": {"S": "Q"}}, {"#k": "pk"}),                          # a key attribute
        (key, "SET g = :v", {":v": {"S": ""}}, None),                                    # an empty index key
        (key, "SET n = :missing", one, None),                                            # an undefined value
        (key, "SET n = n - :one REMOVE s ADD ss :ss", {":one": {"N": "1"}, ":ss": {"SS": ["p", "q"]}}, None),
        (key, "DELETE ss :ss SET l[0] = :one, l[5] = :one", {":one": {"N": "2"}, ":ss": {"SS": ["p"]}}, None),
        (key, "SET h[3] = :one", one, None),
        (key, "SET a = :one SET b = :one", one, None),                                   # two SET clauses
        (key, "ADD k :one ADD j :one", one, None),
        (key, "REMOVE a REMOVE b", None, None),
    ]
    out = []
    for k, expression, values, names in calls:
        try:
            r = ddb.update_item(TableName=name, Key=k, UpdateExpression=expression, ReturnValues="ALL_NEW",
                                **({"ExpressionAttributeValues": values} if values else {}),
                                **({"ExpressionAttributeNames": names} if names else {}))
            out.append(r["Attributes"])
        except ddb.exceptions.ClientError as e:
            out.append((e.response["Error"]["Code"], e.response["Error"]["Message"]))
    items = ddb.scan(TableName=name)["Items"]
    return out, sorted(items, key=lambda i: i["pk"]["S"])


def test_updates_answer_and_fail_as_moto_s():
    want, got = _moto_and_fast(_updates, service="dynamodb")
    answers, items = want
    assert answers[0]["n"] == {"N": "2"} and answers[1]["k"] == {"N": "1"}
    assert sum(isinstance(a, tuple) for a in answers) >= 10, answers
    assert "SET" in answers[-3][1] and "ADD" in answers[-2][1] and "REMOVE" in answers[-1][1], answers[-3:]
    assert got == want
