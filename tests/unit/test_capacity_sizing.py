"""The stack's sizing from the capacity model: reserved concurrency and SQS event-source maximum
concurrency per function follow the measured profile and the peak, fit the account, and are what
the topology carries. Profiles here are hand-made; their answers are worked out by hand."""

from __future__ import annotations

import copy
import math

import pytest

from shangjia.capacity import (
    DESIGN_PEAK,
    MIN_QUEUE_RESERVED,
    MIN_UNRESERVED,
    Peak,
    Shape,
    load_profile,
    sizing,
    sizing_report,
)

# 1,000 SKUs/s: 3.6M SKUs in an hour
PEAK = Peak(3_600_000, 1.0)
SHAPES = [
    Shape("media", ("media",)),
    Shape("validate", ("validate_priority", "validate")),
    Shape("report", ("reports",)),                          # queue-fed, never measured
    Shape("api"),                                           # synchronous: the unreserved pool
    Shape("poller", scheduled=True, fixed=1),
]


def make_profile(**functions):
    fns = {
        # 50 invocations per 100 SKUs of 0.2 s CPU + 10 calls x 10 ms = 0.3 s -> 0.15 per SKU/s
        "media": {"invocations": 50, "cpu_s": 10.0, "requests": 500},
        # 10 per 100 SKUs of 0.1 s + 4 x 10 ms = 0.14 s -> 0.014 per SKU/s
        "validate": {"invocations": 10, "cpu_s": 1.0, "requests": 40},
        # 100 per 100 SKUs of 0.05 s -> 0.05 per SKU/s
        "api": {"invocations": 100, "cpu_s": 5.0, "requests": 0},
        "poller": {"invocations": 60, "cpu_s": 6.0, "requests": 60},
    }
    fns.update(functions)
    return {"source": "hand-made", "workload": {"skus": 100, "products": 40, "images": 200}, "functions": fns}


def test_a_queue_fed_stage_reserves_its_peak_concurrency_with_headroom():
    sz = sizing(make_profile(), SHAPES, PEAK, headroom=1.5)
    media = sz.functions["media"]
    # 1,000 SKUs/s x 0.15 = 150 running at once; x1.5 = 225
    assert media.needed == pytest.approx(150)
    assert media.reserved == 225
    assert media.esm == (("media", 225),)
    assert media.carries == pytest.approx(225 / 0.15)


def test_doubling_a_stage_s_seconds_per_invocation_grows_its_concurrency():
    base = sizing(make_profile(), SHAPES, PEAK)
    slower = make_profile(media={"invocations": 50, "cpu_s": 25.0, "requests": 500})   # 0.3 -> 0.6 s
    grown = sizing(slower, SHAPES, PEAK)
    assert grown.functions["media"].needed == pytest.approx(2 * base.functions["media"].needed)
    assert grown.functions["media"].reserved > base.functions["media"].reserved
    assert dict(grown.functions["media"].esm)["media"] > dict(base.functions["media"].esm)["media"]
    # the other stages do not move
    assert grown.functions["validate"].reserved == base.functions["validate"].reserved


def test_a_higher_peak_reserves_more():
    low = sizing(make_profile(), SHAPES, Peak(360_000, 1.0))       # 100 SKUs/s
    high = sizing(make_profile(), SHAPES, PEAK)                    # 1,000 SKUs/s
    assert low.functions["media"].reserved == math.ceil(15 * 1.5)
    assert high.functions["media"].reserved > low.functions["media"].reserved


def test_triggers_split_the_reservation_and_the_first_takes_the_odd_unit():
    sz = sizing(make_profile(), SHAPES, PEAK, headroom=1.5)
    v = sz.functions["validate"]
    # 1,000 x 0.014 = 14 -> x1.5 = 21, over two queues: 11 + 10
    assert v.reserved == 21
    assert v.esm == (("validate_priority", 11), ("validate", 10))
    assert sum(c for _q, c in v.esm) == v.reserved


def test_a_stage_the_profile_did_not_measure_keeps_the_floor():
    sz = sizing(make_profile(), SHAPES, PEAK)
    assert sz.functions["report"].reserved == MIN_QUEUE_RESERVED
    assert sz.functions["report"].esm == (("reports", MIN_QUEUE_RESERVED),)
    # a light stage too: 1 SKU/s needs next to nothing
    light = sizing(make_profile(), SHAPES, Peak(3600, 1.0))
    assert light.functions["validate"].reserved == MIN_QUEUE_RESERVED
    # and every trigger at least AWS's minimum of 2
    assert all(c >= 2 for f in light.functions.values() for _q, c in f.esm)


def test_scheduled_functions_keep_their_declared_one_and_the_rest_reserve_nothing():
    sz = sizing(make_profile(), SHAPES, PEAK)
    assert (sz.functions["poller"].kind, sz.functions["poller"].reserved) == ("scheduled", 1)
    assert (sz.functions["api"].kind, sz.functions["api"].reserved) == ("unreserved", None)
    assert sz.functions["api"].needed == pytest.approx(50)


def test_the_reservations_leave_the_unreserved_functions_their_peak_and_aws_its_100():
    sz = sizing(make_profile(), SHAPES, PEAK, headroom=1.5)
    assert sz.reserved_total == 225 + 21 + 5 + 1
    assert sz.unreserved == 1000 - sz.reserved_total
    assert sz.unreserved_needed == pytest.approx(75)      # api: 50 x 1.5
    assert sz.scale == 1.0


def test_a_peak_the_account_cannot_hold_is_scaled_down_and_says_so():
    huge = Peak(36_000_000, 1.0)        # 10,000 SKUs/s: media alone would want 2,250
    sz = sizing(make_profile(), SHAPES, huge, headroom=1.5, account=1000)
    assert sz.scale < 1
    # api wants 750 from the pool; everything reserved fits what is left
    assert sz.unreserved >= max(MIN_UNRESERVED, math.ceil(sz.unreserved_needed))
    assert sz.reserved_total <= 1000 - MIN_UNRESERVED
    assert all(f.reserved >= MIN_QUEUE_RESERVED for f in sz.functions.values() if f.kind == "queue")
    first = sz.first_to_fill()
    assert first is not None and first.carries < huge.rate
    text = sizing_report(sz)
    assert "does not fit the account" in text and "Service Quotas" in text
    # a bigger account holds the whole peak
    assert sizing(make_profile(), SHAPES, huge, headroom=1.5, account=5000).scale == 1.0


def test_an_account_too_small_for_the_floors_is_refused():
    with pytest.raises(ValueError, match="cannot hold"):
        sizing(make_profile(), SHAPES, PEAK, account=110)


def test_the_same_inputs_give_the_same_numbers():
    p = make_profile()
    before = copy.deepcopy(p)
    assert sizing(p, SHAPES, PEAK) == sizing(p, SHAPES, PEAK)
    assert p == before


def test_the_topology_carries_the_model_s_answer_for_the_committed_profile():
    from shangjia.topology import DECLARED, TOPOLOGY, concurrency_problems, sizing_shapes

    sz = sizing(load_profile(), sizing_shapes(DECLARED), DESIGN_PEAK)
    assert sz.scale == 1.0, "the design peak must fit the account's default concurrency"
    for fn in TOPOLOGY.functions:
        f = sz.functions[fn.key]
        assert fn.reserved_concurrency == f.reserved, fn.key
        assert tuple((t.queue, t.max_concurrency) for t in fn.triggers) == f.esm, fn.key
    assert concurrency_problems(TOPOLOGY) == []
    assert sum(f.reserved_concurrency or 0 for f in TOPOLOGY.functions) <= 1000 - MIN_UNRESERVED


def test_capacity_sizing_prints_the_deployed_numbers(capsys):
    from shangjia.cli import main
    from shangjia.topology import TOPOLOGY

    assert main(["capacity", "--sizing"]) == 0
    out = capsys.readouterr().out
    media = TOPOLOGY.function("media")
    line = next(x for x in out.splitlines() if x.startswith("media "))
    assert str(media.reserved_concurrency) in line.split()
    assert "the topology deploys these numbers" in out
    assert main(["capacity", "--sizing", "--skus", "2000000"]) == 0
    assert "the topology deploys other numbers" in capsys.readouterr().out


def _full(profile, *, wru, skus=None, **more):
    """A hand-made profile with the non-function figures ``heavier`` merges."""
    p = copy.deepcopy(profile)
    if skus:
        p["workload"] = {**p["workload"], "skus": skus}
    p.update({"requests": {"dynamodb": wru * 2}, "dynamodb": {"wru": wru, "rru": wru / 2},
              "stepfunctions": {"standard_starts": 10, "express_starts": 0, "transitions": 100, "task_responses": 5},
              "sqs_sends": 50, "s3": {"put": 30, "get": 30}, "apigateway": 20,
              "partitions": {"PRODUCT#*#*": {"keys": 40, "wru": wru / 2, "max_key_wru": 3.0}}, **more})
    return p


def test_the_heavier_profile_sizes_each_stage_for_the_heavier_workload():
    from shangjia.capacity import heavier

    # new products: media-heavy; a re-upload of them: no media, twice the SKUs in the run, a stock sync
    new = _full(make_profile(), wru=3000)
    again = _full(make_profile(media={"invocations": 0, "cpu_s": 0.0, "requests": 0},
                               validate={"invocations": 40, "cpu_s": 8.0, "requests": 200},
                               stock_sync={"invocations": 40, "cpu_s": 4.0, "requests": 400}), wru=1000, skus=200)
    merged = heavier(new, again)
    assert merged["workload"]["skus"] == 200                       # the larger run's SKUs; the other scaled x2
    assert merged["functions"]["media"] == {"invocations": 100, "cpu_s": 20.0, "requests": 1000}
    assert merged["functions"]["validate"] == {"invocations": 40, "cpu_s": 8.0, "requests": 200}
    assert merged["functions"]["stock_sync"]["invocations"] == 40
    assert merged["dynamodb"]["wru"] == 6000                       # 30 WRU/SKU against 5: the heavier
    assert merged["partitions"]["PRODUCT#*#*"] == {"keys": 80, "wru": 3000, "max_key_wru": 6.0}
    shapes = SHAPES + [Shape("stock_sync", ("stock_sync",))]
    both, alone = sizing(merged, shapes, PEAK), [sizing(p, shapes, PEAK) for p in (new, again)]
    for fn in ("media", "validate", "stock_sync"):
        assert both.functions[fn].needed == pytest.approx(max(a.functions[fn].needed for a in alone))
    assert "the heavier per stage of" in merged["source"]


def test_warm_throughput_is_set_only_above_what_a_new_table_takes():
    """The table and each index have their own warm throughput; ``write_rates`` splits the
    measured WRU by the partition keys' census (``gsiN:`` keys are the index's)."""
    from shangjia.capacity import Peak, warm_writes, write_rates

    profile = {"workload": {"skus": 1000, "products": 400, "images": 0}, "dynamodb": {"wru": 31000},
               "partitions": {"PRODUCT#*#*": {"keys": 400, "wru": 20000}, "BATCH#*": {"keys": 1, "wru": 5000},
                              "gsi2:STATUS#*": {"keys": 8, "wru": 5000}, "gsi1:TASKS#*#*": {"keys": 2, "wru": 1000}}}
    assert write_rates(profile) == {"table": 25.0, "gsi2": 5.0, "gsi1": 1.0}
    peak = Peak(1_000_000, 2.0)                                    # 138.9 SKUs/s
    # table 25 x 138.9 x 1.5 = 5,208 -> 5,300; gsi2 1,042 and gsi1 208 stay on the 4,000 default
    assert warm_writes(profile, peak, 1.5) == {"table": 5300}
    assert warm_writes(profile, Peak(1_000_000, 24.0), 1.5) == {}
    assert write_rates({"workload": {"skus": 10}, "dynamodb": {"wru": 50}}) == {"table": 5.0}
