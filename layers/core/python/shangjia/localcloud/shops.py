"""The local cloud's channel shops: a merchant's shop on the simulated WeChat or Douyin is opened
the first time a function asks Secrets Manager for its credentials
(``shangjia/shops/<merchant_id>/<channel>``), as ops would with ``shangjia shops add``: the
simulator registers the shop with its audit pushes going to the gateway's
``/callbacks/<channel>``, and the credentials are saved through the secrets port. Tests and the
demo create merchants with ``put_merchant`` alone and still publish to every channel.

On AWS a missing secret is a permanent error: the listing fails with CHANNEL_NOT_CONFIGURED."""

from __future__ import annotations

import re
import threading
from typing import Callable

_NAME = re.compile(r"shangjia/shops/([^/]+)/(wechat|douyin)")


def auto_shops(cloud) -> Callable[[], None]:
    """Open a merchant's simulated shop when a function first asks for its credentials: a hook in
    front of moto's ``GetSecretValue`` (so it works for handlers in worker processes as well as in
    this one); returns the undo."""
    import json

    from shangjia import lambda_kit
    from shangjia.channels.credentials import forget_shops

    # An earlier cloud in this process cached shops (their simulator URLs) and secrets: forget them.
    forget_shops()
    lambda_kit.deps.cache_clear()
    lock = threading.Lock()
    opened: set[tuple[str, str]] = set()
    hooks = cloud.server.app.hooks

    def before_get_secret(raw: bytes, environ: dict) -> None:
        if not environ.get("HTTP_X_SHANGJIA_CALLER"):
            return          # not a function's request (this hook's own lookups among them)
        m = _NAME.fullmatch(str(json.loads(raw or b"{}").get("SecretId", "")))
        if not m or cloud.stop_event.is_set():
            return
        shop = (m.group(1), m.group(2))
        with lock:
            if shop in opened:
                return
            from shangjia.pipeline.deps import aws_deps
            from shangjia.ports import SecretNotFound

            deps = aws_deps()
            try:
                deps.secrets.get(m.group(0))
            except SecretNotFound:
                cloud.add_channel_shop(shop[0], shop[1], deps=deps)
            opened.add(shop)

    hooks[("secretsmanager", "GetSecretValue")] = before_get_secret

    def undo() -> None:
        hooks.pop(("secretsmanager", "GetSecretValue"), None)

    return undo
