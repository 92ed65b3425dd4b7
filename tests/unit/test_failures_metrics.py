"""Pure parts of the failure report, the local cron schedule and the EMF metrics."""

import io
import json
from datetime import datetime, timezone

import pytest

from shangjia import metrics
from shangjia.localcloud.schedules import due
from shangjia.pipeline.failures import last_full_week, previous_week, week_of, week_start, workbook
from shangjia.status import BATCH_FINAL, BATCH_TRANSITIONS, BatchStatus as B, can_batch_transition

UTC = timezone.utc


def _emf(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_metrics_are_emf_in_the_shangjia_namespace_with_low_cardinality_dimensions(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "shangjia-validate")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "shangjia-validate")     # EMF is written inside Lambda
    metrics.product_settled("needs_fix", {"merchant_id": "m1", "spu_code": "SPU-9", "findings": [
        {"code": "FIELD_REQUIRED", "severity": "error"}, {"code": "FIELD_REQUIRED", "severity": "error"},
        {"code": "PIPE_CHANNEL_REJECTED", "severity": "error", "params": {"channel": "wechat"}},
        {"code": "TEXT_LONG", "severity": "warning"}]})
    metrics.product_settled("published", {"channels_requested": ["own_shop", "wechat"]})
    metrics.stage_latency("media", 1534.5)
    out = _emf(capsys)
    seen = [(d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
             {k: d[k] for k in d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]}) for d in out]
    assert ("ProductsRejected", {"code": "FIELD_REQUIRED"}) in seen
    assert ("ProductsRejected", {"code": "PIPE_CHANNEL_REJECTED"}) in seen
    assert ("ProductsRejected", {"code": "TEXT_LONG"}) not in seen          # a warning is not a cause
    assert ("ProductsFailed", {"channel": "wechat"}) in seen
    assert ("ProductsSettled", {"outcome": "needs_fix"}) in seen
    assert [s for s in seen if s[0] == "ProductsPublished"] == [("ProductsPublished", {"channel": "own_shop"}),
                                                                ("ProductsPublished", {"channel": "wechat"})]
    lat = next(d for d in out if "StageLatency" in d)
    assert lat["StageLatency"] == [1534.5] and lat["stage"] == "media"
    assert lat["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"
    for d in out:
        assert d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shangjia"
        dims = set(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])
        assert dims <= metrics.DIMENSIONS and "service" not in dims
        assert "m1" not in json.dumps(d) and "SPU-9" not in json.dumps(d)


def test_outside_lambda_no_emf_line_is_written(capsys, monkeypatch):
    """The CLI and the local cloud share stdout with JSON answers and the demo: no metric lines there."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("SHANGJIA_METRICS", raising=False)
    metrics.emit("ProductsSettled", outcome="published")
    assert capsys.readouterr().out == ""


def test_a_high_cardinality_dimension_is_refused():
    with pytest.raises(ValueError, match="merchant_id"):
        metrics.emit("ProductsSettled", merchant_id="m1")


def test_iso_weeks():
    assert week_of(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-W01"
    assert week_of(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert previous_week("2026-W01") == "2025-W52"
    assert week_start("2026-W47") == datetime(2026, 11, 16, tzinfo=UTC)
    assert last_full_week(datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == "2026-W47"   # the Monday run
    for bad in ("2026-47", "2026-W60", "", "2025-W53"):
        with pytest.raises(ValueError):
            week_start(bad)


def test_a_weekly_schedule_fires_once_a_week_locally_and_a_rate_every_tick():
    weekly = "cron(0 1 ? * MON *)"
    mon = datetime(2026, 11, 23, 1, 0, 2, tzinfo=UTC)              # a Monday, 01:00:02 UTC
    assert due(weekly, datetime(2026, 11, 23, 0, 59, 59, tzinfo=UTC), mon)
    assert not due(weekly, mon, datetime(2026, 11, 23, 1, 0, 7, tzinfo=UTC))     # the next tick
    assert not due(weekly, datetime(2026, 11, 24, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 24, 1, 0, 5, tzinfo=UTC))
    assert not due(weekly, None, mon)                               # never on start-up
    assert due("rate(1 minute)", None, mon)
    ticks = [datetime(2026, 11, 16, tzinfo=UTC).timestamp() + 5 * i for i in range(14 * 24 * 720)]
    fired = sum(due(weekly, datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
                for a, b in zip(ticks, ticks[1:]))
    assert fired == 2                                               # two weeks of 5-second ticks


def test_a_slow_rate_runs_at_its_own_period_of_real_time_and_a_fast_one_a_second_per_minute():
    from shangjia.localcloud.schedules import local_period_s, rate_due, rate_seconds

    assert rate_seconds("rate(15 minutes)") == 900 and rate_seconds("rate(1 hour)") == 3600
    assert rate_due("rate(15 minutes)", None, 1000.0)               # the first tick runs it once
    assert not rate_due("rate(15 minutes)", 1000.0, 1000.0 + 899)
    assert rate_due("rate(15 minutes)", 1000.0, 1000.0 + 900)
    # up to 5 minutes: one local second per minute of the rate (#13: not every tick)
    assert local_period_s("rate(1 minute)") == 1 and local_period_s("rate(5 minutes)") == 5
    assert rate_due("rate(1 minute)", 1000.0, 1000.0 + 1.0)         # the publish scheduler: every tick
    assert rate_due("rate(1 minute)", 1000.0, 1000.0 + 0.9)         # a tick a little early still counts
    assert not rate_due("rate(5 minutes)", 1000.0, 1000.0 + 1.0)    # the listing poller: every 5 s
    assert not rate_due("rate(5 minutes)", 1000.0, 1000.0 + 4.0)
    assert rate_due("rate(5 minutes)", 1000.0, 1000.0 + 4.6)
    assert rate_due("rate(5 minutes)", 1000.0, 1000.0 + 5.0)


def test_the_batch_table_has_final_states_that_every_state_reaches():
    assert BATCH_FINAL == {B.SETTLED, B.REJECTED}
    assert B.DONE is B.SETTLED
    for s in B:
        seen, todo = set(), [s]
        while todo:
            x = todo.pop()
            seen.add(x)
            todo += [t for t in BATCH_TRANSITIONS[x] if t not in seen]
        assert seen & BATCH_FINAL, f"{s} never reaches a final state"
    assert can_batch_transition("processing", "settled") and not can_batch_transition("settled", "processing")
    assert not can_batch_transition("received", "settled") and can_batch_transition(None, "received")


def _doc():
    ex = {"merchant_id": "=cmd|' /C calc'!A0", "spu_code": "+SPU", "batch_id": "b1", "category": "@cat", "row": 7,
          "column": "C", "field": "title", "channel": "-", "message": "-1 is wrong", "message_zh": "标题为空"}
    return {"week": "2026-W47", "previous_week": "2026-W46", "generated_at": "2026-11-23T01:00:00.000000Z",
            "period": {}, "totals": {"failures": 3, "previous": 1, "change": 2, "products": 3, "merchants": 1,
                                     "by_outcome": {"needs_fix": 3}},
            "by_code": [{"code": "FIELD_REQUIRED", "count": 3, "previous": 1, "change": 2, "message": "Required",
                         "message_zh": "必填", "examples": [ex]}],
            "by_category": [{"category": "=HYPERLINK(\"x\")", "count": 3, "previous": 1, "change": 2}],
            "by_merchant": [{"merchant_id": "m1", "count": 3, "previous": 1, "change": 2}],
            "by_channel": [{"channel": "-", "count": 3, "previous": 1, "change": 2}]}


def test_the_workbook_is_bilingual_and_formula_safe():
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(workbook(_doc())))
    assert wb.sheetnames == ["汇总 Summary", "按原因 By cause", "按类目 By category", "按商家 By merchant",
                             "按渠道 By channel", "示例 Examples"]
    cause = wb["按原因 By cause"]
    assert [c.value for c in cause[1]][:3] == ["错误码 Code", "本周 Count", "上周 Previous"]
    assert [c.value for c in cause[2]][:4] == ["FIELD_REQUIRED", 3, 1, 2]
    assert wb["按类目 By category"]["A2"].value == "'=HYPERLINK(\"x\")"
    ex = wb["示例 Examples"]
    row = {h.value: c.value for h, c in zip(ex[1], ex[2])}
    assert row["商家 Merchant"] == "'=cmd|' /C calc'!A0" and row["商品编码 SPU"] == "'+SPU"
    assert row["行 Row"] == 7 and row["说明 Message (en)"] == "'-1 is wrong"
    for ws in wb.worksheets:
        for r in ws.iter_rows():
            for c in r:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
