"""Simulated Douyin shop (抖店) open API on loopback, after ../shared/CHANNEL-APIS.md §1.

Every call is ``POST /<method with . as />`` with the query ``app_key, method, timestamp, v=2,
sign, sign_method, access_token`` and the body = ``param_json`` (the exact string signed).
The signature is checked with ``shangjia.channels.signing.douyin_sign`` over the body AS SENT
(``sign_method`` absent means md5); ``access_token`` and ``sign_method`` are not signed.
Answers use the new envelope ``{code, msg, sub_code, sub_msg, log_id, data}``, ``code == 10000``
meaning OK, on HTTP 200.

The platform's non-10000 codes and sub-codes for signatures, tokens and rate limits are not public
(CHANNEL-APIS §1.3, §8): the ones below are the simulator's, exported so adapters and tests can
name them, and an adapter should treat any non-10000 code as opaque plus ``sub_code``.

- ``/token/create`` (no access_token): ``{code:"", grant_type:"authorization_self", shop_id}``
  (or ``test_shop:"1"``; or ``grant_type:"authorization_code"`` with a code from
  ``authorization_code(shop)``) → ``data{access_token, expires_in: 604800, refresh_token (14 days),
  scope, shop_id, shop_name, authority_id, auth_subject_type}``.
- ``/token/refresh``: ``{grant_type:"refresh_token", refresh_token}`` → a new pair; the refresh
  token is single-use; the old access token lives out its own expiry.
- ``/material/uploadImageSync``: ``{folder_id, url, material_name, need_distinct}`` →
  ``data{material_id, byte_url, ...}``; ``byte_url`` is what ``product/addV2`` accepts in ``pic``
  (knob ``douyin_require_material_urls``).
- ``/product/addV2``: ``name`` ≤ 60 (a Chinese character counts 2), ``pic`` 1–5 joined by ``|``,
  ``category_leaf_id`` a positive integer, ``specs`` ``name|v1,v2^name2|...`` (≤ 3 groups),
  ``spec_prices`` a JSON STRING of exactly one entry per combination with integer fen ``price`` > 0
  and integer ``stock_num`` ≥ 0. ``commit: true`` submits to audit. ``data.product_id`` is a
  19-digit JSON number; ``data.sku[]`` the SKU ids.
- ``/product/editV2``: ``product_id`` plus the fields to change (the merged product is re-checked).
- ``/product/detail``: by ``product_id`` or ``out_product_id``/``outer_product_id`` (the latest
  product with that id); ``show_draft: "true"`` for the draft. ``status`` (0 online, 1 offline),
  ``check_status`` (1 not submitted, 2 in audit, 3 approved, 4 rejected), ``audit_reason``.
- ``/sku/syncStock``: ``{product_id, sku_id | code | outer_sku_id, stock_num, incremental}``.

Audit verdicts are pushed to the app's callback URL as a JSON array ``[{tag, msg_id, data:"<json>"}]``
with headers ``app-id`` and ``event-sign = signing.douyin_event_sign(app_key, app_secret, body)``;
tag ``AUDIT_TAG`` (the simulator's choice; a duplicated push keeps its ``msg_id``).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shangjia.localcloud.channels_sim.base import CHINA, Knobs, Reply, Request, SimServer, cst_time, is_int

ACCESS_TTL_S = 7 * 86400
REFRESH_TTL_S = 14 * 86400
MATERIAL_PREFIX = "https://p3-aio.ecombdimg.com/obj/ecom-shop-material/"
AUDIT_TAG = "400"

OK = 10000
BUSY = 20000                    # isp.service-error
TOKEN_INVALID = 30001           # isv.access-token-no-exist
TOKEN_EXPIRED = 30002           # isv.access-token-expired
MISSING = 40001                 # isv.missing-parameter:<name>
PARAM = 40002                   # isv.parameter-invalid:<field>
SIGN = 40003                    # isv.signature-invalid
BUSINESS = 40004                # isv.business-failed:<what>
RATE = 50002                    # isv.access-limited

CHECK_NONE, CHECK_AUDITING, CHECK_APPROVED, CHECK_REJECTED = 1, 2, 3, 4
STATUS_ONLINE, STATUS_OFFLINE = 0, 1
_MESSAGES = {OK: "success", BUSY: "服务不可用", TOKEN_INVALID: "access_token不存在",
             TOKEN_EXPIRED: "access_token已过期", MISSING: "缺少必选参数", PARAM: "非法参数",
             SIGN: "签名无效", BUSINESS: "业务处理失败", RATE: "调用过于频繁"}


@dataclass
class DouyinApp:
    app_key: str
    app_secret: str
    callback_url: str | None = None


@dataclass
class DouyinShop:
    shop_id: int
    shop_name: str
    app_key: str


def name_width(name: str) -> int:
    return sum(1 if ch.isascii() else 2 for ch in name)


def parse_specs(specs: str) -> list[tuple[str, list[str]]] | None:
    groups = []
    for g in specs.split("^"):
        name, sep, values = g.partition("|")
        vals = [v for v in values.split(",")]
        if not sep or not name or not vals or any(not v for v in vals) or len(set(vals)) != len(vals):
            return None
        groups.append((name, vals))
    return groups if 1 <= len(groups) <= 3 else None


class DouyinSim(SimServer):
    name = "douyin"
    audit_field, reason_field = "check_status", "audit_reason"
    AUDITING, APPROVED, REJECTED, LISTED = CHECK_AUDITING, CHECK_APPROVED, CHECK_REJECTED, STATUS_ONLINE

    def __init__(self, knobs: Knobs | None = None, *, clock=None) -> None:
        super().__init__(knobs, clock=clock)
        self.apps: dict[str, DouyinApp] = {}
        self.shops: dict[int, DouyinShop] = {}
        self.tokens: dict[str, dict[str, Any]] = {}       # access token -> {shop_id, app_key, expires}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, int] = {}                   # authorization code -> shop id
        self.materials: dict[str, dict[str, Any]] = {}    # byte_url -> material
        self._log_seq = itertools.count(1)

    # --- registration (Python API) -----------------------------------------------------------
    def register_shop(self, shop_id: int | str, *, app_key: str | None = None, app_secret: str | None = None,
                      shop_name: str | None = None, callback_url: str | None = None) -> tuple[DouyinApp, DouyinShop]:
        sid = int(shop_id)
        h = hashlib.sha256(f"{self.knobs.seed}:{sid}".encode()).hexdigest()
        with self.lock:
            key = app_key or str(int(h[:12], 16) % 10**19)
            app = self.apps.get(key) or DouyinApp(key, app_secret or h[12:44])
            if app_secret:
                app.app_secret = app_secret
            if callback_url:
                app.callback_url = callback_url
            self.apps[key] = app
            shop = DouyinShop(sid, shop_name or f"shop {sid}", key)
            self.shops[sid] = shop
        return app, shop

    def set_callback(self, app_key: str, url: str | None) -> None:
        with self.lock:
            self.apps[app_key].callback_url = url

    def authorization_code(self, shop_id: int | str) -> str:
        code = hashlib.sha256(f"code:{shop_id}:{len(self.codes)}".encode()).hexdigest()[:24]
        with self.lock:
            self.codes[code] = int(shop_id)
        return code

    def callback_for(self, shop: str):
        s = self.shops.get(int(shop))
        app = self.apps.get(s.app_key) if s else None
        return app.callback_url if app and app.callback_url else None

    # --- envelope -------------------------------------------------------------------------------------
    def _reply(self, code: int = OK, data: Any = None, sub_code: str = "", sub_msg: str = "") -> Reply:
        log_id = f"{cst_time(self.clock()).replace('-', '').replace(' ', '').replace(':', '')}" \
                 f"{next(self._log_seq):012d}"
        return Reply.of({"code": code, "msg": _MESSAGES.get(code, "error"), "sub_code": sub_code,
                         "sub_msg": sub_msg, "log_id": log_id, "data": {} if data is None else data})

    def _param(self, field: str, msg: str) -> Reply:
        return self._reply(PARAM, sub_code=f"isv.parameter-invalid:{field}", sub_msg=msg)

    def rate_limited_reply(self) -> Reply:
        return self._reply(RATE, sub_code="isv.access-limited", sub_msg="调用过于频繁，请稍后再试")

    def busy_reply(self) -> Reply:
        return self._reply(BUSY, sub_code="isp.service-error", sub_msg="服务暂不可用，请稍后重试")

    # --- dispatch ----------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Reply:
        from shangjia.channels import signing

        route = _ROUTES.get(req.path)
        if req.method != "POST" or route is None:
            return Reply(404, b"404 page not found", "text/plain")
        q = req.query
        for name in ("app_key", "method", "timestamp", "sign", "v"):
            if not q.get(name):
                return self._reply(MISSING, sub_code=f"isv.missing-parameter:{name}", sub_msg=f"缺少参数 {name}")
        method = req.path.strip("/").replace("/", ".")
        if q["method"] != method:
            return self._param("method", f"method {q['method']} does not match the path {req.path}")
        if q["v"] != "2":
            return self._param("v", "v must be 2")
        sign_method = q.get("sign_method") or "md5"
        if sign_method not in ("md5", "hmac-sha256"):
            return self._param("sign_method", "sign_method must be md5 or hmac-sha256")
        app = self.apps.get(q["app_key"])
        if app is None:
            return self._param("app_key", "app_key does not exist")
        try:
            param_json = req.body.decode("utf-8")
        except UnicodeDecodeError:
            return self._param("param_json", "param_json is not UTF-8")
        expected = signing.douyin_sign(app.app_key, app.app_secret, method, param_json, q["timestamp"],
                                       q["v"], sign_method=sign_method)
        if not hmac.compare_digest(expected, q["sign"]):
            return self._reply(SIGN, sub_code="isv.signature-invalid", sub_msg="签名校验失败")
        if self.knobs.douyin_max_skew_s is not None:
            t = self._timestamp(q["timestamp"])
            if t is None or abs(t - self.clock()) > self.knobs.douyin_max_skew_s:
                return self._param("timestamp", "timestamp is invalid or too far from the server's time")
        try:
            params = json.loads(param_json) if param_json else None
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return self._param("param_json", "param_json must be a JSON object")
        if method.startswith("token."):
            return getattr(self, route)(app, params)
        token = q.get("access_token")
        if not token:
            return self._reply(MISSING, sub_code="isv.missing-parameter:access_token", sub_msg="缺少 access_token")
        with self.lock:
            rec = self.tokens.get(token)
        if rec is None or rec["app_key"] != app.app_key:
            return self._reply(TOKEN_INVALID, sub_code="isv.access-token-no-exist", sub_msg="access_token不存在")
        if self.clock() >= rec["expires"]:
            return self._reply(TOKEN_EXPIRED, sub_code="isv.access-token-expired", sub_msg="access_token已过期")
        return getattr(self, route)(self.shops[rec["shop_id"]], params)

    def _timestamp(self, ts: str) -> float | None:
        if ts.isdigit():
            n = int(ts)
            return n / 1000 if n > 10**11 else float(n)
        try:
            return datetime.strptime(ts, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).timestamp()
        except ValueError:
            return None

    # --- tokens ---------------------------------------------------------------------------------------
    def _issue(self, shop: DouyinShop) -> Reply:
        now = self.clock()
        rng = self.draw("token", shop.shop_id)
        access = f"{rng.getrandbits(128):032x}-{shop.shop_id}"
        refresh = f"{rng.getrandbits(128):032x}-r{shop.shop_id}"
        with self.lock:
            self.tokens[access] = {"shop_id": shop.shop_id, "app_key": shop.app_key, "expires": now + ACCESS_TTL_S}
            self.refresh_tokens[refresh] = {"shop_id": shop.shop_id, "app_key": shop.app_key,
                                            "expires": now + REFRESH_TTL_S, "used": False}
        return self._reply(data={"access_token": access, "expires_in": ACCESS_TTL_S, "refresh_token": refresh,
                                 "scope": "SCOPE", "shop_id": shop.shop_id, "shop_name": shop.shop_name,
                                 "authority_id": str(shop.shop_id), "auth_subject_type": "MiniShop"})

    def token_create(self, app: DouyinApp, p: dict) -> Reply:
        grant = p.get("grant_type")
        if grant == "authorization_self":
            if str(p.get("test_shop", "")) == "1":
                shops = [s for s in self.shops.values() if s.app_key == app.app_key]
                shop = shops[0] if shops else None
            else:
                sid = p.get("shop_id")
                shop = self.shops.get(int(sid)) if str(sid or "").isdigit() else None
        elif grant == "authorization_code":
            with self.lock:
                sid = self.codes.pop(str(p.get("code") or ""), None)
            shop = self.shops.get(sid) if sid is not None else None
        else:
            return self._param("grant_type", "grant_type must be authorization_self or authorization_code")
        if shop is None or shop.app_key != app.app_key:
            return self._reply(BUSINESS, sub_code="isv.business-failed:shop-not-authorized",
                               sub_msg="店铺未授权该应用")
        return self._issue(shop)

    def token_refresh(self, app: DouyinApp, p: dict) -> Reply:
        if p.get("grant_type") != "refresh_token":
            return self._param("grant_type", "grant_type must be refresh_token")
        with self.lock:
            rec = self.refresh_tokens.get(str(p.get("refresh_token") or ""))
            if rec is None or rec["used"] or rec["app_key"] != app.app_key:
                return self._reply(BUSINESS, sub_code="isv.business-failed:refresh-token-invalid",
                                   sub_msg="refresh_token无效")
            if self.clock() >= rec["expires"]:
                return self._reply(BUSINESS, sub_code="isv.business-failed:refresh-token-expired",
                                   sub_msg="refresh_token已过期")
            rec["used"] = True
        return self._issue(self.shops[rec["shop_id"]])

    # --- endpoints ----------------------------------------------------------------------------------
    def upload_image(self, shop: DouyinShop, p: dict) -> Reply:
        url = p.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return self._param("url", "url must be a reachable http(s) URL")
        name = p.get("material_name") or ""
        if len(name) > 50:
            return self._param("material_name", "material_name at most 50 characters")
        digest = hashlib.sha256(f"{shop.shop_id}|{url}".encode()).hexdigest()
        byte_url = f"{MATERIAL_PREFIX}{digest[:32]}~tplv-jcfiwq4oqe-image.jpeg"
        mid = str(int(digest[32:48], 16) % 10**19)
        with self.lock:
            is_new = byte_url not in self.materials
            self.materials[byte_url] = {"material_id": mid, "origin_url": url, "shop_id": shop.shop_id}
        return self._reply(data={"material_id": mid, "folder_id": str(p.get("folder_id") or "0"),
                                 "material_type": "photo", "material_name": name, "origin_url": url,
                                 "byte_url": byte_url, "audit_status": 3, "is_new_material": is_new})

    def _check(self, p: dict) -> tuple[Reply | None, list[tuple[str, list[str]]] | None, list[dict] | None]:
        name = p.get("name")
        if not isinstance(name, str) or not name.strip():
            return self._param("name", "name is required"), None, None
        if name_width(name) > 60:
            return self._param("name", "name at most 60 characters (30 Chinese characters)"), None, None
        if any(ord(ch) > 0xFFFF for ch in name):
            return self._param("name", "name cannot contain emoji"), None, None
        cat = p.get("category_leaf_id")
        if not is_int(cat) or cat <= 0:
            return self._param("category_leaf_id", "category_leaf_id must be a positive integer"), None, None
        pic = p.get("pic")
        pics = pic.split("|") if isinstance(pic, str) and pic else []
        if not 1 <= len(pics) <= 5:
            return self._param("pic", "pic needs 1 to 5 images joined by |"), None, None
        desc = [u for u in str(p.get("description") or "").split("|") if u]
        spec_pic = [u for u in str(p.get("spec_pic") or "").split(",") if u]
        if len(pics) + len(desc) + len(spec_pic) > 50:
            return self._param("pic", "pic + description + spec_pic at most 50 images"), None, None
        if self.knobs.douyin_require_material_urls:
            for u in pics:
                if u not in self.materials:
                    return self._param("pic", f"image must come from the material centre: {u}"), None, None
        groups = parse_specs(p.get("specs")) if isinstance(p.get("specs"), str) else None
        if groups is None:
            return self._param("specs", "specs must be 规格|值1,值2^规格2|值… (at most 3 groups)"), None, None
        raw = p.get("spec_prices")
        try:
            prices = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            prices = None
        if not isinstance(prices, list) or not all(isinstance(x, dict) for x in prices):
            return self._param("spec_prices", "spec_prices must be a JSON string of an array"), None, None
        combos = 1
        for _, vals in groups:
            combos *= len(vals)
        if len(prices) != combos:
            return self._param("spec_prices", f"spec_prices has {len(prices)} entries, the specs make {combos}"), \
                None, None
        seen = set()
        for x in prices:
            combo = tuple(x.get(f"spec_detail_name{i + 1}") for i in range(len(groups)))
            if any(c not in groups[i][1] for i, c in enumerate(combo)) or combo in seen:
                return self._param("spec_prices", f"spec_prices entry {combo} is not a distinct combination of the specs"), \
                    None, None
            seen.add(combo)
            if not is_int(x.get("price")) or x["price"] <= 0:
                return self._param("price", "price must be a positive integer in fen (分)"), None, None
            if not is_int(x.get("stock_num")) or x["stock_num"] < 0:
                return self._param("stock_num", "stock_num must be a non-negative integer"), None, None
        if "commit" in p and not isinstance(p["commit"], bool):
            return self._param("commit", "commit must be a boolean"), None, None
        return None, groups, prices

    def _skus(self, rec: dict[str, Any], groups, prices: list[dict]) -> list[dict[str, Any]]:
        ids = rec.setdefault("sku_ids", {})
        stock = rec.setdefault("stock", {})
        out = []
        for x in prices:
            combo = tuple(x.get(f"spec_detail_name{i + 1}") for i in range(len(groups)))
            if combo not in ids:
                ids[combo] = self.new_id("sku_id", (rec["product_id"], combo))
            sid = ids[combo]
            stock[sid] = x["stock_num"]
            detail_ids = [hash_id(rec["product_id"], g[0], c) for g, c in zip(groups, combo)]
            sku = {"sku_id": sid, "outer_sku_id": x.get("outer_sku_id", ""), "out_sku_id": x.get("out_sku_id", 0),
                   "code": x.get("code", ""), "spec_detail_ids": detail_ids}
            for i, d in enumerate(detail_ids):
                sku[f"spec_detail_id{i + 1}"] = d
            out.append(sku)
        rec["skus"] = out
        return out

    def product_add(self, shop: DouyinShop, p: dict) -> Reply:
        bad, groups, prices = self._check(p)
        if bad:
            return bad
        out_id = str(p.get("outer_product_id") or p.get("out_product_id") or "")
        rec = {"draft": copy.deepcopy(p), "online": None, "status": STATUS_OFFLINE, "check_status": CHECK_NONE,
               "audit_reason": ""}
        pid = self.add_product(str(shop.shop_id), out_id, rec)
        with self.lock:
            skus = self._skus(rec, groups, prices)
        if p.get("commit") is True:
            self.submit_audit(pid)
        return self._reply(data={"product_id": pid, "out_product_id": p.get("out_product_id", 0),
                                 "outer_product_id": p.get("outer_product_id", ""),
                                 "create_time": cst_time(rec["created_at"]), "sku": skus})

    def _find(self, shop: DouyinShop, p: dict) -> tuple[dict | None, Reply | None]:
        pid = p.get("product_id")
        with self.lock:
            if pid not in (None, ""):
                if not (is_int(pid) or str(pid).isdigit()):
                    return None, self._param("product_id", "product_id must be a number")
                rec = self.products.get(int(pid))
            else:
                out = p.get("outer_product_id") or p.get("out_product_id")
                if out in (None, ""):
                    return None, self._reply(MISSING, sub_code="isv.missing-parameter:product_id",
                                             sub_msg="product_id or out_product_id is required")
                ids = self.by_out.get((str(shop.shop_id), str(out))) or []
                rec = self.products.get(ids[-1]) if ids else None
        if rec is None or rec["shop"] != str(shop.shop_id):
            return None, self._reply(BUSINESS, sub_code="isv.business-failed:product-not-found", sub_msg="商品不存在")
        return rec, None

    def product_edit(self, shop: DouyinShop, p: dict) -> Reply:
        rec, bad = self._find(shop, {"product_id": p.get("product_id")})
        if bad:
            return bad
        merged = {**rec["draft"], **{k: v for k, v in p.items() if k != "product_id"}}
        bad, groups, prices = self._check(merged)
        if bad:
            return bad
        with self.lock:
            rec["draft"] = merged
            rec["updated_at"] = self.clock()
            if rec["check_status"] != CHECK_AUDITING:
                rec["check_status"] = CHECK_NONE
            self._skus(rec, groups, prices)
        if p.get("commit") is True:
            self.submit_audit(rec["product_id"])
        return self._reply(data={})

    def product_detail(self, shop: DouyinShop, p: dict) -> Reply:
        rec, bad = self._find(shop, p)
        if bad:
            return bad
        with self.lock:
            draft = str(p.get("show_draft", "")).lower() == "true" or rec["online"] is None
            src = rec["draft"] if draft else rec["online"]
            prices = json.loads(src["spec_prices"])
            spec_prices = []
            groups = parse_specs(src["specs"])
            for x in prices:
                combo = tuple(x.get(f"spec_detail_name{i + 1}") for i in range(len(groups)))
                sid = rec["sku_ids"][combo]
                spec_prices.append({**x, "sku_id": sid, "stock_num": rec["stock"].get(sid, 0)})
            data = {"product_id": rec["product_id"],
                    "out_product_id": src.get("out_product_id", 0),
                    "outer_product_id": src.get("outer_product_id", ""), "name": src["name"],
                    "pic": src["pic"].split("|"), "description": src.get("description", ""),
                    "category_leaf_id": src["category_leaf_id"], "specs": src["specs"],
                    "spec_prices": spec_prices, "status": rec["status"], "check_status": rec["check_status"],
                    "audit_reason": rec["audit_reason"], "draft_status": 1 if draft else 0,
                    "create_time": cst_time(rec["created_at"]), "update_time": cst_time(rec["updated_at"])}
        return self._reply(data=data)

    def sync_stock(self, shop: DouyinShop, p: dict) -> Reply:
        rec, bad = self._find(shop, {"product_id": p.get("product_id")})
        if bad:
            return bad
        stock_num, incremental = p.get("stock_num"), p.get("incremental", False)
        if not is_int(stock_num) or stock_num < 0:
            return self._param("stock_num", "stock_num must be a non-negative integer")
        with self.lock:
            sku = None
            for s in rec["skus"]:
                if (p.get("sku_id") and str(s["sku_id"]) == str(p["sku_id"])) or \
                        (p.get("code") and s["code"] == p["code"]) or \
                        (p.get("outer_sku_id") and s["outer_sku_id"] == p["outer_sku_id"]):
                    sku = s
                    break
            if sku is None:
                return self._reply(BUSINESS, sub_code="isv.business-failed:sku-not-found", sub_msg="SKU不存在")
            cur = rec["stock"].get(sku["sku_id"], 0)
            rec["stock"][sku["sku_id"]] = cur + stock_num if incremental else stock_num
        return self._reply(data={})

    # --- audit ----------------------------------------------------------------------------------------
    def build_push(self, rec: dict[str, Any], verdict: str, reason: str | None):
        shop = self.shops[int(rec["shop"])]
        app = self.apps[shop.app_key]
        msg_id = f"{int(self.clock() * 1000)}{rec['product_id'] % 10**6:06d}{rec['submissions']:03d}"
        data = {"product_id": rec["product_id"], "outer_product_id": rec["out_id"], "shop_id": shop.shop_id,
                "event": 4 if verdict == "approved" else 5, "status": rec["status"],
                "check_status": rec["check_status"], "audit_reason": rec["audit_reason"],
                "reason_code": reason or "", "update_time": int(self.clock())}
        return signed_push(app, AUDIT_TAG, msg_id, data)


def signed_push(app: DouyinApp, tag: str, msg_id: str, data: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    """(url, body, headers) of a push to the app's callback URL: ``[{tag, msg_id, data: "<json>"}]``
    with ``app-id`` and ``event-sign`` (``signing.douyin_event_sign``)."""
    from shangjia.channels import signing

    body = json.dumps([{"tag": tag, "msg_id": msg_id, "data": json.dumps(data, ensure_ascii=False, separators=(",", ":"))}],
                      ensure_ascii=False, separators=(",", ":")).encode()
    return app.callback_url, body, {"app-id": app.app_key,
                                    "event-sign": signing.douyin_event_sign(app.app_key, app.app_secret, body)}


def hash_id(pid: int, name: str, value: str) -> int:
    return int(hashlib.sha256(f"{pid}|{name}|{value}".encode()).hexdigest()[:15], 16) % 10**18


# order message tags (zsmhub/doudian-sdk message/: 订单创建 100, 订单支付/确认 101, 订单取消 106,
# 退款成功 206; docs op.jinritemai.com/docs/message-docs/30/109, /30/110, /30/123, /31/121)
ORDER_TAGS = {"created": "100", "paid": "101", "cancelled": "106", "refunded": "206"}
# orderDetail ``order_status``: 1 awaiting payment, 2 awaiting shipment, 4 cancelled (Douyin's codes)
ORDER_STATUS = {"created": 1, "paid": 2, "cancelled": 4, "refunded": 4}


def _order_methods():
    """Order support, added to ``DouyinSim`` below (kept apart from the product API above)."""

    def sku_id_of(self, rec: dict[str, Any], code: str):
        return next((s["sku_id"] for s in rec.get("skus") or [] if s.get("code") == str(code)), None)

    def build_order_push(self, order: dict[str, Any], event: str):
        shop = self.shops[int(order["shop"])]
        app = self.apps[shop.app_key]
        now = int(self.clock())
        s_ids = [int(order["order_id"]) * 10 + i + 1 for i in range(len(order["lines"]))]
        data: dict[str, Any] = {"p_id": int(order["order_id"]), "s_ids": s_ids, "shop_id": shop.shop_id,
                                "order_status": ORDER_STATUS[event], "order_type": 0, "biz": 2}
        if event == "created":
            data["create_time"] = now
        elif event == "paid":
            data.update(pay_time=now, pay_type=1,
                        pay_amount=sum(x["qty"] for x in order["lines"]) * 100)
        elif event == "cancelled":
            data.update(cancel_time=now, cancel_reason="买家取消")
        else:
            data = {"p_id": int(order["order_id"]), "s_id": s_ids[0], "shop_id": shop.shop_id,
                    "aftersale_id": int(order["order_id"]) + 7, "aftersale_status": 12, "success_time": now}
        msg_id = f"{order['order_id']}{ORDER_TAGS[event]}"
        return signed_push(app, ORDER_TAGS[event], msg_id, data)

    def order_detail_api(self, shop: DouyinShop, p: dict) -> Reply:
        """``/order/orderDetail`` ``{shop_order_id}``: ``data.shop_order_detail`` with its
        ``sku_order_list`` (our SKU code as ``code``, the count as ``item_num``)."""
        o = self.order_detail(str(p.get("shop_order_id") or ""))
        if o is None or int(o["shop"]) != shop.shop_id:
            return self._reply(BUSINESS, sub_code="isv.business-failed:order-not-found", sub_msg="订单不存在")
        skus = [{"order_id": str(int(o["order_id"]) * 10 + i + 1), "parent_order_id": o["order_id"],
                 "product_id": x["product_id"], "product_id_str": str(x["product_id"]), "sku_id": x["sku_id"],
                 "code": x["code"], "out_product_id": x["out_product_id"], "item_num": x["qty"]}
                for i, x in enumerate(o["lines"])]
        return self._reply(data={"shop_order_detail": {
            "order_id": o["order_id"], "order_status": ORDER_STATUS.get(o["status"], 1),
            "create_time": int(o["created_at"]), "sku_order_list": skus}})

    def add_listed_product(self, shop_id: int | str, out_id: str, stock: dict[str, int]) -> int:
        """A product already online in the shop (listed before we came: a store moving to us),
        one SKU per code with its platform stock; returns the product id. Python API, like
        ``register_shop``: the order proofs sell it without going through audit."""
        doc = {"name": out_id, "pic": "", "description": "", "category_leaf_id": 0, "outer_product_id": out_id,
               "specs": "规格|" + ",".join(stock),
               "spec_prices": json.dumps([{"spec_detail_name1": c, "code": c, "outer_sku_id": c, "price": 100,
                                           "stock_num": int(n)} for c, n in stock.items()], ensure_ascii=False)}
        rec: dict[str, Any] = {"draft": doc, "online": copy.deepcopy(doc), "status": STATUS_ONLINE,
                               "check_status": CHECK_APPROVED, "audit_reason": "", "sku_ids": {}, "stock": {}}
        pid = self.add_product(str(int(shop_id)), out_id, rec)
        with self.lock:
            rec["skus"] = []
            for code, n in stock.items():
                sid = self.new_id("sku_id", (pid, code))
                rec["sku_ids"][(code,)] = sid
                rec["stock"][sid] = int(n)
                rec["skus"].append({"sku_id": sid, "outer_sku_id": code, "out_sku_id": 0, "code": code,
                                    "spec_detail_ids": []})
        return pid

    return {"sku_id_of": sku_id_of, "build_order_push": build_order_push, "order_detail_api": order_detail_api,
            "add_listed_product": add_listed_product}


for _name, _fn in _order_methods().items():
    setattr(DouyinSim, _name, _fn)


_ROUTES = {
    "/order/orderDetail": "order_detail_api",
    "/token/create": "token_create",
    "/token/refresh": "token_refresh",
    "/material/uploadImageSync": "upload_image",
    "/product/addV2": "product_add",
    "/product/editV2": "product_edit",
    "/product/detail": "product_detail",
    "/sku/syncStock": "sync_stock",
}


# --- after-sales (售后): a refund of part of an order -----------------------------------------------
# The 206 退款成功 push carries ``{p_id, s_id, shop_id, aftersale_id, aftersale_status,
# aftersale_type, refund_amount, success_time}`` (bububa/jinritemai-go message/refund RefundSuccess),
# no count; ``/afterSale/Detail`` ``{after_sale_id}`` answers ``process_info.after_sale_info
# {after_sale_id, after_sale_status, after_sale_type, refund_status, after_sale_apply_count,
# part_type}`` and ``order_info {shop_order_id, sku_order_infos [{sku_order_id, sku_id, product_id,
# shop_sku_code, item_quantity, after_sale_item_count}]}`` (an ecommerce.sdk.douyin
# AfterSaleDetailReq). The order pushes' whole-order "refunded" (aftersale_id = order id + 7) is
# answered too: every line, all its units.


def _aftersale_methods():
    """After-sale support, added to ``DouyinSim`` below."""

    def _aftersales(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self.__dict__.setdefault("aftersales", {})

    def open_aftersale(self, order_id: str, code: str, count: int, *, refund_type: int = 1) -> str:
        """The buyer's after-sale (refunded: status 12) of ``count`` units of SKU ``code`` of the
        order; its id. Python API (tests, proofs)."""
        o = self.order_detail(str(order_id))
        if o is None:
            raise KeyError(f"no order {order_id}")
        idx = next((k for k, x in enumerate(o["lines"]) if x["code"] == str(code)), None)
        if idx is None:
            raise KeyError(f"order {order_id} has no SKU {code}")
        if not 0 < int(count) <= o["lines"][idx]["qty"]:
            raise ValueError(f"count {count} is not within 1..{o['lines'][idx]['qty']}")
        book = self._aftersales()
        with self.lock:
            aid = str(self.draw("after_sale", (str(order_id), len(book))).randrange(10**18, 9 * 10**18))
            book[aid] = {"aftersale_id": aid, "order_id": str(order_id), "shop": o["shop"], "line": idx,
                         "count": int(count), "type": int(refund_type)}
        return aid

    def _aftersale(self, aid: str):
        """(the after-sale's order, [(line index, count)], type) or None."""
        rec = self._aftersales().get(str(aid))
        if rec is not None:
            return self.order_detail(rec["order_id"]), [(rec["line"], rec["count"])], rec["type"]
        try:
            o = self.order_detail(str(int(aid) - 7))           # the whole-order refund of an order push
        except ValueError:
            return None
        if o is None or o["status"] != "refunded":
            return None
        return o, [(k, x["qty"]) for k, x in enumerate(o["lines"])], 2

    def aftersale_refund_push(self, aid: str):
        """(url, body, headers) of the 206 退款成功 push for the after-sale, signed as the platform signs."""
        found = self._aftersale(aid)
        if found is None:
            raise KeyError(f"no after-sale {aid}")
        o, parts, typ = found
        shop = self.shops[int(o["shop"])]
        now = int(self.clock())
        idx, count = parts[0]
        data = {"p_id": int(o["order_id"]), "s_id": int(o["order_id"]) * 10 + idx + 1, "shop_id": shop.shop_id,
                "aftersale_id": int(aid), "aftersale_status": 12, "aftersale_type": typ,
                "refund_amount": count * 100, "refund_post_amount": 0, "success_time": now}
        return signed_push(self.apps[shop.app_key], "206", f"{aid}206", data)

    def push_aftersale(self, aid: str):
        """Build the 206 push and deliver it now (synchronously); the delivery is recorded."""
        from shangjia.localcloud.channels_sim.base import Push

        url, body, headers = self.aftersale_refund_push(aid)
        o = self._aftersale(aid)[0]
        push = Push(str(o["shop"]), 0, url, body, headers, "aftersale:refunded")
        self._deliver(push)
        return push

    def aftersale_detail_api(self, shop, p: dict) -> Reply:
        """``/afterSale/Detail`` ``{after_sale_id}``."""
        aid = str(p.get("after_sale_id") or "")
        found = self._aftersale(aid) if aid else None
        if found is None or int(found[0]["shop"]) != shop.shop_id:
            return self._reply(PARAM, sub_code="isv.parameter-invalid:11000", sub_msg="参数错误，售后单ID错误")
        o, parts, typ = found
        infos = [{"sku_order_id": int(o["order_id"]) * 10 + k + 1, "sku_id": o["lines"][k]["sku_id"],
                  "product_id": o["lines"][k]["product_id"], "shop_sku_code": o["lines"][k]["code"],
                  "item_quantity": o["lines"][k]["qty"], "after_sale_item_count": n} for k, n in parts]
        full = all(n == o["lines"][k]["qty"] for k, n in parts)
        return self._reply(data={
            "process_info": {"after_sale_info": {
                "after_sale_id": int(aid), "after_sale_status": 12, "after_sale_type": typ, "refund_status": 3,
                "after_sale_apply_count": sum(n for _, n in parts), "part_type": 0 if full else 1}},
            "order_info": {"shop_order_id": int(o["order_id"]), "sku_order_infos": infos}})

    return {"_aftersales": _aftersales, "open_aftersale": open_aftersale, "_aftersale": _aftersale,
            "aftersale_refund_push": aftersale_refund_push, "push_aftersale": push_aftersale,
            "aftersale_detail_api": aftersale_detail_api}


for _name, _fn in _aftersale_methods().items():
    setattr(DouyinSim, _name, _fn)
_ROUTES["/afterSale/Detail"] = "aftersale_detail_api"
