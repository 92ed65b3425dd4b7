"""EventBridge schedule -> stock_reconcile: every live listing's stock on its channel (read
through the platform's product API) against the ledger; drifted SKUs are set again. Idempotent:
a second run repairs nothing."""

from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.stock.sync import reconcile


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    out = reconcile(deps())
    logger.info("stock reconciled", extra={k: v for k, v in out.items() if k != "repaired"})
    return {k: v for k, v in out.items() if k != "repaired"} | {"repaired": len(out["repaired"])}
