from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from shangjia.clock import SHANGHAI
from shangjia.pipeline.keys import execution_name
from shangjia.pipeline.review import next_window_start


@pytest.mark.parametrize("local,expected", [
    ("2026-11-25 08:00", "2026-11-25 10:00"),     # before the window: wait for 10:00
    ("2026-11-25 10:30", "2026-11-25 10:30"),     # inside: publish now
    ("2026-11-25 12:00", "2026-11-26 10:00"),     # at the end: tomorrow
    ("2026-11-25 23:59", "2026-11-26 10:00"),
])
def test_publishing_window_is_10_to_12_shanghai(local, expected):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    got = next_window_start(now.astimezone(timezone.utc))
    assert got.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == expected


def test_execution_names_are_deterministic_and_legal():
    a = execution_name("m1", "连衣裙 SPU/01", "b" * 20)
    assert a == execution_name("m1", "连衣裙 SPU/01", "b" * 20)
    assert a != execution_name("m2", "连衣裙 SPU/01", "b" * 20)
    assert len(a) <= 80 and all(c.isalnum() or c in "-_" for c in a)


@pytest.mark.parametrize("local,expected", [
    ("2026-11-25 09:59:59", "2026-11-25 10:00:00"),
    ("2026-11-25 10:00:00", "2026-11-25 10:00:00"),     # the window opens at 10:00 sharp
    ("2026-11-25 11:59:59", "2026-11-25 11:59:59"),
    ("2026-11-25 00:00:00", "2026-11-25 10:00:00"),     # Shanghai midnight is 16:00 UTC the day before
    ("2026-12-31 12:30:00", "2027-01-01 10:00:00"),     # over the year's end
])
def test_window_edges(local, expected):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    got = next_window_start(now.astimezone(timezone.utc))
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0), "publish_at is stored in UTC"
    assert got.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") == expected


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(timezone.utc)))
def test_publish_at_is_the_first_window_instant_not_before_now(now):
    got = next_window_start(now)
    local = got.astimezone(SHANGHAI)
    in_window = time(10, 0) <= now.astimezone(SHANGHAI).time() < time(12, 0)
    assert got >= now, "never in the past"
    assert time(10, 0) <= local.time() < time(12, 0), f"{local} is outside 10:00-12:00 Asia/Shanghai"
    assert (got == now) == in_window, "inside the window: now; outside: later"
    if not in_window:
        assert local.time() == time(10, 0), "outside the window: the next opening, 10:00 sharp"
        assert got - now <= timedelta(hours=22), "the next opening, not a later one"
