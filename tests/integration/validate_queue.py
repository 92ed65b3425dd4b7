"""Messages the ingest tests read back from the validate queues on moto."""

import json

import boto3


def drain_validate(aws) -> list[dict]:
    """Every message on the validate queues (deleted as read), as the bodies ingest sent."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    out = []
    for q in ("validate", "validate_priority"):
        while msgs := sqs.receive_message(QueueUrl=aws.queues[q], MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(QueueUrl=aws.queues[q], Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out
