"""WeChat Channels shop (微信小店) adapter: ``api.weixin.qq.com/channels/ec/...``
(``../shared/CHANNEL-APIS.md`` §2, §7).

- Token: ``POST /cgi-bin/stable_token`` (normal mode, never force_refresh) per shop, cached in
  the state table and refreshed by one owner under a lease (``credentials.TokenCache``) when
  less than 5 minutes are left. A token error (40001 / 40014 / 42001) expires the cached token
  and retries the call ONCE with a new one; a second token error is a ``token`` ChannelError.
- Images: our renditions are re-hosted with ``basics/img/upload?upload_type=1&resp_type=1``
  (``{"img_url": ...}`` in the body; the two switches in the query), once per shop, product and
  content (the rendition's media key; ``credentials.ImageCache``).
- ``submit``: add (or update, when the product id is known) the draft, then ``product/listing``
  submits it to audit. The adapter records each step in its attempt log before and after the
  platform call. An add whose answer was lost (``adding`` with no product id; or a listing the
  publish stage found ``submitted`` without one) is resolved before anything is sent again:
  WeChat has no lookup by ``out_product_id`` (and does not check it for uniqueness), so the
  shop's products are listed (``product/list/get``, 30 a page, at most ``SCAN_PAGES`` pages)
  and each read (``product/get``) until one carries our product code.
- Errors: ``errcode != 0`` on HTTP 200 is an error: -1 → transient; 40001/40014/42001 → token;
  45009/45011/1002001 → quota; anything else (10020xxx: the product) → permanent with the
  platform's code and message.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from shangjia.channels import (AuditVerdict, ChannelError, Shop, Submitted, classify_reason, image_keys,
                               media_url, payload_error)
from shangjia.channels import http
from shangjia.channels.credentials import AttemptLog, platform_ref_key
from shangjia.channels.http import as_int as _int
from shangjia.channels.http import digest as _digest

DEFAULT_BASE = "https://api.weixin.qq.com"
REFRESH_BEFORE_S = 300          # stable_token: refresh with less than 5 min left
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# errcode -> seconds after which the quota is worth trying again
QUOTA_ERRORS = {45009: 3600.0, 45011: 60.0, 1002001: 3600.0}
TRANSIENT_ERRORS = frozenset({-1})
SCAN_PAGES = 20
SCAN_REMEMBERED = 8000          # ids a scan keeps as read (an attempt-log item stays far below 400 KB)
# calls tried again at once on a transient answer (PlatformAdapter.reading): the reads, and the
# image re-hosting (img/upload by URL: a lost answer's retry leaves one unused copy of our image
# on WeChat's CDN, nothing a buyer or the audit sees; our cache keeps the URL that answered)
RETRIED = frozenset({"/channels/ec/product/list/get", "/channels/ec/product/get", "/channels/ec/product/stock/get",
                     "/channels/ec/basics/img/upload"})
PAGE_SIZE = 30
# an add answered with these was refused before anything was written (HTTP 429, an errcode on
# HTTP 200); a time-out or a 5xx (``transient``) may have landed, and only a scan can tell
ADD_REFUSED_KINDS = frozenset({"quota", "token", "permanent"})
# product/get: edit_status 1 editing, 2 in audit, 3 rejected, 4 approved; status 5 listed
EDIT_AUDITING, EDIT_REJECTED, EDIT_APPROVED = 2, 3, 4
STATUS_LISTED = 5

# Messages we know for the platform's codes (zh, en); others carry the platform's errmsg.
KNOWN_ERRORS: dict[int, tuple[str, str]] = {
    -1: ("微信系统繁忙", "WeChat is busy"),
    40001: ("微信访问令牌无效或不是最新", "the WeChat access token is invalid or not the latest"),
    40014: ("微信访问令牌不合法", "the WeChat access token is not valid"),
    42001: ("微信访问令牌已过期", "the WeChat access token has expired"),
    40013: ("微信小店 AppID 无效", "the WeChat shop's AppID is invalid"),
    40125: ("微信小店 AppSecret 无效", "the WeChat shop's AppSecret is invalid"),
    45009: ("微信接口今日调用次数已达上限", "WeChat's daily API quota is spent"),
    45011: ("微信接口调用过于频繁，请下一分钟再试", "WeChat's per-minute API limit was reached"),
    48001: ("微信小店未获得该接口权限", "the WeChat shop is not authorised for this API"),
    1002001: ("本店铺近1小时内提审次数超过限制", "the shop's audit submissions for the hour are spent"),
    10020013: ("SKU 数量须为 1–500 个", "a product takes 1-500 SKUs"),
    10020028: ("SKU 价格过高", "a SKU price is too high"),
    10020035: ("商品图片须先上传到微信（mmecimage.cn）", "product images must be uploaded to WeChat first"),
    10020039: ("SKU 售价不能为 0", "a SKU price may not be 0"),
    10020040: ("划线价须高于售价", "the market price must be above the price"),
    10020055: ("请求参数有误", "a request parameter is wrong"),
    10020067: ("商品仍在上传中，暂不能提审", "the product is still uploading and cannot be submitted yet"),
}


def classify(errcode: int, errmsg: str, *, api: str = "") -> ChannelError:
    """A WeChat ``errcode`` (non-zero) as a ``ChannelError``."""
    zh, en = KNOWN_ERRORS.get(errcode, (f"微信小店拒绝了请求：{errmsg}", f"WeChat refused the request: {errmsg}"))
    where = f" ({api})" if api else ""
    if errcode in TRANSIENT_ERRORS:
        return ChannelError("transient", None, zh, f"{en}{where}: {errmsg}", errcode)
    if errcode in TOKEN_ERRORS:
        return ChannelError("token", None, zh, f"{en}{where}: {errmsg}", errcode)
    if errcode in QUOTA_ERRORS:
        return ChannelError("quota", None, zh, f"{en}{where}: {errmsg}", errcode,
                            retry_after_s=QUOTA_ERRORS[errcode])
    return ChannelError("permanent", None, f"{zh}（{errcode}：{errmsg}）" if errcode in KNOWN_ERRORS else zh,
                        f"{en}{where}: {errcode} {errmsg}", errcode)


class WechatChannel(http.PlatformAdapter):
    channel = "wechat"
    default_base = DEFAULT_BASE
    refresh_before_s = REFRESH_BEFORE_S

    def __init__(self, deps, *, timeout_s: float = 10.0, **kw) -> None:
        super().__init__(deps, timeout_s=timeout_s, **kw)

    # --- plumbing ------------------------------------------------------------------------------------
    def access_token(self, shop: Shop) -> str:
        def fetch(_old: dict[str, Any] | None) -> dict[str, Any]:
            body = {"grant_type": "client_credential", "appid": shop.app_id, "secret": shop.app_secret,
                    "force_refresh": False}
            r = http.call("POST", f"{self.base(shop)}/cgi-bin/stable_token", body=_json(body),
                          timeout_s=self.timeout_s, channel=self.channel)
            data = r.data if isinstance(r.data, dict) else {}
            code = int(data.get("errcode") or 0)
            if code:
                err = classify(code, str(data.get("errmsg") or ""), api="stable_token")
                if err.kind == "permanent":     # wrong appid/secret: the shop's credentials
                    err = ChannelError("token", "CHANNEL_TOKEN", err.message_zh, err.message_en, code)
                raise err
            if not data.get("access_token"):
                raise ChannelError("transient", None, "微信未返回访问令牌", f"stable_token answered without a token: {data}")
            return {"token": str(data["access_token"]),
                    "expires_at": self.now() + float(data.get("expires_in") or 7200),
                    "fetched_at": self.now()}

        return self.cached_token(shop, fetch)

    def api(self, shop: Shop, path: str, body: dict[str, Any], *, query: dict[str, str] | None = None
            ) -> dict[str, Any]:
        """One business call; returns the answer (errcode 0) or raises ``ChannelError`` (a token
        error: once more with a new token first). Reads and image uploads are tried again on a
        transient answer (``RETRIED``)."""
        if path in RETRIED:
            return self.reading(lambda: self._api(shop, path, body, query=query))
        return self._api(shop, path, body, query=query)

    def _api(self, shop: Shop, path: str, body: dict[str, Any], *, query: dict[str, str] | None = None
             ) -> dict[str, Any]:
        def send(token: str) -> dict[str, Any]:
            qs = "access_token=" + quote(token, safe="") + ("&" + urlencode(query) if query else "")
            r = http.call("POST", f"{self.base(shop)}{path}?{qs}", body=_json(body),
                          timeout_s=self.timeout_s, channel=self.channel)
            data = r.data if isinstance(r.data, dict) else {}
            code = _int(data.get("errcode"))
            if code:
                raise classify(code, str(data.get("errmsg") or ""), api=path)
            return data

        return self.with_token(shop, send)

    def upload_image(self, shop: Shop, content_key: str) -> str:
        """Our rendition at media key ``content_key`` as a WeChat image URL (mmecimage.cn/p/...),
        uploaded by URL (``hosted_images`` asks only for what the shop's cache lacks)."""
        data = self.api(shop, "/channels/ec/basics/img/upload", {"img_url": media_url(content_key)},
                        query={"upload_type": "1", "resp_type": "1"})
        url = ((data.get("pic_file") or {}).get("img_url")) or ""
        if not url:
            raise ChannelError("transient", None, "微信图片上传未返回地址", f"img/upload answered without a URL: {data}")
        return url

    # --- the port ------------------------------------------------------------------------------------
    def build_body(self, shop: Shop, product: dict[str, Any]) -> dict[str, Any]:
        """The ``product/add`` body with our images re-hosted on WeChat."""
        from shangjia.channels import categories, payloads
        from shangjia.errors import FindingError

        keys = image_keys(product)
        try:
            cat = categories.require_mapping(product, "wechat")
            head_keys = [keys[r] for r in payloads.wechat_head_refs(product) if r in keys]
            desc_keys = [keys[r] for r in (product.get("images") or {}).get("detail") or []
                         if r in keys][:payloads.WECHAT.DESC_IMGS_MAX]
            urls = self.hosted_images(shop, product, head_keys + desc_keys)
            heads, descs = [urls[k] for k in head_keys], [urls[k] for k in desc_keys]
            body = payloads.wechat_product(product, head_imgs=heads, desc_imgs=descs, cats_v2=list(cat.cats_v2))
        except (FindingError, ValueError) as e:
            raise payload_error(self.channel, e) from None
        body.pop("listing", None)               # listing is its own call (product/listing)
        return body

    def submit(self, shop: Shop, product: dict, *, listing: dict | None) -> Submitted:
        spu = str(product["spu_code"])
        log, att, pid = self.resume(shop, spu, listing, lambda: self.find_by_out_id(shop, spu))
        body = self.build_body(shop, product)
        # what this send is: the body and the listing's revision (a re-upload is sent again)
        digest = _digest({"body": body, "revision": str((listing or {}).get("batch_id") or "")})
        same = bool(pid) and att.get("platform_product_id") == pid and att.get("body_hash") == digest
        if same and att.get("step") == "listed":
            return Submitted(pid, "in_audit")                 # a duplicate delivery: nothing to send
        if not (same and att.get("step") == "saved"):        # else: saved, only the listing call is left
            if pid:
                log.record(step="updating", body_hash=digest, platform_product_id=pid, at=self.at())
                self.api(shop, "/channels/ec/product/update", {**body, "product_id": pid})
            else:
                # a scan's answer holds until another add is sent (what it read stays known)
                log.record(step="adding", body_hash=digest, at=self.at(), scan_done=False, scan_next="",
                           scan_pages=0, scan_found="")
                try:
                    data = self.api(shop, "/channels/ec/product/add", body)
                except ChannelError as e:
                    if e.kind in ADD_REFUSED_KINDS:   # refused, nothing written: a retry has nothing to scan for
                        log.record(step="add_refused", at=self.at())
                    raise
                pid = http.platform_id((data.get("data") or {}).get("product_id"))
                if not pid:
                    raise ChannelError("transient", None, "微信未返回商品编号", f"product/add answered without a product id: {data}")
            log.record(step="saved", platform_product_id=pid, body_hash=digest, at=self.at())
        self.api(shop, "/channels/ec/product/listing", {"product_id": pid})
        log.record(step="listed", at=self.at())
        return Submitted(pid, "in_audit")

    def find_by_out_id(self, shop: Shop, spu_code: str) -> str | None:
        """The id of the shop's product whose ``out_product_id`` is ``spu_code`` (the newest if
        several: the last in the list's order), by listing the shop and reading the products we
        cannot place; None when none is found within ``SCAN_PAGES`` pages.

        - A product our table maps to a listing (its platform ref, written when the listing got
          the id) is placed without a read: only products whose add answer was lost are read.
        - The scan is kept in the attempt log as it goes (``scan_checked``: ids read and not
          ours; ``scan_mine``: ids read and ours; after each page ``scan_next``, ``scan_pages``,
          ``scan_found``), so an attempt cut short by a rate limit or an outage is progress: the
          next one goes on from the page it stopped at and reads only what is left. (Without it,
          at 20 % faults a scan of a 500-product shop, ~17 pages and ~450 reads, never finished
          and its listings waited for ever.)
        - Going on from WeChat's ``next_key`` skips nothing the scan looks for: our product was
          added before the scan began; products added since are listed after it (creation
          order) or push the rest back (newest first: pages are read again, not skipped), and the
          ids already read are not read again. Only a product deleted meanwhile shifts the rest
          forward.
        - A finished scan's answer is kept (``scan_done``) until ``submit`` sends another add."""
        log = AttemptLog(self.deps.store, self.channel, shop.shop_id, spu_code)
        att = log.read()
        if att.get("scan_done"):
            return http.platform_id(att.get("scan_found")) or None
        checked = {str(x) for x in att.get("scan_checked") or []}
        mine = {str(x) for x in att.get("scan_mine") or []}
        next_key, pages = str(att.get("scan_next") or ""), _int(att.get("scan_pages"))
        found = http.platform_id(att.get("scan_found")) or None
        while pages < SCAN_PAGES:
            data = self.api(shop, "/channels/ec/product/list/get", {"page_size": PAGE_SIZE, "next_key": next_key})
            page = [pid for pid in (http.platform_id(raw) for raw in data.get("product_ids") or []) if pid]
            placed = self._placed(shop, [pid for pid in page if pid not in checked and pid not in mine])
            new_checked, new_mine, page_found = [], [], None
            try:
                for pid in page:
                    if pid in checked:
                        continue
                    if pid in mine or placed.get(pid) == spu_code:
                        page_found = pid
                        continue
                    if pid in placed:                      # another listing's product
                        continue
                    got = self.api(shop, "/channels/ec/product/get", {"product_id": pid, "data_type": 3})
                    p = got.get("edit_product") or got.get("product") or {}
                    if str(p.get("out_product_id") or "") == spu_code:
                        page_found = pid
                        new_mine.append(pid)
                    else:
                        new_checked.append(pid)
            finally:
                if new_checked or new_mine:
                    checked.update(new_checked)
                    mine.update(new_mine)
                    log.record(scan_checked=sorted(checked)[:SCAN_REMEMBERED], scan_mine=sorted(mine))
            pages, found = pages + 1, page_found or found
            next_key = str(data.get("next_key") or "")
            if not next_key:
                break
            log.record(scan_next=next_key, scan_pages=pages, scan_found=found or "")
        log.record(scan_done=True, scan_found=found or "", scan_next="", scan_pages=0)
        return found

    def _placed(self, shop: Shop, pids: list[str]) -> dict[str, str]:
        """Platform id -> our product code, for the ids our table maps to one of this merchant's listings."""
        if not pids:
            return {}
        out: dict[str, str] = {}
        for item in self.deps.store.get_many([platform_ref_key(self.channel, pid) for pid in pids]):
            pid = str(item.get("pk", "")).rsplit("#", 1)[-1]
            if item.get("merchant_id") == shop.merchant_id and item.get("spu_code"):
                out[pid] = str(item["spu_code"])
        return out

    def lookup(self, shop: Shop, spu_code: str, platform_product_id: str | None) -> dict | None:
        """``{"platform_product_id", "state", "reason"}`` from ``product/get`` (by the id, else
        found by our product code), or None when the platform has no submitted product. WeChat
        cannot look a product up by our code: finding it scans the shop (a read per product), so
        the attempt log answers first (the id it recorded; or no add ever sent: nothing to find)."""
        pid = http.platform_id(platform_product_id)
        if not pid:
            att = AttemptLog(self.deps.store, self.channel, shop.shop_id, spu_code).read()
            pid = http.platform_id(att.get("platform_product_id"))
            if not pid and not self.add_may_have_landed(att):
                return None
            pid = pid or self.find_by_out_id(shop, spu_code)
        if not pid:
            return None
        try:
            data = self.api(shop, "/channels/ec/product/get", {"product_id": pid, "data_type": 3})
        except ChannelError as e:
            if e.kind == "permanent":
                return None           # the platform does not know the id
            raise
        online, edit = data.get("product") or {}, data.get("edit_product") or {}
        edit_status = _int(edit.get("edit_status", online.get("edit_status")))
        status = _int(online.get("status", edit.get("status")))
        reason = str((edit.get("audit_info") or {}).get("reject_reason") or "")
        # a draft never submitted: None (submit() resumes with product/listing)
        state = "in_audit" if edit_status == EDIT_AUDITING else "rejected" if edit_status == EDIT_REJECTED \
            else "live" if status == STATUS_LISTED or edit_status == EDIT_APPROVED else None
        return http.lookup_answer(pid, state, reason)

    def sku_ids(self, shop: Shop, platform_product_id: str) -> dict[str, str]:
        """Our SKU code (``out_sku_id``) → WeChat's ``sku_id``."""
        data = self.api(shop, "/channels/ec/product/get", {"product_id": platform_product_id, "data_type": 3})
        out: dict[str, str] = {}
        for p in (data.get("edit_product") or {}, data.get("product") or {}):
            for s in p.get("skus") or []:
                if s.get("out_sku_id") and s.get("sku_id") is not None:
                    out.setdefault(str(s["out_sku_id"]), http.platform_id(s["sku_id"]))
        return out

    def update_stock(self, shop: Shop, platform_product_id: str, stock: dict[str, int]) -> None:
        """Set each SKU's stock (``stock/update``, diff_type 3: set; no audit, no quota)."""
        ids = self.sku_ids(shop, platform_product_id)
        missing = [c for c in stock if c not in ids]
        if missing:
            raise ChannelError("permanent", "CHANNEL_SKU_UNKNOWN", f"微信商品中没有 SKU {', '.join(missing)}",
                               f"the WeChat product has no SKU {', '.join(missing)}")
        for code, num in stock.items():
            self.api(shop, "/channels/ec/product/stock/update",
                     {"product_id": platform_product_id, "sku_id": ids[code], "diff_type": 3, "num": int(num)})

    def delist_skus(self, shop: Shop, platform_product_id: str, sku_codes: list[str]) -> None:
        """WeChat has no per-SKU delisting: removing a SKU is a product update that goes through
        audit (and quota). A dropped SKU is made unbuyable at once by setting its stock to 0;
        the next revision's update leaves it out. SKUs the platform no longer has are skipped."""
        ids = self.sku_ids(shop, platform_product_id)
        for code in sku_codes:
            if code in ids:
                self.api(shop, "/channels/ec/product/stock/update",
                         {"product_id": platform_product_id, "sku_id": ids[code], "diff_type": 3, "num": 0})

    def parse_callback(self, shop_lookup, headers: dict, query: dict, raw_body: bytes) -> list[AuditVerdict]:
        """A ``product_spu_audit`` push (plain JSON mode): ``?signature=&timestamp=&nonce=`` is
        checked against the shop's callback token first (``signing.verify_wechat_push``; raises
        ``SignatureError``). The shop is found by ``shop_lookup(appid)`` (``appid`` from the
        callback URL's query, or "" when the route itself names the merchant). Events other
        than the product audit give no verdicts."""
        from shangjia.channels import signing

        q = {k: (v[0] if isinstance(v, list) else v) for k, v in (query or {}).items()}
        shop = shop_lookup(str(q.get("appid") or q.get("app_id") or ""))
        if shop is None or not shop.callback_token:
            raise signing.SignatureError("SIG_MISMATCH")
        if q.get("encrypt_type") not in (None, "", "raw"):
            raise signing.SignatureError("SIG_MALFORMED")     # encrypted mode is not set up
        for f in ("signature", "timestamp", "nonce"):
            if not q.get(f):
                raise signing.SignatureError("SIG_MISSING")
        if not signing.verify_wechat_push(shop.callback_token, str(q["timestamp"]), str(q["nonce"]),
                                          str(q["signature"])):
            raise signing.SignatureError("SIG_MISMATCH")
        try:
            doc = json.loads(raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise signing.SignatureError("SIG_MALFORMED") from None
        if not isinstance(doc, dict) or doc.get("Event") != "product_spu_audit":
            return []
        ev = doc.get("ProductSpuAudit") or {}
        verdict = {2: "rejected", 3: "approved", 4: "withdrawn"}.get(_int(ev.get("status")))
        pid = http.platform_id(ev.get("product_id"))
        if verdict is None or not pid:
            return []
        msg_id = str(doc.get("MsgId") or doc.get("MsgID") or f"{pid}-{doc.get('CreateTime', '')}-{ev.get('status')}")
        reason = str(ev.get("reason") or "") if verdict != "approved" else ""
        return [AuditVerdict(self.channel, msg_id, pid, verdict, reason,
                             classify_reason(reason) if verdict == "rejected" else "")]


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
