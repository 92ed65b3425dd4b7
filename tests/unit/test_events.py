import pytest

from tests.support.events import all_events, load_event
from shangjia.topology import TOPOLOGY


def test_every_function_has_a_sample_event():
    folders = {e.split("/")[0] for e in all_events()}
    assert folders == {f.key for f in TOPOLOGY.functions}


@pytest.mark.parametrize("name", all_events())
def test_sample_matches_its_contract(name):
    assert load_event(name)
