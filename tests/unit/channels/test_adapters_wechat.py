"""The WeChat Channels adapter against the WeChat simulator (and a scripted server for what the
simulator does not stage): tokens, image re-hosting, add → listing, update, errors, callbacks."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from shangjia.channels import ChannelError, Shop
from shangjia.channels import signing
from shangjia.channels.credentials import AttemptLog, platform_ref_key, token_key
from shangjia.channels.wechat import WechatChannel, classify
from shangjia.localcloud.channels_sim.base import Knobs
from shangjia.localcloud.channels_sim.wechat import WechatSim
from shangjia.ports import Transient

from .adapters_support import AtomicStore, DictStore, Scripted, deps_fixture, product  # noqa: F401 — the deps fixture


@pytest.fixture
def sim():
    s = WechatSim(Knobs(audit_delay_s=0.05))
    s.start()
    yield s
    s.stop()


def shop_on(sim, name="shop-a", merchant="m-1") -> Shop:
    reg = sim.register_shop(name)
    return Shop(merchant, "wechat", shop_id=name, app_id=reg.appid, app_secret=reg.secret,
                callback_token=reg.callback_token, base_url=sim.url)


def paths(sim) -> list[str]:
    return [p for p, outcome in sim.requests]


def test_submit_adds_then_lists_and_sends_the_platform_shape(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    got = ch.submit(shop, product(), listing=None)

    assert got.state == "in_audit"
    assert isinstance(got.platform_product_id, str) and len(got.platform_product_id) == 19
    p = paths(sim)
    assert p[0] == "/cgi-bin/stable_token"
    assert p.count("/channels/ec/basics/img/upload") == 4            # 3 carousel + 1 detail
    assert p[-2:] == ["/channels/ec/product/add", "/channels/ec/product/listing"]
    assert "/channels/ec/product/update" not in p
    rec = sim.products[int(got.platform_product_id)]                  # the 19-digit id, exact
    draft = rec["draft"]
    assert draft["out_product_id"] == "SPU-TEE-001"
    assert len(draft["head_imgs"]) == 3 and all(u.startswith("https://mmecimage.cn/p/") for u in draft["head_imgs"])
    assert [c["cat_id"] for c in draft["cats_v2"]] == ["100100", "1001010", "10010102"]
    assert [(s["out_sku_id"], s["sale_price"], s["market_price"], s["stock_num"]) for s in draft["skus"]] == [
        ("SPU-TEE-001-W-M", 9900, 12900, 10), ("SPU-TEE-001-W-L", 9900, 12900, 7)]
    assert "listing" not in draft
    # what was re-hosted: our renditions' URLs (main/gallery renditions, never thumbs)
    assert all(src.startswith("https://media.example.test/r/") and "thumb" not in src for src in sim.images.values())
    assert sim.wait_idle()
    assert sim.products[int(got.platform_product_id)]["edit_status"] in (3, 4)   # audited


def test_update_path_for_a_listed_product(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    first = ch.submit(shop, product(), listing=None)
    assert sim.wait_idle()
    before = len(sim.requests)
    p2 = product(price_fen=8800)
    again = ch.submit(shop, p2, listing={"platform_product_id": first.platform_product_id, "batch_id": "b2",
                                         "state": "live"})
    assert again.platform_product_id == first.platform_product_id
    new = [p for p, _ in sim.requests[before:]]
    assert new == ["/channels/ec/product/update", "/channels/ec/product/listing"]   # images cached, token cached
    assert sim.duplicates() == {}
    assert sim.products[int(first.platform_product_id)]["draft"]["skus"][0]["sale_price"] == 8800


def test_a_duplicate_delivery_sends_nothing(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    listing = {"batch_id": "b1"}
    first = ch.submit(shop, product(), listing=listing)
    before = len(sim.requests)
    again = ch.submit(shop, product(), listing={**listing, "platform_product_id": first.platform_product_id})
    assert again == first
    assert len(sim.requests) == before


def test_images_are_uploaded_once_per_shop_product_and_content(deps, sim):
    a, b = shop_on(sim, "shop-a"), shop_on(sim, "shop-b", merchant="m-2")
    ch = WechatChannel(deps)
    ch.submit(a, product("SPU-1"), listing=None)
    ch.submit(a, product("SPU-1"), listing={"batch_id": "b2"})            # same images again: update path
    assert paths(sim).count("/channels/ec/basics/img/upload") == 4
    ch.submit(b, product("SPU-1"), listing=None)                            # another shop uploads its own
    assert paths(sim).count("/channels/ec/basics/img/upload") == 8
    ch.submit(a, product("SPU-2"), listing=None)                            # other content: 4 more
    assert paths(sim).count("/channels/ec/basics/img/upload") == 12
    ch.submit(a, product("SPU-1", gallery=3), listing={"batch_id": "b3"})  # a revision adds one image
    assert paths(sim).count("/channels/ec/basics/img/upload") == 13
    ch.submit(a, product("SPU-1"), listing={"batch_id": "b4"})              # and drops it again: all known
    assert paths(sim).count("/channels/ec/basics/img/upload") == 13


def test_the_same_image_on_another_product_is_uploaded_again(deps, sim):
    """The map is per product (one write unit a product, a key per product): another product of the
    shop with the same rendition re-hosts it once more, and both products show a valid URL."""
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    one = product("SPU-1")
    other = {**product("SPU-2"), "images": one["images"], "media": one["media"]}
    ch.submit(shop, one, listing=None)
    ch.submit(shop, other, listing=None)
    assert paths(sim).count("/channels/ec/basics/img/upload") == 8
    drafts = [p["draft"]["head_imgs"] for p in sim.products.values()]
    assert len(drafts) == 2 and all(u.startswith("https://mmecimage.cn/p/") for d in drafts for u in d)


def test_a_products_images_are_one_read_and_one_write_of_one_item(deps, sim, monkeypatch):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    calls = []
    for name in ("get", "get_many", "put", "put_many"):
        real = getattr(deps.store, name)
        monkeypatch.setattr(deps.store, name,
                            lambda *a, _n=name, _r=real, **kw: (calls.append((_n, str(a[0]))), _r(*a, **kw))[1])
    ch.submit(shop, product("SPU-1"), listing=None)
    cache = [n for n, arg in calls if "CHANNELIMG" in arg or n in ("get_many", "put_many")]
    assert cache == ["get", "put"], "4 images: one read, one write of the product's map"
    assert paths(sim).count("/channels/ec/basics/img/upload") == 4
    calls.clear()
    ch.submit(shop, product("SPU-1"), listing={"batch_id": "b2"})
    assert [n for n, arg in calls if "CHANNELIMG" in arg] == ["get"], "nothing uploaded: nothing written"


def test_a_products_image_map_of_seven_images_is_one_write_unit(deps, sim):
    from shangjia.limits import native_item_size

    shop = shop_on(sim)
    ch = WechatChannel(deps)
    ch.submit(shop, product("SPU-WITH-A-LONG-CODE-0001", gallery=5), listing=None)
    item = deps.store.get(*ch.images_key(shop, "SPU-WITH-A-LONG-CODE-0001"))
    assert len(item["urls"]) == 7
    assert native_item_size(item) <= 1024, native_item_size(item)


def test_a_map_read_by_the_caller_is_not_read_again(deps, sim, monkeypatch):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    ch.submit(shop, product("SPU-1"), listing=None)
    stored = deps.store.get(*ch.images_key(shop, "SPU-1"))["urls"]
    calls = []
    real = deps.store.get
    monkeypatch.setattr(deps.store, "get", lambda *a, **kw: (calls.append(a), real(*a, **kw))[1])
    ch.submit(shop, {**product("SPU-1"), "hosted_images": stored}, listing={"batch_id": "b2"})
    assert not [a for a in calls if "CHANNELIMG" in str(a)]
    assert paths(sim).count("/channels/ec/basics/img/upload") == 4      # all known: nothing uploaded


def test_images_uploaded_before_a_failing_one_are_not_uploaded_again(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    real, sent = ch.upload_image, []

    def third_fails(s, key):
        sent.append(key)
        if len(sent) == 3:
            raise ChannelError("permanent", 1, "坏图", "bad image")
        return real(s, key)

    ch.upload_image = third_fails
    with pytest.raises(ChannelError):
        ch.submit(shop, product("SPU-1"), listing=None)
    ch.upload_image = real
    ch.submit(shop, product("SPU-1"), listing=None)
    assert paths(sim).count("/channels/ec/basics/img/upload") == 4      # 2 kept, then the other 2


def test_an_uncertain_add_is_resolved_by_lookup_not_added_twice(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    first = ch.submit(shop, product(), listing=None)
    # the answer to that add was "lost": the attempt log says adding, with no product id
    log = AttemptLog(deps.store, "wechat", shop.shop_id, "SPU-TEE-001")
    deps.store.update(log.pk, log.sk, "SET step = :s REMOVE platform_product_id", values={":s": "adding"})
    again = ch.submit(shop, product(), listing={"state": "submitted", "batch_id": "b1"})
    assert again.platform_product_id == first.platform_product_id
    assert sim.duplicates() == {}
    assert "/channels/ec/product/list/get" in paths(sim)


def test_a_container_reads_the_token_item_once_while_it_is_fresh(deps, sim, monkeypatch):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    key = token_key("wechat", shop.shop_id)
    reads = []
    get = deps.store.get
    monkeypatch.setattr(deps.store, "get", lambda pk, sk, **kw: (reads.append((pk, sk)), get(pk, sk, **kw))[1])
    ch.submit(shop, product("SPU-1"), listing=None)
    ch.submit(shop, product("SPU-2"), listing=None)          # 2 x (4 image uploads, add, listing)
    assert reads.count(key) <= 2, "the fetch's reads, then none per call"
    # a token refused by the platform is dropped from the container too, and read again
    deps.store.update(*key, "SET #t = :t", names={"#t": "token"}, values={":t": "stale"})
    ch._token_memo[shop.shop_id] = {**deps.store.get(*key)}
    got = ch.lookup(shop, "SPU-1", None)
    assert got is not None and ch._token_memo[shop.shop_id]["token"] != "stale"


def test_a_retry_whose_add_was_never_sent_does_not_scan_the_shop(deps, sim):
    """WeChat finds a product by our code only by reading every product of the shop. A listing
    whose first attempt failed before its add (an image upload answered 503) sent nothing to
    find: its retry and the lookup before it read no product list."""
    shop = shop_on(sim)
    ch = WechatChannel(deps, sleep=lambda s: None)
    for spu in ("SPU-A", "SPU-B", "SPU-C"):                  # a shop with products in it
        ch.submit(shop, product(spu), listing=None)
    sim.knobs = dataclasses.replace(sim.knobs, fail_next=3)
    with pytest.raises(ChannelError) as e:
        ch.submit(shop, product("SPU-NEW"), listing=None)     # its first image upload: 503 three times
    assert e.value.kind == "transient"
    before = len(paths(sim))
    assert ch.lookup(shop, "SPU-NEW", None) is None
    got = ch.submit(shop, product("SPU-NEW"), listing={"state": "submitted", "sent": True, "batch_id": "b1"})
    assert got.state == "in_audit" and sim.duplicates() == {}
    assert not [p for p in paths(sim)[before:] if p in ("/channels/ec/product/list/get", "/channels/ec/product/get")]


def _rate_limit_nth(monkeypatch, ch, api_path, field, n):
    """Calls to ``api_path`` record ``body[field]``; the n-th of them (only) answers a 429."""
    real, seen, left = ch._api, [], [n]

    def limited(shop_, path, body, **kw):
        if path == api_path:
            seen.append(body[field])
            left[0] -= 1
            if left[0] == 0:
                raise ChannelError("quota", None, "接口调用频率超限", "rate limit (HTTP 429)", "HTTP_429",
                                   retry_after_s=60.0)
        return real(shop_, path, body, **kw)

    monkeypatch.setattr(ch, "_api", limited)
    return seen


def test_a_scan_cut_short_resumes_and_reads_only_the_products_it_cannot_place(deps, sim, monkeypatch):
    """An add whose answer was lost is found by scanning the shop. Products our table maps to a
    listing are placed without a read; a scan stopped by a rate limit keeps what it read, so the
    next attempt reads only the rest (at 20 % faults a 500-product shop's scan used to restart
    for ever); a finished scan answers the retry's submit without reading again."""
    shop = shop_on(sim)
    ch = WechatChannel(deps, sleep=lambda s: None)
    ids = {spu: ch.submit(shop, product(spu), listing=None).platform_product_id
           for spu in ("SPU-A", "SPU-B", "SPU-C", "SPU-D", "SPU-E")}
    for spu in ("SPU-A", "SPU-B"):                        # listings that got their ids: publish wrote the refs
        pk, sk = platform_ref_key("wechat", ids[spu])
        deps.store.put({"pk": pk, "sk": sk, "merchant_id": shop.merchant_id, "spu_code": spu, "channel": "wechat"})
    log = AttemptLog(deps.store, "wechat", shop.shop_id, "SPU-E")
    deps.store.update(log.pk, log.sk, "SET step = :s REMOVE platform_product_id", values={":s": "adding"})
    gets = _rate_limit_nth(monkeypatch, ch, "/channels/ec/product/get", "product_id", 2)  # the 2nd read
    with pytest.raises(ChannelError) as e:
        ch.lookup(shop, "SPU-E", None)
    assert e.value.kind == "quota"
    assert gets == [ids["SPU-C"], ids["SPU-D"]], "A and B are placed by their refs"
    gets.clear()
    found = ch.lookup(shop, "SPU-E", None)
    assert found["platform_product_id"] == ids["SPU-E"]
    assert gets == [ids["SPU-D"], ids["SPU-E"], ids["SPU-E"]], "C is not read again; then the lookup's own read"
    gets.clear()
    got = ch.submit(shop, product("SPU-E"), listing={"state": "submitted", "sent": True, "batch_id": "b1"})
    assert got.platform_product_id == ids["SPU-E"] and sim.duplicates() == {}
    assert gets == [], "the finished scan answers"


def test_a_scan_stopped_by_a_rate_limit_goes_on_from_the_page_it_reached(deps, sim, monkeypatch):
    """Listing from page one on every attempt made each attempt ~17 list calls on a 500-product
    shop, and at 20 % faults a few listings met a 429 on one of them attempt after attempt."""
    from shangjia.channels import wechat as wechat_module

    monkeypatch.setattr(wechat_module, "PAGE_SIZE", 2)
    shop = shop_on(sim)
    ch = WechatChannel(deps, sleep=lambda s: None)
    ids = {spu: ch.submit(shop, product(spu), listing=None).platform_product_id
           for spu in ("SPU-A", "SPU-B", "SPU-C", "SPU-D", "SPU-E")}       # pages [A, B] [C, D] [E]
    log = AttemptLog(deps.store, "wechat", shop.shop_id, "SPU-E")
    deps.store.update(log.pk, log.sk, "SET step = :s REMOVE platform_product_id", values={":s": "adding"})
    pages = _rate_limit_nth(monkeypatch, ch, "/channels/ec/product/list/get", "next_key", 3)  # the 3rd page
    with pytest.raises(ChannelError):
        ch.lookup(shop, "SPU-E", None)
    assert len(pages) == 3
    again = pages[2]
    pages.clear()
    assert ch.lookup(shop, "SPU-E", None)["platform_product_id"] == ids["SPU-E"]
    assert pages == [again], "the pages read before are not listed again"
    # another add is sent (a re-add after a scan that found nothing): the next scan starts over
    log.record(step="adding", scan_done=False, scan_next="", scan_pages=0, scan_found="")
    pages.clear()
    ch.lookup(shop, "SPU-E", None)
    assert len(pages) == 3 and pages[0] == ""


def test_an_add_refused_with_a_429_leaves_nothing_to_scan_for(deps, sim, monkeypatch):
    """A 429 (or an errcode) refuses an add before anything is written: its retry adds without
    scanning the shop. (In the fault run a listing whose re-add met a 429 scanned the whole
    shop again before each try.) A time-out may have landed: that retry still scans."""
    shop = shop_on(sim)
    ch = WechatChannel(deps, sleep=lambda s: None)
    for spu in ("SPU-A", "SPU-B"):
        ch.submit(shop, product(spu), listing=None)
    real = ch._api

    def refused(shop_, path, body, **kw):
        if path == "/channels/ec/product/add":
            raise ChannelError("quota", None, "接口调用频率超限", "rate limit (HTTP 429)", "HTTP_429", retry_after_s=60.0)
        return real(shop_, path, body, **kw)

    monkeypatch.setattr(ch, "_api", refused)
    with pytest.raises(ChannelError):
        ch.submit(shop, product("SPU-NEW"), listing=None)
    assert AttemptLog(deps.store, "wechat", shop.shop_id, "SPU-NEW").read()["step"] == "add_refused"
    monkeypatch.setattr(ch, "_api", real)
    before = len(paths(sim))
    got = ch.submit(shop, product("SPU-NEW"), listing={"state": "submitted", "sent": True, "batch_id": "b1"})
    assert got.state == "in_audit" and sim.duplicates() == {}
    assert "/channels/ec/product/list/get" not in paths(sim)[before:]

    def timed_out(shop_, path, body, **kw):
        if path == "/channels/ec/product/add":
            real(shop_, path, body, **kw)             # the write lands, the answer is lost
            raise ChannelError("transient", None, "微信无法访问或超时", "wechat unreachable or timed out", "NETWORK")
        return real(shop_, path, body, **kw)

    monkeypatch.setattr(ch, "_api", timed_out)
    with pytest.raises(ChannelError):
        ch.submit(shop, product("SPU-LATE"), listing=None)
    monkeypatch.setattr(ch, "_api", real)
    before = len(paths(sim))
    ch.submit(shop, product("SPU-LATE"), listing={"state": "submitted", "sent": True, "batch_id": "b1"})
    assert "/channels/ec/product/list/get" in paths(sim)[before:] and sim.duplicates() == {}


def test_a_read_is_tried_again_on_a_transient_answer_a_write_is_not(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps, sleep=lambda s: None)
    got = ch.submit(shop, product(), listing=None)
    sim.knobs = dataclasses.replace(sim.knobs, fail_next=2)
    found = ch.lookup(shop, "SPU-TEE-001", got.platform_product_id)   # product/get: 503, 503, answer
    assert found["platform_product_id"] == got.platform_product_id
    sim.knobs = dataclasses.replace(sim.knobs, fail_next=1)
    n = len(paths(sim))
    with pytest.raises(ChannelError):
        ch.api(shop, "/channels/ec/product/listing", {"product_id": got.platform_product_id})
    assert len(paths(sim)) == n + 1, "a write is sent once"


def test_lookup_reads_the_audit_state(deps, sim):
    sim.knobs.audit_reject_rate = 1.0
    sim.knobs.reject_reasons = {"image": 1.0}
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    got = ch.submit(shop, product(), listing=None)
    assert sim.wait_idle()
    found = ch.lookup(shop, "SPU-TEE-001", got.platform_product_id)
    assert found["state"] == "rejected" and found["reason_class"] == "image"
    assert ch.lookup(shop, "SPU-TEE-001", None)["platform_product_id"] == got.platform_product_id
    assert ch.lookup(shop, "NO-SUCH-SPU", None) is None


def test_update_stock_sets_each_sku_without_audit_quota(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    got = ch.submit(shop, product(), listing=None)
    quota_before = len(sim.submissions[shop.shop_id])
    ch.update_stock(shop, got.platform_product_id, {"SPU-TEE-001-W-M": 3})
    rec = sim.products[int(got.platform_product_id)]
    assert rec["stock"][rec["sku_ids"]["SPU-TEE-001-W-M"]] == 3
    assert rec["stock"][rec["sku_ids"]["SPU-TEE-001-W-L"]] == 7
    assert len(sim.submissions[shop.shop_id]) == quota_before
    ch.delist_skus(shop, got.platform_product_id, ["SPU-TEE-001-W-L"])
    assert rec["stock"][rec["sku_ids"]["SPU-TEE-001-W-L"]] == 0
    with pytest.raises(ChannelError) as e:
        ch.update_stock(shop, got.platform_product_id, {"NOPE": 1})
    assert e.value.kind == "permanent"


# --- tokens ---------------------------------------------------------------------------------------

def test_two_concurrent_fetchers_make_one_token_fetch(deps, sim):
    sim.knobs.latency_s = 0.3                   # the fetch takes a while: both threads find no token
    shop = shop_on(sim)
    racing = dataclasses.replace(deps, store=AtomicStore(deps.store))
    got, errors = [], []

    def run():
        try:
            got.append(WechatChannel(racing, sleep=lambda s: time.sleep(min(s, 0.05))).access_token(shop))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert paths(sim).count("/cgi-bin/stable_token") == 1
    assert got[0] == got[1]
    item = deps.store.get(*token_key("wechat", shop.shop_id))
    assert item["token"] == got[0] and "lease_owner" not in item


def test_refreshes_with_less_than_five_minutes_left(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    ch.access_token(shop)
    deps.store.update(*token_key("wechat", shop.shop_id), "SET expires_at = :e", values={":e": time.time() + 299})
    ch = WechatChannel(deps)                    # another container reads the item the first one wrote
    ch.access_token(shop)
    assert paths(sim).count("/cgi-bin/stable_token") == 2
    ch.access_token(shop)                       # fresh again: no third fetch
    assert paths(sim).count("/cgi-bin/stable_token") == 2


def test_an_expired_token_is_dropped_and_the_call_retried_once(deps, sim):
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    ch.submit(shop, product(), listing=None)
    sim.expire_tokens()                         # the platform now answers 42001 to the cached token
    got = ch.submit(shop, product("SPU-2"), listing=None)
    assert got.platform_product_id
    assert paths(sim).count("/cgi-bin/stable_token") == 2
    assert ("/channels/ec/basics/img/upload", "ok") in sim.requests


def test_a_token_refused_twice_is_a_token_error_not_a_loop():
    def answer(path, q, body):
        if path == "/cgi-bin/stable_token":
            return 200, {"access_token": f"T{len(srv.seen)}", "expires_in": 7200}
        return 200, {"errcode": 40001, "errmsg": "access_token is invalid or not latest"}

    srv = Scripted(answer)
    try:
        from .adapters_support import MemorySecrets
        from shangjia.pipeline.deps import Deps

        store = DictStore()
        ch = WechatChannel(Deps(store=store, secrets=MemorySecrets()))
        shop = Shop("m", "wechat", "s1", "wxapp", "sec", base_url=srv.url)
        with pytest.raises(ChannelError) as e:
            ch.api(shop, "/channels/ec/product/get", {"product_id": "1"})
        assert e.value.kind == "token" and e.value.platform_code == "40001"
        assert srv.paths() == ["/cgi-bin/stable_token", "/channels/ec/product/get",
                               "/cgi-bin/stable_token", "/channels/ec/product/get"]
    finally:
        srv.close()


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,kind", [
    (-1, "transient"), (40001, "token"), (40014, "token"), (42001, "token"),
    (45009, "quota"), (45011, "quota"), (1002001, "quota"),
    (10020035, "permanent"), (10020013, "permanent"), (10020039, "permanent"), (48001, "permanent"),
    (99999999, "permanent"),
])
def test_errcode_classification(code, kind):
    e = classify(code, "msg")
    assert e.kind == kind
    assert e.platform_code == str(code)
    assert e.message_zh and e.message_en
    assert isinstance(e, Transient) == (kind == "transient")
    if kind == "quota":
        assert e.retry_after_s and e.retry_after_s > 0


@pytest.mark.parametrize("status,body,kind", [
    (503, b"<html>503</html>", "transient"), (502, b"", "transient"), (429, b"{}", "quota"),
    (400, b"bad", "permanent"), (200, b"<html>not json</html>", "transient"),
    (200, {"errcode": -1, "errmsg": "system error"}, "transient"),
    (200, {"errcode": 10020035, "errmsg": "image url"}, "permanent"),
    (200, {"errcode": 1002001, "errmsg": "本店铺近1小时内提审次数超过限制"}, "quota"),
])
def test_http_and_envelope_errors_are_classified(status, body, kind):
    def answer(path, q, raw):
        if path == "/cgi-bin/stable_token":
            return 200, {"access_token": "T", "expires_in": 7200}
        return status, body

    srv = Scripted(answer)
    try:
        from .adapters_support import MemorySecrets
        from shangjia.pipeline.deps import Deps

        ch = WechatChannel(Deps(store=DictStore(), secrets=MemorySecrets()))
        with pytest.raises(ChannelError) as e:
            ch.api(Shop("m", "wechat", "s1", "wx", "sec", base_url=srv.url), "/channels/ec/product/get", {})
        assert e.value.kind == kind
    finally:
        srv.close()


def test_a_time_out_is_transient():
    def answer(path, q, raw):
        if path == "/cgi-bin/stable_token":
            return 200, {"access_token": "T", "expires_in": 7200}
        time.sleep(1.0)
        return 200, {"errcode": 0}

    srv = Scripted(answer)
    try:
        from .adapters_support import MemorySecrets
        from shangjia.pipeline.deps import Deps

        ch = WechatChannel(Deps(store=DictStore(), secrets=MemorySecrets()), timeout_s=0.3)
        with pytest.raises(Transient) as e:
            ch.api(Shop("m", "wechat", "s1", "wx", "sec", base_url=srv.url), "/channels/ec/product/get", {})
        assert e.value.kind == "transient"
    finally:
        srv.close()


# --- ids ------------------------------------------------------------------------------------------

def test_nineteen_digit_ids_stay_exact_strings():
    pid = 7091800003790954036                   # a float would make it ...4000
    assert float(pid) != pid

    def answer(path, q, raw):
        if path == "/cgi-bin/stable_token":
            return 200, {"access_token": "T", "expires_in": 7200}
        if path == "/channels/ec/product/get":
            raw = ('{"errcode":0,"edit_product":{"product_id":%d,"edit_status":2,'
                   '"skus":[{"out_sku_id":"A","sku_id":%d}]}}' % (pid, pid + 1))
            return 200, raw.encode()
        return 200, {"errcode": 0}

    srv = Scripted(answer)
    try:
        from .adapters_support import MemorySecrets
        from shangjia.pipeline.deps import Deps

        ch = WechatChannel(Deps(store=DictStore(), secrets=MemorySecrets()))
        shop = Shop("m", "wechat", "s1", "wx", "sec", base_url=srv.url)
        found = ch.lookup(shop, "X", str(pid))
        assert found == {"platform_product_id": "7091800003790954036", "state": "in_audit", "reason": ""}
        assert ch.sku_ids(shop, str(pid)) == {"A": "7091800003790954037"}
        # and on the way out: the id is sent as the exact digits
        ch.update_stock(shop, str(pid), {"A": 1})
        sent = json.loads(srv.seen[-1][2])
        assert sent["product_id"] == "7091800003790954036" and sent["sku_id"] == "7091800003790954037"
    finally:
        srv.close()


# --- callbacks ------------------------------------------------------------------------------------

def _push(token, status=3, reason="", ts="1700000000", nonce="12345"):
    body = json.dumps({"ToUserName": "gh_x", "FromUserName": "OPENID", "CreateTime": int(ts), "MsgType": "event",
                       "Event": "product_spu_audit",
                       "ProductSpuAudit": {"product_id": "3472490447010721067", "status": status, "reason": reason,
                                           "audit_info": "{}", "product_type": 1}}, ensure_ascii=False).encode()
    q = {"signature": signing.wechat_push_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    return q, body


def test_callback_with_a_valid_signature_gives_the_verdict(deps):
    shop = Shop("m", "wechat", "s1", "wx", "sec", callback_token="tok-123")
    q, body = _push("tok-123", status=2, reason="商品主图不符合规范")
    [v] = WechatChannel(deps).parse_callback(lambda app: shop, {}, q, body)
    assert (v.channel, v.platform_product_id, v.verdict, v.reason_class) == (
        "wechat", "3472490447010721067", "rejected", "image")
    assert v.msg_id == "3472490447010721067-1700000000-2"
    [ok] = WechatChannel(deps).parse_callback(lambda app: shop, {}, *_push("tok-123", status=3))
    assert ok.verdict == "approved" and ok.reason_class == ""
    [w] = WechatChannel(deps).parse_callback(lambda app: shop, {}, *_push("tok-123", status=4))
    assert w.verdict == "withdrawn"


def test_a_forged_callback_is_refused(deps):
    shop = Shop("m", "wechat", "s1", "wx", "sec", callback_token="tok-123")
    ch = WechatChannel(deps)
    q, body = _push("not-the-token")
    with pytest.raises(signing.SignatureError):
        ch.parse_callback(lambda app: shop, {}, q, body)
    q, body = _push("tok-123")
    with pytest.raises(signing.SignatureError):             # the signature is for another timestamp
        ch.parse_callback(lambda app: shop, {}, {**q, "timestamp": "1700000001"}, body)
    with pytest.raises(signing.SignatureError):
        ch.parse_callback(lambda app: shop, {}, {}, body)
    with pytest.raises(signing.SignatureError):             # no shop for it
        ch.parse_callback(lambda app: None, {}, q, body)


def test_the_simulators_push_is_accepted(deps, sim):
    got = []


    srv = Scripted(lambda path, q, raw: (200, b"success"))
    try:
        reg = sim.register_shop("shop-p", callback_url=srv.url + "/cb/wechat")
        shop = Shop("m", "wechat", "shop-p", reg.appid, reg.secret, callback_token=reg.callback_token,
                    base_url=sim.url)
        pid = WechatChannel(deps).submit(shop, product(), listing=None).platform_product_id
        assert sim.wait_idle()
        deadline = time.time() + 5
        while not srv.seen and time.time() < deadline:
            time.sleep(0.02)
        path, q, raw, headers = srv.seen[0]
        got = WechatChannel(deps).parse_callback(lambda app: shop, headers, q, raw)
        assert [(v.platform_product_id, v.verdict) for v in got] == [(pid, "approved")]
    finally:
        srv.close()


def test_a_first_send_reads_no_attempt_log_a_later_one_does(deps, sim, monkeypatch):
    """publish writes the listing before it calls the adapter: with no listing passed, this is
    the product's first send to the shop and no attempt can be on record."""
    shop = shop_on(sim)
    ch = WechatChannel(deps)
    reads = []
    real = deps.store.get
    monkeypatch.setattr(deps.store, "get", lambda pk, sk, **kw: (reads.append(pk), real(pk, sk, **kw))[1])
    got = ch.submit(shop, product("SPU-2"), listing=None)
    assert not [pk for pk in reads if pk.startswith("CHANNELATTEMPT#")]
    assert ch.submit(shop, product("SPU-2"), listing={"platform_product_id": got.platform_product_id,
                                                      "state": "submitted"}).platform_product_id == got.platform_product_id
    assert [pk for pk in reads if pk.startswith("CHANNELATTEMPT#")]
