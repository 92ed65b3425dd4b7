"""Other platforms' product export layouts, recognised from their header rows.

They are refused with a message naming the platform (their columns, units, categories and
variant models do not map one-to-one onto the specification; a silent partial mapping would
publish wrong products), unless ``shangjia.inbound.exports`` maps them (Shopify, WooCommerce,
Taobao's 淘宝助理 export, Pinduoduo's 商品导出). A sheet that merely uses Taobao's data-package
words as headers (宝贝名称, 宝贝价格, ...) is not an export: they are aliases in the
specification and map directly; the 淘宝助理 export is told apart by its encoded columns
(宝贝属性 / cateProps, 销售属性组合 / skuProps, 新图片 / picture...).
"""

from __future__ import annotations

import re

_LOCALE_SUFFIX = re.compile(r"-[a-z]{2}_[a-z]{2}\b")


def _keys(header: list[str]) -> set[str]:
    return {h.strip().lower() for h in header if h and h.strip()}


def detect_foreign_layout(header: list[str]) -> str | None:
    """The name of the platform whose export this header row is, or None."""
    k = _keys(header)
    if not k:
        return None
    from shangjia.inbound.exports_cn import is_pinduoduo_header, is_taobao_header   # mapped: inbound/exports.py
    if is_taobao_header(k):
        return "Taobao"
    if is_pinduoduo_header(k):
        return "Pinduoduo"
    if "handle" in k and k & {"variant sku", "variant price", "body (html)", "option1 name"}:
        return "Shopify"
    woo = {"sku", "name", "published", "regular price", "is featured?", "visibility in catalog",
           "in stock?", "tax status", "type"}
    if "sku" in k and len(k & woo) >= 3 and ("regular price" in k or "published" in k):
        return "WooCommerce"
    magento = {"attribute_set_code", "attribute_set", "product_type", "store_view_code", "product_websites",
               "tier_price_website", "url_key", "qty"}
    if "sku" in k and (len(k & magento) >= 1 and (k & {"attribute_set_code", "attribute_set", "product_type",
                                                       "store_view_code", "tier_price_website"})):
        return "Magento"
    if ("sku" in k or "code" in k) and (
        any(_LOCALE_SUFFIX.search(h) for h in k)
        or k & {"family", "family_variant"}
        or len(k & {"parent", "enabled", "groups", "categories"}) >= 2
        or any(h.startswith("price-") for h in k)
    ):
        return "Akeneo PIM"
    return None
