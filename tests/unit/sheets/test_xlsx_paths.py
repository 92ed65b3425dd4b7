"""The xlsx reader's fast path (whole rows cut at </row>, cells by one regex) must read every
sheet exactly as the general expat reader does, whatever shape the writer chose; and a sheet
cut short or broken must be refused, not read short."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits
from shangjia.sheets.xlsx import DateVal, ErrVal, Num, XlsxBook

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
STRINGS = ["商品编码", "红色 M", " 前后空格 ", "a&amp;b", "_x000D_回车", "=SUM(A1)", "多\n行"]


def _book(sheet_data: str, *, styles: str | None = None, strings=STRINGS, tail: str = "") -> XlsxBook:
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    files = {
        "[Content_Types].xml": "<Types/>",
        "xl/workbook.xml": f'<workbook {NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                           '<sheets><sheet name="商品" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}>{sst}</sst>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                    f'<worksheet {NS}><dimension ref="A1:C9"/>{sheet_data}{tail}</worksheet>',
    }
    if styles is not None:
        files["xl/styles.xml"] = f"<styleSheet {NS}>{styles}</styleSheet>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return XlsxBook(zipfile.ZipFile(io.BytesIO(buf.getvalue())), Limits(), "t.xlsx")


def _both(book: XlsxBook) -> list:
    part = book.sheets[0][1]
    rows = book.rows(part)
    assert rows.gi_code.co_name == "_rows_fast"              # the canonical shape takes the fast path
    fast = [(n, dict(c)) for n, c in rows]
    general = [(n, dict(c)) for n, c in book._rows_expat(book._chunks(part))]
    assert fast == general
    assert [[type(v) for v in c.values()] for _, c in fast] == [[type(v) for v in c.values()] for _, c in general]
    return fast


DATE_STYLES = ('<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy/mm/dd"/></numFmts>'
               '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="2"/><xf numFmtId="14"/></cellXfs>')


def test_the_shapes_writers_produce_read_the_same_by_both_paths():
    rows = (
        '<sheetData>'
        '<row r="1" spans="1:3"><c r="A1" t="s"><v>0</v></c><c r="B1" s="2"><v>1.23E+12</v></c><c r="C1" s="1"><v>45292</v></c></row>'
        '<row r="2"><c r="A2" s="3" t="s"><v>1</v></c><c r="B2" t="s" s="2"><v>2</v></c><c r="C2" s="3"><v>45292.5</v></c></row>'
        '<row r="3" customHeight="1"><c r="A3"><f>1+1</f><v>2</v></c><c r="B3" t="str"><f>A1&amp;"x"</f><v>红色x</v></c>'
        '<c r="C3" t="e"><v>#N/A</v></c></row>'
        '<row r="4"/><row r="5" hidden="1"><c r="A5" t="inlineStr"><is><t>内联 文本</t></is></c><c r="B5" t="b"><v>1</v></c>'
        '<c r="C5" s="1"/></row>'
        '<!-- a comment holding </row> in the middle --><row r="6"><c r="A6" t="s"><v>3</v></c><c r="B6" t="s"><v>4</v></c></row>'
        '<row r="7">\n  <c r="A7" t="s">\n    <v>5</v>\n  </c>\n  <c r="B7" t="n"><v>6901234567892</v></c>\n</row>'
        '<row><c t="s"><v>6</v></c><c><v>7</v></c></row>'
        '<row r="9"><c r="A9" t="d"><v>2024-01-01T00:00:00</v></c><c r="B9" t="s"><v>99</v></c><c r="C9"><v></v></c></row>'
        '</sheetData><rowBreaks count="1"><brk id="3" max="16383" man="1"/></rowBreaks>'
    )
    got = dict(_both(_book(rows, styles=DATE_STYLES)))
    assert got[1] == {"A": "商品编码", "B": "1.23E+12", "C": "2024-01-01"}
    assert type(got[1]["B"]) is Num and type(got[1]["C"]) is DateVal
    assert got[2] == {"A": "红色 M", "B": " 前后空格 ", "C": "2024-01-01 12:00:00"}
    assert got[3] == {"A": "2", "B": "红色x", "C": "#N/A"} and type(got[3]["C"]) is ErrVal
    assert got[5] == {"A": "内联 文本", "B": "TRUE"}
    assert got[6] == {"A": "a&b", "B": "\n回车"}                # _x000D_ is a carriage return, kept as a line break
    assert got[7] == {"A": "=SUM(A1)", "B": "6901234567892"}
    assert got[8] == {"A": "多\n行", "B": "7"}                  # rows and cells without r count on
    assert got[9] == {"A": "2024-01-01", "B": "#REF!"}          # a shared-string index out of range
    assert 4 not in got                                          # an empty row yields nothing


STYLE_ATTRS = ["", ' s="1"', ' s="2"', ' s="3"']


@pytest.mark.parametrize("chunk", [37, 1 << 18])
def test_random_sheets_read_the_same_by_both_paths(chunk, monkeypatch):
    """Rows, tags and UTF-8 characters cut across inflate chunks included."""
    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", chunk)
    rng = random.Random(7)
    read = 0
    for _ in range(40):
        out = ["<sheetData>"]
        r = 0
        for _row in range(rng.randint(0, 60)):
            r += rng.randint(1, 3)
            cells = []
            for col in rng.sample("ABCDEFGHIJ", rng.randint(0, 6)):
                kind = rng.random()
                style = rng.choice(STYLE_ATTRS)
                if kind < 0.5:
                    cells.append(f'<c r="{col}{r}"{style} t="s"><v>{rng.randrange(len(STRINGS))}</v></c>')
                elif kind < 0.8:
                    cells.append(f'<c r="{col}{r}"{style}><v>{rng.choice(["12", "0.5", "45000", "1E+20"])}</v></c>')
                elif kind < 0.9:
                    cells.append(f'<c r="{col}{r}" s="2"/>')
                else:
                    cells.append(f'<c r="{col}{r}"><f>1+1</f><v>2</v></c>')
            cells.sort(key=lambda c: c[6])
            out.append(f'<row r="{r}">{"".join(cells)}</row>' if cells or rng.random() < 0.5 else f'<row r="{r}"/>')
        out.append("</sheetData>")
        read += len(_both(_book("".join(out), styles=DATE_STYLES if rng.random() < 0.5 else None)))
    assert read > 500                                         # the sheets held rows, and both paths read them


@pytest.mark.parametrize("data", [
    '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v>',
    '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>',
    '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2">',
])
def test_a_sheet_cut_short_is_refused_not_read_short(data):
    book = _book(data)
    with pytest.raises(FindingError) as e:
        list(book.rows(book.sheets[0][1]))
    assert e.value.finding.code == "SHEET_CORRUPT"


def test_row_breaks_after_the_data_are_not_mistaken_for_a_cut():
    book = _book('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"/></sheetData>',
                 tail='<rowBreaks count="1"><brk id="1"/></rowBreaks>')
    assert [n for n, _ in book.rows(book.sheets[0][1])] == [1]


@pytest.mark.parametrize("data,rows", [
    ('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="5"/><row><c r="A6" t="s"><v>1</v></c></row></sheetData>', [1, 6]),
    ('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row/><row><c t="s"><v>1</v></c></row></sheetData>', [1, 3]),
])
def test_empty_rows_written_self_closed_still_count(data, rows):
    assert [n for n, _ in _both(_book(data))] == rows
