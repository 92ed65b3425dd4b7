"""Channel orders as the platforms push them, applied to the ledger.

The push is verified first, by the channel port's ``parse_callback`` (WeChat's token signature
over the query, Douyin's ``event-sign``); only then does ``order_events`` read the order events
from the same raw body:

- Douyin (``[{tag, msg_id, data: "<json>"}]``): tag ``100`` order created → reserve, ``101``
  paid → commit, ``106`` cancelled → release, ``206`` refund succeeded (退款成功: ``{p_id, s_id,
  aftersale_id, aftersale_type, refund_amount...}``, bububa/jinritemai-go ``RefundSuccess``) → a
  refund of exactly the after-sale's SKUs and counts, read with ``afterSale.Detail``
  ``{after_sale_id}`` (``data.order_info.sku_order_infos[] {sku_order_id, shop_sku_code,
  item_quantity, after_sale_item_count}`` and ``process_info.after_sale_info.after_sale_apply_count``,
  the 用户申请售后件数), idempotent on the after-sale id; a 206 without ``aftersale_id`` releases the
  whole order as before (restock when paid). Tags from zsmhub/doudian-sdk ``message/`` (docs
  op.jinritemai.com message-docs 30/109, 30/110, 30/123, 31/121). The order id is ``p_id``.
- WeChat Channels (``{Event, order_info: {order_id}}``): ``channels_ec_order_new`` → reserve,
  ``channels_ec_order_pay`` → commit, ``channels_ec_order_cancel`` → release (WxJava
  ``MessageEventConstants``; SKIT ``ChannelsECOrder*Event``). After-sales (售后):
  ``channels_ec_aftersale_update`` with ``finder_shop_aftersale_status_update: {status,
  after_sale_order_id, order_id}`` (WxJava ``AFTER_SALE_UPDATE`` / ``AfterSaleMessage``; doc
  ``channels/API/aftersale/ec_callback/channels_ec_aftersale_update``): on ``MERCHANT_REFUND_SUCCESS``
  (退款完成) or ``MERCHANT_RETURN_SUCCESS`` (退货退款完成) the after-sale's SKU and count are read
  (``/channels/ec/aftersale/getaftersaleorder`` ``after_sale_order.product_info {sku_id, count}``,
  SKIT ``ChannelsECAftersaleGetAftersaleOrderResponse``), the platform's ``sku_id`` turned into our
  code through the order's ``product_infos``, and exactly that part refunded (``StockLedger.refund``,
  idempotent on the after-sale id). Other statuses (用户取消, 商家受理中, 待买家退货...) move no stock.

A push carries the order id only; the lines (SKU, count) are read from the platform
(WeChat ``/channels/ec/order/get`` ``product_infos[].out_sku_id / sku_cnt``; Douyin
``order.orderDetail`` ``sku_order_list[].code / item_num``) through the adapter's signed call.

Idempotent on the order: the ledger's order item and movements make a second delivery (or the
platform's retry) a no-op; a paid event for an order whose created event never came reserves
first, then commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shangjia.channels import Shop

DOUYIN_TAGS = {"100": "reserve", "101": "commit", "106": "release", "206": "release"}
WECHAT_EVENTS = {"channels_ec_order_new": "reserve", "channels_ec_order_pay": "commit",
                 "channels_ec_order_cancel": "release"}
WECHAT_AFTERSALE = "channels_ec_aftersale_update"
WECHAT_REFUNDED = {"MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS"}


@dataclass(frozen=True)
class OrderEvent:
    channel: str
    order_id: str           # the platform's order id, always a str
    action: str             # reserve | commit | release | refund (part of the order: an after-sale)
    msg_id: str = ""
    reason: str = ""        # release: cancelled | refunded (and the platform's words)
    refund_id: str = ""     # refund: the platform's after-sale id
    sub_order_id: str = ""  # Douyin refund: the SKU order (``s_id``) the after-sale is on


def shop_of(channel: str, shop_lookup, headers: dict, query: dict) -> Shop | None:
    """The shop a (verified) push belongs to: Douyin names its app in ``app-id``; a WeChat push
    comes to the URL set for the shop (``?appid=``)."""
    if channel == "douyin":
        h = {str(k).lower(): (v[0] if isinstance(v, list) else v) for k, v in (headers or {}).items()}
        return shop_lookup(str(h.get("app-id") or ""))
    q = {k: (v[0] if isinstance(v, list) else v) for k, v in (query or {}).items()}
    return shop_lookup(str(q.get("appid") or q.get("app_id") or ""))


def order_events(channel: str, raw_body: bytes) -> list[OrderEvent]:
    """The order events in a push already verified (anything else in it: none)."""
    try:
        doc = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return []
    out: list[OrderEvent] = []
    if channel == "douyin":
        for m in doc if isinstance(doc, list) else [doc]:
            if not isinstance(m, dict) or str(m.get("tag")) not in DOUYIN_TAGS:
                continue
            data = m.get("data")
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    continue
            if not isinstance(data, dict) or data.get("p_id") in (None, ""):
                continue
            tag = str(m["tag"])
            if tag == "206" and data.get("aftersale_id") not in (None, ""):    # an after-sale: its part only
                out.append(OrderEvent(channel, str(data["p_id"]), "refund", str(m.get("msg_id") or ""), "refunded",
                                      str(data["aftersale_id"]), str(data.get("s_id") or "")))
                continue
            reason = {"106": "cancelled", "206": "refunded"}.get(tag, "")
            if tag == "106" and data.get("cancel_reason"):
                reason = f"cancelled: {data['cancel_reason']}"
            out.append(OrderEvent(channel, str(data["p_id"]), DOUYIN_TAGS[tag], str(m.get("msg_id") or ""), reason))
    elif channel == "wechat" and isinstance(doc, dict) and doc.get("Event") in WECHAT_EVENTS:
        info = doc.get("order_info") or {}
        if info.get("order_id") not in (None, ""):
            action = WECHAT_EVENTS[doc["Event"]]
            out.append(OrderEvent(channel, str(info["order_id"]), action,
                                  f"{doc['Event']}:{info['order_id']}", "cancelled" if action == "release" else ""))
    elif channel == "wechat" and isinstance(doc, dict) and doc.get("Event") == WECHAT_AFTERSALE:
        info = doc.get("finder_shop_aftersale_status_update") or {}
        if info.get("status") in WECHAT_REFUNDED and info.get("order_id") not in (None, "") and \
                info.get("after_sale_order_id") not in (None, ""):
            out.append(OrderEvent(channel, str(info["order_id"]), "refund",
                                  f"{WECHAT_AFTERSALE}:{info['after_sale_order_id']}",
                                  f"refunded: {info['status']}", str(info["after_sale_order_id"])))
    return out


def aftersale_lines(port, shop: Shop, ev: OrderEvent) -> list[tuple[str, int]]:
    """(our SKU code, count) of a WeChat after-sale: its ``product_info`` ``{sku_id, count}``, the
    platform's sku id turned into ours through the order's lines. A Douyin one: ``douyin_aftersale_lines``."""
    if ev.channel == "douyin":
        return douyin_aftersale_lines(port, shop, ev)
    data = port.api(shop, "/channels/ec/aftersale/getaftersaleorder", {"after_sale_order_id": ev.refund_id})
    info = (data.get("after_sale_order") or {}).get("product_info") or {}
    order = port.api(shop, "/channels/ec/order/get", {"order_id": ev.order_id})
    infos = ((order.get("order") or {}).get("order_detail") or {}).get("product_infos") or []
    ours = {str(p.get("sku_id")): str(p.get("out_sku_id") or p.get("sku_code") or "") for p in infos}
    code = ours.get(str(info.get("sku_id")), "") or f"sku_id {info.get('sku_id')}"
    return [(code, int(info.get("count") or 0))]


def douyin_aftersale_lines(port, shop: Shop, ev: OrderEvent) -> list[tuple[str, int]]:
    """(our SKU code, count) of a Douyin after-sale (``afterSale.Detail``): each SKU order it is on,
    its count the SKU order's ``after_sale_item_count``, else (one SKU order) the after-sale's
    ``after_sale_apply_count``, else the SKU order's whole ``item_quantity``; the code its
    ``shop_sku_code``, else the order's line with that SKU order id (``order.orderDetail``)."""
    data = port.api(shop, "afterSale.Detail", {"after_sale_id": ev.refund_id}).get("data") or {}
    applied = ((data.get("process_info") or {}).get("after_sale_info") or {}).get("after_sale_apply_count")
    infos = [i for i in (data.get("order_info") or {}).get("sku_order_infos") or [] if isinstance(i, dict)]
    codes: dict[str, str] | None = None
    out: list[tuple[str, int]] = []
    for i in infos:
        n = i.get("after_sale_item_count")
        if n in (None, ""):
            n = applied if len(infos) == 1 and applied not in (None, "", 0) else i.get("item_quantity")
        code = str(i.get("shop_sku_code") or "")
        if not code:
            if codes is None:
                detail = port.api(shop, "order.orderDetail", {"shop_order_id": ev.order_id})
                skus = ((detail.get("data") or {}).get("shop_order_detail") or {}).get("sku_order_list") or []
                codes = {str(s.get("order_id")): str(s.get("code") or s.get("out_sku_id") or "") for s in skus}
            code = codes.get(str(i.get("sku_order_id")), "") or f"sku_order_id {i.get('sku_order_id')}"
        out.append((code, int(n or 0)))
    return out


def order_lines(port, shop: Shop, channel: str, order_id: str) -> list[tuple[str, int]]:
    """(our SKU code, count) of each line of the platform's order."""
    if channel == "wechat":
        data = port.api(shop, "/channels/ec/order/get", {"order_id": order_id})
        infos = ((data.get("order") or {}).get("order_detail") or {}).get("product_infos") or []
        return [(str(p.get("out_sku_id") or p.get("sku_code") or ""), int(p.get("sku_cnt") or 0)) for p in infos]
    if channel == "douyin":
        data = port.api(shop, "order.orderDetail", {"shop_order_id": order_id})
        skus = ((data.get("data") or {}).get("shop_order_detail") or {}).get("sku_order_list") or []
        return [(str(s.get("code") or s.get("out_sku_id") or ""), int(s.get("item_num") or 0)) for s in skus]
    raise ValueError(f"channel {channel!r} pushes no orders")


def apply_order_event(ledger, port, shop: Shop, ev: OrderEvent) -> dict[str, Any]:
    """One order event applied to the merchant's ledger; what happened, for the log."""
    m = shop.merchant_id
    if ev.action in ("reserve", "commit") and ledger.order(m, ev.channel, ev.order_id) is None:
        lines = [(c, q) for c, q in order_lines(port, shop, ev.channel, ev.order_id) if q > 0]
        # an order without lines we can read is refused as naming no SKU we know
        r = ledger.reserve(m, lines or [("", 1)], channel=ev.channel, order_id=ev.order_id,
                           source=f"{ev.channel}:{ev.msg_id}")
        if ev.action == "reserve" or r.state != "reserved":
            return {"order_id": ev.order_id, "action": ev.action, "outcome": r.outcome, "reason": r.reason}
    if ev.action == "refund":
        if ledger.order(m, ev.channel, ev.order_id) is None:
            return {"order_id": ev.order_id, "action": "refund", "outcome": "noop", "reason": "STOCK_ORDER_UNKNOWN"}
        lines = [(c, q) for c, q in aftersale_lines(port, shop, ev) if q > 0]
        if not lines:
            return {"order_id": ev.order_id, "action": "refund", "outcome": "noop", "reason": "no units"}
        r = ledger.refund(m, lines, channel=ev.channel, order_id=ev.order_id, refund_id=ev.refund_id, reason=ev.reason)
        return {"order_id": ev.order_id, "action": "refund", "refund_id": ev.refund_id, "outcome": r.outcome,
                "reason": r.reason}
    if ev.action == "reserve":
        return {"order_id": ev.order_id, "action": "reserve", "outcome": "replay"}
    if ev.action == "commit":
        r = ledger.commit(m, channel=ev.channel, order_id=ev.order_id)
    else:
        r = ledger.release(m, channel=ev.channel, order_id=ev.order_id, reason=ev.reason or "cancelled")
    return {"order_id": ev.order_id, "action": ev.action, "outcome": r.outcome, "reason": r.reason}
