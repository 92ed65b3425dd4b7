"""EventBridge schedule (every minute) -> publish_scheduler: products whose publishing window
(10:00-12:00 Asia/Shanghai) has opened go to their channels' queues."""

from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.pipeline.merchants import invocation_memo
from shangjia.pipeline.review import release_due


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    with invocation_memo():                 # a merchant's profile read once per run
        released = release_due(deps())
    logger.info("released scheduled products", extra={"released": released})
    return {"released": released}
