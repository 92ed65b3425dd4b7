"""Hostile sizes inside the zip-bomb limits: one enormous shared string, one enormous row, a
long run of empty rows or of XML after the data, markup that makes a backtracking regex
rescan the rest of a row. Each is refused where it is (code, row, column) or read, in work
linear in what is inflated and in bounded memory, and the rows before the damage are still
handed on. Work is measured by what is inflated and searched (``xlsx.SCANNED``), memory by
tracemalloc's peak; never by the clock."""

from __future__ import annotations

import io
import itertools
import json
import random
import subprocess
import sys
import tracemalloc
import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet
from shangjia.sheets import xlsx

from .kit import product_rows, to_xlsx

MB = 2**20
PRODUCTS = 12                     # 48 data rows: past the 30 rows the header search reads


def _good() -> bytes:
    return to_xlsx(sum((product_rows(f"P{i:02d}") for i in range(PRODUCTS)), []))


def _filler(rate: float = 0.0015) -> bytes:
    """1 MB that deflates about 165:1, inside the 200:1 ratio refused before inflating."""
    rng = random.Random(1)
    b = bytearray(b"A" * MB)
    for _ in range(int(MB * rate)):
        b[rng.randrange(MB)] = rng.choice(b"BCDEFGHIJKLMNOPQRSTUVWXYZ")
    return bytes(b)


def _hostile(path, part: str, before: bytes, body, after: bytes, at: bytes, *, good: bytes | None = None):
    """``good`` with ``before``, the pieces of ``body`` (an int: that many MB of ``_filler``)
    and ``after`` written into ``part`` in front of ``at``, streamed into the zip (the test
    never holds the inflated part)."""
    src = zipfile.ZipFile(io.BytesIO(good or _good()))
    if isinstance(body, int):
        body = itertools.repeat(_filler(), body)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename != part:
                z.writestr(info, data)
                continue
            head, sep, tail = data.partition(at)
            assert sep
            with z.open(part, "w", force_zip64=True) as w:
                w.write(head + before)
                for piece in body:
                    w.write(piece)
                w.write(after + at + tail)
    return path


@pytest.fixture
def inflated(monkeypatch):
    """Bytes inflated per part while reading."""
    seen: dict[str, int] = {}
    chunks = xlsx.XlsxBook._chunks

    def metered(self, path):
        for c in chunks(self, path):
            seen[path] = seen.get(path, 0) + len(c)
            yield c
    monkeypatch.setattr(xlsx.XlsxBook, "_chunks", metered)
    return seen


def _read(path, limits: Limits | None = None):
    """(product codes handed on, the refusal or None, tracemalloc peak in bytes, chars searched)."""
    got: list[str] = []
    err = None
    scanned = xlsx.SCANNED[0]
    tracemalloc.start()
    try:
        with open_sheet(str(path), "h.xlsx", limits) as r:
            for p in r.products():
                got.append(p.spu_code)
    except FindingError as e:
        err = e.finding
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return got, err, peak, xlsx.SCANNED[0] - scanned


def _ratio(path, part: str) -> float:
    i = zipfile.ZipFile(path).getinfo(part)
    return i.file_size / i.compress_size


def test_a_huge_shared_string_is_refused_before_it_is_read(tmp_path, inflated):
    """The issue's upload: 1.2 MB holding a 256 MB shared string took 100 s and 816 MB. Here
    64 MB of it (same shape, same ratio): refused once one string passes 1 MB."""
    strings = zipfile.ZipFile(io.BytesIO(_good())).read("xl/sharedStrings.xml").count(b"<si>")
    path = _hostile(tmp_path / "s.xlsx", "xl/sharedStrings.xml", b"<si><t>", 64, b"</t></si>", b"</sst>")
    assert _ratio(path, "xl/sharedStrings.xml") < Limits().max_ratio     # inside the zip-bomb limits
    got, f, peak, scanned = _read(path)
    read = inflated["xl/sharedstrings.xml"]
    assert peak < 16 * MB, f"peak {peak / MB:.0f} MB"
    assert read < 2 * MB, f"{read / MB:.0f} MB inflated"       # stopped at the bound, not 64 MB on
    assert f is not None and f.code == "SHEET_STRING_TOO_LARGE", f
    assert f.params["index"] == strings + 1 and f.file == "h.xlsx"
    assert "1 MB" in f.message_en and "1 MB" in f.message_zh
    assert read < Limits().max_string_xml + 2 * xlsx.CHUNK
    assert scanned <= 3 * read                                  # each new chunk searched once per tag


def test_a_huge_row_is_refused_where_it_is_after_the_rows_before_it(tmp_path, inflated):
    """The issue's other upload: 0.7 MB holding one 128 MB row ran past 400 s. Here 32 MB of
    it: refused at its row and the cell that outgrew the bound, the products before it handed on."""
    row = b'<row r="60"><c r="A60" t="inlineStr"><is><t>P99</t></is></c><c r="C60" t="inlineStr"><is><t>'
    path = _hostile(tmp_path / "r.xlsx", "xl/worksheets/sheet1.xml", row, 32, b"</t></is></c></row>",
                    b"</sheetData>")
    assert _ratio(path, "xl/worksheets/sheet1.xml") < Limits().max_ratio
    got, f, peak, scanned = _read(path)
    read = inflated["xl/worksheets/sheet1.xml"]                # its <dimension> and the header search read a chunk each
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"
    assert read < 6 * MB, f"{read / MB:.0f} MB inflated"
    assert f is not None and f.code == "SHEET_ROW_TOO_LARGE", f
    assert (f.row, f.column) == (60, "C") and "Row 60" in f.message_en and "第 60 行" in f.message_zh
    assert got == [f"P{i:02d}" for i in range(PRODUCTS - 1)]   # the last one unfinished, as for any damage
    assert read < Limits().max_row_xml + 4 * xlsx.CHUNK
    assert scanned <= 4 * read


def test_the_bounds_follow_the_limits(tmp_path):
    """The limits are what is enforced: a 1 MB cell (a cell's bound is 1 MB, a row's 4 MB) is
    read (and cut as any long cell is), and refused at its row and column under smaller bounds,
    whether the row or the cell passes its bound."""
    row = b'<row r="60"><c r="A60" t="inlineStr"><is><t>P99</t></is></c><c r="C60" t="inlineStr"><is><t>'
    path = _hostile(tmp_path / "r.xlsx", "xl/worksheets/sheet1.xml", row, 1, b"</t></is></c></row>",
                    b"</sheetData>")
    got, f, _peak, _ = _read(path)
    assert f is None and got[-1] == "P99"
    for limits in (Limits(max_row_xml=512 * 1024), Limits(max_string_xml=512 * 1024)):
        _got, f, _peak, _ = _read(path, limits)
        assert f.code == "SHEET_ROW_TOO_LARGE" and (f.row, f.column) == (60, "C") and "512 KB" in f.message_en, f
    path = _hostile(tmp_path / "s.xlsx", "xl/sharedStrings.xml", b"<si><t>", 1, b"</t></si>", b"</sst>")
    assert _read(path)[1] is None
    _got, f, _peak, _ = _read(path, Limits(max_string_xml=256 * 1024))
    assert f.code == "SHEET_STRING_TOO_LARGE" and "256 KB" in f.message_en


@pytest.mark.parametrize("kind", ["string", "row"])
def test_long_pieces_within_the_bounds_are_searched_once(kind, tmp_path, monkeypatch):
    """Bytes searched grow with the piece, not with its square: small chunks, a piece of N and
    of 2N characters (under the bounds) that closes only at its end."""
    monkeypatch.setattr(xlsx, "CHUNK", 4096)
    scanned = {}
    for n in (256, 512):                                        # KB
        body = itertools.repeat(b"x" * 1024, n)
        if kind == "string":
            path = _hostile(tmp_path / f"{n}.xlsx", "xl/sharedStrings.xml", b"<si><t>", body, b"</t></si>", b"</sst>")
        else:
            path = _hostile(tmp_path / f"{n}.xlsx", "xl/worksheets/sheet1.xml",
                            b'<row r="60"><c r="A60" t="inlineStr"><is><t>P99</t></is></c>'
                            b'<c r="C60" t="inlineStr"><is><t>', body, b"</t></is></c></row>", b"</sheetData>")
        got, f, _peak, scanned[n] = _read(path, Limits(max_ratio=10**6))
        assert f is None and len(got) == PRODUCTS + (kind == "row")
        assert scanned[n] <= 4 * (n * 1024 + 200_000), scanned   # a few passes over what was inflated
    assert scanned[512] < 2.2 * scanned[256], scanned


def test_long_runs_after_the_data_are_read_in_bounded_memory(tmp_path):
    """Legal sheets the bound must not refuse: 120,000 formatted empty rows (6 MB, more than a
    row's bound, none of it one row) and 8 MB of hyperlinks after </sheetData>. Neither is
    kept whole, and both read as the sheet without them."""
    empty = (b'<row r="%d" spans="1:31" ht="20" customHeight="1"/>' % i for i in range(50, 120_050))
    path = _hostile(tmp_path / "e.xlsx", "xl/worksheets/sheet1.xml", b"", empty, b"", b"</sheetData>")
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size > 6 * MB
    got, f, peak, scanned = _read(path, Limits(max_ratio=10**6))
    assert f is None and got == [f"P{i:02d}" for i in range(PRODUCTS)]
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"
    links = (b'<hyperlink ref="A%d" r:id="rId%d"/>' % (i, i) for i in range(2, 250_000))
    path = _hostile(tmp_path / "h.xlsx", "xl/worksheets/sheet1.xml", b"<hyperlinks>", links, b"</hyperlinks>",
                    b"</worksheet>")
    assert zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size > 8 * MB
    got, f, peak, _ = _read(path, Limits(max_ratio=10**6))
    assert f is None and got == [f"P{i:02d}" for i in range(PRODUCTS)]
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"


def test_rows_after_a_huge_tail_past_the_sheet_data_are_refused_not_read(tmp_path):
    links = (b'<hyperlink ref="A%d" r:id="rId%d"/>' % (i, i) for i in range(2, 200_000))
    path = _hostile(tmp_path / "t.xlsx", "xl/worksheets/sheet1.xml", b"<hyperlinks>", links,
                    b'</hyperlinks><row r="99"><c r="A99" t="inlineStr"><is><t>X</t></is></c></row>',
                    b"</worksheet>")
    got, f, _peak, _ = _read(path, Limits(max_ratio=10**6))
    assert f.code == "SHEET_CORRUPT" and "after the end of the sheet data" in f.message_en
    assert got == [f"P{i:02d}" for i in range(PRODUCTS - 1)]


def test_the_expat_path_bounds_a_cell_and_a_string_too(tmp_path):
    """Parts with namespace prefixes go through expat: a huge cell is refused at its row and
    column, a huge shared string by its number, without holding either."""
    good = _good()
    z = zipfile.ZipFile(io.BytesIO(good))
    sheet = z.read("xl/worksheets/sheet1.xml")
    prefixed = sheet.replace(b"<worksheet xmlns=", b"<x:worksheet xmlns:x=").replace(b"</worksheet>", b"</x:worksheet>")
    good = _rezip(good, {"xl/worksheets/sheet1.xml": prefixed})
    path = _hostile(tmp_path / "x.xlsx", "xl/worksheets/sheet1.xml",
                    b'<row r="60"><c r="C60" t="inlineStr"><is><t>', 16, b"</t></is></c></row>",
                    b"</sheetData>", good=good)
    got, f, peak, _ = _read(path)
    assert f.code == "SHEET_ROW_TOO_LARGE" and (f.row, f.column) == (60, "C"), f
    assert got == [f"P{i:02d}" for i in range(PRODUCTS - 1)]
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"

    sst = z.read("xl/sharedStrings.xml")
    sst = sst.replace(b"<sst xmlns=", b"<x:sst xmlns:x=").replace(b"</sst>", b"</x:sst>")
    good = _rezip(_good(), {"xl/sharedStrings.xml": sst})
    path = _hostile(tmp_path / "y.xlsx", "xl/sharedStrings.xml", b"<si><t>", 16, b"</t></si>", b"</x:sst>", good=good)
    got, f, peak, _ = _read(path)
    assert f.code == "SHEET_STRING_TOO_LARGE" and f.params["index"] == sst.count(b"<si>") + 1, f
    assert peak < 40 * MB, f"peak {peak / MB:.0f} MB"


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in src.infolist():
            z.writestr(i.filename, replace.get(i.filename, src.read(i.filename)))
    return out.getvalue()


# Markup no writer produces, in rows well under the bound, where a lazy or unbounded regex
# rescanned the rest of the row for every occurrence (hours on a 1 MB upload).
RESCAN = {
    "inline string never closed": ('<row r="60"><c r="A60" t="s"><v>0</v></c>', '<c r="B60" t="inlineStr"><is><t>x', "</row>"),
    "text run never closed": ('<row r="60"><c r="A60" t="inlineStr"><is>', "<t>x", "</is></c></row>"),
    "cell tag never closed": ('<row r="60"><c r="A60" t="s"><v>0</v></c>', '<c r="B60"', "</row>"),
    "comment never closed": ('<row r="60"><c r="A60" t="s"><v>0</v></c>', "<!--", "</row>"),
    "row tag never closed": ("", "<row", ""),
}

CHILD = r"""
import io, json, resource, sys, zipfile
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))     # a hang guard only: each takes well under 1 s
from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet
out = {}
for name in sys.argv[1:]:
    try:
        with open_sheet(name, "h.xlsx", Limits(max_ratio=10**6)) as r:
            out[name] = ["ok", len(list(r.products()))]
    except FindingError as e:
        out[name] = [e.finding.code, e.finding.row]
print(json.dumps(out))
# VmHWM: this process's own peak; ru_maxrss keeps the forking parent's peak across exec on Linux
print(next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")))
"""


def test_markup_that_made_a_regex_rescan_is_read_in_linear_work(tmp_path):
    """Each row is ~1.5 MB of one repeated fragment (well under the bound): read or refused in
    one subprocess under a CPU limit (a hang guard) and in bounded memory."""
    paths = []
    for i, (head, frag, tail) in enumerate(RESCAN.values()):
        reps = (3 * MB // 2) // len(frag)
        path = _hostile(tmp_path / f"{i}.xlsx", "xl/worksheets/sheet1.xml", head.encode(),
                        itertools.repeat(frag.encode(), reps), tail.encode(), b"</sheetData>")
        paths.append(str(path))
    out = subprocess.run([sys.executable, "-c", CHILD, *paths], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    got = dict(zip(RESCAN, json.loads(lines[0]).values()))
    assert got["inline string never closed"][0] == "SHEET_CORRUPT"
    assert got["cell tag never closed"][0] == "SHEET_CORRUPT"
    assert got["row tag never closed"][0] == "SHEET_CORRUPT"          # cut short, as before
    assert got["comment never closed"] == ["ok", PRODUCTS + 1]              # row 60 is a product of its own
    assert got["text run never closed"] == ["ok", PRODUCTS]
    assert int(lines[1]) < 200 * 1024, f"peak RSS {int(lines[1]) >> 10} MB"
