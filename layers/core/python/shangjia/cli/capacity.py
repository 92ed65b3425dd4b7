"""``shangjia capacity``: the promotion peak on paper, from a measured run (docs/capacity.md).
``--sizing``: the reserved and event-source maximum concurrency the stack deploys, and why."""

from __future__ import annotations

import json
from pathlib import Path

from shangjia.capacity import DESIGN_PEAK, PROFILE_PATH
from shangjia.topology import REPO_ROOT

LAST_RUN = REPO_ROOT / ".localcloud" / "last-profile.json"     # written by every `shangjia demo`
COMMITTED = PROFILE_PATH        # the run docs/capacity.md is written from, and the stack is sized from


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def register(sub) -> None:
    p = sub.add_parser("capacity", help="per-stage concurrency, write rates and quotas at a peak, from a measured run")
    p.add_argument("--profile", type=Path, default=None,
                   help=f"a measured run's profile (default: {_rel(LAST_RUN)} if a demo wrote one, else "
                        f"{_rel(COMMITTED)}; with --sizing: {_rel(COMMITTED)}, the one the stack is sized from)")
    p.add_argument("--skus", type=int, default=None,
                   help=f"SKUs in the peak window (default {DESIGN_PEAK.skus:,}: the design peak)")
    p.add_argument("--hours", type=float, default=None,
                   help=f"the peak window in hours (default {DESIGN_PEAK.hours:g})")
    p.add_argument("--daily", type=int, default=20_000_000,
                   help="records a day, as an average rate (default 20,000,000: the seed's figure)")
    p.add_argument("--api-latency-ms", type=float, default=10.0,
                   help="an AWS call's latency inside Lambda, added to measured CPU time (default 10)")
    p.add_argument("--sizing", action="store_true",
                   help="the reserved concurrency and SQS event-source maximum concurrency per function the "
                        "model derives for the design peak (what the CDK stack deploys), and why")
    p.add_argument("--json", action="store_true", help="the checks (or, with --sizing, the sizing) as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from shangjia.capacity import Peak, checks, derived_concurrency, report
    from shangjia.topology import TOPOLOGY

    peak = Peak(args.skus if args.skus is not None else DESIGN_PEAK.skus,
                args.hours if args.hours is not None else DESIGN_PEAK.hours)
    if args.sizing:
        return run_sizing(args, peak)
    path = args.profile or (LAST_RUN if LAST_RUN.exists() else COMMITTED)
    if not path.exists():
        print(f"no measured profile at {path}: run `shangjia demo` first (it writes {LAST_RUN})")
        return 2
    profile = json.loads(path.read_text())
    reserved = {f.key: f.reserved_concurrency for f in TOPOLOGY.functions}
    scheduled = frozenset(f.key for f in TOPOLOGY.functions if f.schedule)
    warm = dict(next((t.warm_writes for t in TOPOLOGY.tables if t.key == "state"), ()))
    peaks = [(peak.label, peak.rate), (f"{args.daily:,} a day (average)", args.daily / 86400)]
    if args.json:
        st, cs = checks(profile, reserved, api_latency_ms=args.api_latency_ms, scheduled=scheduled, warm=warm)
        print(json.dumps({"profile": str(path), "peaks": dict(peaks),
                          "checks": [{"name": c.name, "stage": c.stage, "per_sku": c.per_sku, "limit": c.limit,
                                      "unit": c.unit, "breaks_at_skus_per_s": c.breaks_at, "fix": c.fix}
                                     for c in cs],
                          "reserved_concurrency_needed": derived_concurrency(st, max(r for _, r in peaks))},
                         indent=1, default=str))
        return 0
    print(f"profile: {path}")
    print(report(profile, reserved, peaks, api_latency_ms=args.api_latency_ms, scheduled=scheduled, warm=warm))
    return 0


def run_sizing(args, peak) -> int:
    from shangjia.capacity import load_profile, sizing, sizing_report
    from shangjia.topology import DECLARED, TOPOLOGY, sizing_shapes

    path = args.profile or COMMITTED
    if not path.exists():
        print(f"no measured profile at {path}")
        return 2
    sz = sizing(load_profile(path), sizing_shapes(DECLARED), peak, api_latency_ms=args.api_latency_ms)
    deployed = {f.key: (f.reserved_concurrency, tuple((t.queue, t.max_concurrency) for t in f.triggers))
                for f in TOPOLOGY.functions}
    if args.json:
        print(json.dumps({"profile": str(path), "peak": {"skus": peak.skus, "hours": peak.hours, "rate": peak.rate},
                          "headroom": sz.headroom, "account": sz.account, "scale": sz.scale,
                          "reserved_total": sz.reserved_total, "unreserved": sz.unreserved,
                          "functions": {k: {"kind": f.kind, "needed": round(f.needed, 2), "reserved": f.reserved,
                                            "esm_maximum_concurrency": dict(f.esm), "why": f.why,
                                            "deployed": f.function in deployed and deployed[k] == (f.reserved, f.esm)}
                                        for k, f in sz.functions.items()},
                          "dynamodb_warm_writes": sz.warm_writes,
                          "dynamodb_write_need": {k: round(v, 1) for k, v in sz.write_need.items()}},
                         indent=1, ensure_ascii=False))
        return 0
    print(f"profile: {_rel(path)}")
    print(sizing_report(sz, deployed))
    return 0
