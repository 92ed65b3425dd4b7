"""The local cloud behaves like Lambda + SQS where it matters: partial batch failures, redrive
to the DLQ after maxReceiveCount, and Step Functions Lambda tasks running our real handlers."""

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def test_moto_lambda_hook_runs_the_real_handler(cloud):
    """Guards the private moto API we hook (LambdaFunction._invoke_lambda): moto is pinned."""
    lam = cloud.client("lambda")
    r = lam.invoke(FunctionName=cloud.resources.functions["review_step"],
                   Payload=json.dumps({"action": "no_such_step", "merchant_id": "m", "spu_code": "p",
                                       "batch_id": "b"}).encode())
    assert r.get("FunctionError")
    payload = json.loads(r["Payload"].read())
    assert payload["errorType"] == "ValueError" and "no_such_step" in payload["errorMessage"]


def test_one_bad_record_goes_to_the_dlq_and_its_batch_mates_are_processed(cloud, deps):
    from shangjia.pipeline import keys, review

    sqs = cloud.client("sqs")
    tasks_q = cloud.resources.queues["review_tasks"]
    good = {"stage": "pre", "escalated": False, "task_token": "tok-1", "execution": "arn:exec:dlq-test",
            "merchant_id": "m-dlq", "spu_code": "P-OK", "batch_id": "b-dlq"}
    bad = {"stage": "pre"}     # missing every key a review task needs: a poison message
    sqs.send_message_batch(QueueUrl=tasks_q, Entries=[
        {"Id": "1", "MessageBody": json.dumps(good)}, {"Id": "2", "MessageBody": json.dumps(bad)},
        {"Id": "3", "MessageBody": json.dumps(good)}])      # a duplicate delivery of the good one
    dlq = cloud.resources.queues["review_tasks_dlq"]

    def dlq_depth():
        a = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"])

    assert cloud.wait_until(lambda: dlq_depth() == 1, timeout_s=60), "the poison message never reached the DLQ"
    # The good record names a product that does not exist: its automated checks reject it at once.
    tasks = [t for t in review.list_tasks(deps, "pre", "auto_rejected") if t["merchant_id"] == "m-dlq"]
    assert len(tasks) == 1, "the good record must be processed once despite the duplicate and the bad neighbour"
    body = json.loads(sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"])
    assert body == bad
    task = deps.store.get(*keys.task(tasks[0]["task_id"]))
    assert task["decision"]["reasons"] == ["PIPE_PRODUCT_GONE"] and task["expired"], \
        "the (fake) token was refused by Step Functions and the task says so"


def test_a_record_whose_invocation_outlasts_the_visibility_timeout_is_not_delivered_again(cloud, monkeypatch):
    """On AWS the queue's visibility timeout is at least the function's timeout, so a running
    invocation never sees its own records again. Locally the timeout is 1 s (fast retries); a slow
    invocation (a loaded machine) must still not be redelivered, counted and dead-lettered."""
    import threading

    runtime = cloud.runtime
    real_invoke = runtime.invoke
    seen: list[str] = []
    lock = threading.Lock()
    finished = threading.Event()

    def slow_invoke(key, event, **kw):
        if key == "review_tasks":
            bodies = [json.loads(r["body"]) for r in event.get("Records", [])]
            if any(b.get("slow_marker") for b in bodies):
                with lock:
                    seen.extend(r["messageId"] for r in event["Records"])
                threading.Event().wait(4.5)   # a slow handler: over four visibility timeouts
                finished.set()
                return {"batchItemFailures": []}
        return real_invoke(key, event, **kw)

    monkeypatch.setattr(runtime, "invoke", slow_invoke)
    sqs = cloud.client("sqs")
    q = cloud.resources.queues["review_tasks"]
    sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"slow_marker": True, "stage": "pre"}))
    assert cloud.wait_until(finished.is_set, timeout_s=60), "the slow invocation never finished"
    # a redelivery would have started a second (equally slow) invocation while the first ran
    dlq = cloud.resources.queues["review_tasks_dlq"]
    depth = int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
                ["Attributes"]["ApproximateNumberOfMessages"])
    assert len(seen) == 1, f"delivered {len(seen)} times while its first invocation was still running"
    assert depth == 0
    assert cloud.wait_until(lambda: not cloud.queue_depths()["review_tasks"], timeout_s=30)
