"""Product records and their status changes, guarded by the pure transition table."""

from __future__ import annotations

from typing import Any

from shangjia.clock import iso
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed
from shangjia.status import ProductStatus, sources_of


def get_product(deps: Deps, merchant_id: str, spu: str) -> dict[str, Any] | None:
    return deps.store.get(*keys.product(merchant_id, spu))


def set_status(deps: Deps, merchant_id: str, spu: str, target: ProductStatus, *, batch_id: str | None = None,
               extra: dict[str, Any] | None = None, status_sort: str | None = None,
               key: tuple[str, str] | None = None) -> bool:
    """Move a product to ``target`` if the table allows it from its current status (and, when given,
    only for that batch's revision). Returns False when the move was not allowed (a duplicate or a
    late message): the caller treats that as already done."""
    pk, sk = key or keys.product(merchant_id, spu)
    sources = sorted(s.value for s in sources_of(target))
    values: dict[str, Any] = {":t": target.value, ":u": iso(deps.clock.now()), ":g": f"STATUS#{target.value}",
                              ":gs": status_sort or iso(deps.clock.now())}
    cond_parts = []
    for i, s in enumerate(sources):
        values[f":s{i}"] = s
        cond_parts.append(f":s{i}")
    condition = f"#st IN ({', '.join(cond_parts)})"
    if batch_id:
        condition += " AND batch_id = :b"
        values[":b"] = batch_id
    # gsi2 lists products by status, sorted by ``status_sort`` (default: when they got there)
    sets = ["#st = :t", "updated_at = :u", "gsi2pk = :g", "gsi2sk = :gs"]
    names = {"#st": "status"}
    for i, (k, v) in enumerate((extra or {}).items()):
        names[f"#x{i}"] = k
        values[f":x{i}"] = v
        sets.append(f"#x{i} = :x{i}")
    history = {"status": target.value, "at": values[":u"], "batch_id": batch_id}
    values[":h"] = [history]
    values[":empty"] = []
    sets.append("history = list_append(if_not_exists(history, :empty), :h)")
    try:
        deps.store.update(pk, sk, "SET " + ", ".join(sets), condition=condition, names=names, values=values)
        return True
    except ConditionFailed:
        return False
