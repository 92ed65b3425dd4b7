"""Each function's role holds exactly what its topology grants (and triggers) imply — no more."""

from __future__ import annotations

import pytest
from aws_cdk import ArnFormat
from infra_support import as_list, ref

from shangjia.topology import REPO_ROOT, TOPOLOGY

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

# What each topology access means in IAM actions — written out here, independently of the stack's
# grant table, so a wider CDK grant (or a wrong mapping) shows up as a failure to review.
S3_READ = {"s3:GetObject*", "s3:GetBucket*", "s3:List*"}
S3_PUT = {"s3:PutObject", "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectTagging",
          "s3:PutObjectVersionTagging", "s3:Abort*"}
DDB_READ = {"dynamodb:BatchGetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:Query",
            "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"}
DDB_WRITE = {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
             "dynamodb:DescribeTable"}
SQS_SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
SQS_CONSUME = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
               "sqs:GetQueueAttributes"}

# (kind, access) -> [(actions, resource suffixes)] where a suffix is appended to "<LogicalId>"
ACCESS = {
    ("bucket", "read"): [(S3_READ, (".Arn", ".Arn/*"))],
    ("bucket", "write"): [(S3_PUT, (".Arn/*",))],
    ("bucket", "readwrite"): [(S3_READ, (".Arn", ".Arn/*")), (S3_PUT, (".Arn/*",))],   # read and put: no delete
    ("bucket", "delete"): [({"s3:DeleteObject*"}, (".Arn/*",))],
    ("queue", "send"): [(SQS_SEND, (".Arn",))],
    ("queue", "read"): [(SQS_CONSUME, (".Arn",))],        # the api's DLQ depth and redrive
    ("table", "read"): [(DDB_READ, (".Arn", ".Arn/index/*"))],
    ("table", "write"): [(DDB_WRITE, (".Arn", ".Arn/index/*"))],
    ("table", "readwrite"): [(DDB_READ | DDB_WRITE, (".Arn", ".Arn/index/*"))],
    ("statemachine", "start"): [({"states:StartExecution"}, ("",))],
    ("topic", "publish"): [({"sns:Publish"}, ("",))],    # the merchants' notices
    ("statemachine", "task_response"): [({"states:SendTaskSuccess", "states:SendTaskFailure",
                                          "states:SendTaskHeartbeat"}, ("",))],
}

# The only actions any role may hold on Resource "*", each because AWS offers no narrower resource.
STAR_ALLOWED = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",            # X-Ray has no resource-level permissions
    "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",   # Step Functions vended logs
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # CDK's BucketDeployment (the web app's files) invalidates the CloudFront distribution after an
    # upload; the construct grants the invalidation on "*" (deploy time only, no data access)
    "cloudfront:GetInvalidation", "cloudfront:CreateInvalidation",
}
# Managed policies allowed on any role in the stack, and why.
MANAGED_ALLOWED = {
    "AWSBackupServiceRolePolicyForBackup",      # AWS Backup's service role
    "AWSLambdaBasicExecutionRole",              # CDK's deploy-time S3-notification custom resource
}


def pairs_of_role(synth, role_lid: str) -> set[tuple[str, str]]:
    pairs = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if role_lid not in [ref(r) for r in policy["Properties"]["Roles"]]:
            continue
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert s["Effect"] == "Allow", s
            for action in as_list(s["Action"]):
                for resource in as_list(s["Resource"]):
                    pairs.add((action, ref(resource)))
    for inline in synth.resources[role_lid]["Properties"].get("Policies", []):
        raise AssertionError(f"unexpected inline policy {inline['PolicyName']} on {role_lid}")
    return pairs


def expected_pairs(synth, fn) -> set[tuple[str, str]]:
    res = synth.stack.resources
    pairs = set()
    for g in fn.grants:
        kind, key = g.resource.split(":", 1)
        if kind == "secret":
            # the channel shops' (and the ERP clients') secrets by name pattern: reading them, nothing else
            assert (key, g.access) in {("shangjia/shops/*", "read"), ("shangjia/erp/*", "read")}, (fn.key, g)
            arn = ref(synth.stack.resolve(synth.stack.format_arn(
                service="secretsmanager", resource="secret", resource_name=key, arn_format=ArnFormat.COLON_RESOURCE_NAME)))
            pairs.add(("secretsmanager:GetSecretValue", arn))
            continue
        if kind == "statemachine":
            # granted by name (an ARN built with format_arn): see workflow.ReviewWorkflow.references
            lid = ref(synth.stack.resolve(res.get(kind, key).state_machine_arn))
        else:
            lid = synth.logical_id(res.get(kind, key))
        if g.access == "actions":          # exactly the named item actions (table and its indexes)
            pairs |= {(f"dynamodb:{a}", lid + sfx) for a in g.actions for sfx in (".Arn", ".Arn/index/*")}
            continue
        for actions, suffixes in ACCESS[(kind, g.access)]:
            pairs |= {(a, lid + sfx) for a in actions for sfx in suffixes}
    for t in fn.triggers:
        lid = synth.logical_id(synth.stack.queues.queues[t.queue])
        pairs |= {(a, f"{lid}.Arn") for a in SQS_CONSUME}
    log_group = synth.logical_id(synth.stack.functions.log_groups[fn.key])
    pairs |= {("logs:CreateLogStream", f"{log_group}.Arn"), ("logs:PutLogEvents", f"{log_group}.Arn")}
    pairs |= {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
    return pairs


@pytest.mark.parametrize("fn", TOPOLOGY.functions, ids=lambda f: f.key)
def test_role_holds_exactly_its_grants(synth, fn):
    role = synth.logical_id(synth.stack.functions.roles[fn.key])
    got, want = pairs_of_role(synth, role), expected_pairs(synth, fn)
    assert got - want == set(), f"{fn.key} holds more than its grants"
    assert want - got == set(), f"{fn.key} lacks a granted permission"
    assert not synth.resources[role]["Properties"].get("ManagedPolicyArns"), "no managed policies on function roles"
    fn_props = synth.resources[synth.logical_id(synth.stack.functions.functions[fn.key])]["Properties"]
    assert fn_props["Role"] == {"Fn::GetAtt": [role, "Arn"]}


def _send_targets(synth, fn_key: str) -> set[str]:
    role = synth.logical_id(synth.stack.functions.roles[fn_key])
    return {r for a, r in pairs_of_role(synth, role) if a == "sqs:SendMessage"}


def test_validate_sends_to_media_but_not_to_publish(synth):
    sends = _send_targets(synth, "validate")
    queues = synth.stack.queues.queues
    assert f"{synth.logical_id(queues['media'])}.Arn" in sends
    for key in queues:
        if key.startswith("publish_"):
            assert f"{synth.logical_id(queues[key])}.Arn" not in sends


def test_publish_has_no_s3_access(synth):
    role = synth.logical_id(synth.stack.functions.roles["publish"])
    assert not [p for p in pairs_of_role(synth, role) if p[0].startswith("s3:")]


def test_only_ingest_validate_media_and_report_read_the_drop_bucket(synth):
    """ingest parses uploads, media reads images, validate (small batches) and report (big ones)
    re-read the sheet to annotate the merchant's error report; nothing else reads uploads."""
    drop = synth.logical_id(synth.stack.storage.buckets["drop"])
    readers = {fn.key for fn in TOPOLOGY.functions
               if ("s3:GetObject*", f"{drop}.Arn/*") in pairs_of_role(synth, synth.logical_id(synth.stack.functions.roles[fn.key]))}
    assert readers == {"ingest", "validate", "media", "report"}


def test_state_machine_role_invokes_and_sends_only_what_it_substitutes(synth):
    for sm in TOPOLOGY.state_machines:
        machine = synth.stack.workflow.state_machines[sm.key]
        role = synth.logical_id(machine.role)
        pairs = pairs_of_role(synth, role)
        want = set()
        for kind, key in sm.substitutions.values():
            lid = synth.logical_id(synth.stack.resources.get(kind, key))
            if kind == "function":
                want |= {("lambda:InvokeFunction", f"{lid}.Arn"), ("lambda:InvokeFunction", f"{lid}.Arn:*")}
            elif kind == "queue":
                want |= {(a, f"{lid}.Arn") for a in SQS_SEND}
        star = {p for p in pairs if p[1] == "*"}
        assert {a for a, _ in star} <= STAR_ALLOWED
        assert pairs - star == want


def test_no_wildcard_actions_and_star_resources_only_where_aws_requires(synth):
    for lid, policy in synth.of_type("AWS::IAM::Policy").items():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(s["Action"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (lid, actions)
            if "*" in as_list(s["Resource"]):
                assert set(actions) <= STAR_ALLOWED, (lid, actions)


def test_no_administrator_or_unexpected_managed_policy(synth):
    for lid, role in synth.of_type("AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            name = ref(arn).rsplit("/", 1)[-1]
            assert name in MANAGED_ALLOWED, (lid, name)


def test_only_ingest_writes_the_drop_bucket(synth):
    """Added with Grant("bucket:drop", "write") on ingest: it unpacks a zip uploaded beside a
    sheet into the drop bucket (pipeline/bundles.py). The api signs the merchants' upload POSTs
    (a presigned POST puts as far as its signer may: PutObject, never a read), each to one key
    under the merchant's uploads/ with a size limit. The erp function writes an ERP's feed (and
    signs its big-feed POSTs) under <merchant>/erp/<client>/, never reading. No other function
    may write over what merchants upload."""
    drop = synth.logical_id(synth.stack.storage.buckets["drop"])
    writers = {fn.key for fn in TOPOLOGY.functions
               if any(a.startswith("s3:PutObject") and r == f"{drop}.Arn/*"
                      for a, r in pairs_of_role(synth, synth.logical_id(synth.stack.functions.roles[fn.key])))}
    assert writers == {"ingest", "api", "erp"}


# --- what the code really calls -------------------------------------------------------------------

CODE_DIRS = [REPO_ROOT / "layers" / "core" / "python" / "shangjia", REPO_ROOT / "functions"]


def _code_calls(*names: str) -> dict[str, list[str]]:
    """Which source files (outside the local cloud, which never runs on AWS) call any of ``names``."""
    hits: dict[str, list[str]] = {}
    for root in CODE_DIRS:
        for path in root.rglob("*.py"):
            if "localcloud" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            for n in names:
                if f".{n}(" in text:
                    hits.setdefault(n, []).append(str(path.relative_to(REPO_ROOT)))
    return hits


def test_no_role_may_delete_objects_unless_the_code_deletes(synth):
    """Nothing in the product deletes an S3 object (renditions are content-addressed and kept;
    reports expire by lifecycle rule). So no function role holds s3:DeleteObject* on any bucket
    (the media bucket above all: three roles once held it through a "readwrite" grant). If the code
    starts deleting, it says so with Grant(bucket, "delete") and this test names who may."""
    deleters_in_code = _code_calls("delete_object", "delete_objects")
    assert deleters_in_code == {}, f"the code deletes S3 objects now: {deleters_in_code}; grant it explicitly"
    may_delete = {fn.key for fn in TOPOLOGY.functions for g in fn.grants if g.access == "delete"}
    assert may_delete == set()
    media = synth.logical_id(synth.stack.storage.buckets["media"])
    buckets = {synth.logical_id(b) for b in synth.stack.storage.buckets.values()}
    for fn in TOPOLOGY.functions:
        role = synth.logical_id(synth.stack.functions.roles[fn.key])
        deletes = {(a, r) for a, r in pairs_of_role(synth, role)
                   if a.startswith("s3:DeleteObject") and r.split(".", 1)[0] in buckets}
        on_media = {p for p in deletes if p[1].startswith(media + ".")}
        assert not on_media, f"{fn.key} may delete media objects but never does: {on_media}"
        assert not deletes, f"{fn.key} may delete objects but never does: {deletes}"


def test_media_bucket_writers_and_readers_are_the_ones_that_use_it(synth):
    """media renders into it (and checks a source's ETag: HeadObject on drop); review_tasks writes
    the detail previews a reviewer opens (pipeline/review.py render_previews), never reads;
    review_step checks the previews without storing them; the api signs short-lived GET links to the previews and renditions for reviewers
    (read only). Nobody else touches it."""
    media = synth.logical_id(synth.stack.storage.buckets["media"])
    access: dict[str, set[str]] = {}
    for fn in TOPOLOGY.functions:
        role = synth.logical_id(synth.stack.functions.roles[fn.key])
        for a, r in pairs_of_role(synth, role):
            if r.startswith(media + "."):
                access.setdefault(fn.key, set()).add(
                    "read" if a.startswith(("s3:Get", "s3:List")) else "write" if a.startswith(("s3:Put", "s3:Abort"))
                    else a)
    assert access == {"media": {"read", "write"}, "review_tasks": {"write"}, "api": {"read"}}


# The DynamoDB calls the ops API makes (functions/api/handler.py and what it calls: pipeline/review.py
# claim/heartbeat/decide/list_tasks/tasks_of, products.get_product/set_status, views.batch_summary):
# Store.get -> GetItem, Store.get_many -> BatchGetItem, Store.query -> Query (table and gsi1/gsi2),
# Store.update -> UpdateItem (claim, heartbeat, decision, product status), Store.put -> PutItem
# (the decision's audit record). No Scan, no DeleteItem, no BatchWriteItem, no stream reads.
API_TABLE_ACTIONS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem",
                     "dynamodb:PutItem"}


def test_api_role_table_actions_are_exactly_those_it_uses(synth):
    table = synth.logical_id(synth.stack.storage.tables["state"])
    role = synth.logical_id(synth.stack.functions.roles["api"])
    pairs = {(a, r) for a, r in pairs_of_role(synth, role) if r.split(".", 1)[0] == table}
    assert {a for a, _ in pairs} == API_TABLE_ACTIONS
    # on the table, and Query on its indexes (the task lists and a batch's products are gsi queries)
    assert {r for _, r in pairs} == {f"{table}.Arn", f"{table}.Arn/index/*"}



def test_only_the_channel_functions_read_the_shops_secrets(synth):
    """publish (sends), channel_callback (verifies pushes, reads orders), listing_poller (looks
    listings up), stock_sync and stock_reconcile (stock APIs) hold the shops' credentials; erp reads
    only the ERP clients' webhook secrets; nobody else reads a secret."""
    readers = {fn.key for fn in TOPOLOGY.functions
               if any(a == "secretsmanager:GetSecretValue"
                      for a, _ in pairs_of_role(synth, synth.logical_id(synth.stack.functions.roles[fn.key])))}
    assert readers == {"publish", "channel_callback", "listing_poller", "stock_sync", "stock_reconcile", "erp"}
    for fn in TOPOLOGY.functions:
        role = synth.logical_id(synth.stack.functions.roles[fn.key])
        for a, r in pairs_of_role(synth, role):
            if a.startswith("secretsmanager:"):
                want = ":secret:shangjia/erp/*" if fn.key == "erp" else ":secret:shangjia/shops/*"
                assert a == "secretsmanager:GetSecretValue" and r.endswith(want), (fn.key, a, r)
