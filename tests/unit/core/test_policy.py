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


# --- what the merchant sees: the policy as stored, refused, and the stop finding's message --------

import pytest  # noqa: E402

from shangjia.validation.policy import MODES, decide_product  # noqa: E402


def test_a_policy_round_trips_through_the_stored_dict():
    """The batch record stores ``to_dict()``; the steps read it back with ``from_dict``."""
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.125, min_products=7)
    assert p.to_dict() == {"mode": "stop_on_error_rate", "max_error_rate": 0.125, "min_products": 7}
    assert BatchPolicy.from_dict(p.to_dict()) == p


def test_a_missing_or_empty_policy_dict_is_the_default_policy():
    default = BatchPolicy()
    assert (default.mode, default.max_error_rate, default.min_products) == ("skip_invalid", 0.05, 20)
    assert BatchPolicy.from_dict(None) == default
    assert BatchPolicy.from_dict({}) == default
    # only the mode given: the rate and the minimum are the defaults
    assert BatchPolicy.from_dict({"mode": "stop_on_error_rate"}) == BatchPolicy("stop_on_error_rate", 0.05, 20)


def test_an_unknown_mode_is_refused_naming_the_modes():
    with pytest.raises(ValueError) as e:
        BatchPolicy("stop_always")
    assert str(e.value) == "unknown batch mode 'stop_always'; one of skip_invalid, stop_on_error_rate, check_only"
    assert MODES == ("skip_invalid", "stop_on_error_rate", "check_only")


@pytest.mark.parametrize("rate", [-0.01, 1.01, 1.5, 5.0])
def test_an_out_of_range_error_rate_is_refused_naming_the_range(rate):
    with pytest.raises(ValueError) as e:
        BatchPolicy("stop_on_error_rate", max_error_rate=rate)
    assert str(e.value) == "max_error_rate is a fraction between 0 and 1"


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_the_error_rate_bounds_are_allowed(rate):
    assert BatchPolicy("stop_on_error_rate", max_error_rate=rate).max_error_rate == rate


def test_the_tally_counts_products_invalid_products_and_skus():
    t = BatchTally()
    t.add(True, skus=3)
    t.add(False, skus=2)
    t.add(True)                                   # a product with no SKU rows counts none
    assert (t.products, t.invalid, t.skus) == (3, 1, 5)


def test_each_product_goes_on_is_sent_back_or_is_held():
    for mode in ("skip_invalid", "stop_on_error_rate"):
        p = BatchPolicy(mode)
        assert decide_product(p, True) == "forward"
        assert decide_product(p, False) == "needs_fix"
    check = BatchPolicy("check_only")
    assert decide_product(check, True) == "hold"
    assert decide_product(check, False) == "hold"


def test_a_one_product_batch_with_an_invalid_product_stops_at_the_end():
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.05, min_products=20)
    d = decide_batch(p, _tally(1, 1), final=True)
    assert d.stop and d.finding.params["rate"] == 100.0
    assert not decide_batch(p, _tally(0, 0), final=True).stop


def test_the_stop_finding_shows_the_rate_and_the_threshold_in_percent():
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.05, min_products=1)
    d = decide_batch(p, _tally(8, 1))                                 # 1 of 8: 12.5 %
    assert d.finding.params == {"rate": 12.5, "threshold": 5.0, "invalid": 1, "products": 8}
    assert d.finding.message_en == "Error rate 12.5% is above the threshold of 5.0%; the batch was stopped"
    assert d.finding.message_zh == "错误率 12.5% 超过阈值 5.0%，整批已停止"


def test_the_stop_finding_rounds_rate_and_threshold_to_one_decimal():
    p = BatchPolicy("stop_on_error_rate", max_error_rate=0.0333, min_products=1)
    d = decide_batch(p, _tally(3, 1))                                 # 1 of 3: 33.333… %
    assert d.finding.params["rate"] == 33.3 and d.finding.params["threshold"] == 3.3
    assert "Error rate 33.3% is above the threshold of 3.3%" in d.finding.message_en
