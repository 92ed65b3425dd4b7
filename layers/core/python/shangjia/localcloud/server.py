"""moto's server on loopback, in this process, behind a WSGI middleware that counts every
request (``Meter``) and serializes state-changing requests so conditional writes are atomic
as they are on AWS (moto's backends are not thread-safe). Lambda and Step Functions requests
are not serialized: they re-enter the server from handlers and the interpreter."""

from __future__ import annotations

import re
import threading
from typing import Callable
from urllib.parse import unquote

from shangjia.localcloud.meter import Meter

_CRED = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_UNLOCKED = {"lambda", "states", "moto"}
SHEET_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".tsv", ".xls", ".txt")


def classify(environ: dict) -> tuple[str, str]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return "moto", path
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _CRED.search(auth)
    service = m.group(1) if m else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    method = environ.get("REQUEST_METHOD", "GET")
    if service == "lambda":
        return service, "Invoke" if path.endswith("/invocations") else f"{method} {path.split('/')[2] if path.count('/') > 1 else ''}"
    if service == "s3":
        qs = environ.get("QUERY_STRING", "")
        parts = [p for p in path.split("/") if p]
        if len(parts) <= 1:
            return service, "ListObjects" if method == "GET" else f"{method}Bucket"
        return service, {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
                         "POST": "PostObject"}.get(method, method) + ("" if not qs or "versionId" in qs else "")
    if service == "sqs":   # query protocol fallback
        return service, "Query"
    return service, method


class CountingMiddleware:
    def __init__(self, app: Callable, meter: Meter, media_bucket: Callable[[], str | None]) -> None:
        self.app = app
        self.meter = meter
        self.media_bucket = media_bucket
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        service, op = classify(environ)
        req_bytes = int(environ.get("CONTENT_LENGTH") or 0)
        if service in _UNLOCKED:
            body = b"".join(self.app(environ, start_response))
        else:
            with self.lock:
                body = b"".join(self.app(environ, start_response))
        if service == "sqs" and op == "ReceiveMessage" and b"Messages" not in body:
            op = "ReceiveMessage(empty)"   # an idle poll: Lambda's pollers cost the same at any volume
        who = environ.get("HTTP_X_SHANGJIA_CALLER")
        if not who:
            # The Step Functions interpreter's own clients sign with the key "ak"; anything else
            # untagged is an observer (the demo's progress display, tests, the CLI).
            who = "states" if "Credential=ak/" in environ.get("HTTP_AUTHORIZATION", "") else "observer"
        if service != "moto":
            s3_media = False
            if service == "s3":
                path = unquote(environ.get("PATH_INFO", ""))
                parts = [p for p in path.split("/") if p]
                s3_media = bool(parts) and (parts[0] == self.media_bucket() or
                                            (len(parts) > 1 and not path.lower().endswith(SHEET_SUFFIXES)))
            self.meter.request(service, op, req_bytes, len(body), s3_media=s3_media, caller=who)
        return [body]


class MotoServer:
    """A ThreadedMotoServer whose app is wrapped by the counting middleware."""

    def __init__(self, meter: Meter, host: str = "127.0.0.1", port: int = 0) -> None:
        self.meter = meter
        self.host, self.port = host, port
        self._server = None
        self._thread: threading.Thread | None = None
        self.media_bucket_name: str | None = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        try:
            from moto.moto_server.threaded_moto_server import MotoRequestHandler
        except ImportError:  # pragma: no cover
            MotoRequestHandler = None
        app = CountingMiddleware(DomainDispatcherApplication(create_backend_app), self.meter,
                                 lambda: self.media_bucket_name)
        from werkzeug.serving import WSGIRequestHandler

        class Quiet(MotoRequestHandler or WSGIRequestHandler):
            def log_request(self, *a, **k):  # the meter counts requests; no access log
                pass

        kw = {"request_handler": Quiet}
        self._server = make_server(self.host, self.port, app, threaded=True, **kw)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
