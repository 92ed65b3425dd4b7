"""A million rows through ingest: a 1,000,000-row CSV and a 1,000,000-row .xlsx put in an S3
bucket on moto (in process) and run through the real ``ingest_upload`` with the real S3 blob
adapter (ranged GETs) and the real DynamoDB store (the batch record and its checkpoint writes).

The validate queues are a counting port: 100,000+ SQS batches to moto would dominate the run
and measure moto, not ingest. Each message is still built, JSON-encoded for the size check and
counted (messages, batches, bytes).

moto answers a ranged GET by reading the whole object and slicing it (a 1 GB copy per request);
this bench makes it read only the range, as S3 does (``_moto_serves_ranges``). Nothing else is
changed: the requests go through boto3 and botocore as on Lambda.

Each measurement runs in a fresh process, so its memory figures are its own:

- ``read``: the upload's bytes read once through ``Blobs.open`` (the I/O floor);
- ``parse``: ``open_sheet`` on the local file and every product (the reader's floor);
- ``ingest``: ``ingest_upload`` end to end;
- ``resume``: ``ingest_upload`` stopped by its time-out check half-way, then the retry; the two
  together must send exactly the products of one run (count and checksum compared).

Memory: the peak RSS growth of the measured step (VmHWM reset through ``/proc/self/clear_refs``
before it; ``ru_maxrss`` growth too, which cannot be reset and so only shows growth beyond the
set-up's peak) and, in a second run of ``ingest`` under tracemalloc, Python's own peak. Times
are wall seconds on a shared machine; the ratios against ``read`` and ``parse`` of the same run
are the figures to compare.

    python -m bench.bench_million [--rows 1000000] [--formats csv,xlsx] [--no-tracemalloc]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Iterator
from xml.sax.saxutils import escape

CACHE = Path(tempfile.gettempdir()) / "shangjia-bench"
KEY_PREFIX = "m1/million"


# ---- the sheets -------------------------------------------------------------------------------

def _fields():
    from shangjia.spec import load_spec
    return [f for f in load_spec().fields if f.required]      # the 28 fields of the specification


def rows_of(n: int, seed: int = 11) -> Iterator[list]:
    """``n`` data rows of the 28 required columns: sample products (5% with one mistake), the
    product columns repeated on every row as many merchants do. Values: str, int or float."""
    from shangjia.sheets.samples import sample_rows

    fields = [f.name for f in _fields()]
    r = 0
    for prod, _ in sample_rows(n, seed=seed, invalid_ratio=0.05):
        for i, row in enumerate(prod):
            if i:
                row = {**prod[0], **row}
            yield [row.get(f) for f in fields]
            r += 1
            if r >= n:
                return


def write_csv(path: Path, n: int, seed: int = 11) -> int:
    """A UTF-8 CSV (with BOM, as Excel's "CSV UTF-8" saves) of ``n`` rows, streamed. Returns ``n``."""
    fields = _fields()
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f.header for f in fields])
        for row in rows_of(n, seed):
            w.writerow(["" if v is None else v for v in row])
    return n


def _col(i: int) -> str:
    from shangjia.sheets.xlsx import col_letters
    return col_letters(i)


def write_xlsx(path: Path, n: int, seed: int = 11, compresslevel: int = 1) -> int:
    """An .xlsx of ``n`` rows written the way Excel writes one: text in a shared-strings table
    (each distinct text once), numbers inline, ``<dimension>`` declared; the sheet XML streamed
    into the zip. Deflate level 1 (Excel uses 6: a ~20% larger file, written ~3x faster)."""
    fields = _fields()
    cols = [_col(i) for i in range(len(fields))]
    strings: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write((f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_NS}">'
                      f'<dimension ref="A1:{cols[-1]}{n + 1}"/><sheetData>').encode())
            out: list[str] = []

            def row(r: int, values) -> None:
                out.append(f'<row r="{r}">')
                for c, v in zip(cols, values):
                    if v is None or v == "":
                        continue
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        out.append(f'<c r="{c}{r}"><v>{v}</v></c>')
                    else:
                        v = str(v)
                        i = strings.get(v)
                        if i is None:
                            i = strings[v] = len(strings)
                        out.append(f'<c r="{c}{r}" t="s"><v>{i}</v></c>')
                out.append("</row>")

            row(1, [f.header for f in fields])
            for r, values in enumerate(rows_of(n, seed), 2):
                row(r, values)
                if len(out) > 20000:
                    fh.write("".join(out).encode())
                    out.clear()
            out.append("</sheetData></worksheet>")
            fh.write("".join(out).encode())
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write((f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{_NS}" '
                      f'count="{len(strings)}" uniqueCount="{len(strings)}">').encode())
            buf: list[str] = []
            for s in strings:
                buf.append(f"<si><t>{escape(s)}</t></si>")
                if len(buf) > 20000:
                    fh.write("".join(buf).encode())
                    buf.clear()
            buf.append("</sst>")
            fh.write("".join(buf).encode())
    return n


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="商品" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>')


# ---- measuring ------------------------------------------------------------------------------------

def _status(field: str) -> float:
    """A /proc/self/status figure in MB (VmRSS, VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> bool:
    """Resets VmHWM to the current RSS (Linux 4.0+), so the next peak is the measured step's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _moto_serves_ranges() -> None:
    """moto reads a whole object (and copies it) to answer a ranged GET; S3 reads the range."""
    import threading

    from moto.s3 import models, responses

    prop = models.FakeKey.value
    ranged = threading.local()

    class _Range:
        def __init__(self, key) -> None:
            self.key = key

        def __len__(self) -> int:
            return self.key.size

        def __getitem__(self, sl: slice) -> bytes:
            with self.key.lock:
                self.key._value_buffer.seek(sl.start)
                return self.key._value_buffer.read(sl.stop - sl.start)

    def value(self):
        return _Range(self) if getattr(ranged, "on", False) else prop.fget(self)

    models.FakeKey.value = property(value, prop.fset)
    get_object = responses.S3Response.get_object

    def get_object_ranged(self):
        ranged.on = bool(self.headers.get("range"))
        try:
            return get_object(self)
        finally:
            ranged.on = False

    responses.S3Response.get_object = get_object_ranged


class CountingQueues:
    """``ports.Queues`` that counts what ingest sends (messages, SendMessageBatch calls of 10 as
    the SQS adapter would make them, a checksum of the product codes) instead of sending it."""

    def __init__(self) -> None:
        self.messages = self.batches = 0
        self.checksum = 0

    def send_batch(self, queue_key: str, bodies, *, delay_s: int = 0) -> None:
        import zlib

        bodies = list(bodies)
        self.batches += -(-len(bodies) // 10)
        for b in bodies:
            self.messages += 1
            self.checksum = (self.checksum + zlib.crc32(b["spu_code"].encode())) % (1 << 64)


class CountingStore:
    """The real DynamoDB store, counting the writes ingest makes (put and update)."""

    def __init__(self, inner) -> None:
        self.inner, self.writes = inner, 0

    def put(self, *a, **kw):
        self.writes += 1
        return self.inner.put(*a, **kw)

    def update(self, *a, **kw):
        self.writes += 1
        return self.inner.update(*a, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class RecordingBlobs:
    """The real S3 blob adapter; the files it opens are kept, to add up their GETs."""

    def __init__(self, inner) -> None:
        self.inner, self.files = inner, []

    def open(self, *a, **kw):
        f = self.inner.open(*a, **kw)
        self.files.append(f)
        return f

    @property
    def gets(self) -> int:
        return sum(f.gets for f in self.files)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _cloud():
    """moto in process, provisioned as the local cloud is; a merchant; the real adapters."""
    import boto3
    from moto import mock_aws

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(k, "testing")
    mock = mock_aws()
    mock.start()
    from shangjia.adapters.aws import reset_clients
    from shangjia.localcloud.provision import provision

    reset_clients()
    res = provision(boto3.session.Session(region_name="us-east-1"), visibility_timeout_s=0)
    os.environ.update(res.environment())
    os.environ["SHANGJIA_CLOCK"] = "2026-11-25T02:30:00+00:00"
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    deps = aws_deps()
    deps.blobs = RecordingBlobs(deps.blobs)
    put_merchant(deps.store, "m1", name="M", annual_sales_cny=9_000_000)
    return res, deps


def _put(res, path: Path, key: str):
    """The file into the drop bucket in 64 MB parts (moto keeps objects in temporary files)."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    from shangjia.pipeline.ingest import Upload

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.upload_file(str(path), res.buckets["drop"], key,
                   Config=TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20,
                                         max_concurrency=1, use_threads=False))
    h = s3.head_object(Bucket=res.buckets["drop"], Key=key)
    return Upload(res.buckets["drop"], key, int(h["ContentLength"]), h.get("VersionId") or h["ETag"])


def child(mode: str, path: str, trace: bool) -> dict:
    import gc
    import tracemalloc

    p = Path(path)
    out: dict = {"mode": mode, "format": p.suffix.lstrip("."), "tracemalloc": trace}
    setup = None
    if mode != "parse":
        res, deps = _cloud()
        key = f"{KEY_PREFIX}{p.suffix}"
        up = _put(res, p, key)
        _moto_serves_ranges()
        setup = (res, deps, up)
    gc.collect()
    rss0, maxrss0 = _status("VmRSS"), _maxrss_mb()
    out["peak_reset"] = _reset_peak()
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "read":
        res, deps, up = setup
        with deps.blobs.open("drop", up.key) as fh:
            n = 0
            while piece := fh.read(1 << 20):
                n += len(piece)
            out.update(bytes=n, gets=fh.gets, products=0, rows=0)
    elif mode == "parse":
        from shangjia.sheets import open_sheet
        products = rows = 0
        with open_sheet(p, p.name) as reader:
            for raw in reader.products():
                products += 1
                rows += len(raw.rows)
        out.update(products=products, rows=rows, gets=0)
    elif mode in ("ingest", "resume"):
        from shangjia.pipeline.ingest import ingest_upload
        res, deps, up = setup
        q = deps.queues = CountingQueues()
        store = deps.store = CountingStore(deps.store)
        calls = {"n": 0}
        stop_after = int(os.environ.get("BENCH_STOP_AFTER_CHUNKS", "0"))

        def time_left() -> int:              # resume: the deadline "arrives" after stop_after chunks
            calls["n"] += 1
            return 1_000 if stop_after and calls["n"] >= stop_after else 10**9

        if mode == "resume":
            try:
                ingest_upload(deps, up, time_left_ms=time_left)
                raise SystemExit("resume: the time-out check never stopped the ingest")
            except TimeoutError:
                pass
            from shangjia.pipeline import keys
            batch = deps.store.get(*keys.batch(keys.batch_id_for(up.bucket, up.key, up.version)))
            out["checkpoint_row"] = int(batch["checkpoint_row"])
            out["sent_before"] = q.messages
            t0, c0 = time.perf_counter(), time.process_time()      # the retry is what is timed
            stop_after = 0
        o = ingest_upload(deps, up, time_left_ms=time_left)
        out.update(action=o.action, products=q.messages, sqs_batches=q.batches, ddb_writes=store.writes,
                   checksum=q.checksum, gets=deps.blobs.gets, outcome_sent=o.products_sent)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    if trace:
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak_mb"] = peak / 2**20
    out.update(seconds=dt, cpu_s=cpu, rss_before_mb=rss0, peak_rss_growth_mb=_status("VmHWM") - rss0,
               maxrss_growth_mb=_maxrss_mb() - maxrss0, file_mb=p.stat().st_size / 2**20)
    return out


def run_child(mode: str, path: Path, trace: bool = False, env: dict | None = None) -> dict:
    args = [sys.executable, "-m", "bench.bench_million", "--child", mode, str(path)] + (["--trace"] if trace else [])
    r = subprocess.run(args, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                       env={**os.environ, **(env or {})})
    if r.returncode:
        raise SystemExit(f"{mode} {path.name} failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--formats", default="csv,xlsx")
    ap.add_argument("--no-tracemalloc", action="store_true", help="skip the second ingest run under tracemalloc")
    ap.add_argument("--no-resume", action="store_true", help="skip the interrupted run and its retry")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"))
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.trace)))
        return 0

    CACHE.mkdir(exist_ok=True)
    for fmt in args.formats.split(","):
        path = CACHE / f"million-{args.rows}-v1.{fmt}"
        if not path.exists():
            t = time.perf_counter()
            tmp = path.with_suffix(f".part.{fmt}")
            (write_csv if fmt == "csv" else write_xlsx)(tmp, args.rows)
            tmp.rename(path)
            print(f"generated {path.name}: {args.rows:,} rows × 28 columns, {path.stat().st_size / 2**20:,.0f} MB "
                  f"in {time.perf_counter() - t:.0f} s")
        if fmt == "xlsx":
            with zipfile.ZipFile(path) as zf:
                parts = {i.filename: i.file_size for i in zf.infolist()}
            print(f"  inside: sheet XML {parts['xl/worksheets/sheet1.xml'] / 2**20:,.0f} MB, "
                  f"shared strings {parts['xl/sharedStrings.xml'] / 2**20:,.0f} MB")
        read = run_child("read", path)
        parse = run_child("parse", path)
        ing = run_child("ingest", path)
        rows = parse["rows"]
        print(f"\n{fmt}: {path.stat().st_size / 2**20:,.0f} MB, {rows:,} data rows, {parse['products']:,} products")
        print("CPU s: this process's CPU time (moto included, it runs in process); wall s on a shared machine")
        print(f"{'step':<34}{'CPU s':>8}{'wall s':>8}{'rows/CPU s':>11}{'× read':>8}{'× parse':>9}{'GETs':>6}"
              f"{'peak RSS +MB':>14}{'maxrss +MB':>12}")
        for name, r in (("read the bytes once (S3, ranged)", read), ("parse the local file", parse),
                        ("ingest_upload (S3 → products)", ing)):
            print(f"{name:<34}{r['cpu_s']:>8.1f}{r['seconds']:>8.1f}{rows / r['cpu_s']:>11,.0f}"
                  f"{r['cpu_s'] / read['cpu_s']:>8.1f}{r['cpu_s'] / parse['cpu_s']:>9.2f}{r['gets']:>6}"
                  f"{r['peak_rss_growth_mb']:>14.0f}{r['maxrss_growth_mb']:>12.0f}")
        print(f"ingest: {ing['products']:,} products in {ing['sqs_batches']:,} SendMessageBatch calls (counted, not "
              f"sent), {ing['ddb_writes']:,} DynamoDB writes (sent to moto), {ing['gets']} S3 GETs + 1 HEAD; "
              f"action {ing['action']}")
        if ing["products"] != parse["products"]:
            print(f"!! ingest sent {ing['products']:,} products, the parse found {parse['products']:,}")
        if not args.no_tracemalloc:
            tm = run_child("ingest", path, trace=True)
            print(f"ingest under tracemalloc: Python's peak {tm['tracemalloc_peak_mb']:.0f} MB "
                  f"(peak RSS +{tm['peak_rss_growth_mb']:.0f} MB; {tm['cpu_s']:.0f} CPU s traced)")
        if not args.no_resume:
            half = max(1, ing["products"] // 20)      # the check runs every 10 products: stop half-way
            rs = run_child("resume", path, env={"BENCH_STOP_AFTER_CHUNKS": str(half)})
            same = rs["products"] == ing["products"] and rs["checksum"] == ing["checksum"]
            print(f"resume: stopped at row {rs['checkpoint_row']:,} after {rs['sent_before']:,} products; the retry took "
                  f"{rs['cpu_s']:.1f} CPU s ({rs['cpu_s'] / ing['cpu_s']:.2f} × a whole ingest), peak RSS "
                  f"+{rs['peak_rss_growth_mb']:.0f} MB; {rs['products']:,} products in all, "
                  f"{'each exactly once' if same else 'NOT the same as one run'} (count and checksum)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
