"""Intake queue -> ingest: S3 ObjectCreated events of the drop bucket become batches."""

from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shangjia.lambda_kit import deps
from shangjia.observability import correlate, logger
from shangjia.pipeline.ingest import Upload, intake_record


def record_handler(record: SQSRecord, lambda_context, taken: list | None = None) -> None:
    """``taken``: the uploads this invocation works on (one; the rest of the batch's sheets are
    queued again, ``intake_record``)."""
    taken = [] if taken is None else taken
    body = record.json_body
    if body.get("Event") == "s3:TestEvent":       # sent once when the notification is configured
        return
    for r in S3Event(body).records:
        obj = r.s3.get_object
        # Keys arrive URL-encoded ("+" for space, %E4.. for Chinese); decode explicitly.
        up = Upload(bucket=r.s3.bucket.name, key=unquote_plus(obj["key"]), size=int(obj.size or 0),
                    version=obj.get("versionId") or obj.get("eTag") or obj.get("sequencer"))
        correlate(object_key=up.key)
        out = intake_record(deps(), up, time_left_ms=lambda_context.get_remaining_time_in_millis, busy=bool(taken))
        if out.action not in ("ignored", "requeued"):
            taken.append(up.key)
        if out.action != "ignored":           # ten images a batch: not a log line each
            logger.info("ingest", extra={"action": out.action, "batch_id": out.batch_id,
                                         "products_sent": out.products_sent, "reason": out.reason})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    taken: list = []
    return process_partial_response(event=event, record_handler=lambda record: record_handler(record, context, taken),
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
