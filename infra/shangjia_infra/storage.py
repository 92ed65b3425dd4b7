"""Buckets and tables of the topology, plus the backup plan for the tables."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shangjia.topology import Topology

from .settings import Settings, camel


class Storage(Construct):
    """S3 buckets (encrypted, private, TLS-only, versioned where declared) and DynamoDB tables
    (on demand, PITR, TTL, GSIs as declared), with a daily AWS Backup plan for the tables.

    Data is retained when the stack is deleted (docs/deploy.md says how to remove it)."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, settings: Settings) -> None:
        super().__init__(scope, id)
        self.buckets: dict[str, s3.Bucket] = {}
        self.tables: dict[str, ddb.Table] = {}

        # S3 server access logs of every topology bucket: who put/got which merchant file.
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,   # the log delivery service requires SSE-S3
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )

        for b in topology.buckets:
            self.buckets[b.key] = s3.Bucket(
                self, camel(b.key) + "Bucket",
                versioned=b.versioned,
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{b.key}/",
                lifecycle_rules=_lifecycle(b.key, b.versioned, settings),
                removal_policy=RemovalPolicy.RETAIN,
            )

        for t in topology.tables:
            # the write warm throughput the capacity model derives for the design peak, where it is
            # above what a new on-demand table or index takes at once (topology.sized)
            warm = dict(t.warm_writes)
            table = ddb.Table(
                self, camel(t.key) + "Table",
                partition_key=ddb.Attribute(name=t.partition_key, type=ddb.AttributeType.STRING),
                sort_key=ddb.Attribute(name=t.sort_key, type=ddb.AttributeType.STRING) if t.sort_key else None,
                billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True),
                encryption=ddb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=t.ttl_attribute,
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
                warm_throughput=ddb.WarmThroughput(write_units_per_second=warm["table"]) if "table" in warm else None,
            )
            for g in t.indexes:
                table.add_global_secondary_index(
                    index_name=g.name,
                    partition_key=ddb.Attribute(name=g.partition_key, type=ddb.AttributeType.STRING),
                    sort_key=ddb.Attribute(name=g.sort_key, type=ddb.AttributeType.STRING) if g.sort_key else None,
                    projection_type=ddb.ProjectionType(g.projection_type),
                    non_key_attributes=list(g.non_key_attributes) or None,
                    warm_throughput=(ddb.WarmThroughput(write_units_per_second=warm[g.name])
                                     if g.name in warm else None),
                )
            self.tables[t.key] = table

        # "Distributed storage with regular backups so no product data is lost": PITR covers the
        # last 35 days to the second; the plan keeps daily and monthly snapshots beyond that.
        self.backup_vault = backup.BackupVault(self, "Vault", removal_policy=RemovalPolicy.RETAIN)
        self.backup_plan = backup.BackupPlan(self, "BackupPlan", backup_vault=self.backup_vault)
        self.backup_plan.add_rule(backup.BackupPlanRule(
            rule_name="daily-35d",
            schedule_expression=events.Schedule.cron(hour="3", minute="0"),
            delete_after=Duration.days(35),
        ))
        self.backup_plan.add_rule(backup.BackupPlanRule(
            rule_name="monthly-1y",
            schedule_expression=events.Schedule.cron(day="1", hour="4", minute="0"),
            move_to_cold_storage_after=Duration.days(30),
            delete_after=Duration.days(365),
        ))
        self.backup_plan.add_selection("Tables", resources=[
            backup.BackupResource.from_dynamo_db_table(t) for t in self.tables.values()
        ])

    def notify(self, topology: Topology, queues: dict[str, sqs.Queue]) -> None:
        """S3 ObjectCreated of a bucket -> a queue, as the topology's notifications declare."""
        for bucket_key, queue_key in topology.notifications:
            self.buckets[bucket_key].add_event_notification(
                s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queues[queue_key]))


def _lifecycle(key: str, versioned: bool, settings: Settings) -> list[s3.LifecycleRule]:
    rules = [s3.LifecycleRule(id="abort-incomplete-uploads",
                              abort_incomplete_multipart_upload_after=Duration.days(7))]
    if versioned:
        # Raw uploads stay; superseded versions (a merchant re-dropping a sheet) age out.
        rules.append(s3.LifecycleRule(id="expire-noncurrent-versions",
                                      noncurrent_version_expiration=Duration.days(settings.drop_noncurrent_days)))
    if key == "reports":
        # Merchant error reports are regenerated on demand; they need not live forever.
        # (Proposed for topology.Bucket: an ``expire_days`` field instead of this key check.)
        rules.append(s3.LifecycleRule(id="expire-reports", expiration=Duration.days(settings.reports_expire_days)))
    return rules

