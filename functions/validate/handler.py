"""Validate queues (normal and priority lane) -> validate: one product per message."""

from shangjia.lambda_kit import sqs_batch_handler
from shangjia.pipeline.validate import validate_message

lambda_handler = sqs_batch_handler(lambda deps, body, record: validate_message(deps, body))
