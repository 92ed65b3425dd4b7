"""Pure review rules: the VIP audit sample (``review.sampled``).

The steps that write a product's status (``fail``, ``reject``, the publishing window on approval)
are in tests/integration/test_review_steps.py; the window's arithmetic in test_review_window.py."""

import pytest
from hypothesis import given, settings, strategies as st

from shangjia.pipeline.keys import execution_name
from shangjia.pipeline.review import sampled

# execution names as start_review builds them: <spu>-<hash(merchant, spu)>-<batch>
NAMES = [execution_name(f"m-vip-{i % 7:03d}", f"SPU-{i:05d}", f"batch{i % 13:02d}" + "0" * 13) for i in range(2000)]

names = st.text(min_size=0, max_size=80)
rates = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(names, rates)
def test_the_same_execution_is_always_in_or_always_out(name, rate):
    assert sampled(name, rate) == sampled(name, rate) == sampled(str(name), float(rate))


@settings(max_examples=300, deadline=None)
@given(names)
def test_rate_zero_samples_nothing_and_rate_one_samples_everything(name):
    assert sampled(name, 0) is False
    assert sampled(name, 0.0) is False
    assert sampled(name, -0.5) is False
    assert sampled(name, 1) is True
    assert sampled(name, 1.0) is True


def test_the_default_rate_samples_no_vip_product():
    assert not any(sampled(n, 0) for n in NAMES)
    assert all(sampled(n, 1) for n in NAMES)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.25, 0.5, 0.9])
def test_a_rate_samples_about_that_share_of_executions(rate):
    share = sum(sampled(n, rate) for n in NAMES) / len(NAMES)
    # deterministic, so this never flakes; the bounds only have to tell "about rate" from "all" or "none"
    assert rate * 0.5 <= share <= rate * 1.5, f"rate {rate} sampled {share:.1%} of {len(NAMES)} executions"


def test_ten_percent_is_roughly_ten_percent():
    share = sum(sampled(n, 0.1) for n in NAMES) / len(NAMES)
    assert 0.05 <= share <= 0.15, share


@settings(max_examples=300, deadline=None)
@given(names, rates, rates)
def test_raising_the_rate_never_drops_an_execution_from_the_sample(name, a, b):
    low, high = sorted((a, b))
    assert not sampled(name, low) or sampled(name, high)


def test_sampling_depends_on_the_execution_not_on_call_order():
    first = [sampled(n, 0.3) for n in NAMES]
    again = [sampled(n, 0.3) for n in reversed(NAMES)][::-1]
    assert first == again
    assert 0 < sum(first) < len(NAMES)


def test_rate_one_samples_even_the_highest_hash(monkeypatch):
    """2**-32 of executions hash to ffffffff...: at rate 1 they are sampled like every other."""
    from shangjia.pipeline import review

    class Top:
        def hexdigest(self):
            return "f" * 64

    monkeypatch.setattr(review.hashlib, "sha256", lambda _data: Top())
    assert review.sampled("any", 1.0) is True
    assert review.sampled("any", 0.999) is False


# --- the automated checks, the previews and the check step's outcome, on a store in memory ----------

import time as _time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from shangjia.clock import SHANGHAI  # noqa: E402
from shangjia.pipeline import keys  # noqa: E402
from shangjia.pipeline.deps import Deps  # noqa: E402
from shangjia.pipeline.review import auto_checks, next_window_start, render_previews, run_step  # noqa: E402

M = "m-rules-001"


class _Store:
    """Just enough of the Store port for the checks: get what was put, record every update."""

    def __init__(self, *items):
        self.items = {(i["pk"], i["sk"]): i for i in items}
        self.updates = []

    def get(self, pk, sk, *, consistent=True):
        return self.items.get((pk, sk))

    def get_many(self, keys, *, consistent=False):
        return [self.items[k] for k in keys if k in self.items]

    def update(self, pk, sk, expression, **kw):
        self.updates.append((pk, sk, expression, kw.get("values")))


class _Blobs:
    def __init__(self):
        self.put_calls = []

    def put(self, bucket_key, key, data, *, content_type):
        self.put_calls.append((bucket_key, key, data.decode(), content_type))


def _deps(*items):
    return Deps(store=_Store(*items), blobs=_Blobs())


GOOD = {"title": "纯棉T恤", "category": "服饰鞋包/男装/T恤", "brand": "无品牌",
        "skus": [{"sku_code": "S1", "spec": {"颜色": "白"}, "price_fen": 5900, "row": 4}]}
MAIN = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/main.webp", "width": 800}]}}


def _item(product=GOOD, media=MAIN, spu="SPU-1", **more):
    pk, sk = keys.product(M, spu)
    return {"pk": pk, "sk": sk, "merchant_id": M, "spu_code": spu, "batch_id": "b1", "product": product,
            "media": media, **more}


def _seen(findings):
    return [(f.code, f.field, f.row, f.value) for f in findings]


def test_pre_review_names_every_missing_basic_field():
    d = _deps()
    product = {"title": "", "skus": [{"sku_code": "A", "price_fen": 0, "row": 7}, {"sku_code": "B", "row": 8},
                                     {"sku_code": "C", "price_fen": 1, "row": 9}]}
    got = auto_checks(d, _item(product), "pre")
    assert _seen(got) == [("FIELD_REQUIRED", "title", None, None), ("FIELD_REQUIRED", "category", None, None),
                          ("FIELD_REQUIRED", "brand", None, None), ("FIELD_REQUIRED", "price", 7, None),
                          ("FIELD_REQUIRED", "price", 8, None)]
    assert [f.message_en for f in got[:3]] == ["title is required", "category is required", "brand is required"]
    assert got[3].message_en == "price is required"


def test_pre_review_wants_at_least_one_sku_and_passes_a_complete_product():
    assert _seen(auto_checks(_deps(), _item({**GOOD, "skus": []}), "pre")) == [
        ("FIELD_REQUIRED", "sku_code", None, None)]
    assert auto_checks(_deps(), _item(GOOD), "pre") == []
    # no product at all: every basic field is missing
    assert [f.field for f in auto_checks(_deps(), {**_item(), "product": None}, "pre")] == [
        "title", "category", "brand", "sku_code"]


def test_the_checks_record_the_stage_once():
    d = _deps()
    item = _item()
    auto_checks(d, item, "final")
    assert d.store.updates == [(item["pk"], item["sk"], "SET review_stage = :s", {":s": "final"})]
    for at_pre in (item, {**item, "review_stage": "pre"}):      # a review starts at "pre", written or not
        d = _deps()
        auto_checks(d, at_pre, "pre")
        assert d.store.updates == [], "already at that stage: no write"
    d = _deps()
    auto_checks(d, {**item, "review_stage": "final"}, "final")
    assert d.store.updates == []


def test_final_review_wants_a_usable_main_image():
    for media in (None, {}, {"main#00": {"ok": False}}, {"gallery#00": {"ok": True}}):
        got = auto_checks(_deps(), _item(media=media), "final")
        missing = [f for f in got if f.code == "PIPE_IMAGE_MISSING"]
        assert [(f.field, f.value, f.message_en) for f in missing] == [
            ("main_image", "main", "Image main was not found")], media
    assert auto_checks(_deps(), _item(), "final") == []


def test_final_review_flags_a_preview_without_images_per_layout():
    got = auto_checks(_deps(), _item(media={"main#00": {"ok": True}}), "final")       # ok, but no renditions
    assert [(f.code, f.params, f.message_en) for f in got] == [
        ("PIPE_PREVIEW_INCOMPLETE", {"layout": "mobile"}, "The mobile detail preview lacks its title or images"),
        ("PIPE_PREVIEW_INCOMPLETE", {"layout": "pc"}, "The pc detail preview lacks its title or images")]


def test_a_title_with_html_characters_or_no_title_is_shown():
    assert auto_checks(_deps(), _item({**GOOD, "title": "Men's <纯棉> T & \"恤\""}), "final") == []
    assert auto_checks(_deps(), _item({k: v for k, v in GOOD.items() if k != "title"}), "final") == []


def test_the_previews_are_the_detail_page_as_the_buyer_sees_it(monkeypatch):
    monkeypatch.setenv("SHANGJIA_MEDIA_BASE_URL", "https://cdn.example")     # the images' public home
    product = {"title": "Men's <T> & co", "description": "棉 <b>",
               "skus": [{"spec": {"颜色": "白", "尺码": "L"}, "price_fen": 5990}, {"price_fen": None}]}
    media = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": "r/a&b.webp", "width": 800},
                                                    {"name": "thumb", "key": "r/t.webp", "width": 100}]},
             "video#00": {},
             "detail#00": {"renditions": [{"name": "detail", "key": "r/d.webp", "width": 750}]},
             "gallery#01": {"renditions": [{"name": "gallery", "key": "r/g.webp", "width": 640}]}}
    d = _deps()
    pages = render_previews(d, _item(product, media))
    body = ('<h1>Men&#x27;s &lt;T&gt; &amp; co</h1>'
            '<img src="https://cdn.example/r/d.webp" width="750" alt="">'
            '<img src="https://cdn.example/r/g.webp" width="640" alt="">'
            '<img src="https://cdn.example/r/a%26b.webp" width="800" alt="">'
            '<ul><li>颜色:白 尺码:L ¥59.90</li><li> ¥0.00</li></ul><p>棉 &lt;b&gt;</p></body>')
    expect = {layout: (f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width={w}">'
                       f'<title>Men&#x27;s &lt;T&gt; &amp; co</title><body style="max-width:{w}px;margin:auto">' + body)
              for layout, w in (("mobile", 375), ("pc", 1200))}
    assert pages == expect
    assert d.blobs.put_calls == [
        ("media", f"previews/{M}/SPU-1/b1/mobile.html", expect["mobile"], "text/html; charset=utf-8"),
        ("media", f"previews/{M}/SPU-1/b1/pc.html", expect["pc"], "text/html; charset=utf-8")]


def test_a_preview_of_a_product_without_title_or_description_is_empty_there():
    pages = render_previews(_deps(), _item({"skus": [{"spec": {"色": "红"}, "price_fen": 100}]}, media=None))
    assert pages["mobile"] == ('<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=375">'
                               '<title></title><body style="max-width:375px;margin:auto"><h1></h1>'
                               '<ul><li>色:红 ¥1.00</li></ul><p></p></body>')
    assert render_previews(_deps(), _item(None, media=None))["pc"].endswith("<h1></h1><ul></ul><p></p></body>")


def _merchant(**profile):
    pk, sk = keys.merchant(M)
    return {"pk": pk, "sk": sk, "merchant_id": M, **profile}


def _settings(rate):
    pk, sk = keys.config("settings")
    return {"pk": pk, "sk": sk, "audit_sample_rate": rate}


def _check(action, item, *others, vip=True):
    d = _deps(item, *others)
    return run_step(d, {"action": action, "merchant_id": M, "spu_code": item["spu_code"], "batch_id": "b1",
                        "vip": vip})


def test_a_check_with_errors_rejects_and_carries_its_findings():
    out = _check("pre_check", _item({**GOOD, "brand": ""}))
    assert out["outcome"] == "reject"
    assert [(f["code"], f["field"]) for f in out["findings"]] == [("FIELD_REQUIRED", "brand")]


def test_a_standard_merchants_product_always_goes_to_a_reviewer():
    assert _check("pre_check", _item(), vip=False) == {"outcome": "manual", "findings": []}
    assert _check("final_check", _item(), vip=False) == {"outcome": "manual", "findings": []}


def test_a_vip_product_goes_to_a_reviewer_only_when_sampled_at_pre_review():
    # exec-a hashes to 0.373 of the range, exec-b to 0.774: at a 50 % rate one is in, one is out
    merchant = _merchant(tier="vip", vip_sample_rate=0.5)
    assert _check("pre_check", _item(review_execution="exec-a"), merchant) == {"outcome": "manual", "findings": []}
    assert _check("pre_check", _item(review_execution="exec-b"), merchant) == {"outcome": "pass", "findings": []}
    assert _check("final_check", _item(review_execution="exec-a"), merchant) == {"outcome": "pass", "findings": []}
    # no execution name recorded: the empty name (0.889) is out at 50 %
    assert _check("pre_check", _item(), merchant)["outcome"] == "pass"
    assert _check("pre_check", _item(review_execution="exec-a"), _merchant(tier="vip", vip_sample_rate=1.0))[
        "outcome"] == "manual"


def test_the_merchants_own_rate_wins_over_the_setting_and_the_setting_applies_without_one():
    assert _check("pre_check", _item(review_execution="exec-a"), _merchant(tier="vip", vip_sample_rate=0.5),
                  _settings(0.0))["outcome"] == "manual"
    assert _check("pre_check", _item(review_execution="exec-a"), _merchant(tier="vip"),
                  _settings(0.5))["outcome"] == "manual"
    assert _check("pre_check", _item(review_execution="exec-a"), _merchant(tier="vip"),
                  _settings(0.3))["outcome"] == "pass"


def test_an_unknown_step_or_a_missing_product_is_named():
    with pytest.raises(ValueError) as e:
        run_step(_deps(), {"action": "publish"})
    assert str(e.value) == "unknown review step 'publish'"
    with pytest.raises(LookupError) as e:
        run_step(_deps(), {"action": "pre_check", "merchant_id": M, "spu_code": "GONE", "vip": True})
    assert str(e.value) == f"product GONE of {M} not found"


def test_sampling_is_below_the_rate_strictly_on_the_hashs_share_of_the_range():
    share = 0x1acc9e01 / 0xFFFFFFFF                        # sha256("exec-d") starts 1acc9e01
    assert sampled("exec-d", share) is False
    assert sampled("exec-d", 0x1acc9e02 / 0xFFFFFFFF) is True
    assert sampled("exec-a", 0.37) is False and sampled("exec-a", 0.38) is True     # 5f941d4b


@pytest.fixture
def _machine_in_los_angeles(monkeypatch):
    """Lambda runs in UTC; a laptop may not. The window must not depend on the machine's zone."""
    if not hasattr(_time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


@pytest.mark.parametrize("local,expected", [
    ("2026-11-25 08:00", "2026-11-25 10:00"),
    ("2026-11-25 10:30", "2026-11-25 10:30"),
    ("2026-11-25 13:00", "2026-11-26 10:00"),
])
def test_the_window_is_shanghais_whatever_the_machines_timezone(_machine_in_los_angeles, local, expected):
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(timezone.utc)
    got = next_window_start(now)
    assert got.utcoffset().total_seconds() == 0, "publish_at is stored in UTC"
    assert got.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == expected


def test_a_scheduler_run_reads_at_most_500_due_products_of_each_status(monkeypatch):
    """The every-minute run keeps inside its Lambda's time: 500 approved and 500 scheduled at most
    (the rest are due still, and go the next minute), each due by now."""
    from shangjia.pipeline.review import release_due

    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T02:30:00+00:00")
    asked = []

    class Index(_Store):
        def query(self, pk, **kw):
            asked.append((pk, kw.get("index"), kw.get("sk_lte"), kw.get("limit")))
            return []

    assert release_due(Deps(store=Index())) == 0
    now = "2026-11-25T02:30:00.000000Z"
    assert asked == [("STATUS#approved", "gsi2", now, 500), ("STATUS#scheduled", "gsi2", now, 500)]
