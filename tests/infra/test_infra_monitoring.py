"""The dashboard, the business alarms and the notices topic, as synthesized (docs/failures.md)."""

from __future__ import annotations

import json

import pytest

from shangjia.topology import CHANNELS, TOPOLOGY, env_name

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _alarms(synth) -> dict[str, dict]:
    return {v["Properties"].get("AlarmDescription", ""): v["Properties"]
            for v in synth.of_type("AWS::CloudWatch::Alarm").values()}


def test_synth_is_clean_with_the_monitoring_added(synth):
    assert synth.synth_error is None, f"synth failed (cdk-nag findings?): {synth.synth_error}"


def test_a_dashboard_shows_the_business_metrics(synth):
    boards = synth.of_type("AWS::CloudWatch::Dashboard")
    assert len(boards) == 1
    body = json.dumps(next(iter(boards.values()))["Properties"]["DashboardBody"])
    for metric in ("ProductsValidated", "ProductsSettled", "ProductsReviewed", "ProductsPublished",
                   "ProductsFailed", "StageLatency", "ReviewSlaBreaches"):
        assert metric in body, metric
    assert "Shangjia" in body


def test_every_dead_letter_queue_has_an_alarm(synth):
    descriptions = list(_alarms(synth))
    for q in TOPOLOGY.queues:
        assert any(d.startswith(f"messages from the {q.key} queue are dead-lettered") for d in descriptions), q.key


def test_publish_failure_rate_alarms_per_channel_and_review_sla_alarm(synth):
    alarms = _alarms(synth)
    rate = {d: p for d, p in alarms.items() if "failed or were rejected there" in d}
    assert len(rate) == len(CHANNELS)
    for c in CHANNELS:
        p = next(p for d, p in rate.items() if f" on {c} " in d)
        used = json.dumps(p["Metrics"])
        assert "ProductsFailed" in used and "ProductsPublished" in used and f'"Value": "{c}"' in used
        assert p["Threshold"] == 0.2 and p["ComparisonOperator"] == "GreaterThanThreshold"
        assert p["AlarmActions"], "an alarm nobody hears"
    sla = next(p for d, p in alarms.items() if "past its SLA" in d)
    assert "ReviewSlaBreaches" in json.dumps(sla["Metrics"]) and sla["Threshold"] == 0


def test_notices_topic_is_encrypted_and_the_settling_functions_may_publish_to_it(synth):
    topics = {k: v for k, v in synth.of_type("AWS::SNS::Topic").items() if "Notices" in k}
    assert len(topics) == 1
    (topic_id, topic), = topics.items()
    assert topic["Properties"].get("KmsMasterKeyId")
    var = env_name("topic", "notices")
    lambdas = synth.of_type("AWS::Lambda::Function").values()
    told = [f for f in lambdas if var in (f["Properties"].get("Environment") or {}).get("Variables", {})]
    granted = [f for f in TOPOLOGY.functions if any(g.resource == "topic:notices" for g in f.grants)]
    assert len(told) == len(granted) >= 8
    policies = json.dumps(synth.of_type("AWS::IAM::Policy"))
    assert policies.count('"sns:Publish"') >= len(granted)


def test_the_weekly_report_runs_mondays_at_one_utc(synth):
    rules = [r["Properties"] for r in synth.of_type("AWS::Events::Rule").values()]
    assert any(r.get("ScheduleExpression") == "cron(0 1 ? * MON *)" for r in rules)
