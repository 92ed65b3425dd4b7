"""make bench ARGS=channels: the channel proofs on the local cloud (shangjia.localcloud.channel_runs).

Fault run: N products x 3 channels, 20% injected transient faults (5xx, 429, time-outs) and 10%
lost callbacks, against the same run without faults (the baseline, measured here). Quota run: one
shop, products to WeChat under its 200/hour audit quota on an accelerated clock.

    python -m bench.bench_channels [--n 500] [--baseline-n N] [--quota-n 600] [--scale 10] [--only fault|quota]
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_channels")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--baseline-n", type=int, default=None)
    ap.add_argument("--quota-n", type=int, default=600)
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--only", choices=("fault", "quota"), default=None)
    a = ap.parse_args(argv)
    from shangjia.localcloud import channel_runs as R

    rc = 0
    if a.only in (None, "fault"):
        base, f = R.fault_run(a.n, baseline_n=a.baseline_n, timeout_s=a.timeout)
        print(R.format_fault_run(base, f), flush=True)
        rc |= int(f.pct_live < 98.0 or f.duplicates > 0 or f.timed_out)
    if a.only in (None, "quota"):
        q = R.quota_run(a.quota_n, scale=a.scale, timeout_s=a.timeout)
        print(R.format_quota_run(q), flush=True)
        rc |= int(q.quota_errors_reaching_products > 0 or q.timed_out)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
