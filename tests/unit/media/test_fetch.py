"""fetch_url against a real HTTP server on loopback (allowed explicitly) and resolvers that lie.

Time is a fake clock handed to ``fetch_url``: the server and the resolvers advance it, so the
deadline tests assert what was cut off and which time-outs were handed to the socket, never how
long the test took."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shangjia.errors import FindingError
from shangjia.media import fetch_url
from shangjia.media import fetch as fetch_module
from shangjia.media.fetch import address_allowed

from .conftest import encode, product_photo

JPEG = encode(product_photo(400, 400), "JPEG")
LOOPBACK = ["127.0.0.1/32"]


class FakeClock:
    """A monotonic clock that moves only when told to (thread-safe: the server advances it)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, s: float) -> None:
        with self._lock:
            self.t += s


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        p = self.path
        if p == "/img.jpg":
            self._send(200, JPEG, "image/jpeg")
        elif p == "/page":
            self._send(200, b"<html></html>", "text/html")
        elif p == "/svg":
            self._send(200, b"<svg/>", "image/svg+xml")
        elif p == "/big":
            self._send(200, b"\xff" * 50_000, "image/jpeg")
        elif p == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.end_headers()           # no Content-Length: the body must still be capped
            for _ in range(50):
                self.wfile.write(b"\xff" * 1000)
        elif p.startswith("/hop/"):
            n = int(p.rsplit("/", 1)[1])
            self._redirect(f"/hop/{n + 1}" if n < 10 else "/img.jpg")
        elif p == "/to-internal":
            self._redirect(f"http://internal.example:{self.server.server_port}/img.jpg")
        elif p == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif p == "/to-file":
            self._redirect("file:///etc/passwd")
        elif p == "/trickle":       # 40 bytes, each "0.1 s" apart on the test's clock: 4 s in all
            # this request's clock, taken now: after the client gives up the handler may write on
            # for a while, and must not advance the fresh clock of the test that runs next
            clock = self.server.clock
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                clock.advance(0.1)
                self.wfile.write(b"\xff")
                self.wfile.flush()
        elif p.startswith("/slowhop/"):  # every hop costs "0.4 s" on the test's clock
            self.server.clock.advance(0.4)
            n = int(p.rsplit("/", 1)[1])
            self._redirect(f"/slowhop/{n + 1}" if n < 2 else "/img.jpg")
        elif p == "/missing":
            self._send(404, b"no", "text/plain")

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def http_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.clock = FakeClock()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(http_server):
    return f"http://127.0.0.1:{http_server.server_port}"


@pytest.fixture
def clock(http_server):
    """A fresh fake clock, shared by the server (which advances it) and fetch_url (which reads it)."""
    http_server.clock = FakeClock()
    return http_server.clock


def get(url, **kw):
    opts = dict(max_bytes=20_000, timeout_s=3, allow_http=True, allowed_networks=LOOPBACK,
                resolver=lambda host: {"internal.example": ["10.1.2.3"]}[host])
    opts.update(kw)
    # the clock is a seam of the implementation; the public facade (shangjia.media) reads real time
    return (fetch_module.fetch_url if "clock" in opts else fetch_url)(url, **opts)


def code_of(fn) -> str:
    with pytest.raises(FindingError) as e:
        fn()
    f = e.value.finding
    assert f.message_zh and f.message_en
    return f.code


def test_downloads_an_image(server):
    assert get(server + "/img.jpg") == JPEG


def test_follows_a_few_redirects_but_not_forever(server):
    assert get(server + "/hop/8") == JPEG
    assert code_of(lambda: get(server + "/hop/0")) == "MEDIA_URL_REDIRECTS"


@pytest.mark.parametrize("path, code", [
    ("/page", "MEDIA_URL_CONTENT_TYPE"),
    ("/svg", "MEDIA_URL_CONTENT_TYPE"),
    ("/big", "MEDIA_URL_TOO_LARGE"),
    ("/big-chunked", "MEDIA_URL_TOO_LARGE"),
    ("/missing", "MEDIA_URL_HTTP_STATUS"),
    ("/to-internal", "MEDIA_URL_FORBIDDEN"),
    ("/to-metadata", "MEDIA_URL_FORBIDDEN"),
    ("/to-file", "MEDIA_URL_INVALID"),
])
def test_refusals(server, path, code):
    assert code_of(lambda: get(server + path)) == code


def test_one_deadline_for_the_whole_download(server, clock):
    """Every byte arrives well within a per-read time-out, but the body as a whole takes 4 s on
    the clock: a 0.5 s budget is spent part-way and the download is refused."""
    assert get(server + "/trickle", timeout_s=10, clock=clock) == b"\xff" * 40     # within budget: all of it
    assert code_of(lambda: get(server + "/trickle", timeout_s=0.5, clock=clock)) == "MEDIA_URL_TIMEOUT"


def test_one_deadline_across_redirects(server, clock):
    """Three hops at 0.4 s each: within 2 s they are followed; within 1 s the third hop is refused
    (a deadline restarted per hop would let a chain of redirects run forever)."""
    assert get(server + "/slowhop/0", timeout_s=2, clock=clock) == JPEG
    assert code_of(lambda: get(server + "/slowhop/0", timeout_s=1, clock=clock)) == "MEDIA_URL_TIMEOUT"


def test_the_socket_gets_what_is_left_of_the_budget(http_server, clock, monkeypatch):
    """DNS took 0.75 s of a 2 s budget: the connection is opened with 1.25 s, not 2 s."""
    real = fetch_module.socket.create_connection
    asked: list[float] = []

    def spy(address, timeout=None, *a, **k):
        asked.append(timeout)
        return real(address, timeout, *a, **k)

    def resolver(host):
        clock.advance(0.75)
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch_module.socket, "create_connection", spy)
    url = f"http://shop.example:{http_server.server_port}/img.jpg"
    assert get(url, timeout_s=2, resolver=resolver, clock=clock) == JPEG
    assert asked == [pytest.approx(1.25)]


def test_loopback_is_refused_unless_allowed(server):
    assert code_of(lambda: get(server + "/img.jpg", allowed_networks=())) == "MEDIA_URL_FORBIDDEN"


def test_http_is_refused_by_default():
    assert code_of(lambda: fetch_url("http://example.com/a.jpg", max_bytes=10, timeout_s=1)) == "MEDIA_URL_INVALID"


@pytest.mark.parametrize("answer", [
    ["127.0.0.1"], ["10.0.0.8"], ["192.168.1.1"], ["172.16.5.5"], ["169.254.169.254"], ["100.64.0.1"],
    ["0.0.0.0"], ["::1"], ["fe80::1"], ["fc00::1"], ["::ffff:127.0.0.1"], ["224.0.0.1"],
    ["93.184.216.34", "10.0.0.1"],        # one public answer does not excuse a private one
])
def test_dns_answers_pointing_inside_are_refused_before_connecting(answer):
    def resolver(host):
        return answer

    f = lambda: fetch_url("https://cdn.example.com/a.jpg", max_bytes=10, timeout_s=1, resolver=resolver)  # noqa: E731
    assert code_of(f) == "MEDIA_URL_FORBIDDEN"


@pytest.mark.parametrize("url", ["https://127.0.0.1/a.jpg", "https://[::1]/a.jpg", "https://10.0.0.1/a.jpg",
                                 "https://user:pw@example.com/a.jpg", "ftp://example.com/a.jpg", "not a url",
                                 "https:///nohost"])
def test_bad_urls(url):
    assert code_of(lambda: fetch_url(url, max_bytes=10, timeout_s=1, resolver=lambda h: ["10.0.0.1"])) in (
        "MEDIA_URL_FORBIDDEN", "MEDIA_URL_INVALID")


def test_public_addresses_are_allowed():
    assert address_allowed("93.184.216.34") and address_allowed("2606:2800:220:1:248:1893:25c8:1946")
    assert not address_allowed("2002:0a00:0001::1")     # 6to4 wrapping 10.0.0.1


def test_slow_dns_counts_against_the_deadline():
    """getaddrinfo has no time-out: a resolver that spends the budget and then hangs is abandoned
    (the fetch gives up while the resolver is still stuck), not waited for."""
    clock = FakeClock()
    release, returned = threading.Event(), threading.Event()

    def stuck(host):
        clock.advance(5)                 # the whole 0.3 s budget and more
        release.wait(10)                 # then hangs until the test lets go
        returned.set()
        return ["127.0.0.1"]

    try:
        assert code_of(lambda: fetch_module.fetch_url("http://slow-dns.example/a.jpg", max_bytes=10, timeout_s=0.3,
                                                       resolver=stuck, clock=clock, allow_http=True)
                       ) == "MEDIA_URL_TIMEOUT"
        assert not returned.is_set(), "the fetch waited for the resolver instead of giving up"
    finally:
        release.set()


def test_dns_failure_is_unreachable():
    def nx(host):
        raise OSError("Name or service not known")

    assert code_of(lambda: fetch_url("https://nx.example/a.jpg", max_bytes=10, timeout_s=1,
                                     resolver=nx)) == "MEDIA_URL_UNREACHABLE"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """HTTPS on loopback with a self-signed certificate for shop.test (openssl CLI makes it)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=shop.test",
                    "-addext", "subjectAltName=DNS:shop.test", "-keyout", str(d / "k.pem"), "-out", str(d / "c.pem")],
                   check=True, capture_output=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "c.pem", d / "k.pem")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_port, d / "c.pem"
    srv.shutdown()
    srv.server_close()


def test_https_connects_to_the_checked_address_and_verifies_the_name(tls_server, monkeypatch):
    import ssl

    port, cert = tls_server
    url = f"https://shop.test:{port}/img.jpg"
    opts = dict(max_bytes=20_000, timeout_s=3, allowed_networks=LOOPBACK, resolver=lambda h: ["127.0.0.1"])
    # an untrusted certificate is refused: verification is on
    assert code_of(lambda: fetch_url(url, **opts)) == "MEDIA_URL_UNREACHABLE"
    # trusting the test CA, the download works through the pinned address with SNI = shop.test
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: real(cafile=str(cert)))
    assert fetch_url(url, **opts) == JPEG
