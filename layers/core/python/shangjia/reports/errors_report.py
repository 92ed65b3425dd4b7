"""The error report: the merchant's own sheet back, each bad cell highlighted (red: error,
yellow: warning) with a comment, a result column per row, an errors sheet (row, column, code,
message, hint) and a summary. The merchant can fix the cells in place and upload the report
itself: their sheet comes first and keeps its header, and the result column is ignored.

Written in XlsxWriter's constant-memory mode: rows stream from the source file to the report,
so a 100k-row sheet does not need 100k rows in memory.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field as dc_field
from datetime import datetime, timezone
from typing import Any, BinaryIO, Iterable

from shangjia.errors import CODES, Finding, FindingError
from shangjia.reports import is_dangerous, neutralise

RESULT_HEADER = "校验结果 Result"
ERRORS_SHEET = "错误明细 Errors"
SUMMARY_SHEET = "汇总 Summary"
CHANGES_SHEET = "变更 Changes"
READINESS_SHEET = "渠道就绪 Readiness"
MAX_COMMENTS = 3000
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


@dataclass
class ReportSummary:
    filename: str
    refused: bool = False
    products: int | None = None
    invalid_products: int | None = None
    unchanged_products: int | None = None
    changes: int = 0
    errors: int = 0
    warnings: int = 0
    by_code: dict[str, int] = dc_field(default_factory=dict)


def _n(s: Any) -> str:
    return neutralise(s)


def write_error_report(out: str | os.PathLike | BinaryIO, source: bytes | str | os.PathLike | BinaryIO,
                       filename: str, findings: Iterable[Finding], *, products: int | None = None,
                       invalid_products: int | None = None, limits=None,
                       changes: Iterable[dict[str, Any]] | None = None,
                       unchanged_products: int | None = None,
                       readiness: Iterable[dict[str, Any]] | None = None) -> ReportSummary:
    """Write the report for ``source`` (the uploaded file, re-read here) and its ``findings``
    (file-level, parse-level and validation findings, any order). ``changes``: on a re-upload,
    the values that changed (``{"spu_code", "sku_code", "field", "old", "new", "row", "column"}``),
    listed on a sheet of their own; ``unchanged_products``: how many were kept as they were;
    ``readiness``: per product ``{"spu_code", "first_row", "readiness": {channel: {"ready",
    "findings"}}}`` (validate's per-channel scoring), on a sheet of its own: one column per channel."""
    import xlsxwriter

    from shangjia.sheets import open_sheet
    from shangjia.sheets.xlsx import col_index

    all_f = list(findings)
    reader = None
    try:
        reader = open_sheet(source, filename, limits)
    except FindingError as e:
        all_f.insert(0, e.finding)
    summary = ReportSummary(filename, refused=reader is None, products=products, invalid_products=invalid_products,
                            unchanged_products=unchanged_products)
    changes = list(changes or [])
    summary.changes = len(changes)
    if reader is not None:
        all_f = list(reader.findings) + all_f
    seen: set = set()
    uniq = []
    for f in all_f:                      # the caller may pass the reader's file warnings again
        k = (f.code, f.row, f.column, f.message_en)
        if k not in seen:
            seen.add(k)
            uniq.append(f)
    all_f = uniq

    cell_f: dict[tuple[int, int], list[Finding]] = defaultdict(list)
    row_f: dict[int, list[Finding]] = defaultdict(list)
    row_cols: dict[int, set[int]] = defaultdict(set)
    for f in all_f:
        if f.row is not None:
            row_f[f.row].append(f)
            if f.column:
                c = col_index(f.column)
                cell_f[(f.row, c)].append(f)
                row_cols[f.row].add(c)

    wb = xlsxwriter.Workbook(out if not isinstance(out, os.PathLike) else str(out), {
        "constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
        "strings_to_urls": False})
    wb.set_properties({"title": f"上架 Shangjia 校验报告 validation report: {filename}", "author": "Shangjia"})
    F = _Formats(wb)

    if reader is not None:
        with reader:
            damage = _their_sheet(wb, F, reader, cell_f, row_f, row_cols)
        if damage is not None and (damage.code, damage.row, damage.column, damage.message_en) not in seen:
            all_f.insert(0, damage)          # the file is damaged further down: say so, once
    for f in all_f:
        if f.is_error:
            summary.errors += 1
        else:
            summary.warnings += 1
    summary.by_code = dict(Counter(f.code for f in all_f).most_common())
    _errors_sheet(wb, F, all_f)
    if changes:
        _changes_sheet(wb, F, changes)
    readiness = [r for r in readiness or [] if r.get("readiness")]
    if readiness:
        _readiness_sheet(wb, F, readiness)
    _summary_sheet(wb, F, summary, all_f)
    wb.close()
    return summary


class _Formats:
    def __init__(self, wb) -> None:
        base = {"valign": "top"}
        self.quoted = wb.add_format({"quote_prefix": True})
        self.err = wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006", "border": 1,
                                  "border_color": "#C00000"})
        self.err_q = wb.add_format({**base, "bg_color": "#FFC7CE", "font_color": "#9C0006", "border": 1,
                                    "border_color": "#C00000", "quote_prefix": True})
        self.warn = wb.add_format({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700"})
        self.warn_q = wb.add_format({**base, "bg_color": "#FFEB9C", "font_color": "#9C5700", "quote_prefix": True})
        self.header = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                     "valign": "top"})
        self.header_q = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                       "valign": "top", "quote_prefix": True})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.top = wb.add_format({"valign": "top"})
        self.center = wb.add_format({"align": "center", "valign": "top"})
        self.ok = wb.add_format({"font_color": "#006100", "bg_color": "#C6EFCE"})
        self.bad = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "text_wrap": True, "valign": "top"})
        self.warn_wrap = wb.add_format({"font_color": "#9C5700", "bg_color": "#FFEB9C", "text_wrap": True,
                                        "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.big_bad = wb.add_format({"bold": True, "font_size": 12, "font_color": "#9C0006"})
        self.big_ok = wb.add_format({"bold": True, "font_size": 12, "font_color": "#006100"})


def _print_setup(ws, header_row: int | None) -> None:
    """Landscape, one page wide, header repeated: printable and readable as a PDF."""
    ws.set_landscape()
    ws.set_paper(9)                      # A4
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row)


def _sheet_name(name: str, taken: set[str]) -> str:
    s = _BAD_SHEET_CHARS.sub("_", name or "商品").strip("'")[:31] or "商品"
    while s in taken:
        s = s[:28] + "_1"
    return s


def _comment(fs: list[Finding]) -> str:
    lines = []
    for f in fs[:4]:
        mark = "✗" if f.is_error else "!"
        lines.append(f"{mark} {f.message_zh}\n  {f.message_en}")
        if f.hint_zh:
            lines.append(f"  → {f.hint_zh}")
    if len(fs) > 4:
        lines.append(f"… +{len(fs) - 4}")
    return _n("\n".join(lines))


def _their_sheet(wb, F: _Formats, reader, cell_f, row_f, row_cols) -> Finding | None:
    """Their sheet, annotated; the rows are copied up to any damage further down the file,
    which is returned (the report still tells the merchant what is wrong)."""
    from shangjia.sheets.xlsx import Num, col_index

    info = reader.info
    ws = wb.add_worksheet(_sheet_name(info.sheet_name, {ERRORS_SHEET, SUMMARY_SHEET, CHANGES_SHEET, READINESS_SHEET}))
    ws.activate()
    from shangjia.spec import load_spec
    spec = load_spec()
    text_cols = {col_index(L) for f, L in info.columns.items() if spec[f].type in ("code", "spec")}
    width = max((col_index(L) for L in info.header_labels), default=0) + 1
    width = max(width, max((c for _, c in cell_f), default=-1) + 1)
    result_col = width
    ws.set_column(0, width - 1, 14)
    for fname, L in info.columns.items():
        t = spec[fname].type
        w = 40 if fname == "description" else 28 if t in ("text", "images", "kv", "category", "list") else 16
        ws.set_column(col_index(L), col_index(L), w)
    ws.set_column(result_col, result_col, 48)
    ws.freeze_panes(info.data_start_row - 1, 0)
    ws.set_landscape()
    ws.repeat_rows(info.header_row - 1)
    comments = 0
    pending = sorted(row_f)            # rows with findings, in order
    pi = 0

    def write_row(r: int, cells: dict[str, Any]) -> None:
        nonlocal comments
        row0 = r - 1
        if r == info.header_row:
            ws.set_row(row0, 32)
        letters = {col_index(L): v for L, v in cells.items()}
        for c in sorted(set(letters) | row_cols.get(r, set())):
            v = letters.get(c)
            fs = cell_f.get((r, c))
            bad = fs and any(f.is_error for f in fs)
            s = "" if v is None else str(v)
            dangerous = is_dangerous(s)
            fmt = ((F.err_q if dangerous else F.err) if bad else (F.warn_q if dangerous else F.warn)) if fs else (
                F.quoted if dangerous else None)
            if r == info.header_row:          # their header is their text too: guarded like the data
                fmt = F.header_q if dangerous else F.header
            if v is None:
                ws.write_blank(row0, c, None, fmt)
            elif isinstance(v, Num) and c not in text_cols:
                try:
                    ws.write_number(row0, c, float(v), fmt)
                except (ValueError, OverflowError):
                    ws.write_string(row0, c, s, fmt)
            else:
                ws.write_string(row0, c, s, fmt)
            if fs and comments < MAX_COMMENTS:
                ws.write_comment(row0, c, _comment(fs), {"x_scale": 2.5, "y_scale": 1.8, "author": "Shangjia"})
                comments += 1
        if r == info.header_row:
            ws.write_string(row0, result_col, RESULT_HEADER, F.header)
        elif r >= info.data_start_row:
            fs = row_f.get(r)
            if fs:
                errs = [f for f in fs if f.is_error]
                msg = "；".join(dict.fromkeys(f.message_zh for f in fs))[:2000]
                label = f"✗ {len(errs)} 个错误: " if errs else "! 提醒: "
                ws.write_string(row0, result_col, _n(label + msg), F.bad if errs else F.warn_wrap)
                _fit_row(ws, row0, [(label + msg, 48)], F.top)
            elif cells:
                ws.write_string(row0, result_col, "✓", F.ok)

    damage = None
    try:
        for r, cells in reader.raw_rows():
            while pi < len(pending) and pending[pi] < r:      # findings on rows the file has no cells in
                write_row(pending[pi], {})
                pi += 1
            if pi < len(pending) and pending[pi] == r:
                pi += 1
            write_row(r, cells)
    except FindingError as e:
        damage = e.finding
    while pi < len(pending):
        write_row(pending[pi], {})
        pi += 1
    if width:
        ws.autofilter(info.header_row - 1, 0, info.header_row - 1, result_col)
    return damage


def _text_lines(text: str, width: float) -> int:
    """Lines a wrapped cell of ``width`` character units needs (CJK characters are two units)."""
    lines = 0
    for part in (text or "").split("\n"):
        units = sum(2 if ord(ch) > 0x2E7F else 1 for ch in part)
        lines += max(1, -(-units // max(1, int(width * 0.95))))
    return lines


def _fit_row(ws, row0: int, texts: list[tuple[str, float]], fmt=None) -> None:
    """Set the row tall enough for its wrapped cells. Excel grows such rows itself, but
    LibreOffice and WPS keep the default height and draw the lines over the next row."""
    lines = max((_text_lines(t, w) for t, w in texts), default=1)
    if lines > 1:
        ws.set_row(row0, min(409, 15 * lines), fmt)


def _errors_sheet(wb, F: _Formats, findings: list[Finding]) -> None:
    ws = wb.add_worksheet(ERRORS_SHEET)
    heads = ["行 Row", "列 Column", "字段 Field", "代码 Code", "级别 Severity", "问题", "Problem",
             "如何修改", "How to fix", "原值 Value"]
    widths = [7, 6, 16, 20, 10, 36, 36, 28, 28, 24]
    for c, (h, w) in enumerate(zip(heads, widths)):
        ws.set_column(c, c, w, F.wrap if c in (5, 6, 7, 8) else None)
        ws.write_string(0, c, h, F.header)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.repeat_rows(0)
    ordered = sorted(findings, key=lambda f: (f.row is not None, f.row or 0, f.column or ""))
    for r, f in enumerate(ordered, 1):
        if f.row is not None:
            ws.write_number(r, 0, f.row, F.center)
        ws.write_string(r, 1, _n(f.column or ""), F.center)
        ws.write_string(r, 2, _n(f.field or ""))
        ws.write_string(r, 3, f.code)
        ws.write_string(r, 4, "错误 error" if f.is_error else "提醒 warning", F.bad if f.is_error else F.warn_wrap)
        ws.write_string(r, 5, _n(f.message_zh), F.wrap)
        ws.write_string(r, 6, _n(f.message_en), F.wrap)
        ws.write_string(r, 7, _n(f.hint_zh), F.wrap)
        ws.write_string(r, 8, _n(f.hint_en), F.wrap)
        ws.write_string(r, 9, _n(f.value or ""))
        _fit_row(ws, r, [(f.message_zh, widths[5]), (f.message_en, widths[6]), (f.hint_zh, widths[7]),
                         (f.hint_en, widths[8])])
    ws.autofilter(0, 0, max(1, len(ordered)), len(heads) - 1)


def _changes_sheet(wb, F: _Formats, changes: list[dict[str, Any]]) -> None:
    """A re-upload's changed values: old and new, per product and SKU (a blank cell kept its value
    and is not here; a value cleared with [清空]/[clear] shows an empty new value)."""
    ws = wb.add_worksheet(CHANGES_SHEET)
    heads = ["商品编码 Product", "SKU编码 SKU", "字段 Field", "原值 Old", "新值 New", "行 Row", "列 Column"]
    widths = [20, 20, 18, 30, 30, 7, 7]
    for c, (h, w) in enumerate(zip(heads, widths)):
        ws.set_column(c, c, w)
        ws.write_string(0, c, h, F.header)
    ws.freeze_panes(1, 0)
    for r, ch in enumerate(changes, 1):
        ws.write_string(r, 0, _n(ch.get("spu_code") or ""))
        ws.write_string(r, 1, _n(ch.get("sku_code") or ""))
        ws.write_string(r, 2, _n(ch.get("field") or ""))
        ws.write_string(r, 3, _n(ch.get("old") if ch.get("old") is not None else ""))
        ws.write_string(r, 4, _n(ch.get("new") if ch.get("new") is not None else ""))
        if ch.get("row") is not None:
            ws.write_number(r, 5, ch["row"], F.center)
        ws.write_string(r, 6, _n(ch.get("column") or ""), F.center)
    ws.autofilter(0, 0, max(1, len(changes)), len(heads) - 1)


def _readiness_sheet(wb, F: _Formats, products: list[dict[str, Any]]) -> None:
    """Per-channel readiness at upload: a row per product, a column per channel (ready, or not
    ready with its number of problems), then the problems themselves in Chinese and English, so
    the merchant fixes them before an audit rejects the listing. A not-ready channel does not stop
    the product (it goes on to review); that channel's listing will be refused until it is fixed."""
    from shangjia.channels.categories import CHANNEL_NAMES

    channels = [c for c in CHANNEL_NAMES if any(c in (p.get("readiness") or {}) for p in products)]
    ws = wb.add_worksheet(READINESS_SHEET)
    heads = ["商品编码 Product", "行 Row"] + [f"{CHANNEL_NAMES[c][0]} {CHANNEL_NAMES[c][1]}" for c in channels] + [
        "问题", "Problems", "如何修改", "How to fix"]
    widths = [20, 7] + [16] * len(channels) + [44, 44, 36, 36]
    text0 = 2 + len(channels)
    for c, (h, w) in enumerate(zip(heads, widths)):
        ws.set_column(c, c, w, F.wrap if c >= text0 else None)
        ws.write_string(0, c, h, F.header)
    ws.freeze_panes(1, 1)
    ordered = sorted(products, key=lambda p: (int(p.get("first_row") or 0), str(p.get("spu_code"))))
    for r, p in enumerate(ordered, 1):
        rd = p.get("readiness") or {}
        ws.write_string(r, 0, _n(p.get("spu_code") or ""))
        if isinstance(p.get("first_row"), int):
            ws.write_number(r, 1, p["first_row"], F.center)
        zh, en, hzh, hen = [], [], [], []
        for i, c in enumerate(channels):
            v = rd.get(c)
            if v is None:
                continue
            errors = sum(1 for f in v.get("findings") or [] if f.get("severity") == "error")
            if v.get("ready"):
                ws.write_string(r, 2 + i, "就绪 ready", F.center)
            else:
                ws.write_string(r, 2 + i, f"未就绪 not ready ({errors})", F.bad)
            for f in v.get("findings") or []:
                mark = "" if f.get("severity") == "error" else "（提醒）"
                zh.append(f"{mark}{f.get('message_zh') or ''}")
                en.append(f"{'' if not mark else '(warning) '}{f.get('message') or ''}")
                if f.get("hint_zh"):
                    hzh.append(f["hint_zh"])
                if f.get("hint"):
                    hen.append(f["hint"])
        cols = [("\n".join(zh), widths[text0]), ("\n".join(en), widths[text0 + 1]),
                ("\n".join(dict.fromkeys(hzh)), widths[text0 + 2]), ("\n".join(dict.fromkeys(hen)), widths[text0 + 3])]
        for j, (t, _) in enumerate(cols):
            ws.write_string(r, text0 + j, _n(t), F.wrap)
        _fit_row(ws, r, cols)
    ws.autofilter(0, 0, max(1, len(ordered)), len(heads) - 1)


def _summary_sheet(wb, F: _Formats, s: ReportSummary, findings: list[Finding]) -> None:
    ws = wb.add_worksheet(SUMMARY_SHEET)
    _print_setup(ws, None)
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 100)
    ws.set_column(2, 2, 10)
    ws.write_string(0, 0, "上架 Shangjia 校验报告 Validation report", F.title)
    rows = [("文件 File", _n(s.filename)),
            ("生成时间 Generated (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))]
    if s.products is not None:
        rows.append(("商品数 Products", str(s.products)))
    if s.invalid_products is not None:
        rows.append(("有错误的商品 Products with errors", str(s.invalid_products)))
    if s.unchanged_products:
        rows.append(("内容未变的商品 Unchanged products (kept, not reprocessed)", str(s.unchanged_products)))
    if s.changes:
        rows.append(("变更的值 Values changed (see Changes)", str(s.changes)))
    rows += [("错误 Errors", str(s.errors)), ("提醒 Warnings", str(s.warnings))]
    for i, (k, v) in enumerate(rows, 2):
        ws.write_string(i, 0, k, F.header)
        ws.write_string(i, 1, v)
    r = len(rows) + 3
    if s.refused:
        f = findings[0]
        ws.write_string(r, 0, "文件被拒收 File refused", F.big_bad)
        ws.write_string(r + 1, 0, _n(f.message_zh), F.bad)
        ws.write_string(r + 2, 0, _n(f.message_en), F.bad)
        ws.write_string(r + 3, 0, _n("→ " + f.hint_zh))
        ws.write_string(r + 4, 0, _n("→ " + f.hint_en))
        r += 6
    elif s.errors:
        ws.write_string(r, 0, "请按“错误明细”修改后重新上传 Fix the rows listed under Errors and upload again", F.big_bad)
        r += 2
    else:
        ws.write_string(r, 0, "全部通过 Everything passed", F.big_ok)
        r += 2
    if s.by_code:
        ws.write_string(r, 0, "代码 Code", F.header)
        ws.write_string(r, 1, "说明 Meaning", F.header)
        ws.write_string(r, 2, "次数 Count", F.header)
        for i, (code, n) in enumerate(s.by_code.items(), r + 1):
            c = CODES[code] if code in CODES else None
            meaning = f"{c.zh} / {c.en}" if c else ""
            meaning = re.sub(r"\{[a-z_]+\}", "…", meaning)
            ws.write_string(i, 0, code)
            ws.write_string(i, 1, _n(meaning))
            ws.write_number(i, 2, n)
