"""The sign-in function on moto's Cognito (in process): tokens for a right password, the same 401
for a wrong password and an unknown user, located 400s for a body it cannot use, refresh, and
nothing secret in its logs."""

import base64
import json

import pytest

from tests.support.events import load_event
from shangjia.topology import TOPOLOGY


@pytest.fixture
def pool(aws, monkeypatch):
    import boto3

    from shangjia.adapters.cognito import CognitoUsers
    from shangjia.localcloud.cognito import provision_pool

    p = provision_pool(boto3.session.Session(region_name="us-east-1"), TOPOLOGY.user_pool, endpoint=None,
                       region="us-east-1")
    for k, v in p.environment().items():
        monkeypatch.setenv(k, v)
    users = CognitoUsers()
    users.add_user("reviewer1", role="reviewer", merchant_id=None, password="Rev1ewer-Passw0rd!")
    users.add_user("shop-a", role="merchant", merchant_id="m-a", password="Merch4nt-Passw0rd!")
    return p


def _call(fn, route, body, *, raw=None, b64=False):
    ev = load_event("auth/login.json" if route == "login" else "auth/refresh.json")
    text = raw if raw is not None else json.dumps(body)
    ev["body"] = base64.b64encode(text.encode() if isinstance(text, str) else text).decode() if b64 else text
    ev["isBase64Encoded"] = b64
    out = fn(ev)
    return out["statusCode"], json.loads(out["body"])


def test_sign_in_answers_the_tokens_and_who_signed_in(pool, handler):
    fn = handler("auth")
    status, out = _call(fn, "login", {"username": "reviewer1", "password": "Rev1ewer-Passw0rd!"})
    assert status == 200
    assert out["username"] == "reviewer1" and out["role"] == "reviewer" and out["merchant_id"] is None
    assert out["id_token"].count(".") == 2 and out["access_token"].count(".") == 2 and out["refresh_token"]
    assert out["expires_in"] > 0
    status, out = _call(fn, "login", {"username": "shop-a", "password": "Merch4nt-Passw0rd!"})
    assert status == 200 and out["role"] == "merchant" and out["merchant_id"] == "m-a"
    status, again = _call(fn, "refresh", {"refresh_token": out["refresh_token"]})
    assert status == 200 and again["id_token"].count(".") == 2 and again["merchant_id"] == "m-a"
    assert again["refresh_token"] == out["refresh_token"]


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(pool, handler):
    fn = handler("auth")
    wrong = _call(fn, "login", {"username": "reviewer1", "password": "not-the-password"})
    ghost = _call(fn, "login", {"username": "nobody", "password": "not-the-password"})
    assert wrong == ghost
    assert wrong[0] == 401 and wrong[1]["code"] == "AUTH_FAILED" and wrong[1]["message_zh"]
    status, out = _call(fn, "refresh", {"refresh_token": "a-refresh-token-cognito-never-issued"})
    assert status == 401 and out["code"] == "AUTH_REFRESH_FAILED"


@pytest.mark.parametrize("body, raw, code, field", [
    (None, "{not json", "AUTH_BODY_NOT_JSON", None),
    (None, "", "AUTH_BODY_NOT_JSON", None),
    (None, '["reviewer1", "pw"]', "AUTH_BODY_NOT_JSON", None),
    ({"username": "reviewer1"}, None, "AUTH_FIELD_MISSING", "password"),
    ({"password": "x"}, None, "AUTH_FIELD_MISSING", "username"),
    ({"username": ["reviewer1"], "password": "x"}, None, "AUTH_FIELD_INVALID", "username"),
    ({"username": "reviewer1", "password": "x" * 5000}, None, "AUTH_FIELD_INVALID", "password"),
])
def test_a_body_it_cannot_use_is_a_located_400(pool, handler, body, raw, code, field):
    status, out = _call(handler("auth"), "login", body, raw=raw)
    assert status == 400 and out["code"] == code and out.get("field") == field
    assert out["message"] and out["message_zh"]


def test_a_binary_body_that_is_not_utf8_is_a_400(pool, handler):
    status, out = _call(handler("auth"), "login", None, raw=b"\xff\xfe{", b64=True)
    assert status == 400 and out["code"] == "AUTH_BODY_NOT_JSON"


def test_neither_the_password_nor_a_token_reaches_the_logs(pool, handler):
    """The function's log lines as CloudWatch would get them (Powertools' JSON, every extra key)."""
    import io
    import logging

    from shangjia.observability import logger

    buf = io.StringIO()
    sink = logging.StreamHandler(buf)
    sink.setFormatter(logger.registered_formatter)
    logger.addHandler(sink)
    try:
        fn = handler("auth")
        _, ok = _call(fn, "login", {"username": "reviewer1", "password": "Rev1ewer-Passw0rd!"})
        _call(fn, "login", {"username": "reviewer1", "password": "Wr0ng-Secret-Guess!"})
        _call(fn, "refresh", {"refresh_token": ok["refresh_token"]})
    finally:
        logger.removeHandler(sink)
    text = buf.getvalue()
    assert "reviewer1" in text, "who signed in is logged"
    for secret in ("Rev1ewer-Passw0rd!", "Wr0ng-Secret-Guess!", ok["refresh_token"], ok["id_token"][:40],
                   ok["access_token"][:40]):
        assert secret not in text
