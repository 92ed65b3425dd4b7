"""The WeChat simulator's after-sales: a buyer refunds part of an order, the simulator pushes
``channels_ec_aftersale_update`` signed like its order pushes and answers
``/channels/ec/aftersale/getaftersaleorder``; our order path (shangjia.stock.orders) reads it as
a refund of exactly that SKU and count (in process: no server, no AWS)."""

import json
from urllib.parse import parse_qs, urlparse

import pytest

from shangjia.channels import Shop, signing
from shangjia.localcloud.channels_sim.base import Knobs, Request
from shangjia.localcloud.channels_sim.wechat import WechatSim
from shangjia.stock.orders import aftersale_lines, order_events


class SimPort:
    """What the WeChat adapter's ``api`` does, straight into the simulator: token, then the call."""

    def __init__(self, sim, shop):
        tok = sim.handle(Request("POST", "/cgi-bin/stable_token", {}, {}, json.dumps(
            {"grant_type": "client_credential", "appid": shop.appid, "secret": shop.secret}).encode()))
        self.sim, self.token = sim, json.loads(tok.body)["access_token"]

    def api(self, _shop, path, body):
        r = self.sim.handle(Request("POST", path, {"access_token": self.token}, {}, json.dumps(body).encode()))
        doc = json.loads(r.body)
        assert doc.get("errcode", 0) == 0, doc
        return doc


@pytest.fixture
def sim():
    s = WechatSim(Knobs(seed=5), clock=lambda: 1_764_000_000.0)
    shop = s.register_shop("s1", callback_url="http://127.0.0.1:9/callbacks/wechat?appid=x", callback_token="tok")
    pid = s.add_product("s1", "SPU-1", {"sku_ids": {"SKU-A": 555, "SKU-B": 556}, "stock": {555: 10, 556: 10}})
    oid = s.place_order("s1", [(pid, "SKU-A", 3), (pid, "SKU-B", 1)], push=False)
    return s, shop, oid


def test_a_partial_refund_is_pushed_and_read_back_as_that_sku_and_count(sim):
    s, shop, oid = sim
    aid = s.open_aftersale(oid, "SKU-A", 2)
    url, body, _ = s.aftersale_push(aid)
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert q["signature"] == signing.wechat_push_signature("tok", q["timestamp"], q["nonce"])
    doc = json.loads(body)
    assert doc["Event"] == "channels_ec_aftersale_update"
    assert doc["finder_shop_aftersale_status_update"] == {"status": "MERCHANT_REFUND_SUCCESS",
                                                          "after_sale_order_id": aid, "order_id": oid}
    [ev] = order_events("wechat", body)
    assert (ev.action, ev.order_id, ev.refund_id) == ("refund", oid, aid)
    ours = Shop(merchant_id="m1", channel="wechat", shop_id="s1", app_id=shop.appid, app_secret=shop.secret)
    assert aftersale_lines(SimPort(s, shop), ours, ev) == [("SKU-A", 2)]


def test_an_after_sale_in_progress_moves_nothing_until_it_completes(sim):
    s, shop, oid = sim
    aid = s.open_aftersale(oid, "SKU-B", 1, status="MERCHANT_PROCESSING")
    assert order_events("wechat", s.aftersale_push(aid)[1]) == []
    [ev] = order_events("wechat", s.aftersale_push(aid, "MERCHANT_RETURN_SUCCESS")[1])
    assert ev.reason == "refunded: MERCHANT_RETURN_SUCCESS"


def test_the_route_answers_as_wechat_does(sim):
    s, shop, oid = sim
    aid = s.open_aftersale(oid, "SKU-A", 1)
    port = SimPort(s, shop)
    info = port.api(None, "/channels/ec/aftersale/getaftersaleorder", {"after_sale_order_id": aid})["after_sale_order"]
    assert info["order_id"] == oid and info["product_info"] == {"product_id": info["product_info"]["product_id"],
                                                                "sku_id": "555", "count": 1}
    r = s.handle(Request("POST", "/channels/ec/aftersale/getaftersaleorder", {"access_token": port.token}, {},
                         json.dumps({"after_sale_order_id": int(aid)}).encode()))
    assert json.loads(r.body)["errcode"] == 47001                 # a numeric id: "data format error", as WeChat answers
    r = s.handle(Request("POST", "/channels/ec/aftersale/getaftersaleorder", {"access_token": port.token}, {},
                         json.dumps({"after_sale_order_id": "1"}).encode()))
    assert json.loads(r.body)["errcode"] != 0
    with pytest.raises(ValueError):
        s.open_aftersale(oid, "SKU-B", 2)               # the order has 1 of SKU-B


# --- Douyin: the 206 push carries no count; afterSale.Detail does ----------------------------------

class DouyinPort:
    """The Douyin adapter's ``api`` reduced to the simulator's route (the signing is tested elsewhere)."""

    def __init__(self, sim, shop):
        self.sim, self.shop, self.calls = sim, shop, []

    def api(self, _shop, method, params):
        self.calls.append(method)
        route = {"afterSale.Detail": "aftersale_detail_api", "order.orderDetail": "order_detail_api"}[method]
        doc = json.loads(getattr(self.sim, route)(self.shop, params).body)
        assert doc["code"] == 10000, doc
        return doc


class Ledger:
    def __init__(self):
        self.refunds, self.released = [], []

    def order(self, *a):
        return {"state": "committed"}

    def refund(self, m, lines, **kw):
        from shangjia.stock import OrderResult
        self.refunds.append((lines, kw["refund_id"]))
        return OrderResult("refunded", "committed")

    def release(self, m, **kw):
        from shangjia.stock import OrderResult
        self.released.append(kw["order_id"])
        return OrderResult("restocked", "restocked")


@pytest.fixture
def dy():
    from shangjia.localcloud.channels_sim.douyin import DouyinSim

    s = DouyinSim(Knobs(seed=5), clock=lambda: 1_764_000_000.0)
    app, shop = s.register_shop(4463798, callback_url="http://127.0.0.1:9/callbacks/douyin")
    pid = s.add_listed_product(shop.shop_id, "SPU-1", {"SKU-A": 10, "SKU-B": 10})
    oid = s.place_order(str(shop.shop_id), [(pid, "SKU-A", 3), (pid, "SKU-B", 1)], push=False)
    return s, shop, oid


def test_a_douyin_partial_refund_refunds_that_sku_and_count_only(dy):
    from shangjia.stock.orders import apply_order_event

    s, shop, oid = dy
    aid = s.open_aftersale(oid, "SKU-A", 2)
    _, body, headers = s.aftersale_refund_push(aid)
    [ev] = order_events("douyin", body)
    assert (ev.action, ev.order_id, ev.refund_id) == ("refund", oid, aid)
    ours = Shop(merchant_id="m1", channel="douyin", shop_id=str(shop.shop_id), app_id=shop.app_key, app_secret="x")
    led = Ledger()
    out = apply_order_event(led, DouyinPort(s, shop), ours, ev)
    assert out["outcome"] == "refunded" and led.refunds == [([("SKU-A", 2)], aid)] and led.released == []


def test_the_whole_order_refund_push_refunds_every_line(dy):
    s, shop, oid = dy
    _, body, _ = s.order_push(oid, "refunded")
    [ev] = order_events("douyin", body)
    assert ev.action == "refund"
    assert sorted(aftersale_lines(DouyinPort(s, shop), None, ev)) == [("SKU-A", 3), ("SKU-B", 1)]


def test_a_detail_without_codes_is_read_through_the_order(dy):
    from shangjia.stock.orders import OrderEvent, douyin_aftersale_lines

    s, shop, oid = dy
    aid = s.open_aftersale(oid, "SKU-B", 1)

    class NoCodes(DouyinPort):
        def api(self, _shop, method, params):
            doc = super().api(_shop, method, params)
            for i in (doc["data"].get("order_info") or {}).get("sku_order_infos") or []:
                i.pop("shop_sku_code")
                i.pop("after_sale_item_count")
            return doc

    port = NoCodes(s, shop)
    ev = OrderEvent("douyin", oid, "refund", "m", "refunded", aid)
    assert douyin_aftersale_lines(port, None, ev) == [("SKU-B", 1)]
    assert port.calls == ["afterSale.Detail", "order.orderDetail"]


def test_a_206_without_an_after_sale_id_still_releases_the_order():
    body = json.dumps([{"tag": "206", "msg_id": "m1", "data": json.dumps({"p_id": 7, "s_id": 71})}]).encode()
    [ev] = order_events("douyin", body)
    assert (ev.action, ev.reason) == ("release", "refunded")
