"""An injectable clock: the publishing window and review SLAs read time only through it.

``SHANGJIA_CLOCK`` set to an ISO timestamp pins the time (tests, the local demo);
``SHANGJIA_CLOCK_OFFSET_S`` shifts the real clock.
"""

from __future__ import annotations

import os
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
