"""Stand the topology up on the emulator: the same resources, names derived the same way."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from shangjia.topology import REPO_ROOT, TOPOLOGY, Topology, env_name

ACCOUNT = "123456789012"
REGION = "us-east-1"
PREFIX = "shangjia"


@dataclass
class Resources:
    buckets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)        # key -> url (DLQs as "<key>_dlq")
    queue_arns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)     # key -> arn
    state_machines: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)        # key -> arn

    def environment(self) -> dict[str, str]:
        """The union of every function's resource settings (they share one process here)."""
        env = {}
        for kind, mapping in (("bucket", self.buckets), ("queue", self.queues), ("table", self.tables),
                              ("statemachine", self.state_machines), ("topic", self.topics)):
            for key, value in mapping.items():
                env[env_name(kind, key)] = value
        return env


def _zip_of(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if path.exists():
            z.write(path, path.name)
        else:
            z.writestr("handler.py", "")
    return buf.getvalue()


def definition(topology: Topology, machine_key: str, resources: Resources) -> str:
    sm = next(s for s in topology.state_machines if s.key == machine_key)
    text = sm.path.read_text(encoding="utf-8")
    for placeholder, (kind, key) in sm.substitutions.items():
        value = {"function": resources.functions, "queue": resources.queues, "table": resources.tables}[kind][key]
        text = text.replace("${" + placeholder + "}", value)
    return text


def _projection(g) -> dict:
    out = {"ProjectionType": g.projection_type}
    if g.non_key_attributes:
        out["NonKeyAttributes"] = list(g.non_key_attributes)
    return out


def provision(session, topology: Topology = TOPOLOGY, *, visibility_timeout_s: int | None = None,
              suffix: str = "local") -> Resources:
    """Create everything; ``visibility_timeout_s`` replaces the topology's timeouts so a failed
    message comes back in seconds instead of minutes (the local clock is fast, the semantics the same)."""
    res = Resources()
    iam = session.client("iam")
    role_arn = iam.create_role(RoleName=f"{PREFIX}-{suffix}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": ["lambda.amazonaws.com",
                                                                          "states.amazonaws.com"]}}]}))["Role"]["Arn"]
    s3 = session.client("s3")
    for b in topology.buckets:
        name = f"{PREFIX}-{suffix}-{b.key}"
        s3.create_bucket(Bucket=name)
        if b.versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        res.buckets[b.key] = name

    sqs = session.client("sqs")
    for q in topology.queues:
        dlq_url = sqs.create_queue(QueueName=f"{PREFIX}-{suffix}-{q.dlq_key}",
                                   Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        vt = visibility_timeout_s if visibility_timeout_s is not None else topology.visibility_timeout(q.key)
        url = sqs.create_queue(QueueName=f"{PREFIX}-{suffix}-{q.key}", Attributes={
            "VisibilityTimeout": str(vt),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count})})["QueueUrl"]
        res.queues[q.key], res.queues[q.dlq_key] = url, dlq_url
        res.queue_arns[q.key] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        res.queue_arns[q.dlq_key] = dlq_arn

    ddb = session.client("dynamodb")
    for t in topology.tables:
        name = f"{PREFIX}-{suffix}-{t.key}"
        attrs = {t.partition_key, t.sort_key} | {a for g in t.indexes for a in (g.partition_key, g.sort_key)}
        ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
            KeySchema=[{"AttributeName": t.partition_key, "KeyType": "HASH"},
                       {"AttributeName": t.sort_key, "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": g.name,
                                     "KeySchema": [{"AttributeName": g.partition_key, "KeyType": "HASH"},
                                                   {"AttributeName": g.sort_key, "KeyType": "RANGE"}],
                                     "Projection": _projection(g)} for g in t.indexes])
        res.tables[t.key] = name

    lam = session.client("lambda")
    for fn in topology.functions:
        module, _, _attr = fn.handler.rpartition(".")
        code_path = REPO_ROOT / "functions" / fn.key / "handler.py"
        arn = lam.create_function(
            FunctionName=f"{PREFIX}-{suffix}-{fn.key}", Runtime="python3.12", Role=role_arn,
            Handler=fn.handler, Code={"ZipFile": _zip_of(code_path)}, Timeout=fn.timeout_s,
            MemorySize=fn.memory_mb, Architectures=["arm64"])["FunctionArn"]
        res.functions[fn.key] = arn

    sfn = session.client("stepfunctions")
    for sm in topology.state_machines:
        res.state_machines[sm.key] = sfn.create_state_machine(
            name=f"{PREFIX}-{suffix}-{sm.key}", definition=definition(topology, sm.key, res), roleArn=role_arn,
            type=sm.type)["stateMachineArn"]

    sns = session.client("sns")
    for t in topology.topics:
        res.topics[t.key] = sns.create_topic(Name=f"{PREFIX}-{suffix}-{t.key}")["TopicArn"]

    for bucket_key, queue_key in topology.notifications:
        s3.put_bucket_notification_configuration(Bucket=res.buckets[bucket_key], NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": res.queue_arns[queue_key], "Events": ["s3:ObjectCreated:*"]}]})
    return res
