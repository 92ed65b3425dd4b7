"""The local cloud: moto's server on loopback, provisioned from the topology, with the real
handlers invoked the way Lambda invokes them. ``LocalCloud`` is what ``make demo``, the e2e
tests and ``shangjia cloud up`` start."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.request
from typing import Any

from shangjia.localcloud.channels_sim import Channels, Knobs
from shangjia.localcloud.gateway import Gateway
from shangjia.localcloud.meter import Meter
from shangjia.localcloud.provision import ACCOUNT, REGION, Resources, provision
from shangjia.localcloud.runtime import (LambdaRuntime, SqsPoller, patch_moto_s3_event_version,
                                         patch_moto_task_failure_cause)
from shangjia.localcloud.server import MotoServer
from shangjia.topology import CHANNELS, TOPOLOGY, Topology


class LocalCloud:
    def __init__(self, topology: Topology = TOPOLOGY, *, visibility_timeout_s: int = 2, max_concurrency: int = 4,
                 clock: str | None = None, channel_error_rate: float = 0.0, port: int = 0,
                 schedule_interval_s: float = 1.0, review_sla_s: dict[str, int] | None = None,
                 channel_knobs: Knobs | None = None) -> None:
        self.topology = topology
        self.visibility_timeout_s = visibility_timeout_s
        self.max_concurrency = max_concurrency
        self.clock = clock
        self.schedule_interval_s = schedule_interval_s
        self.review_sla_s = review_sla_s or {}
        self.meter = Meter()
        self.server = MotoServer(self.meter, port=port)
        # WeChat and Douyin simulators: real request shapes, tokens, audits and signed pushes.
        # A merchant's shop on them: ``add_channel_shop`` (the adapters read ``Shop.base_url``).
        self.channels = Channels(channel_knobs or Knobs(error_5xx_rate=channel_error_rate))
        self.gateway: Gateway | None = None     # HTTP API on loopback: the platforms' pushes → channel_callback
        self.stop_event = threading.Event()
        self.pollers: list[SqsPoller] = []
        self.resources: Resources | None = None
        self.runtime: LambdaRuntime | None = None
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "LocalCloud":
        endpoint = self.server.start()
        channel_urls = self.channels.start()
        env = {
            "MOTO_PORT": str(self.server.port), "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "shangjia", "POWERTOOLS_LOG_LEVEL": os.environ.get("SHANGJIA_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
            **{f"SHANGJIA_CHANNEL_{c.upper()}_URL": channel_urls[c] for c in CHANNELS if c != "own_shop"},
        }
        # publishing: retries in seconds (the local visibility time-outs are 1-2 s); WeChat's bucket as
        # big as the simulator's hourly audit quota (a run's products all fit); a test may set its own
        for var, default in (("SHANGJIA_PUBLISH_BACKOFF_S", "1"), ("SHANGJIA_QUOTA_WECHAT", "200/3600:200"),
                             ("SHANGJIA_CIRCUIT_COOLDOWN_S", "2"), ("SHANGJIA_CIRCUIT_MAX_COOLDOWN_S", "8"),
                             ("SHANGJIA_PUBLISH_LEASE_S", "30")):
            env[var] = os.environ.get(var, default)
        if self.clock:
            env["SHANGJIA_CLOCK"] = self.clock
        for stage, seconds in self.review_sla_s.items():      # e.g. {"pre": 2}: escalate in seconds
            env[f"SHANGJIA_REVIEW_SLA_{stage.upper()}_S"] = str(seconds)
        self._setenv(env)
        from shangjia.adapters.aws import reset_clients

        reset_clients()
        # moto's backends live in this process: start from a clean slate (an earlier cloud's state).
        self._post("/moto-api/reset", {})
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        session = self.session()
        self.resources = provision(session, self.topology, visibility_timeout_s=self.visibility_timeout_s)
        self.server.media_bucket_name = self.resources.buckets.get("media")
        self._setenv(self.resources.environment())
        self.runtime = LambdaRuntime(self.topology, self.meter, self.resources.functions,
                                     max_concurrency=self.max_concurrency)
        self.runtime.hook_moto({k: arn.rsplit(":", 1)[-1] for k, arn in self.resources.functions.items()})
        routes = {("POST", f"/callbacks/{c}"): "channel_callback" for c in ("wechat", "douyin")
                  if any(f.key == "channel_callback" for f in self.topology.functions)}
        if routes:
            self.gateway = Gateway(self.runtime, routes, meter=self.meter)
            self._setenv({"SHANGJIA_GATEWAY_URL": self.gateway.start()})
        patch_moto_task_failure_cause()
        patch_moto_s3_event_version()
        from shangjia.localcloud.shops import auto_shops

        self._undo_shops = auto_shops(self)     # a merchant's simulated shops open on first use
        for fn in self.topology.functions:
            for trig in fn.triggers:
                sqs = session.client("sqs", endpoint_url=self.endpoint)
                p = SqsPoller(self.runtime, sqs, fn, trig, self.resources.queues[trig.queue],
                              self.resources.queue_arns[trig.queue], REGION, self.stop_event)
                p.start()
                self.pollers.append(p)
        threading.Thread(target=self._run_schedules, name="schedules", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for p in self.pollers:
            p.join(timeout=2)
            p.pool.shutdown(wait=True, cancel_futures=False)
        if self.gateway is not None:
            self.gateway.stop()
        if getattr(self, "_undo_shops", None):
            self._undo_shops()
        self.channels.stop()
        self.server.stop()
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def __enter__(self) -> "LocalCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- helpers ------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def session(self):
        import boto3

        return boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                     aws_session_token="local", region_name=REGION)

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint)

    def add_channel_shop(self, merchant_id: str, channel: str, deps=None):
        """A shop for the merchant on the simulated platform, its pushes going to the gateway's
        ``/callbacks/<channel>``; with ``deps``, its credentials saved as ``shangjia shops add`` does."""
        from shangjia.channels import Shop

        callback = f"{self.gateway.url}/callbacks/{channel}" if self.gateway else None
        if channel == "wechat":
            reg = self.channels.wechat.register_shop(merchant_id)
            if callback:        # a WeChat push names no app: the URL set in the console does
                self.channels.wechat.set_callback(merchant_id, f"{callback}?appid={reg.appid}")
            shop = Shop(merchant_id, channel, shop_id=merchant_id, app_id=reg.appid, app_secret=reg.secret,
                        callback_token=reg.callback_token, base_url=self.channels.wechat.url)
        elif channel == "douyin":
            shop_id = int(hashlib.sha256(merchant_id.encode()).hexdigest()[:12], 16) % (9 * 10**9) + 10**9
            app, _ = self.channels.douyin.register_shop(shop_id, shop_name=merchant_id, callback_url=callback)
            shop = Shop(merchant_id, channel, shop_id=str(shop_id), app_id=app.app_key, app_secret=app.app_secret,
                        base_url=self.channels.douyin.url)
        else:
            raise ValueError(f"channel {channel!r} is not simulated")
        if deps is not None:
            from shangjia.channels.credentials import save_shop
            from shangjia.clock import SystemClock, iso

            save_shop(deps, shop, at=iso(SystemClock().now()))
        return shop

    def _setenv(self, env: dict[str, str]) -> None:
        for k, v in env.items():
            self._saved_env.setdefault(k, os.environ.get(k))
            os.environ[k] = v

    def _post(self, path: str, doc: dict[str, Any]) -> None:
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(doc).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def queue_depths(self, *, dlq: bool = False) -> dict[str, int]:
        sqs = self.client("sqs")
        out = {}
        for q in self.topology.queues:
            key = q.dlq_key if dlq else q.key
            a = sqs.get_queue_attributes(QueueUrl=self.resources.queues[key], AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[key] = int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
        return out

    def idle(self) -> bool:
        return self.runtime.in_flight == 0 and not any(self.queue_depths().values())

    def count_state_transitions(self) -> dict[str, int]:
        """What Step Functions bills, from each execution's history: state transitions of Standard
        executions; requests and duration of Express ones (recorded on the meter)."""
        sfn = self.client("stepfunctions")
        out = {}
        express = durations = 0
        for sm in self.topology.state_machines:
            arn = self.resources.state_machines[sm.key]
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for ex in page["executions"]:
                    if sm.type == "EXPRESS":
                        express += 1
                        end = ex.get("stopDate") or ex["startDate"]
                        durations += max(0.1, (end - ex["startDate"]).total_seconds())
                        continue
                    events = sfn.get_execution_history(executionArn=ex["executionArn"], maxResults=1000)["events"]
                    out[f"{sm.key}:{ex['name']}"] = sum(1 for e in events if e["type"].endswith("StateEntered"))
        self.meter.state_transitions = sum(out.values())
        self.meter.express_executions, self.meter.express_seconds = express, durations
        return out

    def _run_schedules(self) -> None:
        """EventBridge schedules: scheduled functions run every ``schedule_interval_s`` here."""
        fns = [f for f in self.topology.functions if f.schedule]
        while not self.stop_event.wait(self.schedule_interval_s):
            for fn in fns:
                event = {"version": "0", "id": str(time.monotonic_ns()), "detail-type": "Scheduled Event",
                         "source": "aws.events", "account": ACCOUNT, "time": "1970-01-01T00:00:00Z",
                         "region": REGION, "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{fn.key}"],
                         "detail": {}}
                try:
                    self.runtime.invoke(fn.key, event)
                except Exception:  # noqa: BLE001 — recorded in runtime.errors; the next tick retries
                    pass

    def api(self, method: str, path: str, *, claims: dict[str, Any], body: Any = None,
            query: dict[str, str] | None = None) -> tuple[int, Any]:
        """Call the ops API the way API Gateway (HTTP API, JWT authorizer) would: an HTTP API v2
        event with the verified token's claims, through the real ``api`` handler."""
        from urllib.parse import urlencode

        qs = urlencode(query or {})
        event = {"version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path, "rawQueryString": qs,
                 "queryStringParameters": dict(query) if query else None,
                 "headers": {"content-type": "application/json"},
                 "requestContext": {"accountId": ACCOUNT, "apiId": "local", "domainName": "localhost",
                                    "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                             "sourceIp": "127.0.0.1", "userAgent": "shangjia"},
                                    "requestId": str(time.monotonic_ns()), "routeKey": "ANY /api/{proxy+}",
                                    "stage": "$default", "time": "", "timeEpoch": int(time.time() * 1000),
                                    "authorizer": {"jwt": {"claims": claims, "scopes": None}}},
                 "pathParameters": {"proxy": path.removeprefix("/api/")},
                 "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}
        self.meter.request("apigateway", f"{method} {path.split('/')[2] if path.count('/') > 1 else path}",
                           len(event["body"] or ""), 0, caller="api")
        r = self.runtime.invoke("api", event)
        return r["statusCode"], json.loads(r["body"]) if r.get("body") else None

    def wait_until(self, predicate, *, timeout_s: float = 120, interval_s: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval_s)
        return False
