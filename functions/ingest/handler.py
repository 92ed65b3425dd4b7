"""Intake queue -> ingest: S3 ObjectCreated events of the drop bucket become batches."""

from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shangjia.lambda_kit import deps
from shangjia.observability import correlate, logger
from shangjia.pipeline.ingest import Upload, ingest_message


def record_handler(record: SQSRecord, lambda_context) -> None:
    body = record.json_body
    if body.get("Event") == "s3:TestEvent":       # sent once when the notification is configured
        return
    for r in S3Event(body).records:
        obj = r.s3.get_object
        # Keys arrive URL-encoded ("+" for space, %E4.. for Chinese); decode explicitly.
        up = Upload(bucket=r.s3.bucket.name, key=unquote_plus(obj["key"]), size=int(obj.size or 0),
                    version=obj.get("versionId") or obj.get("eTag") or obj.get("sequencer"))
        correlate(object_key=up.key)
        out = ingest_message(deps(), up, time_left_ms=lambda_context.get_remaining_time_in_millis)
        logger.info("ingest", extra={"action": out.action, "batch_id": out.batch_id,
                                     "products_sent": out.products_sent, "reason": out.reason})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
