"""The Lambda runtime of the local cloud: the real handlers, invoked the way Lambda invokes them.

- ``LambdaRuntime.invoke`` loads ``functions/<key>/handler.py``, builds a context with the
  function's timeout, bounds concurrency like reserved concurrency, and meters GB-s.
- ``hook_moto`` routes moto's Lambda invocations (Step Functions Lambda tasks) to ``invoke``.
- ``SqsPoller`` is an event source mapping: batch size, batching window, partial batch responses
  (only successful records are deleted; failed ones come back after the visibility timeout and
  move to the DLQ after maxReceiveCount, which moto's SQS applies on receive).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from shangjia.localcloud.meter import Meter
from shangjia.topology import REPO_ROOT, Function, SqsTrigger, Topology


@dataclass
class Context:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    deadline: float
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class InvocationError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage"))
        self.payload = payload


class LambdaRuntime:
    def __init__(self, topology: Topology, meter: Meter, arns: dict[str, str], *, max_concurrency: int = 4,
                 sandboxes: bool = False) -> None:
        self.topology = topology
        # ``sandboxes``: each function's handler runs in worker processes of its own
        # (``localcloud/sandboxes.py``), as Lambda runs it; otherwise in this process's threads.
        self.sandboxes = sandboxes
        self._pools: dict[str, Any] = {}
        self.meter = meter
        self.arns = arns
        self._handlers: dict[str, Any] = {}
        self._import_lock = threading.Lock()
        # How many invocations of each function may run at once: its reserved concurrency, within
        # what this machine runs (``max_concurrency``).
        self.concurrency = {f.key: min(f.reserved_concurrency or max_concurrency, max_concurrency)
                            for f in topology.functions}
        self.semaphores = {k: threading.BoundedSemaphore(n) for k, n in self.concurrency.items()}
        self.in_flight = 0
        self._count_lock = threading.Lock()
        self.errors: list[tuple[str, str]] = []
        # Units of work that failed and will be retried, by function: SQS records reported in
        # batchItemFailures or in a batch whose invocation raised (each returns after the
        # visibility timeout), and direct invocations (Step Functions tasks, schedules) that raised.
        self.retried: Counter[str] = Counter()

    def count_retried(self, key: str, n: int = 1) -> None:
        with self._count_lock:
            self.retried[key] += n

    def _entry(self, key: str) -> tuple[str, str]:
        fn = self.topology.function(key)
        module, _, attr = fn.handler.rpartition(".")
        return str(REPO_ROOT / "functions" / (module.replace(".", "/") + ".py")), attr

    def pool(self, key: str):
        with self._import_lock:
            if key not in self._pools:
                from shangjia.localcloud.sandboxes import SandboxPool

                path, attr = self._entry(key)
                self._pools[key] = SandboxPool(key, path, attr, dict(os.environ))
            return self._pools[key]

    def close(self) -> None:
        """Stop every worker process (the local cloud is stopping)."""
        with self._import_lock:
            pools, self._pools = list(self._pools.values()), {}
        for p in pools:
            p.close()

    def handler(self, key: str):
        with self._import_lock:
            if key not in self._handlers:
                path, attr = self._entry(key)
                spec = importlib.util.spec_from_file_location(f"shangjia_fn_{key}", path)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                self._handlers[key] = getattr(mod, attr)
            return self._handlers[key]

    def invoke(self, key: str, event: dict[str, Any], *, acquire: bool = True, count_failure: bool = True) -> Any:
        """Invoke synchronously; raise ``InvocationError`` with Lambda's error payload on failure.
        ``count_failure``: count a failure in ``retried`` (an SQS poller counts its records instead)."""
        fn: Function = self.topology.function(key)
        sem = self.semaphores[key]
        if acquire:
            sem.acquire()
        with self._count_lock:
            self.in_flight += 1
        ctx = Context(function_name=f"shangjia-{key}", memory_limit_in_mb=fn.memory_mb,
                      invoked_function_arn=self.arns.get(key, key), deadline=time.monotonic() + fn.timeout_s,
                      aws_request_id=str(uuid.uuid4()))
        t0 = time.perf_counter()
        c0 = time.thread_time()
        error = False
        from shangjia.adapters.aws import caller

        outer = getattr(caller, "name", None)
        caller.name = key
        cpu = None
        try:
            if self.sandboxes:
                from shangjia.localcloud.sandboxes import SandboxError

                try:
                    answer = self.pool(key).invoke(event, timeout_s=fn.timeout_s, context={   # sent as JSON: a copy
                        "function_name": ctx.function_name, "memory_limit_in_mb": ctx.memory_limit_in_mb,
                        "invoked_function_arn": ctx.invoked_function_arn, "aws_request_id": ctx.aws_request_id})
                except SandboxError as e:
                    answer = {"ok": False, "payload": e.payload, "traceback": e.payload["errorMessage"]}
                cpu = answer.get("cpu_s")
                if not answer["ok"]:
                    error = True
                    self.errors.append((key, answer.get("traceback", "")))
                    if count_failure:
                        self.count_retried(key)
                    raise InvocationError(answer["payload"])
                return answer["result"]
            handler = self.handler(key)
            result = handler(json.loads(json.dumps(event)), ctx)
            return json.loads(json.dumps(result)) if result is not None else None
        except InvocationError:
            raise
        except Exception as e:  # noqa: BLE001 — Lambda turns any exception into an error payload
            error = True
            self.errors.append((key, traceback.format_exc(limit=8)))
            if count_failure:
                self.count_retried(key)
            raise InvocationError({"errorMessage": str(e), "errorType": type(e).__name__,
                                   "stackTrace": traceback.format_exc(limit=5).splitlines()}) from e
        finally:
            caller.name = outer
            if cpu is None:
                cpu = time.thread_time() - c0
            self.meter.invocation(key, time.perf_counter() - t0, cpu, fn.memory_mb, error)
            with self._count_lock:
                self.in_flight -= 1
            if acquire:
                sem.release()

    def hook_moto(self, function_names: dict[str, str]) -> None:
        """Make moto's Lambda run our handler in process (moto would need Docker). Private API:
        moto is pinned and ``tests/integration/test_localcloud_hook.py`` guards this hook."""
        from moto.awslambda.models import LambdaFunction

        by_name = {name: key for key, name in function_names.items()}
        runtime = self

        def _invoke_lambda(self, event=None):  # noqa: ANN001 — moto's signature
            key = by_name.get(self.function_name)
            if key is None:
                return json.dumps({"errorMessage": f"unknown function {self.function_name}"}), True, ""
            payload = json.loads(event) if isinstance(event, str) else (event or {})
            try:
                result = runtime.invoke(key, payload)
            except InvocationError as e:
                return json.dumps(e.payload), True, ""
            return json.dumps(result), False, ""

        LambdaFunction._invoke_lambda = _invoke_lambda


def patch_moto_task_failure_cause() -> None:
    """moto 5.2.5's SendTaskFailure handler drops ``cause`` (its backend accepts it); AWS delivers
    it to the Catch's ResultPath, and rejections carry their reason codes there. Private API,
    guarded by tests/e2e/test_review.py (the rejection's reasons must arrive)."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self):
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause"))
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def patch_moto_s3_event_version() -> None:
    """moto 5.2.5's S3 notifications carry the key, size and eTag only. AWS adds ``sequencer``
    always and ``versionId`` when the bucket is versioned, and ingest keys a batch on the version:
    without it a retried PutObject of the same bytes (a new version on AWS, the same eTag here)
    would look like a duplicate event locally while AWS runs it as a new upload. Private API,
    guarded by tests/e2e/test_reupload.py (a second PutObject arrives as a new version)."""
    from moto.s3 import notifications

    original = getattr(notifications._get_s3_event, "__wrapped__", notifications._get_s3_event)

    def _get_s3_event(event_name, bucket, key, notification_id):
        event = original(event_name, bucket, key, notification_id)
        obj = event["Records"][0]["s3"]["object"]
        if getattr(bucket, "is_versioned", False) and getattr(key, "version_id", None) not in (None, "null"):
            obj["versionId"] = key.version_id
        # a hex string that grows with each event for a key, as AWS's does
        obj["sequencer"] = f"{int(time.time_ns()):016X}"
        return event

    _get_s3_event.__wrapped__ = original
    notifications._get_s3_event = _get_s3_event


def patch_moto_sfn_clients() -> None:
    """moto's Step Functions interpreter builds a new boto3 client for every Lambda task and every
    ``sqs:sendMessage.waitForTaskToken`` it runs (``boto_client_for``): a client costs the emulator
    process milliseconds of CPU (loading and wiring the service model), under the GIL every
    handler's requests wait on. One client per (region, service, endpoint) is kept instead (boto3
    clients are thread-safe); the requests they send are the same. Private API, guarded by
    tests/integration/test_localcloud_wakeups.py and the e2e review tests (tests/e2e/test_review.py)."""
    import importlib

    from moto.stepfunctions.parser.asl.utils import boto_client

    original = getattr(boto_client.boto_client_for, "__wrapped__", boto_client.boto_client_for)
    cache: dict[tuple, Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with lock:
            client = cache.get(key)
        if client is None:
            client = original(region, service, state_credentials)
            with lock:
                client = cache.setdefault(key, client)
        return client

    boto_client_for.__wrapped__ = original
    boto_client.boto_client_for = boto_client_for
    for name in ("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
                 "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
                 "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
                 "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
                 "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb"):
        module = importlib.import_module(name)
        if getattr(module, "boto_client_for", None) is not None:
            module.boto_client_for = boto_client_for


def patch_moto_sfn_parse_once() -> None:
    """moto's interpreter parses the state machine's definition (ANTLR, in Python: ~30 ms of the
    emulator's CPU for review_auto) at the start of every execution. Each definition is parsed
    once now and every execution evaluates its own deep copy of that program (~1.5 ms): the
    components carry no execution state (that lives in the execution's ``Environment``), and a
    copy shares nothing with the next execution's anyway. Private API, guarded by
    tests/integration/test_localcloud_wakeups.py and the e2e review tests."""
    import copy

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = getattr(ExecutionWorker._get_evaluation_entrypoint, "__wrapped__",
                       ExecutionWorker._get_evaluation_entrypoint)
    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def _get_evaluation_entrypoint(self):
        definition = self._evaluation_details.state_machine_details.definition
        if not isinstance(definition, str):
            return original(self)
        with lock:
            program = programs.get(definition)
        if program is None:
            program = original(self)            # parse errors raise here, as before
            with lock:
                program = programs.setdefault(definition, program)
        return copy.deepcopy(program)

    _get_evaluation_entrypoint.__wrapped__ = original
    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint


def patch_moto_sfn_jsonpath_once() -> None:
    """moto's interpreter compiles a JSONPath (``jsonpath_ng``: a PLY parser built per call) every
    time it evaluates one: each Parameters binding, InputPath and ResultPath of every state of
    every execution. Each path text is compiled once now; a compiled path is not changed by
    ``find`` or ``update_or_create`` (they change the data). Private API, guarded by
    tests/integration/test_localcloud_wakeups.py and the e2e review tests."""
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        parse = getattr(module.parse, "__wrapped__", module.parse)
        cached = functools.lru_cache(maxsize=4096)(parse)
        cached.__wrapped__ = parse
        module.parse = cached


_WAKE_LOCK = threading.Lock()
_WAKE: dict[str, list[threading.Event]] = {}      # queue name -> the events of the pollers of that queue


def wake_event(queue_name: str) -> threading.Event:
    """An event set whenever a message is added to ``queue_name`` (``patch_moto_sqs_wakeups``):
    what an event source mapping's poller waits on when the queue is empty."""
    event = threading.Event()
    with _WAKE_LOCK:
        _WAKE.setdefault(queue_name, []).append(event)
    return event


def drop_wake_event(queue_name: str, event: threading.Event) -> None:
    with _WAKE_LOCK:
        events = _WAKE.get(queue_name, [])
        if event in events:
            events.remove(event)


def patch_moto_sqs_wakeups() -> None:
    """Lambda's pollers long-poll SQS: a message sent to an empty queue reaches its function at
    once. Ours cannot hold a long poll open (the middleware serializes SQS requests, and moto's
    wait loop would hold that lock), so they waited a backoff of up to 0.3 s per hop, about nine
    hops per product, while asking moto two to fifty times a second per queue for nothing (#13).
    moto's ``Queue.add_message`` (every send, batch entry and DLQ move runs through it) now also
    sets the events of that queue's pollers, which wait on them instead. Private API, guarded by
    tests/integration/test_localcloud_wakeups.py."""
    from moto.sqs.models import Queue

    original = getattr(Queue.add_message, "__wrapped__", Queue.add_message)

    def add_message(self, message) -> None:
        original(self, message)
        with _WAKE_LOCK:
            events = list(_WAKE.get(self.name, ()))
        for e in events:
            e.set()

    add_message.__wrapped__ = original
    Queue.add_message = add_message


class SqsPoller(threading.Thread):
    """One event source mapping: an SQS queue feeding one function."""

    def __init__(self, runtime: LambdaRuntime, sqs, fn: Function, trigger: SqsTrigger, queue_url: str,
                 queue_arn: str, region: str, stop: threading.Event) -> None:
        super().__init__(name=f"esm-{trigger.queue}->{fn.key}", daemon=True)
        self.runtime, self.sqs, self.fn, self.trigger = runtime, sqs, fn, trigger
        self.url, self.arn, self.region, self.stop_event = queue_url, queue_arn, region, stop
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"fn-{fn.key}")
        # The ESM's maximum concurrency (ScalingConfig.MaximumConcurrency on AWS): how many
        # invocations this mapping drives at once, within the function's own (reserved) bound.
        cap = trigger.max_concurrency or runtime.concurrency[fn.key]
        self.esm_semaphore = threading.BoundedSemaphore(max(1, cap))
        self.busy = 0
        from shangjia.adapters.aws import CALLER_HEADER

        self._emulator = threading.local()

        def tag(request, **_kw):   # Lambda's pollers bill to the function they feed
            emulator = getattr(self._emulator, "on", False)   # the in-flight keeper has no AWS cost
            request.headers[CALLER_HEADER] = "emulator" if emulator else f"esm:{fn.key}"

        sqs.meta.events.register("before-sign", tag)

    def _receive(self, n: int) -> list[dict[str, Any]]:
        # Received with a long hold (the function's timeout on AWS is at most the visibility
        # timeout, so a running invocation never sees its records again); a starved keeper
        # thread on a loaded machine can no longer let them reappear mid-invocation.
        r = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, n), WaitTimeSeconds=0,
                                     VisibilityTimeout=self._hold_s(),
                                     AttributeNames=["All"], MessageAttributeNames=["All"])
        return r.get("Messages", [])

    # An empty queue is asked again when a message is added to it (``wake_event``), or after this
    # backoff at the latest (0.05 s doubling to 0.5 s): messages that become visible without a
    # send (a failed record's visibility timeout, a DelaySeconds re-send) wake no one.
    IDLE_MIN_S, IDLE_MAX_S = 0.05, 0.5
    GATHER_S = 0.05

    def run(self) -> None:
        idle = self.IDLE_MIN_S
        sem = self.runtime.semaphores[self.fn.key]
        esm = self.esm_semaphore
        wake = wake_event(self.url.rsplit("/", 1)[-1])
        try:
            while not self.stop_event.is_set():
                if not esm.acquire(timeout=0.2):
                    continue
                if not sem.acquire(timeout=0.2):
                    esm.release()
                    continue
                try:
                    wake.clear()        # a send after this sets it again: no message is missed
                    msgs = self._receive(self.trigger.batch_size)
                    if msgs and self.trigger.batching_window_s and len(msgs) < self.trigger.batch_size:
                        # the batching window (at most 0.25 s here): more messages as they are sent,
                        # gathered GATHER_S after a send wakes the poller (one receive for a burst of
                        # sends, where a receive per send cost a request per message)
                        deadline = time.monotonic() + min(self.trigger.batching_window_s, 0.25)
                        while len(msgs) < self.trigger.batch_size:
                            if not wake.wait(max(0.0, deadline - time.monotonic())):
                                break               # the window ended without another send
                            time.sleep(min(self.GATHER_S, max(0.0, deadline - time.monotonic())))
                            wake.clear()
                            msgs += self._receive(self.trigger.batch_size - len(msgs))
                            if time.monotonic() >= deadline:
                                break
                except Exception:  # noqa: BLE001 — the emulator shutting down
                    sem.release()
                    esm.release()
                    if self.stop_event.is_set():
                        return
                    time.sleep(0.2)
                    continue
                if not msgs:
                    sem.release()
                    esm.release()
                    if wake.wait(idle):
                        idle = self.IDLE_MIN_S
                    else:
                        idle = min(idle * 2, self.IDLE_MAX_S)
                    continue
                idle = self.IDLE_MIN_S
                self.busy += 1
                self.pool.submit(self._deliver, msgs, sem)
        finally:
            drop_wake_event(self.url.rsplit("/", 1)[-1], wake)

    def _hold_s(self) -> int:
        return max(30, 10 * max(1, int(self._visibility_s())))

    def _keep_invisible(self, msgs: list[dict[str, Any]]) -> threading.Event:
        """While an invocation runs its messages stay invisible, as on AWS, where the queue's
        visibility timeout is at least the function's timeout. Locally the timeout is 1-2 s so that
        failed records return quickly; the records are received with a long hold (`_hold_s`) and
        this keeper renews it well before it lapses, for invocations that outlast even that."""
        done = threading.Event()
        hold = self._hold_s()

        def keep() -> None:
            self._emulator.on = True
            while not done.wait(hold / 3):
                try:
                    self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": hold}
                        for i, m in enumerate(msgs)])
                except Exception:  # noqa: BLE001 — the emulator shutting down
                    return

        threading.Thread(target=keep, name=f"vis-{self.fn.key}", daemon=True).start()
        return done

    def _release(self, msgs: list[dict[str, Any]]) -> None:
        """Failed records come back after the queue's own (short) visibility timeout, as on AWS,
        not after the in-flight hold. Emulator upkeep: not an AWS request."""
        vt = max(1, int(self._visibility_s()))
        self._emulator.on = True
        try:
            self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": vt}
                for i, m in enumerate(msgs)])
        finally:
            self._emulator.on = False

    def _visibility_s(self) -> float:
        if getattr(self, "_vt", None) is None:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["VisibilityTimeout"])
            self._vt = float(attrs["Attributes"]["VisibilityTimeout"])
        return self._vt

    def _deliver(self, msgs: list[dict[str, Any]], sem) -> None:
        counted = 0
        try:
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs", "eventSourceARN": self.arn,
                "awsRegion": self.region} for m in msgs]}
            keeper = self._keep_invisible(msgs)
            try:
                result = self.runtime.invoke(self.fn.key, event, acquire=False, count_failure=False) or {}
                failed_ids = {f.get("itemIdentifier") for f in result.get("batchItemFailures", [])}
                ids = {m["MessageId"] for m in msgs}
                if not failed_ids <= ids:   # Lambda treats a malformed response as a whole-batch failure
                    failed_ids = ids
            except InvocationError:
                failed_ids = {m["MessageId"] for m in msgs}
            finally:
                keeper.set()
            if failed_ids:        # each comes back after the visibility timeout: a retry
                counted = len(failed_ids)
                self._release([m for m in msgs if m["MessageId"] in failed_ids])
                self.runtime.count_retried(self.fn.key, counted)
            done = [m for m in msgs if m["MessageId"] not in failed_ids]
            if done:
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        except Exception:  # noqa: BLE001 — never let a poller die; the messages will reappear
            self.runtime.errors.append((self.fn.key, traceback.format_exc(limit=8)))
            if len(msgs) > counted:     # the rest were not deleted either: they come back too
                self.runtime.count_retried(self.fn.key, len(msgs) - counted)
        finally:
            self.busy -= 1
            sem.release()
            self.esm_semaphore.release()
