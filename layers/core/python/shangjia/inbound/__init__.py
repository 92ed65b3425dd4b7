"""Inbound: what other systems send us, verified, de-duplicated and mapped onto our products.

- ``verify``: ERP clients (merchants bound, secrets in Secrets Manager), the Stripe-style
  signature over the raw bytes, and the event-id log that answers a retried delivery with its
  first answer.
- ``taobao``, ``pinduoduo``: the platforms' item/goods data -> our raw product (``model``);
  ``feed``: a JSON feed of them read like a sheet; ``exports``: the platforms' and Shopify's /
  WooCommerce's product export sheets read like ours.
- ``erp``: the three routes of ``POST /erp/v1/*`` (products, stock, uploads).
Mapped products take the sheet rows' path: the drop bucket, ingest, validation, media, review.
"""

from shangjia.inbound.verify import InboundError

__all__ = ["InboundError", "source_of"]


def source_of(key: str) -> str:
    """Who sent an upload, by where it sits: ``<merchant>/erp/<client>/...`` is ``erp:<client>``
    (written by the ERP routes or uploaded through their presigned POST); anything else a sheet.
    The platform is the batch's ``layout`` (``erp:taobao``, ``export:shopify``, ``taobao``...)."""
    parts = key.split("/")
    if len(parts) >= 4 and parts[1] == "erp" and parts[2]:
        return f"erp:{parts[2]}"
    return "sheet"
