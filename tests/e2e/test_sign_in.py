"""Sign-in on the local cloud, end to end: users made by ``shangjia users add`` in moto's Cognito,
tokens from ``POST /auth/login`` on the gateway, and the gateway's JWT check in front of the API,
all over HTTP as a browser or curl would talk to API Gateway."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from contextlib import redirect_stderr, redirect_stdout

import pytest

from shangjia.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def http(url, *, method="GET", body=None, token=None, headers=None):
    """curl: one request, the status and the parsed JSON answer."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_shangjia_users_add_then_sign_in_on_the_gateway_and_call_the_api(cloud):
    gw = cloud.gateway.url
    code, out, err = cli("users", "add", "rev-e2e", "--role", "reviewer", "--endpoint", cloud.endpoint)
    assert code == 0, err
    password = out.strip().splitlines()[-1]                       # printed once, the last line
    assert len(password) >= 12 and json.loads(out.splitlines()[0])["role"] == "reviewer"
    code, out, _ = cli("users", "add", "shop-e2e", "--role", "merchant", "--merchant", "m-e2e",
                       "--password", "Sh0p-Owner-Passw0rd", "--endpoint", cloud.endpoint)
    assert code == 0 and out.strip().splitlines()[-1] == "Sh0p-Owner-Passw0rd"

    status, signed = http(f"{gw}/auth/login", method="POST", body={"username": "rev-e2e", "password": password})
    assert status == 200 and signed["role"] == "reviewer" and signed["username"] == "rev-e2e"
    token = signed["id_token"]
    c = claims_of(token)
    assert c["aud"] == cloud.user_pool.client_id and c["iss"] == cloud.user_pool.issuer      # moto-issued
    status, page = http(f"{gw}/api/review/tasks?stage=pre", token=token)
    assert status == 200 and "tasks" in page
    # what reached the function: API Gateway's claims (strings; the groups array as "[reviewer]")
    ev = cloud.gateway.events[-1]
    got = ev["requestContext"]["authorizer"]["jwt"]["claims"]
    assert got["cognito:groups"] == "[reviewer]" and got["cognito:username"] == "rev-e2e"
    assert got["sub"] == c["sub"] and got["exp"] == str(c["exp"])

    status, shop = http(f"{gw}/auth/login", method="POST",
                        body={"username": "shop-e2e", "password": "Sh0p-Owner-Passw0rd"})
    assert status == 200 and (shop["role"], shop["merchant_id"]) == ("merchant", "m-e2e")
    assert cloud.gateway.events[-1]["routeKey"] == "POST /auth/login"
    assert "authorizer" not in cloud.gateway.events[-1]["requestContext"]
    status, again = http(f"{gw}/auth/refresh", method="POST", body={"refresh_token": shop["refresh_token"]})
    assert status == 200 and claims_of(again["id_token"])["custom:merchant_id"] == "m-e2e"

    code, out, _ = cli("users", "list", "--json", "--endpoint", cloud.endpoint)
    listed = {u["username"]: u for u in json.loads(out)}
    assert listed["rev-e2e"]["role"] == "reviewer" and listed["shop-e2e"]["merchant_id"] == "m-e2e"
    assert "Sh0p-Owner-Passw0rd" not in out


def test_a_wrong_password_is_401_auth_failed_and_no_token_no_api(cloud):
    gw = cloud.gateway.url
    cloud.add_user("ops-e2e", "ops", password="0ps-Right-Passw0rd")
    status, out = http(f"{gw}/auth/login", method="POST", body={"username": "ops-e2e", "password": "wrong"})
    assert status == 401 and out["code"] == "AUTH_FAILED"
    status, out = http(f"{gw}/auth/login", method="POST", body=b"{not json")
    assert status == 400 and out["code"] == "AUTH_BODY_NOT_JSON"
    good = cloud.sign_in("ops-e2e", "0ps-Right-Passw0rd")["id_token"]
    seen = len(cloud.gateway.events)
    assert http(f"{gw}/api/review/tasks?stage=pre") == (401, {"message": "Unauthorized"})
    head, payload, sig = good.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["cognito:groups"], forged["cognito:username"] = ["ops"], "someone-else"
    edited = f"{head}.{base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b'=').decode()}.{sig}"
    assert http(f"{gw}/api/review/tasks?stage=pre", token=edited) == (401, {"message": "Unauthorized"})
    assert len(cloud.gateway.events) == seen, "no function ran for a refused token"
    assert http(f"{gw}/api/review/tasks?stage=pre", token=good)[0] == 200


def test_a_token_of_another_pool_is_refused(cloud):
    """moto signs every pool with one key: only iss and aud tell pools apart, and they are checked."""
    import boto3

    from shangjia.localcloud.cognito import provision_pool
    from shangjia.topology import UserPool

    other = provision_pool(boto3.session.Session(region_name="us-east-1"), UserPool(key="other"),
                           endpoint=cloud.endpoint, region="us-east-1")
    idp = cloud.client("cognito-idp")
    idp.admin_create_user(UserPoolId=other.pool_id, Username="intruder", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=other.pool_id, Username="intruder", Password="Intrud3r-Passw0rd!",
                                Permanent=True)
    out = idp.initiate_auth(ClientId=other.client_id, AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "intruder", "PASSWORD": "Intrud3r-Passw0rd!"})
    token = out["AuthenticationResult"]["IdToken"]
    assert claims_of(token)["iss"].endswith(other.pool_id)
    assert http(f"{cloud.gateway.url}/api/review/tasks?stage=pre", token=token) == (401, {"message": "Unauthorized"})


def test_signature_routes_still_reach_the_callback_function(cloud):
    """No token on a platform's push: the function itself verifies (and refuses an unsigned push)."""
    status, out = http(f"{cloud.gateway.url}/callbacks/wechat?signature=x&timestamp=1&nonce=2", method="POST",
                       body={"Event": "product_spu_audit"})
    assert status == 401 and out["code"].startswith("SIG_")          # the function's answer, not the gateway's
    assert cloud.gateway.events[-1]["routeKey"] == "POST /callbacks/wechat"


def test_users_add_refuses_a_merchant_without_its_merchant(cloud):
    code, out, err = cli("users", "add", "no-shop", "--role", "merchant", "--endpoint", cloud.endpoint)
    assert code == 2 and "AUTH_MERCHANT_REQUIRED" in err and out == ""
    code, _, err = cli("users", "add", "ed-shop", "--role", "editor", "--merchant", "m-1", "--endpoint", cloud.endpoint)
    assert code == 2 and "AUTH_MERCHANT_NOT_ALLOWED" in err
    cloud.add_user("dup-e2e", "editor")
    code, _, err = cli("users", "add", "dup-e2e", "--role", "editor", "--endpoint", cloud.endpoint)
    assert code == 2 and "AUTH_USER_EXISTS" in err
    code, _, err = cli("users", "add", "weak-e2e", "--role", "editor", "--password", "short", "--endpoint",
                       cloud.endpoint)
    assert code == 2 and "AUTH_PASSWORD_WEAK" in err
    code, out, _ = cli("users", "list", "--endpoint", cloud.endpoint)
    assert "weak-e2e" not in out and "no-shop" not in out


def test_cloud_up_prints_the_gateway_and_the_demo_users_can_sign_in(tmp_path):
    """``shangjia cloud up --merchants`` in its own process: the ``gateway:`` line, then a curl-like
    sign-in with a printed password and a call of the API with the token."""
    import os
    import re
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHANGJIA_", "MOTO_"))}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from shangjia.cli import main; sys.exit(main())",
                             "cloud", "up", "--merchants"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("gateway: "):
                break
        gateway = re.fullmatch(r"gateway: (http://127\.0\.0\.1:\d+)", lines[-1])
        assert gateway, lines
        users = dict(re.findall(r"^  user (\S+) \(.*\) password (\S+)$", "\n".join(lines), re.M))
        assert {"ops1", "reviewer1", "editor1", "m-vip-001", "m-std-002"} <= set(users), lines
        url = gateway.group(1)
        status, out = http(f"{url}/auth/login", method="POST", body={"username": "ops1", "password": users["ops1"]})
        assert status == 200 and out["role"] == "ops"
        status, out = http(f"{url}/auth/login", method="POST",
                           body={"username": "m-std-002", "password": users["m-std-002"]})
        assert status == 200 and (out["role"], out["merchant_id"]) == ("merchant", "m-std-002")
        assert http(f"{url}/api/review/tasks?stage=pre", token=out["id_token"])[0] in (200, 403)
        assert http(f"{url}/api/review/tasks?stage=pre")[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
