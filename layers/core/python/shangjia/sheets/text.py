"""Delimited text sheets: CSV/TSV in UTF-8 (with or without BOM), GBK/GB18030, UTF-16.

The encoding is decided from a sample (BOM, then strict UTF-8, then NUL-byte patterns for
UTF-16 without BOM, then strict GB18030, then Windows-1252); the delimiter from Excel's
``sep=`` line or the counts of tab, comma, semicolon and bar in the first lines. Rows stream
through ``csv.reader``; a row number is the record number, which is what Excel shows.

A cell gets what the same cell gets from an .xlsx: one longer than ``Limits.max_cell_chars`` is
read whole (up to the file's own size limit, not ``csv``'s 128 KiB field limit, which refused the
whole file) and cut with CELL_TOO_LONG where products are built; a cell holding C0 control
characters XML 1.0 cannot carry (NUL, ESC, ...: an .xlsx cannot hold them as text) is handed on
cleaned, as ``FlaggedText`` carrying CELL_CONTROL_CHAR, and reported at its row and column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import IO, Iterator

from shangjia.errors import FindingError, finding
from shangjia.sheets.xlsx import col_letters

SAMPLE = 1 << 16
_COLS = [col_letters(i) for i in range(1024)]
# C0 controls but tab, line feed and carriage return: what XML 1.0 (so an .xlsx) cannot hold.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_C_LONG_MAX = 2**31 - 1


class FlaggedText(str):
    """A cell's text, already cleaned, with the finding code the reader found for it. The sheet
    reader's cleaning (``shangjia.sheets._Cleaner``) reports the code at the cell's row and column."""

    code: str = ""


def _flag_control(v: str) -> FlaggedText:
    t = FlaggedText(_CONTROL.sub("", v))
    t.code = "CELL_CONTROL_CHAR"
    return t


def _allow_fields_up_to(chars: int) -> None:
    """``csv``'s field limit (process-wide, 128 KiB by default) raised to what the file size limit
    allows: an over-long cell is the cell's problem (cut and located), not the file's."""
    want = min(max(chars, 1), _C_LONG_MAX)
    if csv.field_size_limit() < want:
        csv.field_size_limit(want)


def detect_encoding(sample: bytes) -> tuple[str, int]:
    """(codec name, BOM length) for a sample of the file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    head = sample[:4096]
    if len(head) >= 4:
        even_nul = head[0::2].count(0)
        odd_nul = head[1::2].count(0)
        half = len(head) // 2
        if odd_nul > half * 0.3 and even_nul < half * 0.05:
            return "utf-16-le", 0
        if even_nul > half * 0.3 and odd_nul < half * 0.05:
            return "utf-16-be", 0
    if head.count(0) > max(2, len(head) // 100):
        raise ValueError("binary")
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)("strict").decode(sample, final=False)
            return enc, 0
        except UnicodeDecodeError:
            continue
    return "cp1252", 0


def detect_delimiter(text: str) -> tuple[str, bool]:
    """(delimiter, whether a ``sep=`` first line is to be skipped)."""
    first = text.split("\n", 1)[0].strip().strip('"')
    if first.lower().startswith("sep=") and len(first) == 5:
        return first[4], True
    lines = [ln for ln in text.split("\n")[:20] if ln.strip()][:10]
    best, best_score = ",", 0
    for d in ("\t", ",", ";", "|"):
        counts = [ln.count(d) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        score = max(counts) * 2 + counts.count(max(counts))  # wide and consistent wins
        if score > best_score:
            best, best_score = d, score
    return best, False


def _binary_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if (ch < " " and ch not in "\t\r\n") or ch == "\ufffd")
    return bad / len(text)


class TextSheet:
    def __init__(self, fh: IO[bytes], limits, filename: str) -> None:
        self.fh = fh
        self.limits = limits
        self.filename = filename
        sample = fh.read(SAMPLE)
        fh.seek(0)
        try:
            self.encoding, bom = detect_encoding(sample)
        except ValueError:
            raise FindingError(finding("SHEET_NOT_SPREADSHEET", file=filename,
                                       reason="binary content, not text")) from None
        dec = codecs.getincrementaldecoder(self.encoding)("replace")
        text = dec.decode(sample[bom:], final=False)
        if _binary_ratio(text[:8192]) > 0.05:
            raise FindingError(finding("SHEET_NOT_SPREADSHEET", file=filename,
                                       reason="binary content, not text"))
        self.delimiter, self.skip_sep = detect_delimiter(text)
        self.bom = bom

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        self.fh.seek(self.bom)
        stream = io.TextIOWrapper(self.fh, encoding=self.encoding, errors="replace", newline="")
        _allow_fields_up_to(self.limits.max_bytes + 1)      # a field is never larger than its file
        reader = csv.reader(stream, delimiter=self.delimiter)
        max_cells = self.limits.max_cells_per_row
        cols = _COLS
        control = _CONTROL.search
        n = 0
        try:
            for rec in reader:
                n += 1
                if n == 1 and self.skip_sep:
                    continue
                if len(rec) > max_cells:
                    raise FindingError(finding("SHEET_TOO_MANY_COLUMNS", file=self.filename,
                                               count=len(rec), limit=max_cells))
                dirty = control("".join(rec)) is not None       # one search per record, cells only if found
                cells = {}
                for i, v in enumerate(rec):
                    if v:
                        if dirty and control(v):
                            v = _flag_control(v)
                        cells[cols[i] if i < 1024 else col_letters(i)] = v
                if cells:
                    yield n - (1 if self.skip_sep else 0), cells
        except csv.Error as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"record {n + 1}: {e}")) from e
        finally:
            stream.detach()
