"""Quota and outage guards shared by every concurrent publisher, held in the state table (never in
a function's memory: every Lambda container sees the same bucket and the same breaker).

**Quota per (channel, shop)** (``Throttle``): ``THROTTLE#<channel>#<shop_id>`` / ``BUCKET`` holds
two limits in one item:

- a *token bucket* kept as its theoretical arrival time (``tat``: GCRA, the generic cell rate
  algorithm, exactly a token bucket of ``burst`` tokens refilled at ``rate``: the bucket holds
  ``burst - (tat - now) x rate`` tokens, full when ``tat <= now``): WeChat's 200 audit
  submissions an hour per shop (``SHANGJIA_QUOTA_<CHANNEL>``);
- a *daily cap* (``day``, ``day_used``): WeChat's 1,000 a day per shop
  (``SHANGJIA_QUOTA_<CHANNEL>_DAY``), counted per calendar day in China time (UTC+8), the day
  of the slot the submission is sent in.

A take is one conditional UpdateItem (``tat = tat + interval``, or ``now + interval`` on a
bucket at rest; the day's count goes up in the same write) whose returned ``tat`` says the slot:
no read. Only a take the update cannot express (the day's cap spent, a slot in the next day, an
item of the older ``tokens``/``at`` form) reads the item and writes it back on its version (``v``,
bumped by every write), as contention does.

Each send takes one slot. When the bucket is empty the token is *reserved* anyway (``tat`` runs
ahead) and the caller gets the time its slot comes round: the message waits until then (SQS
DelaySeconds, at most 900 s a hop) and sends without taking again. When the day's cap is spent,
the slot moves to the next day's window and the bucket's token is taken *at that time* (the
bucket is counted from then on), so a full day never spends an hourly token of today and the
next day's first submissions are still paced by the bucket. The expected time is the later of the
two limits. So a 5,000-product upload to WeChat queues through its slots in order, day after day,
instead of failing, and each listing shows ``waiting_quota`` with the expected time. A platform
that answers "quota" anyway (another tool on the same shop) ``penalize``\\ s the bucket: nobody
sends for a while.

**Circuit breaker per channel** (``Circuit``): ``CIRCUIT#<channel>`` / ``STATE`` counts calls and
transient failures in a rolling window (``SHANGJIA_CIRCUIT_WINDOW_S``, 120 s: two fixed windows,
the previous one weighted by how much of it still overlaps the rolling one). It opens when at
least ``min_calls`` calls (``SHANGJIA_CIRCUIT_MIN_CALLS``, 20) were counted and more than
``ratio`` of them failed (``SHANGJIA_CIRCUIT_FAILURE_RATIO``, 0.8): one failure in two calls does
not open it, a flaky channel whose attempts fail half the time (20 % faults a request, 3–6
requests an attempt) does not either, a channel that is down does. Open for ``cooldown``
(``SHANGJIA_CIRCUIT_COOLDOWN_S``), doubling each time it re-opens, at most ``max_cooldown``
(``SHANGJIA_CIRCUIT_MAX_COOLDOWN_S``); after that one caller claims the probe (a conditional
write) while the others keep waiting (half-open); the probe's success closes it and clears the
counts, its failure re-opens it for twice as long. Successes are counted only while the window
holds a failure (a healthy channel costs no write).

Time here is wall-clock epoch seconds (injectable ``now``), not the business clock: the demo pins
the business clock, and buckets must still refill.

Rates: ``SHANGJIA_QUOTA_<CHANNEL>`` = ``"<count>/<seconds>[:<burst>]"``, ``SHANGJIA_QUOTA_<CHANNEL>_DAY``
= ``"<count>"``; ``off`` for none; defaults in ``DEFAULT_RATES`` / ``DEFAULT_DAILY``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from shangjia.ports import ConditionFailed, Store, Transient


@dataclass(frozen=True)
class Rate:
    per_s: float          # tokens added a second
    burst: float          # the bucket's size

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """``"200/3600:20"``: 200 per 3600 s, a bucket of 20 (default burst: 1/10 of the count, >= 1)."""
        spec, _, burst = text.strip().partition(":")
        count, _, seconds = spec.partition("/")
        n, s = float(count), float(seconds or 1)
        if n <= 0 or s <= 0:
            raise ValueError(f"a rate is a positive count per positive seconds, not {text!r}")
        b = float(burst) if burst else max(1.0, n / 10)
        if b < 1:
            raise ValueError(f"a bucket holds at least one token, not {text!r}")
        return cls(per_s=n / s, burst=b)


# WeChat: adds and updates share 200/hour and 1000/day per shop (CHANNEL-APIS.md §2.2, §7.8).
# Douyin publishes no per-shop listing quota (its API frequency limits are per app): a
# conservative 3000/hour. The own shop is our catalog: no bucket.
DEFAULT_RATES: dict[str, str | None] = {"wechat": "200/3600:20", "douyin": "3000/3600:50", "own_shop": None}
DEFAULT_DAILY: dict[str, int | None] = {"wechat": 1000}

DAY_S = 86400.0
DAY_OFFSET_S = 8 * 3600.0        # the platforms' day is China's (UTC+8, no daylight saving)


def day_index(t: float) -> int:
    """The calendar day (China time) of epoch second ``t``, as a day number."""
    return int((t + DAY_OFFSET_S) // DAY_S)


def day_start(day: int) -> float:
    """Epoch seconds at 00:00 China time of day number ``day``."""
    return day * DAY_S - DAY_OFFSET_S


def quota_safe_rate(count: int, window_s: float) -> str:
    """A bucket that never exceeds a platform's rolling-window quota (``count`` per ``window_s``):
    any window lets through at most burst + rate x window, so burst + rate stays under ``count``
    with a margin for the lag between a slot and its submission reaching the platform.
    200/3600 -> ``170/3600:20`` (190 in any hour). (A bucket of the full count plus a burst refuses the 201st.)"""
    burst = max(1, count // 10)
    rate = max(1, min(int(count * 0.85), count - burst - 1))
    return f"{rate}/{window_s:g}:{burst}"


def _off(text: str) -> bool:
    return not text or text.strip().lower() in ("none", "off", "0")


def rate_for(channel: str) -> Rate | None:
    text = os.environ.get(f"SHANGJIA_QUOTA_{channel.upper()}", DEFAULT_RATES.get(channel) or "")
    if _off(text):
        return None
    return Rate.parse(text)


def daily_cap_for(channel: str) -> int | None:
    """Submissions a (channel, shop) may make a calendar day, or None (no daily cap)."""
    default = DEFAULT_DAILY.get(channel)
    text = os.environ.get(f"SHANGJIA_QUOTA_{channel.upper()}_DAY", "" if default is None else str(default))
    if _off(text):
        return None
    n = int(float(text))
    if n < 1:
        raise ValueError(f"a daily cap is a positive count, not {text!r}")
    return n


def _bucket_key(channel: str, shop_id: str) -> tuple[str, str]:
    return f"THROTTLE#{channel}#{shop_id}", "BUCKET"


def _circuit_key(channel: str) -> tuple[str, str]:
    return f"CIRCUIT#{channel}", "STATE"


@dataclass(frozen=True)
class Slot:
    """One take: when the send may go (``at``, epoch s), the wait from now, and which limit set
    it (``""`` none: at once; ``"rate"`` the bucket; ``"day"`` the daily cap)."""
    at: float
    wait_s: float
    limit: str = ""


def stored_tat(item: dict[str, Any] | None, rate: Rate) -> float | None:
    """The bucket's theoretical arrival time as stored, or from the older form (``tokens`` left
    at ``at``: full again at ``at + (burst - tokens) / rate``); None for a bucket never taken."""
    if not item:
        return None
    if item.get("tat") is not None:
        return float(item["tat"])
    if item.get("at") is not None:
        return float(item["at"]) + (rate.burst - float(item.get("tokens") or 0.0)) / rate.per_s
    return None


def plan(item: dict[str, Any] | None, now: float, rate: Rate | None, cap: int | None
         ) -> tuple[Slot, dict[str, Any]]:
    """The slot of one more submission given the stored state, and the state after it (pure)."""
    state: dict[str, Any] = {}
    earliest, limit = now, ""
    day = used = 0
    if cap is not None:
        today = day_index(now)
        day = int((item or {}).get("day") or today)
        used = int((item or {}).get("day_used") or 0)
        if day < today:
            day, used = today, 0
        if used >= cap:                       # today's (or the queued day's) cap is spent
            day, used = day + 1, 0
        if day_start(day) > now:
            earliest, limit = day_start(day), "day"
    slot = earliest
    if rate is not None:
        interval, tau = 1.0 / rate.per_s, rate.burst / rate.per_s
        tat = stored_tat(item, rate)
        # the bucket as it stands when this take may go (``earliest``: a queued day starts full
        # when its tokens had time to come back)
        new_tat = max(tat if tat is not None else earliest, earliest) + interval
        slot = max(earliest, new_tat - tau)
        if slot > earliest:
            limit = "rate"
        state.update(tat=round(new_tat, 6), rate_per_s=rate.per_s, burst=rate.burst)
    if cap is not None:
        d = day_index(slot)
        if d > day:                           # the bucket's queue reaches into a later day
            day, used = d, 0
        state.update(day=day, day_used=used + 1, day_cap=cap)
    if slot - now < 0.001:                    # now (``tat`` is stored rounded: it may lie a hair ahead)
        return Slot(now, 0.0), state
    return Slot(slot, slot - now, limit), state


class Throttle:
    def __init__(self, store: Store, *, now: Callable[[], float] = time.time,
                 rates: dict[str, Rate | None] | None = None, daily: dict[str, int | None] | None = None,
                 max_tries: int = 8, fast: bool = True) -> None:
        """``fast``: take by one conditional update where it can (the store's ``update``); off,
        every take reads the bucket and writes it back on its version."""
        self.store, self.now, self.max_tries, self.fast = store, now, max_tries, fast
        self._rates, self._daily = rates, daily
        self._seen: dict[str, float] = {}        # bucket pk -> the ``tat`` this instance last saw
        self._seen_day: dict[str, int] = {}      # bucket pk -> the ``day`` it last saw

    def rate(self, channel: str) -> Rate | None:
        if self._rates is not None:
            return self._rates.get(channel)
        return rate_for(channel)

    def daily_cap(self, channel: str) -> int | None:
        if self._daily is not None:
            return self._daily.get(channel)
        return daily_cap_for(channel)

    def take(self, channel: str, shop_id: str) -> float:
        """Take one slot for a send on (channel, shop). 0.0: send now. Otherwise the slot is
        reserved and the value is the seconds until it comes: send then, without taking again."""
        return self.take_slot(channel, shop_id).wait_s

    def take_slot(self, channel: str, shop_id: str) -> Slot:
        """``take`` with the slot's time and the limit that set it (for the merchant's reason)."""
        rate, cap = self.rate(channel), self.daily_cap(channel)
        if rate is None and cap is None:
            return Slot(self.now(), 0.0)
        pk, sk = _bucket_key(channel, shop_id)
        if rate is not None and self.fast:
            slot = self._take_at_once(pk, sk, rate, cap)
            if slot is not None:
                return slot
        for _ in range(self.max_tries):
            item = self.store.get(pk, sk)
            now = self.now()
            slot, state = plan(item, now, rate, cap)
            try:
                self._write(pk, sk, item, state)
            except ConditionFailed:
                continue             # another publisher took one meanwhile: count again
            self._seen[pk] = float(state.get("tat") or 0.0)
            if state.get("day") is not None:
                self._seen_day[pk] = int(state["day"])
            return slot
        raise Transient(f"token bucket {channel}/{shop_id}: too much contention")

    def _take_at_once(self, pk: str, sk: str, rate: Rate, cap: int | None) -> Slot | None:
        """One conditional UpdateItem that takes the slot, when the bucket is in one of the two
        common states: running ahead of now (``tat >= now``: a queue; the slot is the new ``tat``
        less the burst) or at rest (``tat < now``, or no bucket yet: the slot is now). With a
        daily cap, only within the count of the day the queue is in (today, or the later day the
        cap moved it to) and a slot in that day. The state last seen here picks the
        first try (a failed conditional write is a request too). None: neither applied."""
        now = self.now()
        interval, tau = 1.0 / rate.per_s, rate.burst / rate.per_s
        names: dict[str, str] = {"#t": "tat", "#v": "v", "#r": "rate_per_s", "#b": "burst"}
        values: dict[str, Any] = {":now": _num(now), ":i": _num(interval), ":one": 1, ":zero": 0,
                                  ":r": _num(rate.per_s), ":b": _num(rate.burst)}
        day_cond, day_set = "", ""
        today = day_index(now)
        day = today
        if cap is not None:
            # the day the queue is in: today, or a later day it was moved to (the cap spent)
            day = max(today, int(self._seen_day.get(pk, today)))
            names.update({"#d": "day", "#du": "day_used", "#dc": "day_cap"})
            values.update({":day": day, ":cap": cap})
            day_cond = " AND #d = :day AND #du < :cap"
            day_set = ", #du = #du + :one, #dc = :cap"
            # the slot stays in that day: tat + interval - tau < the next day's start
            values[":hi"] = _num(day_start(day + 1) - interval + tau)
        earliest = day_start(day) if day > today else now
        queued = ("queued", "SET #t = #t + :i, #v = #v + :one, #r = :r, #b = :b" + day_set,
                  "#t >= :now" + (" AND #t < :hi" if cap is not None else "") + day_cond)
        values[":start"] = _num(now + interval)
        at_rest = "(#t < :now OR (attribute_not_exists(#t) AND attribute_not_exists(#v)))"
        rest = ("rest", "SET #t = :start, #v = if_not_exists(#v, :zero) + :one, #r = :r, #b = :b" + day_set,
                at_rest + day_cond)
        if cap is not None and int(self._seen_day.get(pk, today)) < today:
            # at rest on a new day (or a new bucket): the count starts again
            rest = ("rest", "SET #t = :start, #v = if_not_exists(#v, :zero) + :one, #r = :r, #b = :b, "
                            "#d = :day, #du = :one, #dc = :cap",
                    at_rest + " AND (attribute_not_exists(#d) OR #d < :day)")
        tries = (queued, rest) if self._seen.get(pk, float("-inf")) >= now else (rest, queued)
        for kind, expression, condition in tries:
            try:
                item = self.store.update(pk, sk, expression, condition=condition,
                                         names=_used(names, expression, condition),
                                         values=_used(values, expression, condition), return_new=True) or {}
            except ConditionFailed:
                continue
            tat = float(item.get("tat") or now + interval)
            self._seen[pk] = tat
            if item.get("day") is not None:
                self._seen_day[pk] = int(item["day"])
            slot = max(earliest, tat - tau) if kind == "queued" else now
            if slot - now < 0.001:
                return Slot(now, 0.0)
            return Slot(slot, slot - now, "rate" if slot > earliest else "day")
        return None

    def _write(self, pk: str, sk: str, item: dict[str, Any] | None, state: dict[str, Any]) -> None:
        if item is None:
            self.store.put({"pk": pk, "sk": sk, **state, "v": 1}, condition="attribute_not_exists(pk)")
            return
        version = int(item.get("v") or 0)
        kept = {k: v for k, v in item.items() if k not in ("tokens", "at")}     # the older form goes
        self.store.put({**kept, **state, "pk": pk, "sk": sk, "v": version + 1},
                       condition="v = :v", values={":v": version})

    def penalize(self, channel: str, shop_id: str, seconds: float) -> None:
        """The platform said the shop's quota is spent: no slot is handed out for ``seconds``
        (every publisher of this shop waits; reservations queue after it: the bucket is empty at
        ``now + seconds``). Slots already reserved further out than that are kept."""
        rate = self.rate(channel) or Rate(per_s=1 / 60, burst=1)
        pk, sk = _bucket_key(channel, shop_id)
        for _ in range(self.max_tries):
            item = self.store.get(pk, sk)
            now = self.now()
            tat = stored_tat(item, rate)
            empty_at = now + seconds + rate.burst / rate.per_s
            try:
                self._write(pk, sk, item, {"tat": round(max(tat if tat is not None else now, empty_at), 6),
                                           "rate_per_s": rate.per_s, "burst": rate.burst})
                self._seen[pk] = empty_at
                return
            except ConditionFailed:
                continue
        raise Transient(f"token bucket {channel}/{shop_id}: too much contention")


def _num(x: float) -> float:
    """Times and rates as stored: to the microsecond (DynamoDB numbers are decimals)."""
    return round(x, 6)


# --- circuit breaker ---------------------------------------------------------------------------------

@dataclass
class CircuitState:
    wait_s: float            # 0: go (closed, or this caller is the half-open probe)
    failures: int            # transient failures counted in the rolling window (0: nothing to record)
    probe: bool = False      # this caller holds the half-open probe


def _env_float(names: tuple[str, ...], default: float) -> float:
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return float(v)
    return default


# attribute names (placeholders: some are DynamoDB reserved words)
_N = {"#w": "win", "#c": "calls", "#f": "fails", "#pc": "prev_calls", "#pf": "prev_fails",
      "#o": "open_until", "#p": "probe_until", "#t": "trips"}


def _used(placeholders: dict[str, Any], *expressions: str) -> dict[str, Any]:
    """The ``#name`` / ``:value`` placeholders the expressions use (DynamoDB refuses unused ones)."""
    used = set(re.findall(r"[#:]\w+", " ".join(expressions)))
    return {k: v for k, v in placeholders.items() if k in used}


def _names(*expressions: str) -> dict[str, str]:
    """The circuit's attribute names the expressions use."""
    return _used(_N, *expressions)


class Circuit:
    def __init__(self, store: Store, *, now: Callable[[], float] = time.time, min_calls: int | None = None,
                 threshold: int | None = None, ratio: float | None = None, window_s: float | None = None,
                 cooldown_s: float | None = None, max_cooldown_s: float | None = None, probe_s: float = 30.0,
                 memo_s: float = 0.0) -> None:
        """``threshold`` is the former name of ``min_calls`` (``SHANGJIA_CIRCUIT_THRESHOLD`` too): a
        channel failing every call still opens after that many. ``memo_s``: a circuit this instance
        read as closed and failure-free is taken as such for that long without reading it again
        (one GetItem per send saved; another container's opening is seen that much later, and this
        instance's own failure forgets it at once)."""
        self.store, self.now = store, now
        self.memo_s = memo_s
        self._healthy_until: dict[str, float] = {}
        self.min_calls = int(min_calls or threshold or _env_float(
            ("SHANGJIA_CIRCUIT_MIN_CALLS", "SHANGJIA_CIRCUIT_THRESHOLD"), 20))
        self.ratio = ratio if ratio is not None else _env_float(("SHANGJIA_CIRCUIT_FAILURE_RATIO",), 0.8)
        self.window_s = window_s if window_s is not None else _env_float(("SHANGJIA_CIRCUIT_WINDOW_S",), 120.0)
        self.cooldown_s = cooldown_s if cooldown_s is not None else _env_float(("SHANGJIA_CIRCUIT_COOLDOWN_S",), 30.0)
        self.max_cooldown_s = max_cooldown_s if max_cooldown_s is not None else _env_float(
            ("SHANGJIA_CIRCUIT_MAX_COOLDOWN_S",), 300.0)
        self.probe_s = probe_s
        if self.min_calls < 1 or not 0 <= self.ratio < 1 or self.window_s <= 0:
            raise ValueError("a circuit needs min_calls >= 1, 0 <= ratio < 1 and a positive window")

    # --- the rolling window ---------------------------------------------------------------------
    def _win(self, now: float) -> int:
        return int(now // self.window_s)

    def counts(self, item: dict[str, Any] | None, now: float) -> tuple[float, float]:
        """(calls, failures) in the rolling window ending at ``now`` (the previous fixed window
        weighted by its overlap)."""
        if not item or item.get("win") is None:
            return 0.0, 0.0
        w, stored = self._win(now), int(item["win"])
        calls, fails = float(item.get("calls") or 0), float(item.get("fails") or 0)
        pcalls, pfails = float(item.get("prev_calls") or 0), float(item.get("prev_fails") or 0)
        if stored < w - 1:
            return 0.0, 0.0
        if stored == w - 1:                  # nothing counted yet in this window
            calls, fails, pcalls, pfails = 0.0, 0.0, calls, fails
        weight = 1.0 - (now - w * self.window_s) / self.window_s
        return calls + pcalls * weight, fails + pfails * weight

    def _count(self, channel: str, failed: bool, now: float) -> dict[str, Any]:
        """Add one call (a failure or not) to the window; the item after it."""
        key = _circuit_key(channel)
        w = self._win(now)
        vals = {":one": 1, ":f": 1 if failed else 0, ":w": w}
        attempts = (
            # the current window (or a later one: another publisher's clock ran ahead)
            ("ADD #c :one, #f :f", "#w >= :w", vals),
            # the window rolled: the current counts become the previous ones
            ("SET #pc = #c, #pf = #f, #c = :one, #f = :f, #w = :w", "#w = :prev", {**vals, ":prev": w - 1}),
            # first call, or nothing for a whole window: start afresh
            ("SET #pc = :z, #pf = :z, #c = :one, #f = :f, #w = :w", "attribute_not_exists(#w) OR #w < :prev",
             {**vals, ":prev": w - 1, ":z": 0}),
        )
        for _ in range(3):
            for expr, cond, values in attempts:
                names = _names(expr, cond)
                try:
                    return self.store.update(*key, expr, condition=cond, names=names, values=values,
                                             return_new=True) or {}
                except ConditionFailed:
                    continue
        raise Transient(f"circuit {channel}: too much contention")

    # --- the port publish uses ----------------------------------------------------------------------
    def check(self, channel: str) -> CircuitState:
        if self.memo_s > 0 and self._healthy_until.get(channel, float("-inf")) > self.now():
            return CircuitState(0.0, 0)
        item: dict[str, Any] | None = self.store.get(*_circuit_key(channel), consistent=False)
        now = self.now()
        failures = 0
        if item:
            w = self._win(now)
            if item.get("win") is not None and int(item["win"]) >= w - 1:
                failures = int(item.get("fails") or 0) + (int(item.get("prev_fails") or 0)
                                                          if int(item["win"]) == w else 0)
        if not item or item.get("open_until") is None:
            if failures == 0 and self.memo_s > 0:
                self._healthy_until[channel] = now + self.memo_s
            return CircuitState(0.0, failures)
        open_until = float(item["open_until"])
        failures = max(failures, 1)               # open: whatever happens next is recorded
        if now < open_until:
            return CircuitState(open_until - now, failures)
        # half-open: one caller probes, the rest wait for its answer
        try:
            self.store.update(*_circuit_key(channel), "SET #p = :p",
                              condition="attribute_exists(#o) AND (attribute_not_exists(#p) OR #p < :n)",
                              names={"#p": "probe_until", "#o": "open_until"},
                              values={":p": round(now + self.probe_s, 6), ":n": round(now, 6)})
            return CircuitState(0.0, failures, probe=True)
        except ConditionFailed:
            fresh = self.store.get(*_circuit_key(channel)) or {}
            if fresh.get("open_until") is None:
                return CircuitState(0.0, 0)          # closed meanwhile
            return CircuitState(max(1.0, float(fresh.get("probe_until") or now) - now), failures)

    def success(self, channel: str, state: CircuitState | None = None) -> None:
        """A call went through. Closes a half-open circuit (the probe's answer); otherwise counted
        only while the window holds a failure (a healthy channel costs no write)."""
        if state is not None and state.failures == 0 and not state.probe:
            return                                    # closed, no failure in the window: nothing to write
        now = self.now()
        item = self._count(channel, False, now)
        if item.get("open_until") is not None and (
                (state is not None and state.probe) or now >= float(item["open_until"])):
            try:
                self.store.update(*_circuit_key(channel),
                                  "SET #c = :z, #f = :z, #pc = :z, #pf = :z, #t = :z REMOVE #o, #p",
                                  condition="attribute_exists(#o)",
                                  names=_names("#c #f #pc #pf #t #o #p"),
                                  values={":z": 0})
            except ConditionFailed:
                pass                                  # closed by another probe's answer

    def failure(self, channel: str) -> bool:
        """Count a transient failure; True when the circuit is (now) open."""
        self._healthy_until.pop(channel, None)
        now = self.now()
        item = self._count(channel, True, now)
        trips = int(item.get("trips") or 0)
        open_until = item.get("open_until")
        if open_until is not None:
            if now < float(open_until):
                return True                           # already open (a call that started before)
            condition = "#o <= :n"                    # the half-open probe failed: re-open, longer
        else:
            calls, fails = self.counts(item, now)
            if calls < self.min_calls or fails <= self.ratio * calls:
                return False
            condition = "attribute_not_exists(#o)"
        cooldown = min(self.max_cooldown_s, self.cooldown_s * 2 ** min(10, trips))
        try:
            self.store.update(*_circuit_key(channel), "SET #o = :u, #t = :t REMOVE #p", condition=condition,
                              names=_names("#o #t #p"),
                              values={":u": round(now + cooldown, 6), ":t": trips + 1,
                                      **({":n": round(now, 6)} if ":n" in condition else {})})
        except ConditionFailed:
            pass                                      # another publisher opened it first
        return True
