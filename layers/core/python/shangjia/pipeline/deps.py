from __future__ import annotations

from dataclasses import dataclass, field

from shangjia.clock import SystemClock
from shangjia.ports import Blobs, Clock, Queues, Store, Workflows


@dataclass
class Deps:
    store: Store
    queues: Queues | None = None
    blobs: Blobs | None = None
    workflows: Workflows | None = None
    clock: Clock = field(default_factory=SystemClock)


def aws_deps() -> Deps:
    """The AWS-backed bundle every handler uses (built lazily, once per container)."""
    from shangjia.adapters.aws import DynamoStore, S3Blobs, SqsQueues, StepFunctions

    return Deps(store=DynamoStore(), queues=SqsQueues(), blobs=S3Blobs(), workflows=StepFunctions())
