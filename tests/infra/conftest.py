"""Synthesize the stack ONCE per test session (per xdist worker; every infra test is in one
xdist group, so `make test`'s `--dist loadgroup` sends them all to the same worker)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from infra_support import Synth

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    # No account/region: the stack must synthesize env-agnostic, without AWS calls.
    for var in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        os.environ.pop(var, None)
    pytest.importorskip("aws_cdk")
    if str(INFRA_DIR) not in sys.path:
        sys.path.insert(0, str(INFRA_DIR))
    from aws_cdk.assertions import Template

    from shangjia_infra import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    # The dependency layer is a placeholder here (no PyPI download in the test run); its real
    # build is exercised by test_layer_build.py against a one-package requirements file.
    context = {"shangjia:depsLayer": "placeholder"}
    app, stack = build_app(context=context, outdir=str(outdir))
    synth_error = None
    try:
        app.synth()   # runs the cdk-nag AwsSolutions pack (policy validation): raises on findings
    except Exception as exc:  # noqa: BLE001 - reported by test_cdk_nag_has_no_unacknowledged_findings
        # One failing test for the findings, not every test erroring: look at the rest without nag.
        synth_error = exc
        outdir = tmp_path_factory.mktemp("cdk.out.nonag")
        app, stack = build_app(context=context, outdir=str(outdir), nag=False)
    template = Template.from_stack(stack)
    resources = json.loads(json.dumps(template.to_json()))["Resources"]
    return Synth(app, stack, template, resources, outdir, synth_error)

