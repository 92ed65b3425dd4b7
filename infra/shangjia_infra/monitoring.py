"""Alarms on dead letters, function errors and failed executions, sent to one SNS topic."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .settings import Settings, camel


class Monitoring(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, dlqs: dict[str, sqs.Queue],
                 functions: dict[str, lambda_.Function], state_machines: dict[str, sfn.StateMachine]) -> None:
        super().__init__(scope, id)
        # A customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        self.key = kms.Key(self, "AlarmsKey", enable_key_rotation=True, description="shangjia alarm topic",
                           removal_policy=RemovalPolicy.DESTROY, pending_window=Duration.days(7))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],   # in a key policy "*" means this key
        ))
        self.topic = sns.Topic(self, "Alarms", display_name="Shangjia alarms", master_key=self.key,
                               enforce_ssl=True)
        if settings.alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(settings.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.Metric, description: str) -> None:
            a = metric.create_alarm(
                self, name, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            a.add_alarm_action(action)
            a.add_ok_action(action)
            self.alarms[name] = a

        for key, dlq in dlqs.items():
            alarm(f"{camel(key)}DeadLetters",
                  dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
                  f"messages from the {key} queue are dead-lettered: see docs/deploy.md (redrive)")
        for key, fn in functions.items():
            alarm(f"{camel(key)}Errors", fn.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                  f"the {key} function raised (a bug or an outage, not a merchant's bad row)")
        for key, machine in state_machines.items():
            alarm(f"{camel(key)}ExecutionsFailed", machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                  f"{key} executions failed")
            alarm(f"{camel(key)}ExecutionsTimedOut",
                  machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                  f"{key} executions timed out")
