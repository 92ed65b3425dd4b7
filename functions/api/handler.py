"""Ops API (API Gateway HTTP API, Cognito JWT authorizer): batches, products, review tasks, decisions.

Identity comes from the authorizer's claims only: ``cognito:groups`` gives the role (editor,
reviewer, ops, merchant) and ``custom:merchant_id`` scopes a merchant to its own data.
"""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError, UnauthorizedError

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
    body = app.current_event.json_body or {}
    if body.get("decision") not in ("approve", "reject"):
        raise BadRequestError("decision must be approve or reject")
    return review.decide(deps(), task_id, actor(), body["decision"], reasons=body.get("reasons") or [],
                         note=str(body.get("note") or "")[:2000])


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    return app.resolve(event, context)
