"""Lambda's sandboxes on the local cloud (shangjia/localcloud/sandboxes.py): each function's
handler runs in worker processes of its own, warm between invocations, and an invocation that
raises, kills its process or outlives its timeout fails alone, as on Lambda."""

import multiprocessing
import os
import sys
from pathlib import Path

import pytest

from shangjia.localcloud.sandboxes import SandboxError, SandboxPool

HANDLERS = str(Path(__file__).parent / "sandbox_fixtures" / "handlers.py")
CTX = {"function_name": "shangjia-test", "memory_limit_in_mb": 256, "invoked_function_arn": "arn:test",
       "aws_request_id": "req-1"}


@pytest.fixture
def pools():
    made = []

    def make(attr: str, key: str = "fn"):
        p = SandboxPool(key, HANDLERS, attr, dict(os.environ))
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def test_a_warm_worker_serves_invocations_in_its_own_process(pools):
    pool = pools("echo")
    first = pool.invoke({"n": 1}, timeout_s=5, context=CTX)
    second = pool.invoke({"n": 2}, timeout_s=5, context=CTX)
    assert first["ok"] and second["ok"]
    assert first["result"]["event"] == {"n": 1}
    assert first["result"]["pid"] != os.getpid()
    assert second["result"]["pid"] == first["result"]["pid"]           # warm: imported once
    assert (first["result"]["calls"], second["result"]["calls"]) == (1, 2)
    assert 0 < second["result"]["remaining_ms"] <= 5000                 # the function's own timeout
    assert second["result"]["name"] == "shangjia-test"
    assert pool.cold_starts == 1
    assert "shangjia_fn_fn" not in sys.modules                          # nothing leaks into the emulator


def test_module_state_stays_inside_one_function(pools):
    a, b = pools("echo", key="a"), pools("echo", key="b")
    for _ in range(3):
        a.invoke({}, timeout_s=5, context=CTX)
    assert b.invoke({}, timeout_s=5, context=CTX)["result"]["calls"] == 1


def test_each_invocation_carries_the_current_settings(pools, monkeypatch):
    pool = pools("echo")
    monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-26T02:00:01+00:00")
    assert pool.invoke({}, timeout_s=5, context=CTX)["result"]["clock"] == "2026-11-26T02:00:01+00:00"
    monkeypatch.delenv("SHANGJIA_CLOCK")
    assert pool.invoke({}, timeout_s=5, context=CTX)["result"]["clock"] is None


def test_an_exception_is_the_invocations_error_payload_and_the_worker_lives_on(pools):
    pool = pools("boom")
    answer = pool.invoke({"row": 7}, timeout_s=5, context=CTX)
    assert not answer["ok"]
    assert answer["payload"]["errorType"] == "ValueError"
    assert answer["payload"]["errorMessage"] == "row 7 is broken"
    assert "ValueError" in answer["traceback"]
    pool.invoke({"row": 8}, timeout_s=5, context=CTX)
    assert pool.cold_starts == 1


def test_a_result_lambda_cannot_serialize_is_an_error(pools):
    answer = pools("unmarshallable").invoke({}, timeout_s=5, context=CTX)
    assert not answer["ok"] and "Unable to marshal response" in answer["payload"]["errorMessage"]


def test_a_worker_that_dies_fails_its_invocation_and_is_replaced(pools):
    pool = pools("die")
    with pytest.raises(SandboxError) as e:
        pool.invoke({}, timeout_s=5, context=CTX)
    assert e.value.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in e.value.payload["errorMessage"]
    with pytest.raises(SandboxError):
        pool.invoke({}, timeout_s=5, context=CTX)
    assert pool.cold_starts == 2                                       # a fresh worker each time


def test_an_invocation_past_its_timeout_is_killed(pools, monkeypatch):
    monkeypatch.setenv("SHANGJIA_LOCAL_TIMEOUT_FACTOR", "1")
    pool = pools("hang", key="hung")
    with pytest.raises(SandboxError) as e:
        pool.invoke({}, timeout_s=0.5, context=CTX)
    assert e.value.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in e.value.payload["errorMessage"]
    assert not [p for p in multiprocessing.active_children() if p.name == "lambda-hung"]   # killed
