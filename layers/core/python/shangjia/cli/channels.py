"""``shangjia channels sign douyin|taobao|pdd``: compute a platform request signature offline.

``--params`` is a JSON object: the request's parameters, as they will be sent. The signature is
the last line of stdout; ``--explain`` prints the exact string that was digested just before it.

douyin: ``--params`` must hold ``param_json``. A JSON *object* there is canonicalised (keys sorted
at every depth, no escaping of / < > & or non-ASCII); a JSON *string* is signed verbatim — e.g.
``{"param_json": {"product_id": "1"}}`` vs ``{"param_json": "{\\"product_id\\":\\"1\\"}"}``.
``app_key``, ``method``, ``timestamp`` and ``v`` (default 2) come from the flags or from
``--params``; ``--sign-method`` is hmac-sha256 (default) or md5. ``access_token`` is ignored.

taobao: every parameter is signed (``sign`` and empty values skipped); ``--app-key``,
``--method``, ``--timestamp`` fill ``app_key``, ``method``, ``timestamp``; ``--sign-method``
(md5 | hmac | hmac-sha256, default md5) is added to the params when they lack ``sign_method``.

pdd: every parameter but ``sign`` is signed; ``--app-key``, ``--method``, ``--timestamp`` fill
``client_id``, ``type``, ``timestamp``.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("channels", help="sales-channel tools (signatures)")
    csub = p.add_subparsers(dest="channels_command", metavar="SUBCOMMAND")
    s = csub.add_parser("sign", help="compute a Douyin / Taobao / Pinduoduo request signature",
                        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("platform", choices=("douyin", "taobao", "pdd"))
    s.add_argument("--secret", required=True, help="app secret / client secret")
    s.add_argument("--params", required=True, metavar="JSON", help="the request's parameters, a JSON object")
    s.add_argument("--sign-method", metavar="M", help="douyin: hmac-sha256|md5; taobao: md5|hmac|hmac-sha256")
    s.add_argument("--app-key", metavar="K", help="app_key (pdd: client_id)")
    s.add_argument("--method", metavar="M", help="API method (pdd: type)")
    s.add_argument("--timestamp", metavar="T", help="timestamp, signed verbatim")
    s.add_argument("--explain", action="store_true", help="also print the exact string that was signed")
    s.set_defaults(func=run_sign)
    f = csub.add_parser("fault-run", help="the fault run on a local cloud of its own (docs/channels.md)")
    f.add_argument("--n", type=int, default=500, help="products (x 3 channels)")
    f.add_argument("--baseline-n", type=int, default=None, help="products of the no-fault baseline (default: --n)")
    f.add_argument("--timeout", type=float, default=3600.0)
    f.set_defaults(func=_fault_run)
    q = csub.add_parser("quota-run", help="the WeChat quota run on an accelerated clock (docs/channels.md)")
    q.add_argument("--n", type=int, default=600)
    q.add_argument("--quota", type=int, default=200, help="the simulator's audit submissions per rolling hour")
    q.add_argument("--scale", type=float, default=10.0, help="simulated seconds per real second")
    q.add_argument("--timeout", type=float, default=3600.0)
    q.set_defaults(func=_quota_run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _fault_run(args) -> int:
    from shangjia.localcloud import channel_runs as R

    base, f = R.fault_run(args.n, baseline_n=args.baseline_n, timeout_s=args.timeout)
    print(R.format_fault_run(base, f))
    return int(f.pct_live < 98.0 or f.duplicates > 0 or f.timed_out)


def _quota_run(args) -> int:
    from shangjia.localcloud import channel_runs as R

    q = R.quota_run(args.n, scale=args.scale, quota_per_hour=args.quota, timeout_s=args.timeout)
    print(R.format_quota_run(q))
    return int(q.quota_errors_reaching_products > 0 or q.timed_out)


class _Usage(Exception):
    pass


def _fill(params: dict, args, names: tuple[str, str, str]) -> None:
    for flag, key in zip((args.app_key, args.method, args.timestamp), names):
        if flag is None:
            continue
        if key in params and str(params[key]) != flag:
            raise _Usage(f"{key} is given twice with different values ({params[key]!r} vs {flag!r})")
        params[key] = flag


def _douyin(args, params: dict) -> tuple[str, str, str]:
    from shangjia.channels import signing

    _fill(params, args, ("app_key", "method", "timestamp"))
    if "param_json" not in params:
        raise _Usage('douyin: --params needs "param_json" (a JSON object to canonicalise, or a string signed verbatim)')
    missing = [k for k in ("app_key", "method", "timestamp") if not params.get(k)]
    if missing:
        raise _Usage(f"douyin: missing {', '.join(missing)} (flags --app-key/--method/--timestamp or in --params)")
    pj = params["param_json"]
    if not isinstance(pj, (dict, str)):
        raise _Usage("douyin: param_json must be a JSON object or a JSON string")
    method = args.sign_method or params.get("sign_method") or "hmac-sha256"
    if method not in ("hmac-sha256", "md5"):
        raise _Usage(f"douyin: --sign-method is hmac-sha256 or md5, not {method!r}")
    param_json = signing.douyin_param_json(pj)
    fields = (str(params["app_key"]), args.secret, str(params["method"]), param_json,
              str(params["timestamp"]), str(params.get("v", "2")))
    how = "HMAC-SHA256, key = secret" if method == "hmac-sha256" else "MD5"
    return signing.douyin_sign_string(*fields), signing.douyin_sign(*fields, sign_method=method), how


def _taobao(args, params: dict) -> tuple[str, str, str]:
    from shangjia.channels import signing

    _fill(params, args, ("app_key", "method", "timestamp"))
    method = args.sign_method or params.get("sign_method") or "md5"
    if params.get("sign_method") not in (None, "", method):
        raise _Usage(f"taobao: params say sign_method={params['sign_method']!r}, flag says {method!r}")
    if method not in ("md5", "hmac", "hmac-sha256"):
        raise _Usage(f"taobao: --sign-method is md5, hmac or hmac-sha256, not {method!r}")
    params.setdefault("sign_method", method)
    how = {"md5": "MD5", "hmac": "HMAC-MD5, key = secret", "hmac-sha256": "HMAC-SHA256, key = secret"}[method]
    return (signing.taobao_sign_string(args.secret, params, method),
            signing.taobao_sign(args.secret, params, method), how)


def _pdd(args, params: dict) -> tuple[str, str, str]:
    from shangjia.channels import signing

    if args.sign_method:
        raise _Usage("pdd: there is no sign_method (always MD5)")
    _fill(params, args, ("client_id", "type", "timestamp"))
    return signing.pdd_sign_string(args.secret, params), signing.pdd_sign(args.secret, params), "MD5"


def run_sign(args) -> int:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as e:
        print(f"shangjia channels sign: --params is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(params, dict):
        print("shangjia channels sign: --params must be a JSON object", file=sys.stderr)
        return 2
    try:
        signed, sig, how = {"douyin": _douyin, "taobao": _taobao, "pdd": _pdd}[args.platform](args, params)
    except (_Usage, TypeError, ValueError) as e:
        print(f"shangjia channels sign: {e}", file=sys.stderr)
        return 2
    if args.explain:
        print(f"# string signed ({how}, UTF-8), exactly the next line(s):")
        print(signed)
        print("# signature:")
    print(sig)
    return 0
