import json

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import SHEET_SUFFIXES, RawProduct, open_sheet

from .kit import GOOD_SPU, product_rows, to_csv, to_xlsx


def products(data: bytes, name: str):
    return list(open_sheet(data, name).products())


def test_xlsx_rows_group_into_products_with_product_columns_blank_after_the_first_row():
    rows = product_rows("A1") + product_rows("B2", grid=(("白色", "S"),))
    got = products(to_xlsx(rows), "goods.xlsx")
    assert [p.spu_code for p in got] == ["A1", "B2"]
    assert [r.row for r in got[0].rows] == [2, 3, 4, 5]
    assert got[0].rows[0].cells["title"] == GOOD_SPU["title"]
    assert got[0].rows[1].cells["sku_code"] == "A1-2"
    assert got[0].rows[0].columns["sku_code"] == "W"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_gbk_reads_the_same(encoding):
    got = products(to_csv(product_rows("甲01"), encoding=encoding), "货品.csv")
    assert got[0].spu_code == "甲01"
    assert got[0].rows[0].cells["title"] == GOOD_SPU["title"]


def test_utf16_tab_separated_taobao_shape():
    data = to_csv(product_rows("T1"), encoding="utf-16", delimiter="\t")
    r = open_sheet(data, "taobao.csv")
    assert r.info.encoding.startswith("utf-16") and r.info.delimiter == "\t"
    assert list(r.products())[0].rows[0].cells["ship_from"] == "浙江杭州"


def test_header_is_found_below_title_rows_and_english_headers_map():
    en = {n: n.replace("_", " ") for n in GOOD_SPU} | {"sku_code": "SKU code", "spec_values": "Spec values",
          "price": "Price", "market_price": "Market price", "cost_price": "Cost price", "stock": "Stock",
          "weight_kg": "Weight (kg)", "package_size_cm": "Package size (cm)", "gallery_images": "Gallery images",
          "detail_images": "Detail images", "main_image": "Main image", "attribute_tags": "Attribute tags",
          "selling_points": "Selling points", "shipping_template": "Shipping template",
          "return_policy": "Return policy", "ship_from": "Ships from", "dispatch_days": "Dispatch days",
          "spu_code": "Product code", "video": "Video", "promo_price": "Promo price", "barcode": "Barcode",
          "key_product": "Key product"}
    r = open_sheet(to_xlsx(product_rows("E1"), title_rows=("2026 夏季上新", "", "填写说明：见模板"), header=en), "en.xlsx")
    assert r.info.header_row == 4
    assert [p.spu_code for p in r.products()] == ["E1"]


def test_excel_traps_numbers_codes_fullwidth_spaces():
    rows = product_rows("P9", grid=(("红色", "M"),))
    rows[0].update(sku_code="6901234567892", price="1299", stock="12", barcode="6901234567892")
    rows[0]["title"] = "  " + rows[0]["title"] + "  "
    got = products(to_xlsx(rows, numbers=("sku_code", "price", "stock", "barcode")), "n.xlsx")[0]
    c = got.rows[0].cells
    assert c["sku_code"] == "6901234567892" and c["barcode"] == "6901234567892"
    assert c["price"] == "1299" and c["stock"] == "12"
    assert c["title"] == GOOD_SPU["title"]
    assert [f.code for f in got.findings] == ["CODE_STORED_AS_NUMBER"]
    assert {type(v) for v in c.values()} == {str}       # cleaned cells are plain text, whatever Excel kept

    rows[0].update(sku_code="１２３４５", price="￥１，２９９．００")
    c = products(to_csv(rows), "fw.csv")[0].rows[0].cells
    assert c["sku_code"] == "12345" and c["price"] == "¥1,299.00"


def test_code_saved_as_scientific_notation_is_reported_not_guessed():
    rows = product_rows("P1", grid=(("红色", "M"),))
    rows[0]["sku_code"] = "6.90123E+12"
    got = products(to_csv(rows), "sci.csv")[0]
    f = [f for f in got.findings if f.code == "CODE_PRECISION_LOST"][0]
    assert f.row == 2 and f.column == "W" and f.value == "6.90123E+12"


def test_duplicate_sku_across_products_and_split_products_are_flagged_by_row():
    rows = product_rows("A", grid=(("红色", "M"),)) + product_rows("B", grid=(("红色", "M"),)) + \
        product_rows("A", grid=(("黑色", "M"),))
    rows[1]["sku_code"] = "A-1"
    got = products(to_csv(rows), "d.csv")
    assert [p.spu_code for p in got] == ["A", "B", "A"]
    assert [(f.code, f.row) for f in got[1].findings] == [("SKU_DUPLICATE", 3)]
    assert "ROW_SPLIT_PRODUCT" in [f.code for f in got[2].findings]


def test_raw_product_round_trips_through_json():
    p = products(to_csv(product_rows("R1")), "r.csv")[0]
    d = json.loads(json.dumps(p.to_dict(), ensure_ascii=False))
    back = RawProduct.from_dict(d)
    assert back.spu_code == p.spu_code and [r.cells for r in back.rows] == [r.cells for r in p.rows]
    assert back.rows[3].columns == p.rows[3].columns


def test_resume_after_a_checkpoint_neither_repeats_nor_skips_products():
    rows = sum((product_rows(f"S{i}") for i in range(5)), [])
    data = to_xlsx(rows)
    first = list(open_sheet(data, "x.xlsx").products())
    checkpoint = first[1].last_row
    rest = list(open_sheet(data, "x.xlsx").products(start_after_row=checkpoint))
    assert [p.spu_code for p in rest] == ["S2", "S3", "S4"]


def test_suffixes_and_refusals_have_specific_reasons(tmp_path):
    assert {".xlsx", ".xlsm", ".csv"} <= SHEET_SUFFIXES
    cases = {
        b"": "SHEET_EMPTY",
        b"%PDF-1.7 binary": "SHEET_NOT_SPREADSHEET",
        b"PK\x03\x04garbage-not-a-zip": "SHEET_CORRUPT",
    }
    for data, code in cases.items():
        with pytest.raises(FindingError) as e:
            open_sheet(data, "a.xlsx")
        assert e.value.finding.code == code and e.value.finding.file == "a.xlsx"
    with pytest.raises(FindingError) as e:
        open_sheet(b"just,some,words\n1,2,3\n", "a.csv")
    assert e.value.finding.code == "SHEET_NO_HEADER"


def test_missing_required_column_names_it():
    data = to_csv(product_rows("M1")).replace("售价".encode(), "价钱".encode())
    with pytest.raises(FindingError) as e:
        open_sheet(data, "m.csv")
    assert e.value.finding.code == "SHEET_MISSING_COLUMN" and "售价" in e.value.finding.message_zh


def test_product_columns_differing_on_later_rows_are_dropped_with_a_warning():
    rows = product_rows("D1", grid=(("红色", "M"), ("黑色", "M"), ("白色", "M")))
    rows[1].update(title="另一个标题也很长", brand="无品牌")
    rows[2].update(title="第三个标题也很长")
    (p,) = products(to_csv(rows), "d.csv")
    assert [f.code for f in p.findings] == ["ROW_PRODUCT_CONFLICT"] and p.findings[0].row == 3
    assert "title" not in p.rows[1].cells and "title" not in p.rows[2].cells and "brand" not in p.rows[1].cells
