"""Local cloud commands: ``demo``, ``cloud up``, ``status``, ``merchant add``, ``redrive``.

``status``, ``merchant`` and ``redrive`` talk to any endpoint (the local cloud's, or AWS with no
``--endpoint``) and find resources by the ``SHANGJIA_*`` settings, defaulting to the local names.
"""

from __future__ import annotations

import json
import os
import sys
import time

from shangjia.topology import TOPOLOGY, env_name


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the local cloud and print a summary")
    p.add_argument("--products", type=int, default=15, help="products per merchant (default 15)")
    p.add_argument("--keep", action="store_true", help="leave the cloud running and print its endpoint")
    p.add_argument("--json", action="store_true", help="print the summary as JSON at the end")
    p.set_defaults(func=_demo)

    cloud = sub.add_parser("cloud", help="the local cloud")
    csub = cloud.add_subparsers(dest="cloud_command", metavar="ACTION")
    up = csub.add_parser("up", help="start the local cloud and keep it running (Ctrl-C stops)")
    up.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    up.add_argument("--merchants", action="store_true",
                    help="also create the demo's two merchants and its users (ops1, reviewer1, editor1, one per "
                         "merchant; passwords printed)")
    up.set_defaults(func=_up)

    st = sub.add_parser("status", help="batches and their products' progress")
    _endpoint_arg(st)
    st.add_argument("batch_id", nargs="?", help="one batch (default: every batch of every merchant seen)")
    st.add_argument("--merchant", help="only this merchant's batches")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)

    m = sub.add_parser("merchant", help="merchant profiles")
    msub = m.add_subparsers(dest="merchant_command", metavar="ACTION")
    add = msub.add_parser("add", help="create or replace a merchant")
    _endpoint_arg(add)
    add.add_argument("merchant_id")
    add.add_argument("--name", required=True)
    add.add_argument("--annual-sales", type=int, required=True, help="CNY; over 5,000,000 makes a VIP (auto review)")
    add.add_argument("--channels", default="own_shop,wechat,douyin")
    add.add_argument("--promo-below-cost", action="append", default=[], metavar="CATEGORY_PREFIX=error|warning",
                     help="a promo price below cost in that category is an error or a warning (default warning); "
                          "repeatable")
    add.set_defaults(func=_merchant_add)

    r = sub.add_parser("redrive", help="move a dead-letter queue's messages back to its source queue")
    _endpoint_arg(r)
    r.add_argument("queue", choices=[q.key for q in TOPOLOGY.queues])
    r.add_argument("--max", type=int, default=1000)
    r.set_defaults(func=_redrive)


def _endpoint_arg(p) -> None:
    p.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"),
                   help="the local cloud's URL (default: $AWS_ENDPOINT_URL, else real AWS)")


def _use_endpoint(args) -> None:
    from shangjia.localcloud.provision import PREFIX

    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
        for k, v in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                     ("AWS_DEFAULT_REGION", "us-east-1")):
            os.environ.setdefault(k, v)
        os.environ.setdefault(env_name("table", "state"), f"{PREFIX}-local-state")
        # a product an ops command settles may settle its batch: its notice goes to the local topic
        from shangjia.localcloud.provision import ACCOUNT, REGION

        os.environ.setdefault(env_name("topic", "notices"), f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-local-notices")


def _demo(args) -> int:
    from shangjia.localcloud.demo import run_demo

    summary = run_demo(args.products, keep=args.keep)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
    ok = summary["completed"] and not summary["dlq_depths"] and summary["skus_ingested"] > 0
    return 0 if ok else 1


def _up(args) -> int:
    from shangjia.localcloud import LocalCloud
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    cloud = LocalCloud(port=args.port).start()
    users = []
    if args.merchants:
        from shangjia.localcloud.demo import MERCHANTS, create_demo_users

        for mid, name, sales in MERCHANTS:
            put_merchant(aws_deps().store, mid, name=name, annual_sales_cny=sales)
        users = create_demo_users(cloud)
    r = cloud.resources
    print(f"local cloud at {cloud.endpoint}\n  drop bucket: {r.buckets['drop']}\n  state table: {r.tables['state']}\n"
          f"  export AWS_ENDPOINT_URL={cloud.endpoint} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
          f"AWS_DEFAULT_REGION=us-east-1\n  aws --endpoint-url {cloud.endpoint} s3 cp my.xlsx "
          f"s3://{r.buckets['drop']}/<merchant>/my.xlsx\n  shangjia status --endpoint {cloud.endpoint}\n"
          f"  shangjia users add NAME --role merchant|editor|reviewer|ops [--merchant M] --endpoint {cloud.endpoint}",
          flush=True)
    for u, role, mid, pw in users:
        print(f"  user {u} ({role}{f' of {mid}' if mid else ''}) password {pw}", flush=True)
    print(f"gateway: {cloud.gateway.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
    return 0


def _status(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline import keys, views
    from shangjia.pipeline.deps import aws_deps

    deps = aws_deps()
    if args.batch_id:
        b = deps.store.get(*keys.batch(args.batch_id))
        if not b:
            print(f"no batch {args.batch_id}", file=sys.stderr)
            return 1
        batches = [b]
    else:
        from shangjia.adapters.aws import client, resource_name

        table = resource_name("table", "state")
        merchants = [args.merchant] if args.merchant else [
            i["merchant_id"]["S"] for i in client("dynamodb").scan(
                TableName=table, FilterExpression="sk = :p", ExpressionAttributeValues={":p": {"S": "PROFILE"}},
                ProjectionExpression="merchant_id").get("Items", [])]
        batches = [b for m in merchants for b in views.merchant_batches(deps, m)]
    summaries = [views.batch_summary(deps, b, with_products=bool(args.batch_id)) for b in batches]
    if args.json:
        print(json.dumps(summaries, ensure_ascii=False, indent=1))
        return 0
    if not summaries:
        print("no batches yet")
    for s in summaries:
        if s.get("kind") == "bundle":
            print(f"{s['batch_id']}  {s['merchant_id']}  {s['key']}  {s['status']}  files {s['files_count']} "
                  f"(written {s['files_written']}, unchanged {s['files_unchanged']}, refused {s['refused_count']})"
                  + (f"  REJECTED: {s['rejection']['message_en']}" if s.get("rejection") else ""))
            continue
        print(f"{s['batch_id']}  {s['merchant_id']}  {s['key']}  {s['status']}  products {s['products_seen']}/"
              f"{s['products_total'] if s['products_total'] is not None else '?'}  "
              + " ".join(f"{k}={v}" for k, v in s["by_status"].items())
              + (f"  settled {s['products_settled']}/{s['products_total']}" if s.get("products_total") else "")
              + (f"  REJECTED: {s['rejection']['message_en']}" if s.get("rejection") else ""))
        if s.get("readiness"):
            print("   readiness 渠道就绪: " + "  ".join(f"{c} ready {v['ready']}/{v['ready'] + v['not_ready']}"
                                                    for c, v in s["readiness"].items()))
        for p in s.get("products", []):
            errs = "; ".join(f"{e.get('code')} row {e.get('row', '-')} col {e.get('column', '-')}: {e.get('message_en')}"
                             for e in p["errors"][:5])
            print(f"   {p['spu_code']:<20} {p['status']:<12} {errs}")
            for c, v in (p.get("readiness") or {}).items():
                if not v.get("ready") or v.get("findings"):
                    print(f"      {c:<9} {'ready' if v.get('ready') else 'NOT READY'}: " + "; ".join(
                        f"{f['code']}: {f.get('message')}" for f in v.get("findings", [])[:5]))
    return 0


def _merchant_add(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.merchants import put_merchant

    promo = dict(x.rpartition("=")[::2] for x in args.promo_below_cost)     # no "=": refused below
    try:
        p = put_merchant(aws_deps().store, args.merchant_id, name=args.name, annual_sales_cny=args.annual_sales,
                         channels=[c for c in args.channels.split(",") if c], promo_below_cost=promo)
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in p.items() if k not in ("pk", "sk")}, ensure_ascii=False))
    return 0


def _redrive(args) -> int:
    """Runbook step: after fixing the cause, move DLQ messages back to the source queue."""
    _use_endpoint(args)
    from shangjia.adapters.aws import client
    from shangjia.adapters.links import move_messages       # the API's redrive runs the same
    from shangjia.localcloud.provision import PREFIX

    sqs = client("sqs")
    q = TOPOLOGY.queue(args.queue)
    src = os.environ.get(env_name("queue", q.key)) or sqs.get_queue_url(QueueName=f"{PREFIX}-local-{q.key}")["QueueUrl"]
    dlq = os.environ.get(env_name("queue", q.dlq_key)) or sqs.get_queue_url(
        QueueName=f"{PREFIX}-local-{q.dlq_key}")["QueueUrl"]
    moved = move_messages(src, dlq, args.max)
    print(f"moved {moved} messages from {q.dlq_key} back to {q.key}")
    return 0
