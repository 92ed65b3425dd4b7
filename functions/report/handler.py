"""Reports queue -> report: a big batch's merchant report (workbook + JSON twin), exactly once."""

from shangjia.lambda_kit import sqs_batch_handler
from shangjia.pipeline.batches import report_message

lambda_handler = sqs_batch_handler(lambda deps, body, record: report_message(deps, body, record.message_id))
