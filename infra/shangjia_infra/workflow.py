"""The review state machine(s): definition read from infra/statemachines/, placeholders from the topology."""

from __future__ import annotations

import json

from aws_cdk import Annotations, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from shangjia.topology import StateMachine, Topology

from .functions import Resources
from .settings import Settings, camel, definition_path, relative, retention

# ("function" | "queue" | "table") -> (the value substituted for ${Placeholder}, the grant the
# state machine's role needs to use it). Function ARNs are invoked, queue URLs are sent to
# (task tokens), tables are written by direct service integrations.
SUBSTITUTIONS = {
    "function": (lambda f: f.function_arn, lambda f, role: f.grant_invoke(role)),
    "queue": (lambda q: q.queue_url, lambda q, role: q.grant_send_messages(role)),
    "table": (lambda t: t.table_name, lambda t, role: t.grant_read_write_data(role)),
    "bucket": (lambda b: b.bucket_name, lambda b, role: b.grant_read_write(role)),
}


def missing_definition(sm: StateMachine) -> str:
    """Stand-in while the definition file does not exist: a single Fail state. The construct also
    records a synth error, so `cdk synth`/`cdk deploy` refuse the stack until the file is there."""
    return json.dumps({
        "Comment": f"{relative(definition_path(sm))} is missing: this stand-in fails every execution",
        "StartAt": "DefinitionMissing",
        "States": {"DefinitionMissing": {"Type": "Fail", "Error": "Shangjia.DefinitionMissing",
                                          "Cause": f"{relative(definition_path(sm))} was not found at synth time"}},
    })


class ReviewWorkflow(Construct):
    def __init__(self, scope: Construct, id: str, *, topology: Topology, settings: Settings,
                 resources: Resources) -> None:
        super().__init__(scope, id)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        # What functions are granted and told: a reference by name (an ARN built with format_arn),
        # not the resource itself. A function that starts a workflow whose definition names that
        # function (review_step hands VIP samples to review_manual) would otherwise be a cycle.
        self.references: dict[str, sfn.IStateMachine] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for sm in topology.state_machines:
            name = camel(sm.key)
            if definition_path(sm).is_file():
                definition = definition_path(sm).read_text(encoding="utf-8")
            else:
                definition = missing_definition(sm)
                Annotations.of(self).add_error(
                    f"{relative(definition_path(sm))} does not exist: the state machine '{sm.key}' has no definition")
            substitutions = {
                placeholder: SUBSTITUTIONS[kind][0](resources.get(kind, key))
                for placeholder, (kind, key) in sm.substitutions.items()
            }
            log_group = logs.LogGroup(self, f"{name}Logs", retention=retention(settings.log_retention_days),
                                      removal_policy=RemovalPolicy.DESTROY)
            machine_name = f"{Stack.of(self).stack_name}-{sm.key.replace('_', '-')}"
            machine = sfn.StateMachine(
                self, name,
                state_machine_name=machine_name,
                definition_body=sfn.DefinitionBody.from_string(definition),
                definition_substitutions=substitutions,
                state_machine_type=sfn.StateMachineType[sm.type.upper()],
                # Execution data would put task tokens in the logs, and a token is enough to
                # approve a product: log every event, but not the payloads.
                logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
                tracing_enabled=True,
            )
            for kind, key in sm.substitutions.values():
                SUBSTITUTIONS[kind][1](resources.get(kind, key), machine.role)
            self.state_machines[sm.key] = machine
            self.references[sm.key] = sfn.StateMachine.from_state_machine_name(self, f"{name}Ref", machine_name)
            self.log_groups[sm.key] = log_group
