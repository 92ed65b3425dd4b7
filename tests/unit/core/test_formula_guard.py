"""Formula injection (OWASP CSV injection): nothing we write back to a merchant can run as a
formula — neither their own cells in the error report nor the text we add to it."""

from __future__ import annotations

import io

import openpyxl
import pytest
from hypothesis import example, given, settings, strategies as st

import shangjia.reports as reports
from shangjia.errors import finding
from shangjia.reports import neutralise, write_error_report
from tests.unit.sheets.kit import product_rows, to_xlsx

# Written out here, not imported: a test that read the guard's own list would agree with any bug in it.
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_the_one_definition_covers_every_dangerous_lead():
    assert set(reports._DANGEROUS) == set(DANGEROUS)


@pytest.mark.parametrize("lead", DANGEROUS)
def test_each_dangerous_lead_is_neutralised(lead):
    assert neutralise(lead + "cmd|' /C calc'!A0") == "'" + lead + "cmd|' /C calc'!A0"
    assert reports.is_dangerous(lead + "x")


def test_tab_and_carriage_return_are_neutralised():
    assert neutralise("\t=1+1") == "'\t=1+1"
    assert neutralise("\r=1+1") == "'\r=1+1"
    assert neutralise(None) == "" and neutralise(12) == "12" and neutralise("a=b") == "a=b"


@settings(max_examples=1000)
@given(st.text() | st.sampled_from(DANGEROUS).flatmap(lambda c: st.text().map(lambda t: c + t)))
@example("")
@example("'")
@example("'=1")
@example("\n=1")
@example(" =1")
def test_neutralised_text_never_starts_a_formula_and_safe_text_is_unchanged(s):
    n = neutralise(s)
    assert not n.startswith(DANGEROUS)
    if s.startswith(DANGEROUS):
        assert n == "'" + s                    # the merchant still sees every character
    else:
        assert n == s


# --- the error report, read back as a spreadsheet reads it --------------------------------------

THEIR_CELLS = {"D": "+86 品牌", "E": "-M1", "G": "@中国", "U": "\t浙江杭州", "B": "=1+1 纯棉短袖T恤"}
FIELDS = {"D": "brand", "E": "model", "G": "origin", "U": "ship_from", "B": "title"}


def _inert(cell) -> bool:
    """A spreadsheet evaluates a cell as a formula when it is one, or when text that starts like
    one is edited or saved as CSV and opened again — unless the cell carries the quote prefix
    or the text itself does not start like a formula."""
    v = cell.value
    if cell.data_type == "f":
        return False
    return not (isinstance(v, str) and v.startswith(DANGEROUS)) or bool(cell.quotePrefix)


def _report(tmp_path, lead_findings=True):
    rows = product_rows("FX1", grid=(("红色", "M"), ("红色", "L")))
    for L, v in THEIR_CELLS.items():
        rows[0][FIELDS[L]] = v                 # row 2
        rows[1][FIELDS[L]] = v                 # row 3: product columns repeated, no findings on it
    data = to_xlsx(rows)
    fs = []
    if lead_findings:                          # findings on some of those cells (red / yellow formats)
        fs = [finding("FIELD_LENGTH", row=2, column="D", field="brand", value="+86 品牌", length=6, min=1, max=2),
              finding("FRAGILE_NEEDS_NOTE", row=2, column="E", field="model", value="-M1")]
        for i, lead in enumerate(DANGEROUS):   # and findings whose values we write start dangerously
            fs.append(finding("FIELD_TYPE", row=10 + i, column="AE", field=lead + "field", value=lead + "SUM(A1)",
                              expected=lead + "x", expected_zh=lead + "x"))
    out = tmp_path / "report.xlsx"
    write_error_report(out, data, "m.xlsx", fs)
    return openpyxl.load_workbook(out)


def test_their_cells_starting_like_a_formula_are_kept_verbatim_and_inert(tmp_path):
    wb = _report(tmp_path)
    ws = wb.worksheets[0]
    for r in (2, 3):
        for L, v in THEIR_CELLS.items():
            cell = ws[f"{L}{r}"]
            assert cell.value == v, (L, r, cell.value)            # their value, unchanged
            assert cell.data_type == "s" and cell.quotePrefix, (L, r, v)
            assert _inert(cell)
    # the cells with findings are still marked (red for the error, yellow for the warning)
    assert ws["D2"].fill.fgColor.rgb.endswith("FFC7CE") and ws["E2"].fill.fgColor.rgb.endswith("FFEB9C")


def test_nothing_in_any_sheet_of_the_report_would_be_evaluated(tmp_path):
    wb = _report(tmp_path)
    seen_leads = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert _inert(cell), (ws.title, cell.coordinate, repr(cell.value))
                if isinstance(cell.value, str) and cell.value[:1] == "'":
                    seen_leads.add(cell.value[1:2])
    # the errors sheet wrote our texts for every dangerous lead, neutralised (\r is kept by XML as \r or \n)
    assert {"=", "+", "-", "@", "\t"} <= seen_leads


def test_the_report_guard_is_the_one_definition(tmp_path, monkeypatch):
    """Widen the single definition and the report follows: there is no second copy to forget."""
    monkeypatch.setattr(reports, "_DANGEROUS", DANGEROUS + ("!",))
    rows = product_rows("FX2", grid=(("红色", "M"),), brand="!品牌")
    out = io.BytesIO()
    write_error_report(out, to_xlsx(rows), "m.xlsx", [])
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    assert ws["D2"].value == "!品牌" and ws["D2"].quotePrefix
