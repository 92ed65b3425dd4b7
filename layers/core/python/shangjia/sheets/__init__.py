"""Merchant sheets in, products out: robust streaming intake of .xlsx/.xlsm/.csv/.tsv.

``open_sheet`` sniffs the bytes (not the name), refuses hostile or unreadable files with one
specific ``FindingError``, finds the header row below any title rows, maps Chinese and
English header aliases to the specification's fields, and recognises other platforms'
exports. ``SheetReader.products()`` then streams rows, cleans each cell (Excel's traps:
codes stored as numbers, full-width digits, date serials, formula errors, trailing spaces),
and groups consecutive rows into products (product columns may be blank after a product's
first row). Memory stays bounded: one product at a time plus the sets of codes seen.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field as dc_field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from shangjia.errors import Finding, FindingError, finding
from shangjia.spec import load_spec, normalize_header, to_halfwidth

__all__ = [
    "RawRow", "RawProduct", "SheetInfo", "SheetReader", "Limits", "open_sheet", "SHEET_SUFFIXES",
    "products_from_records", "split_product_finding", "duplicate_sku_finding",
]

# Uploads routed to sheet intake. .xls/.ods/.et are here so they get a specific refusal
# ("save as .xlsx") instead of being taken for media.
# .json: an ERP product feed (shangjia.inbound.feed), read like a sheet.
SHEET_SUFFIXES: frozenset[str] = frozenset({".xlsx", ".xlsm", ".csv", ".tsv", ".txt", ".xls", ".ods", ".et", ".json"})

# Columns our own files add that an upload may carry back (the report's result column).
IGNORED_HEADERS = frozenset({"校验结果 Result"})

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# The most rows a worksheet can have (Excel's own limit, and the .xlsx format's): an .xlsx is
# read to this many; a text file, with no such limit of its own, to ``Limits.max_rows``.
XLSX_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class Limits:
    """What a file may be before it is refused. Files are streamed (rows, inflated XML and a text
    file's records one piece at a time; a large shared-strings table kept on disk), so memory does
    not grow with the file: these bound the time a file may take, and refuse the hostile ones.
    A 1,000,000-row sheet of the 28 specification columns is 0.17 GB as .xlsx (1.1 GB of XML
    inside: 0.9 GB sheet, 0.18 GB shared strings) and 0.6 GB as CSV (docs/sheets.md, "A million
    rows")."""
    max_bytes: int = 2 * 2**30                # the upload itself (ingest's MAX_SHEET_BYTES)
    max_feed_bytes: int = 200 * 2**20         # a JSON feed (shangjia.inbound.feed), parsed whole
    max_unpacked_bytes: int = 6 * 2**30       # sum of the zip's declared sizes
    max_part_bytes: int = 4 * 2**30           # any one part, declared
    max_ratio: int = 200                      # inflated / compressed, for parts over 1 MB
    max_zip_entries: int = 5000
    max_rows: int = 5_000_000                 # data rows of a text file; an .xlsx also stops at XLSX_MAX_ROWS
    max_columns: int = 200                    # header width
    max_cells_per_row: int = 16384            # Excel's own maximum
    max_cell_chars: int = 10_000
    max_rows_per_product: int = 200
    header_scan_rows: int = 30
    precount: bool = True                     # find the row count at open (progress total, early refusal)
    # What one piece of a workbook's XML may be, in characters (the readers hold one at a time):
    # a row: 200 columns of 10,000 characters, markup included, fit twice over; 16,384 cells fit.
    max_row_xml: int = 4 * 2**20
    # a shared string or a cell: Excel's own 32,767 characters, escaped (``&amp;``, ``_x000D_``)
    # and in rich-text runs, fit several times over.
    max_string_xml: int = 2**20
    # A shared-strings part declared larger than this is kept in a temporary file with an index
    # (4 bytes a string) instead of as Python strings: the 1M-row bench sheet has 177 MB of
    # shared-strings XML, 3.1 million strings: 307 MB as ``str`` objects, 12 MB of index on disk.
    strings_in_memory_bytes: int = 64 * 2**20

    def row_limit(self, fmt: str) -> int:
        """The data rows a sheet of this format may have."""
        return min(self.max_rows, XLSX_MAX_ROWS) if fmt in ("xlsx", "xlsm") else self.max_rows


@dataclass(slots=True)
class RawRow:
    row: int                       # 1-based row number in the merchant's sheet
    cells: dict[str, Any]          # spec field name -> cleaned cell value (codes always str)
    columns: dict[str, str]        # spec field name -> column letter in THEIR file ("C")

    def to_dict(self) -> dict:
        return {"row": self.row, "cells": self.cells, "columns": self.columns}


@dataclass(slots=True)
class RawProduct:
    spu_code: str
    rows: list[RawRow]
    findings: list[Finding] = dc_field(default_factory=list)   # parse-level findings

    @property
    def first_row(self) -> int:
        return self.rows[0].row if self.rows else 0

    @property
    def last_row(self) -> int:
        """The checkpoint to resume after once this product has been handed on."""
        return self.rows[-1].row if self.rows else 0

    def to_dict(self) -> dict:
        """JSON-safe; the column map is written once when every row shares it."""
        shared = self.rows[0].columns if self.rows else {}
        same = all(r.columns is shared or r.columns == shared for r in self.rows)
        d: dict[str, Any] = {"spu_code": self.spu_code}
        if same:
            d["columns"] = dict(shared)
            d["rows"] = [{"row": r.row, "cells": dict(r.cells)} for r in self.rows]
        else:
            d["rows"] = [r.to_dict() for r in self.rows]
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RawProduct":
        shared = d.get("columns") or {}
        rows = [RawRow(int(r["row"]), dict(r.get("cells") or {}), dict(r.get("columns") or shared))
                for r in d.get("rows", [])]
        return cls(str(d.get("spu_code", "")), rows, [Finding.from_dict(f) for f in d.get("findings", [])])


@dataclass
class SheetInfo:
    layout: str                    # "shangjia" (our template), "taobao" (data package), "custom"
    sheet_name: str
    header_row: int
    columns: dict[str, str]        # spec field name -> column letter
    format: str = ""               # "xlsx" | "xlsm" | "csv"
    encoding: str | None = None    # text files
    delimiter: str | None = None   # text files
    total_rows: int | None = None  # upper bound of rows, when known at open
    header_labels: dict[str, str] = dc_field(default_factory=dict)   # column letter -> header text
    data_start_row: int = 0

    @property
    def data_rows(self) -> int | None:
        """Rows below the header, when the total is known (the progress total)."""
        if self.total_rows is None:
            return None
        return max(0, self.total_rows - max(0, self.data_start_row - 1))


# ---- cell cleaning ---------------------------------------------------------------------------

_SCI = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_CR = re.compile(r"\r\n?")
_PLAIN_TYPES = frozenset({"text", "list", "kv"})   # cleaned by strip only (full-width kept)


def _num_text(v: str) -> str:
    """Excel's stored number as a person would type it: 12.300000000000001 -> 12.3."""
    if "E" in v or "e" in v or len(v) > 15:
        try:
            f = float(v)
        except ValueError:
            return v
        if f.is_integer() and abs(f) < 1e21:
            return str(int(f))
        return repr(f)
    return v


def _code_from_number(v: str) -> tuple[str, str | None]:
    """A code that Excel stored as a number -> its digits, and a finding code if damaged."""
    try:
        d = Decimal(v)
    except InvalidOperation:
        return v, None
    if not d.is_finite() or d.adjusted() > 30:      # NaN, Infinity, 1E+99999999: not a code's digits
        return v, "CODE_PRECISION_LOST"
    if d == d.to_integral_value():
        s = str(int(d))
        if len(s.lstrip("-")) > 15:
            return s, "CODE_PRECISION_LOST"
        return s, ("CODE_STORED_AS_NUMBER" if len(s) >= 12 else None)
    return str(_num_text(v)), None


class _Cleaner:
    """Per-field cleaning. Returns (value, finding code or None). Everything ends as ``str``."""

    def __init__(self, limits: Limits) -> None:
        from shangjia.sheets.xlsx import DateVal, ErrVal, Num
        from shangjia.sheets.text import FlaggedText
        self.Num, self.DateVal, self.ErrVal = Num, DateVal, ErrVal
        self.Flagged = FlaggedText
        self.max_chars = limits.max_cell_chars

    def __call__(self, v: Any, ftype: str, warn_number: bool = True) -> tuple[str, str | None]:
        cls = v.__class__
        if cls is self.Flagged:           # the text reader found something (cleaned text + its code)
            s, _code = self(str(v), ftype, warn_number)
            return s, v.code
        if cls is str:
            if ftype == "text" or ftype == "list" or ftype == "kv":
                s = v.strip()
                if "\r" in s:
                    s = _CR.sub("\n", s)
            else:
                s = to_halfwidth(v).strip()
                if ftype == "code" and _SCI.match(s):
                    return s, "CODE_PRECISION_LOST"
            if len(s) > self.max_chars:
                return s[: self.max_chars], "CELL_TOO_LONG"
            return s, None
        if cls is self.Num:
            if ftype == "code":
                s, code = _code_from_number(v)
                return s, (None if code == "CODE_STORED_AS_NUMBER" and not warn_number else code)
            return str(_num_text(v)), None
        if cls is self.DateVal:
            return str(v), "DATE_CONVERTED"
        if cls is self.ErrVal:
            return str(v), "CELL_FORMULA_ERROR"
        return str(v).strip(), None


# ---- the reader -----------------------------------------------------------------------------

RowSource = Callable[[], Iterator[tuple[int, dict[str, Any]]]]


class SheetReader:
    """A sheet whose header has been found. ``products()`` streams; it may be called again."""

    def __init__(self, info: SheetInfo, rows: RowSource, findings: list[Finding], limits: Limits,
                 filename: str, closer: Callable[[], None] | None = None) -> None:
        self.info = info
        self.findings = findings
        self.limits = limits
        self.filename = filename
        self._rows = rows
        self._closer = closer
        self.on_progress: Callable[[int, int | None], None] | None = None
        self.rows_read = 0
        self.xlsx = None      # (XlsxBook, sheet part) when read from a workbook

    def close(self) -> None:
        if self._closer:
            self._closer()
            self._closer = None

    def __enter__(self) -> "SheetReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def raw_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every non-empty row of the chosen sheet as read, title and header rows included:
        (row number, {column letters: value}). The report writes these back."""
        return self._rows()

    def products(self, start_after_row: int = 0, sku_log: list | None = None) -> Iterator[RawProduct]:
        """Products in sheet order. ``start_after_row``: resume after a checkpoint (the last row
        of the last product handed on); earlier products are read but not yielded, so codes
        seen before the checkpoint still count for uniqueness. ``sku_log``: (row, SKU code, the
        index in its product's findings where a SKU_DUPLICATE of that row goes) is appended for
        every row with a SKU code (a reader of part of a sheet reports them for the checks
        across parts: ``shangjia.sheets.blocks.AcrossBlocks``).

        May raise ``FindingError`` mid-stream (a row limit, a corrupt part discovered late)."""
        spec = load_spec()
        cols = self.info.columns
        by_letter = {letter: (name, spec[name].type, spec[name].type in _PLAIN_TYPES, spec[name].level == "spu")
                     for name, letter in cols.items()}
        max_chars = self.limits.max_cell_chars
        spu_fields = frozenset(spec.spu_fields) - {"spu_code"}
        spu_letter = cols.get("spu_code")
        sku_letter = cols.get("sku_code")
        start = self.info.data_start_row
        clean = _Cleaner(self.limits)
        Num = clean.Num
        max_rows = self.limits.row_limit(self.info.format)
        per_product = self.limits.max_rows_per_product
        progress = self.on_progress
        total = self.info.data_rows
        seen_spu: dict[str, int] = {}
        seen_sku: dict[str, int] = {}
        cur: RawProduct | None = None
        cur_raw: dict[str, Any] = {}
        cur_spu_values: dict[str, str] = {}
        n = 0
        shared_cols = dict(cols)

        for rownum, cells in self._rows():
            if rownum < start:
                continue
            n += 1
            if n > max_rows:
                raise FindingError(finding("SHEET_TOO_MANY_ROWS", file=self.filename, limit=max_rows))
            if progress and n % 2000 == 0:
                progress(n, total)
            mapped: dict[str, str] = {}
            notes: list[Finding] | None = None
            # A row repeating its product's columns: values read from the shared-strings table
            # are the very same objects as on the product's first row, so they are skipped
            # without cleaning (they would be dropped as repeats anyway).
            cont = cur is not None and spu_letter is not None and (
                cells.get(spu_letter) is cur_raw.get(spu_letter) is not None)
            for letter, v in cells.items():
                spec_f = by_letter.get(letter)
                if spec_f is None:
                    continue
                fname, ftype, plain, is_spu = spec_f
                if cont and is_spu and v is cur_raw.get(letter):
                    if fname == "spu_code":
                        mapped[fname] = cur.spu_code
                    continue
                code = None
                if v.__class__ is str:                 # the common case, inlined
                    s = v.strip()
                    if plain:
                        if "\r" in s:
                            s = _CR.sub("\n", s)
                    elif not s.isascii():
                        s = to_halfwidth(s).strip()
                    if ftype == "code" and ("E" in s or "e" in s) and _SCI.match(s):
                        code = "CODE_PRECISION_LOST"
                    elif len(s) > max_chars:
                        s, code = s[:max_chars], "CELL_TOO_LONG"
                elif v.__class__ is Num and ftype != "code" and len(v) <= 15 and "E" not in v and "e" not in v:
                    s = str(v)                         # a number as stored is as typed; plain str
                else:
                    s, code = clean(v, ftype, fname != "barcode")
                if code:
                    if notes is None:
                        notes = []
                    notes.append(finding(code, row=rownum, column=letter, field=fname, value=s,
                                         limit=max_chars))
                if s:
                    mapped[fname] = s
            if not mapped:
                continue
            spu = mapped.get("spu_code") if spu_letter else None
            if cur is not None and (spu is None or spu == cur.spu_code):
                row = RawRow(rownum, mapped, shared_cols)
                self._append(cur, row, cur_spu_values, spu_fields, per_product)
            else:
                if cur is not None:
                    self.rows_read = n
                    if cur.last_row > start_after_row:
                        yield cur
                cur = RawProduct(spu or "", [RawRow(rownum, mapped, shared_cols)], [])
                cur_raw = cells
                cur_spu_values = {k: v for k, v in mapped.items() if k in spu_fields}
                if spu is None:
                    cur.findings.append(finding("ROW_NO_PRODUCT", row=rownum, column=spu_letter,
                                                field="spu_code"))
                elif spu in seen_spu:
                    cur.findings.append(split_product_finding(rownum, spu_letter, spu, seen_spu[spu]))
                else:
                    seen_spu[spu] = rownum
            if notes:
                cur.findings.extend(notes)
            sku = mapped.get("sku_code") if sku_letter else None
            if sku is not None:
                if sku_log is not None:                # where this row's SKU_DUPLICATE goes, if any
                    sku_log.append((rownum, sku, len(cur.findings)))
                first = seen_sku.get(sku)
                if first is None:
                    seen_sku[sku] = rownum
                else:
                    cur.findings.append(duplicate_sku_finding(rownum, sku_letter, sku, first))
        if cur is not None and cur.last_row > start_after_row:
            self.rows_read = n
            yield cur
        self.rows_read = n
        if progress:
            progress(n, total)

    @staticmethod
    def _append(cur: RawProduct, row: RawRow, spu_values: dict[str, str], spu_fields, limit: int) -> None:
        if len(cur.rows) >= limit:
            if not any(f.code == "ROW_TOO_MANY_SKUS" for f in cur.findings):
                cur.findings.append(finding("ROW_TOO_MANY_SKUS", row=row.row, value=cur.spu_code,
                                            count=f"> {limit}", limit=limit))
            return
        cells = row.cells
        again = spu_fields.intersection(cells)      # product columns given again on a SKU row
        for k in ([k for k in cells if k in again] if again else ()):
            first = spu_values.get(k)
            if first is None:
                spu_values[k] = cells[k]            # first given on a later row: it counts
            else:
                if first != cells[k] and not any(f.code == "ROW_PRODUCT_CONFLICT" and f.params.get("name") == k
                                                 for f in cur.findings):
                    cur.findings.append(finding("ROW_PRODUCT_CONFLICT", row=row.row, column=row.columns.get(k),
                                                field=k, value=cells[k], name=k))
                del cells[k]                        # a repeat, or a conflicting value the first row overrides
        cells.pop("spu_code", None)
        cur.rows.append(row)


def split_product_finding(row: int, column: str | None, spu: str, first_row: int) -> Finding:
    """A product's rows resumed after another product's (one declaration for every reader)."""
    return finding("ROW_SPLIT_PRODUCT", row=row, column=column, field="spu_code", value=spu, first_row=first_row)


def duplicate_sku_finding(row: int, column: str | None, sku: str, first_row: int) -> Finding:
    return finding("SKU_DUPLICATE", row=row, column=column, field="sku_code", value=sku, first_row=first_row)


# ---- opening ------------------------------------------------------------------------------------

def _as_stream(source: Any, filename: str, limits: Limits) -> tuple[BinaryIO, int, Callable[[], None] | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        b = bytes(source)
        return io.BytesIO(b), len(b), None
    if isinstance(source, (str, os.PathLike)):
        size = os.path.getsize(source)
        if size > limits.max_bytes:
            raise FindingError(finding("SHEET_TOO_LARGE", file=filename, size_mb=size // 2**20,
                                       limit_mb=limits.max_bytes // 2**20))
        fh = open(source, "rb")
        return fh, size, fh.close
    fh = source
    if getattr(fh, "seekable", lambda: False)():
        fh.seek(0, 2)                  # the whole upload, whatever was read from it before
        size = fh.tell()
        fh.seek(0)
        return fh, size, None
    # A stream that cannot seek (an HTTP body): spooled to a temporary file past 16 MB, in
    # pieces, so a large one never sits in memory whole. Past ``max_bytes`` it is refused.
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=16 * 2**20)
    size = 0
    while size <= limits.max_bytes and (piece := fh.read(min(1 << 20, limits.max_bytes + 1 - size))):
        spool.write(piece)
        size += len(piece)
    spool.seek(0)
    return spool, size, spool.close


def _ole2_reason(fh: BinaryIO) -> FindingError:
    fh.seek(0)
    head = fh.read(1 << 20)
    if "EncryptedPackage".encode("utf-16-le") in head or "EncryptionInfo".encode("utf-16-le") in head:
        return FindingError(finding("SHEET_ENCRYPTED"))
    if "Workbook".encode("utf-16-le") in head or "Book".encode("utf-16-le") in head:
        return FindingError(finding("SHEET_UNSUPPORTED_FORMAT", format="Excel 97-2003 (.xls)"))
    return FindingError(finding("SHEET_UNSUPPORTED_FORMAT", format="OLE2 compound document (.xls/.doc), damaged or not a workbook"))


def open_sheet(source: bytes | str | os.PathLike | BinaryIO, filename: str,
               limits: Limits | None = None) -> SheetReader:
    """Open a merchant sheet. Raises ``FindingError`` (a SHEET_* finding) when the file is refused."""
    limits = limits or Limits()
    fh, size, closer = _as_stream(source, filename, limits)
    try:
        reader = _open(fh, size, filename, limits, closer)
    except FindingError as e:
        if closer:
            closer()
        if e.finding.file is None:
            raise FindingError(_with_file(e.finding, filename)) from None
        raise
    except MemoryError:
        if closer:
            closer()
        raise FindingError(finding("SHEET_TOO_LARGE", file=filename, size_mb=size // 2**20,
                                   limit_mb=limits.max_bytes // 2**20)) from None
    return reader


def _with_file(f: Finding, filename: str) -> Finding:
    d = {k: getattr(f, k) for k in f.__dataclass_fields__}
    d["file"] = filename
    return Finding(**d)


def _open(fh: BinaryIO, size: int, filename: str, limits: Limits, closer) -> SheetReader:
    if size == 0:
        raise FindingError(finding("SHEET_EMPTY", file=filename))
    if size > limits.max_bytes:
        raise FindingError(finding("SHEET_TOO_LARGE", file=filename, size_mb=size // 2**20,
                                   limit_mb=limits.max_bytes // 2**20))
    head = fh.read(8)
    fh.seek(0)
    suffix = os.path.splitext(filename)[1].lower()
    if head.startswith(b"PK"):
        return _open_zip(fh, filename, limits, closer, suffix)
    if head.startswith(_OLE2):
        raise _ole2_reason(fh)
    if suffix in (".xlsx", ".xlsm", ".ods"):
        sample = fh.read(64).decode("utf-8", "replace").strip().splitlines()
        shown = (sample[0][:40] if sample else "")
        raise FindingError(finding("SHEET_NOT_SPREADSHEET", file=filename,
                                   reason=f"a {suffix} file must be a zip workbook; this one starts with text “{shown}”"))
    probe = fh.read(512).lstrip(b"\xef\xbb\xbf").lstrip().lower()
    fh.seek(0)
    if probe.startswith((b"<html", b"<!doctype html", b"<table")):
        raise FindingError(finding("SHEET_UNSUPPORTED_FORMAT", file=filename, format="HTML page saved as a spreadsheet"))
    if probe.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in fh.read(4096):
        raise FindingError(finding("SHEET_UNSUPPORTED_FORMAT", file=filename, format="Excel 2003 XML Spreadsheet"))
    fh.seek(0)
    if suffix == ".json" or probe.startswith(b"{"):
        if size > limits.max_feed_bytes:                 # a feed is parsed whole, not streamed
            raise FindingError(finding("SHEET_TOO_LARGE", file=filename, size_mb=size // 2**20,
                                       limit_mb=limits.max_feed_bytes // 2**20))
        from shangjia.inbound.feed import feed_reader    # an ERP feed: Taobao/Pinduoduo items, mapped
        return feed_reader(fh.read(), filename, limits)
    from shangjia.sheets.text import TextSheet
    ts = TextSheet(fh, limits, filename)
    info_extra = {"format": "csv", "encoding": ts.encoding, "delimiter": ts.delimiter}
    info, findings = _find_header([(filename, ts.rows, "visible")], limits, filename, info_extra)
    if suffix in (".xls",) and info is None:
        raise FindingError(finding("SHEET_NOT_SPREADSHEET", file=filename,
                                   reason="named .xls but holds plain text without a product header"))
    return _foreign(SheetReader(info, ts.rows, findings, limits, filename, closer))


def _open_zip(fh: BinaryIO, filename: str, limits: Limits, closer, suffix: str) -> SheetReader:
    import zipfile                    # imported here: keeps the package light for cold starts

    from shangjia.sheets.xlsx import XlsxBook
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        raise FindingError(finding("SHEET_CORRUPT", file=filename, reason=f"not a readable zip archive ({e})")) from None
    book = XlsxBook(zf, limits, filename)
    findings: list[Finding] = []
    if book.has_macros:
        findings.append(finding("SHEET_MACROS_IGNORED", file=filename))
    if not book.sheets:
        raise FindingError(finding("SHEET_NO_SHEET", file=filename))
    candidates = [(name, (lambda p=path: book.rows(p)), state) for name, path, state in book.sheets]
    fmt = "xlsm" if book.has_macros or suffix == ".xlsm" else "xlsx"
    info, more = _find_header(candidates, limits, filename, {"format": fmt})
    findings.extend(more)
    path = next(p for n, p, s in book.sheets if n == info.sheet_name)
    if limits.precount:
        # Trust a declared <dimension> for the progress total when it is within the limit (the
        # limit is enforced while streaming anyway) and the part is big enough to hold that many
        # rows (a row takes 20+ bytes of XML); count the rows when it is missing or claims more
        # (issue_174.xlsx declares A1:XFD1048576 for two rows). Counting inflates the part once
        # more, so a real million-row sheet, whose dimension is right, is not counted.
        max_rows = limits.row_limit(fmt)
        total = book.dimension_rows(path)
        if total is None or total > max_rows or total * 20 > book.part_size(path):
            total = book.count_rows(path)
        info.total_rows = total
        if total - info.data_start_row + 1 > max_rows and total > max_rows:
            raise FindingError(finding("SHEET_TOO_MANY_ROWS", file=filename, limit=max_rows))

    def close() -> None:
        book.close()
        zf.close()
        if closer:
            closer()
    reader = SheetReader(info, lambda: book.rows(path), findings, limits, filename, close)
    reader.xlsx = (book, path)
    return _foreign(reader)


def _foreign(reader: SheetReader) -> SheetReader:
    """Another platform's export we can map (shangjia.inbound.exports) reads through its mapping."""
    if reader.info.layout.startswith("export:"):
        from shangjia.inbound.exports import ExportReader
        return ExportReader(reader)
    return reader


_TAOBAO = {normalize_header(h) for h in ("宝贝名称", "宝贝类目", "宝贝价格", "宝贝数量", "宝贝描述", "商家编码")}


def _find_header(candidates, limits: Limits, filename: str, extra: dict) -> tuple[SheetInfo, list[Finding]]:
    """The first visible sheet with a product header row in its first rows."""
    from shangjia.sheets.layouts import detect_foreign_layout
    spec = load_spec()
    looked: list[str] = []
    hidden: list[str] = []
    scanned = 0
    for sheet_name, rows_fn, state in candidates:
        if state != "visible":
            hidden.append(sheet_name)
            continue
        looked.append(sheet_name)
        buf: list[tuple[int, dict]] = []
        it = rows_fn()
        try:
            for rownum, cells in it:
                buf.append((rownum, cells))
                if len(buf) >= limits.header_scan_rows:
                    break
        finally:
            close = getattr(it, "close", None)
            close and close()
        scanned = max(scanned, len(buf))
        best = None
        for i, (rownum, cells) in enumerate(buf):
            texts = [str(v) for v in cells.values() if v is not None and not _is_number(v)]
            layout = detect_foreign_layout(texts)
            if layout:
                from shangjia.inbound.exports import export_info
                info = export_info(layout, buf, i, sheet_name, extra)     # Shopify, WooCommerce: mapped
                if info is not None:
                    return info, []
                raise FindingError(finding("SHEET_FOREIGN_LAYOUT", file=filename, layout=layout))
            m = _match_row(spec, cells)
            if best is None or len(m) > len(best[2]):
                best = (i, rownum, m)
        if best is None:
            continue
        i, rownum, mapping = best
        if len(mapping) < 4 or not ({"spu_code", "sku_code"} & set(mapping)):
            continue
        return _build_info(spec, buf, i, sheet_name, extra, filename, limits)
    sheets = ""
    if len(looked) > 1 or hidden:
        sheets = "; sheets: " + ", ".join(looked) + (f" (hidden, skipped: {', '.join(hidden)})" if hidden else "")
    raise FindingError(finding("SHEET_NO_HEADER", file=filename, scanned=scanned, sheets=sheets))


def _is_number(v: Any) -> bool:
    from shangjia.sheets.xlsx import Num
    return isinstance(v, Num)


def _match_row(spec, cells: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for letter, v in cells.items():
        if not isinstance(v, str) or _is_number(v):
            continue
        f = spec.match_header(v)
        if f and f not in out:
            out[f] = letter
    return out


def _build_info(spec, buf, i: int, sheet_name: str, extra: dict, filename: str, limits: Limits):
    from shangjia.sheets.xlsx import col_index
    rownum, cells = buf[i]
    findings: list[Finding] = []
    columns: dict[str, str] = {}
    labels: dict[str, str] = {}
    unknown: list[str] = []
    for letter, v in cells.items():
        if _is_number(v) or not str(v).strip():
            continue
        f = spec.match_header(v)
        labels[letter] = str(v)
        if f is None:
            if str(v).strip() not in IGNORED_HEADERS:
                unknown.append(str(v).strip())
        elif f in columns:
            findings.append(finding("SHEET_DUPLICATE_COLUMN", file=filename, row=rownum, column=letter,
                                    field=f, value=str(v)))
        else:
            columns[f] = letter
    data_start = rownum + 1
    # Merged or two-level headers: a group header above ("价格" over 售价/划线价) or a second
    # header row below fill the columns this row leaves blank.
    for j in (i - 1, i + 1):
        if 0 <= j < len(buf):
            other_row, other = buf[j]
            if j == i + 1 and other_row != rownum + 1:
                continue
            extra_map = {f: L for f, L in _match_row(spec, other).items()
                         if f not in columns and L not in labels}
            if j == i + 1 and len(extra_map) < 2:
                continue
            for f, L in extra_map.items():
                columns[f] = L
                labels[L] = str(other[L])
                if j == i + 1:
                    data_start = other_row + 1
    width = max((col_index(L) + 1 for L in cells), default=0)
    if width > limits.max_columns:
        raise FindingError(finding("SHEET_TOO_MANY_COLUMNS", file=filename, count=width, limit=limits.max_columns))
    missing = [f for f in spec.fields if f.required is True and f.name not in columns]
    if missing:
        names = "、".join(f"{f.zh}({f.en})" for f in missing)
        raise FindingError(finding("SHEET_MISSING_COLUMN", file=filename, row=rownum, field=names))
    for u in unknown[:10]:
        findings.append(finding("SHEET_UNKNOWN_COLUMN", file=filename, row=rownum, value=u))
    norm = {normalize_header(v) for v in labels.values()}
    if all(spec[f].header == labels.get(L, "").lstrip("*") for f, L in columns.items()):
        layout = "shangjia"
    elif norm & _TAOBAO:
        layout = "taobao"
    else:
        layout = "custom"
    info = SheetInfo(layout=layout, sheet_name=sheet_name, header_row=rownum, columns=columns,
                     header_labels=labels, data_start_row=data_start, **extra)
    return info, findings


def products_from_records(records: Iterable[dict[str, Any]], source: str = "records",
                          limits: Limits | None = None) -> Iterator[RawProduct]:
    """Products from rows that arrive as dicts (an ERP webhook, a JSON upload), through the very
    same header mapping, cleaning and grouping as a sheet. Keys may be field names or any header
    alias (商品标题, Title, ...); row numbers are 2.. (row 1 stands for the header).
    Raises ``FindingError`` like ``open_sheet`` (e.g. SHEET_MISSING_COLUMN)."""
    from shangjia.sheets.xlsx import col_letters

    records = list(records)
    keys: dict[str, str] = {}
    for rec in records:
        for k in rec:
            if k not in keys:
                keys[k] = col_letters(len(keys))
    header = (1, {L: k for k, L in keys.items()})
    rows = [header] + [(i, {keys[k]: v if isinstance(v, str) else str(v) for k, v in rec.items()
                            if v is not None and v != ""}) for i, rec in enumerate(records, 2)]
    limits = limits or Limits()
    info, findings = _find_header([(source, lambda: iter(rows), "visible")], limits, source, {"format": "records"})
    return SheetReader(info, lambda: iter(rows), findings, limits, source).products()
