import json

import openpyxl

from shangjia.cli import main
from shangjia.reports import neutralise, write_error_report, write_template
from shangjia.sheets import open_sheet
from shangjia.sheets.samples import write_sample_workbook
from shangjia.validation import validate_product

from .kit import product_rows, to_xlsx


def test_neutralise_formula_like_text():
    assert neutralise("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert [neutralise(s) for s in ("+1", "-5", "@a", "ok", "")] == ["'+1", "'-5", "'@a", "ok", ""]


def test_template_marks_required_columns_has_dropdowns_instructions_and_an_example(tmp_path):
    p = tmp_path / "t.xlsx"
    write_template(p, shipping_templates=["满99包邮", "全国包邮"])
    wb = openpyxl.load_workbook(p)
    assert wb.sheetnames[:3] == ["商品 Products", "示例 Example", "填写说明 Instructions"]
    assert wb["lists"].sheet_state == "hidden"
    ws = wb["商品 Products"]
    heads = [c.value for c in ws[1]]
    assert heads[0] == "*商品编码\nProduct code" and "条形码\nBarcode" in heads
    assert sum(1 for h in heads if h.startswith("*")) == 25   # + material, video (by category), spec (multi-SKU)
    sources = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
               for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert "lists" in sources["C"] and "lists" in sources["P"]
    ships = [wb["lists"].cell(r, 2).value for r in range(2, 4)]
    assert ships == ["满99包邮", "全国包邮"]
    assert len([c for c in wb["lists"]["A"] if c.value]) - 1 >= 60
    # the template reads back as an empty product sheet; the example is a valid two-spec product
    r = open_sheet(p, "t.xlsx")
    assert r.info.layout == "shangjia" and list(r.products()) == []


def test_the_templates_example_product_validates(tmp_path, ctx):
    from shangjia.reports.template import EXAMPLE
    res = validate_product(next(open_sheet(to_xlsx(EXAMPLE), "e.xlsx").products()), ctx)
    assert res.valid, res.findings
    assert len(res.product["skus"]) == 2


def test_error_report_highlights_comments_lists_and_summarises(tmp_path, ctx):
    rows = product_rows("R1") + product_rows("R2", grid=(("红色", "M"),))
    rows[0]["title"] = "=1+1 最佳T恤"                         # formula-looking text with a banned term
    rows[4]["price"] = "abc"                                   # sheet row 6
    data = to_xlsx(rows)
    results = [validate_product(p, ctx) for p in open_sheet(data, "m.xlsx").products()]
    out = tmp_path / "report.xlsx"
    s = write_error_report(out, data, "m.xlsx", [f for r in results for f in r.findings],
                           products=2, invalid_products=2)
    # the formula-looking title is itself an error on its cell (FIELD_FORMULA_LIKE), besides the banned term
    assert s.by_code == {"BANNED_TERM": 1, "FIELD_FORMULA_LIKE": 1, "PRICE_FORMAT": 1} and not s.refused
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["商品", "错误明细 Errors", "汇总 Summary"]
    ws = wb["商品"]
    title = ws["B2"]
    assert title.value == "=1+1 最佳T恤" and title.data_type == "s" and title.quotePrefix
    assert title.fill.fgColor.rgb.endswith("FFC7CE") and "违禁词" in title.comment.text
    assert ws["Y6"].comment and "abc" in ws["Y6"].comment.text
    result_col = ws.max_column
    assert ws.cell(1, result_col).value == "校验结果 Result" and ws.cell(3, result_col).value == "✓"
    errs = wb["错误明细 Errors"]
    codes = {errs.cell(r, 4).value for r in range(2, errs.max_row + 1)}
    assert {"BANNED_TERM", "PRICE_FORMAT"} <= codes
    for r in range(2, errs.max_row + 1):
        for c in range(1, 11):
            v = errs.cell(r, c).value
            assert not (isinstance(v, str) and v[:1] in "=+-@"), v
    # rows whose messages wrap are tall enough (LibreOffice and WPS do not grow them themselves)
    banned = next(r for r in range(2, errs.max_row + 1) if errs.cell(r, 4).value == "BANNED_TERM")
    assert (errs.row_dimensions[banned].height or 15) >= 30
    assert (ws.row_dimensions[2].height or 15) >= 30                 # its result cell wraps too
    # fixing cells in the report and uploading it again works: the report is a valid upload
    assert len(list(open_sheet(out, "report.xlsx").products())) == 2


def test_report_for_a_refused_file(tmp_path):
    out = tmp_path / "r.xlsx"
    s = write_error_report(out, b"", "empty.xlsx", [])
    assert s.refused and s.by_code == {"SHEET_EMPTY": 1}
    ws = openpyxl.load_workbook(out)["汇总 Summary"]
    assert any("文件被拒收" in str(c.value) for row in ws.iter_rows() for c in row)


def test_cli_template_and_validate_json_and_report(tmp_path, capsys):
    tpl = tmp_path / "t.xlsx"
    assert main(["template", str(tpl)]) == 0 and tpl.exists()
    sheet = tmp_path / "s.xlsx"
    write_sample_workbook(sheet, 40, seed=7, invalid_ratio=0.3)
    rep = tmp_path / "rep.xlsx"
    capsys.readouterr()
    rc = main(["validate", str(sheet), "--json", "--report", str(rep), "--shipping-templates",
               "默认运费模板,全国包邮,偏远地区不包邮"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 40 and rep.exists()
    bad = [x for x in lines if not x["valid"]]
    assert rc == 1 and bad and all(x["errors"] for x in bad)
    e = bad[0]["errors"][0]
    assert {"row", "column", "code", "message"} <= set(e) and isinstance(e["row"], int)
    assert main(["validate", str(tpl), "--quiet"]) == 0


def test_cli_refused_file_exit_2(tmp_path, capsys):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"not a workbook")
    assert main(["validate", str(p), "--json"]) == 2
    obj = json.loads(capsys.readouterr().out)
    assert obj["valid"] is False and obj["errors"][0]["code"] == "SHEET_NOT_SPREADSHEET"


def test_sample_workbook_is_valid_and_lists_its_images(tmp_path, ctx):
    from shangjia.validation import ValidationContext
    p = tmp_path / "s.xlsx"
    imgs = write_sample_workbook(p, 25, seed=1, image_names=lambda spu, kind, i: f"{spu}/{kind}{i}.jpg")
    c = ValidationContext("m", shipping_templates=frozenset({"默认运费模板", "全国包邮", "偏远地区不包邮"}))
    results = [validate_product(x, c) for x in open_sheet(p, "s.xlsx").products()]
    assert len(results) == 25 and all(r.valid for r in results), [r.findings for r in results if not r.valid][:1]
    referenced = {ref for r in results for refs in r.product["images"].values() for ref in refs}
    assert referenced == set(imgs) and len(imgs) == 25 * 5
    assert write_sample_workbook(tmp_path / "b.xlsx", 25, seed=1) == write_sample_workbook(tmp_path / "c.xlsx", 25, seed=1)


def test_a_sheet_damaged_further_down_gets_a_report_that_says_so(tmp_path, monkeypatch):
    """The file opens (its header is fine) but is broken at row 300: validate refuses it with
    exit 2, and the report copies their rows up to the damage and names it."""
    import io
    import re
    import zipfile

    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", 4096)      # the damage arrives after the header
    sheet = tmp_path / "s.xlsx"
    write_sample_workbook(sheet, 150, seed=7)
    z = zipfile.ZipFile(io.BytesIO(sheet.read_bytes()))
    parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'<row r="300"', b'</row><row r="300"', parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(sheet, "w") as w:
        for n, b in parts.items():
            w.writestr(n, b)
    rep = tmp_path / "rep.xlsx"
    assert main(["validate", str(sheet), "--report", str(rep), "--quiet"]) == 2
    wb = openpyxl.load_workbook(rep)
    errs = wb["错误明细 Errors"]
    assert [errs.cell(r, 4).value for r in range(2, errs.max_row + 1)].count("SHEET_CORRUPT") == 1
    assert wb.worksheets[0].max_row > 200                                 # their rows up to the damage
