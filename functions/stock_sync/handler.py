"""SQS stock_sync -> the product's current stock levels to each of its live listings, through the
channel port's ``update_stock`` (WeChat ``stock/update``: no audit quota; Douyin
``sku/syncStock``; the own shop's record). One message per product, coalesced by the marker
``stock.sync.request_sync`` writes; a redelivery sends the then-current levels again (absolute
values: idempotent). Failed records are retried alone (partial batch failures)."""

from shangjia.lambda_kit import sqs_batch_handler
from shangjia.stock.sync import sync_product

lambda_handler = sqs_batch_handler(lambda deps, body, record: sync_product(deps, body["merchant_id"], body["spu_code"]))
