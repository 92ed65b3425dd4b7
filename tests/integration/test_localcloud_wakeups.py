"""The local cloud's own waits (#13): an event source mapping's poller is woken by a send to its
queue (as Lambda's long poll returns at once), moto's Step Functions interpreter keeps one boto3
client per service, and one scheduled function's long run does not hold back another's.
No wall-clock figures are asserted: events and counts only."""

import threading

import boto3
from moto import mock_aws

from shangjia.localcloud import LocalCloud
from shangjia.localcloud.runtime import (drop_wake_event, patch_moto_sfn_clients, patch_moto_sqs_wakeups,
                                         wake_event)
from shangjia.topology import TOPOLOGY


@mock_aws
def test_a_send_wakes_the_pollers_of_that_queue_and_no_other():
    patch_moto_sqs_wakeups()
    patch_moto_sqs_wakeups()                # installing twice wraps once
    sqs = boto3.client("sqs", region_name="us-east-1")
    a = sqs.create_queue(QueueName="wake-a")["QueueUrl"]
    b = sqs.create_queue(QueueName="wake-b")["QueueUrl"]
    ea, ea2, eb = wake_event("wake-a"), wake_event("wake-a"), wake_event("wake-b")
    try:
        sqs.send_message(QueueUrl=a, MessageBody="one")
        assert ea.is_set() and ea2.is_set() and not eb.is_set()
        ea.clear()
        sqs.send_message_batch(QueueUrl=b, Entries=[{"Id": "1", "MessageBody": "x"}, {"Id": "2", "MessageBody": "y"}])
        assert eb.is_set() and not ea.is_set()
        # the messages are moto's as before: received, in order
        got = sqs.receive_message(QueueUrl=b, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in got) == ["x", "y"]
    finally:
        for name, e in (("wake-a", ea), ("wake-a", ea2), ("wake-b", eb)):
            drop_wake_event(name, e)
    eb.clear()
    sqs.send_message(QueueUrl=b, MessageBody="z")
    assert not eb.is_set(), "a dropped event is no longer set"


def test_the_interpreter_keeps_one_client_per_service():
    patch_moto_sfn_clients()
    patch_moto_sfn_clients()
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sqs
    from moto.stepfunctions.parser.asl.utils import boto_client

    lam = lambda_eval_utils.boto_client_for("us-east-1", "lambda")
    assert lam is boto_client.boto_client_for("us-east-1", "lambda")
    assert state_task_service_sqs.boto_client_for("us-east-1", "sqs") is boto_client.boto_client_for("us-east-1", "sqs")
    assert lam is not boto_client.boto_client_for("us-east-1", "sqs")
    assert lam.meta.service_model.service_name == "lambda"


class _Runtime:
    """Stands in for the Lambda runtime: ``stock_reconcile`` runs until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.reconcile_started = threading.Event()
        self.published = threading.Semaphore(0)
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def invoke(self, key, event):
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
        assert event["detail-type"] == "Scheduled Event"
        if key == "stock_reconcile":
            self.reconcile_started.set()
            self.release.wait(60)
        if key == "publish_scheduler":
            self.published.release()


def test_a_long_scheduled_run_does_not_hold_back_the_publish_scheduler():
    """Before #13 one thread ran every schedule in turn: a reconciliation of every live listing
    (minutes at a few hundred products) kept ``release_due`` from running, and approved products
    waited for it."""
    cloud = LocalCloud(schedule_interval_s=0.02)
    runtime = cloud.runtime = _Runtime()
    cloud._run_schedules()
    try:
        assert runtime.reconcile_started.wait(30), "the first tick runs the 15-minute reconciliation"
        for _ in range(3):       # three more runs of the publish scheduler while it is still running
            assert runtime.published.acquire(timeout=30)
        assert not runtime.release.is_set()
        with runtime.lock:
            assert runtime.calls["stock_reconcile"] == 1       # not overlapped, not run again yet
            assert runtime.calls.get("failure_report", 0) == 0  # cron: not at start-up
    finally:
        cloud.stop_event.set()
        runtime.release.set()


def test_every_scheduled_function_of_the_topology_gets_its_own_rule():
    scheduled = {f.key for f in TOPOLOGY.functions if f.schedule}
    assert {"publish_scheduler", "listing_poller", "stock_reconcile", "failure_report"} <= scheduled
    started = []
    cloud = LocalCloud()
    cloud._run_schedule = lambda fn: started.append(fn.key)   # the threads run this
    cloud._run_schedules()
    cloud.stop_event.set()
    import time

    deadline = time.monotonic() + 30
    while len(started) < len(scheduled) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(started) == sorted(scheduled)


def test_each_definition_is_parsed_once_and_every_execution_gets_its_own_program():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    from shangjia.localcloud.runtime import patch_moto_sfn_parse_once

    patch_moto_sfn_parse_once()
    patch_moto_sfn_parse_once()
    definition = ('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"n": 1}, "Next": "B"}, '
                  '"B": {"Type": "Succeed"}}}')
    parsed = []
    real_parse = AmazonStateLanguageParser.parse

    class Details:       # what the worker reads of its execution
        class state_machine_details:
            pass

    Details.state_machine_details.definition = definition

    def counting_parse(text):
        parsed.append(text)
        return real_parse(text)

    AmazonStateLanguageParser.parse = staticmethod(counting_parse)
    try:
        workers = [object.__new__(ExecutionWorker) for _ in range(3)]
        for w in workers:
            w._evaluation_details = Details
        programs = [w._get_evaluation_entrypoint() for w in workers]
    finally:
        AmazonStateLanguageParser.parse = staticmethod(real_parse)
    assert parsed == [definition] or parsed == []      # [] if an earlier test already parsed it
    assert len({id(p) for p in programs}) == 3
    assert type(programs[0]) is type(real_parse(definition)[0])


def test_each_jsonpath_is_compiled_once_and_finds_what_it_found():
    from shangjia.localcloud.runtime import patch_moto_sfn_jsonpath_once

    patch_moto_sfn_jsonpath_once()
    patch_moto_sfn_jsonpath_once()
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert json_path.extract_json("$.a.b", {"a": {"b": [1, 2]}}) == [1, 2]
    assert json_path.extract_json("$.a.b", {"a": {"b": "other"}}) == "other"
    assert json_path.extract_json("$.items[*].n", {"items": [{"n": 1}, {"n": 2}]}) == [1, 2]
    data = {"x": 1}
    result_path.parse("$.out").update_or_create(data, {"ok": True})
    result_path.parse("$.out").update_or_create(data, {"ok": False})
    assert data == {"x": 1, "out": {"ok": False}}


class _Batches(__import__("shangjia.localcloud.runtime", fromlist=["SqsPoller"]).SqsPoller):
    """The event source mapping's poller with the invocation replaced by a note of the batch."""

    def _deliver(self, msgs, sem):
        self.batches.append(sorted(m["Body"] for m in msgs))
        self.busy -= 1
        sem.release()
        self.esm_semaphore.release()


@mock_aws
def test_sends_within_the_batching_window_are_gathered_not_received_one_by_one():
    """Messages sent one after another (images arriving) within the batching window reach the
    function in one batch, received in a few requests: a receive per message cost a request each
    (the census's ingest: 2.3 receives per SKU). Counts only; the sends are ~10 ms apart, the
    window 0.25 s."""
    import time
    import types

    from shangjia.topology import SqsTrigger

    patch_moto_sqs_wakeups()
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="burst")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    receives = []
    sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **kw: receives.append(1))
    fn = next(f for f in TOPOLOGY.functions if f.key == "ingest")
    runtime = types.SimpleNamespace(semaphores={fn.key: threading.BoundedSemaphore(1)}, concurrency={fn.key: 1})
    stop = threading.Event()
    poller = _Batches(runtime, sqs, fn, SqsTrigger("burst", batch_size=10, batching_window_s=1), url, arn,
                      "us-east-1", stop)
    poller.batches = []
    poller.start()
    try:
        for i in range(10):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
            time.sleep(0.01)
        for _ in range(300):
            if sum(len(b) for b in poller.batches) == 10:
                break
            time.sleep(0.01)
    finally:
        stop.set()
        poller.join(5)
    assert sorted(b for batch in poller.batches for b in batch) == sorted(f"m{i}" for i in range(10))
    assert len(poller.batches) <= 2 and len(receives) <= 6, (poller.batches, len(receives))
