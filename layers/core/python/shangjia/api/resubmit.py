"""Resubmit: send a product that needs a fix back through validation as it is stored now.

A product's current revision is kept on its item (``cells``: the snapshot every upload merges
over, ``revisions.py``). Once the cause is fixed outside the product's values (its images
re-uploaded under the same names, a banned-term list or a merchant setting corrected, a reviewer's
or platform's rejection addressed by the merchant), resubmitting re-validates that revision as a
new one-product batch (``source: "resubmit"``) beside the original sheet, so the merchant gets a
report and the product goes on to media, review and publishing like any upload. Values are fixed
by uploading the sheet again.
"""

from __future__ import annotations

from typing import Any

from shangjia.api.context import Conflict
from shangjia.clock import iso
from shangjia.pipeline import keys
from shangjia.pipeline.deps import Deps
from shangjia.ports import ConditionFailed
from shangjia.status import ProductStatus as PS
from shangjia.status import can_transition

RESUBMITTABLE = frozenset({PS.NEEDS_FIX, PS.REJECTED, PS.FAILED, PS.HELD})


def raw_of(item: dict[str, Any]) -> dict[str, Any]:
    """The stored revision as a ``RawProduct`` dict: one row per SKU (SPU cells + the SKU's),
    numbered as in the sheet it came from."""
    cells = item.get("cells") or {}
    if cells.get("legacy") or not cells.get("skus"):
        raise Conflict("the product's values are not kept: upload its sheet again", "API_NOT_RESUBMITTABLE",
                       status=item.get("status", "?"))
    rows_by_code = {s.get("sku_code"): s.get("row") for s in (item.get("product") or {}).get("skus") or []}
    first = int(item.get("first_row") or 2)
    rows = []
    for i, (code, sku_cells) in enumerate(cells["skus"]):
        rows.append({"row": int(rows_by_code.get(code) or first + i), "cells": {**cells.get("spu", {}), **sku_cells}})
    return {"spu_code": item["spu_code"], "columns": {}, "rows": rows}


def resubmit_product(deps: Deps, item: dict[str, Any], *, actor: str) -> dict[str, Any]:
    status = item.get("status")
    if status not in RESUBMITTABLE or not can_transition(status, PS.UPLOADED):
        raise Conflict(f"the product is {status}", "API_NOT_RESUBMITTABLE", status=status)
    m, spu = item["merchant_id"], item["spu_code"]
    raw = raw_of(item)
    now = iso(deps.clock.now())
    # one resubmission per product revision: a retried request finds the batch it made
    batch_id = keys.batch_id_for("resubmit", f"{m}/{spu}", f"{item.get('batch_id')}:{item.get('revision', 0)}")
    pk, sk = keys.batch(batch_id)
    batch = {"pk": pk, "sk": sk, "batch_id": batch_id, "merchant_id": m, "key": item.get("source_key"),
             "source": "resubmit", "resubmit_of": item.get("batch_id"), "resubmitted_by": actor,
             "status": "processing", "created_at": now, "updated_at": now, "products_total": 1, "products_sent": 1,
             "gsi1pk": f"BATCHES#{m}", "gsi1sk": now}
    try:
        deps.store.put(batch, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return {"status": "uploaded", "batch_id": batch_id}          # already resubmitted
    queue = "validate_priority" if (item.get("product") or {}).get("priority") else "validate"
    deps.queues.send_batch(queue, [{"batch_id": batch_id, "merchant_id": m, "spu_code": spu,
                                    "source_key": item.get("source_key") or "", "options": {"seq": 0},
                                    "raw": raw}])
    return {"status": "uploaded", "batch_id": batch_id}
