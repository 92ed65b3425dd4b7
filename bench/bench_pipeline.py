"""End to end on the local cloud: the reference workload of ../shared/ARCHITECTURE.md, as a ratio
against the media stage alone processing the same images in the same run.

    python -m bench.bench_pipeline [--products 200,1000,2000] [--workers 4] [--timeout 7200]
                                   [--baseline-sample 300] [--stall 600]   (or: make bench ARGS=pipeline)

Per product count: two merchants upload through the S3 API (60% of the products from a VIP
merchant, reviewed automatically; 40% from an ordinary one, reviewed by hand at both stages by the
demo's [simulated reviewer] through the API), one workbook each made from ``sheets.samples`` rows
(1-12 SKUs a product, 5 images each: 1,200 px JPEG; 10% with a video; 5% with a mistake; 30%
flagged for the 10:00-12:00 window, which the pinned clock is inside), 3 channels.

Prints, per run:
1. SKUs/s end to end: the first sheet's upload to the last product settled (published, rejected or
   failed). The images are uploaded before it and not timed; the platforms' audit quotas are
   lifted (the quota run measures publishing under them).
2. The floor: the pure media core (``shangjia.media.process_image``) on the same JPEGs, in this
   process sequentially and in a pool of the media function's local worker count, as SKUs/s;
   the end-to-end throughput as a ratio of it (no pipeline around the media stage can beat it).
   Beyond ``--baseline-sample`` images, an evenly spread sample is timed and scaled to all.
3. AWS requests and DynamoDB WRU per SKU, per service and per stage (function; an event-source
   mapping's polls and deletes count to the function it feeds), from the run's meter.
4. Cost per million SKUs from the meter of this run, split orchestration / media.
5. The run's profile for the capacity model: out/bench-pipeline-<N>.json
   (``shangjia capacity --profile out/bench-pipeline-2000.json``). With ``--promotion SHARE`` the
   catalog is then uploaded again (every SKU's stock new, SHARE of the products repriced), timed
   and counted apart; its own profile is out/bench-pipeline-<N>-reupload.json, and
   out/bench-pipeline-<N>-promotion.json is the heavier per stage of the two
   (``capacity.heavier``): what sizes the stack for a peak of new products or of re-uploads.
Targets (#13): >= 20 SKUs/s at 2,000 products on 2 cores, flat from 200 to 2,000; <= 25 requests and
<= 10 WRU per SKU; orchestration <= $20 and media <= $20 per million SKUs.

Durations: the run's length is its SKUs over its throughput; each run prints what the larger ones
would take at its rate. With the pipeline at 0.5-2 SKUs/s (2026-12), 200 products (~700 SKUs) take
6-25 minutes, 1,000 products 30 minutes to 2 hours, 2,000 products 1-4 hours.
The merchant's own uploads are not priced (as in ``make demo``: they are the merchant's requests).
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shangjia.topology import REPO_ROOT

OUT_DIR = REPO_ROOT / "out"
VIP_SHARE, VIDEO_SHARE, INVALID_SHARE = 0.6, 0.1, 0.05
TARGETS = {"skus_per_s": 20.0, "requests_per_sku": 25.0, "wru_per_sku": 10.0, "orchestration": 20.0, "media": 20.0}


# --- the workload ---------------------------------------------------------------------------------

def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def product_video(seconds: float = 12.0) -> bytes:
    """A small H.264 MP4 as phones write it (ftyp, moov with one video track, mdat): what the media
    stage probes (container, codec, duration) without decoding."""
    def full(kind: bytes, body: bytes) -> bytes:
        return _box(kind, b"\x00\x00\x00\x00", body)

    mvhd = full(b"mvhd", struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000)) + b"\x00" * 80)
    tkhd = full(b"tkhd", struct.pack(">IIIII", 0, 0, 1, 0, 0) + b"\x00" * 52 + struct.pack(">II", 1080 << 16, 1920 << 16))
    mdhd = full(b"mdhd", struct.pack(">IIII", 0, 0, 12800, int(seconds * 12800)) + b"\x00" * 4)
    hdlr = full(b"hdlr", b"\x00" * 4 + b"vide" + b"\x00" * 12 + b"video\x00")
    stsd = full(b"stsd", struct.pack(">I", 1) + _box(b"avc1", b"\x00" * 70))
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", _box(b"stbl", stsd))))
    return (_box(b"ftyp", b"isom\x00\x00\x02\x00isommp41") + _box(b"moov", mvhd, trak)
            + _box(b"mdat", b"\x00" * 65536))


@dataclass
class Workload:
    products: int
    sheets: list[tuple[str, Path]] = field(default_factory=list)     # (merchant id, workbook)
    images: list[tuple[str, Path, str]] = field(default_factory=list)  # (merchant id, file, slot)
    videos: list[tuple[str, str]] = field(default_factory=list)       # (merchant id, name)
    rows: dict[str, list[dict]] = field(default_factory=dict)         # merchant id -> the sheet's rows


def write_sheet(path: Path, rows: list[dict]) -> None:
    """The template's header row and the rows, as write_sample_workbook writes them."""
    import xlsxwriter

    from shangjia.spec import load_spec

    fields = load_spec().fields
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    ws = wb.add_worksheet("商品")
    for c, f in enumerate(fields):
        ws.write_string(0, c, f.header)
    for r, row in enumerate(rows, start=1):
        for c, f in enumerate(fields):
            v = row.get(f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(r, c, v)
            elif v not in (None, ""):
                ws.write_string(r, c, str(v))
    wb.close()


def build_workload(products: int, tmp: Path, seed: int = 13) -> Workload:
    """The reference workload's sheets, images (1,200 px JPEG files in ``tmp``) and videos."""
    from shangjia.localcloud.demo import MERCHANTS, make_image
    from shangjia.sheets.samples import sample_rows

    w = Workload(products)
    rng = random.Random(seed)
    vip = round(products * VIP_SHARE)
    for i, ((mid, _name, _sales), n) in enumerate(zip(MERCHANTS, (vip, products - vip))):
        rows: list[dict] = []
        for product_rows, names in sample_rows(n, seed=seed + i, invalid_ratio=INVALID_SHARE):
            spu = product_rows[0]["spu_code"]
            if rng.random() < VIDEO_SHARE:
                product_rows[0]["video"] = f"{spu}_video.mp4"
                w.videos.append((mid, f"{spu}_video.mp4"))
            rows += product_rows
            for name in sorted(names):
                path = tmp / mid / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(make_image(name, rng))
                w.images.append((mid, path, name.rsplit("_", 2)[1]))   # <spu>_<slot>_<i>.jpg
        sheet = tmp / f"{mid}.xlsx"
        write_sheet(sheet, rows)
        w.sheets.append((mid, sheet))
        w.rows[mid] = rows
    return w


def promotion_sheets(w: Workload, tmp: Path, repriced: float, seed: int = 17) -> list[tuple[str, Path]]:
    """The same catalog again as a promotion sends it: every SKU with a new stock figure, and a
    ``repriced`` share of the products with a promotional price (``promo_price``: 85 % of the
    price, above cost) besides. A product whose only change is stock is a stock update
    (``pipeline/stock_reupload.py``); a repriced one is a new revision (review, the channels'
    product update)."""
    rng = random.Random(seed)
    out = []
    for mid, rows in w.rows.items():
        new_rows, reprice = [], False
        for row in rows:
            row = dict(row)
            if len(row) > 1 and "title" in row:          # a product's first row: decide for all its rows
                reprice = rng.random() < repriced
            if row.get("sku_code"):
                row["stock"] = int(row.get("stock") or 0) + rng.randint(1, 300)
                if reprice and isinstance(row.get("price"), (int, float)):
                    row["promo_price"] = round(float(row["price"]) * 0.85, 2)
            new_rows.append(row)
        sheet = tmp / f"{mid}-promotion.xlsx"
        write_sheet(sheet, new_rows)
        out.append((mid, sheet))
    return out


# --- the end-to-end run ---------------------------------------------------------------------------

@dataclass
class Run:
    products: int
    elapsed_s: float
    completed: bool
    skus: int
    by_status: Counter
    stage_requests: dict[str, Counter]     # stage -> service -> requests
    stage_wru: Counter                     # stage -> WRU
    cost: dict[str, dict[str, float]]
    profile_path: Path
    workers: int
    reviewer_decisions: dict[str, int]
    reupload: "Pass | None" = None

    @property
    def skus_per_s(self) -> float:
        return self.skus / self.elapsed_s if self.elapsed_s else 0.0


@dataclass
class Pass:
    """The promotion's re-upload of the catalog, after the first upload settled: its own time and
    figures (the meter's counts during it)."""
    elapsed_s: float
    completed: bool
    skus: int
    by_status: Counter
    stage_requests: dict[str, Counter]     # stage -> service -> requests, during the re-upload
    stage_wru: Counter
    cost: dict[str, dict[str, float]]
    repriced: float

    @property
    def skus_per_s(self) -> float:
        return self.skus / self.elapsed_s if self.elapsed_s else 0.0


def _stages(m) -> tuple[dict[str, Counter], Counter]:
    """The meter's requests (stage -> service -> n) and WRU (stage -> units), an event-source
    mapping's counted to the function it feeds."""
    stage_requests: dict[str, Counter] = {}
    for (caller, service, _op), n in list(m.caller_ops.items()):
        stage_requests.setdefault(caller.removeprefix("esm:"), Counter())[service] += n
    stage_wru: Counter = Counter()
    for (caller, kind), v in list(m.ddb_by_caller.items()):
        if kind == "wru":
            stage_wru[caller.removeprefix("esm:")] += v
    return stage_requests, stage_wru


def _wait(deps, uploads, t0: float, *, timeout_s: float, stall_s: float, say, drained=lambda: True):
    """Until every upload's batch settled (and ``drained()``), the time ran out, or nothing moved for
    ``stall_s``: (done, summaries, elapsed since t0: to the last product that moved if stalled)."""
    from shangjia.localcloud.demo import batches_done, batches_progress

    deadline = t0 + timeout_s
    last_print = 0.0
    last_counts: Counter = Counter()
    last_change = time.monotonic()
    # The observer asks the batches' items every second (cheap) and reads every product's item
    # only every 30 s, for the progress line and the stall check: its reads cost the
    # emulator's one busy process what the pipeline needs (docs/capacity.md).
    while True:
        done = batches_done(deps, uploads) and drained()
        now = time.monotonic()
        if not done and now - last_print >= 30:
            _, summaries = batches_progress(deps, uploads)
            counts: Counter = Counter()
            for s in summaries:
                counts.update(s["by_status"])
            if counts != last_counts:
                last_counts, last_change = counts, now
            say(f"  [{now - t0:6.0f} s] " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            last_print = now
        if done or now > deadline or now - last_change > stall_s:
            break
        time.sleep(1)
    _, summaries = batches_progress(deps, uploads)
    return done, summaries, (now if done else last_change) - t0


def _say_stopped(cloud, say, elapsed: float, stall_s: float, *, timed_out: bool) -> None:
    retried = getattr(getattr(cloud, "runtime", None), "retried", None)
    say(f"  stopped after {elapsed:.0f} s ({'time-out' if timed_out else f'no product moved for {int(stall_s)} s'}); "
        f"queues not empty: { {k: v for k, v in cloud.queue_depths().items() if v} }; dead letters: "
        f"{ {k: v for k, v in cloud.queue_depths(dlq=True).items() if v} }"
        + (f"; handler errors (retried) {dict(retried)}" if retried else ""))


def _write(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))


def _minus(after: Counter, before: Counter) -> Counter:
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def _promotion(cloud, deps, w: Workload, uploads: list, tmp: Path, repriced: float, *, before,
               timeout_s: float, stall_s: float, say) -> Pass:
    """The catalog uploaded again (``promotion_sheets``) once the first upload settled; timed from
    its first sheet until its batches settled and the stock syncs it caused went out (the
    ``stock_sync`` queue empty)."""
    from shangjia.localcloud.demo import batches_progress

    sheets = promotion_sheets(w, tmp, repriced)
    s3, drop = cloud.client("s3"), cloud.resources.buckets["drop"]
    t0 = time.monotonic()
    again = []
    for mid, sheet in sheets:
        key = f"{mid}/促销 {sheet.stem}.xlsx"
        s3.upload_file(str(sheet), drop, key)
        again.append((mid, key))
    say(f"  promotion: the catalog again ({repriced:.0%} of the products repriced, every SKU's stock new), "
        f"{len(again)} sheets")
    done, _, elapsed = _wait(deps, uploads + again, t0, timeout_s=timeout_s, stall_s=stall_s, say=say,
                             drained=lambda: not cloud.queue_depths().get("stock_sync"))
    if not done:
        _say_stopped(cloud, say, elapsed, stall_s, timed_out=time.monotonic() - t0 >= timeout_s)
    keys_again = {k for _m, k in again}
    summaries = [s for s in batches_progress(deps, uploads + again)[1] if s.get("key") in keys_again]
    by_status: Counter = Counter()
    for s in summaries:
        by_status.update(s["by_status"])
        by_status["unchanged"] += s.get("unchanged") or 0
    cloud.count_state_transitions()
    m = cloud.meter
    stage_requests, stage_wru = _stages(m)
    req0, wru0, cost0 = before
    stage_requests = {k: _minus(v, req0.get(k, Counter())) for k, v in stage_requests.items()}
    stage_requests = {k: v for k, v in stage_requests.items() if v}
    stage_wru = _minus(stage_wru, wru0)
    cost = m.cost()
    cost = {part: {k: v - cost0.get(part, {}).get(k, 0.0) for k, v in items.items()} for part, items in cost.items()}
    # per SKU uploaded again (a batch's summary counts only the SKUs of the products it reprocessed)
    skus = sum(1 for rows in w.rows.values() for row in rows if row.get("sku_code"))
    return Pass(elapsed, done, skus, by_status, stage_requests, stage_wru, cost, repriced)


def run_pipeline(w: Workload, *, workers: int, timeout_s: float, say, stall_s: float = 600,
                 reviewers: int = 4, reupload: float | None = None, tmp: Path | None = None) -> Run:
    from shangjia.localcloud import LocalCloud
    from shangjia.localcloud.demo import DEMO_CLOCK, MERCHANTS, SimulatedReviewer
    from shangjia.capacity import heavier
    from shangjia.localcloud.meter import counts, profile
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    from shangjia.localcloud.channel_runs import QUOTAS_OFF, env_overrides
    from shangjia.localcloud.channels_sim import Knobs

    # The platforms' audit quotas (WeChat: 200 an hour, 1,000 a day per shop) are lifted here, in
    # our buckets and in the simulators: at 200+ products they, not the pipeline, would set the
    # pace. The quota run measures publishing under them (shangjia channels quota-run).
    # A verdict push the local cloud did not answer within the platform's 5 s (the emulator under
    # a 2,000-product load) is left to the listing poller, asked after 60 s here instead of 30 min.
    undo_env = env_overrides({**QUOTAS_OFF, "SHANGJIA_AUDIT_POLL_AFTER_S": "60"})
    cloud = LocalCloud(clock=DEMO_CLOCK, max_concurrency=workers,
                       channel_knobs=Knobs(audit_quota_hour=10**9, audit_quota_day=10**9)).start()
    stop = threading.Event()
    try:
        deps = aws_deps()
        for mid, name, sales in MERCHANTS:
            put_merchant(deps.store, mid, name=name, annual_sales_cny=sales)
        team = [SimulatedReviewer(cloud, stop, seed=3, workers=reviewers)]
        for reviewer in team:
            reviewer.start()
        drop = cloud.resources.buckets["drop"]
        s3_local = threading.local()

        def put(item) -> None:
            mid, key, body, ctype = item
            s3 = getattr(s3_local, "c", None) or cloud.client("s3")
            s3_local.c = s3
            s3.put_object(Bucket=drop, Key=f"{mid}/{key}", Body=body() if callable(body) else body, ContentType=ctype)

        video = product_video()
        t_images = time.monotonic()
        # a merchant's upload tool: a few files at a time, the images first, then the sheets
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(put, [(mid, p.name, p.read_bytes, "image/jpeg") for mid, p, _slot in w.images]
                          + [(mid, name, video, "video/mp4") for mid, name in w.videos]))
        say(f"  uploaded {len(w.images)} images and {len(w.videos)} videos in {time.monotonic() - t_images:.1f} s "
            "(not timed: the pipeline starts with a sheet; images wait in the bucket until a product names them)")
        t0 = time.monotonic()          # the first sheet
        uploads = []
        s3 = cloud.client("s3")
        for mid, sheet in w.sheets:
            key = f"{mid}/上新 {sheet.stem}.xlsx"
            s3.upload_file(str(sheet), drop, key)
            uploads.append((mid, key))
        say(f"  uploaded {len(uploads)} sheets in {time.monotonic() - t0:.1f} s")
        done, summaries, elapsed = _wait(deps, uploads, t0, timeout_s=timeout_s, stall_s=stall_s, say=say)
        if not done:
            _say_stopped(cloud, say, elapsed, stall_s, timed_out=time.monotonic() - t0 >= timeout_s)
        by_status: Counter = Counter()
        for s in summaries:
            by_status.update(s["by_status"])
            by_status["refused"] += s["refused"]
        skus = sum(s["skus"] for s in summaries)
        cloud.count_state_transitions()          # Step Functions' billed transitions onto the meter
        m = cloud.meter
        stage_requests, stage_wru = _stages(m)
        cost = m.cost()
        first = counts(m)
        products = sum(s["products_seen"] for s in summaries)
        memory = {f.key: f.memory_mb for f in cloud.topology.functions}
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        # an incomplete run's figures would mislead the capacity model: kept apart
        path = OUT_DIR / f"bench-pipeline-{w.products}{'' if done else '.incomplete'}.json"
        source = (f"bench/bench_pipeline.py, {time.strftime('%Y-%m-%d')}, {w.products} products, {elapsed:.0f} s, "
                  f"{workers} local workers")
        _write(path, profile(m, skus=skus, products=products, images=len(w.images), memory_mb=memory, source=source))
        second = None
        if done and reupload is not None:
            second = _promotion(cloud, deps, w, uploads, tmp or Path(tempfile.mkdtemp()), reupload,
                                before=(stage_requests, stage_wru, cost),
                                timeout_s=timeout_s, stall_s=stall_s, say=say)
            # the re-upload's own profile, and the one that sizes for a peak of either workload
            # (capacity.heavier: per stage, the heavier per SKU)
            again = profile(m, skus=second.skus, products=products, images=0, memory_mb=memory, since=first,
                            source=f"bench/bench_pipeline.py, {time.strftime('%Y-%m-%d')}, the promotion's re-upload "
                                   f"of {w.products} products (every SKU's stock new, {second.repriced:.0%} of the "
                                   f"products repriced), {second.elapsed_s:.0f} s, {workers} local workers")
            ok = "" if second.completed else ".incomplete"
            _write(OUT_DIR / f"bench-pipeline-{w.products}-reupload{ok}.json", again)
            path = OUT_DIR / f"bench-pipeline-{w.products}-promotion{ok}.json"
            _write(path, heavier(json.loads((OUT_DIR / f"bench-pipeline-{w.products}.json").read_text()), again))
        stop.set()
        return Run(w.products, elapsed, done, skus, by_status, stage_requests, stage_wru, cost, path,
                   workers, dict(sum((r.decisions for r in team), Counter())), reupload=second)
    finally:
        stop.set()
        cloud.stop()
        undo_env()


# --- the floor: the media stage alone on the same images --------------------------------------------

def _render(item: tuple[str, str]) -> int:
    from shangjia.media import process_image

    path, slot = item
    r = process_image(Path(path).read_bytes(), name=Path(path).name, slot=slot)
    return len(r.renditions)


def media_floor(w: Workload, workers: int, sample: int) -> tuple[float, float, int]:
    """Seconds the pure media core takes for all the run's images: (sequential in this process,
    in a pool of ``workers`` processes, images timed). Beyond ``sample`` images, an evenly spread
    sample is timed and scaled to all."""
    items = [(str(p), slot) for _mid, p, slot in w.images]
    step = max(1, len(items) // sample) if sample else 1
    timed = items[::step]
    scale = len(items) / len(timed)
    _render(timed[0])                                    # codecs loaded, as a warm Lambda has them
    t = time.perf_counter()
    for it in timed:
        _render(it)
    seq = (time.perf_counter() - t) * scale
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_render, timed[:workers]))         # every worker warm
        t = time.perf_counter()
        list(pool.map(_render, timed, chunksize=2))
        par = (time.perf_counter() - t) * scale
    return seq, par, len(timed)


# --- the report -----------------------------------------------------------------------------------

def report(r: Run, floor: tuple[float, float, int], w: Workload, sizes: list[int], say) -> None:
    seq_s, par_s, timed = floor
    floor_seq, floor_par = r.skus / seq_s, r.skus / par_s
    say(f"pipeline {r.products} products ({r.skus} SKUs, {len(w.images)} images, {len(w.videos)} videos), "
        f"{r.workers} local workers per function: {r.elapsed_s:.1f} s end to end, {r.skus_per_s:.2f} SKUs/s"
        + ("" if r.completed else "  [INCOMPLETE: not every product settled; the figures are of what ran]"))
    say(f"  media core alone on the same images ({timed} timed): sequential {floor_seq:.2f} SKUs/s, "
        f"{r.workers} processes {floor_par:.2f} SKUs/s  |  ratio end to end / media floor: "
        f"{r.skus_per_s / floor_par:.3f}x ({r.workers} processes), {r.skus_per_s / floor_seq:.3f}x (sequential)")
    say("  products: " + ", ".join(f"{k} {v}" for k, v in sorted(r.by_status.items()) if v)
        + f"; simulated reviewer decisions {r.reviewer_decisions}")
    _figures(r.stage_requests, r.stage_wru, r.cost, r.skus, say)
    if r.reupload is not None:
        p = r.reupload
        say(f"  promotion re-upload ({p.repriced:.0%} of the products repriced, every SKU's stock new): "
            f"{p.skus} SKUs in {p.elapsed_s:.1f} s, {p.skus_per_s:.2f} SKUs/s"
            + ("" if p.completed else "  [INCOMPLETE]") + "; products: "
            + ", ".join(f"{k} {v}" for k, v in sorted(p.by_status.items()) if v))
        _figures(p.stage_requests, p.stage_wru, p.cost, p.skus, say)
    say(f"  profile for the capacity model: {r.profile_path.relative_to(REPO_ROOT)}  "
        f"(shangjia capacity --profile {r.profile_path.relative_to(REPO_ROOT)})")
    later = [n for n in sizes if n > r.products]
    if later and r.skus_per_s:
        skus_per_product = r.skus / max(1, r.products)
        say("  at this rate: " + ", ".join(f"{n:,} products ~{n * skus_per_product / r.skus_per_s / 60:.0f} min"
                                           for n in later))


def _figures(stage_requests: dict[str, Counter], stage_wru: Counter, cost: dict, skus: int, say) -> None:
    """Requests and WRU per SKU (all, and by stage and service) and the cost per million SKUs."""
    per = 1 / skus if skus else 0.0
    total: Counter = Counter()
    for c in stage_requests.values():
        total.update(c)
    wru = sum(stage_wru.values())
    say(f"  AWS requests per SKU: {sum(total.values()) * per:.1f} ("
        + ", ".join(f"{k} {v * per:.1f}" for k, v in total.most_common()) + f"); DynamoDB WRU per SKU {wru * per:.1f}"
        + f"   (targets <= {TARGETS['requests_per_sku']:g} requests, <= {TARGETS['wru_per_sku']:g} WRU)")
    services = [s for s, _n in total.most_common()]
    say(f"  {'per SKU, by stage':<22}" + "".join(f"{s[:12]:>13}" for s in services) + f"{'all':>9}{'WRU':>8}")
    stages = sorted(stage_requests, key=lambda k: -sum(stage_requests[k].values()))
    for st in stages:
        c = stage_requests[st]
        say(f"  {st:<22}" + "".join(f"{c[s] * per:>13.2f}" for s in services)
            + f"{sum(c.values()) * per:>9.2f}{stage_wru[st] * per:>8.2f}")
    per_m = 1e6 * per
    o, m = cost["orchestration"], cost["media"]
    say(f"  cost per million SKUs (this run's meter, AWS list prices): orchestration ${sum(o.values()) * per_m:.2f} ("
        + ", ".join(f"{k} ${v * per_m:.2f}" for k, v in sorted(o.items(), key=lambda kv: -kv[1]) if v)
        + f"); media ${sum(m.values()) * per_m:.2f} ("
        + ", ".join(f"{k} ${v * per_m:.2f}" for k, v in sorted(m.items(), key=lambda kv: -kv[1]) if v)
        + f")   (targets <= ${TARGETS['orchestration']:g} each)")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_pipeline", description=__doc__.split("\n\n")[0])
    ap.add_argument("--products", default="200", help="product counts, comma-separated (default 200)")
    ap.add_argument("--workers", type=int, default=4,
                    help="the local cloud's concurrency per function (LocalCloud max_concurrency; default 4)")
    ap.add_argument("--timeout", type=float, default=7200.0, help="seconds a run may take (default 7,200)")
    ap.add_argument("--stall", type=float, default=600.0,
                    help="stop a run when no product changed status for this many seconds (default 600)")
    ap.add_argument("--baseline-sample", type=int, default=300,
                    help="images the media floor times (evenly spread; scaled to all; 0: all)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--reviewers", type=int, default=4,
                    help="simulated reviewers deciding at once from one listing of the board a round (default 4; "
                         "the runs before 2026-12-03 had 1, which past ~1,000 products set the pace)")
    ap.add_argument("--promotion", type=float, metavar="SHARE",
                    help="after the upload settles, upload the catalog again as a promotion does: every SKU's "
                         "stock new and SHARE (0-1) of the products with a promotional price; timed and "
                         "counted apart; the profile (out/bench-pipeline-N-promotion.json) covers both")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.products.split(",") if x.strip()]
    say = lambda *x: print(*x, flush=True)  # noqa: E731
    from shangjia.topology import TOPOLOGY

    media_workers = min(TOPOLOGY.function("media").reserved_concurrency or a.workers, a.workers)
    rc = 0
    runs: list[Run] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
            t = time.monotonic()
            w = build_workload(n, Path(tmp), seed=a.seed)
            say(f"[{n} products] workload: {len(w.images)} JPEG 1200 px, {len(w.videos)} videos, "
                f"{len(w.sheets)} sheets, built in {time.monotonic() - t:.1f} s (not timed)")
            r = run_pipeline(w, workers=a.workers, timeout_s=a.timeout, say=say, stall_s=a.stall,
                             reviewers=a.reviewers, reupload=a.promotion, tmp=Path(tmp))
            floor = media_floor(w, media_workers, a.baseline_sample)
            report(r, floor, w, sizes, say)
            runs.append(r)
            rc |= int(not r.completed)
    if len(runs) > 1:
        base = runs[0]
        say("throughput against the first size (flat is the goal): " + ", ".join(
            f"{r.products} products {r.skus_per_s / base.skus_per_s:.2f}x" for r in runs))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
