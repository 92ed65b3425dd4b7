"""Simulated sales channels for the local cloud: the WeChat Channels shop (``wechat.py``) and the
Douyin shop (``douyin.py``) on loopback, speaking the platforms' real request shapes, tokens,
envelopes, quotas and error codes (../shared/CHANNEL-APIS.md §1, §2), auditing asynchronously and
pushing verdicts to a registered callback URL (signed as the platforms sign them).

``Knobs`` are per run (latency, 5xx/429/busy rates, time-outs that still apply the write, audit
delay, rejection rate and reasons, lost/duplicated/reordered callbacks, WeChat quotas) and every
random decision is deterministic for a ``seed``. ``Channels`` starts both servers.
"""

from __future__ import annotations

from typing import Any, Callable

from shangjia.localcloud.channels_sim.base import REJECT_REASONS, Knobs, Push
from shangjia.localcloud.channels_sim.douyin import DouyinSim
from shangjia.localcloud.channels_sim.wechat import WechatSim

__all__ = ["REJECT_REASONS", "Channels", "DouyinSim", "Knobs", "Push", "WechatSim"]


class Channels:
    """Both simulators. ``knobs`` is shared unless a platform gets its own."""

    def __init__(self, knobs: Knobs | None = None, *, clock: Callable[[], float] | None = None,
                 wechat_knobs: Knobs | None = None, douyin_knobs: Knobs | None = None) -> None:
        self.knobs = knobs or Knobs()
        self.wechat = WechatSim(wechat_knobs or self.knobs, clock=clock)
        self.douyin = DouyinSim(douyin_knobs or self.knobs, clock=clock)
        self.urls: dict[str, str] = {}

    def start(self) -> dict[str, str]:
        self.urls = {"wechat": self.wechat.start(), "douyin": self.douyin.start()}
        return dict(self.urls)

    def stop(self) -> None:
        self.wechat.stop()
        self.douyin.stop()

    def __enter__(self) -> "Channels":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def sim(self, channel: str) -> WechatSim | DouyinSim:
        return {"wechat": self.wechat, "douyin": self.douyin}[channel]

    @property
    def calls(self) -> int:
        """HTTP requests received by both platforms."""
        return self.wechat.calls + self.douyin.calls

    @property
    def listings(self) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
        """(channel, shop, merchant's out id) -> the platform products created for it."""
        out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for name in ("wechat", "douyin"):
            for (shop, out_id), recs in self.sim(name).listings.items():
                out[(name, shop, out_id)] = recs
        return out

    def duplicates(self) -> dict[tuple[str, str, str], int]:
        """(channel, shop, out id) -> products, where a listing was created more than once."""
        return {(name, *k): n for name in ("wechat", "douyin") for k, n in self.sim(name).duplicates().items()}

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        return self.wechat.wait_idle(timeout_s) and self.douyin.wait_idle(timeout_s)
