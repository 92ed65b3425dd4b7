import pytest

from shangjia.status import RESUBMITTABLE, TRANSITIONS, ProductStatus as S, can_transition, sources_of


def test_happy_path_is_allowed_in_order():
    path = [S.UPLOADED, S.VALIDATING, S.MEDIA, S.IN_REVIEW, S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.PUBLISHED]
    assert can_transition(None, S.UPLOADED)
    for a, b in zip(path, path[1:]):
        assert can_transition(a, b), (a, b)


@pytest.mark.parametrize("a,b", [(S.PUBLISHED, S.IN_REVIEW), (S.NEEDS_FIX, S.PUBLISHED), (S.MEDIA, S.PUBLISHED),
                                 (S.IN_REVIEW, S.PUBLISHING), (None, S.PUBLISHED)])
def test_no_skipping_or_going_back(a, b):
    assert not can_transition(a, b)


def test_every_status_is_in_the_table_and_settled_ones_can_start_over():
    assert set(TRANSITIONS) == set(S)
    for s in RESUBMITTABLE:
        assert can_transition(s, S.UPLOADED) or S.UPLOADED in TRANSITIONS[s] or s == S.NEEDS_FIX


def test_sources_of_inverts_the_table():
    for target in S:
        for src in sources_of(target):
            assert can_transition(src, target)
