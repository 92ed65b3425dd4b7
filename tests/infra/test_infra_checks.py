"""Template-wide checks: cdk-nag (AwsSolutions) and cfn-lint pass; the placeholder layer cannot ship."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_cdk_nag_has_no_unacknowledged_findings(synth):
    assert synth.synth_error is None, f"synth failed (cdk-nag findings?): {synth.synth_error}"


def test_cdk_nag_fails_the_synth_on_a_finding(tmp_path):
    """The nag pack is really wired: a bare bucket (no TLS-only policy, no access logs) fails synth."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from shangjia_infra.nag import add_nag

    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Bare"), "B")
    add_nag(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_acknowledgments_all_carry_reasons(synth):
    from aws_cdk import Validations

    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acks = {}
    for node in synth.stack.node.find_all():
        for entry in node.node.metadata:
            if entry.type == key:
                acks.update({(node.node.path, rule): reason for rule, reason in entry.data.items()})
    assert acks, "expected the stack's reviewed exceptions to be recorded"
    for (path, rule), reason in acks.items():
        assert rule.startswith("AwsSolutions::AwsSolutions-"), (path, rule)
        assert len(reason) >= 40, f"{path} {rule}: a reason says why, not just that"
    # Nothing is acknowledged for the whole stack at once: each sits on the construct it concerns.
    assert not [p for p, _ in acks if p == synth.stack.node.path]


def test_placeholder_dependency_layer_is_a_synth_error(synth):
    from aws_cdk.assertions import Annotations, Match

    errors = Annotations.from_stack(synth.stack).find_error("*", Match.string_like_regexp("placeholder"))
    assert errors, "a stack with the empty test layer must not be deployable"


def test_cfn_lint_reports_no_errors(synth, tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps(synth.template.to_json()))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        cfn_lint = Path(shutil.which("cfn-lint") or "cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--format", "json", "--regions", "us-east-1", "--", str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip(), proc.stderr
    matches = json.loads(proc.stdout)
    errors = [f"{m['Rule']['Id']} {m['Location']['Path']}: {m['Message']}" for m in matches if m["Level"] == "Error"]
    assert errors == []


def test_cdk_json_runs_this_app_with_the_tested_settings():
    """`cdk synth` (cdk.json) and the tests must build the same stack: same entry point, same flags."""
    from shangjia_infra.app import FEATURE_FLAGS
    from shangjia_infra.settings import CONTEXT_DEFAULTS, REPO_ROOT

    cdk = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk["app"] == ".venv/bin/python infra/app.py"
    context = cdk["context"]
    assert {k: v for k, v in context.items() if k.startswith("@aws-cdk/")} == FEATURE_FLAGS
    assert {k: v for k, v in context.items() if k.startswith("shangjia:")} == CONTEXT_DEFAULTS
