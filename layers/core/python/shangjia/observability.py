"""The logger, created once. Logs are structured JSON carrying batch, product and SKU ids."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "shangjia")
logger = Logger(service=SERVICE)


def correlate(**ids: object) -> None:
    """Put the business keys of the record being handled on every log line."""
    logger.append_keys(**{k: v for k, v in ids.items() if v is not None})
