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
                                         patch_moto_sfn_clients, patch_moto_sfn_jsonpath_once,
                                         patch_moto_sfn_parse_once, patch_moto_sqs_wakeups,
                                         patch_moto_task_failure_cause)
from shangjia.localcloud.server import MotoServer
from shangjia.topology import CHANNELS, TOPOLOGY, Topology


class LocalCloud:
    def __init__(self, topology: Topology = TOPOLOGY, *, visibility_timeout_s: int = 2, max_concurrency: int = 4,
                 clock: str | None = None, channel_error_rate: float = 0.0, port: int = 0,
                 schedule_interval_s: float = 1.0, review_sla_s: dict[str, int] | None = None,
                 channel_knobs: Knobs | None = None, sandboxes: bool | None = None) -> None:
        self.topology = topology
        # Handlers in worker processes, a pool per function (``sandboxes.py``), unless asked to run
        # them in this process's threads (``sandboxes=False`` or SHANGJIA_LOCAL_SANDBOXES=0: a test
        # that patches a module the handlers use).
        if sandboxes is None:
            sandboxes = os.environ.get("SHANGJIA_LOCAL_SANDBOXES", "1") not in ("0", "false", "no")
        self.sandboxes = sandboxes
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
        self.gateway: Gateway | None = None     # HTTP API on loopback: the topology's routes, the web app
        self.user_pool = None                   # localcloud.cognito.LocalPool: moto's user pool
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
                                     max_concurrency=self.max_concurrency, sandboxes=self.sandboxes)
        self.runtime.hook_moto({k: arn.rsplit(":", 1)[-1] for k, arn in self.resources.functions.items()})
        self._start_gateway(session)
        patch_moto_task_failure_cause()
        patch_moto_s3_event_version()
        patch_moto_sqs_wakeups()        # the pollers wait on sends, as Lambda's long polls do
        patch_moto_sfn_clients()        # one boto3 client per service for the interpreter's tasks
        patch_moto_sfn_parse_once()     # each definition parsed once, not at every execution
        patch_moto_sfn_jsonpath_once()  # and each JSONPath compiled once, not at every evaluation
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

    def _start_gateway(self, session) -> None:
        """The user pool (moto's Cognito), then the HTTP API on loopback: the topology's routes,
        the JWT check in front of the ``jwt`` ones, and the web app (``web/``) for other GETs."""
        from shangjia.localcloud.authorizer import JwtAuthorizer
        from shangjia.localcloud.cognito import provision_pool
        from shangjia.topology import REPO_ROOT

        authorizer = None
        if self.topology.user_pool is not None:
            self.user_pool = provision_pool(session, self.topology.user_pool, endpoint=self.endpoint, region=REGION)
            self._setenv(self.user_pool.environment())
            authorizer = JwtAuthorizer(issuer=self.user_pool.issuer, audience=self.user_pool.client_id,
                                       jwks_url=self.user_pool.jwks_url)
        self.gateway = Gateway.from_topology(self.runtime, self.topology, meter=self.meter, authorizer=authorizer,
                                             web_root=REPO_ROOT / "web")
        self._setenv({"SHANGJIA_GATEWAY_URL": self.gateway.start()})

    def stop(self) -> None:
        self.stop_event.set()
        for p in self.pollers:
            p.join(timeout=2)
            p.pool.shutdown(wait=True, cancel_futures=False)
        if self.runtime is not None:
            self.runtime.close()
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
        """EventBridge schedules, one rule each: every scheduled function has its own thread
        (``_run_schedule``), as EventBridge invokes each rule's target on its own: a long run of
        one (a reconciliation of every live listing, minutes at a few hundred products) must not
        hold back another (the publish scheduler, which releases reviewer-approved products).
        Before #13 one thread ran them in turn, and two approved products of the 200-product bench
        waited about six minutes for ``release_due`` behind a ``stock_reconcile`` run."""
        for fn in self.topology.functions:
            if fn.schedule:
                threading.Thread(target=self._run_schedule, args=(fn,), name=f"schedule-{fn.key}",
                                 daemon=True).start()

    def _run_schedule(self, fn) -> None:
        """One rule: ticks every ``schedule_interval_s``; ``rate`` schedules fire at their local
        period (``schedules.local_period_s``: 60x AWS's up to 5 minutes, real time beyond), ``cron``
        ones when the clock passed one of their minutes since the last tick. A run still going at
        a tick is not overlapped (the functions reserve a concurrency of 1: AWS would throttle the
        second invocation and retry it later); the next tick after it ends fires if due."""
        from shangjia.clock import SystemClock
        from shangjia.localcloud.schedules import due, rate_due

        clock, last = SystemClock(), None
        fired: float | None = None
        while not self.stop_event.wait(self.schedule_interval_s):
            now = clock.now()
            if fn.schedule.startswith("rate("):
                go = rate_due(fn.schedule, fired, time.monotonic(), tick_s=self.schedule_interval_s)
            else:
                go = due(fn.schedule, last, now)
            last = now
            if not go:
                continue
            fired = time.monotonic()
            event = {"version": "0", "id": str(time.monotonic_ns()), "detail-type": "Scheduled Event",
                     "source": "aws.events", "account": ACCOUNT, "time": "1970-01-01T00:00:00Z",
                     "region": REGION, "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{fn.key}"],
                     "detail": {}}
            try:
                self.runtime.invoke(fn.key, event)
            except Exception:  # noqa: BLE001 — recorded in runtime.errors; the next tick retries
                pass

    # --- people: users of the pool, signed in through the gateway as a browser is ----------------------
    def add_user(self, username: str, role: str, merchant_id: str | None = None, password: str | None = None) -> str:
        """A user of the local pool (as ``shangjia users add``); returns the password."""
        from shangjia.adapters.cognito import CognitoUsers, generate_password

        password = password or generate_password()
        CognitoUsers(self.user_pool.pool_id, self.user_pool.client_id).add_user(
            username, role=role, merchant_id=merchant_id, password=password)
        return password

    def token_for(self, username: str, role: str, merchant_id: str | None = None) -> str:
        """An ID token of ``username``, created in ``role`` on first use (the demo's simulated
        reviewer, tests): signed in through ``POST /auth/login`` like anyone else."""
        passwords = self.__dict__.setdefault("_passwords", {})
        if username not in passwords:
            passwords[username] = self.add_user(username, role, merchant_id)
        return self.sign_in(username, passwords[username])["id_token"]

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """``POST /auth/login`` on the gateway: the tokens (``id_token`` is the bearer token)."""
        status, out = self.http("POST", "/auth/login", body={"username": username, "password": password})
        if status != 200:
            raise PermissionError(f"sign-in of {username} answered {status}: {out}")
        return out

    def http(self, method: str, path: str, *, token: str | None = None, body: Any = None,
             query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One request to the gateway over HTTP (``token``: sent as ``Authorization: Bearer``);
        the status and the JSON answer (text when it is not JSON)."""
        import urllib.error
        from urllib.parse import urlencode

        url = self.gateway.url + path + (f"?{urlencode(query)}" if query else "")
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def api(self, method: str, path: str, *, token: str, body: Any = None,
            query: dict[str, str] | None = None) -> tuple[int, Any]:
        """Call the API as a signed-in user would: through the gateway, whose JWT check verifies
        ``token`` (an ID token from ``sign_in``) before the ``api`` function sees the request."""
        return self.http(method, path, token=token, body=body, query=query)

    def wait_until(self, predicate, *, timeout_s: float = 120, interval_s: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval_s)
        return False
