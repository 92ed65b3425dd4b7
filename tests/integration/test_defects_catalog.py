"""Catalog defects on moto: the final-review preview with HTML characters in the title, the banned-term
list and the audit sample rate set by ops in the state table (CLI) and read by the functions, a late
publish scheduler, and the merchant's promo-below-cost choice in the pipeline."""

import copy
import json

import boto3
import pytest

from shangjia.pipeline.products import get_product
from shangjia.cli import main as cli
from shangjia.pipeline import keys, review
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.validate import validate_message
from tests.support.events import load_event

M, B = "m-vip-001", "b-defects-000000000001"


def _product(deps, spu, status, *, title="纯棉圆领T恤 男款 夏季", key_product=False, publish_at=None):
    pk, sk = keys.product(M, spu)
    item = {
        "pk": pk, "sk": sk, "merchant_id": M, "spu_code": spu, "batch_id": B, "status": status,
        "history": [{"status": status, "batch_id": B}],
        "product": {"spu_code": spu, "title": title, "category": "服饰鞋包/男装/T恤", "brand": "无品牌",
                    "key_product": key_product, "description": "纯棉 <柔软> & 透气",
                    "skus": [{"sku_code": f"{spu}-1", "spec": {"颜色": "白色"}, "price_fen": 5900, "stock": 10}]},
        "media": {"main#00": {"ok": True, "renditions": [{"name": "main", "key": f"r/{spu}/main.webp",
                                                          "width": 800}]}},
    }
    if publish_at:
        item |= {"publish_at": publish_at, "gsi2pk": f"STATUS#{status}", "gsi2sk": publish_at}
    deps.store.put(item)


def _event(action, spu):
    return {"action": action, "merchant_id": M, "spu_code": spu, "batch_id": B, "vip": True}


@pytest.fixture
def vip(deps):
    put_merchant(deps.store, M, name="V", annual_sales_cny=9_000_000, channels=["own_shop"])


# --- 1. final review: a title with & ' " < > is shown (escaped) on the preview ----------------------

@pytest.mark.parametrize("title", ["Men's 纯棉T恤 夏季", "纯棉T恤 M&S 同款", "\"经典\"<款> 纯棉T恤"])
def test_final_review_accepts_a_title_with_html_characters(deps, handler, vip, aws, title):
    _product(deps, "P1", "in_review", title=title)
    checks = handler("review_step")(_event("final_check", "P1"))
    assert checks["outcome"] == "pass", checks
    s3 = boto3.client("s3", region_name="us-east-1")
    stored = s3.list_objects_v2(Bucket=aws.buckets["media"], Prefix="previews/").get("Contents", [])
    assert stored == [], "the workflow's own check stores no preview: nobody opens it"
    # a reviewer's final task stores the pages it shows (review_tasks runs the checks again)
    from shangjia.pipeline.products import get_product

    review.render_previews(deps, get_product(deps, M, "P1"))
    page = s3.get_object(Bucket=aws.buckets["media"], Key=f"previews/{M}/P1/{B}/mobile.html")["Body"].read().decode()
    assert "<h1>" + title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;").replace("'", "&#x27;") + "</h1>" in page, "the title is escaped on the page"


def test_final_review_still_rejects_a_preview_without_the_title(deps, handler, vip, monkeypatch):
    _product(deps, "P2", "in_review", title="Men's 纯棉T恤 夏季")
    monkeypatch.setattr(review, "render_previews", lambda d, item, **kw: {"mobile": "<img>", "pc": "<img>"})
    checks = handler("review_step")(_event("final_check", "P2"))
    assert checks["outcome"] == "reject"
    assert {f["code"] for f in checks["findings"]} == {"PIPE_PREVIEW_INCOMPLETE"}


# --- 3. the banned-term list: set by ops in the table, used by validate within a minute ------------

def _msg(spu, batch):
    body = json.loads(load_event("validate/product.json")["Records"][0]["body"])
    body = copy.deepcopy(body) | {"spu_code": spu, "batch_id": batch, "options": {"seq": 0}}
    body["raw"]["spu_code"] = spu
    for i, r in enumerate(body["raw"]["rows"]):
        if "spu_code" in r["cells"]:
            r["cells"]["spu_code"] = spu
        r["cells"]["sku_code"] = f"{spu}-{i}"
    return body


class Tick:
    t = 0.0

    def __call__(self):
        return self.t


def _banned_findings(deps, spu):
    item = get_product(deps, M, spu)
    return [(f["code"], f["params"]["term"]) for f in item["findings"] if f["code"].startswith("BANNED")]


def test_ops_replace_the_banned_term_list_and_validate_uses_it_within_a_minute(deps, vip, tmp_path, capsys):
    from shangjia.pipeline.config import ConfigCache

    clock = Tick()
    deps.config = ConfigCache(now=clock)
    assert validate_message(deps, _msg("BT1", "b-bt-1")) == "media"          # the packaged list: clean
    path = tmp_path / "terms.json"
    path.write_text(json.dumps({"version": "2026-11-ops", "groups": [
        {"reason": "ops", "severity": "error", "zh": "运营禁用词", "en": "ops ban", "terms": ["顺丰发货"]}]},
        ensure_ascii=False), "utf-8")
    assert cli(["banned", "set", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["term_count"] == 1
    clock.t += 30
    assert validate_message(deps, _msg("BT2", "b-bt-2")) == "media", "the list in use is cached for a minute"
    clock.t += 30
    assert validate_message(deps, _msg("BT3", "b-bt-3")) == "needs_fix"
    assert _banned_findings(deps, "BT3") == [("BANNED_TERM", "顺丰发货")]
    assert cli(["banned", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["source"] == "state table" and shown["version"] == "2026-11-ops" and shown["terms"] == 1


def test_a_malformed_list_is_refused_by_the_cli(deps, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"groups": []}', "utf-8")
    assert cli(["banned", "set", str(bad)]) == 2
    assert "refused" in capsys.readouterr().err
    assert cli(["banned", "show"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "packaged default"


# --- 5. the audit sample rate: a setting, 5 % by default, read by the review's first step ----------

def test_ops_set_the_audit_sample_rate_and_the_review_start_reads_it(deps, handler, vip, capsys):
    assert cli(["settings", "show"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == 0.05
    assert cli(["settings", "set", "audit_sample_rate", "1"]) == 0
    _product(deps, "S1", "in_review")
    assert handler("review_step")(_event("pre_check", "S1"))["outcome"] == "manual"
    assert cli(["settings", "set", "audit_sample_rate", "0"]) == 0
    assert handler("review_step")(_event("pre_check", "S1"))["outcome"] == "pass"
    assert cli(["settings", "set", "audit_sample_rate", "1.5"]) == 2, "0..1 only"
    capsys.readouterr()
    assert cli(["settings", "show"]) == 0
    assert json.loads(capsys.readouterr().out)["value"] == 0


# --- 6. a scheduler that runs after the window closed: the product waits for the next window -------

DAY1_OPEN = "2026-11-26T02:00:00.000000Z"             # 10:00 Asia/Shanghai
DAY2_OPEN = "2026-11-27T02:00:00.000000Z"


def _published(aws, spu):
    sqs = boto3.client("sqs", region_name="us-east-1")
    msgs = sqs.receive_message(QueueUrl=aws.queues["publish_own_shop"], MaxNumberOfMessages=10).get("Messages", [])
    return [m for m in msgs if json.loads(m["Body"])["spu_code"] == spu]


def test_a_scheduled_product_found_after_the_window_waits_for_the_next_days_window(deps, vip, aws, monkeypatch):
    _product(deps, "W1", "scheduled", key_product=True, publish_at=DAY1_OPEN)
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T04:30:00+00:00")       # 12:30: the window has closed
    assert review.release_due(deps) == 0
    item = get_product(deps, M, "W1")
    assert item["status"] == "scheduled" and item["publish_at"] == DAY2_OPEN and item["gsi2sk"] == DAY2_OPEN
    assert not _published(aws, "W1")
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-27T01:59:59+00:00")       # next day 09:59:59
    assert review.release_due(deps) == 0
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-27T02:00:00+00:00")       # next day 10:00
    assert review.release_due(deps) == 1
    assert get_product(deps, M, "W1")["status"] == "publishing" and len(_published(aws, "W1")) == 1


def test_a_scheduled_product_found_late_but_inside_the_window_publishes(deps, vip, aws, monkeypatch):
    _product(deps, "W2", "scheduled", key_product=True, publish_at=DAY1_OPEN)
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T03:59:59+00:00")       # 11:59:59
    assert review.release_due(deps) == 1
    assert get_product(deps, M, "W2")["status"] == "publishing"


# --- 7. the merchant's choice: a promo price below cost refuses the product in that category ---------

def _below_cost(spu, batch):
    msg = _msg(spu, batch)
    msg["raw"]["rows"][1]["cells"]["promo_price"] = "100.00"                # cost 233.39
    return msg


def test_a_merchant_makes_promo_below_cost_an_error_for_a_category(deps):
    put_merchant(deps.store, M, name="V", annual_sales_cny=9_000_000)
    assert validate_message(deps, _below_cost("PB1", "b-pb-1")) == "media", "default: a warning"
    put_merchant(deps.store, M, name="V", annual_sales_cny=9_000_000, promo_below_cost={"服饰鞋包/男装": "error"})
    assert validate_message(deps, _below_cost("PB2", "b-pb-2")) == "needs_fix"
    item = get_product(deps, M, "PB2")
    [f] = [f for f in item["findings"] if f["code"] == "PROMO_BELOW_COST"]
    assert f["severity"] == "error" and f["row"] == 3 and f["column"] == "AC"
    put_merchant(deps.store, M, name="V", annual_sales_cny=9_000_000, promo_below_cost={"家居日用": "error"})
    assert validate_message(deps, _below_cost("PB3", "b-pb-3")) == "media", "other categories keep the warning"
