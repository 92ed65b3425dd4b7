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


@pytest.mark.parametrize("sm", TOPOLOGY.state_machines, ids=lambda s: s.key)
def test_definition_after_substitution_equals_the_file(synth, sm):
    text = _definition_file(sm).read_text(encoding="utf-8")
    props = synth.resources[synth.logical_id(synth.stack.workflow.state_machines[sm.key])]["Properties"]
    assert props["DefinitionString"] == text
    deployed = {name: ref(value) for name, value in props["DefinitionSubstitutions"].items()}
    expected = {name: DEPLOYED_AS[kind](synth.logical_id(synth.stack.resources.get(kind, key)))
                for name, (kind, key) in sm.substitutions.items()}
    assert deployed == expected

    # What Step Functions runs: every ${Placeholder} replaced, and the result is a valid definition.
    used = set(PLACEHOLDER.findall(text))
    assert used <= set(deployed), f"placeholders without a substitution: {used - set(deployed)}"
    resolved = PLACEHOLDER.sub(lambda m: f"<{deployed[m.group(1)]}>", text)
    assert "${" not in resolved
    definition = json.loads(resolved)
    assert definition["StartAt"] in definition["States"]
    expected_text = text
    for name, value in expected.items():
        expected_text = expected_text.replace("${" + name + "}", f"<{value}>")
    assert resolved == expected_text


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
