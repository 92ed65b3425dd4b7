"""The xlsx reader on real third-party files, and the other ways rows come in."""

import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet, products_from_records
from shangjia.sheets.xlsx import DateVal, Num, XlsxBook

from .kit import product_rows, to_csv, to_xlsx


def book(corpus_dir, name):
    return XlsxBook(zipfile.ZipFile(corpus_dir / "sheets" / name), Limits(), name)


def first_rows(b, n=3):
    return list(b.rows(b.sheets[0][1]))[:n]


@pytest.mark.corpus
def test_dates_read_the_same_in_the_1900_and_1904_systems(corpus_dir):
    a, b = book(corpus_dir, "date.xlsx"), book(corpus_dir, "date_1904.xlsx")
    assert not a.date1904 and b.date1904
    ra, rb = first_rows(a, 2), first_rows(b, 2)
    assert ra == rb and ra[0][1]["A"] == "2021-01-01" and isinstance(ra[0][1]["A"], DateVal)


@pytest.mark.corpus
def test_writers_quirks_prefixes_utf16_formulas_wps_paths(corpus_dir):
    rich = first_rows(book(corpus_dir, "richtext-namespaced.xlsx"), 1)[0][1]
    assert rich == {"A": "inline string\nLine 2\nLine 3", "H": "shared string\nLine 2\nLine 3"}
    assert first_rows(book(corpus_dir, "utf16be.bom.xlsx"), 1)[0][1] == {"A": "1"}
    f = first_rows(book(corpus_dir, "shared_formula_simple.xlsx"))
    assert [r[1]["B"] for r in f] == ["2", "4", "6"] and isinstance(f[0][1]["B"], Num)   # cached values
    wps = book(corpus_dir, "issue_530.xlsx")                      # backslash zip paths, Chinese sheet name
    assert first_rows(wps, 1)[0][1]["A"] == "报表导出人："
    hdr = first_rows(book(corpus_dir, "header-row.xlsx"), 2)
    assert [r[0] for r in hdr] == [3, 9]                          # blank rows skipped, numbers kept


@pytest.mark.corpus
def test_hidden_and_chart_sheets_are_skipped(corpus_dir):
    b = book(corpus_dir, "any_sheets.xlsx")
    states = {name: state for name, _, state in b.sheets}
    assert states["Hidden"] == "hidden" and states["VeryHidden"] == "veryHidden"
    with pytest.raises(FindingError) as e:
        open_sheet(corpus_dir / "sheets" / "any_sheets.xlsx", "any_sheets.xlsx")
    assert "hidden, skipped: Hidden, VeryHidden" in e.value.finding.message_en


def test_a_hidden_first_sheet_does_not_hide_the_products():
    r = open_sheet(to_xlsx(product_rows("H1"), hidden_first=True), "h.xlsx")
    assert r.info.sheet_name == "商品" and [p.spu_code for p in r.products()] == ["H1"]


def test_progress_is_reported_with_a_total():
    rows = sum((product_rows(f"P{i}") for i in range(600)), [])
    r = open_sheet(to_xlsx(rows), "big.xlsx")
    seen = []
    r.on_progress = lambda n, total: seen.append((n, total))
    assert sum(1 for _ in r.products()) == 600
    assert seen[0] == (2000, 2400) and seen[-1] == (2400, 2400)      # data rows: the header is not counted


def test_records_from_a_webhook_go_through_the_same_mapping_and_grouping(ctx):
    from shangjia.validation import validate_product
    recs = product_rows("W1")
    recs[0] = {("商品标题" if k == "title" else k): v for k, v in recs[0].items()}   # a header alias as key
    recs[1]["price"] = 88
    (p,) = list(products_from_records(recs, "erp"))
    assert p.spu_code == "W1" and len(p.rows) == 4 and p.rows[1].cells["price"] == "88"
    assert validate_product(p, ctx).valid
    with pytest.raises(FindingError) as e:
        list(products_from_records([{"spu_code": "x", "title": "t"}]))
    assert e.value.finding.code == "SHEET_NO_HEADER"


def test_csv_semicolon_with_sep_line_and_gbk_with_title_rows():
    data = b"sep=;\r\n" + to_csv(product_rows("C1"), delimiter=";", encoding="gbk", title_rows=("商品导入表",))
    r = open_sheet(data, "c.csv")
    assert r.info.delimiter == ";" and r.info.encoding == "gb18030"
    assert r.info.header_row == 2 and [p.spu_code for p in r.products()] == ["C1"]
