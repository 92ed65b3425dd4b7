"""Handlers on moto (in process): the same provisioning as the local cloud, no server, no pollers."""

import importlib.util
import threading

import pytest
from moto import mock_aws

from shangjia.topology import REPO_ROOT


_MOTO_LOCK = threading.RLock()


def _one_request_at_a_time(monkeypatch):
    """moto in process answers a request on the caller's thread, and its conditional writes read,
    check and write without a lock: two threads' ``attribute_not_exists`` updates can both pass.
    DynamoDB makes each conditional write atomic, and so does the local cloud (server.py serializes
    state-changing requests); the tests that race threads get the same here."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request

    def process_request(self, request):
        with _MOTO_LOCK:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    _one_request_at_a_time(monkeypatch)
    with mock_aws():
        import boto3

        from shangjia.adapters.aws import reset_clients
        from shangjia.localcloud.provision import provision

        reset_clients()
        res = provision(boto3.session.Session(region_name="us-east-1"), visibility_timeout_s=0)
        for k, v in res.environment().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SHANGJIA_CLOCK", "2026-11-25T02:30:00+00:00")
        yield res
        reset_clients()


@pytest.fixture
def deps(aws):
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()


class Ctx:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self):
        return 60_000


@pytest.fixture
def handler():
    """Load a function's handler module fresh (its deps() cache is per container, like Lambda's)."""
    def load(key):
        from shangjia import lambda_kit

        lambda_kit.deps.cache_clear()
        path = REPO_ROOT / "functions" / key / "handler.py"
        spec = importlib.util.spec_from_file_location(f"test_fn_{key}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return lambda event: mod.lambda_handler(event, Ctx())
    return load
