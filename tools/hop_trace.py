"""Where a product's wall time goes on the local cloud: how long products stay in each status,
timed on the real (monotonic) clock of the emulator, during a ``shangjia demo`` run.

    PYTHONPATH=layers/core/python .venv/bin/python tools/hop_trace.py --products 30
    PYTHONPATH=layers/core/python .venv/bin/python tools/hop_trace.py --products 30 --json out/hops.json

The products' own ``history`` timestamps come from the injectable clock, which the demo pins
(10:30 Asia/Shanghai), so they cannot time anything. This tool wraps moto's DynamoDB backend in
this process (the emulator runs here) and notes, after each write of a product item
(``PRODUCT#...``/``META``), the real time at which its ``status`` changed. Nothing the pipeline
does changes: the hook reads the item moto just wrote. Issue #13.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

_lock = threading.Lock()
_moves: dict[str, list[tuple[float, str]]] = defaultdict(list)
_invocations: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])    # n, wall, cpu, max wall


def _status_of(backend, table_name: str, pk: str) -> str | None:
    table = backend.tables.get(table_name)
    if table is None:
        return None
    part = table.items.get(_dt(pk))
    item = part.get(_dt("META")) if part is not None and table.range_key_attr else part
    if item is None:
        return None
    v = item.attrs.get("status")
    return None if v is None else str(v.value)


def _dt(s: str):
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": s})


def _note(backend, table_name: str, pk: str) -> None:
    if not pk.startswith("PRODUCT#"):
        return
    status = _status_of(backend, table_name, pk)
    if status is None:
        return
    t = time.monotonic()
    with _lock:
        seen = _moves[pk]
        if not seen or seen[-1][1] != status:
            seen.append((t, status))


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    update_item, put_item, transact = (DynamoDBBackend.update_item, DynamoDBBackend.put_item,
                                       DynamoDBBackend.transact_write_items)

    def _pk(key) -> str:
        v = (key or {}).get("pk") or {}
        return v.get("S", "") if isinstance(v, dict) else str(getattr(v, "value", ""))

    def update_item_(self, table_name, key, *a, **kw):
        out = update_item(self, table_name, key, *a, **kw)
        _note(self, table_name, _pk(key))
        return out

    def put_item_(self, table_name, item_attrs, *a, **kw):
        out = put_item(self, table_name, item_attrs, *a, **kw)
        _note(self, table_name, _pk(item_attrs))
        return out

    def transact_(self, transact_items, *a, **kw):
        out = transact(self, transact_items, *a, **kw)
        for t in transact_items:
            for spec in t.values():
                _note(self, spec.get("TableName", ""), _pk(spec.get("Key") or spec.get("Item")))
        return out

    DynamoDBBackend.update_item, DynamoDBBackend.put_item = update_item_, put_item_

    from shangjia.localcloud.meter import Meter

    invocation = Meter.invocation

    def invocation_(self, function, wall_s, cpu_s, *a, **kw):
        with _lock:
            row = _invocations[function]
            row[0] += 1
            row[1] += wall_s
            row[2] += cpu_s
            row[3] = max(row[3], wall_s)
        return invocation(self, function, wall_s, cpu_s, *a, **kw)

    Meter.invocation = invocation_
    DynamoDBBackend.transact_write_items = transact_


def report(t0: float) -> dict:
    """Per status: how long products stayed in it (seconds: n, median, p90, max), and each
    product's time from its first status to its last."""
    dwell: dict[str, list[float]] = defaultdict(list)
    totals, first_seen = [], []
    for pk, moves in _moves.items():
        first_seen.append(moves[0][0] - t0)
        for (ta, sa), (tb, _sb) in zip(moves, moves[1:]):
            dwell[sa].append(tb - ta)
        totals.append(moves[-1][0] - moves[0][0])

    def stats(xs: list[float]) -> dict:
        xs = sorted(xs)
        return {"n": len(xs), "median_s": round(statistics.median(xs), 2),
                "p90_s": round(xs[int(0.9 * (len(xs) - 1))], 2), "max_s": round(xs[-1], 2),
                "sum_s": round(sum(xs), 1)}

    return {"dwell_by_status": {s: stats(v) for s, v in sorted(dwell.items(), key=lambda kv: -sum(kv[1]))},
            "product_total": stats(totals) if totals else {},
            "first_status_after_start": stats(first_seen) if first_seen else {},
            "invocations": {k: {"n": n, "wall_s": round(w, 1), "cpu_s": round(c, 1), "mean_wall_s": round(w / n, 2),
                                "max_wall_s": round(m, 2)} for k, (n, w, c, m) in sorted(_invocations.items())},
            "paths": dict(sorted(_paths().items(), key=lambda kv: -kv[1]))}


def _paths() -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for moves in _moves.values():
        out[" > ".join(s for _t, s in moves)] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=30, help="products per demo merchant")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--quiet", action="store_true", help="do not echo the demo's output")
    args = ap.parse_args(argv)
    install()
    from shangjia.localcloud.demo import run_demo

    out = io.StringIO() if args.quiet else sys.stdout
    t0, c0 = time.monotonic(), time.process_time()
    summary = run_demo(args.products, out=out)
    # The emulator's CPU (this process: moto, the pollers, the interpreter, the gateway, the
    # simulators, the demo's observer) and the handlers' (their workers): on a machine shared
    # with other work they measure the run better than its wall time does.
    emulator_cpu = time.process_time() - c0
    figures = {"elapsed_s": summary["elapsed_s"], "skus": summary["skus_ingested"],
               "skus_per_s": summary["skus_per_s"], "emulator_cpu_s": round(emulator_cpu, 1),
               "handler_cpu_s": round(sum(summary["lambda_cpu_s"].values()), 1),
               "requests": sum(summary["requests"].values()),
               "observer_requests": sum(summary["observer_requests"].values()), **report(t0)}
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
