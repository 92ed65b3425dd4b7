"""The quota run, small: one shop, 20 products to WeChat whose simulator allows 10 audit
submissions per rolling hour; our token bucket and the simulator's window on the same clock,
sped up 150x (``clock.epoch_s``; nothing sleeps). No quota error reaches a product, no hour sees
more than the quota, and the publishing time follows the quota's slots."""

import pytest

from shangjia.channels.throttle import Rate, quota_safe_rate
from shangjia.localcloud.channel_runs import format_quota_run, quota_run

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def test_quota_safe_rate_never_exceeds_the_window():
    for count in (2, 10, 200, 1000):
        r = Rate.parse(quota_safe_rate(count, 3600))
        assert r.burst + r.per_s * 3600 <= count, (count, r)


def test_twenty_products_through_a_ten_an_hour_quota():
    q = quota_run(20, scale=150, quota_per_hour=10, timeout_s=400, log=lambda s: None)
    print(format_quota_run(q))
    assert not q.timed_out
    assert q.states == {"live": 20}
    assert q.quota_errors_reaching_products == 0 and q.sim_quota_refusals == 0
    assert q.max_rolling_hour <= 10 and all(n <= 10 for n in q.per_window)
    r = Rate.parse(q.bucket)
    # the slots: `burst` at once, then one every 1/rate s; the last submission cannot come earlier
    floor_s = (20 - r.burst) / r.per_s
    assert q.sim_elapsed_s >= floor_s * 0.98
