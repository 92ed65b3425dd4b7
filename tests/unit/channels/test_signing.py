"""Platform signatures against published vectors, hand recomputation, and properties.

Vector sources (see ../shared/CHANNEL-APIS.md and docs/channels.md "## Signing"):
- [VEC-OFFICIAL] Taobao TOP doc docId=101617 (CHANNEL-APIS §3.2), Pinduoduo "API调用" doc (§4.1),
  Tencent's WXBizMsgCrypt samples (Python demo.py, C++ sample.cpp).
- [VEC] values recomputed from the written formula by Node's ``crypto`` (an independent
  implementation), plus every Douyin value recomputed by hand below from the formula with
  ``hashlib``/``hmac`` — never through the module's own helpers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest
from hypothesis import assume, given, settings, strategies as st

from shangjia.channels import signing
from shangjia.channels.signing import (
    SignatureError, douyin_event_sign, douyin_param_json, douyin_sign, douyin_sign_string,
    douyin_spi_sign, jushuitan_sign, pdd_sign, pdd_sign_string, taobao_sign, taobao_sign_string,
    verify_douyin_event, verify_webhook, verify_wechat_push, wechat_push_signature,
    webhook_signature_header,
)
from shangjia.cli import main

# --- Taobao TOP ---------------------------------------------------------------------------------

TOP_PARAMS = {"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
              "timestamp": "2016-01-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
              "fields": "num_iid,title,nick,price,num", "num_iid": "11223344"}
TOP_Q = ("app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get"
         "num_iid11223344sessiontestsign_method{m}timestamp2016-01-01 12:00:00v2.0")


def test_taobao_md5_official_vector():
    """[VEC-OFFICIAL] open.taobao.com docId=101617, CHANNEL-APIS §3.2."""
    assert taobao_sign_string("helloworld", TOP_PARAMS) == "helloworld" + TOP_Q.format(m="md5") + "helloworld"
    assert taobao_sign("helloworld", TOP_PARAMS) == "66987CB115214E59E6EC978214934FB8"


@pytest.mark.parametrize("method, digest, node_value", [
    ("hmac", hashlib.md5, "D56D7858309C31B6251083A874D48273"),
    ("hmac-sha256", hashlib.sha256, "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"),
])
def test_taobao_hmac_variants(method, digest, node_value):
    """[VEC] HMAC(key=secret, q) with no secret wrapper (TaobaoUtils.signTopRequest)."""
    params = dict(TOP_PARAMS, sign_method=method)
    q = TOP_Q.format(m=method)
    assert taobao_sign_string("helloworld", params, method) == q
    by_hand = hmac.new(b"helloworld", q.encode(), digest).hexdigest().upper()
    assert taobao_sign("helloworld", params, method) == by_hand == node_value


def test_taobao_skips_sign_and_empty_values_signs_utf8_raw():
    base = taobao_sign("helloworld", TOP_PARAMS)
    assert taobao_sign("helloworld", dict(TOP_PARAMS, sign="ABC", partner_id="", simplify=None)) == base
    p = dict(TOP_PARAMS, q="红色 T恤&x=1")
    s = "helloworld" + TOP_Q.format(m="md5").replace("num_iid11223344", "num_iid11223344q红色 T恤&x=1") + "helloworld"
    assert taobao_sign("helloworld", p) == hashlib.md5(s.encode("utf-8")).hexdigest().upper()


def test_taobao_refuses_a_sign_method_the_params_contradict():
    with pytest.raises(ValueError):
        taobao_sign("helloworld", TOP_PARAMS, "hmac")
    with pytest.raises(ValueError):
        taobao_sign("helloworld", {"a": "1"}, "sha1")


# --- Pinduoduo ----------------------------------------------------------------------------------

PDD_PARAMS = {"access_token": "asd78172s8ds9a921j9qqwda12312w1w21211", "client_id": "1", "data_type": "XML",
              "order_status": "1", "page": "1", "page_size": "10", "timestamp": "1480411125",
              "type": "pdd.order.number.list.get"}


def test_pdd_official_vector():
    """[VEC-OFFICIAL] PDD "API调用" doc, CHANNEL-APIS §4.1."""
    assert pdd_sign_string("testSecret", PDD_PARAMS) == (
        "testSecretaccess_tokenasd78172s8ds9a921j9qqwda12312w1w21211client_id1data_typeXMLorder_status1"
        "page1page_size10timestamp1480411125typepdd.order.number.list.gettestSecret")
    assert pdd_sign("testSecret", PDD_PARAMS) == "E4DE3ED21002510DED352819E7AE6775"
    assert pdd_sign("testSecret", dict(PDD_PARAMS, sign="X")) == "E4DE3ED21002510DED352819E7AE6775"


def test_pdd_objects_are_json_stringified_as_sent():
    p = {"type": "pdd.goods.add", "sku_list": [{"price": "2200", "spec_id_list": "[25]"}], "is_folt": True}
    s = 'testSecretis_folttruesku_list[{"price":"2200","spec_id_list":"[25]"}]typepdd.goods.addtestSecret'
    assert pdd_sign_string("testSecret", p) == s
    assert pdd_sign("testSecret", p) == hashlib.md5(s.encode()).hexdigest().upper()


# --- Jushuitan ----------------------------------------------------------------------------------

def test_jushuitan_secret_is_a_prefix_only_lower_hex():
    """[VEC] Node: MD5(secret + sorted k+v), CHANNEL-APIS §5.1."""
    p = {"app_key": "ak", "access_token": "tok", "timestamp": "1700000000", "charset": "utf-8",
         "version": "2", "biz": '{"sku_ids":"A1"}', "sign": "ignored"}
    assert jushuitan_sign("jstsecret", p) == "dc835f549864bcfca043d89b7fdb2ee1"


# --- WeChat push --------------------------------------------------------------------------------

ENC_DEMO_PY = ("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFm"
               "OD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8d"
               "KOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5"
               "RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNP"
               "fUM669WuMyVWQLCzpu9GhglF2PE=")
ENC_SAMPLE_CPP = ("mfBCs65c67CeJw22u4VT2TD73q5H06+ocrAIxswCaeZ/d/Lw0msSZFHY0teqgSYiI1zR2gD2DKrB3TIrmX/liNSDrGqS8jSI/"
                  "WPeKB5VPr7Ezr7gomZAyGCwJSgT1TRFWPfONGJMxuj2nk4faTuspAuVIFQ6SHwZuJBZC7mcJp7Cgr9cUhATQWDbOPaE7ukZBTV2Yq"
                  "yzH+UI2AK+J1S47cE79k1RX8t0hcTz/O0hlK8DGXKnvYv88qKQcI7z4iaajqHfRVZKBNyOODabs+It+ZfM3dWTeFcPgDbGtIEnpt/"
                  "EDtuuA/zMvtkaKdHdswPnVZQ+xdwbYr3ldGvfT8HlEYEgkgKaThxTFobVlwzu2ZkXCjicbP3xdr15Iq48ObgzPpqYuZ3IEoyggZDK"
                  "Clquk0u0orMck4GTF/XyE8yGzc4=")


@pytest.mark.parametrize("timestamp, nonce, encrypt, msg_signature", [
    ("1409735669", "1320562132", ENC_DEMO_PY, "5d197aaffba7e9b25a30732f161a50dee96bd5fa"),
    ("1410349438", "298025754", ENC_SAMPLE_CPP, "003fee52ecc56afb46c00b5c7721be87860ce785"),
])
def test_wechat_msg_signature_official_samples(timestamp, nonce, encrypt, msg_signature):
    """[VEC-OFFICIAL] Tencent WXBizMsgCrypt samples (token "spamtest")."""
    assert wechat_push_signature("spamtest", timestamp, nonce, encrypt) == msg_signature
    assert verify_wechat_push("spamtest", timestamp, nonce, msg_signature.upper(), encrypt)
    assert not verify_wechat_push("spamtest", timestamp, nonce, msg_signature, encrypt[:-2] + "A=")


def test_wechat_plain_signature_sorts_before_joining():
    token, ts, nonce = "zz-token", "1662480000", "a-nonce"
    by_hand = hashlib.sha1(("1662480000" + "a-nonce" + "zz-token").encode()).hexdigest()
    assert wechat_push_signature(token, ts, nonce) == by_hand
    assert verify_wechat_push(token, ts, nonce, by_hand)
    assert not verify_wechat_push(token, ts, nonce, "")
    assert not verify_wechat_push(token, ts, "other", by_hand)


# --- Douyin: request sign, recomputed by hand ---------------------------------------------------

DY_OBJ = {"spec_prices": '[{"price":9900}]', "pic": "https://x/a.jpg|https://x/b.jpg",
          "name": "测试T恤 <a&b>/", "category_leaf_id": 20000}
DY_PJ = ('{"category_leaf_id":20000,"name":"测试T恤 <a&b>/","pic":"https://x/a.jpg|https://x/b.jpg",'
         '"spec_prices":"[{\\"price\\":9900}]"}')


def _dy_by_hand(secret, key, method, pj, ts, v="2"):
    s = secret + "app_key" + key + "method" + method + "param_json" + pj + "timestamp" + ts + "v" + v + secret
    return (s, hmac.new(secret.encode(), s.encode("utf-8"), hashlib.sha256).hexdigest(),
            hashlib.md5(s.encode("utf-8")).hexdigest())


def test_douyin_request_sign_matches_the_formula_written_out():
    pj = douyin_param_json(DY_OBJ)
    assert pj == DY_PJ
    s, h, m = _dy_by_hand("s3cr3t", "7000000000000000001", "product.addV2", DY_PJ, "1700000000")
    assert douyin_sign_string("7000000000000000001", "s3cr3t", "product.addV2", pj, "1700000000") == s
    assert douyin_sign("7000000000000000001", "s3cr3t", "product.addV2", pj, "1700000000") == h
    assert douyin_sign("7000000000000000001", "s3cr3t", "product.addV2", pj, "1700000000", sign_method="md5") == m
    # [VEC] the same two values from Node's crypto
    assert h == "eb3ec4f80e3795b96d8b31203e002b257dc54723d3f72a478d374206e6fd1125"
    assert m == "27fe2e7a6ef873302964b03cddc2260f"


def test_douyin_empty_params_sign_braces_and_v_is_signed():
    s, h, _ = _dy_by_hand("s3cr3t", "7000000000000000001", "token.create", "{}", "1700000000")
    assert douyin_param_json({}) == "{}"
    assert douyin_sign("7000000000000000001", "s3cr3t", "token.create", "{}", "1700000000") == h
    assert h == "895ef39ecea5b0ce1bc77490e2aa0049ac33f33e4288455f21c4dd834a9e63a3"   # [VEC] Node
    assert douyin_sign("7000000000000000001", "s3cr3t", "token.create", "{}", "1700000000", v="") != h
    with pytest.raises(ValueError):
        douyin_sign("k", "s", "m", "{}", "1", sign_method="sha1")


def test_douyin_spi_sign_by_hand():
    s = "s3cr3t" + "app_key" + "k1" + "param_json" + '{"a":1,"b":"中"}' + "timestamp" + "1700000000" + "s3cr3t"
    assert douyin_spi_sign("k1", "s3cr3t", {"b": "中", "a": 1.0}, "1700000000") == hashlib.md5(s.encode()).hexdigest()
    assert douyin_spi_sign("k1", "s3cr3t", {"b": "中", "a": 1}, "1700000000", "hmac-sha256") == \
        hmac.new(b"s3cr3t", s.encode(), hashlib.sha256).hexdigest()


def test_douyin_event_sign_over_raw_bytes():
    body = b'[{"tag":"400","msg_id":"1","data":"{\\"product_id\\":3472490447010721067}"}]'
    want = hashlib.md5(b"7000000000000000001" + body + b"s3cr3t").hexdigest()
    assert douyin_event_sign("7000000000000000001", "s3cr3t", body) == want == "db432122853f9a07b57c8fd7a72f5d31"
    assert verify_douyin_event("7000000000000000001", "s3cr3t", body, want.upper())
    assert not verify_douyin_event("7000000000000000001", "s3cr3t", body.replace(b",", b", ", 1), want)
    assert not verify_douyin_event("7000000000000000001", "s3cr3t", body, "")


# --- param_json canonicalisation ----------------------------------------------------------------

@pytest.mark.parametrize("obj, want", [
    ({}, "{}"),
    ({"b": {"d": 1, "c": [3, 2]}, "a": None}, '{"a":null,"b":{"c":[3,2],"d":1}}'),
    ({"xs": [{"z": 1, "y": {"q": 1, "p": 2}}, {"b": True, "a": False}]},
     '{"xs":[{"y":{"p":2,"q":1},"z":1},{"a":false,"b":true}]}'),
    ({"name": "中文商品 <b>&amp;</b> http://a/b"}, '{"name":"中文商品 <b>&amp;</b> http://a/b"}'),
    ({"price": 9900.0, "w": 0.5, "tiny": 1e-05, "tinier": 1e-07, "big": 1e16, "huge": 1e21, "neg": -3.0},
     '{"big":10000000000000000,"huge":1e+21,"neg":-3,"price":9900,"tinier":1e-7,"tiny":0.00001,"w":0.5}'),
    ({"f": 8.551274266649145e18, "z": -0.0, "e": 1.5e-10, "m": 123456.789}, '{"e":1.5e-10,"f":8551274266649145000,"m":123456.789,"z":0}'),
    ({"id": 3472490447010721067, "s": "3472490447010721067"}, '{"id":3472490447010721067,"s":"3472490447010721067"}'),
    ({"q": 'say "hi"\\ \n\t', "ls": "a\u2028b"}, '{"ls":"a\\u2028b","q":"say \\"hi\\"\\\\ \\n\\t"}'),
    ({"é": 1, "Z": 2, "a": 3, "中": 4}, '{"Z":2,"a":3,"é":1,"中":4}'),
])
def test_param_json_canonical_form(obj, want):
    assert douyin_param_json(obj) == want


def test_param_json_string_is_signed_verbatim():
    raw = '{"b":1, "a":"\\u4e2d"}'
    assert douyin_param_json(raw) is raw
    s, h, _ = _dy_by_hand("s", "k", "m", raw, "1")
    assert douyin_sign("k", "s", "m", douyin_param_json(raw), "1") == h


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": float("inf")}, {1: "a"}, {"x": {1, 2}}, ["a"], 3])
def test_param_json_refuses_what_json_cannot_carry(bad):
    with pytest.raises((TypeError, ValueError)):
        douyin_param_json(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=5),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=6)


def _shuffled(o, rnd: random.Random):
    if isinstance(o, dict):
        keys = list(o)
        rnd.shuffle(keys)
        return {k: _shuffled(o[k], rnd) for k in keys}
    if isinstance(o, list):
        return [_shuffled(v, rnd) for v in o]
    return o


@settings(max_examples=300, deadline=None)
@given(json_objects, st.randoms(use_true_random=False))
def test_canonical_form_ignores_key_order_at_any_depth(obj, rnd):
    assert douyin_param_json(_shuffled(obj, rnd)) == douyin_param_json(obj)


def _equal_json(a, b) -> bool:
    """Equal as JSON values: a float equals the number its text parses back to as a float (Go and
    JS write 8.551274266649145e18 as 8551274266649145000, which is that float again)."""
    if isinstance(b, float):
        return not isinstance(a, (bool, str)) and a is not None and float(a) == b
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_equal_json(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(map(_equal_json, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(json_objects)
def test_canonical_form_parses_back_equal_and_is_a_fixed_point(obj):
    text = douyin_param_json(obj)
    back = json.loads(text)
    assert _equal_json(back, obj)
    assert douyin_param_json(back) == text


# --- our ERP webhook scheme ---------------------------------------------------------------------

def test_webhook_header_is_stripes_construction():
    """[VEC] Node: hex(HMAC-SHA256(secret, "1700000000." + body)); the same as stripe-python's
    ``_compute_signature(f"{t}.{payload}", secret)`` written out."""
    body = b'{"event":"stock.changed","sku":"SKU-R-M","qty":7}'
    stripe_style = hmac.new(b"whsec_test", ("%d.%s" % (1700000000, body.decode())).encode(), hashlib.sha256).hexdigest()
    assert stripe_style == "083c2f6dde8b18730e6d64752d71d86eab9d23e358818a88329423ff9156d691"
    assert webhook_signature_header("whsec_test", body, 1700000000) == f"t=1700000000,v1={stripe_style}"
    verify_webhook(f"t=1700000000,v0=zz,v1=deadbeef,v1={stripe_style}", body, ["whsec_test"], now=1700000300)


@pytest.mark.parametrize("header, code", [
    ("", "SIG_MISSING"), (None, "SIG_MISSING"), ("   ", "SIG_MISSING"),
    ("garbage", "SIG_MALFORMED"), ("v1=ab", "SIG_MALFORMED"), ("t=1700000000", "SIG_MALFORMED"),
    ("t=1700000000,t=1700000001,v1=ab", "SIG_MALFORMED"), ("t=-5,v1=ab", "SIG_MALFORMED"),
    ("t=17e8,v1=ab", "SIG_MALFORMED"), ("t=1700000000,v1=ab", "SIG_MISMATCH"),
    ("t=1700000000,v1=" + "0" * 64, "SIG_MISMATCH"), ("t=1700000000,v1=中文", "SIG_MISMATCH"),
    ("t=1700000000," + "v1=ab," * 1000 + "v1=ab", "SIG_MALFORMED"),
])
def test_webhook_refusals_carry_a_code(header, code):
    with pytest.raises(SignatureError) as e:
        verify_webhook(header, b"{}", ["sec"], now=1700000000)
    assert e.value.code == code == getattr(signing, code)


def test_webhook_stale_is_checked_after_authenticity():
    h = webhook_signature_header("sec", b"{}", 1700000000)
    with pytest.raises(SignatureError) as e:
        verify_webhook(h, b"{}", ["sec"], now=1700000301)
    assert e.value.code == "SIG_STALE"
    verify_webhook(h, b"{}", ["sec"], now=1700000300)
    verify_webhook(h, b"{}", ["sec"], now=1699999700)
    with pytest.raises(SignatureError) as e:
        verify_webhook(h, b"{}", ["other"], now=1800000000)
    assert e.value.code == "SIG_MISMATCH"
    with pytest.raises(ValueError):
        verify_webhook(h, b"{}", [], now=1700000000)
    with pytest.raises(ValueError):
        verify_webhook(h, b"{}", ["sec", ""], now=1700000000)


secrets_ = st.text(min_size=1, max_size=24)
times = st.integers(0, 2**40)


@settings(max_examples=200, deadline=None)
@given(secrets_, st.binary(max_size=256), times, st.integers(-300, 300))
def test_webhook_accepts_its_own_header(secret, body, t, skew):
    verify_webhook(webhook_signature_header(secret, body, t), body, [secret], now=t + skew)


@settings(max_examples=200, deadline=None)
@given(secrets_, st.binary(min_size=1, max_size=256), times, st.data())
def test_webhook_rejects_any_single_byte_change(secret, body, t, data):
    i = data.draw(st.integers(0, len(body) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = body[:i] + bytes([body[i] ^ delta]) + body[i + 1:]
    with pytest.raises(SignatureError) as e:
        verify_webhook(webhook_signature_header(secret, body, t), changed, [secret], now=t)
    assert e.value.code == "SIG_MISMATCH"


@settings(max_examples=200, deadline=None)
@given(secrets_, st.binary(max_size=64), times,
       st.integers(301, 2**40) | st.integers(-(2**40), -301))
def test_webhook_rejects_timestamps_outside_the_window(secret, body, t, skew):
    with pytest.raises(SignatureError) as e:
        verify_webhook(webhook_signature_header(secret, body, t), body, [secret], now=t + skew)
    assert e.value.code == "SIG_STALE"


@settings(max_examples=200, deadline=None)
@given(st.lists(secrets_, min_size=1, max_size=5, unique=True), st.data(), st.binary(max_size=64), times)
def test_webhook_accepts_when_any_one_secret_matches(secrets, data, body, t):
    signer = data.draw(st.sampled_from(secrets))
    verify_webhook(webhook_signature_header(signer, body, t), body, secrets, now=t)
    outsider = data.draw(secrets_)
    assume(outsider not in secrets)
    with pytest.raises(SignatureError):
        verify_webhook(webhook_signature_header(outsider, body, t), body, secrets, now=t)


def test_webhook_sender_rotating_with_two_v1_passes_either_verifier():
    body, t = b'{"id":"evt_1"}', 1700000000
    old, new = webhook_signature_header("old", body, t), webhook_signature_header("new", body, t)
    both = old + "," + new.split(",", 1)[1]
    verify_webhook(both, body, ["old"], now=t)
    verify_webhook(both, body, ["new"], now=t)


# --- CLI ----------------------------------------------------------------------------------------

def _cli(capsys, *argv):
    rc = main(["channels", "sign", *argv])
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


def test_cli_taobao_official_vector_and_explain(capsys):
    params = {k: v for k, v in TOP_PARAMS.items() if k not in ("sign_method", "app_key")}
    rc, lines, _ = _cli(capsys, "taobao", "--secret", "helloworld", "--params", json.dumps(params),
                        "--app-key", "12345678", "--explain")
    assert rc == 0 and lines[-1] == "66987CB115214E59E6EC978214934FB8"
    assert "helloworld" + TOP_Q.format(m="md5") + "helloworld" in lines[:-1]
    rc, lines, _ = _cli(capsys, "taobao", "--secret", "helloworld", "--params", json.dumps(params),
                        "--app-key", "12345678", "--sign-method", "hmac-sha256")
    assert rc == 0 and lines == ["04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8"]


def test_cli_pdd_official_vector(capsys):
    rc, lines, _ = _cli(capsys, "pdd", "--secret", "testSecret", "--params", json.dumps(PDD_PARAMS))
    assert rc == 0 and lines == ["E4DE3ED21002510DED352819E7AE6775"]
    rc, _, err = _cli(capsys, "pdd", "--secret", "testSecret", "--params", "{}", "--sign-method", "md5")
    assert rc == 2 and "sign_method" in err


def test_cli_douyin_object_is_canonicalised_string_verbatim(capsys):
    flags = ["--secret", "s3cr3t", "--app-key", "7000000000000000001", "--method", "product.addV2",
             "--timestamp", "1700000000"]
    s, h, m = _dy_by_hand("s3cr3t", "7000000000000000001", "product.addV2", DY_PJ, "1700000000")
    rc, lines, _ = _cli(capsys, "douyin", *flags, "--params", json.dumps({"param_json": DY_OBJ}), "--explain")
    assert rc == 0 and lines[-1] == h and s in lines[:-1]
    rc, lines, _ = _cli(capsys, "douyin", *flags, "--params", json.dumps({"param_json": DY_PJ}), "--sign-method", "md5")
    assert rc == 0 and lines == [m]
    spaced = '{"name": "x"}'
    rc, lines, _ = _cli(capsys, "douyin", *flags, "--params", json.dumps({"param_json": spaced}), "--explain")
    assert rc == 0 and _dy_by_hand("s3cr3t", "7000000000000000001", "product.addV2", spaced, "1700000000")[0] in lines


def test_cli_douyin_fields_from_params_and_usage_errors(capsys):
    whole = {"app_key": "7000000000000000001", "method": "token.create", "timestamp": "1700000000", "v": "2",
             "access_token": "not-signed", "param_json": {}}
    rc, lines, _ = _cli(capsys, "douyin", "--secret", "s3cr3t", "--params", json.dumps(whole))
    assert rc == 0 and lines == ["895ef39ecea5b0ce1bc77490e2aa0049ac33f33e4288455f21c4dd834a9e63a3"]
    for params, extra in [({"x": 1}, []), ({"param_json": []}, []), (whole, ["--method", "other.method"]),
                          (whole, ["--sign-method", "sha1"])]:
        rc, _, err = _cli(capsys, "douyin", "--secret", "s", "--params", json.dumps(params), *extra)
        assert rc == 2 and err.startswith("shangjia channels sign:")
    rc, _, err = _cli(capsys, "douyin", "--secret", "s", "--params", "{not json")
    assert rc == 2 and "not JSON" in err
    rc, _, err = _cli(capsys, "taobao", "--secret", "s", "--params", "[1]")
    assert rc == 2 and "object" in err
