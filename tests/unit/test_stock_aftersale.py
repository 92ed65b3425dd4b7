"""WeChat Channels after-sales pushes (channels_ec_aftersale_update) read as partial refunds (pure)."""

import json

from shangjia.channels import Shop
from shangjia.stock.orders import apply_order_event, order_events


def push(status, after_sale="as-1", order="3705115058471208448"):
    return json.dumps({"ToUserName": "gh_x", "FromUserName": "OPENID", "CreateTime": 1662480000, "MsgType": "event",
                       "Event": "channels_ec_aftersale_update",
                       "finder_shop_aftersale_status_update": {"status": status, "after_sale_order_id": after_sale,
                                                               "order_id": order}}).encode()


def test_only_a_completed_refund_or_return_moves_stock():
    [ev] = order_events("wechat", push("MERCHANT_REFUND_SUCCESS"))
    assert (ev.action, ev.order_id, ev.refund_id) == ("refund", "3705115058471208448", "as-1")
    assert order_events("wechat", push("MERCHANT_RETURN_SUCCESS"))[0].action == "refund"
    for status in ("USER_CANCELD", "MERCHANT_PROCESSING", "USER_WAIT_RETURN", "MERCHANT_REJECT_REFUND"):
        assert order_events("wechat", push(status)) == []


class Port:
    def __init__(self):
        self.calls = []

    def api(self, shop, path, body):
        self.calls.append(path)
        if path.endswith("getaftersaleorder"):
            return {"after_sale_order": {"after_sale_order_id": body["after_sale_order_id"], "type": "REFUND",
                                         "product_info": {"product_id": "10", "sku_id": "555", "count": 2}}}
        return {"order": {"order_detail": {"product_infos": [{"sku_id": "555", "out_sku_id": "SKU-A", "sku_cnt": 3},
                                                             {"sku_id": "556", "out_sku_id": "SKU-B", "sku_cnt": 1}]}}}


class Ledger:
    def __init__(self, known=True):
        self.known, self.refunds = known, []

    def order(self, m, channel, order_id):
        return {"state": "committed"} if self.known else None

    def refund(self, m, lines, **kw):
        self.refunds.append((m, lines, kw["refund_id"]))
        from shangjia.stock import OrderResult
        return OrderResult("refunded", "committed")


def test_the_after_sale_is_refunded_for_its_sku_and_count_only():
    shop = Shop(merchant_id="m1", channel="wechat", shop_id="s1", app_id="wx1", app_secret="not-used")
    [ev] = order_events("wechat", push("MERCHANT_REFUND_SUCCESS"))
    led = Ledger()
    out = apply_order_event(led, Port(), shop, ev)
    assert out["outcome"] == "refunded" and led.refunds == [("m1", [("SKU-A", 2)], "as-1")]
    led = Ledger(known=False)
    assert apply_order_event(led, Port(), shop, ev)["reason"] == "STOCK_ORDER_UNKNOWN" and led.refunds == []
