"""The stock ledger's pure rules (no I/O): keys, what is available to a channel, the ERP
sequence order, the order state machine.

One level per SKU ``(merchant_id, sku_code)``: ``on_hand`` (in the warehouse), ``reserved``
(ordered, not yet paid/shipped), ``buffers`` (per channel: units kept back from that channel) and
``free = on_hand - reserved`` (stored, because a DynamoDB condition cannot subtract: a reservation
is conditioned on ``free >= qty + buffer(channel)``).

    available(channel) = on_hand - reserved - buffer(channel)        (never shown below 0)

Orders (one item per channel order):

    (none) ─► reserved ─► committed ─► restocked   (refund/cancel after payment: back on hand)
       │          └─────► released                 (cancelled before payment)
       └────► refused                              (not enough stock: nothing reserved)

A refund of part of an order (a WeChat after-sale, a partial Douyin refund) releases exactly its
units: from the reservation while the order is reserved, back on hand once it is committed. The
order keeps ``refunded`` ({sku: units}) and ``refunds`` ({refund id: lines}); a refund id is
applied once; more than an order line still holds is refused (STOCK_REFUND_EXCEEDS). When every
unit is refunded the order becomes released / restocked; a later full release moves only what
the refunds left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

RESERVED, COMMITTED, RELEASED, RESTOCKED, REFUSED = "reserved", "committed", "released", "restocked", "refused"
ORDER_STATES = (RESERVED, COMMITTED, RELEASED, RESTOCKED, REFUSED)
# movement kinds
SET, SEED, RESERVE, COMMIT, RELEASE, RESTOCK = "set", "seed", "reserve", "commit", "release", "restock"
REFUND = "refund"
# who last decided a level: a sheet seeds only a level nobody else owns
OWNER_SHEET, OWNER_ERP, OWNER_ORDERS = "sheet", "erp", "orders"


def level_key(merchant_id: str, sku_code: str) -> tuple[str, str]:
    return f"STOCK#{merchant_id}#{sku_code}", "LEVEL"


def movement_key(merchant_id: str, sku_code: str, movement_id: str) -> tuple[str, str]:
    """Movements sit beside their level; the id is deterministic (kind + source), so a replayed
    order or event finds its movement already written."""
    return f"STOCK#{merchant_id}#{sku_code}", f"MOVE#{movement_id}"


def order_key(merchant_id: str, channel: str, order_id: str) -> tuple[str, str]:
    return f"ORDERS#{merchant_id}", f"ORDER#{channel}#{order_id}"


def sync_marker_key(merchant_id: str, sku_code: str) -> tuple[str, str]:
    return f"STOCKSYNC#{merchant_id}", f"SKU#{sku_code}"


LEVELS_INDEX_PK = "STOCKLEVELS"      # gsi1pk of every level: what reconciliation walks
RECONCILE_CURSOR = ("STOCKRECONCILE", "CURSOR")   # where the last reconciliation slice stopped


def order_movement_id(kind: str, channel: str, order_id: str) -> str:
    return f"{kind}#{channel}#{order_id}"


def event_movement_id(event_id: str) -> str:
    return f"{SET}#{event_id}"


@dataclass(frozen=True)
class Level:
    merchant_id: str
    sku_code: str
    on_hand: int = 0
    reserved: int = 0
    buffers: dict[str, int] = field(default_factory=dict)
    owner: str = ""
    erp_seq: int | None = None
    updated_at: str = ""

    @property
    def free(self) -> int:
        return self.on_hand - self.reserved

    def available(self, channel: str | None = None) -> int:
        """What may still be sold (through ``channel``, after its safety buffer); may be negative
        when the ERP set the level below what is reserved (shown to channels as 0)."""
        return self.free - int(self.buffers.get(channel, 0) if channel else 0)

    def channel_stock(self, channel: str) -> int:
        """The number a channel is told: never below 0."""
        return max(0, self.available(channel))

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Level":
        seq = item.get("erp_seq")
        return cls(str(item["merchant_id"]), str(item["sku_code"]), int(item.get("on_hand") or 0),
                   int(item.get("reserved") or 0), {k: int(v) for k, v in (item.get("buffers") or {}).items()},
                   str(item.get("owner") or ""), None if seq is None else int(seq), str(item.get("updated_at") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {"merchant_id": self.merchant_id, "sku_code": self.sku_code, "on_hand": self.on_hand,
                "reserved": self.reserved, "available": self.available(), "buffers": dict(self.buffers),
                "available_by_channel": {c: self.channel_stock(c) for c in sorted(self.buffers)},
                "owner": self.owner, "erp_seq": self.erp_seq, "updated_at": self.updated_at}


def normalise_seq(seq: Any) -> int:
    """The ERP's ordering key as one comparable integer: an integer sequence as is; a timestamp
    as epoch microseconds (ISO-8601 string, or epoch seconds/milliseconds as a number)."""
    if isinstance(seq, bool):
        raise ValueError("seq must be an integer or a timestamp")
    if isinstance(seq, int):
        return seq
    if isinstance(seq, float):
        return int(seq * 1_000_000) if seq < 1e11 else int(seq * 1000)
    if isinstance(seq, str):
        s = seq.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"seq {seq!r} is neither an integer nor an ISO-8601 timestamp") from None
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        return int(t.timestamp() * 1_000_000)
    raise ValueError(f"seq {seq!r} is neither an integer nor a timestamp")


def merge_lines(lines: Any) -> dict[str, int]:
    """Order lines ``[(sku_code, qty)]`` as ``{sku_code: total qty}`` (a SKU twice is summed);
    a quantity below 1 is refused."""
    out: dict[str, int] = {}
    for code, qty in lines:
        q = int(qty)
        if q < 1:
            raise ValueError(f"quantity {qty!r} of {code!r} must be at least 1")
        out[str(code)] = out.get(str(code), 0) + q
    return out


# transitions an order event may make: event -> (states it applies from, the new state)
NEXT = {
    "commit": ({RESERVED}, COMMITTED),
    "release": ({RESERVED}, RELEASED),
    "restock": ({COMMITTED}, RESTOCKED),
}


def remaining(order: dict[str, Any]) -> dict[str, int]:
    """What each line of an order still holds: its quantity less what was refunded."""
    refunded = {str(k): int(v) for k, v in (order.get("refunded") or {}).items()}
    out: dict[str, int] = {}
    for line in order.get("lines") or []:
        code = str(line["sku_code"])
        out[code] = out.get(code, 0) + int(line["qty"])
    return {c: q - refunded.get(c, 0) for c, q in out.items()}


@dataclass(frozen=True)
class RefundPlan:
    kind: str                                   # "release" (reserved) | "restock" (committed) | "" (none)
    lines: dict[str, int]                       # sku -> units to give back
    over: dict[str, tuple[int, int]]            # sku -> (wanted, still refundable): the refusal
    final_state: str | None = None              # the order's state when everything is refunded


def refund_plan(order: dict[str, Any], wanted: dict[str, int]) -> RefundPlan:
    """What a refund of ``wanted`` ({sku: units}) does to ``order`` (pure)."""
    state = order.get("state")
    kind = {RESERVED: "release", COMMITTED: "restock"}.get(state, "")
    left = remaining(order) if kind else {}
    over = {c: (q, max(0, left.get(c, 0))) for c, q in wanted.items() if q > left.get(c, 0)}
    final = None
    if kind and not over and all(left.get(c, 0) - wanted.get(c, 0) == 0 for c in left):
        final = RELEASED if kind == "release" else RESTOCKED
    return RefundPlan(kind, dict(wanted) if not over else {}, over, final)
