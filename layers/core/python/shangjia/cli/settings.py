"""``shangjia settings`` and ``shangjia banned``: what ops change without a deploy (kept in the
state table, picked up by the functions within a minute; see ``shangjia.pipeline.config``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shangjia.cli.cloud import _endpoint_arg, _use_endpoint


def register(sub) -> None:
    from shangjia.pipeline.config import SETTINGS

    p = sub.add_parser("settings", help="deployment settings ops change without a deploy")
    ssub = p.add_subparsers(dest="settings_command", metavar="ACTION")
    show = ssub.add_parser("show", help="every setting, its value and what it does")
    _endpoint_arg(show)
    show.set_defaults(func=_settings_show)
    st = ssub.add_parser("set", help="set one setting (checked first)")
    _endpoint_arg(st)
    st.add_argument("name", choices=sorted(SETTINGS))
    st.add_argument("value")
    st.set_defaults(func=_settings_set)

    b = sub.add_parser("banned", help="the banned-term list validation uses")
    bsub = b.add_subparsers(dest="banned_command", metavar="ACTION")
    bshow = bsub.add_parser("show", help="the list in use: version, term count, source")
    _endpoint_arg(bshow)
    bshow.add_argument("--json", action="store_true", help="print the whole list")
    bshow.set_defaults(func=_banned_show)
    bset = bsub.add_parser("set", help="replace the list with FILE.json (the format of data/banned_terms.json)")
    _endpoint_arg(bset)
    bset.add_argument("file")
    bset.set_defaults(func=_banned_set)


def _now() -> str:
    from shangjia.clock import SystemClock, iso

    return iso(SystemClock().now())


def _store():
    from shangjia.pipeline.deps import aws_deps

    return aws_deps().store


def _settings_show(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.config import SETTINGS, read_settings

    values = read_settings(_store())
    for name, s in SETTINGS.items():
        print(json.dumps({"name": name, "value": values[name], "default": s.default, "about": s.doc},
                         ensure_ascii=False))
    return 0


def _settings_set(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.config import TTL_S, set_setting

    try:
        v = set_setting(_store(), args.name, args.value, at=_now())
    except ValueError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"name": args.name, "value": v, "effective_within_s": TTL_S}))
    return 0


def _banned_show(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.config import banned_terms_item
    from shangjia.validation.banned import default_path

    item = banned_terms_item(_store())
    if item is None:
        doc = default_path().read_text("utf-8")
        meta = {"source": "packaged default"}
    else:
        doc = item["doc"]
        meta = {"source": "state table", "updated_at": item.get("updated_at"), "sha256": item.get("sha256")}
    d = json.loads(doc)
    meta |= {"version": d.get("version", ""), "groups": len(d["groups"]),
             "terms": sum(len(g.get("terms", ())) for g in d["groups"])}
    print(json.dumps(d if args.json else meta, ensure_ascii=False, indent=1 if args.json else None))
    return 0


def _banned_set(args) -> int:
    _use_endpoint(args)
    from shangjia.pipeline.config import TTL_S, put_banned_terms

    try:
        out = put_banned_terms(_store(), Path(args.file).read_bytes(), at=_now())
    except (OSError, ValueError) as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out | {"effective_within_s": TTL_S}, ensure_ascii=False))
    return 0
