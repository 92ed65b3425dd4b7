"""Media queue -> media: one image per message, a batch's files of one product recorded in one
write; the product's last image starts its review."""

from shangjia.lambda_kit import sqs_group_handler
from shangjia.pipeline.media import process_media_batch

lambda_handler = sqs_group_handler(process_media_batch)
