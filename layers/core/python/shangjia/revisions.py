"""A product's new revision meets its current one: the rule a merchant can rely on, in one place.

Pure (no boto3, no store): the pipeline's validate stage calls ``merge_revision`` with the raw
product of an upload (a sheet's rows, or an ERP feed's records through ``products_from_records``:
the same ``RawProduct``) and the product's stored ``cells`` snapshot.

- **A blank cell keeps the current value.** A cell left empty, or a column the file does not have,
  means "no change": the value the product has now is used.
- **An explicit marker clears it**: ``[清空]`` or ``[clear]`` (any case; full-width brackets
  ``【清空】``/``［clear］`` too). The field becomes blank; clearing a required field is then the
  usual FIELD_REQUIRED error.
- SKUs are matched by SKU code. A SKU of the current revision that the upload does not name is
  **dropped** (``MergeResult.dropped_skus``): the pipeline releases its code and delists it.
- ``MergeResult.changes`` lists every value that changed (field, SKU, old, new, row, column).
- ``content_hash`` is the digest of the merged canonical content (positions in the sheet left
  out, so moving rows changes nothing): equal hashes mean the upload changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field as dc_field
from typing import Any

CLEAR_MARKERS = ("[清空]", "[clear]")
_BRACKETS = str.maketrans({"【": "[", "】": "]", "［": "[", "］": "]"})
IDENTITY = "spu_code"       # groups rows into a product: never merged
SKU_KEY = "sku_code"        # matches a row to the current revision's SKU


def is_clear_marker(value: Any) -> bool:
    return isinstance(value, str) and value.strip().translate(_BRACKETS).lower() in CLEAR_MARKERS


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _levels() -> tuple[frozenset[str], frozenset[str]]:
    from shangjia.spec import load_spec

    spec = load_spec()
    spu = frozenset(f.name for f in spec.fields if f.level == "spu") - {IDENTITY}
    sku = frozenset(f.name for f in spec.fields if f.level == "sku")
    return spu, sku


@dataclass(frozen=True)
class Change:
    field: str
    old: str | None
    new: str | None
    sku_code: str | None = None     # None: a product-level field
    row: int | None = None
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("field", self.field), ("sku_code", self.sku_code), ("old", self.old),
                                  ("new", self.new), ("row", self.row), ("column", self.column)) if v is not None}


@dataclass
class MergeResult:
    raw: Any                                  # the RawProduct to validate (blanks filled, markers cleared)
    snapshot: dict[str, Any]                  # the merged canonical content: what is stored as ``cells``
    changes: list[Change] = dc_field(default_factory=list)
    dropped_skus: list[str] = dc_field(default_factory=list)
    revision: bool = False                    # True when there was a current revision to merge with


def snapshot_of(raw) -> dict[str, Any]:
    """The canonical content of a raw product: product-level values (the first non-blank down its
    rows, as validation reads them) and each SKU row's values by SKU code, in sheet order."""
    spu_names, sku_names = _levels()
    spu: dict[str, str] = {}
    skus: list[list[Any]] = []
    for r in raw.rows:
        for k, v in r.cells.items():
            if k in spu_names and k not in spu and not _blank(v):
                spu[k] = str(v)
        cells = {k: str(v) for k, v in r.cells.items() if k in sku_names and not _blank(v)}
        if cells:
            skus.append([cells.get(SKU_KEY, ""), cells])
    return {"spu": spu, "skus": skus}


def merge_revision(raw, current: dict[str, Any] | None) -> MergeResult:
    """The upload ``raw`` (a ``RawProduct``) merged over ``current`` (a stored snapshot, or None
    for a product seen for the first time, when markers simply mean blank)."""
    from shangjia.sheets import RawProduct, RawRow

    spu_names, sku_names = _levels()
    cur_spu: dict[str, str] = dict((current or {}).get("spu") or {})
    cur_skus: dict[str, dict[str, str]] = {code: dict(cells) for code, cells in (current or {}).get("skus") or []
                                           if code}
    rows = [RawRow(r.row, dict(r.cells), dict(r.columns)) for r in raw.rows]
    changes: list[Change] = []

    # Product-level fields: the first non-blank value down the rows decides (a marker clears).
    for name in sorted(spu_names):
        src = next((r for r in rows if not _blank(r.cells.get(name))), None)
        if src is not None and is_clear_marker(src.cells[name]):
            for r in rows:
                r.cells.pop(name, None)
        elif src is None and name in cur_spu and rows:
            rows[0].cells[name] = cur_spu[name]
    # SKU-level fields: per row, against the current SKU of the same code.
    for r in rows:
        old = cur_skus.get(str(r.cells.get(SKU_KEY) or "").strip(), {})
        for name in sku_names - {SKU_KEY}:
            v = r.cells.get(name)
            if is_clear_marker(v):
                r.cells.pop(name, None)
            elif _blank(v) and name in old:
                r.cells[name] = old[name]
    merged = RawProduct(raw.spu_code, rows, list(raw.findings))
    snap = snapshot_of(merged)
    dropped: list[str] = []
    if current is not None and current.get("legacy"):
        codes = {str(r.cells.get(SKU_KEY) or "").strip() for r in rows}
        dropped = [code for code in cur_skus if code not in codes]
        changes = [Change(SKU_KEY, code, None, sku_code=code) for code in dropped]
    elif current is not None:
        first = rows[0] if rows else None
        new_spu = snap["spu"]
        for name in sorted(set(cur_spu) | set(new_spu)):
            if cur_spu.get(name) != new_spu.get(name):
                src = next((r for r in rows if name in r.cells), first)
                changes.append(Change(name, cur_spu.get(name), new_spu.get(name), row=src.row if src else None,
                                      column=src.columns.get(name) if src else None))
        new_codes = set()
        for r in rows:
            code = str(r.cells.get(SKU_KEY) or "").strip()
            if not code:
                continue
            new_codes.add(code)
            new = {k: str(v) for k, v in r.cells.items() if k in sku_names and not _blank(v)}
            if code not in cur_skus:
                changes.append(Change(SKU_KEY, None, code, sku_code=code, row=r.row, column=r.columns.get(SKU_KEY)))
                continue
            old = cur_skus[code]
            for name in sorted((set(old) | set(new)) - {SKU_KEY}):
                if old.get(name) != new.get(name):
                    changes.append(Change(name, old.get(name), new.get(name), sku_code=code, row=r.row,
                                          column=r.columns.get(name)))
        dropped = [code for code in cur_skus if code not in new_codes]
        changes += [Change(SKU_KEY, code, None, sku_code=code) for code in dropped]
    return MergeResult(merged, snap, changes, dropped, revision=current is not None)


def content_hash(snapshot: dict[str, Any], *, context: str = "") -> str:
    """The digest of a product's canonical content (``context``: anything else its meaning depends
    on, e.g. the folder its relative image names resolve in)."""
    doc = {"spu": dict(sorted((snapshot.get("spu") or {}).items())),
           "skus": [[code, dict(sorted(cells.items()))] for code, cells in snapshot.get("skus") or []],
           "context": context}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def legacy_snapshot(product: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record stored before snapshots were kept: its SKU codes only (so dropped SKUs are still
    found); its values are unknown, so blanks in the upload stay blank."""
    if not product or not product.get("skus"):
        return None
    return {"legacy": True, "spu": {},
            "skus": [[s["sku_code"], {SKU_KEY: s["sku_code"]}] for s in product["skus"] if s.get("sku_code")]}
