"""The user pool (Cognito): sign-in for the ``auth`` function, users for ``shangjia users``.

The pool and its app client are named by ``SHANGJIA_USER_POOL_ID`` and
``SHANGJIA_USER_POOL_CLIENT_ID`` (CDK sets them on the auth function; the local cloud exports
them). ``find_pool`` looks a pool up by name when they are not set (the CLI against the local
cloud). Passwords and tokens are never logged or put in an exception's text.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
from dataclasses import dataclass
from typing import Any

from shangjia.adapters.aws import client
from shangjia.topology import USER_POOL_CLIENT_ENV as CLIENT_ENV, USER_POOL_ID_ENV as POOL_ENV
# The staff groups, strongest first (as shangjia.auth reads a token's cognito:groups)
STAFF_GROUPS = ("ops", "reviewer", "editor")


class SignInRefused(Exception):
    """Cognito said no (wrong password, unknown user, disabled, expired refresh token).
    ``code`` is an error code of errors/auth.py; the text never carries the secret."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code, self.params = code, params
        super().__init__(code)


class UserExists(Exception):
    pass


class WeakPassword(Exception):
    """The pool's password policy refused the password (the user was not kept)."""


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str
    refresh_token: str | None
    expires_in: int

    @property
    def claims(self) -> dict[str, Any]:
        """The ID token's payload, unverified: it came straight from Cognito over TLS and is only
        used to tell the caller who signed in (every later request is verified by the authorizer)."""
        payload = self.id_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def generate_password(length: int = 16) -> str:
    """A password Cognito's policy accepts: upper, lower, digit and symbol, from ``secrets``."""
    pools = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#%+-=?@^_")
    chars = [secrets.choice(p) for p in pools]
    everything = "".join(pools)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _error_code(err: Exception) -> str:
    return getattr(err, "response", {}).get("Error", {}).get("Code", "")


class CognitoUsers:
    def __init__(self, pool_id: str | None = None, client_id: str | None = None) -> None:
        self._pool_id, self._client_id = pool_id, client_id

    @property
    def pool_id(self) -> str:
        value = self._pool_id or os.environ.get(POOL_ENV)
        if not value:
            raise RuntimeError(f"missing setting {POOL_ENV} (the user pool's id)")
        return value

    @property
    def client_id(self) -> str:
        value = self._client_id or os.environ.get(CLIENT_ENV)
        if not value:
            raise RuntimeError(f"missing setting {CLIENT_ENV} (the user pool app client's id)")
        return value

    # --- sign-in (the auth function) ------------------------------------------------------
    def _tokens(self, call, **kw) -> Tokens:
        idp = client("cognito-idp")
        try:
            out = call(idp, **kw)
        except idp.exceptions.NotAuthorizedException:
            raise SignInRefused("AUTH_FAILED") from None
        except idp.exceptions.UserNotFoundException:
            raise SignInRefused("AUTH_FAILED") from None       # the same answer: no user oracle
        except idp.exceptions.PasswordResetRequiredException:
            raise SignInRefused("AUTH_CHALLENGE", challenge="PASSWORD_RESET_REQUIRED") from None
        if "AuthenticationResult" not in out:
            raise SignInRefused("AUTH_CHALLENGE", challenge=str(out.get("ChallengeName", "unknown")))
        r = out["AuthenticationResult"]
        return Tokens(r["IdToken"], r["AccessToken"], r.get("RefreshToken"), int(r.get("ExpiresIn", 3600)))

    def sign_in(self, username: str, password: str) -> Tokens:
        return self._tokens(lambda idp, **kw: idp.initiate_auth(**kw), ClientId=self.client_id,
                            AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": username, "PASSWORD": password})

    def refresh(self, refresh_token: str) -> Tokens:
        try:
            return self._tokens(lambda idp, **kw: idp.initiate_auth(**kw), ClientId=self.client_id,
                                AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token})
        except SignInRefused as e:
            if e.code == "AUTH_FAILED":
                raise SignInRefused("AUTH_REFRESH_FAILED") from None
            raise

    # --- users (shangjia users) -------------------------------------------------------------------
    def add_user(self, username: str, *, role: str, merchant_id: str | None, password: str) -> None:
        """A user with a permanent password, in the role's group (a merchant: by attribute)."""
        idp = client("cognito-idp")
        attrs = [{"Name": "custom:merchant_id", "Value": merchant_id}] if merchant_id else []
        try:
            idp.admin_create_user(UserPoolId=self.pool_id, Username=username, UserAttributes=attrs,
                                  MessageAction="SUPPRESS", TemporaryPassword=generate_password())
        except idp.exceptions.UsernameExistsException:
            raise UserExists(username) from None
        try:
            idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password,
                                        Permanent=True)
        except idp.exceptions.InvalidPasswordException as e:
            idp.admin_delete_user(UserPoolId=self.pool_id, Username=username)
            raise WeakPassword(e.response.get("Error", {}).get("Message", "")[:200]) from None
        if role != "merchant":
            idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=role)

    def list_users(self) -> list[dict[str, Any]]:
        idp = client("cognito-idp")
        roles: dict[str, str] = {}
        for g in STAFF_GROUPS[::-1]:         # the strongest group wins, as in shangjia.auth
            for page in idp.get_paginator("list_users_in_group").paginate(UserPoolId=self.pool_id, GroupName=g):
                roles.update({u["Username"]: g for u in page["Users"]})
        out = []
        for page in idp.get_paginator("list_users").paginate(UserPoolId=self.pool_id):
            for u in page["Users"]:
                attrs = {a["Name"]: a["Value"] for a in u.get("Attributes", [])}
                merchant = attrs.get("custom:merchant_id")
                out.append({"username": u["Username"],
                            "role": roles.get(u["Username"]) or ("merchant" if merchant else None),
                            "merchant_id": merchant, "status": u.get("UserStatus"), "enabled": u.get("Enabled")})
        return sorted(out, key=lambda u: u["username"])


def find_pool(name: str) -> tuple[str, str]:
    """(pool id, app client id) of the pool called ``name`` (its first client)."""
    idp = client("cognito-idp")
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for p in page["UserPools"]:
            if p["Name"] == name:
                clients = idp.list_user_pool_clients(UserPoolId=p["Id"], MaxResults=10)["UserPoolClients"]
                if not clients:
                    raise LookupError(f"user pool {name} has no app client")
                return p["Id"], clients[0]["ClientId"]
    raise LookupError(f"no user pool named {name}")
