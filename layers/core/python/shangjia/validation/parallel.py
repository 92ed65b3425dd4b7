"""Checking a whole sheet on every core, with exactly the findings one process gives.

Three ways, chosen by ``check_sheet``:

- one process: ``reader.products()`` → ``validate_product``, the pipeline's own calls;
- blocks (an .xlsx in the canonical shape): this process only inflates the sheet and cuts it
  into blocks of whole products (``shangjia.sheets.blocks``); worker processes each read a
  block as a sheet of its own and validate its products; the checks across blocks (a code
  seen in an earlier block) are settled here, in sheet order. Reading is most of the work,
  so it is what is spread;
- products (any other sheet, e.g. CSV): this process reads and groups, workers validate.

Workers are forked once the sheet is open and the context built, so they apply exactly its
categories, banned terms and shipping templates. Each worker has at most two pieces of work
in flight, so memory stays bounded for any size of sheet; results come back in sheet order;
a worker's failure is raised here. Where ``fork`` is not available, one process does it all.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Iterator

from shangjia.errors import Finding, FindingError, finding, has_errors
from shangjia.sheets import RawProduct, RawRow, SheetReader

__all__ = ["Checked", "check_sheet", "default_jobs"]


@dataclass
class Checked:
    """One product's check, for callers that do not need the canonical product."""
    first_row: int
    spu_code: str
    skus: int
    findings: list[Finding]

    @property
    def valid(self) -> bool:
        return not has_errors(self.findings)


def default_jobs(rows: int | None) -> int:
    """Every core for a sheet big enough to repay starting workers (≥ 2,000 rows)."""
    if not rows or rows < 2_000 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))      # the cores this process may run on (containers)
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _validate(raw: RawProduct, ctx) -> list[Finding]:
    from shangjia.validation import validate_product

    return validate_product(raw, ctx).findings


# ---- worker side ------------------------------------------------------------------------------
_CTX = None          # the ValidationContext and the open SheetReader, inherited by forked workers
_READER: SheetReader | None = None


def _encode(batch: list[RawProduct]) -> list[tuple]:
    """Plain tuples, dicts and str: pickles ~3x faster than the dataclasses."""
    return [(p.spu_code, [(r.row, r.cells) for r in p.rows], p.rows[0].columns if p.rows else {},
             [r.columns for r in p.rows] if any(r.columns is not p.rows[0].columns for r in p.rows) else None,
             p.findings or None) for p in batch]


def _check_products(batch: list[tuple]) -> list[tuple]:
    out = []
    for spu, rows, cols, per_row_cols, findings in batch:
        raw = RawProduct(spu, [RawRow(n, cells, per_row_cols[i] if per_row_cols else cols)
                               for i, (n, cells) in enumerate(rows)], findings or [])
        out.append((raw.first_row, raw.spu_code, len(raw.rows), _validate(raw, _CTX) or None))
    return out


def _block_products(reader: SheetReader, rows, ctx) -> Iterator[tuple]:
    """Products of some rows read as a sheet of their own, checked: (first row, code, SKUs,
    findings, its rows' SKU log, rows read when it was handed on)."""
    part = SheetReader(reader.info, lambda: iter(rows), [], reader.limits, reader.filename)
    sku_log: list[tuple[int, str, int]] = []
    k = 0
    for raw in part.products(sku_log=sku_log):
        mine = sku_log[k:]          # handed on before the next product's first SKU is logged
        k = len(sku_log)
        yield raw.first_row, raw.spu_code, len(raw.rows), _validate(raw, ctx) or None, mine, part.rows_read


def _check_block(before: int, text: str, unfinished: bool) -> tuple:
    """A block read as a sheet of its own (worker side): (its products, the data rows read,
    the damage that stopped it or None). Rows are read up to any damage; a product still open
    then (or when the sheet is damaged after the block: ``unfinished``) is left out, as one
    reader would never have handed it on."""
    book, _part = _READER.xlsx
    rows, _, damage = book.read_block(text, before)
    start = _READER.info.data_start_row
    products = list(_block_products(_READER, rows, _CTX))
    if (damage or unfinished) and products:
        products.pop()
    return products, sum(1 for n, _c in rows if n >= start), damage.finding if damage else None


def _serve(tasks, results) -> None:
    """A forked worker. A thread takes tasks off the pipe as they come, so the reader never
    waits on a busy worker (and the two can never block each other on full pipes)."""
    # What the worker inherited (the shared strings, the context) stays put: the collector
    # neither scans it nor, by touching it, copies its pages (the CPython advice after fork).
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the reader's to handle; it stops us
    inbox: queue.Queue = queue.Queue()

    def receive():
        while True:
            try:
                data = tasks.recv_bytes()
            except (EOFError, OSError):
                data = b""
            inbox.put(data)
            if not data:
                return
    threading.Thread(target=receive, daemon=True).start()
    while True:
        data = inbox.get()
        if not data:
            return
        try:
            msg = pickle.loads(data)
            reply = ("ok", _check_block(*msg[1:]) if msg[0] == "block" else _check_products(msg[1]))
        except FindingError as e:                 # the sheet refused mid-way (e.g. a corrupt row)
            reply = ("finding", e.finding)
        except BaseException as e:                # a bug: reported to the reader, which raises it
            reply = ("error", "".join(traceback.format_exception(e)))
        results.send_bytes(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))


class _Worker:
    """One worker process and its two pipes (no pool: a pool's helper threads contend with
    the reader for the GIL)."""

    def __init__(self, mp) -> None:
        self.tasks_r, self.tasks_w = mp.Pipe(duplex=False)
        self.results_r, self.results_w = mp.Pipe(duplex=False)
        self.proc = mp.Process(target=_serve, args=(self.tasks_r, self.results_w), daemon=True)
        self.proc.start()
        self.tasks_r.close()
        self.results_w.close()

    def send(self, msg: tuple) -> None:
        self.tasks_w.send_bytes(pickle.dumps(msg, pickle.HIGHEST_PROTOCOL))

    def recv(self):
        try:
            kind, body = pickle.loads(self.results_r.recv_bytes())
        except EOFError:
            raise RuntimeError(f"a validation worker exited (code {self.proc.exitcode})") from None
        if kind == "finding":
            raise FindingError(body)
        if kind != "ok":
            raise RuntimeError(f"a validation worker failed:\n{body}")
        return body

    def close(self, finished: bool) -> None:
        """``finished``: every reply was taken, so the worker is idle and ends on its own;
        otherwise (stopped early, or failing) it may be busy or blocked on a reply: killed."""
        if finished:
            try:
                self.tasks_w.send_bytes(b"")
            except OSError:
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.proc.close()                             # its sentinel pipe
        self.tasks_w.close()
        self.results_r.close()


# ---- caller side -------------------------------------------------------------------------------

_FORKING = threading.Lock()      # the globals above hold one call's context while its workers fork


def check_sheet(reader: SheetReader, ctx, *, jobs: int = 1, block_rows: int = 1000,
                batch: int = 64) -> Iterator[Checked]:
    """Every product of the sheet, checked, in sheet order. ``jobs``: processes in all."""
    global _CTX, _READER
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for raw in reader.products():
            yield Checked(raw.first_row, raw.spu_code, len(raw.rows), _validate(raw, ctx))
        return
    from shangjia.sheets.blocks import AcrossBlocks, product_blocks

    blocks = product_blocks(reader, block_rows)
    mp = multiprocessing.get_context("fork")
    with _FORKING:
        _CTX, _READER = ctx, reader
        try:
            # blocks: every process but this one reads (this one inflates and cuts);
            # products: this one reads, the others validate
            workers = [_Worker(mp) for _ in range(jobs if blocks is not None else jobs - 1)]
        finally:
            _CTX = _READER = None
    finished = False
    try:
        if blocks is not None:
            yield from _by_blocks(reader, ctx, blocks, workers, AcrossBlocks(reader.info.columns))
        else:
            yield from _by_products(reader, workers, batch)
        finished = True
    finally:
        for w in workers:
            w.close(finished)


def _round_robin(workers: list[_Worker], messages, take):
    """Send each message to the next worker, at most two in flight per worker; hand each
    reply, in the order sent, to ``take(reply)`` and yield what it yields. When making the
    next message fails (the sheet refused further on), the replies already due come first:
    an earlier refusal in a worker wins, as it would reading in one process."""
    pending: deque = deque()
    turn = 0
    messages = iter(messages)
    while True:
        try:
            msg = next(messages)
        except StopIteration:
            break
        except BaseException:
            while pending:
                yield from take(pending.popleft().recv())
            raise
        if len(pending) >= 2 * len(workers):
            yield from take(pending.popleft().recv())
        w = workers[turn % len(workers)]
        turn += 1
        w.send(msg)
        pending.append(w)
    while pending:
        yield from take(pending.popleft().recv())


def _by_products(reader: SheetReader, workers: list[_Worker], batch: int) -> Iterator[Checked]:
    def batches():
        cur: list[RawProduct] = []
        for raw in reader.products():
            cur.append(raw)
            if len(cur) >= batch:
                yield "products", _encode(cur)
                cur = []
        if cur:
            yield "products", _encode(cur)

    def take(reply):
        for first_row, spu, skus, findings in reply:
            yield Checked(first_row, spu, skus, findings or [])
    yield from _round_robin(workers, batches(), take)


def _by_blocks(reader: SheetReader, ctx, blocks, workers: list[_Worker], across) -> Iterator[Checked]:
    """Blocks to workers, replies settled in sheet order. The last product of each block is
    held back until the next block is known to have read a row: if the sheet turns out damaged
    right there, one reader would never have handed that product on."""
    from shangjia.sheets.blocks import Damaged, Rest

    limit = reader.limits.max_rows
    progress = reader.on_progress
    total = reader.info.data_rows
    done = [0]                       # data rows read in the blocks settled so far
    held: list[Checked] = []
    rest: list[Rest] = []

    def too_many() -> FindingError:
        return FindingError(finding("SHEET_TOO_MANY_ROWS", file=reader.filename, limit=limit))

    def release():
        while held:
            yield held.pop()

    def accept(products):
        """Checked products in order, each held until the next one arrives."""
        for first_row, spu, skus, findings, sku_log, rows_read in products:
            if done[0] + rows_read > limit:          # where one reader would have stopped
                raise too_many()
            yield from release()
            held.append(Checked(first_row, spu, skus, across.settle(first_row, spu, list(findings or ()), sku_log)))

    def settle(products, block_rows: int, damage):
        if block_rows and done[0] < limit:           # the next product's first row was read
            yield from release()
        yield from accept(products)
        done[0] += block_rows
        reader.rows_read = done[0]
        if done[0] > limit:                          # rows past the limit read before any damage
            raise too_many()
        if progress:
            progress(done[0], total)
        if damage:
            yield from release()
            raise FindingError(damage)

    def messages():
        for item in blocks:
            if isinstance(item, Rest):
                rest.append(item)
                return
            yield "block", item[0], item[1], isinstance(item, Damaged)

    try:
        yield from _round_robin(workers, messages(), lambda reply: settle(*reply))
    except FindingError:
        yield from release()
        raise
    if rest:                         # no place to cut: the rest is read here, as it streams
        book, _part = reader.xlsx
        start = reader.info.data_start_row
        successor_read = [False]     # a data row of the rest: the held product was complete

        def rows():
            n = rest[0].before
            for text in rest[0].texts:
                got, n, damage = book.read_block(text, n)
                for row in got:
                    if row[0] >= start and not successor_read[0] and done[0] < limit:
                        successor_read[0] = True
                    yield row
                if damage:
                    raise damage
        try:
            yield from accept(_block_products(reader, rows(), ctx))
        except FindingError:
            if successor_read[0]:
                yield from release()
            raise
    yield from release()
