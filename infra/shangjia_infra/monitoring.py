"""Alarms on dead letters, function errors, failed executions, publish failures and review SLA
breaches, sent to one SNS topic; the business dashboard (``shangjia.metrics``: EMF, namespace
``Shangjia``); and the topology's own topics (the merchants' batch notices)."""

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

from shangjia import metrics as M
from shangjia.status import ProductStatus
from shangjia.topology import CHANNELS, Topology

from .settings import Settings, camel

# A channel whose failures are more than this share of its settled listings for an hour alarms.
PUBLISH_FAILURE_RATE = 0.2
REVIEW_STAGES = ("pre", "final")


class Topics(Construct):
    """The topology's SNS topics, encrypted (the AWS-managed SNS key) and refusing plain HTTP."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology) -> None:
        super().__init__(scope, id)
        key = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        self.topics: dict[str, sns.Topic] = {
            t.key: sns.Topic(self, camel(t.key), display_name=f"Shangjia {t.key}", master_key=key, enforce_ssl=True)
            for t in topology.topics}


def _m(name: str, statistic: str = "Sum", period: Duration | None = None, **dims: str) -> cw.Metric:
    return cw.Metric(namespace=M.NAMESPACE, metric_name=name, dimensions_map=dims or None, statistic=statistic,
                     period=period or Duration.minutes(5))


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
        self._business_alarms(action)
        self.dashboard = self._dashboard(dlqs)
        for key, machine in state_machines.items():
            alarm(f"{camel(key)}ExecutionsFailed", machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                  f"{key} executions failed")
            alarm(f"{camel(key)}ExecutionsTimedOut",
                  machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                  f"{key} executions timed out")

    def _business_alarms(self, action: cw_actions.SnsAction) -> None:
        for c in CHANNELS:
            failed = _m("ProductsFailed", period=Duration.hours(1), channel=c)
            published = _m("ProductsPublished", period=Duration.hours(1), channel=c)
            rate = cw.MathExpression(expression="IF((p + f) > 0, f / (p + f), 0)", using_metrics={"f": failed, "p": published},
                                     period=Duration.hours(1), label=f"{c} publish failure rate")
            a = rate.create_alarm(self, f"{camel(c)}PublishFailureRate", threshold=PUBLISH_FAILURE_RATE,
                                  evaluation_periods=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                  treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                                  alarm_description=f"over {PUBLISH_FAILURE_RATE:.0%} of the products settled on {c} in "
                                                    "an hour failed or were rejected there: see the failures page")
            a.add_alarm_action(action)
            a.add_ok_action(action)
            self.alarms[f"{camel(c)}PublishFailureRate"] = a
        breaches = cw.MathExpression(
            expression=" + ".join(f"FILL(s{i}, 0)" for i in range(len(REVIEW_STAGES))),
            using_metrics={f"s{i}": _m("ReviewSlaBreaches", period=Duration.minutes(15), stage=st)
                           for i, st in enumerate(REVIEW_STAGES)},
            period=Duration.minutes(15), label="review SLA breaches")
        a = breaches.create_alarm(self, "ReviewSlaBreaches", threshold=0, evaluation_periods=1,
                                  comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                  treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                                  alarm_description="a review task ran past its SLA and was escalated to ops")
        a.add_alarm_action(action)
        a.add_ok_action(action)
        self.alarms["ReviewSlaBreaches"] = a

    def _dashboard(self, dlqs: dict[str, sqs.Queue]) -> cw.Dashboard:
        d = cw.Dashboard(self, "Dashboard", dashboard_name=None, default_interval=Duration.days(7))
        outcomes = ("published", "needs_fix", "rejected", "failed", "refused", "held", "checked", "unchanged",
                    "superseded")
        stages = [s.value for s in ProductStatus if s not in (ProductStatus.PUBLISHED, ProductStatus.NEEDS_FIX,
                                                              ProductStatus.REJECTED, ProductStatus.FAILED,
                                                              ProductStatus.CHECKED, ProductStatus.HELD)]
        d.add_widgets(
            cw.GraphWidget(title="Products validated 校验商品", width=8, stacked=True,
                           left=[_m("ProductsValidated", outcome=o) for o in ("valid", "invalid")]),
            cw.GraphWidget(title="Products settled by outcome 商品结果", width=8, stacked=True,
                           left=[_m("ProductsSettled", outcome=o) for o in outcomes]),
            cw.GraphWidget(title="Reviewed 审核", width=8, stacked=True,
                           left=[_m("ProductsReviewed", stage=s, decision=dec) for s in REVIEW_STAGES
                                 for dec in ("approve", "reject", "auto_reject")]),
        )
        d.add_widgets(
            cw.GraphWidget(title="Published per channel 上架（渠道）", width=8,
                           left=[_m("ProductsPublished", channel=c) for c in CHANNELS]),
            cw.GraphWidget(title="Failed per channel 失败（渠道）", width=8,
                           left=[_m("ProductsFailed", channel=c) for c in (*CHANNELS, "-")]),
            cw.GraphWidget(title="Review SLA breaches 审核超时", width=8,
                           left=[_m("ReviewSlaBreaches", stage=s) for s in REVIEW_STAGES]),
        )
        d.add_widgets(
            cw.GraphWidget(title="Stage latency p90 (ms) 各阶段耗时", width=12,
                           left=[_m("StageLatency", statistic="p90", stage=s) for s in stages]),
            cw.GraphWidget(title="Dead letters 死信", width=12,
                           left=[q.metric_approximate_number_of_messages_visible(period=Duration.minutes(5),
                                                                                 statistic="Maximum")
                                 for q in dlqs.values()]),
        )
        d.add_widgets(cw.AlarmStatusWidget(title="Alarms 告警", width=24, alarms=list(self.alarms.values())))
        return d
