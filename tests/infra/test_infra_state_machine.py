"""The deployed review state machine is the definition file with the topology's placeholders filled."""

from __future__ import annotations

import json
import re

import pytest
from infra_support import ref

from shangjia.topology import TOPOLOGY

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# what a substitution deploys as, per kind: function -> its ARN, queue -> its URL (Ref), table -> its name (Ref)
DEPLOYED_AS = {"function": lambda lid: f"{lid}.Arn", "queue": lambda lid: lid, "table": lambda lid: lid}


def _definition_file(sm):
    from shangjia_infra.settings import definition_path

    path = definition_path(sm)
    if not path.is_file():
        pytest.skip(f"{path} does not exist yet (the integrator writes it); nothing to compare")
    return path


# Written by hand, not derived from the topology: what each placeholder must deploy as, named by
# the Lambda handler it belongs to. The review step's function ARN; the queue the review_tasks
# function consumes (its URL).
REVIEW_STEP = "review_step.handler.lambda_handler"
REVIEW_TASKS = "review_tasks.handler.lambda_handler"
EXPECTED_SUBSTITUTIONS = {
    "review_auto": {"ReviewStepFunctionArn": ("arn of function", REVIEW_STEP)},
    "review_manual": {"ReviewStepFunctionArn": ("arn of function", REVIEW_STEP),
                      "ReviewTasksQueueUrl": ("url of the queue consumed by", REVIEW_TASKS)},
}


def _function_id(synth, handler: str) -> str:
    [lid] = [k for k, v in synth.of_type("AWS::Lambda::Function").items() if v["Properties"].get("Handler") == handler]
    return lid


def _expected(synth, what: str, handler: str) -> str:
    lid = _function_id(synth, handler)
    if what == "arn of function":
        return f"{lid}.Arn"
    [queue_arn] = [ref(m["Properties"]["EventSourceArn"]) for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
                   if ref(m["Properties"]["FunctionName"]) == lid]
    assert synth.resources[queue_arn.removesuffix(".Arn")]["Type"] == "AWS::SQS::Queue"
    return queue_arn.removesuffix(".Arn")          # a queue's Ref is its URL


@pytest.mark.parametrize("sm", TOPOLOGY.state_machines, ids=lambda s: s.key)
def test_definition_after_substitution_equals_the_file(synth, sm):
    text = _definition_file(sm).read_text(encoding="utf-8")
    props = synth.resources[synth.logical_id(synth.stack.workflow.state_machines[sm.key])]["Properties"]
    assert props["DefinitionString"] == text
    deployed = {name: ref(value) for name, value in props["DefinitionSubstitutions"].items()}
    expected = {name: _expected(synth, *what) for name, what in EXPECTED_SUBSTITUTIONS[sm.key].items()}
    assert deployed == expected
    # the topology's own description agrees (CDK builds from it)
    assert {name: DEPLOYED_AS[kind](synth.logical_id(synth.stack.resources.get(kind, key)))
            for name, (kind, key) in sm.substitutions.items()} == expected

    # What Step Functions runs: every ${Placeholder} replaced, and the result is a valid definition
    # whose tasks call the review step's function and send to the review tasks' queue, and nothing else.
    used = set(PLACEHOLDER.findall(text))
    assert used == set(EXPECTED_SUBSTITUTIONS[sm.key]), f"placeholders: {used}"
    resolved = PLACEHOLDER.sub(lambda m: f"<{deployed[m.group(1)]}>", text)
    assert "${" not in resolved
    definition = json.loads(resolved)
    assert definition["StartAt"] in definition["States"]
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    lambdas = {t["Resource"] for t in tasks if not t["Resource"].startswith("arn:aws:states:::")}
    queues = {t["Parameters"]["QueueUrl"] for t in tasks if t["Resource"].startswith("arn:aws:states:::sqs:")}
    assert lambdas == {f"<{_function_id(synth, REVIEW_STEP)}.Arn>"}
    assert queues == ({f"<{expected['ReviewTasksQueueUrl']}>"} if sm.key == "review_manual" else set())


@pytest.mark.parametrize("sm", TOPOLOGY.state_machines, ids=lambda s: s.key)
def test_type_logging_and_tracing(synth, sm):
    props = synth.resources[synth.logical_id(synth.stack.workflow.state_machines[sm.key])]["Properties"]
    assert props["StateMachineType"] == sm.type
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False
    log_group = synth.logical_id(synth.stack.workflow.log_groups[sm.key])
    assert ref(logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]) == f"{log_group}.Arn"


def test_missing_definition_blocks_deploy(monkeypatch, tmp_path):
    """Without the file the stack still synthesizes (so the rest can be tested) but carries an
    error that makes `cdk synth`/`cdk deploy` refuse it."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs
    from aws_cdk.assertions import Annotations, Match

    import shangjia_infra.workflow as workflow
    from shangjia_infra.functions import Resources
    from shangjia_infra.settings import Settings

    monkeypatch.setattr(workflow, "definition_path", lambda sm: tmp_path / "absent.asl.json")
    stack = Stack(App(), "T")
    fn = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="x.y",
                          code=lambda_.Code.from_inline("def y(e, c): pass"))
    queue = sqs.Queue(stack, "Q")
    resources = Resources()
    for sm in TOPOLOGY.state_machines:
        for kind, key in sm.substitutions.values():
            resources.add(kind, {key: {"function": fn, "queue": queue}[kind]})
    workflow.ReviewWorkflow(stack, "W", topology=TOPOLOGY, settings=Settings.from_context(stack), resources=resources)
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("absent.asl.json does not exist"))
    assert len(errors) == len(TOPOLOGY.state_machines)


def _tasks(states: dict):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _tasks(state[key]["States"])


@pytest.mark.parametrize("sm", TOPOLOGY.state_machines, ids=lambda s: s.key)
def test_every_task_in_the_definition_is_permitted(synth, sm):
    """Cross-check of the integrator's definition and the role: each Task's target is granted."""
    text = _definition_file(sm).read_text(encoding="utf-8")
    machine = synth.stack.workflow.state_machines[sm.key]
    role = synth.logical_id(machine.role)
    granted = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if role in [ref(r) for r in policy["Properties"]["Roles"]]:
            for s in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]):
                    for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]):
                        granted.add((action, ref(resource)))

    def target(placeholder_text: str) -> str:
        (name,) = PLACEHOLDER.findall(placeholder_text) or [None]
        assert name in sm.substitutions, f"{placeholder_text!r} is not a topology substitution"
        kind, key = sm.substitutions[name]
        return synth.logical_id(synth.stack.resources.get(kind, key))

    for name, task in _tasks(json.loads(text)["States"]):
        resource = task["Resource"]
        params = task.get("Parameters") or task.get("Arguments") or {}
        if resource.startswith("${"):
            assert ("lambda:InvokeFunction", f"{target(resource)}.Arn") in granted, name
        elif resource.startswith("arn:aws:states:::lambda:invoke"):
            assert ("lambda:InvokeFunction", f"{target(params['FunctionName'])}.Arn") in granted, name
        elif resource.startswith("arn:aws:states:::sqs:sendMessage"):
            assert ("sqs:SendMessage", f"{target(params['QueueUrl'])}.Arn") in granted, name
        else:
            pytest.fail(f"task {name} uses {resource}: add its grant to shangjia_infra.workflow.SUBSTITUTIONS")
