"""The local gateway's JWT authorizer: what API Gateway's HTTP API JWT authorizer does on AWS.

A request to a ``jwt`` route passes only with a token (``Authorization: Bearer <token>``; API
Gateway also takes the bare token) that
- is a JWS signed RS256 by a key of the issuer's JWKS (found by ``kid``; ``alg: none``, HMAC and
  every other algorithm refused),
- has ``exp`` in the future, ``nbf`` (if any) and ``iat`` (if any) not in the future,
- has ``iss`` equal to the pool's issuer URL, and
- has ``aud`` (an ID token) or ``client_id`` (an access token) equal to the app client's id.

Anything else is ``Unauthorized`` and the function is not invoked. The claims then reach the
function as API Gateway passes them: ``requestContext.authorizer.jwt.claims`` with every value
a string, an array as ``"[a b]"``.

The keys: moto serves the pool's JWKS at ``{endpoint}/{pool_id}/.well-known/jwks.json`` while the
tokens name the AWS URL as issuer, so the issuer is checked and the keys are fetched locally.
PyJWT is a local-cloud (dev) dependency only: on AWS, API Gateway verifies.
"""

from __future__ import annotations

import json
from typing import Any

import jwt

ALGORITHMS = ["RS256"]     # what API Gateway's JWT authorizer accepts from a Cognito pool


class Unauthorized(Exception):
    """The token is missing or invalid; ``reason`` is for tests and logs, never for the caller."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them to a payload-2.0 integration: every value a string,
    arrays as ``"[a b c]"``, objects as JSON, booleans ``true``/``false``."""
    out = {}
    for k, v in claims.items():
        if isinstance(v, list):
            out[k] = "[" + " ".join(str(x) for x in v) + "]"
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, dict):
            out[k] = json.dumps(v, separators=(",", ":"))
        else:
            out[k] = str(v)
    return out


def bearer(header: str | None) -> str:
    """The token of an ``Authorization`` header: ``Bearer <token>`` or the bare token."""
    if not header or not header.strip():
        raise Unauthorized("no Authorization header")
    parts = header.strip().split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        token = parts[1]
    elif len(parts) == 1:
        token = parts[0]
    else:
        raise Unauthorized("malformed Authorization header")
    if token.count(".") != 2:
        raise Unauthorized("not a JWS compact token")
    return token


class JwtAuthorizer:
    def __init__(self, *, issuer: str, audience: list[str] | str, jwks_url: str, leeway_s: float = 0) -> None:
        self.issuer = issuer
        self.audience = [audience] if isinstance(audience, str) else list(audience)
        self.leeway_s = leeway_s
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The verified token's claims (as the token carries them), or ``Unauthorized``."""
        token = bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise Unauthorized(f"malformed token: {e}") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(f"algorithm {header.get('alg')!r} not accepted")
        try:
            key = self._jwks.get_signing_key(header.get("kid") or "")
        except jwt.PyJWKClientError as e:
            raise Unauthorized(f"no signing key: {e}") from None
        try:
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, issuer=self.issuer, leeway=self.leeway_s,
                                options={"require": ["exp", "iss"], "verify_aud": False,
                                         "verify_exp": True, "verify_nbf": True, "verify_iat": True,
                                         "verify_iss": True, "verify_signature": True})
        except jwt.PyJWTError as e:
            raise Unauthorized(f"{type(e).__name__}: {e}") from None
        aud = claims.get("aud", claims.get("client_id"))
        auds = aud if isinstance(aud, list) else [aud]
        if not any(a in self.audience for a in auds if isinstance(a, str)):
            raise Unauthorized("audience (aud / client_id) is not the app client")
        return claims

    def __call__(self, authorization: str | None) -> dict[str, str]:
        """The claims as API Gateway passes them to the function."""
        return gateway_claims(self.verify(authorization))
