"""The ledger's refund arithmetic (pure: shangjia.stock.rules)."""

from shangjia.stock import rules


def order(state, lines, refunded=None):
    return {"state": state, "lines": [{"sku_code": c, "qty": q} for c, q in lines], "refunded": refunded or {}}


def test_remaining_is_each_line_less_its_refunds():
    assert rules.remaining(order("committed", [("A", 4), ("B", 2), ("A", 1)], {"A": 2})) == {"A": 3, "B": 2}


def test_a_refund_within_the_lines_is_planned_by_the_orders_state():
    p = rules.refund_plan(order("committed", [("A", 4)], {"A": 1}), {"A": 2})
    assert (p.kind, p.lines, p.over, p.final_state) == ("restock", {"A": 2}, {}, None)
    p = rules.refund_plan(order("reserved", [("A", 4)], {"A": 1}), {"A": 3})
    assert (p.kind, p.lines, p.final_state) == ("release", {"A": 3}, "released")


def test_beyond_what_is_left_or_on_a_closed_order_nothing_is_planned():
    p = rules.refund_plan(order("committed", [("A", 4)], {"A": 3}), {"A": 2, "B": 1})
    assert (p.lines, p.over) == ({}, {"A": (2, 1), "B": (1, 0)})
    for state in ("released", "restocked", "refused"):
        assert rules.refund_plan(order(state, [("A", 4)]), {"A": 1}).kind == ""
