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
    """Patch the in-process secrets adapter for this cloud; returns the undo."""
    from shangjia import lambda_kit
    from shangjia.adapters import aws
    from shangjia.channels.credentials import forget_shops
    from shangjia.ports import SecretNotFound

    # An earlier cloud in this process cached shops (their simulator URLs) and secrets: forget them.
    forget_shops()
    lambda_kit.deps.cache_clear()

    original = aws.SecretsManagerSecrets.get
    lock = threading.Lock()

    def get(self, name: str) -> str:
        try:
            return original(self, name)
        except SecretNotFound:
            m = _NAME.fullmatch(name)
            if not m or cloud.stop_event.is_set():
                raise
            with lock:
                try:
                    return original(self, name)        # opened by another thread meanwhile
                except SecretNotFound:
                    from shangjia.pipeline.deps import aws_deps

                    cloud.add_channel_shop(m.group(1), m.group(2), deps=aws_deps())
            return original(self, name)

    aws.SecretsManagerSecrets.get = get

    def undo() -> None:
        aws.SecretsManagerSecrets.get = original

    return undo
