"""The SKU spec grid (``validate_product``, across rows): every combination of the spec values a
product uses must be there exactly once — duplicates flagged at their row, gaps listed."""

from __future__ import annotations

from itertools import product as cartesian

from hypothesis import given, settings, strategies as st

from shangjia.sheets import products_from_records
from shangjia.validation import ValidationContext, validate_product
from tests.unit.sheets.kit import product_rows

AXES = {"颜色": ["红色", "黑色", "白色", "藏青"], "尺码": ["S", "M", "L", "XL"], "款式": ["常规", "加绒", "宽松"]}
CTX = ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}))
SPEC_CODES = {"SPEC_DUPLICATE", "SPEC_GRID_INCOMPLETE", "SPEC_INCONSISTENT", "SPEC_FORMAT", "SPEC_MISSING"}


@st.composite
def grids(draw):
    names = draw(st.lists(st.sampled_from(list(AXES)), min_size=1, max_size=3, unique=True))
    values = [draw(st.lists(st.sampled_from(AXES[n]), min_size=1, max_size=len(AXES[n]), unique=True))
              for n in names]
    full = list(cartesian(*values))
    combos = draw(st.lists(st.sampled_from(full), min_size=1, max_size=min(40, 2 * len(full))))
    orders = draw(st.lists(st.permutations(range(len(names))), min_size=len(combos), max_size=len(combos)))
    return names, combos, orders


def _rows(names, combos, orders):
    rows = product_rows("G1", grid=[("红色", "M")] * len(combos))
    for row, combo, order in zip(rows, combos, orders):
        # the same spec names in any order on a row: 尺码:M;颜色:红色 is the same SKU as 颜色:红色;尺码:M
        row["spec_values"] = ";".join(f"{names[i]}:{combo[i]}" for i in order)
    return rows


@settings(max_examples=250, deadline=None)
@given(grids())
def test_every_combination_exactly_once_duplicates_flagged_gaps_listed(grid):
    names, combos, orders = grid
    (raw,) = list(products_from_records(_rows(names, combos, orders), "t"))
    res = validate_product(raw, CTX)
    spec_f = [f for f in res.findings if f.code in SPEC_CODES]

    first: dict[tuple, int] = {}
    dups = []
    for i, combo in enumerate(combos):
        row = i + 2
        if combo in first:
            dups.append((row, first[combo]))
        else:
            first[combo] = row
    axes = list(orders[0])                       # the grid is named in the first row's order
    used = [list(dict.fromkeys(c[a] for c in first)) for a in axes]
    missing = [c for c in cartesian(*used) if tuple(c[axes.index(a)] for a in range(len(names))) not in first]

    got_dups = [(f.row, f.params["first_row"]) for f in spec_f if f.code == "SPEC_DUPLICATE"]
    assert got_dups == dups
    assert all(f.column == raw.rows[0].columns["spec_values"] for f in spec_f if f.code == "SPEC_DUPLICATE")
    grid_f = [f for f in spec_f if f.code == "SPEC_GRID_INCOMPLETE"]
    if missing:
        assert len(grid_f) == 1 and grid_f[0].params["count"] == len(missing) and grid_f[0].row == 2
        for m in missing[:6]:
            assert "/".join(m) in grid_f[0].message_zh
    else:
        assert grid_f == []
    assert {f.code for f in spec_f} <= {"SPEC_DUPLICATE", "SPEC_GRID_INCOMPLETE"}
    # every SKU carries its combination, whatever order the names were written in
    assert [tuple(s["spec"][n] for n in names) for s in res.product["skus"]] == combos
    # a complete grid of unique combinations has no spec finding at all
    assert (not spec_f) == (not dups and not missing)


def test_a_full_grid_in_any_order_is_clean():
    combos = list(cartesian(AXES["颜色"], AXES["尺码"]))[::-1]
    (raw,) = list(products_from_records(_rows(["颜色", "尺码"], combos, [(1, 0)] * len(combos)), "t"))
    res = validate_product(raw, CTX)
    assert not [f for f in res.findings if f.code in SPEC_CODES]


def test_a_row_with_other_spec_names_is_inconsistent():
    rows = _rows(["颜色", "尺码"], [("红色", "M"), ("黑色", "M")], [(0, 1), (0, 1)])
    rows[1]["spec_values"] = "颜色:黑色;款式:常规"
    (raw,) = list(products_from_records(rows, "t"))
    res = validate_product(raw, CTX)
    assert [(f.code, f.row) for f in res.findings if f.code in SPEC_CODES] == [("SPEC_INCONSISTENT", 3)]
