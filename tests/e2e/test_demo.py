"""`make demo` end to end, small: it completes, publishes, and prices what it counted."""

import io

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]


def test_demo_completes_and_prints_its_summary():
    from shangjia.localcloud.demo import run_demo

    out = io.StringIO()
    s = run_demo(3, out=out, timeout_s=240)
    text = out.getvalue()
    assert s["completed"] and s["skus_ingested"] > 0 and not s["dlq_depths"]
    assert sum(s["published_per_channel"].values()) > 0
    assert s["products_rejected"] >= 1 and s["rejection_reasons"], "the sample sheet's bad rows come back"
    assert s["cost_per_million_skus"]["orchestration_total"] > 0 and s["cost_per_million_skus"]["media_total"] > 0
    assert s["dynamodb"]["estimated_requests"] == 0 and s["dynamodb"]["measured_requests"] > 0
    for line in ("==== summary ====", "published per channel", "cost per million SKUs", "dead-letter queues: all empty",
                 "[simulated reviewer]"):
        assert line in text
