"""API Gateway (HTTP API) ``POST /erp/v1/{products,stock,uploads}``: the ERPs' signed feeds.

No JWT (an ERP cannot present one): every request is verified by its own signature over the raw
bytes (shangjia.inbound.erp). The reply is the core's answer as JSON."""

import base64
import json

from shangjia.inbound.erp import handle
from shangjia.lambda_kit import deps
from shangjia.observability import logger


def _presign(bucket_key: str, key: str, max_bytes: int, expires_s: int) -> dict:
    from shangjia.adapters.aws import client, resource_name

    return client("s3").generate_presigned_post(resource_name("bucket", bucket_key), key,
                                                Conditions=[["content-length-range", 1, max_bytes]],
                                                ExpiresIn=expires_s)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event, context):
    path = event.get("rawPath") or (event.get("requestContext") or {}).get("http", {}).get("path") or ""
    route = path.rstrip("/").rsplit("/", 1)[-1]
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogateescape")
    d = deps()
    reply = handle(d, route, event.get("headers") or {}, raw, now=int(d.clock.now().timestamp()), presign=_presign)
    return {"statusCode": reply.status, "headers": {"content-type": "application/json; charset=utf-8", **reply.headers},
            "body": json.dumps(reply.body, ensure_ascii=False)}
