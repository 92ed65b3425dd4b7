"""Catalog defects (pure core): banned Latin terms as words, formula-looking codes and titles, the
error report's header guard, the promo-below-cost choice, the config cache, the settings."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from shangjia.errors import CODES
from shangjia.reports import write_error_report
from shangjia.sheets import products_from_records
from shangjia.validation import BannedTerms, ValidationContext, load_banned_terms, validate_product
from tests.unit.sheets.kit import HEADERS, product_rows, to_xlsx

TSHIRT = "服饰鞋包/女装/T恤"


# --- 2. banned Latin terms match as words; CJK terms anywhere -------------------------------------

@pytest.fixture(scope="module")
def packaged():
    return load_banned_terms()


@pytest.mark.parametrize("text", ["top10 list", "stop1", "no.10 cotton", "TOP100 爆款", "本店top12推荐",
                                  "ano.1 系列", "型号NO.1A"])
def test_a_latin_term_next_to_an_ascii_letter_or_digit_is_not_a_hit(packaged, text):
    assert [h.term for h in packaged.scan(text, TSHIRT) if h.term in ("TOP1", "NO.1")] == [], text


@pytest.mark.parametrize("text,term", [("TOP1", "TOP1"), ("销量top1！", "TOP1"), ("全网TOP1爆款", "TOP1"),
                                       ("(no.1)", "NO.1"), ("品质 No.1 好物", "NO.1"), ("ＮＯ．１", "NO.1"),
                                       ("t\u200bop1 好物", "TOP1")])
def test_a_latin_term_standing_as_a_word_is_still_a_hit(packaged, text, term):
    assert term in [h.term for h in packaged.scan(text, TSHIRT)], text


def test_cjk_terms_keep_substring_matching():
    bt = BannedTerms.from_terms(["最佳", "A货"])
    assert [h.term for h in bt.scan("全网最佳款")] == ["最佳"]           # CJK: no boundaries
    assert [h.term for h in bt.scan("正品A货")] == ["A货"]                # Latin lead after CJK: a word
    assert bt.scan("BA货") == []                                        # ... but not after a Latin letter


# --- 4. formula-looking product code or title: a located finding; the report header is guarded ------

def _validate(rows, **ctx):
    (raw,) = list(products_from_records(rows, "t"))
    return validate_product(raw, ValidationContext("m1", shipping_templates=frozenset({"全国包邮"}), **ctx))


def test_the_formula_like_code_is_declared_in_chinese_and_english():
    c = CODES["FIELD_FORMULA_LIKE"]
    assert c.severity == "error" and c.zh and c.en and c.hint_zh and c.hint_en


@pytest.mark.parametrize("lead", ["=", "+", "-", "@"])
def test_a_title_starting_like_a_formula_is_an_error_on_its_cell(lead):
    res = _validate(product_rows("FL1", grid=(("红色", "M"),), title=lead + "HYPERLINK(\"x\") 纯棉短袖T恤"))
    [f] = [f for f in res.findings if f.code == "FIELD_FORMULA_LIKE"]
    assert (f.row, f.column, f.is_error) == (2, "B", True) and not res.valid


def test_a_product_code_starting_like_a_formula_is_an_error_on_its_cell():
    res = _validate(product_rows("=1+1", grid=(("红色", "M"),)))
    [f] = [f for f in res.findings if f.code == "FIELD_FORMULA_LIKE"]
    assert (f.row, f.column, f.value) == (2, "A", "=1+1") and not res.valid


def test_an_ordinary_title_and_code_are_not_flagged():
    res = _validate(product_rows("SPU-1", grid=(("红色", "M"),), title="纯棉短袖T恤 a=b +新款"))
    assert not [f for f in res.findings if f.code == "FIELD_FORMULA_LIKE"]


def test_the_error_reports_header_row_is_guarded_like_the_data(tmp_path):
    header = dict(HEADERS, barcode="=HYPERLINK(\"http://x\",\"条码\")")
    out = io.BytesIO()
    write_error_report(out, to_xlsx(product_rows("HD1", grid=(("红色", "M"),)), header=header), "m.xlsx", [])
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    [cell] = [c for c in ws[1] if c.value == header["barcode"]]
    assert cell.data_type == "s" and cell.quotePrefix, "a formula-looking header must carry the quote prefix"
    assert cell.font.b, "and still look like a header"
    assert not ws["A1"].quotePrefix                # an ordinary header is written as before


# --- 7. promo below cost: the merchant's choice per category prefix -------------------------------

def _promo(category="服饰鞋包/女装/T恤", **ctx):
    rows = product_rows("PC1", grid=(("红色", "M"),), category=category)
    rows[0]["promo_price"] = "40.00"                                     # cost 50.00
    [f] = [f for f in _validate(rows, **ctx).findings if f.code == "PROMO_BELOW_COST"]
    return f.severity


def test_promo_below_cost_is_a_warning_by_default():
    assert _promo() == "warning"
    assert _promo(promo_below_cost={"家居日用": "error"}) == "warning"


def test_promo_below_cost_follows_the_merchants_choice_for_the_category_prefix():
    assert _promo(promo_below_cost={"服饰鞋包": "error"}) == "error"
    # the longest matching prefix wins
    assert _promo(promo_below_cost={"服饰鞋包": "error", "服饰鞋包/女装": "warning"}) == "warning"
    assert _promo(promo_below_cost={"服饰鞋包": "warning", "服饰鞋包/女装/T恤": "error"}) == "error"
    # whole path segments only: 服饰 is not a prefix of 服饰鞋包
    assert _promo(promo_below_cost={"服饰": "error"}) == "warning"


def test_a_bad_promo_choice_is_refused():
    from shangjia.validation import check_promo_below_cost

    with pytest.raises(ValueError):
        check_promo_below_cost({"服饰鞋包": "fatal"})
    with pytest.raises(ValueError):
        check_promo_below_cost({"": "error"})
    assert check_promo_below_cost({"服饰鞋包/": "error"}) == {"服饰鞋包": "error"}


# --- 3 and 5. the config store and its one-minute cache ------------------------------------------

class DictStore:
    def __init__(self):
        self.items: dict[tuple[str, str], dict] = {}
        self.gets = 0

    def get(self, pk, sk, *, consistent=True):
        self.gets += 1
        item = self.items.get((pk, sk))
        return dict(item) if item else None

    def put(self, item, **_):
        self.items[(item["pk"], item["sk"])] = dict(item)

    def update(self, pk, sk, expression, *, condition=None, names=None, values=None, return_new=False):
        assert expression == "SET #n = :v, updated_at = :u"
        item = self.items.setdefault((pk, sk), {"pk": pk, "sk": sk})
        item[names["#n"]] = values[":v"]
        item["updated_at"] = values[":u"]


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _doc(*terms):
    return json.dumps({"version": "ops-" + "-".join(terms), "groups": [
        {"reason": "ops", "severity": "error", "zh": "运营禁用词", "en": "ops list", "terms": list(terms)}]},
        ensure_ascii=False)


def test_a_list_set_in_the_store_is_used_once_the_cached_one_is_a_minute_old():
    from shangjia.pipeline.config import ConfigCache, put_banned_terms

    store, clock = DictStore(), FakeClock()
    cache = ConfigCache(now=clock)
    first = cache.banned_terms(store)
    assert first is load_banned_terms(), "nothing stored: the packaged list"
    put_banned_terms(store, _doc("限时秒杀"))
    clock.t += 59.9
    assert cache.banned_terms(store) is first, "within the minute: the cached list"
    clock.t += 0.1
    now_used = cache.banned_terms(store)
    assert now_used.version == "ops-限时秒杀" and [h.term for h in now_used.scan("今日限时秒杀")] == ["限时秒杀"]
    reads = store.gets
    clock.t += 60
    assert cache.banned_terms(store) is now_used, "unchanged document: the automaton is kept"
    assert store.gets == reads + 1, "but the store was read again"
    put_banned_terms(store, _doc("清仓"))
    clock.t += 61
    assert cache.banned_terms(store).version == "ops-清仓"


def test_a_bad_list_is_refused_and_the_stored_one_stays():
    from shangjia.pipeline.config import banned_terms_item, put_banned_terms

    store = DictStore()
    put_banned_terms(store, _doc("清仓"))
    for bad in ("{", json.dumps({"groups": []}), json.dumps({"terms": ["x"]}), json.dumps({"groups": [{"terms": "x"}]})):
        with pytest.raises(ValueError):
            put_banned_terms(store, bad)
    assert json.loads(banned_terms_item(store)["doc"])["version"] == "ops-清仓"


def test_the_audit_sample_rate_defaults_to_five_percent_and_is_checked():
    from shangjia.pipeline.config import ConfigCache, read_settings, set_setting

    store, clock = DictStore(), FakeClock()
    assert read_settings(store)["audit_sample_rate"] == 0.05
    for bad in ("1.5", "-0.1", "nan", "many"):
        with pytest.raises(ValueError):
            set_setting(store, "audit_sample_rate", bad)
    with pytest.raises(ValueError):
        set_setting(store, "no_such_setting", "1")
    cache = ConfigCache(now=clock)
    assert cache.setting(store, "audit_sample_rate") == 0.05
    assert set_setting(store, "audit_sample_rate", "0.2") == 0.2
    assert cache.setting(store, "audit_sample_rate") == 0.05
    clock.t += 60
    assert cache.setting(store, "audit_sample_rate") == 0.2
    store.items[next(iter(store.items))]["audit_sample_rate"] = "garbage"        # a hand-edited item
    clock.t += 60
    assert cache.setting(store, "audit_sample_rate") == 0.05, "an unreadable value: the default"


def test_review_reads_the_rate_from_the_merchant_then_the_setting():
    from shangjia.pipeline.deps import Deps
    from shangjia.pipeline.review import audit_sample_rate

    deps = Deps(store=DictStore())
    assert audit_sample_rate(deps, {}) == 0.05
    assert audit_sample_rate(deps, {"vip_sample_rate": 1}) == 1.0
    assert audit_sample_rate(deps, {"vip_sample_rate": 7}) == 0.05, "out of range on the profile: the setting"
