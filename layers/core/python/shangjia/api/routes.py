"""The route table: every route of the API, in one place (method, path, handler, who may).

``who`` names the ``auth.policy.RULES`` action the handler requires (documented in
``docs/api.md`` from this table); the handlers check it themselves, first thing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from shangjia.api import merchant, staff
from shangjia.api.context import allowed, app
from shangjia.api.models import ApiError
from shangjia.auth.policy import RULES

TITLE = "Shangjia (上架) API"
VERSION = "1.0"

ROUTES: tuple[tuple[str, str, Any, str, str], ...] = (
    # method, path, handler, policy action, summary
    ("GET", "/api/me", merchant.me, "me", "who I am, my role and merchants"),
    ("GET", "/api/openapi.json", None, "openapi", "this document"),
    ("POST", "/api/uploads", merchant.start_upload, "upload", "start an upload: a presigned POST to the drop bucket"),
    ("GET", "/api/batches", merchant.list_batches, "read", "batches with progress, newest first"),
    ("GET", "/api/batches/<batch_id>", merchant.get_batch, "read", "one batch's summary"),
    ("GET", "/api/batches/<batch_id>/products", merchant.batch_products, "read",
     "a batch's products with located errors, listings and readiness"),
    ("GET", "/api/batches/<batch_id>/report", merchant.batch_report, "read",
     "links to the annotated report workbook and its JSON twin"),
    ("GET", "/api/template", merchant.template, "template", "a link to the upload template workbook"),
    ("GET", "/api/products/<merchant_id>/<spu>", merchant.get_product, "read", "a product (cost price: ops and owner)"),
    ("POST", "/api/products/<merchant_id>/<spu>/resubmit", merchant.resubmit, "resubmit",
     "re-validate a product that needs a fix"),
    ("GET", "/api/listings", merchant.list_listings, "read", "listings per channel with their audit state"),
    ("GET", "/api/stock/<merchant_id>/<sku>", merchant.stock, "read", "a SKU's stock level and movements"),
    ("GET", "/api/notices", merchant.notices, "read", "batch-settled notices"),
    ("GET", "/api/board", staff.board, "board", "the kanban board"),
    ("GET", "/api/review/tasks", staff.list_tasks, "review", "review tasks"),
    ("GET", "/api/review/tasks/<task_id>/preview", staff.preview, "review", "the detail-page preview"),
    ("POST", "/api/review/tasks/<task_id>/claim", staff.claim, "review", "claim a task (a 30-minute lease)"),
    ("POST", "/api/review/tasks/<task_id>/heartbeat", staff.heartbeat, "review", "keep a claim"),
    ("POST", "/api/review/tasks/<task_id>/decision", staff.decide, "review", "approve or reject"),
    ("GET", "/api/failures/weekly", staff.failure_report, "failures", "the weekly failure report"),
    ("GET", "/api/failures/weeks", staff.failure_weeks, "failures", "weeks with a failure report"),
    ("GET", "/api/ops/dlq", staff.dlq_depths, "dlq", "dead-letter queue depths"),
    ("POST", "/api/ops/dlq/<queue>/redrive", staff.redrive, "dlq", "move a DLQ's messages back"),
    ("GET", "/api/settings", staff.get_settings, "settings", "settings and the banned-term list"),
    ("PUT", "/api/settings/<name>", staff.put_setting, "settings", "change a setting or the banned-term list"),
    ("PUT", "/api/editors/<username>/merchants", staff.assign_editor, "assign", "an editor's merchants"),
)

def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": ApiError}}}


ERRORS = {400: _error("API_BODY_* / API_PARAM_INVALID: a body or parameter the API cannot use"),
          401: _error("API_UNAUTHENTICATED: no identity"),
          403: _error("AUTH_FORBIDDEN: the role may not"),
          404: _error("API_NOT_FOUND: missing, or not the caller's to see (the same answer)"),
          409: _error("API_CONFLICT / API_NOT_RESUBMITTABLE: not applicable to the object as it is now")}

def _responses(fn) -> dict[int, Any]:
    import typing

    ok = typing.get_type_hints(fn).get("return")
    return {200: {"description": "OK", "content": {"application/json": {"model": ok}}}, **ERRORS}


SECURITY_SCHEMES = {"bearer": HTTPBearer(bearerFormat="JWT", description="the Cognito ID token")}


def openapi_json() -> str:
    return app.get_openapi_json_schema(title=TITLE, version=VERSION, security_schemes=SECURITY_SCHEMES,
                                       security=[{"bearer": []}],
                                       description="Every answer is JSON; errors are {code, message, message_zh}. "
                                                   "docs/api.md describes the role rules.")


def openapi_document() -> dict[str, Any]:
    import json

    return json.loads(openapi_json())


def _openapi() -> dict[str, Any]:
    allowed("openapi")
    return openapi_document()


for _method, _path, _fn, _action, _summary in ROUTES:
    app.route(_path, _method, summary=_summary, description="who: " + ", ".join(sorted(RULES[_action])),
              tags=[_path.split("/")[2]], responses=_responses(_fn or _openapi))(_fn or _openapi)
