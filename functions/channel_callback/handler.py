"""API Gateway (HTTP API) POST /callbacks/wechat, /callbacks/douyin -> the platforms' audit
verdicts and order events. No JWT here (the platforms cannot present one): every push is verified by its
signature first (the channel port's ``parse_callback``: WeChat's token signature, Douyin's event
sign), then applied idempotently on the platform's message id (pipeline/publish.apply_verdict).
Order events in the same verified push (Douyin tags 100/101/106/206, WeChat
``channels_ec_order_*`` and the ``channels_ec_aftersale_update`` after-sales, a partial refund)
go to the stock ledger (stock/orders.py: reserve, commit, release, refund),
idempotent on the order; an order without stock is refused and recorded, still answered 200.

Answers: the acknowledgement each platform expects (WeChat ``success``; Douyin
``{"code":0,"msg":"success"}``); 401 for a push that fails verification (nothing applied);
500 for our own failure, so the platform pushes again (applying is idempotent)."""

import base64
import json

from shangjia.channels import channel_port
from shangjia.channels.credentials import shop_lookup_for
from shangjia.channels.signing import SignatureError
from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.pipeline.publish import apply_verdict
from shangjia.stock import ledger_for
from shangjia.stock.orders import apply_order_event, order_events, shop_of

CHANNELS = ("wechat", "douyin")
ACK = {"wechat": ("text/plain", "success"), "douyin": ("application/json", json.dumps({"code": 0, "msg": "success"}))}


def _reply(status: int, content_type: str, body: str) -> dict:
    return {"statusCode": status, "headers": {"content-type": content_type}, "body": body}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    path = event.get("rawPath") or (event.get("requestContext") or {}).get("http", {}).get("path") or ""
    channel = path.rstrip("/").rsplit("/", 1)[-1]
    if channel not in CHANNELS:
        return _reply(404, "application/json", json.dumps({"message": "Not Found"}))
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    query = dict(event.get("queryStringParameters") or {})
    d = deps()
    port, lookup = channel_port(d, channel), shop_lookup_for(d, channel)
    try:
        verdicts = port.parse_callback(lookup, headers, query, raw)
    except SignatureError as e:
        logger.warning("callback refused", extra={"channel": channel, "code": e.code})
        return _reply(401, "application/json", json.dumps({"message": "signature check failed", "code": e.code}))
    outcomes = [apply_verdict(d, v) for v in verdicts]
    orders = order_events(channel, raw)           # the push is verified: read its order events
    if orders:
        shop, ledger = shop_of(channel, lookup, headers, query), ledger_for(d)
        outcomes += [apply_order_event(ledger, port, shop, ev) for ev in orders]
    logger.info("callback applied", extra={"channel": channel, "verdicts": len(verdicts), "orders": len(orders),
                                           "outcomes": outcomes})
    return _reply(200, *ACK[channel])
