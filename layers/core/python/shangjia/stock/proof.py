"""The no-oversell proof on the local cloud: N concurrent Douyin orders for one SKU with stock S,
through the real order path (the simulated Douyin shop signs each push with ``event-sign``,
threads POST them to the gateway's ``/callbacks/douyin``, the ``channel_callback`` handler
verifies, reads the order's lines from the platform's ``order/orderDetail`` and reserves in the
ledger), then the paid pushes (commit), then every push delivered again (a replay changes
nothing). ``shangjia stock order-run`` prints the figures; ``tests/e2e/test_stock_orders.py``
asserts them at a smaller size."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _post(push: tuple[str, bytes, dict[str, str]]) -> int:
    """Deliver one push; like the platforms, deliver it again when it was not acknowledged (the
    connection dropped, or an answer other than 200), at most 5 times. The last status."""
    url, body, headers = push
    status = 0
    for attempt in range(5):
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 — the local gateway
                r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError):
            status = 0
        if status == 200:
            return status
        time.sleep(0.2 * (attempt + 1))
    return status


def _snapshot(ledger, merchant: str, sku: str) -> dict[str, Any]:
    lv = ledger.levels(merchant, sku)
    moves = ledger.movements(merchant, sku, limit=0)
    orders = ledger.orders(merchant)
    states: dict[str, int] = {}
    for o in orders:
        states[o["state"]] = states.get(o["state"], 0) + 1
    kinds: dict[str, int] = {}
    for m in moves:
        kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
    return {"on_hand": lv.on_hand, "reserved": lv.reserved, "available": lv.available(),
            "orders": states, "movements": kinds, "movement_ids": sorted(m["id"] for m in moves),
            "refused_reasons": sorted({o.get("reason", "") for o in orders if o["state"] == "refused"})}


def order_run(cloud, *, orders: int = 1000, stock: int = 100, threads: int = 16,
              merchant: str = "m-stock-proof", sku: str = "PROOF-SKU-1") -> dict[str, Any]:
    from shangjia.pipeline.deps import aws_deps
    from shangjia.stock import StockLedger

    deps = aws_deps()
    shop = cloud.add_channel_shop(merchant, "douyin", deps)
    sim = cloud.channels.douyin
    pid = sim.add_listed_product(shop.shop_id, f"{sku}-SPU", {sku: orders})
    ledger = StockLedger(deps.store, deps.clock)
    ledger.set_level(merchant, sku, stock, source="proof", event_id=f"proof-{sku}-initial", seq=1)
    ids = [sim.place_order(shop.shop_id, [(pid, sku, 1)], push=False) for _ in range(orders)]
    created = [sim.order_push(oid, "created") for oid in ids]
    with ThreadPoolExecutor(threads) as pool:
        created_status = list(pool.map(_post, created))
    after_created = _snapshot(ledger, merchant, sku)
    paid = [sim.order_push(oid, "paid") for oid in ids]
    with ThreadPoolExecutor(threads) as pool:
        paid_status = list(pool.map(_post, paid))
    after_paid = _snapshot(ledger, merchant, sku)
    with ThreadPoolExecutor(threads) as pool:
        replay_status = list(pool.map(_post, created + paid))
    after_replay = _snapshot(ledger, merchant, sku)
    return {"orders": orders, "stock": stock, "threads": threads,
            "http": {"created": _count(created_status), "paid": _count(paid_status), "replay": _count(replay_status)},
            "after_created": after_created, "after_paid": after_paid, "after_replay": after_replay,
            "replay_changed_nothing": after_replay == after_paid}


def _count(statuses: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return out


def figures(run: dict[str, Any]) -> list[str]:
    """The run as the lines ``shangjia stock order-run`` prints."""
    c, p, r = run["after_created"], run["after_paid"], run["after_replay"]
    return [
        f"orders pushed: {run['orders']} (Douyin tag 100, event-sign) for one SKU with stock {run['stock']}, "
        f"{run['threads']} threads -> HTTP {run['http']['created']}",
        f"after the created pushes: accepted (reserved) {c['orders'].get('reserved', 0)}, "
        f"refused {c['orders'].get('refused', 0)} {c['refused_reasons']}; on_hand {c['on_hand']}, "
        f"reserved {c['reserved']}, available {c['available']}",
        f"after the paid pushes (tag 101) -> HTTP {run['http']['paid']}: committed {p['orders'].get('committed', 0)}; "
        f"on_hand {p['on_hand']}, reserved {p['reserved']}, available {p['available']}",
        f"ledger movements: {p['movements']} ({len(p['movement_ids'])} entries, "
        f"{len(set(p['movement_ids']))} distinct)",
        f"replay of all {run['orders'] * 2} pushes -> HTTP {run['http']['replay']}: "
        f"{'nothing changed' if run['replay_changed_nothing'] else 'CHANGED: ' + str(r)}",
    ]
