"""The synthesized template holds the topology: queues, functions, triggers, storage, API, alarms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shangjia.topology import TOPOLOGY, function_environment

from infra_support import as_list, ref

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


# --- queues ---------------------------------------------------------------------------------

@pytest.mark.parametrize("queue", TOPOLOGY.queues, ids=lambda q: q.key)
def test_queue_has_dlq_redrive_sse_and_visibility(synth, queue):
    q = synth.resources[synth.logical_id(synth.stack.queues.queues[queue.key])]["Properties"]
    dlq_id = synth.logical_id(synth.stack.queues.dlqs[queue.key])
    assert q["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                  "maxReceiveCount": queue.max_receive_count}
    assert q["SqsManagedSseEnabled"] is True
    assert synth.resources[dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    assert synth.resources[dlq_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert q["VisibilityTimeout"] == TOPOLOGY.visibility_timeout(queue.key)
    assert bool(q.get("FifoQueue")) == queue.fifo


def test_every_queue_and_dlq_exists_and_nothing_else(synth):
    assert len(synth.of_type("AWS::SQS::Queue")) == 2 * len(TOPOLOGY.queues)


def test_queues_are_tls_only(synth):
    policies = synth.of_type("AWS::SQS::QueuePolicy").values()
    covered = set()
    for p in policies:
        for s in p["Properties"]["PolicyDocument"]["Statement"]:
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                covered.update(ref(r) for r in p["Properties"]["Queues"])
    queue_ids = set(synth.of_type("AWS::SQS::Queue"))
    assert queue_ids <= covered


def test_visibility_timeout_is_at_least_six_consumer_timeouts(synth):
    """Read from the template alone: each mapping's queue vs. the function it feeds."""
    for esm in synth.of_type("AWS::Lambda::EventSourceMapping").values():
        props = esm["Properties"]
        queue = synth.resources[props["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        fn = synth.resources[props["FunctionName"]["Ref"]]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"]


# --- functions and triggers -----------------------------------------------------------------

@pytest.mark.parametrize("fn", TOPOLOGY.functions, ids=lambda f: f.key)
def test_function_settings(synth, fn):
    props = synth.resources[synth.logical_id(synth.stack.functions.functions[fn.key])]["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == fn.handler
    assert props["MemorySize"] == fn.memory_mb
    assert props["Timeout"] == fn.timeout_s
    assert props.get("ReservedConcurrentExecutions") == fn.reserved_concurrency
    assert props["TracingConfig"] == {"Mode": "Active"}
    layers = {ref(x) for x in props["Layers"]}
    assert layers == {synth.logical_id(synth.stack.layers.core), synth.logical_id(synth.stack.layers.deps)}


@pytest.mark.parametrize("fn", TOPOLOGY.functions, ids=lambda f: f.key)
def test_function_environment_names_the_real_resources(synth, fn):
    env = synth.resources[synth.logical_id(synth.stack.functions.functions[fn.key])]["Properties"]["Environment"][
        "Variables"]
    resources = synth.stack.resources
    expected = {}
    for var, (kind, key) in function_environment(fn).items():
        if kind == "statemachine":
            # by name, not by Ref (a Ref would make review_step <-> review_manual a cycle); the name
            # in the ARN is the deployed machine's name
            arn = synth.stack.resolve(resources.get(kind, key).state_machine_arn)
            machine = synth.resources[synth.logical_id(synth.stack.workflow.state_machines[key])]["Properties"]
            assert json.dumps(arn).endswith(f':{machine["StateMachineName"]}"]]}}'), arn
            expected[var] = arn
            continue
        lid = synth.logical_id(resources.get(kind, key))
        # bucket/table names are Ref; a queue's URL is its Ref too.
        expected[var] = {"Ref": lid}
    assert {k: v for k, v in env.items() if k.startswith("SHANGJIA_")} == expected
    assert env["POWERTOOLS_SERVICE_NAME"] == f"shangjia-{fn.key}"
    assert env["LOG_LEVEL"] == "INFO"


def test_event_source_mappings_match_the_triggers(synth):
    esms = synth.of_type("AWS::Lambda::EventSourceMapping").values()
    by_pair = {(e["Properties"]["FunctionName"]["Ref"], e["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]):
               e["Properties"] for e in esms}
    expected = 0
    for fn in TOPOLOGY.functions:
        for t in fn.triggers:
            expected += 1
            key = (synth.logical_id(synth.stack.functions.functions[fn.key]),
                   synth.logical_id(synth.stack.queues.queues[t.queue]))
            props = by_pair[key]
            assert props["BatchSize"] == t.batch_size
            assert props.get("MaximumBatchingWindowInSeconds", 0) == t.batching_window_s
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert props.get("ScalingConfig", {}).get("MaximumConcurrency") == t.max_concurrency
    assert len(by_pair) == expected


def test_queues_with_a_consumer_are_the_ones_triggering_it(synth):
    for q in TOPOLOGY.queues:
        if q.consumer:
            consumer = TOPOLOGY.function(q.consumer)
            assert q.key in {t.queue for t in consumer.triggers}, f"{q.key} is never consumed"


# --- storage --------------------------------------------------------------------------------

@pytest.mark.parametrize("bucket", TOPOLOGY.buckets, ids=lambda b: b.key)
def test_bucket_is_encrypted_private_tls_only(synth, bucket):
    lid = synth.logical_id(synth.stack.storage.buckets[bucket.key])
    props = synth.resources[lid]["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert (props.get("VersioningConfiguration") == {"Status": "Enabled"}) == bucket.versioned
    assert props["LoggingConfiguration"]["LogFilePrefix"] == f"{bucket.key}/"
    policy = next(p for p in synth.of_type("AWS::S3::BucketPolicy").values() if ref(p["Properties"]["Bucket"]) == lid)
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in deny)


def test_drop_bucket_is_versioned():
    assert next(b for b in TOPOLOGY.buckets if b.key == "drop").versioned


def test_reports_expire_and_uploads_abort(synth):
    props = synth.resources[synth.logical_id(synth.stack.storage.buckets["reports"])]["Properties"]
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-reports"]["ExpirationInDays"] == 90
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


def test_drop_notification_goes_to_the_intake_queue(synth):
    (notification,) = synth.of_type("Custom::S3BucketNotifications").values()
    wanted = {(synth.logical_id(synth.stack.storage.buckets[b]), synth.logical_id(synth.stack.queues.queues[q]))
              for b, q in TOPOLOGY.notifications}
    props = notification["Properties"]
    configs = props["NotificationConfiguration"]["QueueConfigurations"]
    got = {(ref(props["BucketName"]), c["QueueArn"]["Fn::GetAtt"][0]) for c in configs}
    assert got == wanted
    assert all(c["Events"] == ["s3:ObjectCreated:*"] for c in configs)
    # ...and the queue's policy lets S3 (that bucket only) deliver.
    intake = synth.logical_id(synth.stack.queues.queues["intake"])
    statements = [s for p in synth.of_type("AWS::SQS::QueuePolicy").values()
                  if [ref(q) for q in p["Properties"]["Queues"]] == [intake]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    allow = [s for s in statements if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "s3.amazonaws.com"}]
    assert allow and "sqs:SendMessage" in allow[0]["Action"]
    assert ref(allow[0]["Condition"]["ArnLike"]["aws:SourceArn"]) == \
        f"{synth.logical_id(synth.stack.storage.buckets['drop'])}.Arn"


@pytest.mark.parametrize("table", TOPOLOGY.tables, ids=lambda t: t.key)
def test_table_on_demand_pitr_ttl_gsis(synth, table):
    lid = synth.logical_id(synth.stack.storage.tables[table.key])
    props = synth.resources[lid]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": table.partition_key, "KeyType": "HASH"},
                                  {"AttributeName": table.sort_key, "KeyType": "RANGE"}]
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    gsis = {g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in props.get("GlobalSecondaryIndexes", [])}
    assert gsis == {g.name: [g.partition_key, g.sort_key] for g in table.indexes}
    # the projection the topology declares (not ALL by default: index writes are billed by it)
    projections = {g["IndexName"]: g["Projection"] for g in props.get("GlobalSecondaryIndexes", [])}
    for g in table.indexes:
        assert projections[g.name]["ProjectionType"] == g.projection_type
        assert sorted(projections[g.name].get("NonKeyAttributes", [])) == sorted(g.non_key_attributes)
    assert synth.resources[lid]["DeletionPolicy"] == "Retain"
    # the backup plan selects it
    (selection,) = synth.of_type("AWS::Backup::BackupSelection").values()
    resources = selection["Properties"]["BackupSelection"]["Resources"]
    assert any(lid in str(r) for r in resources)


def test_backup_plan_keeps_daily_snapshots(synth):
    (plan,) = synth.of_type("AWS::Backup::BackupPlan").values()
    rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}
    assert rules["daily-35d"]["Lifecycle"]["DeleteAfterDays"] == 35


# --- API ------------------------------------------------------------------------------------

def test_api_routes_behind_the_cognito_authorizer(synth):
    """Exactly the topology's ``jwt`` routes are behind the JWT authorizer (issuer: the pool's URL,
    audience: the app client); ``signature`` routes (the function verifies each request) and
    ``none`` routes (sign-in) have no authorizer."""
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in synth.of_type("AWS::ApiGatewayV2::Route").values()}
    declared = {route: fn.http_auth for fn in TOPOLOGY.functions for route in fn.http_routes}
    assert set(routes) == set(declared)
    (authorizer_id, authorizer), = synth.of_type("AWS::ApiGatewayV2::Authorizer").items()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT" and props["IdentitySource"] == ["$request.header.Authorization"]
    pool = synth.logical_id(synth.stack.api.user_pool)
    # the pool's ProviderURL is cognito-idp.<region>.amazonaws.com/<pool id>: the tokens' iss
    assert ref(props["JwtConfiguration"]["Issuer"]) == f"https://{pool}.ProviderURL"
    client = synth.logical_id(synth.stack.api.client)
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": client}]
    assert {r for r, a in declared.items() if a == "none"} == {"POST /auth/login", "POST /auth/refresh"}
    assert {"POST /callbacks/wechat", "POST /callbacks/douyin"} <= {r for r, a in declared.items() if a == "signature"}
    assert {r for r, a in declared.items() if a == "jwt"}, "the API's routes are jwt"
    for key, route in routes.items():
        if declared[key] == "jwt":
            assert route["AuthorizationType"] == "JWT", key
            assert ref(route["AuthorizerId"]) == authorizer_id, key
        else:
            assert route.get("AuthorizationType", "NONE") == "NONE" and "AuthorizerId" not in route, key


def test_api_integrations_invoke_the_functions_with_routes(synth):
    integrations = synth.of_type("AWS::ApiGatewayV2::Integration").values()
    targets = {integration["Properties"]["IntegrationUri"]["Fn::GetAtt"][0] for integration in integrations}
    assert targets == {synth.logical_id(synth.stack.functions.functions[fn.key])
                       for fn in TOPOLOGY.functions if fn.http_routes}
    assert {i["Properties"]["PayloadFormatVersion"] for i in integrations} == {"2.0"}


def test_user_pool_groups_and_no_self_sign_up(synth):
    groups = {g["Properties"]["GroupName"] for g in synth.of_type("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"editor", "reviewer", "ops"}
    (pool,) = synth.of_type("AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "UsernameAttributes" not in pool["Properties"], "users sign in by username (shangjia users add NAME)"
    merchant = next(a for a in pool["Properties"]["Schema"] if a["Name"] == "merchant_id")
    assert merchant["Mutable"] is False
    (client,) = synth.of_type("AWS::Cognito::UserPoolClient").values()
    assert "custom:merchant_id" not in client["Properties"]["WriteAttributes"]
    assert set(client["Properties"]["ExplicitAuthFlows"]) == set(TOPOLOGY.user_pool.auth_flows)
    assert client["Properties"]["GenerateSecret"] is False


def test_the_sign_in_function_knows_the_pool_and_holds_no_cognito_grant(synth):
    fn = synth.resources[synth.logical_id(synth.stack.functions.functions["auth"])]["Properties"]
    env = fn["Environment"]["Variables"]
    assert env["SHANGJIA_USER_POOL_ID"] == {"Ref": synth.logical_id(synth.stack.api.user_pool)}
    assert env["SHANGJIA_USER_POOL_CLIENT_ID"] == {"Ref": synth.logical_id(synth.stack.api.client)}
    role = synth.logical_id(synth.stack.functions.roles["auth"])
    actions = [a for p in synth.of_type("AWS::IAM::Policy").values()
               if any(r.get("Ref") == role for r in p["Properties"]["Roles"])
               for st in p["Properties"]["PolicyDocument"]["Statement"] for a in as_list(st["Action"])]
    assert not [a for a in actions if a.startswith("cognito")], actions


def test_api_stage_logs_access(synth):
    (stage,) = synth.of_type("AWS::ApiGatewayV2::Stage").values()
    assert "DestinationArn" in stage["Properties"]["AccessLogSettings"]


# --- monitoring -----------------------------------------------------------------------------

def _alarms(synth):
    """Single-metric alarms (metric-math alarms, such as a channel's failure rate, have no MetricName)."""
    return [a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()
            if "MetricName" in a["Properties"]]


def test_alarm_on_every_dead_letter_queue(synth):
    topic = synth.logical_id(synth.stack.monitoring.topic)
    for q in TOPOLOGY.queues:
        dlq = synth.logical_id(synth.stack.queues.dlqs[q.key])
        matching = [a for a in _alarms(synth) if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                    and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]]
        assert len(matching) == 1, q.key
        a = matching[0]
        assert (a["Threshold"], a["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert a["AlarmActions"] == [{"Ref": topic}]


def test_alarm_on_every_function_error_and_failed_execution(synth):
    alarms = _alarms(synth)
    for fn in TOPOLOGY.functions:
        lid = synth.logical_id(synth.stack.functions.functions[fn.key])
        assert any(a["MetricName"] == "Errors" and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": lid}}]
                   for a in alarms), fn.key
    for sm in TOPOLOGY.state_machines:
        lid = synth.logical_id(synth.stack.workflow.state_machines[sm.key])
        assert any(a["MetricName"] == "ExecutionsFailed" and a["Dimensions"] ==
                   [{"Name": "StateMachineArn", "Value": {"Ref": lid}}] for a in alarms), sm.key


def test_alarm_topic_is_encrypted_and_cloudwatch_can_use_the_key(synth):
    topic = synth.resources[synth.logical_id(synth.stack.monitoring.topic)]
    key_id = ref(topic["Properties"]["KmsMasterKeyId"]).split(".")[0]
    key = synth.resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key["KeyPolicy"]["Statement"])


def test_outputs_tell_a_user_where_to_upload_and_sign_in(synth):
    outputs = synth.template.to_json()["Outputs"]
    assert {"DropBucketName", "ApiUrl", "UserPoolId", "UserPoolClientId", "AlarmTopicArn"} <= set(outputs)
    assert outputs["DropBucketName"]["Value"] == {"Ref": synth.logical_id(synth.stack.storage.buckets["drop"])}


def test_every_sqs_event_source_is_capped_within_its_functions_reservation(synth):
    """Throttled SQS deliveries count toward maxReceiveCount and send messages to the DLQ without
    ever running them. Every ESM carries ScalingConfig.MaximumConcurrency (AWS's minimum is 2),
    and a reserved function's ESMs together never drive more than its reservation."""
    fns = synth.of_type("AWS::Lambda::Function")
    caps_by_fn: dict[str, list[int]] = {}
    for lid, esm in synth.of_type("AWS::Lambda::EventSourceMapping").items():
        props = esm["Properties"]
        cap = props.get("ScalingConfig", {}).get("MaximumConcurrency")
        assert isinstance(cap, int) and 2 <= cap <= 1000, (lid, props.get("EventSourceArn"), cap)
        caps_by_fn.setdefault(props["FunctionName"]["Ref"], []).append(cap)
    assert caps_by_fn, "no SQS event source mappings synthesized"
    for fn_lid, caps in caps_by_fn.items():
        reserved = fns[fn_lid]["Properties"].get("ReservedConcurrentExecutions")
        if reserved is not None:
            assert sum(caps) <= reserved, (fn_lid, caps, reserved)
            assert max(caps) <= reserved, (fn_lid, caps, reserved)
    # the functions the issue named are among them, each capped
    for key in ("ingest", "validate", "media", "publish"):
        assert synth.logical_id(synth.stack.functions.functions[key]) in caps_by_fn, key


def test_no_throttled_delivery_warnings(synth):
    from aws_cdk.assertions import Annotations, Match

    warnings = Annotations.from_stack(synth.stack).find_warning("*", Match.string_like_regexp("throttled SQS"))
    assert not warnings, [w.entry.data for w in warnings]


def test_a_topology_with_an_uncapped_or_overcommitted_trigger_is_refused():
    """The topology says what is wrong; the stack refuses to build it (functions.Functions)."""
    from dataclasses import replace

    from shangjia.topology import SqsTrigger, concurrency_problems

    assert concurrency_problems(TOPOLOGY) == []
    ingest = TOPOLOGY.function("ingest")
    cases = {
        "without max_concurrency": (SqsTrigger("intake", batch_size=1),),
        "below 2": (SqsTrigger("intake", batch_size=1, max_concurrency=1),),
        "exceeds": (SqsTrigger("intake", batch_size=1, max_concurrency=ingest.reserved_concurrency + 1),),
    }
    for words, triggers in cases.items():
        bad = replace(TOPOLOGY, functions=tuple(replace(f, triggers=triggers) if f.key == "ingest" else f
                                                for f in TOPOLOGY.functions))
        problems = concurrency_problems(bad)
        assert len(problems) == 1 and problems[0].startswith("ingest") and words in problems[0], problems


def test_the_stack_refuses_a_topology_with_an_uncapped_trigger(synth, tmp_path):   # synth: infra/ on sys.path
    from dataclasses import replace

    from aws_cdk import App

    from shangjia.topology import SqsTrigger
    from shangjia_infra.app import FEATURE_FLAGS
    from shangjia_infra.stack import ShangjiaStack

    bad = replace(TOPOLOGY, functions=tuple(
        replace(f, triggers=(SqsTrigger("intake", batch_size=1),)) if f.key == "ingest" else f
        for f in TOPOLOGY.functions))
    app = App(outdir=str(tmp_path), context={**FEATURE_FLAGS, "shangjia:depsLayer": "placeholder"})
    with pytest.raises(Exception, match="max_concurrency"):
        ShangjiaStack(app, "Bad", topology=bad)


def _asset_dir(synth, construct) -> Path:
    """The staged directory of a Lambda function's or layer's code, via the asset manifest."""
    import json

    props = synth.resources[synth.logical_id(construct)]["Properties"]
    key = (props.get("Content") or props.get("Code"))["S3Key"]
    manifest = json.loads((synth.outdir / f"{synth.stack.artifact_id}.assets.json").read_text())
    return synth.outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]


def test_core_layer_ships_the_package_without_the_local_cloud(synth):
    core = _asset_dir(synth, synth.stack.layers.core)
    assert (core / "python" / "shangjia" / "__init__.py").is_file()
    assert (core / "python" / "shangjia" / "topology.py").is_file()
    assert not (core / "python" / "shangjia" / "localcloud").exists()
    assert not list(core.rglob("__pycache__"))


def test_function_code_asset_holds_every_handler(synth):
    code = _asset_dir(synth, synth.stack.functions.functions["ingest"])
    for fn in TOPOLOGY.functions:
        module = fn.handler.rsplit(".", 1)[0]
        assert (code / (module.replace(".", "/") + ".py")).is_file(), fn.handler


def test_scheduled_functions_have_their_eventbridge_rule(synth):
    rules = synth.of_type("AWS::Events::Rule").values()
    for fn in (f for f in TOPOLOGY.functions if f.schedule):
        lid = synth.logical_id(synth.stack.functions.functions[fn.key])
        hits = [r["Properties"] for r in rules
                if any(ref(t["Arn"]) == f"{lid}.Arn" for t in r["Properties"].get("Targets", []))]
        assert len(hits) == 1 and hits[0]["ScheduleExpression"] == fn.schedule, (fn.key, hits)


def test_only_the_reviewer_workflow_is_standard(synth):
    """State transitions are billed on Standard only: it is used where a reviewer's token waits."""
    machines = synth.of_type("AWS::StepFunctions::StateMachine").values()
    types = sorted(m["Properties"].get("StateMachineType", "STANDARD") for m in machines)
    assert types == ["EXPRESS", "STANDARD"]
