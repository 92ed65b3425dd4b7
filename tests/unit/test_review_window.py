from datetime import datetime, timezone

import pytest

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
