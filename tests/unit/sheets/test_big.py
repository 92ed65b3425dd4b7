"""A big sheet streams in bounded memory and resumes mid-sheet.

Runs on every `make test` at ~20,000 rows (about 15 s); SHANGJIA_SLOW=1 runs the full 100,000
rows (about 2 min on 2 cores). Memory is judged by growth: the peak (VmHWM) of a child reading
the big sheet against one reading a 2,000-row sheet. Streaming keeps only the codes seen (for
uniqueness), ~0.5 MB per 1,000 rows measured; a reader that holds the rows grows ~2 MB per
1,000 rows."""

import json
import os
import subprocess
import sys

SLOW = bool(os.environ.get("SHANGJIA_SLOW"))
PRODUCTS, SKIP, MIN_ROWS = (38_000, 20_000, 95_000) if SLOW else (7_600, 4_000, 19_000)
SMALL = 800                                  # ~2,000 rows: the baseline for growth
GROWTH_MB_PER_1K_ROWS = 1.1

CHILD = r"""
import json, sys
from pathlib import Path
from shangjia.sheets import open_sheet
from shangjia.validation import ValidationContext, validate_product
ctx = ValidationContext("m")
path, start = sys.argv[1], int(sys.argv[2])
codes, rows = [], 0
with open_sheet(path, "big.xlsx") as r:
    for p in r.products(start_after_row=start):
        validate_product(p, ctx)
        codes.append(p.spu_code)
        rows += len(p.rows)
hwm = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
print(json.dumps({"products": len(codes), "rows": rows, "first": codes[:1], "peak_mb": hwm / 1024}))
"""


def run(path, start=0):
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(start)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_big_sheet_streams_in_bounded_memory_and_resumes_mid_sheet(tmp_path):
    from shangjia.sheets import open_sheet
    from shangjia.sheets.samples import write_sample_workbook

    small_path, path = tmp_path / "small.xlsx", tmp_path / "big.xlsx"
    write_sample_workbook(small_path, SMALL, seed=3)
    write_sample_workbook(path, PRODUCTS, seed=3)
    small, full = run(small_path), run(path)
    assert small["products"] == SMALL and full["products"] == PRODUCTS
    assert full["rows"] >= MIN_ROWS and full["peak_mb"] < 300
    growth = full["peak_mb"] - small["peak_mb"]
    allowed = GROWTH_MB_PER_1K_ROWS * (full["rows"] - small["rows"]) / 1000
    assert growth < allowed, f"peak grew {growth:.0f} MB over {full['rows'] - small['rows']} more rows (> {allowed:.0f})"

    with open_sheet(path, "big.xlsx") as r:
        ps = r.products()
        for _ in range(SKIP):
            last = next(ps)
    rest = run(path, last.last_row)
    assert rest["products"] == PRODUCTS - SKIP
    assert rest["rows"] == full["rows"] - (last.last_row - 1)        # header on row 1, no blank rows
    assert rest["first"] == [f"M003P{SKIP:06d}"]
