"""Requests and DynamoDB write units per SKU, per caller (a function, its event-source mapping's
poller ``esm:<fn>``, Step Functions ``states``), by service and operation, from the local cloud's
meter after a small ``shangjia demo`` run.

    .venv/bin/python tools/census.py --products 5            # 5 products per demo merchant
    .venv/bin/python tools/census.py --products 5 --json out/census.json

The workload is ``shangjia demo``'s own (``shangjia.localcloud.demo.run_demo``: two merchants'
workbooks and images through the S3 API, the simulated reviewer deciding through the API); this
tool only keeps hold of the cloud it starts so it can read the meter's per-caller counters
(``caller_ops``, ``ddb_by_caller``, ``ddb_partition_wru``) and read the state table's items before
the cloud stops. Empty receives of the pollers are left out of the figures (``idle_receives`` in
the JSON): they measure how long the run idled, not the work; so are the scheduled functions'
index polls (printed apart). See docs/cost-model.md, "Requests and writes per SKU". Like
``shangjia demo``, a run also writes the capacity profile ``.localcloud/last-profile.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))


def run(products: int, timeout_s: float, quiet: bool) -> tuple[Any, dict[str, Any]]:
    """Run the demo workload and return (the cloud, stopped, with its meter; the demo's summary)."""
    from shangjia.localcloud import LocalCloud, demo

    held: list[Any] = []

    class HeldCloud(LocalCloud):       # the demo starts and stops its own cloud: keep its meter
        def start(self):
            held.append(self)
            return super().start()

        def stop(self):
            try:
                self.item_sizes = item_sizes(self)
            except Exception as e:  # noqa: BLE001 - the counts matter more than the sizes
                self.item_sizes = {"error": repr(e)}
            finally:
                super().stop()

    original = demo.LocalCloud
    demo.LocalCloud = HeldCloud
    try:
        out = io.StringIO() if quiet else sys.stderr
        summary = demo.run_demo(products, out=out, timeout_s=timeout_s)
    finally:
        demo.LocalCloud = original
    return held[0], summary


def item_sizes(cloud) -> dict[str, Any]:
    """The state table's items at the end of the run by kind (the sort key's prefix): count, mean
    and largest size in bytes, and for product items the mean bytes per attribute (what a status
    move of that item pays for: 1 WRU per started KB). Read as an observer (not priced)."""
    from shangjia.limits import item_size

    ddb = cloud.session().client("dynamodb")
    table = cloud.resources.tables["state"]
    kinds: dict[str, list[int]] = defaultdict(list)
    attrs: Counter = Counter()
    states: Counter = Counter()
    metas, largest = 0, (0, None)
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for raw in page["Items"]:
            kind = raw["pk"]["S"].split("#")[0] + "/" + raw["sk"]["S"].split("#")[0]
            kinds[kind].append(item_size(raw))
            if kind in ("PRODUCT/META", "PRODUCT/LISTING", "BATCH/META"):
                state = (raw.get("status") or raw.get("state") or {}).get("S")
                states[f"{kind}:{state}"] += 1
            if kind == "PRODUCT/META":
                metas += 1
                largest = max(largest, (item_size(raw), raw), key=lambda t: t[0])
                for k, v in raw.items():
                    attrs[k] += item_size({k: v})
    return {"kinds": {k: {"n": len(v), "mean": round(sum(v) / len(v)), "max": max(v)}
                      for k, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))},
            "states": dict(sorted(states.items())),
            "product_meta_attr_mean_bytes": {k: round(v / metas) for k, v in attrs.most_common(40)} if metas else {},
            "largest_product_meta": largest[1]}


def census(meter, skus: int) -> dict[str, Any]:
    """Per caller (esm:<fn> folded into <fn>, as AWS bills the poller to the function it feeds):
    requests per SKU by service:operation, WRU and RRU per SKU; and the totals."""
    per = 1 / skus if skus else 0.0
    ops: dict[str, Counter] = defaultdict(Counter)
    idle: Counter = Counter()
    for (caller, svc, op), n in meter.caller_ops.items():
        who = caller.removeprefix("esm:")
        if svc == "sqs" and op.endswith("(empty)"):
            idle[who] += n
            continue
        ops[who][f"{svc}:{op}"] += n
    wru: Counter = Counter()
    rru: Counter = Counter()
    for (caller, kind), v in meter.ddb_by_caller.items():
        who = caller.removeprefix("esm:")
        if kind == "wru":
            wru[who] += v
        elif kind == "rru":
            rru[who] += v
    items: dict[str, Counter] = defaultdict(Counter)     # caller -> "op item-kinds" -> DynamoDB requests
    for (caller, op, kinds), n in getattr(meter, "caller_ddb_kinds", {}).items():
        items[caller.removeprefix("esm:")][f"{op} {kinds}"] += n
    item_wru: dict[str, Counter] = defaultdict(Counter)  # caller -> "op item-kinds" -> WRU
    for (caller, op, kinds), n in getattr(meter, "caller_ddb_kind_wru", {}).items():
        item_wru[caller.removeprefix("esm:")][f"{op} {kinds}"] += n
    callers = {}
    for who in sorted(set(ops) | set(wru), key=lambda w: -sum(ops[w].values())):
        by_service: Counter = Counter()
        for key, n in ops[who].items():
            by_service[key.split(":", 1)[0]] += n
        callers[who] = {
            "requests_per_sku": round(sum(ops[who].values()) * per, 2),
            "by_service": {k: round(v * per, 2) for k, v in by_service.most_common()},
            "by_op": {k: round(v * per, 2) for k, v in ops[who].most_common()},
            "dynamodb_by_item": {k: round(v * per, 2) for k, v in items[who].most_common()},
            "wru_by_item": {k: round(v * per, 2) for k, v in item_wru[who].most_common()},
            "wru_per_sku": round(wru[who] * per, 2), "rru_per_sku": round(rru[who] * per, 2),
            "idle_receives": idle[who]}
    from shangjia.topology import TOPOLOGY

    # EventBridge-scheduled functions run at their rate whatever the work (locally every second):
    # their index polls (Query) measure the run's length, so they are shown but kept out of the
    # per-SKU total; what they do with what they find (a release, a verdict) is counted
    scheduled = {f.key for f in TOPOLOGY.functions if f.schedule}
    polls = 0
    services: Counter = Counter()
    for who, c in ops.items():
        for key, n in c.items():
            if who in scheduled and key == "dynamodb:Query":
                polls += n
                continue
            services[key.split(":", 1)[0]] += n
    for who in callers:
        callers[who]["scheduled"] = who in scheduled
    hot = Counter()
    from shangjia.localcloud.meter import partition_kind
    for pk, units in meter.ddb_partition_wru.items():
        hot[partition_kind(pk)] += units
    cost = meter.cost()
    return {
        "skus": skus,
        "requests_per_sku": round(sum(services.values()) * per, 2),
        "by_service_per_sku": {k: round(v * per, 2) for k, v in services.most_common()},
        "scheduled_polls_per_sku": round(polls * per, 2),
        "wru_per_sku": round(meter.units["ddb_wru"] * per, 2),
        "rru_per_sku": round(meter.units["ddb_rru"] * per, 2),
        "s3_put_per_sku": round((meter.units["media_s3_put"] + meter.units["orch_s3_put"]) * per, 2),
        "state_transitions_per_sku": round(meter.state_transitions * per, 2),
        "wru_by_key_kind_per_sku": {k: round(v * per, 2) for k, v in hot.most_common(12)},
        "cost_per_million_skus": {part: round(sum(v.values()) * per * 1e6, 2) for part, v in cost.items()},
        "cost_detail_per_million_skus": {part: {k: round(x * per * 1e6, 2) for k, x in v.items() if x}
                                         for part, v in cost.items()},
        "callers": callers,
    }


def report(c: dict[str, Any], top: int = 8) -> str:
    lines = [f"SKUs {c['skus']}: {c['requests_per_sku']} requests/SKU "
             f"({', '.join(f'{k} {v}' for k, v in c['by_service_per_sku'].items())}; "
             f"and apart, scheduled functions' index polls {c['scheduled_polls_per_sku']}), "
             f"{c['wru_per_sku']} WRU/SKU, {c['rru_per_sku']} RRU/SKU, {c['s3_put_per_sku']} S3 PUT/SKU, "
             f"{c['state_transitions_per_sku']} Standard transitions/SKU",
             "cost per million SKUs: " + ", ".join(f"{k} ${v}" for k, v in c["cost_per_million_skus"].items()),
             *(f"  {part}: " + ", ".join(f"{k} ${v}" for k, v in d.items())
               for part, d in c["cost_detail_per_million_skus"].items()),
             "WRU/SKU by partition-key kind: " + ", ".join(f"{k} {v}" for k, v in c["wru_by_key_kind_per_sku"].items()),
             "", f"{'caller':<20}{'req/SKU':>9}{'WRU/SKU':>9}{'RRU/SKU':>9}  by service; top operations (per SKU)"]
    for who, d in c["callers"].items():
        svc = ", ".join(f"{k} {v}" for k, v in d["by_service"].items())
        lines.append(f"{who + (' (sched.)' if d['scheduled'] else ''):<20}{d['requests_per_sku']:>9}{d['wru_per_sku']:>9}{d['rru_per_sku']:>9}  {svc}")
        lines.append(" " * 22 + "; ".join(f"{k} {v}" for k, v in list(d["by_op"].items())[:top]))
        if d.get("dynamodb_by_item"):
            lines.append(" " * 22 + "dynamodb by item: " + "; ".join(
                f"{k} {v}" for k, v in list(d["dynamodb_by_item"].items())[:top + 4]))
        if d.get("wru_by_item"):
            lines.append(" " * 22 + "WRU by item: " + "; ".join(
                f"{k} {v}" for k, v in list(d["wru_by_item"].items())[:top + 4]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--products", type=int, default=5, help="products per demo merchant (two merchants)")
    ap.add_argument("--timeout", type=float, default=600, help="give up waiting for the run to settle (s)")
    ap.add_argument("--json", type=Path, help="also write the census as JSON here")
    ap.add_argument("--verbose", action="store_true", help="show the demo's progress and summary")
    args = ap.parse_args(argv)
    cloud, summary = run(args.products, args.timeout, quiet=not args.verbose)
    c = census(cloud.meter, summary["skus_ingested"])
    c["items"] = getattr(cloud, "item_sizes", {})
    c["products"], c["completed"], c["elapsed_s"] = summary["products"], summary["completed"], summary["elapsed_s"]
    c["handler_errors"] = summary["handler_errors_by_function"]
    print(f"products {c['products']}, settled {c['completed']} in {c['elapsed_s']} s, "
          f"handler errors (retried) {c['handler_errors'] or 'none'}")
    print(report(c))
    for kind, d in list((c["items"].get("kinds") or {}).items())[:12]:
        print(f"items {kind:<28} n {d['n']:>5}  mean {d['mean']:>6} B  max {d['max']:>6} B")
    if c["items"].get("states"):
        print("at the end: " + ", ".join(f"{k} {v}" for k, v in c["items"]["states"].items()))
    if c["items"].get("product_meta_attr_mean_bytes"):
        print("product item, mean bytes per attribute: "
              + ", ".join(f"{k} {v}" for k, v in c["items"]["product_meta_attr_mean_bytes"].items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(c, indent=1, ensure_ascii=False))
    return 0 if summary["completed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
