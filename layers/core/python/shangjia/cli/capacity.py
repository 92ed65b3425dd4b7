"""``shangjia capacity``: the promotion peak on paper, from a measured run (docs/capacity.md)."""

from __future__ import annotations

import json
from pathlib import Path

from shangjia.topology import REPO_ROOT

LAST_RUN = REPO_ROOT / ".localcloud" / "last-profile.json"     # written by every `shangjia demo`
COMMITTED = REPO_ROOT / "docs" / "capacity-profile.json"       # the run docs/capacity.md is written from


def register(sub) -> None:
    p = sub.add_parser("capacity", help="per-stage concurrency, write rates and quotas at a peak, from a measured run")
    p.add_argument("--profile", type=Path, default=None,
                   help=f"a measured run's profile (default: {LAST_RUN.relative_to(REPO_ROOT)} if a demo "
                        f"wrote one, else {COMMITTED.relative_to(REPO_ROOT)})")
    p.add_argument("--skus", type=int, default=1_000_000, help="SKUs in the peak window (default 1,000,000)")
    p.add_argument("--hours", type=float, default=2.0, help="the peak window in hours (default 2)")
    p.add_argument("--daily", type=int, default=20_000_000,
                   help="records a day, as an average rate (default 20,000,000: the seed's figure)")
    p.add_argument("--api-latency-ms", type=float, default=10.0,
                   help="an AWS call's latency inside Lambda, added to measured CPU time (default 10)")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from shangjia.capacity import checks, derived_concurrency, peak_rate, report
    from shangjia.topology import TOPOLOGY

    path = args.profile or (LAST_RUN if LAST_RUN.exists() else COMMITTED)
    if not path.exists():
        print(f"no measured profile at {path}: run `shangjia demo` first (it writes {LAST_RUN})")
        return 2
    profile = json.loads(path.read_text())
    reserved = {f.key: f.reserved_concurrency for f in TOPOLOGY.functions}
    scheduled = frozenset(f.key for f in TOPOLOGY.functions if f.schedule)
    peaks = [(f"{args.skus:,} SKUs in {args.hours:g} h", peak_rate(args.skus, args.hours)),
             (f"{args.daily:,} a day (average)", args.daily / 86400)]
    if args.json:
        st, cs = checks(profile, reserved, api_latency_ms=args.api_latency_ms, scheduled=scheduled)
        print(json.dumps({"profile": str(path), "peaks": dict(peaks),
                          "checks": [{"name": c.name, "stage": c.stage, "per_sku": c.per_sku, "limit": c.limit,
                                      "unit": c.unit, "breaks_at_skus_per_s": c.breaks_at, "fix": c.fix}
                                     for c in cs],
                          "reserved_concurrency_needed": derived_concurrency(st, max(r for _, r in peaks))},
                         indent=1, default=str))
        return 0
    print(f"profile: {path}")
    print(report(profile, reserved, peaks, api_latency_ms=args.api_latency_ms, scheduled=scheduled))
    return 0
