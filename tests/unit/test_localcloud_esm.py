"""The local cloud's SQS event source mappings (``SqsPoller``), on a fake queue (no moto):

- an ESM's maximum concurrency (``SqsTrigger.max_concurrency``) bounds how many invocations it
  drives at once, as ``ScalingConfig.MaximumConcurrency`` does on AWS;
- every record that fails (reported in ``batchItemFailures`` or in a batch whose invocation
  raised) is counted, and the demo's "handler errors (retried)" line is that count — before,
  it counted only exceptions that escaped a handler, so records Powertools' BatchProcessor
  caught and reported (a ``KeyError`` in validate, retried and passed) showed as 0.
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

from shangjia.localcloud.meter import Meter
from shangjia.localcloud.runtime import LambdaRuntime, SqsPoller
from shangjia.topology import Function, SqsTrigger, Topology


def _topology(cap: int | None, batch_size: int = 1) -> Topology:
    fn = Function("f", "f.handler.lambda_handler", timeout_s=10,
                  triggers=(SqsTrigger("q", batch_size=batch_size, max_concurrency=cap),))
    return Topology(buckets=(), queues=(), tables=(), functions=(fn,), state_machines=(), notifications=())


class FakeSqs:
    """Just enough of an SQS client: messages are handed out once; deletes are recorded."""

    def __init__(self, n: int) -> None:
        self.pending = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": json.dumps({"i": i}),
                         "Attributes": {"ApproximateReceiveCount": "1"}} for i in range(n)]
        self.deleted: list[str] = []
        self.lock = threading.Lock()
        self.meta = SimpleNamespace(events=SimpleNamespace(register=lambda *a, **k: None))

    def receive_message(self, QueueUrl, MaxNumberOfMessages=1, **_kw):  # noqa: N803 — boto3's names
        with self.lock:
            out, self.pending = self.pending[:MaxNumberOfMessages], self.pending[MaxNumberOfMessages:]
        return {"Messages": out}

    def delete_message_batch(self, QueueUrl, Entries):  # noqa: N803
        with self.lock:
            self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def get_queue_attributes(self, QueueUrl, AttributeNames):  # noqa: N803
        return {"Attributes": {"VisibilityTimeout": "30"}}

    def change_message_visibility_batch(self, QueueUrl, Entries):  # noqa: N803
        return {"Successful": []}


def _run(topology: Topology, sqs: FakeSqs, handler, *, until, max_concurrency: int = 4) -> LambdaRuntime:
    runtime = LambdaRuntime(topology, Meter(), {}, max_concurrency=max_concurrency)
    runtime.handler = lambda key: handler
    fn = topology.functions[0]
    stop = threading.Event()
    poller = SqsPoller(runtime, sqs, fn, fn.triggers[0], "url", "arn:aws:sqs:us-east-1:1:q", "us-east-1", stop)
    poller.start()
    try:
        deadline = time.monotonic() + 20
        while not until() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert until(), "the poller did not finish the queue"
    finally:
        stop.set()
        poller.join(5)
        poller.pool.shutdown(wait=True)
    return runtime


def test_poller_honours_the_trigger_maximum_concurrency():
    sqs = FakeSqs(10)
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def handler(event, ctx):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return {"batchItemFailures": []}

    # The function may run 4 at once (its reserved/local concurrency); the ESM only 2.
    _run(_topology(cap=2), sqs, handler, until=lambda: len(sqs.deleted) == 10, max_concurrency=4)
    assert state["peak"] == 2


def test_poller_without_a_cap_is_bounded_by_the_function_only():
    sqs = FakeSqs(12)
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def handler(event, ctx):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return {"batchItemFailures": []}

    _run(_topology(cap=None), sqs, handler, until=lambda: len(sqs.deleted) == 12, max_concurrency=3)
    assert state["peak"] == 3


def _mixed_handler(event, ctx):
    """i % 3 == 0 succeeds, 1 is reported failed (as BatchProcessor does), 2 raises out of the handler."""
    failures = []
    for r in event["Records"]:
        i = json.loads(r["body"])["i"]
        if i % 3 == 2:
            raise KeyError("BARCODE_CHECK_DIGIT")
        if i % 3 == 1:
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}


def test_every_failed_record_is_counted_reported_or_raised():
    sqs = FakeSqs(9)
    done = lambda: not sqs.pending and len(sqs.deleted) == 3    # noqa: E731
    runtime = _run(_topology(cap=2), sqs, _mixed_handler, until=done)
    assert sorted(sqs.deleted) == ["r0", "r3", "r6"]
    assert runtime.retried == {"f": 6}          # 3 reported in batchItemFailures + 3 in batches that raised
    assert len(runtime.errors) == 3             # the tracebacks of the invocations that raised


def test_a_whole_batch_failure_counts_each_of_its_records():
    sqs = FakeSqs(3)
    runtime = _run(_topology(cap=2, batch_size=3), sqs,
                   lambda event, ctx: (_ for _ in ()).throw(RuntimeError("boom")),
                   until=lambda: not sqs.pending)
    deadline = time.monotonic() + 5
    while sum(runtime.retried.values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runtime.retried == {"f": 3}


def test_demo_summary_reports_failed_records_as_handler_errors():
    from shangjia.localcloud import demo

    sqs = FakeSqs(9)
    runtime = _run(_topology(cap=2), sqs, _mixed_handler,
                   until=lambda: not sqs.pending and len(sqs.deleted) == 3)
    cloud = SimpleNamespace(runtime=runtime, meter=Meter(), queue_depths=lambda dlq=False: {})
    deps = SimpleNamespace(store=SimpleNamespace(query=lambda *a, **k: []))
    s = demo._summary(cloud, deps, [], SimpleNamespace(decisions={}), 1.0, {}, True)
    assert s["handler_errors"] == 6
    lines: list[str] = []
    demo._print_summary(s, lines.append)
    last = [ln for ln in lines if "handler errors (retried)" in ln]
    assert last and "handler errors (retried): 6" in last[0], last
