"""The quota per (channel, shop): a token bucket and a daily cap, on a DynamoDB table (moto):
shared by every publisher through the table, never in memory. (The circuit breaker: test_circuit.py.)"""

import threading

import pytest
from moto import mock_aws

from shangjia.channels.throttle import Rate, Throttle, daily_cap_for, day_index, day_start, rate_for
from shangjia.ports import ConditionFailed

from .adapters_support import Clock


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
    assert daily_cap_for("wechat") == 1000                 # and 1,000 a day per shop (CHANNEL-APIS §2.2)
    assert daily_cap_for("douyin") is None and daily_cap_for("own_shop") is None


def test_rate_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHANGJIA_QUOTA_WECHAT", "10/60:2")
    assert rate_for("wechat") == Rate(10 / 60, 2)
    monkeypatch.setenv("SHANGJIA_QUOTA_DOUYIN", "off")
    assert rate_for("douyin") is None
    monkeypatch.setenv("SHANGJIA_QUOTA_WECHAT_DAY", "50")
    assert daily_cap_for("wechat") == 50
    monkeypatch.setenv("SHANGJIA_QUOTA_WECHAT_DAY", "off")
    assert daily_cap_for("wechat") is None
    monkeypatch.setenv("SHANGJIA_QUOTA_DOUYIN_DAY", "-3")
    with pytest.raises(ValueError):
        daily_cap_for("douyin")


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


# --- the daily cap ----------------------------------------------------------------------------------

class MemoryBucket:
    """The two store calls the bucket's read-and-write path makes (get; put with its two
    conditions), in memory, so a test can take thousands of slots quickly (moto takes ~10 ms a
    call): the throttles on it take ``fast=False``. ``test_one_update_takes_the_same_slots``
    checks the one-update path against this one on DynamoDB's semantics (moto)."""

    def __init__(self):
        self.items = {}

    def get(self, pk, sk, *, consistent=True):
        item = self.items.get((pk, sk))
        return dict(item) if item else None

    def put(self, item, *, condition=None, names=None, values=None):
        cur = self.items.get((item["pk"], item["sk"]))
        if condition == "attribute_not_exists(pk)" and cur is not None:
            raise ConditionFailed(condition)
        if condition == "v = :v" and (cur is None or cur.get("v") != values[":v"]):
            raise ConditionFailed(condition)
        self.items[(item["pk"], item["sk"])] = dict(item)


DAY = 86400


def at_china(day: int, hour: float) -> float:
    """Epoch seconds at ``hour`` o'clock China time on day number ``day``."""
    return day_start(day) + hour * 3600


def test_days_are_china_calendar_days():
    d = day_index(1_700_000_000)
    assert day_index(day_start(d)) == d and day_index(day_start(d) - 0.001) == d - 1
    # 00:00 in Beijing is 16:00 UTC the day before
    assert day_start(d) % DAY == 16 * 3600


def test_the_1001st_submission_of_a_day_waits_for_the_next_day_though_the_bucket_has_tokens():
    d = day_index(1_700_000_000)
    clock = Clock(at_china(d, 10))
    t = Throttle(MemoryBucket(), fast=False, now=clock, rates={"wechat": Rate.parse("100000/3600:5000")},
                 daily={"wechat": 1000})
    assert [t.take("wechat", "s") for _ in range(1000)] == [0.0] * 1000
    slot = t.take_slot("wechat", "s")
    assert slot.limit == "day", "the bucket still holds 4,000 tokens: the day's cap set the time"
    assert slot.at == at_china(d + 1, 0) and slot.wait_s == 14 * 3600, "next day, 00:00 China time"
    # later the same day: still tomorrow, queued behind the 1,001st
    clock.t = at_china(d, 23.5)
    assert t.take_slot("wechat", "s").at == at_china(d + 1, 0)
    # another shop has its own cap
    assert t.take("wechat", "other") == 0.0
    # the next day: 998 more at once, then the cap again
    clock.t = at_china(d + 1, 0)
    assert [t.take("wechat", "s") for _ in range(998)] == [0.0] * 998
    assert t.take_slot("wechat", "s").at == at_china(d + 2, 0)


def test_a_full_day_spends_no_hourly_token_of_today_and_the_next_day_is_paced_by_the_bucket():
    d = day_index(1_700_000_000)
    clock = Clock(at_china(d, 0))
    t = Throttle(MemoryBucket(), fast=False, now=clock, rates={"wechat": Rate.parse("200/3600:20")}, daily={"wechat": 1000})
    slots = [t.take_slot("wechat", "s").at for _ in range(1040)]
    today, tomorrow = slots[:1000], slots[1000:]
    assert today[-1] == pytest.approx(at_china(d, 0) + (1000 - 20) * 18), "200 an hour: the 1,000th at 04:54"
    # the 1,001st..: tomorrow at 00:00 with a full bucket (20 at once), then one every 18 s; had
    # the daily wait taken today's tokens, tomorrow's first slots would come 18 s apart from 00:00
    assert tomorrow[:20] == [at_china(d + 1, 0)] * 20
    assert tomorrow[20:] == pytest.approx([at_china(d + 1, 0) + 18 * (i + 1) for i in range(20)])


def test_slots_never_exceed_the_hour_or_the_day_whenever_the_queue_starts():
    for start_hour in (0, 13.75, 22.9, 23.99):
        d = day_index(1_700_000_000)
        clock = Clock(at_china(d, start_hour))
        t = Throttle(MemoryBucket(), fast=False, now=clock, rates={"wechat": Rate.parse("200/3600:20")},
                     daily={"wechat": 1000})
        slots = [t.take_slot("wechat", "s").at for _ in range(2600)]
        assert slots == sorted(slots), "in order"
        per_day: dict[int, int] = {}
        for s in slots:
            per_day[day_index(s)] = per_day.get(day_index(s), 0) + 1
        assert max(per_day.values()) == 1000, (start_hour, per_day)
        j = 0
        for i, s in enumerate(slots):            # any rolling hour: at most burst + rate x hour
            while slots[j] <= s - 3600:
                j += 1
            assert i - j + 1 <= 220, (start_hour, i)


def test_a_queue_of_reservations_running_past_midnight_counts_against_the_next_day():
    d = day_index(1_700_000_000)
    clock = Clock(at_china(d, 23.5))
    t = Throttle(MemoryBucket(), fast=False, now=clock, rates={"wechat": Rate.parse("200/3600:20")}, daily={"wechat": 1000})
    slots = [t.take_slot("wechat", "s").at for _ in range(1200)]
    before = sum(1 for s in slots if s < at_china(d + 1, 0))
    assert before == 20 + 99, "the burst, then a slot every 18 s in the half hour before midnight (the 100th at 00:00)"
    after = [s for s in slots if day_index(s) == d + 1]
    assert len(after) == 1000, "the next day takes its 1,000"
    assert slots[119 + 1000] == at_china(d + 2, 0), "and the 1,001st of that day waits for the day after"


def test_the_daily_cap_on_dynamodb_and_a_penalty_keeps_the_next_days_slots(store):
    d = day_index(1_700_000_000)
    clock = Clock(at_china(d, 9))
    t = Throttle(store, now=clock, rates={"wechat": Rate.parse("3600/3600:100")}, daily={"wechat": 3})
    assert [t.take("wechat", "s") for _ in range(3)] == [0.0] * 3
    assert t.take("wechat", "s") == 15 * 3600
    item = store.get("THROTTLE#wechat#s", "BUCKET")
    assert item["day"] == d + 1 and item["day_used"] == 1
    t.penalize("wechat", "s", 600)            # the platform's 1002001: nothing before 09:10 ...
    assert t.take("wechat", "s") == 15 * 3600, "... which changes nothing for slots already tomorrow"


def test_a_daily_cap_alone(store):
    d = day_index(1_700_000_000)
    clock = Clock(at_china(d, 20))
    t = Throttle(store, now=clock, rates={"wechat": None}, daily={"wechat": 2})
    assert [t.take("wechat", "s") for _ in range(3)] == [0.0, 0.0, 4 * 3600]


def _counting(store):
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name):
            attr = getattr(store, name)
            if not callable(attr):
                return attr

            def call(*a, **k):
                calls.append(name)
                return attr(*a, **k)
            return call
    return Counting(), calls


@pytest.mark.parametrize("start_hour", [10, 23.8])
def test_one_update_takes_the_same_slots_as_reading_and_writing(store, start_hour):
    """The one-update path (moto: DynamoDB's conditions) hands out exactly the slots the
    read-and-write path does, through a burst, a queue, the day's cap, a queue past midnight and
    a bucket at rest again; and a take is one request where the update can say it."""
    d = day_index(1_700_000_000)
    fast_clock, slow_clock = Clock(at_china(d, start_hour)), Clock(at_china(d, start_hour))
    counted, calls = _counting(store)
    rates, daily = {"wechat": Rate.parse("600/3600:5")}, {"wechat": 40}
    fast = Throttle(counted, now=fast_clock, rates=rates, daily=daily)
    slow = Throttle(MemoryBucket(), fast=False, now=slow_clock, rates=rates, daily=daily)
    got, want = [], []
    for i in range(90):
        if i in (30, 60):                 # a pause: the bucket rests (and the day may turn)
            fast_clock.t += 3 * 3600
            slow_clock.t += 3 * 3600
        a, b = fast.take_slot("wechat", "s"), slow.take_slot("wechat", "s")
        got.append((round(a.at, 3), a.limit))
        want.append((round(b.at, 3), b.limit))
    assert got == want
    assert any(limit == "day" for _, limit in want) and any(limit == "rate" for _, limit in want)
    updates = calls.count("update")
    assert calls.count("get") <= 4, calls           # only where the update cannot say it (the cap reached)
    assert updates >= 70


def test_a_bucket_of_the_older_form_is_read_and_carried_over(store):
    """An item written as ``tokens``/``at`` keeps its queue: read, converted, written back as ``tat``."""
    clock = Clock()
    store.put({"pk": "THROTTLE#wechat#s", "sk": "BUCKET", "tokens": -4.0, "at": clock.t, "v": 3})
    t = Throttle(store, now=clock, rates={"wechat": Rate.parse("200/3600:20")})
    assert t.take("wechat", "s") == pytest.approx(5 * 18), "four reserved ahead: the fifth slot"
    item = store.get("THROTTLE#wechat#s", "BUCKET")
    assert "tokens" not in item and item["v"] == 4 and item["tat"] == pytest.approx(clock.t + 25 * 18)
