"""The API (API Gateway HTTP API, Cognito JWT authorizer): merchants' uploads, batches, products,
reports and listings; staff's board, review, failure report and ops tools.

Thin: the routes, models and role rules live in ``shangjia.api`` (route table:
``shangjia/api/routes.py``) and ``shangjia.auth``. Identity comes from the authorizer's verified
claims only (``requestContext.authorizer.jwt.claims``).
"""

from shangjia.api.context import handle
from shangjia.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return handle(event, context)
