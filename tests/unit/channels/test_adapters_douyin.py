"""The Douyin shop adapter: the signature on the wire (checked here with hashlib/hmac, not with
``signing``), tokens (create, refresh, both expiries in one write, retry once), image re-hosting,
addV2 / editV2, uncertain adds, error classes, 19-digit ids and the signed pushes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from shangjia.channels import ChannelError, Shop
from shangjia.channels import signing
from shangjia.channels.credentials import AttemptLog, token_key
from shangjia.channels.douyin import DouyinChannel, classify
from shangjia.localcloud.channels_sim.base import Knobs
from shangjia.localcloud.channels_sim.douyin import DouyinSim
from shangjia.ports import Transient

from .adapters_support import DictStore, Scripted, deps_fixture, product  # noqa: F401 — the deps fixture


@pytest.fixture
def sim():
    s = DouyinSim(Knobs(audit_delay_s=0.05))
    s.start()
    yield s
    s.stop()


def shop_on(sim, shop_id="4463798", merchant="m-1") -> Shop:
    app, shop = sim.register_shop(shop_id)
    return Shop(merchant, "douyin", shop_id=str(shop_id), app_id=app.app_key, app_secret=app.app_secret,
                base_url=sim.url)


def paths(sim) -> list[str]:
    return [p for p, _ in sim.requests]


# --- the wire ------------------------------------------------------------------------------------

def test_every_request_is_signed_as_sent_checked_independently():
    def answer(path, q, raw):
        if path == "/token/create":
            return 200, {"code": 10000, "msg": "success", "log_id": "L1",
                         "data": {"access_token": "AT", "expires_in": 604800, "refresh_token": "RT"}}
        return 200, {"code": 10000, "msg": "success", "log_id": "L2", "data": {}}

    srv = Scripted(answer)
    try:
        from shangjia.pipeline.deps import Deps
        from .adapters_support import MemorySecrets

        ch = DouyinChannel(Deps(store=DictStore(), secrets=MemorySecrets()))
        shop = Shop("m", "douyin", "4463798", "7000000000000000001", "s3cr3t", base_url=srv.url)
        params = {"product_id": "3472490447010721067", "name": "短袖 <T恤> & 衬衫",
                  "pic": "https://a.example/x.jpg|https://a.example/y.jpg", "b": {"z": 1, "a": [{"y": 2, "x": 1}]}}
        ch.api(shop, "product.editV2", params)
        t0 = int(time.time())
        for path, q, raw, headers in srv.seen:
            method = path.strip("/").replace("/", ".")
            assert q["method"] == method and q["v"] == "2" and q["sign_method"] == "hmac-sha256"
            assert q["app_key"] == shop.app_id
            assert q["timestamp"].isdigit() and abs(int(q["timestamp"]) - t0) < 60       # unix seconds
            s = (f"{shop.app_secret}app_key{shop.app_id}method{method}param_json{raw.decode('utf-8')}"
                 f"timestamp{q['timestamp']}v2{shop.app_secret}")
            want = hmac.new(shop.app_secret.encode(), s.encode("utf-8"), hashlib.sha256).hexdigest()
            assert q["sign"] == want                            # lower hex over exactly the bytes sent
            assert ("access_token" in q) == (method != "token.create")
            assert headers["content-type"].startswith("application/json")
        body = srv.seen[-1][2].decode("utf-8")
        assert body == ('{"b":{"a":[{"x":1,"y":2}],"z":1},"name":"短袖 <T恤> & 衬衫",'
                        '"pic":"https://a.example/x.jpg|https://a.example/y.jpg","product_id":"3472490447010721067"}')
        create = json.loads(srv.seen[0][2])
        assert create == {"code": "", "grant_type": "authorization_self", "shop_id": 4463798}
    finally:
        srv.close()


def test_submit_adds_with_commit_and_keeps_log_id(deps, sim):
    shop = shop_on(sim)
    got = DouyinChannel(deps).submit(shop, product(), listing=None)
    assert got.state == "in_audit" and got.log_id
    assert isinstance(got.platform_product_id, str) and len(got.platform_product_id) == 19
    p = paths(sim)
    assert p[0] == "/token/create"
    assert p.count("/material/uploadImageSync") == 4
    assert p[-1] == "/product/addV2"
    rec = sim.products[int(got.platform_product_id)]
    draft = rec["draft"]
    assert draft["outer_product_id"] == "SPU-TEE-001" and draft["commit"] is True
    assert draft["category_leaf_id"] == 20013                  # int64 on the wire (a JSON number)
    assert all(u.startswith("https://p3-aio.ecombdimg.com/") for u in draft["pic"].split("|"))
    prices = json.loads(draft["spec_prices"])
    assert [(x["code"], x["price"], x["stock_num"]) for x in prices] == [("SPU-TEE-001-W-M", 9900, 10),
                                                                         ("SPU-TEE-001-W-L", 9900, 7)]
    assert sim.wait_idle()
    found = DouyinChannel(deps).lookup(shop, "SPU-TEE-001", None)
    assert found["platform_product_id"] == got.platform_product_id and found["state"] in ("live", "rejected")


def test_update_path_uses_edit_v2(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    first = ch.submit(shop, product(), listing=None)
    before = len(sim.requests)
    again = ch.submit(shop, product(price_fen=8800), listing={"platform_product_id": first.platform_product_id,
                                                              "batch_id": "b2"})
    assert again.platform_product_id == first.platform_product_id
    assert [p for p, _ in sim.requests[before:]] == ["/product/editV2"]
    assert json.loads(sim.products[int(first.platform_product_id)]["draft"]["spec_prices"])[0]["price"] == 8800
    assert sim.duplicates() == {}


def test_an_uncertain_add_is_resolved_by_outer_product_id(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    first = ch.submit(shop, product(), listing=None)
    log = AttemptLog(deps.store, "douyin", shop.shop_id, "SPU-TEE-001")
    deps.store.update(log.pk, log.sk, "SET step = :s REMOVE platform_product_id", values={":s": "adding"})
    again = ch.submit(shop, product(), listing={"state": "submitted", "batch_id": "b1"})
    assert again.platform_product_id == first.platform_product_id
    assert sim.duplicates() == {}
    assert "/product/detail" in paths(sim)


def test_images_are_uploaded_once_per_shop_and_content(deps, sim):
    a, b = shop_on(sim, "4463798"), shop_on(sim, "5550001", merchant="m-2")
    ch = DouyinChannel(deps)
    ch.submit(a, product(), listing=None)
    ch.submit(a, product(), listing={"batch_id": "b2"})
    assert paths(sim).count("/material/uploadImageSync") == 4
    ch.submit(b, product(), listing=None)
    assert paths(sim).count("/material/uploadImageSync") == 8


def test_update_stock_by_sku_code(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    got = ch.submit(shop, product(), listing=None)
    ch.update_stock(shop, got.platform_product_id, {"SPU-TEE-001-W-L": 2})
    rec = sim.products[int(got.platform_product_id)]
    by_code = {s["code"]: rec["stock"][s["sku_id"]] for s in rec["skus"]}
    assert by_code == {"SPU-TEE-001-W-M": 10, "SPU-TEE-001-W-L": 2}
    ch.delist_skus(shop, got.platform_product_id, ["SPU-TEE-001-W-M", "GONE"])
    assert {s["code"]: rec["stock"][s["sku_id"]] for s in rec["skus"]}["SPU-TEE-001-W-M"] == 0


# --- tokens ---------------------------------------------------------------------------------------

def test_refresh_with_less_than_3000_s_left_writes_both_tokens_and_expiries(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    ch.access_token(shop)
    key = token_key("douyin", shop.shop_id)
    first = deps.store.get(*key)
    assert first["refresh_token"] and first["refresh_expires_at"] > first["expires_at"] > time.time() + 6 * 86400
    deps.store.update(*key, "SET expires_at = :e", values={":e": time.time() + 2999})
    ch = DouyinChannel(deps)          # another container (this one keeps the item it read while fresh)
    token = ch.access_token(shop)
    assert paths(sim) == ["/token/create", "/token/refresh"]
    now = deps.store.get(*key)
    assert now["token"] == token != first["token"]
    assert now["refresh_token"] != first["refresh_token"]
    assert now["refresh_expires_at"] > now["expires_at"] > time.time() + 6 * 86400
    assert now["rev"] == first["rev"] + 1               # one write carried all four
    ch.access_token(shop)
    assert paths(sim) == ["/token/create", "/token/refresh"]


def test_a_spent_refresh_token_falls_back_to_create(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    ch.access_token(shop)
    key = token_key("douyin", shop.shop_id)
    deps.store.update(*key, "SET expires_at = :e, refresh_token = :r", values={":e": 0, ":r": "spent"})
    ch = DouyinChannel(deps)          # another container (this one keeps the item it read while fresh)
    assert ch.access_token(shop)
    assert paths(sim) == ["/token/create", "/token/refresh", "/token/create"]


def test_an_expired_token_is_dropped_and_the_call_retried_once(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    got = ch.submit(shop, product(), listing=None)
    sim.expire_tokens()
    ch.update_stock(shop, got.platform_product_id, {"SPU-TEE-001-W-M": 1})
    assert paths(sim)[-3:] == ["/sku/syncStock", "/token/refresh", "/sku/syncStock"]


def test_a_token_refused_twice_is_a_token_error_not_a_loop():
    def answer(path, q, raw):
        if path.startswith("/token/"):
            return 200, {"code": 10000, "data": {"access_token": f"AT{len(srv.seen)}", "expires_in": 604800,
                                                 "refresh_token": f"RT{len(srv.seen)}"}}
        return 200, {"code": 30001, "msg": "access_token不存在", "sub_code": "isv.access-token-no-exist", "log_id": "L"}

    srv = Scripted(answer)
    try:
        from shangjia.pipeline.deps import Deps
        from .adapters_support import MemorySecrets

        ch = DouyinChannel(Deps(store=DictStore(), secrets=MemorySecrets()))
        with pytest.raises(ChannelError) as e:
            ch.api(Shop("m", "douyin", "1", "k", "s", base_url=srv.url), "product.detail", {"product_id": "1"})
        assert e.value.kind == "token"
        assert srv.paths() == ["/token/create", "/product/detail", "/token/refresh", "/product/detail"]
    finally:
        srv.close()


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,sub_code,kind", [
    (20000, "isp.service-error", "transient"), (99999, "isp.unknown", "transient"),
    (30001, "isv.access-token-no-exist", "token"), (30002, "isv.access-token-expired", "token"),
    (50002, "isv.access-limited", "quota"), (40004, "isv.business-failed:shop-limit-reached", "quota"),
    (40003, "isv.signature-invalid", "permanent"), (40002, "isv.parameter-invalid:name", "permanent"),
    (40004, "isv.business-failed:product-not-found", "permanent"),
])
def test_code_classification(code, sub_code, kind):
    e = classify(code, "msg", sub_code, "sub msg", log_id="L9")
    assert e.kind == kind
    assert e.platform_code == f"{code}:{sub_code}"
    assert "L9" in e.message_en
    assert isinstance(e, Transient) == (kind == "transient")


def test_busy_and_rate_limits_from_the_simulator(deps, sim):
    shop = shop_on(sim)
    ch = DouyinChannel(deps)
    ch.access_token(shop)
    sim.knobs.busy_rate = 1.0
    with pytest.raises(Transient):
        ch.api(shop, "product.detail", {"product_id": "1"})
    sim.knobs.busy_rate, sim.knobs.rate_429_rate = 0.0, 1.0
    with pytest.raises(ChannelError) as e:
        ch.api(shop, "product.detail", {"product_id": "1"})
    assert e.value.kind == "quota"


# --- callbacks and ids ----------------------------------------------------------------------------

def _event(app_key, secret, check_status=4, reason="类目选择错误", pid="3472490447010721067"):
    data = ('{"product_id":%s,"check_status":%d,"audit_reason":"%s","event":5}' % (pid, check_status, reason))
    body = json.dumps([{"tag": "400", "msg_id": "7001", "data": data}], ensure_ascii=False).encode()
    return {"app-id": app_key, "event-sign": hashlib.md5(app_key.encode() + body + secret.encode()).hexdigest()}, body


def test_callback_with_a_valid_event_sign_gives_the_verdict(deps):
    shop = Shop("m", "douyin", "1", "7000000000000000001", "sec")
    headers, body = _event(shop.app_id, shop.app_secret)
    [v] = DouyinChannel(deps).parse_callback(lambda app: shop if app == shop.app_id else None, headers, {}, body)
    assert (v.msg_id, v.platform_product_id, v.verdict, v.reason_class) == (
        "7001", "3472490447010721067", "rejected", "category")     # 19 digits from a JSON number, exact
    headers, body = _event(shop.app_id, shop.app_secret, check_status=3)
    [ok] = DouyinChannel(deps).parse_callback(lambda app: shop, {k.upper(): v for k, v in headers.items()}, {}, body)
    assert ok.verdict == "approved"


def test_a_forged_event_is_refused(deps):
    shop = Shop("m", "douyin", "1", "7000000000000000001", "sec")
    ch = DouyinChannel(deps)
    headers, body = _event(shop.app_id, "another-secret")
    with pytest.raises(signing.SignatureError):
        ch.parse_callback(lambda app: shop, headers, {}, body)
    headers, body = _event(shop.app_id, shop.app_secret)
    with pytest.raises(signing.SignatureError):                     # the body changed after signing
        ch.parse_callback(lambda app: shop, headers, {}, body.replace(b"4,", b"3,"))
    with pytest.raises(signing.SignatureError):
        ch.parse_callback(lambda app: shop, {"app-id": shop.app_id}, {}, body)
    with pytest.raises(signing.SignatureError):
        ch.parse_callback(lambda app: None, headers, {}, body)


def test_the_simulators_push_is_accepted(deps, sim):
    srv = Scripted(lambda path, q, raw: (200, {"code": 0, "msg": "success"}))
    try:
        app, _ = sim.register_shop("777", callback_url=srv.url + "/cb/douyin")
        shop = Shop("m", "douyin", "777", app.app_key, app.app_secret, base_url=sim.url)
        pid = DouyinChannel(deps).submit(shop, product(), listing=None).platform_product_id
        assert sim.wait_idle()
        deadline = time.time() + 5
        while not srv.seen and time.time() < deadline:
            time.sleep(0.02)
        path, q, raw, headers = srv.seen[0]
        got = DouyinChannel(deps).parse_callback(lambda a: shop, headers, q, raw)
        assert [(v.platform_product_id, v.verdict) for v in got] == [(pid, "approved")]
    finally:
        srv.close()
