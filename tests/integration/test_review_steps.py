"""The review workflows' Lambda steps as the state machines call them (the real ``review_step``
handler on moto): a failure is recorded with its cause, a final-review rejection sends the product
back to the merchant, and approval publishes now or waits for the 10:00-12:00 window by the rules
in docs/review.md ("Publishing window")."""

import json

import boto3
import pytest

from shangjia.pipeline import keys, review
from shangjia.pipeline.merchants import put_merchant
from shangjia.pipeline.products import history_of

M, B = "m-step-001", "b-steps-0000000000001"
BEFORE_WINDOW = "2026-11-26T00:00:00+00:00"          # 08:00 Asia/Shanghai
WINDOW_OPENS = "2026-11-26T02:00:00"                 # 10:00 Asia/Shanghai, as stored (UTC)
IN_WINDOW = "2026-11-26T02:30:00+00:00"              # 10:30 Asia/Shanghai


def _product(deps, spu, status, *, key_product=False, priority=False, main_image=True, batch=B):
    pk, sk = keys.product(M, spu)
    media = {"main#00": {"ok": True, "renditions": [{"name": "main", "key": f"r/{spu}/main.webp", "width": 800}]}} \
        if main_image else {}
    deps.store.put({
        "pk": pk, "sk": sk, "merchant_id": M, "spu_code": spu, "batch_id": batch, "status": status,
        "history": [{"status": status, "batch_id": batch}],
        "product": {"spu_code": spu, "title": "纯棉圆领T恤 男款 夏季", "category": "服饰鞋包/男装/T恤", "brand": "无品牌",
                    "key_product": key_product, "priority": priority,
                    "skus": [{"sku_code": f"{spu}-1", "spec": {"颜色": "白色"}, "price_fen": 5900, "stock": 10}]},
        "media": media,
        **({"review_machine": "review_auto", "review_started": True, "review_stage": "pre"}
           if status == "in_review" else {}),
    })


def _get(deps, spu):
    return get_product(deps, M, spu)


def _event(action, spu, **more):
    return {"action": action, "merchant_id": M, "spu_code": spu, "batch_id": B, "vip": True, **more}


@pytest.fixture
def step(deps, handler):
    put_merchant(deps.store, M, name="Steps", annual_sales_cny=9_000_000, channels=["own_shop"])
    return handler("review_step")


def _published_messages(aws, spu):
    sqs = boto3.client("sqs", region_name="us-east-1")
    msgs = sqs.receive_message(QueueUrl=aws.queues["publish_own_shop"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in msgs if json.loads(m["Body"])["spu_code"] == spu]


# --- RecordFailure -------------------------------------------------------------------------------

def test_record_failure_marks_the_product_failed_with_the_steps_error_and_cause(deps, step):
    """What RecordFailure sends after a step raised: the Catch's ``$.error`` (Error + Cause)."""
    _product(deps, "F1", "in_review")
    cause = json.dumps({"errorMessage": "product F1 of m-step-001 not found", "errorType": "LookupError"})
    assert step(_event("fail", "F1", error={"Error": "LookupError", "Cause": cause})) == {"failed": True}
    item = _get(deps, "F1")
    assert item["status"] == "failed"
    assert item["failure"] == {"error": "LookupError", "cause": cause}
    assert history_of(item)[-1]["status"] == "failed" and history_of(item)[-1]["batch_id"] == B


def test_a_failure_after_approval_is_recorded_too(deps, step):
    _product(deps, "F2", "approved")
    step(_event("fail", "F2", error={"Error": "States.Timeout", "Cause": "escalated task not decided in time"}))
    item = _get(deps, "F2")
    assert item["status"] == "failed" and item["failure"]["cause"] == "escalated task not decided in time"


def test_a_late_failure_of_an_older_upload_leaves_the_new_upload_alone(deps, step):
    _product(deps, "F3", "in_review", batch="b-a-newer-upload-000001")
    step(_event("fail", "F3", error={"Error": "X", "Cause": "old"}))
    item = _get(deps, "F3")
    assert item["status"] == "in_review" and "failure" not in item


# --- rejection at final review ---------------------------------------------------------------------

def test_a_reviewer_rejection_at_final_review_sends_the_product_back_with_the_reasons(deps, step):
    _product(deps, "R1", "in_review")
    cause = json.dumps({"decision": "reject", "reasons": ["DETAIL_PAGE_BLURRY"], "note": "详情页模糊",
                        "reviewer": "rev-9"}, ensure_ascii=False)
    state = {"pre_decision": {"decision": "approve"}, "rejection": {"Error": "Rejected", "Cause": cause}}
    assert step(_event("reject", "R1", stage="final", state=state)) == {"rejected": True, "stage": "final"}
    item = _get(deps, "R1")
    assert item["status"] == "needs_fix"
    assert item["rejection"] == {"stage": "final", "reasons": ["DETAIL_PAGE_BLURRY"], "note": "详情页模糊",
                                 "reviewer": "rev-9"}
    [f] = [f for f in item["findings"] if f["code"] == "PIPE_REVIEW_REJECTED"]
    assert "final" in f["message_en"] and "DETAIL_PAGE_BLURRY" in f["message_en"]
    assert [h["status"] for h in history_of(item)][-2:] == ["rejected", "needs_fix"]


def test_final_checks_reject_a_product_without_a_main_image_and_say_why(deps, step):
    """review_auto: FinalReviewChecks -> RejectFinal, the state carrying the checks' findings."""
    _product(deps, "R2", "in_review", main_image=False)
    checks = step(_event("final_check", "R2"))
    assert checks["outcome"] == "reject"
    step(_event("reject", "R2", stage="final", state={"final": checks}))
    item = _get(deps, "R2")
    assert item["status"] == "needs_fix"
    assert item["rejection"]["stage"] == "final" and "PIPE_IMAGE_MISSING" in item["rejection"]["reasons"]


# --- the publishing window on approval ---------------------------------------------------------------

@pytest.mark.parametrize("key_product,priority,merchant_setting,waits", [
    (True, False, False, True),      # key products (重点商品) wait for the window
    (False, True, True, True),       # priority categories wait when the merchant asks for it
    (False, True, False, False),     # ... and publish at once when it does not
    (False, False, True, False),     # the setting alone does not hold other categories
    (False, False, False, False),
])
def test_approval_outside_the_window_schedules_only_key_products_and_opted_in_priority_categories(
        deps, step, aws, monkeypatch, key_product, priority, merchant_setting, waits):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    put_merchant(deps.store, M, name="Steps", annual_sales_cny=9_000_000, channels=["own_shop"],
                 priority_window_for_categories=merchant_setting)
    _product(deps, "W1", "in_review", key_product=key_product, priority=priority)
    step(_event("approve", "W1"))
    item = _get(deps, "W1")
    if waits:
        assert item["status"] == "scheduled" and item["publish_at"].startswith(WINDOW_OPENS)
        assert not _published_messages(aws, "W1")
    else:
        assert item["status"] == "publishing" and "publish_at" not in item
        assert _published_messages(aws, "W1") == [{"merchant_id": M, "spu_code": "W1", "batch_id": B,
                                                   "channel": "own_shop"}]


def test_inside_the_window_a_key_product_publishes_at_once(deps, step, aws, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", IN_WINDOW)
    _product(deps, "W2", "in_review", key_product=True)
    step(_event("approve", "W2"))
    assert _get(deps, "W2")["status"] == "publishing"
    assert len(_published_messages(aws, "W2")) == 1


def test_the_scheduler_releases_a_scheduled_product_when_the_window_opens_not_before(deps, step, aws, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    _product(deps, "W3", "in_review", key_product=True)
    step(_event("approve", "W3"))
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T01:59:59+00:00")      # 09:59:59
    assert review.release_due(deps) == 0
    assert _get(deps, "W3")["status"] == "scheduled" and not _published_messages(aws, "W3")
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T02:00:00+00:00")      # 10:00:00
    assert review.release_due(deps) == 1
    assert _get(deps, "W3")["status"] == "publishing" and len(_published_messages(aws, "W3")) == 1
    assert review.release_due(deps) == 0, "released once"


# --- what each step records, exactly ------------------------------------------------------------------

from shangjia.pipeline.products import get_product, set_status  # noqa: E402
from shangjia.ports import ConditionFailed  # noqa: E402
from shangjia.status import ProductStatus as PS  # noqa: E402


def _messages(aws, queue, spu):
    sqs = boto3.client("sqs", region_name="us-east-1")
    msgs = sqs.receive_message(QueueUrl=aws.queues[queue], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in msgs if json.loads(m["Body"])["spu_code"] == spu]


def test_a_failure_without_error_details_records_blanks_and_long_details_are_cut(deps, step):
    _product(deps, "F4", "in_review")
    step(_event("fail", "F4", error={}))
    assert _get(deps, "F4")["failure"] == {"error": "", "cause": ""}
    _product(deps, "F5", "in_review")
    step(_event("fail", "F5", error={"Error": "E" * 300, "Cause": "c" * 2500}))
    assert _get(deps, "F5")["failure"] == {"error": "E" * 200, "cause": "c" * 2000}


def test_a_rejection_without_a_stage_is_at_pre_review_and_a_plain_cause_is_its_note(deps, step):
    _product(deps, "R3", "in_review")
    prior = {"code": "OLD_WARNING", "message_en": "kept"}
    pk, sk = keys.product(M, "R3")
    deps.store.update(pk, sk, "SET findings = :f", values={":f": [prior]})
    out = step(_event("reject", "R3", state={"rejection": {"Error": "Rejected", "Cause": "图片模糊 not json"}}))
    assert out == {"rejected": True, "stage": "pre"}
    item = _get(deps, "R3")
    assert item["rejection"] == {"stage": "pre", "reasons": [], "note": "图片模糊 not json", "reviewer": None}
    assert item["findings"][0] == prior
    assert item["findings"][-1]["message_en"] == "Rejected at pre: 图片模糊 not json"
    assert [(h["status"], h["batch_id"]) for h in history_of(item)][-2:] == [("rejected", B), ("needs_fix", B)]


def test_a_rejection_by_the_checks_lists_each_code_and_one_with_nothing_says_rejected(deps, step):
    _product(deps, "R4", "in_review")
    checks = {"findings": [{"code": "FIELD_REQUIRED"}, {"code": "PIPE_IMAGE_MISSING"}, {"code": ""}]}
    step(_event("reject", "R4", stage="pre", state={"pre": checks}))
    item = _get(deps, "R4")
    assert item["rejection"]["reasons"] == ["FIELD_REQUIRED", "PIPE_IMAGE_MISSING", ""]
    assert item["findings"][-1]["message_en"] == "Rejected at pre: FIELD_REQUIRED; PIPE_IMAGE_MISSING"
    _product(deps, "R5", "in_review")
    step(_event("reject", "R5", stage="final", state={"final": {}, "rejection": {"Error": "Rejected", "Cause": ""}}))
    item = _get(deps, "R5")
    assert item["rejection"] == {"stage": "final", "reasons": [], "note": None, "reviewer": None}
    assert item["findings"][-1]["message_en"] == "Rejected at final: rejected"


def test_a_late_rejection_or_approval_of_an_older_upload_leaves_the_new_upload_alone(deps, step):
    _product(deps, "R6", "in_review", batch="b-a-newer-upload-000001")
    step(_event("reject", "R6", stage="final", state={}))
    step(_event("approve", "R6"))
    item = _get(deps, "R6")
    assert item["status"] == "in_review" and "rejection" not in item


def test_approval_returns_when_it_publishes_and_records_the_batch(deps, step, aws, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    _product(deps, "W4", "in_review", key_product=True)
    assert step(_event("approve", "W4")) == {"publish_at": WINDOW_OPENS + ".000000Z", "scheduled": True}
    item = _get(deps, "W4")
    assert item["gsi2sk"] == WINDOW_OPENS + ".000000Z", "listed by when it is due"
    assert [(h["status"], h["batch_id"]) for h in history_of(item)][-2:] == [("approved", B), ("scheduled", B)]
    _product(deps, "W5", "in_review")
    assert step(_event("approve", "W5")) == {"publish_at": "2026-11-26T00:00:00.000000Z", "scheduled": False}
    assert [(h["status"], h["batch_id"]) for h in history_of(_get(deps, "W5"))][-1] == ("publishing", B)


def test_a_product_not_approved_or_of_another_upload_is_not_published(deps, aws):
    _product(deps, "W6", "in_review")
    assert review.publish_or_schedule(deps, M, "W6", B) == {"skipped": "in_review"}
    _product(deps, "W7", "approved", batch="b-a-newer-upload-000001")
    assert review.publish_or_schedule(deps, M, "W7", B) == {"skipped": "approved"}
    assert _get(deps, "W7")["status"] == "approved" and not _published_messages(aws, "W7")


def test_a_product_another_run_already_handed_on_is_skipped(deps, aws, monkeypatch):
    _product(deps, "W8", "approved")

    def raced(*_a, **_k):
        raise ConditionFailed("fan_out")

    monkeypatch.setattr(review, "fan_out", raced)
    assert review.publish_or_schedule(deps, M, "W8", B) == {"skipped": "already handed on"}


def test_fan_out_goes_to_the_merchants_channels_only_or_to_every_channel(deps, aws):
    put_merchant(deps.store, M, name="Steps", annual_sales_cny=9_000_000, channels=["wechat"])
    _product(deps, "C1", "approved")
    assert review.fan_out(deps, M, "C1", B, from_status=PS.APPROVED) == ["wechat"]
    assert _messages(aws, "publish_wechat", "C1") and not _messages(aws, "publish_own_shop", "C1")
    assert _get(deps, "C1")["channels_requested"] == ["wechat"]
    assert [(h["status"], h["batch_id"]) for h in history_of(_get(deps, "C1"))][-1] == ("publishing", B)
    other = "m-step-nochan"
    put_merchant(deps.store, other, name="All", annual_sales_cny=9_000_000)
    pk, sk = keys.product(other, "C2")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": other, "spu_code": "C2", "batch_id": B, "status": "approved"})
    assert review.fan_out(deps, other, "C2", B, from_status=PS.APPROVED) == ["own_shop", "wechat", "douyin"]


def _approved_by_reviewer(deps, spu, **kw):
    _product(deps, spu, "in_review", **kw)
    set_status(deps, M, spu, PS.APPROVED, batch_id=B)


def test_the_scheduler_hands_on_products_reviewers_approved(deps, step, aws, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    _approved_by_reviewer(deps, "A1")
    _approved_by_reviewer(deps, "A2")
    _approved_by_reviewer(deps, "A3", key_product=True)            # waits for the window: not counted
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T00:01:00+00:00")
    assert review.release_due(deps) == 2
    assert [_get(deps, s)["status"] for s in ("A1", "A2", "A3")] == ["publishing", "publishing", "scheduled"]
    assert len(_published_messages(aws, "A1")) == 1 and not _published_messages(aws, "A3")


def test_the_scheduler_takes_at_most_limit_products_a_run(deps, step, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    _approved_by_reviewer(deps, "L1")
    _approved_by_reviewer(deps, "L2")
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T00:01:00+00:00")
    assert review.release_due(deps, limit=1) == 1
    assert sorted(_get(deps, s)["status"] for s in ("L1", "L2")) == ["approved", "publishing"]


def test_scheduled_products_that_missed_their_window_wait_for_the_next_one(deps, step, aws, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    for spu in ("S1", "S2"):
        _product(deps, spu, "in_review", key_product=True)
        step(_event("approve", spu))
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T05:00:00+00:00")       # 13:00: the window has closed
    assert review.release_due(deps) == 0
    for spu in ("S1", "S2"):
        item = _get(deps, spu)
        assert item["status"] == "scheduled" and not _published_messages(aws, spu)
        assert item["publish_at"] == item["gsi2sk"] == "2026-11-27T02:00:00.000000Z"
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-27T02:00:00+00:00")
    assert review.release_due(deps) == 2
    assert [_get(deps, s)["status"] for s in ("S1", "S2")] == ["publishing", "publishing"]


def test_fan_out_for_a_merchant_without_a_profile_goes_to_every_channel(deps, aws):
    pk, sk = keys.product("m-no-profile", "C3")
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": "m-no-profile", "spu_code": "C3", "batch_id": B,
                    "status": "approved"})
    assert review.fan_out(deps, "m-no-profile", "C3", B, from_status=PS.APPROVED) == ["own_shop", "wechat", "douyin"]


def _scheduled(deps, spu, due, status="scheduled"):
    pk, sk = keys.product(M, spu)
    deps.store.put({"pk": pk, "sk": sk, "merchant_id": M, "spu_code": spu, "batch_id": B, "status": status,
                    "publish_at": due, "gsi2pk": "STATUS#scheduled", "gsi2sk": due, "history": []})


def test_the_scheduler_releases_only_what_is_due_at_most_limit_a_run(deps, step, aws):
    _scheduled(deps, "D1", "2026-11-25T02:00:00.000000Z")
    _scheduled(deps, "D2", "2026-11-25T02:00:01.000000Z")
    _scheduled(deps, "D3", "2026-11-26T02:00:00.000000Z")          # tomorrow's window: not yet
    assert review.release_due(deps, limit=1) == 1                   # the clock: 10:30 on the 25th
    assert [_get(deps, s)["status"] for s in ("D1", "D2", "D3")] == ["publishing", "scheduled", "scheduled"]
    assert review.release_due(deps) == 1
    assert [_get(deps, s)["status"] for s in ("D2", "D3")] == ["publishing", "scheduled"]


def test_a_stale_index_entry_or_a_product_another_run_released_does_not_stop_the_run(deps, step, aws, monkeypatch):
    _scheduled(deps, "E1", "2026-11-25T01:00:00.000000Z", status="publishing")   # the index lags its item
    _scheduled(deps, "E2", "2026-11-25T01:30:00.000000Z")
    _scheduled(deps, "E3", "2026-11-25T02:00:00.000000Z")
    real = review.fan_out

    def racing(deps_, m, spu, b, *, from_status):
        if spu == "E2":
            raise ConditionFailed("released by another run")
        return real(deps_, m, spu, b, from_status=from_status)

    monkeypatch.setattr(review, "fan_out", racing)
    assert review.release_due(deps) == 1
    assert _get(deps, "E3")["status"] == "publishing"


def test_a_move_made_after_the_listing_wins_over_the_rescheduling(deps, step, monkeypatch):
    """Outside the window a due product moves to the next opening, conditional on the due time read:
    if someone moved it in between (another run, ops), their time stays."""
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T05:00:00+00:00")         # 13:00: window closed
    _scheduled(deps, "G1", "2026-11-26T02:00:00.000000Z")
    [listed] = list(deps.store.query("STATUS#scheduled", index="gsi2", sk_lte="2026-11-26T05:00:00.000000Z"))
    moved = "2026-11-28T02:00:00.000000Z"
    deps.store.update(*keys.product(M, "G1"), "SET publish_at = :p, gsi2sk = :p", values={":p": moved})

    class Stale:
        def __getattr__(self, name):
            return getattr(deps.store, name)

        def query(self, pk, **kw):
            return [listed] if pk == "STATUS#scheduled" else deps.store.query(pk, **kw)

    from shangjia.pipeline.deps import Deps

    assert review.release_due(Deps(store=Stale(), queues=deps.queues, blobs=deps.blobs)) == 0
    assert _get(deps, "G1")["publish_at"] == moved


class _MetaWrites:
    """The store, counting writes to products' META items."""

    def __init__(self, inner):
        self.inner, self.writes = inner, []

    def update(self, pk, sk, expression, **kw):
        if pk.startswith("PRODUCT#") and sk == "META":
            self.writes.append(expression)
        return self.inner.update(pk, sk, expression, **kw)

    def put(self, item, **kw):
        if str(item.get("pk", "")).startswith("PRODUCT#") and item.get("sk") == "META":
            self.writes.append("put")
        return self.inner.put(item, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_automatic_approval_goes_on_to_publishing_in_one_write_its_history_shows_both(deps, step, aws,
                                                                                           monkeypatch):
    """VIP review passed: approved and handed to the channels in one write of the product and
    one move in the status index, as the merchant reads it: approved, then publishing."""
    monkeypatch.setenv("SHANGJIA_CLOCK", IN_WINDOW)
    _product(deps, "V1", "in_review")
    deps.store = _MetaWrites(deps.store)
    assert review._approve(deps, _event("approve", "V1"))["scheduled"] is False      # what the step runs
    item = _get(deps, "V1")
    assert item["status"] == "publishing" and item["channels_requested"] == ["own_shop"]
    assert item["gsi2pk"] == "STATUS#publishing"
    assert [h["status"] for h in history_of(item)][-2:] == ["approved", "publishing"]
    # what the review worked with went with the move out of it (later moves do not pay for it)
    from shangjia.pipeline.products import REVIEW_WORKING_ATTRS
    assert not set(REVIEW_WORKING_ATTRS) & set(item), item
    assert len(_published_messages(aws, "V1")) == 1
    assert len(deps.store.writes) == 1, deps.store.writes
    # a retry of the step (the handler, as the state machine calls it) moves nothing, sends nothing
    assert step(_event("approve", "V1")) == {"skipped": "publishing"}
    assert len(deps.store.writes) == 1 and len(_get(deps, "V1")["history"]) == len(item["history"])


def test_a_status_move_through_another_is_one_the_table_allows_at_every_step(deps):
    from shangjia.pipeline.products import move_status

    _product(deps, "V2", "media")
    with pytest.raises(ValueError):     # in_review -> publishing is no move of the table
        move_status(deps, M, "V2", PS.PUBLISHING, batch_id=B, via=(PS.IN_REVIEW,))
    assert move_status(deps, M, "V2", PS.PUBLISHING, batch_id=B, via=(PS.APPROVED,)) is None   # not from media
    with pytest.raises(ValueError):     # publishing is not reached from media
        move_status(deps, M, "V2", PS.PUBLISHING, batch_id=B, from_status=PS.MEDIA)
    assert move_status(deps, M, "V2", PS.PUBLISHING, batch_id=B, via=(PS.APPROVED,),
                       from_status=PS.IN_REVIEW) is None           # it is in media, not in review
    assert _get(deps, "V2")["status"] == "media"


def test_the_checks_step_writes_nothing_to_the_product(deps, step):
    """What follows the checks writes the product anyway (a task, a rejection, the approval)."""
    _product(deps, "V3", "in_review")
    deps.store = _MetaWrites(deps.store)
    assert review._checks(deps, _event("final", "V3"), "final")["outcome"] == "pass"
    assert review._checks(deps, _event("pre", "V3"), "pre")["outcome"] in ("pass", "manual")
    assert deps.store.writes == []


def test_handing_on_moves_only_from_the_status_it_was_called_for(deps, aws):
    """A product listed as scheduled that is (still) approved is not handed on by the scheduled
    path: its own path (the approved scan) does it, once."""
    _product(deps, "V4", "approved")
    with pytest.raises(ConditionFailed):
        review.fan_out(deps, M, "V4", B, from_status=PS.SCHEDULED)
    assert _get(deps, "V4")["status"] == "approved"


def test_a_scheduling_move_another_run_made_first_is_answered_as_handed_on(deps, monkeypatch):
    monkeypatch.setenv("SHANGJIA_CLOCK", BEFORE_WINDOW)
    put_merchant(deps.store, M, name="Steps", annual_sales_cny=9_000_000, channels=["own_shop"])
    _product(deps, "V6", "approved", key_product=True)
    monkeypatch.setattr(review, "move_status", lambda *a, **k: None)
    assert review.publish_or_schedule(deps, M, "V6", B) == {"skipped": "already handed on"}
