from __future__ import annotations

from dataclasses import dataclass, field

from shangjia.clock import SystemClock
from shangjia.pipeline.config import ConfigCache
from shangjia.ports import Blobs, Clock, Notifier, Queues, Secrets, Store, Workflows


@dataclass
class Deps:
    store: Store
    queues: Queues | None = None
    blobs: Blobs | None = None
    workflows: Workflows | None = None
    clock: Clock = field(default_factory=SystemClock)
    # settings and the banned-term list ops change without a deploy, read at most once a minute
    config: ConfigCache = field(default_factory=ConfigCache)
    # channel shops' credentials (shangjia/shops/<merchant>/<channel>; shangjia.channels.credentials)
    secrets: Secrets | None = None
    # the batch notices' topic (SNS); None: notices are recorded in the table only (pipeline/notices.py)
    notifier: Notifier | None = None


def aws_deps() -> Deps:
    """The AWS-backed bundle every handler uses (built lazily, once per container)."""
    from shangjia.adapters.aws import (DynamoStore, S3Blobs, SecretsManagerSecrets, SnsNotifier, SqsQueues,
                                       StepFunctions)

    return Deps(store=DynamoStore(), queues=SqsQueues(), blobs=S3Blobs(), workflows=StepFunctions(),
                secrets=SecretsManagerSecrets(), notifier=SnsNotifier())
