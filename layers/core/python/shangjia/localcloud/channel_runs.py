"""The two channel proofs on the local cloud (issue 9): a fault run and a quota run.

Both start at the publish stage. The full pipeline from a sheet runs at ~0.2 SKUs/s locally (its
own issue), so the products are written as they stand after review: validated sample products
(``sheets.samples`` through ``validate_product``), ``approved``, with media results (rendition keys
per image), then handed on by the review stage's own ``review.publish_or_schedule`` (fan-out to the
``publish_<channel>`` queues). From there everything is the real path: the publish queues and
function, the adapters, the simulated WeChat and Douyin (faults, quotas, audits, signed pushes),
the callback gateway and ``channel_callback``, the ``listing_poller`` for lost pushes, SQS retries
and the DLQs.

- ``fault_run``: N products x 3 channels with injected transient faults (5xx, 429, time-outs) and
  lost callbacks, and the same run without faults as the baseline (listings/s as a ratio).
- ``quota_run``: one shop, N products to WeChat alone, the simulator enforcing its audit quota
  (``audit_quota_hour``), our token bucket (``SHANGJIA_QUOTA_WECHAT``) and the simulator's quota
  window both on the accelerated quota clock (``clock.epoch_s``, ``SHANGJIA_TIME_SCALE``).

``python -m bench channels`` (``make bench ARGS=channels``) and ``shangjia channels fault-run`` /
``quota-run`` print the figures.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from shangjia.status import history_entry, read_history

CHANNELS3 = ("own_shop", "wechat", "douyin")
SETTLED = ("live", "rejected", "failed")


def sample_products(n: int, *, seed: int, merchant: str) -> list[dict[str, Any]]:
    """``n`` valid products as validate stores them (``item["product"]``), codes unique per seed."""
    from shangjia.sheets import products_from_records
    from shangjia.sheets.samples import sample_rows
    from shangjia.validation import ValidationContext, validate_product

    ctx = ValidationContext(merchant_id=merchant)
    out = []
    for rows, _ in sample_rows(n, seed=seed, merchant=f"R{seed % 100:02d}"):
        [raw] = list(products_from_records(rows))
        res = validate_product(raw, ctx)
        if res.valid:
            res.product["key_product"] = False          # published now, not in the 10:00-12:00 window
            res.product["priority"] = False
            out.append(res.product)
    return out


def media_of(merchant: str, product: dict[str, Any]) -> dict[str, Any]:
    """The media stage's results for the product's images: one rendition key per image."""
    out = {}
    for slot in ("main", "gallery", "detail"):
        for i, ref in enumerate((product.get("images") or {}).get(slot) or []):
            out[f"{slot}#{i:02d}"] = {"ok": True, "renditions": [
                {"name": slot, "key": f"renditions/{merchant}/{product['spu_code']}/{slot}_{i:02d}.jpg"}],
                "width": 1000, "height": 1000}
    return out


def write_approved(deps, merchant: str, batch_id: str, products: list[dict[str, Any]]) -> None:
    """The products as review leaves them (``approved``, media done), then handed to publishing
    by the review stage's ``publish_or_schedule`` (the same call its approve step makes)."""
    from shangjia.clock import iso
    from shangjia.pipeline import keys
    from shangjia.pipeline.review import publish_or_schedule

    now = iso(deps.clock.now())

    def one(p: dict[str, Any]) -> None:
        spu = p["spu_code"]
        pk, sk = keys.product(merchant, spu)
        rows = [s["row"] for s in p.get("skus") or [] if isinstance(s.get("row"), int)]
        deps.store.put({"pk": pk, "sk": sk, "merchant_id": merchant, "spu_code": spu, "batch_id": batch_id,
                        "status": "approved", "product": p, "media": media_of(merchant, p), "findings": [],
                        "valid": True, "first_row": min(rows) if rows else None, "revision": 1,
                        "created_at": now, "updated_at": now, "gsi1pk": f"BATCH#{batch_id}",
                        "gsi1sk": f"PRODUCT#{spu}", "gsi2pk": "STATUS#approved", "gsi2sk": now,
                        "history": [history_entry("approved", now, batch_id)]})
        out = publish_or_schedule(deps, merchant, spu, batch_id)
        if out.get("scheduled") or out.get("skipped"):
            raise RuntimeError(f"{spu} was not handed to publishing: {out}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, products))


@dataclass
class RunFigures:
    name: str
    products: int
    channels: tuple[str, ...]
    elapsed_s: float
    by_channel: dict[str, Counter] = field(default_factory=dict)   # channel -> listing states
    duplicates: int = 0
    duplicate_keys: list = field(default_factory=list)
    retried_listings: int = 0
    retries: int = 0                           # transient waits recorded on the listings
    sim_faults: Counter = field(default_factory=Counter)          # what the simulators injected
    dlq: dict[str, int] = field(default_factory=dict)
    unsettled: list[dict[str, Any]] = field(default_factory=list)  # not live: state and reason
    verdict_sources: Counter = field(default_factory=Counter)
    products_by_status: Counter = field(default_factory=Counter)
    waited_quota: int = 0                      # listings that waited for a quota slot
    timed_out: bool = False

    @property
    def listings(self) -> int:
        return self.products * len(self.channels)

    @property
    def live(self) -> int:
        return sum(c.get("live", 0) for c in self.by_channel.values())

    @property
    def pct_live(self) -> float:
        return 100.0 * self.live / self.listings if self.listings else 0.0

    @property
    def rate(self) -> float:
        return self.listings / self.elapsed_s if self.elapsed_s else 0.0


def collect(cloud, deps, merchant: str, spus: list[str], channels, name: str, started: float,
            timed_out: bool) -> RunFigures:
    from shangjia.pipeline import keys

    elapsed = time.monotonic() - started
    f = RunFigures(name, len(spus), tuple(channels), elapsed, timed_out=timed_out)
    key_list = [keys.listing(merchant, s, c) for s in spus for c in channels]
    listings = {}
    for i in range(0, len(key_list), 100):
        for it in deps.store.get_many(key_list[i:i + 100], consistent=True):
            listings[(it["spu_code"], it.get("channel") or it["sk"].split("#", 1)[1])] = it
    for c in channels:
        f.by_channel[c] = Counter()
    for s in spus:
        for c in channels:
            it = listings.get((s, c))
            state = (it or {}).get("state") or "none"
            f.by_channel[c][state] += 1
            hist = read_history((it or {}).get("history"), "state")
            waits = sum(1 for h in hist if h.get("state") in ("retrying", "waiting_channel"))
            f.retries += waits
            f.retried_listings += bool(waits)
            f.waited_quota += any(h.get("state") == "waiting_quota" for h in hist)
            if state == "in_audit" or state in SETTLED:
                if it.get("verdict_source"):
                    f.verdict_sources[it["verdict_source"]] += 1
            if state != "live":
                r = (it or {}).get("reason")
                f.unsettled.append({"spu_code": s, "channel": c, "state": state,
                                    "reason": r if isinstance(r, dict) else {"message_en": str(r or "")},
                                    "next_step": (it or {}).get("next_step_note", "")})
    prods = deps.store.get_many([keys.product(merchant, s) for s in spus][:100000])
    f.products_by_status = Counter(p.get("status") for p in prods)
    dups = cloud.channels.duplicates()
    f.duplicates = sum(n - 1 for n in dups.values())
    f.duplicate_keys = sorted(dups)[:10]
    for sim_name in ("wechat", "douyin"):
        sim = cloud.channels.sim(sim_name)
        with sim.lock:
            for _, outcome in sim.requests:
                if outcome in ("5xx", "429", "busy", "timeout"):
                    f.sim_faults[f"{sim_name}:{outcome}"] += 1
            f.sim_faults[f"{sim_name}:lost_callbacks"] = sum(1 for x in sim.lost if x.get("why") == "lost")
            f.sim_faults[f"{sim_name}:requests"] = sim.calls
    f.dlq = {k: v for k, v in cloud.queue_depths(dlq=True).items() if v}
    return f


def _done(deps, merchant: str, spus: list[str], channels, cloud) -> bool:
    """Every listing settled, or given up to its DLQ (its message there)."""
    from shangjia.pipeline import keys

    key_list = [keys.listing(merchant, s, c) for s in spus for c in channels]
    settled = 0
    for i in range(0, len(key_list), 100):
        settled += sum(1 for it in deps.store.get_many(key_list[i:i + 100]) if it.get("state") in SETTLED)
    if settled >= len(key_list):
        return True
    publish_dlqs = sum(v for k, v in cloud.queue_depths(dlq=True).items() if k.startswith("publish"))
    return settled + publish_dlqs >= len(key_list) and not any(
        v for k, v in cloud.queue_depths().items() if k.startswith("publish"))


def env_overrides(overrides: dict[str, str]) -> Callable[[], None]:
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)

    def undo() -> None:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return undo


def _one_run(n: int, knobs, *, name: str, seed: int, channels=CHANNELS3, timeout_s: float,
             env: dict[str, str], max_concurrency: int = 8, sim_clock: Callable[[], float] | None = None,
             log: Callable[[str], None] = print) -> tuple[RunFigures, Any]:
    from shangjia.localcloud import LocalCloud
    from shangjia.pipeline.config import set_setting
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    undo = env_overrides(env)
    try:
        with LocalCloud(channel_knobs=knobs, visibility_timeout_s=2, max_concurrency=max_concurrency) as cloud:
            if sim_clock is not None:
                cloud.channels.wechat.clock = sim_clock
                cloud.channels.douyin.clock = sim_clock
            deps = aws_deps()
            set_setting(deps.store, "audit_sample_rate", 0)
            merchant = f"run-{name}"
            put_merchant(deps.store, merchant, name=f"Run {name}", annual_sales_cny=9_000_000, channels=list(channels))
            products = sample_products(n, seed=seed, merchant=merchant)
            spus = [p["spu_code"] for p in products]
            log(f"[{name}] {len(products)} products x {len(channels)} channels written approved; publishing...")
            started = time.monotonic()
            write_approved(deps, merchant, f"run-{name}-{seed}", products)
            deadline = started + timeout_s
            last = 0.0
            timed_out = True
            while time.monotonic() < deadline:
                if _done(deps, merchant, spus, channels, cloud):
                    timed_out = False
                    break
                if time.monotonic() - last > 30:
                    last = time.monotonic()
                    f = collect(cloud, deps, merchant, spus, channels, name, started, False)
                    log(f"[{name}] {f.elapsed_s:.0f}s: " + "  ".join(
                        f"{c} {dict(v)}" for c, v in f.by_channel.items()))
                time.sleep(1.0)
            figures = collect(cloud, deps, merchant, spus, channels, name, started, timed_out)
            return figures, cloud
    finally:
        undo()


# Our quota buckets lifted (WeChat's hourly and daily caps, Douyin's): for runs that measure
# something else (the fault run, the pipeline bench); the quota run has them.
QUOTAS_OFF = {"SHANGJIA_QUOTA_WECHAT": "100000/3600:100000", "SHANGJIA_QUOTA_DOUYIN": "100000/3600:100000",
              "SHANGJIA_QUOTA_WECHAT_DAY": "off"}
FAULT_ENV = {
    "SHANGJIA_AUDIT_POLL_AFTER_S": "3",         # the poller asks for a verdict 3 s after audit began
    "SHANGJIA_CHANNEL_TIMEOUT_S": "2",          # the adapters give up after 2 s (the time-outs sleep 3 s)
    **QUOTAS_OFF,                               # no quota in the fault run (the quota run has it)
    # 5 consecutive failed attempts (the default) happen by chance at 20% per-request faults (an
    # attempt makes 3-6 requests): the breaker would pause healthy-but-flaky channels most of the run
    "SHANGJIA_CIRCUIT_THRESHOLD": "20",
}


def fault_knobs(*, faults: bool, transient_rate: float = 0.20, lost_callbacks: float = 0.10, seed: int = 7):
    from shangjia.localcloud.channels_sim import Knobs

    if not faults:
        return Knobs(audit_quota_hour=10**9, audit_quota_day=10**9, seed=seed)
    third = transient_rate / 3
    return Knobs(error_5xx_rate=third, rate_429_rate=third, timeout_rate=transient_rate - 2 * third,
                 timeout_sleep_s=3.0, callback_loss_rate=lost_callbacks, audit_quota_hour=10**9,
                 audit_quota_day=10**9, seed=seed)


def fault_run(n: int = 500, *, baseline_n: int | None = None, seed: int = 31, timeout_s: float = 1800,
              transient_rate: float = 0.20, lost_callbacks: float = 0.10,
              log: Callable[[str], None] = print) -> tuple[RunFigures, RunFigures]:
    """The baseline (no faults) then the faulted run; both on a fresh local cloud."""
    base, _ = _one_run(baseline_n or n, fault_knobs(faults=False), name="baseline", seed=seed,
                       timeout_s=timeout_s, env=FAULT_ENV, log=log)
    faulted, _ = _one_run(n, fault_knobs(faults=True, transient_rate=transient_rate, lost_callbacks=lost_callbacks),
                          name="faults", seed=seed + 1, timeout_s=timeout_s, env=FAULT_ENV, log=log)
    return base, faulted


def format_fault_run(base: RunFigures, f: RunFigures) -> str:
    lines = [f"fault run: {f.products} products x {len(f.channels)} channels = {f.listings} listings, "
             f"{f.sim_faults and 'faults injected on WeChat and Douyin' or 'no faults'}"]
    for c in f.channels:
        s = f.by_channel[c]
        other = {k: v for k, v in s.items() if k not in ("live", "rejected", "failed")}
        lines.append(f"  {c:<9} live {s.get('live', 0):>4}  rejected {s.get('rejected', 0):>3}  "
                     f"failed {s.get('failed', 0):>3}" + (f"  other {other}" if other else ""))
    lines.append(f"  live: {f.live}/{f.listings} = {f.pct_live:.2f}%  (target >= 98%)")
    lines.append(f"  duplicate listings on the simulators: {f.duplicates}")
    lines.append(f"  listings retried: {f.retried_listings}  transient waits recorded: {f.retries}")
    lines.append("  injected by the simulators: " + ", ".join(f"{k} {v}" for k, v in sorted(f.sim_faults.items())))
    lines.append(f"  verdicts by: {dict(f.verdict_sources)}")
    lines.append(f"  DLQ depth: {sum(f.dlq.values())} {f.dlq or ''}")
    lines.append(f"  products: {dict(f.products_by_status)}")
    lines.append(f"  not live ({len(f.unsettled)}):")
    for u in f.unsettled[:15]:
        r = u["reason"] or {}
        lines.append(f"    {u['spu_code']} {u['channel']} {u['state']}: {r.get('code', '')} "
                     f"{r.get('platform_code', '') or ''} {(r.get('message_en') or '')[:110]}")
    lines.append(f"  elapsed {f.elapsed_s:.1f} s, {f.rate:.2f} listings/s; baseline without faults "
                 f"({base.listings} listings, {base.pct_live:.1f}% live) {base.elapsed_s:.1f} s, "
                 f"{base.rate:.2f} listings/s; faulted/baseline = {f.rate / base.rate if base.rate else 0:.2f}x")
    if f.timed_out or base.timed_out:
        lines.append("  TIMED OUT before every listing settled")
    return "\n".join(lines)


# --- the quota run ---------------------------------------------------------------------------------

@dataclass
class QuotaFigures:
    products: int
    scale: float
    quota_per_hour: int
    bucket: str
    real_elapsed_s: float
    sim_elapsed_s: float              # first to last audit submission, on the quota clock
    live: int
    states: dict[str, int]
    sim_quota_refusals: int           # 1002001 answers the simulator gave (the bucket kept under it: 0)
    quota_errors_reaching_products: int   # listings failed or still showing a platform quota error
    per_window: list[int]             # submissions per simulated hour, from the first
    max_rolling_hour: int             # the most submissions in any rolling hour
    waited_for_slot: int              # listings that waited for their slot (waiting_quota)
    timed_out: bool


def quota_run(n: int = 600, *, scale: float = 10.0, quota_per_hour: int = 200, bucket: str | None = None,
              seed: int = 41, timeout_s: float = 3600, log: Callable[[str], None] = print) -> QuotaFigures:
    """One shop, ``n`` products to WeChat alone; the simulator allows ``quota_per_hour`` audit
    submissions per rolling hour; our bucket (``throttle.quota_safe_rate``) and the simulator's
    window both read ``clock.epoch_s``, running ``scale`` times faster (nothing sleeps)."""
    from shangjia.channels.throttle import Rate, quota_safe_rate
    from shangjia.clock import epoch_s
    from shangjia.localcloud.channels_sim import Knobs, WechatSim

    bucket = bucket or quota_safe_rate(quota_per_hour, 3600)
    Rate.parse(bucket)
    undo = env_overrides({"SHANGJIA_TIME_SCALE": f"{scale:g}", "SHANGJIA_TIME_ANCHOR": f"{time.time():.6f}"})
    refusals = Counter()
    orig = WechatSim._take_submission

    def counting(self, shop):          # the simulator's own quota check, counted
        ok = orig(self, shop)
        if not ok:
            refusals[shop] += 1
        return ok

    WechatSim._take_submission = counting
    try:
        sim_start = epoch_s()
        env = {"SHANGJIA_QUOTA_WECHAT": bucket, "SHANGJIA_AUDIT_POLL_AFTER_S": "3"}
        knobs = Knobs(audit_quota_hour=quota_per_hour, audit_quota_day=10**9, seed=seed)
        f, cloud = _one_run(n, knobs, name="quota", seed=seed, channels=("wechat",), timeout_s=timeout_s, env=env,
                            sim_clock=epoch_s, log=log)
    finally:
        WechatSim._take_submission = orig
        undo()
    sim = cloud.channels.wechat
    times = sorted(t for ts in sim.submissions.values() for t in ts)
    first = times[0] if times else sim_start
    per_window: list[int] = []
    for t in times:
        w = int((t - first) // 3600)
        per_window += [0] * (w + 1 - len(per_window))
        per_window[w] += 1
    j = rolling = 0
    for i, t in enumerate(times):
        while times[j] <= t - 3600:
            j += 1
        rolling = max(rolling, i - j + 1)
    quota_codes = {"1002001", "45009", "QUOTA_BUCKET"}
    reaching = sum(1 for u in f.unsettled if str((u["reason"] or {}).get("platform_code")) in quota_codes
                   or u["state"] == "failed")
    return QuotaFigures(products=f.products, scale=scale, quota_per_hour=quota_per_hour, bucket=bucket,
                        real_elapsed_s=f.elapsed_s, sim_elapsed_s=(times[-1] - first) if times else 0.0, live=f.live,
                        states=dict(f.by_channel["wechat"]), sim_quota_refusals=sum(refusals.values()),
                        quota_errors_reaching_products=reaching, per_window=per_window, max_rolling_hour=rolling,
                        waited_for_slot=f.waited_quota, timed_out=f.timed_out)


def format_quota_run(q: QuotaFigures) -> str:
    hours = q.sim_elapsed_s / 3600
    floor_h = max(0.0, (q.products - q.quota_per_hour) / q.quota_per_hour)
    return "\n".join([
        f"quota run: 1 shop, {q.products} products to WeChat, simulator quota {q.quota_per_hour}/rolling hour, "
        f"our bucket {q.bucket}, clock x{q.scale:g}",
        f"  listings: {q.states}  live {q.live}/{q.products}",
        f"  quota errors reaching a product: {q.quota_errors_reaching_products}   "
        f"simulator's quota refusals (1002001): {q.sim_quota_refusals}",
        f"  listings that waited for their slot: {q.waited_for_slot}",
        f"  submissions per simulated hour: {q.per_window}   most in any rolling hour: {q.max_rolling_hour}",
        f"  simulated elapsed (first to last submission) {q.sim_elapsed_s:.0f} s = {hours:.2f} h "
        f"(the quota's floor: {floor_h:.2f} h); real elapsed {q.real_elapsed_s:.1f} s",
        *(["  TIMED OUT before every listing settled"] if q.timed_out else []),
    ])
