"""``shangjia users``: the people who sign in (the Cognito user pool) — ``add`` and ``list``.

Against the local cloud (``--endpoint``, or ``$AWS_ENDPOINT_URL``) the pool is found by its local
name; against AWS pass ``--pool-id`` (the stack's ``UserPoolId`` output) or set
``SHANGJIA_USER_POOL_ID``. The same boto3 adapter (``shangjia.adapters.cognito``) serves both.
"""

from __future__ import annotations

import json
import os
import sys

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint
from shangjia.topology import TOPOLOGY, USER_POOL_ID_ENV

ROLES = TOPOLOGY.user_pool.roles if TOPOLOGY.user_pool else ("merchant", "editor", "reviewer", "ops")


def register(sub) -> None:
    p = sub.add_parser("users", help="people who sign in: add, list")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION")
    add = usub.add_parser("add", help="create a user with a permanent password (printed once, last line)")
    _endpoint_arg(add)
    _pool_arg(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--merchant", help="the merchant a merchant user belongs to (required for --role merchant)")
    add.add_argument("--password", help="the password (default: a generated one)")
    add.set_defaults(func=_add)
    ls = usub.add_parser("list", help="users, their roles and merchants")
    _endpoint_arg(ls)
    _pool_arg(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)


def _pool_arg(p) -> None:
    p.add_argument("--pool-id", default=os.environ.get(USER_POOL_ID_ENV),
                   help=f"the user pool (default: ${USER_POOL_ID_ENV}, else the local cloud's pool)")


def _users(args):
    _use_endpoint(args)
    from shangjia.adapters.cognito import CognitoUsers, find_pool
    from shangjia.localcloud.cognito import pool_name
    from shangjia.localcloud.provision import PREFIX

    if args.pool_id:
        return CognitoUsers(args.pool_id, "-")
    pool_id, client_id = find_pool(pool_name(TOPOLOGY.user_pool, PREFIX, "local"))
    return CognitoUsers(pool_id, client_id)


def _refuse(code: str, **params) -> int:
    from shangjia.errors import finding

    f = finding(code, **params)
    print(f"refused: {f.code}: {f.message_en} / {f.message_zh} ({f.hint_en})", file=sys.stderr)
    return 2


def _add(args) -> int:
    from shangjia.adapters.cognito import UserExists, WeakPassword, generate_password

    if args.role == "merchant" and not args.merchant:
        return _refuse("AUTH_MERCHANT_REQUIRED")
    if args.role != "merchant" and args.merchant:
        return _refuse("AUTH_MERCHANT_NOT_ALLOWED", role=args.role)
    try:
        users = _users(args)
    except LookupError as e:
        print(f"no user pool: {e} (is the local cloud running? or pass --pool-id)", file=sys.stderr)
        return 1
    password = args.password or generate_password()
    try:
        users.add_user(args.username, role=args.role, merchant_id=args.merchant, password=password)
    except UserExists:
        return _refuse("AUTH_USER_EXISTS", username=args.username)
    except WeakPassword as e:
        return _refuse("AUTH_PASSWORD_WEAK", reason=str(e) or "policy")
    print(json.dumps({"username": args.username, "role": args.role, "merchant_id": args.merchant,
                      "password": "generated, next line" if not args.password else "as given"}, ensure_ascii=False))
    print(password, flush=True)      # once, the last line: nowhere else keeps it
    return 0


def _list(args) -> int:
    try:
        users = _users(args).list_users()
    except LookupError as e:
        print(f"no user pool: {e} (is the local cloud running? or pass --pool-id)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(users, ensure_ascii=False, indent=1))
        return 0
    for u in users:
        print(f"{u['username']:<20} {u['role'] or '-':<9} {u['merchant_id'] or '-':<16} {u['status']}"
              f"{'' if u['enabled'] else ' (disabled)'}")
    if not users:
        print("no users yet")
    return 0
