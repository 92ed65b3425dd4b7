"""API Gateway (HTTP API, public routes) POST /auth/login, POST /auth/refresh -> the user pool's
tokens. The only routes without a token: a person trades a username and password (or a refresh
token) for the pool's ID, access and refresh tokens through Cognito's InitiateAuth
(USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH); every other route then checks the ID token.

Answers (JSON): 200 ``{id_token, access_token, refresh_token, expires_in, username, role,
merchant_id}``; 401 ``{"code":"AUTH_FAILED"}`` for a wrong username or password (the same answer
for both) or ``AUTH_REFRESH_FAILED``; 400 located codes (``AUTH_BODY_NOT_JSON``,
``AUTH_FIELD_MISSING``, ``AUTH_FIELD_INVALID``) for a body it cannot use. The password and the
tokens are never logged."""

import base64
import binascii
import json

from shangjia.adapters.cognito import CognitoUsers, SignInRefused
from shangjia.auth import NotAuthenticated, principal_from_claims
from shangjia.errors import finding
from shangjia.observability import logger

MAX_FIELD = 4096            # a refresh token is ~1.8 kB; a password at most 256 characters (Cognito)
_users = CognitoUsers()


class BadBody(Exception):
    def __init__(self, code: str, **params) -> None:
        self.code, self.params = code, params
        super().__init__(code)


def _reply(status: int, doc: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json", "cache-control": "no-store"},
            "body": json.dumps(doc, ensure_ascii=False)}


def _error(status: int, code: str, **params) -> dict:
    f = finding(code, **params)
    doc = {"code": f.code, "message": f.message_en, "message_zh": f.message_zh}
    if f.field:
        doc["field"] = f.field
    return _reply(status, doc)


def _body(event: dict) -> dict:
    raw = event.get("body") or ""
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8") if event.get("isBase64Encoded") else raw
    except (binascii.Error, ValueError):
        raise BadBody("AUTH_BODY_NOT_JSON", reason="not UTF-8 text") from None
    if not text.strip():
        raise BadBody("AUTH_BODY_NOT_JSON", reason="empty body")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise BadBody("AUTH_BODY_NOT_JSON", reason=getattr(e, "msg", "nested too deeply")) from None
    if not isinstance(doc, dict):
        raise BadBody("AUTH_BODY_NOT_JSON", reason="not an object")
    return doc


def _field(doc: dict, name: str) -> str:
    value = doc.get(name)
    if value is None or value == "":
        raise BadBody("AUTH_FIELD_MISSING", field=name)
    if not isinstance(value, str):
        raise BadBody("AUTH_FIELD_INVALID", field=name, reason="must be a string")
    if len(value) > MAX_FIELD:
        raise BadBody("AUTH_FIELD_INVALID", field=name, reason=f"longer than {MAX_FIELD} characters")
    return value


def _signed_in(tokens, refresh_token: str | None = None) -> dict:
    """The tokens and who they name, by the same rule the API applies (``shangjia.auth``)."""
    claims = tokens.claims
    try:
        p = principal_from_claims(claims)
        role, merchant_id, username = p.role, p.merchant_id, p.username
    except NotAuthenticated:        # a user in no group and of no merchant: the API will refuse it
        role, merchant_id, username = None, None, claims.get("cognito:username")
    return {"id_token": tokens.id_token, "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token or refresh_token, "expires_in": tokens.expires_in,
            "username": username, "role": role, "merchant_id": merchant_id}


@logger.inject_lambda_context(clear_state=True, log_event=False)
def lambda_handler(event, context):
    path = (event.get("rawPath") or "").rstrip("/")
    action = path.rsplit("/", 1)[-1]
    if action not in ("login", "refresh"):
        return _reply(404, {"message": "Not Found"})
    try:
        doc = _body(event)
        if action == "login":
            username = _field(doc, "username")
            password = _field(doc, "password")
            out = _signed_in(_users.sign_in(username, password))
        else:
            refresh_token = _field(doc, "refresh_token")
            out = _signed_in(_users.refresh(refresh_token), refresh_token)
    except BadBody as e:
        logger.info("sign-in body refused", extra={"action": action, "code": e.code})
        return _error(400, e.code, **e.params)
    except SignInRefused as e:
        # the username is logged (who tried); never the password or a token
        logger.info("sign-in refused", extra={"action": action, "code": e.code,
                                              "username": doc.get("username") if action == "login" else None})
        return _error(401, e.code, **e.params)
    logger.info("signed in", extra={"action": action, "username": out["username"], "role": out["role"]})
    return _reply(200, out)
