"""Ops API (API Gateway HTTP API, Cognito JWT authorizer): batches, products, review tasks, decisions.

Identity comes from the authorizer's claims only: ``cognito:groups`` gives the role (editor,
reviewer, ops, merchant) and ``custom:merchant_id`` scopes a merchant to its own data.
"""

import base64
import binascii
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, UnauthorizedError

from shangjia.errors import finding
from shangjia.lambda_kit import deps
from shangjia.observability import logger
from shangjia.pipeline import keys, products, review
from shangjia.pipeline.views import batch_summary

app = APIGatewayHttpResolver()
STAFF = {"editor", "reviewer", "ops"}


def actor() -> dict:
    claims = (app.current_event.request_context.authorizer.jwt_claim or {}) if \
        app.current_event.request_context.authorizer else {}
    groups = claims.get("cognito:groups") or ""
    groups = groups if isinstance(groups, list) else [g for g in str(groups).strip("[]").replace(",", " ").split() if g]
    role = next((g for g in ("ops", "reviewer", "editor") if g in groups), "merchant" if claims.get("custom:merchant_id") else None)
    if not role or not claims.get("sub"):
        raise UnauthorizedError("no identity")
    return {"id": claims["sub"], "role": role, "merchant_id": claims.get("custom:merchant_id")}


def _scope(merchant_id: str) -> None:
    a = actor()
    if a["role"] not in STAFF and a.get("merchant_id") != merchant_id:
        raise NotFoundError("not found")     # never confirm another merchant's data exists


class BadRequestBody(Exception):
    """A body the API cannot use: answered 400 with its code and message (zh/en), never a 500."""

    def __init__(self, code: str, **params) -> None:
        self.finding = finding(code, **params)
        super().__init__(self.finding.message_en)


@app.exception_handler(BadRequestBody)
def bad_body(e: BadRequestBody) -> Response:
    f = e.finding
    return Response(400, "application/json", {"code": f.code, "message": f.message_en, "message_zh": f.message_zh,
                                              "error": f.message_en})


_BODY = "shangjia.body"
_KIND = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_body() -> dict:
    """The request body as a JSON object ({} when there is none). HTTP APIs base64-encode a body
    that is not text; either way it must be UTF-8 JSON whose top level is an object."""
    event = app.current_event
    raw = event.body
    if raw is None or raw == "":
        return {}
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequestBody("API_BODY_NOT_UTF8", reason="invalid base64") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequestBody("API_BODY_NOT_UTF8", reason=f"invalid byte at offset {e.start}") from None
    else:
        text = raw
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:       # a lone surrogate: no UTF-8 text carries one
            raise BadRequestBody("API_BODY_NOT_UTF8", reason=f"invalid character at offset {e.start}") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BadRequestBody("API_BODY_NOT_JSON", reason=f"{e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise BadRequestBody("API_BODY_NOT_JSON",
                             reason="nested too deeply" if isinstance(e, RecursionError) else str(e)[:100]) from None
    if not isinstance(doc, dict):
        raise BadRequestBody("API_BODY_NOT_OBJECT", kind=_KIND.get(type(doc), type(doc).__name__))
    return doc


def json_body() -> dict:
    """The parsed body of this request (parsed once)."""
    if _BODY not in app.context:
        app.context[_BODY] = _parse_body()
    return app.context[_BODY]


def _check_body(app_, next_middleware):
    """Every request that carries a body has a usable one, whichever route takes it."""
    if app_.current_event.body not in (None, ""):
        json_body()
    return next_middleware(app_)


app.use(middlewares=[_check_body])


@app.get("/api/batches/<batch_id>")
def get_batch(batch_id: str):
    b = deps().store.get(*keys.batch(batch_id))
    if not b:
        raise NotFoundError("no such batch")
    _scope(b["merchant_id"])
    return batch_summary(deps(), b)


@app.get("/api/products/<merchant_id>/<spu>")
def get_product(merchant_id: str, spu: str):
    _scope(merchant_id)
    p = products.get_product(deps(), merchant_id, spu)
    if not p:
        raise NotFoundError("no such product")
    return {k: v for k, v in p.items() if not k.startswith(("pk", "sk", "gsi"))}


@app.get("/api/review/tasks")
def list_tasks():
    a = actor()
    if a["role"] not in review.REVIEWER_ROLES:
        raise UnauthorizedError("reviewers and ops only")
    if app.current_event.get_query_string_value("assignee") == "me":      # the tasks I have claimed
        tasks = review.tasks_of(deps(), a["id"])
    else:
        tasks = review.list_tasks(deps(), app.current_event.get_query_string_value("stage", "pre"),
                                  app.current_event.get_query_string_value("state", "open"))
    return {"tasks": [{k: v for k, v in t.items() if k != "token" and not k.startswith(("pk", "sk", "gsi"))}
                      for t in tasks]}


@app.exception_handler(review.DecisionRefused)
def refused(e: review.DecisionRefused) -> Response:
    """A decision that cannot be applied (task ended, lapsed, someone else's claim, wrong role)."""
    return Response(409, "application/json", {"error": str(e)})


@app.post("/api/review/tasks/<task_id>/claim")
def claim(task_id: str):
    t = review.claim(deps(), task_id, actor())
    return {"task_id": task_id, "state": t["state"], "assignee": t["assignee"]}


@app.post("/api/review/tasks/<task_id>/heartbeat")
def heartbeat(task_id: str):
    t = review.heartbeat(deps(), task_id, actor())
    return {"task_id": task_id, "lease_until": t["lease_until"]}


@app.post("/api/review/tasks/<task_id>/decision")
def decide(task_id: str):
    body = json_body()
    if body.get("decision") not in ("approve", "reject"):
        raise BadRequestBody("API_BODY_FIELD", field="decision", reason="must be approve or reject")
    reasons = body.get("reasons")
    if reasons is None:
        reasons = []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise BadRequestBody("API_BODY_FIELD", field="reasons", reason="must be a list of reason codes (strings)")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequestBody("API_BODY_FIELD", field="note", reason="must be text")
    return review.decide(deps(), task_id, actor(), body["decision"], reasons=reasons, note=(note or "")[:2000])


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return app.resolve(event, context)
