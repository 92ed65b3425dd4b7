"""Large sheets streamed: a seekable file read in ranged blocks (what ``Blobs.open`` returns),
``open_sheet`` over it, a shared-strings table kept on disk, and the row limits that replaced
the 200,000-row cap."""

from __future__ import annotations

import csv
import io
import os
import random

import pytest

from shangjia.adapters.ranged import RangedFile, bytes_file
from shangjia.errors import FindingError
from shangjia.sheets import XLSX_MAX_ROWS, Limits, open_sheet
from tests.unit.sheets.kit import SPEC, product_rows, to_csv, to_xlsx


def _products(reader) -> list[dict]:
    with reader:
        return [p.to_dict() for p in reader.products()]


def _many_products(n: int) -> list[dict]:
    rows: list[dict] = []
    for i in range(n):
        rows += product_rows(f"SPU{i:04d}", title=f"纯棉短袖T恤 第{i}款 夏季新款")
    return rows


# ---- the ranged file ------------------------------------------------------------------------------

def test_a_ranged_file_reads_what_the_bytes_hold_wherever_it_seeks():
    data = os.urandom(300_000)
    f = bytes_file(data, min_block=4096, max_block=65536, cache_blocks=2)
    rng = random.Random(3)
    for _ in range(200):
        a = rng.randrange(len(data))
        n = rng.randrange(1, 20_000)
        f.seek(a)
        assert f.read(n) == data[a: a + n]
    f.seek(-10, io.SEEK_END)
    assert f.read() == data[-10:] and f.read(5) == b""
    assert f.peak_cached <= 2 * 65536               # never more than its blocks


def test_a_sequential_read_grows_its_blocks_so_few_gets_read_a_large_object():
    data = os.urandom(8 << 20)
    f = bytes_file(data, min_block=64 << 10, max_block=1 << 20, cache_blocks=2)
    got = bytearray()
    while piece := f.read(8192):                  # what TextIOWrapper asks for
        got += piece
    assert bytes(got) == data
    # 64K, 128K, 256K, 512K, then 1 MiB blocks: 4 + 8 GETs, not 8 MiB / 64 KiB = 128
    assert f.gets == 12 and f.bytes_fetched == len(data)
    assert f.peak_cached <= 2 << 20


def test_a_short_answer_from_the_store_is_an_error_not_a_truncated_sheet():
    f = RangedFile(lambda a, b: b"x" * 10, 1000, min_block=100)
    with pytest.raises(OSError, match="asked for bytes 0-99"):
        f.read(5)


# ---- open_sheet over it ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_sheet_read_through_ranged_blocks_gives_what_its_bytes_give(fmt):
    rows = _many_products(60)
    data = to_xlsx(rows) if fmt == "xlsx" else to_csv(rows)
    want = _products(open_sheet(data, f"s.{fmt}"))
    f = bytes_file(data, min_block=4096, max_block=16384, cache_blocks=2)
    assert _products(open_sheet(f, f"s.{fmt}")) == want
    assert len(want) == 60
    assert f.peak_cached <= 2 * 16384
    assert f.gets < 3 * len(data) / 4096            # blocks, not a GET per small read


def test_a_stream_that_cannot_seek_is_spooled_not_refused():
    data = to_csv(_many_products(5))

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.b = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buf):
            return self.b.readinto(buf)

    assert [p["spu_code"] for p in _products(open_sheet(Pipe(), "s.csv"))] == [f"SPU{i:04d}" for i in range(5)]


# ---- shared strings on disk -------------------------------------------------------------------------

def test_a_shared_strings_table_kept_on_disk_reads_exactly_as_one_in_memory():
    rows = _many_products(40)
    rows[5]["title"] = "x" * 10_050                     # CELL_TOO_LONG, repeated on no other row
    rows[9]["brand"] = "另一个品牌"                      # a product column given again, differently
    rows[9]["spu_code"] = rows[8]["spu_code"]
    data = to_xlsx(rows)
    in_memory = open_sheet(data, "s.xlsx")
    on_disk = open_sheet(data, "s.xlsx", Limits(strings_in_memory_bytes=0))
    book = on_disk.xlsx[0]
    want = _products(in_memory)
    got = [p.to_dict() for p in on_disk.products()]
    assert type(book.strings).__name__ == "SpilledStrings"
    assert got == want
    codes = {f["code"] for p in got for f in p["findings"]}
    assert {"CELL_TOO_LONG", "ROW_PRODUCT_CONFLICT"} <= codes
    assert book.strings.held_bytes == 4 * len(book.strings)     # its index: 4 bytes a string
    on_disk.close()


def test_a_string_index_beyond_the_table_on_disk_reads_as_a_reference_error():
    import zipfile

    data = to_xlsx(product_rows("SPU1"))
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in src.infolist():
            part = src.read(i)
            if i.filename == "xl/worksheets/sheet1.xml":      # SPU1's first cell -> a string that is not there
                part = part.replace(b'<c r="A2" t="s"><v>', b'<c r="A2" t="s"><v>99999', 1)
            z.writestr(i, part)
    with open_sheet(out.getvalue(), "s.xlsx", Limits(strings_in_memory_bytes=0)) as r:
        first = next(iter(r.products()))
    assert first.spu_code == "#REF!"


# ---- rows: the format's limit, no 200,000 cap --------------------------------------------------------

def test_the_row_limits_are_the_xlsx_format_and_five_million_for_text():
    lim = Limits()
    assert lim.row_limit("xlsx") == lim.row_limit("xlsm") == XLSX_MAX_ROWS == 1_048_576
    assert lim.row_limit("csv") == 5_000_000
    assert Limits(max_rows=10**8).row_limit("xlsx") == XLSX_MAX_ROWS      # no setting lifts the format's
    assert lim.max_bytes >= 2 * 2**30


def _narrow_csv(n: int) -> bytes:
    """``n`` one-SKU products with the columns every sheet must have (fast to write and read)."""
    names = [f.name for f in SPEC.fields if f.required is True]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([SPEC[x].zh for x in names])
    fill = {"title": "纯棉短袖T恤", "category": "服饰鞋包/女装/T恤", "price": "99", "stock": "5"}
    idx = {x: i for i, x in enumerate(names)}
    base = [fill.get(x, "") for x in names]
    for i in range(n):
        row = list(base)
        row[idx["spu_code"]] = f"P{i}"
        row[idx["sku_code"]] = f"P{i}-1"
        w.writerow(row)
    return buf.getvalue().encode()


def test_a_csv_past_the_old_200000_row_cap_is_read_to_its_last_row():
    data = _narrow_csv(200_500)
    f = bytes_file(data)
    with open_sheet(f, "big.csv") as r:
        last = None
        count = 0
        for p in r.products():
            count += 1
            last = p
    assert count == 200_500 and last.spu_code == "P200499" and last.last_row == 200_501
    assert f.peak_cached <= 3 * (16 << 20)


def test_rows_beyond_the_limit_are_a_located_refusal_after_the_rows_before_it():
    data = _narrow_csv(1_001)
    got = []
    with pytest.raises(FindingError) as e:
        with open_sheet(data, "big.csv", Limits(max_rows=1_000)) as r:
            for p in r.products():
                got.append(p.spu_code)
    f = e.value.finding
    assert f.code == "SHEET_TOO_MANY_ROWS" and f.file == "big.csv" and "1000" in f.message_en
    assert "1000" in f.message_zh and len(got) == 999      # the products before the limit were handed on
