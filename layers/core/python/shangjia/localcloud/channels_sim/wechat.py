"""Simulated WeChat Channels shop (微信小店) API on loopback, after ../shared/CHANNEL-APIS.md §2.

Endpoints (every one ``POST``, JSON bodies, errors as ``errcode != 0`` on HTTP 200 as the
platform answers; HTTP 429/503 only from the fault knobs):

- ``/cgi-bin/stable_token``: ``{grant_type: client_credential, appid, secret, force_refresh}`` →
  ``{access_token, expires_in}`` (7200). Normal mode hands back the current token until 5 min
  before its expiry, then rotates; the old token keeps working for those last 5 min. Force refresh:
  at most 20 a day and 30 s apart (45009 / 45011), and invalidates the previous token at once
  (40001 "access_token is invalid or not latest"). Bad appid 40013, bad secret 40125.
- every business call needs ``?access_token=``: missing 41001, unknown 40014, expired 42001,
  superseded by a force refresh 40001. ``minute_limit`` knob: 45011 per shop per API.
- ``/channels/ec/basics/img/upload?upload_type=1&resp_type=1`` body ``{img_url}`` →
  ``pic_file.img_url`` on ``https://mmecimage.cn/p/...``; ``upload_type``/``resp_type`` in the
  body (or not 1 in the query) → 10020055.
- ``/channels/ec/product/add``, ``/update``: the SPU shape (title, head_imgs 3–9 on
  mmecimage.cn/p/ → 10020035, skus 1–500 → 10020013, sale_price > 0 → 10020039, market_price >
  sale_price → 10020040, sale_price above 10^9 fen → 10020028, other shape errors → 10020055).
  ``product_id`` is answered as a 19-digit JSON number, as WeChat does. ``out_product_id`` is NOT
  checked for uniqueness (as on WeChat): a second add makes a second product (``duplicates()``).
  ``listing: 1`` submits the draft to audit.
- ``/channels/ec/product/listing`` ``{product_id}``: submits the draft to audit (a product already
  in audit, or listed with its draft unchanged: nothing to do, errcode 0, no quota).
  Audit submissions (this, and add/update with ``listing: 1``) count against the shop's quota,
  ``audit_quota_hour`` (200 in any rolling hour) / ``audit_quota_day`` (1000 a calendar day,
  China time) → 1002001.
- ``/channels/ec/product/delisting`` ``{product_id}``.
- ``/channels/ec/product/get`` ``{product_id, data_type: 1 online | 2 draft | 3 both}`` →
  ``product`` / ``edit_product`` with ``status``, ``edit_status`` (1 editing, 2 in audit,
  3 rejected, 4 approved) and ``audit_info{submit_time, audit_time, reject_reason}``.
- ``/channels/ec/product/list/get`` ``{status?, page_size ≤ 30, next_key}`` → ``product_ids``.
  The real API has no lookup by ``out_product_id``: an adapter that lost an add's answer (time-out)
  finds the product by listing ids and reading each one's ``out_product_id`` (or avoids the
  question by never re-adding without that check).
- ``/channels/ec/product/stock/update`` ``{product_id, sku_id, diff_type 1 add | 2 sub | 3 set, num}``
  — no quota.

Unknown product: 10020050 (the simulator's code; the real one is not in the sources).
Audit verdicts are pushed as ``product_spu_audit`` events (plain JSON, §2.3) to the shop's
callback URL with ``?signature=&timestamp=&nonce=`` = ``signing.wechat_push_signature(token, ...)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from shangjia.channels.throttle import day_index
from shangjia.localcloud.channels_sim.base import Knobs, Reply, Request, SimServer, cst_time, is_int

TOKEN_TTL_S = 7200
ROTATE_BEFORE_S = 300
FORCE_PER_DAY = 20
FORCE_MIN_GAP_S = 30

OK = 0
BUSY = -1
INVALID_TOKEN = 40001           # invalid credential / access_token is invalid or not latest
INVALID_GRANT = 40002
INVALID_APPID = 40013
ILLEGAL_TOKEN = 40014
MISSING_TOKEN = 41001
EXPIRED_TOKEN = 42001
DAILY_QUOTA = 45009
MINUTE_QUOTA = 45011
INVALID_SECRET = 40125
AUDIT_QUOTA = 1002001
QUOTA_HOUR_MSG = "本店铺近1小时内提审次数超过限制"     # the platform's words (CHANNEL-APIS §2.2)
QUOTA_DAY_MSG = "本店铺今日提审次数超过限制"          # the simulator's words for the daily cap
SKU_COUNT = 10020013
PRICE_TOO_HIGH = 10020028
IMG_URL = 10020035
ZERO_PRICE = 10020039
MARKET_PRICE = 10020040
NOT_FOUND = 10020050            # simulator's choice
BAD_PARAM = 10020055
PRICE_CEILING_FEN = 1_000_000_000

STATUS_INITIAL, STATUS_LISTED, STATUS_DELISTED = 0, 5, 11
EDIT_EDITING, EDIT_AUDITING, EDIT_REJECTED, EDIT_APPROVED = 1, 2, 3, 4
IMG_PREFIX = re.compile(r"^https?://mmecimage\.cn/p/")
_ALLOWED_PUNCT = set(" -_/.,:;+*&()（）【】[]《》<>“”\"'‘’·、，。：；！!?？%#~|")


@dataclass
class WechatShop:
    shop: str
    appid: str
    secret: str
    callback_url: str | None
    callback_token: str
    username: str


def _err(code: int, msg: str) -> Reply:
    return Reply.of({"errcode": code, "errmsg": msg})


def check_title(title: Any) -> str | None:
    if not isinstance(title, str) or not title.strip():
        return "title is required"
    if len(title) > 60:
        return "title longer than 60 characters"
    for ch in title:
        if ch.isalnum() or ch in _ALLOWED_PUNCT:
            continue
        if unicodedata.category(ch) in ("So", "Sk", "Cc", "Cf", "Cs", "Co") or ord(ch) > 0xFFFF:
            return f"title contains a restricted symbol {ch!r}"
    if sum(1 for ch in title if ch.isalnum()) < 5:
        return "title needs at least 5 effective characters (Chinese, letters, digits)"
    if all(ch.isascii() and (ch.isalnum() or ch.isspace()) for ch in title):
        return "title cannot be only digits or letters"
    return None


def validate_spu(doc: dict[str, Any]) -> tuple[int, str] | None:
    """The product/add and product/update checks, in the platform's order of business."""
    if not isinstance(doc, dict):
        return BAD_PARAM, "data format error"
    out = doc.get("out_product_id")
    if out is not None and (not isinstance(out, str) or len(out) > 128):
        return BAD_PARAM, "out_product_id must be a string of at most 128 characters"
    why = check_title(doc.get("title"))
    if why:
        return BAD_PARAM, why
    imgs = doc.get("head_imgs")
    if not isinstance(imgs, list) or not 3 <= len(imgs) <= 9:
        return IMG_URL, "head_imgs needs 3 to 9 images"
    if len(set(map(str, imgs))) != len(imgs):
        return IMG_URL, "head_imgs has duplicates"
    for u in imgs:
        if not isinstance(u, str) or not IMG_PREFIX.match(u):
            return IMG_URL, f"image url must start with mmecimage.cn/p/: {u!r}"
    desc = doc.get("desc_info") or {}
    if not isinstance(desc, dict) or len(desc.get("imgs") or []) > 50 or len(desc.get("desc") or "") > 2000:
        return BAD_PARAM, "desc_info: at most 50 images and 2000 characters"
    for u in desc.get("imgs") or []:
        if not isinstance(u, str) or not IMG_PREFIX.match(u):
            return IMG_URL, f"image url must start with mmecimage.cn/p/: {u!r}"
    cats = doc.get("cats_v2") or doc.get("cats")
    if not isinstance(cats, list) or not cats or not all(
            isinstance(c, dict) and isinstance(c.get("cat_id"), str) and c["cat_id"].isdigit() for c in cats):
        return BAD_PARAM, "cats_v2 needs [{cat_id: \"<digits as string>\"}]"
    skus = doc.get("skus")
    if not isinstance(skus, list) or not 1 <= len(skus) <= 500:
        return SKU_COUNT, "a product needs 1 to 500 skus"
    for s in skus:
        if not isinstance(s, dict):
            return BAD_PARAM, "data format error: sku"
        sp = s.get("sale_price")
        if sp is not None and not is_int(sp):
            return BAD_PARAM, "data format error: sale_price must be an integer in fen"
        if not sp or sp <= 0:
            return ZERO_PRICE, "sale_price must be greater than 0"
        if sp > PRICE_CEILING_FEN:
            return PRICE_TOO_HIGH, "sku价格过高"
        mp = s.get("market_price")
        if mp is not None:
            if not is_int(mp):
                return BAD_PARAM, "data format error: market_price must be an integer in fen"
            if mp <= sp:
                return MARKET_PRICE, "market_price must be greater than sale_price"
        stock = s.get("stock_num", 0)
        if not is_int(stock) or stock < 0:
            return BAD_PARAM, "stock_num must be a non-negative integer"
        if len(str(s.get("sku_code") or "")) > 20:
            return BAD_PARAM, "sku_code longer than 20 characters"
        if s.get("thumb_img") and not IMG_PREFIX.match(str(s["thumb_img"])):
            return IMG_URL, f"image url must start with mmecimage.cn/p/: {s['thumb_img']!r}"
        for a in s.get("sku_attrs") or []:
            if len(str(a.get("attr_key", ""))) > 40 or len(str(a.get("attr_value", ""))) > 40:
                return BAD_PARAM, "sku_attrs: key and value at most 40 characters"
    return None


def _pid(v: Any) -> int | None:
    """product_id as WeChat takes it: a number or a string of digits."""
    if is_int(v):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


class WechatSim(SimServer):
    name = "wechat"
    audit_field, reason_field = "edit_status", "reject_reason"
    AUDITING, APPROVED, REJECTED, LISTED = EDIT_AUDITING, EDIT_APPROVED, EDIT_REJECTED, STATUS_LISTED

    def __init__(self, knobs: Knobs | None = None, *, clock=None) -> None:
        super().__init__(knobs, clock=clock)
        self.shops: dict[str, WechatShop] = {}
        self.by_appid: dict[str, WechatShop] = {}
        self.tokens: dict[str, dict[str, Any]] = {}        # token -> {appid, expires, revoked}
        self.current: dict[str, str] = {}                  # appid -> newest token
        self.forced: dict[str, list[float]] = {}           # appid -> force-refresh times
        self.submissions: dict[str, list[float]] = {}      # shop -> audit submission times
        self.minute_calls: dict[tuple[str, str, int], int] = {}
        self.images: dict[str, str] = {}                   # mmecimage url -> source url

    # --- registration (Python API) ---------------------------------------------------------
    def register_shop(self, shop: str, *, appid: str | None = None, secret: str | None = None,
                      callback_url: str | None = None, callback_token: str | None = None) -> WechatShop:
        h = hashlib.sha256(f"{self.knobs.seed}:{shop}".encode()).hexdigest()
        s = WechatShop(shop, appid or f"wx{h[:16]}", secret or h[16:48], callback_url,
                       callback_token or f"tok{h[48:60]}", f"gh_{h[:12]}")
        with self.lock:
            self.shops[shop] = s
            self.by_appid[s.appid] = s
        return s

    def set_callback(self, shop: str, url: str | None, token: str | None = None) -> None:
        with self.lock:
            s = self.shops[shop]
            s.callback_url = url
            if token:
                s.callback_token = token

    def callback_for(self, shop: str):
        s = self.shops.get(shop)
        return s.callback_url if s and s.callback_url else None

    # --- faults ------------------------------------------------------------------------------------
    def rate_limited_reply(self) -> Reply:
        return _err(MINUTE_QUOTA, "api minute-quota reach limit  mustslower  retry next minute")

    def busy_reply(self) -> Reply:
        return _err(BUSY, "system error")

    # --- dispatch --------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Reply:
        if req.method != "POST":
            return Reply(404, b"404 Not Found", "text/plain")
        if req.path == "/cgi-bin/stable_token":
            return self._stable_token(req)
        route = _ROUTES.get(req.path)
        if route is None:
            return Reply(404, b"404 Not Found", "text/plain")
        shop, denied = self._auth(req)
        if denied:
            return denied
        if self.knobs.minute_limit is not None:
            key = (shop.shop, req.path, int(self.clock() // 60))
            with self.lock:
                self.minute_calls[key] = self.minute_calls.get(key, 0) + 1
                over = self.minute_calls[key] > self.knobs.minute_limit
            if over:
                return self.rate_limited_reply()
        try:
            doc = req.json()
        except ValueError:
            return _err(47001, "data format error")
        if not isinstance(doc, dict):
            return _err(47001, "data format error")
        return getattr(self, route)(shop, req, doc)

    # --- tokens --------------------------------------------------------------------------------------
    def _stable_token(self, req: Request) -> Reply:
        try:
            doc = req.json()
        except ValueError:
            return _err(47001, "data format error")
        if doc.get("grant_type") != "client_credential":
            return _err(INVALID_GRANT, "invalid grant_type")
        shop = self.by_appid.get(doc.get("appid") or "")
        if shop is None:
            return _err(INVALID_APPID, "invalid appid")
        if doc.get("secret") != shop.secret:
            return _err(INVALID_SECRET, "invalid appsecret")
        now = self.clock()
        with self.lock:
            cur = self.current.get(shop.appid)
            rec = self.tokens.get(cur) if cur else None
            if doc.get("force_refresh") in (True, "true", 1):
                times = [t for t in self.forced.get(shop.appid, []) if now - t < 86400]
                if len(times) >= FORCE_PER_DAY:
                    return _err(DAILY_QUOTA, "reach max api daily quota limit")
                if times and now - times[-1] < FORCE_MIN_GAP_S:
                    return _err(MINUTE_QUOTA, "api freq out of limit: force_refresh at most once per 30 s")
                self.forced[shop.appid] = times + [now]
                if rec:
                    rec["revoked"] = True
            elif rec and not rec["revoked"] and rec["expires"] - now > ROTATE_BEFORE_S:
                return Reply.of({"access_token": cur, "expires_in": int(rec["expires"] - now)})
            token = self._mint(shop.appid)
            self.tokens[token] = {"appid": shop.appid, "expires": now + TOKEN_TTL_S, "revoked": False}
            self.current[shop.appid] = token
        return Reply.of({"access_token": token, "expires_in": TOKEN_TTL_S})

    def _mint(self, appid: str) -> str:
        h = self.draw("token", appid).getrandbits(512).to_bytes(64, "big").hex()
        return f"{len(self.tokens) + 1}_{h}{h[:30]}"       # ~160 characters, as WeChat's are long

    def _auth(self, req: Request) -> tuple[WechatShop | None, Reply | None]:
        token = req.query.get("access_token")
        if not token:
            return None, _err(MISSING_TOKEN, "access_token missing")
        with self.lock:
            rec = self.tokens.get(token)
        if rec is None:
            return None, _err(ILLEGAL_TOKEN, "invalid access_token")
        if rec["revoked"]:
            return None, _err(INVALID_TOKEN, "access_token is invalid or not latest")
        if self.clock() >= rec["expires"]:
            return None, _err(EXPIRED_TOKEN, "access_token expired")
        return self.by_appid[rec["appid"]], None

    # --- quota -------------------------------------------------------------------------------------
    def _spent(self, shop: str, now: float) -> str | None:
        """Which audit-submission quota of ``shop`` is spent: "hour" (``audit_quota_hour`` in any
        rolling hour), "day" (``audit_quota_day`` a calendar day, China time: the day
        ``throttle.day_index`` counts), or None."""
        times = self.submissions.get(shop, [])
        if sum(1 for t in times if now - t < 3600) >= self.knobs.audit_quota_hour:
            return "hour"
        today = day_index(now)
        if sum(1 for t in times if day_index(t) == today) >= self.knobs.audit_quota_day:
            return "day"
        return None

    def _take_submission(self, shop: str) -> bool:
        """Count one audit submission of ``shop``; False (nothing counted) when a quota is spent."""
        now = self.clock()
        with self.lock:
            times = [t for t in self.submissions.get(shop, []) if now - t < 86400]
            self.submissions[shop] = times
            if self._spent(shop, now):
                return False
            times.append(now)
            return True

    def _submit_or_refuse(self, shop: str) -> Reply | None:
        """None when the submission is counted, else the 1002001 answer (CHANNEL-APIS §2.2 and
        §7.8 name that code for both quotas; the day's wording is the simulator's)."""
        if self._take_submission(shop):
            return None
        with self.lock:
            spent = self._spent(shop, self.clock())
        return _err(AUDIT_QUOTA, QUOTA_DAY_MSG if spent == "day" else QUOTA_HOUR_MSG)

    # --- endpoints ---------------------------------------------------------------------------------
    def img_upload(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        if "upload_type" in doc or "resp_type" in doc:
            return _err(BAD_PARAM, "参数有误: upload_type and resp_type go in the query string")
        if req.query.get("upload_type") != "1" or req.query.get("resp_type") != "1":
            return _err(BAD_PARAM, "参数有误: the simulator takes upload_type=1&resp_type=1 (by URL, img_url)")
        url = doc.get("img_url")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            return _err(BAD_PARAM, "参数有误: img_url")
        digest = hashlib.sha256(f"{shop.shop}|{url}".encode()).hexdigest()
        img = f"https://mmecimage.cn/p/{shop.appid}/{digest[:40]}"
        with self.lock:
            self.images[img] = url
        return Reply.of({"errcode": 0, "errmsg": "ok", "pic_file": {"img_url": img}})

    def _skus(self, rec: dict[str, Any], skus: list[dict]) -> None:
        ids = rec.setdefault("sku_ids", {})
        stock = rec.setdefault("stock", {})
        for i, s in enumerate(skus):
            key = s.get("out_sku_id") or f"#{i}"
            if key not in ids:
                ids[key] = self.draw("sku_id", (rec["product_id"], key)).randrange(10**9, 10**12)
            stock[ids[key]] = s.get("stock_num", 0)

    def product_add(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        bad = validate_spu(doc)
        if bad:
            return _err(*bad)
        listing = doc.get("listing") in (1, True)
        refused = self._submit_or_refuse(shop.shop) if listing else None
        if refused:
            return refused
        draft = copy.deepcopy(doc)
        draft.pop("listing", None)
        rec = {"draft": draft, "online": None, "status": STATUS_INITIAL, "edit_status": EDIT_EDITING,
               "reject_reason": ""}
        pid = self.add_product(shop.shop, str(doc.get("out_product_id") or ""), rec)
        with self.lock:
            self._skus(rec, draft["skus"])
        if listing:
            self.submit_audit(pid)
        return Reply.of({"errcode": 0, "errmsg": "ok",
                         "data": {"product_id": pid, "create_time": cst_time(rec["created_at"])}})

    def _product(self, shop: WechatShop, doc: dict) -> tuple[dict | None, Reply | None]:
        pid = _pid(doc.get("product_id"))
        if pid is None:
            return None, _err(BAD_PARAM, "参数有误: product_id")
        rec = self.products.get(pid)
        if rec is None or rec["shop"] != shop.shop:
            return None, _err(NOT_FOUND, "product not found")
        return rec, None

    def product_update(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        rec, bad = self._product(shop, doc)
        if bad:
            return bad
        if doc.get("out_product_id") not in (None, rec["out_id"]):
            return _err(BAD_PARAM, "out_product_id cannot be changed")
        spu = {k: v for k, v in doc.items() if k != "product_id"}
        spu.setdefault("out_product_id", rec["out_id"])
        bad_spu = validate_spu(spu)
        if bad_spu:
            return _err(*bad_spu)
        listing = spu.pop("listing", None) in (1, True)
        refused = self._submit_or_refuse(shop.shop) if listing else None
        if refused:
            return refused
        with self.lock:
            rec["draft"] = copy.deepcopy(spu)
            rec["edit_status"] = EDIT_EDITING
            rec["updated_at"] = self.clock()
            self._skus(rec, spu["skus"])
        if listing:
            self.submit_audit(rec["product_id"])
        return Reply.of({"errcode": 0, "errmsg": "ok",
                         "data": {"product_id": rec["product_id"], "update_time": cst_time(rec["updated_at"])}})

    def product_listing(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        rec, bad = self._product(shop, doc)
        if bad:
            return bad
        with self.lock:
            nothing_new = rec["edit_status"] == EDIT_AUDITING or (
                rec["status"] == STATUS_LISTED and rec["online"] == rec["draft"])
        if nothing_new:
            return _err(OK, "ok")
        refused = self._submit_or_refuse(shop.shop)
        if refused:
            return refused
        self.submit_audit(rec["product_id"])
        return _err(OK, "ok")

    def product_delisting(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        rec, bad = self._product(shop, doc)
        if bad:
            return bad
        with self.lock:
            rec["status"] = STATUS_DELISTED
        return _err(OK, "ok")

    def _render(self, rec: dict[str, Any], spu: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(spu)
        out["product_id"] = rec["product_id"]
        out["out_product_id"] = rec["out_id"]
        for i, s in enumerate(out.get("skus") or []):
            sid = rec["sku_ids"][s.get("out_sku_id") or f"#{i}"]
            s["sku_id"] = sid
            s["stock_num"] = rec["stock"].get(sid, 0)
        out["status"] = rec["status"]
        out["edit_status"] = rec["edit_status"]
        return out

    def product_get(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        rec, bad = self._product(shop, doc)
        if bad:
            return bad
        data_type = doc.get("data_type", 1)
        with self.lock:
            ans: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
            if data_type in (1, 3) and rec["online"] is not None:
                ans["product"] = self._render(rec, rec["online"])
            if data_type in (2, 3):
                edit = self._render(rec, rec["draft"])
                edit["audit_info"] = {
                    "submit_time": cst_time(rec["submit_time"]) if rec.get("submit_time") else "",
                    "audit_time": cst_time(rec["audit_time"]) if rec.get("audit_time") else "",
                    "reject_reason": rec["reject_reason"]}
                ans["edit_product"] = edit
            if data_type == 1 and rec["online"] is None:
                ans["product"] = {"product_id": rec["product_id"], "out_product_id": rec["out_id"],
                                  "status": rec["status"], "edit_status": rec["edit_status"]}
        return Reply.of(ans)

    def product_list(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        size = doc.get("page_size", 10)
        if not is_int(size) or not 1 <= size <= 30:
            return _err(BAD_PARAM, "参数有误: page_size 1..30")
        status = doc.get("status")
        with self.lock:
            ids = [p for p, r in self.products.items() if r["shop"] == shop.shop
                   and (status is None or r["status"] == status)]
        start = int(doc.get("next_key") or 0)
        page = ids[start:start + size]
        nxt = str(start + size) if start + size < len(ids) else ""
        return Reply.of({"errcode": 0, "errmsg": "ok", "product_ids": page, "next_key": nxt,
                         "total_num": len(ids)})

    def stock_update(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        rec, bad = self._product(shop, doc)
        if bad:
            return bad
        sid, diff, num = _pid(doc.get("sku_id")), doc.get("diff_type"), doc.get("num")
        if diff not in (1, 2, 3) or not is_int(num) or num < 0:
            return _err(BAD_PARAM, "参数有误: diff_type 1|2|3, num >= 0")
        with self.lock:
            if sid not in rec["stock"]:
                return _err(NOT_FOUND, "sku not found")
            cur = rec["stock"][sid]
            new = cur + num if diff == 1 else cur - num if diff == 2 else num
            if new < 0:
                return _err(BAD_PARAM, "stock cannot go below 0")
            rec["stock"][sid] = new
        return _err(OK, "ok")

    # --- push ------------------------------------------------------------------------------------
    def build_push(self, rec: dict[str, Any], verdict: str, reason: str | None):
        shop = self.shops[rec["shop"]]
        now = int(self.clock())
        status = 3 if verdict == "approved" else 2
        audit_info = {"busi_audit_info": {"audit_result": status, "reject_reason": rec["reject_reason"],
                                          "reason_code": reason or ""}}
        body = {"ToUserName": shop.username, "FromUserName": "OPENID", "CreateTime": now,
                "MsgType": "event", "Event": "product_spu_audit",
                "ProductSpuAudit": {"product_id": str(rec["product_id"]), "status": status,
                                    "reason": rec["reject_reason"],
                                    "audit_info": json.dumps(audit_info, ensure_ascii=False),
                                    "product_type": 1}}
        return self.signed_push(shop, body, now, rec["product_id"])

    def signed_push(self, shop: WechatShop, body: dict[str, Any], now: int, nonce_key: Any):
        """(url, body, headers) of a push to the shop's callback URL in plain JSON mode:
        ``?signature=&timestamp=&nonce=`` with ``signing.wechat_push_signature`` (§2.3)."""
        from shangjia.channels import signing

        timestamp = str(now)
        nonce = str(self.draw("nonce", nonce_key).randrange(10**8, 10**10))
        sig = signing.wechat_push_signature(shop.callback_token, timestamp, nonce)
        url = shop.callback_url
        url += ("&" if "?" in url else "?") + urlencode({"signature": sig, "timestamp": timestamp, "nonce": nonce})
        return url, json.dumps(body, ensure_ascii=False).encode(), {}


# order events (the names WeChat pushes; WxJava MessageEventConstants, SKIT ChannelsECOrder*Event)
ORDER_EVENTS = {"created": "channels_ec_order_new", "paid": "channels_ec_order_pay",
                "cancelled": "channels_ec_order_cancel"}
# order/get ``status``: 10 awaiting payment, 20 awaiting shipment, 250 cancelled (WeChat's codes)
ORDER_STATUS = {"created": 10, "paid": 20, "cancelled": 250, "refunded": 200}


def _order_methods():
    """Order support, added to ``WechatSim`` below (kept apart from the product API above)."""

    def sku_id_of(self, rec: dict[str, Any], code: str):
        return (rec.get("sku_ids") or {}).get(str(code))

    def build_order_push(self, order: dict[str, Any], event: str):
        shop = self.shops[order["shop"]]
        now = int(self.clock())
        info: dict[str, Any] = {"order_id": int(order["order_id"])}
        if event == "cancelled":
            info["cancel_type"] = 1            # 1 the buyer cancelled
        if event == "paid":
            info["pay_time"] = now
        body = {"ToUserName": shop.username, "FromUserName": "OPENID", "CreateTime": now, "MsgType": "event",
                "Event": ORDER_EVENTS[event], "order_info": info}
        return self.signed_push(shop, body, now, (order["order_id"], event))

    def order_get(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        """``/channels/ec/order/get`` ``{order_id}``: the order with its ``product_infos``."""
        o = self.order_detail(str(doc.get("order_id") or ""))
        if o is None or o["shop"] != shop.shop:
            return _err(NOT_FOUND, "order not exist")
        infos = [{"product_id": str(x["product_id"]), "sku_id": str(x["sku_id"]), "sku_cnt": x["qty"],
                  "out_product_id": x["out_product_id"], "out_sku_id": x["code"]} for x in o["lines"]]
        return Reply.of({"errcode": 0, "errmsg": "ok", "order": {
            "order_id": o["order_id"], "status": ORDER_STATUS.get(o["status"], 10),
            "create_time": int(o["created_at"]), "order_detail": {"product_infos": infos}}})

    return {"sku_id_of": sku_id_of, "build_order_push": build_order_push, "order_get": order_get}


for _name, _fn in _order_methods().items():
    setattr(WechatSim, _name, _fn)


_ROUTES = {
    "/channels/ec/order/get": "order_get",
    "/channels/ec/basics/img/upload": "img_upload",
    "/channels/ec/product/add": "product_add",
    "/channels/ec/product/update": "product_update",
    "/channels/ec/product/listing": "product_listing",
    "/channels/ec/product/delisting": "product_delisting",
    "/channels/ec/product/get": "product_get",
    "/channels/ec/product/list/get": "product_list",
    "/channels/ec/product/stock/update": "stock_update",
}


# --- after-sales (售后): a buyer's refund of part of an order ----------------------------------------
# ``channels_ec_aftersale_update`` pushes ``finder_shop_aftersale_status_update {status,
# after_sale_order_id, order_id}`` (WxJava AFTER_SALE_UPDATE / AfterSaleMessage); the after-sale is
# read with ``/channels/ec/aftersale/getaftersaleorder`` ``{after_sale_order_id}`` (a string: WeChat
# refuses a number, CHANNEL-APIS.md) → ``after_sale_order {after_sale_order_id, order_id, status,
# type, product_info {product_id, sku_id, count}, refund_info {amount}}`` (SKIT
# ChannelsECAftersaleGetAftersaleOrderResponse). Status names: MERCHANT_REFUND_SUCCESS (退款完成),
# MERCHANT_RETURN_SUCCESS (退货退款完成), USER_CANCELD, MERCHANT_PROCESSING, USER_WAIT_RETURN...
AFTERSALE_EVENT = "channels_ec_aftersale_update"


def _aftersale_methods():
    """After-sale support, added to ``WechatSim`` below."""

    def _aftersales(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.__dict__.setdefault("aftersales", {})    # after_sale_order_id -> record

    def open_aftersale(self, order_id: str, code: str, count: int, *, status: str = "MERCHANT_REFUND_SUCCESS",
                       refund_type: str = "REFUND") -> str:
        """The buyer's after-sale of ``count`` units of SKU ``code`` of the order, at ``status``;
        its id (a string of digits). Python API: the order proofs and tests call it."""
        o = self.order_detail(str(order_id))
        if o is None:
            raise KeyError(f"no order {order_id}")
        line = next((x for x in o["lines"] if x["code"] == str(code)), None)
        if line is None:
            raise KeyError(f"order {order_id} has no SKU {code}")
        if not 0 < int(count) <= line["qty"]:
            raise ValueError(f"count {count} is not within 1..{line['qty']}")
        book = self._aftersales()
        with self.lock:
            aid = str(self.draw("after_sale", (str(order_id), len(book))).randrange(10**18, 9 * 10**18))
            book[aid] = {"after_sale_order_id": aid, "order_id": str(order_id), "shop": o["shop"],
                         "status": status, "type": refund_type, "product_id": line["product_id"],
                         "sku_id": line["sku_id"], "count": int(count), "created_at": int(self.clock())}
        return aid

    def aftersale_push(self, after_sale_order_id: str, status: str | None = None):
        """(url, body, headers) of the ``channels_ec_aftersale_update`` push for the after-sale
        (moved to ``status`` first, when given), signed as the order pushes are."""
        book = self._aftersales()
        with self.lock:
            rec = book[str(after_sale_order_id)]
            if status:
                rec["status"] = status
        shop = self.shops[rec["shop"]]
        if not shop.callback_url:
            raise KeyError(f"shop {rec['shop']} has no callback URL")
        now = int(self.clock())
        body = {"ToUserName": shop.username, "FromUserName": "OPENID", "CreateTime": now, "MsgType": "event",
                "Event": AFTERSALE_EVENT,
                "finder_shop_aftersale_status_update": {"status": rec["status"],
                                                        "after_sale_order_id": rec["after_sale_order_id"],
                                                        "order_id": rec["order_id"]}}
        return self.signed_push(shop, body, now, (rec["after_sale_order_id"], rec["status"]))

    def push_aftersale(self, after_sale_order_id: str, status: str | None = None):
        """Build the after-sale push and deliver it now (synchronously); the delivery is recorded."""
        from shangjia.localcloud.channels_sim.base import Push

        url, body, headers = self.aftersale_push(after_sale_order_id, status)
        rec = self._aftersales()[str(after_sale_order_id)]
        push = Push(rec["shop"], 0, url, body, headers, f"aftersale:{rec['status']}")
        self._deliver(push)
        return push

    def aftersale_get(self, shop: WechatShop, req: Request, doc: dict) -> Reply:
        """``/channels/ec/aftersale/getaftersaleorder`` ``{after_sale_order_id}`` (a string)."""
        aid = doc.get("after_sale_order_id")
        if not isinstance(aid, str) or not aid:
            return _err(47001, "data format error")
        rec = self._aftersales().get(aid)
        if rec is None or rec["shop"] != shop.shop:
            return _err(NOT_FOUND, "aftersale order not exist")
        return Reply.of({"errcode": 0, "errmsg": "ok", "after_sale_order": {
            "after_sale_order_id": rec["after_sale_order_id"], "order_id": rec["order_id"],
            "status": rec["status"], "type": rec["type"], "create_time": rec["created_at"],
            "product_info": {"product_id": str(rec["product_id"]), "sku_id": str(rec["sku_id"]),
                             "count": rec["count"]},
            "refund_info": {"amount": 0}}})

    return {"_aftersales": _aftersales, "open_aftersale": open_aftersale, "aftersale_push": aftersale_push,
            "push_aftersale": push_aftersale, "aftersale_get": aftersale_get}


for _name, _fn in _aftersale_methods().items():
    setattr(WechatSim, _name, _fn)
_ROUTES["/channels/ec/aftersale/getaftersaleorder"] = "aftersale_get"
