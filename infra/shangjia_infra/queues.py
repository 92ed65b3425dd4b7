"""The topology's queues, each with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shangjia.topology import Topology

from .settings import camel


class Queues(Construct):
    """Every queue gets a DLQ (redrive after the declared max_receive_count), SQS-managed SSE,
    a TLS-only policy, and a visibility timeout of ``topology.visibility_timeout(key)`` (six
    times its consumer's timeout, so a message is never redelivered while still being worked)."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology) -> None:
        super().__init__(scope, id)
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        for q in topology.queues:
            dlq = sqs.Queue(
                self, camel(q.dlq_key),
                fifo=q.fifo or None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),   # the maximum: time to look and redrive
            )
            queue = sqs.Queue(
                self, camel(q.key),
                fifo=q.fifo or None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(topology.visibility_timeout(q.key)),
                retention_period=Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=q.max_receive_count),
            )
            self.queues[q.key] = queue
            self.dlqs[q.key] = dlq
