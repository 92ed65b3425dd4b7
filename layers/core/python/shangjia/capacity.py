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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    "ddb_table_wru": {"limit": 4000, "unit": "WRU/s a new on-demand table takes at once (warm throughput)",
                      "fix": "pre-warm the table (WarmThroughput on the table, >= 24 h before the peak); the "
                             "table-level on-demand maximum is 40,000 WRU/s (raisable)"},
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


def checks(profile: dict[str, Any], reserved: dict[str, int | None], *, api_latency_ms: float = 10.0,
           products_per_shop_share: float = 1.0,
           scheduled: frozenset[str] = frozenset()) -> tuple[list[Stage], list[Check]]:
    """Every limit the workload meets, with its demand per unit of SKU rate.

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
                             s.reserved, "concurrent executions (topology.py)",
                             f"raise {s.function}'s reserved_concurrency in topology.py (and its triggers' "
                             f"max_concurrency), within the account's concurrency"))
    sfn = profile.get("stepfunctions", {})
    for key, name, label in (("standard_starts", "sfn_standard_start", "Standard StartExecution"),
                             ("transitions", "sfn_transitions", "state transitions"),
                             ("express_starts", "sfn_express_start", "Express StartExecution"),
                             ("task_responses", "sfn_task_response", "task responses (SendTask*)")):
        out.append(Check(f"Step Functions {label}", "review", sfn.get(key, 0) / skus,
                         q[name]["limit"], q[name]["unit"], q[name]["fix"]))
    ddb = profile.get("dynamodb", {})
    out.append(Check("DynamoDB table writes", "state table", ddb.get("wru", 0) / skus, q["ddb_table_wru"]["limit"],
                     q["ddb_table_wru"]["unit"], q["ddb_table_wru"]["fix"]))
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
           api_latency_ms: float = 10.0, scheduled: frozenset[str] = frozenset()) -> str:
    """The printed table: per stage, then every limit sorted by the rate at which it breaks."""
    st, cs = checks(profile, reserved, api_latency_ms=api_latency_ms, scheduled=scheduled)
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
