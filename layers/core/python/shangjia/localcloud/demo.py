"""``make demo``: two merchants (one VIP, one ordinary) upload a workbook and its images through
the S3 API; every product goes ingest -> validate -> media -> review -> publish on the local
cloud; a clearly labelled simulated reviewer decides the manual tasks through the same decision
path a human uses. Prints live progress and a summary with the cost per million SKUs."""

from __future__ import annotations

import io
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from shangjia.localcloud import LocalCloud
from shangjia.topology import CHANNELS

# 10:30 Asia/Shanghai: inside the 10:00-12:00 publishing window, so key products publish now.
DEMO_CLOCK = "2026-11-25T02:30:00+00:00"
MERCHANTS = (("m-vip-001", "旗舰服饰 (VIP)", 8_000_000), ("m-std-002", "小店家居 (ordinary)", 300_000))
PROGRESS_S = 3.0      # how often the live progress line reads the products (seconds)
STAGES = ("uploaded", "validating", "media", "in_review", "approved", "scheduled", "publishing", "published",
          "needs_fix", "rejected", "failed")


def make_image(name: str, rng: random.Random, size: int = 1200) -> bytes:
    """A product-like photo: an object on a white background, JPEG as phones save them."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    color = tuple(rng.randrange(30, 220) for _ in range(3))
    m = size // 6
    d.rounded_rectangle((m, m + rng.randrange(m), size - m, size - m), radius=size // 12, fill=color)
    d.ellipse((size // 3, size // 3, size // 3 + size // 4, size // 3 + size // 4), fill=tuple(255 - c for c in color))
    for i in range(0, size, 40):   # texture, so blur checks see detail
        d.line((m, m + i % (size - 2 * m), size - m, m + (i * 7) % (size - 2 * m)), fill=(0, 0, 0), width=2)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def create_demo_users(cloud) -> list[tuple[str, str, str | None, str]]:
    """The demo's people in the local pool: ops1, reviewer1, editor1 and one user per demo
    merchant (named as the merchant). (username, role, merchant_id, password) each."""
    people = [("ops1", "ops", None), ("reviewer1", "reviewer", None), ("editor1", "editor", None),
              *((mid, "merchant", mid) for mid, _name, _sales in MERCHANTS)]
    return [(u, role, mid, cloud.add_user(u, role, mid)) for u, role, mid in people]


def sign_in_help(cloud, users) -> str:
    """How to sign in to the local cloud: the gateway, the users, a curl line."""
    lines = [f"gateway: {cloud.gateway.url}  (web app at /, sign-in POST /auth/login)"]
    lines += [f"  user {u:<12} role {role:<9}{f' merchant {mid}' if mid else '':<20} password {pw}"
              for u, role, mid, pw in users]
    u, _, _, pw = users[0]
    lines.append(f"  curl -s -X POST {cloud.gateway.url}/auth/login -H 'content-type: application/json' "
                 f"-d '{{\"username\":\"{u}\",\"password\":\"{pw}\"}}'   # -> id_token: "
                 f"send it as 'Authorization: Bearer <id_token>'")
    return "\n".join(lines)


class SimulatedReviewer(threading.Thread):
    """[simulated reviewer] works the review board through the ops API, as a person would: lists
    open tasks, claims one, approves most and rejects some with a reason code. It signs in as the
    pool's user ``simulated-reviewer`` and every call goes through the local gateway (its JWT
    check, API Gateway's event shape) and the real ``api`` handler to ``review.claim``/``decide``.

    ``workers``: a team working one board: the board is listed once per round and its tasks are
    claimed and decided by ``workers`` people at once (each claim can lose to another's: a 409,
    counted as refused). More listers would cost the API (and the emulator) a board query each
    per round without deciding faster; more deciders do decide faster."""

    USERNAME = "simulated-reviewer"

    def __init__(self, cloud, stop: threading.Event, reject_rate: float = 0.1, seed: int = 3,
                 poll_s: float = 1.0, workers: int = 1) -> None:
        super().__init__(name="simulated-reviewer", daemon=True)
        self.cloud, self.stop_event, self.reject_rate, self.poll_s = cloud, stop, reject_rate, poll_s
        self.workers = max(1, workers)
        self.rng = random.Random(seed)
        self.decisions: Counter = Counter()
        self.refused = 0
        self._lock = threading.Lock()
        self.token = cloud.token_for(self.USERNAME, "reviewer")

    def _api(self, method, path, **kw):
        status, body = self.cloud.api(method, path, token=self.token, **kw)
        if status == 401:
            # its ID token ran out (an hour, as Cognito issues them): sign in again, as the web app
            # does, or a run past the hour stalls with every task left open
            with self._lock:
                self.token = self.cloud.token_for(self.USERNAME, "reviewer")
            status, body = self.cloud.api(method, path, token=self.token, **kw)
        return status, body

    def _decide(self, stage: str, task_id: str, reject: bool) -> None:
        status, _ = self._api("POST", f"/api/review/tasks/{task_id}/claim")
        if status != 200:
            with self._lock:
                self.refused += 1
            return
        if reject:
            body = {"decision": "reject", "reasons": ["IMAGE_NOT_MATCHING"],
                    "note": "主图与标题不符 / main image does not match the title"}
        else:
            body = {"decision": "approve"}
        status, _ = self._api("POST", f"/api/review/tasks/{task_id}/decision", body=body)
        with self._lock:
            if status == 200:
                self.decisions[f"{stage}:{body['decision']}"] += 1
            else:
                self.refused += 1

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from shangjia.pipeline import review

        with ThreadPoolExecutor(self.workers, thread_name_prefix="simulated-reviewer") as team:
            while not self.stop_event.wait(self.poll_s):
                for stage in review.STAGES:
                    status, page = self._api("GET", "/api/review/tasks", query={"stage": stage})
                    tasks = (page or {}).get("tasks", []) if status == 200 else []
                    # the draws in the board's order, so a run's decisions do not depend on the team
                    todo = [(t["task_id"], self.rng.random() < self.reject_rate) for t in tasks]
                    list(team.map(lambda x: self._decide(stage, *x), todo))


def run_demo(products_per_merchant: int = 30, *, keep: bool = False, seed: int = 11, out=sys.stdout,
             timeout_s: float = 600) -> dict[str, Any]:
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant
    from shangjia.sheets.samples import write_sample_workbook

    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    rng = random.Random(seed)
    t_start = time.monotonic()
    cloud = LocalCloud(clock=DEMO_CLOCK).start()
    say(f"local cloud up at {cloud.endpoint} in {time.monotonic() - t_start:.1f}s "
        f"(moto {__import__('moto').__version__}; clock pinned to 10:30 Asia/Shanghai)")
    deps = aws_deps()
    s3 = cloud.client("s3")
    drop = cloud.resources.buckets["drop"]
    uploads = []
    n_images = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (mid, name, sales) in enumerate(MERCHANTS):
            put_merchant(deps.store, mid, name=name, annual_sales_cny=sales)
            path = Path(tmp) / f"{mid}.xlsx"
            images = write_sample_workbook(path, products_per_merchant, seed=seed + i, invalid_ratio=0.1)
            n_images += len(images)
            for img in images:
                s3.put_object(Bucket=drop, Key=f"{mid}/{img}", Body=make_image(img, rng), ContentType="image/jpeg")
            key = f"{mid}/上新 第{i + 1}批.xlsx"       # a space and Chinese: S3 events URL-encode both
            s3.upload_file(str(path), drop, key)
            uploads.append((mid, key))
            say(f"merchant {mid} ({name}): uploaded {len(images)} images and s3://{drop}/{key}")
    users = create_demo_users(cloud)
    say(sign_in_help(cloud, users))
    stop = threading.Event()
    reviewer = SimulatedReviewer(cloud, stop)
    reviewer.start()
    say("[simulated reviewer] deciding manual review tasks through the same decision path as the API")
    t_pipeline = time.monotonic()

    def progress() -> tuple[bool, list[dict[str, Any]]]:
        return batches_progress(deps, uploads)

    last = ""
    deadline = time.monotonic() + timeout_s
    # Whether the batches settled is asked every 0.5 s from their own items (cheap); the progress
    # line reads every product's item, so only every PROGRESS_S: an observer's reads go through
    # the same emulator process the pipeline's requests wait on (#13).
    shown = 0.0
    while True:
        done = batches_done(deps, uploads)
        now = time.monotonic()
        if done or now - shown >= PROGRESS_S:
            shown = now
            done, summaries = progress()
            counts = Counter()
            for s in summaries:
                counts.update(s["by_status"])
            state = (f"batches {len(summaries)}/{len(uploads)} | "
                     + " ".join(f"{k}={counts[k]}" for k in STAGES if counts[k]))
            if state != last:
                say(f"[{now - t_pipeline:5.1f}s] {state}")
                last = state
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    elapsed = now - t_pipeline
    stop.set()
    transitions = cloud.count_state_transitions()
    summary = _summary(cloud, deps, progress()[1], reviewer, elapsed, transitions, done)
    _print_summary(summary, say)
    say(f"measured profile (for `shangjia capacity`): {_write_profile(cloud, summary, n_images)}")
    if keep:
        say(sign_in_help(cloud, users))
        say(f"\nlocal cloud left running at {cloud.endpoint} — e.g.\n"
            f"  aws --endpoint-url {cloud.endpoint} s3 cp my.xlsx s3://{drop}/{MERCHANTS[0][0]}/my.xlsx\n"
            f"  shangjia status --endpoint {cloud.endpoint}\nCtrl-C stops it.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    cloud.stop()
    return summary


def batches_progress(deps, uploads: list[tuple[str, str]]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether every uploaded sheet's batch has settled (each product published, rejected or
    failed; or the batch refused whole), and the summaries of the merchants' batches. ``uploads``:
    (merchant id, sheet key) per sheet. What ``run_demo`` and ``bench/bench_pipeline.py`` wait on."""
    from shangjia.pipeline import views

    merchants = list(dict.fromkeys(mid for mid, _key in uploads))
    summaries = [views.batch_summary(deps, b) for mid in merchants for b in views.merchant_batches(deps, mid)]
    done = len(summaries) == len(uploads) and all(s["settled"] or s["status"] == "rejected" for s in summaries)
    return done, summaries


def batches_done(deps, uploads: list[tuple[str, str]]) -> bool:
    """``batches_progress``'s answer alone, from the batches' own items (one read each, the status
    the pipeline sets when a batch settles), not from every product's item: an observer that asks
    every second must not cost the emulator what the pipeline needs (#13)."""
    from shangjia.pipeline import views

    merchants = list(dict.fromkeys(mid for mid, _key in uploads))
    batches = [b for mid in merchants for b in views.merchant_batches(deps, mid)]
    return len(batches) >= len(uploads) and all(b.get("status") in ("settled", "rejected") for b in batches)


def _write_profile(cloud, summary: dict[str, Any], images: int) -> Path:
    """The run's per-stage figures, for the capacity model (``shangjia capacity``)."""
    import json

    from shangjia.cli.capacity import LAST_RUN
    from shangjia.localcloud.meter import profile

    data = profile(cloud.meter, skus=summary["skus_ingested"], products=summary["products"], images=images,
                   memory_mb={f.key: f.memory_mb for f in cloud.topology.functions},
                   source=f"shangjia demo, {time.strftime('%Y-%m-%d')}, {summary['elapsed_s']} s")
    LAST_RUN.parent.mkdir(parents=True, exist_ok=True)
    LAST_RUN.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    return LAST_RUN


def _summary(cloud, deps, summaries, reviewer, elapsed, transitions, done) -> dict[str, Any]:
    from shangjia.pipeline import views

    reasons: Counter = Counter()
    rejected_products = 0
    skus = 0
    for s in summaries:
        full = views.batch_summary(deps, deps.store.get(f"BATCH#{s['batch_id']}", "META"), with_products=True)
        skus += s["skus"]
        for p in full["products"] + full["refused_products"]:
            if p.get("status") in ("needs_fix", "rejected", "failed") or "status" not in p:
                rejected_products += 1
                for e in p["errors"]:
                    reasons[e["code"]] += 1
    # each channel's listings by state (live / rejected by the platform's audit / failed / still on their way)
    listing_states = {c: dict(Counter(x.get("state") or "live" for x in views.channel_listings(deps, c)))
                      for c in CHANNELS}
    listings = {c: states.get("live", 0) for c, states in listing_states.items()}
    snap = cloud.meter.snapshot()
    cost = cloud.meter.cost()
    per_m = 1e6 / skus if skus else 0
    return {
        "completed": done, "elapsed_s": round(elapsed, 2), "skus_ingested": skus,
        "products": sum(s["products_seen"] for s in summaries), "products_rejected": rejected_products,
        "rejection_reasons": dict(reasons.most_common()), "published_per_channel": listings,
        "listings_per_channel": listing_states,
        "skus_per_s": round(skus / elapsed, 1) if elapsed else 0,
        "reviewer_decisions": dict(reviewer.decisions),
        "requests": snap["requests"], "observer_requests": snap["observer_requests"],
        "lambda_invocations": snap["lambda_invocations"], "lambda_cpu_s": snap["lambda_cpu_s"],
        "lambda_gb_s": snap["lambda_gb_s"], "state_transitions": snap["state_transitions"],
        "express_executions": snap["express_executions"],
        "transitions_per_execution": Counter(transitions.values()),
        "cost_per_million_skus": {
            "orchestration": {k: round(v * per_m, 2) for k, v in cost["orchestration"].items()},
            "media": {k: round(v * per_m, 2) for k, v in cost["media"].items()},
            "orchestration_total": round(sum(cost["orchestration"].values()) * per_m, 2),
            "media_total": round(sum(cost["media"].values()) * per_m, 2)},
        "dlq_depths": {k: v for k, v in cloud.queue_depths(dlq=True).items() if v},
        # Every failed unit of work, retried: SQS records a handler reported failed (batchItemFailures:
        # Powertools catches the record's exception) or whose batch raised, and direct invocations
        # (Step Functions tasks, schedules) that raised. Exceptions escaping a handler alone miss
        # the first kind, the common one.
        "handler_errors": sum(cloud.runtime.retried.values()),
        "handler_errors_by_function": dict(sorted(cloud.runtime.retried.items())),
        # How the DynamoDB figure was arrived at: requests priced from item sizes (measured) or
        # from request/response sizes (estimated, docs/cost-model.md), and the units by function.
        "dynamodb": _ddb_breakdown(snap),
    }


def _ddb_breakdown(snap: dict[str, Any]) -> dict[str, Any]:
    units = snap.get("units", {})
    by_fn: dict[str, dict[str, float]] = {}
    for name, v in (snap.get("ddb_units_by_caller") or {}).items():
        who, _, kind = name.rpartition(":")
        if kind in ("wru", "rru"):
            by_fn.setdefault(who, {"wru": 0, "rru": 0})[kind] += v
    return {"measured_requests": int(units.get("ddb_measured", 0)),
            "estimated_requests": int(units.get("ddb_estimated", 0)),
            "wru": round(units.get("ddb_wru", 0), 1), "rru": round(units.get("ddb_rru", 0), 1),
            "by_function": dict(sorted(by_fn.items(), key=lambda kv: -kv[1]["wru"]))}


def _print_summary(s: dict[str, Any], say) -> None:
    say("\n==== summary ====")
    say(f"completed: {s['completed']}   elapsed: {s['elapsed_s']} s   SKUs ingested: {s['skus_ingested']} "
        f"({s['products']} products)   throughput: {s['skus_per_s']} SKUs/s")
    say(f"products rejected: {s['products_rejected']}   reasons: "
        + (", ".join(f"{k}×{v}" for k, v in s["rejection_reasons"].items()) or "none"))
    say("published per channel: " + ", ".join(f"{k}={v}" for k, v in s["published_per_channel"].items()))
    say("listings per channel: " + "; ".join(
        f"{c}: " + ", ".join(f"{st}={n}" for st, n in sorted(states.items())) for c, states in
        s.get("listings_per_channel", {}).items()))
    say(f"simulated reviewer decisions: {s['reviewer_decisions']}")
    say("AWS requests: " + ", ".join(f"{k}={v}" for k, v in sorted(s["requests"].items()))
        + f"; Lambda invocations {sum(s['lambda_invocations'].values())}, "
          f"{sum(s['lambda_gb_s'].values()):.2f} GB-s; Step Functions: {s['express_executions']} Express executions, "
          f"{s['state_transitions']} Standard state transitions ("
          + ", ".join(f"{n} executions of {t}" for t, n in sorted(s["transitions_per_execution"].items())) + ")")
    c = s["cost_per_million_skus"]
    say(f"cost per million SKUs at AWS list prices (us-east-1, arm64): orchestration ${c['orchestration_total']:.2f} "
        f"({', '.join(f'{k} ${v:.2f}' for k, v in c['orchestration'].items() if v)}); media ${c['media_total']:.2f} "
        f"({', '.join(f'{k} ${v:.2f}' for k, v in c['media'].items() if v)})")
    say("Lambda CPU seconds by function: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(s["lambda_cpu_s"].items()))
        + f"   (not priced: {sum(s['observer_requests'].values())} requests by this demo's progress display)")
    d = s.get("dynamodb")
    if d:
        total = d["measured_requests"] + d["estimated_requests"]
        say(f"dynamodb: {d['wru']:g} WRU, {d['rru']:g} RRU over {total} requests, {d['measured_requests']} measured "
            f"from item sizes, {d['estimated_requests']} estimated; WRU by function: "
            + ", ".join(f"{k} {v['wru']:g}" for k, v in d["by_function"].items() if v["wru"]))
    by_fn = s.get("handler_errors_by_function") or {}
    say(f"dead-letter queues: {s['dlq_depths'] or 'all empty'}   handler errors (retried): {s['handler_errors']}"
        + (f" ({', '.join(f'{k} {v}' for k, v in by_fn.items())})" if by_fn else ""))
