"""The stock ledger: one level per SKU ``(merchant_id, sku_code)`` in the state table, every
change a movement entry with its source, written together in one DynamoDB transaction
(``Store.transact``): the conditional update of the level and the create-only put of the
movement (``attribute_not_exists``; its id is the order or event it comes from). A sheet's seed
is the exception: its level alone under its condition, its movement right after (``seed_many``).
So

- concurrent orders never take stock below zero: a reservation is conditioned on
  ``free_qty >= qty + buffer(channel)`` (``free_qty = on_hand - reserved``, kept on the item) and
  DynamoDB applies conditions one at a time per item;
- a replayed order or event changes nothing: its movement exists, the transaction is canceled;
- an ERP level older than the last applied one (``seq``) is ignored.

Pure rules in ``stock.rules``; orders from channel pushes in ``stock.orders``; the sync of levels
to the channels in ``stock.sync``. ``docs/stock.md`` describes the model.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from shangjia.clock import iso
from shangjia.ports import MAX_TRANSACTION, ConditionFailed, TransactionCanceled, Transient
from shangjia.stock import rules
from shangjia.stock.rules import Level

__all__ = ["Level", "OrderResult", "SetResult", "StockLedger", "ledger_for", "rules", "seed_from_sheet"]

CCF = "ConditionalCheckFailed"
MAX_LINES = (MAX_TRANSACTION - 1) // 2      # a reservation: per line an update and a movement, + the order
TRANSIENT_TRIES = 6


@dataclass(frozen=True)
class SetResult:
    outcome: str                 # "applied" | "stale" | "replay"
    level: Level | None


@dataclass(frozen=True)
class OrderResult:
    outcome: str                 # "reserved" | "refused" | "committed" | "released" | "restocked" | "refunded" | "replay" | "noop"
    state: str | None            # the order's state after the call
    reason: str = ""             # refused: the error code (STOCK_INSUFFICIENT, STOCK_UNKNOWN_SKU)
    detail: dict[str, Any] | None = None


class StockLedger:
    """The ledger over the ``Store`` port. ``notify(merchant_id, sku_codes)`` is called after a
    change of levels (``ledger_for`` wires it to the stock sync queue)."""

    def __init__(self, store, clock, *, notify: Callable[[str, list[str]], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.clock, self.notify, self.sleep = store, clock, notify, sleep

    # --- reads -----------------------------------------------------------------------------
    def levels(self, merchant_id: str, sku_code: str) -> Level | None:
        item = self.store.get(*rules.level_key(merchant_id, sku_code))
        return Level.from_item(item) if item else None

    def movements(self, merchant_id: str, sku_code: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The SKU's movements, oldest first (at most ``limit``, the newest kept; 0: all). ``ts``
        (nanoseconds when written) orders them: only for display, nothing decides on it."""
        pk, _ = rules.level_key(merchant_id, sku_code)
        items = self.store.query(pk, sk_prefix="MOVE#")
        items.sort(key=lambda m: (int(m.get("ts") or 0), str(m.get("at") or ""), m["sk"]))
        out = [{k: v for k, v in m.items() if k not in ("pk", "sk")} | {"id": m["sk"][5:]} for m in items]
        return out[-limit:] if limit else out

    def order(self, merchant_id: str, channel: str, order_id: str) -> dict[str, Any] | None:
        return self.store.get(*rules.order_key(merchant_id, channel, order_id))

    def orders(self, merchant_id: str, *, state: str | None = None) -> list[dict[str, Any]]:
        """The merchant's channel orders as the ledger saw them (refused ones with their reason)."""
        pk, _ = rules.order_key(merchant_id, "", "")
        items = self.store.query(pk, sk_prefix="ORDER#")
        return [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items
                if state is None or i.get("state") == state]

    # --- ERP and sheet levels ------------------------------------------------------------------
    def set_level(self, merchant_id: str, sku_code: str, on_hand: int, *, source: str, event_id: str,
                  seq: Any) -> SetResult:
        """The ERP's absolute level. Applied when ``seq`` is newer than the last applied one;
        ``stale`` (nothing written) when it is not; ``replay`` when ``event_id`` was applied."""
        on_hand = _count(on_hand, "on_hand")
        n = rules.normalise_seq(seq)
        now = iso(self.clock.now())
        pk, sk = rules.level_key(merchant_id, sku_code)
        mpk, msk = rules.movement_key(merchant_id, sku_code, rules.event_movement_id(event_id))
        actions = [
            {"update": (pk, sk),
             "expression": "SET on_hand = :oh, free_qty = :oh - if_not_exists(reserved, :z), "
                           "reserved = if_not_exists(reserved, :z), erp_seq = :seq, #o = :erp, "
                           "merchant_id = :m, sku_code = :c, updated_at = :at, gsi1pk = :g, gsi1sk = :gs",
             "condition": "attribute_not_exists(erp_seq) OR erp_seq < :seq",
             "names": {"#o": "owner"},
             "values": {":oh": on_hand, ":z": 0, ":seq": n, ":erp": rules.OWNER_ERP, ":m": merchant_id,
                        ":c": sku_code, ":at": now, ":g": rules.LEVELS_INDEX_PK, ":gs": f"{merchant_id}#{sku_code}"}},
            {"put": {"pk": mpk, "sk": msk, "kind": rules.SET, "on_hand": on_hand, "seq": n, "source": source,
                     "event_id": event_id, "at": now, "ts": time.time_ns()},
             "condition": "attribute_not_exists(sk)"},
        ]
        try:
            self._transact(actions)
        except TransactionCanceled as e:
            outcome = "replay" if _failed(e, 1) else "stale"
            return SetResult(outcome, self.levels(merchant_id, sku_code))
        self._changed(merchant_id, [sku_code])
        return SetResult("applied", self.levels(merchant_id, sku_code))

    def seed(self, merchant_id: str, sku_code: str, on_hand: int, *, source: str) -> bool:
        """The sheet's stock column as the level, only where no ERP update or order owns it (no
        level yet, or one only sheets have written) and only when it changes. True when written."""
        return bool(self.seed_many(merchant_id, [(sku_code, on_hand)], source=source))

    def seed_many(self, merchant_id: str, seeds: list[tuple[str, int]], *, source: str) -> list[str]:
        """``seed`` for a product's SKUs: each level a conditional update of its own, then the
        movements of those written in one BatchWriteItem. Not a transaction: a seed changes one
        item's level under its own condition (no other item has to change with it), and DynamoDB
        bills a transaction's writes twice (a SKU's level and movement were 4 WRU, now 2). The
        movement follows its level; a crash between them is mended by the redelivery: its level
        update is refused (unchanged), the level says this seed wrote it (``seed_source``), and the
        movement is written then. Returns the SKU codes written (those refused: owned by the ERP or
        orders, or unchanged, are left out)."""
        now = iso(self.clock.now())
        written: list[str] = []
        moves: list[dict[str, Any]] = []
        for code, n in [(c, _count(n, "on_hand")) for c, n in seeds]:
            pk, sk = rules.level_key(merchant_id, code)
            try:
                self.store.update(
                    pk, sk,
                    "SET on_hand = :oh, free_qty = :oh - if_not_exists(reserved, :z), "
                    "reserved = if_not_exists(reserved, :z), #o = :sheet, merchant_id = :m, sku_code = :c, "
                    "updated_at = :at, gsi1pk = :g, gsi1sk = :gs, seed_source = :src",
                    # a re-upload with the same stock writes nothing and syncs nothing to the channels
                    condition="attribute_not_exists(pk) OR (#o = :sheet AND reserved = :z AND on_hand <> :oh)",
                    names={"#o": "owner"},
                    values={":oh": n, ":z": 0, ":sheet": rules.OWNER_SHEET, ":m": merchant_id, ":c": code,
                            ":at": now, ":g": rules.LEVELS_INDEX_PK, ":gs": f"{merchant_id}#{code}", ":src": source})
            except ConditionFailed:
                level = self.store.get(pk, sk) or {}
                if level.get("seed_source") == source and level.get("on_hand") == n:
                    moves.append(self._seed_movement(merchant_id, code, n, source, now))   # a redelivery
                continue
            written.append(code)
            moves.append(self._seed_movement(merchant_id, code, n, source, now))
        if moves:
            self.store.put_many(moves)          # create or rewrite: the id is the seed's (kind + source)
        self._changed(merchant_id, written)
        return written

    @staticmethod
    def _seed_movement(merchant_id: str, sku_code: str, on_hand: int, source: str, now: str) -> dict[str, Any]:
        mpk, msk = rules.movement_key(merchant_id, sku_code, f"{rules.SEED}#{source}")
        return {"pk": mpk, "sk": msk, "kind": rules.SEED, "on_hand": on_hand, "source": source, "at": now,
                "ts": time.time_ns()}

    def set_buffer(self, merchant_id: str, sku_code: str, channel: str, units: int) -> Level:
        """Units kept back from ``channel`` (0 removes the buffer)."""
        units = _count(units, "buffer")
        pk, sk = rules.level_key(merchant_id, sku_code)
        try:
            self.store.update(pk, sk, "SET buffers.#ch = :u, updated_at = :at",
                              condition="attribute_exists(buffers)", names={"#ch": channel},
                              values={":u": units, ":at": iso(self.clock.now())})
        except ConditionFailed:
            try:
                self.store.update(pk, sk, "SET buffers = :b, updated_at = :at", condition="attribute_exists(pk)",
                                  values={":b": {channel: units}, ":at": iso(self.clock.now())})
            except ConditionFailed:
                raise KeyError(f"no stock level for {merchant_id}/{sku_code}") from None
        self._changed(merchant_id, [sku_code])
        return self.levels(merchant_id, sku_code)

    # --- orders ----------------------------------------------------------------------------------
    def reserve(self, merchant_id: str, lines: Iterable[tuple[str, int]], *, channel: str, order_id: str,
                source: str = "") -> OrderResult:
        """Reserve every line of a channel order, all or nothing. ``refused`` (recorded, with the
        reason and the short SKUs) when any SKU lacks stock: nothing is reserved. ``replay`` when
        the order was already reserved or refused."""
        wanted = rules.merge_lines(lines)
        if not wanted:
            raise ValueError("an order needs at least one line")
        if len(wanted) > MAX_LINES:
            raise ValueError(f"an order of more than {MAX_LINES} SKUs does not fit one transaction")
        now = iso(self.clock.now())
        opk, osk = rules.order_key(merchant_id, channel, order_id)
        order = {"pk": opk, "sk": osk, "merchant_id": merchant_id, "channel": channel, "order_id": order_id,
                 "lines": [{"sku_code": c, "qty": q} for c, q in wanted.items()], "source": source or channel,
                 "refunded": {}, "refunds": {}, "created_at": now, "updated_at": now}
        for attempt in range(3):
            levels = {c: self.levels(merchant_id, c) for c in wanted}
            unknown = [c for c, lv in levels.items() if lv is None]
            if unknown:
                return self._refuse(order, "STOCK_UNKNOWN_SKU", {"skus": unknown})
            actions: list[dict[str, Any]] = [{"put": {**order, "state": rules.RESERVED},
                                              "condition": "attribute_not_exists(sk)"}]
            for code, qty in wanted.items():
                need = qty + int(levels[code].buffers.get(channel, 0))
                pk, sk = rules.level_key(merchant_id, code)
                actions.append({"update": (pk, sk),
                                "expression": "SET reserved = reserved + :q, free_qty = free_qty - :q, #o = :ord, updated_at = :at",
                                "condition": "free_qty >= :need", "names": {"#o": "owner"},
                                "values": {":q": qty, ":need": need, ":ord": rules.OWNER_ORDERS, ":at": now}})
                actions.append(self._movement(merchant_id, code, rules.RESERVE, channel, order_id, -qty, now))
            try:
                self._transact(actions)
            except TransactionCanceled as e:
                if _failed(e, 0):
                    return self._existing(order)
                short = [c for i, c in enumerate(wanted) if _failed(e, 1 + 2 * i)]
                if any(_failed(e, 2 + 2 * i) for i in range(len(wanted))):
                    return self._existing(order)        # a movement exists: an earlier attempt won
                fresh = {c: self.levels(merchant_id, c) for c in short}
                if attempt < 2 and all(lv and lv.available(channel) >= wanted[c] for c, lv in fresh.items()):
                    continue        # the buffer or the level moved between the read and the write
                return self._refuse(order, "STOCK_INSUFFICIENT", {
                    "skus": short, "available": {c: (fresh[c].channel_stock(channel) if fresh[c] else 0) for c in short},
                    "wanted": {c: wanted[c] for c in short}})
            self._changed(merchant_id, list(wanted))
            return OrderResult("reserved", rules.RESERVED)
        raise AssertionError("unreachable")

    def commit(self, merchant_id: str, *, channel: str, order_id: str) -> OrderResult:
        """The order is paid: its reservation leaves the warehouse (on hand and reserved both drop)."""
        return self._advance(merchant_id, channel, order_id, "commit", rules.COMMIT,
                             "SET on_hand = on_hand - :q, reserved = reserved - :q, updated_at = :at", sign=-1)

    def release(self, merchant_id: str, *, channel: str, order_id: str, reason: str = "cancelled") -> OrderResult:
        """Cancelled or refunded: a reservation is released; a paid order's units go back on hand."""
        r = self._advance(merchant_id, channel, order_id, "release", rules.RELEASE,
                          "SET reserved = reserved - :q, free_qty = free_qty + :q, updated_at = :at", sign=1, reason=reason)
        if r.outcome == "noop" and r.state == rules.COMMITTED:
            r = self._advance(merchant_id, channel, order_id, "restock", rules.RESTOCK,
                              "SET on_hand = on_hand + :q, free_qty = free_qty + :q, updated_at = :at", sign=1, reason=reason)
        elif r.outcome == "noop" and r.state == rules.RESTOCKED:
            r = OrderResult("replay", rules.RESTOCKED)
        return r

    def refund(self, merchant_id: str, lines: Iterable[tuple[str, int]], *, channel: str, order_id: str,
               refund_id: str, reason: str = "refunded") -> OrderResult:
        """Part of an order refunded (``lines``: the SKUs and units): exactly those units go back,
        from the reservation (reserved) or on hand (committed). Once per ``refund_id`` (``replay``
        after); more than a line still holds is ``refused`` with STOCK_REFUND_EXCEEDS and changes
        nothing; an order the ledger never saw is ``noop`` (STOCK_ORDER_UNKNOWN)."""
        wanted = rules.merge_lines(lines)
        if not wanted or not refund_id:
            raise ValueError("a refund needs an id and at least one line")
        opk, osk = rules.order_key(merchant_id, channel, order_id)
        for _attempt in range(4):
            order = self.store.get(opk, osk)
            if order is None:
                return OrderResult("noop", None, "STOCK_ORDER_UNKNOWN")
            if refund_id in (order.get("refunds") or {}):
                return OrderResult("replay", order.get("state"))
            plan = rules.refund_plan(order, wanted)
            if not plan.kind or plan.over:
                return self._refund_refused(order, refund_id, plan)
            if "refunded" not in order or "refunds" not in order:     # an order written before refunds
                try:
                    self.store.update(opk, osk, "SET refunded = if_not_exists(refunded, :e), "
                                      "refunds = if_not_exists(refunds, :e)", values={":e": {}},
                                      condition="attribute_exists(pk)")
                except ConditionFailed:
                    pass
                order = self.store.get(opk, osk) or order
            now = iso(self.clock.now())
            refunded = {str(k): int(v) for k, v in (order.get("refunded") or {}).items()}
            sets, conds = ["refunds.#rid = :lines", "updated_at = :at"], ["#st = :from", "attribute_not_exists(refunds.#rid)"]
            names: dict[str, str] = {"#st": "state", "#rid": refund_id}
            values: dict[str, Any] = {":lines": dict(wanted), ":at": now, ":from": order["state"]}
            for i, (code, qty) in enumerate(plan.lines.items()):
                names[f"#s{i}"] = code
                values[f":q{i}"] = refunded.get(code, 0) + qty
                sets.append(f"refunded.#s{i} = :q{i}")
                if refunded.get(code):                     # nobody refunded this line meanwhile
                    values[f":p{i}"] = refunded[code]
                    conds.append(f"refunded.#s{i} = :p{i}")
                else:
                    conds.append(f"attribute_not_exists(refunded.#s{i})")
            if plan.final_state:
                sets.append("#st = :to")
                values[":to"] = plan.final_state
            actions: list[dict[str, Any]] = [{"update": (opk, osk), "expression": "SET " + ", ".join(sets),
                                              "condition": " AND ".join(conds), "names": names, "values": values}]
            expression = ("SET reserved = reserved - :q, free_qty = free_qty + :q, updated_at = :at" if plan.kind == "release"
                          else "SET on_hand = on_hand + :q, free_qty = free_qty + :q, updated_at = :at")
            for code, qty in plan.lines.items():
                pk, sk = rules.level_key(merchant_id, code)
                actions.append({"update": (pk, sk), "expression": expression, "values": {":q": qty, ":at": now},
                                "condition": "attribute_exists(pk)"})
                mv = self._movement(merchant_id, code, rules.REFUND, channel, f"{order_id}#{refund_id}", qty, now,
                                    reason=reason)
                mv["put"].update({"order_id": order_id, "refund_id": refund_id, "source": f"order:{channel}:{order_id}"})
                actions.append(mv)
            try:
                self._transact(actions)
            except TransactionCanceled:
                continue                                  # another refund or event moved the order: look again
            self._changed(merchant_id, list(plan.lines))
            return OrderResult("refunded", plan.final_state or order["state"], detail={"lines": dict(plan.lines)})
        current = self.store.get(opk, osk) or {}
        if refund_id in (current.get("refunds") or {}):
            return OrderResult("replay", current.get("state"))
        raise Transient(f"order {channel}/{order_id} kept changing under refund {refund_id}")

    def _refund_refused(self, order: dict[str, Any], refund_id: str, plan) -> OrderResult:
        from shangjia.errors import finding

        if not plan.over:            # nothing left to refund: the order was refused, released or restocked
            over = {c: (q, 0) for c, q in plan.lines.items()} or {"": (0, 0)}
        else:
            over = plan.over
        sku, (wanted, left) = next(iter(over.items()))
        f = finding("STOCK_REFUND_EXCEEDS", value=sku, channel=order["channel"], order_id=order["order_id"],
                    refund_id=refund_id, wanted=wanted, refundable=left, state=order.get("state") or "")
        return OrderResult("refused", order.get("state"), "STOCK_REFUND_EXCEEDS",
                           {"skus": list(over), "wanted": {c: w for c, (w, _) in over.items()},
                            "refundable": {c: r for c, (_, r) in over.items()},
                            "message_zh": f.message_zh, "message_en": f.message_en})

    # --- internals ------------------------------------------------------------------------------
    def _advance(self, merchant_id: str, channel: str, order_id: str, event: str, kind: str, expression: str,
                 *, sign: int, reason: str = "") -> OrderResult:
        opk, osk = rules.order_key(merchant_id, channel, order_id)
        order = self.store.get(opk, osk)
        if order is None:
            return OrderResult("noop", None, "STOCK_ORDER_UNKNOWN")
        sources, target = rules.NEXT[event]
        if order.get("state") not in sources:
            return OrderResult("replay" if order.get("state") == target else "noop", order.get("state"))
        now = iso(self.clock.now())
        actions: list[dict[str, Any]] = [{
            "update": (opk, osk), "expression": "SET #st = :to, updated_at = :at" + (", reason = :r" if reason else ""),
            "condition": "#st = :from", "names": {"#st": "state"},
            "values": {":to": target, ":from": order["state"], ":at": now, **({":r": reason} if reason else {})}}]
        codes = []
        refunded = {str(k): int(v) for k, v in (order.get("refunded") or {}).items()}
        for i, code in enumerate(refunded):          # the refunds this move is computed from, unchanged
            actions[0]["names"][f"#r{i}"] = code
            actions[0]["values"][f":r{i}"] = refunded[code]
            actions[0]["condition"] += f" AND refunded.#r{i} = :r{i}"
        for code, qty in rules.remaining(order).items():
            if qty <= 0:
                continue                             # refunded in full already
            codes.append(code)
            pk, sk = rules.level_key(merchant_id, code)
            actions.append({"update": (pk, sk), "expression": expression, "values": {":q": qty, ":at": now},
                            "condition": "attribute_exists(pk)"})
            actions.append(self._movement(merchant_id, code, kind, channel, order_id, sign * qty, now, reason=reason))
        try:
            self._transact(actions)
        except TransactionCanceled:
            current = self.store.get(opk, osk) or {}
            return OrderResult("replay" if current.get("state") == target else "noop", current.get("state"))
        self._changed(merchant_id, codes)
        return OrderResult({"commit": "committed", "release": "released", "restock": "restocked"}[event], target)

    def _movement(self, merchant_id: str, code: str, kind: str, channel: str, order_id: str, delta: int,
                  now: str, *, reason: str = "") -> dict[str, Any]:
        pk, sk = rules.movement_key(merchant_id, code, rules.order_movement_id(kind, channel, order_id))
        item = {"pk": pk, "sk": sk, "kind": kind, "delta": delta, "channel": channel, "order_id": order_id,
                "source": f"order:{channel}:{order_id}", "at": now, "ts": time.time_ns()}
        if reason:
            item["reason"] = reason
        return {"put": item, "condition": "attribute_not_exists(sk)"}

    def _refuse(self, order: dict[str, Any], reason: str, detail: dict[str, Any]) -> OrderResult:
        from shangjia.errors import finding

        sku = (detail.get("skus") or [""])[0]
        f = finding(reason, value=sku, channel=order["channel"], order_id=order["order_id"],
                    wanted=(detail.get("wanted") or {}).get(sku, ""), available=(detail.get("available") or {}).get(sku, 0))
        detail = {**detail, "message_zh": f.message_zh, "message_en": f.message_en}
        try:
            self.store.put({**order, "state": rules.REFUSED, "reason": reason, "detail": detail},
                           condition="attribute_not_exists(sk)")
        except ConditionFailed:
            return self._existing(order)
        return OrderResult("refused", rules.REFUSED, reason, detail)

    def _existing(self, order: dict[str, Any]) -> OrderResult:
        got = self.store.get(order["pk"], order["sk"]) or {}
        return OrderResult("replay", got.get("state"), str(got.get("reason") or ""), got.get("detail"))

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """The transaction, tried again on DynamoDB's transaction conflicts (two transactions on
        one hot item at once: ``Transient``), with a jittered pause."""
        for attempt in range(TRANSIENT_TRIES):
            try:
                self.store.transact(actions)
                return
            except Transient:
                if attempt == TRANSIENT_TRIES - 1:
                    raise
                self.sleep(random.uniform(0, 0.02 * 2 ** attempt))

    def _changed(self, merchant_id: str, sku_codes: list[str]) -> None:
        if self.notify is not None and sku_codes:
            self.notify(merchant_id, sku_codes)


def _failed(e: TransactionCanceled, i: int) -> bool:
    return i < len(e.reasons) and e.reasons[i] == CCF


def _count(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {v!r}")
    return v


def ledger_for(deps) -> StockLedger:
    """The ledger over a handler's ``Deps``: every change of levels is queued for the stock sync
    to the channels (``stock.sync.request_sync``: coalesced per SKU)."""
    from shangjia.stock.sync import request_sync

    return StockLedger(deps.store, deps.clock, notify=lambda m, codes: request_sync(deps, m, codes))


def seed_from_sheet(deps, merchant_id: str, product: dict[str, Any], batch_id: str, *, spu: str | None = None,
                    listed: bool = True) -> int:
    """A validated product's sheet stock column seeds its SKUs' levels (``StockLedger.seed``:
    never over a level the ERP or orders own). Returns the levels written. The product's listings
    get one sync for all its changed SKUs (validate owns them: no claim read per SKU); none when
    the product was never stored before (``listed=False``: it has no listing to sync yet; its
    first send carries its stock)."""
    from shangjia.stock.sync import request_product_sync

    seeds = [(str(s["sku_code"]), s["stock"]) for s in product.get("skus") or []
             if isinstance(s.get("stock"), int) and not isinstance(s.get("stock"), bool) and s["stock"] >= 0
             and s.get("sku_code")]
    changed = StockLedger(deps.store, deps.clock).seed_many(merchant_id, seeds, source=f"sheet:{batch_id}") \
        if seeds else []
    spu = spu or product.get("spu_code")
    if changed and listed and spu:
        request_product_sync(deps, merchant_id, [str(spu)])
    return len(changed)
