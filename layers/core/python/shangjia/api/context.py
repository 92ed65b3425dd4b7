"""The resolver, who is asking, and how the API answers what it will not do.

Every error answer is ``{"code", "message", "message_zh"}`` (codes in ``errors/api.py``):
400 a body or parameter it cannot use, 401 no identity, 403 ``AUTH_FORBIDDEN`` (the role may not),
404 ``API_NOT_FOUND`` (missing, or not the caller's to see: the same body either way), 409 a
decision or change that cannot be applied now.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shangjia.api.ports import ApiDeps
from shangjia.auth import NotAuthenticated, Principal, principal_from_claims
from shangjia.auth.policy import Forbidden, OutOfScope, require
from shangjia.errors import finding
from shangjia.pipeline.review import DecisionRefused

app = APIGatewayHttpResolver(enable_validation=True)

_PRINCIPAL = "shangjia.principal"


# --- who is asking ---------------------------------------------------------------------------------

def claims() -> dict[str, Any]:
    auth = app.current_event.request_context.authorizer
    return dict((auth.jwt_claim or {}) if auth else {})


def principal() -> Principal:
    """The request's principal (from the verified token's claims only); 401 without one."""
    if _PRINCIPAL not in app.context:
        app.context[_PRINCIPAL] = principal_from_claims(claims())
    return app.context[_PRINCIPAL]


def allowed(action: str) -> Principal:
    """The principal, once its role may take ``action`` (else 403)."""
    p = principal()
    require(p, action)
    return p


# --- what the routes use ------------------------------------------------------------------------

@functools.cache
def _links():
    from shangjia.adapters.links import S3Links

    return S3Links()


@functools.cache
def _dead_letters():
    from shangjia.adapters.links import SqsDeadLetters

    return SqsDeadLetters()


def api() -> ApiDeps:
    from shangjia.lambda_kit import deps

    return ApiDeps(deps=deps(), links=_links(), dead_letters=_dead_letters())


# --- answers -------------------------------------------------------------------------------------

def error_body(code: str, **params: Any) -> dict[str, Any]:
    f = finding(code, **params)
    return {"code": f.code, "message": f.message_en, "message_zh": f.message_zh}


def answer(status: int, code: str, **params: Any) -> Response:
    return Response(status, "application/json", error_body(code, **params))


class BadRequest(Exception):
    """A body or parameter the API cannot use: 400 with its code (zh/en), never a 500."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(code)


class NotFound(Exception):
    """Answered 404 ``API_NOT_FOUND``: the same body for a missing object and a foreign one."""


class Conflict(Exception):
    """Answered 409: the change cannot be applied to the object as it is now."""

    def __init__(self, reason: str, code: str = "API_CONFLICT", **params: Any) -> None:
        self.reason, self.code, self.params = reason, code, params or {"reason": reason}
        super().__init__(reason)


@app.exception_handler(NotAuthenticated)
def _unauthenticated(_e: NotAuthenticated) -> Response:
    return answer(401, "API_UNAUTHENTICATED")


@app.exception_handler(Forbidden)
def _forbidden(_e: Forbidden) -> Response:
    return answer(403, "AUTH_FORBIDDEN", role=principal().role)


@app.exception_handler([NotFound, OutOfScope])
def _not_found(_e: Exception) -> Response:
    return answer(404, "API_NOT_FOUND")


@app.not_found
def _no_route(_e: Exception) -> Response:
    return answer(404, "API_NOT_FOUND")


@app.exception_handler(BadRequest)
def _bad_request(e: BadRequest) -> Response:
    body = error_body(e.code, **e.params)
    return Response(400, "application/json", body | {"error": body["message"]})


@app.exception_handler(Conflict)
def _conflict(e: Conflict) -> Response:
    return Response(409, "application/json", error_body(e.code, **e.params) | {"error": e.reason})


@app.exception_handler(DecisionRefused)
def _refused(e: DecisionRefused) -> Response:
    """A decision that cannot be applied (task ended, lapsed, someone else's claim)."""
    return Response(409, "application/json", error_body("API_CONFLICT", reason=str(e)) | {"error": str(e)})


@app.exception_handler(RequestValidationError)
def _invalid(e: RequestValidationError) -> Response:
    """Powertools' validation of the pydantic models: the first error, named by its field."""
    err = (e.errors() or [{}])[0]
    loc = [str(x) for x in err.get("loc", ())]
    where = loc[0] if loc else "body"
    field = ".".join(loc[1:]) or where
    reason = str(err.get("msg") or "invalid")[:200]
    code = "API_BODY_FIELD" if where == "body" else "API_PARAM_INVALID"
    body = error_body(code, field=field, reason=reason)
    return Response(400, "application/json", body | {"error": body["message"]})


# --- the body, checked before any route sees it ----------------------------------------------------

_KIND = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The request body as a JSON object (None when there is none). HTTP APIs base64-encode a body
    that is not text; either way it must be UTF-8 JSON whose top level is an object."""
    raw = event.get("body")
    if raw is None or raw == "":
        return None
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("API_BODY_NOT_UTF8", reason="invalid base64") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequest("API_BODY_NOT_UTF8", reason=f"invalid byte at offset {e.start}") from None
    else:
        text = raw
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:       # a lone surrogate: no UTF-8 text carries one
            raise BadRequest("API_BODY_NOT_UTF8", reason=f"invalid character at offset {e.start}") from None
    if not text.strip():
        return None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BadRequest("API_BODY_NOT_JSON", reason=f"{e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise BadRequest("API_BODY_NOT_JSON",
                         reason="nested too deeply" if isinstance(e, RecursionError) else str(e)[:100]) from None
    if not isinstance(doc, dict):
        raise BadRequest("API_BODY_NOT_OBJECT", kind=_KIND.get(type(doc), type(doc).__name__))
    return doc


def _raw_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body, ensure_ascii=False), "isBase64Encoded": False}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway (HTTP API, payload 2.0) event. A body that is not a UTF-8 JSON
    object is refused here, whichever route it is for; a good one is handed on as JSON (whatever
    content type the client declared: ``curl -d`` says form-urlencoded)."""
    from shangjia.api import routes  # noqa: F401  (registers the route table once)

    try:
        doc = parse_body(event)
    except BadRequest as e:
        body = error_body(e.code, **e.params)
        return _raw_answer(400, body | {"error": body["message"]})
    if doc is not None:
        headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
        event = {**event, "headers": headers | {"content-type": "application/json"}}
    elif event.get("body") is not None and not str(event.get("body")).strip():
        event = {**event, "body": None}
    return app.resolve(event, context)
