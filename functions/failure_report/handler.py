"""EventBridge schedule (Mondays 01:00 UTC) -> failure_report: the week that just ended, grouped
by cause, category, merchant and channel, written as weekly/YYYY-Www.json and .xlsx. A run with
``detail.week`` ("2026-W47") reports that week instead (a re-run rewrites the same keys)."""

from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.pipeline.failures import write_weekly


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    week = ((event or {}).get("detail") or {}).get("week")
    out = write_weekly(deps(), week)
    totals = out["report"]["totals"]
    logger.info("weekly failure report written", extra={"week": out["week"], "json_key": out["json_key"],
                                                        "failures": totals["failures"]})
    return {"week": out["week"], "json_key": out["json_key"], "xlsx_key": out["xlsx_key"],
            "failures": totals["failures"], "previous": totals["previous"]}
