"""Dropped SKUs come off a channel's listing: ChannelClient.delist against the simulated channels."""

from shangjia.channels import ChannelClient
from shangjia.localcloud.channels_sim import ChannelSimulator


def test_delist_reaches_the_channel_and_the_own_shop_needs_no_call(monkeypatch):
    sim = ChannelSimulator()
    url = sim.start()
    try:
        monkeypatch.setenv("SHANGJIA_CHANNEL_WECHAT_URL", url)
        client = ChannelClient(timeout_s=5)
        client.delist("wechat", "m1", "P1", ["P1-02", "P1-03"])
        assert sim.delisted == {("wechat", "m1:P1"): {"P1-02", "P1-03"}}
        calls = sim.calls
        assert client.delist("own_shop", "m1", "P1", ["P1-02"]) == {"delisted": ["P1-02"]}
        assert sim.calls == calls
    finally:
        sim.stop()
