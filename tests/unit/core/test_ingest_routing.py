"""Ingest sends products in the priority categories (apparel/shoes/bags, home goods, digital
accessories: ``priority`` on their top group in ``categories.json``) to the ``validate_priority``
queue and every other product to ``validate``. Driven through ``ingest_upload`` on moto, the
upload in the drop bucket and the messages read back from the queues."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from shangjia.pipeline.ingest import Upload, ingest_upload
from shangjia.pipeline.merchants import put_merchant
from shangjia.spec import load_categories
from tests.unit.sheets.kit import product_rows, to_xlsx

PRIORITY_GROUPS = {"apparel_shoes_bags", "home_goods", "digital_accessories"}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from shangjia.adapters.aws import reset_clients
        from shangjia.localcloud.provision import provision

        reset_clients()
        res = provision(boto3.session.Session(region_name="us-east-1"), visibility_timeout_s=0)
        for k, v in res.environment().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T02:30:00+00:00")
        yield res
        reset_clients()


def _drain(aws, q):
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in msgs]
        sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out


def test_the_priority_flag_is_exactly_the_three_priority_groups():
    tree = load_categories()
    groups = {c.group for c in tree.leaves.values()}
    assert len(groups) == 8
    assert {c.group for c in tree.leaves.values() if c.priority} == PRIORITY_GROUPS


def test_priority_categories_go_to_the_priority_lane_and_the_rest_to_validate(aws, tmp_path):
    from shangjia.pipeline.deps import aws_deps

    deps = aws_deps()
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=1_000_000)
    tree = load_categories()
    leaves = list(tree.leaves.values())
    expected: dict[str, str] = {}
    rows: list[dict] = []

    def add(spu, category, priority):
        rows.extend(product_rows(spu, grid=(("红色", "M"), ("黑色", "M")), category=category))
        expected[spu] = "validate_priority" if priority else "validate"

    for i, leaf in enumerate(leaves):                         # every leaf, by its path
        add(f"P{i:03d}", leaf.path, leaf.group in PRIORITY_GROUPS)
    by_id = next(c for c in leaves if c.group == "home_goods")
    add("ID-HOME", by_id.id, True)                            # a leaf id
    unique = next(c for c in leaves if c.group == "digital_accessories" and tree.by_unique_name.get(c.name) is c)
    add("NAME-DIGI", unique.name, True)                       # a unique leaf name
    add("ARROWS", " > ".join(by_id.path.split("/")), True)    # another separator
    food = next(c for c in leaves if c.group == "food")
    add("FOOD", food.path, False)
    add("UNKNOWN", "火星/特产/石头", False)                     # not a category: validated (and refused) normally
    add("INNER", "服饰鞋包/女装", False)                        # not a leaf
    blank = product_rows("BLANK", grid=(("红色", "M"),), category="")
    rows.extend(blank)
    expected["BLANK"] = "validate"
    late = product_rows("LATE", grid=(("红色", "M"), ("黑色", "M")), category="")
    late[1]["category"] = by_id.path                          # category only on the product's second row
    rows.extend(late)
    expected["LATE"] = "validate_priority"

    data = to_xlsx(rows)
    s3 = boto3.client("s3", region_name="us-east-1")
    key = "m1/routing.xlsx"
    v = s3.put_object(Bucket=aws.buckets["drop"], Key=key, Body=data).get("VersionId")
    out = ingest_upload(deps, Upload(aws.buckets["drop"], key, len(data), v))
    assert out.action == "ingested" and out.products_sent == len(expected)

    got = {}
    for q in ("validate", "validate_priority"):
        for body in _drain(aws, q):
            assert body["spu_code"] not in got, body["spu_code"]       # sent once
            got[body["spu_code"]] = q
    assert got == expected
    assert sum(q == "validate_priority" for q in got.values()) >= 40 and sum(
        q == "validate" for q in got.values()) >= 20
