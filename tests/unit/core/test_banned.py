"""Banned-term scanning (``shangjia.validation.banned``): exempt categories, allowed contexts,
case and width, positions — as a unit and through ``validate_product``."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from shangjia.sheets import products_from_records
from shangjia.spec import DATA_DIR, to_halfwidth
from shangjia.validation import BannedTerms, ValidationContext, validate_product
from shangjia.validation.banned import load_banned_terms
from tests.unit.sheets.kit import product_rows

BEAUTY = "美妆个护/护肤/面霜"
TSHIRT = "服饰鞋包/女装/T恤"

GROUPS = [
    {"reason": "medical", "severity": "error", "zh": "医疗用语", "en": "medical claim",
     "terms": ["祛痘", "修复"], "exempt_categories": ["美妆个护/护肤", "家居日用/厨房用品"]},
    {"reason": "absolute", "severity": "error", "zh": "绝对化用语", "en": "absolute claim", "terms": ["最好"]},
]


@pytest.fixture(scope="module")
def terms():
    return BannedTerms(GROUPS)


def test_a_group_exempt_for_a_category_is_not_reported_for_it(terms):
    text = "祛痘修复面霜，最好用"
    assert [h.term for h in terms.scan(text, BEAUTY)] == ["最好"]            # medical exempt, absolute not
    assert [h.term for h in terms.scan(text, "家居日用/厨房用品/锅具")] == ["最好"]
    assert [h.term for h in terms.scan(text, TSHIRT)] == ["祛痘", "修复", "最好"]
    assert [h.term for h in terms.scan(text)] == ["祛痘", "修复", "最好"]        # no category: no exemption
    assert [h.term for h in terms.scan(text, BEAUTY, per_position=True)] == ["最好"]


def test_exemption_survives_a_swap_from_json(terms):
    bt = BannedTerms.from_json(json.dumps({"version": "x", "groups": GROUPS}))
    assert [h.term for h in bt.scan("祛痘", BEAUTY)] == []
    assert [h.term for h in bt.scan("祛痘", TSHIRT)] == ["祛痘"]


def _validate(category: str, terms: BannedTerms, **over):
    rows = product_rows("BT1", grid=(("红色", "M"),), category=category, **over)
    ctx = ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}), banned_terms=terms)
    (raw,) = list(products_from_records(rows, "t"))
    return validate_product(raw, ctx)


def test_through_validation_an_exempt_category_gets_no_banned_term_finding(terms):
    desc = "温和祛痘，夜间修复肌肤屏障，质地清爽不油腻，适合各种肤质日常使用。"
    beauty = _validate(BEAUTY, terms, description=desc)
    assert not [f for f in beauty.findings if f.code.startswith("BANNED_TERM")]
    tshirt = _validate(TSHIRT, terms, description=desc)
    hits = sorted((f.params["term"], f.column, f.row) for f in tshirt.findings if f.code == "BANNED_TERM")
    assert hits == [("修复", "I", 2), ("祛痘", "I", 2)]
    # the exemption is for its group only: an absolute claim is still found in the beauty product
    beauty2 = _validate(BEAUTY, terms, description=desc, title="最好的祛痘面霜 温和")
    assert [(f.params["term"], f.column) for f in beauty2.findings if f.code == "BANNED_TERM"] == [("最好", "B")]


# --- properties over the packaged list ---------------------------------------------------------

_DOC = json.loads((DATA_DIR / "banned_terms.json").read_text("utf-8"))
TERMS = sorted({t for g in _DOC["groups"] for t in g["terms"]})
CONTEXTS = sorted({c for g in _DOC["groups"] for c in g.get("allowed_contexts", ())})
_FORBIDDEN = {ch for s in TERMS + CONTEXTS for ch in BannedTerms._norm(s)}
# text that cannot take part in any match: no character of any term or context
_POOL = "".join(ch for ch in "的了是在和人这中为上个我以要他时来们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多"
                "定行学法民得经十三之进着等部度家电力里如水化自二理起小物现实加量都两体制机当使点从业本去把性应开它合还因由"
                "其些然前外天政四日那社义事平形相全表间样关各重线内数正心反你明看原又么利比或但气向道命此变条只没结解问意建"
                "abcdefghijklmnopqrstuvwxyz0123456789 ，。、！" if ch not in _FORBIDDEN and ch.lower() not in _FORBIDDEN)
clean = st.text(alphabet=_POOL, max_size=30)


@pytest.fixture(scope="module")
def default_terms():
    return BannedTerms(_DOC["groups"], _DOC.get("version", ""))


def _word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _apart(before: str, term: str, after: str) -> tuple[str, str]:
    """Clean text around an inserted term, with a space where a Latin end of the term would touch
    an ASCII letter or digit of it. A Latin term is matched as a word ("top10" is not TOP1, "stop1"
    not TOP1), so "z" + "TOP1" is rightly no hit; these properties are about where a term that *is*
    there is found, so they insert it as a word. (Chinese ends match anywhere: nothing added.)"""
    if before and _word(before[-1]) and _word(term[0]):
        before += " "
    if after and _word(after[0]) and _word(term[-1]):
        after = " " + after
    return before, after


def _random_case(term: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c.lower() for c, f in zip(term, flips + [False] * len(term)))


@settings(max_examples=300, deadline=None)
@given(before=clean, after=clean, term=st.sampled_from(TERMS), flips=st.lists(st.booleans(), max_size=12))
def test_a_term_in_clean_text_is_found_at_its_position_in_any_case(default_terms, before, after, term, flips):
    before, after = _apart(before, term, after)
    written = _random_case(term, flips)
    text = before + written + after
    hits = default_terms.scan(text, TSHIRT, per_position=True)
    at = [h for h in hits if h.term == term]
    assert [(h.start, h.end) for h in at] == [(len(before), len(before) + len(term))], (text, hits)
    # nothing is reported outside the inserted term (clean text holds no term's characters)
    assert all(len(before) <= h.start and h.end <= len(before) + len(term) for h in hits)
    assert default_terms.scan(before + after, TSHIRT) == []


@settings(max_examples=200, deadline=None)
@given(before=clean, after=clean, ctx=st.sampled_from(CONTEXTS), flips=st.lists(st.booleans(), max_size=12))
def test_a_term_inside_an_allowed_context_is_not_reported(default_terms, before, after, ctx, flips):
    text = before + _random_case(ctx, flips) + after
    assert default_terms.scan(text, TSHIRT) == [], text


@settings(max_examples=200, deadline=None)
@given(before=clean, middle=clean, after=clean, ctx=st.sampled_from(CONTEXTS), term=st.sampled_from(TERMS))
def test_a_context_elsewhere_does_not_hide_a_real_hit(default_terms, before, middle, after, ctx, term):
    assume(to_halfwidth(term).lower() not in to_halfwidth(ctx).lower())
    middle, after = _apart(middle, term, after)
    text = before + ctx + middle + term + after
    start = len(before) + len(ctx) + len(middle)
    hits = [(h.start, h.end) for h in default_terms.scan(text, TSHIRT, per_position=True) if h.term == term]
    assert hits == [(start, start + len(term))], text


@settings(max_examples=100, deadline=None)
@given(title_pad=clean, desc_pad=clean, term=st.sampled_from(TERMS))
def test_through_validation_a_term_is_reported_on_the_field_it_is_in(title_pad, desc_pad, term):
    """Hits are mapped back to their field: a term in the description is reported on column I,
    never on the title (B), whatever the title holds."""
    ctx = ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}), banned_terms=load_banned_terms())
    title = ("纯棉短袖上衣" + title_pad)[:60]
    desc_pad, _ = _apart(desc_pad, term, "，")
    desc = "面料柔软舒适，日常穿着百搭好看。" + desc_pad + term + "，欢迎选购。"
    rows = product_rows("BT2", grid=(("红色", "M"),), title=title, description=desc,
                        selling_points="纯棉;透气", keywords="上衣;短袖")
    (raw,) = list(products_from_records(rows, "t"))
    res = validate_product(raw, ctx)
    cols = {f.column for f in res.findings if f.code.startswith("BANNED_TERM") and f.params["term"] == term}
    assert cols == {"I"}, (term, [(f.params, f.column) for f in res.findings if f.code.startswith("BANNED")])


ZW = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]


def _sprinkle(s: str, marks: list[int]) -> str:
    out = []
    for i, ch in enumerate(s):
        if i < len(marks) and marks[i]:
            out.append(ZW[marks[i] % len(ZW)])
        out.append(ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(before=clean, after=clean, term=st.sampled_from(TERMS),
       m1=st.lists(st.integers(0, 6), max_size=30), m2=st.lists(st.integers(0, 6), max_size=12))
def test_hit_positions_index_the_text_as_given_even_with_zero_width_characters(default_terms, before, after, term,
                                                                                m1, m2):
    """最\u200b佳 is found (zero-width characters are ignored), and its start/end point into the
    text as the merchant wrote it, so the hit is mapped to the right field and column."""
    before, after = _apart(before, term, after)
    b = _sprinkle(before, m1)
    w = term[0] + _sprinkle(term[1:], m2)           # zero-width only between the term's characters
    text = b + w + _sprinkle(after, m1)
    at = [h for h in default_terms.scan(text, TSHIRT, per_position=True) if h.term == term]
    assert [(h.start, h.end) for h in at] == [(len(b), len(b) + len(w))], (text, at)


def test_zero_width_characters_in_the_title_do_not_move_a_description_hit_onto_the_title():
    ctx = ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}), banned_terms=load_banned_terms())
    rows = product_rows("ZW1", grid=(("红色", "M"),), title="纯\u200b棉\u200b短\u200b袖\u200b上衣",
                        description="高仿面料柔软舒适，日常穿着百搭好看欢迎选购。")
    (raw,) = list(products_from_records(rows, "t"))
    res = validate_product(raw, ctx)
    assert [(f.params["term"], f.column) for f in res.findings if f.code == "BANNED_TERM"] == [("高仿", "I")]


ASCII_TERMS = [t for t in TERMS if any(c.isascii() and c.isalpha() for c in t)]
ascii_clean = st.text(alphabet="".join(c for c in _POOL if c.isascii()), max_size=20)


@settings(max_examples=300, deadline=None)
@given(before=ascii_clean, after=ascii_clean, term=st.sampled_from(ASCII_TERMS),
       flips=st.lists(st.booleans(), min_size=12, max_size=12), cjk=st.booleans())
@example(before="", after="", term="NO.1", flips=[False] * 12, cjk=False)
@example(before="buy ", after=" now", term="TOP1", flips=[True, False] * 6, cjk=False)
def test_matching_ignores_case_in_ascii_and_in_mixed_text(default_terms, before, after, term, flips, cjk):
    """"no.1", "No.1", "NO.1" are all the term NO.1 — in plain ASCII text (the fast path) and
    in text with Chinese around it."""
    before, after = _apart(before, term, after)
    written = _random_case(term, flips)
    text = before + written + after + ("好物" if cjk else "")
    assert text.isascii() == (not cjk and term.isascii())
    at = [h for h in default_terms.scan(text, TSHIRT, per_position=True) if h.term == term]
    assert [(h.start, h.end) for h in at] == [(len(before), len(before) + len(term))], text
