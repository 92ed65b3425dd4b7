"""The local gateway's JWT check (what API Gateway's JWT authorizer does) and its static files.

Tokens here are signed with keys made in the test and served as a JWKS over HTTP, as moto serves
the pool's; every refused token answers 401 ``{"message":"Unauthorized"}`` and the function is
never invoked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shangjia.localcloud.authorizer import JwtAuthorizer, gateway_claims
from shangjia.localcloud.gateway import Gateway, Route
from shangjia.topology import TOPOLOGY

REGION = "us-east-1"
POOL, OTHER_POOL = "us-east-1_pool1", "us-east-1_pool2"
CLIENT, OTHER_CLIENT = "client1", "client2"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeRuntime:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def invoke(self, key, event):
        self.events.append((key, event))
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"fn": key})}


@pytest.fixture(scope="module")
def jwks_url():
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    doc = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            ok = self.path == f"/{POOL}/.well-known/jwks.json"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(doc) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(doc)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{POOL}/.well-known/jwks.json"
    srv.shutdown()
    srv.server_close()


def claims(**over):
    now = int(time.time())
    base = {"sub": "u-1", "aud": CLIENT, "iss": ISSUER, "token_use": "id", "iat": now - 10, "auth_time": now - 10,
            "exp": now + 3600, "cognito:username": "rev1", "cognito:groups": ["ops", "reviewer"],
            "email_verified": True}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload, key=KEY, kid="k1", alg="RS256"):
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload, alg="none"):
    return f"{b64(json.dumps({'alg': alg, 'kid': 'k1', 'typ': 'JWT'}).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(payload):
    """The classic key-confusion forgery: HMAC with the RSA public key (as PEM) as the secret."""
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def tampered():
    """A valid token whose payload was edited (a merchant making itself ops): signature no longer matches."""
    head, _, sig = sign(claims(**{"cognito:groups": None, "custom:merchant_id": "m-a"})).split(".")
    return f"{head}.{b64(json.dumps(claims()).encode())}.{sig}"


@pytest.fixture(scope="module")
def gateway(jwks_url):
    rt = FakeRuntime()
    auth = JwtAuthorizer(issuer=ISSUER, audience=CLIENT, jwks_url=jwks_url)
    routes = [Route.parse("ANY /api/{proxy+}", "api", "jwt"), Route.parse("POST /auth/login", "auth", "none"),
              Route.parse("POST /callbacks/wechat", "channel_callback", "signature"),
              Route.parse("GET /api/stock/{merchant_id}/{sku}", "stock", "jwt")]
    with Gateway(rt, routes, authorizer=auth) as gw:
        yield gw, rt


def call(gw, path="/api/batches", *, method="GET", headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def test_a_valid_id_token_reaches_the_function_with_api_gateways_claims(gateway):
    gw, rt = gateway
    before = len(rt.events)
    status, _, data = call(gw, "/api/batches?x=1", headers={"Authorization": f"Bearer {sign(claims())}"})
    assert status == 200 and json.loads(data) == {"fn": "api"}
    key, ev = rt.events[before]
    got = ev["requestContext"]["authorizer"]["jwt"]
    assert got["scopes"] is None
    c = got["claims"]
    assert c["cognito:groups"] == "[ops reviewer]" and c["email_verified"] == "true"
    assert c["sub"] == "u-1" and c["aud"] == CLIENT and c["iss"] == ISSUER
    assert all(isinstance(v, str) for v in c.values()) and c["exp"].isdigit()
    assert ev["routeKey"] == "ANY /api/{proxy+}" and ev["pathParameters"] == {"proxy": "batches"}


def test_a_bare_token_and_an_access_token_for_the_client_pass_as_on_api_gateway(gateway):
    gw, rt = gateway
    assert call(gw, headers={"Authorization": sign(claims())})[0] == 200
    access = claims(aud=None, client_id=CLIENT, token_use="access", scope="aws.cognito.signin.user.admin")
    assert call(gw, headers={"Authorization": f"Bearer {sign(access)}"})[0] == 200


def test_path_variables_reach_the_function(gateway):
    gw, rt = gateway
    status, _, data = call(gw, "/api/stock/m-a/SKU-1", headers={"Authorization": f"Bearer {sign(claims())}"})
    assert status == 200 and json.loads(data) == {"fn": "stock"}
    ev = rt.events[-1][1]
    assert ev["routeKey"] == "GET /api/stock/{merchant_id}/{sku}"
    assert ev["pathParameters"] == {"merchant_id": "m-a", "sku": "SKU-1"}


REFUSED = {
    "missing token": lambda: None,
    "empty header": lambda: "",
    "Basic scheme": lambda: "Basic dXNlcjpwYXNz",
    "Bearer and nothing": lambda: "Bearer",
    "two parts": lambda: "Bearer abc.def",
    "three words": lambda: f"Bearer {sign(claims())} extra",
    "not base64": lambda: "Bearer !!!.@@@.###",
    "forged signature (another RSA key)": lambda: f"Bearer {sign(claims(), key=FORGER)}",
    "payload edited after signing": lambda: f"Bearer {tampered()}",
    "alg none": lambda: f"Bearer {unsigned(claims())}",
    "alg None, signature stripped": lambda: f"Bearer {unsigned(claims(), alg='None')}",
    "HS256 with the public key as secret": lambda: f"Bearer {hs256_with_public_key(claims())}",
    "expired": lambda: f"Bearer {sign(claims(exp=int(time.time()) - 5))}",
    "no exp": lambda: f"Bearer {sign(claims(exp=None))}",
    "not yet valid (nbf)": lambda: f"Bearer {sign(claims(nbf=int(time.time()) + 600))}",
    "issued in the future (iat)": lambda: f"Bearer {sign(claims(iat=int(time.time()) + 600))}",
    "wrong aud": lambda: f"Bearer {sign(claims(aud=OTHER_CLIENT))}",
    "no aud nor client_id": lambda: f"Bearer {sign(claims(aud=None))}",
    "wrong iss": lambda: f"Bearer {sign(claims(iss='https://evil.example.com/' + POOL))}",
    "http issuer": lambda: f"Bearer {sign(claims(iss=ISSUER.replace('https', 'http')))}",
    "another pool's token (same signing key, as moto's)": lambda: "Bearer " + sign(claims(
        iss=f"https://cognito-idp.{REGION}.amazonaws.com/{OTHER_POOL}", aud=OTHER_CLIENT)),
    "unknown kid": lambda: f"Bearer {sign(claims(), kid='k2')}",
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_token_is_401_and_the_function_is_not_invoked(gateway, case):
    gw, rt = gateway
    before = len(rt.events)
    header = REFUSED[case]()
    status, headers, data = call(gw, headers={} if header is None else {"Authorization": header})
    assert (status, json.loads(data)) == (401, {"message": "Unauthorized"}), case
    assert len(rt.events) == before, f"{case}: the function was invoked"


def test_two_authorization_headers_are_refused(gateway):
    gw, rt = gateway
    before = len(rt.events)
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.putrequest("GET", "/api/batches")
    c.putheader("Authorization", f"Bearer {sign(claims(aud=OTHER_CLIENT))}")
    c.putheader("Authorization", f"Bearer {sign(claims())}")
    c.endheaders()
    r = c.getresponse()
    assert r.status == 401 and len(rt.events) == before
    c.close()


def test_signature_and_public_routes_take_no_token(gateway):
    gw, rt = gateway
    assert json.loads(call(gw, "/auth/login", method="POST", body=b"{}")[2]) == {"fn": "auth"}
    assert json.loads(call(gw, "/callbacks/wechat", method="POST", body=b"<xml/>")[2]) == {"fn": "channel_callback"}
    assert "authorizer" not in rt.events[-1][1]["requestContext"]
    assert call(gw, "/callbacks/wechat/more", method="POST", body=b"")[0] == 404     # exact, as API Gateway
    assert call(gw, "/api", headers={"Authorization": f"Bearer {sign(claims())}"})[0] == 404    # {proxy+}: 1+ segment


def test_a_jwt_route_without_an_authorizer_refuses_everyone():
    rt = FakeRuntime()
    with Gateway(rt, [Route.parse("ANY /api/{proxy+}", "api", "jwt")]) as gw:
        assert call(gw, headers={"Authorization": f"Bearer {sign(claims())}"})[0] == 401
    assert rt.events == []


def test_the_gateway_routes_are_the_topologys():
    gw = Gateway.from_topology(FakeRuntime(), TOPOLOGY)
    declared = {(r, fn.key, fn.http_auth) for fn in TOPOLOGY.functions for r in fn.http_routes}
    assert {(r.route_key, r.key, r.auth) for r in gw.table} == declared
    assert gw.resolve("POST", "/callbacks/douyin")[0].key == "channel_callback"
    assert gw.resolve("POST", "/auth/login")[0].auth == "none"
    assert gw.resolve("GET", "/api/batches")[0].auth == "jwt"


def test_claims_are_strings_as_api_gateway_passes_them():
    assert gateway_claims({"cognito:groups": ["a", "b"], "exp": 5, "ok": False, "o": {"x": 1}, "s": "t"}) == {
        "cognito:groups": "[a b]", "exp": "5", "ok": "false", "o": '{"x":1}', "s": "t"}


# --- the web app -------------------------------------------------------------------------------------

@pytest.fixture
def web(tmp_path):
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>上架</title>", encoding="utf-8")
    (root / "js" / "app.js").write_text("console.log(1)")
    (root / "style.css").write_text("body{}")
    (root / "logo.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    rt = FakeRuntime()
    with Gateway(rt, [Route.parse("ANY /api/{proxy+}", "api", "jwt"), Route.parse("POST /auth/login", "auth")],
                 web_root=root) as gw:
        yield gw, rt


def test_static_files_with_their_content_types(web):
    gw, _ = web
    status, h, data = call(gw, "/")
    assert status == 200 and h["Content-Type"] == "text/html; charset=utf-8" and "上架" in data.decode()
    status, h, data = call(gw, "/js/app.js?v=2")
    assert status == 200 and h["Content-Type"] == "text/javascript; charset=utf-8" and data == b"console.log(1)"
    assert call(gw, "/style.css")[1]["Content-Type"] == "text/css; charset=utf-8"
    assert call(gw, "/logo.svg")[1]["Content-Type"] == "image/svg+xml"
    assert call(gw, "/logo.svg")[1]["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_path_is_the_single_page_app(web):
    gw, rt = web
    for path in ("/review/task-1", "/auth/login", "/no/such/file.js"):       # GET /auth/login: POST-only route
        status, h, data = call(gw, path)
        assert status == 200 and "上架" in data.decode(), path
    assert rt.events == []
    assert call(gw, "/nowhere", method="POST", body=b"{}")[0] == 404            # not a GET: no web app


@pytest.mark.parametrize("path", ["/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                                  "/%2E%2E%2Fsecret.txt", "/..%2fsecret.txt", "/js/%2e%2e/%2e%2e/secret.txt",
                                  "/..%5csecret.txt", "/link.txt", "/%00index.html",
                                  "http://127.0.0.1/../secret.txt"])
def test_no_path_leaves_the_web_root(web, path):
    gw, _ = web
    status, _, data = call(gw, path)
    assert b"TOP SECRET" not in data
    assert status == 404 and json.loads(data) == {"message": "Not Found"}, path


@pytest.mark.parametrize("path", ["//etc/passwd", "/etc/passwd", "//tmp", "/%2fetc%2fpasswd"])
def test_an_absolute_path_is_looked_up_inside_the_web_root(web, path):
    gw, _ = web
    status, _, data = call(gw, path)
    assert b"root:" not in data and (status == 404 or "上架" in data.decode())


def test_without_an_index_an_unknown_path_is_404(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    with Gateway(FakeRuntime(), [], web_root=tmp_path) as gw:
        assert call(gw, "/a.txt")[2] == b"a"
        assert call(gw, "/b")[0] == 404
    with Gateway(FakeRuntime(), []) as gw:
        assert call(gw, "/a.txt")[0] == 404
