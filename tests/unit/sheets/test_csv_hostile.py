"""Hostile cells in a CSV get what the same cells get in an .xlsx: a located finding on that cell
(row, column, code, zh/en message), and the rest of the file flows.

- NUL and the other C0 control characters XML 1.0 cannot carry (so an .xlsx cannot hold them as
  text): before, a title with NULs was read as is and judged valid; now the cell is reported
  (CELL_CONTROL_CHAR) and the characters are removed from the value.
- A cell over ``Limits.max_cell_chars``: before, a 10 MB cell tripped ``csv``'s 128 KiB field
  limit and refused the whole file as SHEET_CORRUPT; now it is cut with CELL_TOO_LONG at its
  row and column, exactly as the .xlsx reader does.
"""

from __future__ import annotations

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet
from shangjia.validation import validate_product

from .kit import product_rows, to_csv, to_xlsx

C0_XML_FORBIDS = [c for c in map(chr, range(0x20)) if c not in "\t\n\r"]


def read(data: bytes, name: str, limits: Limits | None = None):
    with open_sheet(data, name, limits) as r:
        return r.info, list(r.products())


def located(products, code: str) -> list[tuple[int, str, str]]:
    return [(f.row, f.column, f.field) for p in products for f in p.findings if f.code == code]


def two_products(**first_over) -> list[dict]:
    return product_rows("P1", **first_over) + product_rows("P2")


@pytest.mark.parametrize("bad", ["简约\x00T恤\x00\x00夏季", "\x00", "T恤\x1b[31m红\x1b[0m", "a\x01b\x08c\x0bd\x0ce\x1f"],
                         ids=["NULs", "only NUL", "escape codes", "assorted C0"])
def test_control_characters_in_a_csv_cell_are_a_located_finding(ctx, bad):
    info, products = read(to_csv(two_products(title=bad)), "c.csv")
    title_col = info.columns["title"]
    assert located(products, "CELL_CONTROL_CHAR") == [(2, title_col, "title")]
    f = next(f for f in products[0].findings if f.code == "CELL_CONTROL_CHAR")
    assert f.is_error and f.message_zh and f.message_en and (f.row, f.column) == (2, title_col)
    title = products[0].rows[0].cells.get("title", "")
    assert not any(c in title for c in C0_XML_FORBIDS), repr(title)
    res = [validate_product(p, ctx) for p in products]
    assert not res[0].valid and "CELL_CONTROL_CHAR" in {f.code for f in res[0].findings}
    assert res[1].valid, res[1].findings                  # the other product flows


@pytest.mark.parametrize("ch", C0_XML_FORBIDS, ids=lambda c: f"U+{ord(c):04X}")
def test_every_c0_character_xml_forbids_is_reported(ch):
    info, products = read(to_csv(product_rows("P1", brand=f"品牌{ch}X")), "c.csv")
    assert located(products, "CELL_CONTROL_CHAR") == [(2, info.columns["brand"], "brand")]


def test_tabs_and_line_breaks_inside_a_quoted_cell_are_not_control_findings():
    info, products = read(to_csv(product_rows("P1", description="第一行\n第二行\t缩进\r\n第三行。" * 3)), "c.csv")
    assert located(products, "CELL_CONTROL_CHAR") == []


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16"])
def test_control_characters_are_found_whatever_the_encoding(encoding):
    info, products = read(to_csv(product_rows("P1", title="简约\x00T恤"), encoding=encoding), "c.csv")
    assert located(products, "CELL_CONTROL_CHAR") == [(2, info.columns["title"], "title")]


def test_a_control_character_in_a_sku_row_is_located_on_that_row():
    rows = product_rows("P1")
    rows[2]["sku_code"] = "P1-\x003"
    info, products = read(to_csv(rows), "c.csv")
    assert located(products, "CELL_CONTROL_CHAR") == [(4, info.columns["sku_code"], "sku_code")]
    assert [r.cells["sku_code"] for r in products[0].rows][2] == "P1-3"


def test_a_10_mb_csv_cell_is_cut_and_located_like_xlsx_and_the_other_rows_flow():
    rows = two_products(description="长" * (10 * 2**20 // 3))       # ~10 MB of UTF-8
    info, products = read(to_csv(rows), "big.csv")
    col = info.columns["description"]
    assert located(products, "CELL_TOO_LONG") == [(2, col, "description")]
    limit = Limits().max_cell_chars
    assert len(products[0].rows[0].cells["description"]) == limit
    assert [p.spu_code for p in products] == ["P1", "P2"]
    assert [len(p.rows) for p in products] == [4, 4]
    f = next(f for f in products[0].findings if f.code == "CELL_TOO_LONG")
    assert str(limit) in f.message_en and str(limit) in f.message_zh


def test_csv_and_xlsx_agree_on_an_over_long_cell():
    rows = two_products(selling_points="x" * 300_000)
    got = {}
    for name, data in (("a.csv", to_csv(rows)), ("a.xlsx", to_xlsx(rows))):
        info, products = read(data, name)
        got[name] = ([(f.code, f.row, f.column, f.field) for p in products for f in p.findings],
                     [p.spu_code for p in products], products[0].rows[0].cells["selling_points"])
    assert got["a.csv"] == got["a.xlsx"]
    assert got["a.csv"][0] == [("CELL_TOO_LONG", 2, got["a.csv"][0][0][2], "selling_points")]


def test_a_huge_cell_in_an_unmapped_column_does_not_refuse_the_file():
    rows = two_products()
    data = to_csv(rows).decode("utf-8").split("\r\n")
    data[1] = data[1] + ',"' + "z" * (3 * 2**20) + '"'          # an extra, unnamed column on P1's first row
    info, products = read("\r\n".join(data).encode("utf-8"), "c.csv")
    assert [p.spu_code for p in products] == ["P1", "P2"]


def test_the_file_size_limit_still_refuses_a_file_too_big():
    rows = product_rows("P1", description="长" * (3 * 2**20))
    with pytest.raises(FindingError) as e:
        read(to_csv(rows), "c.csv", Limits(max_bytes=2 * 2**20))
    assert e.value.finding.code == "SHEET_TOO_LARGE"
