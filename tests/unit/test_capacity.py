"""The capacity model: demand per SKU from a measured profile, the rate at which each limit breaks,
and the fix it names. Profiles here are small hand-made ones whose answers can be worked out by
hand."""

from __future__ import annotations

import math

import pytest

from shangjia.capacity import QUOTAS, checks, derived_concurrency, peak_rate, report, stages
from shangjia.localcloud.meter import Meter, partition_kind, profile


def make_profile(**over):
    p = {
        "source": "hand-made",
        "workload": {"skus": 100, "products": 40, "images": 200},
        "functions": {
            # 50 invocations of 0.2 s CPU and 10 AWS calls each -> 0.2 + 10 x 0.01 = 0.3 s
            "media": {"invocations": 50, "cpu_s": 10.0, "gb_s": 17.3, "memory_mb": 1769, "requests": 500},
            "validate": {"invocations": 10, "cpu_s": 1.0, "gb_s": 0.5, "memory_mb": 512, "requests": 40},
        },
        "requests": {"dynamodb": 1000},
        "dynamodb": {"wru": 2000.0, "rru": 500.0},
        "stepfunctions": {"standard_starts": 16, "express_starts": 24, "transitions": 64, "task_responses": 32},
        "sqs_sends": 300, "s3": {"put": 450, "get": 900}, "apigateway": 10,
        "partitions": {
            "BATCH#*": {"keys": 2, "wru": 400.0, "max_key_wru": 220.0},
            "PRODUCT#*#*": {"keys": 40, "wru": 1200.0, "max_key_wru": 40.0},
        },
    }
    p.update(over)
    return p


def by_name(cs, prefix):
    found = [c for c in cs if c.name.startswith(prefix)]
    assert len(found) == 1, [c.name for c in cs]
    return found[0]


def test_a_stage_s_concurrency_is_invocations_per_second_times_duration():
    st = {s.function: s for s in stages(make_profile(), {}, api_latency_ms=10)}
    media = st["media"]
    assert media.invocations_per_sku == pytest.approx(0.5)
    assert media.seconds_per_invocation == pytest.approx(0.3)
    # 1,000 SKUs/s -> 500 invocations/s x 0.3 s = 150 running at once
    assert media.concurrency(1000) == pytest.approx(150)


def test_every_limit_breaks_at_its_limit_over_its_demand_per_sku():
    _, cs = checks(make_profile(), {"media": 50}, api_latency_ms=10)
    # media: 0.5 x 0.3 = 0.15 concurrency per SKU/s; reserved 50 -> breaks at 333.3 SKUs/s
    assert by_name(cs, "reserved concurrency of media").breaks_at == pytest.approx(50 / 0.15)
    # Standard starts: 16 / 100 SKUs = 0.16 per SKU; 300/s -> 1,875 SKUs/s
    assert by_name(cs, "Step Functions Standard StartExecution").breaks_at == pytest.approx(300 / 0.16)
    # the table: 20 WRU per SKU against 4,000 WRU/s warm -> 200 SKUs/s
    assert by_name(cs, "DynamoDB table writes").breaks_at == pytest.approx(200)
    # WeChat: 0.4 products per SKU, all to one shop, 200 per hour
    assert by_name(cs, "WeChat audit").breaks_at == pytest.approx((200 / 3600) / 0.4)


def test_a_key_shared_by_many_skus_is_a_hot_key_and_a_key_per_product_is_not():
    _, cs = checks(make_profile(), {})
    hot = [c.name for c in cs if c.name.startswith("DynamoDB hot key")]
    assert hot == ["DynamoDB hot key BATCH#* (2 keys in the run)"]
    # 400 WRU over 100 SKUs: 4 WRU per SKU on one batch's key -> 1,000 / 4 = 250 SKUs/s
    assert by_name(cs, "DynamoDB hot key BATCH#*").breaks_at == pytest.approx(250)


def test_a_limit_the_workload_never_touches_never_breaks():
    _, cs = checks(make_profile(stepfunctions={"standard_starts": 0, "express_starts": 0, "transitions": 0,
                                               "task_responses": 0}), {})
    assert math.isinf(by_name(cs, "Step Functions state transitions").breaks_at)


def test_the_report_names_the_first_limit_and_its_fix():
    rate = peak_rate(1_000_000, 2)
    assert rate == pytest.approx(138.89, rel=1e-3)
    text = report(make_profile(), {"media": 50}, [("1,000,000 SKUs in 2 h", rate)])
    # the per-shop WeChat quota breaks first (0.14 SKUs/s), and the report says nothing can be done on our side
    assert "first limit of all: WeChat audit submissions (one shop)" in text
    assert QUOTAS["wechat_audit"]["fix"].split(":")[0] in text
    # at 138.9 SKUs/s the table needs 2,778 WRU/s: under the warm 4,000; the batch key 556: under 1,000
    assert "DynamoDB table writes" in text and "2,777.78/4,000" in text


def test_a_scheduled_function_does_not_scale_with_the_skus():
    st = [s.function for s in stages(make_profile(), {}, scheduled=frozenset({"validate"}))]
    assert st == ["media"]
    _, cs = checks(make_profile(), {"validate": 1}, scheduled=frozenset({"validate"}))
    assert not [c for c in cs if c.name == "reserved concurrency of validate"]


def test_derived_reserved_concurrency_has_headroom_and_is_at_least_one():
    st = stages(make_profile(), {}, api_latency_ms=10)
    got = derived_concurrency(st, 1000, headroom=1.5)
    assert got["media"] == math.ceil(150 * 1.5)
    assert got["validate"] >= 1


@pytest.mark.parametrize("pk, kind", [
    ("BATCH#9f86d081884c7d659a2f", "BATCH#*"),
    ("PRODUCT#m1#SPU-1", "PRODUCT#*#*"),
    ("gsi1:BATCH#ab12#PRODUCTS", "gsi1:BATCH#*#PRODUCTS"),
    ("CONFIG", "CONFIG"),
])
def test_partition_kinds_drop_the_ids(pk, kind):
    assert partition_kind(pk) == kind


def test_the_meter_profile_counts_writes_per_partition_and_requests_per_function():
    m = Meter()
    m.request("dynamodb", "UpdateItem", 100, 10, caller="validate", ddb_units=(1, 0, True),
              ddb_partitions=[("BATCH#b1", 1), ("gsi1:BATCH#b1#PRODUCTS", 1)])
    m.request("dynamodb", "UpdateItem", 100, 10, caller="validate", ddb_units=(1, 0, True),
              ddb_partitions=[("BATCH#b1", 1)])
    m.request("sqs", "ReceiveMessage", 100, 10, caller="esm:validate")
    m.request("sqs", "SendMessageBatch", 100, 10, caller="validate")
    m.invocation("validate", 0.1, 0.05, 512, False)
    p = profile(m, skus=2, products=1, images=0, memory_mb={"validate": 512}, source="t")
    assert p["partitions"]["BATCH#*"] == {"keys": 1, "wru": 2, "max_key_wru": 2}
    assert p["partitions"]["gsi1:BATCH#*#PRODUCTS"]["wru"] == 1
    assert p["functions"]["validate"]["requests"] == 4      # its own 3 calls and its poller's receive
    assert p["sqs_sends"] == 1
