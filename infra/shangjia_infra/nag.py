"""cdk-nag's AwsSolutions pack, run on every synth through CDK policy validation: an
unacknowledged finding fails the synth. Every acknowledgment below carries its reason and is as
narrow as the finding allows (one rule, one finding id, on the one construct that has it)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from shangjia.topology import Topology

PACK = "AwsSolutions"

# Action wildcards that come from the CDK grant methods the topology's accesses map to
# (functions.GRANTS). Each is scoped to one bucket's ARN; none widens the grant to other resources.
S3_GRANT_ACTIONS = {
    "read": ("s3:GetObject*", "s3:GetBucket*", "s3:List*"),
    "write": ("s3:Abort*",),
    "readwrite": ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*"),     # read + put, no delete
    "delete": ("s3:DeleteObject*",),
}


def add_nag(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def _arn_ref(construct: IConstruct) -> str:
    """How cdk-nag spells a resource's Fn::GetAtt Arn in a finding id: <LogicalId.Arn>."""
    stack = Stack.of(construct)
    return f"<{stack.resolve(stack.get_logical_id(construct.node.default_child))}.Arn>"


def _nag_arn(resolved) -> str:
    """How cdk-nag spells a resolved Fn::Join ARN in a finding id: pseudo parameters as <AWS::...>."""
    if isinstance(resolved, str):
        return resolved
    sep, parts = resolved["Fn::Join"]
    return sep.join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def acknowledge_stack(stack, topology: Topology) -> None:
    """The reviewed exceptions of ShangjiaStack, derived from the topology's grants."""
    functions = stack.functions
    for fn in topology.functions:
        role, function = functions.roles[fn.key], functions.functions[fn.key]
        acknowledge(function, "L1",
                    "The topology fixes python3.12 (Lambda's arm64 runtime the dependency layer is built for); "
                    "moving to a newer runtime means rebuilding the layer's wheels for it, done deliberately.")
        acknowledge(role, "IAM5[Resource::*]",
                    "Only xray:PutTraceSegments/PutTelemetryRecords (active tracing): X-Ray has no resource-level "
                    "permissions. tests/infra asserts no other action is granted on '*'.")
        for g in fn.grants:
            kind, key = g.resource.split(":", 1)
            if kind == "bucket":
                bucket = stack.storage.buckets[key]
                for action in S3_GRANT_ACTIONS[g.access]:
                    acknowledge(role, f"IAM5[Action::{action}]",
                                f"CDK's bucket grant for '{g.access}' (topology grant {g.resource}); "
                                f"limited to that one bucket.")
                acknowledge(role, f"IAM5[Resource::{_arn_ref(bucket)}/*]",
                            f"Objects of the '{key}' bucket: keys are per merchant and batch, not known at deploy.")
            elif kind == "secret":
                from .functions import secret_arn

                arn = stack.resolve(secret_arn(stack, key))
                acknowledge(role, f"IAM5[Resource::{_nag_arn(arn)}]",
                            f"The channel shops' secrets ({key}: one per merchant and channel, created by ops, "
                            f"named with a random suffix); GetSecretValue only, no other secret.")
            elif kind == "table":
                table = stack.storage.tables[key]
                acknowledge(role, f"IAM5[Resource::{_arn_ref(table)}/index/*]",
                            f"The '{key}' table's own GSIs (queries by status, merchant); no other table.")

    for key, machine in stack.workflow.state_machines.items():
        acknowledge(machine.role, "IAM5[Resource::*]",
                    "X-Ray tracing and CloudWatch Logs vended delivery (logs:CreateLogDelivery, ...) accept no "
                    "resource-level permissions.")
        sm = next(s for s in topology.state_machines if s.key == key)
        for kind, fkey in sm.substitutions.values():
            if kind == "function":
                acknowledge(machine.role, f"IAM5[Resource::{_arn_ref(functions.functions[fkey])}:*]",
                            f"Versions/aliases of the '{fkey}' function the definition invokes; no other function.")

    for route in stack.api.unauthenticated_routes["signature"]:
        acknowledge(route, "APIG4",
                    "Pushes from the sales platforms and ERP feeds cannot carry a Cognito JWT: the function "
                    "verifies every request's signature with the sender's secret and refuses replays by "
                    "message id before applying anything.")
    for route in stack.api.unauthenticated_routes["none"]:
        acknowledge(route, "APIG4",
                    "Sign-in (POST /auth/login, /auth/refresh) is how a person gets a token, so it cannot require "
                    "one: the auth function only forwards the username and password (or refresh token) to "
                    "Cognito's InitiateAuth and holds no IAM grant; Cognito rate-limits and locks out guessing.")
    acknowledge(stack.api.user_pool, "COG2",
                "Sign-in goes through the auth function's USER_PASSWORD_AUTH, which answers tokens or 401; it has "
                "no MFA challenge step yet, and with MFA required no user could sign in. Accounts are created by "
                "ops only (no self sign-up) with 12+ character passwords; MFA is a follow-up with a TOTP step.")
    acknowledge(stack.storage.backup_plan,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
                "AWS Backup's service role needs the AWS-managed AWSBackupServiceRolePolicyForBackup.")
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            acknowledge(child,
                        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                        "CDK's own custom resource that sets the drop bucket's ObjectCreated -> intake queue "
                        "notification; it runs only at deploy time.")
    acknowledge(stack.api.user_pool, "COG8",
                "The Plus feature plan is billed per monthly active user; this pool holds invited staff and "
                "merchant accounts only (no self sign-up, created by ops, immutable merchant scope).")
