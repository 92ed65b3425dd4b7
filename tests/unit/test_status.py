"""The product status table, checked against an independent copy of the documented lifecycle.

``EXPECTED`` below is written out by hand from the lifecycle (status.py's comments, README's flow,
docs/review.md), not read from ``TRANSITIONS``: a change to the table that is not also a change to
the lifecycle fails here. Every other pair (13 x 13, plus "no record yet") must be refused.
"""

from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from shangjia.status import (RESUBMITTABLE, TERMINAL_FOR_BATCH, TRANSITIONS, ProductStatus as S, can_transition,
                             sources_of)

ALL = list(S)

# (from, to) pairs the lifecycle allows; None is "no record yet".
EXPECTED: frozenset[tuple[S | None, S]] = frozenset({
    (None, S.UPLOADED),                       # a product's first rows arrive
    # uploaded: validation starts, or the rows cannot even be read (needs_fix), or a bug
    (S.UPLOADED, S.VALIDATING), (S.UPLOADED, S.NEEDS_FIX), (S.UPLOADED, S.FAILED),
    # validating: errors -> needs_fix; check-only -> checked; batch over its error rate -> held;
    # valid -> media (images) or straight to review; a bug -> failed
    (S.VALIDATING, S.NEEDS_FIX), (S.VALIDATING, S.MEDIA), (S.VALIDATING, S.IN_REVIEW),
    (S.VALIDATING, S.CHECKED), (S.VALIDATING, S.HELD), (S.VALIDATING, S.FAILED),
    # media: the last file starts the review; a broken image -> needs_fix; a bug -> failed
    (S.MEDIA, S.IN_REVIEW), (S.MEDIA, S.NEEDS_FIX), (S.MEDIA, S.FAILED),
    # in review: both stages pass; a reviewer rejects; checks find errors; RecordFailure
    (S.IN_REVIEW, S.APPROVED), (S.IN_REVIEW, S.REJECTED), (S.IN_REVIEW, S.NEEDS_FIX), (S.IN_REVIEW, S.FAILED),
    # approved: outside the window (key products) -> scheduled, else published now
    (S.APPROVED, S.SCHEDULED), (S.APPROVED, S.PUBLISHING), (S.APPROVED, S.FAILED),
    (S.SCHEDULED, S.PUBLISHING), (S.SCHEDULED, S.FAILED),
    # publishing: every channel's listing live -> published; a platform rejected or refused it for
    # good -> needs_fix with the channel's finding (docs/channels.md, "Publishing semantics")
    (S.PUBLISHING, S.PUBLISHED), (S.PUBLISHING, S.NEEDS_FIX), (S.PUBLISHING, S.FAILED),
    # a rejection is recorded, then the product goes to needs_fix with PIPE_REVIEW_REJECTED (docs/review.md)
    (S.REJECTED, S.NEEDS_FIX),
    # settled: only a new upload of the product moves it again
    (S.PUBLISHED, S.UPLOADED), (S.CHECKED, S.UPLOADED), (S.HELD, S.UPLOADED), (S.NEEDS_FIX, S.UPLOADED),
    (S.REJECTED, S.UPLOADED), (S.FAILED, S.UPLOADED),
})
SETTLED = frozenset({S.PUBLISHED, S.CHECKED, S.HELD, S.NEEDS_FIX, S.REJECTED, S.FAILED})
IN_FLIGHT = frozenset(S) - SETTLED
EVERY_PAIR = [(a, b) for a in [None, *ALL] for b in ALL]


def successors(s: S | None) -> list[S]:
    """What ``can_transition`` allows next (black box: the table is never read directly)."""
    return [t for t in ALL if can_transition(s, t)]


def reachable(start: S | None) -> set[S]:
    """Every status some non-empty path of allowed moves leads to from ``start``."""
    seen: set[S] = set()
    todo = deque(successors(start))
    while todo:
        s = todo.popleft()
        if s not in seen:
            seen.add(s)
            todo.extend(successors(s))
    return seen


@pytest.mark.parametrize("a,b", sorted(EXPECTED, key=str))
def test_every_documented_move_is_allowed(a, b):
    assert can_transition(a, b), f"{a} -> {b} is part of the lifecycle but refused"


@pytest.mark.parametrize("a,b", [p for p in EVERY_PAIR if p not in EXPECTED], ids=str)
def test_every_other_move_is_refused(a, b):
    assert not can_transition(a, b), f"{a} -> {b} is not part of the lifecycle but allowed"


def test_the_table_covers_every_status_and_strings_work_like_members():
    assert set(TRANSITIONS) == set(S)
    for a, b in EVERY_PAIR:
        assert can_transition(a and a.value, b.value) == can_transition(a, b)
    with pytest.raises(ValueError):
        can_transition("uploaded", "teleported")


@pytest.mark.parametrize("target", ALL)
def test_sources_of_is_exactly_the_inverse_of_the_lifecycle(target):
    assert sources_of(target) == {a for a, b in EXPECTED if b is target and a is not None}
    assert sources_of(target.value) == sources_of(target)


def test_settled_statuses_are_exactly_the_ones_a_new_upload_may_replace():
    assert {s for s in ALL if can_transition(s, S.UPLOADED)} == SETTLED
    assert RESUBMITTABLE == SETTLED and TERMINAL_FOR_BATCH == SETTLED


def test_happy_path_is_allowed_in_order():
    path = [None, S.UPLOADED, S.VALIDATING, S.MEDIA, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.PUBLISHED]
    for a, b in zip(path, path[1:]):
        assert can_transition(a, b), (a, b)


# --- properties over paths ------------------------------------------------------------------------

walks = st.tuples(st.sampled_from([None, *ALL]), st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))


@settings(max_examples=300, deadline=None)
@given(walks)
def test_a_walk_never_gets_stuck_and_leaves_a_settled_status_only_by_a_new_upload(walk):
    """Random walks over ``can_transition``: a settled product moves only when it is uploaded again
    (a rejection may still be filed as needs_fix), so no late message can reopen it."""
    current, choices = walk
    for pick in choices:
        nexts = successors(current)
        assert nexts, f"{current} has no way out"
        nxt = nexts[pick % len(nexts)]
        if current in SETTLED:
            assert nxt is S.UPLOADED or (current, nxt) == (S.REJECTED, S.NEEDS_FIX), \
                f"settled {current} moved to {nxt} without a new upload"
        current = nxt


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SETTLED)), st.sampled_from(sorted(IN_FLIGHT)))
def test_no_path_from_a_settled_status_reaches_work_in_flight_without_passing_uploaded(settled, in_flight):
    """Search every path from ``settled`` that avoids uploaded: none may reach an in-flight status."""
    seen, todo = set(), deque([settled])
    while todo:
        s = todo.popleft()
        for t in successors(s):
            if t is S.UPLOADED or t in seen:
                continue
            assert t is not in_flight, f"{settled} reaches {in_flight} without a new upload"
            seen.add(t)
            todo.append(t)


@pytest.mark.parametrize("s", ALL)
def test_every_status_has_a_way_out(s):
    reach = reachable(s)
    assert reach & SETTLED, f"{s} can never settle"
    assert S.UPLOADED in reach, f"{s} can never be uploaded again"


@pytest.mark.parametrize("s", ALL)
def test_every_status_is_reachable_from_a_first_upload(s):
    assert s in reachable(None), f"{s} is never reached"


def test_a_history_entry_is_one_short_string_and_reads_back_with_its_batch():
    from shangjia.limits import native_item_size
    from shangjia.status import history_entry, read_history

    at = "2026-11-25T02:30:00.123456Z"
    stored = [history_entry("validating", at, "b1"), history_entry("media", at), history_entry("in_review", at),
              {"status": "published", "at": at, "batch_id": "b0"},           # an older item's map
              history_entry("validating", at, "b2 with space"), history_entry("media", at)]
    assert stored[:2] == [f"validating {at} b1", f"media {at}"]
    assert read_history(stored) == [
        {"status": "validating", "at": at, "batch_id": "b1"}, {"status": "media", "at": at, "batch_id": "b1"},
        {"status": "in_review", "at": at, "batch_id": "b1"}, {"status": "published", "at": at, "batch_id": "b0"},
        {"status": "validating", "at": at, "batch_id": "b2 with space"},
        {"status": "media", "at": at, "batch_id": "b2 with space"}]
    assert read_history([history_entry("live", at)], "state") == [{"state": "live", "at": at, "batch_id": None}]
    assert read_history(None) == [] and read_history(["garbage", 3, None, b"x"]) == []
    # what it saves on every status move: a move's entry against the map it replaces
    as_map = {"status": "in_review", "at": at}
    assert native_item_size({"h": [as_map]}) - native_item_size({"h": [history_entry("in_review", at)]}) >= 10
