"""The local cloud: moto's server on loopback, provisioned from the topology, with the real
handlers invoked the way Lambda invokes them. ``LocalCloud`` is what ``make demo``, the e2e
tests and ``shangjia cloud up`` start."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from typing import Any

from shangjia.localcloud.channels_sim import ChannelSimulator
from shangjia.localcloud.meter import Meter
from shangjia.localcloud.provision import ACCOUNT, REGION, Resources, provision
from shangjia.localcloud.runtime import LambdaRuntime, SqsPoller, patch_moto_task_failure_cause
from shangjia.localcloud.server import MotoServer
from shangjia.topology import CHANNELS, TOPOLOGY, Topology


class LocalCloud:
    def __init__(self, topology: Topology = TOPOLOGY, *, visibility_timeout_s: int = 2, max_concurrency: int = 4,
                 clock: str | None = None, channel_error_rate: float = 0.0, port: int = 0,
                 schedule_interval_s: float = 1.0, review_sla_s: dict[str, int] | None = None) -> None:
        self.topology = topology
        self.visibility_timeout_s = visibility_timeout_s
        self.max_concurrency = max_concurrency
        self.clock = clock
        self.schedule_interval_s = schedule_interval_s
        self.review_sla_s = review_sla_s or {}
        self.meter = Meter()
        self.server = MotoServer(self.meter, port=port)
        self.channels = ChannelSimulator(error_rate=channel_error_rate)
        self.stop_event = threading.Event()
        self.pollers: list[SqsPoller] = []
        self.resources: Resources | None = None
        self.runtime: LambdaRuntime | None = None
        self._saved_env: dict[str, str | None] = {}

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "LocalCloud":
        endpoint = self.server.start()
        channel_url = self.channels.start()
        env = {
            "MOTO_PORT": str(self.server.port), "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "shangjia", "POWERTOOLS_LOG_LEVEL": os.environ.get("SHANGJIA_LOG_LEVEL", "WARNING"),
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
            **{f"SHANGJIA_CHANNEL_{c.upper()}_URL": channel_url for c in CHANNELS if c != "own_shop"},
        }
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
        patch_moto_task_failure_cause()
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
