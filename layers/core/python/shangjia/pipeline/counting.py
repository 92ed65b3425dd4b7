"""Counting a batch's products exactly once, many Lambdas at a time: the count items.

A batch's products are counted twice: validated (``tally_product``: the report's counts and its
"every product validated") and settled (``count_settled``: the batch's final state). Each count is
an atomic ``ADD`` to a count item guarded by a number set of the product's ordinal in the sheet,
so duplicate deliveries count nothing twice. ``batches`` decides what a complete count means
(the report, the notice); this module is the items' layout and the arithmetic on them::

    BATCH#<id> / TALLY#00000 .. TALLY#nnnnn     validated, invalid, refused, unchanged, members
    BATCH#<id> / SETTLE#00000 .. SETTLE#nnnnn   settled, o_<outcome>, members

The first and the last items also carry the batch's ``products_total`` once ingest has sent every
product (``record_total``), so a product whose count leaves its item short of what it expects
reads nothing to know the batch is not complete (``short_of_total``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed
from shangjia.validation.policy import BatchPolicy, BatchTally

SHARD_SIZE = 20_000                              # products per count item, batches made before COUNTER_SHARD
# Products per count item (tally and settle) of a batch ingest made since 2026-12-03: DynamoDB
# bills a write by the item's size, and an item guards exactly-once counting with a number set of
# its products' ordinals; 180 ordinals below 1,000,000 and every outcome's counter keep it under
# 1 KB, so a count costs 1 WRU at any batch size (with 20,000 an item: ~3 WRU on average in a
# 2,000-product batch, ~35 in a 20,000-product one, all on one partition key). The product that
# completes an item reads the batch's items (one BatchGetItem per 100) to learn if it was the
# last. The batch records its size (``counter_shard``), ingest sends it with each product and
# validate keeps it on the product; a batch or product without it counts in SHARD_SIZE items, as
# it did. ``stop_on_error_rate`` batches keep SHARD_SIZE: they judge the whole batch's counts at
# every product, one item to read.
COUNTER_SHARD = 180
MAX_SHARDS = 100_000                             # the last item takes what lies beyond (20M products)

# What a product's settling counts as in its batch (``outcome`` counts on the settled batch):
# its first settled status, or how validate answered it without keeping it as the batch's product.
OUTCOMES = ("published", "needs_fix", "rejected", "failed", "checked", "held", "refused", "unchanged", "superseded")
FAILURE_OUTCOMES = frozenset({"needs_fix", "rejected", "failed", "refused"})


@dataclass(frozen=True)
class Counts:
    validated: int = 0     # products validated (or refused) in this batch, each once
    invalid: int = 0
    refused: int = 0       # refused as busy: not judged, but reported
    unchanged: int = 0     # content identical to the product's current revision: kept, not judged

    def __add__(self, o: "Counts") -> "Counts":
        return Counts(self.validated + o.validated, self.invalid + o.invalid, self.refused + o.refused,
                      self.unchanged + o.unchanged)

    def tally(self) -> BatchTally:
        judged = self.validated - self.refused - self.unchanged
        return BatchTally(products=judged, invalid=self.invalid)


def _tally_key(batch_id: str, shard: int) -> tuple[str, str]:
    return keys.batch(batch_id)[0], f"TALLY#{shard:05d}"


def shard_size_of(source: Mapping[str, Any] | None) -> int:
    """The products per count item of a batch, from its batch item, a product message's options
    or a product item (``counter_shard``); none: SHARD_SIZE (made before it was recorded)."""
    size = (source or {}).get("counter_shard")
    return int(size) if size else SHARD_SIZE


def counter_shard_for(batch: Mapping[str, Any], policy: BatchPolicy) -> int:
    """The batch's count item size, chosen once when ingest first sends its products: a batch
    that already sent products without one keeps SHARD_SIZE (its counts lie there)."""
    if batch.get("counter_shard"):
        return int(batch["counter_shard"])
    if int(batch.get("products_sent") or 0) > 0 or policy.mode == "stop_on_error_rate":
        return SHARD_SIZE
    return COUNTER_SHARD


def _shard(seq: Any, n: int, size: int) -> int:
    return min(n // size, MAX_SHARDS if size < SHARD_SIZE else 1_000) if isinstance(seq, int) else 0


def _shards(products_sent: int, size: int) -> int:
    return _shard(0, max(0, max(products_sent, 1) - 1), size) + 1


def _count_items(deps: Deps, keyer, batch_id: str, products_sent: int, size: int) -> list[Mapping[str, Any]]:
    """The batch's count items (consistent reads; one BatchGetItem per 100)."""
    wanted = [keyer(batch_id, i) for i in range(_shards(products_sent, size))]
    if len(wanted) == 1:
        return [deps.store.get(*wanted[0]) or {}]
    return deps.store.get_many(wanted, consistent=True)


def _ordinal(seq: Any, spu: str) -> int:
    if isinstance(seq, int) and seq >= 0:
        return seq
    # A message without an ordinal (not from a sheet): a 52-bit digest of the product, shard 0.
    return SHARD_SIZE + int(hashlib.sha256(spu.encode()).hexdigest()[:13], 16)


def _counts(item: Mapping[str, Any] | None) -> Counts:
    item = item or {}
    return Counts(int(item.get("validated", 0)), int(item.get("invalid", 0)), int(item.get("refused", 0)),
                  int(item.get("unchanged", 0)))


def tally_product(deps: Deps, batch_id: str, seq: Any, spu: str, *, valid: bool, refused: bool = False,
                  unchanged: bool = False, shard_size: int = SHARD_SIZE) -> dict[str, Any] | None:
    """Count one product once. Returns the tally item after this call counted it (None: already
    counted), which ``maybe_finalise(tally=...)`` reads instead of the batch's items.
    ``unchanged``: its content is its current revision's (kept as it is, not judged).
    ``shard_size``: the batch's (``shard_size_of`` its message or product)."""
    return _add_once(deps, _tally_key, batch_id, seq, spu, shard_size,
                     "validated :one, invalid :inv, refused :ref, unchanged :unc",
                     {":inv": 0 if valid or refused or unchanged else 1, ":ref": 1 if refused else 0,
                      ":unc": 1 if unchanged else 0})


def _add_once(deps: Deps, keyer, batch_id: str, seq: Any, spu: str, size: int, adds: str,
              values: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``ADD <adds>`` (``:one`` is 1) to the product's count item, guarded by its ordinal in the
    item's number set. The item after it (a store that returns nothing: its key), or None when the
    ordinal was counted before."""
    n = _ordinal(seq, spu)
    pk, sk = keyer(batch_id, _shard(seq, n, size))
    try:
        return deps.store.update(pk, sk, f"ADD {adds}, members :m", condition="NOT contains(members, :n)",
                                 names=names, values={":one": 1, **values, ":m": {n}, ":n": n},
                                 return_new=True) or {"sk": sk}
    except ConditionFailed:
        return None


# The batch's first tally item also learns the batch's product count (``record_total``): ingest
# marks it when it creates the batch (``total_follows``) and writes the count when it has sent the
# last product. A product counted before that, or short of the count, then needs no read of the
# batch to know it does not finish it. Batches created before this carry no mark: read as before.
# The same for the settle items (``settle_product``): a product settled short of the total reads
# nothing to know the batch is not settled.
def expect_total(deps: Deps, batch_id: str) -> None:
    for key in (_tally_key(batch_id, 0), _settle_key(batch_id, 0)):
        deps.store.update(*key, "SET total_follows = :t", values={":t": True})


def record_total(deps: Deps, batch_id: str, total: int, shard_size: int = SHARD_SIZE) -> None:
    """The batch's product count, on its first count items and (smaller items) its last ones: a
    product counted in the last item then knows how many that item expects."""
    last = _shards(total, shard_size) - 1
    for shard in sorted({0, last}):
        for key in (_tally_key(batch_id, shard), _settle_key(batch_id, shard)):
            deps.store.update(*key, "SET products_total = :n", values={":n": total})


def short_of_total(first_key: tuple[str, str], item: Mapping[str, Any] | None, counted: str,
                    shard_size: int = SHARD_SIZE) -> bool:
    """Whether a product's own count item shows the batch is not complete yet, so the product
    need not read the batch. With SHARD_SIZE items (the first one marked): ingest has not sent the
    last product (its end looks again), or fewer than the total are counted in it. With smaller
    items: the item holds fewer than it expects (its full size, or what the total leaves the last
    one); the product that completes an item reads the batch."""
    if not item:
        return False
    if shard_size < SHARD_SIZE:
        shard = int(str(item.get("sk", "")).rpartition("#")[2] or 0)
        expected = shard_size
        if item.get("products_total") is not None:
            expected = min(shard_size, int(item["products_total"]) - shard * shard_size)
        return int(item.get(counted) or 0) < expected
    if item.get("sk") != first_key[1] or not item.get("total_follows"):
        return False
    total = item.get("products_total")
    if total is None:
        return True
    return int(total) <= SHARD_SIZE and int(item.get(counted) or 0) < int(total)


def cannot_finish(batch_id: str, tally: Mapping[str, Any] | None, shard_size: int = SHARD_SIZE) -> bool:
    return short_of_total(_tally_key(batch_id, 0), tally, "validated", shard_size)


def batch_counts(deps: Deps, batch_id: str, products_sent: int, shard_size: int = SHARD_SIZE) -> Counts:
    """The batch's counts: the sum of its tally items (consistent reads)."""
    total = Counts()
    for item in _count_items(deps, _tally_key, batch_id, products_sent, shard_size):
        total += _counts(item)
    return total


def _settle_key(batch_id: str, shard: int) -> tuple[str, str]:
    return keys.batch(batch_id)[0], f"SETTLE#{shard:05d}"


def count_settled(deps: Deps, batch_id: str, seq: Any, spu: str, outcome: str, size: int) -> dict[str, Any] | None:
    """Count one product of the batch as settled with ``outcome``, once. Returns the settle item
    after this call counted it (None: already counted)."""
    return _add_once(deps, _settle_key, batch_id, seq, spu, size, "settled :one, #o :one", {},
                     names={"#o": f"o_{outcome}"})


def settle_short_of_total(batch_id: str, item: Mapping[str, Any] | None, size: int) -> bool:
    return short_of_total(_settle_key(batch_id, 0), item, "settled", size)


def settle_counts(deps: Deps, batch_id: str, products_sent: int, shard_size: int = SHARD_SIZE) -> dict[str, int]:
    """``{"settled": n, <outcome>: n, ...}``: the sum of the batch's settle items."""
    out = {"settled": 0, **{o: 0 for o in OUTCOMES}}
    for item in _count_items(deps, _settle_key, batch_id, products_sent, shard_size):
        out["settled"] += int(item.get("settled", 0))
        for o in OUTCOMES:
            out[o] += int(item.get(f"o_{o}", 0))
    return out
