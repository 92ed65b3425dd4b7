"""The token bucket per (channel, shop) and the circuit breaker per channel, on a DynamoDB table
(moto): shared by every publisher through the table, never in memory."""

import threading

import pytest
from moto import mock_aws

from shangjia.channels.throttle import Circuit, Rate, Throttle, rate_for


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def store(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for k, v in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        import boto3

        from shangjia.adapters.aws import DynamoStore, reset_clients

        reset_clients()
        boto3.client("dynamodb").create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        monkeypatch.setenv("SHANGJIA_TABLE_STATE", "t")
        yield DynamoStore()
        reset_clients()


def test_rates_parse_and_default():
    assert Rate.parse("200/3600:20") == Rate(per_s=200 / 3600, burst=20)
    assert Rate.parse("60/60").burst == 6
    for bad in ("0/60", "5/0", "5/60:0.5", "x"):
        with pytest.raises(ValueError):
            Rate.parse(bad)
    assert rate_for("wechat") == Rate(200 / 3600, 20)      # WeChat: 200 adds/updates an hour per shop
    assert rate_for("own_shop") is None


def test_rate_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHANGJIA_QUOTA_WECHAT", "10/60:2")
    assert rate_for("wechat") == Rate(10 / 60, 2)
    monkeypatch.setenv("SHANGJIA_QUOTA_DOUYIN", "off")
    assert rate_for("douyin") is None


def test_a_full_bucket_serves_its_burst_then_hands_out_slots_in_order(store):
    clock = Clock()
    t = Throttle(store, now=clock, rates={"wechat": Rate.parse("200/3600:20")})
    assert [t.take("wechat", "shop-1") for _ in range(20)] == [0.0] * 20
    waits = [t.take("wechat", "shop-1") for _ in range(5)]
    assert waits == pytest.approx([18 * (i + 1) for i in range(5)]), "one slot every 18 s (200/hour), reserved in order"
    # another shop has its own bucket
    assert t.take("wechat", "shop-2") == 0.0
    # time refills: 5 reserved slots are paid back after 90 s, then 18 s more gives one token
    clock.t += 90 + 18
    assert t.take("wechat", "shop-1") == 0.0


def test_a_5000_product_upload_waits_its_turn_instead_of_failing(store):
    clock = Clock()
    t = Throttle(store, now=clock, rates={"wechat": Rate.parse("200/3600:20")})
    n = 600           # the first 600 of the 5,000 (moto's speed); the slots are linear from there
    waits = [t.take("wechat", "big-shop") for _ in range(n)]
    assert waits[:20] == [0.0] * 20
    assert waits == sorted(waits), "slots in arrival order"
    # each slot exactly 18 s after the previous: the 5,000th is (5000 - 20) x 18 s = 24.9 hours out
    assert waits[-1] == pytest.approx((n - 20) * 18)
    assert all(b - a == pytest.approx(18) for a, b in zip(waits[20:], waits[21:]))


class _Atomic:
    """moto's in-process DynamoDB does not make a conditional write atomic across threads (the
    service does): each store call is serialised, so the test checks the bucket's algorithm."""

    def __init__(self, store):
        self._store, self._lock = store, threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*a, **k):
            with self._lock:
                return attr(*a, **k)
        return call


def test_concurrent_publishers_share_one_bucket(store):
    clock = Clock()
    t = Throttle(_Atomic(store), now=clock, rates={"wechat": Rate.parse("3600/3600:10")}, max_tries=200)
    waits: list[float] = []
    lock = threading.Lock()

    def work():
        for _ in range(10):
            w = t.take("wechat", "s")
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(waits) == pytest.approx([0.0] * 10 + [float(i) for i in range(1, 31)]), \
        "40 takes: 10 from the bucket, then 30 distinct one-second slots (no token handed out twice)"


def test_no_rate_no_bucket(store):
    t = Throttle(store, rates={"own_shop": None})
    assert t.take("own_shop", "m") == 0.0
    assert store.get("THROTTLE#own_shop#m", "BUCKET") is None


def test_the_platforms_quota_answer_empties_the_bucket_for_everyone(store):
    clock = Clock()
    t = Throttle(store, now=clock, rates={"wechat": Rate.parse("200/3600:20")})
    assert t.take("wechat", "s") == 0.0
    t.penalize("wechat", "s", 600)
    assert t.take("wechat", "s") == pytest.approx(600 + 18)


def test_circuit_opens_after_consecutive_failures_probes_once_and_closes_on_success(store):
    clock = Clock()
    c = Circuit(store, now=clock, threshold=3, cooldown_s=30)
    assert c.check("wechat").wait_s == 0
    assert [c.failure("wechat") for _ in range(3)] == [False, False, True]
    s = c.check("wechat")
    assert s.wait_s == pytest.approx(30)
    assert c.check("douyin").wait_s == 0, "per channel"
    clock.t += 31
    probe = c.check("wechat")
    assert probe.wait_s == 0, "one caller probes"
    assert c.check("wechat").wait_s > 0, "the others keep waiting for the probe"
    c.success("wechat", probe)
    assert c.check("wechat").wait_s == 0 and c.check("wechat").failures == 0


def test_a_failed_probe_reopens_for_longer(store):
    clock = Clock()
    c = Circuit(store, now=clock, threshold=2, cooldown_s=10)
    c.failure("douyin")
    c.failure("douyin")
    clock.t += 11
    assert c.check("douyin").wait_s == 0
    assert c.failure("douyin") is True
    assert c.check("douyin").wait_s == pytest.approx(20), "the cooldown doubles while it keeps failing"


def test_success_on_a_closed_circuit_writes_nothing(store):
    c = Circuit(store, threshold=3)
    s = c.check("wechat")
    c.success("wechat", s)
    assert store.get("CIRCUIT#wechat", "STATE") is None
