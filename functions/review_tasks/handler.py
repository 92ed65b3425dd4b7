"""Review-task queue -> review_tasks: a manual stage's task token becomes a review task."""

from shangjia.lambda_kit import sqs_batch_handler
from shangjia.pipeline.review import record_task

lambda_handler = sqs_batch_handler(lambda deps, body, record: record_task(deps, body))
