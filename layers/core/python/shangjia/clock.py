"""An injectable clock: the publishing window and review SLAs read time only through it.

``SHANGJIA_CLOCK`` set to an ISO timestamp pins the time (tests, the local demo);
``SHANGJIA_CLOCK_OFFSET_S`` shifts the real clock.

``epoch_s()`` is the one clock quotas run on (our token buckets, the simulated platforms' quota
windows): wall-clock epoch seconds, or, with ``SHANGJIA_TIME_SCALE=k``, a clock running k times
faster from ``SHANGJIA_TIME_ANCHOR`` (epoch seconds; the quota run's start). Nothing sleeps to
make time pass: waits measured on it are divided by ``time_scale()`` before they become real
delays (SQS DelaySeconds).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class SystemClock:
    def now(self) -> datetime:
        pinned = os.environ.get("SHANGJIA_CLOCK")
        if pinned:
            t = datetime.fromisoformat(pinned)
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        offset = float(os.environ.get("SHANGJIA_CLOCK_OFFSET_S", "0") or 0)
        return datetime.now(timezone.utc) + timedelta(seconds=offset)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_scale() -> float:
    """How many quota-clock seconds pass in one real second (``SHANGJIA_TIME_SCALE``, default 1)."""
    k = float(os.environ.get("SHANGJIA_TIME_SCALE", "1") or 1)
    if k <= 0:
        raise ValueError(f"SHANGJIA_TIME_SCALE must be positive, not {k}")
    return k


def epoch_s() -> float:
    """Epoch seconds on the quota clock (see the module's docstring)."""
    now = time.time()
    k = time_scale()
    if k == 1:
        return now
    anchor = float(os.environ.get("SHANGJIA_TIME_ANCHOR") or now)
    return anchor + (now - anchor) * k


def real_seconds(quota_seconds: float) -> float:
    """A wait measured on the quota clock, in real seconds."""
    return quota_seconds / time_scale()
