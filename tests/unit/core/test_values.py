"""Cell-value parsers (``shangjia.validation.values``): package sizes and money in fen.

The package-size tests go through the merchant's path too (a sheet row in, a located finding
out); the money tests are properties over every amount a merchant can type."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from shangjia.sheets import open_sheet
from shangjia.validation import ValidationContext, validate_product
from shangjia.validation.values import FEN, to_dims, to_fen
from tests.unit.sheets.kit import product_rows, to_xlsx

# --- package size: L×W×H, every side > 0 ------------------------------------------------------


@pytest.mark.parametrize("text", ["30x0x5", "0x20x5", "30x20x0", "0*0*0", "30×0×5", "30x0.0x5", "30x0.00cmx5"])
def test_a_package_side_of_zero_is_refused(text):
    with pytest.raises(ValueError):
        to_dims(text)


@pytest.mark.parametrize("text,dims", [("30x20x5", [30, 20, 5]), ("30*20*5", [30, 20, 5]),
                                       ("30cm×20cm×5cm", [30, 20, 5]), ("1x1x1", [1, 1, 1]),
                                       ("0.5x20x5.0", [0.5, 20, 5])])
def test_package_sizes_parse(text, dims):
    assert to_dims(text) == dims


@pytest.fixture
def ctx():
    return ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}))


def test_a_row_with_a_zero_package_side_gets_a_located_finding(ctx):
    """The merchant's view: row 3 of their sheet has 包装尺寸 30x0x5; the product is invalid and
    the finding points at that row and the package-size column (T), naming the value."""
    rows = product_rows("PKG1", grid=(("红色", "M"), ("红色", "L")))
    rows[1]["package_size_cm"] = "30x0x5"
    (raw,) = list(open_sheet(to_xlsx(rows), "m.xlsx").products())
    res = validate_product(raw, ctx)
    assert not res.valid
    bad = [f for f in res.findings if f.is_error]
    assert [(f.code, f.row, f.column, f.value) for f in bad] == [("FIELD_TYPE", 3, "T", "30x0x5")]
    assert "包装尺寸" in bad[0].field
    assert res.product["skus"][1]["package_size_cm"] is None
    assert res.product["skus"][0]["package_size_cm"] == [30, 20, 5]


# --- money: text -> integer fen ----------------------------------------------------------------

FEN_MAX = 999_999_999          # 9,999,999.99 yuan: the specification's money maximum


def _plain2(f: int) -> str:
    return f"{f // 100}.{f % 100:02d}"


def _short(f: int) -> str:            # as few decimals as the amount needs: 12 / 12.5 / 12.05
    y, c = divmod(f, 100)
    return str(y) if c == 0 else f"{y}.{c // 10}" if c % 10 == 0 else f"{y}.{c:02d}"


def _thousands(f: int) -> str:        # 1,299.00
    return f"{f // 100:,}.{f % 100:02d}"


def _european(f: int) -> str:         # 1.299,00 (and 12,50 under a thousand)
    return f"{f // 100:,}".replace(",", ".") + f",{f % 100:02d}"


def _yuan_sign(f: int) -> str:
    return "¥" + _thousands(f)


def _yuan_suffix(f: int) -> str:
    return _short(f) + "元"


def _spaced(f: int) -> str:           # 1 299,50
    return f"{f // 100:,}".replace(",", " ") + f",{f % 100:02d}"


FORMATS = [_plain2, _short, _thousands, _european, _yuan_sign, _yuan_suffix, _spaced]


@settings(max_examples=400, deadline=None)
@given(fen=st.integers(0, FEN_MAX), fmt=st.sampled_from(FORMATS))
@example(fen=129900, fmt=_european).via("docs: 1.299,00")
@example(fen=1, fmt=_plain2)
@example(fen=10, fmt=_short)
def test_any_amount_with_at_most_two_decimals_round_trips_to_exact_fen(fen, fmt):
    text = fmt(fen)
    assert to_fen(text) == fen, text
    assert FEN[text] == fen


@settings(max_examples=300, deadline=None)
@given(yuan=st.integers(0, 9_999_999), decimals=st.from_regex(r"\A[0-9]{3,6}\Z"),
       prefix=st.sampled_from(["", "¥", "￥"]))
@example(yuan=1, decimals="299", prefix="").via("docs: 1.299 is refused, thousands or decimals?")
@example(yuan=1, decimals="200", prefix="").via("ambiguous like 1.299: 1,200 or 1.20?")
@example(yuan=12, decimals="340", prefix="")
def test_three_or_more_decimals_are_refused(yuan, decimals, prefix):
    text = f"{prefix}{yuan}.{decimals}"
    with pytest.raises(ValueError):
        to_fen(text)
    assert FEN[text] is None                      # validation reports it as PRICE_FORMAT


@settings(max_examples=200, deadline=None)
@given(fen=st.integers(1, FEN_MAX), fmt=st.sampled_from(FORMATS), space=st.sampled_from(["", " "]))
def test_negative_amounts_are_refused(fen, fmt, space):
    text = fmt(fen)
    if text[0] in "¥":
        text = "¥-" + space + text[1:]
    else:
        text = "-" + space + text
    with pytest.raises(ValueError):
        to_fen(text)


@settings(max_examples=1000, deadline=None)
@given(text=st.text(max_size=40) | st.from_regex(r"\A[-¥$ 0-9.,'元]{0,20}\Z"))
@example(text="")
@example(text="NaN")
@example(text="1e309")
@example(text="Infinity")
@example(text="1e3")
@example(text="1.2.3")
@example(text="1,2,3")
@example(text="٣")
@example(text="sNaN")
@example(text="¥")
def test_any_text_gives_fen_or_a_reason_never_a_crash(text):
    try:
        fen = to_fen(text)
    except ValueError as e:
        assert str(e)                             # a reason the merchant is shown
        assert FEN[text] is None
    else:
        assert isinstance(fen, int) and fen >= 0
        assert FEN[text] == fen


def test_a_price_with_three_decimals_is_a_located_finding(ctx):
    rows = product_rows("PR1", grid=(("红色", "M"),))
    rows[0]["price"] = "12.340"
    (raw,) = list(open_sheet(to_xlsx(rows), "m.xlsx").products())
    res = validate_product(raw, ctx)
    assert [(f.code, f.row, f.column) for f in res.errors] == [("PRICE_FORMAT", 2, "Y")]
