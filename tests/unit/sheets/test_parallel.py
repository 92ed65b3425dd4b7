"""Checking on several processes gives exactly the findings one process gives, in the same
order: whether the sheet is cut into blocks (xlsx) or products are handed to validators (csv),
whatever the block size, with codes repeated across blocks, products resumed after others,
rows without a product code, and code cells the cutter does not read. A worker's failure
surfaces in the reader; a sheet refused mid-way is refused the same way; stopping early
leaves no worker behind."""

from __future__ import annotations

import io
import multiprocessing
import random
import re
import zipfile

import pytest

from shangjia.errors import FindingError
from shangjia.sheets import Limits, open_sheet
from shangjia.sheets.samples import write_sample_workbook
from shangjia.validation import validate_product
from shangjia.validation.parallel import check_sheet, default_jobs

from .kit import product_rows, to_csv, to_xlsx

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="multi-process checking needs fork; elsewhere it runs in-process")


def _summary(checks):
    return [(c.first_row, c.spu_code, c.skus, c.valid,
             [(f.code, f.row, f.column, f.severity, f.message_en, f.message_zh) for f in c.findings])
            for c in checks]


def _check(data, name, ctx, **kw):
    with open_sheet(data, name) as r:
        return _summary(check_sheet(r, ctx, **kw))


def _tricky_rows(seed: int) -> list[dict]:
    """Products with every cross-row situation, shuffled by seed."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for p in range(14):
        spu = f"P{p % 11}"                                   # P0..P2 come back later: split products
        grid = [("红色", "M"), ("黑色", "M")][: rng.randint(1, 2)]
        prod = product_rows(spu, grid=tuple(grid))
        for r in prod:
            r["sku_code"] = f"S{rng.randrange(18)}"          # SKU codes repeated near and far
        if rng.random() < 0.3 and len(prod) > 1:
            prod[1]["spu_code"] = ""                         # product columns blank after the first row
        if p in (3, 9) or rng.random() < 0.2:
            prod[0]["title"] = "全网第一 " + prod[0]["title"]
        if p == 5 or rng.random() < 0.15:
            prod[0]["price"] = "abc"
        rows.extend(prod)
    rows.insert(rng.randrange(len(rows)), {"sku_code": "ORPHAN", "price": "9.90"})   # joins the product above
    rows.insert(0, {"sku_code": "FIRST", "price": "9.90"})                           # no product at all
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("jobs,block_rows", [(2, 1), (3, 2), (2, 5), (2, 1000)])
def test_blocks_give_exactly_the_single_reader_findings(ctx, seed, jobs, block_rows):
    data = to_xlsx(_tricky_rows(seed), numbers=("stock",), title_rows=("商品导入表",))
    one = _check(data, "t.xlsx", ctx, jobs=1)
    many = _check(data, "t.xlsx", ctx, jobs=jobs, block_rows=block_rows)
    assert many == one
    codes = {f[0] for _, _, _, _, fs in one for f in fs}
    assert {"SKU_DUPLICATE", "ROW_SPLIT_PRODUCT", "ROW_NO_PRODUCT", "BANNED_TERM"} <= codes


def _rewrite_sheet(data: bytes, fn) -> bytes:
    z = zipfile.ZipFile(io.BytesIO(data))
    parts = {n: z.read(n) for n in z.namelist()}
    parts["xl/worksheets/sheet1.xml"] = fn(parts["xl/worksheets/sheet1.xml"].decode()).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as w:
        for n, b in parts.items():
            w.writestr(n, b)
    return out.getvalue()


@pytest.mark.parametrize("shape", ["codes as formulas", "rows without r", "codes as numbers"])
def test_unusual_writers_cut_safely(ctx, shape, monkeypatch):
    """Code cells the cutter does not read (a formula's cached value) are never cut before;
    rows without r count on across blocks; codes stored as numbers compare as the reader
    cleans them. Chunks are small so blocks start mid-way."""
    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", 1500)
    rows = [r for i in range(9) for r in product_rows(f"{1000 + i % 7}")]
    data = to_xlsx(rows, numbers=("spu_code",) if shape == "codes as numbers" else ())
    if shape == "codes as formulas":
        data = _rewrite_sheet(data, lambda x: re.sub(r'<c r="(A\d+)" t="s"><v>(\d+)</v></c>',
                                                     r'<c r="\1" t="s"><f>T(A1)</f><v>\2</v></c>', x))
    elif shape == "rows without r":
        data = _rewrite_sheet(data, lambda x: re.sub(r'<row r="(\d+)"', lambda m: "<row" if int(m.group(1)) % 3 else m.group(0), x))
    one = _check(data, "f.xlsx", ctx, jobs=1)
    assert len(one) >= 7 and any(f[0] == "ROW_SPLIT_PRODUCT" for *_, fs in one for f in fs)
    for block_rows in (1, 3, 10):
        assert _check(data, "f.xlsx", ctx, jobs=2, block_rows=block_rows) == one


@pytest.mark.parametrize("jobs", [2, 3])
def test_csv_hands_products_to_validators_with_the_same_findings(ctx, jobs):
    data = to_csv(_tricky_rows(4))
    assert _check(data, "t.csv", ctx, jobs=jobs, batch=3) == _check(data, "t.csv", ctx, jobs=1)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("par") / "p.xlsx"
    write_sample_workbook(path, 150, seed=21, invalid_ratio=0.3)
    return path


def test_a_sample_workbook_checks_the_same_as_the_pipelines_own_call(sample, ctx):
    many = _check(sample, "p.xlsx", ctx, jobs=2, block_rows=37)
    with open_sheet(sample, "p.xlsx") as r:
        direct = [(p.first_row, validate_product(p, ctx)) for p in r.products()]
    assert [(row, res.product["spu_code"], len(res.product["skus"]), res.valid,
             [(f.code, f.row, f.column, f.severity, f.message_en, f.message_zh) for f in res.findings])
            for row, res in direct] == many
    assert len(many) == 150 and any(not v for _, _, _, v, _ in many) and any(v for _, _, _, v, _ in many)


def _stray_close_tag(data: bytes) -> bytes:
    return _rewrite_sheet(data, lambda x: x.replace('<row r="40"', '</row><row r="40"', 1))


@pytest.mark.parametrize("case", ["too many rows", "corrupt row"])
def test_a_sheet_refused_mid_way_is_refused_the_same_way(ctx, case, monkeypatch):
    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", 2048)   # the damage arrives after the header is read
    data = to_xlsx([r for i in range(12) for r in product_rows(f"W{i}")])
    if case == "corrupt row":
        data = _stray_close_tag(data)
    refusals = []
    for jobs in (1, 2):
        with open_sheet(data, "w.xlsx") as r:
            if case == "too many rows":
                r.limits = Limits(max_rows=30)
            with pytest.raises(FindingError) as e:
                list(check_sheet(r, ctx, jobs=jobs, block_rows=1))
            refusals.append(e.value.finding.code)
    assert refusals == ["SHEET_TOO_MANY_ROWS" if case == "too many rows" else "SHEET_CORRUPT"] * 2


def test_a_worker_failure_is_raised_in_the_reader(sample, ctx, monkeypatch):
    import shangjia.validation.parallel as par

    def boom(raw, ctx):
        raise ZeroDivisionError("validator bug")
    monkeypatch.setattr(par, "_validate", boom)            # inherited by the forked workers
    for data, name in ((sample, "p.xlsx"), (to_csv(product_rows("C1")), "c.csv")):
        with open_sheet(data, name) as r:
            with pytest.raises(RuntimeError, match="validator bug"):
                list(check_sheet(r, ctx, jobs=2, block_rows=5, batch=1))


def test_stopping_early_leaves_no_worker_running(sample, ctx):
    with open_sheet(sample, "p.xlsx") as r:
        it = check_sheet(r, ctx, jobs=3, block_rows=4)
        first = [next(it) for _ in range(10)]
        it.close()
    assert len(first) == 10
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("rows, cores, jobs", [
    (None, 4, 1), (0, 4, 1), (500, 4, 1), (1_999, 4, 1),    # small sheets: one process, whatever the machine
    (2_000, 4, 4), (100_000, 3, 3), (100_000, 1, 1),        # big ones: every core this process may use ...
    (100_000, 16, 8), (2_000, 64, 8),                       # ... at most 8
])
def test_small_sheets_stay_in_one_process(monkeypatch, rows, cores, jobs):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_jobs(rows) == jobs


def test_jobs_fall_back_to_the_cpu_count_without_affinity(monkeypatch):
    def unsupported(pid):
        raise OSError("no affinity here")
    monkeypatch.setattr("os.sched_getaffinity", unsupported, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert default_jobs(50_000) == 6
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_jobs(50_000) == 1


# ---- found in review: every shape where blocks once differed from one reader -------------------

def _outcome(data, ctx, limits=None, **kw):
    got = []
    try:
        with open_sheet(data, "t.xlsx") as r:
            if limits:
                r.limits = limits
            for c in check_sheet(r, ctx, **kw):
                got.append(c)
        err = None
    except FindingError as e:
        err = (e.finding.code, e.finding.message_en)
    return _summary(got), err


def _same_everywhere(data, ctx, limits=None, configs=((2, 1), (3, 2), (2, 3))):
    one = _outcome(data, ctx, limits, jobs=1)
    for jobs, block_rows in configs:
        assert _outcome(data, ctx, limits, jobs=jobs, block_rows=block_rows) == one, (jobs, block_rows)
    return one


def _six_products():
    return to_xlsx([r for i in range(6) for r in product_rows(f"P{i}")])


@pytest.mark.parametrize("shape", [
    lambda x: re.sub(r'(<c r="A6" t="s"><v>)\d+(</v>)', r"\g<1>x\2", x),                 # index not a number
    lambda x: x.replace('<row r="7" spans="1:31">', '<row r="7" spans="1:31"><c r="A7" t="s"><v>0</v></c>', 1),
    lambda x: x.replace('<row r="6" ', '<row r="x6" ', 1).replace('<row r="7" ', '<row r="" ', 1),
    lambda x: x.replace('<row r="14" ', '<row r="10" ', 1),                               # two rows numbered 10
    lambda x: re.sub(r'<row r="(1[0-3])" ', lambda m: f'<row r="{int(m.group(1)) + 40}" ', x),  # numbers jump back
], ids=["code index not a number", "code cell twice", "r not a number", "duplicate r", "r going back"])
def test_unusual_row_and_code_shapes_check_the_same(ctx, shape):
    rows = [r for i in range(6) for r in product_rows(f"P{i}")]
    rows[12]["sku_code"] = rows[0]["sku_code"]               # a SKU code again, far away
    rows[16:16] = product_rows("P0")                          # a product resumed after others
    products, err = _same_everywhere(_rewrite_sheet(to_xlsx(rows), shape), ctx)
    assert err is None and len(products) >= 6


def test_damage_anywhere_gives_the_same_products_before_the_same_refusal(ctx, monkeypatch):
    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", 4096)
    base = to_xlsx([r for i in range(30) for r in product_rows(f"D{i}")])
    outcomes = set()
    for row in range(40, 60):                                 # every place relative to chunks and blocks
        data = _rewrite_sheet(base, lambda x: x.replace(f'<row r="{row}"', f'</row><row r="{row}"', 1))
        products, err = _same_everywhere(data, ctx, configs=((2, 1), (2, 4), (3, 3)))
        assert err and err[0] == "SHEET_CORRUPT"
        outcomes.add(len(products))
    assert len(outcomes) > 3                                  # the refusal lands at different products
    cut_short = _rewrite_sheet(base, lambda x: x[: x.index("</sheetData>")])
    assert _same_everywhere(cut_short, ctx)[1][0] == "SHEET_CORRUPT"
    assert _same_everywhere(cut_short, ctx, limits=Limits(max_rows=45))[1][0] == "SHEET_TOO_MANY_ROWS"


def test_a_sheet_with_no_place_to_cut_is_read_here_as_it_streams(ctx):
    """Code cells as inline strings (as Apache POI's streaming writer saves them): the cutter
    never reads them, so after MAX_BLOCK × the target it hands the rest to this process."""
    from shangjia.sheets.blocks import Rest, product_blocks
    rows = [r for i in range(40) for r in product_rows(f"N{i}")]
    rows[100]["sku_code"] = rows[3]["sku_code"]
    data = _rewrite_sheet(to_xlsx(rows), lambda x: re.sub(
        r'<c r="(A(?:[2-9]|\d\d+))" t="s"><v>(\d+)</v></c>', r'<c r="\1" t="inlineStr"><is><t>code-\2</t></is></c>', x))
    with open_sheet(data, "n.xlsx") as r:
        items = list(product_blocks(r, 2))
        assert isinstance(items[-1], Rest) and sum(1 for _ in items[-1].texts) >= 1
    _same_everywhere(data, ctx, configs=((2, 2), (3, 5)))


def test_damage_in_a_sheet_read_as_it_streams_gives_the_same_refusal(ctx, monkeypatch):
    monkeypatch.setattr("shangjia.sheets.xlsx.CHUNK", 4096)
    rows = [r for i in range(30) for r in product_rows(f"S{i}")]
    inline = _rewrite_sheet(to_xlsx(rows), lambda x: re.sub(
        r'<c r="(A(?:[2-9]|\d\d+))" t="s"><v>(\d+)</v></c>', r'<c r="\1" t="inlineStr"><is><t>code-\2</t></is></c>', x))
    counts = set()
    for row in range(36, 70, 3):
        data = _rewrite_sheet(inline, lambda x: x.replace(f'<row r="{row}"', f'</row><row r="{row}"', 1))
        products, err = _same_everywhere(data, ctx, configs=((2, 2), (2, 3)))
        assert err and err[0] == "SHEET_CORRUPT"
        counts.add(len(products))
    assert len(counts) > 3                                    # the refusal lands at different products
