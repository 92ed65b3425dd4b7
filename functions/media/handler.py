"""Media queue -> media: one image per message; the product's last image starts its review."""

from shangjia.lambda_kit import receive_count, sqs_batch_handler
from shangjia.pipeline.media import process_media_message

lambda_handler = sqs_batch_handler(
    lambda deps, body, record: process_media_message(deps, body, receive_count=receive_count(record)))
