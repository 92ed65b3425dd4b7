"""Whatever a merchant types, validation reports findings; it never raises."""

import random

from shangjia.errors import CODES
from shangjia.sheets import RawProduct, products_from_records
from shangjia.validation import validate_product

from .kit import SPEC, product_rows

JUNK = ["", " ", "0", "-1", "1e309", "NaN", "∞", "１２３", "¥", "1,2,3", "1.2.3", "abc", "颜色", "颜色:", ":红",
        "a;b;;c", "x" * 70, "最佳" * 3, "=cmd|' /C calc'!A0", "../../x.jpg", "http://a/b.jpg", "30x0x1",
        "é", "\t", "\n", "是", "否", "2026-03-12", "#N/A", "6901234567892", "690123456789", "1e3", "0.001",
        "服饰鞋包/女装", "服饰鞋包/女装/T恤", "TRUE", None]


def test_random_cells_never_crash_validation(ctx):
    rng = random.Random(20261125)
    names = [f.name for f in SPEC.fields]
    for i in range(300):
        rows = product_rows(f"F{i}", grid=(("红色", "M"), ("红色", "L"), ("黑色", "M")))
        for row in rows:
            for n in rng.sample(names, rng.randint(1, 8)):
                if n != "spu_code":
                    row[n] = rng.choice(JUNK)
        for raw in products_from_records(rows, "fuzz"):
            res = validate_product(raw, ctx)
            for f in res.findings:
                assert f.code in CODES and f.message_zh and f.message_en
            again = validate_product(RawProduct.from_dict(raw.to_dict()), ctx)
            assert [f.code for f in again.findings] == [f.code for f in res.findings]
