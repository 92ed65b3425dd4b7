"""The role rules: what each role may do, and whose objects it may see.

| role     | may |
|----------|-----|
| merchant | only their own batches, products, reports, listings, stock, notices; start uploads; resubmit |
| editor   | the merchants ops assigned to them: read, start uploads, resubmit |
| reviewer | the review queue, claim, decide, previews; the board and the failure report |
| ops      | everything, plus editor assignments, DLQ depth and redrive, settings |

A role that may not do something at all is refused (403, ``Forbidden``) before anything is looked
up. An object outside the principal's scope (another merchant's, or one outside an editor's
assignment) is answered exactly as a missing one (404, ``OutOfScope``): no existence oracle.

Editor assignments live on one item of the state table (``CONFIG``/``EDITORS``: username ->
merchant ids), set by ops (``PUT /api/editors/{username}/merchants``, ``shangjia editors assign``).
"""

from __future__ import annotations

from typing import Any, Iterable

from shangjia.auth import ROLES, STAFF_ROLES, Principal
from shangjia.pipeline import keys
from shangjia.ports import ConditionFailed, Store

ALL = frozenset(ROLES)
SCOPED = frozenset({"merchant", "editor", "ops"})
REVIEW = frozenset({"reviewer", "ops"})
OPS = frozenset({"ops"})

# action -> the roles that may take it (the route table names its action)
RULES: dict[str, frozenset[str]] = {
    "me": ALL,
    "openapi": ALL,
    "template": ALL,
    "read": SCOPED,           # batches, products, reports, listings, stock, notices (scoped to merchants)
    "upload": SCOPED,         # start an upload for a merchant in scope
    "resubmit": SCOPED,
    "board": STAFF_ROLES,     # editors see only their merchants' cards
    "failures": STAFF_ROLES,
    "review": REVIEW,         # the queue, claim, heartbeat, decide, previews
    "dlq": OPS,
    "settings": OPS,
    "assign": OPS,            # editors' merchants
}

ASSIGNMENTS = "assignments"


class Forbidden(Exception):
    """The principal's role may not take this action (403)."""


class OutOfScope(Exception):
    """Not there, or not the principal's to see: the same answer (404)."""


def may(p: Principal, action: str) -> bool:
    return p.role in RULES[action]


def require(p: Principal, action: str) -> None:
    if not may(p, action):
        raise Forbidden(f"role {p.role} may not {action}")


# --- editor assignments ---------------------------------------------------------------------------

def all_assignments(store: Store) -> dict[str, list[str]]:
    item = store.get(*keys.config("editors")) or {}
    return {u: list(ms) for u, ms in (item.get(ASSIGNMENTS) or {}).items()}


def assigned_merchants(store: Store, username: str) -> list[str]:
    return all_assignments(store).get(username, [])


def editors_of(assignments: dict[str, list[str]], merchant_id: str) -> list[str]:
    return sorted(u for u, ms in assignments.items() if merchant_id in ms)


def clean_merchants(merchants: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for m in merchants:
        m = str(m).strip()
        if not m or "/" in m or "#" in m or len(m) > 64:
            raise ValueError(f"bad merchant id {m!r}")
        if m not in out:
            out.append(m)
    return out


def set_assignment(store: Store, username: str, merchants: Iterable[Any], *, by: str = "", at: str = "") -> list[str]:
    """Replace the editor's merchants (an empty list removes them all). Other editors' entries are
    untouched (one nested attribute is set, not the whole map)."""
    username = str(username).strip()
    if not username:
        raise ValueError("an editor's username is needed")
    ms = clean_merchants(merchants)
    pk, sk = keys.config("editors")
    names = {"#a": ASSIGNMENTS, "#u": username}
    values = {":m": ms, ":by": by, ":at": at}
    try:
        store.update(pk, sk, "SET #a.#u = :m, updated_by = :by, updated_at = :at", condition="attribute_exists(#a)",
                     names=names, values=values)
    except ConditionFailed:
        try:
            store.put({"pk": pk, "sk": sk, ASSIGNMENTS: {username: ms}, "updated_by": by, "updated_at": at},
                      condition="attribute_not_exists(pk)")
        except ConditionFailed:       # someone created the map in between: set our entry in it
            store.update(pk, sk, "SET #a.#u = :m, updated_by = :by, updated_at = :at", names=names, values=values)
    return ms


# --- scope ---------------------------------------------------------------------------------------

def visible_merchants(store: Store, p: Principal) -> frozenset[str] | None:
    """The merchants whose objects ``p`` may see: None means every merchant (ops)."""
    if p.role == "ops":
        return None
    if p.role == "merchant":
        return frozenset({p.merchant_id}) if p.merchant_id else frozenset()
    if p.role == "editor":
        return frozenset(assigned_merchants(store, p.username))
    return frozenset()


def can_see(store: Store, p: Principal, merchant_id: str | None) -> bool:
    if p.role == "ops":
        return True
    if not merchant_id:
        return False
    seen = visible_merchants(store, p)
    return seen is None or merchant_id in seen


def check_scope(store: Store, p: Principal, merchant_id: str | None) -> None:
    """Raise ``OutOfScope`` (a 404 like a missing object) unless ``p`` may see the merchant's objects."""
    if not can_see(store, p, merchant_id):
        raise OutOfScope(merchant_id or "")


def sees_cost_price(p: Principal, merchant_id: str) -> bool:
    """Cost price is the merchant's business: ops and the owning merchant only (not editors)."""
    return p.role == "ops" or (p.role == "merchant" and p.merchant_id == merchant_id)
