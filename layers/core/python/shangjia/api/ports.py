"""What the API needs beyond the pipeline's ports: short-lived links to S3 objects, and the
dead-letter queues. boto3 implementations in ``shangjia.adapters.links``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shangjia.pipeline.deps import Deps


class Links(Protocol):
    def presign_post(self, bucket_key: str, key: str, *, max_bytes: int, metadata: dict[str, str],
                     expires_s: int) -> dict[str, Any]:
        """``{"url", "fields"}``: a form POST that may put exactly ``key``, at most ``max_bytes``,
        with exactly that user metadata (``x-amz-meta-<name>``)."""
        ...

    def presign_get(self, bucket_key: str, key: str, *, expires_s: int, filename: str | None = None) -> str: ...
    def list_keys(self, bucket_key: str, prefix: str) -> list[str]: ...
    def exists(self, bucket_key: str, key: str) -> bool: ...


class DeadLetters(Protocol):
    def depths(self) -> dict[str, int]:
        """Messages in each topology queue's DLQ, by the queue's key."""
        ...

    def redrive(self, queue_key: str, max_messages: int) -> int:
        """Move up to ``max_messages`` back to the source queue; the number moved."""
        ...


@dataclass
class ApiDeps:
    deps: Deps
    links: Links
    dead_letters: DeadLetters

    @property
    def store(self):
        return self.deps.store
