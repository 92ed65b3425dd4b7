"""The topology's functions: one factory, least-privilege roles, SQS event sources."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from shangjia.topology import Function, Topology, concurrency_problems, function_environment

from .layers import ARCHITECTURE, RUNTIME, Layers
from .settings import FUNCTIONS_DIR, Settings, asset_excludes, camel, retention

# (kind, access) -> the narrowest CDK grant for it. A grant the table lacks fails the synth:
# it is a new kind of access that someone must decide how to express, not something to guess.
GRANTS: dict[tuple[str, str], Callable[[object, iam.IGrantable], iam.Grant]] = {
    ("bucket", "read"): lambda b, g: b.grant_read(g),
    ("bucket", "write"): lambda b, g: b.grant_put(g),            # put only: no delete, no read
    # read + put. Not grant_read_write: that adds s3:DeleteObject*, and nothing deletes (a function
    # that does says so with the "delete" access).
    ("bucket", "readwrite"): lambda b, g: (b.grant_read(g), b.grant_put(g)),
    ("bucket", "delete"): lambda b, g: b.grant_delete(g),
    ("queue", "send"): lambda q, g: q.grant_send_messages(g),
    ("queue", "read"): lambda q, g: q.grant_consume_messages(g),
    ("table", "read"): lambda t, g: t.grant_read_data(g),
    ("table", "write"): lambda t, g: t.grant_write_data(g),
    ("table", "readwrite"): lambda t, g: t.grant_read_write_data(g),
    ("statemachine", "start"): lambda s, g: s.grant_start_execution(g),
    ("statemachine", "read"): lambda s, g: s.grant_read(g),
    ("statemachine", "task_response"): lambda s, g: s.grant_task_response(g),
    ("topic", "publish"): lambda t, g: t.grant_publish(g),
}

# The "actions" access: exactly the named actions (kind -> their IAM service prefix). A table's grant
# covers the table and its indexes.
ACTION_PREFIX: dict[str, str] = {"table": "dynamodb"}


# Secrets are granted by name pattern (topology "secret:<pattern>", access "read"): the channel shops'
# credentials are created per merchant by ops (``shangjia shops add``), not by the stack.
SECRET_ACTIONS = {"read": ("secretsmanager:GetSecretValue",)}


def secret_arn(scope: Construct, pattern: str) -> str:
    """The ARN of the secrets named by ``pattern`` (``shangjia/shops/*``) in the stack's account and
    region; Secrets Manager appends a random suffix to each name, which the trailing ``*`` covers."""
    return Stack.of(scope).format_arn(service="secretsmanager", resource="secret", resource_name=pattern,
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)


def _grant_actions(kind: str, actions: tuple[str, ...]) -> Callable[[object, iam.IGrantable], iam.Grant] | None:
    prefix = ACTION_PREFIX.get(kind)
    if prefix is None:
        return None
    return lambda r, g: r.grant(g, *(f"{prefix}:{a}" for a in actions))


# kind -> what a function is told about the resource in its SHANGJIA_<KIND>_<KEY> variable
ENV_VALUES: dict[str, Callable[[object], str]] = {
    "bucket": lambda b: b.bucket_name,
    "queue": lambda q: q.queue_url,
    "table": lambda t: t.table_name,
    "statemachine": lambda s: s.state_machine_arn,
    "topic": lambda t: t.topic_arn,
}


class Resources:
    """The deployed resources by (kind, topology key)."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, object]] = {k: {} for k in ENV_VALUES}

    def add(self, kind: str, items: dict[str, object]) -> None:
        self.by_kind.setdefault(kind, {}).update(items)

    def get(self, kind: str, key: str) -> object:
        try:
            return self.by_kind[kind][key]
        except KeyError:
            raise KeyError(f"topology names {kind}:{key}, which the stack did not create") from None

    def has(self, kind: str, key: str) -> bool:
        return key in self.by_kind.get(kind, {})


class Functions(Construct):
    """Every topology function, built by one factory (``_function``).

    Wiring that needs a resource created later (the state machine, whose definition needs the
    functions' ARNs) is deferred: ``wire(resources)`` is called again once it exists and grants
    whatever is still pending. ``wire`` is idempotent."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, settings: Settings,
                 layers: Layers, queues: dict[str, object]) -> None:
        super().__init__(scope, id)
        self._topology = topology
        self._settings = settings
        self._code = lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=asset_excludes())
        self._layers = layers.all
        self._wired: set[tuple[str, str, str]] = set()
        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        for fn in topology.functions:
            self.functions[fn.key] = self._function(fn)
            self._check_concurrency(fn)
            if fn.schedule:
                events.Rule(self, f"{camel(fn.key)}Schedule", schedule=events.Schedule.expression(fn.schedule),
                            description=f"shangjia {fn.key}: {fn.purpose}"[:512],
                            targets=[targets.LambdaFunction(self.functions[fn.key], retry_attempts=2)])
            for t in fn.triggers:
                self.functions[fn.key].add_event_source(sources.SqsEventSource(
                    queues[t.queue],
                    batch_size=t.batch_size,
                    max_batching_window=Duration.seconds(t.batching_window_s) if t.batching_window_s else None,
                    report_batch_item_failures=True,
                    max_concurrency=t.max_concurrency,
                ))

    def _check_concurrency(self, fn: Function) -> None:
        """Reserved concurrency below what the SQS pollers may drive throttles deliveries, and a
        throttled delivery still counts toward the queue's maxReceiveCount: messages could reach the
        DLQ without ever running. Every trigger carries the ESM's maximum concurrency
        (ScalingConfig.MaximumConcurrency), within the reservation: a topology without is refused."""
        problems = [p for p in concurrency_problems(self._topology) if p.startswith(f"{fn.key}:")]
        if problems:
            raise ValueError("; ".join(problems) + " (set SqsTrigger.max_concurrency in topology.py)")

    def _function(self, fn: Function) -> lambda_.Function:
        name = camel(fn.key)
        log_group = logs.LogGroup(self, f"{name}Logs", retention=retention(self._settings.log_retention_days),
                                  removal_policy=RemovalPolicy.DESTROY)
        # Our own role instead of the default one, whose AWSLambdaBasicExecutionRole managed policy
        # may write to any log group: this one may write only to the function's own.
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"shangjia {fn.key}: exactly the grants of topology.function('{fn.key}')")
        log_group.grant_write(role)
        function = lambda_.Function(
            self, name,
            description=fn.purpose[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=fn.handler,
            memory_size=fn.memory_mb,
            timeout=Duration.seconds(fn.timeout_s),
            reserved_concurrent_executions=fn.reserved_concurrency,
            layers=self._layers,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"shangjia-{fn.key}",
                "POWERTOOLS_METRICS_NAMESPACE": "Shangjia",
                "LOG_LEVEL": self._settings.log_level,
            },
        )
        self.log_groups[fn.key] = log_group
        self.roles[fn.key] = role
        return function

    def wire(self, resources: Resources) -> None:
        """Environment variables and grants for every resource that exists by now."""
        for fn in self._topology.functions:
            function = self.functions[fn.key]
            env = function_environment(fn)
            for g in fn.grants:
                kind, key = g.resource.split(":", 1)
                if (fn.key, g.resource, g.access) in self._wired:
                    continue
                if kind == "secret":
                    if g.access not in SECRET_ACTIONS:
                        raise ValueError(f"function {fn.key}: no grant for {g.access} on secrets (add it to SECRET_ACTIONS)")
                    function.add_to_role_policy(iam.PolicyStatement(actions=list(SECRET_ACTIONS[g.access]),
                                                                    resources=[secret_arn(self, key)]))
                    self._wired.add((fn.key, g.resource, g.access))
                    continue
                if not resources.has(kind, key):
                    continue
                grant = _grant_actions(kind, g.actions) if g.access == "actions" else GRANTS.get((kind, g.access))
                if grant is None:
                    raise ValueError(f"function {fn.key}: no CDK grant for {g.access} on {kind} (add it to GRANTS)")
                resource = resources.get(kind, key)
                grant(resource, function)
                for var, (k, rk) in env.items():
                    if (k, rk) == (kind, key):
                        function.add_environment(var, ENV_VALUES[kind](resource))
                self._wired.add((fn.key, g.resource, g.access))

    def pending(self) -> list[str]:
        """Grants not wired yet ("fn -> resource access"): must be empty when the stack is done."""
        return [f"{fn.key} -> {g.resource} {g.access}" for fn in self._topology.functions for g in fn.grants
                if (fn.key, g.resource, g.access) not in self._wired]
