"""Checking on several processes gives exactly what checking in-process gives, in sheet order;
a worker's failure surfaces in the reader; stopping early leaves no worker behind."""

from __future__ import annotations

import multiprocessing

import pytest

from shangjia.sheets import open_sheet
from shangjia.sheets.samples import write_sample_workbook
from shangjia.validation import validate_product
from shangjia.validation.parallel import check_products, default_jobs

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="multi-process checking needs fork; elsewhere it runs in-process")


def _summary(pairs):
    return [(raw.first_row, c.spu_code, c.skus, c.valid,
             [(f.code, f.row, f.column, f.severity, f.message_en) for f in c.findings]) for raw, c in pairs]


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    path = tmp_path_factory.mktemp("par") / "p.xlsx"
    write_sample_workbook(path, 150, seed=21, invalid_ratio=0.3)
    return path


@pytest.mark.parametrize("jobs,batch", [(2, 7), (3, 1), (2, 64)])
def test_several_processes_check_exactly_as_one_does(sheet, ctx, jobs, batch):
    with open_sheet(sheet, "p.xlsx") as r:
        one = _summary(check_products(r.products(), ctx, jobs=1))
    with open_sheet(sheet, "p.xlsx") as r:
        many = _summary(check_products(r.products(), ctx, jobs=jobs, batch=batch))
    assert many == one
    assert len(one) == 150 and any(not valid for _, _, _, valid, _ in one) and any(v for _, _, _, v, _ in one)
    with open_sheet(sheet, "p.xlsx") as r:                 # and the same as the pipeline's own call
        direct = [(p.first_row, validate_product(p, ctx)) for p in r.products()]
    assert [(row, res.product["spu_code"], len(res.product["skus"]), res.valid) for row, res in direct] == \
        [(row, spu, skus, valid) for row, spu, skus, valid, _ in one]


def test_a_worker_failure_is_raised_in_the_reader(sheet, ctx, monkeypatch):
    import shangjia.validation.parallel as par

    def boom(raw, ctx):
        raise ZeroDivisionError("validator bug")
    monkeypatch.setattr(par, "_check", boom)          # inherited by the forked worker
    with open_sheet(sheet, "p.xlsx") as r:
        with pytest.raises(RuntimeError, match="validator bug"):
            list(check_products(r.products(), ctx, jobs=2, batch=5))


def test_stopping_early_leaves_no_worker_running(sheet, ctx):
    with open_sheet(sheet, "p.xlsx") as r:
        it = check_products(r.products(), ctx, jobs=2, batch=4)
        first = [next(it) for _ in range(10)]
        it.close()
    assert len(first) == 10
    assert multiprocessing.active_children() == []


def test_small_sheets_stay_in_one_process():
    assert default_jobs(None) == 1 and default_jobs(500) == 1
    assert default_jobs(100_000) in (1, 2)
