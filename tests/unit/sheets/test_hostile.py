"""Hostile and broken uploads end the batch with a specific reason; nothing crashes or balloons."""

from __future__ import annotations

import io
import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet

from .kit import product_rows, to_csv, to_xlsx


def refused(data: bytes, name: str = "x.xlsx", limits: Limits | None = None):
    with pytest.raises(FindingError) as e:
        r = open_sheet(data, name, limits)
        list(r.products())
    return e.value.finding


def rezip(data: bytes, replace: dict[str, bytes], level=zipfile.ZIP_DEFLATED) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", level) as z:
        for i in src.infolist():
            z.writestr(i.filename, replace.get(i.filename, src.read(i.filename)))
        for k, v in replace.items():
            if k not in src.namelist():
                z.writestr(k, v)
    return out.getvalue()


def test_zip_bomb_is_refused_from_declared_sizes_before_inflating():
    good = to_xlsx(product_rows("Z1"))
    sheet = zipfile.ZipFile(io.BytesIO(good)).read("xl/worksheets/sheet1.xml")
    padded = sheet.replace(b"</worksheet>", b" " * (40 * 2**20) + b"</worksheet>")
    f = refused(rezip(good, {"xl/worksheets/sheet1.xml": padded}))
    assert f.code == "SHEET_ZIP_BOMB" and ":1" in f.message_en
    f = refused(good, limits=Limits(max_unpacked_bytes=10_000))
    assert f.code == "SHEET_ZIP_BOMB"


def test_xml_entity_bomb_is_refused():
    good = to_xlsx(product_rows("E1"))
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
           b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><sst xmlns="http://schemas.openxmlformats.org/'
           b'spreadsheetml/2006/main"><si><t>&lol3;</t></si></sst>')
    assert refused(rezip(good, {"xl/sharedStrings.xml": lol})).code == "SHEET_HOSTILE_XML"
    ext = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><workbook>&e;</workbook>'
    assert refused(rezip(good, {"xl/workbook.xml": ext})).code == "SHEET_HOSTILE_XML"


def test_truncated_and_mangled_files():
    good = to_xlsx(product_rows("T1"))
    assert refused(good[: len(good) // 2]).code == "SHEET_CORRUPT"
    bad_xml = rezip(good, {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row><c>"})
    assert refused(bad_xml).code == "SHEET_CORRUPT"
    assert refused(b"\x00\x01\x02\x03" * 100, "x.csv").code == "SHEET_NOT_SPREADSHEET"
    assert refused(b"<html><body><table><tr><td>1</td></tr></table></body></html>", "x.xls").code == \
        "SHEET_UNSUPPORTED_FORMAT"


def test_too_many_rows_or_columns_or_bytes():
    rows = sum((product_rows(f"R{i}") for i in range(3)), [])
    f = refused(to_xlsx(rows), limits=Limits(max_rows=5))
    assert f.code == "SHEET_TOO_MANY_ROWS" and "5" in f.message_en
    assert refused(to_csv(rows), "x.csv", Limits(max_rows=5)).code == "SHEET_TOO_MANY_ROWS"
    assert refused(to_csv(rows), "x.csv", Limits(max_columns=10)).code == "SHEET_TOO_MANY_COLUMNS"
    assert refused(to_csv(rows), "x.csv", Limits(max_bytes=100)).code == "SHEET_TOO_LARGE"


def test_merchant_traps_in_xlsx_formulas_dates_merged_headers_hidden_sheets_blank_rows():
    import xlsxwriter
    from .kit import SPEC, HEADERS

    rows = product_rows("F1", grid=(("红色", "M"), ("黑色", "M")))
    names = [f.name for f in SPEC.fields]
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    hidden = wb.add_worksheet("类目")
    hidden.write_string(0, 0, "hidden lists")
    hidden.hide()
    ws = wb.add_worksheet("商品上传")
    datefmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.merge_range(0, 0, 0, 5, "2026 春季上新（请勿修改表头）")            # a merged title row
    for c, n in enumerate(names):
        if n in ("price", "market_price"):
            continue
        ws.write_string(2, c, HEADERS[n])
    pc, mc = names.index("price"), names.index("market_price")
    ws.merge_range(1, pc, 1, mc, "价格")                                  # a group header over two
    ws.write_string(2, pc, "售价")
    ws.write_string(2, mc, "划线价")
    r = 3
    for row in rows:
        for c, n in enumerate(names):
            v = row.get(n)
            if v in (None, ""):
                continue
            if n == "price":
                ws.write_formula(r, c, "=ROUND(50*1.98,2)", None, 99)       # a formula: its cached value
            else:
                ws.write_string(r, c, str(v) + ("   " if n == "brand" else ""))
        r += 2                                                           # a blank row between SKUs
    from datetime import datetime
    ws.write_datetime(3, names.index("model"), datetime(2026, 3, 12), datefmt)   # Excel turned "3-12" into a date
    wb.close()

    reader = open_sheet(out.getvalue(), "traps.xlsx")
    assert reader.info.sheet_name == "商品上传" and reader.info.header_row == 3
    (p,) = list(reader.products())
    assert [r.row for r in p.rows] == [4, 6]
    assert p.rows[0].cells["price"] == "99" and p.rows[0].cells["brand"] == "无品牌"
    assert p.rows[0].cells["model"] == "2026-03-12"
    d = next(f for f in p.findings if f.code == "DATE_CONVERTED")
    assert d.row == 4 and d.column == "E"


def test_xlsm_is_read_and_its_macros_are_never_run():
    good = to_xlsx(product_rows("V1"))
    xlsm = rezip(good, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 not run"})
    r = open_sheet(xlsm, "macro.xlsm")
    assert r.info.format == "xlsm" and [f.code for f in r.findings] == ["SHEET_MACROS_IGNORED"]
    assert [p.spu_code for p in r.products()] == ["V1"]


@pytest.mark.parametrize("stored", ["1E+5000", "1E+99999999", "sNaN", "Infinity"])
def test_a_code_stored_as_an_absurd_number_is_reported_not_expanded(stored):
    """Excel would never write these, a hostile file can: an 11-character cell must not make
    the reader build a 100-million-digit number."""
    import re
    data = to_xlsx(product_rows("H1", grid=(("红色", "M"),)), numbers=("stock",))
    z = zipfile.ZipFile(io.BytesIO(data))
    parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'<c r="W2" t="s"><v>\d+</v></c>',
                                               b'<c r="W2"><v>' + stored.encode() + b'</v></c>',
                                               parts["xl/worksheets/sheet1.xml"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as w:
        for n, b in parts.items():
            w.writestr(n, b)
    p = list(open_sheet(out.getvalue(), "h.xlsx").products())[0]
    assert p.rows[0].cells["sku_code"] == stored
    assert [f.code for f in p.findings if f.row == 2] == ["CODE_PRECISION_LOST"]
