"""The review state machine's Lambda tasks: {"action": ..., "merchant_id", "spu_code", "batch_id", ...}."""

from shangjia.lambda_kit import deps
from shangjia.observability import correlate, logger
from shangjia.pipeline.merchants import invocation_memo
from shangjia.pipeline.review import run_step


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    correlate(batch_id=event.get("batch_id"), spu_code=event.get("spu_code"), merchant_id=event.get("merchant_id"),
              action=event.get("action"))
    with invocation_memo():                 # a warm container's profile reads (merchants.py)
        return run_step(deps(), event)
