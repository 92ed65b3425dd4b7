"""Pure review rules: the VIP audit sample (``review.sampled``).

The steps that write a product's status (``fail``, ``reject``, the publishing window on approval)
are in tests/integration/test_review_steps.py; the window's arithmetic in test_review_window.py."""

import pytest
from hypothesis import given, settings, strategies as st

from shangjia.pipeline.keys import execution_name
from shangjia.pipeline.review import sampled

# execution names as start_review builds them: <spu>-<hash(merchant, spu)>-<batch>
NAMES = [execution_name(f"m-vip-{i % 7:03d}", f"SPU-{i:05d}", f"batch{i % 13:02d}" + "0" * 13) for i in range(2000)]

names = st.text(min_size=0, max_size=80)
rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(names, rates)
def test_the_same_execution_is_always_in_or_always_out(name, rate):
    assert sampled(name, rate) == sampled(name, rate) == sampled(str(name), float(rate))


@settings(max_examples=300, deadline=None)
@given(names)
def test_rate_zero_samples_nothing_and_rate_one_samples_everything(name):
    assert sampled(name, 0) is False
    assert sampled(name, 0.0) is False
    assert sampled(name, -0.5) is False
    assert sampled(name, 1) is True
    assert sampled(name, 1.0) is True


def test_the_default_rate_samples_no_vip_product():
    assert not any(sampled(n, 0) for n in NAMES)
    assert all(sampled(n, 1) for n in NAMES)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_a_rate_samples_about_that_share_of_executions(rate):
    share = sum(sampled(n, rate) for n in NAMES) / len(NAMES)
    # deterministic, so this never flakes; the bounds only have to tell "about rate" from "all" or "none"
    assert rate * 0.5 <= share <= rate * 1.5, f"rate {rate} sampled {share:.1%} of {len(NAMES)} executions"


def test_ten_percent_is_roughly_ten_percent():
    share = sum(sampled(n, 0.1) for n in NAMES) / len(NAMES)
    assert 0.05 <= share <= 0.15, share


@settings(max_examples=300, deadline=None)
@given(names, rates, rates)
def test_raising_the_rate_never_drops_an_execution_from_the_sample(name, a, b):
    low, high = sorted((a, b))
    assert not sampled(name, low) or sampled(name, high)


def test_sampling_depends_on_the_execution_not_on_call_order():
    first = [sampled(n, 0.3) for n in NAMES]
    again = [sampled(n, 0.3) for n in reversed(NAMES)][::-1]
    assert first == again
    assert 0 < sum(first) < len(NAMES)


def test_rate_one_samples_even_the_highest_hash(monkeypatch):
    """2**-32 of executions hash to ffffffff...: at rate 1 they are sampled like every other."""
    from shangjia.pipeline import review

    class Top:
        def hexdigest(self):
            return "f" * 64

    monkeypatch.setattr(review.hashlib, "sha256", lambda _data: Top())
    assert review.sampled("any", 1.0) is True
    assert review.sampled("any", 0.999) is False
