"""The re-upload rule (shangjia/revisions.py): a blank cell keeps the current value, [清空]/[clear]
clears it, dropped SKUs are found, changes are listed, and the content hash ignores positions."""

import pytest

from shangjia.revisions import content_hash, is_clear_marker, legacy_snapshot, merge_revision, snapshot_of
from shangjia.sheets import products_from_records
from shangjia.sheets.samples import sample_rows
from shangjia.validation import ValidationContext, validate_product


def _product_rows(seed=3, promo=True):
    for rows, _ in sample_rows(20, seed=seed):
        if len(rows) >= 2:
            rows = [dict(r) for r in rows]
            if promo:
                for r in rows:
                    r["promo_price"] = round(float(r["price"]) * 0.9, 2)
            return rows
    raise AssertionError("no multi-SKU sample")


def _raw(rows):
    (raw,) = list(products_from_records(rows, "erp"))
    return raw


def _sku(product, code):
    return next(s for s in product["skus"] if s["sku_code"] == code)


@pytest.mark.parametrize("marker", ["[清空]", "[clear]", " [CLEAR] ", "【清空】", "［clear］"])
def test_markers(marker):
    assert is_clear_marker(marker)


@pytest.mark.parametrize("value", ["", None, "清空", "clear", "[clear] me", 0])
def test_not_markers(value):
    assert not is_clear_marker(value)


def test_a_blank_cell_keeps_the_current_value_and_a_marker_clears_it():
    rows = _product_rows()
    first = merge_revision(_raw(rows), None)
    assert not first.revision and first.changes == [] and first.dropped_skus == []
    code0, code1 = rows[0]["sku_code"], rows[1]["sku_code"]
    again = [dict(r) for r in rows]
    again[0]["promo_price"] = ""            # blank: keep
    again[0]["barcode"] = ""                # blank: keep
    again[0]["brand"] = ""                  # product-level blank: keep
    again[1]["promo_price"] = "[清空]"      # marker: clear
    again[1]["barcode"] = "[clear]"
    m = merge_revision(_raw(again), first.snapshot)
    product = validate_product(m.raw, ValidationContext(merchant_id="M")).product
    old = validate_product(first.raw, ValidationContext(merchant_id="M")).product
    assert _sku(product, code0).get("promo_price_fen") == _sku(old, code0).get("promo_price_fen") is not None
    assert _sku(product, code0).get("barcode") == _sku(old, code0).get("barcode")
    assert product["brand"] == old["brand"] != ""
    assert not _sku(product, code1).get("promo_price_fen") and not _sku(product, code1).get("barcode")
    changed = {(c.sku_code, c.field): (c.old, c.new) for c in m.changes}
    assert set(changed) == {(code1, "promo_price"), (code1, "barcode")}
    assert all(new is None and old for old, new in changed.values())
    assert content_hash(m.snapshot) != content_hash(first.snapshot)


def test_a_column_the_upload_lacks_keeps_its_values_too():
    rows = _product_rows()
    first = merge_revision(_raw(rows), None)
    again = [{k: v for k, v in r.items() if k != "promo_price"} for r in rows]
    m = merge_revision(_raw(again), first.snapshot)
    assert m.changes == [] and content_hash(m.snapshot) == content_hash(first.snapshot)


def test_dropped_and_added_skus_are_found_and_listed():
    rows = _product_rows()
    first = merge_revision(_raw(rows), None)
    gone = rows[-1]["sku_code"]
    again = [dict(r) for r in rows[:-1]]
    again.append({**dict(rows[-1]), "spu_code": rows[0]["spu_code"], "sku_code": "NEW-SKU-1"})
    if len(rows) == 2:                       # the first row carries the product columns
        again[-1] = {"spu_code": rows[0]["spu_code"], **{k: v for k, v in rows[-1].items() if k != "spu_code"},
                     "sku_code": "NEW-SKU-1"}
    m = merge_revision(_raw(again), first.snapshot)
    assert m.dropped_skus == [gone]
    kinds = {(c.field, c.old, c.new) for c in m.changes if c.field == "sku_code"}
    assert ("sku_code", gone, None) in kinds and ("sku_code", None, "NEW-SKU-1") in kinds


def test_the_hash_ignores_positions_and_sees_content():
    rows = _product_rows()
    a = merge_revision(_raw(rows), None)
    moved = _raw(rows)
    for r in moved.rows:                     # the same product further down another sheet
        r.row += 40
        r.columns = {k: "Z" + v for k, v in r.columns.items()}
    b = merge_revision(moved, None)
    assert content_hash(a.snapshot) == content_hash(b.snapshot)
    assert content_hash(a.snapshot, context="m/a") != content_hash(a.snapshot, context="m/b")
    edited = [dict(r) for r in rows]
    edited[0]["stock"] = int(edited[0]["stock"]) + 1
    assert content_hash(merge_revision(_raw(edited), None).snapshot) != content_hash(a.snapshot)
    # merging an upload over its own snapshot is idempotent
    again = merge_revision(_raw(rows), a.snapshot)
    assert again.changes == [] and content_hash(again.snapshot) == content_hash(a.snapshot)
    assert snapshot_of(again.raw) == again.snapshot


def test_a_legacy_record_still_finds_dropped_skus_without_listing_every_value():
    rows = _product_rows()
    old = validate_product(_raw(rows), ValidationContext(merchant_id="M")).product
    m = merge_revision(_raw(rows[:1]), legacy_snapshot(old))
    assert m.dropped_skus == [r["sku_code"] for r in rows[1:]]
    assert {c.field for c in m.changes} == {"sku_code"}


def test_the_template_instructions_name_the_clear_marker(tmp_path):
    import openpyxl

    from shangjia.reports import write_template

    write_template(tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["填写说明 Instructions"]
    text = "\n".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c)
    assert "[清空]" in text and "[clear]" in text and "keeps its current value" in text
