"""A workbook's rows cut into blocks of whole products, for reading on several cores.

``product_blocks`` runs in the process that owns the file: it inflates the sheet part and
cuts its text at product boundaries, looking at nothing but each row's product-code cell, so
it costs a few microseconds a row. Each block is read by ``SheetReader.products`` in another
process exactly as a sheet of its own. What a block cannot know, the codes seen in earlier
blocks, ``AcrossBlocks`` settles afterwards in sheet order, so the findings are the ones a
single reader gives (``tests/unit/sheets/test_parallel.py`` holds the two equal).

A boundary is cut only where ``products()`` itself starts a product: a row whose cleaned
product code is not blank and differs from the current product's. A row whose code cell is
in an unusual shape (a formula, an inline string) is never cut before, and makes the next
code the current one; not cutting is always safe, blocks just grow.
"""

from __future__ import annotations

import re
from typing import Iterator

from shangjia.errors import Finding
from shangjia.sheets import SheetReader, _Cleaner, duplicate_sku_finding, split_product_finding

_UNKNOWN = object()


def product_blocks(reader: SheetReader, target_rows: int = 1000) -> Iterator[tuple[int, str]] | None:
    """(row number before the block, block text) of about ``target_rows`` rows each, or None
    when the sheet cannot be cut (not an .xlsx in the canonical shape, or no product-code column)."""
    if reader.xlsx is None or "spu_code" not in reader.info.columns:
        return None
    book, part = reader.xlsx
    blocks = book.fast_blocks(part)
    if blocks is None:
        return None
    return _cut(reader, book, blocks, max(1, target_rows))


def _cut(reader: SheetReader, book, blocks: Iterator[str], target: int) -> Iterator[tuple[int, str]]:
    """Rows are counted, not read, until a block has ``target`` of them; from there each row's
    code cell is read until one starts a new product, and the block is cut before it. So most
    rows cost this process nothing but the inflating."""
    from shangjia.sheets.xlsx import _ROWNUM_RE, Num

    letter = reader.info.columns["spu_code"]
    code_cell = re.compile(r'<c r="%s\d+"([^>/]*)(?:/>|>(?:<v>([^<]*)</v>)?</c>)' % letter)
    any_code_cell = re.compile(r'<c\b[^>]*\br="%s\d+"' % letter)
    rownum_at = _ROWNUM_RE.search
    strings = book.strings
    shared, plain = book.fast_kinds()
    clean = _Cleaner(reader.limits)
    start = reader.info.data_start_row

    def code_of(row: str):
        """The row's cleaned product code: "" blank, _UNKNOWN when not read here, or None for
        a row before the data."""
        i = row.rfind("<row")
        j = row.find(">", i) if i >= 0 else -1
        if j < 0:
            return _UNKNOWN, None
        rm = rownum_at(row, i, j)
        n = int(rm.group(1)) if rm else None
        if n is None or n < start:
            return None, n
        m = code_cell.search(row, j + 1)
        if m is None:
            return (_UNKNOWN if any_code_cell.search(row, j + 1) else ""), n
        attrs, v = m.groups()
        if not v:
            return "", n
        if attrs in shared:
            raw = strings[int(v)] if int(v) < len(strings) else None
        else:
            raw = Num(v) if attrs in plain else None
        return (_UNKNOWN if raw is None else clean(raw, "code")[0]), n

    pending: list[str] = []          # texts of the block so far (each: rows joined by </row>)
    rows = 0                         # rows in them
    before = 0                       # the row before the block
    last = 0                         # the last row number seen
    for text in blocks:
        # the row numbers: every row numbered (every writer we know) -> only cut points matter
        numbered = text.count("<row") == text.count('<row r="')
        while text:
            here = text.count("</row>") + 1
            if rows + here < target or not numbered:
                pending.append(text)
                rows += here
                if not numbered:     # rows without r count on from the one before: no cut in this text
                    for piece in text.split("</row>"):
                        i = piece.rfind("<row")
                        j = piece.find(">", i) if i >= 0 else -1
                        rm = rownum_at(piece, i, j) if j >= 0 else None
                        last = int(rm.group(1)) if rm else last + 1
                else:
                    rm = rownum_at(text, text.rfind("<row"))
                    last = int(rm.group(1)) if rm else last
                break
            # skip to the row that fills the block, then read codes until a product starts
            pos = 0
            for _ in range(max(0, target - rows - 1)):
                pos = text.index("</row>", pos) + 6
            cur = _UNKNOWN
            cut = None
            while True:
                end = text.find("</row>", pos)
                row = text[pos:] if end < 0 else text[pos:end]
                code, n = code_of(row)
                if code and code is not _UNKNOWN and cur is not _UNKNOWN and code != cur and pos > 0:
                    cut = pos
                    break
                if code:                 # a product code (or one not read here) is now current
                    cur = code
                if n is not None:
                    last = n
                if end < 0:
                    break
                prev_last = last
                pos = end + 6
            if cut is None:              # no product starts in the rest of this text
                pending.append(text)
                rows += here
                break
            pending.append(text[:cut - 6])
            yield before, "</row>".join(pending)
            before = prev_last
            pending, rows = [], 0
            text = text[cut:]
    if pending:
        yield before, "</row>".join(pending)


class AcrossBlocks:
    """The checks a block's reader cannot make alone: a product code or SKU code already seen
    in an earlier block. Fed every block's products in sheet order, it rewrites their findings
    to what one reader of the whole sheet gives."""

    def __init__(self, columns: dict[str, str]) -> None:
        self.spu_col = columns.get("spu_code")
        self.sku_col = columns.get("sku_code")
        self.spus: dict[str, int] = {}
        self.skus: dict[str, int] = {}

    def settle(self, first_row: int, spu: str, findings: list[Finding], n_raw: int,
               skus: list[tuple[int, str]]) -> tuple[list[Finding], int]:
        """One product: its findings (the reader's ``n_raw`` first, then validation's) and the
        (row, SKU code) of its rows. Returns the findings as a single reader would give them."""
        if spu:
            first = self.spus.setdefault(spu, first_row)
            if first != first_row:                   # a product resumed after another: findings[0]
                f = split_product_finding(first_row, self.spu_col, spu, first)
                if n_raw and findings[0].code == "ROW_SPLIT_PRODUCT" and findings[0].row == first_row:
                    findings[0] = f
                else:
                    findings.insert(0, f)
                    n_raw += 1
        for row, sku in skus:
            first = self.skus.setdefault(sku, row)
            if first == row:
                continue
            f = duplicate_sku_finding(row, self.sku_col, sku, first)
            at = next((k for k in range(n_raw) if findings[k].code == "SKU_DUPLICATE" and findings[k].row == row), None)
            if at is not None:
                findings[at] = f
            else:                                    # the last of its row's reader findings
                k = n_raw
                while k > 0 and (findings[k - 1].row or 0) > row:
                    k -= 1
                findings.insert(k, f)
                n_raw += 1
        return findings, n_raw
