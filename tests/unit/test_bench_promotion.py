"""The bench's promotion workload (``bench.bench_pipeline.promotion_sheets``): the same catalog with
every SKU's stock new and a share of the products repriced, each product whole, nothing else
changed, so what the pipeline sees is what a promotion sends."""

import openpyxl

from bench.bench_pipeline import build_workload, promotion_sheets


def _rows(path):
    from shangjia.spec import load_spec

    names = {f.header: f.name for f in load_spec().fields}
    ws = openpyxl.load_workbook(path).worksheets[0]
    header = [names.get(str(c.value), str(c.value)) for c in ws[1]]
    return [{k: v for k, v in zip(header, r) if v not in (None, "")} for r in ws.iter_rows(min_row=2, values_only=True)]


def test_every_sku_gets_new_stock_and_a_share_of_whole_products_a_promotional_price(tmp_path):
    w = build_workload(12, tmp_path, seed=5)
    sheets = promotion_sheets(w, tmp_path, repriced=0.5, seed=3)
    assert [m for m, _ in sheets] == [m for m, _ in w.sheets]
    repriced, kept = set(), set()
    for (mid, before), (_, after) in zip(w.sheets, sheets):
        old, new = _rows(before), _rows(after)
        assert len(old) == len(new)
        spu = None
        for o, n in zip(old, new):
            spu = o.get("spu_code") or spu
            assert n["stock"] != o["stock"] and n["stock"] > o["stock"]
            rest = lambda r: {k: v for k, v in r.items() if k not in ("stock", "promo_price")}  # noqa: E731
            assert rest(n) == rest(o), "nothing but stock and the promotional price changes"
            if n.get("promo_price") != o.get("promo_price"):
                assert n["promo_price"] == round(float(o["price"]) * 0.85, 2)
                repriced.add(spu)
            else:
                kept.add(spu)
    assert repriced and kept and not (repriced & kept), "a product is repriced whole or not at all"
