"""Checking a sheet's products on more than one core, in sheet order.

Reading a sheet is sequential (one inflate stream, products grouped row by row, codes checked
for uniqueness across the whole file), so it stays in this process; ``validate_product`` is a
pure function of a product and the context, so it runs in worker processes while the next
products are read. This is the shape the pipeline has in the cloud, where ``ingest`` reads
and ``validate`` Lambdas check products concurrently; here it serves ``shangjia validate``.

Results are the same as ``validate_product`` in-process (a test holds the two to each other):
workers are forked after the context is built, so they apply exactly its categories, banned
terms and shipping templates. At most ``window`` batches are in flight, so memory stays
bounded however big the sheet is. Where ``fork`` is not available, it runs in-process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

from shangjia.errors import Finding, has_errors
from shangjia.sheets import RawProduct, RawRow

__all__ = ["Checked", "check_products", "default_jobs"]


@dataclass
class Checked:
    """What checking one product gives a caller that does not need the canonical product."""
    spu_code: str
    skus: int
    findings: list[Finding]

    @property
    def valid(self) -> bool:
        return not has_errors(self.findings)


def default_jobs(rows: int | None) -> int:
    """Two processes (reader + one validator) for a sheet big enough to repay starting one."""
    if not rows or rows < 2_000 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _check(raw: RawProduct, ctx) -> Checked:
    from shangjia.validation import validate_product

    res = validate_product(raw, ctx)
    return Checked(res.product["spu_code"], len(res.product["skus"]), res.findings)


# ---- worker side ------------------------------------------------------------------------------
_CTX = None          # the ValidationContext, inherited by forked workers


def _encode(batch: list[RawProduct]) -> list[tuple]:
    """Plain tuples, dicts and str: pickles ~3x faster than the dataclasses."""
    return [(p.spu_code, [(r.row, r.cells) for r in p.rows], p.rows[0].columns if p.rows else {},
             [r.columns for r in p.rows] if any(r.columns is not p.rows[0].columns for r in p.rows) else None,
             p.findings or None) for p in batch]


def _check_batch(batch: list[tuple]) -> list[tuple]:
    out = []
    for spu, rows, cols, per_row_cols, findings in batch:
        raw = RawProduct(spu, [RawRow(n, cells, per_row_cols[i] if per_row_cols else cols)
                               for i, (n, cells) in enumerate(rows)], findings or [])
        c = _check(raw, _CTX)
        out.append((c.spu_code, c.skus, c.findings or None))
    return out


def _worker(tasks, results) -> None:
    """A forked validator: batches in, checks out, until an empty message."""
    while True:
        data = tasks.recv_bytes()
        if not data:
            return
        try:
            reply = ("ok", _check_batch(pickle.loads(data)))
        except BaseException as e:                # reported to the reader, which raises it
            reply = ("error", "".join(traceback.format_exception(e)))
        results.send_bytes(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))


class _Validator:
    """One worker process and its two pipes. Plain pipes, no pool: a pool's three helper
    threads contend with the reader for the GIL and cost it a third of its speed."""

    def __init__(self, mp) -> None:
        self.tasks_r, self.tasks_w = mp.Pipe(duplex=False)
        self.results_r, self.results_w = mp.Pipe(duplex=False)
        self.proc = mp.Process(target=_worker, args=(self.tasks_r, self.results_w), daemon=True)
        self.proc.start()
        self.tasks_r.close()
        self.results_w.close()

    def send(self, batch: list[RawProduct]) -> None:
        self.tasks_w.send_bytes(pickle.dumps(_encode(batch), pickle.HIGHEST_PROTOCOL))

    def recv(self) -> list[tuple]:
        try:
            kind, body = pickle.loads(self.results_r.recv_bytes())
        except EOFError:
            raise RuntimeError(f"a validation worker exited (code {self.proc.exitcode})") from None
        if kind != "ok":
            raise RuntimeError(f"a validation worker failed:\n{body}")
        return body

    def close(self) -> None:
        try:
            self.tasks_w.send_bytes(b"")
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.tasks_w.close()
        self.results_r.close()


# ---- caller side -------------------------------------------------------------------------------

def check_products(products: Iterable[RawProduct], ctx, *, jobs: int = 1,
                   batch: int = 64) -> Iterator[tuple[RawProduct, Checked]]:
    """(product as read, its check) for every product, in the order given.

    ``jobs``: processes in all, this one included (it reads; the others validate). Each
    worker has at most two batches in flight, so memory is bounded whatever the sheet's size;
    a batch of 64 products fits a pipe's buffer, so the reader seldom waits to hand one over."""
    global _CTX
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for raw in products:
            yield raw, _check(raw, ctx)
        return
    _CTX = ctx
    mp = multiprocessing.get_context("fork")
    workers = [_Validator(mp) for _ in range(jobs - 1)]
    pending: deque = deque()          # (worker, products) in sheet order
    turn = 0

    def oldest():
        w, raws = pending.popleft()
        for raw, (spu, skus, findings) in zip(raws, w.recv()):
            yield raw, Checked(spu, skus, findings or [])

    try:
        cur: list[RawProduct] = []
        for raw in products:
            cur.append(raw)
            if len(cur) >= batch:
                if len(pending) >= 2 * len(workers):
                    yield from oldest()
                w = workers[turn % len(workers)]
                turn += 1
                w.send(cur)
                pending.append((w, cur))
                cur = []
        if cur:
            if len(pending) >= 2 * len(workers):
                yield from oldest()
            w = workers[turn % len(workers)]
            w.send(cur)
            pending.append((w, cur))
        while pending:
            yield from oldest()
    finally:
        for w in workers:
            w.close()
        _CTX = None
