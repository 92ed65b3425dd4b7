"""Business metrics, as CloudWatch embedded metric format (EMF) through Powertools Metrics.

Namespace ``Shangjia``. Every data point is flushed at once as one EMF log line (the Lambda's log
group turns it into a metric; nothing calls CloudWatch). Dimensions are kept low-cardinality:
only ``channel``, ``stage``, ``code``, ``outcome``, ``decision`` and ``kind`` — never a merchant,
batch, SPU or SKU id (those are on the log lines, not on metrics). Powertools' per-function
``service`` dimension is left off, so a metric emitted by several functions (a product published by
``publish``, ``channel_callback`` or ``listing_poller``) is one series the dashboard can show.

| metric | unit | dimensions | emitted when |
|---|---|---|---|
| ProductsValidated | Count | outcome (valid, invalid) | validate stored a product's result |
| ProductsRejected | Count | code | a failure settled: once per error code it carries |
| ProductsSettled | Count | outcome | a product settled in its batch (batches.OUTCOMES) |
| ProductsReviewed | Count | stage, decision | a reviewer's decision was applied |
| ProductsPublished | Count | channel | a product was published: once per channel it went to |
| ProductsFailed | Count | channel | a failure settled: once per channel it names (``-``: none) |
| StageLatency | Milliseconds | stage | a product left a status: the time it spent there |
| ReviewSlaBreaches | Count | stage | a review task ran past its SLA and was escalated to ops |
| BatchNotices | Count | kind | a batch notice was sent |
"""

from __future__ import annotations

from typing import Any, Mapping

NAMESPACE = "Shangjia"
DIMENSIONS = frozenset({"channel", "stage", "code", "outcome", "decision", "kind"})
COUNT, MILLISECONDS = "Count", "Milliseconds"


def enabled() -> bool:
    """EMF is a Lambda log line: written inside Lambda (``AWS_LAMBDA_FUNCTION_NAME``), or where
    ``SHANGJIA_METRICS=emf`` asks for it (tests). The CLI and the local cloud, whose handlers share
    the terminal with the demo's output and the CLI's JSON, write none."""
    import os

    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) or os.environ.get("SHANGJIA_METRICS") == "emf"


def emit(name: str, value: float = 1, unit: str = COUNT, **dimensions: Any) -> None:
    """One data point, flushed now. Unknown dimension names are a programming error."""
    wrong = set(dimensions) - DIMENSIONS
    if wrong:
        raise ValueError(f"metric {name}: dimension(s) {sorted(wrong)} are not allowed (high cardinality?)")
    if not enabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="")   # "": no service dimension
    provider.add_metric(name=name, unit=MetricUnit(unit), value=value)
    for k, v in sorted(dimensions.items()):
        provider.add_dimension(name=k, value=str(v or "-")[:64])
    provider.flush_metrics()


def _safe(fn):
    """Metrics never fail the work they describe."""
    def wrapper(*a: Any, **kw: Any) -> None:
        try:
            fn(*a, **kw)
        except Exception:  # noqa: BLE001
            from shangjia.observability import logger

            logger.warning("metric not emitted", exc_info=True)
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


@_safe
def product_validated(valid: bool) -> None:
    emit("ProductsValidated", outcome="valid" if valid else "invalid")


@_safe
def product_settled(outcome: str, item: Mapping[str, Any] | None) -> None:
    emit("ProductsSettled", outcome=outcome)
    item = item or {}
    if outcome == "published":
        for channel in sorted(item.get("channels_requested") or item.get("channels") or ["-"]):
            emit("ProductsPublished", channel=channel)
    if outcome in ("needs_fix", "rejected", "failed", "refused"):
        findings = [f for f in item.get("findings") or [] if isinstance(f, dict) and f.get("severity") == "error"]
        codes = sorted({str(f.get("code")) for f in findings if f.get("code")}) or ["FAILURE_STAGE_FAILED"]
        for code in codes:
            emit("ProductsRejected", code=code)
        channels = sorted({str((f.get("params") or {}).get("channel")) for f in findings
                           if (f.get("params") or {}).get("channel")}) or ["-"]
        for channel in channels:
            emit("ProductsFailed", channel=channel)


@_safe
def stage_latency(stage: str, ms: float) -> None:
    emit("StageLatency", max(0.0, float(ms)), MILLISECONDS, stage=stage)


@_safe
def reviewed(stage: str, decision: str) -> None:
    emit("ProductsReviewed", stage=stage, decision=decision)


@_safe
def review_sla_breach(stage: str) -> None:
    emit("ReviewSlaBreaches", stage=stage)


@_safe
def notice_sent(kind: str) -> None:
    emit("BatchNotices", kind=kind)
