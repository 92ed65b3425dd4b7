"""Identity from claims as API Gateway passes them (every value a string), and the role rules' table."""

from __future__ import annotations

import pytest

from shangjia.auth import NotAuthenticated, Principal, parse_groups, principal_from_claims
from shangjia.auth.policy import RULES, Forbidden, may, require, sees_cost_price


@pytest.mark.parametrize("raw,groups", [
    ("[ops reviewer]", ["ops", "reviewer"]), ("[editor]", ["editor"]), ("", []), ("[]", []), (None, []),
    ('["ops", "editor"]', ["ops", "editor"]), (["reviewer"], ["reviewer"]), ("ops,editor", ["ops", "editor"]),
])
def test_groups_as_api_gateway_passes_them(raw, groups):
    assert parse_groups(raw) == groups


def test_the_strongest_group_is_the_role_and_staff_carry_no_merchant():
    p = principal_from_claims({"sub": "s1", "cognito:username": "ann", "cognito:groups": "[editor ops]",
                               "custom:merchant_id": "m-1"})
    assert p == Principal(id="s1", username="ann", role="ops", merchant_id=None)


def test_a_merchant_is_a_user_in_no_group_with_a_merchant_id():
    p = principal_from_claims({"sub": "s2", "cognito:username": "shop", "cognito:groups": "", "custom:merchant_id": "m-9"})
    assert (p.role, p.merchant_id, p.username) == ("merchant", "m-9", "shop")


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"sub": "x"}, {"sub": "x", "cognito:groups": "[admins]"},
                                    {"sub": "x", "custom:merchant_id": "  "}])
def test_claims_naming_nobody_are_not_an_identity(claims):
    with pytest.raises(NotAuthenticated):
        principal_from_claims(claims)


def test_the_rules_table():
    roles = {r: Principal("i", "u", r, "m" if r == "merchant" else None) for r in ("merchant", "editor", "reviewer", "ops")}
    table = {a: sorted(r for r, p in roles.items() if may(p, a)) for a in RULES}
    assert table == {
        "me": ["editor", "merchant", "ops", "reviewer"], "openapi": ["editor", "merchant", "ops", "reviewer"],
        "template": ["editor", "merchant", "ops", "reviewer"],
        "read": ["editor", "merchant", "ops"], "upload": ["editor", "merchant", "ops"],
        "resubmit": ["editor", "merchant", "ops"], "board": ["editor", "ops", "reviewer"],
        "failures": ["editor", "ops", "reviewer"], "review": ["ops", "reviewer"],
        "dlq": ["ops"], "settings": ["ops"], "assign": ["ops"],
    }
    with pytest.raises(Forbidden):
        require(roles["editor"], "review")
    assert sees_cost_price(roles["merchant"], "m") and not sees_cost_price(roles["merchant"], "other")
    assert sees_cost_price(roles["ops"], "any") and not sees_cost_price(roles["editor"], "m")
