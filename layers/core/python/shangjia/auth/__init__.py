"""Who is asking: a ``Principal`` built from the verified token's claims, and nothing else.

API Gateway's JWT authorizer (and the local gateway, which does the same) verifies the Cognito ID
token and hands its claims to the function in ``requestContext.authorizer.jwt.claims``, every value
a string: an array claim such as ``cognito:groups`` arrives as ``"[ops reviewer]"``. The role is the
strongest staff group (ops > reviewer > editor); a user in no group with ``custom:merchant_id`` is a
merchant scoped to that merchant. Anything else is not an identity (``NotAuthenticated``).

What a principal may see and do is decided in ``shangjia.auth.policy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

ROLES = ("merchant", "editor", "reviewer", "ops")
STAFF_ROLES = frozenset({"editor", "reviewer", "ops"})
_STRONGEST_FIRST = ("ops", "reviewer", "editor")


class NotAuthenticated(Exception):
    """No usable identity in the request (answered 401)."""


@dataclass(frozen=True)
class Principal:
    id: str                         # the token's ``sub``: stable, what tasks and audits record
    username: str                   # ``cognito:username``: what ops assigns merchants to
    role: str                       # merchant | editor | reviewer | ops
    merchant_id: str | None = None  # a merchant's own merchant; None for staff

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def as_actor(self) -> dict[str, Any]:
        """The actor dict the review decision path takes (``pipeline.review``)."""
        return {"id": self.id, "role": self.role, "merchant_id": self.merchant_id, "username": self.username}


def parse_groups(value: Any) -> list[str]:
    """``cognito:groups`` as API Gateway passes it (``"[ops reviewer]"``), as a JSON-ish list
    (``'["ops"]'``) or as a real list (a direct invocation)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(g) for g in value if str(g)]
    text = str(value).strip().strip("[]")
    return [g for g in (p.strip().strip('"\'') for p in text.replace(",", " ").split()) if g]


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    """The principal of verified claims; raises ``NotAuthenticated`` when they name nobody."""
    if not claims:
        raise NotAuthenticated("no claims")
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise NotAuthenticated("no subject")
    groups = parse_groups(claims.get("cognito:groups"))
    username = str(claims.get("cognito:username") or claims.get("username") or sub)
    role = next((g for g in _STRONGEST_FIRST if g in groups), None)
    if role:
        return Principal(id=sub, username=username, role=role)
    merchant_id = str(claims.get("custom:merchant_id") or "").strip()
    if merchant_id:
        return Principal(id=sub, username=username, role="merchant", merchant_id=merchant_id)
    raise NotAuthenticated("no role: neither a staff group nor a merchant id")


__all__ = ["Principal", "NotAuthenticated", "principal_from_claims", "parse_groups", "ROLES", "STAFF_ROLES"]
