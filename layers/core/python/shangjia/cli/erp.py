"""``shangjia erp``: ERP clients, and sending a feed as an ERP would.

- ``erp client add CLIENT --merchants m1,m2 [--endpoint URL]``: the client, bound to those
  merchants; its new secret is stored in Secrets Manager and printed once, as the last line.
  (``--endpoint``: the cloud's URL, as for every command; default ``$AWS_ENDPOINT_URL``.)
- ``erp send FILE --client CLIENT [--url URL] [--stock] [--event-id ID]``: sign FILE's bytes
  (``X-Shangjia-Signature``) and POST them to ``/erp/v1/products`` (``/stock`` with ``--stock``)
  of the gateway (``--url``, else ``$SHANGJIA_GATEWAY_URL``, which ``shangjia cloud up`` prints).
- ``erp sync-run [--products N]``: the proof: a local cloud, N generated Taobao- and
  Pinduoduo-shaped products (some broken on purpose) through the signed endpoint, and the
  success rate at the end of validation with every failure located (shangjia.inbound.syncrun).
"""

from __future__ import annotations

import json
import os
import sys
import uuid


def register(sub) -> None:
    from shangjia.cli.cloud import _endpoint_arg

    p = sub.add_parser("erp", help="ERP clients and feeds (POST /erp/v1/*)")
    esub = p.add_subparsers(dest="erp_command", metavar="ACTION")
    c = esub.add_parser("client", help="ERP clients")
    csub = c.add_subparsers(dest="erp_client_command", metavar="ACTION")
    add = csub.add_parser("add", help="create a client (or give it a new secret); prints the secret once")
    _endpoint_arg(add)
    add.add_argument("client")
    add.add_argument("--merchants", required=True, help="comma-separated merchant ids it may post for")
    add.set_defaults(func=_client_add)

    s = esub.add_parser("send", help="sign a feed and POST it as an ERP would")
    _endpoint_arg(s)
    s.add_argument("file")
    s.add_argument("--client", required=True)
    s.add_argument("--url", default=os.environ.get("SHANGJIA_GATEWAY_URL"),
                   help="the gateway (default: $SHANGJIA_GATEWAY_URL, printed by `shangjia cloud up`)")
    s.add_argument("--stock", action="store_true", help="a stock/price update (POST /erp/v1/stock)")
    s.add_argument("--event-id", help="the event id (default: a new one; give the same one to retry)")
    s.set_defaults(func=_send)

    r = esub.add_parser("sync-run", help="proof: generated Taobao/Pinduoduo products through the signed endpoint "
                                         "on a local cloud; prints the success rate and every failure")
    r.add_argument("--products", type=int, default=300)
    r.add_argument("--broken-every", type=int, default=20, help="one product in N is broken on purpose")
    r.add_argument("--seed", type=int, default=11)
    r.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for validation (default 1800)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_sync_run)


def _client_add(args) -> int:
    from shangjia.cli.cloud import _use_endpoint

    _use_endpoint(args)
    from shangjia.clock import iso
    from shangjia.inbound.verify import add_client
    from shangjia.pipeline.deps import aws_deps

    deps = aws_deps()
    merchants = [m for m in args.merchants.split(",") if m.strip()]
    try:
        secret = add_client(deps, args.client, merchants, at=iso(deps.clock.now()))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"ERP client {args.client} may post for: {', '.join(merchants)}")
    print("its secret (shown once; sign X-Shangjia-Signature with it):")
    print(secret)
    return 0


def post_signed(url: str, client: str, secret: str, body: bytes, *, event_id: str, now: int,
                timeout: float = 60.0) -> tuple[int, dict]:
    """POST ``body`` signed as an ERP does; (status, JSON answer)."""
    import urllib.error
    import urllib.request

    from shangjia.channels.signing import webhook_signature_header

    req = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "x-shangjia-client": client, "x-shangjia-event-id": event_id,
        "x-shangjia-signature": webhook_signature_header(secret, body, now)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:     # noqa: S310 — the operator's gateway URL
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _send(args) -> int:
    from shangjia.cli.cloud import _use_endpoint

    _use_endpoint(args)
    from shangjia.inbound.verify import client_for
    from shangjia.pipeline.deps import aws_deps

    if not args.url:
        print("error: no gateway URL (--url, or SHANGJIA_GATEWAY_URL from `shangjia cloud up`)", file=sys.stderr)
        return 2
    deps = aws_deps()
    client = client_for(deps, args.client)
    with open(args.file, "rb") as fh:
        body = fh.read()
    route = "stock" if args.stock else "products"
    event_id = args.event_id or f"cli-{uuid.uuid4().hex}"
    status, answer = post_signed(f"{args.url.rstrip('/')}/erp/v1/{route}", client.name, client.secrets[0], body,
                                 event_id=event_id, now=int(deps.clock.now().timestamp()))
    print(f"{status} event {event_id}")
    print(json.dumps(answer, ensure_ascii=False, indent=1))
    return 0 if status < 400 else 1


def _sync_run(args) -> int:
    summary = run_sync(args.products, broken_every=args.broken_every, seed=args.seed, timeout_s=args.timeout)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    # success: every well-formed product validated, every broken one refused for its own reason
    return 0 if summary["unexplained"] == 0 else 1


SYNC_MERCHANT, SYNC_CLIENT, FEED_CHUNK = "m-erp-sync", "sync-erp", 50


def run_sync(n: int, *, broken_every: int = 20, seed: int = 11, timeout_s: float = 1800.0) -> dict:
    """Post ``n`` generated products through the signed ERP endpoint of a fresh local cloud and
    wait for the end of validation. The merchant's batch policy is check-only: products stop at
    ``checked``/``needs_fix`` (their made-up image URLs are never fetched)."""
    import time

    from shangjia.inbound.samples import DEFAULTS, generate
    from shangjia.inbound.verify import add_client
    from shangjia.localcloud import LocalCloud
    from shangjia.pipeline import keys
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    items = generate(n, broken_every=broken_every, seed=seed)
    with LocalCloud() as cloud:
        deps = aws_deps()
        put_merchant(deps.store, SYNC_MERCHANT, name="ERP sync proof", annual_sales_cny=9_000_000)
        deps.store.update(*keys.merchant(SYNC_MERCHANT), "SET batch_policy = :p", values={":p": {"mode": "check_only"}})
        secret = add_client(deps, SYNC_CLIENT, [SYNC_MERCHANT])
        url = cloud.gateway.url + "/erp/v1/products"
        t0 = time.monotonic()
        feeds = []                      # (object key, [(spu, platform, source id, expected)])
        refused_calls = []
        for platform in ("taobao", "pinduoduo"):
            mine = [(i, it, br) for i, (p, it, br) in enumerate(items) if p == platform]
            for c in range(0, len(mine), FEED_CHUNK):
                chunk = mine[c:c + FEED_CHUNK]
                body = json.dumps({"merchant_id": SYNC_MERCHANT, "platform": platform, "defaults": DEFAULTS,
                                   "items": [it for _, it, _ in chunk]}, ensure_ascii=False).encode()
                event_id = f"sync-{seed}-{platform}-{c // FEED_CHUNK}"
                status, answer = post_signed(url, SYNC_CLIENT, secret, body, event_id=event_id,
                                             now=int(deps.clock.now().timestamp()))
                if status != 202:
                    refused_calls.append((event_id, status, answer))
                    continue
                feeds.append((answer["object_key"], [(_spu(platform, it), platform, br) for _, it, br in chunk]))
        posted_s = time.monotonic() - t0
        results = _wait_validated(deps, feeds, timeout_s)
        elapsed = time.monotonic() - t0
    return _report(n, items, feeds, results, refused_calls, posted_s, elapsed)


def _spu(platform: str, item: dict) -> str:
    if platform == "taobao":
        return item["item_seller_get_response"]["item"]["outer_id"]
    return item["goods_detail_get_response"]["outer_goods_id"]


def _wait_validated(deps, feeds, timeout_s: float) -> dict[str, dict]:
    """spu -> its validated record, once every product of every feed has been validated."""
    import time

    from shangjia.pipeline.products import with_payload

    want = {spu for _, products in feeds for spu, _, _ in products}
    keys_wanted = {k for k, _ in feeds}
    found: dict[str, dict] = {}
    batches: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(batches) < len(keys_wanted):
            refs = deps.store.query(f"BATCHES#{SYNC_MERCHANT}", index="gsi1")
            for b in deps.store.get_many([(r["pk"], r["sk"]) for r in refs]):
                if b.get("key") in keys_wanted:
                    batches[b["key"]] = b["batch_id"]
        for batch_id in batches.values():
            refs = deps.store.query(f"BATCH#{batch_id}", index="gsi1")
            for p in with_payload(deps, deps.store.get_many([(r["pk"], r["sk"]) for r in refs
                                                              if r["pk"].startswith(("CHECK#", "PRODUCT#"))])):
                if "valid" in p and "findings" in p and p.get("spu_code") in want:    # result and payload
                    found[p["spu_code"]] = p
        if len(found) >= len(want):
            break
        print(f"  ... {len(batches)}/{len(keys_wanted)} batches, {len(found)}/{len(want)} products validated",
              file=sys.stderr, flush=True)
        time.sleep(5.0)
    return found


def _report(n, items, feeds, results, refused_calls, posted_s, elapsed) -> dict:
    rows = [(spu, platform, br, key) for key, products in feeds for spu, platform, br in products]
    valid = [spu for spu, _, _, _ in rows if results.get(spu, {}).get("valid")]
    failures, unexplained = [], 0
    for spu, platform, br, key in rows:
        rec = results.get(spu)
        if rec is None:
            failures.append({"spu_code": spu, "platform": platform, "expected": br, "feed": key,
                             "errors": ["not validated in time"]})
            unexplained += 1
            continue
        if rec.get("valid"):
            if br:
                unexplained += 1          # a broken product let through would be a bug
                failures.append({"spu_code": spu, "platform": platform, "expected": br, "feed": key,
                                 "errors": ["ACCEPTED"]})
            continue
        errs = [f for f in rec.get("findings") or [] if f.get("severity") == "error"]
        failures.append({"spu_code": spu, "platform": platform, "expected": br, "feed": key,
                         "errors": [f"{f['code']} row {f.get('row')} col {f.get('column')} field {f.get('field')}: "
                                    f"{f['message_en']}" for f in errs]})
        if not br:
            unexplained += 1
    rate = len(valid) / n if n else 0.0
    well_formed = sum(1 for _, _, br in items if not br)
    print(f"ERP sync: {n} products ({sum(1 for p, _, _ in items if p == 'taobao')} Taobao, "
          f"{sum(1 for p, _, _ in items if p == 'pinduoduo')} Pinduoduo) in {len(feeds)} signed calls "
          f"({len(refused_calls)} refused), posted in {posted_s:.1f} s, validated after {elapsed:.1f} s")
    print(f"success (accepted and validated, status checked): {len(valid)}/{n} = {rate:.1%}; "
          f"well-formed products: {len(valid)}/{well_formed} = {len(valid) / max(1, well_formed):.1%}")
    print(f"failures: {len(failures)} (broken on purpose: {n - well_formed}; unexplained: {unexplained})")
    for f in failures:
        print(f"  {f['platform']:9s} {f['spu_code']}  (broken on purpose: {f['expected'] or 'no'})  in {f['feed']}")
        for e in f["errors"]:
            print(f"      {e}")
    for event_id, status, answer in refused_calls:
        print(f"  call {event_id} refused {status}: {answer.get('code')} {answer.get('message_en')}")
    return {"products": n, "valid": len(valid), "success_rate": rate, "well_formed": well_formed,
            "failures": failures, "unexplained": unexplained + len(refused_calls), "calls": len(feeds),
            "posted_s": round(posted_s, 1), "elapsed_s": round(elapsed, 1)}
