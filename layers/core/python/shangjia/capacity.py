"""The promotion peak on paper, from measurements.

Takes a run's measured per-stage figures (``shangjia.localcloud.meter.profile``: invocations,
CPU-seconds, requests, DynamoDB write units per partition kind, Step Functions starts and
transitions, SQS sends, S3 requests, per SKU) and a peak (SKUs in a window), and gives, per
stage and per service, the demand at that peak against the AWS default quota or platform limit,
the SKU rate at which each limit breaks, and the setting or quota increase that fixes it.

Pure: no AWS, no clock. ``shangjia capacity`` prints it; docs/capacity.md holds the result and the
decisions it led to.

Little's law gives a function's concurrency: invocations per second x seconds per invocation.
A Lambda invocation's duration here is its measured CPU time plus its AWS calls at
``api_latency_ms`` each (locally those calls are loopback calls into moto, so the wall time
measured here is not AWS's).

The same model sizes the deployed stack (``sizing``): ``DESIGN_PEAK`` with the committed profile
(``PROFILE_PATH``) gives each queue-fed function's reserved concurrency and its SQS event-source
mappings' maximum concurrency; ``shangjia.topology`` builds ``TOPOLOGY`` with those numbers and the
CDK stack (``infra/``) deploys them. ``shangjia capacity --sizing`` prints them and why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Defaults of a new account in us-east-1 (AWS docs: Lambda quotas, Step Functions service quotas,
# DynamoDB service quotas and warm throughput, S3 request-rate guidance, API Gateway quotas), and
# the platforms' documented limits (../shared/CHANNEL-APIS.md). Check Service Quotas for an account.
QUOTAS: dict[str, dict[str, Any]] = {
    "lambda_concurrency": {"limit": 1000, "unit": "concurrent executions per account and Region",
                           "fix": "Service Quotas: raise 'Concurrent executions'; keep reserved concurrency per "
                                  "function so one stage cannot starve the rest"},
    "sfn_standard_start": {"limit": 300, "unit": "StartExecution/s (Standard; bucket 1,300)",
                           "fix": "start fewer Standard executions (manual review only) or request a higher "
                                  "StartExecution refill rate"},
    "sfn_transitions": {"limit": 5000, "unit": "state transitions/s (Standard; bucket 5,000)",
                        "fix": "request a higher StateTransition refill rate; keep Standard to the human stages"},
    "sfn_express_start": {"limit": 6000, "unit": "StartExecution/s (Express; bucket 6,000)",
                          "fix": "request a higher Express StartExecution rate"},
    "sfn_task_response": {"limit": 300, "unit": "SendTask* calls/s (bucket 1,300)",
                          "fix": "request a higher SendTaskSuccess/Failure/Heartbeat rate"},
    "ddb_table_wru": {"limit": 4000, "unit": "WRU/s the table (or index) takes at once (warm throughput; "
                                            "4,000 on a new on-demand one)",
                      "fix": "pre-warm it: the stack sets WarmThroughput where the design peak needs more than "
                             "4,000 (`shangjia capacity --sizing`); for a bigger peak raise capacity.DESIGN_PEAK "
                             "or UpdateTable >= 24 h before; the on-demand maximum is 40,000 WRU/s a table "
                             "(raisable)"},
    "ddb_partition_wru": {"limit": 1000, "unit": "WRU/s on one partition key",
                          "fix": "shard the key (write to KEY#0..n-1 and read all n) or stop writing it per SKU"},
    "s3_put_prefix": {"limit": 3500, "unit": "PUT/s per prefix",
                      "fix": "spread keys over more prefixes (the renditions' content-hash prefix does)"},
    "apigw_rps": {"limit": 10000, "unit": "requests/s per account (HTTP API)",
                  "fix": "request a higher API Gateway throttle quota"},
    "wechat_audit": {"limit": 200 / 3600, "unit": "audit submissions/s per shop (200/hour, 1,000/day)",
                     "fix": "none on our side: the quota belongs to the shop (it scales with shop reputation); "
                            "publishing waits its turn in the token bucket and the merchant sees the expected time"},
}


@dataclass(frozen=True)
class Check:
    name: str           # what is limited
    stage: str          # which stage or service drives it
    per_sku: float      # demand per SKU/s of peak rate (units of the limit, per second)
    limit: float
    unit: str
    fix: str
    note: str = ""

    @property
    def breaks_at(self) -> float:
        """The SKU rate (SKUs/s) at which the demand reaches the limit."""
        return math.inf if self.per_sku <= 0 else self.limit / self.per_sku

    def demand(self, rate: float) -> float:
        return self.per_sku * rate


@dataclass(frozen=True)
class Stage:
    function: str
    invocations_per_sku: float
    seconds_per_invocation: float
    requests_per_invocation: float
    reserved: int | None

    def concurrency(self, rate: float) -> float:
        return rate * self.invocations_per_sku * self.seconds_per_invocation

    def per_sku_concurrency(self) -> float:
        return self.invocations_per_sku * self.seconds_per_invocation


def stages(profile: dict[str, Any], reserved: dict[str, int | None], api_latency_ms: float = 10.0,
           scheduled: frozenset[str] = frozenset()) -> list[Stage]:
    """The stages whose work grows with the SKUs. Scheduled functions are left out: EventBridge runs
    them at their rate whatever the load (the local cloud ticks them every second, so their count
    per SKU measures the run's length, not the work); their concern is a run's work within its
    time-out, which the report names apart."""
    skus = max(1, int(profile["workload"]["skus"]))
    out = []
    for fn, f in sorted(profile["functions"].items()):
        if fn in scheduled:
            continue
        n = max(1, int(f["invocations"]))
        req = f.get("requests", 0) / n
        secs = f["cpu_s"] / n + req * api_latency_ms / 1000
        out.append(Stage(fn, f["invocations"] / skus, secs, req, reserved.get(fn)))
    return out


def write_rates(profile: dict[str, Any]) -> dict[str, float]:
    """DynamoDB WRU per SKU of the state table itself (``"table"``) and of each index (``"gsi1"``,
    ...): each has its own partitions and its own warm throughput. From the partition keys'
    census (an index's keys are named ``gsiN:<kind>``); the table has at least what the census does
    not give an index (a census may list only the heaviest kinds)."""
    skus = max(1, int(profile["workload"]["skus"]))
    total = profile.get("dynamodb", {}).get("wru", 0) / skus
    out: dict[str, float] = {"table": 0.0}
    for kind, k in (profile.get("partitions") or {}).items():
        target = kind.split(":", 1)[0] if ":" in kind else "table"
        out[target] = out.get(target, 0.0) + k["wru"] / skus
    out["table"] = max(out["table"], total - sum(v for t, v in out.items() if t != "table"))
    return out


def warm_writes(profile: dict[str, Any], peak: Peak | None = None, headroom: float | None = None) -> dict[str, int]:
    """The write warm throughput (WRU/s) to set on the table and on each index whose need at
    ``peak`` x ``headroom`` is above what a new on-demand table or index takes at once (4,000):
    rounded up to the hundred. The others are left at the default (an increase is billed)."""
    peak, headroom = peak or DESIGN_PEAK, HEADROOM if headroom is None else headroom
    default = QUOTAS["ddb_table_wru"]["limit"]
    out = {}
    for target, per_sku in write_rates(profile).items():
        need = per_sku * peak.rate * headroom
        if need > default:
            out[target] = int(math.ceil(round(need, 6) / 100) * 100)
    return out


def checks(profile: dict[str, Any], reserved: dict[str, int | None], *, api_latency_ms: float = 10.0,
           products_per_shop_share: float = 1.0, scheduled: frozenset[str] = frozenset(),
           warm: dict[str, int] | None = None) -> tuple[list[Stage], list[Check]]:
    """Every limit the workload meets, with its demand per unit of SKU rate. ``warm``: the write
    warm throughput the stack sets (``"table"``, ``"gsi1"``...; absent: the 4,000 default).

    ``products_per_shop_share``: the share of the peak's products that go to one shop (1.0: one
    merchant's promotion, the worst case for the per-shop quota)."""
    w = profile["workload"]
    skus = max(1, int(w["skus"]))
    products_per_sku = w["products"] / skus
    st = stages(profile, reserved, api_latency_ms, scheduled)
    out: list[Check] = []
    q = QUOTAS
    total_conc = sum(s.per_sku_concurrency() for s in st)
    out.append(Check("Lambda concurrency (all functions)", "all", total_conc, q["lambda_concurrency"]["limit"],
                     q["lambda_concurrency"]["unit"], q["lambda_concurrency"]["fix"]))
    for s in st:
        if s.reserved:
            out.append(Check(f"reserved concurrency of {s.function}", s.function, s.per_sku_concurrency(),
                             s.reserved, "concurrent executions (derived for capacity.DESIGN_PEAK)",
                             f"size the stack for this peak: capacity.DESIGN_PEAK (the topology derives "
                             f"{s.function}'s reserved and event-source maximum concurrency from it; "
                             f"`shangjia capacity --sizing`), within the account's concurrency"))
    sfn = profile.get("stepfunctions", {})
    for key, name, label in (("standard_starts", "sfn_standard_start", "Standard StartExecution"),
                             ("transitions", "sfn_transitions", "state transitions"),
                             ("express_starts", "sfn_express_start", "Express StartExecution"),
                             ("task_responses", "sfn_task_response", "task responses (SendTask*)")):
        out.append(Check(f"Step Functions {label}", "review", sfn.get(key, 0) / skus,
                         q[name]["limit"], q[name]["unit"], q[name]["fix"]))
    for target, per_sku in write_rates(profile).items():
        limit = (warm or {}).get(target) or q["ddb_table_wru"]["limit"]
        out.append(Check("DynamoDB table writes" if target == "table" else f"DynamoDB index writes ({target})",
                         "state table", per_sku, limit, q["ddb_table_wru"]["unit"], q["ddb_table_wru"]["fix"],
                         note=f"warm throughput {limit:,} WRU/s" + (" (the stack sets it)" if (warm or {}).get(target)
                                                                    else " (the default)")))
    products = max(1, int(w["products"]))
    for kind, k in (profile.get("partitions") or {}).items():
        if k["keys"] >= products / 2:
            continue        # a key per product or finer: its writes spread with the products
        # every SKU of the peak may belong to one key of this kind (one merchant's big sheet, one shop)
        out.append(Check(f"DynamoDB hot key {kind} ({k['keys']} keys in the run)", "state table",
                         k["wru"] / skus, q["ddb_partition_wru"]["limit"], q["ddb_partition_wru"]["unit"],
                         q["ddb_partition_wru"]["fix"],
                         note="worst case: the whole peak on one key of this kind"))
    s3 = profile.get("s3", {})
    out.append(Check("S3 PUTs (one prefix, worst case)", "media", s3.get("put", 0) / skus,
                     q["s3_put_prefix"]["limit"], q["s3_put_prefix"]["unit"], q["s3_put_prefix"]["fix"],
                     note="renditions are keyed by content hash, spreading prefixes; this is the unspread bound"))
    out.append(Check("API Gateway requests", "api, callbacks, ERP", profile.get("apigateway", 0) / skus,
                     q["apigw_rps"]["limit"], q["apigw_rps"]["unit"], q["apigw_rps"]["fix"]))
    out.append(Check("WeChat audit submissions (one shop)", "publish", products_per_sku * products_per_shop_share,
                     q["wechat_audit"]["limit"], q["wechat_audit"]["unit"], q["wechat_audit"]["fix"],
                     note="a product is one submission; stock-only updates do not count"))
    return st, out


def peak_rate(skus: int, hours: float) -> float:
    return skus / (hours * 3600)


def derived_concurrency(st: list[Stage], rate: float, headroom: float = 1.5) -> dict[str, int]:
    """The reserved concurrency each function needs at ``rate`` SKUs/s, with headroom."""
    return {s.function: max(1, math.ceil(round(s.concurrency(rate) * headroom, 6))) for s in st}


def report(profile: dict[str, Any], reserved: dict[str, int | None], peaks: list[tuple[str, float]],
           api_latency_ms: float = 10.0, scheduled: frozenset[str] = frozenset(),
           warm: dict[str, int] | None = None) -> str:
    """The printed table: per stage, then every limit sorted by the rate at which it breaks."""
    st, cs = checks(profile, reserved, api_latency_ms=api_latency_ms, scheduled=scheduled, warm=warm)
    w = profile["workload"]
    lines = [f"measured: {profile.get('source', '?')} — {w['skus']} SKUs, {w['products']} products, "
             f"{w['images']} images; AWS call latency assumed {api_latency_ms:g} ms"]
    for label, rate in peaks:
        lines.append(f"peak: {label} = {rate:,.1f} SKUs/s")
    lines.append("")
    head = f"{'stage':<18}{'inv/SKU':>9}{'s/inv':>8}{'req/inv':>9}{'reserved':>10}" + "".join(
        f"{'conc @' + lbl.split()[0]:>14}" for lbl, _ in peaks)
    lines.append(head)
    for s in st:
        lines.append(f"{s.function:<18}{s.invocations_per_sku:>9.3f}{s.seconds_per_invocation:>8.3f}"
                     f"{s.requests_per_invocation:>9.1f}{(s.reserved or '-'):>10}"
                     + "".join(f"{s.concurrency(r):>14.1f}" for _, r in peaks))
    if scheduled:
        lines.append("scheduled (one at a time at their EventBridge rate, whatever the load): "
                     + ", ".join(sorted(scheduled)))
    lines.append("")
    lines.append("limits, first to break first (demand at each peak / limit):")
    for c in sorted(cs, key=lambda c: c.breaks_at):
        at = "never" if math.isinf(c.breaks_at) else f"{c.breaks_at:,.1f} SKUs/s"
        lines.append(f"  {c.name:<52} breaks at {at:>16}   "
                     + "   ".join(f"{c.demand(r):,.2f}/{c.limit:,.4g}" for _, r in peaks)
                     + f"  [{c.unit}]")
    first = min(cs, key=lambda c: c.breaks_at)
    lines.append("")
    for label, rate in peaks:
        broken = [c for c in sorted(cs, key=lambda c: c.breaks_at) if c.demand(rate) > c.limit]
        if not broken:
            lines.append(f"{label}: no limit breaks")
            continue
        lines.append(f"{label}: {len(broken)} limit(s) break; first: {broken[0].name} "
                     f"({broken[0].demand(rate):,.2f} against {broken[0].limit:,.4g} {broken[0].unit})")
        for c in broken:
            lines.append(f"    - {c.name}: fix: {c.fix}" + (f" ({c.note})" if c.note else ""))
    lines.append(f"first limit of all: {first.name}, at {first.breaks_at:,.2f} SKUs/s")
    rate = max(r for _, r in peaks)
    lines.append("reserved concurrency the highest peak needs (x1.5 headroom): " + ", ".join(
        f"{k} {v}" for k, v in derived_concurrency(st, rate).items()))
    return "\n".join(lines)


# --- the deployed stack's sizing -----------------------------------------------------------------
# Declared once: the peak the stack is sized for, the account it runs in, and the measured run it
# is sized from. Change one of these (or commit a new profile) and the next synth deploys new numbers.

@dataclass(frozen=True)
class Peak:
    skus: int
    hours: float

    @property
    def rate(self) -> float:
        return peak_rate(self.skus, self.hours)

    @property
    def label(self) -> str:
        return f"{self.skus:,} SKUs in {self.hours:g} h"


DESIGN_PEAK = Peak(1_000_000, 2.0)   # a promotion: a million SKUs in two hours (138.9 SKUs/s)
HEADROOM = 1.5                       # over Little's law: bursts above the average rate, slower calls
ACCOUNT_CONCURRENCY = QUOTAS["lambda_concurrency"]["limit"]   # the account's default: 1,000 per Region
MIN_UNRESERVED = 100                 # AWS refuses a reservation that leaves fewer than 100 unreserved
MIN_QUEUE_RESERVED = 5               # a queue-fed stage the profile finds light (or absent) still runs a few at once
ESM_MIN_CONCURRENCY, ESM_MAX_CONCURRENCY = 2, 1000     # what AWS accepts for ScalingConfig.MaximumConcurrency
DESIGN_API_LATENCY_MS = 10.0
# The measured run the stack is sized from. Package data, not docs/: shangjia.topology derives its
# numbers at import, and the Lambda functions import the topology too (the layer carries this file).
PROFILE_PATH = Path(__file__).resolve().parent / "data" / "capacity-profile.json"


def load_profile(path: Path | None = None) -> dict[str, Any]:
    return json.loads((path or PROFILE_PATH).read_text(encoding="utf-8"))


def heavier(*profiles: dict[str, Any], api_latency_ms: float = DESIGN_API_LATENCY_MS) -> dict[str, Any]:
    """One profile that is, for each stage and each figure, the heaviest per SKU of ``profiles``
    (runs of different workloads: new products, and the same products re-uploaded): a peak of
    either is sized for. A function's entry comes whole from the profile where it needs the most
    concurrency per SKU/s (its invocations and seconds belong together); every other count is the
    largest per SKU. Counts are scaled to the largest run's SKUs. Pure."""
    if not profiles:
        raise ValueError("heavier() of no profiles")
    skus = max(max(1, int(p["workload"]["skus"])) for p in profiles)
    factor = [skus / max(1, int(p["workload"]["skus"])) for p in profiles]

    def scaled(v, f):                    # a count stays whole (a number of invocations, of keys)
        return round(v * f) if isinstance(v, int) else round(v * f, 3)

    def most(get):
        return max(scaled(get(p), f) for p, f in zip(profiles, factor))

    functions: dict[str, dict[str, Any]] = {}
    for fn in sorted({fn for p in profiles for fn in p["functions"]}):
        best, best_need, best_f = None, -1.0, 1.0
        for p, f in zip(profiles, factor):
            if fn in p["functions"]:
                st = next(s for s in stages({"workload": p["workload"], "functions": {fn: p["functions"][fn]}},
                                            {}, api_latency_ms))
                if st.per_sku_concurrency() > best_need:
                    best, best_need, best_f = p["functions"][fn], st.per_sku_concurrency(), f
        functions[fn] = {k: (scaled(v, best_f) if k != "memory_mb" and isinstance(v, (int, float)) else v)
                         for k, v in best.items()}
    kinds: dict[str, dict[str, float]] = {}
    for kind in {k for p in profiles for k in p.get("partitions", {})}:
        p, f = max(((p, f) for p, f in zip(profiles, factor) if kind in p.get("partitions", {})),
                   key=lambda pf: pf[0]["partitions"][kind]["wru"] * pf[1])
        kinds[kind] = {k: scaled(v, f) for k, v in p["partitions"][kind].items()}
    return {
        "source": "the heavier per stage of: " + "; ".join(p.get("source", "?") for p in profiles),
        "workload": {"skus": skus, "products": most(lambda p: p["workload"]["products"]),
                     "images": most(lambda p: p["workload"]["images"])},
        "functions": functions,
        "requests": {svc: most(lambda p, s=svc: p["requests"].get(s, 0))
                     for svc in sorted({s for p in profiles for s in p["requests"]})},
        "dynamodb": {k: most(lambda p, k=k: p["dynamodb"].get(k, 0)) for k in ("wru", "rru")},
        "stepfunctions": {k: most(lambda p, k=k: p["stepfunctions"].get(k, 0))
                          for k in sorted({k for p in profiles for k in p["stepfunctions"]})},
        "sqs_sends": most(lambda p: p.get("sqs_sends", 0)),
        "s3": {k: most(lambda p, k=k: p["s3"].get(k, 0)) for k in ("put", "get")},
        "apigateway": most(lambda p: p.get("apigateway", 0)),
        "partitions": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["wru"])),
    }


@dataclass(frozen=True)
class Shape:
    """What the sizing needs to know of a function (``shangjia.topology.sizing_shapes``)."""
    key: str
    queues: tuple[str, ...] = ()         # its SQS triggers' queues, in the topology's order
    scheduled: bool = False
    fixed: int | None = None             # a reservation that is not about capacity (a scheduled one's 1)


@dataclass(frozen=True)
class FunctionSize:
    function: str
    kind: str                            # "queue" (sized), "scheduled" (fixed), "unreserved"
    needed: float                        # concurrency at the peak by Little's law (0: not in the profile)
    reserved: int | None                 # ReservedConcurrentExecutions (None: draws on the unreserved pool)
    esm: tuple[tuple[str, int], ...] = ()   # (queue, ScalingConfig.MaximumConcurrency) per trigger
    per_sku: float = 0.0                 # concurrency per SKU/s of rate
    why: str = ""

    @property
    def carries(self) -> float:
        """The SKU rate at which the measured demand fills the reservation (no headroom left)."""
        return math.inf if not self.reserved or self.per_sku <= 0 else self.reserved / self.per_sku


@dataclass(frozen=True)
class Sizing:
    peak: Peak
    headroom: float
    account: int
    functions: dict[str, FunctionSize] = field(default_factory=dict)
    unreserved_needed: float = 0.0       # the unreserved functions' concurrency at the peak, with headroom
    unreserved: int = 0                  # what the reservations leave the account
    scale: float = 1.0                   # 1: every stage got its need; < 1: scaled down to fit the account
    source: str = ""
    warm_writes: dict[str, int] = field(default_factory=dict)   # WarmThroughput WRU/s: "table", "gsi1"...
    write_need: dict[str, float] = field(default_factory=dict)  # WRU/s at the peak (no headroom), the same keys

    @property
    def reserved_total(self) -> int:
        return sum(f.reserved or 0 for f in self.functions.values())

    def first_to_fill(self) -> FunctionSize | None:
        """The reservation the demand fills first as the rate grows (None: nothing measured)."""
        sized = [f for f in self.functions.values() if f.kind == "queue" and not math.isinf(f.carries)]
        return min(sized, key=lambda f: f.carries) if sized else None


def sizing(profile: dict[str, Any], shapes: list[Shape], peak: Peak = DESIGN_PEAK, *,
           headroom: float = HEADROOM, account: int = ACCOUNT_CONCURRENCY, min_unreserved: int = MIN_UNRESERVED,
           api_latency_ms: float = DESIGN_API_LATENCY_MS) -> Sizing:
    """Reserved concurrency and SQS event-source maximum concurrency per function, for ``peak``.

    - A queue-fed function reserves its peak concurrency (Little's law, ``stages``) x ``headroom``,
      at least ``MIN_QUEUE_RESERVED`` and 2 per trigger. Its triggers' maximum concurrencies split the
      reservation (the first triggers take the remainder: the priority lane is declared first), so
      its pollers never drive more than may run: a throttled delivery would count toward the
      queue's maxReceiveCount.
    - A scheduled function keeps its declared reservation (1: one run at a time; not capacity).
    - Every other function (the API, callbacks, Step Functions tasks) reserves nothing: it draws on
      the unreserved pool, which must hold their peak x ``headroom`` and never less than
      ``min_unreserved`` (AWS's rule).
    - If the reservations do not fit the account (``account`` - unreserved - fixed), each queue-fed
      function keeps its floor and the rest is scaled down in proportion; ``Sizing.scale`` says by how
      much, ``first_to_fill`` at what rate the stack then saturates. Raise the account's quota and
      ``account`` to size for the whole peak.
    Pure: the same profile, shapes and peak give the same numbers."""
    scheduled = frozenset(s.key for s in shapes if s.scheduled)
    measured = {s.function: s for s in stages(profile, {}, api_latency_ms, scheduled)}
    rate = peak.rate
    need = {s.key: measured[s.key].concurrency(rate) if s.key in measured else 0.0 for s in shapes}
    per_sku = {s.key: measured[s.key].per_sku_concurrency() if s.key in measured else 0.0 for s in shapes}

    queue = [s for s in shapes if s.queues and not s.scheduled]
    fixed = [s for s in shapes if s.scheduled and s.fixed]
    pool_fns = [s for s in shapes if s not in queue and s not in fixed]
    floor = {s.key: max(MIN_QUEUE_RESERVED, ESM_MIN_CONCURRENCY * len(s.queues)) for s in queue}
    want = {s.key: max(floor[s.key], math.ceil(round(need[s.key] * headroom, 6))) for s in queue}
    unreserved_needed = sum(need[s.key] for s in pool_fns) * headroom
    pool = max(min_unreserved, math.ceil(round(unreserved_needed, 6)))
    budget = account - pool - sum(s.fixed for s in fixed)
    spare = budget - sum(floor.values())
    if spare < 0:
        raise ValueError(f"the account's {account} concurrent executions cannot hold the stages' floors "
                         f"({sum(floor.values())}), the fixed reservations and {pool} unreserved")
    above = sum(want[k] - floor[k] for k in want)
    scale = 1.0 if above <= spare else spare / above
    reserved = {k: want[k] if scale == 1.0 else floor[k] + math.floor((want[k] - floor[k]) * scale) for k in want}

    out: dict[str, FunctionSize] = {}
    for s in shapes:
        k = s.key
        if s in queue:
            n = len(s.queues)
            per, rem = divmod(reserved[k], n)
            caps = tuple((q, min(ESM_MAX_CONCURRENCY, per + (1 if i < rem else 0))) for i, q in enumerate(s.queues))
            if k in measured:
                m = measured[k]
                why = (f"{need[k]:.1f} at {rate:,.1f} SKUs/s ({m.invocations_per_sku:.3f} invocations/SKU x "
                       f"{m.seconds_per_invocation:.2f} s) x{headroom:g} = {want[k]}")
                if want[k] == floor[k] and need[k] * headroom < floor[k]:
                    why += f" (the floor: at least {MIN_QUEUE_RESERVED}, 2 per trigger)"
            else:
                why = f"not in the profile: the floor, {floor[k]} (at least {MIN_QUEUE_RESERVED}, 2 per trigger)"
            if reserved[k] != want[k]:
                why += f"; scaled to {reserved[k]} to fit the account ({scale:.2f} of the need above the floor)"
            if n > 1:
                why += "; split over its triggers"
            out[k] = FunctionSize(k, "queue", need[k], reserved[k], caps, per_sku[k], why)
        elif s in fixed:
            out[k] = FunctionSize(k, "scheduled", need[k], s.fixed, (), per_sku[k],
                                  f"scheduled: {s.fixed} at a time, whatever the load (declared in topology.py)")
        else:
            out[k] = FunctionSize(k, "unreserved", need[k], None, (), per_sku[k],
                                  f"{need[k]:.1f} at the peak; the unreserved pool" if k in measured
                                  else "not in the profile; the unreserved pool")
    return Sizing(peak, headroom, account, out, unreserved_needed,
                  account - sum(r.reserved or 0 for r in out.values()), scale, profile.get("source", ""),
                  warm_writes(profile, peak, headroom),
                  {k: v * rate for k, v in write_rates(profile).items()})


def sizing_report(sz: Sizing, deployed: dict[str, tuple[int | None, tuple[tuple[str, int], ...]]] | None = None) -> str:
    """``shangjia capacity --sizing``: per function the derived numbers and why; with ``deployed``
    (function -> (reserved, ((queue, cap), ...)) of the topology), where they differ from it."""
    which = "the design peak" if sz.peak == DESIGN_PEAK else "the peak"
    lines = [f"sizing for {which} {sz.peak.label} = {sz.peak.rate:,.1f} SKUs/s, x{sz.headroom:g} headroom, "
             f"in an account of {sz.account:,} concurrent executions",
             f"measured: {sz.source}", "",
             f"{'function':<18}{'needed':>8}{'reserved':>10}  {'ESM maximum concurrency':<54} why"]
    order = {"queue": 0, "scheduled": 1, "unreserved": 2}
    for f in sorted(sz.functions.values(), key=lambda f: (order[f.kind], -f.needed, f.function)):
        esm = ", ".join(f"{q} {c}" for q, c in f.esm) or "-"
        mark = ""
        if deployed is not None and f.function in deployed and deployed[f.function] != (f.reserved, f.esm):
            mark = f"   [topology has {deployed[f.function][0]}; {deployed[f.function][1]}]"
        lines.append(f"{f.function:<18}{f.needed:>8.1f}{(f.reserved if f.reserved is not None else '-'):>10}  "
                     f"{esm:<54} {f.why}{mark}")
    lines.append("")
    lines.append(f"reserved in all: {sz.reserved_total:,}; unreserved left: {sz.unreserved:,} (the unreserved "
                 f"functions need {sz.unreserved_needed:.1f} at the peak with headroom; AWS keeps at least "
                 f"{MIN_UNRESERVED}). The API, the callbacks and the workflows' tasks reserve nothing: a "
                 f"reservation would throttle people and workflows at a number instead of holding a queue's backlog")
    if sz.scale < 1:
        lines.append(f"the peak does not fit the account: the reservations above their floors are scaled to "
                     f"{sz.scale:.2f}; raise the account's concurrency (Service Quotas) and "
                     f"capacity.ACCOUNT_CONCURRENCY to size for it")
    default = QUOTAS["ddb_table_wru"]["limit"]
    lines.append("DynamoDB write warm throughput (WRU/s it takes at once): " + "; ".join(
        f"{k} {sz.warm_writes[k]:,} ({v:,.0f} at the peak x{sz.headroom:g}: above the {default:,} a new one takes)"
        if k in sz.warm_writes else f"{k} the default {default:,} ({v:,.0f} at the peak x{sz.headroom:g})"
        for k, v in sz.write_need.items()))
    first = sz.first_to_fill()
    if first is not None:
        lines.append(f"the stack carries up to {first.carries:,.1f} SKUs/s before a reservation fills: "
                     f"{first.function}'s {first.reserved} (x{first.carries / sz.peak.rate:.2f} {which})")
    if deployed is not None:
        differs = [k for k, f in sz.functions.items() if k in deployed and deployed[k] != (f.reserved, f.esm)]
        lines.append("the topology deploys these numbers" if not differs else
                     f"the topology deploys other numbers for {', '.join(differs)}: it is sized for "
                     f"capacity.DESIGN_PEAK ({DESIGN_PEAK.label}) from the committed profile "
                     f"(shangjia/data/{PROFILE_PATH.name}); change either to deploy these")
    return "\n".join(lines)
