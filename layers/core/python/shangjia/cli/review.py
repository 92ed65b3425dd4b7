"""``shangjia review``: list, claim, heartbeat, approve and reject review tasks — the same decision path
as the API and the demo's simulated reviewer."""

from __future__ import annotations

import json
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    p = sub.add_parser("review", help="review tasks: list, claim, approve, reject")
    rsub = p.add_subparsers(dest="review_command", metavar="ACTION")
    ls = rsub.add_parser("tasks", help="list tasks of a stage")
    _endpoint_arg(ls)
    ls.add_argument("--stage", choices=("pre", "final"), default="pre")
    ls.add_argument("--state", choices=("open", "claimed", "decided", "lapsed", "auto_rejected"), default="open")
    ls.add_argument("--assignee", help="the tasks this reviewer has claimed (instead of --stage/--state)")
    ls.set_defaults(func=_tasks)
    for name in ("claim", "heartbeat", "approve", "reject"):
        a = rsub.add_parser(name, help=f"{name} a task")
        _endpoint_arg(a)
        a.add_argument("task_id")
        a.add_argument("--as", dest="actor", required=True, help="your reviewer id")
        a.add_argument("--role", choices=("reviewer", "ops", "editor"), default="reviewer")
        if name == "reject":
            a.add_argument("--reason", action="append", default=[], help="reason code (repeatable)")
            a.add_argument("--note", default="")
        a.set_defaults(func=_decide, action=name)


def _tasks(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline import review
    from shangjia.pipeline.deps import aws_deps

    tasks = review.tasks_of(aws_deps(), args.assignee) if args.assignee else \
        review.list_tasks(aws_deps(), args.stage, args.state)
    for t in tasks:
        print(json.dumps({k: t.get(k) for k in ("task_id", "stage", "merchant_id", "spu_code", "state", "assignee",
                                               "created_at", "sla_deadline", "escalated")}, ensure_ascii=False))
    return 0


def _decide(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline import review
    from shangjia.pipeline.deps import aws_deps

    actor = {"id": args.actor, "role": args.role}
    try:
        if args.action == "claim":
            out = review.claim(aws_deps(), args.task_id, actor)
            out = {"task_id": args.task_id, "state": out["state"], "assignee": out["assignee"]}
        elif args.action == "heartbeat":
            out = review.heartbeat(aws_deps(), args.task_id, actor)
            out = {"task_id": args.task_id, "lease_until": out["lease_until"]}
        elif args.action == "approve":
            out = review.decide(aws_deps(), args.task_id, actor, "approve")
        else:
            out = review.decide(aws_deps(), args.task_id, actor, "reject", reasons=args.reason, note=args.note)
    except review.DecisionRefused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 3
    print(json.dumps(out, ensure_ascii=False))
    return 0
