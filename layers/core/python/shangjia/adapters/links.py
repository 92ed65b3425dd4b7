"""boto3 implementations of the API's ports (``shangjia.api.ports``): short-lived S3 links
(presigned POST for uploads, presigned GET for reports, previews and the template), listing a
prefix, and the dead-letter queues' depth and redrive (also what ``shangjia redrive`` runs).

Signing a link is local (no request to AWS); the link works only as far as the function's role
may do what it names: the upload link needs ``s3:PutObject`` on the drop bucket, a download link
``s3:GetObject`` on its bucket. See the api function's grants in ``topology.py``.
"""

from __future__ import annotations

from typing import Any

from shangjia.adapters.aws import _code, client, resource_name
from shangjia.limits import sqs_batches
from shangjia.topology import TOPOLOGY


class S3Links:
    def presign_post(self, bucket_key: str, key: str, *, max_bytes: int, metadata: dict[str, str],
                     expires_s: int) -> dict[str, Any]:
        fields = {f"x-amz-meta-{k}": v for k, v in metadata.items()}
        conditions: list[Any] = [["content-length-range", 1, int(max_bytes)]]
        conditions += [{k: v} for k, v in fields.items()]
        out = client("s3").generate_presigned_post(Bucket=resource_name("bucket", bucket_key), Key=key,
                                                   Fields=fields, Conditions=conditions, ExpiresIn=int(expires_s))
        return {"url": out["url"], "fields": dict(out["fields"])}

    def presign_get(self, bucket_key: str, key: str, *, expires_s: int, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": resource_name("bucket", bucket_key), "Key": key}
        if filename:
            from urllib.parse import quote

            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_s))

    def list_keys(self, bucket_key: str, prefix: str) -> list[str]:
        pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=resource_name("bucket", bucket_key),
                                                                       Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def exists(self, bucket_key: str, key: str) -> bool:
        try:
            client("s3").head_object(Bucket=resource_name("bucket", bucket_key), Key=key)
            return True
        except Exception as e:  # noqa: BLE001
            if _code(e) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise


def dlq_depth(url: str) -> int:
    a = client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    attrs = a.get("Attributes", {})
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))


def move_messages(src_url: str, dlq_url: str, max_messages: int) -> int:
    """Move up to ``max_messages`` from a dead-letter queue back to its source queue (sent first,
    then deleted: a crash in between sends a message twice, and every consumer is idempotent)."""
    sqs = client("sqs")
    moved = 0
    while moved < max_messages:
        msgs = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=min(10, max_messages - moved),
                                   WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            break
        # ten messages may be up to 10 MiB: sent back in requests under SQS's byte budget
        for chunk in sqs_batches(m["Body"] for m in msgs):
            sqs.send_message_batch(QueueUrl=src_url, Entries=[{"Id": str(i), "MessageBody": body}
                                                               for i, body in enumerate(chunk)])
        sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                             for i, m in enumerate(msgs)])
        moved += len(msgs)
    return moved


class SqsDeadLetters:
    """Every topology queue's DLQ, by the queue's key (``SHANGJIA_QUEUE_<KEY>_DLQ``)."""

    def depths(self) -> dict[str, int]:
        return {q.key: dlq_depth(resource_name("queue", q.dlq_key)) for q in TOPOLOGY.queues}

    def redrive(self, queue_key: str, max_messages: int) -> int:
        q = TOPOLOGY.queue(queue_key)
        return move_messages(resource_name("queue", q.key), resource_name("queue", q.dlq_key), max_messages)
