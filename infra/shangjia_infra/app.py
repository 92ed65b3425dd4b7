"""Build the CDK app: the stack plus the cdk-nag AwsSolutions checks."""

from __future__ import annotations

import os

from aws_cdk import App, Environment

from .nag import acknowledge_stack, add_nag
from .settings import CONTEXT_DEFAULTS, STACK_NAME
from .stack import ShangjiaStack


def environment() -> Environment | None:
    """Env-agnostic unless the CDK CLI tells us the account/region (CDK_DEFAULT_*): no AWS calls."""
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region) if account and region else None


# Feature flags the stack relies on (cdk.json carries them too; the CLI's context wins over these).
FEATURE_FLAGS: dict[str, object] = {
    # S3 server access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(context: dict[str, object] | None = None, outdir: str | None = None,
              nag: bool = True) -> tuple[App, ShangjiaStack]:
    """The app and its one stack. ``context`` overrides settings (see settings.CONTEXT_DEFAULTS).
    With ``nag`` (always, outside tests) synth fails on any unacknowledged AwsSolutions finding."""
    app = App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    name = app.node.try_get_context(STACK_NAME) or CONTEXT_DEFAULTS[STACK_NAME]
    stack = ShangjiaStack(app, str(name), env=environment())
    acknowledge_stack(stack, stack.topology)
    if nag:
        add_nag(app)
    return app, stack

