"""The circuit breaker per channel, on a DynamoDB table (moto): a failure *ratio* over a rolling
window with a minimum of calls, half-open probes after the cool-down, shared by every publisher
through the table (never in memory)."""

import pytest

from shangjia.channels.throttle import Circuit

from .adapters_support import Clock, deps_fixture  # noqa: F401 — the deps fixture


@pytest.fixture
def store(deps):
    return deps.store


def call(c: Circuit, clock: Clock, ok: bool, channel: str = "wechat", step_s: float = 0.5) -> bool:
    """One publish attempt as publish.py makes it: check, then success or failure. False when the
    circuit held the call back."""
    state = c.check(channel)
    if state.wait_s > 0:
        return False
    if ok:
        c.success(channel, state)
    else:
        c.failure(channel)
    clock.t += step_s
    return True


def test_one_failure_in_two_calls_does_not_open_it(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=10, ratio=0.5, window_s=60, cooldown_s=30)
    assert call(c, clock, True) and call(c, clock, False)
    assert c.check("wechat").wait_s == 0
    assert c.failure("wechat") is False, "two failures in three calls: still under the minimum of calls"


def test_a_channel_that_is_down_opens_after_the_minimum_of_calls(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=10, ratio=0.5, window_s=60, cooldown_s=30)
    assert [c.failure("douyin") for _ in range(10)] == [False] * 9 + [True]
    assert c.check("douyin").wait_s == pytest.approx(30)
    assert c.check("wechat").wait_s == 0, "per channel"


@pytest.mark.parametrize("pattern", [
    [False, True, True, True, True],          # 20 %: one attempt in five fails
    [False, True],                            # 50 %: an attempt of 3-6 requests at 20 % faults a request
])
def test_a_flaky_channel_that_retries_absorb_is_never_paused(store, pattern):
    clock = Clock()
    c = Circuit(store, now=clock, window_s=30)          # the defaults: 20 calls, more than 80 % failing
    outcomes = [pattern[i % len(pattern)] for i in range(80)]    # 40 s: a window and its roll-over
    assert all(call(c, clock, ok) for ok in outcomes), "no call was held back"


def test_the_same_channel_down_is_paused_with_the_defaults(store):
    clock = Clock()
    c = Circuit(store, now=clock, window_s=30)
    sent = [call(c, clock, False) for _ in range(40)]
    assert sent == [True] * 20 + [False] * 20, "the 20th failure opens it; nothing is sent while open"


def test_successes_count_once_the_window_holds_a_failure(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=10, ratio=0.5, window_s=60)
    for ok in [False] * 5 + [True] * 10 + [False] * 4:
        assert call(c, clock, ok)
    # 20 calls, 10 failed: 0.5 is not over 0.5 (had the successes not been counted: 10 of 10)
    assert c.failure("wechat") is False and c.check("wechat").wait_s == 0
    assert c.failure("wechat") is True, "11 of 21"


def test_old_failures_age_out_of_the_rolling_window(store):
    clock = Clock(t=600.0)                    # the start of a window
    c = Circuit(store, now=clock, min_calls=10, ratio=0.5, window_s=60)
    for _ in range(9):
        assert c.failure("wechat") is False
    clock.t += 30                             # half a window on: the 9 still count in full
    assert c.failure("wechat") is True
    c2 = Circuit(store, now=clock, min_calls=10, ratio=0.5, window_s=60)
    clock.t = 6000.0
    for _ in range(9):
        assert c2.failure("douyin") is False
    clock.t += 90                             # the next window, half way: the 9 weigh 4.5
    assert c2.failure("douyin") is False, "5.5 weighted calls: under the minimum"
    clock.t += 120                            # two windows later: forgotten
    assert [c2.failure("douyin") for _ in range(9)] == [False] * 9


def test_half_open_one_probe_then_a_success_closes_and_clears_the_counts(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=3, ratio=0.5, cooldown_s=30)
    assert [c.failure("wechat") for _ in range(3)] == [False, False, True]
    assert c.check("wechat").wait_s == pytest.approx(30), "open: everybody waits"
    clock.t += 31
    probe = c.check("wechat")
    assert probe.wait_s == 0 and probe.probe, "half-open: one caller probes"
    other = c.check("wechat")
    assert other.wait_s > 0 and not other.probe, "the others keep waiting for the probe's answer"
    c.success("wechat", probe)
    s = c.check("wechat")
    assert s.wait_s == 0 and s.failures == 0, "closed"
    assert [c.failure("wechat") for _ in range(2)] == [False, False], "the counts started over"


def test_a_failed_probe_reopens_for_twice_as_long_up_to_the_maximum(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=2, ratio=0.5, cooldown_s=10, max_cooldown_s=25)
    c.failure("douyin")
    assert c.failure("douyin") is True
    waits = []
    for _ in range(3):
        waits.append(c.check("douyin").wait_s)
        clock.t += waits[-1] + 1
        assert c.check("douyin").probe
        assert c.failure("douyin") is True
    waits.append(c.check("douyin").wait_s)
    assert waits == pytest.approx([10, 20, 25, 25])


def test_a_failure_from_a_call_sent_before_it_opened_does_not_extend_it(store):
    clock = Clock()
    c = Circuit(store, now=clock, min_calls=2, ratio=0.5, cooldown_s=10)
    c.failure("wechat")
    c.failure("wechat")
    clock.t += 5
    assert c.failure("wechat") is True
    assert c.check("wechat").wait_s == pytest.approx(5)


def test_every_publisher_sees_the_same_breaker(store):
    clock = Clock()
    a = Circuit(store, now=clock, min_calls=4, ratio=0.5, cooldown_s=30)
    b = Circuit(store, now=clock, min_calls=4, ratio=0.5, cooldown_s=30)
    a.failure("wechat")
    b.failure("wechat")
    a.failure("wechat")
    assert b.failure("wechat") is True
    assert a.check("wechat").wait_s == pytest.approx(30)
    clock.t += 31
    assert a.check("wechat").probe and b.check("wechat").wait_s > 0, "one probe among all publishers"


def test_the_environment_knobs(store, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CIRCUIT_COOLDOWN_S", "2")
    monkeypatch.setenv("SHANGJIA_CIRCUIT_MAX_COOLDOWN_S", "8")
    monkeypatch.setenv("SHANGJIA_CIRCUIT_THRESHOLD", "3")          # the former name of the minimum of calls
    clock = Clock()
    c = Circuit(store, now=clock)
    assert (c.cooldown_s, c.max_cooldown_s, c.min_calls, c.ratio) == (2, 8, 3, 0.8)
    assert [c.failure("wechat") for _ in range(3)] == [False, False, True]
    waits = []
    for _ in range(4):
        waits.append(c.check("wechat").wait_s)
        clock.t += waits[-1] + 0.5
        assert c.check("wechat").probe
        c.failure("wechat")
    assert waits == pytest.approx([2, 4, 8, 8])
    monkeypatch.setenv("SHANGJIA_CIRCUIT_MIN_CALLS", "7")
    monkeypatch.setenv("SHANGJIA_CIRCUIT_FAILURE_RATIO", "0.6")
    monkeypatch.setenv("SHANGJIA_CIRCUIT_WINDOW_S", "45")
    c = Circuit(store, now=clock)
    assert (c.min_calls, c.ratio, c.window_s) == (7, 0.6, 45)


def test_success_on_a_healthy_channel_writes_nothing(store):
    c = Circuit(store)
    s = c.check("wechat")
    c.success("wechat", s)
    assert store.get("CIRCUIT#wechat", "STATE") is None


class CountingReads:
    def __init__(self, inner):
        self.inner, self.reads = inner, 0

    def get(self, *a, **kw):
        self.reads += 1
        return self.inner.get(*a, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_healthy_circuit_is_read_once_per_memo_and_an_opening_is_seen_after_it(store):
    """A publisher's container reads a closed, failure-free circuit at most once per ``memo_s``;
    another container opening it is seen when the memo runs out; its own failure forgets it."""
    clock, counted = Clock(), CountingReads(store)
    a = Circuit(counted, now=clock, min_calls=2, ratio=0.5, cooldown_s=30, memo_s=1.0)
    other = Circuit(store, now=clock, min_calls=2, ratio=0.5, cooldown_s=30)
    assert [a.check("wechat").wait_s for _ in range(5)] == [0] * 5 and counted.reads == 1
    other.failure("wechat")
    assert other.failure("wechat") is True                       # opened elsewhere
    assert a.check("wechat").wait_s == 0, "within the memo: not seen yet"
    clock.t += 1.01
    assert a.check("wechat").wait_s == pytest.approx(29, abs=0.1)
    clock.t += 60
    probe = a.check("wechat")
    assert probe.probe
    a.success("wechat", probe)                                   # the probe's answer closes it
    reads = counted.reads
    a.check("wechat")                                            # closed again: read, then remembered
    a.failure("wechat")                                          # its own failure forgets the memo
    a.check("wechat")
    assert counted.reads == reads + 2
