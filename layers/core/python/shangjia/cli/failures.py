"""``shangjia failures report [--week YYYY-Www]``: write the weekly failure report now (the same
function the Monday schedule runs) against the local cloud (``--endpoint``) or AWS, and print
where it went and the top causes."""

from __future__ import annotations

import json
import os
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint
from shangjia.topology import env_name


def register(sub) -> None:
    p = sub.add_parser("failures", help="the weekly failure report")
    fsub = p.add_subparsers(dest="failures_command", metavar="ACTION")
    r = fsub.add_parser("report", help="write a week's failure report (default: the week that just ended)")
    _endpoint_arg(r)
    r.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: last full week, UTC)")
    r.add_argument("--top", type=int, default=5, help="how many causes to print")
    r.add_argument("--json", action="store_true", help="print the whole report as JSON")
    r.set_defaults(func=_report)


def _report(args) -> int:
    _use_endpoint(args)
    if args.endpoint:
        from shangjia.localcloud.provision import PREFIX

        os.environ.setdefault(env_name("bucket", "reports"), f"{PREFIX}-local-reports")
    from shangjia.errors import finding
    from shangjia.pipeline.deps import aws_deps
    from shangjia.pipeline.failures import week_start, write_weekly

    if args.week:
        try:
            week_start(args.week)
        except ValueError:
            f = finding("FAILURE_WEEK_INVALID", value=args.week)
            print(f"{f.code}: {f.message_en} / {f.message_zh} ({f.hint_en})", file=sys.stderr)
            return 2
    deps = aws_deps()
    out = write_weekly(deps, args.week)
    doc = out["report"]
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    bucket = os.environ.get(env_name("bucket", "reports"), "reports")
    t = doc["totals"]
    print(f"week {doc['week']}: {t['failures']} failures (previous week {doc['previous_week']}: {t['previous']}, "
          f"change {t['change']:+d}), {t['products']} products, {t['merchants']} merchants")
    print(f"  s3://{bucket}/{out['json_key']}\n  s3://{bucket}/{out['xlsx_key']}")
    for r in doc["by_code"][:max(0, args.top)]:
        print(f"  {r['code']:<28} {r['count']:>5}  (prev {r['previous']}, {r['change']:+d})  {r['message']}")
    return 0
