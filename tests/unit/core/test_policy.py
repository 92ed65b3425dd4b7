"""Batch policy (``shangjia.validation.policy``): when a batch stops for its error rate."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from shangjia.validation.policy import BatchPolicy, BatchTally, decide_batch


def _tally(products: int, invalid: int) -> BatchTally:
    t = BatchTally()
    for i in range(products):
        t.add(valid=i >= invalid)
    return t


def test_mid_batch_the_rate_is_not_judged_on_fewer_than_min_products():
    """The first product of a batch is invalid: 100 % errors, but one product says nothing."""
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.05, min_products=20)
    for n in range(1, 20):
        assert not decide_batch(p, _tally(n, n)).stop, n              # every product so far invalid
    d = decide_batch(p, _tally(20, 20))
    assert d.stop and d.finding.code == "BATCH_ERROR_RATE"


def test_at_the_end_the_rate_is_always_judged():
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.05, min_products=20)
    d = decide_batch(p, _tally(3, 1), final=True)                    # a 3-product batch, 33 %
    assert d.stop and d.finding.params["products"] == 3 and d.finding.params["invalid"] == 1
    assert not decide_batch(p, _tally(3, 0), final=True).stop


def test_min_products_comes_from_the_uploads_policy_dict():
    p = BatchPolicy.from_dict({"mode": "stop_on_error_rate", "max_error_rate": 0.1, "min_products": 50})
    assert not decide_batch(p, _tally(49, 49)).stop
    assert decide_batch(p, _tally(50, 6)).stop                        # 12 % > 10 %
    assert not decide_batch(p, _tally(50, 5)).stop                    # 10 % is not above 10 %


@settings(max_examples=500)
@given(products=st.integers(0, 300), invalid_share=st.floats(0, 1), rate=st.floats(0, 1),
       min_products=st.integers(0, 100), final=st.booleans(),
       mode=st.sampled_from(["skip_invalid", "stop_on_error_rate", "check_only"]))
def test_a_batch_stops_exactly_when_the_rule_says(products, invalid_share, rate, min_products, final, mode):
    invalid = round(products * invalid_share)
    p = BatchPolicy(mode, max_error_rate=rate, min_products=min_products)
    d = decide_batch(p, _tally(products, invalid), final=final)
    judged = mode == "stop_on_error_rate" and products > 0 and (final or products >= min_products)
    expect = judged and invalid / products > rate
    assert d.stop == expect
    assert (d.finding is not None) == expect
