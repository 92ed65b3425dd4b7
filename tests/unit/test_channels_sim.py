"""The simulated WeChat Channels shop and Douyin shop (``shangjia.localcloud.channels_sim``) and the
loopback API gateway (``shangjia.localcloud.gateway``), over real HTTP on loopback, no moto:

- each endpoint's happy path, and each rejection with the platform's code (CHANNEL-APIS §1, §2);
- tokens: WeChat stable_token rotation, force refresh, expiry; Douyin create/refresh/expiry;
- WeChat's audit-submission quota (200/hour, on an injected clock) and per-minute limit;
- Douyin signatures verified with ``shangjia.channels.signing`` (wrong ones rejected);
- audit verdicts pushed to a tiny receiver with valid signatures; lost, duplicated, reordered pushes;
- fault knobs (5xx, 429, busy, time-out that still writes), determinism for a seed;
- the gateway: a request → a payload-2.0 event (fields asserted) → the function's answer.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from shangjia.channels import signing
from shangjia.localcloud.channels_sim import Channels, DouyinSim, Knobs, WechatSim
from shangjia.localcloud.channels_sim import douyin as dyc
from shangjia.localcloud.channels_sim import wechat as wxc
from shangjia.localcloud.gateway import Gateway


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def post(url: str, body: bytes | dict | str, *, headers: dict | None = None, timeout: float = 5.0):
    """(status, raw text) of a POST."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode()
    elif isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Receiver:
    """A tiny HTTP server that records every push and answers ``success``."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.event = threading.Event()
        self.fail_first = 0              # answer that many deliveries 503 (the receiver overloaded)
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                rec.got.append({"path": parts.path, "query": dict(parse_qsl(parts.query)),
                                "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                rec.event.set()
                if rec.fail_first > 0:
                    rec.fail_first -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, n: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.got) >= n:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def wx(clock):
    sim = WechatSim(Knobs(audit_delay_s=0.01, seed=3), clock=clock)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def dy(clock):
    sim = DouyinSim(Knobs(audit_delay_s=0.01, seed=3), clock=clock)
    sim.start()
    yield sim
    sim.stop()


# --- WeChat helpers --------------------------------------------------------------------------------

def wx_token(sim: WechatSim, shop, force: bool = False) -> dict:
    _, text = post(sim.url + "/cgi-bin/stable_token", {"grant_type": "client_credential", "appid": shop.appid,
                                                      "secret": shop.secret, "force_refresh": force})
    return json.loads(text)


def wx_call(sim: WechatSim, path: str, token: str | None, doc: dict, **query) -> tuple[dict, str]:
    q = {**({"access_token": token} if token else {}), **query}
    _, text = post(f"{sim.url}{path}?{urlencode(q)}", doc)
    return json.loads(text), text


def wx_spu(out: str = "SPU-001", **over) -> dict:
    img = "https://mmecimage.cn/p/wx123/"
    doc = {"out_product_id": out, "title": "任天堂 Switch 国行续航增强版 红蓝主机",
           "head_imgs": [img + "a", img + "b", img + "c"], "deliver_method": 0,
           "desc_info": {"imgs": [img + "d"]},
           "cats_v2": [{"cat_id": "10000111"}, {"cat_id": "10000113"}, {"cat_id": "6091"}],
           "attrs": [{"attr_key": "商品产地", "attr_value": "中国大陆"}],
           "skus": [{"out_sku_id": "SKU-1", "thumb_img": img + "a", "sale_price": 1300, "market_price": 1500,
                     "stock_num": 100, "sku_code": "A24525252",
                     "sku_attrs": [{"attr_key": "选择颜色", "attr_value": "红蓝主机"}]}]}
    doc.update(over)
    return doc


@pytest.fixture
def wshop(wx):
    shop = wx.register_shop("m1")
    return shop, wx_token(wx, shop)["access_token"]


# --- WeChat: tokens ----------------------------------------------------------------------------------

def test_wechat_stable_token_is_stable_then_rotates_with_five_minutes_of_overlap(wx, clock):
    shop = wx.register_shop("m1")
    a = wx_token(wx, shop)
    assert a["expires_in"] == 7200 and len(a["access_token"]) > 100
    clock.t += 1000
    b = wx_token(wx, shop)
    assert b == {"access_token": a["access_token"], "expires_in": 6200}
    clock.t += 6000                       # 200 s left: inside the last 5 minutes, a new token
    c = wx_token(wx, shop)
    assert c["access_token"] != a["access_token"] and c["expires_in"] == 7200
    assert wx_call(wx, "/channels/ec/product/list/get", a["access_token"], {})[0]["errcode"] == 0
    clock.t += 200                        # the old one's own expiry
    assert wx_call(wx, "/channels/ec/product/list/get", a["access_token"], {})[0]["errcode"] == wxc.EXPIRED_TOKEN
    assert wx_call(wx, "/channels/ec/product/list/get", c["access_token"], {})[0]["errcode"] == 0


def test_wechat_stable_token_rejections(wx):
    shop = wx.register_shop("m1")
    url = wx.url + "/cgi-bin/stable_token"
    assert json.loads(post(url, {"grant_type": "client_credential", "appid": "wxnope", "secret": "x"})[1])["errcode"] == 40013
    assert json.loads(post(url, {"grant_type": "client_credential", "appid": shop.appid, "secret": "x"})[1])["errcode"] == 40125
    assert json.loads(post(url, {"grant_type": "password", "appid": shop.appid, "secret": shop.secret})[1])["errcode"] == 40002


def test_wechat_force_refresh_invalidates_the_old_token_and_is_limited(wx, clock):
    shop = wx.register_shop("m1")
    old = wx_token(wx, shop)["access_token"]
    new = wx_token(wx, shop, force=True)["access_token"]
    assert new != old
    ans = wx_call(wx, "/channels/ec/product/list/get", old, {})[0]
    assert ans["errcode"] == wxc.INVALID_TOKEN == 40001 and "not latest" in ans["errmsg"]
    assert wx_call(wx, "/channels/ec/product/list/get", new, {})[0]["errcode"] == 0
    clock.t += 10
    assert wx_token(wx, shop, force=True)["errcode"] == 45011          # 30 s apart
    for _ in range(19):
        clock.t += 31
        assert "access_token" in wx_token(wx, shop, force=True)
    clock.t += 31
    assert wx_token(wx, shop, force=True)["errcode"] == 45009          # 20 a day


def test_wechat_business_calls_need_a_valid_token(wx):
    wx.register_shop("m1")
    path = "/channels/ec/product/get"
    assert wx_call(wx, path, None, {"product_id": "1"})[0]["errcode"] == 41001
    assert wx_call(wx, path, "forged", {"product_id": "1"})[0]["errcode"] == 40014


def test_wechat_expire_tokens_gives_42001(wx, wshop):
    _, token = wshop
    wx.expire_tokens()
    assert wx_call(wx, "/channels/ec/product/list/get", token, {})[0]["errcode"] == 42001


# --- WeChat: images and products -----------------------------------------------------------------------

def test_wechat_image_upload_by_url_and_the_params_in_the_body_mistake(wx, wshop):
    _, token = wshop
    path = "/channels/ec/basics/img/upload"
    ans, _ = wx_call(wx, path, token, {"img_url": "https://cdn.example.com/a.jpg"}, upload_type=1, resp_type=1)
    assert ans["errcode"] == 0 and ans["pic_file"]["img_url"].startswith("https://mmecimage.cn/p/")
    again, _ = wx_call(wx, path, token, {"img_url": "https://cdn.example.com/a.jpg"}, upload_type=1, resp_type=1)
    assert again["pic_file"] == ans["pic_file"]
    bad, _ = wx_call(wx, path, token, {"img_url": "https://cdn.example.com/a.jpg", "upload_type": 1, "resp_type": 1})
    assert bad["errcode"] == 10020055


def test_wechat_product_add_answers_a_19_digit_number_and_get_shows_the_draft(wx, wshop):
    _, token = wshop
    ans, text = wx_call(wx, "/channels/ec/product/add", token, wx_spu())
    assert ans["errcode"] == 0
    raw = re.search(r'"product_id":(\d+)[,}]', text).group(1)          # a JSON number, not a string
    assert len(raw) == 19 and int(raw) > 2**53 and int(raw) == ans["data"]["product_id"]
    got, text = wx_call(wx, "/channels/ec/product/get", token, {"product_id": raw, "data_type": 3})
    assert got["edit_product"]["edit_status"] == wxc.EDIT_EDITING and got["edit_product"]["out_product_id"] == "SPU-001"
    assert got["edit_product"]["skus"][0]["sku_id"] > 0 and "product" not in got
    assert wx.listings[("m1", "SPU-001")][0]["product_id"] == int(raw)
    assert wx_call(wx, "/channels/ec/product/get", token, {"product_id": "123"})[0]["errcode"] == wxc.NOT_FOUND


@pytest.mark.parametrize("over, code", [
    ({"head_imgs": ["https://img.example.com/a", "https://mmecimage.cn/p/b", "https://mmecimage.cn/p/c"]}, 10020035),
    ({"head_imgs": ["https://mmecimage.cn/p/a", "https://mmecimage.cn/p/b"]}, 10020035),
    ({"head_imgs": [f"https://mmecimage.cn/p/{i}" for i in range(10)]}, 10020035),
    ({"skus": []}, 10020013),
    ({"skus": [{"out_sku_id": f"S{i}", "sale_price": 100, "stock_num": 1} for i in range(501)]}, 10020013),
    ({"skus": [{"out_sku_id": "S", "sale_price": 0, "stock_num": 1}]}, 10020039),
    ({"skus": [{"out_sku_id": "S", "sale_price": 1500, "market_price": 1500, "stock_num": 1}]}, 10020040),
    ({"skus": [{"out_sku_id": "S", "sale_price": 12.5, "stock_num": 1}]}, 10020055),
    ({"skus": [{"out_sku_id": "S", "sale_price": 2_000_000_000, "stock_num": 1}]}, 10020028),
    ({"title": "短标题"}, 10020055),                       # fewer than 5 effective characters
    ({"title": "OnlyLettersTitle"}, 10020055),            # only letters
    ({"title": "好看的T恤" + "长" * 60}, 10020055),        # over 60
    ({"title": "好看的纯棉T恤😀"}, 10020055),               # a restricted symbol
    ({"cats_v2": [{"cat_id": 6091}]}, 10020055),          # ids are strings
])
def test_wechat_product_add_rejections(wx, wshop, over, code):
    _, token = wshop
    ans, _ = wx_call(wx, "/channels/ec/product/add", token, wx_spu(**over))
    assert ans["errcode"] == code, ans
    assert wx.listings == {}


def test_wechat_listing_audits_and_pushes_a_signed_verdict(wx, wshop, receiver):
    shop, token = wshop
    wx.set_callback("m1", receiver.url + "/callbacks/wechat", token="cb-token")
    pid = wx_call(wx, "/channels/ec/product/add", token, wx_spu())[0]["data"]["product_id"]
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": str(pid)})[0]["errcode"] == 0
    assert receiver.wait(1) and wx.wait_idle()
    push = receiver.got[0]
    q = push["query"]
    assert push["path"] == "/callbacks/wechat"
    assert signing.verify_wechat_push("cb-token", q["timestamp"], q["nonce"], q["signature"])
    assert not signing.verify_wechat_push("other", q["timestamp"], q["nonce"], q["signature"])
    ev = json.loads(push["body"])
    assert ev["Event"] == "product_spu_audit" and ev["MsgType"] == "event" and ev["ToUserName"] == shop.username
    audit = ev["ProductSpuAudit"]
    assert audit["product_id"] == str(pid) and audit["status"] == 3 and isinstance(audit["audit_info"], str)
    got = wx_call(wx, "/channels/ec/product/get", token, {"product_id": str(pid), "data_type": 3})[0]
    assert got["product"]["status"] == wxc.STATUS_LISTED and got["edit_product"]["edit_status"] == wxc.EDIT_APPROVED
    # listing again with nothing new: no audit, no quota
    before = len(wx.submissions["m1"])
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": pid})[0]["errcode"] == 0
    assert len(wx.submissions["m1"]) == before


def test_wechat_rejection_reason_is_pushed_and_readable(wx, wshop, receiver):
    _, token = wshop
    wx.knobs.audit_reject_rate = 1.0
    wx.knobs.reject_reasons = {"image": 1.0}
    wx.set_callback("m1", receiver.url)
    pid = wx_call(wx, "/channels/ec/product/add", token, wx_spu(listing=1))[0]["data"]["product_id"]
    assert receiver.wait(1)
    audit = json.loads(receiver.got[0]["body"])["ProductSpuAudit"]
    assert audit["status"] == 2 and "image" in audit["reason"]
    got = wx_call(wx, "/channels/ec/product/get", token, {"product_id": pid, "data_type": 2})[0]
    assert got["edit_product"]["edit_status"] == wxc.EDIT_REJECTED
    assert "image" in got["edit_product"]["audit_info"]["reject_reason"]


def test_wechat_update_stock_and_list(wx, wshop):
    _, token = wshop
    ids = [wx_call(wx, "/channels/ec/product/add", token, wx_spu(f"SPU-{i}"))[0]["data"]["product_id"]
           for i in range(3)]
    upd = wx_spu("SPU-0", title="任天堂 Switch 国行续航增强版 新款")
    ans = wx_call(wx, "/channels/ec/product/update", token, {**upd, "product_id": str(ids[0])})[0]
    assert ans["errcode"] == 0 and ans["data"]["product_id"] == ids[0]
    assert wx_call(wx, "/channels/ec/product/update", token,
                   {**upd, "out_product_id": "OTHER", "product_id": ids[0]})[0]["errcode"] == 10020055
    assert wx_call(wx, "/channels/ec/product/update", token,
                   {**wx_spu("SPU-0", skus=[]), "product_id": ids[0]})[0]["errcode"] == 10020013
    sku = wx_call(wx, "/channels/ec/product/get", token, {"product_id": ids[0], "data_type": 2}
                  )[0]["edit_product"]["skus"][0]["sku_id"]
    assert wx_call(wx, "/channels/ec/product/stock/update", token,
                   {"product_id": ids[0], "sku_id": str(sku), "diff_type": 3, "num": 7})[0]["errcode"] == 0
    assert wx_call(wx, "/channels/ec/product/stock/update", token,
                   {"product_id": ids[0], "sku_id": sku, "diff_type": 1, "num": 3})[0]["errcode"] == 0
    got = wx_call(wx, "/channels/ec/product/get", token, {"product_id": ids[0], "data_type": 2})[0]
    assert got["edit_product"]["skus"][0]["stock_num"] == 10
    assert not wx.submissions.get("m1")                      # stock updates take no audit quota
    page1 = wx_call(wx, "/channels/ec/product/list/get", token, {"page_size": 2})[0]
    page2 = wx_call(wx, "/channels/ec/product/list/get", token, {"page_size": 2, "next_key": page1["next_key"]})[0]
    assert page1["product_ids"] + page2["product_ids"] == ids and page1["total_num"] == 3 and page2["next_key"] == ""
    assert wx_call(wx, "/channels/ec/product/list/get", token, {"page_size": 31})[0]["errcode"] == 10020055


def test_wechat_audit_submission_quota_per_hour(wx, wshop, clock):
    _, token = wshop
    wx.knobs.audit_quota_hour = 3
    ids = [wx_call(wx, "/channels/ec/product/add", token, wx_spu(f"S{i}"))[0]["data"]["product_id"] for i in range(5)]
    for pid in ids[:3]:
        assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": pid})[0]["errcode"] == 0
    over = wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[3]})[0]
    assert over["errcode"] == 1002001 and "提审" in over["errmsg"]
    assert wx_call(wx, "/channels/ec/product/add", token, wx_spu("S9", listing=1))[0]["errcode"] == 1002001
    clock.t += 3601
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[3]})[0]["errcode"] == 0


def test_wechat_audit_submission_quota_default_is_200_an_hour(wx, wshop, clock):
    _, token = wshop
    pid = wx_call(wx, "/channels/ec/product/add", token, wx_spu())[0]["data"]["product_id"]
    wx.submissions["m1"] = [clock.t - 10] * 200
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": pid})[0]["errcode"] == 1002001


def test_wechat_audit_submission_quota_per_calendar_day(wx, clock):
    """1,000 a day per shop (CHANNEL-APIS §2.2), counted per calendar day in China time (the day our
    token bucket counts): the 4th of 3 is refused with 1002001 though the hour has room."""
    from shangjia.channels.throttle import day_index, day_start

    wx.knobs.audit_quota_day, wx.knobs.audit_quota_hour = 3, 200
    clock.t = day_start(day_index(clock.t)) + 20 * 3600 - 10          # 19:59:50 China time
    shop = wx.register_shop("m1")
    token = wx_token(wx, shop)["access_token"]
    ids = [wx_call(wx, "/channels/ec/product/add", token, wx_spu(f"D{i}"))[0]["data"]["product_id"] for i in range(5)]
    assert [wx_call(wx, "/channels/ec/product/listing", token, {"product_id": p})[0]["errcode"] for p in ids[:3]] \
        == [0, 0, 0]
    over = wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[3]})[0]
    assert over["errcode"] == 1002001 and over["errmsg"] == wxc.QUOTA_DAY_MSG
    assert wx_call(wx, "/channels/ec/product/add", token, wx_spu("D9", listing=1))[0]["errcode"] == 1002001
    clock.t = day_start(day_index(clock.t) + 1) - 1                   # 23:59:59: still today
    token = wx_token(wx, shop)["access_token"]
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[3]})[0]["errcode"] == 1002001
    clock.t += 1                                                      # 00:00 the next day
    assert wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[3]})[0]["errcode"] == 0
    # the hour's refusal keeps the platform's own words
    wx.knobs.audit_quota_hour = 1
    hour = wx_call(wx, "/channels/ec/product/listing", token, {"product_id": ids[4]})[0]
    assert hour["errcode"] == 1002001 and hour["errmsg"] == wxc.QUOTA_HOUR_MSG == "本店铺近1小时内提审次数超过限制"


def test_wechat_per_minute_limit(wx, wshop, clock):
    _, token = wshop
    wx.knobs.minute_limit = 2
    codes = [wx_call(wx, "/channels/ec/product/list/get", token, {})[0]["errcode"] for _ in range(3)]
    assert codes == [0, 0, 45011]
    clock.t += 60
    assert wx_call(wx, "/channels/ec/product/list/get", token, {})[0]["errcode"] == 0


def test_wechat_duplicate_adds_are_visible(wx, wshop):
    _, token = wshop
    wx_call(wx, "/channels/ec/product/add", token, wx_spu("SPU-D"))
    wx_call(wx, "/channels/ec/product/add", token, wx_spu("SPU-D"))
    assert wx.duplicates() == {("m1", "SPU-D"): 2}


# --- callbacks: lost, duplicated, reordered --------------------------------------------------------------

def test_lost_callbacks_are_never_pushed_but_product_get_has_the_verdict(wx, wshop, receiver):
    _, token = wshop
    wx.knobs.callback_loss_rate = 1.0
    wx.set_callback("m1", receiver.url)
    pid = wx_call(wx, "/channels/ec/product/add", token, wx_spu(listing=1))[0]["data"]["product_id"]
    assert wx.wait_idle() and len(wx.audits) == 1
    time.sleep(0.05)
    assert receiver.got == [] and wx.lost[0]["why"] == "lost"
    got = wx_call(wx, "/channels/ec/product/get", token, {"product_id": pid, "data_type": 3})[0]
    assert got["product"]["status"] == wxc.STATUS_LISTED


def test_an_unanswered_push_is_delivered_again_until_the_receiver_answers(wx, wshop, receiver):
    _, token = wshop
    wx.knobs.push_retry_delay_s = 0.05
    receiver.fail_first = 2
    wx.set_callback("m1", receiver.url)
    wx_call(wx, "/channels/ec/product/add", token, wx_spu(listing=1))
    assert receiver.wait(3) and wx.wait_idle()
    time.sleep(0.3)
    assert len(receiver.got) == 3 and len({g["body"] for g in receiver.got}) == 1     # the same message
    assert [(p.attempt, p.status) for p in wx.pushes] == [(1, 503), (2, 503), (3, 200)]


def test_a_push_is_given_up_after_the_platforms_retries(wx, wshop, receiver):
    _, token = wshop
    wx.knobs.push_retry_delay_s, wx.knobs.push_retries = 0.02, 2
    receiver.fail_first = 10
    wx.set_callback("m1", receiver.url)
    wx_call(wx, "/channels/ec/product/add", token, wx_spu(listing=1))
    assert receiver.wait(3) and wx.wait_idle()
    time.sleep(0.3)
    assert [p.status for p in wx.pushes] == [503, 503, 503]    # the first and two retries, then lost


def test_duplicated_callbacks_arrive_twice_with_the_same_body(dy, receiver):
    dy.knobs.callback_dup_rate = 1.0
    app, _ = dy.register_shop(1001, callback_url=receiver.url)
    token = dy_token(dy, app, 1001)["access_token"]
    pid = dy_add(dy, app, token, commit=True)["data"]["product_id"]
    assert receiver.wait(2) and dy.wait_idle()
    a, b = receiver.got
    assert a["body"] == b["body"]
    msgs = json.loads(a["body"])
    assert msgs[0]["msg_id"] == json.loads(b["body"])[0]["msg_id"]
    assert json.loads(msgs[0]["data"])["product_id"] == pid


def test_reordered_callbacks_arrive_after_a_later_verdict(wx, wshop, receiver):
    _, token = wshop
    wx.set_callback("m1", receiver.url)
    wx.knobs.audit_reject_rate, wx.knobs.callback_reorder_rate, wx.knobs.reorder_delay_s = 1.0, 1.0, 0.4
    pid = wx_call(wx, "/channels/ec/product/add", token, wx_spu(listing=1))[0]["data"]["product_id"]
    deadline = time.monotonic() + 5
    while not wx.audits and time.monotonic() < deadline:
        time.sleep(0.01)
    wx.knobs.audit_reject_rate, wx.knobs.callback_reorder_rate = 0.0, 0.0
    upd = {**wx_spu(title="任天堂 Switch 国行 修改后标题"), "product_id": pid, "listing": 1}
    assert wx_call(wx, "/channels/ec/product/update", token, upd)[0]["errcode"] == 0
    assert receiver.wait(2)
    statuses = [json.loads(g["body"])["ProductSpuAudit"]["status"] for g in receiver.got]
    assert statuses == [3, 2]                   # approved (newer) first, the stale rejection last
    got = wx_call(wx, "/channels/ec/product/get", token, {"product_id": pid, "data_type": 3})[0]
    assert got["product"]["status"] == wxc.STATUS_LISTED


# --- faults --------------------------------------------------------------------------------------------

def test_fault_knobs_5xx_429_busy_write_nothing(wx, wshop):
    _, token = wshop
    url = f"{wx.url}/channels/ec/product/add?access_token={token}"
    wx.knobs.error_5xx_rate = 1.0
    assert post(url, wx_spu())[0] == 503
    wx.knobs.error_5xx_rate, wx.knobs.rate_429_rate = 0.0, 1.0
    status, text = post(url, wx_spu())
    assert status == 429 and json.loads(text)["errcode"] == 45011
    wx.knobs.rate_429_rate, wx.knobs.busy_rate = 0.0, 1.0
    status, text = post(url, wx_spu())
    assert status == 200 and json.loads(text)["errcode"] == -1
    assert wx.listings == {}


def test_a_time_out_still_applies_the_write(wx, wshop):
    _, token = wshop
    wx.knobs.timeout_rate, wx.knobs.timeout_sleep_s = 1.0, 1.0
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        post(f"{wx.url}/channels/ec/product/add?access_token={token}", wx_spu("SPU-T"), timeout=0.3)
    assert len(wx.listings[("m1", "SPU-T")]) == 1            # the uncertain result: it was written
    assert ("/channels/ec/product/add", "timeout") in wx.requests


def test_draws_are_deterministic_for_a_seed():
    def run(seed):
        sim = WechatSim(Knobs(seed=seed, audit_delay_s=0.0, audit_reject_rate=0.5, error_5xx_rate=0.3))
        sim.start()
        try:
            shop = sim.register_shop("m1")
            token = wx_token(sim, shop)["access_token"]
            outcomes = []
            for i in range(12):
                status, text = post(f"{sim.url}/channels/ec/product/add?access_token={token}",
                                    wx_spu(f"S{i}", listing=1))
                outcomes.append(status if status != 200 else json.loads(text)["data"]["product_id"])
            sim.wait_idle()
            return outcomes, sorted((a["out_id"], a["verdict"], a["reason"]) for a in sim.audits)
        finally:
            sim.stop()

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert 503 in first[0] and {v for _, v, _ in first[1]} == {"approved", "rejected"}


# --- Douyin ---------------------------------------------------------------------------------------------

def dy_call(sim: DouyinSim, app, method: str, params: dict | str, token: str | None = None, *,
            sign_method: str = "hmac-sha256", sign: str | None = None, body: str | None = None,
            timestamp: str | None = None, drop: tuple = ()) -> dict:
    pj = signing.douyin_param_json(params)
    ts = timestamp or str(int(sim.clock()))
    q = {"app_key": app.app_key, "method": method, "timestamp": ts, "v": "2",
         "sign": sign or signing.douyin_sign(app.app_key, app.app_secret, method, pj, ts, "2", sign_method),
         "sign_method": sign_method}
    if token:
        q["access_token"] = token
    for d in drop:
        q.pop(d)
    _, text = post(f"{sim.url}/{method.replace('.', '/')}?{urlencode(q)}", (body if body is not None else pj),
                   headers={"Content-Type": "application/json;charset=UTF-8", "x-open-no-old-err-code": "1"})
    return json.loads(text) | {"_raw": text}


def dy_token(sim, app, shop_id) -> dict:
    ans = dy_call(sim, app, "token.create", {"code": "", "grant_type": "authorization_self", "shop_id": shop_id})
    assert ans["code"] == 10000, ans
    return ans["data"]


def dy_pics(sim, app, token, n=3) -> list[str]:
    out = []
    for i in range(n):
        ans = dy_call(sim, app, "material.uploadImageSync",
                      {"folder_id": "0", "url": f"https://cdn.example.com/{i}.jpg", "material_name": f"p{i}",
                       "need_distinct": True}, token)
        assert ans["code"] == 10000, ans
        out.append(ans["data"]["byte_url"])
    return out


def dy_product(pics, **over) -> dict:
    spec_prices = [{"spec_detail_name1": c, "spec_detail_name2": s, "stock_num": 10, "price": 9900,
                    "code": f"SKU-{c}-{s}"} for c in ("红色", "黑色") for s in ("M", "L")]
    p = {"outer_product_id": "SPU-001", "product_type": 0, "category_leaf_id": 20000, "name": "测试T恤 纯棉",
         "pic": "|".join(pics), "description": pics[0],
         "product_format_new": json.dumps({"1687": [{"value": 0, "name": "无品牌", "diy_type": 0}]}, ensure_ascii=False),
         "specs": "颜色|红色,黑色^尺码|M,L",
         "spec_prices": json.dumps(spec_prices, ensure_ascii=False, separators=(",", ":")),
         "pay_type": 1, "reduce_type": 1, "freight_id": 0, "mobile": "13800000000", "delivery_delay_day": 2,
         "supply_7day_return": 1, "standard_brand_id": 596120136, "commit": False}
    p.update(over)
    return p


def dy_add(sim, app, token, **over) -> dict:
    pics = dy_pics(sim, app, token)
    return dy_call(sim, app, "product.addV2", dy_product(pics, **over), token)


@pytest.fixture
def dshop(dy):
    app, shop = dy.register_shop(1001, shop_name="测试店")
    return app, dy_token(dy, app, 1001)["access_token"]


def test_douyin_token_create_refresh_and_expiry(dy, clock):
    app, _ = dy.register_shop(1001)
    t = dy_token(dy, app, 1001)
    assert t["expires_in"] == 604800 and t["shop_id"] == 1001 and t["refresh_token"]
    ok = dy_call(dy, app, "product.detail", {"product_id": "1"}, t["access_token"])
    assert ok["code"] == dyc.BUSINESS and ok["sub_code"].endswith("product-not-found")
    r = dy_call(dy, app, "token.refresh", {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert r["code"] == 10000 and r["data"]["access_token"] != t["access_token"]
    again = dy_call(dy, app, "token.refresh", {"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
    assert again["code"] != 10000 and "refresh-token-invalid" in again["sub_code"]     # single use
    clock.t += 7 * 86400
    exp = dy_call(dy, app, "product.detail", {"product_id": "1"}, r["data"]["access_token"])
    assert exp["code"] == dyc.TOKEN_EXPIRED and exp["sub_code"] == "isv.access-token-expired"
    r2 = dy_call(dy, app, "token.refresh", {"grant_type": "refresh_token", "refresh_token": r["data"]["refresh_token"]})
    assert r2["code"] == 10000                               # the refresh token lasts 14 days
    clock.t += 14 * 86400
    r3 = dy_call(dy, app, "token.refresh", {"grant_type": "refresh_token", "refresh_token": r2["data"]["refresh_token"]})
    assert "refresh-token-expired" in r3["sub_code"]
    other, _ = dy.register_shop(2002)
    no = dy_call(dy, other, "token.create", {"code": "", "grant_type": "authorization_self", "shop_id": 1001})
    assert no["code"] == dyc.BUSINESS and "not-authorized" in no["sub_code"]
    code = dy.authorization_code(2002)
    assert dy_call(dy, other, "token.create", {"code": code, "grant_type": "authorization_code"})["data"]["shop_id"] == 2002


def test_douyin_signature_and_token_rejections(dy, dshop):
    app, token = dshop
    params = {"product_id": "1"}
    bad = dy_call(dy, app, "product.detail", params, token, sign="0" * 64)
    assert bad["code"] == dyc.SIGN and bad["sub_code"] == "isv.signature-invalid" and bad["log_id"]
    # signed the canonical string, sent another spelling of the same JSON: rejected
    bad = dy_call(dy, app, "product.detail", params, token, body='{"product_id": "1"}')
    assert bad["sub_code"] == "isv.signature-invalid"
    # upper-case hex is not the platform's
    good_sig = signing.douyin_sign(app.app_key, app.app_secret, "product.detail",
                                   signing.douyin_param_json(params), str(int(dy.clock())))
    assert dy_call(dy, app, "product.detail", params, token, sign=good_sig.upper())["code"] == dyc.SIGN
    # md5, and md5 when sign_method is absent
    assert dy_call(dy, app, "product.detail", params, token, sign_method="md5")["code"] == dyc.BUSINESS
    pj = signing.douyin_param_json(params)
    ts = str(int(dy.clock()))
    md5 = signing.douyin_sign(app.app_key, app.app_secret, "product.detail", pj, ts, "2", "md5")
    ans = dy_call(dy, app, "product.detail", params, token, sign=md5, timestamp=ts, drop=("sign_method",))
    assert ans["code"] == dyc.BUSINESS                       # past the signature: product not found
    assert dy_call(dy, app, "product.detail", params, token, drop=("v",))["sub_code"] == "isv.missing-parameter:v"
    assert dy_call(dy, app, "product.detail", params)["sub_code"] == "isv.missing-parameter:access_token"
    assert dy_call(dy, app, "product.detail", params, "nope")["code"] == dyc.TOKEN_INVALID


def test_douyin_timestamp_skew_knob(dy, dshop, clock):
    app, token = dshop
    dy.knobs.douyin_max_skew_s = 600
    stale = str(int(clock.t) - 3600)
    assert dy_call(dy, app, "product.detail", {"product_id": "1"}, token, timestamp=stale)["sub_code"] \
        == "isv.parameter-invalid:timestamp"
    ms = str(int(clock.t * 1000))
    assert dy_call(dy, app, "product.detail", {"product_id": "1"}, token, timestamp=ms)["code"] == dyc.BUSINESS


def test_douyin_add_detail_edit_stock(dy, dshop):
    app, token = dshop
    ans = dy_add(dy, app, token)
    assert ans["code"] == 10000 and ans["msg"] == "success" and ans["sub_code"] == ""
    raw = re.search(r'"product_id":(\d+)[,}]', ans["_raw"]).group(1)
    assert len(raw) == 19 and int(raw) > 2**53
    assert len(ans["data"]["sku"]) == 4 and ans["data"]["outer_product_id"] == "SPU-001"
    det = dy_call(dy, app, "product.detail", {"outer_product_id": "SPU-001"}, token)["data"]
    assert det["product_id"] == int(raw) and det["check_status"] == dyc.CHECK_NONE and len(det["spec_prices"]) == 4
    e = dy_call(dy, app, "product.editV2", {"product_id": raw, "name": "测试T恤 新款"}, token)
    assert e["code"] == 10000
    det = dy_call(dy, app, "product.detail", {"product_id": raw, "show_draft": "true"}, token)["data"]
    assert det["name"] == "测试T恤 新款"
    sku = ans["data"]["sku"][0]
    assert dy_call(dy, app, "sku.syncStock", {"product_id": raw, "sku_id": str(sku["sku_id"]), "stock_num": 3,
                                             "incremental": False}, token)["code"] == 10000
    assert dy_call(dy, app, "sku.syncStock", {"product_id": raw, "code": sku["code"], "stock_num": 2,
                                             "incremental": True}, token)["code"] == 10000
    det = dy_call(dy, app, "product.detail", {"product_id": raw, "show_draft": "true"}, token)["data"]
    assert {x["sku_id"]: x["stock_num"] for x in det["spec_prices"]}[sku["sku_id"]] == 5
    assert dy_call(dy, app, "sku.syncStock", {"product_id": raw, "code": "NOPE", "stock_num": 1},
                   token)["sub_code"].endswith("sku-not-found")
    assert dy.listings[("1001", "SPU-001")][0]["product_id"] == int(raw)


def _one_combo_short(pics):
    sp = [{"spec_detail_name1": "红色", "spec_detail_name2": "M", "stock_num": 1, "price": 100}]
    return {"spec_prices": json.dumps(sp, ensure_ascii=False)}


@pytest.mark.parametrize("case, field", [
    ("count", "spec_prices"), ("pics", "pic"), ("name", "name"), ("float", "price"), ("string", "price"),
    ("zero", "price"), ("foreign_pic", "pic"), ("category", "category_leaf_id"), ("specs", "specs"),
    ("dup_combo", "spec_prices"),
])
def test_douyin_add_rejections(dy, dshop, case, field):
    app, token = dshop
    pics = dy_pics(dy, app, token, 6)

    def prices(**kw):
        sp = [{"spec_detail_name1": c, "spec_detail_name2": s, "stock_num": 1, "price": 100, **kw}
              for c in ("红色", "黑色") for s in ("M", "L")]
        return json.dumps(sp, ensure_ascii=False)

    over = {
        "count": _one_combo_short(pics),
        "pics": {"pic": "|".join(pics)},
        "name": {"name": "好" * 31},
        "float": {"spec_prices": prices(price=99.5)},
        "string": {"spec_prices": prices(price="9900")},
        "zero": {"spec_prices": prices(price=0)},
        "foreign_pic": {"pic": "https://cdn.example.com/x.jpg"},
        "category": {"category_leaf_id": "20000"},
        "specs": {"specs": "颜色"},
        "dup_combo": {"spec_prices": json.dumps([{"spec_detail_name1": "红色", "spec_detail_name2": "M",
                                                   "stock_num": 1, "price": 100}] * 4, ensure_ascii=False)},
    }[case]
    ans = dy_call(dy, app, "product.addV2", dy_product(pics[:3], **over), token)
    assert ans["code"] == dyc.PARAM and ans["sub_code"] == f"isv.parameter-invalid:{field}", ans
    assert dy.listings == {}


def test_douyin_name_counts_chinese_twice():
    assert dyc.name_width("好" * 30) == 60 and dyc.name_width("T恤") == 3


def test_douyin_audit_push_is_signed_and_detail_shows_the_verdict(dy, receiver):
    app, _ = dy.register_shop(1001, callback_url=receiver.url + "/callbacks/douyin")
    token = dy_token(dy, app, 1001)["access_token"]
    dy.knobs.audit_reject_rate, dy.knobs.reject_reasons = 1.0, {"qualification": 1.0}
    pid = dy_add(dy, app, token, commit=True)["data"]["product_id"]
    assert receiver.wait(1) and dy.wait_idle()
    push = receiver.got[0]
    assert push["path"] == "/callbacks/douyin" and push["headers"]["app-id"] == app.app_key
    assert signing.verify_douyin_event(app.app_key, app.app_secret, push["body"], push["headers"]["event-sign"])
    assert not signing.verify_douyin_event(app.app_key, "wrong", push["body"], push["headers"]["event-sign"])
    msgs = json.loads(push["body"])
    assert isinstance(msgs, list) and msgs[0]["tag"] == dyc.AUDIT_TAG and isinstance(msgs[0]["data"], str)
    data = json.loads(msgs[0]["data"])
    assert data["product_id"] == pid and data["check_status"] == dyc.CHECK_REJECTED and "qualification" in data["audit_reason"]
    det = dy_call(dy, app, "product.detail", {"product_id": pid}, token)["data"]
    assert det["check_status"] == dyc.CHECK_REJECTED and det["status"] == dyc.STATUS_OFFLINE
    # fixed and committed again: approved, online
    dy.knobs.audit_reject_rate = 0.0
    assert dy_call(dy, app, "product.editV2", {"product_id": pid, "commit": True}, token)["code"] == 10000
    assert receiver.wait(2) and dy.wait_idle()
    det = dy_call(dy, app, "product.detail", {"product_id": pid}, token)["data"]
    assert det["check_status"] == dyc.CHECK_APPROVED and det["status"] == dyc.STATUS_ONLINE


def test_channels_starts_both_and_keeps_a_listings_view(receiver):
    with Channels(Knobs(audit_delay_s=0.0)) as ch:
        assert set(ch.urls) == {"wechat", "douyin"}
        shop = ch.wechat.register_shop("m1")
        token = wx_token(ch.wechat, shop)["access_token"]
        wx_call(ch.wechat, "/channels/ec/product/add", token, wx_spu("A"))
        wx_call(ch.wechat, "/channels/ec/product/add", token, wx_spu("A"))
        app, _ = ch.douyin.register_shop(7)
        dy_add(ch.douyin, app, dy_token(ch.douyin, app, 7)["access_token"])
        assert set(ch.listings) == {("wechat", "m1", "A"), ("douyin", "7", "SPU-001")}
        assert ch.duplicates() == {("wechat", "m1", "A"): 2}
        assert ch.calls >= 6


# --- gateway --------------------------------------------------------------------------------------------

class FakeRuntime:
    def __init__(self, answer=None, error: Exception | None = None, delay: float = 0.0):
        self.events: list[tuple[str, dict]] = []
        self.answer, self.error, self.delay = answer, error, delay

    def invoke(self, key, event):
        self.events.append((key, event))
        if self.delay:
            time.sleep(self.delay)
        if self.error:
            raise self.error
        return self.answer(event) if callable(self.answer) else self.answer


def test_gateway_turns_a_request_into_a_payload_v2_event_and_returns_the_answer():
    rt = FakeRuntime(lambda ev: {"statusCode": 202, "headers": {"X-Seen": ev["rawPath"], "Content-Type": "text/plain"},
                                 "cookies": ["a=1"], "body": "success"})
    with Gateway(rt, {("POST", "/callbacks/wechat"): "channel_callbacks",
                      ("POST", "/callbacks/douyin"): "channel_callbacks", ("ANY", "/api"): "api"}) as gw:
        assert gw.url.startswith("http://127.0.0.1:")
        body = json.dumps({"Event": "product_spu_audit", "title": "上架"}, ensure_ascii=False).encode()
        req = urllib.request.Request(f"{gw.url}/callbacks/wechat?signature=abc&timestamp=1&nonce=2&nonce=3",
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json", "X-Custom-Header": "Yes",
                                              "Cookie": "s=1; t=2"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 202 and r.read() == b"success"
            assert r.headers["X-Seen"] == "/callbacks/wechat" and r.headers["Set-Cookie"] == "a=1"
    key, ev = rt.events[0]
    assert key == "channel_callbacks"
    assert ev["version"] == "2.0" and ev["routeKey"] == "POST /callbacks/wechat"
    assert ev["rawPath"] == "/callbacks/wechat" and ev["rawQueryString"] == "signature=abc&timestamp=1&nonce=2&nonce=3"
    assert ev["queryStringParameters"] == {"signature": "abc", "timestamp": "1", "nonce": "2,3"}
    assert ev["headers"]["x-custom-header"] == "Yes" and ev["headers"]["content-type"] == "application/json"
    assert all(k == k.lower() for k in ev["headers"]) and "cookie" not in ev["headers"]
    assert ev["cookies"] == ["s=1", "t=2"]
    assert ev["body"] == body.decode() and ev["isBase64Encoded"] is False
    ctx = ev["requestContext"]
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/callbacks/wechat"
    assert ctx["http"]["sourceIp"] == "127.0.0.1" and ctx["routeKey"] == ev["routeKey"] and ctx["stage"] == "$default"
    assert ctx["requestId"] and ctx["timeEpoch"] > 0 and ctx["domainName"] == "127.0.0.1"
    assert "pathParameters" not in ev


def test_gateway_proxy_routes_binary_bodies_and_errors():
    rt = FakeRuntime({"ok": True})                          # not a statusCode dict: 200 JSON
    with Gateway(rt, {("ANY", "/api"): "api", ("GET", "/api/health"): "health"}) as gw:
        status, text = post(gw.url + "/api/products/m1?x=1", b"\x89PNG\x00\xff",
                            headers={"Content-Type": "image/png"})
        assert status == 200 and json.loads(text) == {"ok": True}
        key, ev = rt.events[-1]
        assert key == "api" and ev["routeKey"] == "ANY /api/{proxy+}"
        assert ev["pathParameters"] == {"proxy": "products/m1"} and ev["requestContext"]["http"]["method"] == "POST"
        assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\x89PNG\x00\xff"
        with urllib.request.urlopen(gw.url + "/api/health", timeout=5) as r:
            assert r.status == 200
        assert rt.events[-1][0] == "health" and rt.events[-1][1]["routeKey"] == "GET /api/health"
        assert "body" not in rt.events[-1][1]
        assert post(gw.url + "/nowhere", b"{}")[0] == 404
        assert post(gw.url + "/apix", b"{}")[0] == 404             # prefixes match on segment boundaries
        rt.error = RuntimeError("boom")
        status, text = post(gw.url + "/api/x", b"{}")
        assert status == 500 and json.loads(text) == {"message": "Internal Server Error"}
    rt = FakeRuntime({"statusCode": 200}, delay=0.5)
    with Gateway(rt, {("POST", "/slow"): "slow"}, integration_timeout_s=0.1) as gw:
        assert post(gw.url + "/slow", b"{}")[0] == 503


def test_gateway_delivers_a_simulated_push_to_the_callback_function(receiver):
    """The platforms' push → gateway → the function's event carries what the handler verifies."""
    rt = FakeRuntime({"statusCode": 200, "body": "success"})
    with Gateway(rt, {("POST", "/callbacks/wechat"): "channel_callbacks"}) as gw, \
            Channels(Knobs(audit_delay_s=0.0)) as ch:
        shop = ch.wechat.register_shop("m1", callback_url=gw.url + "/callbacks/wechat", callback_token="tk")
        token = wx_token(ch.wechat, shop)["access_token"]
        wx_call(ch.wechat, "/channels/ec/product/add", token, wx_spu(listing=1))
        assert ch.wait_idle() and len(ch.wechat.pushes) == 1
        assert ch.wechat.pushes[0].status == 200 and ch.wechat.pushes[0].answer == b"success"
    _, ev = rt.events[0]
    q = ev["queryStringParameters"]
    assert signing.verify_wechat_push("tk", q["timestamp"], q["nonce"], q["signature"])
    assert json.loads(ev["body"])["Event"] == "product_spu_audit"
