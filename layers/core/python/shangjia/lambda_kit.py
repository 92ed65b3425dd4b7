"""What every SQS-triggered handler shares: Powertools' BatchProcessor with partial batch
responses, one deps bundle per container, and correlation ids on the logs."""

from __future__ import annotations

import functools
from typing import Any, Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shangjia.observability import correlate, logger
from shangjia.pipeline.deps import Deps, aws_deps
from shangjia.pipeline.merchants import invocation_memo
from shangjia.ports import Transient


@functools.cache
def deps() -> Deps:
    return aws_deps()


def _correlate(body: Any, message_id: str) -> None:
    """The record's keys on the log lines that follow (a body that is not an object has none)."""
    if isinstance(body, dict):
        correlate(batch_id=body.get("batch_id"), spu_code=body.get("spu_code"),
                  merchant_id=body.get("merchant_id"), message_id=message_id)


def sqs_batch_handler(record_fn: Callable[[Deps, dict[str, Any], SQSRecord], Any]):
    """Build a Lambda handler that runs ``record_fn(deps, body, record)`` per message and reports
    only the failed ones back (``batchItemFailures``), so one bad record never fails its batch."""

    def record_handler(record: SQSRecord) -> Any:
        body = record.json_body
        _correlate(body, record.message_id)
        try:
            return record_fn(deps(), body, record)
        except Transient as e:
            logger.warning("record will be retried", extra={"reason": str(e)[:500]})
            raise
        except Exception:
            # Retried until maxReceiveCount, then dead-lettered: say why, with the record's keys.
            logger.exception("record failed")
            raise

    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        processor = BatchProcessor(event_type=EventType.SQS)
        with invocation_memo():             # a merchant's profile read once per invocation
            return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                            context=context)

    return lambda_handler


def sqs_group_handler(group_fn: Callable[[Deps, list[tuple[str, Any, int]]], dict[str, Any]]):
    """Build a Lambda handler for consumers that act on a batch as a whole (the media stage
    records a product's files in one write): ``group_fn(deps, [(message id, body, receive
    count)])`` returns each message's outcome or the exception that failed it; only the failed
    ones are reported back (``batchItemFailures``), as ``sqs_batch_handler`` does. (Powertools'
    BatchProcessor hands records over one at a time: it has no grouped mode.)"""

    @logger.inject_lambda_context(clear_state=True)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failed: list[str] = []
        items: list[tuple[str, Any, int]] = []
        for raw in event.get("Records") or []:
            record = SQSRecord(raw)
            try:
                items.append((record.message_id, record.json_body, receive_count(record)))
            except Exception:
                logger.exception("record failed", extra={"message_id": record.message_id})
                failed.append(record.message_id)
        with invocation_memo():
            outcomes = group_fn(deps(), items) if items else {}
        for message_id, body, _count in items:
            out = outcomes.get(message_id)
            if not isinstance(out, BaseException):
                continue
            _correlate(body, message_id)
            if isinstance(out, Transient):
                logger.warning("record will be retried", extra={"reason": str(out)[:500]})
            else:
                # Retried until maxReceiveCount, then dead-lettered: say why, with the record's keys.
                logger.error("record failed", exc_info=out)
            failed.append(message_id)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    return lambda_handler


def receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)
