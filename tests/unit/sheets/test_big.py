"""100,000 rows: bounded memory and resume. Slow (~1 min): run with SHANGJIA_SLOW=1."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("SHANGJIA_SLOW"), reason="slow: set SHANGJIA_SLOW=1")

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


def test_100k_rows_stream_in_bounded_memory_and_resume_mid_sheet(tmp_path):
    from shangjia.sheets import open_sheet
    from shangjia.sheets.samples import write_sample_workbook

    path = tmp_path / "big.xlsx"
    write_sample_workbook(path, 38_000, seed=3)
    full = run(path)
    assert full["rows"] >= 95_000 and full["peak_mb"] < 300
    with open_sheet(path, "big.xlsx") as r:
        ps = r.products()
        for _ in range(20_000):
            last = next(ps)
    rest = run(path, last.last_row)
    assert rest["products"] == full["products"] - 20_000
    assert rest["rows"] == full["rows"] - (last.last_row - 1)        # header on row 1, no blank rows
    assert rest["first"] == ["M003P020000"]
