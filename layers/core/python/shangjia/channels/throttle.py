"""Quota and outage guards shared by every concurrent publisher, held in the state table (never in
a function's memory: every Lambda container sees the same bucket and the same breaker).

**Token bucket per (channel, shop)** (``Throttle``): ``THROTTLE#<channel>#<shop_id>`` / ``BUCKET``
holds the tokens left and when they were counted; each send takes one with an optimistic
conditional write (a version number). When the bucket is empty the token is *reserved* anyway (the
count goes negative) and the caller gets the time its slot comes round: the message waits until
then (SQS DelaySeconds, at most 900 s a hop) and sends without taking again. So a 5,000-product
upload to WeChat (200 adds/updates an hour per shop) queues through its slots in order instead of
failing, and each listing shows ``waiting_quota`` with the expected time. A platform that answers
"quota" anyway (another tool on the same shop) ``penalize``\\ s the bucket: nobody sends for a while.

**Circuit breaker per channel** (``Circuit``): ``CIRCUIT#<channel>`` / ``STATE`` counts consecutive
transient failures; at ``threshold`` the circuit opens for ``cooldown`` (doubling while it keeps
failing, at most ``max_cooldown``); after that one caller claims the probe (a conditional write)
while the others keep waiting; a success closes it.

Time here is wall-clock epoch seconds (injectable ``now``), not the business clock: the demo pins
the business clock, and buckets must still refill.

Rates: ``SHANGJIA_QUOTA_<CHANNEL>`` = ``"<count>/<seconds>[:<burst>]"``; defaults in ``DEFAULT_RATES``.
"""

from __future__ import annotations

import os
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


# WeChat: adds and updates share 200/hour (and 1000/day) per shop (CHANNEL-APIS.md §2.2).
# Douyin publishes no per-shop listing quota (its API frequency limits are per app): a
# conservative 3000/hour. The own shop is our catalog: no bucket.
DEFAULT_RATES: dict[str, str | None] = {"wechat": "200/3600:20", "douyin": "3000/3600:50", "own_shop": None}


def quota_safe_rate(count: int, window_s: float) -> str:
    """A bucket that never exceeds a platform's rolling-window quota (``count`` per ``window_s``):
    any window lets through at most burst + rate x window, so burst + rate stays under ``count``
    with a margin for the lag between a slot and its submission reaching the platform.
    200/3600 -> ``170/3600:20`` (190 in any hour). (A bucket of the full count plus a burst refuses the 201st.)"""
    burst = max(1, count // 10)
    rate = max(1, min(int(count * 0.85), count - burst - 1))
    return f"{rate}/{window_s:g}:{burst}"


def rate_for(channel: str) -> Rate | None:
    text = os.environ.get(f"SHANGJIA_QUOTA_{channel.upper()}", DEFAULT_RATES.get(channel) or "")
    if not text or text.lower() in ("none", "off", "0"):
        return None
    return Rate.parse(text)


def _bucket_key(channel: str, shop_id: str) -> tuple[str, str]:
    return f"THROTTLE#{channel}#{shop_id}", "BUCKET"


def _circuit_key(channel: str) -> tuple[str, str]:
    return f"CIRCUIT#{channel}", "STATE"


class Throttle:
    def __init__(self, store: Store, *, now: Callable[[], float] = time.time,
                 rates: dict[str, Rate | None] | None = None, max_tries: int = 8) -> None:
        self.store, self.now, self.max_tries = store, now, max_tries
        self._rates = rates

    def rate(self, channel: str) -> Rate | None:
        if self._rates is not None:
            return self._rates.get(channel)
        return rate_for(channel)

    def take(self, channel: str, shop_id: str) -> float:
        """Take one token for a send on (channel, shop). 0.0: send now. Otherwise the token is
        reserved and the value is the seconds until its slot: send then, without taking again."""
        rate = self.rate(channel)
        if rate is None:
            return 0.0
        pk, sk = _bucket_key(channel, shop_id)
        for _ in range(self.max_tries):
            item = self.store.get(pk, sk)
            now = self.now()
            if item is None:
                tokens, version = rate.burst, 0
                condition, values = "attribute_not_exists(pk)", None
            else:
                version = int(item.get("v") or 0)
                elapsed = max(0.0, now - float(item.get("at") or now))
                tokens = min(rate.burst, float(item.get("tokens") or 0.0) + elapsed * rate.per_s)
                condition, values = "v = :v", {":v": version}
            left = tokens - 1.0
            try:
                self.store.put({"pk": pk, "sk": sk, "tokens": round(left, 6), "at": round(now, 6), "v": version + 1,
                                "rate_per_s": rate.per_s, "burst": rate.burst},
                               condition=condition, values=values)
            except ConditionFailed:
                continue             # another publisher took one meanwhile: count again
            return 0.0 if left >= 0 else -left / rate.per_s
        raise Transient(f"token bucket {channel}/{shop_id}: too much contention")

    def penalize(self, channel: str, shop_id: str, seconds: float) -> None:
        """The platform said the shop's quota is spent: the bucket is emptied for ``seconds`` worth
        of tokens, so every publisher of this shop waits (reservations queue after it)."""
        rate = self.rate(channel) or Rate(per_s=1 / 60, burst=1)
        pk, sk = _bucket_key(channel, shop_id)
        now = self.now()
        self.store.update(pk, sk, "SET tokens = :t, #a = :n, rate_per_s = :r, burst = :b ADD v :one",
                          names={"#a": "at"},
                          values={":t": round(-rate.per_s * seconds, 6), ":n": round(now, 6), ":r": rate.per_s,
                                  ":b": rate.burst, ":one": 1})


@dataclass
class CircuitState:
    wait_s: float            # 0: go (closed, or this caller is the half-open probe)
    failures: int


class Circuit:
    def __init__(self, store: Store, *, now: Callable[[], float] = time.time, threshold: int | None = None,
                 cooldown_s: float | None = None, max_cooldown_s: float | None = None, probe_s: float = 30.0) -> None:
        self.store, self.now = store, now
        self.threshold = threshold or int(os.environ.get("SHANGJIA_CIRCUIT_THRESHOLD", "5"))
        self.cooldown_s = cooldown_s if cooldown_s is not None else float(
            os.environ.get("SHANGJIA_CIRCUIT_COOLDOWN_S", "30"))
        self.max_cooldown_s = max_cooldown_s if max_cooldown_s is not None else float(
            os.environ.get("SHANGJIA_CIRCUIT_MAX_COOLDOWN_S", "300"))
        self.probe_s = probe_s

    def check(self, channel: str) -> CircuitState:
        item: dict[str, Any] | None = self.store.get(*_circuit_key(channel), consistent=False)
        failures = int((item or {}).get("failures") or 0)
        if failures < self.threshold:
            return CircuitState(0.0, failures)
        now = self.now()
        open_until = float(item.get("open_until") or 0)
        if now < open_until:
            return CircuitState(open_until - now, failures)
        # half-open: one caller probes, the rest wait for its answer
        try:
            self.store.update(*_circuit_key(channel), "SET probe_until = :p",
                              condition="failures >= :th AND (attribute_not_exists(probe_until) OR probe_until < :n)",
                              values={":p": round(now + self.probe_s, 6), ":th": self.threshold, ":n": round(now, 6)})
            return CircuitState(0.0, failures)
        except ConditionFailed:
            fresh = self.store.get(*_circuit_key(channel)) or {}
            if int(fresh.get("failures") or 0) < self.threshold:
                return CircuitState(0.0, 0)          # closed meanwhile
            return CircuitState(max(1.0, float(fresh.get("probe_until") or now) - now), failures)

    def success(self, channel: str, state: CircuitState | None = None) -> None:
        if state is not None and state.failures == 0:
            return                                    # closed when checked: nothing to write
        try:
            self.store.update(*_circuit_key(channel), "SET failures = :z REMOVE open_until, probe_until",
                              condition="failures > :z", values={":z": 0})
        except ConditionFailed:
            pass

    def failure(self, channel: str) -> bool:
        """Count a transient failure; True when the circuit is (now) open."""
        now = self.now()
        item = self.store.update(*_circuit_key(channel), "ADD failures :one SET last_failure = :n",
                                 values={":one": 1, ":n": round(now, 6)}, return_new=True) or {}
        failures = int(item.get("failures") or 0)
        if failures < self.threshold:
            return False
        cooldown = min(self.max_cooldown_s, self.cooldown_s * 2 ** min(10, failures - self.threshold))
        self.store.update(*_circuit_key(channel), "SET open_until = :u REMOVE probe_until",
                          values={":u": round(now + cooldown, 6)})
        return True
