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

import itertools
import re
from dataclasses import dataclass
from typing import Iterator

from shangjia.errors import Finding, FindingError
from shangjia.sheets import SheetReader, _Cleaner, duplicate_sku_finding, split_product_finding

_UNKNOWN = object()


class Damaged(tuple):
    """(before, text) of the rows read before the sheet turned out damaged: their last product
    is unfinished (one reader would not have handed it on)."""

    def __new__(cls, before: int, text: str):
        return super().__new__(cls, (before, text))


@dataclass
class Rest:
    """The cutter found no place to cut for ``MAX_BLOCK`` × the target rows (every code cell
    in a shape it does not read, say, or one enormous product): the rest of the sheet, to be
    read in this process as it streams (``before``: the row before ``texts``)."""
    before: int
    texts: Iterator[str]


MAX_BLOCK = 10           # a block may grow to this many times the target before the cutter gives up


def product_blocks(reader: SheetReader, target_rows: int = 1000) -> Iterator[tuple[int, str] | Rest] | None:
    """(row number before the block, block text) of about ``target_rows`` rows each, then
    possibly one ``Rest``; or None when the sheet cannot be cut (not an .xlsx in the canonical
    shape, or no product-code column)."""
    if reader.xlsx is None or "spu_code" not in reader.info.columns:
        return None
    book, part = reader.xlsx
    blocks = book.fast_blocks(part)
    if blocks is None:
        return None
    return _cut(reader, book, blocks, max(1, target_rows))


def _cut(reader: SheetReader, book, blocks: Iterator[str], target: int) -> Iterator[tuple[int, str] | Rest]:
    """Rows are counted, not read, until a block has ``target`` of them; from there each row's
    code cell is read until one starts a new product, and the block is cut before it. So most
    rows cost this process nothing but the inflating."""
    from shangjia.sheets.xlsx import _ROWNUM_RE, Num

    letter = reader.info.columns["spu_code"]
    code_cell = re.compile(r'<c r="%s\d+"([^>/]*)(?:/>|>(?:<v>([^<]*)</v>)?</c>)' % letter)
    any_code_cell = re.compile(r'<c\b[^>]*\br="%s\d+"' % letter)
    numbered_row = re.compile(r'<row r="\d')
    rownum_at = _ROWNUM_RE.search
    strings = book.strings
    shared, plain = book.fast_kinds()
    clean = _Cleaner(reader.limits)
    start = reader.info.data_start_row

    def code_of(row: str):
        """(the row's cleaned product code, its number): the code is "" when blank, None for a
        row before the data, _UNKNOWN when this process cannot tell exactly as products() would."""
        i = row.rfind("<row")
        j = row.find(">", i) if i >= 0 else -1
        if j < 0:
            return _UNKNOWN, None
        rm = rownum_at(row, i, j)
        if rm is None:                   # no usable number: the reader counts on; we do not guess
            return _UNKNOWN, None
        n = int(rm.group(1))
        if n < start:
            return None, n
        m = code_cell.search(row, j + 1)
        if m is None or any_code_cell.search(row, m.end()):
            # no code cell (blank), or one we do not read, or the cell twice (the reader keeps the last)
            return (_UNKNOWN if any_code_cell.search(row, j + 1) else ""), n
        attrs, v = m.groups()
        if not v:
            return "", n
        raw = None
        if attrs in shared:
            if v.isdigit() and int(v) < len(strings):
                raw = strings[int(v)]
        elif attrs in plain:
            raw = Num(v)
        return (_UNKNOWN if raw is None else clean(raw, "code")[0]), n

    def find_cut(text: str, skip: int, last: int) -> tuple[int | None, int, int]:
        """Skip ``skip`` rows, then read codes until a row starts a product: (where it starts
        or None, the row number before it, the last row number seen)."""
        pos = 0
        for _ in range(skip):
            pos = text.index("</row>", pos) + 6
        cur = _UNKNOWN
        prev_last = last
        while True:
            end = text.find("</row>", pos)
            code, n = code_of(text[pos:] if end < 0 else text[pos:end])
            if code and code is not _UNKNOWN and cur is not _UNKNOWN and code != cur and pos > 0:
                return pos, prev_last, last
            if code:                     # a product code (or one not read here) is now current
                cur = code
            if n is not None:
                last = n
            if end < 0:
                return None, prev_last, last
            prev_last = last
            pos = end + 6

    pending: list[str] = []          # texts of the block so far (each: rows joined by </row>)
    rows = 0                         # rows in them
    before = 0                       # the row before the block
    last = 0                         # the last row number seen
    texts = iter(blocks)
    while True:
        try:
            text = next(texts)
        except StopIteration:
            break
        except FindingError:
            # the sheet is damaged further on: the rows before it are read first (a refusal
            # they hold comes first, as reading in one process), the last product unfinished
            if pending:
                yield Damaged(before, "</row>".join(pending))
            raise
        # every row numbered (every writer we know): only the rows near a cut are read
        numbered = text.count("<row") == len(numbered_row.findall(text))
        while text:
            here = text.count("</row>") + 1
            cut = None
            if numbered and rows + here >= target:
                cut, cut_before, last = find_cut(text, max(0, target - rows - 1), last)
            elif numbered:
                rm = rownum_at(text, text.rfind("<row"))
                last = int(rm.group(1)) if rm else last
            else:                        # rows without r count on from the one before: no cut here
                _rows, last, _damage = book.read_block(text, last)
            if cut is None:
                pending.append(text)
                rows += here
                if rows >= MAX_BLOCK * target:
                    yield Rest(before, itertools.chain(["</row>".join(pending)], texts))
                    return
                break
            pending.append(text[:cut - 6])
            yield before, "</row>".join(pending)
            before = cut_before
            pending, rows = [], 0
            text = text[cut:]
    if pending:
        yield before, "</row>".join(pending)


class AcrossBlocks:
    """The checks a block's reader cannot make alone: a product code or SKU code already seen
    in an earlier block. Fed every product in sheet order, it rewrites their findings to what
    one reader of the whole sheet gives. Occurrences are told apart by their place in the
    sheet, not their row number (a sheet may number two rows alike)."""

    def __init__(self, columns: dict[str, str]) -> None:
        self.spu_col = columns.get("spu_code")
        self.sku_col = columns.get("sku_code")
        self.spus: dict[str, tuple[int, int]] = {}      # code -> (first row, place)
        self.skus: dict[str, tuple[int, int]] = {}
        self.places = 0

    def settle(self, first_row: int, spu: str, findings: list[Finding],
               skus: list[tuple[int, str, int]]) -> list[Finding]:
        """One product: its findings as its block's reader and validation gave them, and its
        rows' (row, SKU code, where in the findings that row's SKU_DUPLICATE goes). Returns
        the findings as one reader of the whole sheet gives them."""
        self.places += 1
        shift = 0
        if spu:
            first, place = self.spus.setdefault(spu, (first_row, self.places))
            if place != self.places:                 # a product resumed after another: findings[0]
                f = split_product_finding(first_row, self.spu_col, spu, first)
                if findings and findings[0].code == "ROW_SPLIT_PRODUCT":
                    findings[0] = f
                else:
                    findings.insert(0, f)
                    shift = 1
        for row, sku, pos in skus:
            self.places += 1
            first, place = self.skus.setdefault(sku, (row, self.places))
            if place == self.places:
                continue
            f = duplicate_sku_finding(row, self.sku_col, sku, first)
            at = pos + shift
            if at < len(findings) and findings[at].code == "SKU_DUPLICATE" and findings[at].row == row:
                findings[at] = f
            else:
                findings.insert(at, f)
                shift += 1
        return findings
