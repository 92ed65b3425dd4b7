"""The publish stage on moto with a fake channel port: listings per (product, channel), audit
verdicts by callback and by the poller, idempotent sends (a time-out after send is looked up,
never sent twice), errors by kind (transient -> delayed retry, quota -> a reserved slot,
permanent -> a located finding), the shared token bucket and circuit breaker, re-uploads that
update (and stock-only changes through the stock API), and the product's outcome."""

import itertools
import json
import time

import pytest

from shangjia.pipeline.products import get_product
from shangjia.channels import AuditVerdict, ChannelError, Shop, Submitted
from shangjia.channels import listings as L
from shangjia.channels.throttle import Circuit, Rate, Throttle
from shangjia.pipeline import keys
from shangjia.pipeline.publish import Publisher, apply_verdict, poll_audits, publish_message, publishing_view
from shangjia.ports import ConditionFailed, Transient

M = "m-pub"
CHANNELS = ("own_shop", "wechat", "douyin")
_ids = itertools.count(10**18 + 1)


class FakePort:
    """A platform: one product per out id; ``faults`` are raised by the next submits, in order
    ("timeout_after_send" creates the product, then raises a transient time-out)."""

    def __init__(self, channel):
        self.channel = channel
        self.state = "live" if channel == "own_shop" else "in_audit"
        self.products: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.faults: list = []
        self.lookup_state = None

    def submit(self, shop, product, *, listing):
        spu = product["spu_code"]
        ppid = (listing or {}).get("platform_product_id")
        self.calls.append(("update" if ppid else "create", spu))
        fault = self.faults.pop(0) if self.faults else None
        if isinstance(fault, Exception):
            raise fault
        if not ppid:
            ppid = str(next(_ids))
            self.products[spu] = {"platform_product_id": ppid, "state": self.state}
        if fault == "timeout_after_send":
            raise ChannelError("transient", None, "请求超时", "timed out after sending")
        return Submitted(ppid, self.state, log_id="log-1")

    def lookup(self, shop, spu, ppid):
        self.calls.append(("lookup", spu))
        p = self.products.get(spu)
        return dict(p, state=self.lookup_state or p["state"], reason="主图模糊") if p else None

    def update_stock(self, shop, ppid, stock):
        self.calls.append(("stock", ppid, dict(stock)))

    def delist_skus(self, shop, ppid, codes):
        self.calls.append(("delist", ppid, tuple(codes)))


class Sent:
    def __init__(self):
        self.msgs = []

    def send_batch(self, queue, bodies, *, delay_s=0):
        self.msgs += [(queue, dict(b), delay_s) for b in bodies]


class Clock:
    def __init__(self):
        self.t = time.time()

    def __call__(self):
        return self.t


@pytest.fixture
def env(deps, monkeypatch):
    monkeypatch.setenv("SHANGJIA_PUBLISH_BACKOFF_S", "10")
    ports = {c: FakePort(c) for c in CHANNELS}
    clock = Clock()
    deps.queues = Sent()
    pub = Publisher(deps, ports=ports,
                    shop_for=lambda m, c: Shop(m, c, shop_id=f"{c}-shop", app_id=f"{c}-app", app_secret="s"),
                    throttle=Throttle(deps.store, now=clock, rates={"wechat": Rate.parse("200/3600:2"),
                                                                    "douyin": None, "own_shop": None}),
                    circuit=Circuit(deps.store, now=clock, threshold=3, cooldown_s=30),
                    rand=lambda: 0.0, now_s=clock)
    return deps, pub, ports, clock


def _product(deps, spu, batch="b1", channels=CHANNELS, stock=5, title="好物"):
    pk, sk = keys.product(M, spu)
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": M, "spu_code": spu, "batch_id": batch,
                    "status": "publishing", "channels_requested": list(channels), "first_row": 3,
                    "product": {"spu_code": spu, "title": title, "category": "服饰",
                                "skus": [{"sku_code": f"{spu}-1", "price_fen": 1990, "stock": stock}]}})


def _msg(spu, channel, batch="b1", **kw):
    return {"merchant_id": M, "spu_code": spu, "batch_id": batch, "channel": channel, **kw}


def _status(deps, spu):
    return get_product(deps, M, spu)["status"]


def _listing(deps, spu, channel):
    return deps.store.get(*keys.listing(M, spu, channel))


def _verdict(deps, spu, channel, verdict, msg_id, reason=""):
    ppid = _listing(deps, spu, channel)["platform_product_id"]
    return AuditVerdict(channel, msg_id, ppid, verdict, reason, "image" if reason else "")


def test_published_when_every_channel_is_live_after_its_audit(env):
    deps, pub, ports, _ = env
    _product(deps, "P1")
    assert [publish_message(deps, _msg("P1", c), pub) for c in CHANNELS] == ["live", "in_audit", "in_audit"]
    assert _status(deps, "P1") == "publishing"
    view = publishing_view(deps, M, "P1")
    assert set(view["waiting"]) == {"wechat", "douyin"} and view["waiting"]["wechat"]["state"] == "in_audit"
    assert apply_verdict(deps, _verdict(deps, "P1", "wechat", "approved", "w-1")) == "live"
    assert _status(deps, "P1") == "publishing", "douyin is still in audit"
    assert apply_verdict(deps, _verdict(deps, "P1", "douyin", "approved", "d-1")) == "live"
    item = get_product(deps, M, "P1")
    assert item["status"] == "published" and {c: v["state"] for c, v in item["channels"].items()} == \
        {c: "live" for c in CHANNELS}
    # a redelivered publish message, a replayed callback: nothing moves, nothing is sent again
    assert publish_message(deps, _msg("P1", "wechat"), pub) == "live"
    assert apply_verdict(deps, _verdict(deps, "P1", "wechat", "rejected", "w-1", "主图")) == "duplicate"
    assert _listing(deps, "P1", "wechat")["state"] == "live"
    assert [c for c in ports["wechat"].calls if c[0] == "create"] == [("create", "P1")]


def test_a_rejection_is_located_and_the_product_needs_a_fix_once_every_channel_settled(env):
    deps, pub, ports, _ = env
    _product(deps, "P2")
    for c in CHANNELS:
        publish_message(deps, _msg("P2", c), pub)
    apply_verdict(deps, _verdict(deps, "P2", "wechat", "rejected", "w-2", "主图不清晰"))
    assert _listing(deps, "P2", "wechat")["state"] == "rejected"
    assert _status(deps, "P2") == "publishing", "douyin has not answered yet"
    apply_verdict(deps, _verdict(deps, "P2", "douyin", "approved", "d-2"))
    item = get_product(deps, M, "P2")
    assert item["status"] == "needs_fix"
    (f,) = [f for f in item["findings"] if f["code"] == "PIPE_CHANNEL_REJECTED"]
    assert f["params"]["channel"] == "wechat" and f["params"]["reason_class"] == "image"
    assert f["field"] == "images" and f["row"] == 3 and "主图不清晰" in f["message_zh"] and f["message_en"]
    assert item["channels"]["douyin"]["state"] == "live" and item["channels"]["wechat"]["state"] == "rejected"


def test_a_permanent_error_fails_the_listing_with_the_platforms_code_in_both_languages(env):
    deps, pub, ports, _ = env
    _product(deps, "P3", channels=("own_shop", "douyin"))
    ports["douyin"].faults = [ChannelError("permanent", None, "类目错误", "wrong category", 10020035)]
    assert publish_message(deps, _msg("P3", "douyin"), pub) == "failed"
    assert publish_message(deps, _msg("P3", "own_shop"), pub) == "live"
    item = get_product(deps, M, "P3")
    assert item["status"] == "needs_fix"
    (f,) = [f for f in item["findings"] if f["code"] == "PIPE_CHANNEL_FAILED"]
    assert "10020035" in f["message_zh"] and "类目错误" in f["message_zh"]
    assert "10020035" in f["message_en"] and "wrong category" in f["message_en"]
    assert _listing(deps, "P3", "douyin")["platform_code"] == "10020035"


def test_transient_errors_retry_with_backoff_and_a_time_out_after_send_is_looked_up_not_resent(env):
    deps, pub, ports, _ = env
    _product(deps, "P4", channels=("douyin",))
    ports["douyin"].faults = ["timeout_after_send"]
    assert publish_message(deps, _msg("P4", "douyin"), pub) == "retrying"
    lst = _listing(deps, "P4", "douyin")
    assert lst["state"] == "retrying" and lst["sent"] is True and lst["next_at"]
    (queue, body, delay), = deps.queues.msgs
    assert queue == "publish_douyin" and body["attempt"] == 1 and delay == 5     # base 10 s, full jitter (rand 0)
    # the retry looks the listing up by product code first: the platform has it, nothing is created again
    assert publish_message(deps, body, pub) == "in_audit"
    assert [c[0] for c in ports["douyin"].calls] == ["create", "lookup"]
    assert len(ports["douyin"].products) == 1
    assert _listing(deps, "P4", "douyin")["platform_product_id"] == ports["douyin"].products["P4"]["platform_product_id"]


def test_after_its_backoffs_a_transient_error_goes_back_to_sqs(env):
    deps, pub, ports, _ = env
    _product(deps, "P5", channels=("douyin",))
    ports["douyin"].faults = [ChannelError("transient", None, "繁忙", "busy")]
    with pytest.raises(Transient):
        publish_message(deps, _msg("P5", "douyin", attempt=6), pub)
    assert _listing(deps, "P5", "douyin")["state"] == "retrying"


def test_the_circuit_opens_after_repeated_failures_and_nothing_is_sent_while_open(env):
    deps, pub, ports, clock = env
    for i in range(3):
        _product(deps, f"C{i}", channels=("douyin",))
        ports["douyin"].faults = [ChannelError("transient", None, "繁忙", "busy")]
        publish_message(deps, _msg(f"C{i}", "douyin"), pub)
    _product(deps, "C3", channels=("douyin",))
    calls = len(ports["douyin"].calls)
    assert publish_message(deps, _msg("C3", "douyin"), pub) == "waiting_channel"
    assert len(ports["douyin"].calls) == calls, "the open circuit sent nothing"
    assert deps.queues.msgs[-1][2] == 30
    clock.t += 31
    assert publish_message(deps, _msg("C3", "douyin"), pub) == "in_audit", "the probe goes through and closes it"
    assert pub.circuit.check("douyin").failures == 0


def test_a_spent_daily_cap_says_the_day_the_listing_goes(env):
    """WeChat's 1,000 audit submissions a day (here 2): the next listing waits for tomorrow, 00:00
    China time, and says so in both languages; it is sent then without taking again."""
    from datetime import datetime, timedelta, timezone

    deps, _, ports, clock = env
    pub = Publisher(deps, ports=ports,
                    shop_for=lambda m, c: Shop(m, c, shop_id=f"{c}-shop", app_id=f"{c}-app", app_secret="s"),
                    throttle=Throttle(deps.store, now=clock, rates={"wechat": None}, daily={"wechat": 2}),
                    circuit=Circuit(deps.store, now=clock), rand=lambda: 0.0, now_s=clock)
    cst = timezone(timedelta(hours=8))
    clock.t = datetime(2026, 12, 1, 15, 0, tzinfo=cst).timestamp()
    for spu in ("D1", "D2", "D3"):
        _product(deps, spu, channels=("wechat",))
    assert [publish_message(deps, _msg(s, "wechat"), pub) for s in ("D1", "D2")] == ["in_audit", "in_audit"]
    assert publish_message(deps, _msg("D3", "wechat"), pub) == "waiting_quota"
    reason = _listing(deps, "D3", "wechat")["reason"]
    assert reason["code"] == "QUOTA_DAY" and reason["params"] == {"cap": 2, "slot_at": "2026-12-02 00:00"}
    assert "2026-12-02 00:00" in reason["message_zh"] and "今日 2 次提审额度已用完" in reason["message_zh"]
    assert reason["message_en"] == "today's 2 audit submissions are used: queued for 2026-12-02 00:00 (China time)"
    (_, body, _delay), = deps.queues.msgs[-1:]
    assert body["slot_at"] == pytest.approx(datetime(2026, 12, 2, 0, 0, tzinfo=cst).timestamp())
    clock.t = body["slot_at"]
    assert publish_message(deps, body, pub) == "in_audit"


def test_quota_waits_are_visible_with_an_expected_time_and_the_slot_is_kept(env):
    deps, pub, ports, clock = env
    for spu in ("Q1", "Q2", "Q3"):
        _product(deps, spu, channels=("wechat",))
    assert publish_message(deps, _msg("Q1", "wechat"), pub) == "in_audit"
    assert publish_message(deps, _msg("Q2", "wechat"), pub) == "in_audit"
    assert publish_message(deps, _msg("Q3", "wechat"), pub) == "waiting_quota"     # a bucket of 2, 200/hour
    lst = _listing(deps, "Q3", "wechat")
    assert lst["state"] == "waiting_quota" and lst["next_at"] and lst["reason"]["code"] == "QUOTA_BUCKET"
    (_, body, delay), = deps.queues.msgs
    assert delay == 18 and body["slot_at"] == pytest.approx(clock.t + 18)
    # early (a hop of a long wait): it waits again without taking another token
    assert publish_message(deps, body, pub) == "waiting_quota"
    assert deps.queues.msgs[-1][1]["slot_at"] == body["slot_at"]
    clock.t += 18
    assert publish_message(deps, body, pub) == "in_audit"
    # the platform's own quota answer: the bucket is emptied for everyone, the listing waits
    _product(deps, "Q4", channels=("wechat",))
    ports["wechat"].faults = [ChannelError("quota", None, "提审次数超限", "audit quota spent", 1002001,
                                           retry_after_s=600)]
    clock.t += 3600
    assert publish_message(deps, _msg("Q4", "wechat"), pub) == "waiting_quota"
    assert _listing(deps, "Q4", "wechat")["reason"]["platform_code"] == "1002001"
    assert deps.queues.msgs[-1][2] == 618


def test_a_re_upload_updates_the_listing_and_a_stock_only_change_uses_the_stock_api(env):
    deps, pub, ports, _ = env
    _product(deps, "R1", channels=("own_shop", "wechat"))
    for c in ("own_shop", "wechat"):
        publish_message(deps, _msg("R1", c), pub)
    apply_verdict(deps, _verdict(deps, "R1", "wechat", "approved", "r-1"))
    assert _status(deps, "R1") == "published"
    ppid = _listing(deps, "R1", "wechat")["platform_product_id"]
    # batch 2 changes the title: an update of the same platform product, audited again
    _product(deps, "R1", batch="b2", channels=("own_shop", "wechat"), title="新标题")
    assert publish_message(deps, _msg("R1", "wechat", batch="b2"), pub) == "in_audit"
    assert ports["wechat"].calls[-1] == ("update", "R1")
    assert _listing(deps, "R1", "wechat")["platform_product_id"] == ppid
    apply_verdict(deps, _verdict(deps, "R1", "wechat", "approved", "r-2"))
    publish_message(deps, _msg("R1", "own_shop", batch="b2"), pub)
    assert _status(deps, "R1") == "published"
    # batch 3 changes only the stock: the stock API, no audit, no quota token
    _product(deps, "R1", batch="b3", channels=("own_shop", "wechat"), title="新标题", stock=9)
    before = deps.store.get("THROTTLE#wechat#wechat-shop", "BUCKET")["v"]
    assert publish_message(deps, _msg("R1", "wechat", batch="b3"), pub) == "stock_updated"
    assert ports["wechat"].calls[-1] == ("stock", ppid, {"R1-1": 9})
    assert deps.store.get("THROTTLE#wechat#wechat-shop", "BUCKET")["v"] == before
    assert _listing(deps, "R1", "wechat")["state"] == "live"
    publish_message(deps, _msg("R1", "own_shop", batch="b3"), pub)
    assert _status(deps, "R1") == "published"
    # the listing's history: each move with its revision, stored as short strings that name the
    # batch only where a revision starts
    from shangjia.status import read_history
    stored = _listing(deps, "R1", "wechat")["history"]
    assert all(isinstance(h, str) for h in stored)
    moves = [(h["state"], h["batch_id"]) for h in read_history(stored, "state")]
    assert moves[0] == ("submitted", "b1") and ("in_audit", "b2") in moves and moves[-1] == ("live", "b3"), moves
    assert sum(len(h.split(" ")) == 3 for h in stored) == 3, stored


def test_the_poller_resolves_verdicts_whose_callback_never_came(env, monkeypatch):
    deps, pub, ports, _ = env
    monkeypatch.setenv("SHANGJIA_AUDIT_POLL_AFTER_S", "0")
    _product(deps, "L1", channels=("wechat", "douyin"))
    publish_message(deps, _msg("L1", "wechat"), pub)
    publish_message(deps, _msg("L1", "douyin"), pub)
    counts = poll_audits(deps, pub)
    assert counts["still_in_audit"] == 2 and _status(deps, "L1") == "publishing"
    ports["wechat"].lookup_state = "live"
    ports["douyin"].lookup_state = "rejected"
    # (the poller asks again after the interval: bring the listings due)
    for c in ("wechat", "douyin"):
        deps.store.update(*keys.listing(M, "L1", c), "SET gsi2sk = :z", values={":z": "0"})
    counts = poll_audits(deps, pub)
    assert counts["live"] == 1 and counts["rejected"] == 1
    item = get_product(deps, M, "L1")
    assert item["status"] == "needs_fix"
    assert _listing(deps, "L1", "douyin")["verdict_source"] == "poll"
    assert [f for f in item["findings"] if f["code"] == "PIPE_CHANNEL_REJECTED"][0]["params"]["channel"] == "douyin"


def test_a_product_that_moved_on_is_not_published(env):
    deps, pub, ports, _ = env
    _product(deps, "S1", channels=("own_shop",))
    assert publish_message(deps, _msg("S1", "own_shop", batch="old"), pub) == "stale"
    deps.store.update(*keys.product(M, "S1"), "SET #s = :s", names={"#s": "status"}, values={":s": "approved"})
    # a message that overtook fan_out's move to publishing comes back in a second, counted, not
    # after the queue's visibility timeout (six minutes on AWS); after five it is a retry as before
    deps.queues.msgs.clear()
    assert publish_message(deps, _msg("S1", "own_shop"), pub) == "early"
    assert deps.queues.msgs == [("publish_own_shop", {**_msg("S1", "own_shop"), "early": 1}, 1)]
    with pytest.raises(Transient):
        publish_message(deps, _msg("S1", "own_shop", early=5), pub)
    # the automatic review sends before its one write moves the product from in_review
    deps.store.update(*keys.product(M, "S1"), "SET #s = :s", names={"#s": "status"}, values={":s": "in_review"})
    assert publish_message(deps, _msg("S1", "own_shop"), pub) == "early"
    deps.store.update(*keys.product(M, "S1"), "SET #s = :s", names={"#s": "status"}, values={":s": "failed"})
    assert publish_message(deps, _msg("S1", "own_shop"), pub) == "product_failed"
    assert ports["own_shop"].calls == []


def test_a_shop_without_credentials_fails_its_listing_located(env):
    deps, pub, ports, _ = env
    _product(deps, "N1", channels=("wechat",))

    def no_shop(m, c):
        raise ChannelError("permanent", "CHANNEL_NOT_CONFIGURED", "尚未配置店铺", "no shop configured")

    pub.shop_for = no_shop
    assert publish_message(deps, _msg("N1", "wechat"), pub) == "failed"
    assert _status(deps, "N1") == "needs_fix"


def test_the_callback_function_verifies_the_signature_and_applies_once(env, handler):
    """The real handler and the real WeChat push format: a forged push is refused (401), a
    genuine one applied, its replay acknowledged without applying again."""
    from shangjia.channels import signing
    from shangjia.channels.credentials import forget_shops, save_shop

    deps, pub, ports, _ = env
    save_shop(deps, Shop(M, "wechat", shop_id="wx-shop", app_id="wxapp1", app_secret="sec",
                         callback_token="tok1"), at="2026-11-25T02:30:00Z")
    forget_shops()
    _product(deps, "CB1", channels=("wechat",))
    publish_message(deps, _msg("CB1", "wechat"), pub)
    ppid = _listing(deps, "CB1", "wechat")["platform_product_id"]
    body = json.dumps({"ToUserName": "gh_x", "CreateTime": 1764038400, "MsgType": "event", "MsgId": "m-77",
                       "Event": "product_spu_audit", "ProductSpuAudit": {"product_id": ppid, "status": 3}})

    def event(sig):
        q = {"appid": "wxapp1", "signature": sig, "timestamp": "1764038400", "nonce": "42"}
        return {"version": "2.0", "routeKey": "POST /callbacks/wechat", "rawPath": "/callbacks/wechat",
                "rawQueryString": "&".join(f"{k}={v}" for k, v in q.items()), "queryStringParameters": q,
                "headers": {"content-type": "application/json"},
                "requestContext": {"accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                                   "http": {"method": "POST", "path": "/callbacks/wechat", "protocol": "HTTP/1.1",
                                            "sourceIp": "1.2.3.4", "userAgent": "wx"},
                                   "requestId": "r", "routeKey": "POST /callbacks/wechat", "stage": "$default",
                                   "time": "", "timeEpoch": 0},
                "body": body, "isBase64Encoded": False}

    fn = handler("channel_callback")
    assert fn(event("0" * 40))["statusCode"] == 401
    assert _listing(deps, "CB1", "wechat")["state"] == "in_audit"
    good = signing.wechat_push_signature("tok1", "1764038400", "42")
    r = fn(event(good))
    assert r["statusCode"] == 200 and r["body"] == "success"
    assert _listing(deps, "CB1", "wechat")["state"] == "live" and _status(deps, "CB1") == "published"
    assert fn(event(good))["statusCode"] == 200          # the platform's retry: acknowledged again
    assert deps.store.get("CALLBACK#wechat#m-77", "MSG")["applied"] is True


def test_delist_reaches_the_platform_product(env):
    deps, pub, ports, _ = env
    _product(deps, "D1", channels=("own_shop",))
    publish_message(deps, _msg("D1", "own_shop"), pub)
    ppid = _listing(deps, "D1", "own_shop")["platform_product_id"]
    assert publish_message(deps, _msg("D1", "own_shop", action="delist", sku_codes=["D1-9"]), pub) == "delisted"
    assert ports["own_shop"].calls[-1] == ("delist", ppid, ("D1-9",))
    assert _listing(deps, "D1", "own_shop")["delisted_skus"] == {"D1-9"}
    assert L.SETTLED >= {_listing(deps, "D1", "own_shop")["state"]}


def test_a_second_delivery_while_a_send_is_in_flight_waits_for_it(env):
    """SQS may deliver a message again while the first delivery is still sending (its visibility
    time-out ran out): the listing's lease makes the second wait instead of sending too."""
    deps, pub, ports, clock = env
    _product(deps, "F1", channels=("douyin",))
    seen = {}

    class Reentrant(FakePort):
        def submit(self, shop, product, *, listing):
            seen["second"] = publish_message(deps, _msg("F1", "douyin"), pub)   # the duplicate, mid-send
            return super().submit(shop, product, listing=listing)

    pub.ports["douyin"] = port = Reentrant("douyin")
    assert publish_message(deps, _msg("F1", "douyin"), pub) == "in_audit"
    assert seen["second"] == "in_flight"
    assert port.calls == [("create", "F1")], "one send, no lookup or second create from the duplicate"
    assert deps.queues.msgs[-1][2] == 90, "it comes back when the lease would have run out"
    assert "lease_until" not in _listing(deps, "F1", "douyin"), "the answer released the lease"
    assert publish_message(deps, deps.queues.msgs[-1][1], pub) == "in_audit"


def _early_left(deps, spu, channel="wechat"):
    """What of an early verdict is left once applied: on the listing, and on its platform-id item
    (which must not expire: the stub's expiry goes when publish writes the ref)."""
    from shangjia.channels.credentials import platform_ref_key

    listing = _listing(deps, spu, channel)
    ref = deps.store.get(*platform_ref_key(channel, listing["platform_product_id"]))
    return {k for k in ("early_verdict", "early_verdict_batch") if k in listing} | {k for k in ("ttl", "early") if k in (ref or {})}


def test_a_verdict_pushed_between_the_ref_and_the_move_into_audit_waits_on_the_listing(env, monkeypatch):
    """The push finds the platform-id item (publish wrote it) and the listing sent but not yet in
    audit: the verdict waits on the listing, and publish's move into audit returns it (no read)."""
    deps, pub, ports, _ = env
    _product(deps, "E2", channels=("wechat",))
    update, result = deps.store.update, []

    def hooked(pk, sk, expression, **kw):
        if sk == "LISTING#wechat" and (kw.get("values") or {}).get(":a0") == "in_audit" and not result:
            ppid = ports["wechat"].products["E2"]["platform_product_id"]
            result.append(apply_verdict(deps, AuditVerdict("wechat", "early-2", ppid, "approved")))
        return update(pk, sk, expression, **kw)

    monkeypatch.setattr(deps.store, "update", hooked)
    assert publish_message(deps, _msg("E2", "wechat"), pub) == "live"
    assert result == ["pending"]
    assert _listing(deps, "E2", "wechat")["verdict_msg_id"] == "early-2" and _status(deps, "E2") == "published"
    assert _early_left(deps, "E2") == set()


def test_a_verdict_that_saw_no_ref_but_finds_one_written_meanwhile_is_applied(env, monkeypatch):
    """The push read the platform-id item before publish wrote it; by its own write publish has
    moved the listing into audit: the stub write is refused, the ref read again, the verdict applied."""
    from shangjia.channels.credentials import platform_ref_key

    deps, pub, ports, _ = env
    _product(deps, "E3", channels=("wechat",))
    assert publish_message(deps, _msg("E3", "wechat"), pub) == "in_audit"
    ppid = _listing(deps, "E3", "wechat")["platform_product_id"]
    get, get_many, stale = deps.store.get, deps.store.get_many, [platform_ref_key("wechat", ppid)]

    def before_the_ref(keys_, **kw):                     # the push's first read: the ref not there yet
        got = get_many(keys_, **kw)
        return [i for i in got if not (stale and (i["pk"], i["sk"]) == stale[0] and stale.pop())]

    monkeypatch.setattr(deps.store, "get_many", before_the_ref)
    assert apply_verdict(deps, AuditVerdict("wechat", "late-ref", ppid, "approved")) == "live"
    assert not stale, "the push saw no ref first"
    assert _status(deps, "E3") == "published" and _early_left(deps, "E3") == set()
    assert "early" not in get(*platform_ref_key("wechat", ppid))


def test_a_verdict_that_saw_the_listing_sent_but_finds_it_in_audit_is_applied(env, monkeypatch):
    """The push read the listing sent and not yet in audit; the move into audit lands before the
    push keeps its verdict there: the keep is refused and the verdict applied at once."""
    deps, pub, ports, _ = env
    _product(deps, "E4", channels=("wechat",))
    assert publish_message(deps, _msg("E4", "wechat"), pub) == "in_audit"
    listing = _listing(deps, "E4", "wechat")
    # as the push saw it: its move refused and its read finding the listing sent, not yet in audit
    get, update, stale = deps.store.get, deps.store.update, [dict(listing, state="submitted", sent=True)]
    refused = []

    def update_before_the_move(pk, sk, expression, **kw):
        if sk == "LISTING#wechat" and ":ia" in (kw.get("values") or {}) and not refused:
            refused.append(sk)
            raise ConditionFailed("the listing was still submitted")
        return update(pk, sk, expression, **kw)

    monkeypatch.setattr(deps.store, "update", update_before_the_move)
    monkeypatch.setattr(deps.store, "get", lambda pk, sk, **kw: stale.pop() if stale and sk == "LISTING#wechat"
                        else get(pk, sk, **kw))
    assert apply_verdict(deps, AuditVerdict("wechat", "late-move", listing["platform_product_id"], "rejected",
                                            reason="主图模糊")) == "rejected"
    assert refused and not stale, "the push saw the listing sent first"
    assert _listing(deps, "E4", "wechat")["state"] == "rejected" and _early_left(deps, "E4") == set()


def test_a_verdict_for_an_id_no_send_claims_waits_on_a_stub_that_expires(env):
    from shangjia.channels.credentials import platform_ref_key

    deps, *_ = env
    assert apply_verdict(deps, AuditVerdict("wechat", "stray-1", "999", "approved")) == "pending"
    stub = deps.store.get(*platform_ref_key("wechat", "999"))
    assert stub["early"]["msg_id"] == "stray-1" and stub["ttl"] > time.time() and "merchant_id" not in stub
    assert apply_verdict(deps, AuditVerdict("wechat", "stray-1", "999", "approved")) == "duplicate"


def test_a_verdict_pushed_before_the_send_is_answered_is_kept_and_applied(env):
    """A quick audit: the platform's push arrives while our send is still waiting for its answer
    (the listing is not in audit yet). The verdict is kept, and applied when the answer lands."""
    deps, pub, ports, _ = env
    _product(deps, "E1", channels=("wechat",))

    class Quick(FakePort):
        def submit(self, shop, product, *, listing):
            out = super().submit(shop, product, listing=listing)
            seen.append(apply_verdict(deps, AuditVerdict("wechat", "early-1", out.platform_product_id, "approved")))
            return out

    seen = []
    pub.ports["wechat"] = Quick("wechat")
    assert publish_message(deps, _msg("E1", "wechat"), pub) == "live"
    assert seen == ["pending"]
    assert _listing(deps, "E1", "wechat")["verdict_msg_id"] == "early-1" and _status(deps, "E1") == "published"
    assert _early_left(deps, "E1") == set(), "the ref publish wrote over the verdict's stub does not expire"


class CallLog:
    """The store, recording each call: (method, keys read)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def get(self, pk, sk, **kw):
        self.calls.append(("get", [(pk, sk)]))
        return self.inner.get(pk, sk, **kw)

    def get_many(self, keys_, **kw):
        self.calls.append(("get_many", list(keys_)))
        return self.inner.get_many(keys_, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_send_reads_its_product_and_listing_in_one_request_and_a_verdict_settles_on_one_read(env):
    deps, pub, ports, _ = env
    _product(deps, "P1", channels=("own_shop", "wechat"))
    log = deps.store = CallLog(deps.store)
    assert publish_message(deps, _msg("P1", "wechat"), pub) == "in_audit"
    reads = [c for c in log.calls if c[0] in ("get", "get_many")]
    assert reads[0] == ("get_many", [keys.product(M, "P1"), keys.payload(keys.product_pk(M, "P1")),
                                     keys.listing(M, "P1", "wechat")])
    assert not any(keys.listing(M, "P1", "wechat") in ks for _, ks in reads[1:])
    assert publish_message(deps, _msg("P1", "own_shop"), pub) == "live"
    v = _verdict(deps, "P1", "wechat", "approved", "w-1")
    log.calls.clear()
    assert apply_verdict(deps, v) == "live"
    product_reads = [ks for op, ks in log.calls if keys.product(M, "P1") in ks]
    assert product_reads == [[keys.product(M, "P1"), keys.payload(keys.product_pk(M, "P1")),
                              *(keys.listing(M, "P1", c) for c in CHANNELS)]], "one read settles it"
    from shangjia.channels.credentials import platform_ref_key

    assert [ks for _, ks in log.calls][0] == [platform_ref_key("wechat", v.platform_product_id),
                                              ("CALLBACK#wechat#w-1", "MSG")], "the ref and the record in one read"
    assert sum(ks.count(keys.listing(M, "P1", "wechat")) for _, ks in log.calls) == 1, \
        "the listing is moved without a read first; only the settling read names it"
    assert _status(deps, "P1") == "published"


def test_only_an_audited_channels_listing_keeps_a_platform_id_item(env):
    """The platform id -> listing item serves audit pushes (and WeChat's shop scan): the own
    shop, live at once and pushing nothing, writes none."""
    from shangjia.channels.credentials import platform_ref_key

    deps, pub, ports, _ = env
    _product(deps, "R1", channels=("own_shop", "wechat"))
    assert publish_message(deps, _msg("R1", "own_shop"), pub) == "live"
    assert publish_message(deps, _msg("R1", "wechat"), pub) == "in_audit"
    own, wechat = (_listing(deps, "R1", c)["platform_product_id"] for c in ("own_shop", "wechat"))
    assert deps.store.get(*platform_ref_key("own_shop", own)) is None
    assert deps.store.get(*platform_ref_key("wechat", wechat))["spu_code"] == "R1"


def test_a_verdict_kept_for_an_earlier_revisions_send_is_not_applied_to_the_next(env):
    """b1's send is answered late; its verdict was kept on the listing (stamped b1) and b1's send
    then failed for good; the next upload's send (b2, here after a quota wait) goes into audit:
    b1's verdict is not b2's audit."""
    deps, pub, ports, clock = env
    _product(deps, "E5", channels=("wechat",))
    assert publish_message(deps, _msg("E5", "wechat"), pub) == "in_audit"
    deps.store.update(*keys.listing(M, "E5", "wechat"), "SET early_verdict = :e, early_verdict_batch = :b",
                      values={":e": {"verdict": "approved", "msg_id": "old-send", "source": "callback"}, ":b": "b1"})
    _product(deps, "E5", batch="b2", channels=("wechat",), title="新标题")       # a re-upload
    ports["wechat"].faults = [ChannelError("quota", None, "频率限制", "rate limited")]
    assert publish_message(deps, _msg("E5", "wechat", batch="b2"), pub) != "in_audit"
    clock.t += 3600
    assert publish_message(deps, deps.queues.msgs[-1][1], pub) == "in_audit"
    listing = _listing(deps, "E5", "wechat")
    assert listing["state"] == "in_audit" and listing["batch_id"] == "b2" and "verdict_msg_id" not in listing


class ImagePort(FakePort):
    """A re-hosting platform: its product's image map is read with the product (``images_key``)."""

    def __init__(self, channel):
        super().__init__(channel)
        self.given: list[dict] = []

    def images_key(self, shop, spu):
        return f"CHANNELIMG#{self.channel}#{shop.shop_id}#{spu}", "IMAGES"

    def submit(self, shop, product, *, listing):
        self.given.append(product.get("hosted_images"))
        return super().submit(shop, product, listing=listing)


def test_a_re_hosting_channels_image_map_is_read_with_the_product_and_handed_over(env):
    deps, pub, ports, _ = env
    port = pub.ports["wechat"] = ImagePort("wechat")
    _product(deps, "P1", channels=("wechat",))
    _product(deps, "P2", channels=("wechat",))
    ikey = port.images_key(pub.shop(M, "wechat"), "P1")
    deps.store.put({"pk": ikey[0], "sk": ikey[1], "urls": {"r/abc/p1/main.webp": "https://mmecimage.cn/p/1"}})
    log = deps.store = CallLog(deps.store)
    assert publish_message(deps, _msg("P1", "wechat"), pub) == "in_audit"
    assert publish_message(deps, _msg("P2", "wechat"), pub) == "in_audit"
    reads = [c for c in log.calls if c[0] in ("get", "get_many")]
    assert reads[0] == ("get_many", [keys.product(M, "P1"), keys.payload(keys.product_pk(M, "P1")),
                                     keys.listing(M, "P1", "wechat"), ikey])
    assert not any(ikey in ks for _, ks in reads[1:])
    # what was read reaches the adapter; a product with no map yet gets an empty one (no read of its own)
    assert port.given == [{"r/abc/p1/main.webp": "https://mmecimage.cn/p/1"}, {}]
    assert "hosted_images" not in (get_product(deps, M, "P1").get("product") or {})


def test_a_listings_content_hash_covers_the_renditions_not_where_the_source_came_from():
    from shangjia.pipeline.publish import content_hash

    p = {"spu_code": "P1", "title": "好物", "skus": [{"sku_code": "P1-1", "price_fen": 1990, "stock": 5}]}
    shown = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/aa/bb/main.webp"}]}}
    same = {"main#00": {**shown["main#00"], "source": "1.2.3", "tags": {"colors": ["red"]}, "phash": "ff"}}
    other = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/cc/bb/main.webp"}]}}
    assert content_hash(p, shown) == content_hash(p, same) == content_hash({**p, "skus": [{**p["skus"][0], "stock": 9}]}, same)
    assert content_hash(p, shown) != content_hash(p, other)
