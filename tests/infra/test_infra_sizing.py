"""The synthesized stack's concurrency is the capacity model's answer: every function's
ReservedConcurrentExecutions and every SQS event source's ScalingConfig.MaximumConcurrency equal
what ``capacity.sizing`` derives for the design peak from the committed profile, computed here
from the model itself (not read back from the topology), within the account's default 1,000
with at least 100 left unreserved (docs/capacity.md)."""

from __future__ import annotations

import pytest

from shangjia.capacity import ACCOUNT_CONCURRENCY, DESIGN_PEAK, MIN_UNRESERVED, load_profile, sizing
from shangjia.topology import DECLARED, sizing_shapes

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


@pytest.fixture(scope="module")
def model():
    return sizing(load_profile(), sizing_shapes(DECLARED), DESIGN_PEAK)


def _function_props(synth, key: str) -> dict:
    return synth.resources[synth.logical_id(synth.stack.functions.functions[key])]["Properties"]


def test_reserved_concurrency_is_the_model_s(synth, model):
    assert model.scale == 1.0
    for key, size in model.functions.items():
        assert _function_props(synth, key).get("ReservedConcurrentExecutions") == size.reserved, key
    # the queue-fed stages carry real numbers, not the floor everywhere
    assert _function_props(synth, "media")["ReservedConcurrentExecutions"] > _function_props(
        synth, "report")["ReservedConcurrentExecutions"]


def test_event_source_maximum_concurrency_is_the_model_s(synth, model):
    by_pair = {(e["Properties"]["FunctionName"]["Ref"], e["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]):
               e["Properties"] for e in synth.of_type("AWS::Lambda::EventSourceMapping").values()}
    expected = {}
    for key, size in model.functions.items():
        for queue, cap in size.esm:
            pair = (synth.logical_id(synth.stack.functions.functions[key]),
                    synth.logical_id(synth.stack.queues.queues[queue]))
            expected[pair] = cap
    assert expected, "the model sized no event source"
    assert {pair: by_pair[pair].get("ScalingConfig", {}).get("MaximumConcurrency") for pair in expected} == expected
    assert set(by_pair) == set(expected)


def test_the_reservations_leave_the_account_its_unreserved_pool(synth):
    reserved = sum(f["Properties"].get("ReservedConcurrentExecutions", 0)
                   for f in synth.of_type("AWS::Lambda::Function").values())
    assert 0 < reserved <= ACCOUNT_CONCURRENCY - MIN_UNRESERVED


def test_the_state_table_is_pre_warmed_where_the_design_peak_needs_it(synth, model):
    """A new on-demand table (and each index) takes 4,000 WRU/s at once; the model's write need at
    the design peak, x1.5, is set as WarmThroughput where it is above that, and nowhere else (an
    increase is billed)."""
    from shangjia.capacity import QUOTAS

    [(_, table)] = [(k, r) for k, r in synth.of_type("AWS::DynamoDB::Table").items()
                    if any(g["IndexName"] == "gsi2" for g in r["Properties"].get("GlobalSecondaryIndexes", []))]
    props = table["Properties"]
    default = QUOTAS["ddb_table_wru"]["limit"]
    assert model.warm_writes, "the committed profile's table needs more than the default at the design peak"
    for target, need in model.write_need.items():
        warm = (props.get("WarmThroughput") if target == "table" else
                next(g for g in props["GlobalSecondaryIndexes"] if g["IndexName"] == target).get("WarmThroughput"))
        if need * model.headroom > default:
            assert warm == {"WriteUnitsPerSecond": model.warm_writes[target]}, target
            assert need * model.headroom <= warm["WriteUnitsPerSecond"] < need * model.headroom + 100
        else:
            assert warm is None, target
