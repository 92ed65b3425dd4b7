"""EventBridge schedule expressions on the local cloud's clock.

``rate(...)`` schedules of up to ``FAST_RATE_S`` run ``RATE_SCALE`` (60) times as often as on AWS,
one local second for each minute of their rate (the publish scheduler, ``rate(1 minute)``, every
second: it keeps reviewer-approved products moving; the listing poller, ``rate(5 minutes)``, every
5 s): a fast clock, but not a poll of the status index every second by every scheduled function,
which cost the one emulator process more than the workload at a few hundred products (#13).
Longer rates (a 15-minute reconciliation) run at their own rate of real time, so that they neither
burn the machine nor keep the cloud from ever being idle; ``cron(...)``
schedules run only when the clock has passed one of their minutes since the last tick, so a weekly
report does not run every few seconds. EventBridge's cron has six fields: minutes, hours,
day-of-month, month, day-of-week (1-7 = SUN-SAT, or SUN..SAT) and year; ``*``, ``?``, lists,
ranges and ``/`` steps are understood (not ``L``, ``W`` or ``#``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                       "NOV", "DEC"), start=1)}
MAX_LOOKBACK = timedelta(days=8)     # a clock jump further than this fires at most once


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """The values a cron field allows; None: any."""
    if text in ("*", "?"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        part, _, step = part.partition("/")
        for name, n in (names or {}).items():
            part = part.upper().replace(name, str(n))
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = int(part)
            b = hi if step else a
        out.update(range(a, b + 1, int(step) if step else 1))
    return frozenset(out)


def cron_fields(expression: str) -> tuple:
    body = expression.strip()
    if not (body.startswith("cron(") and body.endswith(")")):
        raise ValueError(f"not a cron expression: {expression!r}")
    parts = body[5:-1].split()
    if len(parts) != 6:
        raise ValueError(f"EventBridge cron takes 6 fields: {expression!r}")
    return (_field(parts[0], 0, 59), _field(parts[1], 0, 23), _field(parts[2], 1, 31),
            _field(parts[3], 1, 12, _MONTHS), _field(parts[4], 1, 7, _DAYS), _field(parts[5], 1970, 2199))


def matches(expression: str, t: datetime) -> bool:
    minute, hour, dom, month, dow, year = cron_fields(expression)
    t = t.astimezone(timezone.utc)
    weekday = t.isoweekday() % 7 + 1            # SUN=1 .. SAT=7
    return all(allowed is None or value in allowed for allowed, value in (
        (minute, t.minute), (hour, t.hour), (dom, t.day), (month, t.month), (dow, weekday), (year, t.year)))


FAST_RATE_S = 300
RATE_SCALE = 60         # rate schedules up to FAST_RATE_S: one local second per AWS minute
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> float:
    """``rate(15 minutes)`` -> 900."""
    value, unit = expression.strip()[5:-1].split()
    return int(value) * _UNITS[unit.lower()]


def local_period_s(expression: str) -> float:
    """Real seconds between two runs of a rate schedule on the local cloud: its rate divided by
    ``RATE_SCALE`` up to ``FAST_RATE_S`` (``rate(5 minutes)``: 5 s), its own rate beyond."""
    period = rate_seconds(expression)
    return period / RATE_SCALE if period <= FAST_RATE_S else period


def rate_due(expression: str, last_fired: float | None, now_s: float, *, tick_s: float = 1.0) -> bool:
    """Whether a rate schedule fires at a tick at ``now_s`` (real seconds): at the first tick, then
    once ``local_period_s`` has passed since it last fired (within half a tick: ticks are not
    exact, and ``rate(1 minute)`` runs at every one-second tick)."""
    if last_fired is None:
        return True
    return now_s - last_fired >= local_period_s(expression) - tick_s / 2


def due(expression: str, last: datetime | None, now: datetime) -> bool:
    """Whether a schedule fires at a tick at ``now`` whose previous tick was at ``last``
    (None: the first tick, which fires only rate schedules)."""
    if expression.strip().startswith("rate("):
        return True
    if last is None or now <= last:
        return False
    start = max(last, now - MAX_LOOKBACK).astimezone(timezone.utc).replace(second=0, microsecond=0)
    t = start + timedelta(minutes=1)
    end = now.astimezone(timezone.utc)
    while t <= end:
        if matches(expression, t):
            return True
        t += timedelta(minutes=1)
    return False
