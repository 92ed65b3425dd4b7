"""Douyin shop (抖店) adapter: ``openapi-fxg.jinritemai.com`` (``../shared/CHANNEL-APIS.md`` §1, §7).

- Every call: ``POST {gateway}/{method with . as /}`` with the query ``app_key, method,
  timestamp (unix seconds), v=2, sign, sign_method=hmac-sha256, access_token`` (none for
  ``token.*``) and the body = ``param_json`` exactly as signed (``signing.douyin_param_json``,
  ``signing.douyin_sign``). Answers: ``{code, msg, sub_code, sub_msg, log_id, data}``, OK when
  ``code == 10000`` (the header ``x-open-no-old-err-code: 1`` opts into that envelope).
- Tokens: ``token.create`` (self-use app: ``authorization_self`` with the shop id) and
  ``token.refresh`` (the refresh token is single-use). The access token, the refresh token and
  BOTH expiries are written in one conditional item update under the refresh lease
  (``credentials.TokenCache``); refreshed when less than 3000 s are left; a refresh token that
  is refused or nearly expired falls back to ``token.create``. A token error expires the cached
  token and retries the call once.
- Images: ``material/uploadImageSync`` by URL, ``byte_url`` kept per shop and content.
- ``submit``: ``product/addV2`` (``commit: true`` saves and submits to audit in one call), or
  ``product/editV2`` with the product id. Attempts are logged as for WeChat; an uncertain add is
  resolved with ``product/detail`` by ``outer_product_id`` (Douyin can look a product up by our
  code). ``log_id`` comes back on ``Submitted``.
- Errors: the platform's non-10000 codes for tokens and limits are not public (§1.3, §8); the
  classification goes by ``code`` and ``sub_code``: 20000 / ``isp.*`` → transient;
  30001/30002 / ``*access-token*`` → token; 50002 / ``*access-limited*`` / ``*limit*`` → quota;
  anything else (40003 signature, 40004 business) → permanent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from shangjia.channels import (AuditVerdict, ChannelError, Shop, Submitted, classify_reason, image_keys,
                               media_url, payload_error)
from shangjia.channels import http, signing
from shangjia.channels.http import as_int as _int
from shangjia.channels.http import digest as _digest

DEFAULT_BASE = "https://openapi-fxg.jinritemai.com"
OK = 10000
REFRESH_BEFORE_S = 3000
REFRESH_TOKEN_MARGIN_S = 600     # a refresh token this close to its expiry is not tried
TRANSIENT_CODES = frozenset({20000})
TOKEN_CODES = frozenset({30001, 30002})
QUOTA_CODES = frozenset({50002})
QUOTA_RETRY_S = 1.0
# product/detail: check_status 1 not submitted, 2 in audit, 3 approved, 4 rejected; status 0 online
CHECK_AUDITING, CHECK_APPROVED, CHECK_REJECTED = 2, 3, 4
SIGN_METHOD = "hmac-sha256"


def classify(code: int, msg: str, sub_code: str, sub_msg: str, *, log_id: str = "", api: str = "") -> ChannelError:
    """A Douyin non-10000 answer as a ``ChannelError`` (platform_code ``<code>`` or ``<code>:<sub_code>``)."""
    sc = (sub_code or "").lower()
    pcode = f"{code}:{sub_code}" if sub_code else str(code)
    text = sub_msg or msg or ""
    tail = f" ({api}{', log_id ' + log_id if log_id else ''})"
    if code in TRANSIENT_CODES or sc.startswith("isp."):
        return ChannelError("transient", None, f"抖店暂时不可用：{text}", f"Douyin is unavailable: {text}{tail}", pcode)
    if code in TOKEN_CODES or "access-token" in sc or "access_token" in sc:
        return ChannelError("token", None, f"抖店访问令牌无效：{text}", f"the Douyin access token was refused: {text}{tail}",
                            pcode)
    if code in QUOTA_CODES or "access-limited" in sc or "limit" in sc:
        return ChannelError("quota", None, f"抖店接口调用过于频繁：{text}", f"Douyin rate limit: {text}{tail}", pcode,
                            retry_after_s=QUOTA_RETRY_S)
    return ChannelError("permanent", None, f"抖店拒绝了请求：{text}（{pcode}）",
                        f"Douyin refused the request: {pcode} {text}{tail}", pcode)


class DouyinChannel(http.PlatformAdapter):
    channel = "douyin"
    default_base = DEFAULT_BASE
    refresh_before_s = REFRESH_BEFORE_S

    def __init__(self, deps, *, timeout_s: float = 12.0, **kw) -> None:
        super().__init__(deps, timeout_s=timeout_s, **kw)

    # --- plumbing ------------------------------------------------------------------------------------
    def signed_request(self, shop: Shop, method: str, params: dict[str, Any] | str,
                       access_token: str | None) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, headers) of one call: the body is exactly the ``param_json`` signed."""
        param_json = signing.douyin_param_json(params)
        ts = str(int(self.now()))
        sign = signing.douyin_sign(shop.app_id, shop.app_secret, method, param_json, ts, "2", sign_method=SIGN_METHOD)
        q = {"app_key": shop.app_id, "method": method, "timestamp": ts, "v": "2", "sign": sign,
             "sign_method": SIGN_METHOD}
        if access_token is not None:
            q["access_token"] = access_token
        url = f"{self.base(shop)}/{method.replace('.', '/')}?{urlencode(q)}"
        return url, param_json.encode("utf-8"), {"Content-Type": "application/json;charset=UTF-8",
                                                 "x-open-no-old-err-code": "1"}

    def _send(self, shop: Shop, method: str, params: dict[str, Any], access_token: str | None) -> dict[str, Any]:
        url, body, headers = self.signed_request(shop, method, params, access_token)
        r = http.call("POST", url, body=body, headers=headers, timeout_s=self.timeout_s, channel=self.channel)
        return r.data if isinstance(r.data, dict) else {}

    def _token_call(self, shop: Shop, method: str, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._send(shop, method, params, None)
        code = _int(doc.get("code"))
        if code != OK:
            err = classify(code, str(doc.get("msg") or ""), str(doc.get("sub_code") or ""),
                           str(doc.get("sub_msg") or ""), log_id=str(doc.get("log_id") or ""), api=method)
            raise err
        data = doc.get("data") or {}
        if not data.get("access_token"):
            raise ChannelError("transient", None, "抖店未返回访问令牌", f"{method} answered without a token")
        now = self.now()
        return {"token": str(data["access_token"]),
                "expires_at": now + float(data.get("expires_in") or 7 * 86400),
                "refresh_token": str(data.get("refresh_token") or ""),
                "refresh_expires_at": now + float(data.get("refresh_expires_in") or 14 * 86400),
                "fetched_at": now}

    def access_token(self, shop: Shop) -> str:
        def fetch(old: dict[str, Any] | None) -> dict[str, Any]:
            if old and old.get("refresh_token") and \
                    float(old.get("refresh_expires_at") or 0) - self.now() > REFRESH_TOKEN_MARGIN_S:
                try:
                    return self._token_call(shop, "token.refresh",
                                            {"grant_type": "refresh_token", "refresh_token": old["refresh_token"]})
                except ChannelError as e:
                    if e.kind not in ("permanent", "token"):
                        raise
                    # a refused refresh token (spent, expired): a self-use app creates a new one
            try:
                return self._token_call(shop, "token.create", {"code": "", "grant_type": "authorization_self",
                                                               "shop_id": _shop_id(shop.shop_id)})
            except ChannelError as e:
                if e.kind == "permanent":     # the app is not authorised for the shop: its credentials
                    raise ChannelError("token", None, e.message_zh, e.message_en, e.platform_code) from None
                raise

        return self.cached_token(shop, fetch)

    def api(self, shop: Shop, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One business call; returns the whole envelope (``data``, ``log_id``) when code == 10000
        (a token error: once more with a new token first)."""
        def send(token: str) -> dict[str, Any]:
            doc = self._send(shop, method, params, token)
            code = _int(doc.get("code"))
            if code != OK:
                raise classify(code, str(doc.get("msg") or ""), str(doc.get("sub_code") or ""),
                               str(doc.get("sub_msg") or ""), log_id=str(doc.get("log_id") or ""), api=method)
            return doc

        return self.with_token(shop, send)

    def upload_image(self, shop: Shop, content_key: str) -> str:
        """Our rendition at media key ``content_key`` in the shop's material centre (its byte_url)."""
        name = content_key.rsplit("/", 2)
        doc = self.api(shop, "material.uploadImageSync",
                       {"folder_id": "0", "url": media_url(content_key),
                        "material_name": "-".join(name[-2:])[:50], "need_distinct": True})
        url = str((doc.get("data") or {}).get("byte_url") or "")
        if not url:
            raise ChannelError("transient", None, "抖店图片上传未返回地址", "uploadImageSync answered without byte_url")
        return url

    # --- the port ------------------------------------------------------------------------------------
    def build_params(self, shop: Shop, product: dict[str, Any]) -> dict[str, Any]:
        """The ``product/addV2`` param object with our images on Douyin's material centre."""
        from shangjia.channels import categories, payloads
        from shangjia.errors import FindingError

        keys = image_keys(product)
        try:
            cat = categories.require_mapping(product, "douyin")
            fmt, _problems = categories.douyin_format(product, cat)
            pic_keys = [keys[r] for r in payloads.douyin_pic_refs(product) if r in keys]
            room = max(0, payloads.DOUYIN.IMAGES_TOTAL_MAX - len(pic_keys))
            desc_keys = [keys[r] for r in (product.get("images") or {}).get("detail") or [] if r in keys][:room]
            urls = self.hosted_images(shop, product, pic_keys + desc_keys)
            pics, descs = [urls[k] for k in pic_keys], [urls[k] for k in desc_keys]
            params = payloads.douyin_product(product, pics=pics, description_pics=descs,
                                             category_leaf_id=cat.category_leaf_id, product_format_new=fmt,
                                             commit=True)
        except (FindingError, ValueError) as e:
            raise payload_error(self.channel, e) from None
        return wire_params(params)

    def submit(self, shop: Shop, product: dict, *, listing: dict | None) -> Submitted:
        spu = str(product["spu_code"])

        def find() -> str | None:           # Douyin looks a product up by our code
            found = self._detail(shop, {"outer_product_id": spu})
            return http.platform_id(found.get("product_id_str") or found.get("product_id")) if found else None

        log, att, pid = self.resume(shop, spu, listing, find)
        params = self.build_params(shop, product)
        digest = _digest({"params": params, "revision": str((listing or {}).get("batch_id") or "")})
        if pid and att.get("platform_product_id") == pid and att.get("body_hash") == digest \
                and att.get("step") == "listed":
            return Submitted(pid, "in_audit", str(att.get("log_id") or ""))
        if pid:
            log.record(step="updating", body_hash=digest, platform_product_id=pid, at=self.at())
            doc = self.api(shop, "product.editV2", {**params, "product_id": pid})
        else:
            log.record(step="adding", body_hash=digest, at=self.at())
            doc = self.api(shop, "product.addV2", params)
            data = doc.get("data") or {}
            pid = http.platform_id(data.get("product_id_str") or data.get("product_id"))
            if not pid:
                raise ChannelError("transient", None, "抖店未返回商品编号", f"product/addV2 answered without a product id "
                                   f"(log_id {doc.get('log_id')})")
        log_id = str(doc.get("log_id") or "")
        # addV2/editV2 with commit=true saved AND submitted to audit in the one call
        log.record(step="listed", platform_product_id=pid, body_hash=digest, log_id=log_id, at=self.at())
        return Submitted(pid, "in_audit", log_id)

    def _detail(self, shop: Shop, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            doc = self.reading(lambda: self.api(shop, "product.detail", params))
        except ChannelError as e:
            if e.kind == "permanent":
                return None            # not found (the platform's business-failed)
            raise
        return doc.get("data") or None

    def lookup(self, shop: Shop, spu_code: str, platform_product_id: str | None) -> dict | None:
        """``{"platform_product_id", "state", "reason"}`` from ``product/detail`` (by id, else by
        our code as ``outer_product_id``); None when there is none or it was never submitted."""
        pid = http.platform_id(platform_product_id)
        data = self._detail(shop, {"product_id": pid} if pid else {"outer_product_id": spu_code})
        if not data:
            return None
        pid = http.platform_id(data.get("product_id_str") or data.get("product_id"))
        check = _int(data.get("check_status"))
        state = {CHECK_AUDITING: "in_audit", CHECK_REJECTED: "rejected", CHECK_APPROVED: "live"}.get(check)
        return http.lookup_answer(pid, state, str(data.get("audit_reason") or ""))

    def update_stock(self, shop: Shop, platform_product_id: str, stock: dict[str, int]) -> None:
        """``sku/syncStock`` per SKU, by our SKU code (``code``), absolute (``incremental: false``)."""
        for code, num in stock.items():
            self.api(shop, "sku.syncStock", {"product_id": platform_product_id, "code": str(code),
                                             "stock_num": int(num), "incremental": False})

    def delist_skus(self, shop: Shop, platform_product_id: str, sku_codes: list[str]) -> None:
        """A dropped SKU's stock is set to 0 at once (unbuyable); removing it from the spec grid is
        an ``editV2`` through audit, which the next revision's update does. A SKU the platform
        no longer has is skipped."""
        for code in sku_codes:
            try:
                self.api(shop, "sku.syncStock", {"product_id": platform_product_id, "code": str(code),
                                                 "stock_num": 0, "incremental": False})
            except ChannelError as e:
                if e.kind != "permanent":
                    raise

    def parse_callback(self, shop_lookup, headers: dict, query: dict, raw_body: bytes) -> list[AuditVerdict]:
        """A push: headers ``app-id`` and ``event-sign`` (MD5 of app_key + raw body + secret,
        ``signing.verify_douyin_event``; raises ``SignatureError``), body ``[{tag, msg_id, data}]``
        where ``data`` is a JSON string. A message whose data carries ``check_status`` 3
        (approved) or 4 (rejected) and a ``product_id`` is a verdict; others are skipped."""
        h = {str(k).lower(): (v[0] if isinstance(v, list) else v) for k, v in (headers or {}).items()}
        app_id, sign = str(h.get("app-id") or ""), str(h.get("event-sign") or "")
        if not app_id or not sign:
            raise signing.SignatureError(signing.SIG_MISSING)
        shop = shop_lookup(app_id)
        if shop is None or shop.app_id != app_id:
            raise signing.SignatureError(signing.SIG_MISMATCH)
        if not signing.verify_douyin_event(shop.app_id, shop.app_secret, raw_body, sign):
            raise signing.SignatureError(signing.SIG_MISMATCH)
        try:
            messages = json.loads(raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise signing.SignatureError(signing.SIG_MALFORMED) from None
        if isinstance(messages, dict):
            messages = [messages]
        out: list[AuditVerdict] = []
        for m in messages if isinstance(messages, list) else []:
            if not isinstance(m, dict):
                continue
            data = m.get("data")
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    continue
            if not isinstance(data, dict):
                continue
            check = _int(data.get("check_status"))
            verdict = {CHECK_APPROVED: "approved", CHECK_REJECTED: "rejected"}.get(check)
            pid = http.platform_id(data.get("product_id_str") or data.get("product_id"))
            if verdict is None or not pid:
                continue
            reason = str(data.get("audit_reason") or data.get("reason") or "") if verdict == "rejected" else ""
            msg_id = str(m.get("msg_id") or f"{pid}-{data.get('update_time', '')}-{check}")
            out.append(AuditVerdict(self.channel, msg_id, pid, verdict, reason,
                                    classify_reason(reason) if verdict == "rejected" else ""))
        return out


# addV2's int64 fields (CHANNEL-APIS §1.4): the builders keep every id a str; the wire wants a
# JSON number. A Python int is exact at any length (never a float), so the digits are sent as they are.
WIRE_INT64_FIELDS = ("category_leaf_id", "freight_id", "standard_brand_id")


def wire_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for k in WIRE_INT64_FIELDS:
        v = out.get(k)
        if isinstance(v, str) and v.isdigit():
            out[k] = int(v)
    return out


def _shop_id(shop_id: str) -> int | str:
    return int(shop_id) if str(shop_id).isdigit() else shop_id
