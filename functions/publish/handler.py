"""Channel queues -> publish: one (product, channel) listing per message, through the channel
port (shangjia.channels): quota-aware, idempotent, retried by SQS (pipeline/publish.py)."""

from shangjia.lambda_kit import sqs_batch_handler
from shangjia.pipeline.publish import publish_message

lambda_handler = sqs_batch_handler(lambda deps, body, record: publish_message(deps, body))
