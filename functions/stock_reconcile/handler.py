"""EventBridge schedule -> stock_reconcile: a slice of the live listings' stock on their channels
(read through the platform's product API) against the ledger; drifted SKUs are set again. Each run
takes the next ``SHANGJIA_RECONCILE_LEVELS`` levels (default 5,000) after where the last one
stopped and stops early with time to spare; the slices cycle through the catalog
(``shangjia.stock.sync.reconcile``). Idempotent: a second run repairs nothing."""

import os

from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.stock.sync import reconcile

DEFAULT_LEVELS = 5000


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    out = reconcile(deps(), max_levels=int(os.environ.get("SHANGJIA_RECONCILE_LEVELS") or DEFAULT_LEVELS),
                    seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("stock reconciled", extra={k: v for k, v in out.items() if k != "repaired"})
    return {k: v for k, v in out.items() if k != "repaired"} | {"repaired": len(out["repaired"])}
