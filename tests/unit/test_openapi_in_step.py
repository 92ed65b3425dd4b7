"""The OpenAPI document is generated from the API's models and route table: docs/openapi.json is
what the code generates (`make docs`), every route of the table is in it with its answer's model,
its errors and the bearer scheme."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shangjia.api.routes import ROUTES
from shangjia.cli.api import openapi_text

REPO = Path(__file__).resolve().parents[2]


def test_docs_openapi_is_what_the_code_generates():
    doc = (REPO / "docs" / "openapi.json").read_text("utf-8")
    assert doc == openapi_text(), "docs/openapi.json is stale: run `make docs`"


def test_every_route_is_documented_with_its_answer_errors_and_security():
    doc = json.loads(openapi_text())
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer",
                                                               "bearerFormat": "JWT",
                                                               "description": "the Cognito ID token"}
    assert doc["security"] == [{"bearer": []}]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    table = {(m, re.sub(r"<(\w+)>", r"{\1}", p)) for m, p, *_ in ROUTES}
    assert documented == table
    for method, path in table:
        op = doc["paths"][path][method.lower()]
        assert op["summary"] and op["description"].startswith("who: ")
        assert {"200", "400", "401", "403", "404"} <= set(op["responses"]), (method, path)
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok, (method, path)
    assert len(table) == 26
