"""The listing state machine (shangjia.channels.listings), checked against the lifecycle written
out by hand: submitted -> in_audit -> live | rejected, live on submit (own shop), failed; the
waits (quota, retry, circuit) before a send; a new revision starts over from any state."""

import pytest

from shangjia.channels import listings as L

STATES = list(L.STATES)

# Within one revision, the moves the lifecycle allows (None: no listing yet).
EXPECTED = {
    (None, s) for s in (L.SUBMITTED, L.WAITING_QUOTA, L.RETRYING, L.WAITING_CHANNEL, L.FAILED)
} | {
    (w, s) for w in (L.WAITING_QUOTA, L.RETRYING, L.WAITING_CHANNEL)
    for s in (L.SUBMITTED, L.WAITING_QUOTA, L.RETRYING, L.WAITING_CHANNEL, L.FAILED)
} | {
    # the answer to a send, or its lookup; another wait; a re-send after an unresolved time-out
    (L.SUBMITTED, s) for s in (L.SUBMITTED, L.IN_AUDIT, L.LIVE, L.REJECTED, L.FAILED,
                               L.WAITING_QUOTA, L.RETRYING, L.WAITING_CHANNEL)
} | {(L.IN_AUDIT, L.LIVE), (L.IN_AUDIT, L.REJECTED)}


@pytest.mark.parametrize("current", [None, *STATES])
@pytest.mark.parametrize("target", STATES)
def test_within_a_revision_only_the_lifecycle_moves(current, target):
    assert L.can_move(current, target) == ((current, target) in EXPECTED)


@pytest.mark.parametrize("current", [None, *STATES])
def test_a_new_revision_starts_over_from_any_state_but_never_skips_the_send(current):
    for target in STATES:
        allowed = L.can_move(current, target, new_revision=True)
        assert allowed == (target in (L.SUBMITTED, L.WAITING_QUOTA, L.RETRYING, L.WAITING_CHANNEL, L.FAILED))


def test_settled_states_are_final_within_a_revision():
    for s in (L.LIVE, L.REJECTED, L.FAILED):
        assert not any(L.can_move(s, t) for t in STATES)


def test_unknown_states_are_refused():
    with pytest.raises(ValueError):
        L.can_move(None, "published")
    with pytest.raises(ValueError):
        L.can_move("live?", L.LIVE)


def test_sources_of_are_what_can_move_says():
    for t in STATES:
        assert L.sources_of(t) == {s for s in (None, *STATES) if L.can_move(s, t)}


def test_answers_and_verdicts_map_to_states():
    assert L.state_after_submit("in_audit") == L.IN_AUDIT and L.state_after_submit("live") == L.LIVE
    with pytest.raises(ValueError):
        L.state_after_submit("rejected")
    assert L.state_of_verdict("approved") == L.LIVE
    assert L.state_of_verdict("rejected") == L.REJECTED == L.state_of_verdict("withdrawn")
    with pytest.raises(ValueError):
        L.state_of_verdict("maybe")
    assert L.state_of_lookup(None) is None
    assert L.state_of_lookup({"platform_product_id": "1", "state": "live"}) == L.LIVE
    with pytest.raises(ValueError):
        L.state_of_lookup({"state": "draft"})
    assert L.reason_class("image") == "image" and L.reason_class("weird") == "other" and L.reason_class(None) == "other"


def _l(state, batch="b2", **kw):
    return {"state": state, "batch_id": batch, **kw}


def test_outcome_published_only_when_every_requested_channel_is_live():
    req = ["own_shop", "wechat", "douyin"]
    assert L.outcome(req, {c: _l(L.LIVE) for c in req}, "b2") == "published"
    # a listing of the earlier revision does not count: that channel is still queued
    assert L.outcome(req, {"own_shop": _l(L.LIVE), "wechat": _l(L.LIVE), "douyin": _l(L.LIVE, "b1")}, "b2") is None
    assert L.outcome(req, {"own_shop": _l(L.LIVE), "wechat": _l(L.IN_AUDIT)}, "b2") is None
    assert L.outcome([], {}, "b2") is None


def test_outcome_needs_fix_only_once_every_channel_settled():
    req = ["own_shop", "wechat", "douyin"]
    ls = {"own_shop": _l(L.LIVE), "wechat": _l(L.REJECTED, reason="主图"), "douyin": _l(L.WAITING_QUOTA)}
    assert L.outcome(req, ls, "b2") is None, "douyin is still on its way"
    ls["douyin"] = _l(L.FAILED)
    assert L.outcome(req, ls, "b2") == "needs_fix"


def test_a_partially_published_product_says_which_channel_waits_why_and_until_when():
    req = ["own_shop", "wechat", "douyin"]
    ls = {"own_shop": _l(L.LIVE),
          "wechat": _l(L.WAITING_QUOTA, next_at="2026-11-25T03:30:00.000000Z",
                       reason={"code": "QUOTA_BUCKET"})}
    w = L.waiting(req, ls, "b2")
    assert set(w) == {"wechat", "douyin"}
    assert w["wechat"]["state"] == L.WAITING_QUOTA and w["wechat"]["next_at"].startswith("2026-11-25T03:30")
    assert w["wechat"]["next_step"]["en"] and w["wechat"]["next_step"]["zh"]
    assert w["douyin"]["state"] == L.QUEUED
    # every state a listing can be in has a next step to show
    assert set(L.NEXT_STEP) == set(L.STATES) | {L.QUEUED}


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    lo = [L.backoff_s(a, base_s=10, cap_s=900, rand=0.0) for a in range(1, 10)]
    hi = [L.backoff_s(a, base_s=10, cap_s=900, rand=0.999) for a in range(1, 10)]
    assert lo[:4] == [5, 10, 20, 40] and hi[:4] == [10, 20, 40, 80]
    assert max(hi) <= 900 and hi[-1] == 900
    assert all(a <= b for a, b in zip(lo, hi))
    assert L.backoff_s(1, base_s=0.1, cap_s=900, rand=0.0) == 1, "at least a second"
