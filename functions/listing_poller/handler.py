"""EventBridge schedule -> listing_poller: the fallback for audit verdicts whose callback has not
arrived ``SHANGJIA_AUDIT_POLL_AFTER_S`` after the listing went into audit (a lost push): the
listing is looked up on the platform by its id; and products still publishing whose listings all
settled are settled (pipeline/publish.poll_audits)."""

from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.pipeline.publish import poll_audits


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    counts = poll_audits(deps())
    logger.info("polled listings in audit", extra=counts)
    return counts
