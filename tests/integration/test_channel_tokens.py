"""Channel credentials and tokens on moto: shop secrets through Secrets Manager, the token
cache's lease (one fetch for concurrent callers, a crashed owner's lease taken over, expiry
only of the token that was refused), Douyin's tokens and expiries written together, the CLI."""

from __future__ import annotations

import json
import threading
import time

import pytest

from shangjia.channels import ChannelError, Shop
from shangjia.channels.credentials import (TokenCache, forget_shops, save_shop, secret_name, shop_by_app, shop_for,
                                           shop_lookup_for, token_key)


@pytest.fixture(autouse=True)
def _fresh_shops():
    forget_shops()
    yield
    forget_shops()


def test_shop_secret_round_trip(deps):
    shop = Shop("m-1", "wechat", "shop-9", "wx0123", "s3cret", callback_token="cbtok", base_url="http://127.0.0.1:1")
    save_shop(deps, shop, at="2026-11-25T02:30:00Z")
    raw = json.loads(deps.secrets.get(secret_name("m-1", "wechat")))
    assert raw == {"shop_id": "shop-9", "app_id": "wx0123", "app_secret": "s3cret", "callback_token": "cbtok",
                   "base_url": "http://127.0.0.1:1"}
    assert shop_for(deps, "m-1", "wechat") == shop
    assert shop_by_app(deps, "wechat", "wx0123") == shop
    assert shop_lookup_for(deps, "wechat", "m-1")("") == shop
    assert shop_lookup_for(deps, "wechat", "m-1")("wx-other") is None
    assert "s3cret" not in repr(shop)
    # a new secret version replaces the old one
    save_shop(deps, Shop("m-1", "wechat", "shop-9", "wx0123", "rotated"), at="t")
    forget_shops()
    deps.secrets._cache.clear()
    assert shop_for(deps, "m-1", "wechat").app_secret == "rotated"


def test_a_merchant_without_a_shop_is_a_permanent_error(deps):
    with pytest.raises(ChannelError) as e:
        shop_for(deps, "m-none", "douyin")
    assert (e.value.kind, e.value.code) == ("permanent", "CHANNEL_NOT_CONFIGURED")
    assert shop_for(deps, "m-none", "own_shop").shop_id == "m-none"
    assert shop_by_app(deps, "douyin", "nobody") is None


def test_concurrent_fetchers_make_one_fetch(deps):
    calls = []

    def fetch(old):
        calls.append(1)
        time.sleep(0.3)
        return {"token": f"T{len(calls)}", "expires_at": time.time() + 7200}

    # DynamoDB applies a conditional write atomically; moto in process does not lock between its
    # check and its write, so the threads go through one lock here (what DynamoDB guarantees)
    lock = threading.Lock()

    class Serialised:
        def __getattr__(self, name):
            fn = getattr(deps.store, name)

            def call(*a, **kw):
                with lock:
                    return fn(*a, **kw)
            return call

    store = Serialised()
    results, errors = [], []

    def run():
        try:
            c = TokenCache(store, "wechat", "shop-r", poll_s=0.02)
            results.append(c.get(lambda i: i["expires_at"] - time.time() > 300, fetch)["token"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(calls) == 1 and results == ["T1"] * 4
    item = deps.store.get(*token_key("wechat", "shop-r"))
    assert item["token"] == "T1" and item["rev"] == 1 and "lease_owner" not in item


def test_a_crashed_owners_lease_is_taken_over_when_it_runs_out(deps):
    pk, sk = token_key("douyin", "shop-c")
    deps.store.put({"pk": pk, "sk": sk, "token": "OLD", "expires_at": 0, "rev": 3,
                    "lease_owner": "dead", "lease_until": time.time() + 0.5})
    c = TokenCache(deps.store, "douyin", "shop-c", poll_s=0.05)
    got = c.get(lambda i: i["expires_at"] > time.time(), lambda old: {"token": "NEW", "expires_at": time.time() + 99})
    assert got["token"] == "NEW" and c.fetches == 1
    assert deps.store.get(pk, sk)["rev"] == 4


def test_waiting_for_a_stuck_refresh_gives_up_as_transient(deps):
    pk, sk = token_key("wechat", "shop-w")
    deps.store.put({"pk": pk, "sk": sk, "token": "OLD", "expires_at": 0, "rev": 1,
                    "lease_owner": "other", "lease_until": time.time() + 60})
    c = TokenCache(deps.store, "wechat", "shop-w", wait_s=0.3, poll_s=0.05)
    from shangjia.ports import Transient

    with pytest.raises(Transient):
        c.get(lambda i: i["expires_at"] > time.time(), lambda old: pytest.fail("must not fetch"))


def test_a_failed_fetch_releases_the_lease(deps):
    c = TokenCache(deps.store, "wechat", "shop-f")

    def boom(old):
        raise ChannelError("transient", None, "x", "x")

    with pytest.raises(ChannelError):
        c.get(lambda i: True, boom)
    assert "lease_owner" not in (deps.store.get(*token_key("wechat", "shop-f")) or {})
    assert c.get(lambda i: True, lambda old: {"token": "T", "expires_at": 1})["token"] == "T"


def test_expire_only_touches_the_refused_token(deps):
    c = TokenCache(deps.store, "wechat", "shop-e")
    c.get(lambda i: True, lambda old: {"token": "A", "expires_at": time.time() + 7200})
    c.expire("some-older-token")                    # replaced meanwhile: left alone
    assert deps.store.get(*token_key("wechat", "shop-e"))["expires_at"] > time.time()
    c.expire("A")
    assert deps.store.get(*token_key("wechat", "shop-e"))["expires_at"] == 0


def test_douyin_tokens_and_both_expiries_are_one_write(deps):
    from shangjia.channels.douyin import DouyinChannel
    from shangjia.localcloud.channels_sim.douyin import DouyinSim

    sim = DouyinSim()
    sim.start()
    try:
        app, _ = sim.register_shop("4463798")
        save_shop(deps, Shop("m-1", "douyin", "4463798", app.app_key, app.app_secret, base_url=sim.url), at="t")
        shop = shop_for(deps, "m-1", "douyin")
        ch = DouyinChannel(deps)
        t1 = ch.access_token(shop)
        item = deps.store.get(*token_key("douyin", "4463798"))
        assert {"token", "expires_at", "refresh_token", "refresh_expires_at", "rev"} <= set(item)
        assert item["refresh_expires_at"] - item["expires_at"] == pytest.approx(7 * 86400, abs=5)
        deps.store.update(*token_key("douyin", "4463798"), "SET expires_at = :e", values={":e": time.time() + 100})
        ch = DouyinChannel(deps)          # another container (the first keeps its item while fresh)
        t2 = ch.access_token(shop)
        after = deps.store.get(*token_key("douyin", "4463798"))
        assert t2 != t1 and after["rev"] == item["rev"] + 1
        assert after["refresh_token"] != item["refresh_token"] and after["refresh_expires_at"] > item["refresh_expires_at"]
        assert [p for p, _ in sim.requests] == ["/token/create", "/token/refresh"]
    finally:
        sim.stop()


def test_cli_shops_add_writes_the_secret(deps, capsys):
    from shangjia.cli import main
    from shangjia.pipeline import keys

    assert main(["shops", "add", "m-cli", "wechat", "--shop-id", "s1", "--app-id", "wxA", "--app-secret", "S"]) == 2
    deps.store.put({"pk": keys.merchant("m-cli")[0], "sk": "PROFILE", "merchant_id": "m-cli"})
    assert main(["shops", "add", "m-cli", "wechat", "--shop-id", "s1", "--app-id", "wxA", "--app-secret", "S",
                 "--callback-token", "cb"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["secret"] == "shangjia/shops/m-cli/wechat"
    forget_shops()
    assert shop_for(deps, "m-cli", "wechat") == Shop("m-cli", "wechat", "s1", "wxA", "S", callback_token="cb")
    assert main(["shops", "show", "m-cli"]) == 0
    shown = capsys.readouterr().out
    assert "wxA" in shown and "\"S\"" not in shown


def test_a_pushs_app_id_is_looked_up_once_per_container_and_forgotten_when_the_shop_changes(deps, monkeypatch):
    shop = Shop("m-2", "douyin", "shop-2", "dy-app-2", "s3cret")
    save_shop(deps, shop, at="t")
    reads = []
    real = deps.store.get
    monkeypatch.setattr(deps.store, "get", lambda pk, sk, **kw: (reads.append(pk), real(pk, sk, **kw))[1])
    assert [shop_by_app(deps, "douyin", "dy-app-2") for _ in range(3)] == [shop] * 3
    assert reads.count("CHANNELAPP#douyin#dy-app-2") == 1
    save_shop(deps, Shop("m-2", "douyin", "shop-2", "dy-app-2", "rotated"), at="t2")
    deps.secrets._cache.clear()
    assert shop_by_app(deps, "douyin", "dy-app-2").app_secret == "rotated"
    assert reads.count("CHANNELAPP#douyin#dy-app-2") == 2
