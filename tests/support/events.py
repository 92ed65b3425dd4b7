"""The one loader of ``events/`` samples: every sample is validated against its contract when
loaded (Powertools' event models for the envelope, ``shangjia.messages`` for our bodies), so a
sample can never drift from what the handlers accept."""

from __future__ import annotations

import json
from pathlib import Path

from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    EventBridgeModel,
    S3Model,
    SqsModel,
)

from shangjia.messages import BODY_MODELS, ReviewStepEvent
from shangjia.topology import TOPOLOGY

EVENTS = Path(__file__).resolve().parents[2] / "events"


def all_events() -> list[str]:
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.glob("*/*.json"))


def load_event(name: str) -> dict:
    path = EVENTS / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    function = path.parent.name
    fn = TOPOLOGY.function(function)
    if fn.http_routes:                      # the API and the platforms' callbacks
        APIGatewayProxyEventV2Model.model_validate(doc)
        assert doc["routeKey"] in fn.http_routes, (name, doc["routeKey"])
    elif function == "review_step":
        ReviewStepEvent.model_validate(doc)
    elif fn.schedule:                       # EventBridge schedules
        EventBridgeModel.model_validate(doc)
    else:
        SqsModel.model_validate(doc)
        for record in doc["Records"]:
            body = json.loads(record["body"])
            if function == "ingest":
                if body.get("Event") != "s3:TestEvent":
                    S3Model.model_validate(body)
            else:
                BODY_MODELS[function].model_validate(body)
    return doc


def validate_message_body(store, merchant_id: str) -> dict:
    """The validate sample's product message for ``merchant_id`` (a VIP merchant put first), ordinal 0."""

    from shangjia.pipeline.merchants import put_merchant

    put_merchant(store, merchant_id, name="V", annual_sales_cny=9_000_000)
    body = json.loads(load_event("validate/product.json")["Records"][0]["body"])
    body["options"] = {"seq": 0}
    return body
